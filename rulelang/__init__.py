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


def render_docs(paths: list[str], out_dir: str, fmt: str = "html", lang: str = "en") -> list[str]:
    """Render the rulebook of each ruleset in ``paths`` into ``out_dir``; return the files written."""
    from rulelang import docs

    return docs.write(docs.build(paths, fmt, lang), out_dir)


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
    "load",
    "render_docs",
]
