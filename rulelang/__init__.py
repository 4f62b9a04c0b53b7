"""rulelang: a checked, compiled, explainable language for exchange margin rules.

Typical use::

    import rulelang

    rules = rulelang.load("rulesets/okx/tiered_margin.rules")
    result = rules.evaluate({"position_btc": "120", "notional": "1800000"})
    result["maintenance_margin_btc"]        # Decimal('1.05')
    print(rules.explain({...}, "maintenance_margin_btc").to_text())
"""

from typing import TYPE_CHECKING, Any

from rulelang.api import Ruleset, load
from rulelang.errors import (
    Diagnostic,
    EvaluationError,
    InputError,
    RulelangError,
    RulesetError,
    Severity,
)
from rulelang.results import LevelResult, Result

if TYPE_CHECKING:
    from rulelang.explain import Explanation


def __getattr__(name: str) -> Any:
    # ``explain`` (and the interpreter it brings) is imported when first asked for, not by
    # ``import rulelang``: evaluating with the compiled code never needs it
    if name == "Explanation":
        from rulelang.explain import Explanation

        return Explanation
    raise AttributeError(f"module 'rulelang' has no attribute {name!r}")


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
