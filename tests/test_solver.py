"""The solver: liquidation prices and other solved quantities, exact, on both evaluators."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

import rulelang
from rulelang.errors import EvaluationError
from rulelang.values import NoSolution
from tests.helpers import check_text

# Binance USDⓈ-M cross margin, as Binance's published example computes it: each position's
# liquidation price moves that position's mark price only, with the other position's
# maintenance margin and unrealized PnL held at their current values.
BINANCE = """\
ruleset binance_example
units USDT, base
input wallet_balance: USDT
input positions: list
    quantity: base >= 0
    entry_price: USDT/base > 0
    mark_price: USDT/base > 0
    mmr: percent
    cum: USDT
    margin_mode: cross | isolated
    isolated_wallet: USDT = 0 USDT
let positions.maintenance_margin: USDT = quantity * mark_price * mmr - cum
let positions.unrealized_pnl: USDT = quantity * (mark_price - entry_price)
let margin_balance: USDT = wallet_balance + sum(positions, unrealized_pnl, where margin_mode == cross)
let cross_maintenance_margin: USDT = sum(positions, maintenance_margin, where margin_mode == cross)
let positions.liquidated: bool = (
    if margin_mode == isolated then isolated_wallet + unrealized_pnl <= maintenance_margin
    else margin_balance <= cross_maintenance_margin
)
solve positions.liquidation_price: USDT/base
    vary mark_price
    until liquidated
    tick 0.01 USDT/base
"""

ETH = {"quantity": "3683.979", "entry_price": "1456.84", "mark_price": "1335.18", "mmr": "0.10", "cum": "135365"}
BTC = {"quantity": "109.488", "entry_price": "32481.98", "mark_price": "31967.27", "mmr": "0.025", "cum": "16300"}
WALLET = "1535443.01"


@pytest.fixture(scope="module")
def binance() -> rulelang.Ruleset:
    return rulelang.load("binance_example.rules", BINANCE)


def both(rs: rulelang.Ruleset, data: dict[str, Any]) -> rulelang.Result:
    compiled, reference = rs.evaluate(data), rs.evaluate_reference(data)
    assert compiled == reference
    return compiled


def test_binance_cross_example(binance: rulelang.Ruleset) -> None:
    account = {
        "wallet_balance": WALLET,
        "positions": [{**ETH, "margin_mode": "cross"}, {**BTC, "margin_mode": "cross"}],
    }
    r = both(binance, account)
    eth, btc = r.records["positions"]
    # published: LP(ETH) = 1,153.26 and LP(BTC) = 26,316.89 (unrounded 1,153.2564... and 26,316.8932...)
    assert (eth["liquidation_price"], btc["liquidation_price"]) == (Decimal("1153.26"), Decimal("26316.89"))
    # published: the other position's maintenance margin, 356,512.508... and 71,200.81144
    assert (eth["maintenance_margin"], btc["maintenance_margin"]) == (Decimal("356512.508122"), Decimal("71200.811444"))


def test_binance_cross_example_unrounded(binance: rulelang.Ruleset) -> None:
    account = {
        "wallet_balance": WALLET,
        "positions": [{**ETH, "margin_mode": "cross"}, {**BTC, "margin_mode": "cross"}],
    }
    steps = {s.title(): s for s in binance.explain(account, "positions.liquidation_price").steps}
    eth = steps["positions[0].liquidation_price"]
    # Binance's one-way formula: (WB - TMM1 + UPNL1 + cumB - Q*EP) / (Q*MMR - Q), with TMM1 and UPNL1 the
    # other position's (BTC) maintenance margin and unrealized PnL (the brief's "+ TMM1 - UPNL1" gives 1,076.31):
    # (1,535,443.01 - 71,200.811444 - 56,354.56848 + 135,365 - 3,683.979 * 1,456.84) / (368.3979 - 3,683.979)
    # = 1,153.2564642391...
    assert eth.notes[0]["exact"].startswith("1153.25646423910")
    btc = steps["positions[1].liquidation_price"]
    assert btc.notes[0]["exact"].startswith("26316.8932645")


def test_binance_isolated_example(binance: rulelang.Ruleset) -> None:
    iso = {"margin_mode": "isolated", "isolated_wallet": WALLET}
    r = both(binance, {"wallet_balance": "0", "positions": [{**ETH, **iso}, {**BTC, **iso}]})
    prices = [p["liquidation_price"] for p in r.records["positions"]]
    # published: 1,114.78 and 18,778.73
    assert prices == [Decimal("1114.78"), Decimal("18778.73")]


def test_no_price_is_an_explicit_none_with_the_reason(binance: rulelang.Ruleset) -> None:
    # the wallet covers the whole position: no positive price liquidates it
    account = {"wallet_balance": "0", "positions": [{**ETH, "margin_mode": "isolated", "isolated_wallet": "10000000"}]}
    r = both(binance, account)
    value = r.records["positions"][0]["liquidation_price"]
    assert isinstance(value, NoSolution)
    assert value.reason.startswith("`liquidated` holds for no mark_price of positions[0] from ")
    out = json.loads(json.dumps(r.to_json()))
    assert out["positions"][0]["liquidation_price"] == {"none": value.reason}


def test_using_a_missing_value_without_known_is_a_positioned_error() -> None:
    text = BINANCE + "let positions.distance: USDT/base = mark_price - liquidation_price\n"
    rs = rulelang.load("d.rules", text)
    account = {"wallet_balance": "0", "positions": [{**ETH, "margin_mode": "isolated", "isolated_wallet": "10000000"}]}
    for engine in (rs.evaluate, rs.evaluate_reference):
        with pytest.raises(EvaluationError) as info:
            engine(account)
        assert info.value.formula == "positions[0].distance"
        assert info.value.span is not None and info.value.span.line == 24
        assert "`liquidation_price` has no value" in info.value.message
        assert "guard it with `if known(liquidation_price) then ... else ...`" in info.value.message


SIZE = """\
ruleset sizes
units USDT, BTC
table brackets: USDT
    bands from <= notional < to
    | from    | to        | mmr  |
    | 0       | 50_000    | 0.4% |
    | 50_000  | 250_000   | 0.5% |
    | 250_000 | 1_000_000 | 1%   |
input quantity: BTC >= 0
input price: USDT/BTC > 0
let bracket_now: number = tier(brackets, quantity * price)
solve largest_in_bracket_2: BTC
    vary quantity
    until tier(brackets, quantity * price) > 2
    tick 0.001 BTC
"""


def test_a_global_solve_finds_the_largest_size_in_a_tier() -> None:
    rs = rulelang.load("sizes.rules", SIZE)
    # bracket 3 starts at 250,000 USDT: at 40,000 USDT/BTC that is 6.25 BTC
    r = both(rs, {"quantity": "1", "price": "40000"})
    assert r["largest_in_bracket_2"] == Decimal("6.25")


def test_explain_tells_how_it_was_solved(binance: rulelang.Ruleset) -> None:
    account = {
        "wallet_balance": WALLET,
        "positions": [{**ETH, "margin_mode": "cross"}, {**BTC, "margin_mode": "cross"}],
    }
    text = binance.explain(account, "positions.liquidation_price").to_text()
    lines = text.splitlines()
    i = lines.index("positions[0].liquidation_price = 1153.26 USDT/base")
    assert lines[i + 1].startswith("  formula: solve mark_price until liquidated to the tick 0.01 USDT/base   [")
    assert lines[i + 2] == (
        "  solved: mark_price of positions[0] varied from its value 1335.18, everything else fixed; "
        "`liquidated` does not hold there"
    )
    assert lines[i + 3].startswith(
        "    it changes where `margin_balance <= cross_maintenance_margin` changes: at 1153.25646423910"
    )
    assert lines[i + 4] == "    rounded to the tick 0.01: 1153.26"


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ("    vary quantty\n    until quantity > 1 BTC\n", "RL0802", "`quantty` is not a scalar input"),
        ("    vary quantity\n    until quantity\n", "RL0302", "the condition of `solve s` must be a true/false value"),
        ("    until quantity > 1 BTC\n", "RL0801", "`solve s` needs `vary`"),
        ("    vary quantity\n    until quantity > 1 BTC\n    tick 0.01\n", "RL0301", "the tick of `solve s` must be"),
    ],
)
def test_solve_declarations_are_checked(body: str, code: str, message: str) -> None:
    text = "units BTC\ninput quantity: BTC\nsolve s: BTC\n" + body
    errors = [d for d in check_text(text) if d.is_error]
    assert [d.code for d in errors] == [code]
    assert errors[0].message.startswith(message)


def test_a_condition_depending_on_its_own_solve_is_a_cycle() -> None:
    text = "units BTC\ninput q: BTC\nsolve s: BTC\n    vary q\n    until s > 1 BTC\n"
    errors = [d for d in check_text(text) if d.is_error]
    assert [d.code for d in errors] == ["RL0205"]


def test_a_per_record_name_that_hides_an_account_level_one_is_a_warning() -> None:
    text = (
        "units USDT\ninput positions: list\n    mm: USDT\nlet mm: USDT = sum(positions, mm)\n"
        "let positions.share: number = mm / mm\n"
    )
    warnings = [d for d in check_text(text) if not d.is_error]
    # `sum(positions, mm)` on line 4 iterates the records: reading their `mm` is plainly meant
    assert [(d.code, d.span.line if d.span else 0, d.span.column if d.span else 0) for d in warnings] == [
        ("RL0702", 5, 31),
        ("RL0702", 5, 36),
    ]
    assert warnings[0].message == (
        "`mm` here is the record's own `mm`; the account-level `mm` (line 4) cannot be read in a per-record formula"
    )
