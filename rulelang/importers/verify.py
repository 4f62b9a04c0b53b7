"""Check an imported table with the checker itself, and compare stated ``cum`` with the derivation.

Input: a :class:`~rulelang.importers.model.TableData`. Output: the importer's
warnings, one per tier whose stated maintenance amount (Binance ``cum``, Bybit
``mmDeduction``) differs from the one the engine derives from ``mmr``; the
checker gives the same tiers as RL0412 when the written file is checked. A table
the checker rejects (a rate above 100 %, leverage that rises with size) is an
:class:`~rulelang.importers.jsondata.ImportDataError` naming the tier's JSON path.
"""

from __future__ import annotations

from decimal import Decimal

from rulelang.check import check_file
from rulelang.display import plain
from rulelang.errors import RulesetError
from rulelang.importers.jsondata import ImportDataError
from rulelang.importers.model import TableData
from rulelang.importers.render import Provenance, render


def verify(data: TableData, source: Provenance, name: str) -> tuple[str, ...]:
    """Check the table as the checker would; return the warnings (``name`` is the input, for errors)."""
    text = render(data, data.tier_sets, source, units_line=True)
    bands = [b for t in data.tier_sets for b in t.bands]
    try:
        checked, _ = check_file(f"{data.name}.rules", text)
    except RulesetError as err:
        rows = _row_lines(text)
        first = next(d for d in err.diagnostics if d.is_error)
        line = first.span.line if first.span is not None else 0
        path = bands[rows.index(line)].path if line in rows else ""
        raise ImportDataError(name, path, f"the imported table does not check: {first.message}") from None
    warnings = list(data.extra_warnings)
    names = [c.name for c in data.columns]
    if "cum" not in names or "mmr" not in names:
        return tuple(warnings)
    derived = checked.table(data.name).groups()
    at = names.index("cum")
    for tier_set in data.tier_sets:
        for band, tier in zip(tier_set.bands, derived[tier_set.key], strict=True):
            stated, engine = band.values[at], tier.cum_of("mmr")
            if stated != engine:
                warnings.append(
                    f"{tier_set.key} {data.tier_word} {band.number}: "
                    f"{data.cum_source} {_num(stated)} stated, {_num(engine)} derived"
                )
    return tuple(warnings)


def _row_lines(text: str) -> list[int]:
    """The line numbers of the table's rows, in order (after its header and separator lines)."""
    table_lines = [i + 1 for i, line in enumerate(text.splitlines()) if line.startswith("    |")]
    return table_lines[2:]


def _num(d: Decimal) -> str:
    return plain(d)
