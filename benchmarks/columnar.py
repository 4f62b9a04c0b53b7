"""The columnar backend against hand-written NumPy, on books of 1,000 to 1,000,000 accounts.

Input: ``rulesets/bench/account.rules`` and a book generated here with NumPy
(:func:`book`: the distributions of :mod:`benchmarks.accounts`, as an Arrow
table with one row per account, collections as ``list<struct>`` columns,
dictionary-encoded texts and float64 numbers rounded to each instrument's
decimals). Output: timings (accounts per second, ratio to the hand-written
NumPy code), the agreement of every account with the exact evaluator, and a
Markdown section; ``python -m benchmarks`` includes it (``--large`` adds the
1,000,000-account book).

Both sides start from the same Arrow table in memory and produce every global
figure and the risk level of every account. :func:`handwritten` is the
computation written directly in NumPy, as an engineer would without rulelang:
whole-array operations, one ``searchsorted`` per symbol's brackets, segment
sums with ``np.bincount``, plain float64 and no error bounds, so its levels
are not guaranteed exact. The columnar backend also checks every decision
against its error bound and re-evaluates the accounts it cannot vouch for.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type information

from benchmarks import handwritten as hand
from benchmarks.accounts import ASSETS, SYMBOLS
from rulelang.api import Ruleset
from rulelang.columnar import Stats, evaluate_batch

FloatArray = npt.NDArray[np.float64]

#: the issue's targets: the batch at least 1.2× as fast as hand-written NumPy, and 3,000,000 accounts/s
SPEEDUP_TARGET = 1.2
RATE_TARGET = 3_000_000


# ----------------------------------------------------------------- the book


def _dictionary(codes: npt.NDArray[Any], words: list[str]) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int8)), pa.array(words))


def _round(x: FloatArray, places: npt.NDArray[Any] | int) -> FloatArray:
    scale = np.power(10.0, places)
    return np.round(x * scale) / scale


def book(n: int, seed: int) -> pa.Table:
    """``n`` accounts drawn as :func:`benchmarks.accounts.account` draws them, vectorised."""
    rng = np.random.default_rng(seed)
    usdt_index = _round(rng.uniform(0.999, 1.001, n), 4)
    # collateral: 1 to 3 distinct assets per account
    assets = sorted(ASSETS)
    k = rng.integers(1, 4, n)
    order = np.argsort(rng.random((n, len(assets))), axis=1)
    take = np.arange(len(assets))[None, :] < k[:, None]
    owner = np.repeat(np.arange(n), k)
    asset = order[take]
    value = np.exp(rng.uniform(math.log(2_000), math.log(20_000_000), len(asset)))
    typical = np.array([ASSETS[a] for a in assets])
    is_usdt = asset == assets.index("USDT")
    price = np.where(is_usdt, usdt_index[owner], typical[asset] * rng.uniform(0.9, 1.1, len(asset)))
    amount = _round(value / price, np.where(is_usdt, 2, 8))
    price = _round(price, np.where(is_usdt, 4, 2))
    total = np.bincount(owner, weights=amount * price, minlength=n)
    collateral = pa.ListArray.from_arrays(
        pa.array(np.concatenate([[0], np.cumsum(k)]).astype(np.int32)),
        pa.StructArray.from_arrays(
            [_dictionary(asset, assets), pa.array(amount), pa.array(price)], names=["asset", "amount", "price"]
        ),
    )
    # positions: 2 to 6 per account, spread over the risk ladder by the account's leverage
    symbols = sorted(SYMBOLS)
    leverage = np.exp(rng.uniform(math.log(0.5), math.log(120), n))
    count = rng.integers(2, 7, n)
    powner = np.repeat(np.arange(n), count)
    weight = rng.random(len(powner)) + 0.05
    share = weight / np.bincount(powner, weights=weight, minlength=n)[powner]
    marks = np.array([SYMBOLS[s][0] for s in symbols]) * rng.uniform(0.9, 1.1, (n, len(symbols)))
    symbol = rng.integers(0, len(symbols), len(powner))
    qty_places = np.array([SYMBOLS[s][1] for s in symbols])[symbol]
    price_places = np.array([SYMBOLS[s][2] for s in symbols])[symbol]
    cap = np.array([SYMBOLS[s][3] for s in symbols])[symbol]
    mark = marks[powner, symbol]
    notional = np.minimum(total[powner] * leverage[powner] * share, 0.9 * cap)
    quantity = _round(np.maximum(notional / mark, np.power(10.0, -qty_places)), qty_places)
    entry = _round(mark * (1 + rng.uniform(-0.02, 0.02, len(powner))), price_places)
    mark = _round(mark, price_places)
    side = rng.integers(0, 2, len(powner))
    positions = pa.ListArray.from_arrays(
        pa.array(np.concatenate([[0], np.cumsum(count)]).astype(np.int32)),
        pa.StructArray.from_arrays(
            [
                _dictionary(symbol, symbols),
                _dictionary(side, ["long", "short"]),
                pa.array(quantity),
                pa.array(entry),
                pa.array(mark),
            ],
            names=["symbol", "side", "quantity", "entry_price", "mark_price"],
        ),
    )
    return pa.table({"usdt_index": usdt_index, "collateral": collateral, "positions": positions})


# ----------------------------------------------------------------- hand-written NumPy


def _bands(rows: list[tuple[str, str | None, str]] | list[tuple[str, str, str, str]]) -> tuple[FloatArray, ...]:
    floors = np.array([float(r[0]) for r in rows])
    rates = np.array([float(r[2]) for r in rows])
    cums = np.zeros(len(rows))
    for i in range(1, len(rows)):
        cums[i] = cums[i - 1] + floors[i] * (rates[i] - rates[i - 1])
    caps = np.array([float(r[1]) if r[1] is not None else math.inf for r in rows])
    return floors, caps, rates, cums


HAIRCUTS = {asset: _bands(rows) for asset, rows in hand.HAIRCUTS.items()}
BRACKETS = {symbol: _bands(rows) for symbol, rows in hand.BRACKETS.items()}


def _codes(struct: pa.StructArray, name: str, known: dict[str, Any]) -> tuple[npt.NDArray[Any], list[str]]:
    arr = struct.field(name)
    if not pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_encode()
    words = arr.dictionary.to_pylist()
    if not set(words) <= set(known):
        raise ValueError(f"{name}: unknown {sorted(set(words) - set(known))}")
    return arr.indices.to_numpy(), words


def _tiered(
    size: FloatArray, codes: npt.NDArray[Any], words: list[str], tables: dict[str, tuple[FloatArray, ...]]
) -> FloatArray:
    """``size × rate − cum`` of each row's own table (one searchsorted per key)."""
    out = np.empty_like(size)
    for code, word in enumerate(words):
        floors, caps, rates, cums = tables[word]
        rows = codes == code
        x = size[rows]
        i = np.searchsorted(floors, x, side="right") - 1
        if (i < 0).any() or (x >= caps[i]).any():
            raise ValueError("a size outside the bands")
        out[rows] = x * rates[i] - cums[i]
    return out


def handwritten(table: pa.Table) -> dict[str, Any]:
    """Every global figure and the risk level of each account, in NumPy float64."""
    n = table.num_rows
    usdt_index = table.column("usdt_index").to_numpy()
    coll = table.column("collateral").combine_chunks()
    c_owner = np.repeat(np.arange(n), np.diff(coll.offsets.to_numpy()))
    cv = coll.values
    amount, price = cv.field("amount").to_numpy(), cv.field("price").to_numpy()
    if (usdt_index <= 0).any() or (amount < 0).any() or (price < 0).any():
        raise ValueError("a number out of bounds")
    asset, assets = _codes(cv, "asset", HAIRCUTS)
    value = amount * price
    discounted = _tiered(value, asset, assets, HAIRCUTS)
    collateral_value = np.bincount(c_owner, weights=discounted, minlength=n)

    pos = table.column("positions").combine_chunks()
    p_owner = np.repeat(np.arange(n), np.diff(pos.offsets.to_numpy()))
    pv = pos.values
    quantity, entry, mark = (pv.field(f).to_numpy() for f in ("quantity", "entry_price", "mark_price"))
    if (quantity < 0).any() or (entry <= 0).any() or (mark <= 0).any():
        raise ValueError("a number out of bounds")
    symbol, symbols = _codes(pv, "symbol", BRACKETS)
    side, sides = _codes(pv, "side", {"long": 0, "short": 1})
    notional = quantity * mark
    long = side == sides.index("long") if "long" in sides else np.zeros(len(side), dtype=np.bool_)
    pnl = np.where(long, (mark - entry) * quantity, (entry - mark) * quantity)
    maintenance_margin = _tiered(notional, symbol, symbols, BRACKETS)
    fee = notional * float(hand.LIQUIDATION_FEE_RATE)
    total_pnl = np.bincount(p_owner, weights=pnl, minlength=n)
    total_mm = np.bincount(p_owner, weights=maintenance_margin, minlength=n)
    total_fee = np.bincount(p_owner, weights=fee, minlength=n)

    equity = collateral_value + total_pnl * usdt_index
    maintenance = (total_mm + total_fee) * usdt_index
    has_requirement = maintenance > 0
    ratio = np.divide(equity, maintenance, out=np.zeros(n), where=has_requirement)
    lines = [float(hand.LIQUIDATION_LINE), float(hand.REDUCE_ONLY_LINE), float(hand.WARNING_LINE)]
    level = np.select([has_requirement & (ratio <= line) for line in lines], [0, 1, 2], default=3)
    return {
        "collateral_value": collateral_value,
        "total_unrealized_pnl": total_pnl,
        "total_maintenance_margin": total_mm,
        "total_liquidation_fee": total_fee,
        "equity": equity,
        "maintenance": maintenance,
        "has_requirement": has_requirement,
        "margin_ratio": ratio,
        "risk_level": level,
    }


# ----------------------------------------------------------------- agreement


def agreement(rs: Ruleset, table: pa.Table, out: pa.Table, stats: Stats) -> dict[str, Any]:
    """Compare every account of ``out`` with the exact evaluator: levels exactly, numbers within their bounds."""
    accounts = table.to_pylist()
    level_mismatches = bool_mismatches = outside = 0
    worst = 0.0  # largest |batch − exact| / bound
    largest_relative = 0.0
    numbers = [d.name for d in rs.ir.definitions if d.collection is None and f"{d.name}.bound" in out.column_names]
    columns = {name: out.column(name).to_numpy(zero_copy_only=False) for name in numbers}
    bound_cols = {name: out.column(f"{name}.bound").to_numpy(zero_copy_only=False) for name in numbers}
    levels = out.column("risk_level").to_pylist()
    hand_levels = handwritten(table)["risk_level"]
    rungs = [r.name for r in rs.ir.ladders[0].rungs]
    hand_mismatches = 0
    counts: dict[str, int] = {}
    for i, acc in enumerate(accounts):
        exact = rs.evaluate(acc)
        level = exact.levels["risk_level"].level
        counts[level] = counts.get(level, 0) + 1
        level_mismatches += levels[i] != level
        hand_mismatches += rungs[int(hand_levels[i])] != level
        bool_mismatches += out.column("has_requirement")[i].as_py() != exact.values["has_requirement"]
        for name in numbers:
            x = exact.values[name]
            assert isinstance(x, Decimal)
            got, bound = float(columns[name][i]), float(bound_cols[name][i])
            dist = abs(Decimal(got) - x)
            if dist > Decimal(bound):
                outside += 1
            if bound:
                worst = max(worst, float(dist) / bound)
            if x:
                largest_relative = max(largest_relative, float(dist / abs(x)))
    return {
        "accounts": len(accounts),
        "levels": counts,
        "level_mismatches": level_mismatches,
        "bool_mismatches": bool_mismatches,
        "amounts_outside_bound": outside,
        "largest_error_to_bound": worst,
        "largest_relative_error": largest_relative,
        "handwritten_level_mismatches": hand_mismatches,
        "exact_accounts": stats.exact,
    }


# ----------------------------------------------------------------- timing


def _time(fn: Callable[[], object], min_time: float, rounds: int) -> list[float]:
    fn()
    once = time.perf_counter()
    fn()
    once = time.perf_counter() - once
    loops = max(1, math.ceil(min_time / once)) if once < min_time else 1
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        out.append((time.perf_counter() - start) / loops)
    return out


def measure(
    rs: Ruleset,
    sizes: list[int],
    seed: int,
    rounds: int,
    min_time: float,
    say: Callable[[str], None],
    check: bool = True,
) -> dict[str, Any]:
    """Time the batch (both CPUs and one) and hand-written NumPy on books of each size; check agreement."""
    results: dict[str, Any] = {"sizes": [], "agreement": None}
    for size in sizes:
        table = book(size, seed)
        say(f"columnar: {size:,} accounts ...")
        stats = Stats()
        evaluate_batch(rs, table, stats=stats)
        cases: dict[str, Callable[[], object]] = {
            "columnar, both CPUs": functools.partial(evaluate_batch, rs, table),
            "columnar, one process": functools.partial(evaluate_batch, rs, table, threads=1),
            "hand-written NumPy": functools.partial(handwritten, table),
        }
        # interleave: round r times every case once, so a slow spell hits all of them
        seconds: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(rounds):
            for name, fn in cases.items():
                seconds[name].extend(_time(fn, min_time, 1))
        row: dict[str, Any] = {"accounts": size, "exact_accounts": stats.exact, "timings": {}}
        base = sorted(seconds["hand-written NumPy"])[rounds // 2]
        for name, secs in seconds.items():
            med = sorted(secs)[rounds // 2]
            row["timings"][name] = {
                "median_seconds": med,
                "accounts_per_second": size / med,
                "speedup_vs_handwritten": base / med,
                "spread": (max(secs) - min(secs)) / med,
            }
        results["sizes"].append(row)
    if not check:
        return results
    sample = book(min(sizes[0], 2000), seed + 1)
    stats = Stats()
    out = evaluate_batch(rs, sample, error_bounds=True, stats=stats)
    say(f"columnar: comparing {sample.num_rows:,} accounts with the exact evaluator ...")
    results["agreement"] = agreement(rs, sample, out, stats)
    return results


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's two targets, on the largest book timed."""
    row = results["sizes"][-1]
    batch = row["timings"]["columnar, both CPUs"]
    agree = results["agreement"]
    exact = agree["level_mismatches"] == 0 and agree["amounts_outside_bound"] == 0
    size = f"{row['accounts']:,} accounts"
    return [
        {
            "name": f"columnar ÷ hand-written NumPy, accounts/s ({size}; levels exact: {'yes' if exact else 'NO'})",
            "value": batch["speedup_vs_handwritten"],
            "measured": f"{batch['speedup_vs_handwritten']:.2f}×",
            "limit": f"≥ {SPEEDUP_TARGET}×",
            "met": exact and batch["speedup_vs_handwritten"] >= SPEEDUP_TARGET,
        },
        {
            "name": f"columnar accounts per second ({size})",
            "value": batch["accounts_per_second"],
            "measured": f"{batch['accounts_per_second']:,.0f}",
            "limit": f"≥ {RATE_TARGET:,}",
            "met": exact and batch["accounts_per_second"] >= RATE_TARGET,
        },
    ]


def markdown(results: dict[str, Any]) -> str:
    a = results["agreement"]
    levels = ", ".join(f"{k} {v}" for k, v in sorted(a["levels"].items()))
    lines = [
        "## Columnar batch (`rulelang.columnar.evaluate_batch`)",
        "",
        "Generated books (`benchmarks/columnar.py`: Arrow tables, dictionary-encoded texts, float64 numbers); "
        "both sides start from the table in memory and compute every global figure and the risk level. "
        "Medians of interleaved rounds; speed-up is hand-written NumPy time ÷ this time.",
        "",
        "| accounts | implementation | accounts/s | ms per book | speed-up | spread | exactly re-evaluated |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for row in results["sizes"]:
        for name, t in row["timings"].items():
            redo = f"{row['exact_accounts']:,}" if name.startswith("columnar") else "—"
            lines.append(
                f"| {row['accounts']:,} | {name} | {t['accounts_per_second']:,.0f} | "
                f"{t['median_seconds'] * 1000:,.1f} | {t['speedup_vs_handwritten']:.2f}× | {t['spread']:.0%} | {redo} |"
            )
    lines += [
        "",
        f"Agreement with the exact evaluator on {a['accounts']:,} accounts (levels: {levels}): "
        f"{a['level_mismatches']} level and {a['bool_mismatches']} bool mismatches, "
        f"{a['amounts_outside_bound']} amounts outside their bound; the largest error was "
        f"{a['largest_error_to_bound']:.2g} of its bound and {a['largest_relative_error']:.1e} relative; "
        f"{a['exact_accounts']} accounts were re-evaluated exactly. The hand-written NumPy code put "
        f"{a['handwritten_level_mismatches']} accounts on another level.",
        "",
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------- other engines


def engines(n: int, seed: int) -> dict[str, float]:
    """Seconds for the same figures (equity, maintenance, margin ratio) in Polars, DuckDB and NumPy.

    The measurement behind the choice of NumPy (``docs/performance.md``); run it with
    ``python -m benchmarks.columnar --engines`` (needs polars and duckdb). Polars and
    DuckDB express a keyed tier lookup as an as-of join, which sorts every record by size.
    """
    import duckdb  # type: ignore[import-not-found]  # optional: only for this comparison
    import polars as pl  # type: ignore[import-not-found]

    table = book(n, seed)
    frame = pl.from_arrow(table)

    def bands(tables: dict[str, tuple[FloatArray, ...]], key: str) -> Any:
        rows = [
            (k, f, r, c) for k, (fl, _, rates, cums) in tables.items() for f, r, c in zip(fl, rates, cums, strict=True)
        ]
        return pl.DataFrame(rows, schema=[key, "floor", "rate", "cum"], orient="row").sort("floor")

    brackets, haircuts = bands(BRACKETS, "symbol"), bands(HAIRCUTS, "asset")

    def with_polars() -> object:
        d = frame.with_row_index("acc")
        c = d.select("acc", "collateral").explode("collateral").unnest("collateral").drop_nulls("asset")
        c = c.with_columns(value=pl.col("amount") * pl.col("price"), asset=pl.col("asset").cast(pl.String)).sort(
            "value"
        )
        c = c.join_asof(haircuts, left_on="value", right_on="floor", by="asset")
        cv = c.group_by("acc").agg(cv=(pl.col("value") * pl.col("rate") - pl.col("cum")).sum())
        p = d.select("acc", "positions").explode("positions").unnest("positions").drop_nulls("symbol")
        long = pl.col("side").cast(pl.String) == "long"
        move = (pl.col("mark_price") - pl.col("entry_price")) * pl.col("quantity")
        p = p.with_columns(
            notional=pl.col("quantity") * pl.col("mark_price"),
            symbol=pl.col("symbol").cast(pl.String),
            pnl=pl.when(long).then(move).otherwise(-move),
        ).sort("notional")
        p = p.join_asof(brackets, left_on="notional", right_on="floor", by="symbol")
        ps = p.group_by("acc").agg(
            pnl=pl.col("pnl").sum(),
            mm=(pl.col("notional") * pl.col("rate") - pl.col("cum")).sum(),
            fee=(pl.col("notional") * 0.0005).sum(),
        )
        out = d.select("acc", "usdt_index").join(cv, on="acc", how="left").join(ps, on="acc", how="left").fill_null(0)
        out = out.with_columns(
            equity=pl.col("cv") + pl.col("pnl") * pl.col("usdt_index"),
            maint=(pl.col("mm") + pl.col("fee")) * pl.col("usdt_index"),
        )
        return out.with_columns(
            ratio=pl.when(pl.col("maint") > 0).then(pl.col("equity") / pl.col("maint")).otherwise(0)
        )

    con = duckdb.connect()
    con.register("book", table)
    con.register("brk", brackets.to_arrow())
    con.register("hc", haircuts.to_arrow())
    sql = """
        with acc as (select row_number() over () as acc, * from book),
        c as (select acc, unnest(collateral, recursive := true) from acc),
        cv as (select c.acc, sum(c.amount * c.price * h.rate - h.cum) as cv
               from c asof join hc h on c.asset::varchar = h.asset and c.amount * c.price >= h.floor group by c.acc),
        p as (select acc, unnest(positions, recursive := true) from acc),
        ps as (select p.acc,
                 sum(case when side::varchar = 'long' then (mark_price - entry_price) * quantity
                          else (entry_price - mark_price) * quantity end) as pnl,
                 sum(quantity * mark_price * b.rate - b.cum) as mm, sum(quantity * mark_price * 0.0005) as fee
               from p asof join brk b on p.symbol::varchar = b.symbol and p.quantity * p.mark_price >= b.floor
               group by p.acc)
        select acc.acc, coalesce(cv, 0) + coalesce(pnl, 0) * usdt_index as equity,
               (coalesce(mm, 0) + coalesce(fee, 0)) * usdt_index as maint
        from acc left join cv using (acc) left join ps using (acc) order by acc.acc
    """

    def with_duckdb() -> object:
        return con.sql(sql).to_arrow_table()

    out = {}
    for name, fn in (
        ("Polars", with_polars),
        ("DuckDB", with_duckdb),
        ("NumPy", functools.partial(handwritten, table)),
    ):
        out[name] = min(_time(fn, 0.0, 3))
    return out


def main(argv: list[str] | None = None) -> None:
    """``python -m benchmarks.columnar``: the batch against hand-written NumPy, printed only.

    Writes no result file (``python -m benchmarks --large`` writes the report).
    """
    import argparse
    import os

    from rulelang.api import load

    p = argparse.ArgumentParser(prog="python -m benchmarks.columnar", description=main.__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1000,100000,1000000", help="books to time, in accounts (comma-separated)")
    p.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds (default 5)")
    p.add_argument("--min-time", type=float, default=0.3, help="seconds each timed sample lasts at least")
    p.add_argument("--seed", type=int, default=20241024, help="seed of the generated books")
    p.add_argument("--no-check", action="store_true", help="skip the comparison with the exact evaluator")
    p.add_argument("--source", action="store_true", help="print the generated code the batch runs, and stop")
    p.add_argument("--engines", action="store_true", help="time Polars and DuckDB on 1,000,000 accounts instead")
    args = p.parse_args(argv)
    if args.engines:
        size = 1_000_000
        for engine, secs in engines(size, args.seed).items():
            print(f"{engine}: {secs * 1000:,.0f} ms for {size:,} accounts ({size / secs:,.0f} accounts/s)")
        return
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    rs = load(os.path.join(root, "rulesets", "bench", "account.rules"))
    if args.source:
        from rulelang.columnar import layout, plan_for

        plan = plan_for(rs)
        assert not isinstance(plan, Exception), plan
        table = book(1000, args.seed)
        batch = layout.read(rs.ir, table)
        sig = plan.batch_signature(batch, plan.param_values(rs.params(None, None)), False, False)
        print(plan.source(sig))
        return
    sizes = [int(x) for x in args.sizes.split(",") if x]
    results = measure(rs, sizes, args.seed, args.rounds, args.min_time, print, check=not args.no_check)
    for row in results["sizes"]:
        for name, t in row["timings"].items():
            print(
                f"{row['accounts']:>9,} {name:<22} {t['accounts_per_second']:>12,.0f}/s "
                f"{t['median_seconds'] * 1000:9.1f} ms {t['speedup_vs_handwritten']:6.2f}x  spread {t['spread']:.0%}"
            )
    if results["agreement"] is not None:
        a = results["agreement"]
        print(
            f"exact evaluator on {a['accounts']:,} accounts: {a['level_mismatches']} level mismatches, "
            f"{a['amounts_outside_bound']} amounts outside their bound, {a['exact_accounts']} re-evaluated"
        )


if __name__ == "__main__":
    main()
