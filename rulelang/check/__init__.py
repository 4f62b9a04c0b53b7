"""The checker: from syntax trees to a checked :class:`~rulelang.ir.Ruleset`.

Input: a ruleset path (its imports are read too). Output: the lowered IR and
the warnings, or a :class:`~rulelang.errors.RulesetError` carrying every
diagnostic found in one run.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterator, Mapping
from decimal import Decimal

from rulelang import ir, nodes
from rulelang.check.context import BUILTIN_ACTIONS, Context
from rulelang.check.examples import check_example
from rulelang.check.expressions import ExprChecker, declared_type, describe, literal_value
from rulelang.check.ladders import check_ladder
from rulelang.check.loader import DISK, Files, load
from rulelang.check.solves import lower_solve
from rulelang.check.tables import check_table, merge_parts
from rulelang.errors import Diagnostic, RulesetError
from rulelang.source import Span
from rulelang.types import CollectionType, NumType, compatible

__all__ = ["check_file"]


def check_file(
    path: str, text: str | None = None, imports: Mapping[str, str] | None = None, files: Files = DISK
) -> tuple[ir.Ruleset, list[Diagnostic]]:
    """Check the ruleset at ``path`` (or ``text``, named ``path``).

    ``imports`` redirects named imports (see :func:`rulelang.check.loader.load`);
    ``files`` is where files are read (the disk, or a git revision's tree).
    Returns the IR and the warnings. Raises :class:`RulesetError` with every
    error (and warning) when there is at least one error.
    """
    loaded = load(path, text, imports, files)
    ctx = Context()
    ctx.diagnostics.extend(loaded.diagnostics)
    ctx.imports_failed = any(d.code == "RL0208" for d in loaded.diagnostics)
    ctx.failed.update(name for f in loaded.files for name in f.broken)
    main, *imported = loaded.files
    decls = list(main.decls) + [
        d for f in imported for d in f.decls if not isinstance(d, (nodes.Example, nodes.Header))
    ]
    ruleset = _check(ctx, main.path, decls)
    if any(d.code in ("RL0100", "RL0101") for d in loaded.diagnostics):
        # a block that did not parse may be the one that uses an input: no "never used" warnings
        ctx.diagnostics[:] = [d for d in ctx.diagnostics if d.code != "RL0701"]
    ruleset_files = tuple(s.path for s in loaded.sources)
    digest = hashlib.sha256()
    for s in loaded.sources:
        digest.update(s.path.encode() + b"\0" + s.text.encode() + b"\0")
    errors = [d for d in ctx.diagnostics if d.is_error]
    warnings = [d for d in ctx.diagnostics if not d.is_error]
    if errors or ruleset is None:
        raise RulesetError(ctx.diagnostics)
    import attrs

    return attrs.evolve(ruleset, files=ruleset_files, digest=digest.hexdigest(), globs=loaded.globs), warnings


def _of(decls: list[nodes.Decl], kind: type) -> Iterator:  # type: ignore[type-arg]
    return (d for d in decls if isinstance(d, kind))


def _check(ctx: Context, path: str, decls: list[nodes.Decl]) -> ir.Ruleset | None:
    headers = list(_of(decls, nodes.Header))
    for extra in headers[1:]:
        ctx.error("RL0202", "a file has only one `ruleset` header", extra.name_span)
    h = headers[0] if headers else None
    if h is not None and h.effective is not None:
        try:
            datetime.date.fromisoformat(h.effective)
        except ValueError:
            ctx.error(
                "RL0210",
                f"effective {h.effective} is not a calendar date",
                h.effective_span or h.span,
                hint="write the day the rules take effect as YYYY-MM-DD, e.g. 2024-02-29 (a leap year)",
            )
    header = ir.Header(
        name=h.name if h else path.rsplit("/", 1)[-1].removesuffix(".rules"),
        meta=h.meta if h else nodes.Meta(),
        version=h.version if h else None,
        effective=h.effective if h else None,
    )
    for u in (u for units in _of(decls, nodes.Units) for u in units.units):
        # each imported table file declares its own units so it checks alone: the same unit in
        # different files is one unit; declared twice in one file, it is a slip
        if u.name in ctx.units and ctx.units[u.name].source is u.span.source:
            ctx.error("RL0202", f"unit `{u.name}` is declared twice", u.span)
            continue
        if u.name in ctx.units:
            continue
        ctx.units[u.name] = u.span
    for name, text in BUILTIN_ACTIONS.items():
        ctx.actions[name] = ir.Action(name=name, meta=nodes.Meta(label=nodes.Text(items=(("en", text),))), builtin=True)
    for a in _of(decls, nodes.ActionDecl):
        if a.name in ctx.actions:
            ctx.error("RL0202", f"action `{a.name}` is declared twice", a.name_span)
        ctx.actions[a.name] = ir.Action(name=a.name, meta=a.meta, builtin=False)

    # one namespace for every global name
    owners: dict[str, Span] = {}

    def claim(name: str, span: Span, what: str) -> bool:
        if name in owners:
            other = owners[name]
            ctx.error(
                "RL0202",
                f"`{name}` is already defined (at line {other.line})",
                span,
                hint=f"rename this {what}",
            )
            return False
        owners[name] = span
        return True

    for i in _of(decls, nodes.Input):
        if claim(i.name, i.name_span, "input"):
            decl = _input(ctx, i)
            if decl is not None:
                ctx.inputs[i.name] = decl
            else:
                ctx.failed.add(i.name)
    for p in _of(decls, nodes.Param):
        if claim(p.name, p.name_span, "parameter"):
            param = _param(ctx, p)
            if param is not None:
                ctx.params[p.name] = param
            else:
                ctx.failed.add(p.name)
    parts: dict[str, list[nodes.Table]] = {}
    for t in _of(decls, nodes.Table):
        if t.name in parts and t.group is not None and parts[t.name][0].group is not None:
            parts[t.name].append(t)  # another part of a keyed table split across files
        elif claim(t.name, t.name_span, "table"):
            parts[t.name] = [t]
    for name, table_parts in parts.items():
        checked = [check_table(ctx, t) for t in table_parts]
        merged = merge_parts(ctx, table_parts, checked) if None not in checked else None
        if merged is not None:
            ctx.tables[name] = merged
        else:
            ctx.failed.add(name)
    for let in [d for d in decls if isinstance(d, (nodes.Let, nodes.Solve))]:
        if let.collection is None:
            if claim(let.name, let.name_span, "definition"):
                ctx.lets[let.name] = let
            continue
        coll = ctx.inputs.get(let.collection)
        if let.collection in ctx.failed:
            ctx.failed.add(let.qualname)
            continue
        if coll is None or coll.fields is None:
            ctx.error(
                "RL0201",
                f"`{let.collection}` is not a collection input",
                let.name_span,
                hint="a per-record definition is written `let positions.name = ...` where positions is a list input",
            )
            continue
        if let.qualname in ctx.lets or any(f.name == let.name for f in coll.fields):
            ctx.error("RL0202", f"`{let.qualname}` is already defined", let.name_span)
            continue
        ctx.lets[let.qualname] = let
    ladders: dict[str, ir.Ladder] = {}
    level_decls = list(_of(decls, nodes.Levels))
    for lv in level_decls:
        claim(lv.name, lv.name_span, "level ladder")

    ctx.lower_definition = lambda q: _lower_definition(ctx, q)
    for qual in list(ctx.lets):
        ctx.definition_type(qual, ctx.lets[qual].name_span)
    for lv in level_decls:
        ladder = check_ladder(ctx, lv)
        if ladder is not None:
            ladders[lv.name] = ladder
        else:
            ctx.failed.add(lv.name)
    profiles = [p for p in (_profile(ctx, pr) for pr in _of(decls, nodes.Profile)) if p is not None]
    good_profiles = {p.name for p in profiles}
    ctx.failed.update(pr.name for pr in _of(decls, nodes.Profile) if pr.name not in good_profiles)
    names = {p.name for p in profiles}
    examples = [
        e for e in (check_example(ctx, ex, ladders, names) for ex in _of(decls, nodes.Example)) if e is not None
    ]
    for i in ctx.inputs.values():
        if i.name not in ctx.used_inputs:
            ctx.warn(
                "RL0701",
                f"input `{i.name}` is never used",
                i.span,
                hint="remove it, or use it in a definition or a level",
            )
    return ir.Ruleset(
        path=path,
        header=header,
        units=tuple(ctx.units),
        inputs=tuple(ctx.inputs.values()),
        params=tuple(ctx.params.values()),
        profiles=tuple(profiles),
        tables=tuple(ctx.tables.values()),
        definitions=tuple(ctx.definitions[q] for q in ctx.order),
        ladders=tuple(ladders.values()),
        actions=tuple(ctx.actions.values()),
        examples=tuple(examples),
        files=(path,),
        digest="",
    )


def _lower_definition(ctx: Context, qual: str) -> None:
    let = ctx.lets[qual]
    ctx.in_progress.append(qual)
    try:
        checker = ExprChecker(ctx, let.collection)
        expr = checker.lower(let.expr) if isinstance(let, nodes.Let) else lower_solve(ctx, checker, let)
        declared = declared_type(ctx, let.type) if let.type is not None else None
    finally:
        ctx.in_progress.pop()
    if qual in ctx.failed:
        return
    if expr is None or (let.type is not None and declared is None):
        ctx.failed.add(qual)
        return
    t = expr.type
    if declared is not None:
        if not compatible(declared, t):
            ctx.error(
                "RL0303",
                f"`{let.name}` is declared as {describe(declared)}, but its formula gives {describe(t)}",
                let.expr.span if isinstance(let, nodes.Let) else let.name_span,
            )
            ctx.failed.add(qual)
            return
        t = declared
    ctx.definitions[qual] = ir.Definition(
        name=let.name, collection=let.collection, expr=expr, type=t, meta=let.meta, span=let.span
    )
    ctx.order.append(qual)


def _bound(ctx: Context, c: nodes.Constraint | None, t: object, what: str) -> ir.Bound | None:
    if c is None:
        return None
    if not isinstance(t, NumType):
        ctx.error("RL0304", f"only numbers can have a bound, but {what} is {t}", c.span)
        return None
    got = literal_value(ctx, c.bound, t, f"the bound of {what}")
    if got is None:
        return None
    value, text = got
    assert isinstance(value, Decimal)
    return ir.Bound(op=c.op, bound=value, text=f"{c.op} {text}")


def _default(ctx: Context, e: nodes.Expr | None, t: object, what: str) -> tuple[ir.Value | None, bool, bool]:
    if e is None:
        return None, False, True
    got = literal_value(ctx, e, t, f"the default of {what}")  # type: ignore[arg-type]
    if got is None:
        return None, False, False
    return got[0], True, True


def _input(ctx: Context, i: nodes.Input) -> ir.InputDecl | None:
    if isinstance(i.type, nodes.ListType):
        if not i.fields:
            ctx.error(
                "RL0304",
                f"collection `{i.name}` has no fields",
                i.name_span,
                hint="list its fields in an indented block: `quantity: BTC`",
            )
            return None
        fields: list[ir.FieldDecl] = []
        seen: set[str] = set()
        for f in i.fields:
            if f.name in seen:
                ctx.error("RL0202", f"field `{f.name}` appears twice", f.name_span)
                continue
            seen.add(f.name)
            if isinstance(f.type, nodes.ListType):
                ctx.error("RL0304", "a field cannot itself be a list", f.type.span)
                continue
            ft = declared_type(ctx, f.type)
            if ft is None:
                continue
            bound = _bound(ctx, f.constraint, ft, f"`{i.name}.{f.name}`")
            default, has_default, ok = _default(ctx, f.default, ft, f"`{i.name}.{f.name}`")
            if ok:
                fields.append(
                    ir.FieldDecl(
                        name=f.name,
                        type=ft,
                        bound=bound,
                        default=default,
                        has_default=has_default,
                        meta=f.meta,
                        span=f.span,
                    )
                )
        return ir.InputDecl(
            name=i.name,
            type=CollectionType(i.name),
            bound=None,
            default=None,
            has_default=False,
            fields=tuple(fields),
            meta=i.meta,
            span=i.span,
        )
    if i.fields:
        ctx.error("RL0304", f"only a `list` input has fields; `{i.name}` is {i.type.span.text}", i.fields[0].span)
    t = declared_type(ctx, i.type)
    if t is None:
        return None
    bound = _bound(ctx, i.constraint, t, f"`{i.name}`")
    default, has_default, ok = _default(ctx, i.default, t, f"`{i.name}`")
    if not ok:
        return None
    return ir.InputDecl(
        name=i.name,
        type=t,
        bound=bound,
        default=default,
        has_default=has_default,
        fields=None,
        meta=i.meta,
        span=i.span,
    )


def _param(ctx: Context, p: nodes.Param) -> ir.ParamDecl | None:
    if isinstance(p.type, nodes.ListType):
        ctx.error("RL0304", "a parameter cannot be a list", p.type.span)
        return None
    t = declared_type(ctx, p.type)
    if t is None:
        return None
    got = literal_value(ctx, p.value, t, f"parameter `{p.name}`")
    if got is None:
        return None
    return ir.ParamDecl(name=p.name, type=t, value=got[0], text=got[1], meta=p.meta, span=p.span)


def _profile(ctx: Context, pr: nodes.Profile) -> ir.ProfileDecl | None:
    ok = True
    values: list[tuple[str, ir.Value]] = []
    from rulelang.check.context import did_you_mean

    for a in pr.assigns:
        param = ctx.params.get(a.name)
        if param is None:
            ctx.error("RL0201", f"`{a.name}` is not a parameter", a.name_span, hint=did_you_mean(a.name, ctx.params))
            ok = False
            continue
        got = literal_value(ctx, a.value, param.type, f"parameter `{a.name}`")
        if got is None:
            ok = False
            continue
        values.append((a.name, got[0]))
    if not ok:
        return None
    return ir.ProfileDecl(name=pr.name, values=tuple(values), meta=pr.meta, span=pr.span)
