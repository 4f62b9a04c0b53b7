"""The columnar backend against the exact evaluator: levels, tiers and bools identical, numbers within their bound."""

from __future__ import annotations

import math
import pathlib
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import pytest

np = pytest.importorskip("numpy")
pa = pytest.importorskip("pyarrow")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import rulelang  # noqa: E402
from rulelang.columnar import Stats, accounts_table, evaluate_batch, plan_for  # noqa: E402
from rulelang.columnar import evaluate as columnar_evaluate  # noqa: E402
from rulelang.errors import EvaluationError, InputError  # noqa: E402
from rulelang.types import NumType  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
BENCH = rulelang.load(str(ROOT / "rulesets" / "bench" / "account.rules"))
CORPUS = sorted((ROOT / "tests" / "corpus" / "good").glob("*.rules")) + sorted(ROOT.glob("rulesets/*/*.rules"))


def _plain(value: Any) -> Any:
    """Account data as text: every number a decimal string (so Arrow sees one type per column)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (Decimal, int, float)):
        return str(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def assert_agrees(rs: rulelang.Ruleset, accounts: Sequence[Mapping[str, Any]], out: Any, records: bool = False) -> None:
    """Every row of ``out`` against ``rs.evaluate`` of the same account."""
    rows = out.to_pylist()
    assert len(rows) == len(accounts)
    for i, (acc, row) in enumerate(zip(accounts, rows, strict=True)):
        try:
            exact = rs.evaluate(acc)
        except (InputError, EvaluationError) as err:
            assert row["error"] == str(err), i
            continue
        assert row["error"] is None, (i, row["error"])
        for name, value in exact.values.items():
            _same(value, row[name], row.get(f"{name}.bound"), f"{i}: {name}")
        for name, level in exact.levels.items():
            assert row[name] == level.level, (i, name)
        if records:
            for coll, recs in exact.records.items():
                for j, rec in enumerate(recs):
                    for name, value in rec.items():
                        bound = row.get(f"{coll}.{name}.bound")
                        _same(value, row[f"{coll}.{name}"][j], bound[j] if bound else None, f"{i}: {coll}[{j}].{name}")


def _same(exact: Any, got: Any, bound: float | None, where: str) -> None:
    if isinstance(exact, Decimal):
        assert got is not None and math.isfinite(got), where
        allowed = Decimal(bound) if bound is not None else abs(exact) * Decimal(2.0**-50)
        # the float nearest the exact value is itself half an ulp away
        assert abs(Decimal(got) - exact) <= allowed + abs(exact) * Decimal(2.0**-53), (where, got, exact, bound)
    elif isinstance(exact, (bool, str)):
        assert got == exact, (where, got, exact)


# ----------------------------------------------------------------- the benchmark account

money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("30000000"), places=2, allow_nan=False)
coins = st.decimals(min_value=Decimal("0"), max_value=Decimal("5000"), places=8, allow_nan=False)
prices = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("100000"), places=3, allow_nan=False)

collateral = st.fixed_dictionaries({"asset": st.sampled_from(["USDT", "BTC", "ETH"]), "amount": coins, "price": prices})
position = st.fixed_dictionaries(
    {
        "symbol": st.sampled_from(["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT"]),
        "side": st.sampled_from(["long", "short"]),
        "quantity": coins,
        "entry_price": prices,
        "mark_price": prices,
    }
)
account = st.fixed_dictionaries(
    {
        "usdt_index": st.decimals(min_value=Decimal("0.9"), max_value=Decimal("1.1"), places=4),
        "collateral": st.lists(collateral, max_size=3),
        "positions": st.lists(position, max_size=5),
    }
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(account, min_size=1, max_size=12))
def test_random_accounts_agree_with_the_exact_evaluator(accounts: list[dict[str, Any]]) -> None:
    data = _plain(accounts)
    out = evaluate_batch(BENCH, accounts_table(data), records=True, error_bounds=True)
    assert_agrees(BENCH, data, out, records=True)


@settings(max_examples=30, deadline=None)
@given(st.lists(account, min_size=1, max_size=8))
def test_float_columns_read_as_the_evaluator_reads_floats(accounts: list[dict[str, Any]]) -> None:
    def floats(v: Any) -> Any:
        if isinstance(v, Decimal):
            return float(v)
        if isinstance(v, dict):
            return {k: floats(x) for k, x in v.items()}
        if isinstance(v, list):
            return [floats(x) for x in v]
        return v

    data = floats(accounts)
    out = evaluate_batch(BENCH, accounts_table(data), error_bounds=True)
    assert_agrees(BENCH, data, out)


def _one(positions: list[dict[str, str]], collateral: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {
        "usdt_index": "1",
        "collateral": collateral or [{"asset": "USDT", "amount": "100000", "price": "1"}],
        "positions": positions,
    }


def _pos(quantity: str, mark: str, symbol: str = "BTCUSDT") -> dict[str, str]:
    return {"symbol": symbol, "side": "long", "quantity": quantity, "entry_price": mark, "mark_price": mark}


def test_sizes_on_a_tier_edge_and_one_ulp_away_are_decided_exactly() -> None:
    # 50,000 opens bracket 2 (100x); just below it is bracket 1 (125x)
    edge = Decimal(50_000)
    below_ulp = Decimal(math.nextafter(50_000.0, 0))
    above_ulp = Decimal(math.nextafter(50_000.0, math.inf))
    cases = [
        _pos("1", str(edge)),
        _pos("1", str(below_ulp)),
        _pos("1", str(above_ulp)),
        _pos("1", "49999.99999999999999999999"),
        _pos("1", "50000.00000000000000000001"),
        _pos("2", "25000"),  # 2 × 25,000 = 50,000 exactly, as a product
        _pos("0.5", "100000.0000000000000000001"),
    ]
    accounts = [_one([p]) for p in cases]
    stats = Stats()
    out = evaluate_batch(BENCH, accounts_table(accounts), records=True, error_bounds=True, stats=stats)
    assert_agrees(BENCH, accounts, out, records=True)
    leverage = [row[0] for row in out.column("positions.max_leverage").to_pylist()]
    assert leverage == [100, 125, 100, 125, 100, 100, 100]
    assert stats.exact == len(cases)  # every one of them lies within the float's error of the edge


def test_a_margin_ratio_exactly_on_a_line_is_decided_exactly() -> None:
    # equity 600, maintenance 500: 120 % is the reduce-only line itself (the ruleset's own example)
    ex = next(e for e in BENCH.ir.examples if "reduce" in e.title.lower() or "120" in e.title)
    data = _plain(ex.inputs)
    nudged = []
    for delta in ("0.000000000001", "-0.000000000001"):
        acc = _plain(ex.inputs)
        acc["collateral"][0]["amount"] = str(Decimal(acc["collateral"][0]["amount"]) + Decimal(delta))
        nudged.append(acc)
    accounts = [data, *nudged]
    stats = Stats()
    out = evaluate_batch(BENCH, accounts_table(accounts), error_bounds=True, stats=stats)
    assert_agrees(BENCH, accounts, out)
    assert out.column("risk_level").to_pylist()[0] == "reduce_only"
    assert stats.exact >= 1


def test_the_rulesets_own_examples() -> None:
    accounts = [_plain(ex.inputs) for ex in BENCH.ir.examples]
    out = evaluate_batch(BENCH, accounts_table(accounts), records=True, error_bounds=True)
    assert_agrees(BENCH, accounts, out, records=True)


def test_bad_accounts_get_the_exact_evaluators_error() -> None:
    good = _one([_pos("1", "60000")])
    accounts = [
        good,
        {**good, "usdt_index": "-1"},  # breaks a bound
        _one([_pos("1", "60000", symbol="DOGEUSDT")]),  # no brackets for the symbol
        _one([_pos("1", "1e12")]),  # beyond the last bracket
        {**good, "usdt_index": "abc"},  # not a number
        {k: v for k, v in good.items() if k != "positions"},  # missing collection
    ]
    out = evaluate_batch(BENCH, accounts_table(accounts))
    assert_agrees(BENCH, accounts, out)
    errors = out.column("error").to_pylist()
    assert errors[0] is None and all(errors[1:])
    assert out.column("equity").null_count == 5


def test_a_whole_sample_book() -> None:
    import sys

    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks.columnar import book
    finally:
        sys.path.remove(str(ROOT))
    table = book(3000, seed=7)
    stats = Stats()
    out = evaluate_batch(BENCH, table, error_bounds=True, stats=stats, chunk_size=512)
    assert_agrees(BENCH, table.to_pylist(), out)
    assert stats.vectorised >= 0.99 * stats.accounts


def test_forked_workers_give_the_same_table(monkeypatch: pytest.MonkeyPatch) -> None:
    accounts = [_one([_pos(str(q), "60000.5")]) for q in range(1, 400)]
    table = accounts_table(accounts)
    alone = evaluate_batch(BENCH, table, threads=1, chunk_size=64, records=True)
    monkeypatch.setattr(columnar_evaluate, "FORK_FROM", 1)
    forked = evaluate_batch(BENCH, table, threads=2, chunk_size=64, records=True)
    assert forked.equals(alone)


# ----------------------------------------------------------------- input and output kinds


def test_pandas_in_pandas_out() -> None:
    pd = pytest.importorskip("pandas")
    accounts = [_one([_pos("1", "60000")]), _one([_pos("3", "2500", "ETHUSDT")])]
    frame = pd.DataFrame(accounts)
    out = evaluate_batch(BENCH, frame)
    assert isinstance(out, pd.DataFrame)
    assert list(out["risk_level"].astype(str)) == [BENCH.evaluate(a)["risk_level"] for a in accounts]


def test_polars_in_polars_out() -> None:
    pl = pytest.importorskip("polars")
    accounts = [_one([_pos("1", "60000")]), _one([_pos("3", "2500", "ETHUSDT")])]
    frame = pl.from_arrow(accounts_table(accounts))
    out = evaluate_batch(BENCH, frame)
    assert isinstance(out, pl.DataFrame)
    assert out["risk_level"].cast(pl.String).to_list() == [BENCH.evaluate(a)["risk_level"] for a in accounts]


def test_params_and_profiles_apply() -> None:
    accounts = [_one([_pos("1", "60000")])]
    out = evaluate_batch(BENCH, accounts_table(accounts), params={"liquidation_fee_rate": "1%"})
    exact = BENCH.evaluate(accounts[0], params={"liquidation_fee_rate": "1%"})
    assert out.column("total_liquidation_fee").to_pylist() == [float(exact["total_liquidation_fee"])]


def test_the_error_column_cannot_hide_a_result() -> None:
    with pytest.raises(ValueError, match="equity"):
        evaluate_batch(BENCH, accounts_table([_one([])]), error_column="equity")


# ----------------------------------------------------------------- the corpus


def _corpus_accounts(rs: rulelang.Ruleset) -> list[dict[str, Any]]:
    return [_plain(ex.inputs) for ex in rs.ir.examples]


@pytest.mark.parametrize("path", CORPUS, ids=[f"{p.parent.name}/{p.stem}" for p in CORPUS])
def test_corpus_examples_agree(path: pathlib.Path) -> None:
    rs = rulelang.load(str(path))
    accounts = _corpus_accounts(rs)
    if not accounts:
        pytest.skip("no examples")
    for acc in accounts:  # one account per table: the examples give different inputs
        out = evaluate_batch(rs, accounts_table([acc]), records=True, error_bounds=True)
        assert_agrees(rs, [acc], out, records=True)


@pytest.mark.parametrize("path", CORPUS, ids=[f"{p.parent.name}/{p.stem}" for p in CORPUS])
def test_corpus_random_scalars_agree(path: pathlib.Path) -> None:
    """Each example again with every numeric scalar input scaled: new sizes, other tiers and branches."""
    rs = rulelang.load(str(path))
    accounts = _corpus_accounts(rs)
    if not accounts:
        pytest.skip("no examples")
    numeric = {i.name for i in rs.ir.inputs if i.fields is None and isinstance(i.type, NumType)}
    rng = np.random.default_rng(len(path.stem))
    varied = []
    for acc in accounts:
        for _ in range(8):
            new = dict(acc)
            for name in numeric & set(acc):
                scale = Decimal(str(round(float(rng.uniform(0.5, 2.0)), 3)))
                new[name] = str(Decimal(acc[name]) * scale)
            varied.append(new)
    for acc in varied:
        out = evaluate_batch(rs, accounts_table([acc]), records=True, error_bounds=True)
        assert_agrees(rs, [acc], out, records=True)


def test_unsupported_constructs_fall_back_to_the_exact_evaluator() -> None:
    rs = rulelang.load(str(ROOT / "tests" / "corpus" / "good" / "solve_liquidation.rules"))
    assert not hasattr(plan_for(rs), "run")
    accounts = _corpus_accounts(rs)
    stats = Stats()
    out = evaluate_batch(rs, accounts_table(accounts[:1]), stats=stats)
    assert stats.reason is not None and "solve" in stats.reason
    assert stats.exact == 1
    assert_agrees(rs, accounts[:1], out)


def test_the_whole_sample_book_agrees_with_the_exact_evaluator() -> None:
    """examples/book/accounts.jsonl (10,000 accounts, every level represented), read as the CLI reads
    it: every level, bool and per-record value of the batch against Ruleset.evaluate, amounts within
    their stated bounds."""
    import json

    with open(ROOT / "examples" / "book" / "accounts.jsonl", encoding="utf-8") as fh:
        accounts = [json.loads(line) for line in fh]
    assert len(accounts) == 10_000
    stats = Stats()
    out = evaluate_batch(BENCH, accounts_table(accounts), records=True, error_bounds=True, stats=stats)
    assert_agrees(BENCH, accounts, out, records=True)
    assert sorted(set(out.column("risk_level").to_pylist())) == ["liquidation", "reduce_only", "safe", "warning"]
