"""The shared corpus: every example of every rule file runs on both evaluators.

``tests/corpus/good/**`` holds small rule files that together use every construct
of the language, each with examples whose expected values were worked out by hand
(the arithmetic is in the comments). The shipped ``rulesets/`` are held to the
same standard. For each example the compiled evaluator must agree with the
reference interpreter, and ``bracket`` must equal ``progressive`` on every table.
"""

from __future__ import annotations

import decimal
import functools
import pathlib
from decimal import Decimal

import pytest

import rulelang
from rulelang import ir, runtime
from rulelang.testing import run_examples
from rulelang.types import BoolType, EnumType, NumType, TextType

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus" / "good"
CORPUS_FILES = sorted(CORPUS.rglob("*.rules"))
RULESET_FILES = sorted((ROOT / "rulesets").rglob("*.rules"))
ALL_FILES = CORPUS_FILES + RULESET_FILES
# files only ever imported by others: they hold tables and units, no `ruleset` header, no examples
IMPORTED_ONLY = {CORPUS / "shared" / "eth_brackets.rules"} | {
    p for p in RULESET_FILES if not any(line.startswith("ruleset ") for line in p.read_text().splitlines())
}


def _id(path: pathlib.Path) -> str:
    return str(path.relative_to(ROOT))


@functools.cache
def load(path: pathlib.Path) -> rulelang.Ruleset:
    return rulelang.load(str(path))


def test_corpus_has_8_to_15_rulesets() -> None:
    top = [p for p in CORPUS_FILES if p not in IMPORTED_ONLY]
    assert 8 <= len(top) <= 15, [p.name for p in top]
    assert RULESET_FILES, "the shipped rulesets are part of the corpus"


@pytest.mark.parametrize("path", ALL_FILES, ids=_id)
def test_every_example_passes_on_both_evaluators(path: pathlib.Path) -> None:
    rs = load(path)
    outcomes = run_examples(rs)
    if path not in IMPORTED_ONLY:
        assert outcomes, f"{_id(path)} has no examples"
    failures = [f"{o.location} {o.example.title}:\n  {f.render()}" for o in outcomes for f in o.failures]
    assert failures == [], "\n".join(failures)


@pytest.mark.parametrize("path", ALL_FILES, ids=_id)
def test_compiled_equals_reference_for_every_example(path: pathlib.Path) -> None:
    rs = load(path)
    for ex in rs.ir.examples:
        compiled = rs.evaluate(ex.inputs, profile=ex.profile)
        reference = rs.evaluate_reference(ex.inputs, profile=ex.profile)
        assert compiled == reference, ex.title
        assert compiled.to_json() == reference.to_json(), ex.title


@pytest.mark.parametrize("path", ALL_FILES, ids=_id)
def test_every_file_checks_without_warnings(path: pathlib.Path) -> None:
    assert load(path).warnings == ()


# ----------------------------------------------------------------- coverage of the language


def _features() -> set[str]:
    seen: set[str] = set()
    for path in CORPUS_FILES:
        rs = load(path).ir
        if rs.params:
            seen.add("param")
        if rs.profiles:
            seen.add("profile")
        if len(rs.ladders) > 1:
            seen.add("several ladders")
        if any(not a.builtin for a in rs.actions):
            seen.add("custom action")
        if len(rs.files) > 1:
            seen.add("import")
        if any(ex.profile for ex in rs.examples):
            seen.add("example under a profile")
        if any(x.tolerance is not None for ex in rs.examples for x in ex.expects):
            seen.add("within")
        for t in rs.tables:
            seen.add("lower-inclusive table" if t.lower_inclusive else "upper-inclusive table")
            if t.group:
                seen.add("keyed table")
            if any(tiers[-1].upper is not None for _, tiers in t.tiers):
                seen.add("finite last band")
        for i in rs.inputs:
            for decl in (i, *(i.fields or ())):
                if decl.has_default:
                    seen.add("optional field" if decl is not i else "optional input")
                seen.add(type(decl.type).__name__)
        for d in rs.definitions:
            seen.add(type(d.type).__name__)
            for x in ir.walk(d.expr):
                if isinstance(x, ir.Lookup):
                    seen.add(f"lookup {x.mode}" + (" keyed" if x.group is not None else ""))
                elif isinstance(x, ir.Aggregate):
                    seen.add(f"aggregate {x.func}")
                    if x.where is not None:
                        seen.add(f"aggregate {x.func} where")
                    if x.default is not None:
                        seen.add(f"aggregate {x.func} default")
                    if d.collection == x.collection:
                        seen.add("aggregate over its own collection in a per-record definition")
                    elif d.collection is not None:
                        seen.add("aggregate over another collection in a per-record definition")
                elif isinstance(x, ir.Round):
                    seen.add(f"round {x.mode}")
                elif isinstance(x, ir.Cond) and any(isinstance(y, ir.Arith) and y.op == "/" for y in ir.walk(x.then)):
                    seen.add("guarded division")
                elif isinstance(x, (ir.Func, ir.Logic, ir.Not, ir.Neg)):
                    seen.add(type(x).__name__ + getattr(x, "name", ""))
            if d.collection is not None:
                seen.add("per-record definition")
    return seen


def test_corpus_exercises_every_construct() -> None:
    wanted = {
        *(f"lookup {m}" for m in ir.LOOKUP_MODES),
        *(f"lookup {m} keyed" for m in ir.LOOKUP_MODES),
        *(f"aggregate {f}" for f in ("sum", "count", "min", "max", "any", "all")),
        "aggregate sum where",
        "aggregate count where",
        "aggregate min where",
        "aggregate min default",
        "aggregate max default",
        *(f"round {m}" for m in runtime.ROUNDING),
        "lower-inclusive table",
        "upper-inclusive table",
        "keyed table",
        "finite last band",
        "optional input",
        "optional field",
        "per-record definition",
        "aggregate over its own collection in a per-record definition",
        "aggregate over another collection in a per-record definition",
        "guarded division",
        "param",
        "profile",
        "several ladders",
        "custom action",
        "import",
        "example under a profile",
        "within",
        BoolType.__name__,
        EnumType.__name__,
        TextType.__name__,
        NumType.__name__,
        "Funcabs",
        "Funcmin",
        "Funcmax",
        "Logic",
        "Not",
        "Neg",
    }
    assert wanted - _features() == set()


def test_corpus_examples_include_empty_collections() -> None:
    empty = [
        (p.name, ex.title)
        for p in CORPUS_FILES
        for ex in load(p).ir.examples
        if any(v == [] for v in ex.inputs.values())
    ]
    assert len(empty) >= 4, empty


# ----------------------------------------------------------------- bracket == progressive


def _sizes(tiers: runtime.Tiers) -> list[Decimal]:
    """Zero, every edge and a tick either side of it, band midpoints, and huge sizes."""
    sizes = {Decimal(0)}
    for tick in (Decimal(1), Decimal("0.01"), Decimal("1E-8"), Decimal("1E-30")):
        for edge in (*tiers.lowers, *(u for u in tiers.uppers if u != runtime.INFINITY)):
            sizes.update((edge, edge - tick, edge + tick))
    for lo, hi in zip(tiers.lowers, tiers.uppers, strict=True):
        if hi != runtime.INFINITY:
            sizes.add((lo + hi) / 2)
        else:
            sizes.update({lo * 3 + 7, Decimal("1E15") + Decimal("0.123456789"), Decimal("9.87654321E30")})
    return sorted(s for s in sizes if s >= 0)


def _tables() -> list[tuple[str, ir.TableDecl, str, str]]:
    out = []
    for path in ALL_FILES:
        for t in load(path).ir.tables:
            for key, tiers in t.tiers:
                if tiers[0].lower != 0:
                    continue  # progressive needs a table that starts at 0
                for c in t.columns:
                    if isinstance(c.type, NumType):
                        out.append((f"{_id(path)}:{t.name}[{key}].{c.name}", t, key, c.name))
    return out


TABLES = _tables()


def test_there_are_tables_to_compare() -> None:
    assert len(TABLES) >= 10
    assert any(not t.lower_inclusive for _, t, _, _ in TABLES)
    assert any(t.group for _, t, _, _ in TABLES)


@pytest.mark.parametrize(("name", "table", "key", "column"), TABLES, ids=[n for n, *_ in TABLES])
def test_bracket_equals_progressive_at_every_edge(name: str, table: ir.TableDecl, key: str, column: str) -> None:
    tiers = runtime.table_tiers(table)[key]
    checked = 0
    with decimal.localcontext(runtime.CONTEXT):
        for size in _sizes(tiers):
            try:
                tiers.index(size)
            except runtime.TierError:
                continue  # beyond a finite last band
            progressive = runtime.progressive_total(runtime.progressive_slices(tiers, column, size))
            assert runtime.bracket(tiers, column, size) == progressive, size
            checked += 1
    assert checked >= 3 * len(tiers.lowers)


# sizes at, around and far beyond the edges of corpus_progressive_btc's table (0, 50, 100)
BTC_SIZES = [
    "0",
    "0.00000001",
    "1",
    "25",
    "49.99999999",
    "49.999999999999999999999999999999",
    "50",
    "50.00000001",
    "75.5",
    "99.99999999",
    "100",
    "100.00000001",
    "120",
    "1000",
    "123456789.123456789",
    "1E+15",
    "98765432109876543210.0123456789",
    "1.2345678901234567890123456789012345678E+20",
]


@pytest.mark.parametrize("size", BTC_SIZES)
def test_progressive_equals_bracket_in_both_evaluators(size: str) -> None:
    rs = load(CORPUS / "progressive_btc.rules")
    compiled = rs.evaluate({"size": size})
    reference = rs.evaluate_reference({"size": size})
    assert compiled == reference
    for result in (compiled, reference):
        assert result["progressive_mm"] == result["bracket_mm"]
        assert result["same"] is True


@pytest.mark.parametrize(
    "notional",
    ["0", "49999.99", "50000", "50000.01", "249999.999999", "250000", "999999.99", "1000000", "7499999.99"],
)
def test_keyed_bracket_equals_progressive_in_both_evaluators(notional: str) -> None:
    rs = load(CORPUS / "brackets_per_symbol.rules")
    account = {
        "positions": [
            {"symbol": "BTCUSDT", "notional": notional},
            {"symbol": "ETHUSDT", "notional": "9999.5"},
        ]
    }
    compiled = rs.evaluate(account)
    assert compiled == rs.evaluate_reference(account)
    for rec in compiled.records["positions"]:
        assert rec["mm"] == rec["mm_progressive"]
