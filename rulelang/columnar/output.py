"""Collect a batch's results and build the output table.

Input: per chunk, a plan's :class:`~rulelang.columnar.plan.Output`; per
re-evaluated account, an exact :class:`~rulelang.results.Result` or an error.
Output: one table of the input's kind (Arrow, pandas or Polars): a column per
global definition (float64 for numbers, bool, dictionary-encoded text), a
dictionary column per ladder with the level's name, optional list columns of
per-record definitions (``collection.name``) and bounds (``name.bound``), and
the error column. An account with an error has null values.
"""

from __future__ import annotations

import mmap
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type information

from rulelang import ir
from rulelang.columnar import bounds
from rulelang.columnar.bounds import Num
from rulelang.columnar.layout import Batch
from rulelang.columnar.plan import Bool, Cat, Chunk, Output, Value
from rulelang.results import Result
from rulelang.types import BoolType, NumType


@attrs.define
class Slot:
    """The output of one definition: values and what kind they are."""

    kind: str  # num, bool, cat
    values: npt.NDArray[Any]
    bound: npt.NDArray[np.float64] | None = None
    words: dict[str, int] = attrs.Factory(dict)  # cat: text -> code

    def code(self, word: str) -> int:
        got = self.words.get(word)
        if got is None:
            got = self.words[word] = len(self.words)
        return got


Alloc = Callable[[int, Any], npt.NDArray[Any]]


def _zeros(size: int, dtype: Any) -> npt.NDArray[Any]:
    return np.zeros(size, dtype=dtype)


def shared(size: int, dtype: Any) -> npt.NDArray[Any]:
    """A zeroed array in anonymous shared memory: a forked worker's writes are seen by its parent."""
    itemsize = np.dtype(dtype).itemsize
    buf = mmap.mmap(-1, max(1, size * itemsize))
    return np.frombuffer(buf, dtype=dtype, count=size)


def _slot(t: Any, size: int, with_bound: bool, alloc: Alloc) -> Slot:
    if isinstance(t, NumType):
        return Slot("num", alloc(size, np.float64), alloc(size, np.float64) if with_bound else None)
    if isinstance(t, BoolType):
        return Slot("bool", alloc(size, np.bool_))
    return Slot("cat", alloc(size, np.int32))


@attrs.define
class Columns:
    """Every output column of a batch, filled chunk by chunk and row by row."""

    n: int
    globals: dict[str, Slot]
    records: dict[tuple[str, str], Slot]
    levels: dict[str, npt.NDArray[np.int8]]
    rungs: dict[str, tuple[str, ...]]
    valid: npt.NDArray[np.bool_]
    errors: dict[int, str]
    lock: threading.Lock
    #: in a forked worker: texts are written as the chunk's own codes, and the dictionaries listed here
    #: (slot, rows, dictionary) for the parent to translate
    deferred: list[tuple[tuple[str, str] | str, slice, tuple[str, ...]]] | None = None

    @classmethod
    def empty(cls, rs: ir.Ruleset, batch: Batch, records: bool, with_bounds: bool, alloc: Alloc = _zeros) -> Columns:
        n = batch.n
        globals_ = {d.name: _slot(d.type, n, with_bounds, alloc) for d in rs.definitions if d.collection is None}
        recs: dict[tuple[str, str], Slot] = {}
        if records:
            for d in rs.definitions:
                if d.collection is not None:
                    size = int(batch.collections[d.collection].offsets[-1])
                    recs[(d.collection, d.name)] = _slot(d.type, size, with_bounds, alloc)
        return cls(
            n=n,
            globals=globals_,
            records=recs,
            levels={lad.name: alloc(n, np.int8) for lad in rs.ladders},
            rungs={lad.name: tuple(r.name for r in lad.rungs) for lad in rs.ladders},
            valid=np.ones(n, dtype=np.bool_),
            errors={},
            lock=threading.Lock(),
        )

    # ------------------------------------------------------------ from the plan
    def store(self, out: Output, start: int, stop: int, batch: Batch, chunk: Chunk) -> None:
        for name, slot in self.globals.items():
            self._put_value(name, slot, slice(start, stop), out.values[name])
        for name, lv in out.levels.items():
            self.levels[name][start:stop] = lv
        for (coll, name), slot in self.records.items():
            offsets = batch.collections[coll].offsets
            first, last = int(offsets[start]), int(offsets[stop])
            self._put_value((coll, name), slot, slice(first, last), out.records[(coll, name)])

    def _put_value(self, key: tuple[str, str] | str, slot: Slot, where: slice, value: Value) -> None:
        if isinstance(value, Num):
            slot.values[where] = value.v
            if slot.bound is not None:
                slot.bound[where] = bounds.SLACK * value.bound() if value.k else 0.0
        elif isinstance(value, Bool):
            slot.values[where] = value.b
        else:
            assert isinstance(value, Cat)
            if self.deferred is not None:
                slot.values[where] = value.codes
                self.deferred.append((key, where, value.dictionary))
                return
            with self.lock:
                remap = np.array([slot.code(w) for w in value.dictionary], dtype=np.int32)
            slot.values[where] = remap[value.codes]

    # ------------------------------------------------------------ from the exact evaluator
    def put(self, row: int, result: Result, batch: Batch) -> None:
        for name, slot in self.globals.items():
            self._put_exact(slot, row, result.values[name])
        for name, level in result.levels.items():
            self.levels[name][row] = self.rungs[name].index(level.level)
        for (coll, name), slot in self.records.items():
            first = int(batch.collections[coll].offsets[row])
            for i, rec in enumerate(result.records[coll]):
                self._put_exact(slot, first + i, rec[name])

    def _put_exact(self, slot: Slot, at: int, value: ir.Value) -> None:
        if slot.kind == "num":
            f = float(value) if isinstance(value, Decimal) else np.nan  # a solve with no value: null
            slot.values[at] = f
            if slot.bound is not None:
                slot.bound[at] = abs(f) * bounds.U  # the exact decimal, correctly rounded to a float
        elif slot.kind == "bool":
            slot.values[at] = bool(value)
        else:
            slot.values[at] = slot.code(str(value))

    def translate(self, deferred: list[tuple[tuple[str, str] | str, slice, tuple[str, ...]]]) -> None:
        """Turn a worker's chunk codes into this batch's codes."""
        for key, where, dictionary in deferred:
            slot = self.globals[key] if isinstance(key, str) else self.records[key]
            remap = np.array([slot.code(w) for w in dictionary], dtype=np.int32)
            slot.values[where] = remap[slot.values[where]]

    def fail(self, row: int, message: str) -> None:
        self.valid[row] = False
        self.errors[row] = message


def build(cols: Columns, rs: ir.Ruleset, batch: Batch, kind: str, error_column: str) -> Any:
    """The output table, of the input's kind."""
    mask = None if cols.valid.all() else ~cols.valid
    arrays: dict[str, pa.Array] = {}
    for name, slot in cols.globals.items():
        arrays[name] = _array(slot, mask)
        if slot.bound is not None:
            arrays[f"{name}.bound"] = pa.array(slot.bound, mask=mask)
    for lad in rs.ladders:
        codes = pa.array(cols.levels[lad.name], mask=mask)
        arrays[lad.name] = pa.DictionaryArray.from_arrays(codes, pa.array(cols.rungs[lad.name]))
    for (coll, name), slot in cols.records.items():
        offsets = pa.array(batch.collections[coll].offsets.astype(np.int32))
        values = _array(slot, None)
        arrays[f"{coll}.{name}"] = pa.ListArray.from_arrays(offsets, values, mask=pa.array(~cols.valid))
        if slot.bound is not None:
            arrays[f"{coll}.{name}.bound"] = pa.ListArray.from_arrays(
                offsets, pa.array(slot.bound), mask=pa.array(~cols.valid)
            )
    if error_column in arrays:
        raise ValueError(f"the error column `{error_column}` would hide a result of that name: pick another")
    if cols.errors:
        errors = [None] * cols.n
        for row, message in cols.errors.items():
            errors[row] = message  # type: ignore[call-overload]
        arrays[error_column] = pa.array(errors, type=pa.string())
    else:
        arrays[error_column] = pa.nulls(cols.n, pa.string())
    table = pa.table(arrays)
    if kind == "pandas":
        return table.to_pandas()
    if kind == "polars":
        import polars as pl

        return pl.from_arrow(table)
    return table


def _array(slot: Slot, mask: Any) -> pa.Array:
    if slot.kind == "cat":
        words = sorted(slot.words, key=slot.words.__getitem__)
        return pa.DictionaryArray.from_arrays(pa.array(slot.values, mask=mask), pa.array(words, type=pa.string()))
    return pa.array(slot.values, mask=mask)
