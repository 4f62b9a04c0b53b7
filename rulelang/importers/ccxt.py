"""ccxt's unified leverage tiers (what ``exchange.fetch_leverage_tiers()`` returns).

Input: an object from unified symbol (``"BTC/USDT:USDT"``) to its list of tiers,
each with ``minNotional``, ``maxNotional``, ``maintenanceMarginRate``,
``maxLeverage``, ``currency`` and the exchange's raw ``info``. Output:
``leverage_tiers: UNIT per symbol`` with columns ``mmr`` and ``max_leverage``,
plus ``cum`` when every tier's ``info`` states one (Binance ``cum``, Bybit
``mmDeduction``). The unit is the tiers' ``currency``.

ccxt does not say which end of a tier is inclusive: the default is
lower-inclusive (Binance's ``notionalFloor <= notional < notionalCap``);
``--bands upper`` writes upper-inclusive tiers (OKX, Bybit), accepting OKX's
integer steps (0–3,000, 3,001–6,000).
"""

from __future__ import annotations

import json

from rulelang.importers.jsondata import Node, printable
from rulelang.importers.model import Band, Column, Edge, Options, TableData, chain, select, unit_of

KIND = "ccxt-leverage-tiers"
_CUM_FIELDS = ("cum", "mmDeduction")


def _stated_cum(tier: Node) -> str | None:
    """The field of ``info`` that states this tier's maintenance amount, if any."""
    if not (tier.has("info") and tier.field("info").is_object()):
        return None
    info = tier.field("info")
    return next((f for f in _CUM_FIELDS if info.has(f) and info.field(f).value not in ("", None)), None)


def read(root: Node, options: Options) -> TableData:
    upper_inclusive = bool(options.upper_inclusive)
    symbols = [(s, node.items("a list of tiers")) for s, node in root.entries("an object from symbol to tiers")]
    cum_fields = {_stated_cum(t) for _, tiers in symbols for t in tiers}
    cum_field = next(iter(cum_fields)) if len(cum_fields) == 1 else None
    units: dict[str, list[tuple[str | None, Node]]] = {}
    sets: dict[str, list[Band]] = {}
    for symbol, tiers in symbols:
        if not symbol.strip() or not printable(symbol):
            root.fail(f"expected symbols without control characters, got {json.dumps(symbol)}")
        if options.unit is None:
            units[symbol] = [(t.field("currency").text(), t.field("currency")) for t in tiers]
        edges = [
            Edge(
                lower=t.field("minNotional").amount(),
                upper=t.field("maxNotional").amount(),
                lower_node=t.field("minNotional"),
                upper_node=t.field("maxNotional"),
                node=t,
            )
            for t in tiers
        ]
        bands = chain(edges, what="tier", integer_steps=upper_inclusive)
        sets[symbol] = [
            Band(
                number=i + 1,
                lower=lower,
                upper=upper,
                values=(t.field("maintenanceMarginRate").amount(), t.field("maxLeverage").amount())
                + ((t.field("info").field(cum_field).amount(),) if cum_field else ()),
                path=t.path,
            )
            for i, (t, (lower, upper)) in enumerate(zip(tiers, bands, strict=True))
        ]
    inclusive = (
        "upper-inclusive (floor < notional <= cap)" if upper_inclusive else "lower-inclusive (floor <= notional < cap)"
    )
    tier_sets = select(options, sets, "symbol", root)
    return TableData(
        kind=KIND,
        title="Leverage tiers from ccxt",
        name=options.table or "leverage_tiers",
        unit=unit_of(options, units, tier_sets, root, "tiers"),
        key_column="symbol",
        key_plural="symbols",
        size_word="notional",
        lower_inclusive=not upper_inclusive,
        label=("Leverage tiers", "杠杆档位"),
        columns=(Column(name="mmr", style="percent"), Column(name="max_leverage", style="leverage"))
        + ((Column(name="cum", style="amount"),) if cum_field else ()),
        tier_sets=tier_sets,
        tier_word="tier",
        cum_source=f"info.{cum_field}" if cum_field else None,
        date=None,
        notes=(f"ccxt does not say which end of a tier is inclusive; written {inclusive}.",),
    )
