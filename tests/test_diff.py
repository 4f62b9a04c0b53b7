"""`rulelang diff`: rule changes in words, the impact on a book, the outputs and the CI gate."""

from __future__ import annotations

import json
import pathlib
from decimal import Decimal

import pytest

from rulelang import api
from rulelang.cli import main
from rulelang.diff import Report, diff_rulesets, measure_impact, read_book, render
from tests.helpers import check_ok, dedent

ROOT = pathlib.Path(__file__).resolve().parent.parent

OLD = dedent(
    """
    ruleset margin
        version "1.0.0"

    units USDT

    input symbol: text
    input equity: USDT
    input notional: USDT >= 0

    param warning_line: percent = 300%
        label "Warning line"
    param liquidation_line: percent = 100%
        label "Liquidation line"

    table brackets: USDT per symbol
        label "Brackets"
        bands from <= notional < to
        | symbol  | from      | to        | mmr   |
        | BTCUSDT | 0         | 1_000_000 | 0.5%  |
        | BTCUSDT | 1_000_000 | 5_000_000 | 0.75% |
        | BTCUSDT | 5_000_000 | inf       | 1%    |

    let maintenance_margin: USDT = progressive(brackets[symbol].mmr, notional)
        label "Maintenance margin"
    let adjusted_equity: USDT = equity
        label "Adjusted equity"
    let ratio: percent = if maintenance_margin > 0 then adjusted_equity / maintenance_margin else 0

    levels risk
        label "Risk level"
        liquidation when ratio <= liquidation_line do full_liquidation
        warning when ratio <= warning_line do notify
        otherwise safe
    """
)

# tier 3 narrowed to 5M..10M at 1.25 %, a new tier above 10M, the warning line lowered,
# unsettled fees taken off the equity, the warning restricts new orders
NEW = (
    OLD.replace('version "1.0.0"', 'version "1.1.0"')
    .replace("input notional: USDT >= 0\n", "input notional: USDT >= 0\ninput fees: USDT = 0 USDT\n")
    .replace("= 300%", "= 250%")
    .replace(
        "| BTCUSDT | 5_000_000 | inf       | 1%    |",
        "| BTCUSDT | 5_000_000 | 10_000_000 | 1.25% |\n    | BTCUSDT | 10_000_000 | inf | 1.5% |",
    )
    .replace("let adjusted_equity: USDT = equity\n", "let adjusted_equity: USDT = equity - fees\n")
    .replace("do notify", "do notify, restrict_new_orders")
)

# Hand-computed (maintenance margin progressive; ratio = adjusted equity / maintenance margin):
#   A 1M, equity 40,000:  MM 5,000 both; 800 %: safe → safe
#   B 2M, equity 34,000:  MM 5,000 + 7,500 = 12,500 both; 272 %: warning (<= 300 %) → safe (> 250 %)
#   C 6M, equity 80,000, fees 1,000: old MM 5,000 + 30,000 + 10,000 = 45,000 (177.8 %);
#     new MM 5,000 + 30,000 + 12,500 = 47,500, equity 79,000 (166.3 %): warning → warning, +2,500
#   D 12M, equity 120,000: old MM 5,000 + 30,000 + 70,000 = 105,000 (114.3 %, warning);
#     new MM 5,000 + 30,000 + 62,500 + 30,000 = 127,500 (94.1 %, liquidation), +22,500
#   E notional "lots": cannot be read under either version
#   F 500,000, equity 2,000: MM 2,500, 80 %: liquidation → liquidation
BOOK = [
    {"symbol": "BTCUSDT", "notional": 1_000_000, "equity": 40_000},
    {"symbol": "BTCUSDT", "notional": 2_000_000, "equity": 34_000},
    {"symbol": "BTCUSDT", "notional": 6_000_000, "equity": 80_000, "fees": 1_000},
    {"symbol": "BTCUSDT", "notional": 12_000_000, "equity": 120_000},
    {"symbol": "BTCUSDT", "notional": "lots", "equity": 1},
    {"symbol": "BTCUSDT", "notional": 500_000, "equity": 2_000},
]


@pytest.fixture
def files(tmp_path: pathlib.Path) -> tuple[str, str, str]:
    old, new, book = tmp_path / "old.rules", tmp_path / "new.rules", tmp_path / "book.jsonl"
    old.write_text(OLD, encoding="utf-8")
    new.write_text(NEW, encoding="utf-8")
    book.write_text("".join(json.dumps(a) + "\n" for a in BOOK), encoding="utf-8")
    return str(old), str(new), str(book)


def test_rule_changes_in_words() -> None:
    old, _ = check_ok(OLD)
    new, _ = check_ok(NEW)
    assert [(c.section, c.text, c.details) for c in diff_rulesets(old, new)] == [
        ("ruleset", "version 1.0.0 → 1.1.0", ()),
        ("inputs", "new input fees: USDT = 0 USDT", ()),
        ("params", "Warning line (warning_line): 300% → 250%", ()),
        ("tables", "Brackets (brackets) BTCUSDT tier 3 band 5,000,000 .. inf → 5,000,000 .. 10,000,000", ()),
        ("tables", "Brackets (brackets) BTCUSDT tier 3 mmr 1% → 1.25%", ()),
        ("tables", "Brackets (brackets) BTCUSDT new tier 4 above 10,000,000: mmr 1.5%", ()),
        (
            "definitions",
            "formula of Adjusted equity (adjusted_equity) changed: - fees",
            ("was: equity", "now: equity - fees"),
        ),
        ("levels", "Risk level (risk): warning threshold ratio <= 300% → ratio <= 250%", ()),
        ("levels", "Risk level (risk): warning actions notify → notify, restrict_new_orders", ()),
    ]


def test_no_changes() -> None:
    old, _ = check_ok(OLD)
    assert diff_rulesets(old, old) == []


PROFILES = dedent(
    """
    ruleset p

    units USDT

    input positions: list
        size: USDT >= 0
    input equity: USDT

    param line: percent = 100%
    param fee: percent = 0.1%

    profile vip
        line = 90%

    let need: USDT = sum(positions, size) * fee
    let ratio: percent = if need > 0 then equity / need else 0

    levels risk
        bad when ratio <= line
        otherwise ok
    """
)


def test_inputs_params_profiles_and_levels() -> None:
    new_text = (
        PROFILES.replace("    size: USDT >= 0\n", "    size: USDT > 0\n    side: long | short\n")
        .replace("param fee: percent = 0.1%\n", "param call: percent = 150%\n")
        .replace("line = 90%", "line = 95%\n    call = 140%")
        .replace("* fee", "* 0.2%")
        .replace("    bad when ratio <= line\n", "    bad when ratio <= line\n    watch when ratio <= call do notify\n")
    )
    old, _ = check_ok(PROFILES)
    new, _ = check_ok(new_text)
    assert [c.text for c in diff_rulesets(old, new)] == [
        "input positions: new field side: long | short",
        "input positions: field size: USDT >= 0 → USDT > 0",
        "fee removed (was 0.1%)",
        "new call = 150%",
        "profile vip: line 90% → 95%",
        "profile vip: sets call = 140%",
        "formula of need changed",
        "risk: new level watch (below bad)",
    ]


def test_impact_on_a_hand_made_book(files: tuple[str, str, str]) -> None:
    old_path, new_path, book = files
    old, new = api.load(old_path, cache=False), api.load(new_path, cache=False)
    imp = measure_impact(old, new, read_book(book), top=5)
    assert (imp.read, imp.evaluated, imp.bad) == (6, 5, 1)
    assert imp.bad_samples[0].record == f"{book}:5"
    assert imp.bad_samples[0].version == "both"
    assert imp.ladders["risk"] == ("liquidation", "warning", "safe")
    assert dict(imp.transitions["risk"]) == {
        ("safe", "safe"): 1,
        ("warning", "safe"): 1,
        ("warning", "warning"): 1,
        ("warning", "liquidation"): 1,
        ("liquidation", "liquidation"): 1,
    }
    assert imp.measure == "maintenance_margin"
    assert imp.newly == {"risk": 1}
    assert [(m.record, m.old_level, m.new_level) for m in imp.newly_samples["risk"]] == [
        (f"{book}:4", "warning", "liquidation")
    ]
    assert (imp.total_old, imp.total_new, imp.total_delta) == (Decimal(170_000), Decimal(195_000), Decimal(25_000))
    assert (imp.increased, imp.decreased) == (2, 0)
    assert [(m.record, m.delta) for m in imp.top] == [(f"{book}:4", 22_500), (f"{book}:3", 2_500)]


def test_cli_text_and_gate(files: tuple[str, str, str], capsys: pytest.CaptureFixture[str]) -> None:
    old, new, book = files
    assert main(["diff", old, new, "--accounts", book, "--fail-on", "warning"]) == 0
    out = capsys.readouterr().out
    assert "  Warning line (warning_line): 300% → 250%\n" in out
    assert f"book {book}: 6 account(s) read, 5 evaluated under both versions, 1 could not be evaluated\n" in out
    assert "  warning → liquidation: 1\n  warning → safe: 1\n" in out
    assert "newly at warning or worse (risk): 0\n" in out
    assert "maintenance_margin: total 170,000 USDT → 195,000 USDT (+25,000 USDT); 2 up, 0 down, 3 unchanged\n" in out
    assert f"could not evaluate {book}:5 (both): notional:" in out
    assert out.endswith("--fail-on warning: passed\n")
    assert main(["diff", old, new, "--accounts", book, "--fail-on", "liquidation"]) == 1
    out = capsys.readouterr().out
    assert "newly at liquidation (risk): 1\n" in out
    assert f"  {book}:4: warning → liquidation\n" in out
    assert out.endswith("--fail-on liquidation: FAILED\n")


def test_cli_usage_errors(files: tuple[str, str, str], capsys: pytest.CaptureFixture[str]) -> None:
    old, new, book = files
    assert main(["diff", old, new, "--fail-on", "liquidation"]) == 2
    assert "--fail-on needs --accounts" in capsys.readouterr().err
    assert main(["diff", old, new, "--accounts", book, "--fail-on", "doom"]) == 2
    assert (
        "--fail-on doom: no such level in both versions (levels: risk.liquidation, risk.warning, risk.safe)"
        in capsys.readouterr().err
    )
    assert main(["diff", old, new, "--accounts", book, "--measure", "ratio_x"]) == 2
    assert "--measure ratio_x: not a numeric definition" in capsys.readouterr().err
    assert main(["diff", old, new + ".missing"]) == 2


def test_json_markdown_and_html(files: tuple[str, str, str], capsys: pytest.CaptureFixture[str]) -> None:
    old, new, book = files
    assert main(["diff", old, new, "--accounts", book, "--format", "json", "--fail-on", "risk.liquidation"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["failed"] is True
    assert data["changes"][2] == {
        "section": "params",
        "subject": "warning_line",
        "kind": "changed",
        "text": "Warning line (warning_line): 300% → 250%",
        "details": [],
    }
    risk = data["impact"]["ladders"]["risk"]
    assert risk["transitions"] == [
        {"old": "liquidation", "new": "liquidation", "accounts": 1},
        {"old": "warning", "new": "liquidation", "accounts": 1},
        {"old": "warning", "new": "warning", "accounts": 1},
        {"old": "warning", "new": "safe", "accounts": 1},
        {"old": "safe", "new": "safe", "accounts": 1},
    ]
    assert (risk["gate"], risk["newly"]) == ("liquidation", 1)
    measure = data["impact"]["measure"]
    assert (measure["total_old"], measure["total_new"], measure["total_change"]) == ("170000", "195000", "25000")
    assert measure["top"][0]["change"] == "22500"

    assert main(["diff", old, new, "--accounts", book, "--format", "md"]) == 0
    md = capsys.readouterr().out
    assert "- Warning line (warning\\_line): 300% → 250%\n" in md
    assert "| old \\ new | liquidation | warning | safe |\n|---|---:|---:|---:|\n" in md
    assert "| warning | 1 | 1 | 1 |\n" in md

    out = pathlib.Path(book).with_suffix(".html")
    assert main(["diff", old, new, "--accounts", book, "--format", "html", "-o", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert '<td class="n worse">1</td>' in html
    assert "ratio &lt;= 300% → ratio &lt;= 250%" in html  # autoescaped


def test_html_escapes_user_text() -> None:
    old, _ = check_ok(OLD)
    new, _ = check_ok(OLD.replace('label "Warning line"', 'label "<script>x</script>"').replace("300%", "200%"))
    html = render(Report(old="a", new="b", changes=tuple(diff_rulesets(old, new))), "html")
    assert "<script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt; (warning_line): 300% → 200%" in html


def test_parquet_book(files: tuple[str, str, str], tmp_path: pathlib.Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows = [a for a in BOOK if a["notional"] != "lots"]
    table = pa.table(
        {
            "symbol": [a["symbol"] for a in rows],
            "notional": [float(a["notional"]) for a in rows],
            "equity": [float(a["equity"]) for a in rows],
            "fees": [a.get("fees") for a in rows],
        }
    )
    path = tmp_path / "book.parquet"
    pq.write_table(table, path)
    old, new, _ = files
    imp = measure_impact(api.load(old, cache=False), api.load(new, cache=False), read_book(str(path)))
    assert (imp.read, imp.evaluated, imp.bad) == (5, 5, 0)
    assert imp.total_delta == 25_000
    assert imp.transitions["risk"][("warning", "liquidation")] == 1


# ----------------------------------------------------------------- the sample book

BENCH = ROOT / "rulesets" / "bench" / "account.rules"
SAMPLE = ROOT / "examples" / "book" / "accounts.jsonl"
BTC_TIER_1 = "| BTCUSDT | 0             | 50_000        | 0.4%  | 125x         |"


def test_sample_book_warning_line_raised(tmp_path: pathlib.Path) -> None:
    """Raising the warning line 150 % → 160 % moves exactly the accounts with 150 % < ratio <= 160 % to warning."""
    text = BENCH.read_text(encoding="utf-8")
    assert "param warning_line: percent = 150%" in text
    new = tmp_path / "account.rules"
    new.write_text(text.replace("param warning_line: percent = 150%", "param warning_line: percent = 160%"))
    old_rs, new_rs = api.load(str(BENCH)), api.load(str(new), cache=False)
    imp = measure_impact(old_rs, new_rs, read_book(str(SAMPLE)), measure="maintenance")
    # the justification, computed apart from the diff: each account's margin ratio under the old rules
    between = 0
    for _, data in read_book(str(SAMPLE)):
        r = old_rs.evaluate(data)
        if r.values["has_requirement"] and Decimal("1.5") < r.values["margin_ratio"] <= Decimal("1.6"):
            between += 1
    assert (imp.read, imp.evaluated, imp.bad) == (10_000, 10_000, 0)
    assert between > 100  # the book has accounts near the line
    moved = {k: n for k, n in imp.transitions["risk_level"].items() if k[0] != k[1]}
    assert moved == {("safe", "warning"): between}
    assert imp.newly == {"risk_level": 0}
    assert imp.total_delta == 0 and imp.top == []


def test_sample_book_btc_tier_rate_raised(tmp_path: pathlib.Path) -> None:
    """BTCUSDT tier 1 0.4 % → 0.5 %: each BTCUSDT position pays 0.1 % more on its first 50,000 USDT."""
    text = BENCH.read_text(encoding="utf-8")
    assert BTC_TIER_1 in text
    new = tmp_path / "account.rules"
    new.write_text(text.replace(BTC_TIER_1, BTC_TIER_1.replace("0.4%", "0.5%")))
    old_rs, new_rs = api.load(str(BENCH)), api.load(str(new), cache=False)
    changes = diff_rulesets(old_rs.ir, new_rs.ir)
    assert [c.text for c in changes] == ["Leverage brackets (brackets) BTCUSDT tier 1 mmr 0.4% → 0.5%"]
    imp = measure_impact(old_rs, new_rs, read_book(str(SAMPLE)), measure="total_maintenance_margin", top=3)
    # the justification, from the book alone: 0.1 % of min(notional, 50,000) per BTCUSDT position
    expected = Decimal(0)
    accounts_with_btc = 0
    for _, data in read_book(str(SAMPLE)):
        btc = [p for p in data["positions"] if p["symbol"] == "BTCUSDT"]
        accounts_with_btc += bool(btc)
        for p in btc:
            expected += Decimal("0.001") * min(Decimal(p["quantity"]) * Decimal(p["mark_price"]), Decimal(50_000))
    assert imp.total_delta == expected
    assert imp.increased == accounts_with_btc and imp.decreased == 0
    assert imp.top[0].delta == 150  # three BTCUSDT positions of 50,000 USDT or more
    levels = imp.ladders["risk_level"]
    # a higher requirement never makes an account safer
    assert all(levels.index(b) <= levels.index(a) for a, b in imp.transitions["risk_level"])


def test_a_parameter_change_alone_is_measured_on_the_book(capsys: pytest.CaptureFixture[str]) -> None:
    """One file, the new side with warning_line = 160 %: the accounts with 150 % < ratio <= 160 % move to warning."""
    rs = api.load(str(BENCH))
    between = 0
    for _, data in read_book(str(SAMPLE)):
        r = rs.evaluate(data)
        between += bool(r.values["has_requirement"] and Decimal("1.5") < r.values["margin_ratio"] <= Decimal("1.6"))
    code = main(
        [
            "diff",
            str(BENCH),
            str(BENCH),
            "--accounts",
            str(SAMPLE),
            "--new-param",
            "warning_line=160%",
            "--format",
            "json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["settings"] == ["new version evaluated with warning_line = 160%"]
    assert report["changes"] == []
    moved = [t for t in report["impact"]["ladders"]["risk_level"]["transitions"] if t["old"] != t["new"]]
    assert moved == [{"old": "safe", "new": "warning", "accounts": between}]
    # the same parameter on both sides changes nothing
    code = main(["diff", str(BENCH), str(BENCH), "--accounts", str(SAMPLE), "--param", "warning_line=160%"])
    out = capsys.readouterr().out
    assert code == 0 and "both versions evaluated with warning_line = 160%" in out and "→ warning" not in out


def test_parameter_options_need_a_book_and_known_names(
    files: tuple[str, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    old, new, book = files
    assert main(["diff", old, new, "--param", "x=1"]) == 2
    assert "--param and --profile need --accounts" in capsys.readouterr().err
    assert main(["diff", old, new, "--accounts", book, "--new-profile", "nope"]) == 2
    assert "new version: unknown profile `nope`" in capsys.readouterr().err
