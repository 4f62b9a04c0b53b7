"""The checked, lowered form of a ruleset that every backend reads.

Input: produced by :func:`rulelang.check.check_files` from the syntax tree.
Output: read by the reference interpreter, the Python code generator, the
documentation renderer and (later) the diff, solver and batch backends.

Every name is resolved (an :class:`InputRef` is an input, a :class:`FieldRef`
a field of the current record...), every expression has a type, tables hold
their rows as decimals with the derived maintenance amounts, and definitions
are listed in an order in which each one's dependencies come first.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from rulelang import nodes
from rulelang.source import Span, span_field
from rulelang.types import NumType, Type
from rulelang.values import NoSolution

Value = Decimal | bool | str | NoSolution

# ----------------------------------------------------------------- expressions


@attrs.frozen(kw_only=True)
class Const:
    value: Value
    type: Type
    text: str = ""  # the literal as written, for docs and explain
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class InputRef:
    name: str
    type: Type
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class ParamRef:
    name: str
    type: Type
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class DefRef:
    """A global definition."""

    name: str
    type: Type
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class FieldRef:
    """A field of the current record of ``collection``."""

    collection: str
    name: str
    type: Type
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class RecDefRef:
    """A per-record definition of the current record of ``collection``."""

    collection: str
    name: str
    type: Type
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Arith:
    op: str  # + - * /
    left: Expr
    right: Expr
    type: Type
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Neg:
    operand: Expr
    type: Type
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Compare:
    op: str  # < <= == != >= >
    left: Expr
    right: Expr
    type: Type
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Logic:
    op: str  # and / or
    left: Expr
    right: Expr
    type: Type
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Not:
    operand: Expr
    type: Type
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Cond:
    cond: Expr
    then: Expr
    otherwise: Expr
    type: Type
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Func:
    """``abs``, ``min`` or ``max`` of plain values."""

    name: str
    args: tuple[Expr, ...]
    type: Type
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Round:
    operand: Expr
    places: int
    mode: str  # half_up half_even down up floor ceiling
    type: Type
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Aggregate:
    """``sum/count/min/max/any/all`` over the records of ``collection``."""

    func: str
    collection: str
    body: Expr | None
    where: Expr | None
    default: Expr | None
    type: Type
    span: Span = span_field()


LOOKUP_MODES = ("progressive", "bracket", "step", "lookup", "cum", "tier")


@attrs.frozen(kw_only=True)
class Lookup:
    """A tier-table lookup; ``column`` is None for ``tier(table, size)``."""

    mode: str
    table: str
    column: str | None
    size: Expr
    group: Expr | None
    type: Type
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Solve:
    """The value of ``vary`` at which ``until`` starts (or stops) holding, everything else fixed.

    ``collection`` set: ``vary`` is a field of the current record, and only that
    record's field changes. Otherwise ``vary`` is a scalar input.
    """

    collection: str | None
    vary: str
    until: Expr
    tick: Expr | None
    type: Type
    span: Span = span_field()


Expr = (
    Const
    | InputRef
    | ParamRef
    | DefRef
    | FieldRef
    | RecDefRef
    | Arith
    | Neg
    | Compare
    | Logic
    | Not
    | Cond
    | Func
    | Round
    | Aggregate
    | Lookup
    | Solve
)

# ----------------------------------------------------------------- declarations


@attrs.frozen(kw_only=True)
class Bound:
    """A constraint on input values: ``value op bound`` must hold."""

    op: str
    bound: Decimal
    text: str


@attrs.frozen(kw_only=True)
class FieldDecl:
    name: str
    type: Type
    bound: Bound | None
    default: Value | None
    has_default: bool
    meta: nodes.Meta
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class InputDecl:
    """A scalar input, or (``fields`` not None) a collection of records."""

    name: str
    type: Type
    bound: Bound | None
    default: Value | None
    has_default: bool
    fields: tuple[FieldDecl, ...] | None
    meta: nodes.Meta
    span: Span = span_field()

    @property
    def is_collection(self) -> bool:
        return self.fields is not None


@attrs.frozen(kw_only=True)
class ParamDecl:
    name: str
    type: Type
    value: Value
    text: str
    meta: nodes.Meta
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class ProfileDecl:
    name: str
    values: tuple[tuple[str, Value], ...]
    meta: nodes.Meta
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Column:
    name: str
    type: Type


@attrs.frozen(kw_only=True)
class Tier:
    """One band: ``lower`` to ``upper`` (None: no upper bound) with its column values.

    ``cum`` holds, per rate column, the derived maintenance amount that makes
    ``size × rate − cum`` equal to the progressive sum.
    """

    number: int
    lower: Decimal
    upper: Decimal | None
    values: tuple[tuple[str, Value], ...]
    cum: tuple[tuple[str, Decimal], ...]
    span: Span = span_field()

    def value(self, column: str) -> Value:
        return dict(self.values)[column]

    def cum_of(self, column: str) -> Decimal:
        return dict(self.cum)[column]


@attrs.frozen(kw_only=True)
class Tick:
    """A declared ``tick``: the smallest step of a table's size or of a ladder's compared values.

    ``value`` is above zero; ``type`` is the table's size type (a number written
    without a unit takes it), or for a ladder the unit of the compared values it
    steps (a percent for a ratio).
    """

    value: Decimal
    type: NumType
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class TableDecl:
    """A tier table. ``tiers`` maps a group key (``""`` for an ungrouped table) to its bands.

    ``tick`` is the declared step of the size (``tick 0.01 USDT``), if any.
    """

    name: str
    key_type: Type
    group: str | None
    lower_inclusive: bool
    columns: tuple[Column, ...]
    tiers: tuple[tuple[str, tuple[Tier, ...]], ...]
    meta: nodes.Meta
    tick: Tick | None = None
    span: Span = span_field()

    def groups(self) -> dict[str, tuple[Tier, ...]]:
        return dict(self.tiers)

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


@attrs.frozen(kw_only=True)
class Definition:
    """A named value: global, or (``collection`` set) one per record."""

    name: str
    collection: str | None
    expr: Expr
    type: Type
    meta: nodes.Meta
    span: Span = span_field()

    @property
    def qualname(self) -> str:
        return f"{self.collection}.{self.name}" if self.collection else self.name


@attrs.frozen(kw_only=True)
class Rung:
    name: str
    cond: Expr | None  # None: otherwise
    actions: tuple[str, ...]
    meta: nodes.Meta
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Ladder:
    """A ladder; ``tick`` (declared, optional) steps the compared values of its unit."""

    name: str
    rungs: tuple[Rung, ...]  # the last one is the `otherwise` rung
    meta: nodes.Meta
    tick: Tick | None = None
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Expectation:
    target: nodes.Target
    value: Value
    tolerance: Decimal | None
    text: str
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class ExampleDecl:
    title: str
    inputs: dict[str, object] = attrs.field(eq=False)  # plain values, as an account would send them
    expects: tuple[Expectation, ...]
    profile: str | None
    meta: nodes.Meta
    span: Span = span_field()


@attrs.frozen(kw_only=True)
class Header:
    name: str
    meta: nodes.Meta
    version: str | None
    effective: str | None


@attrs.frozen(kw_only=True)
class Action:
    name: str
    meta: nodes.Meta
    builtin: bool


@attrs.frozen(kw_only=True)
class Ruleset:
    """A checked ruleset; ``definitions`` are in dependency order."""

    path: str
    header: Header
    units: tuple[str, ...]
    inputs: tuple[InputDecl, ...]
    params: tuple[ParamDecl, ...]
    profiles: tuple[ProfileDecl, ...]
    tables: tuple[TableDecl, ...]
    definitions: tuple[Definition, ...]
    ladders: tuple[Ladder, ...]
    actions: tuple[Action, ...]
    examples: tuple[ExampleDecl, ...]
    files: tuple[str, ...]  # every file read, the ruleset's own first
    digest: str  # sha256 of those files' text, for docs footers and caches
    globs: tuple[tuple[str, tuple[str, ...]], ...] = ()  # each import pattern and the files it matched

    def input(self, name: str) -> InputDecl | None:
        return next((i for i in self.inputs if i.name == name), None)

    def table(self, name: str) -> TableDecl:
        return next(t for t in self.tables if t.name == name)

    def definition(self, qualname: str) -> Definition | None:
        return next((d for d in self.definitions if d.qualname == qualname), None)


def children(e: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of ``e``."""
    match e:
        case Arith() | Compare() | Logic():
            return (e.left, e.right)
        case Neg() | Not() | Round():
            return (e.operand,)
        case Cond():
            return (e.cond, e.then, e.otherwise)
        case Func():
            return e.args
        case Aggregate():
            return tuple(x for x in (e.body, e.where, e.default) if x is not None)
        case Lookup():
            return (e.size,) if e.group is None else (e.group, e.size)
        case Solve():
            return (e.until,) if e.tick is None else (e.until, e.tick)
    return ()


def walk(e: Expr) -> list[Expr]:
    """``e`` and every expression below it, parents first."""
    out = [e]
    for c in children(e):
        out.extend(walk(c))
    return out
