"""Tier tables as flat float arrays, and the vectorised band search.

Input: an :class:`~rulelang.ir.TableDecl`. Output: a :class:`FlatTable`: every
band of every key in one array, each key's bands preceded by a *sentinel*
band that no size is ever decided into, and per band the closed float
interval ``[lo, hi]`` of floats that lie in it exactly (inclusive or not, as
the table says). :meth:`FlatTable.search` finds a candidate band with one
``searchsorted`` (the generated plan uses the faster bucket index of
:func:`rulelang.columnar.codegen.buckets` where a table has one, and this
search otherwise); :meth:`FlatTable.decided` then says, row by row, whether a
size with a given error bound certainly lies in that band. A wrong candidate
(a truncated key, a size on an edge) is never decided, so rows the search
gets wrong go to the exact evaluator with the rows near an edge.

Keyed tables are searched in one pass: a size ``v ≥ 0`` and its key code
``c`` become the int64 ``c·2⁵⁹⁻ˢ + (bits(v) >> s)`` (a non-negative float's bit
pattern orders as the float does); losing the low ``s`` bits only moves the
candidate for sizes within 2⁻⁴³ relative of an edge, which are not decided.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from rulelang import ir
from rulelang.values import NoSolution


def _float_in(x: Decimal, up: bool) -> float:
    """The nearest float to ``x`` on the side of ``up`` (x itself when it is a float)."""
    f = float(x)
    d = Decimal(f)
    if d == x:
        return f
    if (d < x) == up:
        return math.nextafter(f, math.inf if up else -math.inf)
    return f


@attrs.define
class ColumnValues:
    """One column gathered by band: numbers as floats, or texts as codes."""

    numbers: npt.NDArray[np.float64] | None
    magnitudes: npt.NDArray[np.float64] | None  # |numbers|, None when all are >= 0
    exact: bool  # every number is a float exactly
    codes: npt.NDArray[np.int32] | None
    dictionary: tuple[str, ...]
    open_rows: npt.NDArray[np.bool_] | None  # bands whose value is none (the open `to`)


@attrs.define
class FlatTable:
    name: str
    keys: dict[str, int]  # group key -> key index (ungrouped: {"": 0})
    shift: int  # bits dropped from a size's bit pattern to make room for the key
    search_keys: npt.NDArray[Any]  # sorted: float lowers (ungrouped) or int64 keys (grouped)
    lo: npt.NDArray[np.float64]  # per flat band: smallest float in the band (+inf: sentinel)
    hi: npt.NDArray[np.float64]  # per flat band: largest float in the band
    number: npt.NDArray[np.float64]  # per flat band: the tier number (1-based), 0 for a sentinel
    columns: dict[str, ColumnValues]
    cums: dict[str, ColumnValues]
    lowest: Decimal  # the smallest lower edge of any band
    grouped: bool

    def search(self, size: npt.NDArray[np.float64] | float, key: Any) -> Any:
        """Candidate flat band of each size (``key``: key index per row, or one int)."""
        if not self.grouped:
            return np.searchsorted(self.search_keys, size, side="right")
        v = np.maximum(size, 0.0)  # a negative size is below every band: its candidate is never decided
        bits = np.asarray(v, dtype=np.float64).view(np.int64) >> self.shift
        combined = (np.asarray(key, dtype=np.int64) << (63 - self.shift)) | bits
        return np.searchsorted(self.search_keys, combined, side="right") - 1

    def decided(self, size: Any, bound: Any, band: Any) -> Any:
        """Rows whose size lies in ``band`` with room ``bound`` on both sides (NaN: not decided)."""
        with np.errstate(invalid="ignore"):
            return ((size - self.lo[band]) >= bound) & ((self.hi[band] - size) >= bound)


def flatten(table: ir.TableDecl) -> FlatTable:
    groups = table.groups() if table.tiers else {"": ()}
    keys = {key: i for i, key in enumerate(groups)}
    missing = len(keys)  # a key the table does not have: a block with only its sentinel
    shift = max(1, math.ceil(math.log2(missing + 1)) + 1) if table.group is not None else 0
    lo: list[float] = []
    hi: list[float] = []
    number: list[float] = []
    search: list[Any] = []
    rows: list[ir.Tier | None] = []
    lowest: Decimal | None = None
    for key, tiers in list(groups.items()) + ([("", ())] if table.group is not None else []):
        k = keys.get(key, missing) if tiers or table.group is None else missing
        # the sentinel: below the first band (or the whole block of a missing key)
        lo.append(math.inf)
        hi.append(-math.inf)
        number.append(0.0)
        rows.append(None)
        if table.group is not None:
            search.append(k << (63 - shift))
        for i, t in enumerate(tiers):
            lowest = t.lower if lowest is None else min(lowest, t.lower)
            lower_in = table.lower_inclusive or i == 0
            upper_in = not table.lower_inclusive
            lo_f = _float_in(t.lower, up=True)
            if not lower_in and Decimal(lo_f) == t.lower:
                lo_f = math.nextafter(lo_f, math.inf)
            if t.upper is None:
                hi_f = math.inf
            else:
                hi_f = _float_in(t.upper, up=False)
                if not upper_in and Decimal(hi_f) == t.upper:
                    hi_f = math.nextafter(hi_f, -math.inf)
            lo.append(lo_f)
            hi.append(hi_f)
            number.append(float(i + 1))
            rows.append(t)
            edge = float(t.lower)
            if table.group is not None:
                bits = int(np.array([max(edge, 0.0)]).view(np.int64)[0]) >> shift
                search.append((k << (63 - shift)) | bits)
            else:
                search.append(edge)
    if table.group is None:
        # ungrouped: searchsorted over the lowers gives 0 below the first band (the sentinel), i+1 in band i
        search_keys: npt.NDArray[Any] = np.array(search[: len(search)], dtype=np.float64)
    else:
        search_keys = np.array(search, dtype=np.int64)
        assert (np.diff(search_keys) >= 0).all()
    cols = [c.name for c in table.columns] + ["from", "to"]
    columns = {c: _column(rows, c) for c in cols}
    cum_names = {c for t in rows if t is not None for c, _ in t.cum}
    cums = {c: _cum_column(rows, c) for c in cum_names}
    return FlatTable(
        name=table.name,
        keys=keys if table.group is not None else {"": 0},
        shift=shift,
        search_keys=search_keys,
        lo=np.array(lo),
        hi=np.array(hi),
        number=np.array(number),
        columns=columns,
        cums=cums,
        lowest=lowest if lowest is not None else Decimal(0),
        grouped=table.group is not None,
    )


def _values(rows: list[ir.Tier | None], column: str) -> list[ir.Value | None]:
    out: list[ir.Value | None] = []
    for t in rows:
        if t is None:
            out.append(None)
        elif column == "from":
            out.append(t.lower)
        elif column == "to":
            out.append(t.upper if t.upper is not None else NoSolution("open"))
        else:
            out.append(t.value(column))
    return out


def _column(rows: list[ir.Tier | None], column: str) -> ColumnValues:
    return _pack(_values(rows, column))


def _cum_column(rows: list[ir.Tier | None], column: str) -> ColumnValues:
    return _pack([None if t is None else t.cum_of(column) for t in rows])


def _pack(values: list[ir.Value | None]) -> ColumnValues:
    present = [v for v in values if v is not None and not isinstance(v, NoSolution)]
    open_rows = np.array([isinstance(v, NoSolution) for v in values])
    if all(isinstance(v, Decimal) for v in present):
        numbers = np.array([float(v) if isinstance(v, Decimal) else 0.0 for v in values])
        exact = all(Decimal(float(v)) == v for v in present)
        magnitudes = None if (numbers >= 0).all() else np.abs(numbers)
        return ColumnValues(numbers, magnitudes, exact, None, (), open_rows if open_rows.any() else None)
    words = tuple(sorted({str(v) for v in present}))
    codes = np.array([words.index(str(v)) if isinstance(v, str) else 0 for v in values], dtype=np.int32)
    return ColumnValues(None, None, True, codes, words, None)
