"""Stream a book of accounts through the columnar backend, and read and write Parquet.

Input: a file of accounts: Parquet (read one record batch at a time with
``ParquetFile.iter_batches``), or JSON Lines, CSV or JSON (read account by
account by :mod:`rulelang.datafiles`, grouped into Arrow tables of
:data:`CHUNK` accounts).
Output: a results file (Parquet, JSON Lines or CSV) and a rejects file (JSON
Lines), both written atomically, and a :class:`~rulelang.batch.Summary` whose
counts reconcile (read = written + rejected). One chunk is in memory at a time,
so memory stays flat however large the book.

The results hold, per account, ``record`` (its name), every global definition
(float64 numbers within the documented bound, bools, texts), every ladder's
level and its actions (space-separated, as in the exact backend's CSV). A
rejected account has the same rejects entry as with the exact backend: its row
and the fields at fault.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import IO, Any

import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type information
import pyarrow.compute as pc  # type: ignore[import-untyped]

from rulelang import ir
from rulelang.api import Ruleset
from rulelang.batch import AtomicFile, Summary, evaluate_record, result_row, write_reject
from rulelang.columnar.evaluate import _present, evaluate_batch
from rulelang.datafiles import DataFileError, read_accounts
from rulelang.errors import EvaluationError, InputError
from rulelang.results import Result
from rulelang.types import BoolType, NumType

#: accounts per chunk read from a file: large enough for the vectorised plan, small enough to keep memory flat
CHUNK = 65_536

Chunk = tuple[Sequence[str], pa.Table, list[Any]]  # names, the table, the accounts as read (for rejects)


# ------------------------------------------------------------------ reading


def parquet_accounts(path: str, batch_size: int = 8192) -> Iterator[tuple[str, Any]]:
    """Yield ``(name, account)`` pairs from a Parquet file, one record batch in memory at a time.

    An account is named by its row, ``book.parquet[7]`` (from 0); a null is a
    value the account does not give (its default, if any).
    """
    row = 0
    for rb in open_parquet(path).iter_batches(batch_size=batch_size):
        for account in rb.to_pylist():
            yield f"{path}[{row}]", _present(account)
            row += 1


def parquet_rows(path: str) -> int:
    """How many accounts a Parquet file holds (from its footer)."""
    return int(open_parquet(path).metadata.num_rows)


#: bytes read from a Parquet file at a time, per column, when decoding it
READ_BUFFER = 1 << 20


def open_parquet(path: str) -> Any:
    """A ``pyarrow.parquet.ParquetFile`` to stream from: its memory does not grow with the file.

    ``pre_buffer=False``: with pyarrow's default (True), ``iter_batches`` reads
    the file in coalesced ranges of up to 32 MiB and keeps every range it has
    read until the reader is gone, so a run over a whole book ends up holding
    most of the (compressed) file: +75 MiB per million accounts of the
    benchmark book. ``buffer_size``: without it a column chunk is read whole,
    so a book written as one row group would be held whole. Neither costs time
    on a local file (measured in ``docs/performance.md``).
    """
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    return pq.ParquetFile(path, pre_buffer=False, buffer_size=READ_BUFFER)


def _parquet_chunks(path: str, size: int) -> Iterator[Chunk]:
    first = 0
    for rb in open_parquet(path).iter_batches(batch_size=size):
        names = _Names(path, first, rb.num_rows)
        first += rb.num_rows
        yield names, pa.Table.from_batches([rb]), []
        del rb, names  # not held while the next batch is read


class _Names(Sequence[str]):
    """The names of a Parquet chunk's rows, made only for the few that are rejected."""

    def __init__(self, path: str, first: int, n: int) -> None:
        self.path, self.first, self.n = path, first, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.n))]
        return f"{self.path}[{self.first + i}]"


def _text_chunks(
    rs: Ruleset, path: str, fmt: str | None, size: int, aside: Callable[[str, Any], None]
) -> Iterator[Chunk]:
    """Group the accounts of a text file into tables; hand accounts that fit no table to ``aside``.

    Every scalar becomes text (a decimal's own digits; ``true``/``false``),
    which the columnar layout parses exactly as the validator would; an
    account whose shape does not fit (a list where a number belongs, a line
    that is not JSON) goes to ``aside``, to be evaluated or rejected exactly.
    """
    schema = _text_schema(rs.ir)
    names: list[str] = []
    rows: list[dict[str, Any]] = []
    originals: list[Any] = []
    for name, data in read_accounts(path, fmt):
        row = None if isinstance(data, DataFileError) else _as_text_row(rs.ir, data)
        if row is None:
            aside(name, data)
            continue
        names.append(name)
        rows.append(row)
        originals.append(data)
        if len(rows) == size:
            yield names, pa.Table.from_pylist(rows, schema=schema), originals
            names, rows, originals = [], [], []
    if rows:
        yield names, pa.Table.from_pylist(rows, schema=schema), originals


def _text_schema(rs: ir.Ruleset) -> pa.Schema:
    fields = []
    for decl in rs.inputs:
        if decl.fields is None:
            fields.append((decl.name, pa.string()))
        else:
            struct = pa.struct([(f.name, pa.string()) for f in decl.fields])
            fields.append((decl.name, pa.list_(struct)))
    return pa.schema(fields)


class _Misfit(Exception):
    pass


def _as_text_row(rs: ir.Ruleset, data: Any) -> dict[str, Any] | None:
    if not isinstance(data, Mapping):
        return None
    try:
        row: dict[str, Any] = {}
        for decl in rs.inputs:
            value = data.get(decl.name)
            if decl.fields is None or value is None:
                row[decl.name] = _text(value)
                continue
            if not isinstance(value, list) or not all(isinstance(r, Mapping) for r in value):
                return None
            row[decl.name] = [{f.name: _text(r.get(f.name)) for f in decl.fields} for r in value]
        return row
    except _Misfit:
        return None


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    raise _Misfit


# ------------------------------------------------------------------ writing


def output_schema(rs: ir.Ruleset) -> pa.Schema:
    """The columns of the columnar backend's results file."""
    fields = [("record", pa.string())]
    for d in rs.definitions:
        if d.collection is None:
            kind = pa.float64() if isinstance(d.type, NumType) else pa.bool_() if isinstance(d.type, BoolType) else None
            fields.append((d.name, kind or pa.string()))
    for lad in rs.ladders:
        fields += [(lad.name, pa.string()), (f"{lad.name}.actions", pa.string())]
    return pa.schema(fields)


def exact_schema(rs: ir.Ruleset) -> pa.Schema:
    """The columns of the exact backend's Parquet results: those of its CSV, numbers as exact decimal text."""
    fields = [("record", pa.string())]
    for d in rs.definitions:
        if d.collection is None:
            fields.append((d.name, pa.bool_() if isinstance(d.type, BoolType) else pa.string()))
    for coll in (i.name for i in rs.inputs if i.fields is not None):
        if any(d.collection == coll for d in rs.definitions):
            fields.append((coll, pa.string()))  # the per-record values as a JSON cell, as in the CSV
    for lad in rs.ladders:
        fields += [(lad.name, pa.string()), (f"{lad.name}.actions", pa.string())]
    return pa.schema(fields)


class ParquetRows:
    """The exact backend's results, buffered and written to Parquet one row group at a time."""

    def __init__(self, rs: Ruleset, sink: IO[bytes], group: int = 16_384) -> None:
        import pyarrow.parquet as pq

        self.rs, self.group = rs, group
        self.schema = exact_schema(rs.ir)
        self.writer = pq.ParquetWriter(sink, self.schema)
        self.rows: list[dict[str, Any]] = []

    def add(self, name: str, result: Result) -> None:
        self.rows.append({"record": name, **result_row(self.rs, result)})
        if len(self.rows) >= self.group:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.writer.write_table(pa.Table.from_pylist(self.rows, schema=self.schema))
            self.rows = []

    def close(self) -> None:
        self.flush()
        self.writer.close()


class _Sink:
    """Tables of results into a Parquet, CSV or JSON Lines file."""

    def __init__(self, fh: IO[bytes], fmt: str, schema: pa.Schema) -> None:
        self.fh, self.fmt, self.schema = fh, fmt, schema
        self.writer: Any = None
        if fmt == "parquet":
            import pyarrow.parquet as pq

            self.writer = pq.ParquetWriter(fh, schema)
        elif fmt == "csv":
            import pyarrow.csv as pcsv  # type: ignore[import-untyped]

            self.writer = pcsv.CSVWriter(fh, schema)

    def write(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        if self.writer is not None:
            self.writer.write_table(table)
            return
        for row in table.to_pylist():
            clean = {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in row.items()}
            self.fh.write((json.dumps(clean, ensure_ascii=False) + "\n").encode())

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _results(rs: ir.Ruleset, names: Sequence[str], out: pa.Table, keep: pa.Array, schema: pa.Schema) -> pa.Table:
    """The chunk's results file columns for the rows in ``keep``."""
    kept = out.filter(keep)
    picked = pc.indices_nonzero(keep)
    cols: dict[str, Any] = {"record": pa.array([names[i] for i in picked.to_pylist()], type=pa.string())}
    for d in rs.definitions:
        if d.collection is None:
            cols[d.name] = kept.column(d.name).cast(schema.field(d.name).type)
    for lad in rs.ladders:
        levels = kept.column(lad.name).combine_chunks()
        cols[lad.name] = levels.cast(pa.string())
        actions = pa.array([" ".join(r.actions) for r in lad.rungs], type=pa.string())
        cols[f"{lad.name}.actions"] = pa.DictionaryArray.from_arrays(levels.indices, actions).cast(pa.string())
    return pa.table(cols, schema=schema)


def _exact_row(rs: Ruleset, name: str, result: Result) -> dict[str, Any]:
    row: dict[str, Any] = {"record": name}
    for d in rs.ir.definitions:
        if d.collection is None:
            v = result.values[d.name]
            if isinstance(d.type, NumType):
                row[d.name] = float(v) if isinstance(v, Decimal) else None  # None: a solve with no value
            else:
                row[d.name] = v
    for lad in rs.ir.ladders:
        row[lad.name] = result.levels[lad.name].level
        row[f"{lad.name}.actions"] = " ".join(result.levels[lad.name].actions)
    return row


# ------------------------------------------------------------------ the run


def run(
    rs: Ruleset,
    path: str,
    in_fmt: str | None,
    output: str,
    fmt: str,
    params: Mapping[str, ir.Value],
    rejects: str | None = None,
    tick: Callable[[int], None] | None = None,
    chunk: int = CHUNK,
) -> Summary:
    """Evaluate the accounts of ``path`` chunk by chunk with the columnar backend into ``output``.

    Args:
        in_fmt: ``parquet``, ``jsonl``, ``csv``, ``json``, or None to detect.
        fmt: the results format: ``parquet``, ``jsonl`` or ``csv``.
        params: the parameters' values (:meth:`Ruleset.params`).
        tick: called with the number of accounts done after each chunk.
    """
    rejects = rejects or output + ".rejects.jsonl"
    schema = output_schema(rs.ir)
    read = written = rejected = 0
    with AtomicFile(output, binary=True) as out, AtomicFile(rejects) as bad:
        sink = _Sink(out, fmt, schema)
        exact_rows: list[dict[str, Any]] = []
        pool = pa.default_memory_pool()

        def reject(name: str, data: Any, err: Exception) -> None:
            nonlocal rejected
            rejected += 1
            write_reject(bad, name, data, err)

        def aside(name: str, data: Any) -> None:
            """Evaluate one account that fits no table exactly (or reject it)."""
            nonlocal read, written
            read += 1
            try:
                result = evaluate_record(rs, name, data, params)
            except (InputError, EvaluationError) as err:
                reject(name, data, err)
            else:
                written += 1
                exact_rows.append(_exact_row(rs, name, result))

        try:
            chunks = (
                _parquet_chunks(path, chunk) if in_fmt == "parquet" else _text_chunks(rs, path, in_fmt, chunk, aside)
            )
            for names, table, originals in chunks:
                n = table.num_rows
                failed = _chunk(rs, names, table, originals, params, sink, schema, reject)
                # nothing of this chunk outlives it: not while the next one is read, nor in the pool
                del names, table, originals
                read += n
                written += n - failed
                if exact_rows:
                    sink.write(pa.Table.from_pylist(exact_rows, schema=schema))
                    exact_rows.clear()
                pool.release_unused()  # mimalloc keeps the chunk's freed pages otherwise: 35 MiB more at the peak
                if tick is not None:
                    tick(n)
            if exact_rows:
                sink.write(pa.Table.from_pylist(exact_rows, schema=schema))
        finally:
            sink.close()  # also on failure: a Parquet writer left open complains when collected
    if not rejected:
        os.unlink(rejects)
    return Summary(read=read, written=written, rejected=rejected, output=output, rejects=rejects)


def _chunk(
    rs: Ruleset,
    names: Sequence[str],
    table: pa.Table,
    originals: list[Any],
    params: Mapping[str, ir.Value],
    sink: _Sink,
    schema: pa.Schema,
    reject: Callable[[str, Any, Exception], None],
) -> int:
    """Evaluate one chunk into ``sink``, its rejected accounts into ``reject``; return how many were rejected."""
    result = evaluate_batch(rs, table, params)
    errors = result.column("error")
    ok = pc.is_null(errors).combine_chunks()
    sink.write(_results(rs.ir, names, result, ok, schema))
    failed = pc.indices_nonzero(pc.invert(ok)).to_pylist()
    for i in failed:
        data = originals[i] if originals else _present(table.slice(i, 1).to_pylist()[0])
        reject(names[i], data, _why(rs, names[i], data, params, errors[i].as_py()))
    return len(failed)


def _why(rs: Ruleset, name: str, data: Any, params: Mapping[str, ir.Value], message: str) -> Exception:
    """The exact evaluator's error for a rejected account, with the fields at fault."""
    try:
        rs.evaluate_account(rs.validate(data, name), params)
    except (InputError, EvaluationError) as err:
        return err
    return EvaluationError(message, None)  # the batch's own message, should the account pass on its own
