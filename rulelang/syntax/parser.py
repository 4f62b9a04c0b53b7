"""Parse rule text into :class:`rulelang.nodes.File`.

Input: a :class:`~rulelang.source.Source`. Output: the file's nodes and a list
of syntax diagnostics. When the file does not parse, each top-level block (a
line at column 0 and the indented lines below it) is parsed on its own, so one
run reports the syntax errors of every block, not only the first.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Any, ClassVar

import lark
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.indenter import DedentError, Indenter

from rulelang import nodes as n
from rulelang.errors import Diagnostic
from rulelang.source import Source, Span
from rulelang.syntax.builder import Builder, literal_value, percent_value
from rulelang.syntax.catalogue import CATALOGUE, describe_expected


class RuleIndenter(Indenter):
    """Turn leading whitespace into INDENT/DEDENT tokens, as Python does."""

    NL_type = "_NL"
    OPEN_PAREN_types: ClassVar[list[str]] = ["LPAR", "LSQB", "LBRACE"]
    CLOSE_PAREN_types: ClassVar[list[str]] = ["RPAR", "RSQB", "RBRACE"]
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8


def grammar_text() -> str:
    return resources.files("rulelang.syntax").joinpath("rules.lark").read_text(encoding="utf-8")


@functools.cache
def parser(strict: bool = False) -> lark.Lark:
    """Return the LALR parser (built once per process)."""
    return lark.Lark(
        grammar_text(),
        parser="lalr",
        postlex=RuleIndenter(),
        start=["file", "cell"],
        propagate_positions=True,
        maybe_placeholders=False,
        strict=strict,
        cache=False,
    )


_TOP_LEVEL = re.compile(r"^(?=\S)(?!#)", re.MULTILINE)


def _blocks(text: str) -> list[tuple[int, int]]:
    """Split ``text`` into top-level blocks: ``(start, end)`` offsets."""
    starts = [m.start() for m in _TOP_LEVEL.finditer(text)]
    if not starts or starts[0] > 0:
        starts.insert(0, 0)  # indented lines before the first declaration must not be skipped
    return [(s, starts[i + 1] if i + 1 < len(starts) else len(text)) for i, s in enumerate(starts)]


def _masked(text: str, start: int, end: int) -> str:
    """Keep only ``text[start:end]``, blanking the rest so offsets stay true."""
    before = "".join(c if c == "\n" else " " for c in text[:start])
    body = text[start:end]
    return before + body + ("" if body.endswith("\n") else "\n")


def _syntax_diagnostic(source: Source, err: Exception, text: str) -> Diagnostic:
    """Turn a lark error into a positioned, friendly diagnostic."""
    if isinstance(err, DedentError):
        # lark gives no position; find the first line whose indentation matches no enclosing block
        return Diagnostic(
            code="RL0101",
            message="this line's indentation does not match any enclosing block",
            span=_bad_dedent_span(source, text),
            hint="indent the lines of a block by the same amount (4 spaces is usual)",
        )
    assert isinstance(err, UnexpectedInput)
    pos = err.pos_in_stream if err.pos_in_stream is not None else len(text)
    if isinstance(err, UnexpectedToken) and err.token.type == "$END":
        pos = len(text.rstrip())
    if isinstance(err, UnexpectedToken) and err.token.type in {"_INDENT", "_DEDENT"}:
        # the token borrows the newline's position; point at the start of the line it (de)indents
        pos = err.token.end_pos if err.token.end_pos is not None else pos
    pos = min(pos, len(source.text))
    length = 1
    if (
        isinstance(err, UnexpectedToken)
        and err.token.end_pos is not None
        and err.token.type not in {"_NL", "_DEDENT", "_INDENT", "$END"}
    ):
        length = max(1, err.token.end_pos - pos)
    span = Span(source, pos, min(pos + length, len(source.text)))
    if isinstance(err, UnexpectedCharacters):
        # no catalogue here: the parser state says what came before, not what this character is
        ch = text[pos] if pos < len(text) else "end of file"
        if ch == '"':
            return Diagnostic(
                code="RL0100",
                message="this string is not closed",
                span=span,
                hint='end it with `"` on the same line',
            )
        return Diagnostic(code="RL0100", message=f"unexpected character {ch!r}", span=span)
    label = _match_catalogue(err)
    if label is not None:
        message, hint = label
        return Diagnostic(code="RL0100", message=message, span=span, hint=hint)
    if isinstance(err, UnexpectedToken):
        found = _describe_token(err.token)
        expected = describe_expected(err.accepts or err.expected, _terminal_text)
        return Diagnostic(code="RL0100", message=f"unexpected {found}; expected {expected}", span=span)
    if isinstance(err, UnexpectedEOF):
        return Diagnostic(code="RL0100", message="unexpected end of file", span=span)
    return Diagnostic(code="RL0100", message="syntax error", span=span)


def _bad_dedent_span(source: Source, text: str) -> Span:
    stack = [0]
    offset = 0
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            indent = len(line) - len(line.lstrip(" \t"))
            if indent > stack[-1]:
                stack.append(indent)
            else:
                while indent < stack[-1]:
                    stack.pop()
                if indent != stack[-1]:
                    return Span(source, offset, offset + indent + 1)
        offset += len(line)
    return Span(source, 0, 1)


def _terminal_text(name: str) -> str | None:
    try:
        pattern = parser().get_terminal(name).pattern
    except KeyError:
        return None
    return pattern.value if pattern.type == "str" else None


def _describe_token(tok: lark.Token) -> str:
    names = {"_NL": "end of line", "_INDENT": "indentation", "_DEDENT": "end of block", "$END": "end of file"}
    if tok.type in names:
        return names[tok.type]
    return f"`{tok}`"


_Label = tuple[str, str | None]


@functools.cache
def _catalogue_failures() -> tuple[tuple[_Label, Any, frozenset[str] | None, lark.Token | None], ...]:
    """How each catalogue snippet fails: its label, LALR state, accepted terminals and token."""
    out = []
    for label, snippets in CATALOGUE.items():
        for snippet in snippets:
            try:
                parser().parse(snippet, start="file")
            except UnexpectedInput as ex:
                token = ex.token if isinstance(ex, UnexpectedToken) else None
                accepts = frozenset(ex.accepts) if isinstance(ex, UnexpectedToken) else None
                out.append((label, getattr(ex.state, "position", None), accepts, token))
            except DedentError:
                continue
    return tuple(out)


def _match_catalogue(err: UnexpectedInput) -> _Label | None:
    """Return the catalogue entry whose snippets fail like ``err``, or None.

    Like :meth:`lark.UnexpectedInput.match_examples`, but it compares only the
    LALR state, not the depth of the parse stack: lark's comparison makes a
    snippet match only an error in the first declaration of a file, since any
    line before it (a comment, the header) leaves one more entry on the stack.
    An exact token beats the same kind of token, which beats the same state.
    """
    position = getattr(err.state, "position", None)
    if position is None:
        return None
    best: tuple[int, _Label] | None = None
    in_state: set[_Label] = set()
    for label, state, accepts, token in _catalogue_failures():
        if state != position:
            continue
        in_state.add(label)
        score = 1
        if isinstance(err, UnexpectedToken) and token is not None:
            if accepts != frozenset(err.accepts):
                continue
            if token.type == err.token.type:
                score = 3 if token == err.token else 2
        if best is None or score > best[0]:
            best = (score, label)
    if best is not None and best[0] == 1 and len(in_state) > 1:
        return None  # entries disagree about this state, and none failed on this kind of token
    return best[1] if best else None


@functools.cache
def _cell_patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """Regexes for the common cell shapes, built from the grammar's own terminals."""
    p = parser()

    def rx(name: str) -> str:
        return str(p.get_terminal(name).pattern.to_regexp())

    number = rf"(?P<sign>-?)\s*(?P<num>{rx('NUMBER')})"
    unit = rf"(?:[ \t]+(?P<unit>{rx('COMPOUND_UNIT')}|{rx('NAME')}))?"
    return (
        re.compile(number + unit),
        re.compile(rf"(?P<sign>-?)\s*(?P<num>{rx('PERCENT')})"),
        re.compile(rf"(?P<sign>-?)\s*(?P<num>{rx('LEVERAGE')})"),
        re.compile(rx("NAME")),
    )


def _fast_cell(source: Source, text: str, offset: int) -> n.Cell | None:
    """Read the usual cells (numbers, amounts, rates, leverage, names) without the parser.

    Tables of real venues hold tens of thousands of cells; going through lark
    for each one made loading a 500-symbol ruleset take seconds. Anything
    unusual returns None and takes the parser's path, so both agree.
    """
    span = Span(source, offset, offset + len(text))
    if text in ("inf", "∞"):
        return n.Cell(value=None, infinite=True, text=text, span=span)
    number, percent, leverage, name = _cell_patterns()
    if m := percent.fullmatch(text):
        value = percent_value(m["num"][:-1])
        value = value.copy_negate() if m["sign"] else value
        return n.Cell(value=n.Number(value=value, text=text, style="percent", span=span), text=text, span=span)
    if m := leverage.fullmatch(text):
        value = literal_value(m["num"][:-1])
        value = value.copy_negate() if m["sign"] else value
        return n.Cell(value=n.Number(value=value, text=text, style="leverage", span=span), text=text, span=span)
    if m := number.fullmatch(text):
        value = literal_value(m["num"])
        value = value.copy_negate() if m["sign"] else value
        unit = None
        if m["unit"] is not None:
            if m["unit"] in ("true", "false", "inf"):
                return None
            parts = m["unit"].split("/")
            start = offset + m.start("unit")
            unit = n.UnitRef(
                numerator=(parts[0],),
                denominator=tuple(parts[1:]),
                span=Span(source, start, start + len(m["unit"])),
            )
        num = n.Number(value=value, text=text, unit=unit, span=span)
        return n.Cell(value=num, text=text, span=span)
    if name.fullmatch(text) and text not in ("true", "false"):
        return n.Cell(value=n.Name(name=text, span=span), text=text, span=span)
    return None


def parse_cell(source: Source, text: str, offset: int) -> tuple[n.Cell | None, list[Diagnostic]]:
    """Parse one table cell found at ``offset`` in ``source``."""
    fast = _fast_cell(source, text, offset)
    if fast is not None:
        return fast, []
    span = Span(source, offset, offset + len(text))
    try:
        tree = parser().parse(text, start="cell")
    except (UnexpectedInput, DedentError):
        return None, [
            Diagnostic(
                code="RL0103",
                message=f"cannot read table cell `{text}`",
                span=span,
                hint="a cell holds a number (`50_000`, `50_000 USDT`), a rate (`0.5%`), "
                "a leverage (`20x`), `inf`, or a name (`BTCUSDT`)",
            )
        ]
    value = Builder(Source(source.path, text), lambda t, o: (None, [])).transform(tree)
    if value == "inf":
        return n.Cell(value=None, infinite=True, text=text, span=span), []
    value = _shift(value, source, offset)
    return n.Cell(value=value, text=text, span=span), []


def _shift(node: Any, source: Source, offset: int) -> Any:
    """Re-anchor the spans of a node parsed from a cell's own text into the file."""
    import attrs

    if not attrs.has(type(node)):
        return node
    changes: dict[str, Any] = {}
    for field in attrs.fields(type(node)):
        value = getattr(node, field.name)
        if isinstance(value, Span):
            changes[field.name] = Span(source, value.start + offset, value.end + offset)
        elif attrs.has(type(value)):
            changes[field.name] = _shift(value, source, offset)
    return attrs.evolve(node, **changes)


def _parse_text(source: Source, text: str) -> tuple[list[Any], list[Diagnostic]]:
    tree = parser().parse(text, start="file")
    builder = Builder(source, lambda t, o: parse_cell(source, t, o))
    decls = builder.transform(tree)
    return decls, builder.diagnostics


def parse_source(source: Source) -> tuple[n.File, list[Diagnostic]]:
    """Parse ``source`` into a :class:`~rulelang.nodes.File` and its syntax diagnostics."""
    text = source.text if source.text.endswith("\n") else source.text + "\n"
    try:
        decls, diags = _parse_text(source, text)
        return n.File(path=source.path, decls=tuple(decls)), diags
    except (UnexpectedInput, DedentError):
        pass
    decls = []
    diags = []
    broken: list[str] = []
    for start, end in _blocks(text):
        masked = _masked(text, start, end)
        try:
            block_decls, block_diags = _parse_text(source, masked)
        except (UnexpectedInput, DedentError) as err:
            diags.append(_syntax_diagnostic(source, err, masked))
            broken.extend(_declared_names(text[start:end]))
            continue
        decls.extend(block_decls)
        diags.extend(block_diags)
    return n.File(path=source.path, decls=tuple(decls), broken=tuple(broken)), diags


_DECLARES = re.compile(r"(input|param|let|table|levels|action|profile|units)\b[ \t]*([^\n#]*)")
_NAME = r"[^\W\d]\w*"


def _declared_names(block: str) -> list[str]:
    """Guess the names a block that did not parse declares, so their uses raise no second error."""
    m = _DECLARES.match(block.lstrip())
    if m is None:
        return []
    if m[1] == "units":
        return re.findall(_NAME, m[2])
    name = re.match(rf"{_NAME}(\.{_NAME})?", m[2])
    return [name[0]] if name else []
