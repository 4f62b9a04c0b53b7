"""The pytest plugin: a repository of rules runs its examples and scenario rows with plain `pytest`."""

from __future__ import annotations

import pathlib
import shutil

import pytest

import rulelang.regress.runner  # noqa: F401  # imported once here, not again by every in-process run

pytest_plugins = ["pytester"]
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")  # hypothesis's plugin costs a second a run

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "tests" / "scenarios"


@pytest.fixture
def repo(pytester: pytest.Pytester) -> pytest.Pytester:
    """A risk team's repository: rules and scenario files under rules/, no Python."""
    shutil.copytree(SCENARIOS, pytester.path / "rules")
    (pytester.path / "rules" / "tmp").mkdir()
    return pytester


def test_the_plugin_is_registered_and_collects_nothing_unasked(repo: pytest.Pytester) -> None:
    result = repo.runpytest(*QUIET)
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert repo.parseconfig().pluginmanager.hasplugin("rulelang")


def test_rulelang_paths_collect_an_item_per_example_and_row(repo: pytest.Pytester) -> None:
    repo.makeini("[pytest]\nrulelang_paths = rules\n")
    result = repo.runpytest("--collect-only", "-q", *QUIET)
    assert result.outlines[:9] == [
        "rules/book.cases.yaml::two positions, nested",
        "rules/book.cases.yaml::twenty digits stay exact",
        "rules/cases.jsonl::a ruleset column",
        "rules/margin.cases.csv::at the 50 BTC edge",
        "rules/margin.cases.csv::nothing held",
        "rules/margin.cases.csv::the strict profile warns at 250%",
        "rules/margin.cases.csv::a raised liquidation line",
        "rules/margin.cases.csv::120 BTC: 142.86% within 0.01%",
        "rules/margin.rules::120 BTC at 20,000",
    ]
    result = repo.runpytest(*QUIET)
    result.assert_outcomes(passed=9)


def test_a_failure_shows_expected_actual_difference_and_trace(repo: pytest.Pytester) -> None:
    repo.makeini("[pytest]\nrulelang_paths = rules/margin.cases.csv\n")
    csv = repo.path / "rules" / "margin.cases.csv"
    csv.write_text(csv.read_text().replace("0.25 BTC,5_000 USDT", "0.25 BTC,5_001 USDT"))
    result = repo.runpytest(*QUIET)
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ rules/margin.cases.csv:2 at the 50 BTC edge _*",
            # 50 × 0.5% = 0.25 BTC; × 20,000 = 5,000 USDT
            "maintenance: expected 5001 USDT, got 5000 USDT; difference -1 USDT",
            "    maintenance_btc = 0.25 BTC",
            "      formula: progressive(btc_tiers.mmr, position_btc)   [rules/margin.rules:35]",
            "*FAILED rules/margin.cases.csv::at the 50 BTC edge*",
        ]
    )


def test_a_ruleset_with_errors_is_one_failing_item(repo: pytest.Pytester) -> None:
    (repo.path / "rules" / "broken.rules").write_text("ruleset broken\n\nlet a: number = b\n")
    result = repo.runpytest("--rulelang", "rules/broken.rules", *QUIET)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["rules/broken.rules:3:17: error[RL0201]: undefined name `b`", "*(check)*"])


def test_the_flag_collects_wherever_pytest_looks(repo: pytest.Pytester) -> None:
    result = repo.runpytest("--rulelang", "rules/cases.jsonl", *QUIET)
    result.assert_outcomes(passed=1)
