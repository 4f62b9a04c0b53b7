"""Level ladders: `otherwise`, threshold order in both directions, parameters, duplicate rungs, actions."""

from __future__ import annotations

import pytest
from helpers import check_ok, dedent, errors, one_error, where


def full(text: str) -> str:
    return dedent(text).rstrip("\n")


def ladder(*rungs: str, params: str = "") -> str:
    """A ruleset whose ladder `risk` starts on line 4 (after any parameter lines); rungs follow it."""
    head = "units USDT\ninput ratio: percent\ninput equity: USDT\n" + params
    return head + "levels risk\n" + "".join(f"    {r}\n" for r in rungs)


# ------------------------------------------------------------------ otherwise


def test_missing_otherwise() -> None:
    d = one_error(ladder("liquidation when ratio <= 100%", "warning when ratio <= 150%"))
    assert d.render() == full(
        """
        t.rules:4:8: error[RL0501]: levels `risk` must end with `otherwise`
           4 | levels risk
             |        ^^^^
          = help: add a last line such as `otherwise safe`: the level when no condition holds
        """
    )


def test_ladder_with_only_otherwise() -> None:
    ruleset, _ = check_ok(ladder("otherwise safe") + "let e: USDT = equity\nlet r: percent = ratio\n")
    assert [r.name for r in ruleset.ladders[0].rungs] == ["safe"]


def test_lowered_ladder_keeps_rungs_actions_and_otherwise_last() -> None:
    ruleset, _ = check_ok(
        ladder(
            "liquidation when ratio <= 100% do full_liquidation",
            "warning when ratio <= 150% do notify, restrict_new_orders",
            "otherwise safe",
        )
        + "let e: USDT = equity\n"
    )
    rungs = ruleset.ladders[0].rungs
    assert [(r.name, r.actions, r.cond is None) for r in rungs] == [
        ("liquidation", ("full_liquidation",), False),
        ("warning", ("notify", "restrict_new_orders"), False),
        ("safe", (), True),
    ]


# ------------------------------------------------------------------ threshold order


def test_okx_style_ladder_out_of_order() -> None:
    """With `<=`, the most severe level has the lowest threshold; 80% after 100% is never reached."""
    d = one_error(ladder("liquidation when ratio <= 100%", "warning when ratio <= 80%", "otherwise safe"))
    assert d.render() == full(
        """
        t.rules:6:5: error[RL0502]: level `warning` can never be reached: its threshold 80% is not above the threshold 100% of `liquidation` before it
           6 |     warning when ratio <= 80%
             |     ^^^^^^^^^^^^^^^^^^^^^^^^^
          = help: order the levels from the most severe to the least, with thresholds moving up
        """
    )


def test_binance_style_ladder_out_of_order() -> None:
    """With `>=`, the most severe level has the highest threshold; 100% after 80% is never reached."""
    d = one_error(ladder("liquidation when ratio >= 80%", "warning when ratio >= 100%", "otherwise safe"))
    assert d.render() == full(
        """
        t.rules:6:5: error[RL0502]: level `warning` can never be reached: its threshold 100% is not below the threshold 80% of `liquidation` before it
           6 |     warning when ratio >= 100%
             |     ^^^^^^^^^^^^^^^^^^^^^^^^^^
          = help: order the levels from the most severe to the least, with thresholds moving down
        """
    )


@pytest.mark.parametrize(
    "rungs",
    [
        ("liquidation when ratio <= 100%", "warning when ratio <= 150%", "otherwise safe"),
        ("liquidation when ratio < 100%", "warning when ratio <= 100%", "otherwise safe"),
        ("liquidation when ratio >= 100%", "warning when ratio >= 80%", "otherwise safe"),
        ("liquidation when ratio > 100%", "warning when ratio >= 100%", "otherwise safe"),
        ("liquidation when 100% >= ratio", "warning when 150% >= ratio", "otherwise safe"),
        ("a when ratio <= 10%", "b when ratio <= 20%", "c when ratio <= 30%", "otherwise d"),
    ],
)
def test_ladders_in_order_are_accepted(rungs: tuple[str, ...]) -> None:
    check_ok(ladder(*rungs) + "let e: USDT = equity\n")


@pytest.mark.parametrize(
    ("rungs", "line"),
    [
        (("a when ratio <= 100%", "b when ratio < 100%", "otherwise c"), 6),
        (("a when ratio >= 100%", "b when ratio > 100%", "otherwise c"), 6),
        (("a when ratio <= 10%", "b when ratio <= 30%", "c when ratio <= 20%", "otherwise d"), 7),
        (("a when ratio <= 100%", "b when ratio <= 100%", "otherwise c"), 6),
        (("a when 100% >= ratio", "b when 80% >= ratio", "otherwise c"), 6),
    ],
)
def test_unreachable_rungs_are_found(rungs: tuple[str, ...], line: int) -> None:
    d = one_error(ladder(*rungs) + "let e: USDT = equity\n")
    assert (d.code, where(d)) == ("RL0502", (line, 5))


def test_thresholds_in_an_amount_are_shown_with_their_unit() -> None:
    d = one_error(ladder("big when equity >= 50_000 USDT", "bigger when equity >= 100_000 USDT", "otherwise small"))
    assert d.message == (
        "level `bigger` can never be reached: its threshold 100000 USDT is not below "
        "the threshold 50000 USDT of `big` before it"
    )


def test_parameters_as_thresholds_in_order() -> None:
    params = "param liquidation_line: percent = 100%\nparam warning_line: percent = 150%\n"
    text = ladder(
        "liquidation when ratio <= liquidation_line",
        "warning when ratio <= warning_line",
        "otherwise safe",
        params=params,
    )
    check_ok(text + "let e: USDT = equity\n")


def test_parameters_as_thresholds_out_of_order() -> None:
    params = "param liquidation_line: percent = 100%\nparam warning_line: percent = 150%\n"
    text = ladder(
        "warning when ratio <= warning_line",
        "liquidation when ratio <= liquidation_line",
        "otherwise safe",
        params=params,
    )
    d = one_error(text + "let e: USDT = equity\n")
    assert (d.code, where(d)) == ("RL0502", (8, 5))
    assert d.message == (
        "level `liquidation` can never be reached: its threshold 100% is not above "
        "the threshold 150% of `warning` before it"
    )


def test_mixed_measures_or_directions_are_not_ordered() -> None:
    """The order check only applies to rungs comparing one measure with constants in one direction."""
    for rungs in (
        ("a when ratio <= 100%", "b when equity <= 10 USDT", "otherwise c"),
        ("a when ratio <= 100%", "b when ratio >= 200%", "otherwise c"),
        ("a when ratio <= 100% and equity > 0", "b when ratio <= 50%", "otherwise c"),
    ):
        check_ok(ladder(*rungs))


# ------------------------------------------------------------------ rungs and actions


def test_duplicate_rung() -> None:
    d = one_error(ladder("a when ratio >= 100%", "a when ratio >= 80%", "otherwise b") + "let e: USDT = equity\n")
    assert d.render() == full(
        """
        t.rules:6:5: error[RL0503]: level `a` appears twice in `risk`
           6 |     a when ratio >= 80%
             |     ^
        """
    )


def test_otherwise_with_the_name_of_a_rung() -> None:
    d = one_error(ladder("a when ratio >= 100%", "otherwise a") + "let e: USDT = equity\n")
    assert (d.code, d.message, where(d)) == ("RL0503", "level `a` appears twice in `risk`", (6, 15))


def test_rung_condition_with_a_unit_error() -> None:
    d = one_error(ladder("a when ratio >= 100 USDT", "otherwise b") + "let e: USDT = equity\n")
    assert (d.code, d.message, where(d)) == (
        "RL0301",
        "cannot compare a percent with an amount in USDT",
        (5, 18),
    )


def test_ladder_name_is_a_global_name() -> None:
    text = ladder("otherwise safe") + "let risk = 1\nlet e: USDT = equity\nlet r: percent = ratio\n"
    errs = errors(text)
    assert [(d.code, d.message, where(d)) for d in errs] == [
        ("RL0202", "`risk` is already defined (at line 6)", (4, 8)),
    ]
