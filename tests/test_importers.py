"""`rulelang import`: exchange JSON → rule tables.

Every fixture in ``tests/fixtures/exchanges`` (copies of public exchange data, each
with its source note) is imported, loaded by a tiny ruleset, and read back tier by
tier with ``lookup``: the values and the number of tiers must be the fixture's own.
The expected values are read from the JSON here, independently of the importers.
"""

from __future__ import annotations

import io
import json
import os
import pathlib
import sys
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

import rulelang
from rulelang.check import check_file
from rulelang.cli import main
from rulelang.fmt import format_text
from rulelang.importers import ImportDataError, Imported, Options, import_data, import_file, write

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "exchanges"
GOLDEN = FIXTURES / "imported"

# (lower, upper or None, {column: value}) per tier, per key
Tiers = dict[str, list[tuple[Decimal, Decimal | None, dict[str, Decimal]]]]


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"), parse_float=Decimal, parse_int=Decimal)


def _d(v: Any) -> Decimal:
    return Decimal(str(v))


def binance_tiers(doc: Any) -> Tiers:
    entries = doc if isinstance(doc, list) else [doc]
    return {
        e["symbol"]: [
            (
                _d(b["notionalFloor"]),
                _d(b["notionalCap"]),
                {"mmr": _d(b["maintMarginRatio"]), "max_leverage": _d(b["initialLeverage"]), "cum": _d(b["cum"])},
            )
            for b in e["brackets"]
        ]
        for e in entries
    }


def okx_tier_rows(doc: Any) -> Tiers:
    out: Tiers = {}
    for r in doc["data"]:
        out.setdefault(r["instFamily"], []).append(
            (
                _d(r["minSz"]),
                _d(r["maxSz"]),
                {"imr": _d(r["imr"]), "mmr": _d(r["mmr"]), "max_leverage": _d(r["maxLever"])},
            )
        )
    return out


def okx_discounts(doc: Any) -> Tiers:
    entries = doc.get("data", [doc])
    out: Tiers = {}
    for e in entries:
        tiers = [
            (_d(t["minAmt"]), _d(t["maxAmt"]) if t["maxAmt"] else None, {"discount": _d(t["discountRate"])})
            for t in e["details"]
        ]
        last_upper = tiers[-1][1]
        if last_upper is not None and "minDiscountRate" in e:  # OKX: the rate beyond the last tier
            tiers.append((last_upper, None, {"discount": _d(e["minDiscountRate"])}))
        out[e["ccy"]] = tiers
    return out


def bybit_tiers(doc: Any) -> Tiers:
    out: Tiers = {}
    for r in doc["result"]["list"]:
        tiers = out.setdefault(r["symbol"], [])
        lower = tiers[-1][1] if tiers else Decimal(0)
        assert lower is not None
        values = {"mmr": _d(r["maintenanceMargin"]), "max_leverage": _d(r["maxLeverage"]), "cum": _d(r["mmDeduction"])}
        tiers.append((lower, _d(r["riskLimitValue"]), values))
    return out


def ccxt_tiers(doc: Any) -> Tiers:
    return {
        symbol: [
            (
                _d(t["minNotional"]),
                _d(t["maxNotional"]),
                {
                    "mmr": _d(t["maintenanceMarginRate"]),
                    "max_leverage": _d(t["maxLeverage"]),
                    "cum": _d(t["info"]["cum"]),
                },
            )
            for t in tiers
        ]
        for symbol, tiers in doc.items()
    }


# fixture → (kind, table name, upper-inclusive, the tiers it holds)
IMPORTED: dict[str, tuple[str, str, bool, Callable[[Any], Tiers]]] = {
    "binance_brackets_BTCUSDT.json": ("binance-brackets", "brackets", False, binance_tiers),
    "binance_brackets_BTCUSDT_2022-02.json": ("binance-brackets", "brackets", False, binance_tiers),
    "binance_brackets_ETHUSDT.json": ("binance-brackets", "brackets", False, binance_tiers),
    "binance_brackets_ETHUSDT_2022-02.json": ("binance-brackets", "brackets", False, binance_tiers),
    "binance_leverage_bracket_doc_example.json": ("binance-brackets", "brackets", False, binance_tiers),
    "okx_position_tiers_BTC-USDT-SWAP.json": ("okx-position-tiers", "tiers", True, okx_tier_rows),
    "okx_position_tiers_ETH-USDT-SWAP_2021-06.json": ("okx-position-tiers", "tiers", True, okx_tier_rows),
    "okx_discount_rate_BTC.json": ("okx-discount-rate", "discounts", True, okx_discounts),
    "okx_discount_rate_BETH_2024-07.json": ("okx-discount-rate", "discounts", True, okx_discounts),
    "okx_discount_rate_USDT_example.json": ("okx-discount-rate", "discounts", True, okx_discounts),
    "bybit_risk_limit_BTCUSDT.json": ("bybit-risk-limit", "risk_limits", True, bybit_tiers),
    "ccxt_leverage_tiers_binance_1000PEPE_1000SATS.json": ("ccxt-leverage-tiers", "leverage_tiers", False, ccxt_tiers),
}
# fixtures that are not tier tables of an importer kind (collateral ratios and asset indexes)
NOT_IMPORTED = {
    "binance_cross_margin_collateral_ratio_examples.json",
    "binance_multi_assets_asset_index_examples.json",
    "binance_multi_assets_collateral_2021-05.json",
}

# the files shipped in rulesets/: (kind, fixture, options, folder)
SHIPPED = [
    ("binance-brackets", "binance_brackets_BTCUSDT.json", Options(date="2024-10-24"), "binance/brackets"),
    ("binance-brackets", "binance_brackets_ETHUSDT.json", Options(date="2024-10-24"), "binance/brackets"),
    ("okx-position-tiers", "okx_position_tiers_ETH-USDT-SWAP_2021-06.json", Options(date="2021-06-11"), "okx/tiers"),
    ("okx-position-tiers", "okx_position_tiers_BTC-USDT-SWAP.json", Options(), "okx/tiers"),
    ("okx-discount-rate", "okx_discount_rate_BETH_2024-07.json", Options(), "okx/discounts"),
    ("okx-discount-rate", "okx_discount_rate_USDT_example.json", Options(), "okx/discounts"),
    ("bybit-risk-limit", "bybit_risk_limit_BTCUSDT.json", Options(), "bybit/risk_limits"),
]


def imported(fixture: str, options: Options | None = None) -> Imported:
    return import_file(IMPORTED[fixture][0], str(FIXTURES / fixture), options or Options())


def _lookup_ruleset(table: str, unit: str, columns: list[str], target: str) -> str:
    lets = "".join(f"let v_{c} = lookup({table}[key].{c}, size)\n" for c in columns)
    return (
        f'ruleset roundtrip\n\nimport t "{target}"\n\ninput key: text\ninput size: {unit} >= 0\n\n'
        f"{lets}let n = tier({table}[key], size)\n"
    )


# ------------------------------------------------------------------ the fixtures


def test_every_fixture_is_imported_or_set_aside() -> None:
    found = {p.name for p in FIXTURES.glob("*.json")}
    assert found == set(IMPORTED) | NOT_IMPORTED


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_every_fixture_has_its_source_note(name: str) -> None:
    note = FIXTURES / name.replace(".json", ".source.txt")
    assert note.is_file() and note.read_text(encoding="utf-8").strip()


@pytest.mark.parametrize("fixture", sorted(IMPORTED))
def test_round_trip(fixture: str, tmp_path: pathlib.Path) -> None:
    _, table, upper_inclusive, expected_of = IMPORTED[fixture]
    expected = expected_of(_load(fixture))
    result = imported(fixture)
    (tmp_path / "table.rules").write_text(result.text(), encoding="utf-8")
    columns = [c.name for c in result.data.columns]
    text = _lookup_ruleset(table, result.data.unit, columns, "table.rules")
    rs = rulelang.load(str(tmp_path / "rt.rules"), text=text)
    groups = rs.ir.table(table).groups()
    assert sorted(groups) == sorted(expected)
    for key, tiers in expected.items():
        assert len(groups[key]) == len(tiers), key
        for number, (lower, upper, values) in enumerate(tiers, start=1):
            # the edge the band includes: its lower one, or its upper one (inside an open last band: lower + 1)
            edge = upper if upper_inclusive else lower
            size = edge if edge is not None else lower + 1
            got = rs.evaluate({"key": key, "size": str(size)})
            assert got["n"] == number, (key, number)
            assert set(values) == set(columns)
            for col, value in values.items():
                assert got[f"v_{col}"] == value, (key, number, col)


@pytest.mark.parametrize("fixture", sorted(IMPORTED))
def test_output_is_canonical_and_checks_alone(fixture: str, tmp_path: pathlib.Path) -> None:
    text = imported(fixture).text()
    assert format_text(text, "t.rules") == text
    path = tmp_path / "t.rules"
    path.write_text(text, encoding="utf-8")
    code = main(["fmt", "--check", str(path)])
    assert code == 0
    _, warnings = check_file(str(path))
    assert warnings == []  # no real fixture states a cum that disagrees with the derivation


@pytest.mark.parametrize("fixture", sorted(IMPORTED))
def test_output_matches_the_golden_file(fixture: str) -> None:
    text = imported(fixture).text()
    golden = GOLDEN / fixture.replace(".json", ".rules")
    if os.environ.get("RULELANG_UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.read_text(encoding="utf-8") == text


def test_every_golden_file_has_its_fixture() -> None:
    assert {p.name for p in GOLDEN.glob("*.rules")} == {f.replace(".json", ".rules") for f in IMPORTED}


# ------------------------------------------------------------------ published figures


def test_binance_2022_btcusdt_published_figures(tmp_path: pathlib.Path) -> None:
    (tmp_path / "brackets.rules").write_text(imported("binance_brackets_BTCUSDT_2022-02.json").text())
    text = (
        'ruleset faq\n\nimport "brackets.rules"\n\ninput notional: USDT >= 0\n\n'
        'let rate: percent = lookup(brackets["BTCUSDT"].mmr, notional)\n'
        'let stated_cum: number = lookup(brackets["BTCUSDT"].cum, notional)\n'
        'let derived_cum: USDT = cum(brackets["BTCUSDT"].mmr, notional)\n'
        'let mm: USDT = bracket(brackets["BTCUSDT"].mmr, notional)\n'
        'let mm_progressive: USDT = progressive(brackets["BTCUSDT"].mmr, notional)\n'
    )
    rs = rulelang.load(str(tmp_path / "faq.rules"), text=text)
    at_264k = rs.evaluate({"notional": "264000"})
    # Binance FAQ: 264,000 USDT is in bracket 3 (1 %), maintenance amount 1,300: 2,640 − 1,300 = 1,340
    assert at_264k["rate"] == Decimal("0.01")
    assert at_264k["stated_cum"] == at_264k["derived_cum"] == Decimal("1300")
    assert at_264k["mm"] == at_264k["mm_progressive"] == Decimal("1340")
    # 500,000 × 1 % − 1,300 = 3,700
    assert rs.evaluate({"notional": "500000"})["mm"] == Decimal("3700")


def test_okx_usdt_discount_example(tmp_path: pathlib.Path) -> None:
    (tmp_path / "discounts.rules").write_text(imported("okx_discount_rate_USDT_example.json").text())
    text = (
        'ruleset okx\n\nimport "discounts.rules"\n\ninput amount: USD >= 0\n\n'
        'let discounted: USD = progressive(discounts["USDT"].discount, amount)\n'
    )
    rs = rulelang.load(str(tmp_path / "okx.rules"), text=text)
    # 5M × 1 + 5M × 0.9 + 1M × 0.8 = 10.3M (OKX's worked example)
    assert rs.evaluate({"amount": "11000000"})["discounted"] == Decimal("10300000")


# ------------------------------------------------------------------ the shipped rulesets


@pytest.mark.parametrize(("kind", "fixture", "options", "folder"), SHIPPED, ids=[s[1] for s in SHIPPED])
def test_shipped_files_are_a_fresh_import(kind: str, fixture: str, options: Options, folder: str) -> None:
    result = import_file(kind, str(FIXTURES / fixture), options)
    for name, text in result.parts():
        assert (ROOT / "rulesets" / folder / name).read_text(encoding="utf-8") == text, name


@pytest.mark.parametrize(("kind", "fixture", "options", "folder"), SHIPPED, ids=[s[1] for s in SHIPPED])
def test_shipped_files_check_alone_and_when_imported(
    kind: str, fixture: str, options: Options, folder: str, tmp_path: pathlib.Path
) -> None:
    result = import_file(kind, str(FIXTURES / fixture), options)
    for name, _ in result.parts():
        path = ROOT / "rulesets" / folder / name
        assert check_file(str(path))[1] == []
        columns = [c.name for c in result.data.columns]
        text = _lookup_ruleset(result.data.name, result.data.unit, columns, str(path))
        _, warnings = check_file(str(tmp_path / "tiny.rules"), text)
        assert warnings == []


# ------------------------------------------------------------------ cum checks


def _binance_2022(change: Callable[[Any], None]) -> bytes:
    doc = json.loads((FIXTURES / "binance_brackets_BTCUSDT_2022-02.json").read_text())
    change(doc)
    return json.dumps(doc).encode()


def test_a_stated_cum_that_disagrees_is_a_warning_naming_the_tier(tmp_path: pathlib.Path) -> None:
    def wrong_cum(doc: Any) -> None:
        doc["brackets"][6]["cum"] = 4703800.5

    result = import_data("binance-brackets", _binance_2022(wrong_cum), "b.json", Options())
    assert result.warnings == ("BTCUSDT bracket 7: cum 4703800.5 stated, 4703800 derived",)
    # the checker says the same of the written file
    path = tmp_path / "BTCUSDT.rules"
    path.write_text(result.text())
    _, warnings = check_file(str(path))
    assert [(w.code, w.span.line if w.span else 0) for w in warnings] == [("RL0412", 17)]
    assert warnings[0].message == (
        "tier 7 for BTCUSDT of table `brackets` states cum 4,703,800.5, but its rates give 4,703,800; "
        "the engine uses 4,703,800"
    )
    assert path.read_text().splitlines()[16].startswith("    | BTCUSDT | 100_000_000 |")


def test_a_changed_rate_is_caught_through_cum() -> None:
    def wrong_rate(doc: Any) -> None:
        doc["brackets"][6]["maintMarginRatio"] = 0.125000005  # cum 4,703,800 no longer follows

    result = import_data("binance-brackets", _binance_2022(wrong_rate), "b.json", Options())
    assert result.warnings == (
        "BTCUSDT bracket 7: cum 4703800 stated, 4703800.5 derived",
        "BTCUSDT bracket 8: cum 9703800 stated, 9703799.5 derived",
        "BTCUSDT bracket 9: cum 49703800 stated, 49703799.5 derived",
        "BTCUSDT bracket 10: cum 199703800 stated, 199703799.5 derived",
    )


def test_bybit_deduction_is_checked() -> None:
    doc = json.loads((FIXTURES / "bybit_risk_limit_BTCUSDT.json").read_text())
    doc["result"]["list"][2]["mmDeduction"] = "3021"
    result = import_data("bybit-risk-limit", json.dumps(doc).encode(), "bybit.json", Options())
    assert result.warnings == ("BTCUSDT tier 3: mmDeduction 3021 stated, 3020 derived",)


def test_okx_discounted_equity_is_checked() -> None:
    # OKX's API example has placeholder disCcyEq values (see the fixture's source note)
    assert imported("okx_discount_rate_BTC.json").warnings == (
        "BTC tier 1: disCcyEq 1000 stated, 19.6 derived",
        "BTC tier 2: disCcyEq 2000 stated, 24.4875 derived",
    )


# ------------------------------------------------------------------ malformed input


def _binance_error(change: Callable[[Any], None]) -> str:
    with pytest.raises(ImportDataError) as info:
        import_data("binance-brackets", _binance_2022(change), "binance.json", Options())
    return str(info.value)


def _delete(doc: Any) -> None:
    del doc["brackets"][3]["notionalCap"]


def _null(doc: Any) -> None:
    doc["brackets"][3]["notionalCap"] = None


def _text(doc: Any) -> None:
    doc["brackets"][2]["maintMarginRatio"] = "abc"


def _swap(doc: Any) -> None:
    doc["brackets"][1], doc["brackets"][2] = doc["brackets"][2], doc["brackets"][1]


def _gap(doc: Any) -> None:
    doc["brackets"][2]["notionalFloor"] = 260000


def _overlap(doc: Any) -> None:
    doc["brackets"][2]["notionalFloor"] = 240000


def _upside_down(doc: Any) -> None:
    doc["brackets"][0]["notionalCap"] = 0


def _no_brackets(doc: Any) -> None:
    doc["brackets"] = []


def _rate_above_one(doc: Any) -> None:
    doc["brackets"][1]["maintMarginRatio"] = 1.5


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_delete, "brackets[3].notionalCap: expected a number, got nothing (the field is missing)"),
        (_null, "brackets[3].notionalCap: expected a number, got null"),
        (_text, 'brackets[2].maintMarginRatio: expected a number, got "abc"'),
        (
            _swap,
            "brackets[2].notionalFloor: brackets out of order: this bracket starts at 50000, below the start of "
            "the one before it (brackets[1], from 250000); list them from the smallest",
        ),
        (
            _gap,
            "brackets[2].notionalFloor: a gap: this bracket starts at 260000, but the one before it (brackets[1]) "
            "ends at 250000; expected 250000",
        ),
        (
            _overlap,
            "brackets[2].notionalFloor: an overlap: this bracket starts at 240000, but the one before it "
            "(brackets[1]) ends at 250000; expected 250000",
        ),
        (_upside_down, "brackets[0].notionalCap: this bracket ends at 0, which is not above its start 0"),
        (_no_brackets, "brackets: expected a list of brackets with at least one entry, got an empty list"),
        (
            _rate_above_one,
            "brackets[1]: the imported table does not check: rate `mmr` for BTCUSDT is 150%, outside 0% to 100%",
        ),
    ],
    ids=lambda v: v.__name__.strip("_") if callable(v) else "",
)
def test_malformed_binance_input_names_the_json_path(change: Callable[[Any], None], message: str) -> None:
    assert _binance_error(change) == f"binance.json: {message}"


def _error(kind: str, doc: Any, options: Options | None = None) -> str:
    data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    with pytest.raises(ImportDataError) as info:
        import_data(kind, data, "x.json", options or Options())
    return str(info.value)


def test_a_list_of_symbols_names_the_entry() -> None:
    doc = [_load("binance_brackets_ETHUSDT_2022-02.json"), _load("binance_brackets_BTCUSDT_2022-02.json")]
    both = json.loads(json.dumps(doc, default=str))
    result = import_data("binance-brackets", json.dumps(both).encode(), "all.json", Options())
    assert [t.key for t in result.data.tier_sets] == ["BTCUSDT", "ETHUSDT"]  # sorted, whatever the order
    both[1]["brackets"][4]["cum"] = None
    assert _error("binance-brackets", both) == "x.json: [1].brackets[4].cum: expected a number, got null"
    both[1]["symbol"] = "ETHUSDT"
    assert _error("binance-brackets", both) == "x.json: [1].symbol: ETHUSDT appears twice (also at [0].symbol)"


def test_not_json() -> None:
    assert _error("binance-brackets", b'{"symbol": "BTCUSDT",') == (
        "x.json: not valid JSON: Expecting property name enclosed in double quotes at line 1 column 22"
    )
    assert _error("binance-brackets", b'{"symbol": NaN}') == "x.json: not valid JSON: `NaN` is not a number JSON allows"


def _okx_eth() -> Any:
    return json.loads((FIXTURES / "okx_position_tiers_ETH-USDT-SWAP_2021-06.json").read_text())


def test_okx_integer_tiers_are_joined_and_inconsistent_edges_rejected() -> None:
    doc = _okx_eth()
    doc["data"][1]["minSz"] = "3002"
    assert _error("okx-position-tiers", doc) == (
        "x.json: data[1].minSz: a gap: this tier starts at 3002, but the one before it (data[0]) ends at 3000; "
        "expected 3000 or 3001"
    )
    doc = _okx_eth()
    doc["data"][2]["minSz"] = "6000"  # tier 2 steps by 1, tier 3 by 0
    assert _error("okx-position-tiers", doc) == (
        "x.json: data[2].minSz: inconsistent edges: this tier starts at the end of the one before it + 0, "
        "but earlier ones start at the end of the one before + 1"
    )
    doc = _okx_eth()
    doc["data"][1]["minSz"], doc["data"][2]["minSz"] = "3000", "6000"  # the continuous form is read too
    assert import_data("okx-position-tiers", json.dumps(doc).encode(), "x.json", Options()).text() == (
        imported("okx_position_tiers_ETH-USDT-SWAP_2021-06.json")
        .text()
        .replace("sha256 7aa549aa87ec", "sha256 " + _sha(json.dumps(doc).encode()))
        .replace("okx_position_tiers_ETH-USDT-SWAP_2021-06.json", "x.json")
        .replace("# Data as of 2021-06 (from the file name).\n", "")
        .replace("# OKX lists integer tiers (0 to 3,000, 3,001 to 6,000); each boundary is written once here.\n", "")
    )


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()[:12]


def test_error_responses_are_reported() -> None:
    assert _error("okx-position-tiers", {"code": "51001", "msg": "Instrument ID does not exist", "data": []}) == (
        "x.json: code: the response is an error (code 51001): Instrument ID does not exist"
    )
    assert _error("bybit-risk-limit", {"retCode": 10001, "retMsg": "params error", "result": {}}) == (
        "x.json: retCode: the response is an error (retCode 10001): params error"
    )


def test_bybit_tiers_out_of_order() -> None:
    doc = json.loads((FIXTURES / "bybit_risk_limit_BTCUSDT.json").read_text())
    rows = doc["result"]["list"]
    rows[1], rows[2] = rows[2], rows[1]
    assert _error("bybit-risk-limit", doc) == (
        "x.json: result.list[2].riskLimitValue: tiers out of order: riskLimitValue 2600000 is not above the one "
        "before it (result.list[1].riskLimitValue: 3200000); list them from the smallest"
    )


def test_ccxt_mixed_currencies_need_a_choice() -> None:
    doc = _load("ccxt_leverage_tiers_binance_1000PEPE_1000SATS.json")
    doc = json.loads(json.dumps(doc, default=float))
    for tier in doc["1000SATS/USDT:USDT"]:
        tier["currency"] = "USDC"
    assert _error("ccxt-leverage-tiers", doc) == (
        'x.json: ["1000SATS/USDT:USDT"][0].currency: mixed units: USDC here, USDT at ["1000PEPE/USDT:USDT"][0].currency; '
        "one table has one unit: pass --only to import one currency at a time, or --unit"
    )
    only = import_data("ccxt-leverage-tiers", json.dumps(doc).encode(), "x.json", Options(only=("1000SATS/USDT:USDT",)))
    assert only.data.unit == "USDC"
    assert _error("ccxt-leverage-tiers", doc, Options(only=("BTC/USDT:USDT",))) == (
        "x.json: --only BTC/USDT:USDT: no symbol BTC/USDT:USDT in the data (it has 1000PEPE/USDT:USDT, 1000SATS/USDT:USDT)"
    )


def test_options_are_checked() -> None:
    doc = _load("binance_brackets_BTCUSDT.json")
    data = json.dumps(doc, default=float).encode()
    for options, message in [
        (Options(date="24 Oct 2024"), "--date 24 Oct 2024: expected YYYY-MM-DD (or YYYY-MM)"),
        (Options(table="my-table"), "--table my-table: expected a name (letters, digits and _, not first a digit)"),
        (Options(unit="1INCH"), "--unit 1INCH: expected a name (letters, digits and _, not first a digit)"),
        (
            Options(upper_inclusive=True),
            "--bands applies to ccxt-leverage-tiers only: binance-brackets data says which end is inclusive",
        ),
    ]:
        with pytest.raises(ImportDataError) as info:
            import_data("binance-brackets", data, "x.json", options)
        assert str(info.value) == message


# ------------------------------------------------------------------ options and output


def test_options_change_the_table_and_show_in_the_header() -> None:
    text = imported(
        "ccxt_leverage_tiers_binance_1000PEPE_1000SATS.json",
        Options(table="binance_tiers", unit="USDT_M", upper_inclusive=False, only=("1000SATS/USDT:USDT",)),
    ).text()
    lines = text.splitlines()
    assert lines[0] == "# Leverage tiers from ccxt for 1000SATS/USDT:USDT"
    assert lines[1].startswith(
        "# Imported by `rulelang import ccxt-leverage-tiers --table binance_tiers --unit USDT_M --bands lower "
        "--only 1000SATS/USDT:USDT` from ccxt_leverage_tiers_binance_1000PEPE_1000SATS.json (sha256 "
    )
    assert "table binance_tiers: USDT_M per symbol" in lines
    assert '"1000PEPE' not in text


def test_ccxt_upper_inclusive() -> None:
    text = imported("ccxt_leverage_tiers_binance_1000PEPE_1000SATS.json", Options(upper_inclusive=True)).text()
    assert "    bands from < notional <= to" in text.splitlines()


def test_dates_come_from_the_option_the_data_or_the_file_name() -> None:
    def as_of(fixture: str, options: Options | None = None) -> list[str]:
        return [line for line in imported(fixture, options).text().splitlines() if "as of" in line]

    assert as_of("binance_brackets_BTCUSDT.json") == []
    assert as_of("binance_brackets_BTCUSDT.json", Options(date="2024-10-24")) == ["# Data as of 2024-10-24."]
    assert as_of("binance_brackets_BTCUSDT_2022-02.json") == ["# Data as of 2022-02 (from the file name)."]
    assert as_of("okx_discount_rate_BETH_2024-07.json") == ["# Data as of 2024-07-18 (from `effective` in the file)."]
    doc = json.loads((FIXTURES / "bybit_risk_limit_BTCUSDT.json").read_text())
    doc["time"] = 1672054488010
    text = import_data("bybit-risk-limit", json.dumps(doc).encode(), "b.json", Options()).text()
    assert "# Data as of 2022-12-26 (from `time` in the response)." in text.splitlines()


def test_without_units_line_the_importing_ruleset_declares_the_unit(tmp_path: pathlib.Path) -> None:
    fixture = "ccxt_leverage_tiers_binance_1000PEPE_1000SATS.json"
    parts = write(imported(fixture, Options(units_line=False)), str(tmp_path / "tiers") + "/")
    assert [pathlib.Path(p).name for p in parts] == ["1000PEPE_USDT_USDT.rules", "1000SATS_USDT_USDT.rules"]
    assert all("units" not in pathlib.Path(p).read_text() for p in parts)
    text = "units USDT\n\n" + _lookup_ruleset("leverage_tiers", "USDT", ["mmr"], "tiers/*.rules").replace(
        "import t", "import tiers"
    )
    rs = rulelang.load(str(tmp_path / "rt.rules"), text=text)
    one = rulelang.load(str(tmp_path / "one.rules"), text=_one_file_ruleset(tmp_path, fixture))
    # the parts merge into the same table as the single file
    assert rs.ir.table("leverage_tiers").tiers == one.ir.table("leverage_tiers").tiers
    got = rs.evaluate({"key": "1000SATS/USDT:USDT", "size": "300000"})
    assert (got["v_mmr"], got["n"]) == (Decimal("0.025"), 4)


def _one_file_ruleset(tmp_path: pathlib.Path, fixture: str) -> str:
    (tmp_path / "one_table.rules").write_text(imported(fixture).text())
    return _lookup_ruleset("leverage_tiers", "USDT", ["mmr"], "one_table.rules")


def test_parts_that_each_declare_their_unit_can_be_imported_together(tmp_path: pathlib.Path) -> None:
    write(imported("ccxt_leverage_tiers_binance_1000PEPE_1000SATS.json"), str(tmp_path / "tiers") + "/")
    text = _lookup_ruleset("leverage_tiers", "USDT", ["mmr"], "tiers/*.rules")
    rulelang.load(str(tmp_path / "rt.rules"), text=text)


def test_keys_that_would_share_a_file_name_are_an_error() -> None:
    doc = _load("ccxt_leverage_tiers_binance_1000PEPE_1000SATS.json")
    doc = json.loads(json.dumps(doc, default=float))
    doc["1000PEPE/USDT/USDT"] = doc["1000PEPE/USDT:USDT"]
    result = import_data("ccxt-leverage-tiers", json.dumps(doc).encode(), "x.json", Options())
    with pytest.raises(ImportDataError) as info:
        result.parts()
    assert str(info.value) == (
        "x.json: 1000PEPE/USDT/USDT and 1000PEPE/USDT:USDT would both be written to 1000PEPE_USDT_USDT.rules: "
        "write one file with every key (-o FILE), or pick one with --only"
    )
    assert result.text().count('"1000PEPE/USDT/USDT"') == 9  # one file holds them all


def test_determinism(tmp_path: pathlib.Path) -> None:
    for fixture in IMPORTED:
        assert imported(fixture).text() == imported(fixture).text()
    path = str(FIXTURES / "bybit_risk_limit_BTCUSDT.json")
    assert main(["import", "bybit-risk-limit", path, "-o", str(tmp_path / "a.rules")]) == 0
    assert main(["import", "bybit-risk-limit", path, "-o", str(tmp_path / "b.rules")]) == 0
    assert (tmp_path / "a.rules").read_bytes() == (tmp_path / "b.rules").read_bytes()


# ------------------------------------------------------------------ the command


def test_cli_writes_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(FIXTURES / "binance_brackets_BTCUSDT_2022-02.json")
    assert main(["import", "binance-brackets", path]) == 0
    out, err = capsys.readouterr()
    assert out == imported("binance_brackets_BTCUSDT_2022-02.json").text()
    assert err == ""


def test_cli_one_file_per_key_and_one_file(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(FIXTURES / "ccxt_leverage_tiers_binance_1000PEPE_1000SATS.json")
    folder = tmp_path / "new" / "tiers"
    assert main(["import", "ccxt-leverage-tiers", path, "-o", f"{folder}/"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["1000PEPE_USDT_USDT.rules", "1000SATS_USDT_USDT.rules"]
    pepe = (folder / "1000PEPE_USDT_USDT.rules").read_text()
    assert pepe.splitlines()[0] == "# Leverage tiers from ccxt for 1000PEPE/USDT:USDT"
    assert '"1000SATS' not in pepe
    # an existing folder without the trailing slash is a folder too
    assert main(["import", "ccxt-leverage-tiers", path, "-o", str(folder), "--only", "1000SATS/USDT:USDT"]) == 0
    single = tmp_path / "all.rules"
    assert main(["import", "ccxt-leverage-tiers", path, "-o", str(single)]) == 0
    assert single.read_text() == imported("ccxt_leverage_tiers_binance_1000PEPE_1000SATS.json").text()
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"wrote {folder}/1000PEPE_USDT_USDT.rules",
        f"wrote {folder}/1000SATS_USDT_USDT.rules",
        f"wrote {folder}/1000SATS_USDT_USDT.rules",
        f"wrote {single}",
    ]


def test_cli_reports_warnings_and_errors(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = json.loads((FIXTURES / "binance_brackets_BTCUSDT_2022-02.json").read_text())
    doc["brackets"][6]["cum"] = 4703800.5
    bad_cum = tmp_path / "binance.json"
    bad_cum.write_text(json.dumps(doc))
    assert main(["import", "binance-brackets", str(bad_cum), "-o", str(tmp_path / "b.rules")]) == 0
    assert capsys.readouterr().err.splitlines() == [
        f"{bad_cum}: warning: BTCUSDT bracket 7: cum 4703800.5 stated, 4703800 derived",
        f"wrote {tmp_path / 'b.rules'}",
    ]
    assert main(["check", str(tmp_path / "b.rules")]) == 0  # a warning does not fail the check
    assert "warning[RL0412]: tier 7 for BTCUSDT" in capsys.readouterr().err
    doc["brackets"][3]["notionalCap"] = None
    bad_cum.write_text(json.dumps(doc))
    assert main(["import", "binance-brackets", str(bad_cum)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"rulelang: {bad_cum}: brackets[3].notionalCap: expected a number, got null\n"
    assert main(["import", "binance-brackets", str(tmp_path / "missing.json")]) == 2
    assert (
        capsys.readouterr().err
        == f"rulelang: {tmp_path / 'missing.json'}: cannot read the file: No such file or directory\n"
    )


def test_cli_reads_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    data = (FIXTURES / "okx_discount_rate_USDT_example.json").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert main(["import", "okx-discount-rate", "-"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].startswith("# Imported by `rulelang import okx-discount-rate` from stdin (sha256 ")
    assert out.split("\n", 2)[2] == imported("okx_discount_rate_USDT_example.json").text().split("\n", 2)[2]


def test_a_note_about_one_key_goes_only_in_its_file() -> None:
    doc = [_load("binance_leverage_bracket_doc_example.json"), _load("binance_brackets_BTCUSDT.json")]
    data = json.dumps(doc, default=str).encode()
    result = import_data("binance-brackets", data, "all.json", Options())
    note = (
        "# ETHUSDT: notionalCoef 1.5: these brackets were adjusted for one account (Binance's user bracket multiplier)"
    )
    parts = dict(result.parts())
    assert note in parts["ETHUSDT.rules"].splitlines()
    assert "notionalCoef" not in parts["BTCUSDT.rules"]
    assert note in result.text().splitlines()


def test_text_that_would_break_a_line_is_refused() -> None:
    doc = json.loads((FIXTURES / "bybit_risk_limit_BTCUSDT.json").read_text())
    doc["result"]["list"][0]["symbol"] = "BTCUSDT\nunits BTC"
    assert _error("bybit-risk-limit", doc) == (
        'x.json: result.list[0].symbol: expected a non-empty text without control characters, got "BTCUSDT\\nunits BTC"'
    )
    data = (FIXTURES / "okx_discount_rate_USDT_example.json").read_bytes()
    text = import_data("okx-discount-rate", data, "a\nb.json", Options()).text()
    assert '# Imported by `rulelang import okx-discount-rate` from "a\\nb.json" (sha256 ' in text


def test_absurd_numbers_are_refused() -> None:
    doc = json.loads((FIXTURES / "bybit_risk_limit_BTCUSDT.json").read_text())
    doc["result"]["list"][19]["riskLimitValue"] = "1e999999999"
    assert _error("bybit-risk-limit", doc) == (
        "x.json: result.list[19].riskLimitValue: expected a number between 1e-100 and 1e100 in size, got 1E+999999999"
    )
    doc["result"]["list"][19]["riskLimitValue"] = "Infinity"
    assert (
        _error("bybit-risk-limit", doc) == 'x.json: result.list[19].riskLimitValue: expected a number, got "Infinity"'
    )
