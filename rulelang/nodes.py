"""The syntax tree of a rule file, as the parser builds it.

Input: nothing (these are plain data). Output: frozen attrs nodes that the
checker (:mod:`rulelang.check`) reads. Nodes say what was written, not what it
means: a :class:`Name` may turn out to be an input, a parameter, a record field
or an enumeration value; that is decided by the checker. Every node carries a
``span``, kept out of equality so that two files that differ only in layout
give equal trees (``rulelang fmt`` relies on that).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal as TLiteral

import attrs

from rulelang.source import Span, span_field

# ----------------------------------------------------------------- expressions


@attrs.frozen(kw_only=True)
class UnitRef:
    """A unit as written: ``BTC``, ``USDT/BTC``, ``contracts``."""

    numerator: tuple[str, ...]
    denominator: tuple[str, ...] = ()
    span: Span = span_field()

    def __str__(self) -> str:
        text = "*".join(self.numerator) or "1"
        return text + "".join("/" + d for d in self.denominator)


NumberStyle = TLiteral["number", "percent", "leverage"]


@attrs.frozen(kw_only=True)
class Number:
    """A numeric literal: ``50``, ``50 BTC``, ``0.5%`` (value 0.005), ``20x``."""

    value: Decimal
    text: str
    style: NumberStyle = "number"
    unit: UnitRef | None = None
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class String:
    value: str
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Boolean:
    value: bool
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Name:
    """A bare name; its meaning is resolved by the checker."""

    name: str
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Attr:
    """``base.name``: a table column (``tiers.mmr``) or a record's value."""

    base: Expr
    name: str
    name_span: Span = span_field()
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Index:
    """``name[expr]``: a keyed table's group (``brackets[symbol]``)."""

    name: str
    index: Expr
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Unary:
    op: str  # "-" or "not"
    operand: Expr
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Binary:
    """Arithmetic (``+ - * /``), comparison (``< <= == != >= >``) or logic (``and or``)."""

    op: str
    left: Expr
    right: Expr
    op_span: Span = span_field()
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class If:
    cond: Expr
    then: Expr
    otherwise: Expr
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Arg:
    """A call argument; ``kind`` is ``""`` for a plain one, else ``where``/``default``."""

    value: Expr
    kind: str = ""
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Call:
    func: str
    args: tuple[Arg, ...]
    func_span: Span = span_field()
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class ListLit:
    items: tuple[Expr, ...]
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class FieldInit:
    name: str
    value: Expr
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class RecordLit:
    fields: tuple[FieldInit, ...]
    span: Span = span_field()


Expr = Number | String | Boolean | Name | Attr | Index | Unary | Binary | If | Call | ListLit | RecordLit

# ----------------------------------------------------------------- types


@attrs.frozen(kw_only=True)
class UnitType:
    """A named type: a unit (``USDT``, ``USDT/BTC``) or a base type (``number``, ``bool``...)."""

    unit: UnitRef
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class EnumType:
    values: tuple[str, ...]
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class ListType:
    span: Span = span_field()


TypeExpr = UnitType | EnumType | ListType

# ----------------------------------------------------------------- declarations


@attrs.frozen(kw_only=True)
class Text:
    """A text in one or more languages: ``"Margin ratio" zh "保证金率"``.

    ``items`` pairs a language code with its text; the first text without a
    code is English.
    """

    items: tuple[tuple[str, str], ...]
    span: Span = span_field()

    def get(self, lang: str) -> str | None:
        return dict(self.items).get(lang)


@attrs.frozen(kw_only=True)
class Meta:
    """The label and description of a declaration (both optional)."""

    label: Text | None = None
    description: Text | None = None


@attrs.frozen(kw_only=True)
class Header:
    name: str
    meta: Meta = Meta()
    version: str | None = None
    effective: str | None = None
    name_span: Span = span_field()
    effective_span: Span | None = attrs.field(default=None, eq=False, repr=False)
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Import:
    """``import "path"``, or ``import name "path"`` whose path a user may redirect when loading."""

    path: str
    name: str | None = None
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class UnitDecl:
    name: str
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Units:
    units: tuple[UnitDecl, ...]
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class ActionDecl:
    name: str
    meta: Meta = Meta()
    name_span: Span = span_field()
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Constraint:
    """``>= 0``: a bound every value of an input or field must meet."""

    op: str
    bound: Expr
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Field:
    """A field of the records of a collection input."""

    name: str
    type: TypeExpr
    constraint: Constraint | None = None
    default: Expr | None = None
    meta: Meta = Meta()
    name_span: Span = span_field()
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Input:
    """An input: a scalar value, or (``type`` is :class:`ListType`) a collection of records."""

    name: str
    type: TypeExpr
    constraint: Constraint | None = None
    default: Expr | None = None
    fields: tuple[Field, ...] = ()
    meta: Meta = Meta()
    name_span: Span = span_field()
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Param:
    name: str
    type: TypeExpr
    value: Expr
    meta: Meta = Meta()
    name_span: Span = span_field()
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Assign:
    name: str
    value: Expr
    name_span: Span = span_field()
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Profile:
    """A named set of parameter overrides (an account class, a VIP level)."""

    name: str
    assigns: tuple[Assign, ...]
    meta: Meta = Meta()
    name_span: Span = span_field()
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Cell:
    """One cell of a table row, parsed; ``value`` is None for an empty cell."""

    value: Number | Name | String | Unary | None
    infinite: bool = False
    text: str = ""
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Row:
    cells: tuple[Cell, ...]
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Bands:
    """``bands from <= size < to``: which end of each band is inclusive."""

    lower_op: str
    upper_op: str
    names: tuple[str, str, str]
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Tick:
    """``tick 0.01 USDT``: the smallest step of a table's size, of a ladder's compared values or of a solve."""

    value: Expr
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Table:
    """A tier table: bands of a size, each with named columns.

    ``header`` is the first row (the column names); ``rows`` the data rows.
    ``group`` names the key column of a table with one tier set per symbol or
    asset (``per symbol``). ``ticks`` holds every ``tick`` line (at most one
    is allowed; the checker reports the others).
    """

    name: str
    key_unit: UnitRef
    group: str | None
    bands: Bands | None
    header: Row | None
    rows: tuple[Row, ...]
    ticks: tuple[Tick, ...] = ()
    meta: Meta = Meta()
    name_span: Span = span_field()
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Let:
    """A named definition, global or (``collection`` set) one value per record."""

    name: str
    collection: str | None
    type: TypeExpr | None
    expr: Expr
    meta: Meta = Meta()
    name_span: Span = span_field()
    span: Span = span_field()

    @property
    def qualname(self) -> str:
        return f"{self.collection}.{self.name}" if self.collection else self.name


@attrs.frozen(kw_only=True)
class Solve:
    """A solved quantity: the value of ``vary`` at which ``until`` starts or stops holding.

    ``collection`` is set for a per-record solve (one value per record, varying
    that record's field); otherwise ``vary`` names a scalar input.
    """

    name: str
    collection: str | None
    type: TypeExpr | None
    vary: str | None
    until: Expr | None
    tick: Expr | None
    meta: Meta = Meta()
    vary_span: Span | None = attrs.field(default=None, eq=False, repr=False)
    name_span: Span = span_field()
    span: Span = span_field()

    @property
    def qualname(self) -> str:
        return f"{self.collection}.{self.name}" if self.collection else self.name


@attrs.frozen(kw_only=True)
class Rung:
    """One level of a ladder; ``cond`` is None for ``otherwise``."""

    name: str
    cond: Expr | None
    actions: tuple[UnitDecl, ...]
    meta: Meta = Meta()
    name_span: Span = span_field()
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Levels:
    """A ladder; ``ticks`` holds every ``tick`` line (at most one is allowed)."""

    name: str
    rungs: tuple[Rung, ...]
    otherwise: Rung | None
    ticks: tuple[Tick, ...] = ()
    meta: Meta = Meta()
    name_span: Span = span_field()
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Target:
    """What a ``given`` sets or an ``expect`` checks: ``name`` or ``coll[i].name``."""

    name: str
    index: int | None = None
    field: str | None = None
    span: Span = span_field()

    def __str__(self) -> str:
        if self.index is None:
            return self.name
        return f"{self.name}[{self.index}].{self.field}"


@attrs.frozen(kw_only=True)
class Given:
    target: Target
    value: Expr
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Expect:
    target: Target
    value: Expr
    tolerance: Expr | None = None
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Example:
    title: str
    givens: tuple[Given, ...]
    expects: tuple[Expect, ...]
    profile: str | None = None
    profile_span: Span | None = attrs.field(default=None, eq=False, repr=False)
    meta: Meta = Meta()
    span: Span = span_field()


Decl = Header | Import | Units | ActionDecl | Input | Param | Profile | Table | Let | Solve | Levels | Example


@attrs.frozen(kw_only=True)
class File:
    """One parsed rule file: its declarations in source order."""

    path: str
    decls: tuple[Decl, ...]
    # names declared by blocks that did not parse (already reported): their uses stay silent
    broken: tuple[str, ...] = ()
