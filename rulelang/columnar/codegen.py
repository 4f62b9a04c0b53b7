"""Generate one straight-line NumPy function per ruleset (and per :class:`Signature`).

Input: an :class:`~rulelang.ir.Ruleset`, its flat tables and a
:class:`Signature` (what a batch's inputs and parameters are: each number
column's roundings, each parameter's value, the longest account of the
batch, which outputs are wanted). Output: a :class:`Generated`: a Python
function over a chunk's arrays that returns every definition and level, built
with :mod:`ast` (no user text is ever compiled: variables are ``_v12``, and
every constant, table and helper reaches the code through its namespace), and
the recipe that turns what it returns into :class:`~rulelang.columnar.plan.Value`
objects.

Generation has three steps:

1. **Lowering.** Each IR node becomes a few *instructions* ``dest = f(args)``
   on operands that are either variables (arrays) or constants known now.
   What :mod:`rulelang.columnar.bounds` decides per call (whether a value is
   exact, non-negative, has a magnitude of its own, how many roundings it
   carries) is decided here, once: only the arrays are left for run time.
   Constants and parameters are folded (a parameter's value is part of the
   signature), identical instructions are shared (a band search, a value
   spread to records, ``|v|``), and the guards and flags of
   :mod:`rulelang.columnar.plan` become instructions too.
2. **Dead code.** An instruction whose result feeds no flag, no returned
   value and no kept instruction is dropped: magnitudes and error bounds are
   computed only for values that feed a decision (or when ``error_bounds``
   asks for them).
3. **Buffers.** An element-wise NumPy call whose argument is a temporary of
   the same type and length, used for the last time, writes into it
   (``out=``) instead of allocating.

Tier searches use a per-table bucket index (:class:`Buckets`): the size's
float bit pattern, shifted, picks a bucket whose candidate band is stored,
with at most a few band edges inside the bucket to compare against; that is
a handful of element-wise operations where ``searchsorted`` costs a
mispredicted branch per step. A candidate is only a candidate: the band
decision checks every row, as before, so a bucket can never decide a row
wrongly. For sizes whose bound is ``γ(k)·|size|`` the decision is two
comparisons against edges moved inwards by the bound's factor, computed
exactly once per table (:func:`shrunk_edges`).
"""

from __future__ import annotations

import ast
import itertools
import linecache
import math
import operator
import sys
from collections.abc import Callable, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

import attrs
import numpy as np

from rulelang import ir
from rulelang.columnar import bounds
from rulelang.columnar.tables import FlatTable
from rulelang.types import NumType

# ----------------------------------------------------------------- operands


class K:
    """A value known while generating (a number, a bool, a code, a table)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        if isinstance(value, np.generic):
            value = value.item()
        self.value = value

    def key(self) -> Any:
        v = self.value
        if isinstance(v, float):
            return ("f", repr(v))  # keeps 0.0 and -0.0 apart, and NaN equal to itself
        if isinstance(v, (bool, int, str)):
            return (type(v).__name__, v)
        return ("id", id(v))

    def __repr__(self) -> str:
        return f"K({self.value!r})"


Operand = str | K  # a variable (an array at run time) or a known value
NEVER = K(object())  # the guard of a branch that is never evaluated (compared by identity)


# ----------------------------------------------------------------- static values


@attrs.define
class SNum:
    """A number: operands for its value and magnitude (None: ``|v|``), and what is known of it."""

    v: Operand
    m: Operand | None
    k: float
    nonneg: bool
    exact_zero: bool = False


@attrs.define
class SBool:
    b: Operand


@attrs.define
class SCat:
    codes: Operand
    dictionary: Operand  # K(tuple) or a variable holding the chunk's dictionary


SValue = SNum | SBool | SCat


def const_num(value: float, exact: bool) -> SNum:
    return SNum(K(value), None, 0.0 if exact else 1.0, value >= 0, exact and value == 0)


# ----------------------------------------------------------------- signature


@attrs.frozen(cache_hash=True)
class Signature:
    """What a generated function is specialised for (see the module docstring)."""

    inputs: tuple[float, ...]  # roundings of each number input and field, in plan order (0 for others)
    params: tuple[tuple[str, Any], ...]  # each parameter's value, as a hashable key
    longest: tuple[int, ...]  # per collection: the most records of an account, rounded up to a power of two
    bounds: bool  # the caller wants every number's magnitude (``error_bounds``)
    records: bool  # the caller wants the per-record definitions


def longest_class(longest: int) -> int:
    """``longest`` rounded up to a power of two (0 and 1 kept): few signatures, a bound that still holds."""
    return longest if longest <= 1 else 1 << (longest - 1).bit_length()


# ----------------------------------------------------------------- tables


@attrs.frozen
class Buckets:
    """A table's bucket index: candidate band per (key, bucket), and the edges inside each bucket.

    A size ``v ≥ 0`` goes to bucket ``clip((bits(v) >> shift) − offset, 0, count − 1)``;
    its candidate is ``base[key·count + bucket]`` plus one per edge of the bucket at or
    below ``v``. Bucket 0 holds every size below the smallest positive edge.
    """

    shift: int
    offset: int
    count: int
    base: Any  # int64 per (key, bucket): the candidate for the bucket's lowest size
    edges: tuple[Any, ...]  # float64 per (key, bucket): the i-th edge inside the bucket, or NaN


def _bits(x: float) -> int:
    return int(np.array([x], dtype=np.float64).view(np.int64)[0])


def buckets(table: FlatTable, limit: int = 1 << 16) -> Buckets | None:
    """The bucket index of ``table``, or None when ``searchsorted`` must do (no positive edge).

    Buckets get finer (more mantissa bits) until no bucket holds more than one edge, or
    the index would pass ``limit`` entries; then a bucket may hold several edges.
    """
    blocks = _blocks(table)
    if len(blocks) != len(table.keys) + table.grouped:
        return None  # a key without bands shares the missing key's block: not laid out as expected
    edges = [e for block in blocks for e, _ in block]
    if not edges or any(e < 0 or not math.isfinite(e) for e in edges):
        return None
    positive = [e for e in edges if e > 0]
    if not positive:
        return None
    low = min(math.frexp(e)[1] for e in positive) - 2  # 2^low is below every positive edge
    high = max(math.frexp(e)[1] for e in positive)  # every edge is below 2^high
    if low < -1020 or high > 1020:
        return None  # edges at the ends of the float range: leave them to searchsorted
    sentinels = table_sentinels(table)
    best: Buckets | None = None
    for mantissa in range(2, 13):
        shift = 52 - mantissa
        offset = (_bits(2.0**low) >> shift) - 1
        count = (_bits(2.0**high) >> shift) - offset + 1
        if count * len(blocks) > limit and best is not None:
            break
        # bucket b holds the sizes from starts[b] to starts[b + 1]; bucket 0 everything below 2^low
        starts = np.arange(offset, offset + count, dtype=np.int64) << shift
        lows = starts.view(np.float64).copy()
        lows[0] = 0.0
        highs = np.append(lows[1:], math.inf)
        base = np.empty((len(blocks), count), dtype=np.int64)
        first = np.empty((len(blocks), count), dtype=np.int64)
        last = np.empty((len(blocks), count), dtype=np.int64)
        flat: list[float] = []
        for k, block in enumerate(blocks):
            e = np.array([x for x, _ in block], dtype=np.float64)
            at = np.array([i for _, i in block], dtype=np.int64)
            below = np.searchsorted(e, lows, side="right")  # edges at or below the bucket's lowest size
            base[k] = np.where(below > 0, at[np.maximum(below - 1, 0)] if len(at) else 0, sentinels[k])
            first[k] = below + len(flat)  # the bucket's own edges: flat[first:last]
            last[k] = np.searchsorted(e, highs, side="left") + len(flat)
            flat.extend(e.tolist())
        width = int((last - first).max())
        everything = np.array([*flat, math.nan])
        arrays = []
        for i in range(width):
            # the i-th edge inside each bucket, or NaN, which no size (not even +inf) reaches
            arrays.append(np.where(first + i < last, everything[np.minimum(first + i, len(flat))], math.nan).ravel())
        best = Buckets(shift, offset, count, base.ravel(), tuple(arrays))
        if width <= 1:
            break
    return best


def table_sentinels(table: FlatTable) -> list[int]:
    """The flat index of each key's sentinel band, in key order (the missing key's block last)."""
    return [int(i) for i in np.flatnonzero(table.number == 0)]


def _blocks(table: FlatTable) -> list[list[tuple[float, int]]]:
    """Per key block (in key order): each band's float lower edge and flat index."""
    sentinels = table_sentinels(table)
    out = []
    for k, s in enumerate(sentinels):
        stop = sentinels[k + 1] if k + 1 < len(sentinels) else len(table.number)
        out.append([(float(table.lo[i]), i) for i in range(s + 1, stop)])
    return out


def shrunk_edges(table: FlatTable, c: float) -> tuple[Any, Any]:
    """Per band, the smallest and largest size ``v ≥ 0`` with ``[v − c·v, v + c·v]`` inside the band.

    ``v ≥ lo'`` implies ``v·(1 − c) ≥ lo``; ``v ≤ hi'`` implies ``v·(1 + c) ≤ hi``: computed
    exactly (fractions) and rounded inwards, so the two comparisons decide only rows
    the generic test ``v − lo ≥ c·v and hi − v ≥ c·v`` would decide (up to its own rounding).
    """
    cf = Fraction(c)
    lo = np.empty(len(table.lo))
    hi = np.empty(len(table.hi))
    for i, (a, b) in enumerate(zip(table.lo.tolist(), table.hi.tolist(), strict=True)):
        lo[i] = _up(Fraction(a) / (1 - cf)) if math.isfinite(a) else a
        # an open band ends at the largest float: +inf (not a number the evaluator reads) is never decided
        hi[i] = _down(Fraction(b) / (1 + cf)) if math.isfinite(b) else (sys.float_info.max if b > 0 else b)
    return lo, hi


def _up(x: Fraction) -> float:
    f = float(x)
    return f if Fraction(f) >= x else math.nextafter(f, math.inf)


def _down(x: Fraction) -> float:
    f = float(x)
    return f if Fraction(f) <= x else math.nextafter(f, -math.inf)


# ----------------------------------------------------------------- run-time helpers


def _mask(c: Any) -> Any:
    """A bool array as int64 bit masks: all ones where it holds, 0 elsewhere."""
    mask = c.view(np.uint8).astype(np.int64)
    np.negative(mask, out=mask)
    return mask


def _select_f(mask: Any, a: Any, b: Any) -> Any:
    """``np.where(c, a, b)`` for floats, ``mask`` from :func:`_mask`, without a branch per row.

    ``np.where`` mispredicts a branch per row on a random condition (10 ns a row);
    this is ``b ^ ((a ^ b) & mask)`` on the bit patterns.
    """
    ia = a.view(np.int64) if isinstance(a, np.ndarray) else _bits(a)
    ib = b.view(np.int64) if isinstance(b, np.ndarray) else _bits(b)
    if isinstance(ib, int) and ib == 0:
        return np.bitwise_and(ia, mask).view(np.float64)  # b is +0.0
    x = np.bitwise_xor(ia, ib)
    if isinstance(x, np.ndarray) and x.shape == mask.shape:
        np.bitwise_and(x, mask, out=x)
    else:
        x = np.bitwise_and(x, mask)
    np.bitwise_xor(x, ib, out=x)
    return x.view(np.float64)


def _select_i(mask: Any, a: Any, b: Any) -> Any:
    """``np.where(c, a, b)`` for integer codes, without a branch per row."""
    x = np.bitwise_xor(a, b, dtype=np.int64)
    if x.shape == mask.shape:
        np.bitwise_and(x, mask, out=x)
    else:
        x = np.bitwise_and(x, mask)
    np.bitwise_xor(x, b, out=x)
    return x.astype(np.int32)


def _select_b(c: Any, a: Any, b: Any) -> Any:
    return (c & a) | (~c & b)


def _bucket(size: Any, shift: int, offset: int, top: int) -> Any:
    """Each size's bucket; ``top`` < 0: not clipped (``take(mode="clip")`` clips for an unkeyed table)."""
    t = np.right_shift(size.view(np.int64), shift)
    np.subtract(t, offset, out=t)
    if top >= 0:
        np.maximum(t, 0, out=t)
        np.minimum(t, top, out=t)
    return t


def _bincount(owner: Any, weights: Any, n: int) -> Any:
    """Sums per account (float64 even over no records, where ``bincount`` gives int64)."""
    if not len(owner):
        return np.zeros(n)
    if not isinstance(weights, np.ndarray):
        return np.bincount(owner, minlength=n) * float(weights)
    return np.bincount(owner, weights=weights, minlength=n)


def _seg_any(owner: Any, flags: Any, n: int) -> Any:
    if not isinstance(flags, np.ndarray):
        return np.bincount(owner, minlength=n) > 0 if flags else np.zeros(n, dtype=np.bool_)
    return np.bincount(owner, weights=flags, minlength=n) > 0


def _seg_reduce(ufunc: Any, values: Any, seg: Any, identity: float) -> Any:
    return seg.reduce(ufunc, values, identity)


def _fill(target: Any) -> None:
    target[...] = True


def _fold(flags: Any, record_flags: Any, seg: Any) -> None:
    if record_flags.any():
        np.logical_or(flags, seg.any(record_flags), out=flags)


def _levels(n: int, last: int, *held: Any) -> Any:
    """The index of the first condition that holds, row by row (``last`` where none does)."""
    out = np.full(n, last, dtype=np.int8)
    for i in range(len(held) - 1, -1, -1):
        c = held[i]
        if not isinstance(c, np.ndarray):
            if c:
                out[...] = i
            continue
        d = np.subtract(i, out, dtype=np.int8)
        np.multiply(d, c, out=d)
        np.add(out, d, out=out)
    return out


def _code(dictionary: tuple[str, ...], word: str) -> int:
    try:
        return dictionary.index(word)
    except ValueError:
        return -1


def _unify(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[Any, tuple[str, ...]]:
    """Both dictionaries as one: the remap of ``b``'s codes (None: the same) and the words."""
    if a == b:
        return None, a
    words = a + tuple(w for w in b if w not in a)
    index = {w: i for i, w in enumerate(words)}
    return np.array([index[w] for w in b] or [0], dtype=np.int32), words


def _remap(remap: Any, codes: Any) -> Any:
    if remap is None:
        return codes
    return remap[codes] if np.ndim(codes) else int(remap[codes])


def _first(pair: tuple[Any, Any]) -> Any:
    return pair[0]


def _second(pair: tuple[Any, Any]) -> Any:
    return pair[1]


class _KeyMap:
    """A table's key index for each code of a chunk's dictionary, times a stride (remembered per dictionary)."""

    def __init__(self, keys: dict[str, int], stride: int) -> None:
        self.keys = keys
        self.stride = stride
        self.seen: dict[tuple[str, ...], Any] = {}

    def __call__(self, dictionary: tuple[str, ...]) -> Any:
        got = self.seen.get(dictionary)
        if got is None:
            missing = len(self.keys)
            got = np.array([self.keys.get(w, missing) for w in dictionary] or [missing], dtype=np.int64) * self.stride
            if len(self.seen) < 64:
                self.seen[dictionary] = got
        return got


def _up_round(t: Any) -> Any:
    return np.sign(t) * np.ceil(np.abs(t))


_UFUNCS: dict[str, Any] = {
    "add": np.add,
    "subtract": np.subtract,
    "multiply": np.multiply,
    "divide": np.divide,
    "negative": np.negative,
    "absolute": np.absolute,
    "maximum": np.maximum,
    "minimum": np.minimum,
    "less": np.less,
    "less_equal": np.less_equal,
    "greater": np.greater,
    "greater_equal": np.greater_equal,
    "equal": np.equal,
    "not_equal": np.not_equal,
    "logical_and": np.logical_and,
    "logical_or": np.logical_or,
    "logical_not": np.logical_not,
    "floor": np.floor,
    "ceil": np.ceil,
    "trunc": np.trunc,
    "rint": np.rint,
}
_FUNCS: dict[str, Any] = {
    "take": np.take,
    "mask": _mask,
    "select_f": _select_f,
    "select_i": _select_i,
    "select_b": _select_b,
    "bucket": _bucket,
    "bincount": _bincount,
    "seg_any": _seg_any,
    "seg_reduce": _seg_reduce,
    "fill": _fill,
    "fold": _fold,
    "levels": _levels,
    "code": _code,
    "unify": _unify,
    "remap": _remap,
    "first": _first,
    "second": _second,
    "up_round": _up_round,
    "asfloat": lambda x: np.asarray(x, dtype=np.float64),
    "call": lambda f, *args: f(*args),
    "owner": operator.attrgetter("owner"),
    "counts": operator.attrgetter("counts"),
}
#: IEEE addition and multiplication are commutative bit for bit, and so are these
_COMMUTATIVE = {"add", "multiply", "equal", "not_equal", "logical_and", "logical_or"}
_CMP = {"<": "less", "<=": "less_equal", ">": "greater", ">=": "greater_equal", "==": "equal", "!=": "not_equal"}
#: element-wise functions whose result is bool (the others give float64); an instruction's ``dtype`` is
#: "f" float64, "b" bool, "i" int64, "c" int32 codes or "" (anything else: never written into)
_BOOL_UFUNCS = {
    "less",
    "less_equal",
    "greater",
    "greater_equal",
    "equal",
    "not_equal",
    "logical_and",
    "logical_or",
    "logical_not",
}


# ----------------------------------------------------------------- instructions


@attrs.define
class Instr:
    dest: str | None
    fn: str
    args: tuple[Operand, ...]
    kw: tuple[tuple[str, Operand], ...] = ()
    pure: bool = True
    ufunc: bool = False  # element-wise: may write into a dead argument of its type and length
    dtype: str = ""
    space: Any = "?"  # where the result lives (for lengths): None accounts, a collection, "?" unknown
    out: str | None = None  # filled by the buffer pass


class Unsupported(Exception):
    """A construct the vectorised path does not handle (the message says which)."""


# ----------------------------------------------------------------- the generator


@attrs.define
class Recipe:
    """Where each result is in the tuple the generated function returns."""

    values: list[tuple[str, str, Any]]  # global definitions: (name, kind, recipe)
    records: list[tuple[tuple[str, str], str, Any]]
    levels: list[str]


class Generated:
    """A compiled chunk function with its source and output recipe."""

    def __init__(self, fn: Callable[..., tuple[Any, ...]], source: str, output: Recipe) -> None:
        self.fn = fn
        self.source = source
        self.output = output


_compiled = itertools.count()


class Gen:
    """Lower a ruleset to instructions (step 1 of the module docstring)."""

    def __init__(
        self,
        rs: ir.Ruleset,
        tables: dict[str, FlatTable],
        indexes: dict[str, Buckets | None],
        shrunk: Callable[[str, float], tuple[Any, Any]],
        sig: Signature,
    ) -> None:
        self.rs = rs
        self.tables = tables
        self.indexes = indexes
        self.shrunk = shrunk
        self.sig = sig
        self.instrs: list[Instr] = []
        self.cse: dict[Any, Operand] = {}
        self.effects: set[Any] = set()
        self.ns: dict[str, Any] = {}
        self.ns_ids: dict[int, str] = {}
        self.counter = itertools.count()
        self.colls = [i.name for i in rs.inputs if i.fields is not None]
        self.params: dict[str, Any] = dict(sig.params)
        self.longest = dict(zip(self.colls, sig.longest, strict=True))
        # the function's parameters, in order: n, flags, per collection its record flags and segments, then inputs
        self.arg_names: list[str] = ["_n", "_flags"]
        self.record_flags: dict[str, str] = {}
        self.segs: dict[str, str] = {}
        for i, c in enumerate(self.colls):
            self.record_flags[c] = f"_rf{i}"
            self.segs[c] = f"_seg{i}"
            self.arg_names += [f"_rf{i}", f"_seg{i}"]
        self.inputs: dict[str, SValue] = {}
        self.fields: dict[tuple[str, str], SValue] = {}
        ks = iter(sig.inputs)
        for decl in rs.inputs:
            if decl.fields is None:
                self.inputs[decl.name] = self._input(decl.type, decl.bound, next(ks), f"_x{len(self.arg_names)}")
            else:
                for f in decl.fields:
                    self.fields[(decl.name, f.name)] = self._input(
                        f.type, f.bound, next(ks), f"_x{len(self.arg_names)}"
                    )
        self.defs: dict[str, SValue] = {}
        self.record_defs: dict[tuple[str, str], SValue] = {}
        self.keymaps: dict[tuple[str, int], _KeyMap] = {}
        self.negated: dict[int, Any] = {}
        self.alive: list[Any] = []  # every known object an instruction names: ids in the sharing keys stay unique

    # ------------------------------------------------------------ plumbing
    def _input(self, t: Any, bound: ir.Bound | None, k: float, name: str) -> SValue:
        self.arg_names.append(name)
        if isinstance(t, NumType):
            nonneg = bound is not None and bound.op in (">", ">=") and bound.bound >= 0
            return SNum(name, None, k, nonneg)
        if t.__class__.__name__ == "BoolType":
            return SBool(name)
        self.arg_names.append(name + "d")
        return SCat(name, name + "d")

    def const(self, value: Any) -> str:
        """A namespace name for ``value`` (an array, a tuple, a function)."""
        got = self.ns_ids.get(id(value))
        if got is None:
            got = self.ns_ids[id(value)] = f"_k{len(self.ns)}"
            self.ns[got] = value
        return got

    def op(
        self,
        fn: str,
        *args: Operand,
        dtype: str,
        space: Any = "?",
        ufunc: bool = False,
        **kw: Operand,
    ) -> Operand:
        """``fn(*args, **kw)``: folded when every operand is known, shared when already computed."""
        self.alive.extend(a.value for a in args if isinstance(a, K))
        if all(isinstance(a, K) for a in args) and all(isinstance(v, K) for v in kw.values()):
            f = _UFUNCS.get(fn) or _FUNCS[fn]
            with np.errstate(all="ignore"):
                return K(f(*[a.value for a in args], **{n: v.value for n, v in kw.items()}))  # type: ignore[union-attr]
        if (fn == "subtract" and _is_plus_zero(args[1])) or (fn == "multiply" and _is_one(args[1])):
            return args[0]  # x − (+0) and x·1 are x, bit for bit (x − (−0) is not, for x = −0)
        if fn == "multiply" and _is_one(args[0]):
            return args[1]
        keys = tuple(_key(a) for a in args)
        if fn in _COMMUTATIVE:
            keys = tuple(sorted(keys, key=repr))
        key = (fn, keys, tuple((n, _key(v)) for n, v in kw.items()))
        got = self.cse.get(key)
        if got is not None:
            return got
        dest = f"_v{next(self.counter)}"
        self.instrs.append(Instr(dest, fn, args, tuple(kw.items()), True, ufunc, dtype, space))
        self.cse[key] = dest
        return dest

    def effect(self, fn: str, *args: Operand) -> None:
        key = (fn, tuple(_key(a) for a in args))
        if key in self.effects:
            return
        self.effects.add(key)
        self.instrs.append(Instr(None, fn, args, (), False))

    def uf(self, fn: str, *args: Operand, space: Any) -> Operand:
        """An element-wise NumPy function of values in ``space``."""
        dtype = "b" if fn in _BOOL_UFUNCS else "f"
        return self.op(fn, *args, dtype=dtype, space=space, ufunc=True)

    def take(self, table: Any, index: Operand, dtype: str, space: Any) -> Operand:
        tab: Operand = K(table) if not isinstance(table, (str, K)) else table
        return self.op("take", tab, index, dtype=dtype, space=space, mode=K("clip"))

    # ------------------------------------------------------------ guards and flags
    def and_(self, guard: Operand | None, mask: Operand, space: Any) -> Operand | None:
        """Rows where both hold (None: every row)."""
        if guard is NEVER or (isinstance(mask, K) and not mask.value):
            return NEVER
        if isinstance(mask, K):
            return guard
        if guard is None:
            return mask
        return self.uf("logical_and", guard, mask, space=space)

    def not_(self, b: Operand, space: Any) -> Operand:
        if isinstance(b, K):
            return K(not b.value)
        return self.uf("logical_not", b, space=space)

    def flag_unless(self, space: Any, decided: Operand, guard: Operand | None) -> None:
        """Flag the rows of ``space`` that are not ``decided`` and that the exact evaluator evaluates."""
        if guard is NEVER or (isinstance(decided, K) and bool(decided.value)):
            return
        target = self.target(space)
        if isinstance(decided, K):  # nothing decided
            self.flag_rows(target, guard)
            return
        if guard is None:
            self.effect("greater_equal", target, decided, target)  # flags | ~decided
            return
        undecided = self.uf("greater", guard, decided, space=space)  # guard & ~decided
        self.effect("logical_or", target, undecided, target)

    def flag_if(self, space: Any, undecided: Operand, guard: Operand | None) -> None:
        if guard is NEVER or (isinstance(undecided, K) and not undecided.value):
            return
        target = self.target(space)
        if isinstance(undecided, K):
            self.flag_rows(target, guard)
            return
        if guard is not None:
            undecided = self.uf("logical_and", undecided, guard, space=space)
        self.effect("logical_or", target, undecided, target)

    def flag_rows(self, target: str, guard: Operand | None) -> None:
        if guard is None:
            self.effect("fill", target)
        else:
            self.effect("logical_or", target, guard, target)

    def target(self, space: Any) -> str:
        return "_flags" if space is None else self.record_flags[space]

    # ------------------------------------------------------------ numbers
    def mag(self, a: SNum, space: Any) -> Operand:
        if a.m is not None:
            return a.m
        return a.v if a.nonneg else self.uf("absolute", a.v, space=space)

    def bound(self, a: SNum, space: Any, factor: float = 1.0) -> Operand:
        """``factor·γ(k)·M`` (0 for an exact value)."""
        if a.k == 0:
            return K(0.0)
        return self.uf("multiply", self.mag(a, space), K(factor * bounds.gamma(a.k)), space=space)

    def add(self, a: SNum, b: SNum, space: Any, subtract: bool = False) -> SNum:
        if b.exact_zero:
            return a
        if a.exact_zero:
            return self.neg(b, space) if subtract else b
        v = self.uf("subtract" if subtract else "add", a.v, b.v, space=space)
        k = max(a.k, b.k) + 1.0
        if not subtract and a.nonneg and b.nonneg and a.m is None and b.m is None:
            return SNum(v, None, k, True)
        m = self.uf("add", self.mag(a, space), self.mag(b, space), space=space)
        return SNum(v, m, k, not subtract and a.nonneg and b.nonneg)

    def mul(self, a: SNum, b: SNum, space: Any) -> SNum:
        if a.exact_zero or b.exact_zero:
            return const_num(0.0, True)
        v = self.uf("multiply", a.v, b.v, space=space)
        k = a.k + b.k + (0.0 if _power_of_two(a) or _power_of_two(b) else 1.0)
        nonneg = a.nonneg and b.nonneg
        if a.m is None and b.m is None:
            return SNum(v, None, k, nonneg)
        return SNum(v, self.uf("multiply", self.mag(a, space), self.mag(b, space), space=space), k, nonneg)

    def div(self, a: SNum, b: SNum, space: Any) -> SNum:
        q = self.uf("divide", a.v, b.v, space=space)
        nonneg = a.nonneg and b.nonneg
        if a.exact_zero:
            return const_num(0.0, True)
        if b.k == 0 and a.m is None and isinstance(b.v, K) and isinstance(b.v.value, float):
            return SNum(q, None, a.k + 1.0, nonneg)
        beta_a, beta_b = self.bound(a, space), self.bound(b, space)
        absq = self.uf("absolute", q, space=space)
        num = self.uf("add", beta_a, self.uf("multiply", absq, beta_b, space=space), space=space)
        den = self.uf("subtract", self.uf("absolute", b.v, space=space), beta_b, space=space)
        err = self.uf(
            "add",
            self.uf("divide", num, den, space=space),
            self.uf("multiply", absq, K(bounds.U), space=space),
            space=space,
        )
        return SNum(q, self.uf("divide", err, K(bounds.gamma(1.0)), space=space), 1.0, nonneg)

    def neg(self, a: SNum, space: Any) -> SNum:
        if a.exact_zero:
            return a
        return SNum(self.uf("negative", a.v, space=space), a.m, a.k, False)

    def absolute(self, a: SNum, space: Any) -> SNum:
        return SNum(self.uf("absolute", a.v, space=space), a.m, a.k, True, a.exact_zero)

    def extreme(self, args: list[SNum], largest: bool, space: Any) -> SNum:
        f = "maximum" if largest else "minimum"
        v = args[0].v
        for a in args[1:]:
            v = self.uf(f, v, a.v, space=space)
        k = max(a.k for a in args)
        nonneg = all(a.nonneg for a in args) if not largest else any(a.nonneg for a in args)
        if largest and all(a.nonneg and a.m is None for a in args):
            return SNum(v, None, k, True)
        m = self.mag(args[0], space)
        for a in args[1:]:
            m = self.uf("maximum", m, self.mag(a, space), space=space)
        return SNum(v, m, k, nonneg)

    def select(self, cond: Operand, a: Operand, b: Operand, dtype: str, space: Any) -> Operand:
        """Row by row ``a if cond else b`` (``cond`` an array)."""
        if _same(a, b):
            return a
        if dtype == "b":
            if isinstance(a, K) and isinstance(b, K):
                return cond if a.value else self.not_(cond, space)
            return self.op("select_b", cond, a, b, dtype="b", space=space)
        mask = self.op("mask", cond, dtype="", space=space)  # shared by every choice on the same condition
        if dtype == "c":
            return self.op("select_i", mask, a, b, dtype="c", space=space)
        a = self.op("asfloat", a, dtype="f") if isinstance(a, K) and not isinstance(a.value, float) else a
        b = self.op("asfloat", b, dtype="f") if isinstance(b, K) and not isinstance(b.value, float) else b
        return self.op("select_f", mask, a, b, dtype="f", space=space)

    def choose(self, cond: Operand, a: SNum, b: SNum, space: Any) -> SNum:
        v = self.select(cond, a.v, b.v, "f", space)
        k = max(a.k, b.k)
        nonneg = a.nonneg and b.nonneg
        if a.m is None and b.m is None:
            return SNum(v, None, k, nonneg)
        return SNum(v, self.select(cond, self.mag(a, space), self.mag(b, space), "f", space), k, nonneg)

    def decided(self, a: SNum, b: SNum, space: Any) -> Operand:
        """Rows where the order of ``a`` and ``b`` is that of the exact values (:func:`bounds.decided`)."""
        if a.k == 0 and b.k == 0:
            return K(True)
        ta = K(0.0) if a.k == 0 or a.exact_zero else self.bound(a, space, bounds.SLACK)
        tb = K(0.0) if b.k == 0 or b.exact_zero else self.bound(b, space, bounds.SLACK)
        bound = tb if _is_zero(ta) else ta if _is_zero(tb) else self.uf("add", ta, tb, space=space)
        d = self.uf("absolute", self.uf("subtract", a.v, b.v, space=space), space=space)
        out = self.uf("greater", d, bound, space=space)
        if any(isinstance(t, K) and t.value > 0 for t in (ta, tb)):
            return out  # a bound of at least a positive constant is never 0
        return self.uf("logical_or", out, self.uf("equal", bound, K(0.0), space=space), space=space)

    # ------------------------------------------------------------ expressions
    def expr(self, e: ir.Expr, scope: str | None, guard: Operand | None) -> SValue:
        match e:
            case ir.Const():
                return self.constant(e.value)
            case ir.InputRef():
                return self.spread(scope, self.inputs[e.name])
            case ir.ParamRef():
                if e.name not in self.params:
                    raise Unsupported(f"the parameter `{e.name}` has no value")
                return _param(self.params[e.name])
            case ir.DefRef():
                return self.spread(scope, self.defs[e.name])
            case ir.FieldRef():
                self._same_scope(scope, e.collection, e.name)
                return self.fields[(e.collection, e.name)]
            case ir.RecDefRef():
                self._same_scope(scope, e.collection, e.name)
                return self.record_defs[(e.collection, e.name)]
            case ir.Arith():
                return self.arith(e, scope, guard)
            case ir.Neg():
                return self.neg(self.num(e.operand, scope, guard), scope)
            case ir.Compare():
                return self.compare(e, scope, guard)
            case ir.Logic():
                return self.logic(e, scope, guard)
            case ir.Not():
                return SBool(self.not_(self.boolean(e.operand, scope, guard), scope))
            case ir.Cond():
                return self.cond(e, scope, guard)
            case ir.Func():
                return self.func(e, scope, guard)
            case ir.Round():
                return self.round(e, scope, guard)
            case ir.Aggregate():
                return self.aggregate(e, scope, guard)
            case ir.Lookup():
                return self.lookup(e, scope, guard)
            case ir.Solve():
                raise Unsupported("solve (each solved value needs its own search)")
        raise AssertionError(e)

    def num(self, e: ir.Expr, scope: str | None, guard: Operand | None) -> SNum:
        got = self.expr(e, scope, guard)
        assert isinstance(got, SNum), got
        return got

    def boolean(self, e: ir.Expr, scope: str | None, guard: Operand | None) -> Operand:
        got = self.expr(e, scope, guard)
        assert isinstance(got, SBool), got
        return got.b

    def constant(self, value: ir.Value) -> SValue:
        if isinstance(value, bool):
            return SBool(K(value))
        if isinstance(value, Decimal):
            f = float(value)
            return const_num(f, Decimal(f) == value)
        if isinstance(value, str):
            return SCat(K(0), K((value,)))
        raise Unsupported("a value that has none (a solve) used as a constant")

    def _same_scope(self, scope: str | None, coll: str, name: str) -> None:
        if scope != coll:
            raise Unsupported(
                f"`{coll}.{name}` read inside an aggregate over another collection (a product of two collections)"
            )

    def spread(self, scope: str | None, value: SValue) -> SValue:
        """A per-account value repeated for each record of ``scope``."""
        if scope is None:
            return value
        owner = self.op("owner", self.segs[scope], dtype="")

        def s(x: Operand, dtype: str) -> Operand:
            return x if isinstance(x, K) else self.take(x, owner, dtype, scope)

        if isinstance(value, SNum):
            return SNum(
                s(value.v, "f"), None if value.m is None else s(value.m, "f"), value.k, value.nonneg, value.exact_zero
            )
        if isinstance(value, SBool):
            return SBool(s(value.b, "b"))
        return SCat(s(value.codes, "c"), value.dictionary)

    def arith(self, e: ir.Arith, scope: str | None, guard: Operand | None) -> SValue:
        a, b = self.num(e.left, scope, guard), self.num(e.right, scope, guard)
        if e.op == "+":
            return self.add(a, b, scope)
        if e.op == "-":
            return self.add(a, b, scope, subtract=True)
        if e.op == "*":
            return self.mul(a, b, scope)
        # zero (an error) or of unsure sign: |v| > 2β, as bounds.certainly_nonzero
        nonzero = self.uf(
            "greater", self.uf("absolute", b.v, space=scope), self.bound(b, scope, bounds.SLACK), space=scope
        )
        self.flag_unless(scope, nonzero, guard)
        return self.div(a, b, scope)

    def compare(self, e: ir.Compare, scope: str | None, guard: Operand | None) -> SValue:
        a, b = self.expr(e.left, scope, guard), self.expr(e.right, scope, guard)
        op = _CMP[e.op]
        if isinstance(e.left.type, NumType) and isinstance(e.right.type, NumType):
            assert isinstance(a, SNum) and isinstance(b, SNum)
            self.flag_unless(scope, self.decided(a, b, scope), guard)
            return SBool(self.uf(op, a.v, b.v, space=scope))
        if isinstance(a, SCat) and isinstance(b, SCat):
            ca, cb = self.unify(a, b, scope)
            return SBool(self.op(op, ca, cb, dtype="b", space=scope, ufunc=False))
        if isinstance(a, SBool) and isinstance(b, SBool):
            return SBool(self.uf(op, a.b, b.b, space=scope))
        raise Unsupported(f"comparing {e.left.type} with {e.right.type}")

    def unify(self, a: SCat, b: SCat, scope: Any) -> tuple[Operand, Operand]:
        """Both code operands over ``a``'s dictionary extended by ``b``'s words."""
        if _same(a.dictionary, b.dictionary):
            return a.codes, b.codes
        if _word(b) is not None:
            # a constant word: its code in a's dictionary (-1 when absent: equal to nothing)
            return a.codes, self.op("code", a.dictionary, K(_word(b)), dtype="")
        if _word(a) is not None:
            return self.op("code", b.dictionary, K(_word(a)), dtype=""), b.codes
        pair = self.op("unify", a.dictionary, b.dictionary, dtype="")
        remap = self.op("first", pair, dtype="")
        return a.codes, self.op("remap", remap, b.codes, dtype="c", space=scope)

    def unified(self, a: SCat, b: SCat, scope: Any) -> tuple[Operand, Operand, Operand]:
        """Both codes over one dictionary, and that dictionary (for a choice between texts)."""
        if _same(a.dictionary, b.dictionary):
            return a.codes, b.codes, a.dictionary
        pair = self.op("unify", a.dictionary, b.dictionary, dtype="")
        remap = self.op("first", pair, dtype="")
        return a.codes, self.op("remap", remap, b.codes, dtype="c", space=scope), self.op("second", pair, dtype="")

    def logic(self, e: ir.Logic, scope: str | None, guard: Operand | None) -> SValue:
        both = e.op == "and"
        a = self.boolean(e.left, scope, guard)
        right_guard = self.and_(guard, a if both else self.not_(a, scope), scope)
        b = self.boolean(e.right, scope, right_guard)
        return SBool(self.uf("logical_and" if both else "logical_or", a, b, space=scope))

    def cond(self, e: ir.Cond, scope: str | None, guard: Operand | None) -> SValue:
        held = self.boolean(e.cond, scope, guard)
        if isinstance(held, K):
            taken = self.expr(e.then if held.value else e.otherwise, scope, guard)
            self.expr(e.otherwise if held.value else e.then, scope, NEVER)  # checked, never evaluated
            return taken
        a = self.expr(e.then, scope, self.and_(guard, held, scope))
        b = self.expr(e.otherwise, scope, self.and_(guard, self.not_(held, scope), scope))
        if isinstance(a, SNum) and isinstance(b, SNum):
            return self.choose(held, a, b, scope)
        if isinstance(a, SBool) and isinstance(b, SBool):
            return SBool(self.select(held, a.b, b.b, "b", scope))
        if isinstance(a, SCat) and isinstance(b, SCat):
            ca, cb, words = self.unified(a, b, scope)
            return SCat(self.select(held, ca, cb, "c", scope), words)
        raise AssertionError((a, b))

    def func(self, e: ir.Func, scope: str | None, guard: Operand | None) -> SValue:
        if e.name == "known":
            # a value with none only comes from a solve (unsupported) or an open band's `to`, which is flagged
            return SBool(K(True))
        args = [self.num(a, scope, guard) for a in e.args]
        if e.name == "abs":
            return self.absolute(args[0], scope)
        return self.extreme(args, e.name == "max", scope)

    def round(self, e: ir.Round, scope: str | None, guard: Operand | None) -> SValue:
        x = self.num(e.operand, scope, guard)
        scale = 10.0**e.places
        half = e.mode in ("half_up", "half_even")
        uf = self.uf
        t = uf("multiply", x.v, K(scale), space=scope)
        # how far t may be from the exact x·10^places: x's own bound scaled, and the scaling's rounding
        own = K(0.0) if x.k == 0 else uf("multiply", self.bound(x, scope), K(scale), space=scope)
        room = uf(
            "multiply",
            uf("add", own, uf("multiply", uf("absolute", t, space=scope), K(2 * bounds.U), space=scope), space=scope),
            K(bounds.SLACK),
            space=scope,
        )
        whole = uf("floor", t, space=scope)
        if half:
            near = uf("absolute", uf("subtract", t, uf("add", whole, K(0.5), space=scope), space=scope), space=scope)
            n = uf("rint", t, space=scope)
        else:
            near = uf(
                "minimum",
                uf("subtract", t, whole, space=scope),
                uf("subtract", uf("ceil", t, space=scope), t, space=scope),
                space=scope,
            )
            n = self.directed(t, e.mode, scope)
        decided = uf(
            "logical_or", uf("greater", near, room, space=scope), uf("equal", room, K(0.0), space=scope), space=scope
        )
        self.flag_unless(scope, decided, guard)
        return SNum(uf("divide", n, K(scale), space=scope), None, 1.0 if 0 <= e.places <= 22 else 2.0, x.nonneg)

    def directed(self, t: Operand, mode: str, scope: Any) -> Operand:
        if mode == "floor":
            return self.uf("floor", t, space=scope)
        if mode == "ceiling":
            return self.uf("ceil", t, space=scope)
        if mode == "down":
            return self.uf("trunc", t, space=scope)
        return self.op("up_round", t, dtype="f", space=scope)  # away from zero

    # ------------------------------------------------------------ aggregates
    def aggregate(self, e: ir.Aggregate, scope: str | None, guard: Operand | None) -> SValue:
        coll = e.collection
        if scope is not None and scope != coll:
            body_refs = [x for x in ir.walk(e) if isinstance(x, (ir.FieldRef, ir.RecDefRef))]
            if any(x.collection == scope for x in body_refs):
                raise Unsupported(f"an aggregate over `{coll}` that reads the current record of `{scope}`")
        seg = self.segs[coll]
        owner = self.op("owner", seg, dtype="")
        # the accounts for which the exact evaluator computes this aggregate
        acc_guard: Operand | None = guard
        if scope is not None and guard is not None and guard is not NEVER:
            acc_guard = self.op(
                "seg_any", self.op("owner", self.segs[scope], dtype=""), guard, "_n", dtype="b", space=None
            )
        rec_guard: Operand | None = acc_guard
        if acc_guard is not None and acc_guard is not NEVER and not isinstance(acc_guard, K):
            rec_guard = self.take(acc_guard, owner, "b", coll)
        keep: Operand = K(True)
        if e.where is not None:
            keep = self.boolean(e.where, coll, rec_guard)
            rec_guard = self.and_(rec_guard, keep, coll)
        filtered = e.where is not None
        longest = self.longest[coll]
        if e.func == "count":
            if not filtered:
                counted = self.op("counts", seg, dtype="")
                return self.back(scope, SNum(self.op("asfloat", counted, dtype="f", space=None), None, 0.0, True))
            return self.back(
                scope, SNum(self.op("bincount", owner, keep, "_n", dtype="f", space=None), None, 0.0, True)
            )
        assert e.body is not None
        body = self.expr(e.body, coll, rec_guard)
        if e.func in ("any", "all"):
            assert isinstance(body, SBool)
            flags = body.b
            if filtered:
                flags = self.select(keep, flags, K(e.func == "all"), "b", coll)
            if e.func == "any":
                red = self.op("seg_any", owner, flags, "_n", dtype="b", space=None)
            else:  # no record fails: no False among the records
                red = self.not_(self.op("seg_any", owner, self.not_(flags, coll), "_n", dtype="b", space=None), None)
            return self.back(scope, SBool(red))
        assert isinstance(body, SNum)
        if e.func == "sum":
            v = body.v if not filtered else self.select(keep, body.v, K(0.0), "f", coll)
            total = self.op("bincount", owner, v, "_n", dtype="f", space=None)
            k = body.k + max(longest - 1, 0) if body.k or longest > 1 else 0.0
            if body.m is None and body.nonneg:
                return self.back(scope, SNum(total, None, k, True))
            mag = self.mag(body, coll) if not filtered else self.select(keep, self.mag(body, coll), K(0.0), "f", coll)
            return self.back(
                scope, SNum(total, self.op("bincount", owner, mag, "_n", dtype="f", space=None), k, body.nonneg)
            )
        # min / max: empty accounts take the default, or fail in the exact evaluator
        largest = e.func == "max"
        ufunc = K(np.maximum if largest else np.minimum)
        identity = -math.inf if largest else math.inf
        v = body.v if not filtered else self.select(keep, body.v, K(identity), "f", coll)
        red = self.op("seg_reduce", ufunc, v, seg, K(identity), dtype="f", space=None)
        if filtered:
            empty = self.uf("equal", red, K(identity), space=None)
        else:
            empty = self.uf("equal", self.op("counts", seg, dtype=""), K(0), space=None)
        mag_body = self.mag(body, coll) if not filtered else self.select(keep, self.mag(body, coll), K(0.0), "f", coll)
        mag = self.op("seg_reduce", K(np.maximum), mag_body, seg, K(0.0), dtype="f", space=None)
        out = SNum(red, mag, body.k, body.nonneg)
        if e.default is None:
            self.flag_if(None, empty, acc_guard)  # `min` of no records: an error
            fill = const_num(0.0, True)
        else:
            fill_value = self.expr(e.default, None, self.and_(acc_guard, empty, None))
            assert isinstance(fill_value, SNum)
            fill = fill_value
        return self.back(scope, self.choose(empty, fill, out, None))

    def back(self, scope: str | None, value: SValue) -> SValue:
        return self.spread(scope, value)

    # ------------------------------------------------------------ lookups
    def band(self, e: ir.Lookup, scope: str | None, guard: Operand | None) -> tuple[Operand, SNum]:
        """The band of each row's size (flagging rows it does not decide)."""
        table = self.tables[e.table]
        size = self.num(e.size, scope, guard)
        index = self.indexes.get(e.table)
        bucketed = index is not None and not isinstance(size.v, K)
        key: Operand = K(0)
        if e.group is not None:
            grp = self.expr(e.group, scope, guard)
            assert isinstance(grp, SCat)
            keymap = self.keymap(e.table, index.count if bucketed and index is not None else 1)
            km = self.op("call", K(keymap), grp.dictionary, dtype="")
            key = self.take(km, grp.codes, "i", scope)
        if not bucketed or index is None:
            found = self.op("call", K(table.search), size.v, key, dtype="i", space=scope)
        else:
            # a keyed table's buckets are clipped to the key's block; one block is clipped by the gathers
            top = K(index.count - 1 if e.group is not None else -1)
            t = self.op("bucket", size.v, K(index.shift), K(index.offset), top, dtype="i", space=scope)
            if not (isinstance(key, K) and key.value == 0):
                t = self.op("add", t, key, dtype="i", space=scope, ufunc=True)
            found = self.take(index.base, t, "i", scope)
            for edges in index.edges:
                above = self.uf("greater_equal", size.v, self.take(edges, t, "f", scope), space=scope)
                found = self.op("add", found, above, dtype="i", space=scope, ufunc=True)
        if size.m is None and size.nonneg:
            # the bound is c·size: compare with the band's edges moved inwards once and for all
            lo, hi = self.shrunk(e.table, bounds.SLACK * bounds.gamma(size.k) if size.k else 0.0)
            decided = self.uf(
                "logical_and",
                self.uf("greater_equal", size.v, self.take(lo, found, "f", scope), space=scope),
                self.uf("less_equal", size.v, self.take(hi, found, "f", scope), space=scope),
                space=scope,
            )
        else:
            bound = self.bound(size, scope, bounds.SLACK)
            decided = self.op("call", K(table.decided), size.v, bound, found, dtype="b", space=scope)
        self.flag_unless(scope, decided, guard)
        return found, size

    def keymap(self, table: str, stride: int) -> _KeyMap:
        got = self.keymaps.get((table, stride))
        if got is None:
            got = self.keymaps[(table, stride)] = _KeyMap(self.tables[table].keys, stride)
        return got

    def gather(self, col: Any, found: Operand, scope: Any, negate: bool = False) -> SNum:
        nums = self._negated(col) if negate else col.numbers
        nonneg = bool((nums >= 0).all())
        # |nums| is the column's magnitudes: M = |v| needs no array of its own when every number is >= 0
        m = None if nonneg or col.magnitudes is None else self.take(col.magnitudes, found, "f", scope)
        return SNum(self.take(nums, found, "f", scope), m, 0.0 if col.exact else 1.0, nonneg)

    def _negated(self, col: Any) -> Any:
        got = self.negated.get(id(col))
        if got is None:
            got = self.negated[id(col)] = -col.numbers
        return got

    def lookup(self, e: ir.Lookup, scope: str | None, guard: Operand | None) -> SValue:
        table = self.tables[e.table]
        found, size = self.band(e, scope, guard)
        if e.mode == "tier":
            return SNum(self.take(table.number, found, "f", scope), None, 0.0, True)
        assert e.column is not None
        values = table.columns[e.column] if e.mode in ("lookup", "step", "progressive", "bracket") else None
        cums = table.cums.get(e.column) if e.mode in ("progressive", "bracket", "cum") else None
        if e.mode == "lookup":
            assert values is not None
            if values.open_rows is not None:
                self.flag_if(scope, self.take(values.open_rows, found, "b", scope), guard)  # the open band's `to`
            if values.numbers is None:
                assert values.codes is not None
                return SCat(self.take(values.codes, found, "c", scope), K(values.dictionary))
            return self.gather(values, found, scope)
        if e.mode == "cum":
            assert cums is not None
            return self.gather(cums, found, scope)
        assert values is not None and values.numbers is not None
        if e.mode == "step":
            return self.mul(size, self.gather(values, found, scope), scope)
        assert cums is not None and cums.numbers is not None
        product = self.mul(size, self.gather(values, found, scope), scope)
        if bool((cums.numbers <= 0).all()):
            return self.add(product, self.gather(cums, found, scope, negate=True), scope)
        return self.add(product, self.gather(cums, found, scope), scope, subtract=True)

    # ------------------------------------------------------------ the whole ruleset
    def ruleset(self) -> tuple[Recipe, list[Operand]]:
        """Lower every definition and ladder; return the output recipe and the operands returned."""
        returned: list[Operand] = []
        out = Recipe([], [], [])

        def give(value: SValue) -> Any:
            def at(x: Operand) -> int:
                returned.append(x)
                return len(returned) - 1

            if isinstance(value, SNum):
                vi = at(value.v)
                mi = at(value.m) if self.sig.bounds and value.m is not None else None
                return ("num", vi, mi, value.k, value.nonneg, value.exact_zero)
            if isinstance(value, SBool):
                return ("bool", at(value.b))
            return ("cat", at(value.codes), at(value.dictionary))

        for d in self.rs.definitions:
            value = self.expr(d.expr, d.collection, None)
            if d.collection is None:
                self.defs[d.name] = value
                out.values.append((d.name, "", give(value)))
            else:
                self.record_defs[(d.collection, d.name)] = value
                if self.sig.records:
                    out.records.append(((d.collection, d.name), "", give(value)))
        for lad in self.rs.ladders:
            guard: Operand | None = None
            chosen: list[Operand] = []
            for r in lad.rungs:
                if r.cond is None:
                    continue
                held = self.boolean(r.cond, None, guard)
                chosen.append(held)
                guard = self.and_(guard, self.not_(held, None), None)
            level = self.op("levels", "_n", K(len(lad.rungs) - 1), *chosen, dtype="", space=None)
            returned.append(level)
            out.levels.append(lad.name)
        for coll in self.colls:
            self.effect("fold", "_flags", self.record_flags[coll], self.segs[coll])
        return out, returned


def _param(key: tuple[Any, ...]) -> SValue:
    """A parameter's value from its signature key (see :func:`rulelang.columnar.plan._param_keys`)."""
    if key[0] == "num":
        _, v, k, nonneg, exact_zero = key
        return SNum(K(v), None, k, nonneg, exact_zero)
    if key[0] == "bool":
        return SBool(K(key[1]))
    return SCat(K(key[1]), K(key[2]))


def _word(a: SCat) -> str | None:
    """The text of a constant text (one word, code 0), or None."""
    if isinstance(a.dictionary, K) and isinstance(a.codes, K) and len(a.dictionary.value) == 1 and a.codes.value == 0:
        return str(a.dictionary.value[0])
    return None


def _key(a: Operand) -> Any:
    return a.key() if isinstance(a, K) else a


def _same(a: Operand, b: Operand) -> bool:
    return bool(_key(a) == _key(b))


def _is_zero(a: Operand) -> bool:
    return isinstance(a, K) and a.value == 0


def _is_plus_zero(a: Operand) -> bool:
    return isinstance(a, K) and isinstance(a.value, float) and a.value == 0 and math.copysign(1.0, a.value) > 0


def _is_one(a: Operand) -> bool:
    return isinstance(a, K) and isinstance(a.value, float) and a.value == 1.0


def _power_of_two(a: SNum) -> bool:
    """An exact constant ±2ⁿ: multiplying by it does not round."""
    if a.k != 0 or not isinstance(a.v, K) or not isinstance(a.v.value, float) or a.v.value == 0:
        return False
    mantissa, _ = math.frexp(a.v.value)
    return bool(abs(mantissa) == 0.5)


# ----------------------------------------------------------------- dead code and buffers


def prune(instrs: list[Instr], returned: Sequence[Operand]) -> list[Instr]:
    """Drop the instructions nothing kept depends on (step 2)."""
    live = {a for a in returned if isinstance(a, str)}
    kept: list[Instr] = []
    for ins in reversed(instrs):
        if ins.pure and ins.dest not in live:
            continue
        kept.append(ins)
        for a in (*ins.args, *(v for _, v in ins.kw)):
            if isinstance(a, str):
                live.add(a)
    kept.reverse()
    return kept


def reuse(instrs: list[Instr], returned: Sequence[Operand]) -> None:
    """Let element-wise calls write into an argument used for the last time (step 3)."""
    last: dict[str, int] = {}
    for i, ins in enumerate(instrs):
        for a in (*ins.args, *(v for _, v in ins.kw)):
            if isinstance(a, str):
                last[a] = i
    for a in returned:
        if isinstance(a, str):
            last[a] = len(instrs)
    made: dict[str, Instr] = {ins.dest: ins for ins in instrs if ins.dest is not None}
    for i, ins in enumerate(instrs):
        if not ins.ufunc or ins.dest is None or ins.space == "?":
            continue
        for a in ins.args:
            if not isinstance(a, str):
                continue
            src = made.get(a)
            if (
                src is not None
                and last.get(a) == i
                and src.dtype == ins.dtype
                and src.space == ins.space
                and src.dtype in ("f", "b", "i")
                and _fresh(src)
            ):
                ins.out = a
                break


#: functions whose result is a new array (``asfloat`` may return its argument, ``owner`` a segment's own)
_NEW_ARRAYS = {"take", "select_f", "select_b", "bucket", "bincount", "seg_any", "seg_reduce"}


def _fresh(ins: Instr) -> bool:
    """Whether an instruction's result is an array of its own (not a view, a table, a segment's array)."""
    return ins.fn in _UFUNCS or ins.fn in _NEW_ARRAYS


# ----------------------------------------------------------------- Python source


def _operand(a: Operand, gen: Gen) -> ast.expr:
    if isinstance(a, str):
        return ast.Name(a, ast.Load())
    v = a.value
    if isinstance(v, bool) or v is None or (isinstance(v, int) and not isinstance(v, bool)):
        return ast.Constant(v)
    if isinstance(v, float) and math.isfinite(v) and not (v == 0 and math.copysign(1.0, v) < 0):
        return ast.Constant(v)
    if isinstance(v, str) and v == "clip":
        return ast.Constant(v)
    return ast.Name(gen.const(v), ast.Load())


def emit(gen: Gen, instrs: list[Instr], returned: Sequence[Operand], name: str) -> tuple[Callable[..., Any], str]:
    body: list[ast.stmt] = []
    funcs: dict[str, str] = {}

    def fname(fn: str) -> str:
        got = funcs.get(fn)
        if got is None:
            got = funcs[fn] = f"_f{len(funcs)}"
            gen.ns[got] = _UFUNCS.get(fn) or _FUNCS.get(fn)
        return got

    for ins in instrs:
        if ins.fn == "call":  # a namespace callable: the first argument
            func: ast.expr = _operand(ins.args[0], gen)
            args = [_operand(a, gen) for a in ins.args[1:]]
        elif ins.fn == "take":  # the array's own method: no dispatch through np.take
            func = ast.Attribute(_operand(ins.args[0], gen), "take", ast.Load())
            args = [_operand(a, gen) for a in ins.args[1:]]
        else:
            func = ast.Name(fname(ins.fn), ast.Load())
            args = [_operand(a, gen) for a in ins.args]
        kws = [ast.keyword(n, _operand(v, gen)) for n, v in ins.kw]
        if ins.out is not None:
            kws.append(ast.keyword("out", ast.Name(ins.out, ast.Load())))
        call = ast.Call(func, args, kws)
        if ins.dest is None:
            body.append(ast.Expr(call))
        else:
            body.append(ast.Assign([ast.Name(ins.dest, ast.Store())], call))
    body.append(ast.Return(ast.Tuple([_operand(a, gen) for a in returned], ast.Load())))
    params = ast.arguments(
        posonlyargs=[], args=[ast.arg(a) for a in gen.arg_names], kwonlyargs=[], kw_defaults=[], defaults=[]
    )
    extra: dict[str, Any] = {"type_params": []} if sys.version_info >= (3, 12) else {}
    fn = ast.FunctionDef(name="run", args=params, body=body, decorator_list=[], returns=None, **extra)
    module = ast.Module(body=[fn], type_ignores=[])
    for line, stmt in enumerate(body, start=2):  # one line each, as ast.unparse writes them: tracebacks point there
        stmt.lineno = stmt.end_lineno = line
    fn.lineno, fn.end_lineno = 1, len(body) + 1
    ast.fix_missing_locations(module)
    source = ast.unparse(module)
    filename = f"<rulelang columnar {name} #{next(_compiled)}>"
    code = compile(module, filename, "exec")
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = dict(gen.ns)
    namespace["__builtins__"] = {}
    exec(code, namespace)
    run: Callable[..., Any] = namespace["run"]
    return run, source


def generate(
    rs: ir.Ruleset,
    tables: dict[str, FlatTable],
    indexes: dict[str, Buckets | None],
    shrunk: Callable[[str, float], tuple[Any, Any]],
    sig: Signature,
    *,
    reuse_buffers: bool = True,
) -> Generated:
    """The function for ``sig`` (``reuse_buffers=False``: without step 3, for tests)."""
    gen = Gen(rs, tables, indexes, shrunk, sig)
    output, returned = gen.ruleset()
    instrs = prune(gen.instrs, returned)
    if reuse_buffers:
        reuse(instrs, returned)
    fn, source = emit(gen, instrs, returned, rs.header.name)
    return Generated(fn, source, output)
