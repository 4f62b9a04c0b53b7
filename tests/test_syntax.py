"""The syntax layer: the grammar builds strictly, and every syntax error is a positioned diagnostic.

Syntax errors are rendered in full (code, ``path:line:col``, message, excerpt, caret, help), because
the wording and the position are what a user sees.
"""

from __future__ import annotations

import lark
import pytest
from helpers import check_text, dedent, errors, one_error, render, where
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rulelang.check import check_file
from rulelang.errors import Diagnostic, RulesetError
from rulelang.source import Source
from rulelang.syntax import parse_source
from rulelang.syntax.catalogue import CATALOGUE
from rulelang.syntax.parser import parser


def syntax_errors(text: str) -> list[Diagnostic]:
    _, diags = parse_source(Source("t.rules", text))
    return diags


# ------------------------------------------------------------------ the grammar


def test_grammar_builds_with_strict_lalr() -> None:
    """strict=True fails on any LALR conflict and on terminals that can match the same text."""
    p = parser(strict=True)
    assert isinstance(p, lark.Lark)
    assert p.options.parser == "lalr"


def test_parser_is_cached() -> None:
    assert parser() is parser()


def test_valid_file_has_no_syntax_diagnostics() -> None:
    text = dedent(
        """
        # a comment before the header
        ruleset demo
            label "Demo" zh "演示"
            version "1.0.0"
            effective 2024-01-01

        units BTC, USDT

        input size: BTC >= 0    # trailing comment
        input price: USDT/BTC > 0
        let notional: USDT = (size
            × price)
        let big: bool = notional ≥ 1_000 USDT and not (size ≤ 0)
        """
    )
    assert syntax_errors(text) == []


# ------------------------------------------------------------------ friendly messages (the catalogue)


def test_double_equals_in_a_definition() -> None:
    d = one_error("let a == 1\n")
    assert d.render() == dedent(
        """
        t.rules:1:8: error[RL0100]: a definition uses `=`, not `==`
           1 | let a == 1
             |        ^
          = help: write `let name = expression`; `==` compares two values
        """
    ).rstrip("\n")


def test_catalogue_matches_after_other_declarations() -> None:
    """lark's match_examples compares stack depth, so it only matched on line 1; ours matches anywhere."""
    text = dedent(
        """
        # comment
        ruleset r

        units BTC
        let a == 1
        """
    )
    d = one_error(text)
    assert d.message == "a definition uses `=`, not `==`"
    assert where(d) == (5, 8)


@pytest.mark.parametrize(
    ("text", "line", "col", "message"),
    [
        ("units BTC\nlet a = 1 +\n", 2, 12, "an expression is missing"),
        ("units BTC\nlet a =\n", 2, 8, "an expression is missing"),
        ("units BTC\nlet a = min(1,)\n", 2, 15, "an expression is missing"),
        ("units BTC\nlet a = 1 3\n", 2, 11, "two values are written next to each other without an operator"),
        ("units BTC\nlet a = if a > 1 then 2\n", 2, 24, "`if` needs `then` and `else`"),
        ("units BTC\ninput a: = 1\n", 2, 10, "a type is expected after `:`"),
        ("units BTC\nparam a: = 1\n", 2, 10, "a type is expected after `:`"),
        ("units BTC\ntable t BTC\n", 2, 9, "a table needs its unit after `:`"),
        ("units BTC\nfoo\n", 2, 1, "a line at the left margin must start a declaration"),
        ("units BTC\nlevels l\n    warn x < 1\n", 3, 10, "a level needs `when` and a condition"),
        (
            "units BTC\nlet a = (1 + 2\nlet b = 1\n",
            2,
            15,
            "a bracket is not closed: `(`, `[` or `{` lacks its `)`, `]` or `}`",
        ),
        (
            "levels l\n    a when b\n    otherwise c\n    d when e\n",
            4,
            5,
            "`otherwise` must be the last line of a ladder",
        ),
    ],
)
def test_friendly_syntax_messages(text: str, line: int, col: int, message: str) -> None:
    d = one_error(text)
    assert (d.code, d.message, where(d)) == ("RL0100", message, (line, col))


@pytest.mark.parametrize(
    ("label", "snippet"),
    [(label, s) for label, snippets in CATALOGUE.items() for s in snippets],
    ids=[f"{label[0][:30]}-{i}" for label, snippets in CATALOGUE.items() for i, _ in enumerate(snippets)],
)
def test_every_catalogue_snippet_gets_its_own_message(label: tuple[str, str | None], snippet: str) -> None:
    """Each snippet fails in a state no other entry claims, and gets the same message on line 3."""
    for text in (snippet, "# c\nunits BTC\n" + snippet):
        diags = syntax_errors(text)
        assert [(d.message, d.hint) for d in diags] == [label], render(diags)


def test_catalogue_is_not_used_when_its_entries_disagree_and_no_token_matches() -> None:
    """After `let a =` both "`==`" and "expression missing" fail; `∞` is neither, so say what was expected."""
    d = one_error("units BTC\nlet a = ∞\n")
    assert where(d) == (2, 9)
    assert d.message.startswith("unexpected `∞`; expected `(`, `-`, `[`")


def test_error_in_lines_indented_before_the_first_declaration() -> None:
    """Block-by-block recovery must not skip what comes before the first line at the left margin."""
    d = one_error("  let a == 1\nlet b = 2\n")
    assert (d.message, where(d)) == ("a definition uses `=`, not `==`", (1, 10))


# ------------------------------------------------------------------ generic messages use symbols


def test_unexpected_token_names_the_symbol_not_the_terminal() -> None:
    d = one_error("input a BTC\n")
    assert d.render() == dedent(
        """
        t.rules:1:9: error[RL0100]: unexpected `BTC`; expected `:`
           1 | input a BTC
             |         ^^^
        """
    ).rstrip("\n")


def test_expected_list_uses_symbols_and_words() -> None:
    d = one_error("units BTC USDT\n")
    assert d.message == "unexpected `USDT`; expected `,`, end of line"
    assert where(d) == (1, 11)


@pytest.mark.parametrize(
    "text",
    [
        "input a BTC\n",
        "units BTC USDT\n",
        "let a = (1 + 2))\n",
        "input p: list\n    qty BTC\n",
        "ruleset r\n    label\n",
        "table t: BTC\n    bands from <= size to\n",
        'example "e"\n    given a[0] = 1\n',
        "levels l\n    a when x do\n",
    ],
)
def test_no_terminal_names_leak_into_messages(text: str) -> None:
    terminals = {t.name for t in parser().terminals} | {"$END", "_INDENT", "_DEDENT"}
    for d in errors(text):
        words = set(d.message.replace(",", " ").replace(";", " ").split())
        assert not words & terminals, d.render()
        assert "colon" not in d.message.lower()
        assert "Token(" not in d.message


def test_unexpected_character() -> None:
    d = one_error("units BTC\nlet a = 2 $ 2\n")
    assert d.render() == dedent(
        """
        t.rules:2:11: error[RL0100]: unexpected character '$'
           2 | let a = 2 $ 2
             |           ^
        """
    ).rstrip("\n")


def test_unclosed_string() -> None:
    d = one_error('units BTC\ninput a: text = "abc\n')
    assert d.render() == dedent(
        """
        t.rules:2:17: error[RL0100]: this string is not closed
           2 | input a: text = "abc
             |                 ^
          = help: end it with `"` on the same line
        """
    ).rstrip("\n")


# ------------------------------------------------------------------ indentation


def test_dedent_to_no_enclosing_block_is_positioned() -> None:
    text = dedent(
        """
        units BTC
        input a: BTC
                label "A"
            description "less deep than the label"
        let b = a
        """
    )
    d = one_error(text)
    assert d.render() == dedent(
        """
        t.rules:4:1: error[RL0101]: this line's indentation does not match any enclosing block
           4 |     description "less deep than the label"
             | ^^^^^
          = help: indent the lines of a block by the same amount (4 spaces is usual)
        """
    ).rstrip("\n")


def test_dedent_error_in_a_header_block() -> None:
    d = one_error('ruleset x\n    label "a"\n   version "1"\n')
    assert (d.code, where(d)) == ("RL0101", (3, 1))


def test_unexpected_indentation_points_at_the_indented_line() -> None:
    text = dedent(
        """
        units BTC
        input a: BTC
            label "A"
                description "too deep"
        let b = a
        """
    )
    d = one_error(text)
    assert d.render() == dedent(
        """
        t.rules:4:9: error[RL0100]: unexpected indentation; expected `description`, `effective`, `label`, `version`, a name, end of block
           4 |         description "too deep"
             |         ^
        """
    ).rstrip("\n")


def test_indented_declaration_after_a_definition() -> None:
    d = one_error("units BTC\nlet a = 1\n    let b = 2\n")
    assert where(d) == (3, 5)
    assert d.message.startswith("unexpected `let`; expected ")


def test_comment_lines_do_not_count_for_indentation() -> None:
    text = 'units BTC\ninput q: BTC\n    label "x"\n\n  # a comment at an odd depth\n    description "y"\nlet a = q\n'
    assert errors(text) == []


# ------------------------------------------------------------------ one run, every block


def test_syntax_errors_in_three_blocks_are_all_reported() -> None:
    text = dedent(
        """
        units BTC, USDT

        input size: BTC >= 0

        let a == size

        let b: BTC = size

        table t BTC
            bands from <= size < to

        let c: BTC = b * 2

        levels risk
            high size > 1 BTC
            otherwise low
        """
    )
    diags = check_text(text)
    assert [(d.code, d.message, where(d)) for d in diags] == [
        ("RL0100", "a definition uses `=`, not `==`", (5, 8)),
        ("RL0100", "a table needs its unit after `:`", (9, 9)),
        ("RL0100", "a level needs `when` and a condition", (15, 10)),
    ]


def test_a_block_that_does_not_parse_causes_no_undefined_names() -> None:
    """The declarations of a broken block are unknown, but their uses must not add errors."""
    text = dedent(
        """
        units BTC USDT
        input q BTC
        input positions: list
            qty BTC
        table t BTC
            bands from <= size < to
        let positions.n: BTC = qty
        let a: BTC = q + sum(positions, n) + progressive(t.mmr, q)
        example "e"
            given q = 1 BTC
        """
    )
    assert [(d.code, where(d)) for d in check_text(text)] == [
        ("RL0100", (1, 11)),
        ("RL0100", (2, 9)),
        ("RL0100", (4, 9)),
        ("RL0100", (5, 9)),
    ]


# ------------------------------------------------------------------ table rows and cells


def test_table_row_without_closing_bar() -> None:
    text = dedent(
        """
        units BTC
        input q: BTC
        table t: BTC
            bands from <= size < to
            | from | to  | mmr  |
            | 0    | inf | 0.5%
        let m: BTC = progressive(t.mmr, q)
        """
    )
    assert render(check_text(text)) == dedent(
        """
        t.rules:6:23: error[RL0102]: a table row must end with `|`
           6 |     | 0    | inf | 0.5%
             |                       ^
          = help: write every row as `| cell | cell |`
        """
    ).rstrip("\n")


def test_unreadable_table_cell_is_reported_once() -> None:
    text = dedent(
        """
        units BTC
        input q: BTC
        table t: BTC
            bands from <= size < to
            | from | to  | mmr |
            | 0    | 50  | 1 % |
            | 5 0  | inf | 2%  |
        let m: BTC = progressive(t.mmr, q)
        """
    )
    assert render(check_text(text)) == dedent(
        """
        t.rules:6:20: error[RL0103]: cannot read table cell `1 %`
           6 |     | 0    | 50  | 1 % |
             |                    ^^^
          = help: a cell holds a number (`50_000`, `50_000 USDT`), a rate (`0.5%`), a leverage (`20x`), `inf`, or a name (`BTCUSDT`)

        t.rules:7:7: error[RL0103]: cannot read table cell `5 0`
           7 |     | 5 0  | inf | 2%  |
             |       ^^^
          = help: a cell holds a number (`50_000`, `50_000 USDT`), a rate (`0.5%`), a leverage (`20x`), `inf`, or a name (`BTCUSDT`)
        """
    ).rstrip("\n")


# ------------------------------------------------------------------ never a raw lark exception

GARBAGE = [
    "",
    "\n\n\n",
    "let",
    "let a",
    "let a = ",
    "((((",
    ")))",
    "| a | b |",
    "    indented at the start",
    "\tlet a = 1",
    "table t: BTC\n",
    "table t: BTC\n    | from | to |\n    | 0 |",
    "levels l\n",
    'example "e"\n    given a = [{x: 1},\n',
    "units BTC\nlet a = 1 BTC / / 2",
    "input a: long | | short",
    "let a = 1\\\n+ 2",
    "let a = 1 \x00",
    "let a = ∞",
    "ruleset\n",
    "import\n",
    '"just a string"',
]


@pytest.mark.parametrize("text", GARBAGE)
def test_malformed_text_gives_diagnostics_not_exceptions(text: str) -> None:
    diags = check_text(text)  # only RulesetError is caught there: any other exception fails the test
    for d in diags:
        assert isinstance(d, Diagnostic)
        assert d.span is not None
        assert d.render().startswith("t.rules:")


@pytest.mark.parametrize("text", [g for g in GARBAGE if errors(g)])
def test_syntax_errors_surface_as_ruleset_error_only(text: str) -> None:
    with pytest.raises(Exception) as info:
        check_file("t.rules", text)
    assert type(info.value) is RulesetError
    assert not isinstance(info.value, lark.exceptions.LarkError)


FRAGMENTS = [
    "units BTC, USDT\n",
    "input q: BTC\n",
    "let a = ",
    "q",
    " + ",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "\n",
    "    ",
    "  ",
    "table t: BTC\n",
    "    bands from <= size < to\n",
    "    | from | to | mmr |\n",
    "    | 0 | inf | 1% |\n",
    "|",
    "levels l\n",
    "    a when q > 1 BTC\n",
    "    otherwise b\n",
    'example "x"\n',
    "    given q = 1 BTC\n",
    "    expect a = 1\n",
    '"',
    "#",
    "==",
    "=",
    ":",
    "1",
    "5%",
    "2x",
    "inf",
    "-",
    "*",
    "if ",
    " then ",
    " else ",
    "sum(",
    "positions",
    ",",
    "where ",
    "input positions: list\n",
    "    qty: BTC\n",
    "let positions.n = qty\n",
    "\\\n",
    "≤",
    "$",
]


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=20).map("".join))
def test_random_text_never_raises_a_raw_exception(text: str) -> None:
    try:
        diags = check_text(text)
    except (lark.exceptions.LarkError, RulesetError) as err:  # pragma: no cover - the failure we look for
        raise AssertionError(f"raw exception {type(err).__name__} for {text!r}") from err
    assert all(d.span is not None for d in diags)
