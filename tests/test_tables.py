"""Tier tables: layout, bands, rates, per-symbol groups, and the derived maintenance amounts (`cum`)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from helpers import check_ok, dedent, errors, one_error, where

from rulelang import ir


def full(text: str) -> str:
    return dedent(text).rstrip("\n")


def table(rows: str, columns: str = "| from | to  | mmr  | imr  |", bands: str = "bands from <= size < to") -> str:
    """A ruleset whose table `t` (keyed by BTC) starts on line 3; its first band row is line 6."""
    body = "\n".join("    " + r.strip() for r in rows.strip().splitlines())
    return f"units BTC, USDT\ninput q: BTC\ntable t: BTC\n    {bands}\n    {columns}\n{body}\nlet m: BTC = step(t.mmr, q)\n"


def codes(text: str) -> list[tuple[str, tuple[int, int]]]:
    return [(d.code, where(d)) for d in errors(text)]


# ------------------------------------------------------------------ a good table


def test_good_table_is_lowered_with_its_bands_and_columns() -> None:
    ruleset, warnings = check_ok(
        table(
            """
            | 0   | 50  | 0.5% | 1% |
            | 50  | 100 | 1%   | 2% |
            | 100 | inf | 1.5% | 3% |
            """
        )
    )
    assert warnings == []
    t = ruleset.tables[0]
    assert (t.name, t.group, t.lower_inclusive) == ("t", None, True)
    assert [c.name for c in t.columns] == ["mmr", "imr"]
    ((key, tiers),) = t.tiers
    assert key == ""
    assert [(x.number, x.lower, x.upper) for x in tiers] == [
        (1, Decimal(0), Decimal(50)),
        (2, Decimal(50), Decimal(100)),
        (3, Decimal(100), None),
    ]
    assert dict(tiers[0].values) == {"mmr": Decimal("0.005"), "imr": Decimal("0.01")}


def test_markdown_separator_and_units_on_edges_are_accepted() -> None:
    text = table(
        """
        |------|--------|------|------|
        | 0    | 50 BTC | 0.5% | 1%   |
        | 50 BTC | ∞    | 1%   | 2%   |
        """
    )
    ruleset, _ = check_ok(text)
    assert [x.upper for x in ruleset.tables[0].tiers[0][1]] == [Decimal(50), None]


def test_upper_inclusive_bands() -> None:
    text = table(
        """
        | 0  | 50  | 0.5% | 1% |
        | 50 | inf | 1%   | 2% |
        """,
        bands="bands from < size <= to",
    )
    ruleset, _ = check_ok(text)
    assert ruleset.tables[0].lower_inclusive is False


# ------------------------------------------------------------------ bands


def test_gap_between_bands() -> None:
    text = table(
        """
        | 0  | 50  | 0.5% | 1% |
        | 60 | inf | 1%   | 2% |
        """
    )
    assert errors(text)[0].render() == full(
        """
        t.rules:7:5: error[RL0404]: gap in table `t`: band 1 ends at 50 but band 2 starts at 60
           7 |     | 60 | inf | 1%   | 2% |
             |     ^^^^^^^^^^^^^^^^^^^^^^^^
          = help: start this band at 50 (the `bands` line says which end is inclusive)
        """
    )
    assert len(errors(text)) == 1


def test_overlapping_bands() -> None:
    text = table(
        """
        | 0  | 50  | 0.5% | 1% |
        | 40 | inf | 1%   | 2% |
        """
    )
    assert one_error(text).render() == full(
        """
        t.rules:7:5: error[RL0405]: overlap in table `t`: band 1 ends at 50 but band 2 starts at 40
           7 |     | 40 | inf | 1%   | 2% |
             |     ^^^^^^^^^^^^^^^^^^^^^^^^
          = help: start this band at 50
        """
    )


def test_band_that_does_not_increase() -> None:
    text = table(
        """
        | 0  | 50  | 0.5% | 1% |
        | 50 | 50  | 1%   | 2% |
        | 50 | inf | 1%   | 2% |
        """
    )
    d = one_error(text)
    assert (d.code, d.message, where(d)) == (
        "RL0406",
        "band 2 does not increase: it goes from 50 to 50",
        (7, 5),
    )


def test_band_below_zero() -> None:
    text = table(
        """
        | -10 | 50  | 0.5% | 1% |
        | 50  | inf | 1%   | 2% |
        """
    )
    d = one_error(text)
    assert (d.code, d.message, where(d)) == ("RL0406", "band 1 starts below zero (-10)", (6, 5))


def test_open_band_that_is_not_the_last() -> None:
    text = table(
        """
        | 0   | inf | 0.5% | 1% |
        | 100 | 200 | 1%   | 2% |
        """
    )
    d = one_error(text)
    assert (d.code, d.message, where(d)) == (
        "RL0405",
        "band 1 has no upper bound, but more bands follow it",
        (6, 5),
    )


def test_band_cannot_start_at_infinity() -> None:
    d = one_error(table("| inf | inf | 1% | 2% |"))
    assert (d.code, d.message, where(d)) == ("RL0403", "a band cannot start at infinity", (6, 7))


def test_band_edge_in_the_wrong_unit() -> None:
    d = one_error(table("| 0 USDT | inf | 1% | 2% |"))
    assert (d.code, d.message, where(d)) == (
        "RL0301",
        "this table is keyed by BTC, but this edge is in USDT",
        (6, 7),
    )


def test_band_edge_that_is_not_a_number() -> None:
    d = one_error(table("| 0 | 5% | 1% | 2% |"))
    assert (d.code, d.message, where(d)) == ("RL0403", "a band edge must be a number, not `5%`", (6, 11))


def test_empty_band_edge() -> None:
    d = one_error(table("| 0 |  | 1% | 2% |"))
    assert (d.code, d.message) == ("RL0403", "a band edge must be a number, but this cell is empty")
    assert d.span is not None and d.span.line == 6


# ------------------------------------------------------------------ values


def test_rate_above_one_hundred_percent() -> None:
    d = one_error(table("| 0 | inf | 120% |", columns="| from | to | mmr |"))
    assert d.render() == full(
        """
        t.rules:6:17: error[RL0407]: rate `mmr` is 120%, outside 0% to 100%
           6 |     | 0 | inf | 120% |
             |                 ^^^^
        """
    )


def test_rates_above_one_and_below_zero() -> None:
    text = table(
        """
        | 0  | 50  | -1%  | 1%   |
        | 50 | inf | 2%   | 101% |
        """
    )
    assert [(d.code, d.message, where(d)) for d in errors(text)] == [
        ("RL0407", "rate `mmr` is -1%, outside 0% to 100%", (6, 18)),
        ("RL0407", "rate `imr` is 101%, outside 0% to 100%", (7, 25)),
    ]


def test_percent_column_with_any_name_is_a_rate() -> None:
    text = table("| 0 | inf | 1% | 200% |", columns="| from | to | mmr | fee |")
    d = one_error(text)
    assert (d.message, where(d)) == ("rate `fee` is 200%, outside 0% to 100%", (6, 22))


def test_maintenance_rate_above_the_initial_rate() -> None:
    text = table(
        """
        | 0  | 50  | 0.5% | 1% |
        | 50 | inf | 3%   | 2% |
        """
    )
    assert one_error(text).render() == full(
        """
        t.rules:7:18: error[RL0408]: maintenance rate 3% is above the initial rate 2%
           7 |     | 50 | inf | 3%   | 2% |
             |                  ^^
          = help: the maintenance margin rate must not exceed the initial margin rate
        """
    )


def test_max_leverage_rising_with_size() -> None:
    text = table(
        """
        | 0   | 50  | 0.5% | 100x |
        | 50  | 100 | 1%   | 50x  |
        | 100 | inf | 1.5% | 75x  |
        """,
        columns="| from | to | mmr | max_leverage |",
    )
    assert one_error(text).render() == full(
        """
        t.rules:8:26: error[RL0409]: max leverage `max_leverage` rises with size: 50x then 75x
           8 |     | 100 | inf | 1.5% | 75x  |
             |                          ^^^
          = help: a larger position must not get more leverage
        """
    )


def test_max_leverage_must_be_above_zero() -> None:
    text = table("| 0 | inf | 1% | 0x |", columns="| from | to | mmr | max_leverage |")
    d = one_error(text)
    assert (d.code, d.message, where(d)) == (
        "RL0409",
        "max leverage `max_leverage` must be above zero",
        (6, 22),
    )


def test_column_that_mixes_units() -> None:
    text = table(
        """
        | 0  | 50  | 0.5% | 10 USDT |
        | 50 | inf | 1%   | 0.1 BTC |
        """,
        columns="| from | to | mmr | fee |",
    )
    assert one_error(text).render() == full(
        """
        t.rules:7:25: error[RL0410]: column `fee` mixes an amount in USDT and an amount in BTC
           7 |     | 50 | inf | 1%   | 0.1 BTC |
             |                         ^^^^^^^
        """
    )


def test_column_that_mixes_numbers_and_names() -> None:
    text = table("| 0 | 50 | 1% | 2% |\n| 50 | inf | 1% | high |")
    d = one_error(text)
    assert (d.code, d.message, where(d)) == ("RL0410", "column `imr` mixes a percent and a text", (7, 23))


def test_inf_in_a_value_column() -> None:
    d = one_error(table("| 0 | inf | 1% | inf |"))
    assert (d.code, d.message, where(d)) == ("RL0403", "only a band's `to` can be `inf`", (6, 22))


def test_empty_value_cell() -> None:
    d = one_error(table("| 0 | inf | 1% |    |"))
    assert (d.code, d.message) == ("RL0403", "the `imr` cell is empty")
    assert d.span is not None and d.span.line == 6


# ------------------------------------------------------------------ layout


def test_missing_bands_line() -> None:
    text = "units BTC\ntable t: BTC\n    | from | to  | mmr |\n    | 0    | inf | 1%  |\n"
    assert one_error(text).render() == full(
        """
        t.rules:2:7: error[RL0401]: table `t` must say which end of a band is inclusive
           2 | table t: BTC
             |       ^
          = help: add a line `bands from <= size < to` (lower end inclusive) or `bands from < size <= to`
        """
    )


@pytest.mark.parametrize(
    "line",
    [
        "bands from <= size <= to",
        "bands from < size < to",
        "bands to <= size < from",
        "bands lo <= size < hi",
    ],
)
def test_bands_line_that_cannot_be_read(line: str) -> None:
    d = one_error(table("| 0 | inf | 1% | 2% |", bands=line))
    assert (d.code, d.message, where(d)) == ("RL0401", "cannot read this `bands` line", (4, 5))
    assert d.hint == "write `bands from <= size < to` or `bands from < size <= to`"


def test_bands_line_is_rendered_whole() -> None:
    d = one_error(table("| 0 | inf | 1% | 2% |", bands="bands from <= size <= to"))
    assert d.render() == full(
        """
        t.rules:4:5: error[RL0401]: cannot read this `bands` line
           4 |     bands from <= size <= to
             |     ^^^^^^^^^^^^^^^^^^^^^^^^
          = help: write `bands from <= size < to` or `bands from < size <= to`
        """
    )


def test_header_without_from() -> None:
    text = table("| 0 | inf | 1% |", columns="| start | to | mmr |")
    assert one_error(text).render() == full(
        """
        t.rules:5:5: error[RL0402]: table `t` needs the column(s) `from`
           5 |     | start | to | mmr |
             |     ^^^^^^^^^^^^^^^^^^^^
          = help: the header row names the columns, e.g. `| from | to | rate |`
        """
    )


def test_header_without_from_and_to() -> None:
    d = one_error(table("| 0 | inf | 1% |", columns="| lo | hi | mmr |"))
    assert d.message == "table `t` needs the column(s) `from`, `to`"


def test_table_without_rows() -> None:
    d = one_error("units BTC\ntable t: BTC\n    bands from <= size < to\n")
    assert (d.code, d.message, where(d)) == ("RL0402", "table `t` has no rows", (2, 7))


def test_table_with_a_header_but_no_bands() -> None:
    text = "units BTC\ntable t: BTC\n    bands from <= size < to\n    | from | to | mmr |\n    |------|----|-----|\n"
    assert one_error(text).render() == full(
        """
        t.rules:4:5: error[RL0402]: table `t` has a header but no bands
           4 |     | from | to | mmr |
             |     ^^^^^^^^^^^^^^^^^^^
          = help: add one row per band below the header row
        """
    )


def test_row_with_the_wrong_number_of_cells() -> None:
    text = table(
        """
        | 0  | 50  | 0.5% |
        | 50 | inf | 1%   | 2% |
        """
    )
    assert one_error(text).render() == full(
        """
        t.rules:6:5: error[RL0403]: this row has 3 cells, but the header has 4
           6 |     | 0  | 50  | 0.5% |
             |     ^^^^^^^^^^^^^^^^^^^
        """
    )


def test_row_with_one_cell() -> None:
    d = one_error(table("| 0 |"))
    assert (d.message, where(d)) == ("this row has 1 cell, but the header has 4", (6, 5))


def test_column_named_twice() -> None:
    d = one_error(table("| 0 | inf | 1% | 2% |", columns="| from | to | mmr | mmr |"))
    assert (d.code, d.message, where(d)) == ("RL0202", "column `mmr` appears twice", (5, 25))


def test_header_cell_that_is_not_a_name() -> None:
    d = one_error(table("| 0 | inf | 1% | 2% |", columns="| from | to | mmr | 5% |"))
    assert (d.code, d.message, where(d)) == (
        "RL0402",
        "a header cell must be a column name, not `5%`",
        (5, 25),
    )


def test_table_keyed_by_an_unknown_unit() -> None:
    d = one_error(
        "units BTC\ntable t: ETH\n    bands from <= size < to\n    | from | to | mmr |\n    | 0 | inf | 1% |\n"
    )
    assert (d.code, d.message, where(d)) == ("RL0203", "unknown unit `ETH`", (2, 10))


# ------------------------------------------------------------------ per-symbol tables


PER_SYMBOL = """
units USDT
input symbol: text
input notional: USDT
table brackets: USDT per symbol
    bands from <= notional < to
    | symbol  | from   | to     | mmr  | imr  |
{rows}
let m: USDT = bracket(brackets[symbol].mmr, notional)
"""


def per_symbol(rows: str) -> str:
    body = "\n".join("    " + r.strip() for r in rows.strip().splitlines())
    return dedent(PER_SYMBOL).replace("{rows}", body)


def test_per_symbol_table_keeps_one_tier_set_per_symbol() -> None:
    text = per_symbol(
        """
        | BTCUSDT | 0      | 50_000 | 0.4% | 0.8% |
        | BTCUSDT | 50_000 | inf    | 0.5% | 1%   |
        | ETHUSDT | 0      | 10_000 | 0.5% | 1%   |
        | ETHUSDT | 10_000 | inf    | 1%   | 2%   |
        """
    )
    ruleset, _ = check_ok(text)
    t = ruleset.tables[0]
    assert t.group == "symbol"
    assert [(key, len(tiers)) for key, tiers in t.tiers] == [("BTCUSDT", 2), ("ETHUSDT", 2)]
    assert [x.number for x in t.tiers[1][1]] == [1, 2]


def test_per_symbol_checks_name_the_symbol() -> None:
    text = per_symbol(
        """
        | BTCUSDT | 0      | 50_000 | 0.4% | 0.8% |
        | BTCUSDT | 60_000 | inf    | 0.5% | 1%   |
        | ETHUSDT | 0      | 10_000 | 0.5% | 1%   |
        | ETHUSDT | 10_000 | inf    | 2%   | 1%   |
        """
    )
    assert [(d.code, d.message, where(d)) for d in errors(text)] == [
        (
            "RL0404",
            "gap in table `brackets` for BTCUSDT: band 1 ends at 50000 but band 2 starts at 60000",
            (8, 5),
        ),
        ("RL0408", "maintenance rate 2% is above the initial rate 1% for ETHUSDT", (10, 35)),
    ]


def test_per_symbol_bands_are_checked_within_each_symbol_only() -> None:
    """ETHUSDT starting again at 0 is not an overlap with BTCUSDT's bands."""
    text = per_symbol(
        """
        | BTCUSDT | 0      | inf    | 0.4% | 0.8% |
        | ETHUSDT | 0      | inf    | 0.5% | 1%   |
        """
    )
    check_ok(text)


def test_per_table_needs_its_key_column() -> None:
    text = per_symbol("| BTCUSDT | 0 | inf | 0.4% | 0.8% |").replace("| symbol  |", "| pair    |")
    d = one_error(text)
    assert d.message == "table `brackets` needs the column(s) `symbol`"


def test_per_table_key_cell_must_be_a_name() -> None:
    d = one_error(per_symbol("| 5 | 0 | inf | 0.4% | 0.8% |"))
    assert (d.code, d.message, where(d)) == (
        "RL0403",
        "the `symbol` cell must name a symbol, e.g. `BTCUSDT`",
        (7, 7),
    )


def test_per_table_lookup_without_a_key() -> None:
    text = per_symbol("| BTCUSDT | 0 | inf | 0.4% | 0.8% |").replace("brackets[symbol].mmr", "brackets.mmr")
    d = one_error(text)
    assert (d.code, where(d)) == ("RL0304", (8, 23))
    assert d.message == ("table `brackets` has one set of tiers per symbol: say which, e.g. `brackets[symbol]`")


def test_plain_table_lookup_with_a_key() -> None:
    text = table("| 0 | inf | 1% | 2% |").replace("step(t.mmr, q)", "step(t[q].mmr, q)")
    d = one_error(text)
    assert (d.code, d.message, where(d)) == ("RL0304", "table `t` is not keyed (it has no `per`)", (7, 19))


# ------------------------------------------------------------------ lookups and derived amounts


BINANCE = dedent(
    """
    units USDT
    input notional: USDT
    table binance: USDT
        bands from <= notional < to
        | from      | to        | mmr  | max_leverage |
        |-----------|-----------|------|--------------|
        | 0         | 50_000    | 0.4% | 125x         |
        | 50_000    | 250_000   | 0.5% | 100x         |
        | 250_000   | 1_000_000 | 1%   | 50x          |
        | 1_000_000 | 7_500_000 | 2.5% | 20x          |
    let maintenance: USDT = bracket(binance.mmr, notional)
    """
)


def test_binance_maintenance_amounts_are_derived() -> None:
    """Binance publishes these `cum` values for its BTCUSDT brackets: 0, 50, 1,300 and 16,300 USDT."""
    ruleset, _ = check_ok(BINANCE)
    ((_, tiers),) = ruleset.tables[0].tiers
    assert [dict(t.cum)["mmr"] for t in tiers] == [Decimal(0), Decimal(50), Decimal(1300), Decimal(16300)]


def test_derived_amounts_make_bracket_equal_progressive() -> None:
    """size × rate − cum is the sum of every slice at its own rate, at every band's lower edge."""
    ruleset, _ = check_ok(BINANCE)
    ((_, tiers),) = ruleset.tables[0].tiers
    for n, tier in enumerate(tiers):
        rate = dict(tier.values)["mmr"]
        assert isinstance(rate, Decimal)
        slices = sum(
            ((t.upper or tier.lower) - t.lower) * dict(t.values)["mmr"]
            for t in tiers[:n]  # type: ignore[operator]
        )
        assert tier.lower * rate - dict(tier.cum)["mmr"] == slices


def test_progressive_on_a_table_that_does_not_start_at_zero() -> None:
    text = table(
        """
        | 10 | 50  | 0.5% | 1% |
        | 50 | inf | 1%   | 2% |
        """
    ).replace("step(t.mmr, q)", "progressive(t.mmr, q)")
    assert one_error(text).render() == full(
        """
        t.rules:8:14: error[RL0411]: `progressive` charges every slice from 0, but table `t` does not start at 0
           8 | let m: BTC = progressive(t.mmr, q)
             |              ^^^^^^^^^^^^^^^^^^^^^
        """
    )


def test_step_and_lookup_on_a_table_that_does_not_start_at_zero() -> None:
    text = table("| 10 | inf | 1% | 2% |")
    text += "let r: percent = lookup(t.imr, q)\nlet n: number = tier(t, q)\n"
    check_ok(text)


@pytest.mark.parametrize(
    ("call", "declared"),
    [
        ("progressive(t.mmr, q)", "BTC"),
        ("bracket(t.mmr, q)", "BTC"),
        ("step(t.mmr, q)", "BTC"),
        ("cum(t.mmr, q)", "BTC"),
        ("lookup(t.mmr, q)", "percent"),
        ("tier(t, q)", "number"),
    ],
)
def test_lookup_result_types(call: str, declared: str) -> None:
    text = table("| 0 | inf | 1% | 2% |") + f"let x: {declared} = {call}\n"
    check_ok(text)


def test_lookup_with_the_wrong_shape() -> None:
    text = table("| 0 | inf | 1% | 2% |") + "let x: BTC = step(t, q)\n"
    d = one_error(text)
    assert (d.code, d.message, where(d)) == (
        "RL0304",
        "the first argument of `step` must be `table.column`",
        (8, 19),
    )
    assert d.hint == "write `step(table.column, size)` (for a table with `per`, `table[key]`)"


def test_table_used_as_a_value() -> None:
    d = one_error(table("| 0 | inf | 1% | 2% |") + "let x = t\n")
    assert (d.code, d.message, where(d)) == (
        "RL0304",
        "`t` is a table; read it with a lookup such as `bracket(t.mmr, size)`",
        (8, 9),
    )


def test_table_ir_is_the_checked_form() -> None:
    ruleset, _ = check_ok(table("| 0 | inf | 1% | 2% |"))
    assert isinstance(ruleset.tables[0], ir.TableDecl)
