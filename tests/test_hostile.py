"""No user text reaches generated code as text.

Identifiers go through a namer (``_d3``, ``_k7``), literals through the
function's namespace. ``tests/corpus/good/hostile_names.rules`` and the cases
below use names that are Python builtins, keywords, dunders and the namer's own
names, unicode identifiers, and strings full of quotes, backslashes, newlines
and code; the results must be right and the generated source must hold none of it.
"""

from __future__ import annotations

import io
import keyword
import pathlib
import re
import tokenize
from decimal import Decimal
from typing import Any

import pytest

import rulelang
from rulelang.cli import main
from rulelang.testing import run_examples

HOSTILE = pathlib.Path(__file__).resolve().parent / "corpus" / "good" / "hostile_names.rules"

INJECTION = '"); import os; os.system("x")'
TRICKY = 'it\'s "quoted" \\ back\nslash'

#: what generated code may name besides Python keywords: the namer's names, its helpers, the allowed builtins
NAMER = re.compile(r"_(?:[a-z]+\d+|ZERO|Decimal|empty|fma|scalars|collections|params)")
GENERATED = {
    "evaluate",
    "enumerate",
    "sum",
    "len",
    "min",
    "max",
    "abs",
    "any",
    "all",
    "append",
    "quantize",
    "rounding",
}


def _names_and_strings(source: str) -> tuple[set[str], list[str]]:
    names: set[str] = set()
    strings: list[str] = []
    string_types = {tokenize.STRING, getattr(tokenize, "FSTRING_START", tokenize.STRING)}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.NAME:
            names.add(tok.string)
        elif tok.type in string_types:
            strings.append(tok.string)
    return names, strings


def assert_inert(rs: rulelang.Ruleset) -> None:
    """Every name in the generated source is a keyword, a namer name or a helper; it has no string literal."""
    source = rs.compiled.source
    names, strings = _names_and_strings(source)
    assert strings == []
    assert '"' not in source and "'" not in source and "\\" not in source
    stray = {n for n in names if not (keyword.iskeyword(n) or NAMER.fullmatch(n) or n in GENERATED)}
    assert stray == set(), source


@pytest.fixture(scope="module")
def hostile() -> rulelang.Ruleset:
    return rulelang.load(str(HOSTILE))


ACCOUNT: dict[str, Any] = {
    "__import__": 1_000,
    "os": "exec",
    "保证金": 3,
    "positions": [
        {"exec": INJECTION, "eval": 150},
        {"exec": "__import__", "eval": 20, "_r0": True, "sum": 5},
        {"exec": INJECTION, "eval": 50, "sum": 1},
    ],
}


def test_hostile_examples_pass(hostile: rulelang.Ruleset) -> None:
    outcomes = run_examples(hostile)
    assert [f.render() for o in outcomes for f in o.failures] == []
    assert len(outcomes) == 1


def test_hostile_names_evaluate_correctly(hostile: rulelang.Ruleset) -> None:
    r = hostile.evaluate(ACCOUNT)
    assert r == hostile.evaluate_reference(ACCOUNT)
    assert r["margin_保证金"] == Decimal(500)
    assert r["_d1"] == Decimal(200)
    assert r["_k2"] == Decimal(6)
    assert r["_s0"] == TRICKY
    assert r["__builtins__"] is True
    assert r["return"] == Decimal(6)
    assert r["None"] == Decimal(1)
    assert r["True"] is False
    assert [rec["yield"] for rec in r.records["positions"]] == [Decimal(2), Decimal(2), Decimal("0.5")]
    assert [rec["global"] for rec in r.records["positions"]] == [Decimal(2), Decimal(7), Decimal("1.5")]
    assert r["import"] == Decimal("4.5")
    assert r["and"] == Decimal(6)
    assert r["is_quote"] is True
    assert r["exec_level"] == "__import__"
    assert r.levels["exec_level"].actions == ("notify",)


def test_hostile_account_values_are_only_data(hostile: rulelang.Ruleset) -> None:
    account = dict(ACCOUNT, os="print", evaluate=True, _d0="0.5", **{"class": "__import__('os').system('x')"})
    account["positions"] = [{"exec": "a\nb", "eval": 1}, {"exec": "__import__", "eval": "1e2"}]
    r = hostile.evaluate(account)
    assert r == hostile.evaluate_reference(account)
    assert r["_s0"] == TRICKY  # `evaluate` is true: the literal, not the account's text
    assert r["True"] is True  # a record's text is exactly "a\nb"
    assert r["margin_保证金"] == Decimal("500.5")
    assert r["__builtins__"] is True
    # "a\nb" has its own tiers at 0%; `__import__`'s: 100 × 10%
    assert [rec["yield"] for rec in r.records["positions"]] == [Decimal(0), Decimal(10)]
    account["evaluate"] = False
    assert hostile.evaluate(account)["_s0"] == "__import__('os').system('x')"


def test_generated_source_holds_no_user_text(hostile: rulelang.Ruleset) -> None:
    assert_inert(hostile)
    source = hostile.compiled.source
    for text in (
        "__import__",
        "os.system",
        "import",
        "保证金",
        "__builtins__",
        "__class__",
        "__dict__",
        "exec",
        "print",
        "compile",
        "yield",
        "global",
        "class",
        "lambda",
        "margin_",
        "is_quote",
        "positions",
        "USDT",
    ):
        assert text not in source, text
    names, _ = _names_and_strings(source)
    assert {"eval", "open", "os", "sum_"} & names == set()  # `eval` is also a part of `evaluate`


def test_strings_travel_through_the_namespace(hostile: rulelang.Ruleset) -> None:
    namespace = hostile.compiled.evaluate.__globals__
    constants = [v for k, v in namespace.items() if NAMER.fullmatch(k) and isinstance(v, str)]
    assert INJECTION in constants
    assert TRICKY in constants
    assert "a\nb" in constants
    assert set(namespace["__builtins__"]) == {"sum", "len", "min", "max", "abs", "any", "all", "enumerate"}


def test_generated_source_is_deterministic() -> None:
    assert rulelang.load(str(HOSTILE)).compiled.source == rulelang.load(str(HOSTILE)).compiled.source


def test_dump_python_shows_only_namer_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dump", str(HOSTILE), "--stage", "python"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("def evaluate(_scalars, _collections, _params):")
    assert "__import__" not in out and "保证金" not in out


# Python keywords that rulelang accepts as names. `if` and `not` start rulelang
# expressions, so they can be declared but not read back; every other keyword can be both.
KEYWORDS = [k for k in (*keyword.kwlist, *keyword.softkwlist) if k not in ("if", "not")]


@pytest.mark.parametrize("kw", KEYWORDS)
def test_python_keyword_as_input_field_and_definition(kw: str) -> None:
    text = (
        "ruleset keywords\n\n"
        f"input {kw}: number\n"
        "input positions: list\n"
        f"    {kw}: number\n\n"
        f"let positions.{kw}_doubled: number = {kw} * 2\n"
        f"let {kw}_sum: number = sum(positions, {kw}_doubled) + {kw}\n"
        f"let x_{kw}: bool = {kw} > 1\n"
    )
    rs = rulelang.load("keywords.rules", text)
    account = {kw: "0.5", "positions": [{kw: 1}, {kw: "2.25"}]}
    r = rs.evaluate(account)
    assert r == rs.evaluate_reference(account)
    # (1 + 2.25) × 2 + 0.5 = 7
    assert r[f"{kw}_sum"] == Decimal(7)
    assert r[f"x_{kw}"] is False
    assert_inert(rs)


@pytest.mark.parametrize("kw", ["if", "not", "import", "lambda", "class", "return", "None", "True"])
def test_keywords_as_definition_names(kw: str) -> None:
    rs = rulelang.load("keywords.rules", f"ruleset k\n\ninput a: number\n\nlet {kw}: number = a + 1\n")
    assert rs.evaluate({"a": 1})[kw] == Decimal(2)
    assert_inert(rs)


@pytest.mark.parametrize(
    "name",
    [
        "保证金",
        "维持保证金率",
        "é",
        "Δ",
        "_",
        "__",
        "___init___",
        "_d0",
        "_k0",
        "_lk1",
        "_ZERO",
        "_Decimal",
        "_empty",
        "_scalars",
        "_params",
        "evaluate",
        "sum",
        "min",
        "len",
        "enumerate",
        "quantize",
        "append",
        "__builtins__",
        "__name__",
        "__import__",
        "exec",
        "os",
        "sys",
        "self",
    ],
)
def test_identifier_never_reaches_the_source(name: str) -> None:
    text = (
        "ruleset names\n\n"
        "units USDT\n\n"
        f"input {name}: USDT\n"
        "input side: long | short\n\n"
        f"let {name}_x: USDT = if side == long then {name} * 2 else -{name}\n"
        f"let y: USDT = round({name}_x / 3, 2, half_even)\n"
    )
    rs = rulelang.load("names.rules", text)
    for side, x, y in (("long", "6", "2"), ("short", "-3", "-1")):
        r = rs.evaluate({name: 3, "side": side})
        assert r == rs.evaluate_reference({name: 3, "side": side})
        assert r[f"{name}_x"] == Decimal(x)
        assert r["y"] == Decimal(y)
    assert_inert(rs)


@pytest.mark.parametrize(
    "enum_value",
    ["print", "exec", "eval", "compile", "open", "__import__", "True", "None", "lambda", "_k0", "sum"],
)
def test_enum_values_named_like_builtins(enum_value: str) -> None:
    text = (
        "ruleset enums\n\n"
        f"input kind: {enum_value} | other\n\n"
        f"let hit: bool = kind == {enum_value}\n"
        f"let back: {enum_value} | other = if hit then other else {enum_value}\n"
    )
    rs = rulelang.load("enums.rules", text)
    r = rs.evaluate({"kind": enum_value})
    assert r == rs.evaluate_reference({"kind": enum_value})
    assert r["hit"] is True and r["back"] == "other"
    assert rs.evaluate({"kind": "other"})["back"] == enum_value
    assert_inert(rs)


@pytest.mark.parametrize(
    "value",
    [
        INJECTION,
        TRICKY,
        "\\",
        '"',
        "'",
        "'''",
        '"""',
        "\\n",
        "{__import__('os')}",
        "\t",
        "",
        "保证金\\",
        "#",
        "\x00",
    ],
)
def test_string_literal_round_trips(value: str) -> None:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    text = (
        "ruleset strings\n\n"
        "input t: text\n\n"
        f'let same: bool = t == "{escaped}"\n'
        f'let echo: text = if same then t else "{escaped}"\n'
    )
    rs = rulelang.load("strings.rules", text)
    for given, same in ((value, True), (value + "!", False)):
        r = rs.evaluate({"t": given})
        assert r == rs.evaluate_reference({"t": given})
        assert r["same"] is same
        assert r["echo"] == value
    assert_inert(rs)
