"""Friendly syntax errors: a catalogue of malformed snippets, matched by lark.

Each entry pairs a message and a hint with short snippets that fail the same
way; the parser finds the entry whose snippets fail in the same LALR state
as the user's text (as :meth:`lark.UnexpectedInput.match_examples` does, but at
any depth: see ``rulelang.syntax.parser._match_catalogue``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

CATALOGUE: dict[tuple[str, str | None], list[str]] = {
    (
        "a definition uses `=`, not `==`",
        "write `let name = expression`; `==` compares two values",
    ): ["let a == 1\n", "param p: USDT == 1 USDT\n"],
    (
        "`if` needs `then` and `else`",
        "write `if condition then value else other`",
    ): ["let a = if b > 1 c\n", "let a = if b > 1 then c\n", "let a = if b then c d\n"],
    (
        "a type is expected after `:`",
        "write a unit (`USDT`, `USDT/BTC`), `number`, `percent`, `leverage`, `bool`, `text`, "
        "`list`, or an enumeration such as `long | short`",
    ): ["input a:\n", "input a: = 1\n", "param a: = 1\n", "input a: 5\n"],
    (
        "a line at the left margin must start a declaration",
        "top-level lines start with `ruleset`, `units`, `input`, `param`, `profile`, `table`, "
        "`let`, `levels`, `action`, `example` or `import`",
    ): ["foo\n", "a = 1\n", "define a = 1\n", "5\n", "\nfoo\n", "\n5\n"],
    (
        "an expression is missing",
        "write a value, a name or a formula here",
    ): ["let a =\n", "let a = 1 +\n", "let a = 1 * / 2\n", "let a = min(1,)\n"],
    (
        "a bracket is not closed: `(`, `[` or `{` lacks its `)`, `]` or `}`",
        "inside brackets a formula may continue on the next lines, but it must be closed before the next declaration",
    ): [
        "let a = (1 + 2\n",
        "let a = min(1, 2\n",
        'example "e"\n    given p = [{a: 1}\n',
        'example "e"\n    given p = [{a: 1},\n',
    ],
    (
        "a level needs `when` and a condition",
        "write `name when condition do action`, and end the ladder with `otherwise name`",
    ): ["levels l\n    warn x < 1\n", "levels l\n    warn\n"],
    (
        "`otherwise` must be the last line of a ladder",
        "move the levels that follow `otherwise` above it",
    ): [
        "levels l\n    a when b\n    otherwise c\n    d when e\n",
        'levels l\n    a when b\n    otherwise c\n        label "C"\n    d when e\n',
    ],
    (
        "a table needs its unit after `:`",
        "write `table name: USDT` (the unit of the size its bands are keyed by)",
    ): ["table t\n    | from | to |\n", "table t:\n"],
    (
        "two values are written next to each other without an operator",
        "put `+`, `-`, `*` or `/` between them",
    ): ["let a = 1 2\n", "let a = b c\n", "let a = (b) 2\n"],
}


_NAMES = {
    "_NL": "end of line",
    "_INDENT": "an indented block",
    "_DEDENT": "end of block",
    "NAME": "a name",
    "NUMBER": "a number",
    "PERCENT": "a percentage",
    "LEVERAGE": "a leverage",
    "STRING": "a string",
    "COMP_OP": "a comparison",
    "ADD_OP": "`+` or `-`",
    "MUL_OP": "`*` or `/`",
    "COMPOUND_UNIT": "a unit",
    "DATE": "a date (YYYY-MM-DD)",
    "ROW": "a table row",
    "LANG": "a language code",
    "INT": "a whole number",
    "$END": "end of file",
}


def describe_expected(terminals: Iterable[str], literal: Callable[[str], str | None]) -> str:
    """Say in words which tokens the parser would have accepted.

    ``literal`` maps a terminal's name to its fixed text (``COLON`` to ``:``,
    ``IF`` to ``if``), or None for a pattern.
    """
    words: list[str] = []
    for t in sorted(set(terminals)):
        fixed = literal(t)
        if t in _NAMES:
            words.append(_NAMES[t])
        elif fixed is not None:
            words.append(f"`{fixed}`")
        else:
            words.append(t.lower())
    unique = sorted(set(words))
    if len(unique) > 8:
        unique = [*unique[:8], "..."]
    return ", ".join(unique) if unique else "something else"
