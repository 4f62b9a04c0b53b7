"""Keyed tables split across files, named imports redirected at load time, stated `cum` columns."""

from __future__ import annotations

import pathlib
from decimal import Decimal

import pytest

import rulelang
from rulelang.cli import main
from tests.helpers import check_text

PARTS = pathlib.Path(__file__).parent / "corpus" / "parts"
ACCOUNT = str(PARTS / "account.rules")


def test_parts_merge_into_one_keyed_table() -> None:
    rs = rulelang.load(ACCOUNT)
    table = rs.ir.table("brackets")
    assert [key for key, _ in table.tiers] == ["BTCUSDT", "ETHUSDT"]
    result = rs.evaluate({"positions": [{"symbol": "BTCUSDT", "notional": "500000"}]})
    # 500,000 × 1% − 1,300 = 3,700 (Binance's published figure)
    assert result.records["positions"][0]["mm"] == Decimal("3700")
    assert rs.warnings == ()


def test_a_named_import_can_be_redirected() -> None:
    rs = rulelang.load(ACCOUNT, imports={"brackets": str(PARTS / "other" / "*.rules")})
    result = rs.evaluate({"positions": [{"symbol": "ETHUSDT", "notional": "20000"}]})
    assert result.records["positions"][0]["mm"] == Decimal("400")  # 20,000 × 2%, one band
    with pytest.raises(rulelang.EvaluationError) as info:
        rs.evaluate({"positions": [{"symbol": "BTCUSDT", "notional": "1"}]})
    assert "the table has no tiers for `BTCUSDT`" in str(info.value)


def test_redirecting_an_unknown_import_is_an_error() -> None:
    with pytest.raises(rulelang.RulesetError) as info:
        rulelang.load(ACCOUNT, imports={"braket": "x/*.rules"})
    assert [d.message for d in info.value.diagnostics if d.is_error] == [
        f"no import named `braket` to redirect in {ACCOUNT}"
    ]


def test_a_redirect_to_nothing_names_the_path() -> None:
    with pytest.raises(rulelang.RulesetError) as info:
        rulelang.load(ACCOUNT, imports={"brackets": "/nonexistent/*.rules"})
    assert [d.message for d in info.value.diagnostics if d.is_error] == [
        "cannot import `/nonexistent/*.rules`: no such file"
    ]


def test_cli_import_option(capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path) -> None:
    data = tmp_path / "a.json"
    data.write_text('{"positions": [{"symbol": "ETHUSDT", "notional": 20000}]}')
    code = main(["eval", ACCOUNT, "-i", str(data), "--import", f"brackets={PARTS / 'other' / '*.rules'}"])
    assert code == 0
    assert '"mm": "400"' in capsys.readouterr().out


def _keyed(
    name: str, rows: str, bands: str = "bands from <= size < to", cols: str = "| symbol | from | to | mmr |"
) -> str:
    return f"table {name}: USDT per symbol\n    {bands}\n    {cols}\n{rows}"


def _ruleset(*tables: str) -> str:
    use = "input s: text\ninput n: USDT\nlet m: USDT = bracket(t[s].mmr, n)\n"
    return "units USDT\n" + "".join(tables) + use


def test_parts_must_agree_on_bands_and_columns() -> None:
    text = _ruleset(
        _keyed("t", "    | A | 0 | inf | 1% |\n"),
        _keyed("t", "    | B | 0 | inf | 1% |\n", bands="bands from < size <= to"),
        _keyed("t", "    | C | 0 | inf | 1% | 1% |\n", cols="| symbol | from | to | mmr | imr |"),
    )
    errors = [d for d in check_text(text) if d.is_error]
    assert [(d.code, d.span.line if d.span else 0) for d in errors] == [("RL0413", 6), ("RL0413", 10)]
    assert "differs from its first part (line 2 of t.rules) in its inclusive end (`bands` line)" in errors[0].message
    assert "in its columns" in errors[1].message


def test_a_key_in_two_parts_is_an_error() -> None:
    text = _ruleset(_keyed("t", "    | A | 0 | inf | 1% |\n"), _keyed("t", "    | A | 0 | inf | 2% |\n"))
    errors = [d for d in check_text(text) if d.is_error]
    assert [(d.code, d.message) for d in errors] == [
        ("RL0413", "table `t` has tiers for A in two places: here and in t.rules")
    ]


def test_an_unkeyed_table_declared_twice_is_a_duplicate() -> None:
    text = (
        "units USDT\ninput n: USDT\n"
        + "table t: USDT\n    bands from <= size < to\n    | from | to | r |\n    | 0 | inf | 1% |\n" * 2
    )
    text += "let m: USDT = step(t.r, n)\n"
    assert [d.code for d in check_text(text) if d.is_error] == ["RL0202"]


def test_stated_cum_is_checked_against_the_derivation() -> None:
    # Binance 2022 BTCUSDT: cum 0, 50, 1,300; the third row states 1,300.5
    rows = (
        "    | 0 | 50_000 | 0.4% | 0 |\n"
        "    | 50_000 | 250_000 | 0.5% | 50 |\n"
        "    | 250_000 | 1_000_000 | 1% | 1_300.5 |\n"
    )
    text = "units USDT\ninput n: USDT\ntable t: USDT\n    bands from <= size < to\n    | from | to | mmr | cum |\n"
    text += rows + "let m: USDT = bracket(t.mmr, n)\n"
    diags = check_text(text)
    assert [(d.code, d.severity.value, d.span.line if d.span else 0) for d in diags] == [("RL0412", "warning", 8)]
    assert diags[0].message == (
        "tier 3 of table `t` states cum 1,300.5, but its rates give 1,300; the engine uses 1,300"
    )


def test_a_unit_declared_in_two_files_is_one_unit(tmp_path: pathlib.Path) -> None:
    part = "units USDT\ntable t: USDT per symbol\n    bands from <= size < to\n    | symbol | from | to | mmr |\n"
    (tmp_path / "A.rules").write_text(part + "    | A | 0 | inf | 1% |\n")
    (tmp_path / "B.rules").write_text(part + "    | B | 0 | inf | 2% |\n")
    main = 'ruleset m\nunits USDT\nimport "*[AB].rules"\ninput s: text\ninput n: USDT\nlet m: USDT = bracket(t[s].mmr, n)\n'
    (tmp_path / "m.rules").write_text(main)
    rs = rulelang.load(str(tmp_path / "m.rules"))
    assert rs.evaluate({"s": "B", "n": "100"})["m"] == Decimal("2")


def test_a_unit_declared_twice_in_one_file_is_an_error() -> None:
    errors = [d for d in check_text("units USDT\nunits BTC, USDT\n") if d.is_error]
    assert [(d.code, d.message) for d in errors] == [("RL0202", "unit `USDT` is declared twice")]
