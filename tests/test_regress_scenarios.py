"""Scenario files: reading CSV, JSON, JSON Lines and YAML rows exactly, and binding them to cases."""

from __future__ import annotations

import functools
import pathlib
from decimal import Decimal

import attrs
import pytest

from rulelang import api
from rulelang.nodes import Target
from rulelang.regress import yamlio
from rulelang.regress.literals import CellError, read_input, read_number, read_value
from rulelang.regress.runner import Session
from rulelang.regress.scenarios import ScenarioError, is_scenario_name, read_file, to_case
from rulelang.testing import Case, Check
from rulelang.types import BOOL, NUMBER, Dim, EnumType, NumType

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "tests" / "scenarios"
MARGIN = SCENARIOS / "margin.rules"
USDT = NumType(Dim.unit("USDT"))
PERCENT = NumType(Dim(), "percent")


@functools.cache
def margin() -> api.Ruleset:
    return api.load(str(MARGIN))


def cases_of(path: pathlib.Path) -> list[Case]:
    scenario = read_file(str(path))
    return [to_case(margin(), scenario, row) for row in scenario.rows]


def write(tmp_path: pathlib.Path, name: str, text: str) -> pathlib.Path:
    (tmp_path / "margin.rules").write_text(MARGIN.read_text())
    path = tmp_path / name
    path.write_text(text)
    return path


# ----------------------------------------------------------------- cells


def test_numbers_are_read_exactly_in_every_spelling() -> None:
    assert str(read_number("1.25%")) == "0.0125"
    assert str(read_number("0.5 %")) == "0.005"
    assert str(read_number("20x")) == "20"
    assert str(read_number("1_340 USDT", USDT)) == "1340"
    assert str(read_number("−5")) == "-5"
    assert str(read_number(" 0.10 ")) == "0.10"
    assert read_number(Decimal("7")) == Decimal(7)


@pytest.mark.parametrize(
    ("raw", "t", "message"),
    [
        ("5 BTC", USDT, "expected an amount in USDT, got '5 BTC'"),
        ("1%", USDT, "expected an amount in USDT, got the rate '1%'"),
        ("3 USDT", PERCENT, "expected a plain number, got '3 USDT'"),
        ("abc", NUMBER, "expected a number, got 'abc'"),
        (True, NUMBER, "expected a number, got true"),
        ("NaN", NUMBER, "expected a finite number, got NaN"),
    ],
)
def test_a_number_that_cannot_be_read_says_what_was_expected(raw: object, t: NumType, message: str) -> None:
    with pytest.raises(CellError) as info:
        read_number(raw, t)
    assert str(info.value) == message


def test_values_of_other_types_and_levels() -> None:
    assert read_value(" TRUE ", BOOL) is True
    assert read_value(False, BOOL) is False
    assert read_value("long", EnumType(("long", "short"))) == "long"
    assert read_value("warning", None, ("liquidation", "warning", "safe")) == "warning"
    with pytest.raises(CellError) as info:
        read_value("warn", None, ("liquidation", "warning", "safe"))
    assert str(info.value) == "expected one of the levels liquidation, warning, safe, got 'warn'"
    with pytest.raises(CellError) as info:
        read_value("middle", EnumType(("long", "short")))
    assert str(info.value) == "expected one of long, short, got 'middle'"


def test_given_numbers_take_rule_spellings_and_leave_the_rest_to_the_validator() -> None:
    assert read_input("1.5%", PERCENT) == Decimal("0.015")
    assert read_input("12 USDT", USDT) == Decimal(12)
    assert read_input("12 BTC", USDT) == "12 BTC"  # the validator names the input in its message
    assert read_input("x", BOOL) == "x"


def test_yaml_numbers_are_decimals_read_from_their_text() -> None:
    data, lines = yamlio.load("cases:\n  - a: 0.1\n    b: 1_000\n    c: 0.12345678901234567891\n  - a: '7'\n")
    first = data["cases"][0]
    assert first == {"a": Decimal("0.1"), "b": Decimal(1000), "c": Decimal("0.12345678901234567891")}
    assert str(first["c"]) == "0.12345678901234567891"
    assert data["cases"][1] == {"a": "7"}
    assert lines == [2, 5]


def test_yaml_infinity_is_refused() -> None:
    import yaml

    with pytest.raises(yaml.YAMLError) as info:
        yamlio.load("- a: .inf\n")
    assert "'.inf' is not a number rulelang reads (write plain decimals)" in str(info.value)


def test_yaml_writes_decimals_as_plain_numbers_and_number_like_texts_quoted() -> None:
    text = yamlio.dump({"a": Decimal("0.10"), "b": Decimal("5E+4"), "c": "1000", "d": [{"e": True}]})
    assert text == "a: 0.1\nb: 50000\nc: '1000'\nd:\n- e: true\n"


# ----------------------------------------------------------------- files


@pytest.mark.parametrize(
    ("name", "wanted"),
    [
        ("cases.csv", True),
        ("usdm.cases.yaml", True),
        ("okx.scenarios.jsonl", True),
        ("scenarios.yml", True),
        ("accounts.csv", False),
        ("usdm_cases.csv", False),
        ("cases.txt", False),
    ],
)
def test_which_files_a_folder_search_takes(name: str, wanted: bool) -> None:
    assert is_scenario_name(name) is wanted


def test_csv_rows_become_cases() -> None:
    path = SCENARIOS / "margin.cases.csv"
    cases = cases_of(path)
    assert [c.title for c in cases] == [
        "at the 50 BTC edge",
        "nothing held",
        "the strict profile warns at 250%",
        "a raised liquidation line",
        "120 BTC: 142.86% within 0.01%",
    ]
    first = cases[0]
    assert first.location == f"{path}:2"
    assert first.problems == ()
    # CSV cells are text; numbers are read exactly before the validator sees them
    assert first.inputs == {
        "position_btc": Decimal(50),
        "price": Decimal(20000),
        "equity": Decimal(10000),
        "positions": [{"symbol": "ETH", "size": Decimal(2)}],
    }
    assert first.checks == (
        Check(Target(name="maintenance_btc"), Decimal("0.25")),
        Check(Target(name="maintenance"), Decimal(5000)),
        Check(Target(name="ratio"), Decimal(2), Decimal("0.0001")),
        Check(Target(name="risk"), "warning"),
        Check(Target(name="positions", index=0, field="margin"), Decimal("0.06")),
    )
    assert (cases[2].profile, cases[2].params) == ("strict", {})
    assert (cases[3].profile, cases[3].params) == (None, {"liquidation_line": "300%"})


def test_yaml_file_level_values_nested_records_and_exact_digits() -> None:
    path = SCENARIOS / "book.cases.yaml"
    first, second = cases_of(path)
    assert first.location == f"{path}:7"
    assert first.inputs == {
        "price": Decimal(20000),
        "position_btc": Decimal("0.5"),
        "equity": Decimal(1000),
        "positions": [{"symbol": "BTC", "size": Decimal(10)}, {"symbol": "ETH", "size": Decimal("0.1")}],
    }
    assert [str(c.target) for c in first.checks] == [
        "maintenance_btc",
        "maintenance",
        "position_margin",
        "positions[0].margin",
        "positions[1].margin",
        "risk",
    ]
    assert str(second.inputs["position_btc"]) == "0.12345678901234567891"
    assert second.checks[0] == Check(Target(name="maintenance_btc"), Decimal("0.00061728394506172839455"))


def test_the_ruleset_comes_from_the_row_the_file_or_the_sibling(tmp_path: pathlib.Path) -> None:
    csv = read_file(str(SCENARIOS / "margin.cases.csv"))
    assert csv.ruleset_of(csv.rows[0]) == str(MARGIN)
    jsonl = read_file(str(SCENARIOS / "cases.jsonl"))
    assert jsonl.ruleset_of(jsonl.rows[0]) == str(MARGIN)
    yaml = read_file(str(SCENARIOS / "book.cases.yaml"))
    assert yaml.ruleset_of(yaml.rows[0]) == str(MARGIN)
    alone = write(tmp_path, "cases.csv", "case,position_btc\nx,1\n")
    orphan = read_file(str(alone))
    assert orphan.ruleset_of(orphan.rows[0]) is None
    named = write(tmp_path, "other.cases.csv", "ruleset,position_btc\nmargin.rules,1\n")
    scenario = read_file(str(named))
    assert scenario.ruleset_of(scenario.rows[0]) == str(tmp_path / "margin.rules")


def test_every_problem_of_a_row_is_reported(tmp_path: pathlib.Path) -> None:
    path = write(
        tmp_path,
        "margin.cases.csv",
        "postion_btc,positions[0].sise,price[0].x,expect:maintenace,expect:risk~1,expect:ratio,expect:maintenance\n"
        "1,2,3,4,safe,abc,5 BTC\n",
    )
    (case,) = cases_of(path)
    assert case.problems == (
        "`maintenace` is not a definition or a level ladder; did you mean `maintenance`?",
        "risk~1: a tolerance needs a numeric value",
        "ratio: expected a number, got 'abc'",
        "maintenance: expected an amount in USDT, got '5 BTC'",
        "`postion_btc` is not an input; did you mean `position_btc`?",
        "`positions[0].sise`: positions records have no field `sise`; did you mean `size`?",
        "`price[0].x`: `price` is not a list of records",
    )


def test_an_empty_cell_expects_nothing() -> None:
    scenario = read_file(str(SCENARIOS / "margin.cases.csv"))
    row = attrs.evolve(scenario.rows[0], data={"expect:maintenance": "", "position_btc": "1"})
    case = to_case(margin(), scenario, row)
    assert case.checks == ()
    assert case.inputs == {"position_btc": Decimal(1)}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.cases.json", "{", "not valid JSON: Expecting property name enclosed in double quotes"),
        ("bad.cases.yaml", "ruleset: margin.rules\n", "no `cases:` list; a scenario file is a list of cases"),
        ("bad.cases.yaml", "cases: []\nrulset: x\n", "unknown key(s) rulset; a scenario file is a list of cases"),
        ("bad.cases.yaml", "7\n", "expected a list of cases, or ruleset: ... cases: [...]"),
        ("bad.cases.yaml", "- [a\n", "not valid YAML"),
    ],
)
def test_a_file_that_cannot_be_read(tmp_path: pathlib.Path, name: str, text: str, message: str) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(ScenarioError) as info:
        read_file(str(path))
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_a_row_that_is_not_an_object(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "margin.cases.jsonl", '[1, 2]\n{"position_btc": "1"\n')
    scenario = read_file(str(path))
    assert [r.problem for r in scenario.rows] == [
        "expected an object with the case's inputs and expectations",
        "not valid JSON: Expecting ',' delimiter: line 2 column 1 (char 21)",
    ]
    ((rs, case), _) = Session().cases(scenario)
    assert rs is not None
    assert case.problems == ("expected an object with the case's inputs and expectations",)
