"""Read and write the values of scenario cells, exactly.

Input: a cell as a file gives it (text from CSV, a :class:`~decimal.Decimal`
from JSON or YAML, a bool) and the type of what it sets or expects. Output:
the value, or :class:`CellError` saying what was expected. Numbers may be
written as in account data (``0.0125``) or as in rule files (``1.25%``,
``20x``, ``1_340 USDT``); they never pass through a binary float.
"""

from __future__ import annotations

import decimal
from decimal import Decimal

from rulelang import ir
from rulelang.display import plain
from rulelang.types import BoolType, EnumType, NumType, TextType, Type
from rulelang.values import NoSolution


class CellError(ValueError):
    """A cell that cannot be read as the value it stands for."""


def read_number(raw: object, t: NumType | None = None) -> Decimal:
    """A number written plainly or as a rule literal; with ``t``, a written unit must be ``t``'s."""
    if isinstance(raw, bool):
        raise CellError(f"expected a number, got {str(raw).lower()}")
    if isinstance(raw, Decimal):
        d = raw
    elif isinstance(raw, int):
        d = Decimal(raw)
    elif isinstance(raw, str):
        d = _number_text(raw, t)
    else:
        raise CellError(f"expected a number, got {raw!r}")
    if not d.is_finite():
        raise CellError(f"expected a finite number, got {raw}")
    return d


def _number_text(raw: str, t: NumType | None) -> Decimal:
    text = raw.strip().replace("−", "-").replace("_", "")
    scale = 0
    if text.endswith("%"):
        text, scale = text[:-1].strip(), -2
        if t is not None and t.dim is not None and not t.dim.dimensionless:
            raise CellError(f"expected an amount in {t.dim}, got the rate {raw.strip()!r}")
    elif text.endswith("x"):
        text = text[:-1].strip()
    else:
        number, _, unit = text.partition(" ")
        unit = unit.replace(" ", "")
        if unit:
            if t is not None and (t.dim is None or t.dim.dimensionless or str(t.dim) != unit):
                want = f"an amount in {t.dim}" if t.dim is not None and not t.dim.dimensionless else "a plain number"
                raise CellError(f"expected {want}, got {raw.strip()!r}")
            text = number
    try:
        d = Decimal(text)
    except decimal.InvalidOperation:
        raise CellError(f"expected a number, got {raw.strip()!r}") from None
    if scale:
        sign, digits, exponent = d.as_tuple()
        assert isinstance(exponent, int)
        d = Decimal((sign, digits, exponent + scale))  # exact: scaleb would round to the context
    return d


def read_value(raw: object, t: Type | None, levels: tuple[str, ...] = ()) -> ir.Value:
    """The value of ``raw`` for type ``t``; ``levels`` non-empty: one of a ladder's levels."""
    if levels:
        if isinstance(raw, str) and raw.strip() in levels:
            return raw.strip()
        raise CellError(f"expected one of the levels {', '.join(levels)}, got {_shown(raw)}")
    if isinstance(t, NumType):
        return read_number(raw, t)
    if isinstance(t, BoolType):
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
            return raw.strip().lower() == "true"
        raise CellError(f"expected true or false, got {_shown(raw)}")
    if isinstance(t, EnumType):
        if isinstance(raw, str) and raw.strip() in t.values:
            return raw.strip()
        raise CellError(f"expected one of {', '.join(t.values)}, got {_shown(raw)}")
    if isinstance(t, TextType) and isinstance(raw, str):
        return raw
    raise CellError(f"expected {t}, got {_shown(raw)}")


def read_input(raw: object, t: Type) -> object:
    """A given value as the validator takes it: rule-literal numbers read, anything else as written."""
    if isinstance(t, NumType) and isinstance(raw, str):
        try:
            return _number_text(raw, t)
        except CellError:
            return raw  # the validator says what is wrong, naming the input
    return raw


def write_value(v: ir.Value) -> str | bool:
    """A value as a cell: plain decimal text (exact, no exponent), a bool, a text."""
    if isinstance(v, Decimal):
        return plain(v)
    if isinstance(v, NoSolution):
        raise CellError(f"no value ({v.reason})")
    return v


def _shown(raw: object) -> str:
    if isinstance(raw, str):
        return repr(raw.strip())
    if isinstance(raw, bool):
        return str(raw).lower()
    if isinstance(raw, Decimal):
        return plain(raw)
    return type(raw).__name__
