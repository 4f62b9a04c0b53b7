"""Syntax highlighting of rule files: a Pygments lexer, registered as a Pygments plugin.

Input: rule-file text. Output: Pygments tokens. The package declares the
``pygments.lexers`` entry point, so once rulelang is installed any Pygments
user (``pygmentize -l rules``, MkDocs' and Sphinx's code blocks marked
``rules``) highlights rule files; :func:`highlight_html` is what the docs
renderer uses.
"""

from __future__ import annotations

from typing import ClassVar

# Pygments ships no type information (types-Pygments is not a dependency): its names are Any here
from pygments import highlight  # type: ignore[import-untyped]
from pygments.formatters import HtmlFormatter  # type: ignore[import-untyped]
from pygments.lexer import RegexLexer, bygroups, words  # type: ignore[import-untyped]
from pygments.token import (  # type: ignore[import-untyped]
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Text,
    Whitespace,
)

#: Words that start a declaration at column 0.
DECLARATIONS = (
    "ruleset",
    "import",
    "units",
    "action",
    "input",
    "param",
    "profile",
    "table",
    "let",
    "solve",
    "levels",
    "example",
)
#: Words of the indented lines under a declaration.
SUBWORDS = (
    "label",
    "description",
    "version",
    "effective",
    "bands",
    "vary",
    "until",
    "tick",
    "given",
    "expect",
    "within",
    "when",
    "do",
    "otherwise",
    "per",
)
EXPRESSION_WORDS = ("if", "then", "else", "and", "or", "not", "where", "default")
TYPES = ("number", "percent", "leverage", "bool", "text", "list")
FUNCTIONS = (
    "abs",
    "min",
    "max",
    "round",
    "sum",
    "count",
    "any",
    "all",
    "known",
    "progressive",
    "bracket",
    "step",
    "lookup",
    "cum",
    "tier",
)
ACTIONS = ("notify", "restrict_new_orders", "reduce_only", "partial_liquidation", "full_liquidation")
ROUNDING = ("half_up", "half_even", "down", "up", "floor", "ceiling")

_END = r"(?![\w])"


class RulelangLexer(RegexLexer):  # type: ignore[misc]  # RegexLexer is Any to mypy (no stubs)
    """Lexer for rulelang rule files (``*.rules``)."""

    name = "rulelang"
    aliases: ClassVar[list[str]] = ["rules", "rulelang"]
    filenames: ClassVar[list[str]] = ["*.rules"]
    mimetypes: ClassVar[list[str]] = ["text/x-rulelang"]
    url = "https://pypi.org/project/rulelang/"

    tokens: ClassVar[dict[str, list]] = {  # type: ignore[type-arg]  # pygments' token table is untyped
        "root": [
            # a table row: a line whose first character is a bar
            (r"^([ \t]*)(\|)", bygroups(Whitespace, Punctuation), "row"),
            (r"\n", Whitespace),
            (r"[ \t\f]+", Whitespace),
            (r"\\\n", Text),
            (r"#[^\n]*", Comment.Single),
            (words(DECLARATIONS, prefix=r"^", suffix=_END), Keyword.Declaration),
            (words(SUBWORDS, suffix=_END), Keyword),
            (words(EXPRESSION_WORDS, suffix=_END), Operator.Word),
            (words(("true", "false", "inf"), suffix=_END), Keyword.Constant),
            (r"∞", Keyword.Constant),
            (words(TYPES, suffix=_END), Keyword.Type),
            (words(FUNCTIONS, suffix=r"(?=\s*\()"), Name.Builtin),
            (words(ACTIONS + ROUNDING, suffix=_END), Name.Builtin.Pseudo),
            (r"\d{4}-\d{2}-\d{2}", Number.Other),
            (r"\d[\d_]*(\.\d[\d_]*)?%", Number.Float),
            (r"\d[\d_]*(\.\d[\d_]*)?x(?![\w])", Number.Float),
            (r"\d[\d_]*(\.\d[\d_]*)?([eE][-+]?\d+)?", Number),
            (r"([a-z]{2}(?:-[A-Za-z]{2,4})?)([ \t]*)(?=\")", bygroups(Name.Attribute, Whitespace)),
            (r'"([^"\\\n]|\\.)*"', String.Double),
            (r"<=|>=|==|!=|[<>≤≥≠]", Operator),
            (r"[-+*/−×÷=]", Operator),
            (r"[()\[\]{},.:|]", Punctuation),
            (r"[^\W\d]\w*", Name),
            (r".", Text),
        ],
        "row": [
            (r"\|", Punctuation),
            (r"[ \t]+", Whitespace),
            (r"(?=\n)", Text, "#pop"),
            (r"#[^\n]*", Comment.Single, "#pop"),
            (r"-{2,}", Punctuation),
            (r"inf(?![\w])|∞", Keyword.Constant),
            (r"\d[\d_]*(\.\d[\d_]*)?[%x]?", Number),
            (r'"([^"\\\n]|\\.)*"', String.Double),
            (r"[^|\s#]+", Name),
        ],
    }


#: Style of the highlighted snippets in generated pages: readable in print and on a phone.
STYLE = "friendly"


def highlight_html(source: str) -> str:
    """``source`` as highlighted HTML (a ``<div class="highlight"><pre>``)."""
    out: str = highlight(source, RulelangLexer(), HtmlFormatter(cssclass="highlight", style=STYLE))
    return out


def stylesheet() -> str:
    """The CSS the highlighted snippets need, scoped to ``.highlight``."""
    css: str = HtmlFormatter(style=STYLE).get_style_defs(".highlight")
    return css
