"""Evaluate a book of accounts from a file to a file, streaming.

Input: an iterator of ``(name, account)`` pairs (see :mod:`rulelang.datafiles`).
Output: a results file (JSON Lines, CSV or Parquet) and a rejects file (JSON Lines), both
written atomically (a temporary file in the same folder, renamed at the end, so
a crash leaves no half file), and a :class:`Summary` whose counts reconcile:
read = written + rejected. One account is in memory at a time, so memory stays
flat however large the book. A bad account never stops the run: it goes to the
rejects file with its row, the fields at fault and why.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import IO, Any

import attrs

from rulelang import ir
from rulelang.api import Ruleset
from rulelang.datafiles import DataFileError
from rulelang.errors import EvaluationError, InputError
from rulelang.results import Result, json_value


@attrs.frozen
class Summary:
    read: int
    written: int
    rejected: int
    output: str
    rejects: str

    @property
    def reconciled(self) -> bool:
        return self.read == self.written + self.rejected

    def render(self) -> str:
        check = "=" if self.reconciled else "!="
        return (
            f"read {self.read:,}, written {self.written:,}, rejected {self.rejected:,} "
            f"({self.read:,} {check} {self.written:,} + {self.rejected:,})\n"
            f"results: {self.output}" + (f"\nrejects: {self.rejects}" if self.rejected else "")
        )


class AtomicFile:
    """A text file that appears under its name only when closed without error."""

    def __init__(self, path: str, binary: bool = False) -> None:
        self.path = path
        folder = os.path.dirname(os.path.abspath(path))
        fd, self.tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
        self.fh: IO[Any] = os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="")

    def __enter__(self) -> IO[Any]:
        return self.fh

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None) -> None:
        self.fh.close()
        if kind is None:
            os.replace(self.tmp, self.path)
        else:
            os.unlink(self.tmp)


def result_row(rs: Ruleset, result: Result) -> dict[str, Any]:
    """One flat row for CSV: each definition and ladder a column; each collection a JSON cell."""
    row: dict[str, Any] = {}
    data = result.to_json()
    for d in rs.ir.definitions:
        if d.collection is None:
            row[d.name] = _cell(data[d.name])
    for coll in (i.name for i in rs.ir.inputs if i.fields is not None):
        if any(d.collection == coll for d in rs.ir.definitions):
            row[coll] = json.dumps(data[coll], ensure_ascii=False, separators=(",", ":"))
    for lad in rs.ir.ladders:
        row[lad.name] = result.levels[lad.name].level
        row[f"{lad.name}.actions"] = " ".join(result.levels[lad.name].actions)
    return row


def _cell(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else value


def evaluate_record(rs: Ruleset, name: str, data: Any, params: Mapping[str, ir.Value]) -> Result:
    """One account of a book; a line that could not be read (a :class:`DataFileError`) is an
    :class:`InputError` of the record, so it is reported and rejected like a bad field."""
    if isinstance(data, DataFileError):
        raise InputError([("(record)", str(data))], name)
    return rs.evaluate_account(rs.validate(data, name), params)


def write_reject(bad: IO[str], name: str, data: Any, err: Exception) -> None:
    """One line of the rejects file: the account's name, its row and what is wrong."""
    bad.write(json.dumps(_reject(name, data, err), ensure_ascii=False, default=json_value) + "\n")


def run(
    rs: Ruleset,
    accounts: Iterator[tuple[str, Any]],
    output: str,
    fmt: str,
    params: Mapping[str, ir.Value],
    rejects: str | None = None,
    tick: Callable[[], None] | None = None,
) -> Summary:
    """Evaluate every account of ``accounts`` into ``output`` (``jsonl``, ``csv`` or ``parquet``)."""
    rejects = rejects or output + ".rejects.jsonl"
    read = written = rejected = 0
    with AtomicFile(output, binary=fmt == "parquet") as out, AtomicFile(rejects) as bad:
        writer: csv.DictWriter[str] | None = None
        parquet = None
        if fmt == "parquet":
            from rulelang.columnar.stream import ParquetRows

            parquet = ParquetRows(rs, out)
        for name, data in accounts:
            read += 1
            try:
                result = evaluate_record(rs, name, data, params)
            except (InputError, EvaluationError) as err:
                rejected += 1
                write_reject(bad, name, data, err)
            else:
                written += 1
                if parquet is not None:
                    parquet.add(name, result)
                elif fmt == "csv":
                    row = {"record": name, **result_row(rs, result)}
                    if writer is None:
                        writer = csv.DictWriter(out, fieldnames=list(row))
                        writer.writeheader()
                    writer.writerow(row)
                else:
                    out.write(json.dumps({"record": name, **result.to_json()}, ensure_ascii=False) + "\n")
            if tick is not None:
                tick()
        if parquet is not None:
            parquet.close()
    if not rejected:
        os.unlink(rejects)
    return Summary(read=read, written=written, rejected=rejected, output=output, rejects=rejects)


def _reject(name: str, data: Any, err: Exception) -> dict[str, Any]:
    if isinstance(err, InputError):
        problems: list[dict[str, str | None]] = [{"field": p, "message": m} for p, m in err.problems]
    else:
        problems = [{"field": None, "message": str(err)}]  # an evaluation error names a formula, not a field
    row = data.raw if isinstance(data, DataFileError) else data
    return {"record": name, "row": row, "errors": problems}


def count_records(path: str, fmt: str) -> int | None:
    """How many accounts a file holds (for the progress bar), or None when it cannot tell cheaply."""
    if path == "-" or fmt == "json":
        return None
    if fmt == "parquet":
        from rulelang.columnar.stream import parquet_rows

        return parquet_rows(path)
    lines = 0
    with open(path, "rb") as fh:
        last = b"\n"
        while chunk := fh.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    lines += last != b"\n"  # a last line without its newline
    return max(0, lines - 1) if fmt == "csv" else lines
