"""Bybit risk-limit tiers (``GET /v5/market/risk-limit``).

Input: the response (``{"retCode": 0, "result": {"category": ..., "list": [...]}}``),
its ``result``, or the ``list`` alone. Output: ``risk_limits: USDT per symbol``
with bands ``from < value <= to`` and columns ``mmr`` (maintenanceMargin),
``max_leverage`` (maxLeverage) and ``cum`` (mmDeduction, checked against the
engine's derivation).

``riskLimitValue`` is the largest position value a tier allows ("the risk limit
will limit the maximum position value you can hold", Bybit's risk-limit docs),
so a tier runs from the previous tier's limit (0 for the first) up to and
including its own.
"""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal

from rulelang.importers.jsondata import Node
from rulelang.importers.model import Band, Column, Edge, Options, TableData, chain, select, unit_of

KIND = "bybit-risk-limit"


def _settle(symbol: str, category: str | None) -> str | None:
    """The currency a symbol's position value is counted in, when its name says so."""
    base = symbol.split("-")[0]
    if category == "inverse":
        return base[: -len("USD")] if base.endswith("USD") and len(base) > 3 else None
    if base.endswith("USDT"):
        return "USDT"
    if base.endswith(("USDC", "PERP")):
        return "USDC"
    return None


def read(root: Node, options: Options) -> TableData:
    if root.is_object() and root.has("retCode"):
        code = root.field("retCode")
        if code.value not in (Decimal(0), "0"):
            msg = root.field("retMsg").value if root.has("retMsg") else ""
            code.fail(f"the response is an error (retCode {code.value}): {msg or 'no message'}")
    result = root.field("result") if root.is_object() and root.has("result") else root
    category = None
    if result.is_object() and result.has("category"):
        category = result.field("category").text()
    rows = result.field("list").items("a list of tiers") if result.is_object() else result.items("a list of tiers")
    groups: dict[str, list[Node]] = {}
    units: dict[str, list[tuple[str | None, Node]]] = {}
    for row in rows:
        symbol_node = row.field("symbol")
        symbol = symbol_node.text()
        groups.setdefault(symbol, []).append(row)
        units.setdefault(symbol, [(_settle(symbol, category), symbol_node)])
    stated = [r.has("mmDeduction") for r in rows]
    with_cum = any(stated)
    if with_cum and not all(stated):
        missing = rows[stated.index(False)]
        missing.field("mmDeduction").expected("a number (other tiers state mmDeduction)")
    sets: dict[str, list[Band]] = {}
    for symbol, tiers in groups.items():
        caps = [t.field("riskLimitValue") for t in tiers]
        for prev, cap in itertools.pairwise(caps):
            if cap.amount() <= prev.amount():
                cap.fail(
                    f"tiers out of order: riskLimitValue {cap.amount()} is not above the one before it "
                    f"({prev.path}: {prev.amount()}); list them from the smallest"
                )
        edges = [
            Edge(
                lower=Decimal(0) if i == 0 else caps[i - 1].amount(),
                upper=cap.amount(),
                lower_node=cap if i == 0 else caps[i - 1],
                upper_node=cap,
                node=t,
            )
            for i, (t, cap) in enumerate(zip(tiers, caps, strict=True))
        ]
        bands = chain(edges, what="tier")
        sets[symbol] = [
            Band(
                number=i + 1,
                lower=lower,
                upper=upper,
                values=(t.field("maintenanceMargin").amount(), t.field("maxLeverage").amount())
                + ((t.field("mmDeduction").amount(),) if with_cum else ()),
                path=t.path,
            )
            for i, (t, (lower, upper)) in enumerate(zip(tiers, bands, strict=True))
        ]
    date = None
    if root.is_object() and root.has("time"):
        time = root.field("time")
        try:
            date = datetime.datetime.fromtimestamp(int(time.amount()) // 1000, datetime.UTC).date().isoformat()
        except (OverflowError, ValueError, OSError):
            time.expected("a time in milliseconds since 1970")
    tier_sets = select(options, sets, "symbol", root)
    return TableData(
        kind=KIND,
        title="Bybit risk-limit tiers",
        name=options.table or "risk_limits",
        unit=unit_of(options, units, tier_sets, root, "risk limits"),
        key_column="symbol",
        key_plural="symbols",
        size_word="value",
        lower_inclusive=False,
        label=("Risk limit tiers", "风险限额档位"),
        columns=(Column(name="mmr", style="percent"), Column(name="max_leverage", style="leverage"))
        + ((Column(name="cum", style="amount"),) if with_cum else ()),
        tier_sets=tier_sets,
        tier_word="tier",
        cum_source="mmDeduction",
        date=date,
        date_origin="`time` in the response" if date is not None else None,
    )
