"""`rulelang test` over rule files and scenario files: output, JUnit XML, coverage; `rulelang cases`."""

from __future__ import annotations

import json
import pathlib
import xml.etree.ElementTree as ET

import pytest

from rulelang.cli import main

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "tests" / "scenarios"
MARGIN = SCENARIOS / "margin.rules"

Capsys = pytest.CaptureFixture[str]

OFF_BY_ONE = """\
case,position_btc,price,equity,positions,expect:maintenance,expect:risk,expect:ratio~0.001%
off by one,50,20000,10000,[],5001,safe,199.99%
right,50,20000,10000,[],5000,warning,200%
"""


@pytest.fixture(autouse=True)
def _no_load_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    # the load cache keys a ruleset by its absolute path but keeps the spelling of the first load in its
    # locations; these tests read locations as the command line spells them
    monkeypatch.setenv("RULELANG_CACHE", "0")


def run(capsys: Capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def folder(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """A folder holding a copy of margin.rules, made the current one so locations are short."""
    (tmp_path / "margin.rules").write_text(MARGIN.read_text())
    monkeypatch.chdir(tmp_path)
    return tmp_path


# ----------------------------------------------------------------- running cases


def test_every_example_and_scenario_row_runs(capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, out, err = run(capsys, "test", "tests/scenarios", "-v")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "PASS tests/scenarios/book.cases.yaml:7 two positions, nested",
        "PASS tests/scenarios/book.cases.yaml:21 twenty digits stay exact",
        "PASS tests/scenarios/cases.jsonl:1 a ruleset column",
        "PASS tests/scenarios/margin.cases.csv:2 at the 50 BTC edge",
        "PASS tests/scenarios/margin.cases.csv:3 nothing held",
        "PASS tests/scenarios/margin.cases.csv:4 the strict profile warns at 250%",
        "PASS tests/scenarios/margin.cases.csv:5 a raised liquidation line",
        "PASS tests/scenarios/margin.cases.csv:6 120 BTC: 142.86% within 0.01%",
        "PASS tests/scenarios/margin.rules:46:1 120 BTC at 20,000",
        "9 passed, 0 failed",
    ]


def test_without_scenario_files_the_output_is_as_before(capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, out, _ = run(capsys, "test", "tests/corpus/good/progressive_btc.rules", "rulesets/okx/tiered_margin.rules")
    assert (code, out) == (0, "13 passed, 0 failed\n")


def test_a_failure_shows_expected_actual_difference_and_trace(capsys: Capsys, folder: pathlib.Path) -> None:
    (folder / "margin.cases.csv").write_text(OFF_BY_ONE)
    code, out, _ = run(capsys, "test", "margin.cases.csv")
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "FAIL margin.cases.csv:2 off by one"
    # 50 BTC: 50 × 0.5% = 0.25 BTC; × 20,000 = 5,000 USDT, not 5,001
    assert lines[1:15] == [
        "  maintenance: expected 5001 USDT, got 5000 USDT; difference -1 USDT",
        "      maintenance_btc = 0.25 BTC",
        "        formula: progressive(btc_tiers.mmr, position_btc)   [margin.rules:35]",
        "        input position_btc = 50 BTC",
        "        table btc_tiers, column mmr: 50 charged slice by slice (progressive), 2 tier(s):",
        "          tier 1: 50 × 0.5% = 0.25",
        "          tier 2: 0 × 1% = 0",
        "          total = 0.25 + 0 = 0.25",
        "",
        "      maintenance = 5000 USDT",
        "        formula: maintenance_btc * price   [margin.rules:36]",
        "        definition maintenance_btc = 0.25 BTC",
        "        input price = 20000 USDT/BTC",
        "  risk: expected safe, got warning",
    ]
    # 10,000 / 5,000 = 200% ≤ the 200% warning line; 200% − 199.99% = 0.0001 > 0.00001
    assert "  ratio: expected 199.99%, got 200%; difference 0.01% (allowed ± 0.001%)" in lines
    # the later differences follow from the first: their traces only with -v
    assert "        warning: maintenance > 0 and ratio <= warning_line -> true" not in lines
    assert lines[-2:] == ["  (-v explains every differing value)", "1 passed, 1 failed"]
    code, out, _ = run(capsys, "test", "margin.cases.csv", "-v")
    assert "        warning: maintenance > 0 and ratio <= warning_line -> true" in out.splitlines()


def test_rows_that_cannot_run_fail_and_say_why(capsys: Capsys, folder: pathlib.Path) -> None:
    (folder / "margin.cases.csv").write_text("case,postion_btc,expect:risk\ntypo,1,safe\n")
    (folder / "cases.csv").write_text("case,position_btc\nwhich ruleset?,1\n")
    (folder / "broken.rules").write_text("ruleset broken\n\nlet a: number = b\n")
    (folder / "broken.cases.jsonl").write_text('{"case": "on a broken ruleset"}\n')
    (folder / "unreadable.cases.json").write_text("{")
    code, out, err = run(capsys, "test", ".")
    assert code == 1
    assert out.splitlines() == [
        "FAIL ./broken.cases.jsonl:1 on a broken ruleset",
        "  (case): the ruleset broken.rules has errors",
        "FAIL ./cases.csv:2 which ruleset?",
        "  (case): cannot tell which ruleset to run: add a `ruleset` column or key, or put the rule file beside"
        " this one with the same stem (usdm.cases.csv → usdm.rules)",
        "FAIL ./margin.cases.csv:2 typo",
        "  (case): `postion_btc` is not an input; did you mean `position_btc`?",
        "1 passed, 3 failed, 1 ruleset(s) with errors, 1 scenario file(s) that cannot be read",
    ]
    assert "broken.rules:3:17: error[RL0201]: undefined name `b`" in err
    assert "rulelang: ./unreadable.cases.json: not valid JSON: Expecting property name enclosed in double quotes" in err


def test_a_missing_path_is_a_usage_error(capsys: Capsys, folder: pathlib.Path) -> None:
    code, _, err = run(capsys, "test", "nothing.cases.csv")
    assert (code, err) == (2, "rulelang: nothing.cases.csv: no such file\n")


# ----------------------------------------------------------------- JUnit XML


def test_junit_xml_has_a_suite_per_file_and_a_case_per_row(capsys: Capsys, folder: pathlib.Path) -> None:
    (folder / "margin.cases.csv").write_text(OFF_BY_ONE)
    code, _, _ = run(capsys, "test", "margin.rules", "margin.cases.csv", "--junit-xml", "out.xml")
    assert code == 1
    root = ET.parse(folder / "out.xml").getroot()
    assert (root.tag, root.get("tests"), root.get("failures"), root.get("errors")) == ("testsuites", "3", "1", "0")
    rules, scenarios = root.findall("testsuite")
    assert (rules.get("name"), rules.get("tests"), rules.get("failures")) == ("margin.rules", "1", "0")
    assert [(c.get("classname"), c.get("name"), c.get("line")) for c in rules.iter("testcase")] == [
        ("margin", "120 BTC at 20,000", "46")
    ]
    wrong, right = scenarios.findall("testcase")
    assert (wrong.get("classname"), wrong.get("name"), wrong.get("file"), wrong.get("line")) == (
        "margin.cases",
        "off by one",
        "margin.cases.csv",
        "2",
    )
    failure = wrong.find("failure")
    assert failure is not None
    assert failure.get("message") == "maintenance: expected 5001 USDT, got 5000 USDT; difference -1 USDT"
    assert failure.text is not None
    assert failure.text.splitlines()[:2] == [
        "maintenance: expected 5001 USDT, got 5000 USDT; difference -1 USDT",
        "    maintenance_btc = 0.25 BTC",
    ]
    assert right.find("failure") is None


def test_junit_xml_reports_a_broken_ruleset_as_an_error(capsys: Capsys, folder: pathlib.Path) -> None:
    (folder / "broken.rules").write_text("ruleset broken\n\nlet a: number = b\n")
    code, _, _ = run(capsys, "test", "broken.rules", "--junit-xml", "out.xml")
    assert code == 1
    suite = ET.parse(folder / "out.xml").getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("errors")) == ("1", "1")
    error = suite.find("testcase/error")
    assert error is not None
    assert error.get("message") == "broken.rules: the ruleset has errors"
    assert "broken.rules:3:17: error[RL0201]: undefined name `b`" in (error.text or "")


# ----------------------------------------------------------------- coverage


COVERAGE_OF_THE_EXAMPLE = """\
ruleset       cases  tier rows  level rungs  branches  total
------------  -----  ---------  -----------  --------  -----
margin.rules      1        2/6          1/3       1/2  36.3%

never hit in margin.rules:
  margin.rules:24: table btc_tiers row 1 (0 .. 50)
  margin.rules:25: table btc_tiers row 2 (50 .. 100)
  margin.rules:32: table symbol_tiers[BTC] row 2 (10 .. inf)
  margin.rules:33: table symbol_tiers[ETH] row 1 (0 .. inf)
  margin.rules:42: ladder risk level liquidation
  margin.rules:44: ladder risk level safe
  margin.rules:39: ratio: `if maintenance > 0` else
1 passed, 0 failed
"""


def test_coverage_of_the_example_alone(capsys: Capsys, folder: pathlib.Path) -> None:
    # 120 BTC lands in btc_tiers row 3; its one BTC position of 5 in symbol_tiers[BTC] row 1;
    # 30,000 / 21,000 = 142.9% is a warning, through the `then` branch: 4 of 11 items, 36.36…%
    code, out, _ = run(capsys, "test", "margin.rules", "--coverage")
    assert (code, out) == (0, COVERAGE_OF_THE_EXAMPLE)


def test_the_scenarios_cover_every_row_level_and_branch(capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, out, _ = run(capsys, "test", "tests/scenarios", "--coverage", "--fail-under", "100")
    assert code == 0
    assert out.splitlines() == [
        "ruleset                       cases  tier rows  level rungs  branches   total",
        "----------------------------  -----  ---------  -----------  --------  ------",
        "tests/scenarios/margin.rules      9        6/6          3/3       2/2  100.0%",
        "9 passed, 0 failed",
    ]


def test_coverage_json_and_fail_under(capsys: Capsys, folder: pathlib.Path) -> None:
    code, out, _ = run(capsys, "test", "margin.rules", "--coverage-json", "cov.json", "--fail-under", "36.4")
    assert code == 1
    assert out.splitlines()[-2:] == ["coverage 36.3% is below --fail-under 36.4%", "1 passed, 0 failed"]
    report = json.loads((folder / "cov.json").read_text())
    assert (report["hit"], report["total"], report["percent"]) == (4, 11, "36.3")
    (ruleset,) = report["rulesets"]
    assert ruleset["tier_rows"] == {"hit": 2, "total": 6}
    assert ruleset["level_rungs"] == {"hit": 1, "total": 3}
    assert ruleset["branches"] == {"hit": 1, "total": 2}
    assert ruleset["items"][2] == {
        "kind": "row",
        "owner": "btc_tiers",
        "what": "table btc_tiers row 3 (100 .. inf)",
        "location": "margin.rules:26",
        "hits": 1,
    }
    code, _, _ = run(capsys, "test", "margin.rules", "--fail-under", "36.3%")
    assert code == 0


def test_a_bad_fail_under_is_a_usage_error(capsys: Capsys, folder: pathlib.Path) -> None:
    code, _, err = run(capsys, "test", "margin.rules", "--fail-under", "most")
    assert (code, err) == (2, "rulelang: --fail-under expects a percentage such as 90, got 'most'\n")


# ----------------------------------------------------------------- rulelang cases


def test_cases_writes_boundary_cases_that_pass_until_the_rules_change(capsys: Capsys, folder: pathlib.Path) -> None:
    code, _, err = run(capsys, "cases", "margin.rules", "-o", "margin.cases.csv")
    assert code == 0
    assert err.splitlines() == [
        "skipped: risk liquidation: maintenance > 0 (maintenance one tick (1 USDT) below 0): cannot be reached"
        " exactly by changing position_btc, price",
        "skipped: risk warning: maintenance > 0 (maintenance one tick (1 USDT) below 0): cannot be reached"
        " exactly by changing position_btc, price",
        "wrote 22 case(s) to margin.cases.csv",
    ]
    code, out, _ = run(capsys, "test", "margin.cases.csv")
    assert (code, out) == (0, "22 passed, 0 failed\n")
    # the second band's rate goes from 1% to 1.2%: every case above 50 BTC moves
    rules = folder / "margin.rules"
    rules.write_text(rules.read_text().replace("| 50   | 100 | 1%   |", "| 50   | 100 | 1.2% |"))
    code, out, _ = run(capsys, "test", "margin.cases.csv")
    assert code == 1
    assert out.splitlines()[-1] == "5 passed, 17 failed"
    failed = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert failed[:2] == [
        "FAIL margin.cases.csv:6 btc_tiers: position_btc = 51 (one tick above 50)",
        "FAIL margin.cases.csv:7 btc_tiers: position_btc = 99 (one tick below 100)",
    ]
    # 51 BTC: 50 × 0.5% + 1 × 1.2% = 0.262, was 0.26
    assert "  maintenance_btc: expected 0.26 BTC, got 0.262 BTC; difference 0.002 BTC" in out
    # 99 BTC: 0.25 + 49 × 1.2% = 0.838, was 0.74; × 20,000 = 16,760, was 14,800
    assert "  maintenance_btc: expected 0.74 BTC, got 0.838 BTC; difference 0.098 BTC" in out
    assert "  maintenance: expected 14800 USDT, got 16760 USDT; difference 1960 USDT" in out


def test_cases_tick_options(capsys: Capsys, folder: pathlib.Path) -> None:
    code, out, _ = run(capsys, "cases", "margin.rules", "--tick", "btc_tiers=10", "--tick", "0.5", "--level-tick", "5%")
    assert code == 0
    names = [line.split(",")[0] for line in out.splitlines()[1:]]
    assert names[:9] == [
        "btc_tiers: position_btc = 0 (at the edge); risk liquidation: maintenance > 0 (maintenance at 0);"
        " risk warning: maintenance > 0 (maintenance at 0)",
        "btc_tiers: position_btc = 10 (one tick above 0)",
        "btc_tiers: position_btc = 40 (one tick below 50)",
        "btc_tiers: position_btc = 50 (at the edge)",
        "btc_tiers: position_btc = 60 (one tick above 50)",
        "btc_tiers: position_btc = 90 (one tick below 100)",
        "btc_tiers: position_btc = 100 (at the edge)",
        "btc_tiers: position_btc = 110 (one tick above 100)",
        "symbol_tiers[BTC]: size = 0 (at the edge)",
    ]
    assert "symbol_tiers[BTC]: size = 9.5 (one tick below 10)" in names
    assert "risk warning: ratio <= warning_line (ratio one tick (5%) below 200%)" in names


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--tick", "btc_tier=1"], "rulelang: --tick: no table btc_tier in margin.rules\n"),
        (["--tick", "one"], "rulelang: --tick/--level-tick: expected a number, got 'one'\n"),
        (["--base", "none.json"], "rulelang: none.json: cannot open: No such file or directory\n"),
    ],
)
def test_cases_usage_errors(capsys: Capsys, folder: pathlib.Path, argv: list[str], message: str) -> None:
    code, _, err = run(capsys, "cases", "margin.rules", *argv)
    assert (code, err) == (2, message)


def test_cases_from_a_base_account_in_every_format(capsys: Capsys, folder: pathlib.Path) -> None:
    # 8 btc_tiers edges (0, 1, 49, 50, 51, 99, 100, 101), 5 for symbol_tiers[BTC], ETH at 0 (ETH at 1 is
    # the base itself, as is position_btc 1 and the ratio at 200%: 1 / (0.005 × 100) = 2), maintenance
    # at 1 USDT (position_btc 2, also the ratio at 100%), and equity 0.495, 0.505, 0.995, 1.005 for the
    # ratio one tick around 100% and 200%: 19 accounts
    base = {"position_btc": "1", "price": "100", "equity": "1", "positions": [{"symbol": "ETH", "size": "1"}]}
    (folder / "base.json").write_text(json.dumps(base))
    for name in ("b.cases.json", "b.cases.jsonl", "b.cases.yaml", "b.cases.csv"):
        code, _, err = run(capsys, "cases", "margin.rules", "--base", "base.json", "-o", name)
        assert (code, err.splitlines()[-1]) == (0, f"wrote 19 case(s) to {name}")
    code, out, _ = run(capsys, "test", "b.cases.json", "b.cases.jsonl", "b.cases.yaml", "b.cases.csv")
    assert (code, out) == (0, "76 passed, 0 failed\n")
    doc = json.loads((folder / "b.cases.json").read_text())
    assert doc["ruleset"] == "margin.rules"
    first = doc["cases"][0]
    # position_btc 0 in the base account: 0 BTC, no maintenance, ratio 0 (the `else`), safe
    assert first["given"] == {**base, "position_btc": "0"}
    assert first["expect"]["maintenance"] == "0"
    assert first["expect"]["risk"] == "safe"
    assert first["expect"]["positions[0].margin"] == "0.03"
