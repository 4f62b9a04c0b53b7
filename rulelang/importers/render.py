"""Write a :class:`~rulelang.importers.model.TableData` as rule text.

Input: the table and where it came from. Output: the text of one rule file
(all keys, or one key), in the canonical layout ``rulelang fmt`` keeps: a
header comment naming the source and its date, ``units`` (unless asked not
to), and the table. Values are written exactly: 0.004 is ``0.4%``, 66.66 is
``66.66x``, 4703800 is ``4_703_800``.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

import attrs

from rulelang.display import plain
from rulelang.fmt import format_text
from rulelang.importers.model import Band, Column, TableData, TierSet
from rulelang.runtime import WIDE

_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# words a cell would read as something other than a name
_RESERVED = {"inf", "true", "false", "if", "then", "else", "and", "or", "not"}


@attrs.frozen(kw_only=True)
class Provenance:
    """What the header comment says about the source."""

    command: str  # "rulelang import binance-brackets --unit USDC"
    file_name: str  # the input's base name, or "stdin"
    digest: str  # sha256 of the input bytes, hex
    date: str | None
    date_origin: str | None  # None when the user gave the date


def key_cell(key: str) -> str:
    """A key as a table cell: a bare name when it is one, else a quoted text (``"1000PEPE/USDT:USDT"``)."""
    if _BARE.fullmatch(key) and key not in _RESERVED:
        return key
    return json.dumps(key, ensure_ascii=False)


def amount(d: Decimal) -> str:
    """``4703800`` → ``4_703_800``; ``4703800.5`` → ``4_703_800.5``."""
    text = plain(d)
    sign = "-" if text.startswith("-") else ""
    whole, _, frac = text.lstrip("-").partition(".")
    return sign + f"{int(whole):_}" + (f".{frac}" if frac else "")


def cell(value: Decimal, column: Column) -> str:
    if column.style == "percent":
        return plain(value.scaleb(2, WIDE)) + "%"  # exactly: 0.0065 → 0.65%
    if column.style == "leverage":
        return plain(value) + "x"
    return amount(value)


def _row(data: TableData, key: str, band: Band) -> str:
    cells = [key_cell(key), amount(band.lower), "inf" if band.upper is None else amount(band.upper)]
    cells += [cell(v, c) for v, c in zip(band.values, data.columns, strict=True)]
    text = "    | " + " | ".join(cells) + " |"
    return text + (f"  # {band.comment}" if band.comment else "")


def _keys(data: TableData, sets: tuple[TierSet, ...]) -> str:
    if len(sets) <= 4:
        return ", ".join(t.key for t in sets)
    return f"{len(sets)} {data.key_plural}"


def render(data: TableData, sets: tuple[TierSet, ...], source: Provenance, units_line: bool) -> str:
    """The rule text of ``sets`` (all of ``data.tier_sets``, or one key's)."""
    lines = [
        f"# {data.title} for {_keys(data, sets)}",
        f"# Imported by `{source.command}` from {source.file_name} (sha256 {source.digest[:12]}…)",
    ]
    if source.date:
        origin = f" (from {source.date_origin})" if source.date_origin else ""
        lines.append(f"# Data as of {source.date}{origin}.")
    keys = {t.key for t in sets}
    lines += [f"# {note}" for note in data.notes]
    lines += [f"# {note}" for key, note in data.key_notes if key in keys]
    lines.append("")
    if units_line:
        lines += [f"units {data.unit}", ""]
    (low, high) = ("<=", "<") if data.lower_inclusive else ("<", "<=")
    lines += [
        f"table {data.name}: {data.unit} per {data.key_column}",
        f'    label "{data.label[0]}" zh "{data.label[1]}"',
        f"    bands from {low} {data.size_word} {high} to",
        "    | " + " | ".join([data.key_column, "from", "to", *(c.name for c in data.columns)]) + " |",
        "    |" + "|".join("---" for _ in range(3 + len(data.columns))) + "|",
    ]
    lines += [_row(data, t.key, b) for t in sets for b in t.bands]
    return format_text("\n".join(lines) + "\n", f"{data.name}.rules")


def file_name(key: str) -> str:
    """A key as a file name: ``BTC/USDT:USDT`` → ``BTC_USDT_USDT.rules``."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", key)
    return re.sub(r"^\.", "_", safe) + ".rules"
