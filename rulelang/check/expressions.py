"""Resolve, type-check and lower expressions.

Input: a :mod:`rulelang.nodes` expression and the scope it stands in (global,
or the records of one collection). Output: the typed :mod:`rulelang.ir`
expression, or None when it has an error (already reported; callers stay
silent about None so one mistake gives one diagnostic).
"""

from __future__ import annotations

from rulelang import ir, nodes
from rulelang.check.context import Context, did_you_mean
from rulelang.source import Span
from rulelang.types import (
    BOOL,
    NUMBER,
    TEXT,
    BoolType,
    CollectionType,
    Dim,
    EnumType,
    EnumValueType,
    NumType,
    TextType,
    Type,
    compatible,
    same_dim,
)

ROUNDING_MODES = ("half_up", "half_even", "down", "up", "floor", "ceiling")
AGGREGATES = ("sum", "count", "min", "max", "any", "all")
SCALAR_FUNCS = ("abs", "min", "max", "round", "known")


def unit_dim(ctx: Context, unit: nodes.UnitRef) -> Dim | None:
    """The dimension of a written unit; reports undeclared units."""
    counts: dict[str, int] = {}
    ok = True
    for names, sign in ((unit.numerator, 1), (unit.denominator, -1)):
        for name in names:
            if name not in ctx.units and name in ctx.failed:
                ok = False  # declared on a `units` line that did not parse
            elif name not in ctx.units:
                hint = did_you_mean(name, ctx.units)
                if hint is None:
                    hint = f"declare it with `units {name}`"
                    if "/" in str(unit):
                        hint += "; to divide by a value, put spaces around `/`"
                ctx.error("RL0203", f"unknown unit `{name}`", unit.span, hint=hint)
                ok = False
            counts[name] = counts.get(name, 0) + sign
    return Dim.of(counts) if ok else None


def declared_type(ctx: Context, t: nodes.TypeExpr) -> Type | None:
    """The type written in a declaration (``USDT``, ``percent``, ``long | short``...)."""
    if isinstance(t, nodes.EnumType):
        ctx.enum_values.update(t.values)
        return EnumType(t.values)
    if isinstance(t, nodes.ListType):
        return None
    unit = t.unit
    if not unit.denominator and len(unit.numerator) == 1:
        name = unit.numerator[0]
        if name in ("number", "percent", "leverage"):
            return NumType(Dim(), name)
        if name == "rate":
            return NumType(Dim(), "percent")
        if name == "bool":
            return BOOL
        if name == "text":
            return TEXT
    dim = unit_dim(ctx, unit)
    return NumType(dim) if dim is not None else None


def describe(t: Type) -> str:
    if isinstance(t, NumType) and t.dim is not None and not t.dim.dimensionless:
        return f"an amount in {t.dim}"
    if isinstance(t, NumType):
        return "a plain number" if t.style == "number" else f"a {t.style}"
    if isinstance(t, BoolType):
        return "a true/false value"
    if isinstance(t, TextType):
        return "a text"
    return str(t)


class ExprChecker:
    """Lower expressions in one scope: ``collection`` is None for global formulas."""

    def __init__(self, ctx: Context, collection: str | None = None) -> None:
        self.ctx = ctx
        self.scopes: list[str] = [collection] if collection else []
        self.own_scopes = len(self.scopes)  # the definition's own record scope; more are aggregates
        self.deps: set[str] = set()

    # ------------------------------------------------------------ entry points
    def lower(self, e: nodes.Expr) -> ir.Expr | None:
        method = getattr(self, "_" + type(e).__name__.lower())
        result: ir.Expr | None = method(e)
        return result

    def lower_as(self, e: nodes.Expr, expected: Type, what: str) -> ir.Expr | None:
        """Lower ``e`` and require its type to fit ``expected``."""
        out = self.lower(e)
        if out is None:
            return None
        if not compatible(expected, out.type):
            self.ctx.error(
                "RL0301" if isinstance(expected, NumType) else "RL0302",
                f"{what} must be {describe(expected)}, but this is {describe(out.type)}",
                e.span,
            )
            return None
        return out

    # ------------------------------------------------------------ literals
    def _number(self, e: nodes.Number) -> ir.Expr | None:
        if e.unit is None:
            dim: Dim | None = None if e.value == 0 and e.style == "number" else Dim()
            return ir.Const(value=e.value, type=NumType(dim, e.style), text=e.text, span=e.span)
        d = unit_dim(self.ctx, e.unit)
        if d is None:
            return None
        return ir.Const(value=e.value, type=NumType(d), text=e.text, span=e.span)

    def _string(self, e: nodes.String) -> ir.Expr:
        return ir.Const(value=e.value, type=TEXT, text=f'"{e.value}"', span=e.span)

    def _boolean(self, e: nodes.Boolean) -> ir.Expr:
        return ir.Const(value=e.value, type=BOOL, text="true" if e.value else "false", span=e.span)

    # ------------------------------------------------------------ names
    def _name(self, e: nodes.Name) -> ir.Expr | None:
        ctx = self.ctx
        for depth in range(len(self.scopes) - 1, -1, -1):
            coll = self.scopes[depth]
            decl = ctx.inputs[coll]
            assert decl.fields is not None
            field = next((f for f in decl.fields if f.name == e.name), None)
            if (field is not None or f"{coll}.{e.name}" in ctx.lets) and depth < self.own_scopes:
                self._warn_hidden(e, coll)
            if field is not None:
                ctx.used_fields.add((coll, e.name))
                ctx.used_inputs.add(coll)  # a per-record definition reading a field uses the collection
                return ir.FieldRef(collection=coll, name=e.name, type=field.type, span=e.span)
            qual = f"{coll}.{e.name}"
            if qual in ctx.lets:
                t = ctx.definition_type(qual, e.span)
                self.deps.add(qual)
                if t is None:
                    return None
                return ir.RecDefRef(collection=coll, name=e.name, type=t, span=e.span)
            if qual in ctx.failed:
                return None
        if e.name in ctx.inputs:
            decl_in = ctx.inputs[e.name]
            ctx.used_inputs.add(e.name)
            if decl_in.is_collection:
                ctx.error(
                    "RL0304",
                    f"`{e.name}` is a collection of records; use it in an aggregate such as "
                    f"`sum({e.name}, ...)` or `count({e.name})`",
                    e.span,
                )
                return None
            return ir.InputRef(name=e.name, type=decl_in.type, span=e.span)
        if e.name in ctx.params:
            return ir.ParamRef(name=e.name, type=ctx.params[e.name].type, span=e.span)
        if e.name in ctx.lets:
            t = ctx.definition_type(e.name, e.span)
            self.deps.add(e.name)
            if t is None:
                return None
            return ir.DefRef(name=e.name, type=t, span=e.span)
        if e.name in ctx.enum_values:
            return ir.Const(value=e.name, type=EnumValueType(e.name), text=e.name, span=e.span)
        if e.name in ctx.tables:
            ctx.error(
                "RL0304",
                f"`{e.name}` is a table; read it with a lookup such as `bracket({e.name}.mmr, size)`",
                e.span,
            )
            return None
        if e.name not in ctx.failed:
            self._undefined(e.name, e.span)
        return None

    def _warn_hidden(self, e: nodes.Name, coll: str) -> None:
        """Warn when a record's name hides an account-level one: the formula may mean the other."""
        ctx = self.ctx
        outer = ctx.lets.get(e.name)
        span = outer.name_span if outer is not None else None
        if span is None and e.name in ctx.inputs:
            span = ctx.inputs[e.name].span
        if span is None and e.name in ctx.params:
            span = ctx.params[e.name].span
        if span is None:
            return
        ctx.warn(
            "RL0702",
            f"`{e.name}` here is the record's own `{e.name}`; the account-level `{e.name}` (line {span.line}) "
            "cannot be read in a per-record formula",
            e.span,
            hint=f"give the account-level value another name (e.g. `total_{e.name}`) to use it here",
        )

    def _scope_names(self) -> list[str]:
        names = self.ctx.global_names()
        for coll in self.scopes:
            decl = self.ctx.inputs[coll]
            assert decl.fields is not None
            names += [f.name for f in decl.fields]
            names += [q.split(".", 1)[1] for q in self.ctx.lets if q.startswith(coll + ".")]
        return names + sorted(self.ctx.enum_values)

    def _undefined(self, name: str, span: Span) -> None:
        if self.ctx.imports_failed:
            return  # the failed import is reported; it may well define this name
        if name in self.ctx.units:
            self.ctx.error(
                "RL0201",
                f"`{name}` is a unit, not a value",
                span,
                hint=f"a compound unit is written without spaces (`USDT/{name}`); "
                f"an amount is a number followed by its unit (`1 {name}`)",
            )
            return
        hint = did_you_mean(name, self._scope_names())
        if hint is None and not self.scopes:
            colls = [
                c for c, d in self.ctx.inputs.items() if d.is_collection and any(f.name == name for f in d.fields or ())
            ]
            if colls:
                c = colls[0]
                hint = f"`{name}` is a field of `{c}`; use it inside `sum({c}, ...)` or a per-record `let {c}.x = ...`"
        self.ctx.error("RL0201", f"undefined name `{name}`", span, hint=hint)

    def _attr(self, e: nodes.Attr) -> ir.Expr | None:
        self.ctx.error(
            "RL0304",
            f"`{_text(e)}` can only be used as the first argument of a table lookup "
            "such as `bracket(table.column, size)`",
            e.span,
        )
        return None

    def _index(self, e: nodes.Index) -> ir.Expr | None:
        return self._attr(e)  # type: ignore[arg-type]

    # ------------------------------------------------------------ operators
    def _unary(self, e: nodes.Unary) -> ir.Expr | None:
        if e.op == "not":
            inner = self.lower_as(e.operand, BOOL, "the operand of `not`")
            return None if inner is None else ir.Not(operand=inner, type=BOOL, span=e.span)
        inner = self.lower(e.operand)
        if inner is None:
            return None
        if not isinstance(inner.type, NumType):
            self.ctx.error("RL0302", f"cannot negate {describe(inner.type)}", e.span)
            return None
        return ir.Neg(operand=inner, type=inner.type, span=e.span)

    def _binary(self, e: nodes.Binary) -> ir.Expr | None:
        if e.op in ("and", "or"):
            left = self.lower_as(e.left, BOOL, f"each side of `{e.op}`")
            right = self.lower_as(e.right, BOOL, f"each side of `{e.op}`")
            if left is None or right is None:
                return None
            return ir.Logic(op=e.op, left=left, right=right, type=BOOL, span=e.span)
        left, right = self.lower(e.left), self.lower(e.right)
        if left is None or right is None:
            return None
        if e.op in ("+", "-", "*", "/"):
            return self._arith(e, left, right)
        return self._compare(e, left, right)

    def _arith(self, e: nodes.Binary, left: ir.Expr, right: ir.Expr) -> ir.Expr | None:
        lt, rt = left.type, right.type
        for side, st in (("left", lt), ("right", rt)):
            if not isinstance(st, NumType):
                self.ctx.error("RL0302", f"`{e.op}` needs numbers, but its {side} side is {describe(st)}", e.op_span)
                return None
        assert isinstance(lt, NumType) and isinstance(rt, NumType)
        if e.op in ("+", "-"):
            if not same_dim(lt, rt):
                verb = "add" if e.op == "+" else "subtract"
                self.ctx.error(
                    "RL0301",
                    f"cannot {verb} {describe(rt)} {'to' if e.op == '+' else 'from'} {describe(lt)}",
                    e.op_span,
                    hint="both sides of `+` and `-` must have the same unit",
                )
                return None
            dim = lt.dim if lt.dim is not None else rt.dim
            style = lt.style if lt.style == rt.style or rt.dim is None else (rt.style if lt.dim is None else "number")
            t: NumType = NumType(dim, style)
        else:
            ld = lt.dim if lt.dim is not None else Dim()
            rd = rt.dim if rt.dim is not None else Dim()
            dim = ld * rd if e.op == "*" else ld / rd
            if lt.dim is None and e.op == "*":
                t = NumType(None)  # 0 × anything is still the polymorphic zero
            else:
                t = NumType(dim, _product_style(lt, rt, e.op) if dim.dimensionless else "number")
        return ir.Arith(op=e.op, left=left, right=right, type=t, span=e.span)

    def _compare(self, e: nodes.Binary, left: ir.Expr, right: ir.Expr) -> ir.Expr | None:
        lt, rt = left.type, right.type
        ok: bool | None = True  # None: already reported
        if isinstance(lt, NumType) and isinstance(rt, NumType):
            if not same_dim(lt, rt):
                self.ctx.error(
                    "RL0301",
                    f"cannot compare {describe(lt)} with {describe(rt)}",
                    e.op_span,
                    hint="both sides of a comparison must have the same unit",
                )
                return None
        elif e.op not in ("==", "!="):
            ok = False
        else:
            ok = _equatable(self.ctx, lt, rt, e) and _equatable(self.ctx, rt, lt, e)
            if ok is None:
                return None
        if not ok:
            self.ctx.error("RL0302", f"cannot compare {describe(lt)} with {describe(rt)} using `{e.op}`", e.op_span)
            return None
        return ir.Compare(op=e.op, left=left, right=right, type=BOOL, span=e.span)

    def _if(self, e: nodes.If) -> ir.Expr | None:
        cond = self.lower_as(e.cond, BOOL, "the condition of `if`")
        then, other = self.lower(e.then), self.lower(e.otherwise)
        if cond is None or then is None or other is None:
            return None
        t = _join(then.type, other.type)
        if t is None:
            self.ctx.error(
                "RL0301" if isinstance(then.type, NumType) else "RL0302",
                f"the two branches of `if` differ: {describe(then.type)} after `then`, "
                f"{describe(other.type)} after `else`",
                e.otherwise.span,
            )
            return None
        return ir.Cond(cond=cond, then=then, otherwise=other, type=t, span=e.span)

    def _listlit(self, e: nodes.ListLit) -> None:
        self.ctx.error("RL0304", "a list can only be given as example input", e.span)

    def _recordlit(self, e: nodes.RecordLit) -> None:
        self.ctx.error("RL0304", "a record can only be given as example input", e.span)

    # ------------------------------------------------------------ calls
    def _call(self, e: nodes.Call) -> ir.Expr | None:
        from rulelang.check.lookups import lower_lookup

        f = e.func
        if f in ir.LOOKUP_MODES:
            return lower_lookup(self, e)
        first = e.args[0].value if e.args else None
        if (
            f in AGGREGATES
            and isinstance(first, nodes.Name)
            and first.name in self.ctx.inputs
            and self.ctx.inputs[first.name].is_collection
        ):
            return self._aggregate(e, first.name)
        if f in AGGREGATES and isinstance(first, nodes.Name) and first.name in self.ctx.failed:
            return None
        if f in ("count", "any", "all", "sum"):
            self.ctx.error(
                "RL0304",
                f"`{f}` works over a collection: its first argument must be a collection input",
                e.args[0].span if e.args else e.span,
                hint=f"e.g. `{f}(positions, ...)`",
            )
            return None
        if any(a.kind for a in e.args):
            bad = next(a for a in e.args if a.kind)
            self.ctx.error("RL0304", f"`{bad.kind}` is only allowed in an aggregate over a collection", bad.span)
            return None
        if f == "round":
            return self._round(e)
        if f == "known":
            return self._known(e)
        if f in ("abs", "min", "max"):
            return self._scalar_func(e)
        names = [*AGGREGATES, *SCALAR_FUNCS, *ir.LOOKUP_MODES]
        self.ctx.error("RL0204", f"unknown function `{f}`", e.func_span, hint=did_you_mean(f, names))
        return None

    def _known(self, e: nodes.Call) -> ir.Expr | None:
        """``known(x)``: whether a solved quantity has a value (a solve may find none)."""
        if len(e.args) != 1:
            self.ctx.error("RL0304", "`known` takes one value", e.span, hint="write `known(liquidation_price)`")
            return None
        arg = self.lower(e.args[0].value)
        if arg is None:
            return None
        return ir.Func(name="known", args=(arg,), type=BOOL, span=e.span)

    def _scalar_func(self, e: nodes.Call) -> ir.Expr | None:
        if e.func == "abs" and len(e.args) != 1:
            self.ctx.error("RL0304", "`abs` takes one argument", e.span)
            return None
        if e.func != "abs" and len(e.args) < 2:
            self.ctx.error("RL0304", f"`{e.func}` of plain values takes at least two arguments", e.span)
            return None
        args = [self.lower(a.value) for a in e.args]
        if any(a is None for a in args):
            return None
        lowered = [a for a in args if a is not None]
        t: Type | None = lowered[0].type
        for a, raw in zip(lowered, e.args, strict=True):
            if not isinstance(a.type, NumType):
                self.ctx.error("RL0302", f"`{e.func}` needs numbers, but this is {describe(a.type)}", raw.span)
                return None
            joined = _join(t, a.type) if t is not None else None
            if joined is None:
                self.ctx.error(
                    "RL0301",
                    f"the arguments of `{e.func}` must have the same unit: {describe(lowered[0].type)} "
                    f"and {describe(a.type)}",
                    raw.span,
                )
                return None
            t = joined
        assert t is not None
        return ir.Func(name=e.func, args=tuple(lowered), type=t, span=e.span)

    def _round(self, e: nodes.Call) -> ir.Expr | None:
        usage = "write `round(value, places, mode)`, mode one of " + ", ".join(ROUNDING_MODES)
        if len(e.args) != 3:
            self.ctx.error(
                "RL0304", "`round` takes a value, a number of places and a rounding mode", e.span, hint=usage
            )
            return None
        value = self.lower(e.args[0].value)
        places_node, mode_node = e.args[1].value, e.args[2].value
        places_neg = (
            isinstance(places_node, nodes.Number) and places_node.value != places_node.value.to_integral_value()
        )
        if (
            not isinstance(places_node, nodes.Number)
            or places_node.unit is not None
            or places_neg
            or places_node.style != "number"
        ):
            self.ctx.error(
                "RL0304",
                "the places of `round` must be a whole number such as `2`",
                places_node.span,
                hint=usage,
            )
            return None
        if not isinstance(mode_node, nodes.Name) or mode_node.name not in ROUNDING_MODES:
            name = mode_node.name if isinstance(mode_node, nodes.Name) else ""
            self.ctx.error(
                "RL0304",
                "unknown rounding mode" + (f" `{name}`" if name else ""),
                mode_node.span,
                hint=did_you_mean(name, ROUNDING_MODES) or usage,
            )
            return None
        if value is None:
            return None
        if not isinstance(value.type, NumType):
            self.ctx.error("RL0302", f"cannot round {describe(value.type)}", e.args[0].span)
            return None
        return ir.Round(operand=value, places=int(places_node.value), mode=mode_node.name, type=value.type, span=e.span)

    def _aggregate(self, e: nodes.Call, coll: str) -> ir.Expr | None:
        f = e.func
        self.ctx.used_inputs.add(coll)
        plain = [a for a in e.args[1:] if not a.kind]
        where = [a for a in e.args if a.kind == "where"]
        default = [a for a in e.args if a.kind == "default"]
        needs_body = f != "count"
        if len(plain) != (1 if needs_body else 0) or len(where) > 1 or len(default) > 1:
            shapes = {
                "count": f"`count({coll})` or `count({coll}, where condition)`",
                "sum": f"`sum({coll}, value)` or `sum({coll}, value, where condition)`",
                "any": f"`any({coll}, condition)`",
                "all": f"`all({coll}, condition)`",
            }
            shape = shapes.get(f, f"`{f}({coll}, value, default fallback)`")
            self.ctx.error("RL0304", f"wrong arguments for `{f}`", e.span, hint=f"write {shape}")
            return None
        if default and f not in ("min", "max"):
            self.ctx.error(
                "RL0304",
                f"`default` is only for `min` and `max`; `{f}` of no records is defined",
                default[0].span,
            )
            return None
        self.scopes.append(coll)
        try:
            body = None
            if needs_body:
                expected_bool = f in ("any", "all")
                body = (
                    self.lower_as(plain[0].value, BOOL, f"the condition of `{f}`")
                    if expected_bool
                    else self.lower(plain[0].value)
                )
                if body is None:
                    return None
                if not expected_bool and not isinstance(body.type, NumType):
                    self.ctx.error("RL0302", f"`{f}` needs numbers, but this is {describe(body.type)}", plain[0].span)
                    return None
            cond = self.lower_as(where[0].value, BOOL, "the condition after `where`") if where else None
            if where and cond is None:
                return None
        finally:
            self.scopes.pop()
        dflt = None
        if default:
            dflt = self.lower(default[0].value)
            if dflt is None:
                return None
            assert body is not None
            if _join(body.type, dflt.type) is None:
                self.ctx.error(
                    "RL0301",
                    f"the default of `{f}` must be {describe(body.type)}, but this is {describe(dflt.type)}",
                    default[0].span,
                )
                return None
        if f == "count":
            t: Type = NUMBER
        elif f in ("any", "all"):
            t = BOOL
        else:
            assert body is not None
            t = body.type
        return ir.Aggregate(func=f, collection=coll, body=body, where=cond, default=dflt, type=t, span=e.span)


def _product_style(lt: NumType, rt: NumType, op: str) -> str:
    """Display style of a dimensionless product or quotient."""
    styles = {lt.style, rt.style} - {"number"}
    if op == "*" and len(styles) == 1 and "number" in (lt.style, rt.style):
        return styles.pop()
    return "number"


def _join(a: Type | None, b: Type) -> Type | None:
    """The common type of two branches or arguments, or None if they differ."""
    if a is None:
        return None
    if isinstance(a, NumType) and isinstance(b, NumType):
        if not same_dim(a, b):
            return None
        if a.dim is None:
            return b
        if b.dim is None:
            return a
        return a if a.style == b.style else NumType(a.dim)
    if isinstance(a, EnumValueType) and isinstance(b, EnumValueType):
        return EnumType(tuple(dict.fromkeys((a.value, b.value))))
    if isinstance(a, EnumType) and isinstance(b, EnumValueType):
        return a if b.value in a.values else EnumType((*a.values, b.value))
    if isinstance(b, EnumType) and isinstance(a, EnumValueType):
        return _join(b, a)
    return a if a == b else None


def _equatable(ctx: Context, a: Type, b: Type, e: nodes.Binary) -> bool | None:
    """Whether ``a == b`` can hold; None when a misspelt enumeration value was reported."""
    if isinstance(a, EnumType) and isinstance(b, EnumValueType):
        if b.value not in a.values:
            ctx.error(
                "RL0302",
                f"`{b.value}` is not one of the values of this enumeration ({a})",
                e.right.span if isinstance(e.right, nodes.Name) and e.right.name == b.value else e.left.span,
                hint=did_you_mean(b.value, a.values),
            )
            return None
        return True
    if isinstance(a, EnumValueType):
        return isinstance(b, (EnumType, EnumValueType))
    if isinstance(a, CollectionType) or isinstance(b, CollectionType):
        return False
    if isinstance(a, EnumType) and isinstance(b, EnumType):
        return bool(set(a.values) & set(b.values))
    return type(a) is type(b)


def _text(e: nodes.Expr) -> str:
    return e.span.text if e.span is not None else "?"


def literal_value(ctx: Context, e: nodes.Expr, expected: Type, what: str) -> tuple[ir.Value, str] | None:
    """Read a constant written where only a literal may stand (defaults, parameters, bounds).

    A number written without a unit takes the expected unit (as in account data).
    """
    if isinstance(e, nodes.Number) and isinstance(expected, NumType):
        if e.unit is not None:
            d = unit_dim(ctx, e.unit)
            if d is None:
                return None
            if expected.dim is not None and d != expected.dim:
                ctx.error("RL0301", f"{what} must be {describe(expected)}, but this is an amount in {d}", e.span)
                return None
        return e.value, e.text
    if isinstance(e, nodes.Boolean) and isinstance(expected, BoolType):
        return e.value, "true" if e.value else "false"
    if isinstance(e, nodes.String) and isinstance(expected, TextType):
        return e.value, f'"{e.value}"'
    if isinstance(e, nodes.Name) and isinstance(expected, EnumType):
        if e.name not in expected.values:
            ctx.error(
                "RL0302",
                f"`{e.name}` is not one of {expected}",
                e.span,
                hint=did_you_mean(e.name, expected.values),
            )
            return None
        return e.name, e.name
    ctx.error("RL0304", f"{what} must be a literal value of type {expected}", e.span)
    return None
