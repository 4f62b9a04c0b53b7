"""docs/testing.md, "A rule change, end to end", run as the analyst would, with every figure justified apart.

BTCUSDT bracket 3 (600,000 to 3,000,000 USDT) of rulesets/bench/account.rules goes from 0.65 % to
0.75 %, in a git repository holding the ruleset, the sample book and the base account of the cases.
"""

from __future__ import annotations

import csv
import decimal
import json
import re
import shutil
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from benchmarks import handwritten as hw
from rulelang.cli import main
from tests.helpers import git

ROOT = Path(__file__).resolve().parent.parent
ROW = "| BTCUSDT | 600_000       | 3_000_000     | 0.65% | 75x          |"

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    r = tmp_path_factory.mktemp("walkthrough")
    (r / "rulesets" / "bench").mkdir(parents=True)
    (r / "examples" / "book").mkdir(parents=True)
    shutil.copy(ROOT / "rulesets" / "bench" / "account.rules", r / "rulesets" / "bench")
    for name in ("accounts.jsonl", "base.json"):
        shutil.copy(ROOT / "examples" / "book" / name, r / "examples" / "book")
    git(r, "init", "-q", "-b", "main")
    git(r, "add", ".")
    git(r, "commit", "-q", "-m", "the rules as they are")
    return r


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_tier_rate_change_end_to_end(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    rules = Path("rulesets/bench/account.rules")

    # 1. before the change: boundary cases frozen from today's rules, and the tests pass
    code, _, err = run(
        capsys,
        "cases",
        str(rules),
        "--base",
        "examples/book/base.json",
        "-o",
        "rulesets/bench/account.cases.csv",
    )
    assert code == 0 and "wrote 175 case(s)" in err
    code, out, _ = run(capsys, "test", "--coverage", "rulesets/bench/")
    assert code == 0 and out.splitlines()[-1] == "191 passed, 0 failed"
    assert "rulesets/bench/account.rules    191      56/56          4/4       4/4  100.0%" in out
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "boundary cases")

    # 2. the change
    text = rules.read_text(encoding="utf-8")
    assert text.count(ROW) == 1
    rules.write_text(text.replace(ROW, ROW.replace("0.65%", "0.75%")), encoding="utf-8")
    assert run(capsys, "check", str(rules))[0] == 0

    # 3. what breaks: every BTCUSDT case above 600,000 (at 600,000 itself both versions give
    # 600,000 × 0.65 % − 950 = 2,950 = 600,000 × 0.75 % − 1,550) and the three examples with such a position
    with open("rulesets/bench/account.cases.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    moved = {
        f"rulesets/bench/account.cases.csv:{k + 2} {row['case']}"
        for k, row in enumerate(rows)
        if (m := re.fullmatch(r"brackets\[BTCUSDT\]: notional = (\d+) .*", row["case"])) and int(m[1]) > 600_000
    }
    assert len(moved) == 29
    code, out, _ = run(capsys, "test", "rulesets/bench/")
    assert code == 1
    failed = {line.removeprefix("FAIL ") for line in out.splitlines() if line.startswith("FAIL ")}
    examples = {
        "rulesets/bench/account.rules:217:1 three positions in brackets 2 and 3: warning at 125 %",
        "rulesets/bench/account.rules:267:1 large account, haircuts in several tiers: liquidation at 78.27 %",
        "rulesets/bench/account.rules:353:1 BTCUSDT: one position just inside each of its 12 brackets",
    }
    assert failed == moved | examples
    assert out.splitlines()[-1] == "159 passed, 32 failed"
    # 1,200,000 × 0.75 % − (50 + 600,000 × 0.25 %) = 9,000 − 1,550 = 7,450 (was 6,850)
    assert "  positions[0].maintenance_margin: expected 6850 USDT, got 7450 USDT; difference 600 USDT" in out
    # above 3,000,000: cum 9,050 instead of 11,450, 2,400 more: 3,090,000 × 1 % − 9,050 = 21,850
    assert "  positions[3].maintenance_margin: expected 19450 USDT, got 21850 USDT; difference 2400 USDT" in out

    # 4. what it does to the book, against the committed rules (PATH@REV), as a CI gate
    code, out, _ = run(
        capsys,
        "diff",
        f"{rules}@main",
        str(rules),
        "--accounts",
        "examples/book/accounts.jsonl",
        "--format",
        "json",
        "--fail-on",
        "liquidation",
    )
    assert code == 1
    report = json.loads(out)
    assert [c["text"] for c in report["changes"]] == ["Leverage brackets (brackets) BTCUSDT tier 3 mmr 0.65% → 0.75%"]
    impact = report["impact"]
    transitions, newly, extra, up = book_by_hand(repo)
    got = {
        (t["old"], t["new"]): t["accounts"]
        for t in impact["ladders"]["risk_level"]["transitions"]
        if t["old"] != t["new"]
    }
    assert (
        got
        == transitions
        == {("reduce_only", "liquidation"): 56, ("warning", "reduce_only"): 55, ("safe", "warning"): 37}
    )
    assert impact["ladders"]["risk_level"]["newly"] == newly == 56
    assert Decimal(impact["measure"]["total_change"]) == extra == Decimal("2051040.4966821")
    assert impact["measure"]["increased"] == up == 1534


def book_by_hand(repo: Path) -> tuple[dict[tuple[str, str], int], int, Decimal, int]:
    """The book under both tables with the hand-written model of benchmarks/handwritten.py, and the
    extra margin from the slices alone: 0.1 % of the part of each BTCUSDT notional in 600,000..3,000,000."""
    old = hw.Model(hw.read_decimal, Decimal)
    new = hw.Model(hw.read_decimal, Decimal)
    rows = [
        (Decimal(lo), Decimal(hi), Decimal("0.0075") if lo == "600000" else Decimal(r), Decimal(lev))
        for lo, hi, r, lev in hw.BRACKETS["BTCUSDT"]
    ]
    new.brackets["BTCUSDT"] = hw.Bands(rows, Decimal(0))
    severity = ("liquidation", "reduce_only", "warning", "safe")
    transitions: Counter[tuple[str, str]] = Counter()
    newly = up = 0
    extra = Decimal(0)
    with decimal.localcontext(hw.CONTEXT), open(repo / "examples" / "book" / "accounts.jsonl", encoding="utf-8") as fh:
        for line in fh:
            data = json.loads(line)
            a, b = old.compute(old.parse(data)), new.compute(new.parse(data))
            if a.risk_level != b.risk_level:
                transitions[(a.risk_level, b.risk_level)] += 1
            newly += b.risk_level == "liquidation" != a.risk_level
            up += sum(p.maintenance_margin for p in b.positions) > sum(p.maintenance_margin for p in a.positions)
            assert severity.index(b.risk_level) <= severity.index(a.risk_level)
            for p in data["positions"]:
                if p["symbol"] == "BTCUSDT":
                    notional = Decimal(p["quantity"]) * Decimal(p["mark_price"])
                    extra += min(max(notional - 600_000, Decimal(0)), Decimal(2_400_000)) * Decimal("0.001")
    return dict(transitions), newly, extra, up
