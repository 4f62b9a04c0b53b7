"""Check, before timing anything, that every evaluator computes the same figures.

Input: the loaded benchmark ruleset and the generated accounts. Output: a
:class:`Agreement` summary; :class:`Disagreement` is raised when the compiled
evaluator, the reference interpreter and the hand-written Decimal code differ
on any figure of any account (value and exponent: ``str`` of each decimal),
or when an ``example`` of the ruleset fails. The float version is only
compared, not required to agree: the summary says by how much it is off.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs

from benchmarks import handwritten
from rulelang import testing
from rulelang.api import Ruleset
from rulelang.results import Result

#: figures of one account, in a form every evaluator can be projected onto
View = tuple[object, ...]

_COLLATERAL = ("value", "discounted_value")
_POSITION = ("notional", "unrealized_pnl", "maintenance_margin", "max_leverage", "liquidation_fee")
_TOTALS = (
    "collateral_value",
    "total_unrealized_pnl",
    "total_maintenance_margin",
    "total_liquidation_fee",
    "equity",
    "maintenance",
    "has_requirement",
    "margin_ratio",
)


class Disagreement(Exception):
    """Two evaluators gave different figures (the message says where)."""


@attrs.frozen
class Agreement:
    accounts: int
    figures_per_account: float
    levels: dict[str, int]
    float_level_mismatches: int
    float_max_relative_error: float
    examples: int


def engine_view(result: Result) -> View:
    """The figures of an engine result, by name, as text."""
    coll = tuple(tuple(_text(r[n]) for n in _COLLATERAL) for r in result.records["collateral"])
    pos = tuple(tuple(_text(r[n]) for n in _POSITION) for r in result.records["positions"])
    totals = tuple(_text(result.values[n]) for n in _TOTALS)
    return coll, pos, totals, result["risk_level"]


def hand_view(result: handwritten.AccountResult[Any]) -> View:
    """The same figures of a hand-written result."""
    coll = tuple(tuple(_text(getattr(r, n)) for n in _COLLATERAL) for r in result.collateral)
    pos = tuple(tuple(_text(getattr(r, n)) for n in _POSITION) for r in result.positions)
    totals = tuple(_text(getattr(result, n)) for n in _TOTALS)
    return coll, pos, totals, result.risk_level


def _count(view: View) -> int:
    coll, pos, totals, _ = view
    assert isinstance(coll, tuple) and isinstance(pos, tuple) and isinstance(totals, tuple)
    return sum(map(len, coll)) + sum(map(len, pos)) + len(totals) + 1


def _text(v: object) -> object:
    return str(v) if isinstance(v, Decimal) else v


def run_examples(rs: Ruleset) -> int:
    """Run the ruleset's ``example`` blocks (on both evaluators); return how many ran."""
    outcomes = testing.run_examples(rs)
    failures = [f"{o.location} {o.example.title}: {f.render()}" for o in outcomes for f in o.failures]
    if failures:
        raise Disagreement("examples failed:\n" + "\n".join(failures))
    return len(outcomes)


def check(rs: Ruleset, accounts: Sequence[Mapping[str, Any]]) -> Agreement:
    """Compare every evaluator on every account; raise :class:`Disagreement` on the first difference."""
    examples = run_examples(rs)
    levels: dict[str, int] = {}
    figures = 0
    float_mismatches = 0
    worst = 0.0
    for n, acc in enumerate(accounts):
        compiled = engine_view(rs.evaluate(acc))
        views = {
            "reference interpreter": engine_view(rs.evaluate_reference(acc)),
            "hand-written Decimal": hand_view(handwritten.evaluate_decimal(acc)),
        }
        for name, view in views.items():
            if view != compiled:
                raise Disagreement(
                    f"account {n}: the compiled evaluator and the {name} differ:\n"
                    f"  compiled: {compiled}\n  {name}: {view}\n  account: {acc}"
                )
        level = str(compiled[3])
        levels[level] = levels.get(level, 0) + 1
        figures += _count(compiled)
        exact = handwritten.evaluate_decimal(acc)
        approx = handwritten.evaluate_float(acc)
        float_mismatches += approx.risk_level != exact.risk_level
        for name in ("equity", "maintenance", "margin_ratio"):
            e, f = getattr(exact, name), getattr(approx, name)
            if e:
                worst = max(worst, float(abs((Decimal(f) - e) / e)))
    return Agreement(
        accounts=len(accounts),
        figures_per_account=figures / max(len(accounts), 1),
        levels=dict(sorted(levels.items())),
        float_level_mismatches=float_mismatches,
        float_max_relative_error=worst,
        examples=examples,
    )
