"""How large the inputs may be for the floating-point bounds to hold.

Input: a ruleset and its flat tables. Output: the decimal exponent ``T`` such
that, when every non-zero input lies within 10^±T, every magnitude ``M`` of
:mod:`rulelang.columnar.bounds` stays within 10^±270: far from float64's
overflow (10^308) and from its subnormal range (below 10^-308), where the
relative error model ``fl(a∘b) = (a∘b)(1 + δ)`` would not hold, with room for
a bound ``γ·M`` (10^-16·M) and for sums over up to 10^10 records.

The analysis is an interval of log10(M) per node, a function of T: inputs
``[−T, T]``, constants and table values their own size, ``+`` the union
(widened by a factor 2), ``×`` the sum of the intervals, ``÷`` per the bound
of :func:`rulelang.columnar.bounds.div` (a divisor is at least 10^-16 of its
own magnitude, or the row is flagged). The largest T that keeps every node
inside is found by bisection; accounts with an input outside 10^±T go to the
exact evaluator.
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np

from rulelang import ir
from rulelang.columnar.tables import FlatTable
from rulelang.types import NumType

LIMIT = 270.0
Interval = tuple[float, float] | None  # None: always exactly zero, or not a number


def _log(x: Decimal | float) -> float:
    return math.log10(abs(float(x)))


def _union(a: Interval, b: Interval) -> Interval:
    if a is None:
        return b
    if b is None:
        return a
    return (min(a[0], b[0]), max(a[1], b[1]))


def _table_interval(values: np.ndarray | None) -> Interval:
    if values is None:
        return None
    nz = np.abs(values[(values != 0) & np.isfinite(values)])
    if not len(nz):
        return None
    return (math.log10(float(nz.min())), math.log10(float(nz.max())))


class _Analysis:
    def __init__(self, rs: ir.Ruleset, tables: dict[str, FlatTable], t: float) -> None:
        self.rs = rs
        self.tables = tables
        self.t = t
        self.defs: dict[str, Interval] = {}
        self.worst = (0.0, 0.0)

    def run(self) -> bool:
        for d in self.rs.definitions:
            self.defs[d.qualname] = self.expr(d.expr)
        for lad in self.rs.ladders:
            for r in lad.rungs:
                if r.cond is not None:
                    self.expr(r.cond)
        return self.worst[0] >= -LIMIT and self.worst[1] <= LIMIT

    def expr(self, e: ir.Expr) -> Interval:
        out = self._expr(e)
        if out is not None:
            self.worst = (min(self.worst[0], out[0]), max(self.worst[1], out[1]))
        return out

    def _expr(self, e: ir.Expr) -> Interval:
        t = self.t
        if not isinstance(e.type, NumType):
            for c in ir.children(e):
                self.expr(c)
            return None
        match e:
            case ir.Const():
                return (_log(e.value), _log(e.value)) if isinstance(e.value, Decimal) and e.value else None
            case ir.ParamRef():
                decl = next(p for p in self.rs.params if p.name == e.name)
                # a profile or an override can change a parameter: allow it the inputs' range too
                value = decl.value
                own = (_log(value), _log(value)) if isinstance(value, Decimal) and value else None
                return _union(own, (-t, t))
            case ir.InputRef() | ir.FieldRef():
                return (-t, t)
            case ir.DefRef():
                return self.defs.get(e.name)
            case ir.RecDefRef():
                return self.defs.get(f"{e.collection}.{e.name}")
            case ir.Arith():
                a, b = self.expr(e.left), self.expr(e.right)
                if e.op in "+-":
                    u = _union(a, b)
                    return None if u is None else (u[0], u[1] + 0.31)
                if a is None or b is None:
                    return None
                if e.op == "*":
                    return (a[0] + b[0], a[1] + b[1])
                return (a[0] - b[1] - 1.0, a[1] - b[0] + 33.0)
            case ir.Aggregate():
                for c in ir.children(e):
                    self.expr(c)
                body = self.expr(e.body) if e.body is not None else None
                default = self.expr(e.default) if e.default is not None else None
                if e.func == "count":
                    return (0.0, 10.0)
                if body is not None and e.func == "sum":
                    body = (body[0], body[1] + 10.0)
                return _union(body, default)
            case ir.Lookup():
                size = self.expr(e.size)
                if e.group is not None:
                    self.expr(e.group)
                table = self.tables[e.table]
                if e.mode == "tier":
                    return (0.0, math.log10(max(len(table.number), 2)))
                assert e.column is not None
                col = _table_interval(table.columns[e.column].numbers)
                cum = _table_interval(table.cums[e.column].numbers) if e.column in table.cums else None
                if e.mode in ("lookup",):
                    return col
                if e.mode == "cum":
                    return cum
                product = None if size is None or col is None else (size[0] + col[0], size[1] + col[1])
                return product if e.mode == "step" else _union(product, cum)
            case ir.Round():
                x = self.expr(e.operand)
                return None if x is None else (min(x[0], -float(e.places)), x[1] + 0.31)
        parts = [self.expr(c) for c in ir.children(e)]
        out: Interval = None
        for part in parts:
            out = _union(out, part)
        return out


def safe_exponent(rs: ir.Ruleset, tables: dict[str, FlatTable]) -> float:
    """The largest T (at most 99: the validator's own limit is 10^±100) that keeps every magnitude in range."""
    if _Analysis(rs, tables, 99.0).run():
        return 99.0
    if not _Analysis(rs, tables, 0.0).run():
        return 0.0  # constants alone leave the range: every account goes to the exact evaluator
    lo, hi = 0.0, 99.0
    for _ in range(40):
        mid = (lo + hi) / 2
        if _Analysis(rs, tables, mid).run():
            lo = mid
        else:
            hi = mid
    return math.floor(lo * 10) / 10
