"""Boundary cases: where they go (tier edges, level thresholds, zero), their ticks, and reaching them exactly."""

from __future__ import annotations

import functools
import pathlib
from decimal import Decimal
from typing import Any

from helpers import dedent

from rulelang import api
from rulelang.regress import boundaries
from rulelang.regress.boundaries import Generator, level_tick, places_tick, sites, table_tick, thresholds
from rulelang.regress.cases import freeze, render
from rulelang.regress.measure import Meter, reach
from rulelang.types import NumType

ROOT = pathlib.Path(__file__).resolve().parent.parent
MARGIN = ROOT / "tests" / "scenarios" / "margin.rules"

PRODUCTS = dedent(
    """
    ruleset products

    units USDT, BTC

    input symbol: BTCUSDT | ETHUSDT
    input quantity: BTC >= 0
    input price: USDT/BTC > 0

    table brackets: USDT per symbol
        bands from <= notional < to
        | symbol  | from   | to     | mmr  |
        | BTCUSDT | 0      | 50_000 | 0.4% |
        | BTCUSDT | 50_000 | inf    | 0.5% |
        | ETHUSDT | 0      | 7_500  | 0.5% |

    let notional: USDT = quantity * price
    let mm: USDT = bracket(brackets[symbol].mmr, notional)
    """
)


@functools.cache
def margin() -> api.Ruleset:
    return api.load(str(MARGIN))


@functools.cache
def products() -> api.Ruleset:
    return api.load("products.rules", PRODUCTS)


def test_ticks_come_from_the_smallest_decimal_place() -> None:
    assert places_tick([Decimal(0), Decimal(50_000), Decimal(250_000)]) == Decimal(1)
    assert places_tick([Decimal(0), Decimal("0.5"), Decimal("1.25")]) == Decimal("0.01")
    btc = margin().ir.table("btc_tiers")
    assert table_tick(btc, {}, None) == Decimal(1)
    assert table_tick(btc, {"btc_tiers": Decimal("0.1")}, Decimal(5)) == Decimal("0.1")
    assert table_tick(btc, {"other": Decimal("0.1")}, Decimal(5)) == Decimal(5)


def test_a_level_tick_is_the_last_place_of_the_threshold_as_shown() -> None:
    percent = margin().ir.definition("ratio")
    assert percent is not None
    assert level_tick(Decimal("0.7"), percent.type) == Decimal("0.01")  # 70% → 1%
    assert level_tick(Decimal("0.6667"), percent.type) == Decimal("0.0001")  # 66.67% → 0.01%
    assert level_tick(Decimal(0), NumType(None)) == Decimal(1)
    assert level_tick(Decimal("2.5"), NumType(None)) == Decimal("0.1")


def test_where_the_boundaries_are() -> None:
    rs = margin().ir
    assert [(s.table.name, s.scope, s.size.span.text if s.size.span else "") for s in sites(rs)] == [
        ("btc_tiers", None, "position_btc"),
        ("symbol_tiers", "positions", "size"),
    ]
    assert [(t.ladder, t.rung, t.compare.span.text if t.compare.span else "") for t in thresholds(rs)] == [
        ("risk", "liquidation", "maintenance > 0"),
        ("risk", "liquidation", "ratio <= liquidation_line"),
        ("risk", "warning", "maintenance > 0"),
        ("risk", "warning", "ratio <= warning_line"),
    ]


def _changed(base: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if base.get(k) != v}


def test_every_boundary_of_the_margin_rules_from_its_example() -> None:
    rs = margin()
    base = boundaries.base_account(rs.ir)
    assert base == {
        "position_btc": Decimal(120),
        "price": Decimal(20_000),
        "equity": Decimal(30_000),
        "positions": [{"symbol": "BTC", "size": Decimal(5)}],
    }
    generator = Generator(rs, base)
    got = [(g.name, _changed(base, g.inputs)) for g in generator.run()]
    btc = [{"symbol": "BTC", "size": Decimal(n)} for n in range(12)]
    eth = [{"symbol": "ETH", "size": Decimal(n)} for n in range(2)]
    assert got == [
        (
            "btc_tiers: position_btc = 0 (at the edge); risk liquidation: maintenance > 0 (maintenance at 0);"
            " risk warning: maintenance > 0 (maintenance at 0)",
            {"position_btc": 0},
        ),
        ("btc_tiers: position_btc = 1 (one tick above 0)", {"position_btc": 1}),
        ("btc_tiers: position_btc = 49 (one tick below 50)", {"position_btc": 49}),
        ("btc_tiers: position_btc = 50 (at the edge)", {"position_btc": 50}),
        ("btc_tiers: position_btc = 51 (one tick above 50)", {"position_btc": 51}),
        ("btc_tiers: position_btc = 99 (one tick below 100)", {"position_btc": 99}),
        ("btc_tiers: position_btc = 100 (at the edge)", {"position_btc": 100}),
        ("btc_tiers: position_btc = 101 (one tick above 100)", {"position_btc": 101}),
        ("symbol_tiers[BTC]: size = 0 (at the edge)", {"positions": [btc[0]]}),
        ("symbol_tiers[BTC]: size = 1 (one tick above 0)", {"positions": [btc[1]]}),
        ("symbol_tiers[BTC]: size = 9 (one tick below 10)", {"positions": [btc[9]]}),
        ("symbol_tiers[BTC]: size = 10 (at the edge)", {"positions": [btc[10]]}),
        ("symbol_tiers[BTC]: size = 11 (one tick above 10)", {"positions": [btc[11]]}),
        # no ETH position in the base: its first record's symbol is set to ETH
        ("symbol_tiers[ETH]: size = 0 (at the edge)", {"positions": [eth[0]]}),
        ("symbol_tiers[ETH]: size = 1 (one tick above 0)", {"positions": [eth[1]]}),
        # 0.01 × 0.5% = 0.00005 BTC; × 20,000 = 1 USDT
        (
            "risk liquidation: maintenance > 0 (maintenance one tick (1 USDT) above 0);"
            " risk warning: maintenance > 0 (maintenance one tick (1 USDT) above 0)",
            {"position_btc": Decimal("0.01")},
        ),
        # 21,000 × 99% = 20,790: 1.05 BTC of maintenance stays, the equity moves
        ("risk liquidation: ratio <= liquidation_line (ratio one tick (1%) below 100%)", {"equity": 20_790}),
        # 150 BTC: 0.25 + 0.5 + 50 × 1.5% = 1.5 BTC; × 20,000 = 30,000 = the equity
        ("risk liquidation: ratio <= liquidation_line (ratio at 100%)", {"position_btc": 150}),
        ("risk liquidation: ratio <= liquidation_line (ratio one tick (1%) above 100%)", {"equity": 21_210}),
        ("risk warning: ratio <= warning_line (ratio one tick (1%) below 200%)", {"equity": 41_790}),
        ("risk warning: ratio <= warning_line (ratio at 200%)", {"equity": 42_000}),
        ("risk warning: ratio <= warning_line (ratio one tick (1%) above 200%)", {"equity": 42_210}),
    ]
    assert generator.skipped == [
        "risk liquidation: maintenance > 0 (maintenance one tick (1 USDT) below 0): cannot be reached exactly"
        " by changing position_btc, price",
        "risk warning: maintenance > 0 (maintenance one tick (1 USDT) below 0): cannot be reached exactly"
        " by changing position_btc, price",
    ]


def test_a_computed_size_is_reached_through_its_inputs_set_to_one_when_needed() -> None:
    rs = products()
    site = sites(rs.ir)[0]
    meter = Meter(rs.ir, [(site.scope, site.size)], rs.params())
    drivers = meter.drivers(site.size)
    assert [str(d) for d in drivers] == ["quantity", "price"]
    base = {"symbol": "BTCUSDT", "quantity": Decimal(2), "price": Decimal(30_000)}
    # 2 × 30,000 = 60,000; 50,000 = 2 × 25,000: the price moves
    assert reach(meter, 0, base, drivers, Decimal(50_000)) == {**base, "price": Decimal(25_000)}
    # 49,999 = 2 × 24,999.5
    assert reach(meter, 0, base, drivers, Decimal(49_999)) == {**base, "price": Decimal("24999.5")}
    odd = {**base, "quantity": Decimal(3)}
    # 50,000 / 30,000 and 50,000 / 3 do not terminate: with the other input at 1, 50,000 × 1
    assert reach(meter, 0, odd, drivers, Decimal(50_000)) == {**odd, "quantity": Decimal(50_000), "price": 1}
    # no quantity reaches a negative notional
    assert reach(meter, 0, base, drivers, Decimal(-1)) is None


def test_without_examples_the_base_is_made_up_and_a_scalar_key_is_set() -> None:
    rs = products()
    base = boundaries.base_account(rs.ir)
    assert base == {"symbol": "BTCUSDT", "quantity": Decimal(1), "price": Decimal(1)}
    generator = Generator(rs, base)
    got = [(g.name, g.inputs) for g in generator.run()]
    assert got == [
        ("brackets[BTCUSDT]: notional = 0 (at the edge)", {**base, "quantity": Decimal(0)}),
        ("brackets[BTCUSDT]: notional = 1 (one tick above 0)", base),
        ("brackets[BTCUSDT]: notional = 49999 (one tick below 50000)", {**base, "quantity": Decimal(49_999)}),
        ("brackets[BTCUSDT]: notional = 50000 (at the edge)", {**base, "quantity": Decimal(50_000)}),
        ("brackets[BTCUSDT]: notional = 50001 (one tick above 50000)", {**base, "quantity": Decimal(50_001)}),
        ("brackets[ETHUSDT]: notional = 0 (at the edge)", {"symbol": "ETHUSDT", "quantity": 0, "price": 1}),
        ("brackets[ETHUSDT]: notional = 1 (one tick above 0)", {"symbol": "ETHUSDT", "quantity": 1, "price": 1}),
        # 7,500 caps the ETH bands (lower-inclusive): at and above it is in no band
        (
            "brackets[ETHUSDT]: notional = 7499 (one tick below 7500)",
            {"symbol": "ETHUSDT", "quantity": 7_499, "price": 1},
        ),
    ]
    assert generator.skipped == []


def test_frozen_outputs_in_csv() -> None:
    rs = products()
    generated = Generator(rs, boundaries.base_account(rs.ir)).run()
    frozen, skipped = freeze(rs, generated[2:4])
    assert skipped == []
    assert render(frozen, "products.rules", "csv").splitlines() == [
        "case,ruleset,symbol,quantity,price,expect:notional,expect:mm",
        # 49,999 × 0.4% = 199.996
        "brackets[BTCUSDT]: notional = 49999 (one tick below 50000),products.rules,BTCUSDT,49999,1,49999,199.996",
        # 50,000 × 0.5% − cum 50,000 × (0.5% − 0.4%) = 250 − 50 = 200
        "brackets[BTCUSDT]: notional = 50000 (at the edge),products.rules,BTCUSDT,50000,1,50000,200",
    ]
