"""The columnar backend: a table of accounts evaluated with vectorised operations.

Typical use::

    import rulelang
    from rulelang.columnar import evaluate_batch, read_jsonl

    rules = rulelang.load("rulesets/bench/account.rules")
    out = evaluate_batch(rules, read_jsonl("book.jsonl"))   # an Arrow table in, an Arrow table out

pandas and Polars tables work the same way and come back as their own kind.
Levels, tier numbers, bools and texts are exactly those of
:meth:`rulelang.Ruleset.evaluate`: every account whose decision the float
computation cannot vouch for is evaluated exactly. Numbers are float64 within
the bound documented in ``docs/performance.md``. The pipeline, one module each:
``layout`` (table → exploded arrays), ``plan`` and ``codegen`` (IR → one
generated function of NumPy calls per ruleset, with ``bounds``, ``tables``,
``segments`` and ``ranges``), ``chunks`` (slices and input checks),
``evaluate`` (a forked worker, exact re-evaluation) and ``output``.
Needs the ``batch`` extra: ``pip install 'rulelang[batch]'``.
"""

from rulelang.columnar.evaluate import Stats, evaluate_batch, plan_for
from rulelang.columnar.layout import accounts_table, read_jsonl, read_parquet

__all__ = ["Stats", "accounts_table", "evaluate_batch", "plan_for", "read_jsonl", "read_parquet"]
