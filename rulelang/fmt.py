"""Lay out rule text canonically (``rulelang fmt``).

Input: the text of one rule file. Output: the same file in its canonical
layout: 4 spaces per block level, one space between tokens except where a
token hugs its neighbour (``f(x)``, ``a.b``, ``-x``, ``x: T``), ASCII operators,
table columns aligned, blank-line runs collapsed to one, every comment kept.

The layout is rebuilt from the parser's own tokens (the contextual lexer and
the indenter, so every token has the type the parser gave it); comments and
blank lines are read back from the text between tokens, where only whitespace
and comments can be. A bracket whose contents span lines stays exploded: one
item per line, one level deeper, a trailing comma in lists and records, the
closing bracket on its own line. Formatting is idempotent and never changes
meaning: the result is parsed again and must give equal nodes and the same
comments, or formatting fails loudly rather than write a different program.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Sequence

import attrs
from lark import Token

from rulelang.errors import Diagnostic, RulesetError
from rulelang.source import Source
from rulelang.syntax import parse_source
from rulelang.syntax.parser import RuleIndenter, parser

__all__ = ["FormatError", "format_text"]

INDENT = "    "

_ASCII_OPS = {"≤": "<=", "≥": ">=", "≠": "!=", "×": "*", "÷": "/", "−": "-"}
_LAYOUT = {"_NL", "_INDENT", "_DEDENT", "$END"}
_CLOSE = {"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE"}
_NO_SPACE_BEFORE = {"COMMA", "COLON", "DOT", "RPAR", "RSQB", "RBRACE"}
_NO_SPACE_AFTER = {"LPAR", "LSQB", "LBRACE", "DOT", "MINUS"}
_SEPARATOR_CHARS = set("|-:+ \t")  # what the builder reads as a Markdown separator line


class FormatError(RulesetError):
    """The text has syntax errors, so it is left alone; ``diagnostics`` says where."""


# ------------------------------------------------------------------ reading


@attrs.frozen
class _Comment:
    """A comment on a line of its own, at ``column`` (tabs count as the indenter counts them).

    ``continues`` marks a comment aligned under the trailing comment of the line above
    (``x = 1  # starts here`` / ``#  and goes on``): it stays aligned under it.
    """

    column: int
    text: str
    continues: bool = False


@attrs.frozen
class _Gap:
    """What lies between two tokens: whitespace, line breaks and comments only.

    ``trailing`` ends the line of the token before; ``lead`` holds the lines
    that follow, in order: a :class:`_Comment`, or ``None`` for a blank line.
    """

    trailing: str | None
    lead: tuple[_Comment | None, ...]
    newline: bool


@attrs.frozen
class _Tok:
    """A significant token: its parser type, canonical spelling, and the gap before it.

    ``comment`` is a comment the token swallowed: a table row runs to the end of its line.
    """

    type: str
    text: str
    before: _Gap
    comment: str | None = None


@attrs.frozen
class _Stmt:
    """One logical line: its block depth, its original indentation and its tokens."""

    depth: int
    column: int
    toks: tuple[_Tok, ...]


def _width_of_indent(ws: str) -> int:
    return ws.count(" ") + ws.count("\t") * RuleIndenter.tab_len


def _display_column(prefix: str) -> int:
    """The column at which text after ``prefix`` shows (wide characters count twice)."""
    return _display_width(prefix.expandtabs(RuleIndenter.tab_len))


def _scan_gap(gap: str, prefix: str = "") -> _Gap:
    """Read the comments and line breaks of ``gap``, the text between two tokens.

    ``prefix`` is the text of the gap's first line before the gap, to tell where a
    trailing comment stands.
    """
    trailing = None
    aligned: int | None = None  # the column a continuing comment would stand at
    lead: list[_Comment | None] = []
    newline = False
    lines = gap.split("\n")
    for k, raw in enumerate(lines[:-1]):
        line = raw.rstrip("\r")
        body = line.strip(" \t\f")
        if body == "\\":
            continue  # a line continuation: the break does not count
        newline = True
        indent = line[: len(line) - len(line.lstrip(" \t\f"))]
        if body.startswith("#") and k == 0:
            trailing = body.rstrip()
            aligned = _display_column(prefix + indent)
        elif body.startswith("#"):
            continues = aligned is not None and _display_column(indent) == aligned
            lead.append(_Comment(_width_of_indent(indent), body.rstrip(), continues))
            aligned = aligned if continues else None
        elif k > 0:
            lead.append(None)
            aligned = None
    return _Gap(trailing=trailing, lead=tuple(lead), newline=newline)


def _spelling(tok: Token) -> str:
    text = str(tok)
    return _ASCII_OPS.get(text, text) if tok.type in {"COMP_OP", "MUL_OP"} else text


def _split_row(row: str) -> tuple[str, str | None]:
    """Split a table row from the comment after its closing ``|``, as the builder does."""
    text = row.rstrip()
    last = text.rfind("|")
    rest = text[last + 1 :].lstrip()
    if last > 0 and rest.startswith("#"):
        return text[: last + 1], rest
    return text, None


def _read(text: str) -> tuple[list[_Stmt], _Gap]:
    """Split parsed ``text`` into logical lines; also return the gap after the last token."""
    stmts: list[_Stmt] = []
    current: list[_Tok] = []
    depth = 0
    start_depth = 0
    column = 0
    prev_end: int | None = None
    for tok in _tokens(text):
        if tok.type in _LAYOUT:
            if tok.type == "_NL" and current:
                stmts.append(_Stmt(depth=start_depth, column=column, toks=tuple(current)))
                current = []
            depth += {"_INDENT": 1, "_DEDENT": -1}.get(tok.type, 0)
            continue
        assert tok.start_pos is not None and tok.end_pos is not None
        # the first gap is read as if a line ended just before the file
        if prev_end is None:
            gap = _scan_gap("\n" + text[: tok.start_pos])
        else:
            gap = _scan_gap(text[prev_end : tok.start_pos], _line_before(text, prev_end))
        if not current:
            start_depth = depth
            line_start = text.rfind("\n", 0, tok.start_pos) + 1
            column = _width_of_indent(text[line_start : tok.start_pos])
        spelling, comment = _split_row(str(tok)) if tok.type == "ROW" else (_spelling(tok), None)
        current.append(_Tok(type=tok.type, text=spelling, before=gap, comment=comment))
        prev_end = tok.end_pos
    if current:
        stmts.append(_Stmt(depth=start_depth, column=column, toks=tuple(current)))
    if prev_end is None:
        return stmts, _scan_gap("\n" + text)
    return stmts, _scan_gap(text[prev_end:], _line_before(text, prev_end))


def _line_before(text: str, offset: int) -> str:
    """The text of ``offset``'s line before it."""
    return text[text.rfind("\n", 0, offset) + 1 : offset]


def _tokens(text: str) -> Iterator[Token]:
    """Yield the tokens the parser reads (after the indenter), comments and spaces left out."""
    return parser().parse_interactive(text, start="file").iter_parse()


# ------------------------------------------------------------------ tables


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _display_width(text))


def _cells(row: str) -> list[str] | None:
    """Split a row as the builder does; ``None`` for a separator line."""
    text = row.rstrip()
    if set(text) <= _SEPARATOR_CHARS:
        return None
    return [part.strip() for part in text[1:-1].split("|")]


def _align_rows(rows: Sequence[str]) -> list[str]:
    """Pad every cell to its column's width and rebuild separator lines as dashes.

    Cells are left-aligned, as the shipped rulesets and the language reference write them.
    """
    split = [_cells(r) for r in rows]
    widths: list[int] = []
    for cells in split:
        for i, cell in enumerate(cells or []):
            if i == len(widths):
                widths.append(1)
            widths[i] = max(widths[i], _display_width(cell))
    out = []
    for cells in split:
        if cells is None:
            out.append("|" + "|".join("-" * (w + 2) for w in widths or [1]) + "|")
        else:
            out.append("| " + " | ".join(_pad(cell, widths[j]) for j, cell in enumerate(cells)) + " |")
    return out


def _align_tables(stmts: list[_Stmt]) -> list[_Stmt]:
    """Replace each table row by its aligned text; a table is the block under one ``table``."""
    tables: dict[int, list[int]] = {}
    table = -1
    for i, stmt in enumerate(stmts):
        if stmt.depth == 0:
            table = i
        elif stmt.toks[0].type == "ROW":
            tables.setdefault(table, []).append(i)
    out = list(stmts)
    for members in tables.values():
        aligned = _align_rows([stmts[i].toks[0].text for i in members])
        for i, text in zip(members, aligned, strict=True):
            row = attrs.evolve(stmts[i].toks[0], text=text)
            out[i] = attrs.evolve(stmts[i], toks=(row, *stmts[i].toks[1:]))
    return out


# ------------------------------------------------------------------ writing


class _Writer:
    """Collect output lines; spacing inside a line follows the token types."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 0
        self._parts: list[str] = []
        self._prev: str | None = None
        self._comment: str | None = None
        self._late: list[str] = []
        self._aligned: int | None = None  # the column of the trailing comment just written

    def start(self, depth: int) -> None:
        """End the current line; the next token starts a line at ``depth``."""
        self.flush()
        self.depth = depth

    def token(self, type_: str, text: str) -> None:
        if self._parts and _spaced(self._prev, type_):
            self._parts.append(" ")
        self._parts.append(text)
        self._prev = type_

    def comment(self, text: str) -> None:
        """Put a comment at the end of the current line (a second one follows on its own line)."""
        if self._comment is None:
            self._comment = text
        else:
            self._late.append(text)

    def comment_line(self, depth: int, comment: _Comment) -> None:
        """Write a comment on its own line, under the trailing comment above if it continues it."""
        self.flush()
        if comment.continues and self._aligned is not None:
            self.lines.append(" " * self._aligned + comment.text)
        else:
            self.lines.append(INDENT * depth + comment.text)
            self._aligned = None

    def blank(self) -> None:
        self.flush()
        if self.lines and self.lines[-1]:
            self.lines.append("")
        self._aligned = None

    def flush(self) -> None:
        if not self._parts:
            return
        line = INDENT * self.depth + "".join(self._parts)
        if self._comment:
            line += "  "
        self._aligned = _display_column(line) if self._comment and not self._late else None
        self.lines.append(line + (self._comment or ""))
        self.lines.extend(INDENT * self.depth + c for c in self._late)
        self._parts, self._prev, self._comment, self._late = [], None, None, []

    def text(self) -> str:
        self.flush()
        while self.lines and not self.lines[-1]:
            self.lines.pop()
        return "".join(line + "\n" for line in self.lines)


def _spaced(prev: str | None, cur: str) -> bool:
    """Whether one space separates two tokens on a line."""
    if prev is None or cur in _NO_SPACE_BEFORE or prev in _NO_SPACE_AFTER:
        return False
    return not (cur in {"LPAR", "LSQB"} and prev == "NAME")  # a call or an index


def _matches(toks: Sequence[_Tok]) -> dict[int, int]:
    """Map each opening bracket's index to its closing bracket's index."""
    out: dict[int, int] = {}
    stack: list[int] = []
    for i, tok in enumerate(toks):
        if tok.type in _CLOSE:
            stack.append(i)
        elif tok.type in _CLOSE.values():
            out[stack.pop()] = i
    return out


class _Statement:
    """Write one logical line, exploding the brackets whose contents span lines."""

    def __init__(self, w: _Writer, toks: Sequence[_Tok]) -> None:
        self.w = w
        self.toks = toks
        self.match = _matches(toks)

    def write(self, start: int, end: int) -> None:
        """Write ``toks[start:end]`` from the current position of the current line."""
        k = start
        while k < end:
            tok = self.toks[k]
            if k > start and tok.before.trailing:
                self.w.comment(tok.before.trailing)
            if tok.type in _CLOSE:
                close = self.match[k]
                if self._spans_lines(k, close):
                    self._exploded(k, close)
                else:
                    self._inline(k, close)
                k = close + 1
            else:
                self.w.token(tok.type, tok.text)
                if tok.comment:
                    self.w.comment(tok.comment)
                k += 1

    def _spans_lines(self, open_: int, close: int) -> bool:
        """Whether a bracket stays exploded: its contents span lines (``[`` newline ``]`` does not)."""
        inside = self.toks[open_ + 1 : close + 1]
        if close == open_ + 1:
            gap = inside[0].before
            return gap.trailing is not None or any(item is not None for item in gap.lead)
        return any(t.before.newline for t in inside)

    def _inline(self, open_: int, close: int) -> None:
        for k in range(open_, close + 1):
            tok = self.toks[k]
            if tok.type == "COMMA" and k + 1 == close:
                continue  # `[a, b,]` on one line: the trailing comma goes
            self.w.token(tok.type, tok.text)

    def _exploded(self, open_: int, close: int) -> None:
        w, toks = self.w, self.toks
        outer = w.depth
        opener = toks[open_]
        w.token(opener.type, opener.text)
        is_call = opener.type == "LPAR" and open_ > 0 and toks[open_ - 1].type == "NAME"
        is_index = opener.type == "LSQB" and open_ > 0 and toks[open_ - 1].type == "NAME"
        commas = opener.type == "LBRACE" or (opener.type == "LSQB" and not is_index)
        k = open_ + 1
        first = True
        after_comma = False
        while k < close:
            tok = toks[k]
            if tok.before.trailing:
                w.comment(tok.before.trailing)
            if tok.type == "COMMA":
                w.token(tok.type, tok.text)
                after_comma = True
                k += 1
                continue
            if first or after_comma or tok.before.newline:
                self._lead(tok.before.lead, outer + 1, blanks=not first)
                w.start(outer + 1)
            first = after_comma = False
            end = self.match[k] + 1 if tok.type in _CLOSE else k + 1
            self.write(k, end)
            k = end
        closer = toks[close]
        if closer.before.trailing:
            w.comment(closer.before.trailing)
        if commas and not first and toks[close - 1].type != "COMMA" and not is_call:
            w.token("COMMA", ",")
        self._lead(closer.before.lead, outer + 1, blanks=False)
        w.start(outer)
        w.token(closer.type, closer.text)

    def _lead(self, lead: Sequence[_Comment | None], depth: int, blanks: bool) -> None:
        for item in lead:
            if item is not None:
                self.w.comment_line(depth, item)
            elif blanks:
                self.w.blank()


def _comment_depth(column: int, levels: Sequence[int]) -> int:
    """The deepest open block whose indentation is at most ``column``."""
    return max((d for d, col in enumerate(levels) if col <= column), default=0)


def _between(
    lead: Sequence[_Comment | None], levels: Sequence[int], separate: bool
) -> list[tuple[int, _Comment] | None]:
    """Give each comment between two statements its depth.

    ``separate`` asks for a blank line between a declaration's block and what follows it at
    the top level (the next declaration, with the comments directly above it).
    """
    placed: list[tuple[int, _Comment] | None] = [
        None if item is None else (_comment_depth(item.column, levels), item) for item in lead
    ]
    if separate:
        starts = (i for i, p in enumerate(placed) if p is not None and p[0] == 0 and not p[1].continues)
        i = next(starts, len(placed))
        if i == 0 or placed[i - 1] is not None:
            placed.insert(i, None)
    return placed


def _without_leading_blanks(lead: Sequence[_Comment | None]) -> Sequence[_Comment | None]:
    first = next((i for i, item in enumerate(lead) if item is not None), len(lead))
    return lead[first:]


def _layout(stmts: Sequence[_Stmt], tail: _Gap) -> str:
    w = _Writer()
    stack: list[int] = []  # the original indentation of each open block level
    in_block = False  # whether the last statement was inside a block
    for stmt in stmts:
        gap = stmt.toks[0].before
        if gap.trailing:
            w.comment(gap.trailing)
        opens = len(stack) == stmt.depth > 0  # the first line of a block: no blank line above it
        levels = [*stack, stmt.column] if opens else stack
        lead = _without_leading_blanks(gap.lead) if opens else gap.lead
        separate = stmt.depth == 0 and in_block  # a blank line after a declaration with a block
        for item in _between(lead, levels, separate):
            if item is None:
                w.blank()
            else:
                w.comment_line(*item)
        stack = [*stack[: stmt.depth], stmt.column]
        in_block = stmt.depth > 0
        w.start(stmt.depth)
        _Statement(w, stmt.toks).write(0, len(stmt.toks))
    if tail.trailing:
        w.comment(tail.trailing)
    for item in _between(tail.lead, stack or [0], separate=False):
        if item is None:
            w.blank()
        else:
            w.comment_line(*item)
    return w.text()


# ------------------------------------------------------------------ entry point


def _comments(stmts: Sequence[_Stmt], tail: _Gap) -> list[str]:
    """Every comment, in order: formatting must keep them all."""
    out: list[str] = []
    for gap, swallowed in [(t.before, t.comment) for s in stmts for t in s.toks] + [(tail, None)]:
        out.extend([gap.trailing] if gap.trailing else [])
        out.extend(item.text for item in gap.lead if item is not None)
        out.extend([swallowed] if swallowed else [])
    return out


def _syntax_errors(text: str, path: str) -> tuple[object, list[Diagnostic]]:
    file, diags = parse_source(Source(path, text))
    return file.decls, [d for d in diags if d.is_error]


def format_text(text: str, path: str = "<text>") -> str:
    """Return ``text`` in the canonical layout.

    Args:
        text: the contents of one rule file.
        path: the file's name, used in diagnostics.

    Returns:
        The formatted text (empty, or ending with exactly one newline).

    Raises:
        FormatError: the text has syntax errors; nothing is formatted.
        RuntimeError: the result would mean something else or lose a comment (a formatter bug).
    """
    decls, errors = _syntax_errors(text, path)
    if errors:
        raise FormatError(errors)
    stmts, tail = _read(text if text.endswith("\n") else text + "\n")
    out = _layout(_align_tables(stmts), tail)
    new_decls, new_errors = _syntax_errors(out, path)
    if new_errors or new_decls != decls or _comments(*_read(out)) != _comments(stmts, tail):
        raise RuntimeError(f"rulelang fmt would change the meaning or comments of {path}; please report this")
    return out
