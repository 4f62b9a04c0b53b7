"""Compile the IR into vectorised operations over a chunk of accounts.

Input: an :class:`~rulelang.ir.Ruleset`. Output: a :class:`Plan` whose
:meth:`~Plan.run` takes a :class:`Chunk` (a slice of a
:class:`~rulelang.columnar.layout.Batch`) and returns every global definition,
every per-record definition and every ladder's level for its accounts, plus
the accounts whose figures the vectorised path cannot vouch for (``flags``).

Each IR node becomes a closure ``f(chunk, guard) -> value`` over NumPy arrays:
one array per account for a global expression, one per record (over all
records of the collection, "exploded") for a per-record one. Aggregates are
segment reductions; lookups are one ``searchsorted`` per table; ``if`` is
``np.where`` over both branches. Numbers are floats with an error bound
(:mod:`rulelang.columnar.bounds`); every decision (a comparison, a tier band,
a rounding step) checks that the bound cannot change it, and an account where
one might, or where the exact evaluator could fail (a division by zero, a size
outside a table, ``min`` of nothing), is flagged. ``guard`` is the rows where
the exact evaluator would actually evaluate the node (the taken branch of an
``if``, the right side of an ``and`` whose left side holds, the records a
``where`` keeps, the rungs not yet decided): only there do its flags count.

What is not vectorised raises :class:`Unsupported` here; the batch then
evaluates every account exactly (see :mod:`rulelang.columnar.api`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from rulelang import ir
from rulelang.columnar import bounds
from rulelang.columnar.bounds import Num
from rulelang.columnar.ranges import safe_exponent
from rulelang.columnar.segments import Segments
from rulelang.columnar.tables import FlatTable, flatten
from rulelang.types import NumType

BoolArray = npt.NDArray[np.bool_]


class Unsupported(Exception):
    """A construct the vectorised path does not handle (the message says which)."""


class Bool:
    __slots__ = ("b",)

    def __init__(self, b: Any) -> None:
        self.b = b


class Cat:
    """Texts and enumeration values: integer codes into ``dictionary``."""

    __slots__ = ("codes", "dictionary")

    def __init__(self, codes: Any, dictionary: tuple[str, ...]) -> None:
        self.codes = codes
        self.dictionary = dictionary


Value = Num | Bool | Cat
Fn = Callable[["Chunk", Any], Value]


@attrs.define
class Chunk:
    """A slice of accounts with everything computed for it so far."""

    n: int
    scalars: dict[str, Value]
    fields: dict[tuple[str, str], Value]
    segments: dict[str, Segments]
    params: dict[str, Value]
    flags: BoolArray  # per account
    record_flags: dict[str, BoolArray]
    defs: dict[str, Value] = attrs.Factory(dict)
    record_defs: dict[tuple[str, str], Value] = attrs.Factory(dict)
    memo: dict[Any, Any] = attrs.Factory(dict)

    def flag(self, scope: str | None, undecided: Any, guard: Any) -> None:
        """Flag the rows of ``scope`` where ``undecided`` holds and the node is evaluated (``guard``)."""
        if undecided is False or (np.ndim(undecided) == 0 and not undecided):
            return
        target = self.flags if scope is None else self.record_flags[scope]
        if np.ndim(undecided) == 0:
            undecided = np.ones(len(target), dtype=np.bool_)
        if guard is not None:
            undecided = undecided & guard
        np.logical_or(target, undecided, out=target)

    def spread(self, scope: str, value: Value) -> Value:
        """A per-account value repeated for each record of ``scope``."""
        seg = self.segments[scope]
        if isinstance(value, Num):
            if np.ndim(value.v) == 0 and (value.m is None or np.ndim(value.m) == 0):
                return value
            m = None if value.m is None else seg.spread(value.m)
            return Num(seg.spread(value.v), m, value.k, value.nonneg, value.exact_zero)
        if isinstance(value, Bool):
            return Bool(seg.spread(value.b))
        return Cat(seg.spread(value.codes), value.dictionary)


@attrs.define
class Output:
    """What a plan computes for a chunk."""

    values: dict[str, Value]  # global definitions
    records: dict[tuple[str, str], Value]  # per-record definitions
    levels: dict[str, Any]  # ladder -> index of the rung reached per account
    flags: BoolArray  # accounts to evaluate exactly


def _is_num(t: Any) -> bool:
    return isinstance(t, NumType)


def const_value(value: ir.Value) -> Value:
    if isinstance(value, bool):
        return Bool(value)
    if isinstance(value, Decimal):
        f = float(value)
        return bounds.const(f, Decimal(f) == value)
    if isinstance(value, str):
        return Cat(0, (value,))
    raise Unsupported("a value that has none (a solve) used as a constant")


def unify(a: Cat, b: Cat) -> tuple[Any, Any, tuple[str, ...]]:
    """Both code arrays over one dictionary."""
    if a.dictionary == b.dictionary:
        return a.codes, b.codes, a.dictionary
    words = a.dictionary + tuple(w for w in b.dictionary if w not in a.dictionary)
    index = {w: i for i, w in enumerate(words)}
    remap = np.array([index[w] for w in b.dictionary], dtype=np.int32)
    codes_b = remap[b.codes] if np.ndim(b.codes) else int(remap[b.codes])
    return a.codes, codes_b, words


class Plan:
    """A ruleset compiled to closures over chunks (see the module docstring)."""

    def __init__(self, ruleset: ir.Ruleset) -> None:
        self.rs = ruleset
        self.tables: dict[str, FlatTable] = {t.name: flatten(t) for t in ruleset.tables}
        self.colls = [i.name for i in ruleset.inputs if i.fields is not None]
        self.definitions: list[tuple[ir.Definition, Fn]] = [
            (d, self.expr(d.expr, d.collection)) for d in ruleset.definitions
        ]
        self.ladders: list[tuple[ir.Ladder, list[Fn]]] = [
            (lad, [self.expr(r.cond, None) for r in lad.rungs if r.cond is not None]) for lad in ruleset.ladders
        ]
        #: inputs within 10^±safe_exponent are vectorised (see :mod:`rulelang.columnar.ranges`)
        self.safe_exponent = safe_exponent(ruleset, self.tables)

    # ------------------------------------------------------------ running
    def run(self, chunk: Chunk) -> Output:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for d, fn in self.definitions:
                value = fn(chunk, None)
                if d.collection is None:
                    chunk.defs[d.name] = value
                else:
                    chunk.record_defs[(d.collection, d.name)] = value
            levels: dict[str, Any] = {}
            for lad, conds in self.ladders:
                guard: Any = None
                chosen: list[Any] = []
                for fn in conds:
                    held = fn(chunk, guard).b  # type: ignore[union-attr]
                    chosen.append(held)
                    guard = _and(guard, _not(held))
                levels[lad.name] = np.select(
                    [np.broadcast_to(c, (chunk.n,)) for c in chosen],
                    list(range(len(chosen))),
                    default=len(lad.rungs) - 1,
                )
        flags = chunk.flags
        for coll, rec in chunk.record_flags.items():
            if rec.any():
                flags |= chunk.segments[coll].any(rec)
        return Output(values=chunk.defs, records=chunk.record_defs, levels=levels, flags=flags)

    # ------------------------------------------------------------ expressions
    def expr(self, e: ir.Expr, scope: str | None) -> Fn:
        match e:
            case ir.Const():
                value = const_value(e.value)
                return lambda c, g: value
            case ir.InputRef():
                return self._global(scope, lambda c: c.scalars[e.name], ("input", e.name))
            case ir.ParamRef():
                name = e.name
                return lambda c, g: c.params[name]
            case ir.DefRef():
                return self._global(scope, lambda c: c.defs[e.name], ("def", e.name))
            case ir.FieldRef():
                self._same(scope, e.collection, e.name)
                key = (e.collection, e.name)
                return lambda c, g: c.fields[key]
            case ir.RecDefRef():
                self._same(scope, e.collection, e.name)
                key = (e.collection, e.name)
                return lambda c, g: c.record_defs[key]
            case ir.Arith():
                return self._arith(e, scope)
            case ir.Neg():
                f = self.expr(e.operand, scope)
                return lambda c, g: bounds.neg(f(c, g))  # type: ignore[arg-type]
            case ir.Compare():
                return self._compare(e, scope)
            case ir.Logic():
                return self._logic(e, scope)
            case ir.Not():
                f = self.expr(e.operand, scope)
                return lambda c, g: Bool(_not(_b(f(c, g))))
            case ir.Cond():
                return self._cond(e, scope)
            case ir.Func():
                return self._func(e, scope)
            case ir.Round():
                return self._round(e, scope)
            case ir.Aggregate():
                return self._aggregate(e, scope)
            case ir.Lookup():
                return self._lookup(e, scope)
            case ir.Solve():
                raise Unsupported("solve (each solved value needs its own search)")
        raise AssertionError(e)

    def _same(self, scope: str | None, coll: str, name: str) -> None:
        if scope != coll:
            raise Unsupported(
                f"`{coll}.{name}` read inside an aggregate over another collection (a product of two collections)"
            )

    def _global(self, scope: str | None, get: Callable[[Chunk], Value], key: tuple[str, str]) -> Fn:
        if scope is None:
            return lambda c, g: get(c)
        memo_key = ("spread", scope, *key)

        def spread(c: Chunk, g: Any) -> Value:
            got = c.memo.get(memo_key)
            if got is None:
                got = c.memo[memo_key] = c.spread(scope, get(c))
            return got

        return spread

    def _arith(self, e: ir.Arith, scope: str | None) -> Fn:
        fa, fb = self.expr(e.left, scope), self.expr(e.right, scope)
        if e.op == "+":
            return lambda c, g: bounds.add(fa(c, g), fb(c, g))  # type: ignore[arg-type]
        if e.op == "-":
            return lambda c, g: bounds.add(fa(c, g), fb(c, g), subtract=True)  # type: ignore[arg-type]
        if e.op == "*":
            return lambda c, g: bounds.mul(fa(c, g), fb(c, g))  # type: ignore[arg-type]

        def divide(c: Chunk, g: Any) -> Value:
            a, b = fa(c, g), fb(c, g)
            assert isinstance(a, Num) and isinstance(b, Num)
            c.flag(scope, ~bounds.certainly_nonzero(b), g)  # zero (an error) or of unsure sign
            return bounds.div(a, b)

        return divide

    def _compare(self, e: ir.Compare, scope: str | None) -> Fn:
        fa, fb = self.expr(e.left, scope), self.expr(e.right, scope)
        op = _OPS[e.op]
        numeric = _is_num(e.left.type) and _is_num(e.right.type)

        def compare(c: Chunk, g: Any) -> Value:
            a, b = fa(c, g), fb(c, g)
            if numeric:
                assert isinstance(a, Num) and isinstance(b, Num)
                c.flag(scope, ~bounds.decided(a, b), g)
                return Bool(op(a.v, b.v))
            if isinstance(a, Cat) and isinstance(b, Cat):
                ca, cb, _ = unify(a, b)
                return Bool(op(ca, cb))
            if isinstance(a, Bool) and isinstance(b, Bool):
                return Bool(op(a.b, b.b))
            raise Unsupported(f"comparing {e.left.type} with {e.right.type}")

        return compare

    def _logic(self, e: ir.Logic, scope: str | None) -> Fn:
        fa, fb = self.expr(e.left, scope), self.expr(e.right, scope)
        both = e.op == "and"

        def logic(c: Chunk, g: Any) -> Value:
            a = _b(fa(c, g))
            # the right side is evaluated only where the left does not decide
            right_guard = _and(g, a if both else _not(a))
            b = _b(fb(c, right_guard))
            return Bool(np.logical_and(a, b) if both else np.logical_or(a, b))

        return logic

    def _cond(self, e: ir.Cond, scope: str | None) -> Fn:
        fc, ft, fe = self.expr(e.cond, scope), self.expr(e.then, scope), self.expr(e.otherwise, scope)

        def cond(c: Chunk, g: Any) -> Value:
            held = _b(fc(c, g))
            if np.ndim(held) == 0:
                return (ft if held else fe)(c, g)
            a = ft(c, _and(g, held))
            b = fe(c, _and(g, ~held))
            if isinstance(a, Num) and isinstance(b, Num):
                return bounds.choose(held, a, b)
            if isinstance(a, Bool) and isinstance(b, Bool):
                return Bool(np.where(held, a.b, b.b))
            if isinstance(a, Cat) and isinstance(b, Cat):
                ca, cb, words = unify(a, b)
                return Cat(np.where(held, ca, cb), words)
            raise AssertionError((a, b))

        return cond

    def _func(self, e: ir.Func, scope: str | None) -> Fn:
        if e.name == "known":
            # a value with none only comes from a solve (unsupported) or an open band's `to`, which is flagged
            return lambda c, g: Bool(True)
        fs = [self.expr(a, scope) for a in e.args]
        if e.name == "abs":
            return lambda c, g: bounds.absolute(fs[0](c, g))  # type: ignore[arg-type]
        largest = e.name == "max"
        return lambda c, g: bounds.extreme([f(c, g) for f in fs], largest)  # type: ignore[misc]

    def _round(self, e: ir.Round, scope: str | None) -> Fn:
        f = self.expr(e.operand, scope)
        places, mode = e.places, e.mode
        scale = 10.0**places
        half = mode in ("half_up", "half_even")

        def round_(c: Chunk, g: Any) -> Value:
            x = f(c, g)
            assert isinstance(x, Num)
            t = x.v * scale
            # how far t may be from the exact x·10^places: x's own bound scaled, and the scaling's rounding
            room = bounds.SLACK * (x.bound() * scale + 2 * bounds.U * np.abs(t))
            whole = np.floor(t)
            if half:
                near = np.abs(t - (whole + 0.5))  # the distance to the tie between two steps
                n = np.rint(t)
            else:
                near = np.minimum(t - whole, np.ceil(t) - t)  # 0 on a step: only exact values are decided there
                n = _directed(t, mode)
            # a boundary within reach (or |t| so large that floats are whole numbers) is not decided;
            # that also covers a result too long for the exact evaluator's 34 digits
            c.flag(scope, ~((near > room) | (room == 0)), g)
            return Num(n / scale, None, 1.0 if 0 <= places <= 22 else 2.0, x.nonneg)

        return round_

    # ------------------------------------------------------------ aggregates
    def _aggregate(self, e: ir.Aggregate, scope: str | None) -> Fn:
        coll = e.collection
        if scope is not None and scope != coll:
            body_refs = [x for x in ir.walk(e) if isinstance(x, (ir.FieldRef, ir.RecDefRef))]
            if any(x.collection == scope for x in body_refs):
                raise Unsupported(f"an aggregate over `{coll}` that reads the current record of `{scope}`")
        fb = self.expr(e.body, coll) if e.body is not None else None
        fw = self.expr(e.where, coll) if e.where is not None else None
        fd = self.expr(e.default, None) if e.default is not None else None
        func = e.func

        def aggregate(c: Chunk, g: Any) -> Value:
            seg = c.segments[coll]
            # the accounts for which the exact evaluator computes this aggregate
            acc_guard = g if scope is None or g is None else c.segments[scope].any(g)
            guard = None if acc_guard is None else seg.spread(acc_guard)
            keep: Any = True
            if fw is not None:
                keep = _b(fw(c, guard))
                guard = _and(guard, keep)
            if func == "count":
                counted = seg.counts if fw is None else seg.reduce(np.add, np.asarray(keep, dtype=np.float64), 0.0)
                return self._back(c, scope, Num(np.asarray(counted, dtype=np.float64), None, 0.0, True))
            assert fb is not None
            body = fb(c, guard)
            if func in ("any", "all"):
                flags = _b(body)
                if fw is not None:
                    flags = np.where(keep, flags, func == "all")
                red = seg.any(flags) if func == "any" else seg.all(flags)
                return self._back(c, scope, Bool(red))
            assert isinstance(body, Num)
            if func == "sum":
                v = body.v if fw is None else np.where(keep, body.v, 0.0)
                total = seg.total(v)
                k = body.k + max(seg.longest - 1, 0) if body.k or seg.longest > 1 else 0.0
                if body.m is None and body.nonneg:
                    out = Num(total, None, k, True)
                else:
                    mag = body.mag() if fw is None else np.where(keep, body.mag(), 0.0)
                    out = Num(total, seg.total(mag), k, body.nonneg)
                return self._back(c, scope, out)
            # min / max: empty accounts take the default, or fail in the exact evaluator
            ufunc = np.maximum if func == "max" else np.minimum
            identity = -math.inf if func == "max" else math.inf
            v = body.v if fw is None else np.where(keep, body.v, identity)
            red = seg.reduce(ufunc, v, identity)
            empty = red == identity if fw is not None else (seg.counts == 0)
            mag = seg.reduce(np.maximum, body.mag() if fw is None else np.where(keep, body.mag(), 0.0), 0.0)
            out = Num(red, mag, body.k, body.nonneg)
            if np.any(empty):
                if fd is None:
                    c.flag(None, empty, acc_guard)  # `min` of no records: an error
                    fill = Num(0.0, None, 0.0, True)
                else:
                    fill = fd(c, _and(acc_guard, empty))  # type: ignore[assignment]
                out = bounds.choose(empty, fill, out)
            return self._back(c, scope, out)

        return aggregate

    def _back(self, c: Chunk, scope: str | None, value: Value) -> Value:
        return value if scope is None else c.spread(scope, value)

    # ------------------------------------------------------------ lookups
    def _lookup(self, e: ir.Lookup, scope: str | None) -> Fn:
        table = self.tables[e.table]
        fs = self.expr(e.size, scope)
        fg = self.expr(e.group, scope) if e.group is not None else None
        memo_key = ("band", e.table, e.group, e.size, scope)
        mode, column = e.mode, e.column

        def band(c: Chunk, g: Any) -> tuple[Any, Any, Num]:
            size = fs(c, g)
            assert isinstance(size, Num)
            got = c.memo.get(memo_key)
            if got is None:
                key: Any = 0
                if fg is not None:
                    grp = fg(c, g)
                    assert isinstance(grp, Cat)
                    key = _key_codes(c, table, grp)
                found = table.search(size.v, key)
                decided = table.decided(size.v, bounds.SLACK * size.bound(), found)
                got = c.memo[memo_key] = (found, decided)
            found, decided = got
            c.flag(scope, ~decided, g)
            return found, decided, size

        if mode == "tier":
            return lambda c, g: Num(table.number[band(c, g)[0]], None, 0.0, True)
        assert column is not None
        values = table.columns[column] if mode in ("lookup", "step", "progressive", "bracket") else None
        cums = table.cums.get(column) if mode in ("progressive", "bracket", "cum") else None

        def gather(col: Any, found: Any, negate: bool = False) -> Num:
            nums = -col.numbers if negate else col.numbers
            m = None if col.magnitudes is None else col.magnitudes[found]
            nonneg = (nums >= 0).all() if negate else col.magnitudes is None
            return Num(nums[found], m, 0.0 if col.exact else 1.0, bool(nonneg))

        if mode == "lookup":
            assert values is not None

            def lookup(c: Chunk, g: Any) -> Value:
                found, _, _ = band(c, g)
                if values.open_rows is not None:
                    c.flag(scope, values.open_rows[found], g)  # the open band's `to`: none
                if values.numbers is None:
                    assert values.codes is not None
                    return Cat(values.codes[found], values.dictionary)
                return gather(values, found)

            return lookup
        if mode == "cum":
            assert cums is not None
            return lambda c, g: gather(cums, band(c, g)[0])
        assert values is not None and values.numbers is not None
        if mode == "step":

            def step(c: Chunk, g: Any) -> Value:
                found, _, size = band(c, g)
                return bounds.mul(size, gather(values, found))

            return step
        assert cums is not None and cums.numbers is not None
        cums_nonpositive = bool((cums.numbers <= 0).all())

        def charge(c: Chunk, g: Any) -> Value:
            found, _, size = band(c, g)
            product = bounds.mul(size, gather(values, found))
            if cums_nonpositive:
                return bounds.add(product, gather(cums, found, negate=True))
            return bounds.add(product, gather(cums, found), subtract=True)

        return charge


def _key_codes(c: Chunk, table: FlatTable, grp: Cat) -> Any:
    memo_key = ("keys", table.name, grp.dictionary)
    remap = c.memo.get(memo_key)
    if remap is None:
        missing = len(table.keys)
        remap = c.memo[memo_key] = np.array([table.keys.get(w, missing) for w in grp.dictionary], dtype=np.int64)
    return remap[grp.codes]


def _directed(t: Any, mode: str) -> Any:
    if mode == "floor":
        return np.floor(t)
    if mode == "ceiling":
        return np.ceil(t)
    if mode == "down":
        return np.trunc(t)
    return np.sign(t) * np.ceil(np.abs(t))  # up: away from zero


def _b(value: Value) -> Any:
    assert isinstance(value, Bool), value
    return value.b


def _and(guard: Any, mask: Any) -> Any:
    if guard is None:
        return mask
    return guard & mask


def _not(mask: Any) -> Any:
    return ~mask if np.ndim(mask) else not mask


_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}
