"""Run a ruleset's example blocks.

Input: a loaded :class:`~rulelang.api.Ruleset`. Output: one
:class:`ExampleOutcome` per example, each listing its failed expectations with
the expected and actual values, the difference, and the explain trace of the
value that differs. Every example runs on both the compiled evaluator and the
reference interpreter; a disagreement between them is a failure too.
"""

from __future__ import annotations

import decimal
from decimal import Decimal

import attrs

from rulelang import ir, runtime
from rulelang.api import Ruleset
from rulelang.display import plain, show
from rulelang.errors import EvaluationError, InputError
from rulelang.results import Result


@attrs.frozen
class Failure:
    target: str
    message: str
    trace: str = ""

    def render(self) -> str:
        text = f"{self.target}: {self.message}"
        if self.trace:
            text += "\n" + "\n".join("    " + line for line in self.trace.rstrip().splitlines())
        return text


@attrs.frozen
class ExampleOutcome:
    ruleset: str
    example: ir.ExampleDecl
    failures: tuple[Failure, ...]

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def location(self) -> str:
        return self.example.span.location() if self.example.span else self.ruleset


def _type_of(rs: Ruleset, target: str, field: str | None) -> object:
    qual = f"{target}.{field}" if field else target
    d = rs.ir.definition(qual)
    return d.type if d else None


def run_example(rs: Ruleset, ex: ir.ExampleDecl) -> ExampleOutcome:
    failures: list[Failure] = []
    try:
        result = rs.evaluate(ex.inputs, profile=ex.profile, record=f"example {ex.title!r}")
        reference = rs.evaluate_reference(ex.inputs, profile=ex.profile)
    except (InputError, EvaluationError) as err:
        return ExampleOutcome(rs.ir.path, ex, (Failure("(example)", f"cannot evaluate: {err}"),))
    if result != reference:
        failures.append(
            Failure(
                "(engine)",
                "the compiled evaluator and the reference interpreter disagree: "
                f"{result.to_json()} != {reference.to_json()}",
            )
        )
    for x in ex.expects:
        failure = _compare(rs, ex, result, x)
        if failure is not None:
            failures.append(failure)
    return ExampleOutcome(rs.ir.path, ex, tuple(failures))


def _compare(rs: Ruleset, ex: ir.ExampleDecl, result: Result, x: ir.Expectation) -> Failure | None:
    t = x.target
    key = str(t)
    try:
        actual = result.get(key)
    except (KeyError, IndexError):
        return Failure(key, f"no such value (the example gives {len(ex.inputs.get(t.name, []) or [])} records)")  # type: ignore[arg-type]
    typ = _type_of(rs, t.name, t.field)
    expected = x.value
    if isinstance(expected, Decimal) and isinstance(actual, Decimal):
        with decimal.localcontext(runtime.CONTEXT):
            diff = actual - expected
        ok = abs(diff) <= x.tolerance if x.tolerance is not None else diff == 0
        if ok:
            return None
        within = f" (allowed ± {plain(x.tolerance)})" if x.tolerance is not None else ""
        message = (
            f"expected {show(expected, typ)}, got {show(actual, typ)}; "  # type: ignore[arg-type]
            f"difference {plain(diff)}{within}"
        )
    elif expected == actual:
        return None
    else:
        message = f"expected {expected}, got {actual}"
    name = t.name if t.index is None else f"{t.name}.{t.field}"
    try:
        trace = rs.explain(ex.inputs, name, profile=ex.profile).to_text()
    except (InputError, EvaluationError):
        trace = ""
    return Failure(key, message, trace)


def run_examples(rs: Ruleset) -> list[ExampleOutcome]:
    return [run_example(rs, ex) for ex in rs.ir.examples]
