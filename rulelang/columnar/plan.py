"""Compile the IR into vectorised operations over a chunk of accounts.

Input: an :class:`~rulelang.ir.Ruleset`. Output: a :class:`Plan` whose
:meth:`~Plan.run` takes a :class:`Chunk` (a slice of a
:class:`~rulelang.columnar.layout.Batch`) and returns every global definition,
every per-record definition and every ladder's level for its accounts, plus
the accounts whose figures the vectorised path cannot vouch for (``flags``).

The ruleset becomes one generated Python function of NumPy calls
(:mod:`rulelang.columnar.codegen`), specialised for what a batch's chunks
share (each number column's roundings, the parameters' values, which outputs
are wanted) and made once per such :class:`~rulelang.columnar.codegen.Signature`.
Per node: one array per account for a global expression, one per record
(over all records of the collection, "exploded") for a per-record one.
Aggregates are segment reductions; lookups are a bucket search per table;
``if`` is a branch-free choice over both branches. Numbers are floats with an
error bound (:mod:`rulelang.columnar.bounds`); every decision (a comparison, a
tier band, a rounding step) checks that the bound cannot change it, and an
account where one might, or where the exact evaluator could fail (a division
by zero, a size outside a table, ``min`` of nothing), is flagged. A node's
flags count only on the rows where the exact evaluator would evaluate it (the
taken branch of an ``if``, the right side of an ``and`` whose left side holds,
the records a ``where`` keeps, the rungs not yet decided).

What is not vectorised raises :class:`Unsupported` here; the batch then
evaluates every account exactly (see :mod:`rulelang.columnar.evaluate`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from rulelang import ir
from rulelang.columnar import bounds, codegen
from rulelang.columnar.bounds import Num
from rulelang.columnar.codegen import Unsupported
from rulelang.columnar.layout import Batch
from rulelang.columnar.ranges import safe_exponent
from rulelang.columnar.segments import Segments
from rulelang.columnar.tables import FlatTable, flatten

BoolArray = npt.NDArray[np.bool_]

__all__ = ["Bool", "Cat", "Chunk", "Output", "Plan", "Unsupported", "Value", "const_value"]


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


@attrs.define
class Chunk:
    """A slice of accounts: its inputs, segments, parameters and flags."""

    n: int
    scalars: dict[str, Value]
    fields: dict[tuple[str, str], Value]
    segments: dict[str, Segments]
    params: dict[str, Value]
    flags: BoolArray  # per account
    record_flags: dict[str, BoolArray]


@attrs.define
class Output:
    """What a plan computes for a chunk."""

    values: dict[str, Value]  # global definitions
    records: dict[tuple[str, str], Value]  # per-record definitions
    levels: dict[str, Any]  # ladder -> index of the rung reached per account
    flags: BoolArray  # accounts to evaluate exactly


def const_value(value: ir.Value) -> Value:
    if isinstance(value, bool):
        return Bool(value)
    if isinstance(value, Decimal):
        f = float(value)
        return bounds.const(f, Decimal(f) == value)
    if isinstance(value, str):
        return Cat(0, (value,))
    raise Unsupported("a value that has none (a solve) used as a constant")


class Plan:
    """A ruleset compiled to generated NumPy functions over chunks (see the module docstring)."""

    #: generated functions (and parameter sets) kept per plan: a batch needs one; making another takes a few ms
    CACHE = 32

    def __init__(self, ruleset: ir.Ruleset) -> None:
        self.rs = ruleset
        self.tables: dict[str, FlatTable] = {t.name: flatten(t) for t in ruleset.tables}
        self.colls = [i.name for i in ruleset.inputs if i.fields is not None]
        self.indexes = {name: codegen.buckets(t) for name, t in self.tables.items()}
        self._shrunk: dict[tuple[str, float], tuple[Any, Any]] = {}
        self._generated: dict[codegen.Signature, codegen.Generated] = {}
        self._params: dict[tuple[tuple[str, ir.Value], ...], dict[str, Value]] = {}
        self._param_keys: dict[int, tuple[dict[str, Value], tuple[tuple[str, Any], ...]]] = {}
        self._lock = threading.Lock()
        #: inputs within 10^±safe_exponent are vectorised (see :mod:`rulelang.columnar.ranges`)
        self.safe_exponent = safe_exponent(ruleset, self.tables)
        # generated once now, with the declared parameters: raises Unsupported for what is not vectorised
        declared: dict[str, Value] = {}
        for p in ruleset.params:
            with contextlib.suppress(Unsupported):
                declared[p.name] = const_value(p.value)
        inputs = tuple(1.0 for i in ruleset.inputs for _ in (i.fields if i.fields is not None else (i,)))
        self.generated(codegen.Signature(inputs, _param_keys(declared), tuple(8 for _ in self.colls), True, True))

    def param_values(self, params: Mapping[str, ir.Value]) -> dict[str, Value]:
        """The parameters as plan values (remembered: a batch after another usually has the same)."""
        key = tuple(params.items())
        try:
            got = self._params.get(key)
        except TypeError:  # a value that cannot be a key (none of the usual ones)
            key, got = (), None
        if got is None:
            got = {}
            for name, v in params.items():
                with contextlib.suppress(Unsupported):  # a parameter with no value: plans read none
                    got[name] = const_value(v)
            if key and len(self._params) < self.CACHE:
                self._params[key] = got
        return got

    def generated(self, sig: codegen.Signature) -> codegen.Generated:
        """The function for ``sig`` (made on first use)."""
        got = self._generated.get(sig)
        if got is None:
            with self._lock:
                got = self._generated.get(sig)
                if got is None:
                    got = codegen.generate(self.rs, self.tables, self.indexes, self.shrunk, sig)
                    if len(self._generated) >= self.CACHE:
                        self._generated.pop(next(iter(self._generated)))
                    self._generated[sig] = got
        return got

    def source(self, sig: codegen.Signature | None = None) -> str:
        """The generated Python source (of the first signature made, by default)."""
        gen = self.generated(sig) if sig is not None else next(iter(self._generated.values()))
        return gen.source

    def shrunk(self, table: str, c: float) -> tuple[Any, Any]:
        got = self._shrunk.get((table, c))
        if got is None:
            got = self._shrunk[(table, c)] = codegen.shrunk_edges(self.tables[table], c)
        return got

    def signature(self, chunk: Chunk, records: bool, error_bounds: bool) -> codegen.Signature:
        """What ``chunk`` needs of a generated function (see :class:`~rulelang.columnar.codegen.Signature`)."""
        longest = [chunk.segments[c].longest for c in self.colls]
        return self._signature(chunk.scalars, chunk.fields, chunk.params, longest, records, error_bounds)

    def batch_signature(
        self, batch: Batch, params: dict[str, Value], records: bool, error_bounds: bool
    ) -> codegen.Signature:
        """A signature that serves every chunk of ``batch`` (its longest account, not a chunk's)."""
        longest = []
        for c in self.colls:
            offsets = batch.collections[c].offsets
            longest.append(int((offsets[1:] - offsets[:-1]).max()) if len(offsets) > 1 else 0)
        return self._signature(batch.scalars, _fields(batch), params, longest, records, error_bounds)

    def _signature(
        self,
        scalars: Mapping[str, Any],
        fields: Mapping[tuple[str, str], Any],
        params: dict[str, Value],
        longest: list[int],
        records: bool,
        error_bounds: bool,
    ) -> codegen.Signature:
        ks: list[float] = []
        for decl in self.rs.inputs:
            if decl.fields is None:
                ks.append(_k(scalars[decl.name]))
            else:
                ks.extend(_k(fields[(decl.name, f.name)]) for f in decl.fields)
        classes = tuple(codegen.longest_class(n) for n in longest)
        keys = self._param_keys.get(id(params))
        if keys is None or keys[0] is not params:
            keys = (params, _param_keys(params))
            if len(self._param_keys) < self.CACHE:
                self._param_keys[id(params)] = keys  # the dict is kept: its id is not reused
        return codegen.Signature(tuple(ks), keys[1], classes, error_bounds, records)

    # ------------------------------------------------------------ running

    def arguments(self, chunk: Any) -> list[Any]:
        """The generated function's arguments for ``chunk``: its size and flags, each collection's
        record flags and segments, then every input (a field per collection field) in declaration order."""
        args: list[Any] = [chunk.n, chunk.flags]
        for c in self.colls:
            args += [chunk.record_flags[c], chunk.segments[c]]
        for decl in self.rs.inputs:
            if decl.fields is None:
                _arg(args, chunk.scalars[decl.name])
            else:
                for f in decl.fields:
                    _arg(args, chunk.fields[(decl.name, f.name)])
        return args

    def run(
        self,
        chunk: Chunk,
        *,
        records: bool = True,
        error_bounds: bool = True,
        signature: codegen.Signature | None = None,
    ) -> Output:
        """Every definition and level of ``chunk``'s accounts, and the accounts to evaluate exactly.

        ``records=False`` leaves out the per-record definitions; ``error_bounds=False``
        leaves the magnitudes of the numbers out (their ``bound()`` is then not meaningful).
        ``signature`` (from :meth:`batch_signature`) saves working it out per chunk.
        """
        gen = self.generated(signature if signature is not None else self.signature(chunk, records, error_bounds))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            got = gen.fn(*self.arguments(chunk))
        recipe = gen.output
        values = {name: _value(got, how) for name, _, how in recipe.values}
        recs = {key: _value(got, how) for key, _, how in recipe.records}
        levels = dict(zip(recipe.levels, got[len(got) - len(recipe.levels) :], strict=True))
        return Output(values=values, records=recs, levels=levels, flags=chunk.flags)


def _k(value: Any) -> float:
    """The roundings of a number input (a plan value or a layout column), 0 for others."""
    k = getattr(value, "k", None)
    return float(k) if k is not None and getattr(value, "kind", "num") == "num" else 0.0


def _fields(batch: Batch) -> dict[tuple[str, str], Any]:
    return {(c, f): col for c, coll in batch.collections.items() for f, col in coll.fields.items()}


def _arg(args: list[Any], value: Value) -> None:
    if isinstance(value, Num):
        args.append(value.v)
    elif isinstance(value, Bool):
        args.append(value.b)
    else:
        args += [value.codes, value.dictionary]


def _param_keys(params: dict[str, Value]) -> tuple[tuple[str, Any], ...]:
    out: list[tuple[str, Any]] = []
    for name, v in params.items():
        if isinstance(v, Num):
            out.append((name, ("num", float(v.v), v.k, bool(v.nonneg), bool(v.exact_zero))))
        elif isinstance(v, Bool):
            out.append((name, ("bool", bool(v.b))))
        else:
            out.append((name, ("cat", int(v.codes), tuple(v.dictionary))))
    return tuple(out)


def _value(got: tuple[Any, ...], how: Any) -> Value:
    if how[0] == "num":
        _, vi, mi, k, nonneg, exact_zero = how
        return Num(got[vi], None if mi is None else got[mi], k, nonneg, exact_zero)
    if how[0] == "bool":
        return Bool(got[how[1]])
    return Cat(got[how[1]], got[how[2]])
