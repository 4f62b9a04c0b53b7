"""The columnar backend's generated code: bucket searches, branch-free choices, buffer reuse, signatures."""

from __future__ import annotations

import ast
import math
import pathlib
import re
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

np = pytest.importorskip("numpy")
pytest.importorskip("pyarrow")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import rulelang  # noqa: E402
from rulelang.columnar import Stats, accounts_table, codegen, evaluate_batch, layout, plan_for  # noqa: E402
from rulelang.columnar.chunks import make_chunk  # noqa: E402
from rulelang.columnar.plan import Plan  # noqa: E402
from tests.test_columnar import BENCH, CORPUS, _plain, assert_agrees  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Every construct the generator lowers: a one-band table (searched with searchsorted), a keyed
# table whose edges lie closer than a bucket (several edges per bucket), a keyed table read with a
# constant key (sizes past its last edge must stay in that key's bands), texts from a table and
# from `if`, a constant text on either side of `==`, rounding in four modes, filtered aggregates
# with defaults, parameters in conditions, and a ladder.
MIX = """
ruleset codegen_mix

units USDT, BTC

input side: long | short
input venue: text = "OKX"
input equity: USDT
input items: list
    kind: text
    size: USDT >= 0
    price: USDT/BTC > 0
    flag: bool = false

param fee: percent = 0.1%
param cut: USDT = 100 USDT
param strict: number = 1

table single: USDT
    bands from <= size < to
    | from | to  | rate |
    | 0    | inf | 2%   |

table close: USDT per kind
    bands from <= size < to
    | kind | from   | to     | rate | name    |
    | a    | 0      | 10_000 | 1%   | low     |
    | a    | 10_000 | 10_001 | 2%   | thin    |
    | a    | 10_001 | 10_002 | 3%   | thinner |
    | a    | 10_002 | inf    | 5%   | high    |
    | b    | 0      | 0.001  | 1%   | dust    |
    | b    | 0.001  | 1e12   | 2%   | most    |

table two: USDT per kind
    bands from <= size < to
    | kind | from | to  | rate |
    | a    | 0    | 100 | 1%   |
    | a    | 100  | inf | 2%   |
    | b    | 0    | inf | 7%   |

let items.p: USDT = progressive(close[kind].rate, size)
let items.ka: USDT = step(two["a"].rate, size)
let items.kb: USDT = step(two["b"].rate, size)
let items.b: USDT = bracket(close[kind].rate, size)
let items.s: USDT = step(single.rate, size)
let items.t: number = tier(close[kind], size)
let items.c: USDT = cum(close[kind].rate, size)
let items.n: text = lookup(close[kind].name, size)
let items.g: USDT = step(single.rate, max(equity - cut, 0 USDT))
let items.signed_size: USDT = if flag then -size else size
let items.r1: USDT = round(size * fee, 2, half_up)
let items.r2: USDT = round(size / 3, 1, half_even)
let items.r3: USDT = round(size / 7, 0, up)
let items.r4: USDT = round(-size / 7, 3, floor)
let items.label: text = if flag then "f" else kind
let items.same: bool = "a" == kind
let total_p: USDT = sum(items, p)
let total_g: USDT = sum(items, g, where flag)
let n_a: number = count(items, where kind == "a")
let biggest: USDT = max(items, size, where not flag, default -1 USDT)
let smallest: USDT = min(items, signed_size, default 0 USDT)
let all_small: bool = all(items, size < 1_000 USDT, where kind == "b")
let any_flag: bool = any(items, flag and size > cut)
let ratio: number = if total_p > 0 then equity / total_p else 0
let strict_ratio: number = if strict > 0 then ratio * 2 else ratio
let where_to: text = if side == long then venue else "none"
let extreme: USDT = max(abs(equity), min(total_p, cut), -equity)

levels grade
    red when ratio < 1 and total_p > 0
    amber when ratio < 2 or any_flag
    otherwise green
"""
MIXED = rulelang.load("codegen_mix.rules", text=MIX)
EDGES = ["0", "0.001", "10000", "10001", "10002"]


def _ulps(text: str) -> list[str]:
    """``text`` and the floats one ulp either side, as exact decimal texts."""
    f = float(text)
    if f == 0:
        return [text]  # the floats next to 0 are out of the evaluator's range
    return [text] + [str(Decimal(math.nextafter(f, d))) for d in (-math.inf, math.inf)]


sizes = st.one_of(
    st.decimals(min_value=Decimal(0), max_value=Decimal("50000"), places=4),
    st.sampled_from([s for e in EDGES for s in _ulps(e)]),
)
# every account gives every key (an Arrow table built from rows takes its columns from the first row)
item = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["a", "b"]),
        "size": sizes,
        "price": st.sampled_from(["1", "20000.5"]),
        "flag": st.booleans(),
    }
)
mixed_account = st.fixed_dictionaries(
    {
        "side": st.sampled_from(["long", "short"]),
        "venue": st.sampled_from(["OKX", "BIN"]),
        "equity": st.decimals(min_value=Decimal(-100000), max_value=Decimal(100000), places=2),
        "items": st.lists(item, max_size=5),
    }
)
params = st.sampled_from([None, {"strict": "0"}, {"cut": "0", "fee": "0.5%"}, {"fee": "0"}])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mixed_account, min_size=1, max_size=10), params)
def test_every_construct_agrees_with_the_exact_evaluator(accounts: list[dict[str, Any]], p: Any) -> None:
    data = _plain(accounts)
    out = evaluate_batch(MIXED, accounts_table(data), p, records=True, error_bounds=True)
    assert_agrees(_WithParams(p), data, out, records=True)  # type: ignore[arg-type]


class _WithParams:
    """The mixed ruleset evaluated exactly under ``params``."""

    def __init__(self, params: Any) -> None:
        self.params = params

    def evaluate(self, account: Any) -> Any:
        return MIXED.evaluate(account, params=self.params)


def test_sizes_on_close_edges_and_unknown_keys() -> None:
    items = [{"kind": k, "size": s, "price": "1"} for k in ("a", "b") for e in EDGES for s in _ulps(e)]
    accounts = [{"side": "long", "equity": "1000", "items": [it]} for it in items]
    accounts.append({"side": "short", "equity": "5", "items": [{"kind": "zzz", "size": "5", "price": "1"}]})
    accounts.append({"side": "short", "equity": "5", "items": []})
    stats = Stats()
    out = evaluate_batch(MIXED, accounts_table(accounts), records=True, error_bounds=True, stats=stats)
    assert_agrees(MIXED, accounts, out, records=True)
    assert out.column("error").to_pylist()[-2]  # no bands for `zzz`: the exact evaluator's error
    tiers = [row[0] if row else None for row in out.column("items.t").to_pylist()]
    assert tiers[: len(items)] == [float(MIXED.evaluate(a).records["items"][0]["t"]) for a in accounts[: len(items)]]
    assert stats.exact >= len(EDGES)  # sizes on an edge, and within an ulp of one, are not vouched for


# ----------------------------------------------------------------- bucket search


def _vectorised() -> list[rulelang.Ruleset]:
    out = [BENCH, MIXED]
    for path in CORPUS:
        rs = rulelang.load(str(path))
        if isinstance(plan_for(rs), Plan):
            out.append(rs)
    return out


def _tables() -> list[tuple[str, Any, Any]]:
    out = []
    for rs in _vectorised():
        plan = plan_for(rs)
        assert isinstance(plan, Plan)
        for name, table in plan.tables.items():
            out.append((f"{rs.ir.header.name}.{name}", table, plan.indexes[name]))
    return out


TABLES = _tables()


def test_every_shipped_table_gets_a_bucket_index_and_the_one_band_table_does_not() -> None:
    for name, _, index in TABLES:
        assert (index is None) == name.endswith("mix.single"), name


@pytest.mark.parametrize(("name", "table", "index"), TABLES, ids=[t[0] for t in TABLES])
def test_bucket_candidates_are_the_band_of_every_size_in_one(name: str, table: Any, index: Any) -> None:
    if index is None:
        pytest.skip("searched with searchsorted")
    edges = sorted({float(x) for x in table.lo if math.isfinite(x)} | {float(x) for x in table.hi if math.isfinite(x)})
    rng = np.random.default_rng(3)
    near = [math.nextafter(e, d) for e in edges for d in (-math.inf, math.inf)]
    top = max(edges) if edges else 1.0
    sizes = np.array(
        edges
        + near
        + [0.0, -0.0, -1.0, -top, math.inf, -math.inf, math.nan, 5e-324, 1e-300, 1e300]
        + list(np.exp(rng.uniform(-30, math.log(top * 4 + 1), 3000)))
        + list(rng.choice(edges, 500) * (1 + rng.uniform(-1e-12, 1e-12, 500)))
    )
    sentinels = codegen.table_sentinels(table)
    for key in range(len(sentinels)):
        keys = np.full(len(sizes), key, dtype=np.int64)
        t = codegen._bucket(sizes, index.shift, index.offset, index.count - 1)
        found = index.base[t + keys * index.count]
        for e in index.edges:
            found = found + (sizes >= e[t + keys * index.count])
        block_end = sentinels[key + 1] if key + 1 < len(sentinels) else len(table.number)
        assert ((found >= sentinels[key]) & (found < block_end)).all(), name  # never another key's band
        with np.errstate(invalid="ignore"):
            inside = (sizes >= table.lo[found]) & (sizes <= table.hi[found])
            for c in (0.0, codegen.bounds.SLACK * codegen.bounds.gamma(2.0)):
                lo, hi = codegen.shrunk_edges(table, c)
                decided = (sizes >= lo[found]) & (sizes <= hi[found])
                assert not decided[~np.isfinite(sizes)].any(), name
                assert inside[decided].all(), name
            # every size that lies in one of the key's bands gets that band
            for i in range(sentinels[key] + 1, block_end):
                held = (sizes >= table.lo[i]) & (sizes <= table.hi[i])
                assert (found[held] == i).all(), (name, i)
                assert (inside[held]).all()


@settings(max_examples=300, deadline=None)
@given(
    st.floats(min_value=0, max_value=1e15, allow_nan=False),
    st.floats(min_value=0, max_value=1e15, allow_nan=False),
    st.sampled_from([0.0, 1e-16, codegen.bounds.SLACK * codegen.bounds.gamma(5.0), 1e-6]),
    st.floats(min_value=-1e-12, max_value=1e-12),
)
def test_shrunk_edges_only_decide_sizes_whose_bound_stays_in_the_band(lo: float, hi: float, c: float, d: float) -> None:
    lo, hi = min(lo, hi), max(lo, hi)

    class Table:
        pass

    table = Table()
    table.lo, table.hi = np.array([lo, math.inf]), np.array([hi, -math.inf])  # type: ignore[attr-defined]
    lo2, hi2 = codegen.shrunk_edges(table, c)  # type: ignore[arg-type]
    assert lo2[1] == math.inf and hi2[1] == -math.inf  # a sentinel stays undecidable
    for v in {
        lo,
        hi,
        lo2[0],
        hi2[0],
        lo * (1 + d),
        hi * (1 + d),
        math.nextafter(lo2[0], 0),
        math.nextafter(hi2[0], math.inf),
    }:
        if not (math.isfinite(v) and v >= 0):
            continue
        if v >= lo2[0] and v <= hi2[0]:
            x, cf = Fraction(v), Fraction(c)
            assert x - cf * x >= Fraction(lo) and x + cf * x <= Fraction(hi), (v, lo, hi, c)


# ----------------------------------------------------------------- run-time helpers


def _bits(a: Any) -> Any:
    return np.asarray(a, dtype=np.float64).view(np.int64)


def test_branch_free_choices_equal_where_bit_for_bit() -> None:
    rng = np.random.default_rng(5)
    specials = np.array([0.0, -0.0, math.inf, -math.inf, math.nan, 5e-324, -1.5, 1e308])
    a = np.concatenate([rng.normal(size=200), specials, specials[::-1]])
    b = np.concatenate([rng.normal(size=200), specials[::-1], specials])
    c = rng.random(len(a)) > 0.5
    mask = codegen._mask(c)
    for x, y in ((a, b), (a, 0.0), (0.0, b), (-0.0, b), (2.5, -0.0), (math.nan, 3.0), (a, math.inf)):
        got = codegen._select_f(mask, x, y)
        assert (_bits(got) == _bits(np.where(c, x, y))).all(), (
            x if np.ndim(x) == 0 else "a",
            y if np.ndim(y) == 0 else "b",
        )
    codes_a = rng.integers(0, 5, len(a)).astype(np.int32)
    codes_b = rng.integers(0, 5, len(a)).astype(np.int32)
    for x, y in ((codes_a, codes_b), (codes_a, 3), (2, codes_b), (1, 4)):
        assert (codegen._select_i(mask, x, y) == np.where(c, x, y)).all()
    for x, y in ((c[::-1].copy(), True), (False, c[::-1].copy()), (c[::-1].copy(), c)):
        assert (codegen._select_b(c, x, y) == np.where(c, x, y)).all()


def test_levels_are_the_first_rung_that_holds() -> None:
    rng = np.random.default_rng(6)
    held = [rng.random(300) > p for p in (0.9, 0.7, 0.4)]
    for conds in (held, [held[0], True, held[2]], [False, held[1], held[2]], [False, False, False]):
        want = np.select([np.broadcast_to(h, (300,)) for h in conds], [0, 1, 2], default=3)
        assert (codegen._levels(300, 3, *conds) == want).all()


def test_sums_over_no_records_are_floats() -> None:
    got = codegen._bincount(np.zeros(0, dtype=np.intp), np.zeros(0), 3)
    assert got.dtype == np.float64 and (got == 0).all()


# ----------------------------------------------------------------- the generated source

ALLOWED_NAME = re.compile(r"_(?:v|f|k|x|rf|seg)\d+d?|_n|_flags|run")


@pytest.mark.parametrize("rs", _vectorised(), ids=lambda rs: rs.ir.header.name)
def test_the_generated_source_holds_no_user_text(rs: rulelang.Ruleset) -> None:
    plan = plan_for(rs)
    assert isinstance(plan, Plan)
    tree = ast.parse(plan.source())
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            assert ALLOWED_NAME.fullmatch(node.id), node.id
        elif isinstance(node, ast.arg):
            assert ALLOWED_NAME.fullmatch(node.arg), node.arg
        elif isinstance(node, ast.Constant):
            assert node.value == "clip" or isinstance(node.value, (int, float, bool, type(None))), node.value
        elif isinstance(node, ast.Attribute):
            assert node.attr == "take", node.attr
        elif isinstance(node, ast.keyword):
            assert node.arg in ("mode", "out"), node.arg


def test_hostile_names_stay_out_of_the_source() -> None:
    rs = rulelang.load(str(ROOT / "tests" / "corpus" / "good" / "hostile_names.rules"))
    source = plan_for(rs).source()  # type: ignore[union-attr]
    for word in ("import", "os.system", "__import__", "exec", "保证金", "quoted"):
        assert word not in source


# ----------------------------------------------------------------- buffers, chunks, signatures


def _examples(rs: rulelang.Ruleset) -> list[dict[str, Any]]:
    accounts = [_plain(ex.inputs) for ex in rs.ir.examples]
    if rs is MIXED:
        accounts = [
            {"side": "long", "equity": "2000", "items": [{"kind": "a", "size": "10000.5", "price": "1", "flag": True}]},
            {"side": "short", "equity": "-10", "items": [{"kind": "b", "size": "0.0005", "price": "3"}] * 3},
            {"side": "short", "equity": "0", "items": []},
        ]
    return accounts


def _run(plan: Plan, batch: Any, sig: Any, fn: Any) -> tuple[Any, ...]:
    chunk = make_chunk(plan, batch, 0, batch.n, plan.param_values(dict(sig.params and {})))
    with np.errstate(all="ignore"):
        got = fn(*plan.arguments(chunk))
    return (*got, chunk.flags, *chunk.record_flags.values())


@pytest.mark.parametrize("rs", _vectorised(), ids=lambda rs: rs.ir.header.name)
def test_writing_into_dead_buffers_changes_no_result(rs: rulelang.Ruleset) -> None:
    accounts = _examples(rs)
    if not accounts:
        pytest.skip("no examples")
    table = accounts_table(accounts)
    plan = plan_for(rs)
    assert isinstance(plan, Plan)
    batch = layout.read(rs.ir, table)
    pvalues = plan.param_values(rs.params(None, None))
    sig = plan.batch_signature(batch, pvalues, True, True)
    with_reuse = plan.generated(sig)
    without = codegen.generate(rs.ir, plan.tables, plan.indexes, plan.shrunk, sig, reuse_buffers=False)
    assert "out=" not in without.source
    a = _run(plan, batch, sig, with_reuse.fn)
    b = _run(plan, batch, sig, without.fn)
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        if isinstance(x, np.ndarray) and x.dtype == np.float64:
            assert (_bits(x) == _bits(y)).all()
        elif isinstance(x, np.ndarray):
            assert (x == y).all()
        else:
            assert x == y or (x != x and y != y)


def test_chunk_sizes_and_workers_give_the_same_table(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks.columnar import book
    finally:
        sys.path.remove(str(ROOT))
    from rulelang.columnar import evaluate as columnar_evaluate

    table = book(300, seed=11)
    tables = [evaluate_batch(BENCH, table, chunk_size=size, threads=1, records=True) for size in (1, 7, 64, 8192)]
    monkeypatch.setattr(columnar_evaluate, "FORK_FROM", 1)
    tables.append(evaluate_batch(BENCH, table, chunk_size=16, threads=2, records=True))
    for other in tables[1:]:
        assert other.equals(tables[0])


def test_a_plan_makes_one_function_per_signature() -> None:
    rs = rulelang.load("codegen_mix_again.rules", text=MIX)
    plan = plan_for(rs)
    assert isinstance(plan, Plan)
    made = len(plan._generated)
    accounts = _examples(MIXED)
    for p in (None, None, {"strict": "0"}, {"strict": "0"}, {"strict": "2"}):
        evaluate_batch(rs, accounts_table(accounts), p)
    # one for the default parameters' outputs, one for strict = 0 and one for strict = 2
    assert len(plan._generated) == made + 3
    sources = [g.source for g in plan._generated.values()]
    assert len(set(sources[made:])) >= 2  # `if strict > 0` is decided while generating: no branch left


def test_longest_classes_are_powers_of_two() -> None:
    assert [codegen.longest_class(n) for n in (0, 1, 2, 3, 4, 5, 8, 9, 1000)] == [0, 1, 2, 4, 4, 8, 8, 16, 1024]


def test_min_and_max_of_an_account_followed_by_accounts_without_records() -> None:
    # reduceat runs from one start to the next: an empty account's start must not cut the one before it short
    rs = rulelang.load(
        "r.rules",
        text=(
            "ruleset r\n\nunits USDT\n\ninput items: list\n    size: USDT >= 0\n\n"
            "let biggest: USDT = max(items, size, default -1 USDT)\n"
            "let smallest: USDT = min(items, size, where size > 0 USDT, default -1 USDT)\n"
            "let all_big: bool = all(items, size > 2 USDT)\n"
        ),
    )
    accounts = [
        {"items": [{"size": "1"}, {"size": "5"}, {"size": "3"}]},
        {"items": []},
        {"items": [{"size": "0"}, {"size": "7"}, {"size": "2"}]},
        {"items": []},
        {"items": []},
    ]
    for chunk_size in (1, 2, 8192):
        out = evaluate_batch(rs, accounts_table(accounts), chunk_size=chunk_size)
        assert out.column("biggest").to_pylist() == [5, -1, 7, -1, -1]
        assert out.column("smallest").to_pylist() == [1, -1, 2, -1, -1]
        assert out.column("all_big").to_pylist() == [False, True, False, True, True]
        assert_agrees(rs, accounts, out)


def test_a_failing_worker_s_chunks_are_run_again(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from rulelang.columnar import evaluate as columnar_evaluate

    accounts = [_examples(MIXED)[i % 3] for i in range(50)]
    table = accounts_table(accounts)
    alone = evaluate_batch(MIXED, table, threads=1, chunk_size=4, records=True)
    parent = os.getpid()
    real = columnar_evaluate.make_chunk

    def failing_in_the_child(*args: Any) -> Any:
        if os.getpid() != parent:
            raise RuntimeError("a worker dies")
        return real(*args)

    monkeypatch.setattr(columnar_evaluate, "FORK_FROM", 1)
    monkeypatch.setattr(columnar_evaluate, "make_chunk", failing_in_the_child)
    assert evaluate_batch(MIXED, table, threads=2, chunk_size=4, records=True).equals(alone)
    monkeypatch.setattr(columnar_evaluate, "make_chunk", real)
    monkeypatch.setattr(columnar_evaluate, "_queue", lambda starts: None)  # fixed parts instead of a queue
    assert evaluate_batch(MIXED, table, threads=3, chunk_size=4, records=True).equals(alone)


def test_a_traceback_points_at_the_generated_line() -> None:
    import traceback

    plan = plan_for(BENCH)
    assert isinstance(plan, Plan)
    gen = next(iter(plan._generated.values()))
    try:
        gen.fn(*([None] * gen.fn.__code__.co_argcount))
    except Exception as err:  # whatever the first call makes of a None
        frame = traceback.extract_tb(err.__traceback__)[-1]
        assert frame.line and frame.line.strip() == gen.source.splitlines()[frame.lineno - 1].strip()
    else:
        raise AssertionError("expected a failure")
