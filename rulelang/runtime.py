"""The only names compiled rules can see: the decimal context, tier lookups, rounding.

Both backends use these functions, so the interpreter (the oracle) and the
compiled code agree on what a tier, a band edge and a rounding mode mean.
"""

from __future__ import annotations

import bisect
import decimal
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import attrs

from rulelang import ir
from rulelang.values import NoSolution

#: Every evaluation runs in this context: 34 significant digits (decimal128),
#: half-even rounding of inexact results, and errors (not NaN or infinity) on
#: division by zero, invalid operations and overflow.
CONTEXT = decimal.Context(
    prec=34,
    rounding=decimal.ROUND_HALF_EVEN,
    Emin=-999999,
    Emax=999999,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)

ROUNDING = {
    "half_up": decimal.ROUND_HALF_UP,
    "half_even": decimal.ROUND_HALF_EVEN,
    "down": decimal.ROUND_DOWN,
    "up": decimal.ROUND_UP,
    "floor": decimal.ROUND_FLOOR,
    "ceiling": decimal.ROUND_CEILING,
}

#: Progressive sums are added up exactly in this context and then rounded once
#: into CONTEXT, as ``size.fma(rate, -cum)`` rounds ``size × rate − cum`` once:
#: the two formulas are equal in exact arithmetic, so they give the same decimal.
WIDE = decimal.Context(
    prec=100,
    rounding=decimal.ROUND_HALF_EVEN,
    Emin=decimal.MIN_EMIN,
    Emax=decimal.MAX_EMAX,
    traps=[decimal.InvalidOperation],
)

INFINITY = Decimal("Infinity")
_OPEN = "the last band has no upper end"
ZERO = Decimal(0)


T = TypeVar("T")


class TierError(Exception):
    """A size falls outside every band of a table, or a key has no tiers."""


@attrs.frozen
class Tiers:
    """One tier set in the form lookups need: band edges and per-column values."""

    lowers: tuple[Decimal, ...]
    uppers: tuple[Decimal, ...]  # INFINITY for an open last band
    lower_inclusive: bool
    values: dict[str, tuple[ir.Value, ...]]
    cums: dict[str, tuple[Decimal, ...]]

    @classmethod
    def of(cls, table: ir.TableDecl, tiers: Sequence[ir.Tier]) -> Tiers:
        cols = [c.name for c in table.columns]
        return cls(
            lowers=tuple(t.lower for t in tiers),
            uppers=tuple(INFINITY if t.upper is None else t.upper for t in tiers),
            lower_inclusive=table.lower_inclusive,
            values={
                **{c: tuple(t.value(c) for t in tiers) for c in cols},
                # the band edges read as columns: `lookup(t.to, size)` is the top of size's band
                "from": tuple(t.lower for t in tiers),
                "to": tuple(t.upper if t.upper is not None else NoSolution(_OPEN) for t in tiers),
            },
            cums={c: tuple(t.cum_of(c) for t in tiers) for c, _ in tiers[0].cum} if tiers else {},
        )

    def index(self, size: Decimal) -> int:
        """The 0-based tier that ``size`` falls in; raises :class:`TierError` outside the table."""
        lowers, uppers = self.lowers, self.uppers
        if self.lower_inclusive:
            i = bisect.bisect_right(lowers, size) - 1
            if i < 0 or size >= uppers[i]:
                raise TierError(self._outside(size))
            return i
        if size == lowers[0]:
            return 0  # the first band includes its lower edge (a size of 0 is in tier 1)
        i = bisect.bisect_left(uppers, size)
        if size < lowers[0] or i == len(uppers):
            raise TierError(self._outside(size))
        return i

    def _outside(self, size: Decimal) -> str:
        top = self.uppers[-1]
        return f"size {size} is outside the table's bands ({self.lowers[0]} to {'inf' if top == INFINITY else top})"


def table_tiers(table: ir.TableDecl) -> dict[str, Tiers]:
    """Runtime tiers of a table, by group key (``""`` for an ungrouped table)."""
    return {key: Tiers.of(table, tiers) for key, tiers in table.tiers}


def group(tiers: Mapping[str, T], key: str) -> T:
    """The tier set of ``key`` in a keyed table (or a compiled lookup of it)."""
    try:
        return tiers[key]
    except KeyError:
        raise TierError(f"the table has no tiers for `{key}`") from None


# These run on the compiled hot path: one bisect and one multiply-subtract each.


def bracket(t: Tiers, column: str, size: Decimal) -> Decimal:
    i = t.index(size)
    return charge(size, t.values[column][i], t.cums[column][i])  # type: ignore[arg-type]


def charge(size: Decimal, rate: Decimal, cum: Decimal) -> Decimal:
    """``size × rate − cum`` rounded once (two roundings could differ from the progressive sum)."""
    return size.fma(rate, cum.copy_negate())


def step(t: Tiers, column: str, size: Decimal) -> Decimal:
    i = t.index(size)
    return size * t.values[column][i]  # type: ignore[operator]


def progressive_slices(t: Tiers, column: str, size: Decimal) -> list[tuple[int, Decimal, Decimal, Decimal]]:
    """Each slice of ``size`` with its own tier's rate: ``(tier, width, rate, amount)``.

    This is the oracle's definition of ``progressive``; the compiled path uses
    ``size × rate − cum``, which the shared test corpus proves equal.
    """
    last = t.index(size)
    out = []
    for i in range(last + 1):
        top = size if i == last else t.uppers[i]
        width = WIDE.subtract(top, t.lowers[i])
        rate = t.values[column][i]
        assert isinstance(rate, Decimal)
        out.append((i + 1, width, rate, WIDE.multiply(width, rate)))
    return out


def progressive_total(slices: list[tuple[int, Decimal, Decimal, Decimal]]) -> Decimal:
    """The sum of the slices' amounts, rounded once into :data:`CONTEXT`."""
    total = ZERO
    for s in slices:
        total = WIDE.add(total, s[3])
    return CONTEXT.plus(total)


def round_to(value: Decimal, places: int, mode: str) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUNDING[mode])


class EmptyError(Exception):
    """``min``/``max`` over no records, with no ``default``."""


def empty() -> Decimal:
    raise EmptyError


def make_lookup(mode: str, tiers: dict[str, Tiers], column: str | None, grouped: bool) -> object:
    """A closure for one lookup site of compiled code: ``f(size)`` or ``f(key, size)``.

    A keyed table gets one specialised closure per key, so a lookup costs one
    dict access more than an unkeyed one.
    """
    if grouped:
        by_key = {key: make_lookup(mode, {"": t}, column, False) for key, t in tiers.items()}

        def keyed(key: str, size: Decimal) -> Any:
            return group(by_key, key)(size)  # type: ignore[operator]

        return keyed
    t = tiers[""]
    index = t.index
    if mode == "tier":
        return lambda size: Decimal(index(size) + 1)
    assert column is not None
    vals = t.values[column]
    cums = t.cums.get(column, ())
    if mode in ("bracket", "progressive"):
        ncums = tuple(c.copy_negate() for c in cums)
        return lambda size: size.fma(vals[(i := index(size))], ncums[i])
    if mode == "step":
        return lambda size: size * vals[index(size)]
    if mode == "lookup":
        return lambda size: vals[index(size)]
    return lambda size: cums[index(size)]
