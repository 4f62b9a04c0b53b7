"""Show values to people: amounts with their unit, rates as percentages, leverage as ``20x``.

Exact: no value is rounded for display unless the caller asks for it.
"""

from __future__ import annotations

import decimal
from decimal import Decimal

from rulelang.ir import Value
from rulelang.types import NumType, Type
from rulelang.values import NoSolution

# normalize() rounds to its context's precision: display must never round, so it gets its own
_WIDE = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)


def plain(d: Decimal) -> str:
    """A decimal without exponent or trailing zeros: ``0.250`` → ``0.25``, ``5E+1`` → ``50``."""
    if d == 0:
        return "0"
    return format(d.normalize(_WIDE), "f")


def grouped(d: Decimal) -> str:
    """Like :func:`plain`, with thousands separators: ``1,535,443.01``."""
    text = plain(d)
    sign = "-" if text.startswith("-") else ""
    whole, _, frac = text.lstrip("-").partition(".")
    return sign + f"{int(whole):,}" + (f".{frac}" if frac else "")


def show(value: Value, t: Type | None = None, group: bool = False) -> str:
    """Format ``value`` of type ``t`` for a person."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, NoSolution):
        return f"none ({value.reason})"
    num = grouped if group else plain
    if isinstance(t, NumType):
        if t.dim is not None and not t.dim.dimensionless:
            return f"{num(value)} {t.dim}"
        if t.style == "percent":
            return f"{plain(value.scaleb(2, _WIDE))}%"  # `* 100` would round to 28 digits
        if t.style == "leverage":
            return f"{plain(value)}x"
    return num(value)
