"""Check example blocks and turn them into plain inputs and expectations.

Input: a :class:`~rulelang.nodes.Example`. Output: an
:class:`~rulelang.ir.ExampleDecl` whose inputs are plain values (as an account
would send them) and whose expectations are typed constants. Values are
validated against the inputs' types when the example runs, through the same
path as real account data.
"""

from __future__ import annotations

from decimal import Decimal

from rulelang import ir, nodes
from rulelang.check.context import Context, did_you_mean
from rulelang.check.expressions import describe, literal_value, unit_dim
from rulelang.types import NumType, Type


def check_example(
    ctx: Context, ex: nodes.Example, ladders: dict[str, ir.Ladder], profiles: set[str]
) -> ir.ExampleDecl | None:
    ok = True
    inputs: dict[str, object] = {}
    for g in ex.givens:
        decl = ctx.inputs.get(g.target.name)
        if decl is None and g.target.name in ctx.failed:
            ok = False
            continue
        if decl is None or g.target.index is not None:
            ctx.error(
                "RL0601",
                f"`{g.target}` is not an input",
                g.target.span,
                hint=did_you_mean(g.target.name, ctx.inputs),
            )
            ok = False
            continue
        if g.target.name in inputs:
            ctx.error("RL0202", f"`{g.target.name}` is given twice", g.target.span)
            ok = False
            continue
        value = _plain(ctx, g.value, decl)
        if value is _BAD:
            ok = False
        inputs[g.target.name] = value
    expects: list[ir.Expectation] = []
    for x in ex.expects:
        got = _expectation(ctx, x, ladders)
        if got is None:
            ok = False
        else:
            expects.append(got)
    if ex.profile is not None and ex.profile not in profiles and ex.profile not in ctx.failed:
        ctx.error(
            "RL0601",
            f"unknown profile `{ex.profile}`",
            ex.profile_span,
            hint=did_you_mean(ex.profile, profiles),
        )
        ok = False
    if not ok:
        return None
    return ir.ExampleDecl(
        title=ex.title, inputs=inputs, expects=tuple(expects), profile=ex.profile, meta=ex.meta, span=ex.span
    )


_BAD = object()


def _plain(ctx: Context, e: nodes.Expr, decl: ir.InputDecl | ir.FieldDecl) -> object:
    """Turn a literal into the plain value an account would send, checking units."""
    fields = getattr(decl, "fields", None)
    if fields is not None:
        if not isinstance(e, nodes.ListLit):
            ctx.error("RL0602", f"`{decl.name}` is a list of records: write `[{{field: value, ...}}, ...]`", e.span)
            return _BAD
        records: list[object] = []
        for item in e.items:
            if not isinstance(item, nodes.RecordLit):
                ctx.error("RL0602", "each item must be a record: `{field: value, ...}`", item.span)
                return _BAD
            rec: dict[str, object] = {}
            for fi in item.fields:
                fdecl = next((f for f in fields if f.name == fi.name), None)
                if fdecl is None:
                    ctx.error(
                        "RL0602",
                        f"`{decl.name}` records have no field `{fi.name}`",
                        fi.span,
                        hint=did_you_mean(fi.name, [f.name for f in fields]),
                    )
                    return _BAD
                v = _plain(ctx, fi.value, fdecl)
                if v is _BAD:
                    return _BAD
                rec[fi.name] = v
            records.append(rec)
        return records
    got = literal_value(ctx, e, decl.type, f"`{decl.name}`")
    return _BAD if got is None else got[0]


def _expectation(ctx: Context, x: nodes.Expect, ladders: dict[str, ir.Ladder]) -> ir.Expectation | None:
    t = x.target
    if t.index is None and t.name in ladders:
        rungs = [r.name for r in ladders[t.name].rungs]
        if not isinstance(x.value, nodes.Name) or x.value.name not in rungs:
            ctx.error(
                "RL0603",
                f"`{t.name}` is a level ladder: expect one of its levels ({', '.join(rungs)})",
                x.value.span,
                hint=did_you_mean(x.value.name, rungs) if isinstance(x.value, nodes.Name) else None,
            )
            return None
        return ir.Expectation(target=t, value=x.value.name, tolerance=None, text=x.value.name, span=x.span)
    qual = t.name if t.index is None else f"{t.name}.{t.field}"
    typ: Type | None = None
    if qual in ctx.definitions:
        typ = ctx.definitions[qual].type
    elif t.index is not None and t.name in ctx.inputs and ctx.inputs[t.name].fields is not None:
        field = next((f for f in ctx.inputs[t.name].fields or () if f.name == t.field), None)
        typ = field.type if field else None
    if typ is None:
        if qual in ctx.failed or qual in ctx.lets:
            return None
        candidates = list(ctx.definitions) + list(ladders)
        ctx.error(
            "RL0603",
            f"`{t}` is not a definition or a level ladder",
            t.span,
            hint=did_you_mean(qual, candidates),
        )
        return None
    if isinstance(typ, NumType) and typ.dim is None:
        typ = NumType(None)
    got = literal_value(ctx, x.value, typ, f"the expected `{t}`")
    if got is None:
        return None
    tol = None
    if x.tolerance is not None:
        tv = x.tolerance
        if not isinstance(tv, nodes.Number) or not isinstance(typ, NumType):
            ctx.error("RL0604", "a tolerance must be a number in the value's unit", tv.span)
            return None
        amount = typ.dim is not None and not typ.dim.dimensionless
        wrong_style = tv.unit is None and tv.style != "number" and amount  # `within 1%` of an amount in BTC
        if wrong_style or (tv.unit is not None and typ.dim is not None and unit_dim(ctx, tv.unit) != typ.dim):
            ctx.error("RL0301", f"the tolerance must be {describe(typ)}", tv.span)
            return None
        tol = abs(tv.value)
    value, text = got
    assert isinstance(value, (Decimal, bool, str))
    return ir.Expectation(target=t, value=value, tolerance=tol, text=text, span=x.span)
