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
    """Yield ``(name, account)`` pairs; an unreadable line is yielded as ``(name, DataFileError)``."""
    if path == "-":
        # read(0) would give nothing to detect the format from; stdin cannot be rewound, so read it all
        text = sys.stdin.read()
        yield from _read(io.StringIO(text), "<stdin>", fmt or detect_format("", text))
        return
    try:
        fh = open(path, encoding="utf-8", newline="")  # noqa: SIM115 - closed below
    except OSError as err:
        raise DataFileError(f"{path}: cannot open: {err.strerror}") from None
    with fh:
        if not fh.seekable():  # a pipe, e.g. the shell's <(...)
            text = fh.read()
            yield from _read(io.StringIO(text, newline=None), path, fmt or detect_format(path, text))
            return
        head = fh.read(4096)
        fh.seek(0)
        yield from _read(fh, path, fmt or detect_format(path, head))


def _read(fh: TextIO, path: str, fmt: str) -> Iterator[tuple[str, Any]]:
    if fmt == "jsonl":
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield f"{path}:{lineno}", _loads(line)
            except ValueError as err:
                yield f"{path}:{lineno}", DataFileError(f"not valid JSON: {err}", raw=line.rstrip("\r\n"))
        return
    if fmt == "csv":
        reader = csv.DictReader(fh)
        for n, row in enumerate(reader, start=2):
            yield f"{path}:{n}", {k: _csv_cell(v) for k, v in row.items() if k is not None and v != ""}
        return
    try:
        data = _loads(fh.read())
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
