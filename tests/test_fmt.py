"""rulelang fmt: canonical layout, comments kept, idempotent, and never a change of meaning."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import dedent

from rulelang.fmt import FormatError, format_text
from rulelang.source import Source
from rulelang.syntax import parse_source

ROOT = Path(__file__).resolve().parent.parent


def decls(text: str) -> tuple[object, ...]:
    file, diags = parse_source(Source("t.rules", text))
    assert not diags, "\n".join(d.render() for d in diags)
    return file.decls


def comments(text: str) -> list[str]:
    """The comments of ``text`` (good enough for the texts below: no `#` inside strings or rows)."""
    return [m.group().rstrip() for m in re.finditer(r"#[^\n]*", text)]


def assert_formats(text: str, expected: str) -> None:
    """``text`` formats to ``expected``, which is a fixed point with the same meaning."""
    out = format_text(text, "t.rules")
    assert out == expected
    assert format_text(out, "t.rules") == out
    assert decls(out) == decls(text)


# ------------------------------------------------------------------ within a line


def test_spacing_comes_from_the_tokens() -> None:
    messy = dedent(
        """
        units   BTC,USDT ,  contracts
        input size:BTC>=0
        input side :  long|short
        let x:BTC=a+b*c-(-d)/e
        let y = max( a ,b , where c>=2 , default -1 ) * 2
        let z = positions [ 0 ] . notional+- 5 BTC
        let w = if(a==b)then not(c)else sum( positions ,mark_price*quantity )
        example "spacing"
            expect p [ 2 ] . q = 1_000.50 USDT/BTC within 0.5%
        """
    )
    assert_formats(
        messy,
        dedent(
            """
            units BTC, USDT, contracts
            input size: BTC >= 0
            input side: long | short
            let x: BTC = a + b * c - (-d) / e
            let y = max(a, b, where c >= 2, default -1) * 2
            let z = positions[0].notional + -5 BTC
            let w = if (a == b) then not (c) else sum(positions, mark_price * quantity)
            example "spacing"
                expect p[2].q = 1_000.50 USDT/BTC within 0.5%
            """
        ),
    )


def test_unicode_operators_become_ascii_and_literals_keep_their_spelling() -> None:
    assert_formats(
        "let a: bool = x ≤ 1_000 and y ≥ 0.5% or z ≠ 20x\nlet b = p × q ÷ r\n",
        "let a: bool = x <= 1_000 and y >= 0.5% or z != 20x\nlet b = p * q / r\n",
    )


def test_strings_and_header_metadata_are_verbatim() -> None:
    assert_formats(
        'ruleset r\n  label   "a  =  b"   zh "保证金  率"\n  effective   2024-01-01\n',
        'ruleset r\n    label "a  =  b" zh "保证金  率"\n    effective 2024-01-01\n',
    )


def test_backslash_continuations_are_joined() -> None:
    assert_formats("let a = 1 + \\\n    2  # sum\n", "let a = 1 + 2  # sum\n")


# ------------------------------------------------------------------ blocks and blank lines


def test_blocks_are_indented_four_spaces_per_level() -> None:
    messy = (
        "levels risk\n"
        '  label "Risk"\n'
        "  bad when x > 1 do notify,reduce_only\n"
        '\tlabel "Bad"\n'  # a tab is 8 columns, deeper than 2
        "  otherwise ok\n"
    )
    assert_formats(
        messy,
        dedent(
            """
            levels risk
                label "Risk"
                bad when x > 1 do notify, reduce_only
                    label "Bad"
                otherwise ok
            """
        ),
    )


def test_blank_lines_collapse_none_opens_a_block_and_one_follows_it() -> None:
    messy = '\n\n\nunits BTC\n\n\n\ninput a: BTC\ninput b: BTC\n\n\n    label "B"\nparam p: number = 1\n\n\n'
    assert_formats(
        messy,
        'units BTC\n\ninput a: BTC\ninput b: BTC\n    label "B"\n\nparam p: number = 1\n',
    )


def test_empty_and_comment_only_files() -> None:
    assert format_text("") == ""
    assert format_text("\n \n\t\n") == ""
    assert_formats("   # a\n\n\n# b", "# a\n\n# b\n")


# ------------------------------------------------------------------ comments


def test_comments_are_kept_where_they_belong() -> None:
    messy = dedent(
        """
        # file header
        # second line

        ruleset demo   # the header
          label "Demo"
          # about the version
          version "1"
        # about the units
        units BTC
        let a = 1    # trailing
        levels risk
          bad when a > 1 do notify
              label "Bad"
              # still about bad
          # about ok
          otherwise ok
        # end of file
        """
    )
    expected = dedent(
        """
        # file header
        # second line

        ruleset demo  # the header
            label "Demo"
            # about the version
            version "1"

        # about the units
        units BTC
        let a = 1  # trailing
        levels risk
            bad when a > 1 do notify
                label "Bad"
                # still about bad
            # about ok
            otherwise ok
        # end of file
        """
    )
    assert_formats(messy, expected)
    assert comments(format_text(messy)) == comments(messy)


def test_a_comment_aligned_under_a_trailing_comment_stays_aligned_under_it() -> None:
    messy = dedent(
        """
        let a =    1    # starts here
                        # and goes on
            # a comment of its own
        """
    )
    assert_formats(
        messy,
        dedent(
            """
            let a = 1  # starts here
                       # and goes on
            # a comment of its own
            """
        ),
    )


def test_comments_inside_a_multi_line_list_are_kept() -> None:
    messy = dedent(
        """
        example "e"
          given xs = [  # the list
            # first
            1,  # one
            2   # two
            , 3
            # last
          ]  # done
        """
    )
    expected = dedent(
        """
        example "e"
            given xs = [  # the list
                # first
                1,  # one
                2,  # two
                3,
                # last
            ]  # done
        """
    )
    assert_formats(messy, expected)
    assert comments(format_text(messy)) == comments(messy)


# ------------------------------------------------------------------ brackets across lines


def test_a_multi_line_list_gets_one_record_per_line_and_a_trailing_comma() -> None:
    messy = dedent(
        """
        example "records"
          given positions = [ { symbol: "BTCUSDT", quantity: 1, mark_price: 20_000 USDT/BTC },
                {symbol:"ETHUSDT",quantity:-2,mark_price:1_000 USDT/BTC}]
          given empty = [
          ]
          given short = [1,2,]
        """
    )
    expected = dedent(
        """
        example "records"
            given positions = [
                {symbol: "BTCUSDT", quantity: 1, mark_price: 20_000 USDT/BTC},
                {symbol: "ETHUSDT", quantity: -2, mark_price: 1_000 USDT/BTC},
            ]
            given empty = []
            given short = [1, 2]
        """
    )
    assert_formats(messy, expected)


def test_a_multi_line_formula_keeps_its_line_breaks() -> None:
    messy = "let equity: USDT = (balance\n  + pnl\n      - fees) * 2\nlet m = max(a,\n b)\n"
    expected = dedent(
        """
        let equity: USDT = (
            balance
            + pnl
            - fees
        ) * 2
        let m = max(
            a,
            b
        )
        """
    )
    assert_formats(messy, expected)  # a call takes no trailing comma


def test_nested_multi_line_brackets_nest_their_indentation() -> None:
    messy = 'example "e"\n    given xs = [{a: 1,\n  b: [2,\n 3]}]\n'
    expected = dedent(
        """
        example "e"
            given xs = [
                {
                    a: 1,
                    b: [
                        2,
                        3,
                    ],
                },
            ]
        """
    )
    assert_formats(messy, expected)


# ------------------------------------------------------------------ tables


def test_table_columns_are_aligned_and_separators_rebuilt() -> None:
    messy = dedent(
        """
        table tiers: USDT per symbol
          bands from<=notional<to
          |symbol|from|to|mmr|
          |:-:|-|--|
          | BTCUSDT |0| 50_000 |0.4%|
          |ETHUSDT|50_000|inf|   1.25%   |
        """
    )
    expected = dedent(
        """
        table tiers: USDT per symbol
            bands from <= notional < to
            | symbol  | from   | to     | mmr   |
            |---------|--------|--------|-------|
            | BTCUSDT | 0      | 50_000 | 0.4%  |
            | ETHUSDT | 50_000 | inf    | 1.25% |
        """
    )
    assert_formats(messy, expected)


def test_each_table_is_aligned_on_its_own_and_wide_characters_count_twice() -> None:
    messy = dedent(
        """
        table a: BTC
            bands from <= size < to
            |from|to|名称|
            |0|inf|1%|
        table b: BTC
            bands from <= size < to
            |from|to|rate|
            |0|1_000_000|1%|
        """
    )
    expected = dedent(
        """
        table a: BTC
            bands from <= size < to
            | from | to  | 名称 |
            | 0    | inf | 1%   |

        table b: BTC
            bands from <= size < to
            | from | to        | rate |
            | 0    | 1_000_000 | 1%   |
        """
    )
    assert_formats(messy, expected)


def test_a_comment_after_a_row_is_kept() -> None:
    text = "table a: BTC\n  bands from <= size < to\n  |from|to|mmr|  # the header\n  |0|inf|1%|\n"
    _, diags = parse_source(Source("t.rules", text))
    if any(d.code == "RL0102" for d in diags):
        pytest.skip("this parser does not read comments after a row's closing `|`")
    assert_formats(
        text,
        "table a: BTC\n    bands from <= size < to\n    | from | to  | mmr |  # the header\n    | 0    | inf | 1%  |\n",
    )


# ------------------------------------------------------------------ errors


def test_a_file_that_does_not_parse_is_not_formatted() -> None:
    with pytest.raises(FormatError) as info:
        format_text("units BTC\nlet x = = 1\n", "bad.rules")
    (diag,) = info.value.diagnostics
    assert diag.code == "RL0100"
    assert diag.span is not None
    assert (diag.span.line, diag.span.column) == (2, 9)
    assert str(info.value).startswith("bad.rules:2:9: error[RL0100]: ")


def test_a_broken_table_row_is_not_formatted() -> None:
    with pytest.raises(FormatError) as info:
        format_text("table t: BTC\n    bands from <= size < to\n    | from | to\n", "bad.rules")
    assert [d.code for d in info.value.diagnostics] == ["RL0102"]


# ------------------------------------------------------------------ properties

CANONICAL = dedent(
    """
    # Margin rules for the formatter tests
    ruleset demo
        label "Demo" zh "演示"
        version "1.0.0"

    units BTC, USDT

    input size: BTC >= 0  # the position
    input positions: list
        quantity: BTC >= 0
        mark_price: USDT/BTC >= 0

    param line: percent = 80%

    table tiers: BTC
        bands from <= size < to
        | from | to  | mmr  |
        |------|-----|------|
        | 0    | 50  | 0.5% |
        | 50   | inf | 1%   |

    # the requirement
    let margin: BTC = progressive(tiers.mmr, size) * 2 - -size / 4
    let positions.notional: USDT = abs(quantity) * mark_price
    let total: USDT = sum(positions, notional, where quantity > 0 BTC)
    let ok: bool = not (margin >= 1 BTC) and total != 0 USDT

    levels risk
        bad when margin > 10 BTC do notify
            label "Bad"
        otherwise fine

    example "two positions"
        given size = 10 BTC
        given positions = [
            {quantity: 1 BTC, mark_price: 20_000 USDT/BTC},
            {quantity: 2 BTC, mark_price: 10_000 USDT/BTC},
        ]
        expect positions[1].notional = 20_000 USDT
        expect margin = 0.1 BTC within 0.01%
    """
)


def _reindent(unit: str) -> Callable[[str], str]:
    def apply(text: str) -> str:
        return re.sub(r"^((?:    )+)", lambda m: unit * (len(m.group(1)) // 4), text, flags=re.MULTILINE)

    return apply


def _rows(text: str, cells: Callable[[str], str]) -> str:
    """Rewrite the part of each table row after its indentation."""
    return re.sub(r"^([ \t]*)(\|.*)$", lambda m: m.group(1) + cells(m.group(2)), text, flags=re.MULTILINE)


def _squeeze(text: str) -> str:
    """Drop the optional spaces: around operators, after commas and colons, inside rows."""
    for spaced in [" = ", " >= ", " <= ", " > ", " != ", " * ", " / ", " - ", ", ", ": "]:
        text = text.replace(spaced, spaced.strip())
    return _rows(text, lambda row: re.sub(r" *\| *", "|", row))


def _spread(text: str) -> str:
    """Add spaces everywhere a token boundary allows them."""
    for tight in ["(", ")", "[", "]", "{", "}", ",", ".mmr"]:
        text = text.replace(tight, f"  {tight}  ")
    return _rows(text.replace(" = ", "   =   "), lambda row: row.replace("|", "|   ") + "   ")


def _unicode(text: str) -> str:
    return text.replace(" * ", " × ").replace(" / ", " ÷ ").replace(" >= ", " ≥ ").replace(" != ", " ≠ ")


def _explode_list_differently(text: str) -> str:
    return text.replace("[\n        {", "[ {").replace("},\n    ]", "} ,]")


MESSY_VARIANTS: dict[str, Callable[[str], str]] = {
    "two-space indent": _reindent("  "),
    "tab indent": _reindent("\t"),
    "deep indent": _reindent("       "),
    "crlf": lambda t: t.replace("\n", "\r\n"),
    "no final newline": lambda t: t.rstrip("\n"),
    "trailing spaces": lambda t: t.replace("\n", "   \n"),
    "extra blank lines": lambda t: "\n\n" + t.replace("\n\n", "\n\n\n\n") + "\n\n",
    "squeezed": _squeeze,
    "spread": _spread,
    "unicode operators": _unicode,
    "list opened on the first record": _explode_list_differently,
    "everything at once": lambda t: _reindent("\t")(_unicode(_spread(t))).replace("\n\n", "\n\n\n"),
}


@pytest.mark.parametrize("variant", MESSY_VARIANTS.values(), ids=MESSY_VARIANTS.keys())
def test_messy_variants_format_to_the_canonical_text(variant: Callable[[str], str]) -> None:
    messy = variant(CANONICAL)
    assert messy != CANONICAL
    assert decls(messy) == decls(CANONICAL)  # the variant itself only changes layout
    assert format_text(messy, "t.rules") == CANONICAL


def test_the_canonical_text_is_a_fixed_point() -> None:
    assert format_text(CANONICAL) == CANONICAL


def _rule_files() -> list[Path]:
    found = sorted((ROOT / "rulesets").glob("**/*.rules"))
    found += sorted((ROOT / "tests" / "corpus" / "good").glob("**/*.rules"))
    return found


@pytest.mark.parametrize(
    "path",
    _rule_files() or [pytest.param(None, marks=pytest.mark.skip(reason="no rule files yet"))],
    ids=lambda p: str(p.relative_to(ROOT)) if isinstance(p, Path) else "none",
)
def test_rule_files_format_idempotently_and_keep_their_meaning(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    file, diags = parse_source(Source(str(path), text))
    if diags:
        pytest.skip(f"{path.name} does not parse yet: {diags[0].render()}")
    out = format_text(text, str(path))
    assert format_text(out, str(path)) == out
    assert parse_source(Source(str(path), out))[0].decls == file.decls
    # format_text itself fails if a comment went missing; the text above was checked that way
