"""Read accounts from files: a JSON object, a JSON array, JSON Lines, or CSV.

Numbers are read through their decimal text (``json`` with ``parse_float`` and
``parse_int`` set to :class:`~decimal.Decimal`; CSV cells stay text until the
validator reads them), so no account value ever passes through a binary float.
Each account comes with a name for messages: ``accounts.jsonl:7`` (a line) or
``accounts.json[3]`` (an array item).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import sys
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, TextIO

from rulelang.errors import RulelangError


class DataFileError(RulelangError):
    """Data that cannot be read: a whole file, or (``raw`` set) one line of JSON Lines."""

    def __init__(self, message: str, raw: str | None = None) -> None:
        super().__init__(message)
        self.raw = raw


def _loads(text: str) -> Any:
    return json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=_reject_constant)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number rulelang accepts")


def detect_format(path: str, head: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    if ext in (".jsonl", ".ndjson"):
        return "jsonl"
    if ext == ".csv":
        return "csv"
    if ext == ".json":
        return "json"
    stripped = head.lstrip()
    if stripped.startswith("[") or stripped.startswith("{"):
        lines = [ln for ln in head.splitlines() if ln.strip()]
        if len(lines) > 1 and all(ln.lstrip().startswith("{") and ln.rstrip().endswith("}") for ln in lines[:2]):
            return "jsonl"
        return "json"
    return "csv"


def read_accounts(path: str, fmt: str | None = None) -> Iterator[tuple[str, Any]]:
    """Yield ``(name, account)`` pairs; an unreadable line is yielded as ``(name, DataFileError)``.

    JSON Lines and CSV are read a line at a time, from a file, a pipe or stdin
    alike, so memory stays flat however long the book; a JSON document (an
    object or an array) is read whole.
    """
    if path == "-":
        yield from _read(sys.stdin, "<stdin>", fmt, "")
        return
    try:
        fh = open(path, encoding="utf-8", newline="")  # noqa: SIM115 - closed below
    except OSError as err:
        raise DataFileError(f"{path}: cannot open: {err.strerror}") from None
    with fh:  # a file, or a pipe such as the shell's <(...): read as it comes, never rewound
        yield from _read(fh, path, fmt, path)


def read_head(fh: TextIO) -> str:
    """The start of ``fh`` to detect its format from: 4 KiB, to the end of a line, and two lines at least."""
    head = fh.read(4096)
    head += fh.readline()  # the rest of a line cut by the 4 KiB (or nothing, at the end)
    while head and sum(1 for ln in head.splitlines() if ln.strip()) < 2:
        line = fh.readline()
        if not line:
            break
        head += line
    return head


def _read(fh: TextIO, path: str, fmt: str | None, name_for_format: str) -> Iterator[tuple[str, Any]]:
    head = read_head(fh)
    fmt = fmt or detect_format(name_for_format, head)
    if fmt == "jsonl":
        lines = itertools.chain(io.StringIO(head, newline=""), fh)  # the head, then the rest as it comes
        for lineno, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield f"{path}:{lineno}", _loads(line)
            except ValueError as err:
                yield f"{path}:{lineno}", DataFileError(f"not valid JSON: {err}", raw=line.rstrip("\r\n"))
        return
    if fmt == "csv":
        reader = csv.DictReader(itertools.chain(io.StringIO(head, newline=""), fh))
        for n, row in enumerate(reader, start=2):
            yield f"{path}:{n}", {k: _csv_cell(v) for k, v in row.items() if k is not None and v != ""}
        return
    try:
        data = _loads(head + fh.read())
    except ValueError as err:
        raise DataFileError(f"{path}: not valid JSON: {err}") from None
    if isinstance(data, list):
        for i, item in enumerate(data):
            yield f"{path}[{i}]", item
    else:
        yield path, data


def _csv_cell(v: str) -> Any:
    """A CSV cell: text, or JSON when it holds a list or object (nested collections)."""
    s = v.strip()
    if s.startswith("[") or s.startswith("{"):
        try:
            return _loads(s)
        except ValueError:
            return v
    return v
