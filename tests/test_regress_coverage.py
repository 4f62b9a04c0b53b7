"""Rule coverage: the interpreter's observer hooks and what counts as hit."""

from __future__ import annotations

import functools
import pathlib
from decimal import Decimal

import attrs
from helpers import check_ok, dedent

from rulelang import api, ir
from rulelang.api import Ruleset
from rulelang.regress.coverage import Coverage, below, percent_text, render_table
from rulelang.testing import Case, run_case, run_examples

ROOT = pathlib.Path(__file__).resolve().parent.parent
MARGIN = ROOT / "tests" / "scenarios" / "margin.rules"


@functools.cache
def margin() -> api.Ruleset:
    return api.load(str(MARGIN))


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []

    def lookup(self, e: ir.Lookup, key: str, size: Decimal, index: int) -> None:
        self.calls.append(("lookup", e.table, key, size, index))

    def branch(self, e: ir.Cond, taken: bool) -> None:
        self.calls.append(("branch", e.span.line if e.span else None, taken))

    def rung(self, ladder: ir.Ladder, index: int) -> None:
        self.calls.append(("rung", ladder.name, index))


def test_the_observer_is_told_each_lookup_branch_and_level() -> None:
    rs = margin()
    recorder = Recorder()
    account = rs.validate(
        {
            "position_btc": 50,
            "price": 20_000,
            "equity": 10_000,
            "positions": [{"symbol": "ETH", "size": 2}, {"symbol": "BTC", "size": 10}],
        }
    )
    result, _, _ = rs.interpreter.run(account, rs.params(), observer=recorder)
    assert recorder.calls == [
        # 50 BTC is on the edge: lower-inclusive bands put it in the second (index 1)
        ("lookup", "btc_tiers", "", Decimal(50), 1),
        ("lookup", "symbol_tiers", "ETH", Decimal(2), 0),
        ("lookup", "symbol_tiers", "BTC", Decimal(10), 1),
        # maintenance 0.25 × 20,000 = 5,000 > 0: `then`
        ("branch", 39, True),
        # 10,000 / 5,000 = 200%: not ≤ 100%, ≤ 200%: the second rung
        ("rung", "risk", 1),
    ]
    assert result.levels["risk"].level == "warning"


def test_without_an_observer_the_results_are_the_same() -> None:
    rs = margin()
    account = rs.validate({"position_btc": 120, "price": 20_000, "equity": 30_000, "positions": []})
    plain = rs.interpreter.run(account, rs.params())[0]
    observed = rs.interpreter.run(account, rs.params(), observer=Recorder())[0]
    assert plain == observed
    assert plain.values["maintenance_btc"] == Decimal("1.05")


def _coverage(rs: Ruleset, *accounts: dict[str, object]) -> Coverage:
    cov = Coverage(rs.ir)
    for data in accounts:
        run_case(rs, Case("t", "t", data, ()), cov)
    return cov


def test_progressive_counts_the_band_it_lands_in_not_those_it_passes() -> None:
    cov = _coverage(margin(), {"position_btc": 120, "price": 1, "equity": 1, "positions": []})
    rows = {i.what: h for i, h in zip(cov.items, cov.hits, strict=True) if i.kind == "row"}
    assert rows == {
        "table btc_tiers row 1 (0 .. 50)": 0,
        "table btc_tiers row 2 (50 .. 100)": 0,
        "table btc_tiers row 3 (100 .. inf)": 1,
        "table symbol_tiers[BTC] row 1 (0 .. 10)": 0,
        "table symbol_tiers[BTC] row 2 (10 .. inf)": 0,
        "table symbol_tiers[ETH] row 1 (0 .. inf)": 0,
    }


def test_hits_add_up_over_cases_and_records() -> None:
    cov = _coverage(
        margin(),
        # 0 BTC: no maintenance, the `else`, safe; three BTC positions of 1 in symbol_tiers[BTC] row 1
        {"position_btc": 0, "price": 1, "equity": 1, "positions": [{"symbol": "BTC", "size": 1}] * 3},
        # 10 BTC: 10 × 0.5% = 0.05 of maintenance, the `then`; 1 / 0.05 = 2,000%: safe
        {"position_btc": 10, "price": 1, "equity": 1, "positions": []},
    )
    report = cov.report(cases=2)
    assert [(i.what, h) for i, h in zip(report.items, report.hits, strict=True) if h] == [
        ("table btc_tiers row 1 (0 .. 50)", 2),
        ("table symbol_tiers[BTC] row 1 (0 .. 10)", 3),
        ("ladder risk level safe", 2),
        ("ratio: `if maintenance > 0` then", 1),
        ("ratio: `if maintenance > 0` else", 1),
    ]
    assert (report.count("row"), report.count("rung"), report.count("branch")) == ((2, 6), (1, 3), (2, 2))
    assert report.count() == (5, 11)


def test_the_example_alone_leaves_seven_items_never_hit() -> None:
    cov = Coverage(margin().ir)
    outcomes = run_examples(margin(), cov)
    assert [o.passed for o in outcomes] == [True]
    report = cov.report(cases=1)
    assert report.count() == (4, 11)
    assert [(i.location.rsplit(":", 1)[1], i.what) for i in report.missed()] == [
        ("24", "table btc_tiers row 1 (0 .. 50)"),
        ("25", "table btc_tiers row 2 (50 .. 100)"),
        ("32", "table symbol_tiers[BTC] row 2 (10 .. inf)"),
        ("33", "table symbol_tiers[ETH] row 1 (0 .. inf)"),
        ("42", "ladder risk level liquidation"),
        ("44", "ladder risk level safe"),
        ("39", "ratio: `if maintenance > 0` else"),
    ]


SOLVED = dedent(
    """
    ruleset solved

    units USDT

    input x: USDT > 0

    let y: USDT = if x > 10 USDT then x else 0 USDT

    solve z: USDT
        vary x
        until (if x > 5 USDT then x else 0 USDT) >= 100 USDT

    levels size
        big when x > 50 USDT
        otherwise small
    """
)


def test_conditions_only_a_solve_evaluates_are_not_counted(tmp_path: pathlib.Path) -> None:
    check_ok(SOLVED)
    path = tmp_path / "solved.rules"
    path.write_text(SOLVED)
    rs = api.load(str(path))
    cov = _coverage(rs, {"x": 20})
    # the `if` inside the solve's `until` is searched, never computed for a case: not an item
    assert [(i.what, h) for i, h in zip(cov.items, cov.hits, strict=True)] == [
        ("ladder size level big", 0),
        ("ladder size level small", 1),
        ("y: `if x > 10 USDT` then", 1),
        ("y: `if x > 10 USDT` else", 0),
    ]


def test_percent_is_rounded_down_and_fail_under_compares_exactly() -> None:
    assert percent_text(2, 3) == "66.6"
    assert percent_text(999, 1000) == "99.9"
    assert percent_text(0, 0) == "100.0"
    report = Coverage(margin().ir).report(cases=0)
    assert below([report], Decimal("0.1"))
    assert not below([report], Decimal(0))


def test_a_key_that_is_not_printable_stays_on_one_line() -> None:
    rs = margin().ir
    table = rs.tables[1]
    groups = tuple(("a\nb" if k == "ETH" else k, tiers) for k, tiers in table.tiers)
    odd = attrs.evolve(rs, tables=(rs.tables[0], attrs.evolve(table, tiers=groups)))
    text = render_table([Coverage(odd).report(cases=0)])
    assert f"  {MARGIN}:33: table symbol_tiers[a\\nb] row 1 (0 .. inf)" in text.splitlines()
