"""Build :mod:`rulelang.nodes` from lark's parse tree.

Input: a lark ``Tree`` for one file (or one top-level block of it). Output:
node objects. The builder only builds; it records (never raises) the few
layout problems it can see, such as a table row without its closing ``|``,
because lark wraps exceptions raised in callbacks.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from lark import Token, Transformer, v_args

from rulelang import nodes as n
from rulelang.errors import Diagnostic
from rulelang.source import Source, Span


def literal_value(text: str) -> Decimal:
    """Read a numeric literal's text (underscores allowed) exactly."""
    return Decimal(text.replace("_", ""))


def percent_value(text: str) -> Decimal:
    """Read the number of a percentage (``12.5`` of ``12.5%``) exactly as a fraction (``0.125``)."""
    sign, digits, exponent = literal_value(text).as_tuple()
    assert isinstance(exponent, int)
    # scaleb would round to the ambient context's 28 digits
    return Decimal((sign, digits, exponent - 2))


class Builder(Transformer[Token, Any]):
    """Turn a parse tree into nodes; ``parse_cell`` parses one table cell."""

    def __init__(
        self,
        source: Source,
        parse_cell: Callable[[str, int], tuple[n.Cell | None, list[Diagnostic]]],
    ) -> None:
        super().__init__()
        self.source = source
        self.parse_cell = parse_cell
        self.diagnostics: list[Diagnostic] = []

    # ------------------------------------------------------------ helpers
    def _span(self, meta: Any) -> Span:
        if getattr(meta, "empty", True):
            return Span(self.source, 0, 0)
        return Span(self.source, meta.start_pos, meta.end_pos)

    def _tok(self, tok: Token) -> Span:
        assert tok.start_pos is not None and tok.end_pos is not None
        return Span(self.source, tok.start_pos, tok.end_pos)

    @staticmethod
    def _meta_of(items: list[Any]) -> n.Meta:
        label = next((i[1] for i in items if isinstance(i, tuple) and i[0] == "label"), None)
        desc = next((i[1] for i in items if isinstance(i, tuple) and i[0] == "description"), None)
        return n.Meta(label=label, description=desc)

    # ------------------------------------------------------------ file
    def file(self, items: list[Any]) -> list[Any]:
        return [i for i in items if i is not None]

    def cell(self, items: list[Any]) -> Any:
        return items[0]

    @v_args(meta=True)
    def text(self, meta: Any, items: list[Token]) -> n.Text:
        pairs: list[tuple[str, str]] = []
        lang = "en"
        for tok in items:
            if tok.type == "LANG":
                lang = str(tok)
            else:
                pairs.append((lang, unquote(str(tok))))
        return n.Text(items=tuple(pairs), span=self._span(meta))

    def label(self, items: list[Any]) -> tuple[str, Any]:
        return ("label", items[0])

    def description(self, items: list[Any]) -> tuple[str, Any]:
        return ("description", items[0])

    def version(self, items: list[Token]) -> tuple[str, Any]:
        return ("version", unquote(str(items[0])))

    def effective(self, items: list[Token]) -> tuple[str, Any]:
        return ("effective", (str(items[0]), self._tok(items[0])))

    def meta_block(self, items: list[Any]) -> n.Meta:
        return self._meta_of(items)

    @v_args(meta=True)
    def header(self, meta: Any, items: list[Any]) -> n.Header:
        name, *rest = items
        values: dict[str, Any] = dict(i for i in rest if isinstance(i, tuple))
        effective, effective_span = values.get("effective", (None, None))
        return n.Header(
            name=str(name),
            meta=self._meta_of(rest),
            version=values.get("version"),
            effective=effective,
            name_span=self._tok(name),
            effective_span=effective_span,
            span=self._span(meta),
        )

    @v_args(meta=True)
    def import_(self, meta: Any, items: list[Token]) -> n.Import:
        name = str(items[0]) if len(items) == 2 else None
        return n.Import(path=unquote(str(items[-1])), name=name, span=self._span(meta))

    @v_args(meta=True)
    def units(self, meta: Any, items: list[Token]) -> n.Units:
        decls = tuple(n.UnitDecl(name=str(t), span=self._tok(t)) for t in items)
        return n.Units(units=decls, span=self._span(meta))

    @v_args(meta=True)
    def action(self, meta: Any, items: list[Any]) -> n.ActionDecl:
        name = items[0]
        m = items[1] if len(items) > 1 and isinstance(items[1], n.Meta) else n.Meta()
        return n.ActionDecl(name=str(name), meta=m, name_span=self._tok(name), span=self._span(meta))

    # ------------------------------------------------------------ types
    def _unit_ref(self, tok: Token) -> n.UnitRef:
        parts = str(tok).split("/")
        return n.UnitRef(numerator=(parts[0],), denominator=tuple(parts[1:]), span=self._tok(tok))

    @v_args(meta=True)
    def unit_type(self, meta: Any, items: list[Token]) -> n.UnitType:
        return n.UnitType(unit=self._unit_ref(items[0]), span=self._span(meta))

    @v_args(meta=True)
    def enum_type(self, meta: Any, items: list[Token]) -> n.EnumType:
        return n.EnumType(values=tuple(str(t) for t in items), span=self._span(meta))

    @v_args(meta=True)
    def list_type(self, meta: Any, items: list[Any]) -> n.ListType:
        return n.ListType(span=self._span(meta))

    @v_args(meta=True)
    def constraint(self, meta: Any, items: list[Any]) -> n.Constraint:
        return n.Constraint(op=norm_op(str(items[0])), bound=items[1], span=self._span(meta))

    def default(self, items: list[Any]) -> tuple[str, Any]:
        return ("default", items[0])

    def _typed_decl(self, items: list[Any]) -> dict[str, Any]:
        name, type_, *rest = items
        out: dict[str, Any] = {"name": str(name), "type": type_, "name_span": self._tok(name)}
        for item in rest:
            if isinstance(item, n.Constraint):
                out["constraint"] = item
            elif isinstance(item, tuple) and item[0] == "default":
                out["default"] = item[1]
        out["meta"] = next((i for i in rest if isinstance(i, n.Meta)), self._meta_of(rest))
        return out

    @v_args(meta=True)
    def field(self, meta: Any, items: list[Any]) -> n.Field:
        return n.Field(span=self._span(meta), **self._typed_decl(items))

    @v_args(meta=True)
    def input_(self, meta: Any, items: list[Any]) -> n.Input:
        fields = tuple(i for i in items if isinstance(i, n.Field))
        rest = [i for i in items if not isinstance(i, n.Field)]
        return n.Input(span=self._span(meta), fields=fields, **self._typed_decl(rest))

    @v_args(meta=True)
    def param(self, meta: Any, items: list[Any]) -> n.Param:
        name, type_, value, *rest = items
        m = rest[0] if rest and isinstance(rest[0], n.Meta) else n.Meta()
        return n.Param(
            name=str(name),
            type=type_,
            value=value,
            meta=m,
            name_span=self._tok(name),
            span=self._span(meta),
        )

    @v_args(meta=True)
    def assign(self, meta: Any, items: list[Any]) -> n.Assign:
        name, value = items
        return n.Assign(name=str(name), value=value, name_span=self._tok(name), span=self._span(meta))

    @v_args(meta=True)
    def profile(self, meta: Any, items: list[Any]) -> n.Profile:
        name, *rest = items
        return n.Profile(
            name=str(name),
            assigns=tuple(i for i in rest if isinstance(i, n.Assign)),
            meta=self._meta_of(rest),
            name_span=self._tok(name),
            span=self._span(meta),
        )

    # ------------------------------------------------------------ tables
    @v_args(meta=True)
    def bands(self, meta: Any, items: list[Token]) -> n.Bands:
        lo, op1, mid, op2, hi = items
        return n.Bands(
            lower_op=norm_op(str(op1)),
            upper_op=norm_op(str(op2)),
            names=(str(lo), str(mid), str(hi)),
            span=self._span(meta),
        )

    def row(self, items: list[Token]) -> n.Row | None:
        tok = items[0]
        assert tok.start_pos is not None
        text = str(tok).rstrip()
        start = tok.start_pos
        last = text.rfind("|")
        if last > 0 and text[last + 1 :].lstrip().startswith("#"):
            text = text[: last + 1]  # a comment after the row's closing `|`
        if set(text) <= set("|-:+ \t"):
            return None  # a Markdown separator line: |---|:--:|
        if not text.endswith("|") or len(text) < 2:
            self.diagnostics.append(
                Diagnostic(
                    code="RL0102",
                    message="a table row must end with `|`",
                    span=Span(self.source, start + len(text) - 1, start + len(text)),
                    hint="write every row as `| cell | cell |`",
                )
            )
            text = text + "|"
        cells: list[n.Cell] = []
        pos = 1
        for part in text[1:-1].split("|"):
            raw = part.strip()
            offset = start + pos + (len(part) - len(part.lstrip()))
            if raw:
                cell, diags = self.parse_cell(raw, offset)
                self.diagnostics.extend(diags)
                if cell is not None:
                    cells.append(cell)
                else:
                    cells.append(n.Cell(value=None, text=raw, span=Span(self.source, offset, offset + len(raw))))
            else:
                cells.append(n.Cell(value=None, text="", span=Span(self.source, offset, offset)))
            pos += len(part) + 1
        return n.Row(cells=tuple(cells), span=Span(self.source, start, start + len(text)))

    @v_args(meta=True)
    def table(self, meta: Any, items: list[Any]) -> n.Table:
        name, unit_type, *rest = items
        group = None
        if rest and isinstance(rest[0], Token):
            group = str(rest.pop(0))
        rows = [r for r in rest if isinstance(r, n.Row)]
        bands = next((b for b in rest if isinstance(b, n.Bands)), None)
        return n.Table(
            name=str(name),
            key_unit=unit_type.unit,
            group=group,
            bands=bands,
            header=rows[0] if rows else None,
            rows=tuple(rows[1:]),
            ticks=tuple(i for i in rest if isinstance(i, n.Tick)),
            meta=self._meta_of(rest),
            name_span=self._tok(name),
            span=self._span(meta),
        )

    @v_args(meta=True)
    def inf(self, meta: Any, items: list[Any]) -> str:
        return "inf"

    @v_args(meta=True)
    def key(self, meta: Any, items: list[Token]) -> n.Name:
        return n.Name(name=str(items[0]), span=self._tok(items[0]))

    # ------------------------------------------------------------ definitions
    @v_args(meta=True)
    def let(self, meta: Any, items: list[Any]) -> n.Let:
        names = [i for i in items if isinstance(i, Token)]
        others = [i for i in items if not isinstance(i, Token)]
        m = others.pop() if others and isinstance(others[-1], n.Meta) else n.Meta()
        type_ = others[0] if len(others) == 2 else None
        expr = others[-1]
        if len(names) == 2:
            collection, name = str(names[0]), names[1]
        else:
            collection, name = None, names[0]
        return n.Let(
            name=str(name),
            collection=collection,
            type=type_,
            expr=expr,
            meta=m,
            name_span=self._tok(name),
            span=self._span(meta),
        )

    @v_args(meta=True)
    def vary(self, meta: Any, items: list[Token]) -> tuple[str, Any]:
        return ("vary", items[0])

    def until(self, items: list[Any]) -> tuple[str, Any]:
        return ("until", items[0])

    @v_args(meta=True)
    def tick_line(self, meta: Any, items: list[Any]) -> n.Tick:
        return n.Tick(value=items[0], span=self._span(meta))

    @v_args(meta=True)
    def solve(self, meta: Any, items: list[Any]) -> n.Solve:
        names = [i for i in items if isinstance(i, Token)]
        type_ = next((i for i in items if isinstance(i, (n.UnitType, n.EnumType, n.ListType))), None)
        parts: dict[str, Any] = dict(i for i in items if isinstance(i, tuple) and i[0] in ("vary", "until"))
        ticks = [i.value for i in items if isinstance(i, n.Tick)]
        collection, name = (str(names[0]), names[1]) if len(names) == 2 else (None, names[0])
        vary = parts.get("vary")
        return n.Solve(
            name=str(name),
            collection=collection,
            type=type_,
            vary=str(vary) if vary is not None else None,
            vary_span=self._tok(vary) if vary is not None else None,
            until=parts.get("until"),
            tick=ticks[-1] if ticks else None,
            meta=self._meta_of(items),
            name_span=self._tok(name),
            span=self._span(meta),
        )

    def _rung(self, meta: Any, items: list[Any], has_cond: bool) -> n.Rung:
        name = items[0]
        cond = items[1] if has_cond else None
        rest = items[2:] if has_cond else items[1:]
        actions = tuple(n.UnitDecl(name=str(t), span=self._tok(t)) for t in rest if isinstance(t, Token))
        m = next((i for i in rest if isinstance(i, n.Meta)), n.Meta())
        return n.Rung(
            name=str(name),
            cond=cond,
            actions=actions,
            meta=m,
            name_span=self._tok(name),
            span=self._span(meta),
        )

    @v_args(meta=True)
    def rung(self, meta: Any, items: list[Any]) -> n.Rung:
        return self._rung(meta, items, has_cond=True)

    @v_args(meta=True)
    def otherwise(self, meta: Any, items: list[Any]) -> n.Rung:
        return self._rung(meta, items, has_cond=False)

    @v_args(meta=True)
    def levels(self, meta: Any, items: list[Any]) -> n.Levels:
        name, *rest = items
        rungs = [r for r in rest if isinstance(r, n.Rung)]
        other = rungs.pop() if rungs and rungs[-1].cond is None else None
        return n.Levels(
            name=str(name),
            rungs=tuple(rungs),
            otherwise=other,
            ticks=tuple(i for i in rest if isinstance(i, n.Tick)),
            meta=self._meta_of(rest),
            name_span=self._tok(name),
            span=self._span(meta),
        )

    # ------------------------------------------------------------ examples
    @v_args(meta=True)
    def target(self, meta: Any, items: list[Token]) -> n.Target:
        if len(items) == 1:
            return n.Target(name=str(items[0]), span=self._span(meta))
        return n.Target(name=str(items[0]), index=int(items[1]), field=str(items[2]), span=self._span(meta))

    @v_args(meta=True)
    def given(self, meta: Any, items: list[Any]) -> n.Given:
        return n.Given(target=items[0], value=items[1], span=self._span(meta))

    @v_args(meta=True)
    def expect(self, meta: Any, items: list[Any]) -> n.Expect:
        tol = items[2] if len(items) > 2 else None
        return n.Expect(target=items[0], value=items[1], tolerance=tol, span=self._span(meta))

    @v_args(meta=True)
    def use_profile(self, meta: Any, items: list[Token]) -> tuple[str, Any]:
        return ("profile", items[0])

    @v_args(meta=True)
    def example(self, meta: Any, items: list[Any]) -> n.Example:
        title, *rest = items
        profile = next((i[1] for i in rest if isinstance(i, tuple) and i[0] == "profile"), None)
        return n.Example(
            title=unquote(str(title)),
            givens=tuple(i for i in rest if isinstance(i, n.Given)),
            expects=tuple(i for i in rest if isinstance(i, n.Expect)),
            profile=str(profile) if profile is not None else None,
            profile_span=self._tok(profile) if profile is not None else None,
            meta=self._meta_of(rest),
            span=self._span(meta),
        )

    # ------------------------------------------------------------ expressions
    @v_args(meta=True)
    def if_expr(self, meta: Any, items: list[Any]) -> n.If:
        return n.If(cond=items[0], then=items[1], otherwise=items[2], span=self._span(meta))

    def _binary(self, meta: Any, left: Any, op: str, op_span: Span, right: Any) -> n.Binary:
        return n.Binary(op=op, left=left, right=right, op_span=op_span, span=self._span(meta))

    @v_args(meta=True)
    def binary(self, meta: Any, items: list[Any]) -> n.Binary:
        left, op, right = items
        return self._binary(meta, left, norm_op(str(op)), self._tok(op), right)

    @v_args(meta=True)
    def compare(self, meta: Any, items: list[Any]) -> n.Binary:
        left, op, right = items
        return self._binary(meta, left, norm_op(str(op)), self._tok(op), right)

    @v_args(meta=True)
    def or_(self, meta: Any, items: list[Any]) -> n.Binary:
        return self._binary(meta, items[0], "or", self._span(meta), items[1])

    @v_args(meta=True)
    def and_(self, meta: Any, items: list[Any]) -> n.Binary:
        return self._binary(meta, items[0], "and", self._span(meta), items[1])

    @v_args(meta=True)
    def not_(self, meta: Any, items: list[Any]) -> n.Unary:
        return n.Unary(op="not", operand=items[0], span=self._span(meta))

    @v_args(meta=True)
    def neg(self, meta: Any, items: list[Any]) -> Any:
        inner = items[0]
        if isinstance(inner, n.Number):  # fold "-5" into a literal: tables and bounds read it so
            return n.Number(
                # copy_negate is exact; unary minus would round to the ambient 28 digits
                value=inner.value.copy_negate(),
                text="-" + inner.text,
                style=inner.style,
                unit=inner.unit,
                span=self._span(meta),
            )
        return n.Unary(op="-", operand=inner, span=self._span(meta))

    @v_args(meta=True)
    def name(self, meta: Any, items: list[Token]) -> n.Name:
        return n.Name(name=str(items[0]), span=self._tok(items[0]))

    @v_args(meta=True)
    def attr(self, meta: Any, items: list[Any]) -> n.Attr:
        return n.Attr(base=items[0], name=str(items[1]), name_span=self._tok(items[1]), span=self._span(meta))

    @v_args(meta=True)
    def index(self, meta: Any, items: list[Any]) -> n.Index:
        return n.Index(name=str(items[0]), index=items[1], span=self._span(meta))

    @v_args(meta=True)
    def call(self, meta: Any, items: list[Any]) -> n.Call:
        func, *args = items
        return n.Call(
            func=str(func),
            args=tuple(a for a in args if a is not None),
            func_span=self._tok(func),
            span=self._span(meta),
        )

    @v_args(meta=True)
    def arg(self, meta: Any, items: list[Any]) -> n.Arg:
        return n.Arg(value=items[0], span=self._span(meta))

    @v_args(meta=True)
    def where_arg(self, meta: Any, items: list[Any]) -> n.Arg:
        return n.Arg(value=items[0], kind="where", span=self._span(meta))

    @v_args(meta=True)
    def default_arg(self, meta: Any, items: list[Any]) -> n.Arg:
        return n.Arg(value=items[0], kind="default", span=self._span(meta))

    @v_args(meta=True)
    def list_lit(self, meta: Any, items: list[Any]) -> n.ListLit:
        return n.ListLit(items=tuple(i for i in items if i is not None), span=self._span(meta))

    @v_args(meta=True)
    def field_init(self, meta: Any, items: list[Any]) -> n.FieldInit:
        return n.FieldInit(name=str(items[0]), value=items[1], span=self._span(meta))

    @v_args(meta=True)
    def record_lit(self, meta: Any, items: list[Any]) -> n.RecordLit:
        return n.RecordLit(fields=tuple(i for i in items if i is not None), span=self._span(meta))

    @v_args(meta=True)
    def number(self, meta: Any, items: list[Any]) -> n.Number:
        tok = items[0]
        unit = items[1] if len(items) > 1 else None
        text = str(tok) + (f" {unit}" if unit is not None else "")
        return n.Number(value=literal_value(str(tok)), text=text, unit=unit, span=self._span(meta))

    def unit(self, items: list[Token]) -> n.UnitRef:
        return self._unit_ref(items[0])

    @v_args(meta=True)
    def percent(self, meta: Any, items: list[Token]) -> n.Number:
        text = str(items[0])
        value = percent_value(text[:-1])
        return n.Number(value=value, text=text, style="percent", span=self._span(meta))

    @v_args(meta=True)
    def leverage(self, meta: Any, items: list[Token]) -> n.Number:
        text = str(items[0])
        return n.Number(value=literal_value(text[:-1]), text=text, style="leverage", span=self._span(meta))

    @v_args(meta=True)
    def string(self, meta: Any, items: list[Token]) -> n.String:
        return n.String(value=unquote(str(items[0])), span=self._span(meta))

    @v_args(meta=True)
    def true(self, meta: Any, items: list[Any]) -> n.Boolean:
        return n.Boolean(value=True, span=self._span(meta))

    @v_args(meta=True)
    def false(self, meta: Any, items: list[Any]) -> n.Boolean:
        return n.Boolean(value=False, span=self._span(meta))


_OPS = {"≤": "<=", "≥": ">=", "≠": "!=", "×": "*", "÷": "/", "−": "-"}


def norm_op(op: str) -> str:
    """Map the Unicode spellings of operators to their ASCII form."""
    return _OPS.get(op, op)


def unquote(text: str) -> str:
    """Remove the quotes of a string literal and resolve its escapes (``\\"``, ``\\\\``, ``\\n``)."""
    body = text[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)
