"""The only names compiled rules can see: the decimal context, tier lookups, rounding.

Both backends use these functions, so the interpreter (the oracle) and the
compiled code agree on what a tier, a band edge and a rounding mode mean.
"""

from __future__ import annotations

import bisect
import decimal
from collections.abc import Callable, Mapping, Sequence
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


#: A table's bands as compiled code searches them: every key's lower and upper edges one
#: key after another, each key's ``(first, end)`` positions, and whether lower edges are inclusive.
FlatBands = tuple[tuple[Decimal, ...], tuple[Decimal, ...], dict[str, tuple[int, int]], bool]


class FlatTiers:
    """Every tier set of a table, one key's bands after another's, for compiled code.

    ``index(key, size)`` (``index(size)`` for a table without keys) finds the band of
    ``size`` once, as a position in flat columns; compiled code then reads every column
    it needs at that position (``bracket`` and ``lookup`` of the same key and size
    share one search). It raises :class:`TierError` where :meth:`Tiers.index` or
    :func:`group` would.
    """

    def __init__(self, tiers: Mapping[str, Tiers]) -> None:
        self.sets = [(key, t) for key, t in tiers.items() if t.lowers]  # a key with no tiers is an unknown key
        lowers: list[Decimal] = []
        uppers: list[Decimal] = []
        spans: dict[str, tuple[int, int]] = {}
        for key, t in self.sets:
            spans[key] = (len(lowers), len(lowers) + len(t.lowers))
            lowers.extend(t.lowers)
            uppers.extend(t.uppers)
        self.bands: FlatBands = (tuple(lowers), tuple(uppers), spans, all(t.lower_inclusive for _, t in self.sets))

    def column(self, mode: str, column: str | None) -> tuple[Any, ...]:
        """What a lookup of ``mode`` reads at each flat position (for ``bracket``: ``−cum``)."""
        out: list[Any] = []
        for _, t in self.sets:
            n = len(t.lowers)
            if mode == "tier":
                out.extend(Decimal(i + 1) for i in range(n))
                continue
            assert column is not None
            if mode in ("bracket", "progressive"):
                cums = t.cums.get(column)
                out.extend((None,) * n if cums is None else (c.copy_negate() for c in cums))
            elif mode == "cum":
                out.extend(t.cums.get(column, (None,) * n))
            else:  # step, lookup: the column itself
                out.extend(t.values[column])
        return tuple(out)

    def index(self, grouped: bool) -> Callable[..., int]:
        return band_index(self.bands, grouped)

    def lookup(self, mode: str, column: str | None, grouped: bool) -> Callable[..., Any]:
        """One whole lookup, ``f(key, size)`` or ``f(size)``: for a site whose search is not shared."""
        rates = self.column("lookup", column) if mode in ("bracket", "progressive") else ()
        return lookup_site(self.index(grouped), mode, rates, self.column(mode, column), grouped)


def band_index(bands: FlatBands, grouped: bool) -> Callable[..., int]:
    """``index(key, size)`` when ``grouped``, else ``index(size)``: the flat position of size's band."""
    lowers, uppers, spans, lower_inclusive = bands
    bisect_left, bisect_right = bisect.bisect_left, bisect.bisect_right

    def outside(size: object) -> TierError:
        return TierError(f"size {size} is outside the table's bands")

    def span(key: str) -> tuple[int, int]:
        try:
            return spans[key]
        except KeyError:
            raise TierError(f"the table has no tiers for `{key}`") from None

    if lower_inclusive:  # from <= size < to
        if grouped:

            def index_keyed(key: str, size: Decimal) -> int:
                try:
                    lo, hi = spans[key]
                except KeyError:
                    raise TierError(f"the table has no tiers for `{key}`") from None
                i = bisect_right(lowers, size, lo, hi) - 1
                if i < lo or size >= uppers[i]:
                    raise outside(size)
                return i

            return index_keyed
        lo0, hi0 = spans.get("", (0, 0))

        def index(size: Decimal) -> int:
            i = bisect_right(lowers, size, lo0, hi0) - 1
            if i < lo0 or size >= uppers[i]:
                raise outside(size)
            return i

        return index

    # from < size <= to; the first band includes its lower edge (a size of 0 is in tier 1)
    def index_in(lo: int, hi: int, size: Decimal) -> int:
        first = lowers[lo]
        if size == first:
            return lo
        i = bisect_left(uppers, size, lo, hi)
        if size < first or i == hi:
            raise outside(size)
        return i

    if grouped:
        return lambda key, size: index_in(*span(key), size)
    if "" not in spans:
        return lambda size: index_in(*span(""), size)
    lo1, hi1 = spans[""]
    return lambda size: index_in(lo1, hi1, size)


def lookup_site(
    index: Callable[..., int], mode: str, rates: tuple[Any, ...], values: tuple[Any, ...], grouped: bool
) -> Callable[..., Any]:
    """A whole lookup of ``mode`` over ``index``: ``values`` is its column (``rates`` too for bracket)."""
    if mode in ("bracket", "progressive"):
        fma = Decimal.fma
        if grouped:
            return lambda key, size: fma(size, rates[i := index(key, size)], values[i])
        return lambda size: fma(size, rates[i := index(size)], values[i])
    if mode == "step":
        if grouped:
            return lambda key, size: size * values[index(key, size)]
        return lambda size: size * values[index(size)]
    if grouped:
        return lambda key, size: values[index(key, size)]
    return lambda size: values[index(size)]
