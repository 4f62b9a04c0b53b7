"""Properties: on random accounts the compiled evaluator agrees with the reference interpreter,
and ``bracket`` equals ``progressive`` for random sizes."""

from __future__ import annotations

import decimal
import functools
import pathlib
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rulelang
from rulelang import runtime
from rulelang.errors import EvaluationError

CORPUS = pathlib.Path(__file__).resolve().parent / "corpus" / "good"

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.cache
def load(name: str) -> rulelang.Ruleset:
    return rulelang.load(str(CORPUS / name))


def exact(digits: int, low_exp: int, high_exp: int, signed: bool = False) -> st.SearchStrategy[Decimal]:
    """Decimals with up to ``digits`` significant digits, built from their text (never rounded)."""
    lo = -(10**digits - 1) if signed else 0
    return st.builds(lambda i, e: Decimal(f"{i}E{e}"), st.integers(lo, 10**digits - 1), st.integers(low_exp, high_exp))


@st.composite
def long_sizes(draw: st.DrawFn) -> Decimal:
    """A size inside the corpus tables' bands with up to 50 decimals (34 digits and more: results must round once)."""
    whole = draw(st.integers(0, 8_000_000))
    places = draw(st.integers(0, 50))
    fraction = draw(st.integers(0, 10**places - 1)) if places else 0
    return Decimal(f"{whole}.{fraction:0{places}d}") if places else Decimal(whole)


amounts = st.one_of(
    exact(6, -2, 3), exact(20, -12, 0), st.sampled_from([Decimal(0), Decimal("10000"), Decimal("0.00000001")])
)


def agree(rs: rulelang.Ruleset, account: dict[str, Any]) -> None:
    """Both evaluators give the same result, or fail with the same message."""
    try:
        compiled = rs.evaluate(account)
    except EvaluationError as err:
        try:
            rs.evaluate_reference(account)
        except EvaluationError as ref_err:
            assert str(err) == str(ref_err)
            return
        raise AssertionError(f"only the compiled evaluator failed: {err}") from None
    assert compiled == rs.evaluate_reference(account)
    assert compiled.to_json() == rs.evaluate_reference(account).to_json()


positions = st.lists(
    st.fixed_dictionaries(
        {
            "symbol": st.sampled_from(["BTCUSDT", "ETHUSDT", "BTCUSD", ""]),
            "side": st.sampled_from(["long", "short"]),
            "quantity": amounts,
            "mark_price": exact(8, -4, 2).map(lambda d: d + 1),
        },
        optional={"isolated": st.booleans()},
    ),
    max_size=6,
)
limits = st.lists(
    st.fixed_dictionaries(
        {
            "limit_symbol": st.sampled_from(["BTCUSDT", "ETHUSDT", "XRP"]),
            "max_notional": exact(6, -2, 4).map(lambda d: d + 1),
        }
    ),
    max_size=4,
)


@SETTINGS
@given(positions=positions, limits=limits)
def test_aggregates_compiled_equals_reference(positions: list[dict[str, Any]], limits: list[dict[str, Any]]) -> None:
    agree(load("aggregates.rules"), {"positions": positions, "limits": limits})


@SETTINGS
@given(
    positions=st.lists(
        st.fixed_dictionaries({"notional": amounts}, optional={"pnl": exact(10, -4, 4, signed=True)}),
        max_size=6,
    ),
    collateral=st.lists(st.fixed_dictionaries({"value": amounts}), max_size=4),
    equity=exact(12, -4, 4, signed=True),
)
def test_shares_and_guards_compiled_equals_reference(
    positions: list[dict[str, Any]], collateral: list[dict[str, Any]], equity: Decimal
) -> None:
    agree(load("shares_and_guards.rules"), {"positions": positions, "collateral": collateral, "equity": equity})


@SETTINGS
@given(
    positions=st.lists(
        st.fixed_dictionaries(
            {
                "symbol": st.sampled_from(["BTCUSDT", "ETHUSDT"]),
                "notional": st.one_of(exact(7, -2, 1), long_sizes()),
            }
        ),
        max_size=5,
    ),
    main_symbol=st.sampled_from(["BTCUSDT", "ETHUSDT"]),
    main_notional=exact(10, -4, 2),
)
def test_keyed_brackets_compiled_equals_reference(
    positions: list[dict[str, Any]], main_symbol: str, main_notional: Decimal
) -> None:
    # sizes beyond a finite last band fail in both, with the same message
    agree(
        load("brackets_per_symbol.rules"),
        {"positions": positions, "main_symbol": main_symbol, "main_notional": main_notional},
    )


@SETTINGS
@given(
    side=st.sampled_from(["long", "short"]),
    quantity=exact(8, -4, 2).map(lambda d: d + Decimal("0.001")),
    entry_price=exact(8, -2, 1).map(lambda d: d + 1),
    wallet_balance=exact(9, -2, 3),
)
def test_liquidation_price_compiled_equals_reference(
    side: str, quantity: Decimal, entry_price: Decimal, wallet_balance: Decimal
) -> None:
    account = {
        "side": side,
        "quantity": quantity,
        "entry_price": entry_price,
        "wallet_balance": wallet_balance,
    }
    agree(load("liquidation_price.rules"), account)


@SETTINGS
@given(x=exact(40, -45, 5, signed=True), amount=exact(20, -10, 5, signed=True))
def test_rounding_compiled_equals_reference(x: Decimal, amount: Decimal) -> None:
    agree(load("rounding.rules"), {"x": x, "amount": amount})


# ----------------------------------------------------------------- bracket == progressive

sizes = st.one_of(
    exact(12, -8, 0),  # ordinary sizes, up to 10,000 with 8 decimals
    long_sizes(),
    exact(34, -30, 0),  # every digit the context has, at any magnitude
    exact(60, -55, 0),  # more digits than the context has: inputs are exact, results round once
    st.sampled_from([Decimal(n) for n in (0, 50, 100, 3_000, 6_000, 10_000, 50_000, 250_000, 1_000_000)]),
)


@SETTINGS
@given(size=sizes)
def test_bracket_equals_progressive_in_every_table(size: Decimal) -> None:
    for name in (
        "progressive_btc.rules",
        "upper_inclusive.rules",
        "brackets_per_symbol.rules",
        "collateral_tiers.rules",
    ):
        for table in load(name).ir.tables:
            for _, tiers in runtime.table_tiers(table).items():
                try:
                    tiers.index(size)
                except runtime.TierError:
                    continue
                for column in tiers.cums:
                    with decimal.localcontext(runtime.CONTEXT):
                        slices = runtime.progressive_slices(tiers, column, size)
                        assert runtime.bracket(tiers, column, size) == runtime.progressive_total(slices)


@SETTINGS
@given(size=sizes)
def test_progressive_equals_bracket_in_both_evaluators(size: Decimal) -> None:
    rs = load("progressive_btc.rules")
    compiled = rs.evaluate({"size": size})
    assert compiled == rs.evaluate_reference({"size": size})
    assert compiled["progressive_mm"] == compiled["bracket_mm"]


@SETTINGS
@given(size=sizes, mark_price=exact(6, -2, 3).map(lambda d: d + 1))
def test_upper_inclusive_progressive_equals_bracket(size: Decimal, mark_price: Decimal) -> None:
    rs = load("upper_inclusive.rules")
    account = {"size": size, "mark_price": mark_price}
    compiled = rs.evaluate(account)
    assert compiled == rs.evaluate_reference(account)
    assert compiled["progressive_contracts"] == compiled["bracket_contracts"]


@st.composite
def random_tables(draw: st.DrawFn) -> tuple[str, list[Decimal]]:
    """Rule text with one table of random bands and long rates, and sizes inside its bands."""
    n = draw(st.integers(1, 4))
    widths = draw(st.lists(st.one_of(exact(3, 0, 3), exact(30, -28, -20)).map(lambda d: d + 1), min_size=n, max_size=n))
    rates = draw(st.lists(st.one_of(exact(2, -4, -2), exact(31, -31, -31)), min_size=n, max_size=n))
    open_end = draw(st.booleans())
    bands = draw(st.sampled_from(["from <= size < to", "from < size <= to"]))
    edges = [Decimal(0)]
    for w in widths:
        edges.append(runtime.WIDE.add(edges[-1], w))
    rows = []
    for i in range(n):
        to = "inf" if open_end and i == n - 1 else str(edges[i + 1])
        rows.append(f"    | {edges[i]} | {to} | {rates[i]} |\n")
    text = (
        "ruleset random_table\n\nunits X\n\ninput size: X >= 0\n\n"
        f"table t: X\n    bands {bands}\n    | from | to | rate |\n{''.join(rows)}\n"
        "let p: X = progressive(t.rate, size)\nlet b: X = bracket(t.rate, size)\nlet c: X = cum(t.rate, size)\n"
    )
    inside = [e for e in edges[:-1]] + [runtime.WIDE.subtract(edges[-1], Decimal("1E-30"))]
    picks = draw(
        st.lists(st.sampled_from(inside) | long_sizes().filter(lambda s: s < edges[-1]), min_size=1, max_size=5)
    )
    return text, picks


@SETTINGS
@given(case=random_tables())
def test_random_tables_bracket_equals_progressive_in_both_evaluators(case: tuple[str, list[Decimal]]) -> None:
    text, picks = case
    rs = rulelang.load("random_table.rules", text)
    for size in picks:
        compiled = rs.evaluate({"size": size})
        assert compiled == rs.evaluate_reference({"size": size}), (text, size)
        assert compiled["p"] == compiled["b"], (text, size)
