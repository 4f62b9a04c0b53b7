"""One ruleset as a page: everything the templates show, in the page's language.

Input: a loaded :class:`~rulelang.api.Ruleset` and a
:class:`~rulelang.docs.i18n.Locale`. Output: a :class:`Page` of plain,
formatted data (texts, readable formulas, table rows, SVG charts, worked
examples) that the HTML and Markdown templates lay out without computing
anything. Everything is in declaration order, so the same file gives the
same page.
"""

from __future__ import annotations

import decimal
from decimal import Decimal

import attrs

from rulelang import ir, nodes, solver
from rulelang.api import Ruleset
from rulelang.backends.interpreter import Interpreter, SolveNote
from rulelang.docs import svg
from rulelang.docs.i18n import Locale, Missing
from rulelang.docs.math import Formula, MathWriter, Names, plain_text
from rulelang.docs.origin import display_path, file_hash, location, snippet
from rulelang.docs.tables import TableView, TableWriter, tables_of
from rulelang.docs.worked import ExampleView, ExampleWriter, Trace, trace
from rulelang.errors import EvaluationError
from rulelang.inputs import Account
from rulelang.runtime import CONTEXT
from rulelang.types import NumType

_OPS = {"<": "<", "<=": "≤", ">": ">", ">=": "≥", "==": "=", "!=": "≠"}


@attrs.frozen
class FieldView:
    anchor: str
    name: str
    label: str
    type: str
    bound: str
    default: str
    description: str | None


@attrs.frozen
class InputView:
    anchor: str
    name: str
    label: str
    type: str
    bound: str
    default: str
    description: str | None
    fields: tuple[FieldView, ...]


@attrs.frozen
class ParamView:
    anchor: str
    name: str
    label: str
    type: str
    value: str
    description: str | None


@attrs.frozen
class ProfileView:
    anchor: str
    name: str
    label: str
    description: str | None
    values: tuple[tuple[Formula, str], ...]


@attrs.frozen
class DefView:
    anchor: str
    qualname: str
    label: str
    description: str | None
    type: str
    per: Formula  # the collection of a per-record definition
    formula: Formula
    source: str
    location: str


@attrs.frozen
class RungView:
    anchor: str
    name: str
    label: str
    description: str | None
    condition: Formula  # empty for `otherwise`
    actions: str
    fill: str
    stroke: str


@attrs.frozen
class LadderView:
    anchor: str
    name: str
    label: str
    description: str | None
    rungs: tuple[RungView, ...]
    chart: svg.Chart
    source: str
    location: str


@attrs.frozen
class SolveView:
    definition: DefView
    chart: svg.Chart | None
    example: str  # the title of the example the chart is drawn for


@attrs.frozen
class VersionLink:
    """Another page of the same ruleset: one version of its history."""

    slug: str
    version: str | None
    effective: str | None
    current: bool  # this page


@attrs.frozen
class Page:
    slug: str
    name: str
    title: str
    description: str | None
    version: str | None
    effective: str | None
    lang: str
    path: str
    files: tuple[tuple[str, str], ...]  # each file read, with the SHA-256 of its bytes
    units: tuple[str, ...]
    inputs: tuple[InputView, ...]
    params: tuple[ParamView, ...]
    profiles: tuple[ProfileView, ...]
    tables: tuple[TableView, ...]
    haircuts: tuple[TableView, ...]
    definitions: tuple[DefView, ...]
    solves: tuple[SolveView, ...]
    ladders: tuple[LadderView, ...]
    examples: tuple[ExampleView, ...]
    missing: tuple[Missing, ...]
    versions: tuple[VersionLink, ...] = ()  # when several pages document versions of one ruleset

    def charts(self) -> list[svg.Chart]:
        """Every chart of the page, in page order."""
        out = [c for t in (*self.tables, *self.haircuts) for g in t.groups for c in g.charts]
        out += [s.chart for s in self.solves if s.chart is not None]
        out += [lad.chart for lad in self.ladders]
        return out


def build_page(rs: Ruleset, loc: Locale) -> Page:
    """Everything a page of ``rs`` shows, in ``loc``'s language."""
    r = rs.ir
    _ = loc._
    names = Names(rs.ir, loc)
    math = MathWriter(names, loc)
    h = r.header

    def text(t: nodes.Text | None, where: str, what: str) -> str | None:
        return loc.text(t, where, what)

    def bound(b: ir.Bound | None) -> str:
        if b is None:
            return ""
        op, _sp, rest = b.text.partition(" ")
        return f"{_OPS.get(op, op)} {rest}"

    inputs = []
    for i in r.inputs:
        fields = tuple(
            FieldView(
                anchor=names.anchor("field", f"{i.name}.{f.name}") or "",
                name=f.name,
                label=names.label("field", f"{i.name}.{f.name}"),
                type=str(f.type),
                bound=bound(f.bound),
                default=loc.value(f.default, f.type) if f.has_default else "",
                description=text(f.meta.description, f"field {i.name}.{f.name}", "description"),
            )
            for f in i.fields or ()
        )
        inputs.append(
            InputView(
                anchor=names.anchor("input", i.name) or "",
                name=i.name,
                label=names.label("input", i.name),
                type=_("list of records") if i.fields is not None else str(i.type),
                bound=bound(i.bound),
                default=loc.value(i.default, i.type) if i.has_default else "",
                description=text(i.meta.description, f"input {i.name}", "description"),
                fields=fields,
            )
        )
    params = tuple(
        ParamView(
            anchor=names.anchor("param", p.name) or "",
            name=p.name,
            label=names.label("param", p.name),
            type=str(p.type),
            value=loc.value(p.value, p.type),
            description=text(p.meta.description, f"param {p.name}", "description"),
        )
        for p in r.params
    )
    ptypes = {p.name: p.type for p in r.params}
    profiles = tuple(
        ProfileView(
            anchor=names.anchor("profile", pr.name) or "",
            name=pr.name,
            label=names.label("profile", pr.name),
            description=text(pr.meta.description, f"profile {pr.name}", "description"),
            values=tuple(((names.link("param", k, inner=False),), loc.value(v, ptypes[k])) for k, v in pr.values),
        )
        for pr in r.profiles
    )
    writer = TableWriter(r, loc, {t.name: names.label("table", t.name) for t in r.tables})
    tables = tuple(writer.view(t) for t in tables_of(r, "tiers"))
    haircuts = tuple(writer.view(t) for t in tables_of(r, "haircuts"))
    definitions = tuple(_definition(d, names, math, loc) for d in r.definitions)
    by_name = {d.qualname: d for d in definitions}

    traces = [trace(rs, ex) for ex in r.examples]
    examples_writer = ExampleWriter(rs, loc, names)
    examples = tuple(examples_writer.view(k, ex, traces[k]) for k, ex in enumerate(r.examples))
    solves = tuple(
        _solve_view(rs, d, by_name[d.qualname], traces, names, math, loc)
        for d in r.definitions
        if isinstance(d.expr, ir.Solve)
    )
    ladders = tuple(_ladder(lad, r, names, loc) for lad in r.ladders)
    title = text(h.meta.label, "ruleset", "label") or h.name
    description = text(h.meta.description, "ruleset", "description")
    missing = tuple(sorted(set(loc.missing), key=lambda m: (m.where, m.what)))
    return Page(
        slug=h.name,
        name=h.name,
        title=title,
        description=description,
        version=h.version,
        effective=h.effective,
        lang=loc.lang,
        path=display_path(r.path),
        files=tuple((display_path(f), file_hash(f)) for f in r.files),
        units=r.units,
        inputs=tuple(inputs),
        params=params,
        profiles=profiles,
        tables=tables,
        haircuts=haircuts,
        definitions=definitions,
        solves=solves,
        ladders=ladders,
        examples=examples,
        missing=missing,
    )


def _definition(d: ir.Definition, names: Names, math: MathWriter, loc: Locale) -> DefView:
    return DefView(
        anchor=names.anchor("definition", d.qualname) or "",
        qualname=d.qualname,
        label=names.label("definition", d.qualname),
        description=loc.text(d.meta.description, f"definition {d.qualname}", "description"),
        type=str(d.type),
        per=(names.link("input", d.collection),) if d.collection else (),
        formula=math.formula(d.expr),
        source=snippet(d.span),
        location=location(d.span),
    )


def _ladder(lad: ir.Ladder, r: ir.Ruleset, names: Names, loc: Locale) -> LadderView:
    _ = loc._
    types = {p.name: p.type for p in r.params}
    values = {p.name: p.value for p in r.params}

    def value_of(kind: str, name: str) -> str | None:
        return loc.value(values[name], types[name]) if kind == "param" else None

    math = MathWriter(names, loc, value_of)
    rungs = []
    bands = []
    n = len(lad.rungs)
    for k, rung in enumerate(lad.rungs):
        i = svg.severity(k, n)
        cond = math.formula(rung.cond) if rung.cond is not None else ()
        actions = ", ".join(names.label("action", a) for a in rung.actions)
        label = names.label("level", f"{lad.name}.{rung.name}")
        rungs.append(
            RungView(
                anchor=names.anchor("level", f"{lad.name}.{rung.name}") or "",
                name=rung.name,
                label=label,
                description=loc.text(rung.meta.description, f"level {lad.name}.{rung.name}", "description"),
                condition=cond,
                actions=actions,
                fill=svg.FILLS[i],
                stroke=svg.STROKES[i],
            )
        )
        when = (
            _("when {condition}").replace("{condition}", plain_text(cond))
            if cond
            else _("otherwise (no condition above holds)")
        )
        lines = svg.wrap(when)
        lines += svg.wrap(_("actions: {actions}").replace("{actions}", actions)) if actions else [_("no action")]
        bands.append(svg.Band(f"{k + 1}. {label}", tuple(lines)))
    label = names.label("ladder", lad.name)
    title = _("Levels of {ladder}, tried from the top").replace("{ladder}", label)
    desc = _("Coloured bands from the most severe level (red, on top) to the safest (green): {levels}.").replace(
        "{levels}", "; ".join(f"{b.title}: {' '.join(b.lines)}" for b in bands)
    )
    chart_id = f"ladder-{lad.name}-bands"
    return LadderView(
        anchor=names.anchor("ladder", lad.name) or "",
        name=lad.name,
        label=label,
        description=loc.text(lad.meta.description, f"levels {lad.name}", "description"),
        rungs=tuple(rungs),
        chart=svg.Chart(chart_id, title, desc, svg.ladder(chart_id=chart_id, title=title, desc=desc, bands=bands)),
        source=snippet(lad.span),
        location=location(lad.span),
    )


# ----------------------------------------------------------------- traces and solves


def _solve_view(
    rs: Ruleset,
    d: ir.Definition,
    view: DefView,
    traces: list[Trace],
    names: Names,
    math: MathWriter,
    loc: Locale,
) -> SolveView:
    """A solved quantity with a chart of its condition's two sides around the value found."""
    solve = d.expr
    assert isinstance(solve, ir.Solve)
    for k, (account, params, (_result, steps, _levels)) in enumerate(traces):
        for s in steps:
            if s.name != d.qualname:
                continue
            note = next((n for n in s.notes if isinstance(n, SolveNote)), None)
            if note is None or note.outcome.atom is None or note.outcome.exact is None:
                continue
            chart = _solve_chart(rs, d, solve, note, s.record, account, params, names, math, loc, f"{k + 1}")
            if chart is not None:
                ex = rs.ir.examples[k]
                title = loc.text(ex.meta.label, f"example {ex.title!r}", "title") or ex.title
                return SolveView(view, chart, title)
    return SolveView(view, None, "")


def _solve_chart(
    rs: Ruleset,
    d: ir.Definition,
    solve: ir.Solve,
    note: SolveNote,
    record: int | None,
    account: Account,
    params: dict[str, ir.Value],
    names: Names,
    math: MathWriter,
    loc: Locale,
    example_no: str,
) -> svg.Chart | None:
    _ = loc._
    o = note.outcome
    atom = o.atom
    assert atom is not None and o.exact is not None
    probe = solver.probe_program(rs.ir, solve)
    scope = next((a.qualname.split(".", 1)[0] for a in probe.atoms if a.compare is atom and "." in a.qualname), None)
    sides = [
        ir.Definition(name=f"{solver.HIDDEN}docs{n}", collection=scope, expr=e, type=e.type, meta=nodes.Meta())
        for n, e in enumerate((atom.left, atom.right))
    ]
    program = attrs.evolve(probe.program, definitions=probe.program.definitions + tuple(sides))
    interp = Interpreter(program)
    c, f = probe.position
    if solve.collection is not None:
        vary_type = ([i for i in rs.ir.inputs if i.fields is not None][c].fields or ())[f].type
        vary_label = names.label("field", f"{solve.collection}.{solve.vary}")
    else:
        vary_type = [i for i in rs.ir.inputs if i.fields is None][f].type
        vary_label = names.label("input", solve.vary)

    def sides_at(x: Decimal) -> tuple[Decimal, Decimal] | None:
        sc, co = solver.set_value(account.scalars, account.collections, probe, record, x)
        try:
            result = interp.run(Account(sc, co), params)[0]
        except (EvaluationError, ArithmeticError):
            return None
        if scope is None:
            a, b = result.values[sides[0].name], result.values[sides[1].name]
        else:
            assert record is not None
            a, b = (result.records[scope][record][s.name] for s in sides)
        return (a, b) if isinstance(a, Decimal) and isinstance(b, Decimal) else None

    root, x0 = o.exact, o.start
    with decimal.localcontext(CONTEXT):
        lo, hi = min(root, x0), max(root, x0)
        span = hi - lo if hi > lo else abs(hi) / 10 or Decimal(1)
        x_lo, x_hi = max(lo - span / 4, lo / 2), hi + span / 4
        xs = sorted({x_lo + (x_hi - x_lo) * k / 40 for k in range(41)} | {root, x0})
    left, right = [], []
    for x in xs:
        got = sides_at(x)
        if got is not None:
            left.append((x, got[0]))
            right.append((x, got[1]))
    if len(left) < 3:
        return None
    ys = [y for _x, y in left + right]
    y_lo = Decimal(0) if min(ys) >= 0 else -svg.nice_ceiling(-min(ys))
    y_hi = svg.nice_ceiling(max(ys)) if max(ys) > 0 else Decimal(0)
    if y_lo == y_hi:
        y_hi = y_lo + 1
    unit = ""
    t = atom.left.type if isinstance(atom.left.type, NumType) and atom.left.type.dim is not None else atom.right.type
    if isinstance(t, NumType) and t.dim is not None and not t.dim.dimensionless:
        unit = str(t.dim)

    def short(f: Formula) -> str:
        s = plain_text(f)
        return s if len(s) <= 88 else s[:87] + "…"

    label = names.label("definition", d.qualname)
    chart_id = f"solve-{d.qualname.replace('.', '-')}"
    vunit = (
        f" ({vary_type.dim})"
        if isinstance(vary_type, NumType) and vary_type.dim and not vary_type.dim.dimensionless
        else ""
    )
    value_shown = loc.value(o.value, vary_type, unit=False)
    title = _("{solved}: where the two sides of the condition cross").replace("{solved}", label)
    desc = _(
        "Line chart of both sides of the condition against {vary}, in example "
        "{example}; they cross at {exact}, which gives {solved} = {value}."
    ).format_map(
        {
            "vary": vary_label,
            "example": example_no,
            "exact": loc.number(root),
            "solved": label,
            "value": value_shown,
        }
    )
    chart = svg.line_chart(
        chart_id=chart_id,
        title=title,
        desc=desc,
        x_label=vary_label + vunit,
        y_label=unit,
        series=[
            svg.Series(short(math.formula(atom.left)), tuple(left), "s1"),
            svg.Series(short(math.formula(atom.right)), tuple(right), "s2"),
        ],
        x_axis=(x_lo, x_hi, False),
        y_axis=(y_lo, y_hi, False),
        x_tick=loc.compact,
        y_tick=loc.compact,
        markers=[
            svg.Marker(root, f"{label}: {value_shown}", "mark"),
            svg.Marker(x0, _("now: {value}").replace("{value}", loc.value(x0, vary_type, unit=False)), "now"),
        ],
    )
    return svg.Chart(chart_id, title, desc, chart)
