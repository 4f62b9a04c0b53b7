"""Formulas as readable math: labels instead of names, × ÷ ≤ instead of code.

Input: an :mod:`rulelang.ir` expression, the ruleset's :class:`Names` and a
:class:`~rulelang.docs.i18n.Locale`. Output: a :data:`Formula`, a tuple of
:class:`Seg` pieces of text, some linked to the place a term is defined, which
the HTML and Markdown templates each render their own way (escaped, linked).
The words around the symbols (``if … then … else …``, "charged progressively
on") come from the message catalogue.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import attrs

from rulelang import ir
from rulelang.docs.i18n import Locale, humanize, inline
from rulelang.types import EnumValueType, NumType


@attrs.frozen
class Seg:
    """A piece of a formula or sentence; ``href`` links it to an anchor of the page."""

    text: str
    href: str | None = None
    code: bool = False  # a name shown as the rule file writes it (a table column)
    strong: bool = False


Formula = tuple[Seg, ...]

_SYMBOL = {"+": "+", "-": "−", "*": "×", "/": "÷", "<": "<", "<=": "≤", ">": ">", ">=": "≥", "==": "=", "!=": "≠"}
_PREC = {"or": 1, "and": 2, "not": 3, "cmp": 4, "+": 5, "-": 5, "*": 6, "/": 6, "neg": 7, "atom": 8}


class Names:
    """Label and anchor of every name a formula can mention."""

    def __init__(self, rs: ir.Ruleset, loc: Locale) -> None:
        self.loc = loc
        self._labels: dict[tuple[str, str], str] = {}
        self._anchors: dict[tuple[str, str], str] = {}

        def add(kind: str, name: str, label: str | None, anchor: str) -> None:
            self._labels[(kind, name)] = label or humanize(name)
            self._anchors[(kind, name)] = anchor

        for i in rs.inputs:
            add("input", i.name, loc.text(i.meta.label, f"input {i.name}", "label"), f"input-{i.name}")
            for f in i.fields or ():
                q = f"{i.name}.{f.name}"
                add("field", q, loc.text(f.meta.label, f"field {q}", "label"), f"input-{i.name}-{f.name}")
        for p in rs.params:
            add("param", p.name, loc.text(p.meta.label, f"param {p.name}", "label"), f"param-{p.name}")
        for t in rs.tables:
            add("table", t.name, loc.text(t.meta.label, f"table {t.name}", "label"), f"table-{t.name}")
        for d in rs.definitions:
            q = d.qualname
            add("definition", q, loc.text(d.meta.label, f"definition {q}", "label"), "def-" + q.replace(".", "-"))
        for lad in rs.ladders:
            add("ladder", lad.name, loc.text(lad.meta.label, f"levels {lad.name}", "label"), f"ladder-{lad.name}")
            for r in lad.rungs:
                q = f"{lad.name}.{r.name}"
                label = loc.text(r.meta.label, f"level {q}", "label")
                add("level", q, label, f"ladder-{lad.name}-{r.name}")
        for a in rs.actions:
            add("action", a.name, loc.text(a.meta.label, f"action {a.name}", "label"), f"action-{a.name}")
        for pr in rs.profiles:
            add("profile", pr.name, loc.text(pr.meta.label, f"profile {pr.name}", "label"), f"profile-{pr.name}")

    def label(self, kind: str, name: str) -> str:
        return self._labels.get((kind, name), humanize(name))

    def anchor(self, kind: str, name: str) -> str | None:
        return self._anchors.get((kind, name))

    def link(self, kind: str, name: str, inner: bool = True) -> Seg:
        """The name as a linked label; ``inner``: as it reads inside a sentence."""
        label = self.label(kind, name)
        return Seg(inline(label) if inner else label, self.anchor(kind, name))


class MathWriter:
    """Write expressions as readable formulas.

    ``value_of(kind, name)``, when given, shows a parameter's value after its
    label ("warning line (100%)"), which puts the thresholds into a ladder.
    """

    def __init__(self, names: Names, loc: Locale, value_of: Callable[[str, str], str | None] | None = None) -> None:
        self.names = names
        self.loc = loc
        self.value_of = value_of

    def fill(self, template: str, **parts: list[Seg]) -> list[Seg]:
        """A translated template with its ``{name}`` placeholders replaced by pieces."""
        out: list[Seg] = []
        for k, piece in enumerate(self.loc.split(template)):
            if k % 2:
                out.extend(parts[piece])
            elif piece:
                out.append(Seg(piece))
        return out

    def formula(self, e: ir.Expr) -> Formula:
        return tuple(_merge(self._go(e)[0]))

    # ------------------------------------------------------------ the walk
    def _wrap(self, e: ir.Expr, prec: int) -> list[Seg]:
        segs, p = self._go(e)
        return [Seg("("), *segs, Seg(")")] if p < prec else segs

    def _ref(self, kind: str, name: str) -> list[Seg]:
        seg = self.names.link(kind, name)
        if self.value_of is not None:
            shown = self.value_of(kind, name)
            if shown is not None:
                return [seg, Seg(f" ({shown})")]
        return [seg]

    def _go(self, e: ir.Expr) -> tuple[list[Seg], int]:
        _ = self.loc._
        match e:
            case ir.Const():
                return [Seg(self._const(e))], 8
            case ir.InputRef():
                return self._ref("input", e.name), 8
            case ir.ParamRef():
                return self._ref("param", e.name), 8
            case ir.DefRef():
                return self._ref("definition", e.name), 8
            case ir.FieldRef():
                return self._ref("field", f"{e.collection}.{e.name}"), 8
            case ir.RecDefRef():
                return self._ref("definition", f"{e.collection}.{e.name}"), 8
            case ir.Arith():
                p = _PREC[e.op]
                right = self._wrap(e.right, p + (e.op in "-/"))
                return [*self._wrap(e.left, p), Seg(f" {_SYMBOL[e.op]} "), *right], p
            case ir.Neg():
                return [Seg("−"), *self._wrap(e.operand, 7)], 7
            case ir.Compare():
                return [*self._wrap(e.left, 5), Seg(f" {_SYMBOL[e.op]} "), *self._wrap(e.right, 5)], 4
            case ir.Logic():
                p = _PREC[e.op]
                word = _("and") if e.op == "and" else _("or")
                return [*self._wrap(e.left, p), Seg(f" {word} "), *self._wrap(e.right, p + 1)], p
            case ir.Not():
                return self.fill(_("not {x}"), x=self._wrap(e.operand, 3)), 3
            case ir.Cond():
                return self.fill(
                    _("if {cond} then {then} else {otherwise}"),
                    cond=self._go(e.cond)[0],
                    then=self._go(e.then)[0],
                    otherwise=self._go(e.otherwise)[0],
                ), 0
            case ir.Func():
                return self._func(e), 8
            case ir.Round():
                return self.fill(
                    _("{x} rounded to {places} decimals ({mode})"),
                    x=self._wrap(e.operand, 8),
                    places=[Seg(str(e.places))],
                    mode=[Seg(self.rounding(e.mode))],
                ), 0
            case ir.Aggregate():
                return self._aggregate(e), 0
            case ir.Lookup():
                return self._lookup(e), 0
            case ir.Solve():
                vary_kind = "field" if e.collection else "input"
                vary = self.names.link(vary_kind, f"{e.collection}.{e.vary}" if e.collection else e.vary)
                segs = self.fill(
                    _("the {vary} at which {until} starts or stops holding"), vary=[vary], until=self._go(e.until)[0]
                )
                if e.tick is not None:
                    segs = self.fill(_("{x}, rounded to the nearest {tick}"), x=segs, tick=self._go(e.tick)[0])
                return segs, 0
        raise AssertionError(e)

    def _const(self, e: ir.Const) -> str:
        if isinstance(e.value, str):
            return e.value if isinstance(e.type, EnumValueType) else f"“{e.value}”"
        if isinstance(e.value, Decimal) and isinstance(e.type, NumType) and e.type.dim is None:
            return self.loc.number(e.value)  # the unitless 0 that fits any unit
        return self.loc.value(e.value, e.type)

    def rounding(self, mode: str) -> str:
        _ = self.loc._
        return {
            "half_up": _("half up"),
            "half_even": _("half even"),
            "down": _("toward zero"),
            "up": _("away from zero"),
            "floor": _("toward minus infinity"),
            "ceiling": _("toward plus infinity"),
        }[mode]

    def _func(self, e: ir.Func) -> list[Seg]:
        _ = self.loc._
        args = [self._go(a)[0] for a in e.args]
        if e.name == "abs":
            return [Seg("|"), *args[0], Seg("|")]
        if e.name == "known":
            return self.fill(_("{x} is known"), x=args[0])
        out: list[Seg] = [Seg(f"{e.name}(")]
        for k, a in enumerate(args):
            if k:
                out.append(Seg(", "))
            out.extend(a)
        return [*out, Seg(")")]

    def _aggregate(self, e: ir.Aggregate) -> list[Seg]:
        _ = self.loc._
        coll = [self.names.link("input", e.collection)]
        body = self._go(e.body)[0] if e.body is not None else []
        if e.func == "sum":
            segs = self.fill(_("sum of {body} over {collection}"), body=body, collection=coll)
        elif e.func == "count":
            segs = self.fill(_("number of {collection}"), collection=coll)
        elif e.func == "min":
            segs = self.fill(_("smallest {body} over {collection}"), body=body, collection=coll)
        elif e.func == "max":
            segs = self.fill(_("largest {body} over {collection}"), body=body, collection=coll)
        elif e.func == "any":
            segs = self.fill(_("{body} for some of {collection}"), body=body, collection=coll)
        else:
            segs = self.fill(_("{body} for all of {collection}"), body=body, collection=coll)
        if e.where is not None:
            segs = self.fill(_("{x} where {cond}"), x=segs, cond=self._go(e.where)[0])
        if e.default is not None:
            segs = self.fill(_("{x} (when there are none: {default})"), x=segs, default=self._go(e.default)[0])
        return segs

    def _lookup(self, e: ir.Lookup) -> list[Seg]:
        _ = self.loc._
        table = [self.names.link("table", e.table, inner=False)]
        if e.group is not None:
            table = self.fill(_("{table} for {key}"), table=table, key=self._go(e.group)[0])
        size = self._wrap(e.size, 6)
        col = [Seg(e.column or "", code=True)]
        templates = {
            "progressive": _("{size} charged progressively at {column} of {table}"),
            "bracket": _("{size} × {column} − maintenance amount, in the band of {table} that {size} falls in"),
            "step": _("{size} × {column} of the band of {table} that {size} falls in"),
            "lookup": _("{column} of the band of {table} that {size} falls in"),
            "cum": _("maintenance amount of the band of {table} that {size} falls in"),
            "tier": _("number of the band of {table} that {size} falls in"),
        }
        return self.fill(templates[e.mode], size=size, column=col, table=table)


def _merge(segs: list[Seg]) -> list[Seg]:
    """Join neighbouring plain pieces, so the output is stable and small."""
    out: list[Seg] = []
    for s in segs:
        if (
            out
            and s.href is None
            and not s.code
            and not s.strong
            and out[-1].href is None
            and not out[-1].code
            and not out[-1].strong
        ):
            out[-1] = Seg(out[-1].text + s.text)
        else:
            out.append(s)
    return out


def plain_text(f: Formula) -> str:
    """A formula without its links (for chart captions and alt text)."""
    return "".join(s.text for s in f)


def text(s: str, href: str | None = None) -> Formula:
    return (Seg(s, href),)
