"""Read a table of accounts into the exploded columnar layout.

Input: an Arrow table (or anything :func:`to_arrow` takes: pandas, Polars, a
record batch, a list of account mappings) with one row per account: one
column per scalar input, and one ``list<struct>`` column per collection.
Output: a :class:`Batch`: one NumPy array per scalar input (length: accounts),
one array per field over all records of a collection plus the collection's
offsets, and the rows the vectorised path cannot read (``bad``).

Numbers become float64 with the number of roundings the conversion made
(``Column.k``): a float column is exact for the evaluator's own reading
(``Decimal(repr(x))`` differs from ``x`` by at most half an ulp, so k = 1),
text and decimal columns are parsed by Arrow's correctly rounded parser
(counted as k = 2 to leave room). Texts and enumerations become integer codes
into a dictionary. A value the vectorised path cannot read as the validator
would (a null without default, a text that is not a number, a value outside
an enumeration) marks its account ``bad``; such accounts go to the exact
evaluator, which gives the same error as :meth:`Ruleset.evaluate` does.
Bounds and the size of numbers are checked later, per chunk (see
:mod:`rulelang.columnar.plan`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type information
import pyarrow.compute as pc  # type: ignore[import-untyped]

from rulelang import ir
from rulelang.types import BoolType, EnumType, NumType, TextType

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


@attrs.define
class Column:
    """One input (or field) over all accounts (or records) of a batch."""

    kind: str  # num, bool, cat
    values: npt.NDArray[Any]  # float64, bool or int32 codes
    dictionary: tuple[str, ...] = ()  # cat: the text of each code
    k: float = 0.0  # num: roundings made reading the numbers (see the module docstring)
    bad: BoolArray | None = None  # rows this path cannot read as the validator would


@attrs.define
class Collection:
    offsets: IntArray  # n + 1 record offsets
    fields: dict[str, Column]
    bad: BoolArray | None  # per record


@attrs.define
class Batch:
    """A table of accounts in the exploded layout."""

    n: int
    scalars: dict[str, Column]
    collections: dict[str, Collection]
    bad: BoolArray  # per account: the vectorised path cannot read it
    source: pa.Table  # the table read, for exact re-evaluation of single rows


def to_arrow(table: Any) -> tuple[pa.Table, str]:
    """The table as Arrow, and the kind it came as (``arrow``, ``pandas``, ``polars``)."""
    if isinstance(table, pa.Table):
        return table, "arrow"
    if isinstance(table, pa.RecordBatch):
        return pa.Table.from_batches([table]), "arrow"
    module = type(table).__module__.split(".")[0]
    if module == "pandas":
        return pa.Table.from_pandas(table, preserve_index=False), "pandas"
    if module == "polars":
        return table.to_arrow(), "polars"
    if isinstance(table, Sequence) and not isinstance(table, (str, bytes)):
        return pa.Table.from_pylist(list(table)), "arrow"
    raise TypeError(f"expected an Arrow, pandas or Polars table, got {type(table).__name__}")


def read(ruleset: ir.Ruleset, table: pa.Table) -> Batch:
    """Read ``table`` (one row per account) into a :class:`Batch` for ``ruleset``."""
    n = table.num_rows
    bad = np.zeros(n, dtype=np.bool_)
    scalars: dict[str, Column] = {}
    collections: dict[str, Collection] = {}
    names = set(table.column_names)
    for decl in ruleset.inputs:
        if decl.fields is None:
            arr = _whole(table.column(decl.name)) if decl.name in names else None
            col = _column(decl.type, decl.default if decl.has_default else None, decl.has_default, arr, n)
            scalars[decl.name] = col
            if col.bad is not None:
                bad |= col.bad
            continue
        if decl.name not in names:
            bad[:] = True  # "missing; expected a list of records"
            collections[decl.name] = _empty_collection(decl, n)
            continue
        lists = _whole(table.column(decl.name))
        if not _is_list_of_records(lists.type):
            bad[:] = True  # not a list of records: the exact path says so for every account
            collections[decl.name] = _empty_collection(decl, n)
            continue
        coll = _collection(decl, lists)
        collections[decl.name] = coll
        if coll.bad is not None:
            bad |= segment_any(coll.bad, coll.offsets)
        if lists.null_count:
            bad |= np.asarray(lists.is_null().to_numpy(zero_copy_only=False), dtype=np.bool_)
    return Batch(n=n, scalars=scalars, collections=collections, bad=bad, source=table)


def _whole(column: pa.ChunkedArray) -> pa.Array:
    """One array (``combine_chunks`` copies even a single chunk)."""
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def segment_any(flags: BoolArray, offsets: IntArray) -> BoolArray:
    """Per segment: whether any of its flags is set."""
    owner = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    return np.bincount(owner, weights=flags, minlength=len(offsets) - 1) > 0


# ----------------------------------------------------------------- collections


def _empty_collection(decl: ir.InputDecl, n: int) -> Collection:
    fields = {
        f.name: _column(f.type, f.default if f.has_default else None, f.has_default, None, 0) for f in decl.fields or ()
    }
    return Collection(offsets=np.zeros(n + 1, dtype=np.int64), fields=fields, bad=None)


def _is_list_of_records(t: pa.DataType) -> bool:
    return bool((pa.types.is_list(t) or pa.types.is_large_list(t)) and pa.types.is_struct(t.value_type))


def _collection(decl: ir.InputDecl, lists: pa.Array) -> Collection:
    offsets = np.asarray(lists.offsets.to_numpy(zero_copy_only=False), dtype=np.int64)
    first, last = int(offsets[0]), int(offsets[-1])
    if first:
        offsets = offsets - first
    records = lists.values.slice(first, last - first)
    count = last - first
    bad: BoolArray | None = None
    if records.null_count:
        bad = np.asarray(records.is_null().to_numpy(zero_copy_only=False), dtype=np.bool_)
    names = {records.type.field(i).name: i for i in range(records.type.num_fields)}
    flat = records.flatten() if count else [None] * records.type.num_fields
    fields: dict[str, Column] = {}
    for f in decl.fields or ():
        arr = flat[names[f.name]] if f.name in names and count else None
        col = _column(f.type, f.default if f.has_default else None, f.has_default, arr, count)
        fields[f.name] = col
        if col.bad is not None:
            bad = col.bad if bad is None else bad | col.bad
    return Collection(offsets=offsets, fields=fields, bad=bad)


# ----------------------------------------------------------------- columns


def _column(t: Any, default: ir.Value | None, has_default: bool, arr: pa.Array | None, n: int) -> Column:
    """Read one input or field; ``arr`` None: the column is absent."""
    if isinstance(t, NumType):
        return _numbers(arr, default, has_default, n)
    if isinstance(t, BoolType):
        return _bools(arr, default, has_default, n)
    if isinstance(t, EnumType):
        return _categories(arr, default, has_default, n, t.values)
    if isinstance(t, TextType):
        return _categories(arr, default, has_default, n, None)
    raise AssertionError(t)


def _absent(n: int, has_default: bool) -> BoolArray | None:
    return None if has_default else np.ones(n, dtype=np.bool_)


def _nulls(arr: pa.Array) -> BoolArray | None:
    if not arr.null_count:
        return None
    return np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=np.bool_)


def _numbers(arr: pa.Array | None, default: ir.Value | None, has_default: bool, n: int) -> Column:
    fill = float(default) if has_default and default is not None else 0.0  # type: ignore[arg-type]
    if arr is None or pa.types.is_null(arr.type):
        return Column("num", np.full(n, fill), k=1.0, bad=_absent(n, has_default))
    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.dictionary_decode()
        t = arr.type
    k = 1.0
    bad: BoolArray | None = None
    if pa.types.is_float64(t):
        values = np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.float64)
    elif pa.types.is_floating(t) or pa.types.is_integer(t):
        values = np.asarray(arr.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    elif pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_decimal(t):
        k = 2.0
        text = arr if not pa.types.is_decimal(t) else arr.cast(pa.string())
        try:
            values = np.asarray(pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            values, bad = _parse_slowly(text)
    else:
        return Column("num", np.full(n, fill), k=1.0, bad=np.ones(n, dtype=np.bool_))
    nulls = _nulls(arr)
    if nulls is not None:
        values = np.where(nulls, fill, values)
        if not has_default:
            bad = nulls if bad is None else bad | nulls
    return Column("num", values, k=k, bad=bad)


def _parse_slowly(text: pa.Array) -> tuple[FloatArray, BoolArray]:
    """Parse numbers one by one (Python's ``float`` reads what ``Decimal`` reads); unreadable ones are bad."""
    items = text.to_pylist()
    values = np.zeros(len(items))
    bad = np.zeros(len(items), dtype=np.bool_)
    for i, s in enumerate(items):
        if s is None:
            continue
        try:
            values[i] = float(s)
        except ValueError:
            bad[i] = True
    return values, bad


def _bools(arr: pa.Array | None, default: ir.Value | None, has_default: bool, n: int) -> Column:
    fill = bool(default) if has_default else False
    if arr is None or pa.types.is_null(arr.type):
        return Column("bool", np.full(n, fill), bad=_absent(n, has_default))
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    bad: BoolArray | None = None
    if pa.types.is_boolean(arr.type):
        values = np.asarray(arr.fill_null(fill).to_numpy(zero_copy_only=False), dtype=np.bool_)
    elif pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        words = pc.ascii_lower(pc.utf8_trim_whitespace(arr))
        values = np.asarray(pc.equal(words, "true").fill_null(fill).to_numpy(zero_copy_only=False), dtype=np.bool_)
        known = pc.is_in(words, value_set=pa.array(["true", "false"]))
        bad = ~np.asarray(known.fill_null(True).to_numpy(zero_copy_only=False), dtype=np.bool_)
    else:
        return Column("bool", np.full(n, fill), bad=np.ones(n, dtype=np.bool_))
    nulls = _nulls(arr)
    if nulls is not None and not has_default:
        bad = nulls if bad is None else bad | nulls
    if bad is not None and not bad.any():
        bad = None
    return Column("bool", values, bad=bad)


def _categories(
    arr: pa.Array | None,
    default: ir.Value | None,
    has_default: bool,
    n: int,
    allowed: tuple[str, ...] | None,
) -> Column:
    """Texts and enumeration values as codes; an enumeration's codes follow its declared order."""
    fill = str(default) if has_default and default is not None else ""
    if arr is None or pa.types.is_null(arr.type):
        dictionary = allowed or (fill,)
        code = dictionary.index(fill) if fill in dictionary else 0
        return Column("cat", np.full(n, code, dtype=np.int32), dictionary, bad=_absent(n, has_default))
    if not pa.types.is_dictionary(arr.type):
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            return Column("cat", np.zeros(n, dtype=np.int32), allowed or ("",), bad=np.ones(n, dtype=np.bool_))
        arr = pc.dictionary_encode(arr)
    elif not (pa.types.is_string(arr.type.value_type) or pa.types.is_large_string(arr.type.value_type)):
        return Column("cat", np.zeros(n, dtype=np.int32), allowed or ("",), bad=np.ones(n, dtype=np.bool_))
    words: list[str] = arr.dictionary.to_pylist()
    nulls = _nulls(arr.indices)
    indices = (arr.indices.fill_null(0) if nulls is not None else arr.indices).to_numpy(zero_copy_only=False)
    bad: BoolArray | None = None
    if allowed is not None:
        dictionary = allowed
        remap = np.array([allowed.index(w) if w in allowed else -1 for w in words] or [-1], dtype=np.int32)
    else:
        dictionary = tuple(words) + ((fill,) if fill not in words else ())
        remap = np.arange(max(len(words), 1), dtype=np.int32)
    if not len(words):
        codes = np.zeros(len(indices), dtype=np.int32)
    elif remap.tolist() == list(range(len(remap))):
        codes = indices.astype(np.int32)  # the dictionary's own order: the indices are the codes
    else:
        codes = np.take(remap, indices.astype(np.intp), mode="clip")
    if nulls is not None:
        if has_default:
            codes = np.where(nulls, dictionary.index(fill) if fill in dictionary else 0, codes).astype(np.int32)
        else:
            bad = nulls
    if allowed is not None and (remap < 0).any():
        outside = codes < 0
        bad = outside if bad is None else bad | outside
        codes = np.maximum(codes, 0).astype(np.int32)
    return Column("cat", np.ascontiguousarray(codes, dtype=np.int32), dictionary, bad=bad)


def accounts_table(accounts: Sequence[Mapping[str, Any]]) -> pa.Table:
    """A table of account mappings (as ``Ruleset.evaluate`` takes them), one row each."""
    return pa.Table.from_pylist(list(accounts))


def read_jsonl(path: str) -> pa.Table:
    """Read a JSON Lines file of accounts into an Arrow table.

    Numbers written as JSON numbers become float64 (the evaluator then reads the
    float's shortest text, as it would a Python float); write them as strings
    to keep every digit.
    """
    import pyarrow.json as pj  # type: ignore[import-untyped]

    return pj.read_json(path)


def read_parquet(path: str) -> pa.Table:
    """Read a Parquet file of accounts into an Arrow table."""
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    return pq.read_table(path)
