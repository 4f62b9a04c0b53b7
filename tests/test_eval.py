"""Evaluation: published and brief figures to the last digit, errors that say where, JSON results.

Every figure is asserted on both evaluators, as an exact Decimal and as the
string the JSON result carries.
"""

from __future__ import annotations

import json
import pathlib
from decimal import Decimal
from typing import Any

import pytest

import rulelang
from rulelang.errors import EvaluationError, InputError
from rulelang.results import Result

ROOT = pathlib.Path(__file__).resolve().parent.parent
TIERED = str(ROOT / "rulesets" / "okx" / "tiered_margin.rules")
CORPUS = ROOT / "tests" / "corpus" / "good"


def both(rs: rulelang.Ruleset, data: dict[str, Any], **kw: Any) -> Result:
    """Evaluate with the compiled evaluator and the oracle; they must agree."""
    compiled = rs.evaluate(data, **kw)
    assert compiled == rs.evaluate_reference(data, **kw)
    return compiled


def figure(result: Result, name: str, text: str) -> None:
    """``name`` is exactly ``text``, as a Decimal and in the JSON result."""
    assert result.get(name) == Decimal(text)
    if "[" in name:
        coll, rest = name.split("[", 1)
        idx, field = rest.split("].", 1)
        assert result.to_json()[coll][int(idx)][field] == text
    else:
        assert result.to_json()[name] == text


def rules(text: str, name: str = "inline.rules") -> rulelang.Ruleset:
    return rulelang.load(name, text)


# ----------------------------------------------------------------- figures from the brief


def test_progressive_120_btc_is_1_05_btc() -> None:
    r = both(rulelang.load(TIERED), {"position_btc": 120, "notional": 0})
    # 50 × 0.5% + 50 × 1% + 20 × 1.5% = 0.25 + 0.5 + 0.3
    figure(r, "maintenance_margin_btc", "1.05")


def test_notional_1_8m_needs_initial_margin_181000() -> None:
    r = both(rulelang.load(TIERED), {"position_btc": 0, "notional": "1800000"})
    # 500,000 × 5% + 1,300,000 × 12% = 25,000 + 156,000
    figure(r, "initial_margin", "181000")


def test_notional_5m_needs_805000_initial_and_385000_maintenance() -> None:
    r = both(rulelang.load(TIERED), {"position_btc": 0, "notional": 5_000_000})
    # 25,000 + 180,000 + 600,000 (the source article's 745,000 is an arithmetic slip)
    figure(r, "initial_margin", "805000")
    # 500,000 × 2% + 1,500,000 × 5% + 3,000,000 × 10% = 10,000 + 75,000 + 300,000
    figure(r, "maintenance_margin", "385000")


BINANCE_2022 = """\
ruleset binance_btcusdt_2022

units USDT

input notional: USDT >= 0

table brackets: USDT
    bands from <= notional < to
    | from      | to        | mmr  |
    | 0         | 50_000    | 0.4% |
    | 50_000    | 250_000   | 0.5% |
    | 250_000   | 1_000_000 | 1%   |
    | 1_000_000 | 7_500_000 | 2.5% |

let maintenance_margin: USDT = bracket(brackets.mmr, notional)
let maintenance_amount: USDT = cum(brackets.mmr, notional)
let progressive_margin: USDT = progressive(brackets.mmr, notional)
let bracket_no: number = tier(brackets, notional)
"""


@pytest.mark.parametrize(
    ("notional", "mm", "cum", "bracket_no"),
    [
        # 264,000 × 1% − 1,300 = 2,640 − 1,300
        ("264000", "1340", "1300", "3"),
        # 500,000 × 1% − 1,300 = 5,000 − 1,300
        ("500000", "3700", "1300", "3"),
        # 50,000 × 0.5% − 50 = 250 − 50 = 200 = 50,000 × 0.4%
        ("50000", "200", "50", "2"),
        # 1,000,000 × 2.5% − 16,300 = 25,000 − 16,300; cum4 = 1,300 + 1,000,000 × 1.5%
        ("1000000", "8700", "16300", "4"),
        ("0", "0", "0", "1"),
    ],
)
def test_binance_2022_brackets(notional: str, mm: str, cum: str, bracket_no: str) -> None:
    r = both(rules(BINANCE_2022), {"notional": notional})
    figure(r, "maintenance_margin", mm)
    figure(r, "progressive_margin", mm)
    figure(r, "maintenance_amount", cum)
    figure(r, "bracket_no", bracket_no)


def test_binance_brackets_per_symbol_in_the_corpus() -> None:
    rs = rulelang.load(str(CORPUS / "brackets_per_symbol.rules"))
    r = both(
        rs,
        {
            "positions": [
                {"symbol": "BTCUSDT", "notional": 264_000},
                {"symbol": "BTCUSDT", "notional": 500_000},
            ]
        },
    )
    figure(r, "positions[0].mm", "1340")
    figure(r, "positions[0].cum_amount", "1300")
    figure(r, "positions[1].mm", "3700")
    figure(r, "total_mm", "5040")


TIERED_COLLATERAL = """\
ruleset tiered_collateral

units USDT

input value: USDT >= 0

table collateral: USDT
    bands from <= value < to
    | from        | to          | collateral_ratio |
    | 0           | 100_000_000 | 100%             |
    | 100_000_000 | inf         | 97.5%            |

let counted: USDT = progressive(collateral.collateral_ratio, value)
let counted_by_bracket: USDT = bracket(collateral.collateral_ratio, value)
"""


def test_tiered_collateral_120m_counts_as_119_5m() -> None:
    # 6,000 BTC at 20,000 = 120,000,000 USDT: 100,000,000 × 100% + 20,000,000 × 97.5%
    r = both(rules(TIERED_COLLATERAL), {"value": 6_000 * 20_000})
    figure(r, "counted", "119500000")
    figure(r, "counted_by_bracket", "119500000")


def test_arithmetic_is_exact_decimal() -> None:
    rs = rules(
        """\
        ruleset exact

        input a: number
        input b: number

        let total: number = a + b
        let third: number = 1 / 3
        let big: number = a * 10_000_000_000_000_000_000 + b
        """.replace("        ", "")
    )
    r = both(rs, {"a": "0.1", "b": "0.2"})
    figure(r, "total", "0.3")
    # 34 significant digits, rounded half-even at the last one
    figure(r, "third", "0.3333333333333333333333333333333333")
    figure(r, "big", "1000000000000000000.2")


def test_negative_and_percent_literals_keep_every_digit() -> None:
    rs = rules(
        "ruleset literals\n\n"
        "input x: number = -1.2345678901234567890123456789012345\n\n"
        "let y: number = x + 1.2345678901234567890123456789012345\n"
        "let z: number = x\n"
        "let p: percent = 12.345678901234567890123456789012345%\n"
    )
    r = both(rs, {})
    figure(r, "y", "0")
    figure(r, "z", "-1.2345678901234567890123456789012345")
    figure(r, "p", "0.12345678901234567890123456789012345")


# ----------------------------------------------------------------- errors

DIVISION = """\
ruleset division

units USDT

input equity: USDT
input requirement: USDT >= 0
input positions: list
    notional: USDT >= 0

let margin_ratio: percent = (
    1
    + equity / requirement
)
let positions.share: percent = notional / sum(positions, notional)
let smallest: USDT = min(positions, notional)
let smallest_or_zero: USDT = min(positions, notional, default 0 USDT)
"""


@pytest.mark.parametrize("engine", ["evaluate", "evaluate_reference"])
def test_division_by_zero_names_the_formula_and_its_line(engine: str) -> None:
    rs = rules(DIVISION, "division.rules")
    with pytest.raises(EvaluationError) as info:
        getattr(rs, engine)({"equity": 100, "requirement": 0, "positions": [{"notional": 1}]})
    err = info.value
    assert err.formula == "margin_ratio"
    assert err.span is not None
    assert err.span.line == 12  # the division's own line, not the `let` line (10)
    assert err.span.text == "equity / requirement"
    assert str(err) == (
        "division.rules:12:7: error: in margin_ratio: division by zero: `requirement` is 0 "
        "(guard it with `if ... then ... else ...`)"
    )


@pytest.mark.parametrize("engine", ["evaluate", "evaluate_reference"])
def test_division_by_zero_in_a_per_record_definition_names_the_record(engine: str) -> None:
    rs = rules(DIVISION, "division.rules")
    with pytest.raises(EvaluationError) as info:
        getattr(rs, engine)({"equity": 1, "requirement": 1, "positions": [{"notional": 0}, {"notional": 0}]})
    assert info.value.formula == "positions[0].share"
    assert info.value.span is not None and info.value.span.line == 14
    assert "`sum(positions, notional)` is 0" in str(info.value)


@pytest.mark.parametrize("engine", ["evaluate", "evaluate_reference"])
def test_min_of_no_records_without_default_is_an_error(engine: str) -> None:
    rs = rules(DIVISION, "division.rules")
    with pytest.raises(EvaluationError) as info:
        getattr(rs, engine)({"equity": 1, "requirement": 1, "positions": []})
    assert info.value.formula == "smallest"
    assert str(info.value) == (
        "division.rules:15:22: error: in smallest: `min` of no records: "
        "`positions` has none that qualify (add `default ...`)"
    )


def test_min_with_default_over_no_records_is_the_default() -> None:
    rs = rules(DIVISION.replace("let smallest: USDT = min(positions, notional)\n", ""))
    r = both(rs, {"equity": 1, "requirement": 4, "positions": []})
    figure(r, "smallest_or_zero", "0")
    figure(r, "margin_ratio", "1.25")


@pytest.mark.parametrize("engine", ["evaluate", "evaluate_reference"])
@pytest.mark.parametrize("notional", ["7500000", "7500000.01", "1E+20"])
def test_size_beyond_the_last_finite_band_names_the_table(engine: str, notional: str) -> None:
    rs = rules(BINANCE_2022, "binance.rules")
    with pytest.raises(EvaluationError) as info:
        getattr(rs, engine)({"notional": notional})
    assert info.value.formula == "maintenance_margin"
    assert "table `brackets`" in str(info.value)
    assert "outside the table's bands (0 to 7500000)" in str(info.value)
    assert str(info.value).startswith("binance.rules:15:")


@pytest.mark.parametrize("engine", ["evaluate", "evaluate_reference"])
def test_a_symbol_missing_from_a_keyed_table_is_an_error(engine: str) -> None:
    rs = rulelang.load(str(CORPUS / "brackets_per_symbol.rules"))
    with pytest.raises(EvaluationError) as info:
        getattr(rs, engine)(
            {"positions": [{"symbol": "BTCUSDT", "notional": 1}, {"symbol": "DOGEUSDT", "notional": 1}]}
        )
    assert info.value.formula == "positions[1].mm"
    assert "table `brackets`: the table has no tiers for `DOGEUSDT`" in str(info.value)


@pytest.mark.parametrize("engine", ["evaluate", "evaluate_reference"])
def test_overflow_is_an_evaluation_error(engine: str) -> None:
    # inputs are limited to 1e100 in size, so the rule itself scales the value towards the context's limit
    rs = rules("ruleset big\n\ninput x: number\n\nlet square: number = x * x * 1e999900\n", "big.rules")
    with pytest.raises(EvaluationError) as info:
        getattr(rs, engine)({"x": "9E+99"})
    assert info.value.formula == "square"
    assert "too large" in str(info.value)


@pytest.mark.parametrize("engine", ["evaluate", "evaluate_reference"])
def test_an_overflowing_sum_is_an_evaluation_error(engine: str) -> None:
    # each term is 9e999999, just inside the context's limit; their sum is not
    rs = rules(
        "ruleset big\n\ninput xs: list\n    v: number\n\nlet total: number = sum(xs, v * 1e999900)\n", "big.rules"
    )
    with pytest.raises(EvaluationError) as info:
        getattr(rs, engine)({"xs": [{"v": "9E+99"}, {"v": "9E+99"}]})
    assert str(info.value) == "big.rules:6:21: error: in total: the sum over `xs` is too large"


def test_a_guarded_division_never_divides() -> None:
    rs = rulelang.load(str(CORPUS / "shares_and_guards.rules"))
    r = both(rs, {"positions": [], "collateral": [], "equity": 0})
    figure(r, "leverage_used", "0")


# ----------------------------------------------------------------- parameters and profiles

PARAMS = str(CORPUS / "params_and_ladders.rules")
BRIEF_ACCOUNT = {"assets": 8_000, "loss": 2_000, "borrowed": 9_000}


def test_parameter_override_and_profile() -> None:
    rs = rulelang.load(PARAMS)
    assert both(rs, BRIEF_ACCOUNT).levels["risk_level"].level == "liquidation"
    assert both(rs, BRIEF_ACCOUNT, params={"liquidation_line": "60%"})["risk_level"] == "warning"
    assert both(rs, BRIEF_ACCOUNT, params={"liquidation_line": Decimal("0.6")})["risk_level"] == "warning"
    r = both(rs, BRIEF_ACCOUNT, profile="vip1")
    assert r["risk_level"] == "warning"
    figure(r, "liquidation_fee", "4.5")
    # an explicit override beats the profile
    assert both(rs, BRIEF_ACCOUNT, profile="vip1", params={"liquidation_line": "70%"})["risk_level"] == "liquidation"


def test_percent_overrides_keep_every_digit() -> None:
    rs = rulelang.load(PARAMS)
    # risk rate 6,000 / 9,000 = 0.6666666666666666666666666666666667; a line one digit in the 34th place below it
    # must not be rounded up to 28 digits (0.6666666666666666666666666667), which would liquidate
    below = {"liquidation_line": "66.66666666666666666666666666666666%"}
    assert both(rs, BRIEF_ACCOUNT, params=below)["risk_level"] == "warning"
    at = {"liquidation_line": "66.66666666666666666666666666666667%"}
    assert both(rs, BRIEF_ACCOUNT, params=at)["risk_level"] == "liquidation"


def test_ladder_results_carry_their_actions() -> None:
    r = both(rulelang.load(PARAMS), {"assets": 11_700, "borrowed": 9_000})
    assert r.levels["risk_level"].level == "safe"
    assert r.levels["risk_level"].actions == ()
    assert r.levels["health"].level == "amber"
    assert r.levels["health"].actions == ("auto_add_margin", "notify")


def test_unknown_profile_and_parameter_are_input_errors() -> None:
    rs = rulelang.load(PARAMS)
    with pytest.raises(InputError, match="unknown profile `vip9` \\(this ruleset has: vip1, volatile\\)"):
        rs.evaluate(BRIEF_ACCOUNT, profile="vip9")
    with pytest.raises(
        InputError, match="liquidation_lin: not a parameter of this ruleset; did you mean `liquidation_line`"
    ):
        rs.evaluate(BRIEF_ACCOUNT, params={"liquidation_lin": "60%"})
    with pytest.raises(InputError, match="liquidation_line: expected a number"):
        rs.evaluate(BRIEF_ACCOUNT, params={"liquidation_line": "sixty"})


# ----------------------------------------------------------------- JSON


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def test_results_are_json_with_decimals_as_strings() -> None:
    rs = rulelang.load(str(CORPUS / "aggregates.rules"))
    data = {
        "positions": [
            {"symbol": "BTCUSDT", "side": "long", "quantity": "0.5", "mark_price": "20000.10"},
            {"symbol": "BTCUSDT", "side": "short", "quantity": "0.1", "mark_price": "20000"},
        ],
        "limits": [],
    }
    result = both(rs, data)
    data_json = result.to_json()
    text = json.dumps(data_json)
    assert json.loads(text) == data_json
    assert all(isinstance(leaf, (str, bool)) for leaf in _leaves(data_json))
    # 0.5 × 20,000.10 = 10,000.05 (no binary float anywhere); 0.1 × 20,000 = 2,000
    assert data_json["positions"][0]["notional"] == "10000.05"
    assert data_json["total"] == "12000.05"
    assert data_json["n"] == "2"
    assert data_json["any_short"] is True
    assert data_json["positions"][1]["limit"] == "0"


def test_ladders_in_json() -> None:
    result = both(rulelang.load(PARAMS), BRIEF_ACCOUNT)
    out = json.loads(json.dumps(result.to_json()))
    assert out["risk_level"] == {"level": "liquidation", "actions": ["full_liquidation"]}
    assert out["health"] == {"level": "red", "actions": ["reduce_only"]}
    assert out["buffer"] == "-300"
    assert out["risk_rate"] == "0.6666666666666666666666666666666667"


@pytest.mark.parametrize("value", ["1e101", "-2E+150", "1e-101", "1E-999999"])
def test_numbers_beyond_1e100_in_size_are_rejected(value: str) -> None:
    rs = rules("ruleset big\n\ninput x: number\n\nlet y: number = x\n", "big.rules")
    with pytest.raises(InputError) as info:
        rs.evaluate({"x": value})
    assert info.value.problems == (
        ("x", f"{value} is out of range: numbers must lie between 1e-100 and 1e100 in size"),
    )


@pytest.mark.parametrize("value", ["1e100", "-9.99e100", "1e-100", "0", "0E-200"])
def test_numbers_up_to_1e100_in_size_are_accepted(value: str) -> None:
    rs = rules("ruleset big\n\ninput x: number\n\nlet y: number = x\n", "big.rules")
    assert rs.evaluate({"x": value})["y"] == Decimal(value)
