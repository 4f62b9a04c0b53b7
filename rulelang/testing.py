"""Run cases: a ruleset's example blocks and the rows of scenario files.

Input: a loaded :class:`~rulelang.api.Ruleset` and :class:`Case` objects (an
example block becomes one through :func:`example_case`; a scenario row through
:mod:`rulelang.regress.scenarios`). Output: one :class:`Outcome` per case, each
listing its failed checks with the expected and actual values, the difference,
and the explain trace of the value that differs. Every case runs on both the
compiled evaluator and the reference interpreter; a disagreement between them
is a failure too. Given an observer, the reference run also reports what the
case exercised (rule coverage).
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from rulelang import ir, nodes, runtime
from rulelang.api import Ruleset
from rulelang.backends.interpreter import Observer
from rulelang.display import show
from rulelang.errors import EvaluationError, InputError
from rulelang.results import Result


@attrs.frozen
class Failure:
    target: str
    message: str
    trace: str = ""

    def render(self, trace: bool = True) -> str:
        text = f"{self.target}: {self.message}"
        if self.trace and trace:
            text += "\n" + "\n".join("    " + line if line.strip() else "" for line in self.trace.rstrip().splitlines())
        return text


@attrs.frozen
class Check:
    """One expected value: a definition, ``collection[i].name``, or a ladder's level."""

    target: nodes.Target
    expected: ir.Value
    tolerance: Decimal | None = None


@attrs.frozen(eq=False)
class Case:
    """Inputs, parameters and the values they must give.

    ``problems`` holds what could not be read (an unknown column, a cell that is
    not a number): a case with problems fails with them and is not evaluated.
    """

    title: str
    location: str  # file:line, shown with every result
    inputs: Mapping[str, Any]
    checks: tuple[Check, ...]
    profile: str | None = None
    params: Mapping[str, Any] = attrs.field(factory=dict)
    record: str | None = None  # how input errors name the account
    problems: tuple[str, ...] = ()


@attrs.frozen(eq=False)
class Outcome:
    ruleset: str
    case: Case
    failures: tuple[Failure, ...]
    example: ir.ExampleDecl | None = None  # set when the case is an example block

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def location(self) -> str:
        return self.case.location

    @property
    def title(self) -> str:
        return self.case.title


ExampleOutcome = Outcome  # the name earlier callers use


def example_case(rs: Ruleset, ex: ir.ExampleDecl) -> Case:
    """The case an example block states."""
    return Case(
        title=ex.title,
        location=ex.span.location() if ex.span else rs.ir.path,
        inputs=ex.inputs,
        checks=tuple(Check(x.target, x.value, x.tolerance) for x in ex.expects),
        profile=ex.profile,
        record=f"example {ex.title!r}",
    )


def run_case(rs: Ruleset, case: Case, observer: Observer | None = None) -> Outcome:
    """Evaluate ``case`` on both evaluators and compare every check."""
    if case.problems:
        return Outcome(rs.ir.path, case, tuple(Failure("(case)", p) for p in case.problems))
    failures: list[Failure] = []
    try:
        params = rs.params(case.params, case.profile)
        account = rs.validate(case.inputs, case.record)
        result = rs.evaluate_account(account, params)
        reference = rs.interpreter.run(account, params, observer=observer)[0]
    except (InputError, EvaluationError) as err:
        return Outcome(rs.ir.path, case, (Failure("(case)", f"cannot evaluate: {err}"),))
    if result != reference:
        failures.append(
            Failure(
                "(engine)",
                "the compiled evaluator and the reference interpreter disagree: "
                f"{result.to_json()} != {reference.to_json()}",
            )
        )
    for check in case.checks:
        failure = _compare(rs, case, result, check)
        if failure is not None:
            failures.append(failure)
    return Outcome(rs.ir.path, case, tuple(failures))


def example_outcome(outcome: Outcome, ex: ir.ExampleDecl) -> Outcome:
    """``outcome`` of the case of ``ex``, as an example's: it names the example and says `(example)`."""
    if outcome.failures and outcome.failures[0].target == "(case)":
        outcome = attrs.evolve(outcome, failures=(attrs.evolve(outcome.failures[0], target="(example)"),))
    return attrs.evolve(outcome, example=ex)


def run_example(rs: Ruleset, ex: ir.ExampleDecl, observer: Observer | None = None) -> Outcome:
    return example_outcome(run_case(rs, example_case(rs, ex), observer), ex)


def run_examples(rs: Ruleset, observer: Observer | None = None) -> list[Outcome]:
    return [run_example(rs, ex, observer) for ex in rs.ir.examples]


def value_type(rs: Ruleset, target: nodes.Target) -> object:
    """The type of the value ``target`` names (None for a ladder)."""
    qual = f"{target.name}.{target.field}" if target.field else target.name
    d = rs.ir.definition(qual)
    return d.type if d else None


def _compare(rs: Ruleset, case: Case, result: Result, check: Check) -> Failure | None:
    t = check.target
    key = str(t)
    try:
        actual = result.get(key)
    except (KeyError, IndexError):
        given = case.inputs.get(t.name, []) or []
        what = "example" if case.record and case.record.startswith("example ") else "case"
        return Failure(key, f"no such value (the {what} gives {len(given)} records)")
    typ = value_type(rs, t)
    expected = check.expected
    if isinstance(expected, Decimal) and isinstance(actual, Decimal):
        with decimal.localcontext(runtime.CONTEXT):
            diff = actual - expected
        ok = abs(diff) <= check.tolerance if check.tolerance is not None else diff == 0
        if ok:
            return None
        # the difference in the value's own terms: a rate's as a percentage, an amount's with its unit
        within = f" (allowed ± {show(check.tolerance, typ)})" if check.tolerance is not None else ""  # type: ignore[arg-type]
        message = (
            f"expected {show(expected, typ)}, got {show(actual, typ)}; "  # type: ignore[arg-type]
            f"difference {show(diff, typ)}{within}"  # type: ignore[arg-type]
        )
    elif expected == actual:
        return None
    else:
        message = f"expected {show(expected)}, got {show(actual)}"
    try:
        # a record's value is explained for that record alone
        trace = rs.explain(case.inputs, key, case.params, case.profile).to_text()
    except (InputError, EvaluationError):
        trace = ""
    return Failure(key, message, trace)
