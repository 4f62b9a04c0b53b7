"""Binance USDⓈ-M leverage brackets (``GET /fapi/v1/leverageBracket``).

Input: the response for one symbol (``{"symbol": ..., "brackets": [...]}``) or
for several (a list of those). Output: ``brackets: USDT per symbol``, bands
``from <= notional < to`` (a bracket is notionalFloor ≤ notional <
notionalCap), columns ``mmr`` (maintMarginRatio), ``max_leverage``
(initialLeverage) and ``cum`` (Binance's maintenance amount, checked against
the engine's derivation).
"""

from __future__ import annotations

from rulelang.display import plain
from rulelang.importers.jsondata import Node
from rulelang.importers.model import Band, Column, Edge, Options, TableData, chain, select, unit_of

KIND = "binance-brackets"
_QUOTES = ("USDT", "USDC", "BUSD", "FDUSD")


def read(root: Node, options: Options) -> TableData:
    entries = root.items("a list of symbols") if root.is_list() else [root]
    sets: dict[str, list[Band]] = {}
    seen: dict[str, Node] = {}
    units: dict[str, list[tuple[str | None, Node]]] = {}
    notes: dict[str, str] = {}
    for entry in entries:
        symbol_node = entry.field("symbol")
        symbol = symbol_node.text()
        if symbol in seen:
            symbol_node.fail(f"{symbol} appears twice (also at {seen[symbol].path})")
        seen[symbol] = symbol_node
        units[symbol] = [(next((q for q in _QUOTES if symbol.split("_")[0].endswith(q)), None), symbol_node)]
        if entry.has("notionalCoef"):
            coef = plain(entry.field("notionalCoef").amount())
            notes[symbol] = (
                f"{symbol}: notionalCoef {coef}: these brackets were adjusted for one account "
                "(Binance's user bracket multiplier)"
            )
        brackets = entry.field("brackets").items("a list of brackets")
        edges = [
            Edge(
                lower=b.field("notionalFloor").amount(),
                upper=b.field("notionalCap").amount(),
                lower_node=b.field("notionalFloor"),
                upper_node=b.field("notionalCap"),
                node=b,
            )
            for b in brackets
        ]
        bands = chain(edges, what="bracket")
        sets[symbol] = [
            Band(
                number=i + 1,
                lower=lower,
                upper=upper,
                values=(
                    b.field("maintMarginRatio").amount(),
                    b.field("initialLeverage").amount(),
                    b.field("cum").amount(),
                ),
                path=b.path,
            )
            for i, (b, (lower, upper)) in enumerate(zip(brackets, bands, strict=True))
        ]
    tier_sets = select(options, sets, "symbol", root)
    return TableData(
        kind=KIND,
        title="Binance USDⓈ-M leverage brackets",
        name=options.table or "brackets",
        unit=unit_of(options, units, tier_sets, root, "brackets"),
        key_column="symbol",
        key_plural="symbols",
        size_word="notional",
        lower_inclusive=True,
        label=("Leverage brackets", "杠杆分层"),
        columns=(
            Column(name="mmr", style="percent"),
            Column(name="max_leverage", style="leverage"),
            Column(name="cum", style="amount"),
        ),
        tier_sets=tier_sets,
        tier_word="bracket",
        cum_source="cum",
        date=None,
        key_notes=tuple((t.key, notes[t.key]) for t in tier_sets if t.key in notes),
    )
