"""rulelang: a checked, compiled, explainable language for exchange margin rules.

Typical use::

    import rulelang

    rules = rulelang.load("rulesets/okx/tiered_margin.rules")
    result = rules.evaluate({"position_btc": "120", "notional": "1800000"})
    result["maintenance_margin_btc"]        # Decimal('1.05')
    print(rules.explain({...}, "maintenance_margin_btc").to_text())
"""

from rulelang.api import Ruleset, load
from rulelang.errors import (
    Diagnostic,
    EvaluationError,
    InputError,
    RulelangError,
    RulesetError,
    Severity,
)
from rulelang.explain import Explanation
from rulelang.results import LevelResult, Result


def check(path: str) -> list[Diagnostic]:
    """Check the ruleset at ``path``; return its warnings, or raise :class:`RulesetError`."""
    from rulelang.check import check_file

    return check_file(path)[1]


__all__ = [
    "Diagnostic",
    "EvaluationError",
    "Explanation",
    "InputError",
    "LevelResult",
    "Result",
    "RulelangError",
    "Ruleset",
    "RulesetError",
    "Severity",
    "check",
    "load",
]
