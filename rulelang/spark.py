"""Apply a ruleset to an Apache Spark DataFrame, through Arrow.

Input: a Spark DataFrame with one row per account (one column per scalar
input, an ``array<struct>`` column per collection: the shapes the columnar
backend reads) and a ruleset (a path, or a loaded :class:`~rulelang.Ruleset`).
Output: a DataFrame with the columns of ``keep``, then every global
definition (double, boolean or string), every ladder's level and its actions,
and ``error`` (the exact evaluator's message for a rejected account; its
values are null).

Each executor receives the rule text in the function's closure (no file is
read there), compiles it once per Python worker, and evaluates every Arrow
record batch Spark hands it (``DataFrame.mapInArrow``) with the columnar
backend (exact decisions, float64 amounts within the documented bound) or the
exact evaluator, account by account. Needs the ``spark`` and ``batch`` extras.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from rulelang.api import Ruleset, load
from rulelang.errors import EvaluationError, InputError


def evaluate(
    df: Any,
    ruleset: str | Ruleset,
    *,
    params: Mapping[str, Any] | None = None,
    profile: str | None = None,
    keep: Sequence[str] = (),
    backend: str = "columnar",
    error_column: str = "error",
) -> Any:
    """Evaluate every row of the Spark DataFrame ``df``; return a DataFrame of results.

    Args:
        ruleset: a rule file's path (read here, on the driver) or a loaded ruleset.
        params, profile: as for :meth:`Ruleset.params` (checked here, before any job runs).
        keep: input columns to copy into the results (an account id, say).
        backend: ``columnar`` (vectorised per record batch) or ``exact`` (account by account).

    Raises:
        ValueError: an unknown backend, or a ``keep`` column that is not in ``df``.
        InputError: a bad parameter or profile.
    """
    if backend not in ("columnar", "exact"):
        raise ValueError(f"backend must be `columnar` or `exact`, got {backend!r}")
    missing = [c for c in keep if c not in df.columns]
    if missing:
        raise ValueError(f"keep: no column {', '.join(missing)} in the DataFrame")
    rs = ruleset if isinstance(ruleset, Ruleset) else load(ruleset)
    path = ruleset if isinstance(ruleset, str) else rs.ir.path
    with open(path, encoding="utf-8") as fh:
        text = fh.read()  # shipped in the closure: the executors need no copy of the file
    rs.params(params, profile)  # a bad parameter fails here, not in an executor
    overrides = dict(params or {})
    schema = _spark_schema(rs, df.schema, keep, error_column)

    def apply(batches: Iterator[Any]) -> Iterator[Any]:
        local = _compiled(path, text)
        values = local.params(overrides, profile)
        for rb in batches:
            yield _evaluate_batch(local, rb, values, keep, backend, error_column)

    return df.mapInArrow(apply, schema)


def input_schema(ruleset: str | Ruleset, extra: str = "") -> str:
    """A Spark DDL schema for the ruleset's accounts: numbers as strings (every digit kept), collections as arrays.

    ``extra`` is prepended (``"id bigint"``). Use it to read JSON or to build a DataFrame from
    Python rows, whose nested records Spark would otherwise infer as maps.
    """
    from rulelang.types import BoolType

    rs = ruleset if isinstance(ruleset, Ruleset) else load(ruleset)

    def kind(t: Any) -> str:
        return "boolean" if isinstance(t, BoolType) else "string"

    parts = [extra] if extra else []
    for decl in rs.ir.inputs:
        if decl.fields is None:
            parts.append(f"`{decl.name}` {kind(decl.type)}")
        else:
            fields = ", ".join(f"`{f.name}`: {kind(f.type)}" for f in decl.fields)
            parts.append(f"`{decl.name}` array<struct<{fields}>>")
    return ", ".join(parts)


@functools.lru_cache(maxsize=8)
def _compiled(path: str, text: str) -> Ruleset:
    """The ruleset, compiled once per Python worker (Spark reuses workers between tasks)."""
    return load(path, text=text)


def _evaluate_batch(
    rs: Ruleset, rb: Any, params: Mapping[str, Any], keep: Sequence[str], backend: str, error_column: str
) -> Any:
    import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type information

    from rulelang.columnar import evaluate_batch
    from rulelang.columnar.evaluate import _present
    from rulelang.columnar.stream import _exact_row, _results, output_schema

    table = pa.Table.from_batches([rb])
    schema = output_schema(rs.ir).remove(0)  # no record names: `keep` identifies the rows
    names = [""] * table.num_rows
    if backend == "columnar":
        out = evaluate_batch(rs, table, params, error_column=error_column)
        every = pa.array([True] * table.num_rows)
        results = _results(rs.ir, names, out, every, output_schema(rs.ir)).drop_columns(["record"])
        errors = out.column(error_column)
    else:
        rows: list[dict[str, Any]] = []
        messages: list[str | None] = []
        for account in table.to_pylist():
            try:
                result = rs.evaluate_account(rs.validate(_present(account)), params)
            except (InputError, EvaluationError) as err:
                rows.append({})
                messages.append(str(err))
            else:
                rows.append(_exact_row(rs, "", result))
                messages.append(None)
        results = pa.Table.from_pylist(rows, schema=schema)
        errors = pa.array(messages, type=pa.string())
    columns = [table.column(c) for c in keep] + list(results.columns) + [errors]
    names_out = list(keep) + results.column_names + [error_column]
    return pa.Table.from_arrays(columns, names=names_out).combine_chunks().to_batches()[0]


def _spark_schema(rs: Ruleset, input_schema: Any, keep: Sequence[str], error_column: str) -> Any:
    import pyarrow as pa
    from pyspark.sql import types as T

    from rulelang.columnar.stream import output_schema

    kinds = {pa.float64(): T.DoubleType(), pa.bool_(): T.BooleanType(), pa.string(): T.StringType()}
    fields = [input_schema[c] for c in keep]
    fields += [T.StructField(f.name, kinds[f.type], True) for f in output_schema(rs.ir) if f.name != "record"]
    fields.append(T.StructField(error_column, T.StringType(), True))
    return T.StructType(fields)
