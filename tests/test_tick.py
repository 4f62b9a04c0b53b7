"""The `tick` line of tables and ladders: parsed, checked, used by `rulelang cases`, a solve, fmt, dump and diff."""

from __future__ import annotations

import pathlib
from decimal import Decimal

import pytest

from rulelang import api, nodes
from rulelang.check.ticks import is_multiple
from rulelang.cli import main
from rulelang.diff import diff_rulesets
from rulelang.fmt import format_text
from rulelang.printer import print_ir
from rulelang.regress.boundaries import Generator, base_account, table_tick
from rulelang.source import Source
from rulelang.syntax import parse_source
from tests.helpers import check_ok, check_text, dedent, errors, one_error, where

Capsys = pytest.CaptureFixture[str]

TICKED = dedent(
    """
    ruleset ticked

    units USDT

    input symbol: BTCUSDT | ETHUSDT
    input notional: USDT >= 0
    input margin_ratio: percent

    table brackets: USDT per symbol
        bands from <= notional < to
        tick 0.01 USDT  # the smallest step of the size the exchange distinguishes
        | symbol  | from   | to      | mmr  |
        | BTCUSDT | 0      | 50_000  | 0.4% |
        | BTCUSDT | 50_000 | 250_000 | 0.5% |
        | ETHUSDT | 0      | 10_000  | 0.5% |

    let maintenance: USDT = bracket(brackets[symbol].mmr, notional)

    levels risk_level
        tick 0.01%  # the step of the compared values around each threshold
        liquidation when margin_ratio >= 100% do full_liquidation
        otherwise safe
    """
)


def _table(tick: str, edges: tuple[str, str] = ("50_000", "250_000"), unit: str = "USDT") -> str:
    lines = [
        "units USDT, BTC",
        "input notional: USDT >= 0",
        f"table t: {unit}",
        "    bands from <= notional < to",
        *([f"    {tick}"] if tick else []),
        "    | from | to | mmr |",
        f"    | 0 | {edges[0]} | 1% |",
        f"    | {edges[0]} | {edges[1]} | 2% |",
        "let m: USDT = bracket(t.mmr, notional)" if unit == "USDT" else "let m: BTC = bracket(t.mmr, 1 BTC)",
    ]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------- syntax


def test_tick_lines_parse_into_the_table_and_the_ladder() -> None:
    file, diags = parse_source(Source("t.rules", TICKED))
    assert diags == []
    table = next(d for d in file.decls if isinstance(d, nodes.Table))
    levels = next(d for d in file.decls if isinstance(d, nodes.Levels))
    assert [(t.value.value, t.value.text, t.span.line) for t in table.ticks if isinstance(t.value, nodes.Number)] == [
        (Decimal("0.01"), "0.01 USDT", 11)
    ]
    assert [(t.value.value, t.value.style) for t in levels.ticks if isinstance(t.value, nodes.Number)] == [
        (Decimal("0.0001"), "percent")
    ]
    assert [r.name for r in levels.rungs] == ["liquidation"]


def test_tick_is_still_a_name_where_no_tick_line_can_stand() -> None:
    text = "units USDT\ninput tick: USDT\nlet double: USDT = tick * 2\n"
    rs, _ = check_ok(text)
    assert [i.name for i in rs.inputs] == ["tick"]


# ----------------------------------------------------------------- checking


def test_the_ir_holds_each_tick_as_a_checked_value_with_its_unit() -> None:
    rs, warnings = check_ok(TICKED)
    assert warnings == []
    table, ladder = rs.table("brackets"), rs.ladders[0]
    assert table.tick is not None and ladder.tick is not None
    assert (str(table.tick.value), str(table.tick.type)) == ("0.01", "USDT")
    assert (str(ladder.tick.value), str(ladder.tick.type)) == ("0.0001", "percent")
    assert (table.tick.span.line, table.tick.span.column) == (11, 10)


def test_a_tick_without_a_unit_takes_the_table_unit() -> None:
    rs, warnings = check_ok(_table("tick 0.5"))
    tick = rs.table("t").tick
    assert tick is not None and (str(tick.value), str(tick.type), warnings) == ("0.5", "USDT", [])


def test_a_tick_in_another_unit_is_a_positioned_unit_error() -> None:
    d = one_error(_table("tick 0.01 BTC"))
    assert (d.code, where(d), d.span.text if d.span else "") == ("RL0301", (5, 10), "0.01 BTC")
    assert (
        d.message
        == "the tick of table `t` must be an amount in USDT (the unit of its size), but this is an amount in BTC"
    )
    assert d.render().startswith("t.rules:5:10: error[RL0301]: ")
    d = one_error(_table("tick 1%"))
    assert (d.code, where(d)) == ("RL0301", (5, 10))
    assert d.message.endswith("but this is a percent")


@pytest.mark.parametrize(("tick", "shown"), [("tick 0 USDT", "0 USDT"), ("tick -0.01", "-0.01")])
def test_a_tick_must_be_above_zero(tick: str, shown: str) -> None:
    d = one_error(_table(tick))
    assert (d.code, where(d), d.message) == (
        "RL0415",
        (5, 10),
        f"the tick of table `t` must be above zero, but it is {shown}",
    )


def test_a_tick_must_be_written_out() -> None:
    d = one_error(_table("tick notional"))
    assert (d.code, where(d)) == ("RL0304", (5, 10))
    assert d.message == "the tick of table `t` must be a number written out, such as `tick 0.01 USDT`"


def test_one_tick_line_per_table_and_ladder() -> None:
    text = _table("tick 0.01 USDT\n    tick 0.1 USDT")
    d = one_error(text)
    assert (d.code, where(d), d.message) == (
        "RL0202",
        (6, 5),
        "table `t` has more than one `tick` line (the first is at line 5)",
    )
    ladder = TICKED.replace("    tick 0.01%", "    tick 0.01%\n    tick 1%")
    d = one_error(ladder)
    assert (d.code, where(d)) == ("RL0202", (21, 5))
    assert d.message == "levels `risk_level` has more than one `tick` line (the first is at line 20)"


def test_an_edge_that_is_not_a_whole_number_of_ticks_is_a_warning_at_its_cell() -> None:
    diags = check_text(_table("tick 0.01 USDT", edges=("50_000.005", "250_000")))
    assert [(d.code, d.severity.value, where(d)) for d in diags] == [("RL0414", "warning", (7, 11))]
    assert diags[0].message == "band edge 50,000.005 of table `t` is not a whole number of ticks (0.01 USDT)"
    assert diags[0].span is not None and diags[0].span.text == "50_000.005"  # the first cell of that edge only


def test_the_warning_names_the_key_of_a_keyed_table() -> None:
    text = TICKED.replace("| ETHUSDT | 0      | 10_000  |", "| ETHUSDT | 0      | 10_000.005 |")
    diags = check_text(text)
    assert [(d.code, where(d)) for d in diags] == [("RL0414", (15, 26))]
    assert (
        diags[0].message
        == "band edge 10,000.005 for ETHUSDT of table `brackets` is not a whole number of ticks (0.01 USDT)"
    )


def test_whole_numbers_of_ticks_are_computed_exactly() -> None:
    assert is_multiple(Decimal("50000"), Decimal("0.01"))
    assert is_multiple(Decimal("7500000000000000000000000000000001"), Decimal("1"))
    assert not is_multiple(Decimal("7500000000000000000000000000000001"), Decimal("2"))
    assert is_multiple(Decimal("0.3"), Decimal("0.1"))
    assert not is_multiple(Decimal("50000.005"), Decimal("0.01"))
    assert is_multiple(Decimal("1E+3"), Decimal("25"))


def test_a_ladder_tick_has_the_unit_of_its_compared_values() -> None:
    d = one_error(TICKED.replace("tick 0.01%", "tick 0.01 USDT"))
    assert (d.code, where(d)) == ("RL0301", (20, 10))
    assert d.message == (
        "the tick of levels `risk_level` must be a percent (the values it compares), but this is an amount in USDT"
    )
    rs, _ = check_ok(TICKED.replace("tick 0.01%", "tick 0.0001"))  # a plain number is a ratio too
    tick = rs.ladders[0].tick
    assert tick is not None and (str(tick.value), str(tick.type)) == ("0.0001", "percent")


MIXED = dedent(
    """
    units USDT, BTC
    input borrowed: USDT >= 0
    input ratio: percent
    let has_debt: bool = borrowed > 0
    levels risk
        tick TICK
        liquidation when has_debt and ratio <= 70% do full_liquidation
        otherwise safe
    """
)


def test_a_ladder_comparing_several_units_takes_a_tick_in_one_of_them() -> None:
    for tick in ("0.01%", "0.01 USDT"):
        check_ok(MIXED.replace("TICK", tick))
    d = one_error(MIXED.replace("TICK", "1 BTC"))
    assert (d.code, where(d)) == ("RL0301", (6, 10))
    assert d.message == (
        "the tick of levels `risk` must be an amount in USDT or a percent (the values it compares), "
        "but this is an amount in BTC"
    )
    assert d.hint == (
        "a ladder comparing values in several units takes its tick in one of them; "
        "the comparisons in the others keep the tick derived from their thresholds"
    )


def test_a_ladder_that_compares_no_numbers_has_no_tick() -> None:
    text = "input flag: bool\nlevels l\n    tick 1\n    bad when flag\n    otherwise ok\n"
    d = one_error(text)
    assert (d.code, where(d)) == ("RL0304", (3, 10))


@pytest.mark.parametrize(
    ("second", "codes"),
    [
        ("", []),  # a part without a tick takes the table's, and its edges are checked against it
        ("    tick 0.01 USDT\n", []),
        ("    tick 0.1 USDT\n", [("RL0413", (11, 10))]),
    ],
)
def test_parts_of_a_table_agree_on_the_tick(second: str, codes: list[tuple[str, tuple[int, int]]]) -> None:
    text = (
        "units USDT\n"
        "table t: USDT per symbol\n"
        "    bands from <= size < to\n"
        "    tick 0.01 USDT\n"
        "    | symbol | from | to | mmr |\n"
        "    | A | 0 | inf | 1% |\n"
        "input s: text\ninput n: USDT\n"
        "table t: USDT per symbol\n"
        "    bands from <= size < to\n" + second + "    | symbol | from | to | mmr |\n"
        "    | B | 0 | 0.005 | 1% |\n"
        "    | B | 0.005 | inf | 2% |\n"
        "let m: USDT = bracket(t[s].mmr, n)\n"
    )
    found = [(d.code, where(d)) for d in errors(text)]
    assert found == codes
    if not codes:
        rs, warnings = check_ok(text)
        tick = rs.table("t").tick
        assert tick is not None and str(tick.value) == "0.01"
        assert [(w.code, w.message) for w in warnings] == [
            ("RL0414", "band edge 0.005 for B of table `t` is not a whole number of ticks (0.01 USDT)")
        ]


# ----------------------------------------------------------------- rulelang cases


def _generated(text: str, **kw: object) -> list[str]:
    rs = api.load("ticked.rules", text)
    return [g.name for g in Generator(rs, base_account(rs.ir), **kw).run()]  # type: ignore[arg-type]


def test_cases_step_by_the_declared_tick() -> None:
    names = _generated(TICKED)
    btc = [n for n in names if n.startswith("brackets[BTCUSDT]")]
    assert btc == [
        "brackets[BTCUSDT]: notional = 0 (at the edge)",
        "brackets[BTCUSDT]: notional = 0.01 (one tick above 0)",
        "brackets[BTCUSDT]: notional = 49999.99 (one tick below 50000)",
        "brackets[BTCUSDT]: notional = 50000 (at the edge)",
        "brackets[BTCUSDT]: notional = 50000.01 (one tick above 50000)",
        "brackets[BTCUSDT]: notional = 249999.99 (one tick below 250000)",
    ]
    levels = [n for n in names if n.startswith("risk_level")]
    assert levels == [
        "risk_level liquidation: margin_ratio >= 100% (margin_ratio one tick (0.01%) below 100%)",
        "risk_level liquidation: margin_ratio >= 100% (margin_ratio at 100%)",
        "risk_level liquidation: margin_ratio >= 100% (margin_ratio one tick (0.01%) above 100%)",
    ]


def test_cases_give_exactly_the_sizes_around_each_edge() -> None:
    rs = api.load("ticked.rules", TICKED)
    generated = Generator(rs, base_account(rs.ir)).run()
    sizes = [str(g.inputs["notional"]) for g in generated if g.name.startswith("brackets[BTCUSDT]")]
    assert sizes == ["0", "0.01", "49999.99", "50000", "50000.01", "249999.99"]
    ratios = [str(g.inputs["margin_ratio"]) for g in generated if g.name.startswith("risk_level")]
    assert ratios == ["0.9999", "1", "1.0001"]


def test_the_command_line_overrides_the_declared_tick() -> None:
    table = api.load("ticked.rules", TICKED).ir.table("brackets")
    assert str(table_tick(table, {}, None)) == "0.01"  # declared
    assert str(table_tick(table, {}, Decimal("0.5"))) == "0.5"  # --tick TICK
    assert str(table_tick(table, {"brackets": Decimal(2)}, Decimal("0.5"))) == "2"  # --tick TABLE=TICK
    names = _generated(TICKED, ticks={"brackets": Decimal(1)}, level_tick=Decimal("0.05"))
    assert "brackets[BTCUSDT]: notional = 49999 (one tick below 50000)" in names
    assert "risk_level liquidation: margin_ratio >= 100% (margin_ratio one tick (5%) below 100%)" in names


def test_a_ladder_tick_steps_only_the_comparisons_in_its_unit() -> None:
    names = "\n".join(_generated(MIXED.replace("TICK", "0.01%")))
    assert "risk liquidation: ratio <= 70% (ratio one tick (0.01%) below 70%)" in names
    assert "risk liquidation: borrowed > 0 (borrowed one tick (1 USDT) above 0)" in names


def test_cli_cases_takes_the_declared_tick_unless_told_otherwise(
    capsys: Capsys, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RULELANG_CACHE", "0")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ticked.rules").write_text(TICKED, encoding="utf-8")
    assert main(["cases", "ticked.rules", "-o", "cases.csv"]) == 0
    rows = (tmp_path / "cases.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0] == "case,ruleset,symbol,notional,margin_ratio,expect:maintenance,expect:risk_level"
    assert (
        "brackets[BTCUSDT]: notional = 49999.99 (one tick below 50000),ticked.rules,BTCUSDT,49999.99,1,199.99996,liquidation"
        in rows
    )
    assert (
        "brackets[BTCUSDT]: notional = 50000.01 (one tick above 50000),ticked.rules,BTCUSDT,50000.01,1,200.00005,liquidation"
        in rows
    )
    capsys.readouterr()
    assert main(["cases", "ticked.rules", "--tick", "0.5", "--level-tick", "1%"]) == 0
    out = capsys.readouterr().out
    assert "brackets[BTCUSDT]: notional = 49999.5 (one tick below 50000)" in out
    assert "margin_ratio one tick (1%) below 100%" in out
    assert main(["cases", "ticked.rules", "--tick", "0.5", "--tick", "brackets=2"]) == 0
    assert "brackets[BTCUSDT]: notional = 49998 (one tick below 50000)" in capsys.readouterr().out


# ----------------------------------------------------------------- solve


SOLVED = dedent(
    """
    units contracts
    input size: contracts >= 0
    table tiers: contracts
        bands from < size <= to
        tick 1 contracts
        | from  | to    | mmr  |
        | 0     | 3_000 | 0.4% |
        | 3_000 | 6_000 | 0.5% |
    let tier_now: number = tier(tiers, size)
    solve top_of_tier_1: contracts
        vary size
        until tier_now <= 1
    """
)


def test_a_solve_varying_a_table_size_takes_the_table_tick() -> None:
    rs = api.load("solved.rules", SOLVED)
    solve = rs.ir.definition("top_of_tier_1")
    assert solve is not None and "to the tick 1 contracts" in print_ir(rs.ir)
    assert rs.evaluate({"size": "4500"})["top_of_tier_1"] == Decimal("3000")
    assert str(rs.evaluate({"size": "4500"})["top_of_tier_1"]) == "3000"


def test_a_solve_keeps_its_own_tick_and_no_table_tick_means_none() -> None:
    own = api.load("own.rules", SOLVED + "    tick 10 contracts\n")
    assert "to the tick 10 contracts" in print_ir(own.ir)
    none = api.load("none.rules", SOLVED.replace("    tick 1 contracts\n", ""))
    assert "to the tick" not in print_ir(none.ir)


# ----------------------------------------------------------------- fmt, dump, diff


def test_fmt_keeps_the_tick_lines_in_place() -> None:
    messy = TICKED.replace("    tick 0.01 USDT  #", "    tick   0.01   USDT    #").replace(
        "    tick 0.01%  #", "    tick    0.01%    #"
    )
    assert messy != TICKED
    assert format_text(messy, "t.rules") == TICKED
    assert format_text(TICKED, "t.rules") == TICKED


def test_dump_ir_shows_the_ticks() -> None:
    text = print_ir(api.load("ticked.rules", TICKED).ir)
    assert "table brackets: USDT per symbol  bands from <= size < to  tick 0.01 USDT" in text.splitlines()
    assert "levels risk_level  tick 0.01%" in text.splitlines()


def test_diff_reports_a_changed_added_or_removed_tick() -> None:
    old, _ = check_ok(TICKED)
    new, _ = check_ok(TICKED.replace("tick 0.01 USDT", "tick 0.1 USDT").replace("tick 0.01%", "tick 0.1%"))
    assert [(c.section, c.text) for c in diff_rulesets(old, new)] == [
        ("tables", "brackets tick 0.01 USDT → 0.1 USDT"),
        ("levels", "risk_level: tick 0.01% → 0.1%"),
    ]
    bare, _ = check_ok(
        TICKED.replace("    tick 0.01 USDT  # the smallest step of the size the exchange distinguishes\n", "")
    )
    assert [c.text for c in diff_rulesets(bare, old)] == ["brackets new tick 0.01 USDT"]
    assert [c.text for c in diff_rulesets(old, bare)] == ["brackets tick 0.01 USDT removed"]
    assert diff_rulesets(old, old) == []
