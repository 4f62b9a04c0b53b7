"""The static checker: names, units and types, examples, warnings, and one diagnostic per mistake.

Where the wording matters the diagnostic is compared in full, as a user sees it.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from helpers import check_ok, check_text, dedent, errors, one_error, render, where

from rulelang.check import check_file
from rulelang.errors import RulesetError, Severity
from rulelang.types import Dim, NumType

HEAD = "units BTC, USDT\n"  # line 1 of most snippets below, so their own lines start at 2


def full(text: str) -> str:
    return dedent(text).rstrip("\n")


# ------------------------------------------------------------------ undefined names


def test_undefined_name_with_did_you_mean() -> None:
    d = one_error(HEAD + "input size: BTC\nlet m: BTC = sise * 2\n")
    assert d.render() == full(
        """
        t.rules:3:14: error[RL0201]: undefined name `sise`
           3 | let m: BTC = sise * 2
             |              ^^^^
          = help: did you mean `size`?
        """
    )


def test_undefined_name_without_a_close_match_has_no_hint() -> None:
    d = one_error(HEAD + "let m = zzz + 1\n")
    assert (d.code, d.message, d.hint, where(d)) == ("RL0201", "undefined name `zzz`", None, (2, 9))


def test_field_used_outside_its_collection_says_where_it_lives() -> None:
    text = HEAD + "input positions: list\n    quantity: BTC\nlet total: BTC = quantity\n"
    d = one_error(text)
    assert (d.message, where(d)) == ("undefined name `quantity`", (4, 18))
    assert d.hint == (
        "`quantity` is a field of `positions`; use it inside `sum(positions, ...)` "
        "or a per-record `let positions.x = ...`"
    )


def test_per_record_definition_sees_fields_and_other_per_record_definitions() -> None:
    text = dedent(
        """
        units BTC, USDT
        input positions: list
            quantity: BTC
            mark_price: USDT/BTC
        let positions.notional: USDT = abs(quantity) * mark_price
        let positions.double: USDT = notional * 2
        let total: USDT = sum(positions, double)
        """
    )
    ruleset, warnings = check_ok(text)
    assert warnings == []
    assert [d.name for d in ruleset.definitions] == ["notional", "double", "total"]


def test_per_record_definition_on_a_scalar_input() -> None:
    d = one_error(HEAD + "input size: BTC\nlet size.x: BTC = 1 BTC\n")
    assert d.render() == full(
        """
        t.rules:3:10: error[RL0201]: `size` is not a collection input
           3 | let size.x: BTC = 1 BTC
             |          ^
          = help: a per-record definition is written `let positions.name = ...` where positions is a list input
        """
    )


# ------------------------------------------------------------------ duplicate names


def test_input_and_definition_with_the_same_name() -> None:
    d = one_error(HEAD + "input size: BTC\nlet size: BTC = 1 BTC\n")
    assert d.render() == full(
        """
        t.rules:3:5: error[RL0202]: `size` is already defined (at line 2)
           3 | let size: BTC = 1 BTC
             |     ^^^^
          = help: rename this definition
        """
    )


def test_two_definitions_with_the_same_name() -> None:
    d = one_error(HEAD + "let m = 1\nlet m = 2\n")
    assert (d.code, d.message, d.hint, where(d)) == (
        "RL0202",
        "`m` is already defined (at line 2)",
        "rename this definition",
        (3, 5),
    )


def test_table_and_parameter_share_one_namespace() -> None:
    text = (
        HEAD
        + "param t: percent = 1%\ntable t: BTC\n    bands from <= size < to\n    | from | to | mmr |\n    | 0 | inf | 1% |\n"
    )
    d = one_error(text)
    assert (d.message, d.hint, where(d)) == (
        "`t` is already defined (at line 2)",
        "rename this table",
        (3, 7),
    )


def test_unit_declared_twice() -> None:
    d = one_error("units BTC, USDT, BTC\n")
    assert d.render() == full(
        """
        t.rules:1:18: error[RL0202]: unit `BTC` is declared twice
           1 | units BTC, USDT, BTC
             |                  ^^^
        """
    )


def test_field_declared_twice() -> None:
    text = HEAD + "input positions: list\n    qty: BTC\n    qty: USDT\nlet n = count(positions)\n"
    d = one_error(text)
    assert d.render() == full(
        """
        t.rules:4:5: error[RL0202]: field `qty` appears twice
           4 |     qty: USDT
             |     ^^^
        """
    )


def test_per_record_definition_named_like_a_field() -> None:
    text = HEAD + "input positions: list\n    qty: BTC\nlet positions.qty: BTC = qty\nlet n = count(positions)\n"
    d = one_error(text)
    assert (d.code, d.message, where(d)) == ("RL0202", "`positions.qty` is already defined", (4, 15))


def test_action_declared_twice_and_a_builtin_redeclared() -> None:
    text = "action notify\naction mine\naction mine\n"
    assert [(d.code, d.message, where(d)) for d in errors(text)] == [
        ("RL0202", "action `notify` is declared twice", (1, 8)),
        ("RL0202", "action `mine` is declared twice", (3, 8)),
    ]


# ------------------------------------------------------------------ tables, columns, functions, units, actions


def test_undefined_table_with_did_you_mean() -> None:
    text = (
        HEAD
        + "input q: BTC\ntable btc_tiers: BTC\n    bands from <= size < to\n    | from | to | mmr |\n    | 0 | inf | 1% |\n"
    )
    text += "let m: BTC = progressive(btc_tier.mmr, q)\n"
    d = one_error(text)
    assert d.render() == full(
        """
        t.rules:7:26: error[RL0201]: undefined table `btc_tier`
           7 | let m: BTC = progressive(btc_tier.mmr, q)
             |                          ^^^^^^^^
          = help: did you mean `btc_tiers`?
        """
    )


def test_undefined_column_with_did_you_mean() -> None:
    text = (
        HEAD
        + "input q: BTC\ntable t: BTC\n    bands from <= size < to\n    | from | to | mmr | imr |\n    | 0 | inf | 1% | 2% |\n"
    )
    text += "let m: BTC = progressive(t.mrr, q)\n"
    d = one_error(text)
    assert d.render() == full(
        """
        t.rules:7:28: error[RL0207]: table `t` has no column `mrr`
           7 | let m: BTC = progressive(t.mrr, q)
             |                            ^^^
          = help: did you mean `mmr`?
        """
    )


def test_unknown_column_without_close_match_lists_the_columns() -> None:
    text = (
        HEAD
        + "input q: BTC\ntable t: BTC\n    bands from <= size < to\n    | from | to | mmr | imr |\n    | 0 | inf | 1% | 2% |\n"
    )
    text += "let m: BTC = progressive(t.zzz, q)\n"
    assert one_error(text).hint == "its columns are mmr, imr"


def test_unknown_function() -> None:
    d = one_error(HEAD + "input q: BTC\nlet m: BTC = foo(q)\n")
    assert d.render() == full(
        """
        t.rules:3:14: error[RL0204]: unknown function `foo`
           3 | let m: BTC = foo(q)
             |              ^^^
        """
    )


def test_unknown_function_with_did_you_mean() -> None:
    text = HEAD + "input positions: list\n    qty: BTC\nlet m: BTC = summ(positions, qty)\n"
    d = one_error(text)
    assert (d.code, d.message, d.hint, where(d)) == (
        "RL0204",
        "unknown function `summ`",
        "did you mean `sum`?",
        (4, 14),
    )


def test_unknown_unit_says_how_to_declare_it() -> None:
    d = one_error(HEAD + "input fee: ETH\n")
    assert d.render() == full(
        """
        t.rules:2:12: error[RL0203]: unknown unit `ETH`
           2 | input fee: ETH
             |            ^^^
          = help: declare it with `units ETH`
        """
    )


def test_unknown_unit_with_did_you_mean() -> None:
    d = one_error(HEAD + "input fee: USTD\nlet f: USDT = fee\n")
    assert (d.message, d.hint, where(d)) == ("unknown unit `USTD`", "did you mean `USDT`?", (2, 12))


def test_unknown_unit_in_a_compound_unit_mentions_division() -> None:
    d = one_error(HEAD + "input q: BTC\nlet x = q / 2 BTC/ETH\n")
    assert d.message == "unknown unit `ETH`"
    assert d.hint == "declare it with `units ETH`; to divide by a value, put spaces around `/`"
    assert where(d) == (3, 15)


def test_unknown_unit_in_a_literal() -> None:
    d = one_error(HEAD + "input q: BTC\nlet x: bool = q > 5 ETH\n")
    assert (d.code, d.message, where(d)) == ("RL0203", "unknown unit `ETH`", (3, 21))


def test_unknown_action_with_did_you_mean() -> None:
    text = HEAD + "input r: percent\nlevels l\n    a when r > 1% do notfy\n    otherwise b\n"
    d = one_error(text)
    assert d.render() == full(
        """
        t.rules:4:22: error[RL0206]: unknown action `notfy`
           4 |     a when r > 1% do notfy
             |                      ^^^^^
          = help: did you mean `notify`?
        """
    )


def test_unknown_action_without_close_match_lists_the_builtins() -> None:
    text = HEAD + "input r: percent\nlevels l\n    a when r > 1% do email_ops\n    otherwise b\n"
    d = one_error(text)
    assert d.hint == (
        "declare it with `action email_ops`, or use one of: notify, restrict_new_orders, "
        "reduce_only, partial_liquidation, full_liquidation"
    )


def test_declared_action_is_known() -> None:
    text = (
        HEAD
        + 'action email_ops\n    label "Email the desk"\ninput r: percent\nlevels l\n    a when r > 1% do email_ops, notify\n    otherwise b\n'
    )
    check_ok(text)


def test_unknown_rounding_mode() -> None:
    d = one_error(HEAD + "input q: BTC\nlet r: BTC = round(q, 2, half_upp)\n")
    assert d.render() == full(
        """
        t.rules:3:26: error[RL0304]: unknown rounding mode `half_upp`
           3 | let r: BTC = round(q, 2, half_upp)
             |                          ^^^^^^^^
          = help: did you mean `half_up`?
        """
    )


@pytest.mark.parametrize("mode", ["half_up", "half_even", "down", "up", "floor", "ceiling"])
def test_every_rounding_mode_is_known(mode: str) -> None:
    check_ok(HEAD + f"input q: BTC\nlet r: BTC = round(q, 2, {mode})\n")


def test_profile_of_an_unknown_parameter() -> None:
    text = HEAD + "param warn: percent = 1%\nprofile vip\n    wran = 2%\n"
    d = one_error(text)
    assert (d.code, d.message, d.hint, where(d)) == (
        "RL0201",
        "`wran` is not a parameter",
        "did you mean `warn`?",
        (4, 5),
    )


# ------------------------------------------------------------------ cycles


def test_two_definitions_in_a_cycle() -> None:
    d = one_error(HEAD + "let a: BTC = b\nlet b: BTC = a\n")
    assert d.render() == full(
        """
        t.rules:2:5: error[RL0205]: definitions depend on each other in a cycle: a -> b -> a
           2 | let a: BTC = b
             |     ^
          = help: a value cannot be computed from itself; break the cycle
        """
    )


def test_cycle_found_from_a_definition_outside_it() -> None:
    d = one_error(HEAD + "let c: BTC = a\nlet a: BTC = b\nlet b: BTC = a\n")
    assert (d.message, where(d)) == ("definitions depend on each other in a cycle: a -> b -> a", (3, 5))


def test_definition_that_uses_itself() -> None:
    d = one_error(HEAD + "let a = a + 1\n")
    assert (d.code, d.message, where(d)) == (
        "RL0205",
        "definitions depend on each other in a cycle: a -> a",
        (2, 5),
    )


def test_per_record_cycle_through_an_aggregate() -> None:
    text = dedent(
        """
        units BTC
        input positions: list
            qty: BTC
        let positions.share: number = qty / total
        let total: BTC = sum(positions, qty * share)
        """
    )
    d = one_error(text)
    assert d.render() == full(
        """
        t.rules:4:15: error[RL0205]: definitions depend on each other in a cycle: positions.share -> total -> positions.share
           4 | let positions.share: number = qty / total
             |               ^^^^^
          = help: a value cannot be computed from itself; break the cycle
        """
    )


# ------------------------------------------------------------------ units and types


def test_adding_usdt_to_btc() -> None:
    d = one_error(HEAD + "input q: BTC\ninput wallet: USDT\nlet x = wallet + q\n")
    assert d.render() == full(
        """
        t.rules:4:16: error[RL0301]: cannot add an amount in BTC to an amount in USDT
           4 | let x = wallet + q
             |                ^
          = help: both sides of `+` and `-` must have the same unit
        """
    )


def test_subtracting_mixed_units_and_operator_precedence() -> None:
    """`p - e * q` multiplies first: an amount in USDT taken from a price."""
    text = HEAD + "input p: USDT/BTC\ninput e: USDT/BTC\ninput q: BTC\nlet pnl: USDT = p - e * q\n"
    d = one_error(text)
    assert (d.message, where(d)) == ("cannot subtract an amount in USDT from an amount in USDT/BTC", (5, 19))


def test_comparing_a_ratio_with_an_amount() -> None:
    d = one_error(HEAD + "input ratio: percent\ninput wallet: USDT\nlet low: bool = ratio < wallet\n")
    assert d.render() == full(
        """
        t.rules:4:23: error[RL0301]: cannot compare a percent with an amount in USDT
           4 | let low: bool = ratio < wallet
             |                       ^
          = help: both sides of a comparison must have the same unit
        """
    )


def test_price_used_as_the_size_of_a_quantity_table() -> None:
    text = dedent(
        """
        units BTC, USDT
        input price: USDT/BTC
        table btc_tiers: BTC
            bands from <= size < to
            | from | to  | mmr  |
            | 0    | inf | 0.5% |
        let m: BTC = progressive(btc_tiers.mmr, price)
        """
    )
    d = one_error(text)
    assert d.render() == full(
        """
        t.rules:7:41: error[RL0301]: table `btc_tiers` is keyed by an amount in BTC, but this size is an amount in USDT/BTC
           7 | let m: BTC = progressive(btc_tiers.mmr, price)
             |                                         ^^^^^
        """
    )


def test_if_branches_with_different_units() -> None:
    text = HEAD + "input q: BTC\ninput w: USDT\nlet x = if q > 1 BTC then q else w\n"
    d = one_error(text)
    assert d.render() == full(
        """
        t.rules:4:34: error[RL0301]: the two branches of `if` differ: an amount in BTC after `then`, an amount in USDT after `else`
           4 | let x = if q > 1 BTC then q else w
             |                                  ^
        """
    )


def test_declared_type_differs_from_the_formula() -> None:
    d = one_error(HEAD + "input w: USDT\nlet m: BTC = w * 2\n")
    assert d.render() == full(
        """
        t.rules:3:14: error[RL0303]: `m` is declared as an amount in BTC, but its formula gives an amount in USDT
           3 | let m: BTC = w * 2
             |              ^^^^^
        """
    )


def test_declared_percent_but_formula_is_a_price() -> None:
    d = one_error(HEAD + "input w: USDT\ninput q: BTC\nlet r: percent = w / q\n")
    assert d.message == "`r` is declared as a percent, but its formula gives an amount in USDT/BTC"


def test_if_condition_must_be_true_or_false() -> None:
    d = one_error(HEAD + "input r: percent\nlet x = if r then 1 else 2\n")
    assert d.render() == full(
        """
        t.rules:3:12: error[RL0302]: the condition of `if` must be a true/false value, but this is a percent
           3 | let x = if r then 1 else 2
             |            ^
        """
    )


def test_level_condition_must_be_true_or_false() -> None:
    d = one_error(HEAD + "input r: percent\nlevels l\n    high when r * 2\n    otherwise low\n")
    assert (d.code, d.message, where(d)) == (
        "RL0302",
        "the condition of level `high` must be a true/false value, but this is a percent",
        (4, 15),
    )


def test_and_needs_true_or_false_on_both_sides() -> None:
    d = one_error(HEAD + "input r: percent\ninput b: bool\nlet x = b and r\n")
    assert (d.message, where(d)) == (
        "each side of `and` must be a true/false value, but this is a percent",
        (4, 15),
    )


def test_misspelt_enumeration_value() -> None:
    d = one_error(HEAD + "input side: long | short\nlet is_long = side == lng\n")
    assert d.render() == full(
        """
        t.rules:3:23: error[RL0201]: undefined name `lng`
           3 | let is_long = side == lng
             |                       ^^^
          = help: did you mean `long`?
        """
    )


def test_value_of_another_enumeration() -> None:
    text = HEAD + "input side: long | short\ninput mode: cross | isolated\nlet x = side == isolated\n"
    d = one_error(text)
    assert d.render() == full(
        """
        t.rules:4:17: error[RL0302]: `isolated` is not one of the values of this enumeration (long | short)
           4 | let x = side == isolated
             |                 ^^^^^^^^
        """
    )


def test_enumeration_default_must_be_one_of_its_values() -> None:
    d = one_error(HEAD + "input side: long | short = lng\nlet x = side == long\n")
    assert (d.code, d.message, d.hint, where(d)) == (
        "RL0302",
        "`lng` is not one of long | short",
        "did you mean `long`?",
        (2, 28),
    )


def test_literal_zero_fits_any_unit() -> None:
    text = dedent(
        """
        units BTC, USDT
        input q: BTC
        input w: USDT
        input p: USDT/BTC
        let a: USDT = w + 0
        let b: bool = q > 0 and p != 0 and 0 < w
        let c: USDT = if q > 0 then w else 0
        let d: USDT = max(w, 0)
        let e: BTC = 0
        """
    )
    check_ok(text)


def test_zero_with_a_style_or_a_nonzero_literal_has_no_unit() -> None:
    assert one_error(HEAD + "input w: USDT\nlet a: USDT = w + 1\n").message == (
        "cannot add a plain number to an amount in USDT"
    )
    assert one_error(HEAD + "input w: USDT\nlet a: USDT = w + 0%\n").message == (
        "cannot add a percent to an amount in USDT"
    )


def test_units_multiply_and_divide() -> None:
    text = dedent(
        """
        units BTC, USDT
        input price: USDT/BTC
        input qty: BTC
        input wallet: USDT
        input rate: percent
        let notional: USDT = price * qty
        let notional2: USDT = qty × price
        let qty_back: BTC = notional / price
        let price_back: USDT/BTC = notional ÷ qty
        let margin: USDT = notional * rate
        let ratio: percent = wallet / notional
        let leverage: number = notional / wallet
        """
    )
    ruleset, _ = check_ok(text)
    types = {d.name: d.type for d in ruleset.definitions}
    usdt, btc = Dim.unit("USDT"), Dim.unit("BTC")
    assert types["notional"] == NumType(usdt)
    assert types["qty_back"] == NumType(btc)
    assert types["price_back"] == NumType(usdt / btc)
    assert types["ratio"].dim == Dim()


def test_undeclared_let_gets_the_inferred_type() -> None:
    ruleset, _ = check_ok(HEAD + "input price: USDT/BTC\ninput qty: BTC\nlet notional = price * qty\n")
    assert ruleset.definitions[0].type == NumType(Dim.unit("USDT"))


def test_bound_and_default_must_match_the_type() -> None:
    text = HEAD + "input q: BTC >= 0 USDT\ninput w: USDT = 5 BTC\nlet x: bool = q > 0 and w > 0\n"
    assert [(d.code, d.message, where(d)) for d in errors(text)] == [
        ("RL0301", "the bound of `q` must be an amount in BTC, but this is an amount in USDT", (2, 17)),
        ("RL0301", "the default of `w` must be an amount in USDT, but this is an amount in BTC", (3, 17)),
    ]


def test_collection_used_as_a_value() -> None:
    text = HEAD + "input positions: list\n    qty: BTC\nlet x = positions\n"
    d = one_error(text)
    assert d.message == (
        "`positions` is a collection of records; use it in an aggregate such as "
        "`sum(positions, ...)` or `count(positions)`"
    )
    assert where(d) == (4, 9)


def test_aggregate_over_a_scalar() -> None:
    d = one_error(HEAD + "input q: BTC\nlet x = sum(q, 1)\n")
    assert d.render() == full(
        """
        t.rules:3:13: error[RL0304]: `sum` works over a collection: its first argument must be a collection input
           3 | let x = sum(q, 1)
             |             ^
          = help: e.g. `sum(positions, ...)`
        """
    )


# ------------------------------------------------------------------ one mistake, one diagnostic


def test_uses_of_a_broken_input_or_parameter_stay_silent() -> None:
    text = HEAD + "input a: FOO\nparam p: FOO = 1\nlet b = a + p\n"
    assert [(d.code, d.message, where(d)) for d in check_text(text)] == [
        ("RL0203", "unknown unit `FOO`", (2, 10)),
        ("RL0203", "unknown unit `FOO`", (3, 10)),
    ]


def test_uses_of_a_broken_table_stay_silent() -> None:
    text = dedent(
        """
        units BTC
        input q: BTC
        table t: BTC
            bands from <= size < to
            | from | to  | mmr |
            | 0    | 50  | 1%  |
            | 60   | inf | 2%  |
        let m: BTC = progressive(t.mmr, q)
        let n: BTC = m * 2
        """
    )
    assert [d.code for d in check_text(text)] == ["RL0404"]


def test_uses_of_a_broken_definition_stay_silent() -> None:
    text = HEAD + "input q: BTC\nlet a: BTC = q + 1 USDT\nlet b: BTC = a * 2\nlet c: bool = b > a\n"
    assert [d.code for d in check_text(text)] == ["RL0301"]


def test_expectations_of_a_broken_ladder_stay_silent() -> None:
    text = HEAD + 'input r: percent\nlevels l\n    a when r > 1%\nexample "e"\n    given r = 2%\n    expect l = a\n'
    assert [d.code for d in check_text(text)] == ["RL0501"]


def test_all_mistakes_are_reported_in_file_order() -> None:
    text = HEAD + "input q: BTC\nlet a = zz\nlet b = q + 1 USDT\nlet c = foo(q)\n"
    assert [(d.code, where(d)) for d in errors(text)] == [
        ("RL0201", (3, 9)),
        ("RL0301", (4, 11)),
        ("RL0204", (5, 9)),
    ]


# ------------------------------------------------------------------ examples


EXAMPLE_HEAD = dedent(
    """
    units BTC, USDT
    input q: BTC
    input r: percent
    let m: BTC = q * 2
    levels risk
        bad when r >= 100%
        otherwise good
    """
)  # 7 lines; the example starts on line 8


def test_given_of_a_definition() -> None:
    d = one_error(EXAMPLE_HEAD + 'example "e"\n    given m = 1 BTC\n')
    assert d.render() == full(
        """
        t.rules:9:11: error[RL0601]: `m` is not an input
           9 |     given m = 1 BTC
             |           ^
        """
    )


def test_given_of_a_misspelt_input() -> None:
    d = one_error(EXAMPLE_HEAD + 'example "e"\n    given qq = 1 BTC\n')
    assert (d.code, d.hint, where(d)) == ("RL0601", "did you mean `q`?", (9, 11))


def test_given_with_the_wrong_unit() -> None:
    d = one_error(EXAMPLE_HEAD + 'example "e"\n    given q = 5 USDT\n')
    assert d.render() == full(
        """
        t.rules:9:15: error[RL0301]: `q` must be an amount in BTC, but this is an amount in USDT
           9 |     given q = 5 USDT
             |               ^^^^^^
        """
    )


def test_given_twice() -> None:
    d = one_error(EXAMPLE_HEAD + 'example "e"\n    given q = 1\n    given q = 2\n')
    assert (d.code, d.message, where(d)) == ("RL0202", "`q` is given twice", (10, 11))


def test_expect_of_an_unknown_name() -> None:
    d = one_error(EXAMPLE_HEAD + 'example "e"\n    given q = 1 BTC\n    expect mm = 2 BTC\n')
    assert d.render() == full(
        """
        t.rules:10:12: error[RL0603]: `mm` is not a definition or a level ladder
          10 |     expect mm = 2 BTC
             |            ^^
          = help: did you mean `m`?
        """
    )


def test_expect_a_level_that_is_not_a_rung() -> None:
    d = one_error(EXAMPLE_HEAD + 'example "e"\n    given r = 1%\n    expect risk = fine\n')
    assert d.render() == full(
        """
        t.rules:10:19: error[RL0603]: `risk` is a level ladder: expect one of its levels (bad, good)
          10 |     expect risk = fine
             |                   ^^^^
        """
    )


def test_expect_a_level_with_did_you_mean() -> None:
    d = one_error(EXAMPLE_HEAD + 'example "e"\n    given r = 1%\n    expect risk = godo\n')
    assert d.hint == "did you mean `good`?"


def test_expect_with_the_wrong_unit() -> None:
    d = one_error(EXAMPLE_HEAD + 'example "e"\n    given q = 1\n    expect m = 2 USDT\n')
    assert (d.code, d.message, where(d)) == (
        "RL0301",
        "the expected `m` must be an amount in BTC, but this is an amount in USDT",
        (10, 16),
    )


def test_tolerance_must_be_in_the_value_unit() -> None:
    text = (
        EXAMPLE_HEAD
        + 'example "e"\n    given q = 1\n    expect m = 2 BTC within 1%\n    expect m = 2 BTC within 0.5 USDT\n'
    )
    assert [(d.code, d.message, where(d)) for d in errors(text)] == [
        ("RL0301", "the tolerance must be an amount in BTC", (10, 29)),
        ("RL0301", "the tolerance must be an amount in BTC", (11, 29)),
    ]


def test_tolerances_that_fit() -> None:
    text = EXAMPLE_HEAD + (
        'example "e"\n    given q = 1\n    given r = 1%\n'
        "    expect m = 2 BTC within 0.001\n    expect m = 2 BTC within 0.001 BTC\n"
    )
    check_ok(text)


def test_example_with_an_unknown_profile() -> None:
    d = one_error(EXAMPLE_HEAD + 'example "e"\n    given q = 1\n    profile vip\n')
    assert (d.code, d.message, where(d)) == ("RL0601", "unknown profile `vip`", (10, 13))


def test_example_record_with_an_unknown_field() -> None:
    text = HEAD + "input positions: list\n    qty: BTC\nlet n = count(positions)\n"
    text += 'example "e"\n    given positions = [{qty: 1}, {qyt: 2}]\n'
    d = one_error(text)
    assert (d.code, d.message, d.hint, where(d)) == (
        "RL0602",
        "`positions` records have no field `qyt`",
        "did you mean `qty`?",
        (6, 35),
    )


# ------------------------------------------------------------------ warnings


def test_unused_input_is_a_warning_and_the_check_passes() -> None:
    text = HEAD + "input used: BTC\ninput spare: USDT\nlet m: BTC = used * 2\n"
    ruleset, warnings = check_file("t.rules", text)  # does not raise
    assert ruleset.definitions[0].name == "m"
    assert len(warnings) == 1
    w = warnings[0]
    assert w.severity is Severity.WARNING and not w.is_error
    assert w.render() == full(
        """
        t.rules:3:1: warning[RL0701]: input `spare` is never used
           3 | input spare: USDT
             | ^^^^^^^^^^^^^^^^^
          = help: remove it, or use it in a definition or a level
        """
    )


def test_warnings_come_with_the_errors_when_there_are_errors() -> None:
    text = HEAD + "input spare: USDT\nlet m = zz\n"
    with pytest.raises(RulesetError) as info:
        check_file("t.rules", text)
    assert [(d.code, d.severity) for d in info.value.diagnostics] == [
        ("RL0701", Severity.WARNING),
        ("RL0201", Severity.ERROR),
    ]
    assert str(info.value) == render(list(info.value.diagnostics))


def test_input_used_only_in_a_level_or_an_aggregate_is_used() -> None:
    text = HEAD + "input r: percent\ninput positions: list\n    qty: BTC\n"
    text += "levels l\n    a when r > 1% and count(positions) > 0\n    otherwise b\n"
    _, warnings = check_ok(text)
    assert warnings == []


def test_no_unused_warning_when_a_block_did_not_parse() -> None:
    """The block that did not parse may be the one that uses the input."""
    text = HEAD + "input q: BTC\nlet a == q\n"
    assert [d.code for d in check_text(text)] == ["RL0100"]


# ------------------------------------------------------------------ literals read exactly


def test_parameter_values_are_exact_decimals() -> None:
    ruleset, _ = check_ok(HEAD + "param rate: percent = 0.35%\nparam cap: USDT = 1_535_443.01 USDT\n")
    assert {p.name: p.value for p in ruleset.params} == {
        "rate": Decimal("0.0035"),
        "cap": Decimal("1535443.01"),
    }
