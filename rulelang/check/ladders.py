"""Check level ladders.

Input: a :class:`~rulelang.nodes.Levels`. Output: an :class:`~rulelang.ir.Ladder`
whose conditions are true/false formulas, whose actions are known, that ends
with ``otherwise``, and whose thresholds are in an order where every level can
be reached (for rungs that compare one measure with a constant or parameter).
A declared ``tick`` must be in the unit of (one of) the values the ladder compares.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal

from rulelang import ir, nodes
from rulelang.check.context import BUILTIN_ACTIONS, Context, did_you_mean
from rulelang.check.expressions import ExprChecker, describe, unit_dim
from rulelang.check.ticks import tick_literal
from rulelang.types import BOOL, Dim, NumType

_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}


def check_ladder(ctx: Context, lv: nodes.Levels) -> ir.Ladder | None:
    ok = True
    rungs: list[ir.Rung] = []
    seen: set[str] = set()
    for rung in (*lv.rungs, *([lv.otherwise] if lv.otherwise else [])):
        if rung.name in seen:
            ctx.error("RL0503", f"level `{rung.name}` appears twice in `{lv.name}`", rung.name_span)
            ok = False
        seen.add(rung.name)
        for act in rung.actions:
            if act.name not in ctx.actions and act.name not in ctx.failed:
                ctx.error(
                    "RL0206",
                    f"unknown action `{act.name}`",
                    act.span,
                    hint=did_you_mean(act.name, ctx.actions)
                    or f"declare it with `action {act.name}`, or use one of: " + ", ".join(BUILTIN_ACTIONS),
                )
                ok = False
        cond = None
        if rung.cond is not None:
            cond = ExprChecker(ctx).lower_as(rung.cond, BOOL, f"the condition of level `{rung.name}`")
            if cond is None:
                ok = False
        rungs.append(
            ir.Rung(
                name=rung.name,
                cond=cond,
                actions=tuple(a.name for a in rung.actions),
                meta=rung.meta,
                span=rung.span,
            )
        )
    if lv.otherwise is None:
        ctx.error(
            "RL0501",
            f"levels `{lv.name}` must end with `otherwise`",
            lv.name_span,
            hint="add a last line such as `otherwise safe`: the level when no condition holds",
        )
        ok = False
    tick = _tick(ctx, lv, rungs) if ok else None
    if not ok:
        return None
    _check_order(ctx, lv, rungs)
    return ir.Ladder(name=lv.name, rungs=tuple(rungs), meta=lv.meta, tick=tick, span=lv.span)


def comparisons(e: ir.Expr, defs: Mapping[str, ir.Definition], seen: set[str] | None = None) -> Iterator[ir.Compare]:
    """The numeric comparisons (``<``, ``<=``, ``>``, ``>=``) that decide a level's condition.

    Read through ``and``, ``or``, ``not`` and true/false definitions (``defs`` by name).
    """
    seen = set() if seen is None else seen
    match e:
        case ir.Compare() if e.op in ("<", "<=", ">", ">=") and isinstance(e.left.type, NumType):
            yield e
        case ir.Logic():
            yield from comparisons(e.left, defs, seen)
            yield from comparisons(e.right, defs, seen)
        case ir.Not():
            yield from comparisons(e.operand, defs, seen)
        case ir.DefRef() if e.name not in seen and e.name in defs:
            seen.add(e.name)
            yield from comparisons(defs[e.name].expr, defs, seen)


def compared_type(c: ir.Compare) -> NumType | None:
    """The type of the values ``c`` compares (the side that has a unit: ``0`` fits any)."""
    for side in (c.left.type, c.right.type):
        if isinstance(side, NumType) and side.dim is not None:
            return side
    return None


def _tick(ctx: Context, lv: nodes.Levels, rungs: list[ir.Rung]) -> ir.Tick | None:
    """The ladder's declared tick: in the unit of the values it compares (of one of them, if several)."""
    owner = f"levels `{lv.name}`"
    number = tick_literal(ctx, lv.ticks, owner, "tick 0.01%")
    if number is None:
        return None
    dim = unit_dim(ctx, number.unit) if number.unit is not None else Dim()
    if dim is None:
        return None
    kinds: list[NumType] = []
    for rung in rungs:
        for c in comparisons(rung.cond, ctx.definitions) if rung.cond is not None else ():
            t = compared_type(c)
            if t is not None and all(k.dim != t.dim for k in kinds):
                kinds.append(t)
    if not kinds:
        ctx.error(
            "RL0304",
            f"{owner} compares no numbers with `<`, `<=`, `>` or `>=`: a tick has nothing to step",
            number.span,
            hint="remove the `tick` line",
        )
        return None
    match = next((k for k in kinds if k.dim == dim), None)
    if match is None:
        written = describe(NumType(dim, number.style))
        ctx.error(
            "RL0301",
            f"the tick of {owner} must be "
            + " or ".join(describe(k) for k in kinds)
            + f" (the values it compares), but this is {written}",
            number.span,
            hint=None
            if len(kinds) == 1
            else "a ladder comparing values in several units takes its tick in one of them; "
            "the comparisons in the others keep the tick derived from their thresholds",
        )
        return None
    return ir.Tick(value=number.value, type=match, span=number.span)


def threshold(ctx: Context, cond: ir.Expr | None) -> tuple[ir.Expr, str, Decimal] | None:
    """Read ``measure op threshold`` from a rung's condition, or None if it has another shape."""
    if not isinstance(cond, ir.Compare) or cond.op in ("==", "!="):
        return None
    for measure, op, bound in ((cond.left, cond.op, cond.right), (cond.right, _FLIP[cond.op], cond.left)):
        value = _constant(ctx, bound)
        if value is not None and _constant(ctx, measure) is None:
            return measure, op, value
    return None


def _constant(ctx: Context, e: ir.Expr) -> Decimal | None:
    if isinstance(e, ir.Const) and isinstance(e.value, Decimal):
        return e.value
    if isinstance(e, ir.ParamRef):
        v = ctx.params[e.name].value
        return v if isinstance(v, Decimal) else None
    return None


def _check_order(ctx: Context, lv: nodes.Levels, rungs: list[ir.Rung]) -> None:
    shapes = [threshold(ctx, r.cond) for r in rungs if r.cond is not None]
    if len(shapes) < 2 or any(s is None for s in shapes):
        return
    measures = {s[0] for s in shapes if s is not None}
    if len(measures) != 1:
        return
    directions = {s[1][0] for s in shapes if s is not None}  # "<" or ">"
    if len(directions) != 1:
        return
    below = directions == {"<"}
    for i in range(1, len(shapes)):
        prev, cur = shapes[i - 1], shapes[i]
        assert prev is not None and cur is not None
        p, c = prev[2], cur[2]
        reachable = c > p if below else c < p
        if p == c and prev[1] != cur[1]:
            reachable = (prev[1], cur[1]) in (("<", "<="), (">", ">="))
        if not reachable:
            word = "above" if below else "below"
            ctx.error(
                "RL0502",
                f"level `{rungs[i].name}` can never be reached: "
                f"its threshold {_fmt(c, cur[0])} is not {word} "
                f"the threshold {_fmt(p, prev[0])} of `{rungs[i - 1].name}` before it",
                rungs[i].span,
                hint="order the levels from the most severe to the least, with thresholds moving "
                + ("up" if below else "down"),
            )


def _fmt(v: Decimal, measure: ir.Expr) -> str:
    """Show a threshold as the rule writes it: ``80%`` for a percent, ``50000 USDT`` for an amount."""
    t = measure.type
    if isinstance(t, NumType) and t.style == "percent":
        return f"{(v * 100).normalize():f}%"
    if isinstance(t, NumType) and t.style == "leverage":
        return f"{v.normalize():f}x"
    if isinstance(t, NumType) and t.dim is not None and not t.dim.dimensionless:
        return f"{v.normalize():f} {t.dim}"
    return f"{v.normalize():f}"
