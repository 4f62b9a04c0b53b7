"""Turn exchange tier data into rule tables (``rulelang import KIND FILE``).

Input: the bytes of an exchange's JSON: Binance leverage brackets, OKX position
tiers and discount-rate tiers, Bybit risk limits, or ccxt's unified leverage
tiers. Output: an :class:`Imported` holding one keyed tier table, written as
rule text (one file, or one file per key) that the checker has already
accepted, and the warnings where the exchange's own maintenance amounts
(``cum``, ``mmDeduction``) disagree with the engine's derivation.

Malformed input raises :class:`ImportDataError` naming the path inside the JSON:
``binance.json: brackets[3].notionalCap: expected a number, got null``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import sys
from collections.abc import Callable

import attrs

from rulelang.importers import binance, bybit, ccxt, okx
from rulelang.importers.jsondata import ImportDataError, Node, parse_json, printable
from rulelang.importers.model import Options, TableData, TierSet
from rulelang.importers.render import Provenance, file_name, render
from rulelang.importers.verify import verify

__all__ = ["KINDS", "ImportDataError", "Imported", "Options", "import_data", "import_file", "write"]

KINDS: dict[str, Callable[[Node, Options], TableData]] = {
    binance.KIND: binance.read,
    okx.POSITION_TIERS: okx.read_position_tiers,
    okx.DISCOUNT_RATE: okx.read_discount_rate,
    bybit.KIND: bybit.read,
    ccxt.KIND: ccxt.read,
}

_DATE = re.compile(r"\d{4}-\d{2}(?:-\d{2})?")
_IN_NAME = re.compile(r"(?<!\d)(\d{4}-\d{2}(?:-\d{2})?)(?!\d)")
_NAME = re.compile(r"[^\W\d]\w*")


@attrs.frozen(kw_only=True)
class Imported:
    """An imported table, its provenance and the importer's warnings."""

    data: TableData
    source: Provenance
    units_line: bool
    warnings: tuple[str, ...]

    def text(self) -> str:
        """One rule file with every key."""
        return render(self.data, self.data.tier_sets, self.source, self.units_line)

    def parts(self) -> list[tuple[str, str]]:
        """One ``(file name, rule text)`` per key: the parts of a keyed table a ruleset imports by glob."""
        owners: dict[str, str] = {}
        for t in self.data.tier_sets:
            name = file_name(t.key).lower()  # case-insensitive file systems would merge them
            if name in owners:
                raise ImportDataError(
                    self.source.file_name,
                    "",
                    f"{owners[name]} and {t.key} would both be written to {file_name(t.key)}: "
                    "write one file with every key (-o FILE), or pick one with --only",
                )
            owners[name] = t.key
        return [(file_name(t.key), self._one(t)) for t in self.data.tier_sets]

    def _one(self, tier_set: TierSet) -> str:
        return render(self.data, (tier_set,), self.source, self.units_line)


def import_file(kind: str, path: str, options: Options) -> Imported:
    """Read ``path`` (``-``: standard input) and import it as ``kind``."""
    if path == "-":
        return import_data(kind, sys.stdin.buffer.read(), "stdin", options)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as err:
        raise ImportDataError(path, "", f"cannot read the file: {err.strerror}") from None
    return import_data(kind, data, path, options)


def import_data(kind: str, data: bytes, name: str, options: Options) -> Imported:
    """Import ``data`` (the bytes of the file ``name``) as ``kind``; see :data:`KINDS`."""
    if kind not in KINDS:
        raise ImportDataError("", "", f"unknown kind `{kind}` (expected one of: {', '.join(KINDS)})")
    if options.upper_inclusive is not None and kind != ccxt.KIND:
        raise ImportDataError("", "", f"--bands applies to {ccxt.KIND} only: {kind} data says which end is inclusive")
    if options.date is not None and not _DATE.fullmatch(options.date):
        raise ImportDataError("", "", f"--date {options.date}: expected YYYY-MM-DD (or YYYY-MM)")
    for flag, value in (("--table", options.table), ("--unit", options.unit)):
        if value is not None and not _NAME.fullmatch(value):
            raise ImportDataError("", "", f"{flag} {value}: expected a name (letters, digits and _, not first a digit)")
    table = KINDS[kind](parse_json(data, name), options)
    if not _NAME.fullmatch(table.unit):
        raise ImportDataError(name, "", f"the unit `{table.unit}` (from the data) is not a unit name: pass --unit")
    base = "stdin" if name == "stdin" else os.path.basename(name)
    if not printable(base):  # it goes into a comment line
        base = json.dumps(base)
    date, origin = options.date, None
    stated = _DATE.match(table.date) if table.date is not None else None
    if date is None and stated is not None:
        date, origin = stated.group(0), table.date_origin
    if date is None and (found := _IN_NAME.search(base)):
        date, origin = found.group(1), "the file name"
    source = Provenance(
        command=_command(kind, options),
        file_name=base,
        digest=hashlib.sha256(data).hexdigest(),
        date=date,
        date_origin=origin,
    )
    warnings = verify(table, source, name)
    return Imported(data=table, source=source, units_line=options.units_line, warnings=warnings)


def _command(kind: str, options: Options) -> str:
    """The command line that gives this output again (``--date`` shows in its own header line)."""
    words = ["rulelang", "import", kind]
    if options.table is not None:
        words += ["--table", options.table]
    if options.unit is not None:
        words += ["--unit", options.unit]
    if options.upper_inclusive is not None:
        words += ["--bands", "upper" if options.upper_inclusive else "lower"]
    for key in options.only:
        words += ["--only", key]
    return " ".join(shlex.quote(w) for w in words)


def write(imported: Imported, out: str) -> list[str]:
    """Write to ``out``: a folder (existing, or ending with ``/``) gets one file per key; else one file.

    Returns the paths written. Files already in the folder for other keys are left alone.
    """
    if os.path.isdir(out) or out.endswith(("/", os.sep)):
        files = [(os.path.join(out, name), text) for name, text in imported.parts()]
        folder = out
    else:
        files = [(out, imported.text())]
        folder = os.path.dirname(out)
    try:
        if folder:
            os.makedirs(folder, exist_ok=True)
        for path, text in files:
            with open(path, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
    except OSError as err:
        raise ImportDataError(err.filename or out, "", f"cannot write: {err.strerror}") from None
    return [path for path, _ in files]
