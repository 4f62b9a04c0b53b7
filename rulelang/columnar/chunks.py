"""Cut a batch into chunks of accounts and check their numbers before the plan runs.

Input: a :class:`~rulelang.columnar.layout.Batch`, a range of accounts and
the plan. Output: a :class:`~rulelang.columnar.plan.Chunk` whose arrays are
views of the batch, whose flags already hold the accounts the plan must not
vouch for: rows the layout could not read, numbers outside 10^±T (see
:mod:`rulelang.columnar.ranges`) or not finite, and bounds (``> 0``) that the
float cannot decide. Chunks are small (thousands of accounts) so that the
plan's temporaries stay in the CPU cache.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from rulelang import ir
from rulelang.columnar import bounds
from rulelang.columnar.bounds import Num
from rulelang.columnar.layout import Batch, Column
from rulelang.columnar.plan import Bool, Cat, Chunk, Plan, Value
from rulelang.columnar.segments import Segments


def make_chunk(plan: Plan, batch: Batch, start: int, stop: int, params: dict[str, Value]) -> Chunk:
    """The accounts ``start:stop`` of ``batch`` as a chunk for ``plan``."""
    rs = plan.rs
    n = stop - start
    flags = batch.bad[start:stop].copy()
    limit = plan.safe_exponent
    scalars: dict[str, Value] = {}
    for decl in (i for i in rs.inputs if i.fields is None):
        col = batch.scalars[decl.name]
        scalars[decl.name] = _value(col, slice(start, stop), decl, limit, flags)
    fields: dict[tuple[str, str], Value] = {}
    segments: dict[str, Segments] = {}
    record_flags: dict[str, npt.NDArray[np.bool_]] = {}
    for decl in (i for i in rs.inputs if i.fields is not None):
        coll = batch.collections[decl.name]
        first, last = int(coll.offsets[start]), int(coll.offsets[stop])
        seg = Segments.of(coll.offsets[start : stop + 1] - first)
        segments[decl.name] = seg
        rec_flags = np.zeros(last - first, dtype=np.bool_)
        for f in decl.fields or ():
            fields[(decl.name, f.name)] = _value(coll.fields[f.name], slice(first, last), f, limit, rec_flags)
        record_flags[decl.name] = rec_flags
        if rec_flags.any():
            flags |= seg.any(rec_flags)
            rec_flags[:] = False
    return Chunk(
        n=n,
        scalars=scalars,
        fields=fields,
        segments=segments,
        params=params,
        flags=flags,
        record_flags=record_flags,
    )


def _value(col: Column, rows: slice, decl: ir.InputDecl | ir.FieldDecl, limit: float, flags: Any) -> Value:
    if col.kind == "bool":
        return Bool(col.values[rows])
    if col.kind == "cat":
        return Cat(col.values[rows], col.dictionary)
    v = col.values[rows]
    bad = unreadable(v, decl.bound, col.k, limit)
    if bad is not None:
        np.logical_or(flags, bad, out=flags)
    nonneg = decl.bound is not None and decl.bound.op in (">", ">=") and decl.bound.bound >= 0
    return Num(v, None, col.k, nonneg)


def unreadable(v: npt.NDArray[np.float64], bound: ir.Bound | None, k: float, limit: float) -> Any:
    """Rows the plan must not take: not finite, outside 10^±limit (0 aside), or an undecided bound.

    A bound the float decides wrongly would let a rejected account through
    (or reject a good one): rows within the float's error of the bound go to
    the exact evaluator, which accepts or rejects them as ``validate`` does.
    A bound of 0 is always decided: a non-zero decimal never reads as 0.0.
    """
    if not len(v):
        return None
    small, large = 10.0**-limit, 10.0**limit
    low, high = float(np.minimum.reduce(v)), float(np.maximum.reduce(v))  # NaN fails every comparison below
    # the range of |v|: without a |v| array when v does not cross 0 (the common case: two passes)
    inside = (low >= small and high <= large) or (-high >= small and -low <= large)
    if not inside and low < 0 < high:
        a = np.abs(v)
        inside = bool(a.min() >= small and a.max() <= large)
    b = float(bound.bound) if bound is not None else 0.0
    if inside and (bound is None or _holds_everywhere(bound, low, high)):
        return None
    with np.errstate(invalid="ignore"):
        a = np.abs(v)
        ok = ((a >= small) & (a <= large)) | (v == 0)
        if bound is not None:
            held = _OPS[bound.op](v, b)
            if bound.bound != 0:
                beta = bounds.SLACK * (bounds.gamma(k) * np.abs(v) + bounds.U * abs(b))
                held &= np.abs(v - b) > beta
            ok &= held
    bad = ~ok
    return bad if bad.any() else None


def _holds_everywhere(bound: ir.Bound, low: float, high: float) -> bool:
    """Whether a bound of 0 holds for every value between ``low`` and ``high``."""
    if bound.bound != 0:
        return False
    holds = {">": low > 0, ">=": low >= 0, "<": high < 0, "<=": high <= 0}
    return holds.get(bound.op, False)


_OPS = {
    ">=": np.greater_equal,
    ">": np.greater,
    "<=": np.less_equal,
    "<": np.less,
    "==": np.equal,
    "!=": np.not_equal,
}
