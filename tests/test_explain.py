"""Explanations: the tier slices, bracket rates and maintenance amounts, roundings, aggregates, levels."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

import rulelang
from rulelang.errors import InputError

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus" / "good"
TIERED = str(ROOT / "rulesets" / "okx" / "tiered_margin.rules")


def load(name: str) -> rulelang.Ruleset:
    return rulelang.load(str(CORPUS / name))


def let_line(path: str, name: str) -> int:
    """The line of ``let name`` in the file at ``path``."""
    lines = pathlib.Path(path).read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, start=1) if line.startswith(f"let {name}:"))


def test_120_btc_shows_the_three_slices() -> None:
    rs = rulelang.load(TIERED)
    text = rs.explain({"position_btc": 120, "notional": 1_800_000}, "maintenance_margin_btc").to_text()
    line = let_line(TIERED, "maintenance_margin_btc")
    assert text.splitlines() == [
        "maintenance_margin_btc = 1.05 BTC   (Maintenance margin (BTC))",
        f"  formula: progressive(btc_tiers.mmr, position_btc)   [{TIERED}:{line}]",
        "  input position_btc = 120 BTC",
        "  table btc_tiers, column mmr: 120 charged slice by slice (progressive), 3 tier(s):",
        "    tier 1: 50 × 0.5% = 0.25",
        "    tier 2: 50 × 1% = 0.5",
        "    tier 3: 20 × 1.5% = 0.3",
        "    total = 0.25 + 0.5 + 0.3 = 1.05",
    ]


def test_progressive_slices_in_the_corpus_file() -> None:
    rs = load("progressive_btc.rules")
    path = str(CORPUS / "progressive_btc.rules")
    assert rs.explain({"size": "75.5"}, "progressive_mm").to_text() == (
        "progressive_mm = 0.505 BTC\n"
        f"  formula: progressive(btc_tiers.mmr, size)   [{path}:{let_line(path, 'progressive_mm')}]\n"
        "  input size = 75.5 BTC\n"
        "  table btc_tiers, column mmr: 75.5 charged slice by slice (progressive), 2 tier(s):\n"
        "    tier 1: 50 × 0.5% = 0.25\n"
        "    tier 2: 25.5 × 1% = 0.255\n"
        "    total = 0.25 + 0.255 = 0.505\n"
    )


def test_bracket_shows_tier_rate_and_maintenance_amount() -> None:
    rs = load("brackets_per_symbol.rules")
    account = {"positions": [{"symbol": "BTCUSDT", "notional": 264_000}, {"symbol": "ETHUSDT", "notional": 10_000}]}
    lines = rs.explain(account, "positions.mm").to_text().splitlines()
    assert lines[0] == "positions[0].mm = 1340 USDT"
    assert "  field notional = 264000 USDT" in lines
    assert "  field symbol = BTCUSDT" in lines
    assert (
        "  table brackets[BTCUSDT], column mmr: 264000 falls in tier 3 (250000 to 1000000), "
        "rate 1%, maintenance amount 1300"
    ) in lines
    assert "    264000 × 1% − 1300 = 1340" in lines
    # the second record: exactly on ETH's first edge
    assert "positions[1].mm = 50 USDT" in lines
    assert (
        "  table brackets[ETHUSDT], column mmr: 10000 falls in tier 2 (10000 to 100000), "
        "rate 0.65%, maintenance amount 15"
    ) in lines
    assert "    10000 × 0.65% − 15 = 50" in lines


def test_step_lookup_cum_and_tier_explanations() -> None:
    rs = load("progressive_btc.rules")
    details = {s.name: s.details for s in rs.explain({"size": 120}).steps}
    assert details["step_mm"] == (
        "table btc_tiers, column mmr: 120 falls in tier 3 (100 to inf); the whole size at its rate",
        "  120 × 1.5% = 1.8",
    )
    assert details["rate"] == ("table btc_tiers, column mmr: 120 falls in tier 3 (100 to inf): mmr = 1.5%",)
    # a leverage column is shown as leverage, not as a rate
    assert details["max_lev"] == (
        "table btc_tiers, column max_leverage: 120 falls in tier 3 (100 to inf): max_leverage = 20x",
    )
    assert details["maintenance_amount"] == (
        "table btc_tiers, column mmr: 120 falls in tier 3 (100 to inf): maintenance amount = 0.75",
    )
    assert details["tier_no"] == ("table btc_tiers: 120 falls in tier 3 (100 to inf)",)


def test_upper_inclusive_edge_is_explained_in_the_lower_tier() -> None:
    rs = load("upper_inclusive.rules")
    step = rs.explain({"size": 3_000, "mark_price": 1}, "tier_no").steps[-1]
    assert step.details == ("table okx_tiers: 3000 falls in tier 1 (0 to 3000)",)


def test_rounding_is_shown() -> None:
    rs = load("liquidation_price.rules")
    account = {"side": "long", "quantity": 1, "entry_price": 20_000, "wallet_balance": 2_000}
    explanation = rs.explain(account, "shown")
    shown = explanation.steps[-1]
    assert shown.name == "shown"
    assert shown.details == ("rounded 18072.28915662650602409638554216867 to 2 places (half-up) = 18072.29",)
    # every value `shown` depends on is explained before it
    assert [s.name for s in explanation.steps] == [
        "notional",
        "mmr",
        "cum_amount",
        "liquidation_price",
        "lp_notional",
        "tier_changed",
        "mmr_at_lp",
        "cum_at_lp",
        "final_price",
        "shown",
    ]


@pytest.mark.parametrize(
    ("name", "detail"),
    [
        ("r_floor", "rounded -2.345 to 2 places (floor) = -2.35"),
        ("r_ceiling", "rounded -2.345 to 2 places (ceiling) = -2.34"),
        ("r_half_even", "rounded -2.345 to 2 places (half-even) = -2.34"),
        ("r_up", "rounded -2.345 to 2 places (up) = -2.35"),
    ],
)
def test_rounding_modes_are_named(name: str, detail: str) -> None:
    step = load("rounding.rules").explain({"x": "-2.345"}, name).steps[-1]
    assert step.details == (detail,)


def test_aggregates_say_how_many_records_counted() -> None:
    rs = load("aggregates.rules")
    account = {
        "positions": [
            {"symbol": "A", "side": "long", "quantity": 1, "mark_price": 20_000},
            {"symbol": "B", "side": "short", "quantity": 1, "mark_price": 2},
        ],
        "limits": [],
    }
    steps = {s.name: s for s in rs.explain(account).steps if s.record is None}
    assert steps["n_big"].details == ("count over positions (1 of 2 records) = 1",)
    assert steps["total"].details == ("sum over positions (2 records) = 20002 USDT",)
    assert steps["smallest_short"].details == ("min over positions (1 of 2 records) = 2 USDT",)


def test_levels_show_every_rung_tried() -> None:
    rs = load("params_and_ladders.rules")
    account = {"assets": 11_700, "borrowed": 9_000}
    text = rs.explain(account, "health").to_text()
    assert text.endswith(
        "health: level amber (actions: auto_add_margin, notify)\n"
        "  definition has_debt = true\n"
        "  definition risk_rate = 130%\n"
        "  param warning_line = 100%\n"
        "  param auto_add_line = 130%\n"
        "  param green_line = 150%\n"
        "  red: has_debt and risk_rate <= warning_line -> false\n"
        "  amber: has_debt and risk_rate <= auto_add_line -> true\n"
    )
    assert "risk_rate = 130%" in text.splitlines()


def test_percentages_are_shown_with_every_digit() -> None:
    rs = load("params_and_ladders.rules")
    step = rs.explain({"assets": 8_000, "loss": 2_000, "borrowed": 9_000}, "risk_rate").steps[-1]
    # 6,000 / 9,000 to 34 digits, shown as a percentage without rounding again
    assert step.shown == "66.66666666666666666666666666666667%"


def test_explain_under_a_profile_and_an_override() -> None:
    rs = load("params_and_ladders.rules")
    account = {"assets": 8_000, "loss": 2_000, "borrowed": 9_000}
    assert rs.explain(account, "risk_level").levels[0].level == "liquidation"
    assert rs.explain(account, "risk_level", profile="vip1").levels[0].level == "warning"
    assert rs.explain(account, "buffer", params={"liquidation_line": "60%"}).steps[-1].shown == "600 USDT"


def test_explain_everything_matches_evaluate() -> None:
    rs = load("shares_and_guards.rules")
    account = {"positions": [{"notional": 3}, {"notional": 1}], "collateral": [{"value": 2}], "equity": 4}
    result = rs.evaluate(account)
    explanation = rs.explain(account)
    for s in explanation.steps:
        assert s.value == (result[s.name] if s.record is None else result.get(s.title()))
    assert explanation.steps[1].title() == "positions[0].share"
    assert explanation.steps[1].shown == "75%"


def test_unknown_target_suggests_a_name() -> None:
    with pytest.raises(
        InputError, match="progresive_mm: no such definition or level ladder; did you mean `progressive_mm`"
    ):
        load("progressive_btc.rules").explain({"size": 1}, "progresive_mm")


def test_json_form_has_the_notes() -> None:
    rs = rulelang.load(TIERED)
    data: dict[str, Any] = rs.explain({"position_btc": 120, "notional": 1_800_000}, "maintenance_margin_btc").to_json()
    data = json.loads(json.dumps(data))
    assert data["target"] == "maintenance_margin_btc"
    [step] = data["steps"]
    assert step["value"] == "1.05"
    assert step["shown"] == "1.05 BTC"
    assert step["reads"] == [{"kind": "input", "name": "position_btc", "value": "120"}]
    assert step["notes"] == [
        {
            "kind": "lookup",
            "mode": "progressive",
            "table": "btc_tiers",
            "column": "mmr",
            "group": None,
            "size": "120",
            "tier": 3,
            "lower": "100",
            "upper": None,
            "rate": "0.015",
            "cum": "0.75",
            "slices": [[1, "50", "0.005", "0.25"], [2, "50", "0.01", "0.5"], [3, "20", "0.015", "0.3"]],
            "result": "1.05",
        }
    ]
    assert step["details"][1:4] == [
        "  tier 1: 50 × 0.5% = 0.25",
        "  tier 2: 50 × 1% = 0.5",
        "  tier 3: 20 × 1.5% = 0.3",
    ]


def test_json_round_and_aggregate_notes() -> None:
    note = load("rounding.rules").explain({"x": "-2.345"}, "r_floor").to_json()["steps"][0]["notes"]
    assert note == [{"kind": "round", "before": "-2.345", "after": "-2.35", "places": 2, "mode": "floor"}]
    rs = load("aggregates.rules")
    account = {"positions": [{"symbol": "A", "side": "long", "quantity": 1, "mark_price": 2}], "limits": []}
    steps = rs.explain(account, "n_big").to_json()["steps"]
    assert steps[-1]["notes"] == [
        {
            "kind": "aggregate",
            "func": "count",
            "collection": "positions",
            "counted": 0,
            "total": 1,
            "result": "0",
        }
    ]


def test_json_levels() -> None:
    rs = load("params_and_ladders.rules")
    data = rs.explain({"assets": 8_000, "loss": 2_000, "borrowed": 9_000}, "risk_level").to_json()
    assert json.loads(json.dumps(data))["levels"] == [
        {
            "ladder": "risk_level",
            "level": "liquidation",
            "actions": ["full_liquidation"],
            # 6,000 / 9,000 to 34 digits; the parameters as the file sets them (70%, 100%)
            "reads": [
                {"kind": "definition", "name": "has_debt", "value": True},
                {"kind": "definition", "name": "risk_rate", "value": "0.6666666666666666666666666666666667"},
                {"kind": "param", "name": "liquidation_line", "value": "0.7"},
                {"kind": "param", "name": "warning_line", "value": "1"},
            ],
            "checked": [
                {
                    "level": "liquidation",
                    "condition": "has_debt and risk_rate <= liquidation_line",
                    "held": True,
                }
            ],
        }
    ]


def test_one_record_s_value_is_explained_for_that_record_alone() -> None:
    rs = rulelang.load(str(ROOT / "rulesets" / "bench" / "account.rules"))
    account = {
        "usdt_index": "1",
        "collateral": [],
        "positions": [
            {"symbol": "BTCUSDT", "side": "long", "quantity": "20", "entry_price": "60000", "mark_price": "60000"},
            {"symbol": "ETHUSDT", "side": "long", "quantity": "100", "entry_price": "3000", "mark_price": "3000"},
        ],
    }
    text = rs.explain(account, "positions[1].maintenance_margin").to_text()
    # 100 × 3,000 = 300,000: bracket 2 (50,000 to 600,000), 300,000 × 0.5 % − 50 = 1,450
    assert "positions[1].maintenance_margin = 1450 USDT" in text
    assert "300000 × 0.5% − 50 = 1450" in text
    assert "positions[0]" not in text and "BTCUSDT" not in text
    with pytest.raises(InputError, match="no such record: the account has 2 positions"):
        rs.explain(account, "positions[2].maintenance_margin")
