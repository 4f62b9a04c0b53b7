"""Check ``solve`` declarations (liquidation price, warning price, largest size in a tier...).

Input: a :class:`~rulelang.nodes.Solve`. Output: an :class:`~rulelang.ir.Solve`
expression whose ``vary`` is a numeric field of the record (per-record solve)
or a numeric scalar input, whose ``until`` is a true/false formula in the same
scope, and whose ``tick`` (optional) has the unit of ``vary``. Without one, a
solve that varies a table's size itself takes the table's declared tick.
"""

from __future__ import annotations

from decimal import Decimal

from rulelang import ir, nodes
from rulelang.check.context import Context, did_you_mean
from rulelang.check.expressions import ExprChecker, describe
from rulelang.display import show
from rulelang.types import BOOL, NumType, same_dim


def lower_solve(ctx: Context, checker: ExprChecker, s: nodes.Solve) -> ir.Solve | None:
    shape = "write `vary FIELD` and `until CONDITION` (and optionally `tick STEP`) in the indented block"
    if s.vary is None or s.until is None:
        missing = " and ".join(w for w, v in (("`vary`", s.vary), ("`until`", s.until)) if v is None)
        ctx.error("RL0801", f"`solve {s.qualname}` needs {missing}", s.name_span, hint=shape)
        return None
    vary_type = _vary_type(ctx, s)
    until = checker.lower_as(s.until, BOOL, f"the condition of `solve {s.qualname}`")
    tick = checker.lower(s.tick) if s.tick is not None else None
    if vary_type is None or until is None or (s.tick is not None and tick is None):
        return None
    if tick is not None:
        assert s.tick is not None
        if not isinstance(tick.type, NumType) or not same_dim(vary_type, tick.type):
            ctx.error(
                "RL0301",
                f"the tick of `solve {s.qualname}` must be {describe(vary_type)}, but this is {describe(tick.type)}",
                s.tick.span,
            )
            return None
    assert s.vary is not None
    if tick is None:
        tick = _table_tick(ctx, s, until, vary_type)
    return ir.Solve(collection=s.collection, vary=s.vary, until=until, tick=tick, type=vary_type, span=s.span)


def _table_tick(ctx: Context, s: nodes.Solve, until: ir.Expr, vary_type: NumType) -> ir.Const | None:
    """A solve without a tick of its own takes the declared tick of the table whose size it varies.

    That is a table the condition reads (through definitions) with a lookup whose
    size is the varied input or field itself; when several such tables declare
    different ticks, there is no default.
    """

    def varied(e: ir.Expr) -> bool:
        if s.collection is None:
            return isinstance(e, ir.InputRef) and e.name == s.vary
        return isinstance(e, ir.FieldRef) and e.collection == s.collection and e.name == s.vary

    found: dict[Decimal, ir.Tick] = {}
    seen: set[str] = set()
    stack = [until]
    while stack:
        e = stack.pop()
        if isinstance(e, ir.Solve):
            continue  # another solve varies its own value
        stack.extend(ir.children(e))
        if isinstance(e, ir.Lookup) and varied(e.size):
            table = ctx.tables.get(e.table)
            if table is not None and table.tick is not None and same_dim(vary_type, table.tick.type):
                found.setdefault(table.tick.value, table.tick)
        elif isinstance(e, (ir.DefRef, ir.RecDefRef)):
            qual = e.name if isinstance(e, ir.DefRef) else f"{e.collection}.{e.name}"
            d = ctx.definitions.get(qual)
            if qual not in seen and d is not None:
                seen.add(qual)
                stack.append(d.expr)
    if len(found) != 1:
        return None
    (tick,) = found.values()
    return ir.Const(value=tick.value, type=tick.type, text=show(tick.value, tick.type), span=tick.span)


def _vary_type(ctx: Context, s: nodes.Solve) -> NumType | None:
    assert s.vary is not None
    if s.collection is not None:
        decl = ctx.inputs.get(s.collection)
        if decl is None or decl.fields is None:
            return None  # reported where the solve was registered
        field = next((f for f in decl.fields if f.name == s.vary), None)
        if field is None:
            ctx.error(
                "RL0802",
                f"`{s.vary}` is not a field of `{s.collection}`",
                s.vary_span,
                hint=did_you_mean(s.vary, [f.name for f in decl.fields])
                or "a per-record solve varies a field of the record",
            )
            return None
        ctx.used_fields.add((s.collection, s.vary))
        ctx.used_inputs.add(s.collection)
        t = field.type
    else:
        scalar = ctx.inputs.get(s.vary)
        if scalar is None or scalar.fields is not None:
            names = [i.name for i in ctx.inputs.values() if i.fields is None]
            ctx.error(
                "RL0802",
                f"`{s.vary}` is not a scalar input",
                s.vary_span,
                hint=did_you_mean(s.vary, names) or "a solve varies an input (or, per record, a field)",
            )
            return None
        ctx.used_inputs.add(s.vary)
        t = scalar.type
    if not isinstance(t, NumType):
        ctx.error("RL0802", f"`solve` varies numbers, but `{s.vary}` is {describe(t)}", s.vary_span)
        return None
    return t
