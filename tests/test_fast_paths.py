"""The scalar evaluator's fast paths give exactly what the general paths give.

- The generated reader of plainly valid accounts accepts only what the validator
  accepts, and reads it to the same values; everything else it leaves to the
  validator (so every message is the validator's).
- Results made lazily from the compiled code's output equal the interpreter's.
- Band searches shared by lookups, and lookups left under conditions, behave as before.
- ``evaluate`` leaves the caller's decimal context as it was.
- A ruleset loaded from the cache evaluates without the checker, the parser or code
  generation, and reads its whole IR only when asked.
"""

from __future__ import annotations

import copy
import decimal
import io
import keyword
import os
import pathlib
import pickle
import re
import subprocess
import sys
import tokenize
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rulelang
from rulelang import cache
from rulelang.backends import codegen
from rulelang.errors import EvaluationError, InputError

ROOT = pathlib.Path(__file__).resolve().parent.parent
BENCH = ROOT / "rulesets" / "bench" / "account.rules"
SOLVE = ROOT / "tests" / "corpus" / "good" / "solve_liquidation.rules"

RULES = """\
ruleset fast

units USDT, BTC

input size: BTC >= 0
input shift: USDT
input side: long | short
input venue: text
input reduce_only: bool = false
input leverage: leverage >= 1x = 10x
input positions: list
    symbol: text
    quantity: BTC >= 0
    price: USDT/BTC > 0
    fee: USDT = 0 USDT
    kind: spot | swap = swap

let total: BTC = size + sum(positions, quantity)
let moved: USDT = shift + sum(positions, fee)
let blocked: bool = reduce_only and side == long and venue == "x"
let margin: USDT = sum(positions, quantity * price) / leverage
"""

GOOD: dict[str, Any] = {
    "size": "1",
    "shift": "-2.5",
    "side": "long",
    "venue": "OKX",
    "positions": [{"symbol": "BTCUSDT", "quantity": "0.5", "price": "20000"}],
}


@pytest.fixture(scope="module")
def rs() -> rulelang.Ruleset:
    return rulelang.load("fast.rules", RULES)


def _outcome(rs: rulelang.Ruleset, data: Any) -> object:
    try:
        return rs.validator.validate_all(data)
    except InputError as err:
        return err


def assert_same(rs: rulelang.Ruleset, data: Any) -> None:
    """The fast reader gives up or reads what the validator reads; it never accepts what the validator refuses."""
    general = _outcome(rs, data)
    fast = rs.validator.fast(data)
    if fast is not None:
        assert not isinstance(general, InputError), f"the fast reader accepted {data!r}: {general}"
        assert fast == (general.scalars, general.collections)  # type: ignore[attr-defined]
        for a, b in zip(fast[0], general.scalars, strict=True):  # type: ignore[attr-defined]
            if isinstance(b, Decimal):
                assert type(a) is Decimal and str(a) == str(b)  # same digits and exponent, not only equal
            # an enumeration's value is the ruleset's own text, even for a str subclass that equals it
    validated = _outcome_validate(rs, data)
    if isinstance(general, InputError):
        assert isinstance(validated, InputError) and validated.problems == general.problems
    else:
        assert validated == general


def _outcome_validate(rs: rulelang.Ruleset, data: Any) -> object:
    try:
        return rs.validate(data)
    except InputError as err:
        return err


def test_a_plain_account_takes_the_fast_path(rs: rulelang.Ruleset) -> None:
    fast = rs.validator.fast(GOOD)
    assert fast is not None
    assert fast == (
        (Decimal(1), Decimal("-2.5"), "long", "OKX", False, Decimal(10)),
        (((("BTCUSDT", Decimal("0.5"), Decimal(20000), Decimal(0), "swap")),),),
    )
    assert_same(rs, GOOD)


def test_the_reader_source_holds_no_account_or_ruleset_text(rs: rulelang.Ruleset) -> None:
    source = rs.validator.fast.source  # type: ignore[attr-defined]
    for text in ("size", "side", "long", "venue", "positions", "symbol", "swap", "BTC"):
        assert text not in source, text


def test_the_reader_of_hostile_names_is_inert() -> None:
    hostile = rulelang.load(str(ROOT / "tests" / "corpus" / "good" / "hostile_names.rules"))
    source = hostile.validator.fast.source  # type: ignore[attr-defined]
    names = {t.string for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type == tokenize.NAME}
    assert {n for n in names if not (keyword.iskeyword(n) or re.fullmatch(r"_[a-z]+\d*", n))} == {
        "read",
        "Exception",
        "get",
        "append",
    }
    assert "'" not in source and '"' not in source and "\\" not in source
    account = {
        "__import__": "1000",
        "os": "exec",
        "保证金": "3",
        "class": "it's",
        "positions": [{"exec": "a\nb", "eval": "150", "_r0": True}, {"exec": "__import__", "eval": 20}],
    }
    assert hostile.validator.fast(account) is not None
    assert_same(hostile, account)


EDGES = [
    # magnitudes: 1e-100 and 9.99…e100 are in range, 1e-101 and 1e101 are not; zero at any exponent is
    "1e-100",
    "9.99e-101",
    "1e100",
    "9.999999999999999999999999999999999999999999e100",
    "1e101",
    "-1e-100",
    "-9.99e-101",
    "-1e100",
    "-1e101",
    "0E-1000000",
    "0E+999999",
    "-0",
    "0",
    "0.0",
    # not finite, not numbers
    "NaN",
    "-nan",
    "sNaN",
    "Infinity",
    "-inf",
    "abc",
    "",
    " 1_000.5 ",
    "1e",
    # other types
    Decimal("NaN"),
    Decimal("sNaN"),
    Decimal("-Infinity"),
    Decimal("1E-101"),
    Decimal("-0.000001"),
    float("nan"),
    float("inf"),
    0.1,
    1e-7,
    -0.0,
    10**101,
    -(10**101),
    7,
    -7,
    True,
    False,
    None,
    [1],
    {"v": 1},
    b"1",
]


@pytest.mark.parametrize("value", EDGES, ids=repr)
@pytest.mark.parametrize("field", ["size", "shift", "leverage"])
def test_number_edges(rs: rulelang.Ruleset, field: str, value: Any) -> None:
    assert_same(rs, dict(GOOD, **{field: value}))


@pytest.mark.parametrize("value", EDGES, ids=repr)
@pytest.mark.parametrize("field", ["quantity", "price", "fee"])
def test_record_number_edges(rs: rulelang.Ruleset, field: str, value: Any) -> None:
    assert_same(rs, dict(GOOD, positions=[dict(GOOD["positions"][0], **{field: value})]))


class Text(str):
    pass


class Table(dict):  # type: ignore[type-arg]
    pass


OTHER = [
    "long",
    "short",
    "Long",
    " long",
    Text("long"),
    "",
    1,
    None,
    True,
    ["long"],
    {"a": 1},
    "true",
    "FALSE",
    Text("x"),
]


@pytest.mark.parametrize("value", OTHER, ids=repr)
@pytest.mark.parametrize("field", ["side", "venue", "reduce_only"])
def test_texts_enumerations_and_bools(rs: rulelang.Ruleset, field: str, value: Any) -> None:
    assert_same(rs, dict(GOOD, **{field: value}))


@pytest.mark.parametrize("value", OTHER, ids=repr)
@pytest.mark.parametrize("field", ["symbol", "kind"])
def test_record_texts_and_enumerations(rs: rulelang.Ruleset, field: str, value: Any) -> None:
    assert_same(rs, dict(GOOD, positions=[dict(GOOD["positions"][0], **{field: value})]))


@pytest.mark.parametrize(
    "data",
    [
        {k: v for k, v in GOOD.items() if k != "size"},
        {k: v for k, v in GOOD.items() if k != "positions"},
        dict(GOOD, leverage=None, reduce_only=None),
        dict(GOOD, positions=[]),
        dict(GOOD, positions=()),
        dict(GOOD, positions=(dict(GOOD["positions"][0]),)),
        dict(GOOD, positions=[Table(GOOD["positions"][0])]),
        dict(GOOD, positions=[7]),
        dict(GOOD, positions=None),
        dict(GOOD, positions="BTCUSDT"),
        dict(GOOD, positions=[{"symbol": "BTCUSDT", "price": 1}]),
        dict(GOOD, positions=[dict(GOOD["positions"][0], fee=None, kind=None)]),
        Table(GOOD),
        [1, 2],
        "account",
    ],
    ids=repr,
)
def test_shapes(rs: rulelang.Ruleset, data: Any) -> None:
    assert_same(rs, data)


values = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.integers(-(10**110), 10**110),
    st.floats(),
    st.sampled_from(EDGES),
    st.text(max_size=6),
    st.booleans(),
    st.none(),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(size=values, shift=values, quantity=values, price=values, side=st.sampled_from(OTHER))
def test_random_values(rs: rulelang.Ruleset, size: Any, shift: Any, quantity: Any, price: Any, side: Any) -> None:
    position = dict(GOOD["positions"][0], quantity=quantity, price=price)
    assert_same(rs, dict(GOOD, size=size, shift=shift, side=side, positions=[position, position]))


def test_evaluate_names_every_problem_as_the_validator_does(rs: rulelang.Ruleset) -> None:
    data = dict(GOOD, size="-1", side="up", positions=[dict(GOOD["positions"][0], price="nan")])
    with pytest.raises(InputError) as info:
        rs.evaluate(data, record="book.jsonl:3")
    assert info.value.problems == (
        ("size", "must be >= 0, got -1"),
        ("side", "expected one of long, short, got the text 'up'"),
        ("positions[0].price", "expected a finite number, got nan"),
    )
    assert str(info.value).startswith("book.jsonl:3: size:")


def test_evaluate_takes_what_only_the_validator_reads(rs: rulelang.Ruleset) -> None:
    unusual = Table(GOOD, size=0.5, reduce_only="true", positions=(Table(GOOD["positions"][0]),))
    assert rs.validator.fast(unusual) is None
    assert rs.evaluate(unusual)["total"] == Decimal(1)
    assert rs.evaluate(unusual) == rs.evaluate_reference(unusual)


# ----------------------------------------------------------------- results


def test_compiled_results_equal_the_interpreters() -> None:
    rs = rulelang.load(str(BENCH))
    account = {
        "usdt_index": "1",
        "collateral": [{"asset": "USDT", "amount": "5600", "price": "1"}],
        "positions": [
            {"symbol": "BTCUSDT", "side": "long", "quantity": "2", "entry_price": "52500", "mark_price": "50000"}
        ],
    }
    compiled, reference = rs.evaluate(account), rs.evaluate_reference(account)
    assert compiled == reference and reference == compiled
    assert repr(compiled) == repr(reference)
    assert compiled.to_json() == reference.to_json()
    assert compiled["risk_level"] == "reduce_only" and compiled.levels["risk_level"].actions == (
        "reduce_only",
        "notify",
    )
    assert compiled.get("positions[0].maintenance_margin") == Decimal(450)
    assert dict(compiled.values) == dict(reference.values)
    for again in (pickle.loads(pickle.dumps(compiled)), copy.copy(compiled), copy.deepcopy(compiled)):
        assert again == reference
    assert compiled != object()
    with pytest.raises(AttributeError):
        compiled.values = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        hash(compiled)


# ----------------------------------------------------------------- lookups

LOOKUPS = """\
ruleset lookups

units USDT

input symbol: text
input n: USDT >= 0
input positions: list
    symbol: text
    notional: USDT >= 0

let mm: USDT = bracket(t[symbol].rate, n)
let lev: number = lookup(t[symbol].lev, n)
let guarded: USDT = if symbol == "A" then bracket(t["B"].rate, n) else 0 USDT
let either: bool = symbol == "A" or lookup(t["missing"].lev, n) > 1
let positions.mm: USDT = bracket(t[symbol].rate, notional)
let positions.lev: number = lookup(t[symbol].lev, notional)
let positions.tier: number = tier(t[symbol], notional)
let top: number = max(positions, lookup(t[symbol].lev, notional), default 0)

table t: USDT per symbol
    bands from <= notional < to
    | symbol | from | to  | rate | lev |
    | A      | 0    | 100 | 1%   | 20  |
    | A      | 100  | inf | 2%   | 10  |
    | B      | 0    | 50  | 5%   | 5   |
"""


def test_lookups_of_one_key_and_size_search_once() -> None:
    rs = rulelang.load("lookups.rules", LOOKUPS)
    source = rs.compiled.source
    # one search for `mm` and `lev`, one per record for the per-record lookups; the others search on their own
    assert len(re.findall(r"= _ix\d+\(", source)) == 2, source
    assert len(re.findall(r"_lk\d+\(", source)) == 3, source


@pytest.mark.parametrize("symbol", ["A", "B"])
@pytest.mark.parametrize("n", ["0", "99.99", "100", "150"])
def test_lookups_agree_with_the_interpreter(symbol: str, n: str) -> None:
    rs = rulelang.load("lookups.rules", LOOKUPS)
    account = {
        "symbol": symbol,
        "n": n,
        "positions": [{"symbol": "A", "notional": n}, {"symbol": "B", "notional": "1"}],
    }
    try:
        compiled = rs.evaluate(account)
    except EvaluationError as err:
        with pytest.raises(EvaluationError) as ref:
            rs.evaluate_reference(account)
        assert str(err) == str(ref.value)
        return
    assert compiled == rs.evaluate_reference(account)


def test_a_lookup_under_a_condition_is_not_searched_when_not_taken() -> None:
    rs = rulelang.load("lookups.rules", LOOKUPS)
    # symbol A: `either` holds by its left side and never looks up "missing"; symbol B: it does
    r = rs.evaluate({"symbol": "A", "n": "20", "positions": []})
    assert (r["guarded"], r["either"]) == (Decimal("1.00"), True)
    with pytest.raises(EvaluationError, match="missing"):
        rs.evaluate({"symbol": "B", "n": "20", "positions": []})


# ----------------------------------------------------------------- decimal context


DIVIDE = "ruleset div\ninput a: number\ninput b: number\nlet q: number = a / b\n"


def test_evaluate_leaves_the_callers_context_alone() -> None:
    rs = rulelang.load("div.rules", DIVIDE)
    mine = decimal.Context(prec=3, traps=[])
    with decimal.localcontext(mine) as ctx:
        before = decimal.getcontext()
        assert rs.evaluate({"a": "1", "b": "3"})["q"] == Decimal("0.3333333333333333333333333333333333")  # 34 digits
        assert decimal.getcontext() is before
        with pytest.raises(EvaluationError, match="division by zero"):
            rs.evaluate({"a": "1", "b": "0"})  # the caller's context does not trap it; the evaluation's does
        assert decimal.getcontext() is before
        assert ctx.prec == 3 and not ctx.traps[decimal.DivisionByZero]


# ----------------------------------------------------------------- cache


@pytest.fixture
def cache_dir(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    monkeypatch.setenv("RULELANG_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_a_cached_load_generates_no_code_and_reads_the_ir_when_asked(
    cache_dir: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = rulelang.load(str(BENCH))
    account = {"usdt_index": "1", "collateral": [], "positions": []}
    expected = first.evaluate(account)
    monkeypatch.setattr(cache, "check_file", lambda *a, **k: pytest.fail("checked again"))
    monkeypatch.setattr(codegen, "_Gen", lambda *a, **k: pytest.fail("generated again"))
    again = rulelang.load(str(BENCH))
    assert again._ir is None  # tables and examples not read yet
    assert again.evaluate(account) == expected
    assert again.compiled.source == first.compiled.source
    assert again._ir is None
    assert again.ir.tables and again.ir.examples  # read now
    assert [t.name for t in again.ir.tables] == [t.name for t in first.ir.tables]
    assert [
        (k, [(x.lower, x.upper, x.values, x.cum) for x in tiers]) for t in again.ir.tables for k, tiers in t.tiers
    ] == [(k, [(x.lower, x.upper, x.values, x.cum) for x in tiers]) for t in first.ir.tables for k, tiers in t.tiers]
    # spans of the tables and of the rest point into the same source text object
    assert again.ir.tables[0].span.source is again.ir.inputs[0].span.source
    assert again.explain(account, "margin_ratio").to_text() == first.explain(account, "margin_ratio").to_text()


def test_a_ruleset_with_a_solve_comes_from_the_cache_too(
    cache_dir: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = rulelang.load(str(SOLVE))
    assert first.compiled.artifact is None  # a solve's probe is compiled from the IR
    monkeypatch.setattr(cache, "check_file", lambda *a, **k: pytest.fail("checked again"))
    again = rulelang.load(str(SOLVE))
    from rulelang.testing import run_examples

    assert [f.render() for o in run_examples(again) for f in o.failures] == []


def test_a_cached_load_imports_neither_the_checker_nor_lark(cache_dir: pathlib.Path) -> None:
    rulelang.load(str(BENCH))
    script = (
        "import sys, rulelang\n"
        f"rs = rulelang.load({str(BENCH)!r})\n"
        "rs.evaluate({'usdt_index': '1', 'collateral': [], 'positions': []})\n"
        "print(sorted(m for m in sys.modules if m == 'lark' or m.startswith(('rulelang.check', 'rulelang.syntax'))))\n"
    )
    env = dict(os.environ, RULELANG_CACHE_DIR=str(cache_dir), PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_damaged_rest_of_an_entry_is_checked_again(cache_dir: pathlib.Path) -> None:
    rulelang.load(str(BENCH))
    (entry,) = cache_dir.rglob("*.pickle")
    data = entry.read_bytes()
    entry.write_bytes(data[: len(data) - 1000])  # parts 1 and 2 are whole, part 3 is cut
    again = rulelang.load(str(BENCH))
    assert again.ir.tables and len(again.ir.examples) == len(rulelang.load(str(BENCH), cache=False).ir.examples)


def test_interned_decimals_keep_their_exponent() -> None:
    one, one_point_zero = Decimal("1"), Decimal("1.0")
    got = cache._interned(((one, Decimal("1")), {"a": (one_point_zero,)}))
    assert got[0][0] is got[0][1]
    assert str(got[1]["a"][0]) == "1.0"
