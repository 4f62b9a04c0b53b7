"""Benchmarks: the compiled evaluator against the reference interpreter and hand-written code.

Run every benchmark with ``python -m benchmarks`` (or ``make bench``) from the
repository root; ``python -m benchmarks --help`` lists the options. Results go
to ``benchmarks/results/latest.json`` and ``latest.md`` (``quick.*`` for ``--quick``).

Modules, in the order a run uses them:

- ``accounts``: deterministic random accounts for ``rulesets/bench/account.rules``.
- ``handwritten``: the same computation written by hand, with Decimal and with float.
- ``verify``: every evaluator must agree exactly on every account before anything is timed.
- ``harness``: interleaved, repeated timing rounds; medians and paired ratios.
- ``loadtime``: parse + check + compile of a generated 500-symbol ruleset, cold and warm.
- ``report``: machine information, and the JSON and Markdown result files.
"""
