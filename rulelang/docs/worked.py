"""Worked examples: each example block of a ruleset, computed by the engine and told step by step.

Input: a loaded :class:`~rulelang.api.Ruleset` and one of its examples.
Output: an :class:`ExampleView`: the account as the engine read it, the
steps that lead to every expected figure (each formula with its values
filled in, and the tier slices, roundings, sums and solves of the reference
interpreter's trace told as sentences), the levels reached, and each
expectation beside the computed value. Nothing here computes a figure: the
trace and :func:`rulelang.testing.run_example` do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal

import attrs

from rulelang import ir
from rulelang.api import Ruleset
from rulelang.backends.interpreter import AggregateNote, LadderStep, LookupNote, Note, RoundNote, SolveNote, Step
from rulelang.docs.i18n import Locale, Missing
from rulelang.docs.math import Formula, MathWriter, Names, Seg
from rulelang.inputs import Account
from rulelang.results import Result
from rulelang.testing import run_example
from rulelang.types import Type

#: An example's account, its parameters, and the reference interpreter's traced run of it.
Trace = tuple[Account, dict[str, ir.Value], tuple[Result, list[Step], list[LadderStep]]]


def trace(rs: Ruleset, ex: ir.ExampleDecl) -> Trace:
    account = rs.validate(ex.inputs)
    params = rs.params(profile=ex.profile)
    return account, params, rs.interpreter.run(account, params, trace=True)


@attrs.frozen
class StepView:
    anchor: str
    title: Formula  # the value's label (linked to its definition), with the record
    value: str
    formula: Formula  # the definition's formula, readable
    filled: Formula  # the formula with the values it read, "= 10 × 60,000"; empty when it says nothing more
    reads: Formula  # otherwise: the values it read, "with quantity = 10, ..."
    lines: tuple[Formula, ...]  # tier slices, roundings, sums, solves


@attrs.frozen
class LevelView:
    ladder: Formula
    level: str
    actions: str
    checks: tuple[tuple[str, Formula, str], ...]  # level, condition, "yes"/"no"


@attrs.frozen
class CheckView:
    target: Formula
    expected: str
    computed: str
    passed: bool


@attrs.frozen
class GivenCollection:
    label: Formula
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@attrs.frozen
class ExampleView:
    anchor: str
    title: str
    description: str | None
    profile: Formula
    scalars: tuple[tuple[Formula, str], ...]
    collections: tuple[GivenCollection, ...]
    steps: tuple[StepView, ...]
    levels: tuple[LevelView, ...]
    checks: tuple[CheckView, ...]
    passed: bool


class ExampleWriter:
    def __init__(self, rs: Ruleset, loc: Locale, names: Names) -> None:
        self.rs = rs
        self.ir = rs.ir
        self.loc = loc
        self.names = names
        self.math = MathWriter(names, loc)
        self.defs = {d.qualname: d for d in self.ir.definitions}
        self.tables = {t.name: t for t in self.ir.tables}
        self.types: dict[tuple[str, str], Type] = {}
        for i in self.ir.inputs:
            self.types[("input", i.name)] = i.type
            for f in i.fields or ():
                self.types[("field", f"{i.name}.{f.name}")] = f.type
        for p in self.ir.params:
            self.types[("param", p.name)] = p.type
        for d in self.ir.definitions:
            self.types[("definition", d.qualname)] = d.type

    # ------------------------------------------------------------ the example
    def view(self, k: int, ex: ir.ExampleDecl, trace: Trace) -> ExampleView:
        """Example ``k`` of the ruleset; ``trace`` is its account, parameters and traced run."""
        account, params, (result, steps, ladder_steps) = trace
        outcome = run_example(self.rs, ex)
        failed = {f.target for f in outcome.failures}
        wanted, ladders = self._wanted(ex)
        step_views = tuple(self._step(s) for s in steps if (s.name, s.record) in wanted)
        level_views = tuple(self._level(ls, params) for ls in ladder_steps if ls.ladder.name in ladders)
        checks = []
        for x in ex.expects:
            t = x.target
            key = str(t)
            typ = self.types.get(("definition", t.name if t.index is None else f"{t.name}.{t.field}"))
            computed = result.get(key)
            if t.name in {lad.name for lad in self.ir.ladders}:
                exp_text = self.names.label("level", f"{t.name}.{x.value}")
                got_text = self.names.label("level", f"{t.name}.{computed}")
            else:
                exp_text = self.loc.value(x.value, typ)
                if x.tolerance is not None:
                    exp_text += " ± " + self.loc.value(x.tolerance, typ)
                got_text = self.loc.value(computed, typ)
            checks.append(CheckView(self._target(t), exp_text, got_text, key not in failed))
        scalars = []
        colls = []
        n_scalar = 0
        n_coll = 0
        for i in self.ir.inputs:
            if i.fields is None:
                v = account.scalars[n_scalar]
                n_scalar += 1
                scalars.append(((self.names.link("input", i.name, inner=False),), self.loc.value(v, i.type)))
            else:
                records = account.collections[n_coll]
                n_coll += 1
                headers = ("#", *(self.names.label("field", f"{i.name}.{f.name}") for f in i.fields))
                rows = tuple(
                    (str(r), *(self.loc.value(v, f.type) for v, f in zip(rec, i.fields, strict=True)))
                    for r, rec in enumerate(records)
                )
                colls.append(GivenCollection((self.names.link("input", i.name, inner=False),), headers, rows))
        title = self.loc.text(ex.meta.label, f"example {ex.title!r}", "title") or ex.title
        if ex.meta.label is None and self.loc.lang != "en":
            self.loc.missing.append(Missing(f"example {ex.title!r}", "title"))
        profile: Formula = ()
        if ex.profile is not None:
            profile = (self.names.link("profile", ex.profile, inner=False),)
        return ExampleView(
            anchor=f"example-{k + 1}",
            title=title,
            description=self.loc.text(ex.meta.description, f"example {ex.title!r}", "description"),
            profile=profile,
            scalars=tuple(scalars),
            collections=tuple(colls),
            steps=step_views,
            levels=level_views,
            checks=tuple(checks),
            passed=outcome.passed,
        )

    def _target(self, t: object) -> Formula:
        name = getattr(t, "name")  # noqa: B009  (nodes.Target)
        index, field = getattr(t, "index"), getattr(t, "field")  # noqa: B009
        if index is None:
            if name in {lad.name for lad in self.ir.ladders}:
                return (self.names.link("ladder", name, inner=False),)
            return (self.names.link("definition", name, inner=False),)
        return (self.names.link("definition", f"{name}.{field}", inner=False), Seg(f" [{index}]"))

    # ------------------------------------------------------------ which steps
    def _wanted(self, ex: ir.ExampleDecl) -> tuple[set[tuple[str, int | None]], set[str]]:
        """The (definition, record) steps the example's expectations depend on, and its ladders."""
        counts = {name: len(v) for name, v in ex.inputs.items() if isinstance(v, list)}
        wanted: set[tuple[str, int | None]] = set()
        ladders: set[str] = set()

        def need(q: str, record: int | None) -> None:
            d = self.defs[q]
            if d.collection is not None and record is None:
                for r in range(counts.get(d.collection, 0)):
                    need(q, r)
                return
            if (q, record) in wanted:
                return
            wanted.add((q, record))
            for dep, same in _deps(d.expr):
                dd = self.defs[dep]
                need(dep, record if same and dd.collection == d.collection else None)

        ladder_names = {lad.name: lad for lad in self.ir.ladders}
        for x in ex.expects:
            t = x.target
            if t.name in ladder_names:
                ladders.add(t.name)
                for rung in ladder_names[t.name].rungs:
                    if rung.cond is not None:
                        for dep, _same in _deps(rung.cond):
                            need(dep, None)
            elif t.index is None:
                need(t.name, None)
            else:
                need(f"{t.name}.{t.field}", t.index)
        return wanted, ladders

    # ------------------------------------------------------------ one step
    def _step(self, s: Step) -> StepView:
        d = s.definition
        title: list[Seg] = [self.names.link("definition", d.qualname, inner=False)]
        if s.record is not None:
            title.append(Seg(f" [{s.record}]"))
        value = self.loc.value(s.value, d.type)
        formula = self.math.formula(d.expr)
        filled = self._filled(s)
        reads: Formula = ()
        if not filled and s.refs and not isinstance(d.expr, ir.Solve):
            # the values the formula read, when they cannot be written into it
            values: list[Seg] = []
            for k, r in enumerate(s.refs):
                kind, name = r.kind, r.name
                if kind == "field" and d.collection is not None:
                    name = f"{d.collection}.{name}"
                if k:
                    values.append(Seg(", "))
                values += [
                    self.names.link(kind, name),
                    Seg(" = " + self.loc.value(r.value, self.types.get((kind, name)))),
                ]
            reads = tuple(self.math.fill(self.loc._("with {values}"), values=values))
        lines = tuple(line for n in s.notes for line in self._note(n, d.type))
        anchor = "step-" + d.qualname.replace(".", "-") + (f"-{s.record}" if s.record is not None else "")
        return StepView(anchor, tuple(title), value, formula, filled, reads, lines)

    def _filled(self, s: Step) -> Formula:
        """The formula with every value it read written in, when the trace says which value went where."""
        e = s.definition.expr
        if any(isinstance(x, ir.Cond | ir.Logic | ir.Solve) for x in ir.walk(e)):
            return ()
        sites = list(_note_sites(e))
        if len(sites) != len(s.notes) or not all(
            _matches(site, note) for site, note in zip(sites, s.notes, strict=True)
        ):
            return ()
        results = {id(site): note for site, note in zip(sites, s.notes, strict=True)}
        reads = {(r.kind, r.name): r.value for r in s.refs}
        loc = self.loc

        def shown(x: ir.Expr) -> str | None:
            note = results.get(id(x))
            if note is not None:
                v = _note_result(note)
                return loc.value(v, x.type, unit=False) if isinstance(v, Decimal) else None
            key: tuple[str, str] | None = None
            if isinstance(x, ir.InputRef):
                key = ("input", x.name)
            elif isinstance(x, ir.ParamRef):
                key = ("param", x.name)
            elif isinstance(x, ir.DefRef):
                key = ("definition", x.name)
            elif isinstance(x, ir.FieldRef):
                key = ("field", x.name)
            elif isinstance(x, ir.RecDefRef):
                key = ("definition", f"{x.collection}.{x.name}")
            if key is None:
                return None
            if key not in reads:
                return "?"
            return loc.value(reads[key], x.type, unit=False)

        filled = _Filler(self.names, loc, shown).formula(e)
        text = "".join(p.text for p in filled)
        if "?" in text or text == loc.value(s.value, s.definition.type, unit=False):
            return ()
        return filled

    def _note(self, n: Note, t: Type) -> Iterator[Formula]:
        _ = self.loc._
        loc = self.loc
        if isinstance(n, LookupNote):
            table = self.tables[n.table]
            kt = table.key_type
            size = loc.value(n.size, kt)
            tname: list[Seg] = [self.names.link("table", n.table, inner=False)]
            if n.group:
                tname = self.math.fill(_("{table} for {key}"), table=tname, key=[Seg(n.group)])
            band = _("band {n} ({lower} to {upper})").format_map(
                {
                    "n": str(n.tier),
                    "lower": loc.number(n.lower),
                    "upper": "∞" if n.upper is None else loc.number(n.upper),
                }
            )
            column = table.column(n.column) if n.column else None
            rate = loc.value(n.rate, column.type if column is not None else None) if n.rate is not None else ""
            res = loc.value(n.result, kt if n.mode in ("progressive", "bracket", "step", "cum") else t)
            if n.mode == "progressive":
                parts = " + ".join(f"{loc.number(w)} × {loc.percent(r)}" for _k, w, r, _a in n.slices)
                amounts = " + ".join(loc.number(a) for _k, _w, _r, a in n.slices)
                count = loc.ngettext(
                    "{size} falls in {n} band of {table}:", "{size} falls in {n} bands of {table}:", len(n.slices)
                )
                head = self.math.fill(count, size=[Seg(size)], n=[Seg(str(len(n.slices)))], table=tname)
                tail = f" {parts} = {amounts} = {res}" if len(n.slices) > 1 else f" {parts} = {res}"
                yield (*head, Seg(tail))
                return
            sentence = {
                "bracket": _("{size} falls in {band} of {table}: rate {rate}, maintenance amount {cum}; {calc}"),
                "step": _("{size} falls in {band} of {table}; the whole size at its rate: {calc}"),
                "lookup": _("{size} falls in {band} of {table}: {column} = {value}"),
                "cum": _("{size} falls in {band} of {table}: maintenance amount = {value}"),
                "tier": _("{size} falls in {band} of {table}"),
            }[n.mode]
            cum = loc.number(n.cum) if n.cum is not None else ""
            calc = {
                "bracket": f"{loc.number(n.size)} × {rate} − {cum} = {res}",
                "step": f"{loc.number(n.size)} × {rate} = {res}",
            }.get(n.mode, "")
            yield tuple(
                self.math.fill(
                    sentence,
                    size=[Seg(size)],
                    band=[Seg(band)],
                    table=tname,
                    rate=[Seg(rate)],
                    cum=[Seg(cum)],
                    calc=[Seg(calc)],
                    column=[Seg(n.column or "", code=True)],
                    value=[Seg(rate if n.mode == "lookup" else res)],
                )
            )
        elif isinstance(n, RoundNote):
            yield tuple(
                self.math.fill(
                    _("{before} rounded to {places} decimals ({mode}) = {after}"),
                    before=[Seg(loc.number(n.before))],
                    places=[Seg(str(n.places))],
                    mode=[Seg(self.math.rounding(n.mode))],
                    after=[Seg(loc.number(n.after))],
                )
            )
        elif isinstance(n, AggregateNote):
            coll = [self.names.link("input", n.collection)]
            shown = loc.value(n.result, t)
            if n.counted == n.total:
                text = loc.ngettext(
                    "{func} over {total} record of {collection}: {result}",
                    "{func} over {total} records of {collection}: {result}",
                    n.total,
                )
            else:
                text = _("{func} over {counted} of {total} records of {collection}: {result}")
            yield tuple(
                self.math.fill(
                    text,
                    func=[Seg(self._func(n.func))],
                    counted=[Seg(str(n.counted))],
                    total=[Seg(str(n.total))],
                    collection=coll,
                    result=[Seg(shown)],
                )
            )
        elif isinstance(n, SolveNote):
            yield from self._solve(n, t)

    def _func(self, f: str) -> str:
        _ = self.loc._
        return {
            "sum": _("sum"),
            "count": _("count"),
            "min": _("smallest"),
            "max": _("largest"),
            "any": _("any"),
            "all": _("all"),
        }[f]

    def _solve(self, n: SolveNote, t: Type) -> Iterator[Formula]:
        _ = self.loc._
        loc = self.loc
        o = n.outcome
        start = loc.value(o.start, t)
        if o.exact is None:
            yield (
                Seg(
                    _(
                        "Varied from {start}, everything else fixed: no value ({reason}); {probes} evaluations."
                    ).format_map({"start": start, "reason": getattr(o.value, "reason", ""), "probes": str(o.probes)})
                ),
            )
            return
        state = _("holds") if o.held_at_start else _("does not hold")
        yield (
            Seg(
                _("Varied from {start}, everything else fixed; the condition {state} there.").format_map(
                    {"start": start, "state": state}
                )
            ),
        )
        if o.atom is not None:
            yield tuple(
                self.math.fill(
                    _("It changes where {comparison}: at {exact} (solved exactly)."),
                    comparison=list(self.math.formula(o.atom)),
                    exact=[Seg(loc.value(o.exact, t))],
                )
            )
        else:
            yield (Seg(_("It changes at {exact} (bisected).").replace("{exact}", loc.value(o.exact, t))),)
        if n.tick is not None:
            yield (
                Seg(
                    _("Rounded to the nearest {tick}: {value}.").format_map(
                        {"tick": loc.number(n.tick), "value": loc.value(o.value, t)}
                    )
                ),
            )
        yield (
            Seg(
                loc.ngettext("{n} evaluation of the ruleset.", "{n} evaluations of the ruleset.", o.probes).replace(
                    "{n}", str(o.probes)
                )
            ),
        )

    # ------------------------------------------------------------ levels
    def _level(self, ls: LadderStep, params: object) -> LevelView:
        _ = self.loc._
        lad = ls.ladder
        rungs = {r.name: r for r in lad.rungs}
        chosen = rungs[ls.level]
        checks = []
        values = params if isinstance(params, dict) else {}
        math = MathWriter(self.names, self.loc, _param_values(self.ir, self.loc, values))
        for name, held in ls.checked:
            cond = rungs[name].cond
            assert cond is not None
            checks.append(
                (self.names.label("level", f"{lad.name}.{name}"), math.formula(cond), _("yes") if held else _("no"))
            )
        actions = ", ".join(self.names.label("action", a) for a in chosen.actions)
        return LevelView(
            ladder=(self.names.link("ladder", lad.name, inner=False),),
            level=self.names.label("level", f"{lad.name}.{ls.level}"),
            actions=actions,
            checks=tuple(checks),
        )


def _param_values(rs: ir.Ruleset, loc: Locale, values: dict[str, ir.Value]) -> Callable[[str, str], str | None]:
    types = {p.name: p.type for p in rs.params}

    def value_of(kind: str, name: str) -> str | None:
        if kind == "param" and name in values:
            return loc.value(values[name], types[name])
        return None

    return value_of


def _deps(e: ir.Expr) -> Iterator[tuple[str, bool]]:
    """The definitions ``e`` reads: ``(qualname, same record)``; a record's own outside an aggregate."""

    def go(x: ir.Expr, inside: bool) -> Iterator[tuple[str, bool]]:
        if isinstance(x, ir.DefRef):
            yield x.name, False
        elif isinstance(x, ir.RecDefRef):
            yield f"{x.collection}.{x.name}", not inside
        if isinstance(x, ir.Solve):
            # the condition is evaluated at other values: its steps are not this account's
            return
        for child in ir.children(x):
            yield from go(child, inside or isinstance(x, ir.Aggregate))

    yield from go(e, False)


def _note_sites(e: ir.Expr) -> Iterator[ir.Expr]:
    """The nodes that leave a note in the trace, in the interpreter's order of evaluation."""
    match e:
        case ir.Lookup():
            yield from _note_sites(e.size)
            if e.group is not None:
                yield from _note_sites(e.group)
            yield e
        case ir.Aggregate():
            yield e  # what happens inside an aggregate is not traced
        case ir.Round():
            yield from _note_sites(e.operand)
            yield e
        case _:
            for child in ir.children(e):
                yield from _note_sites(child)


def _matches(site: ir.Expr, note: Note) -> bool:
    return (
        (isinstance(site, ir.Lookup) and isinstance(note, LookupNote))
        or (isinstance(site, ir.Aggregate) and isinstance(note, AggregateNote))
        or (isinstance(site, ir.Round) and isinstance(note, RoundNote))
    )


def _note_result(n: Note) -> object:
    if isinstance(n, LookupNote | AggregateNote):
        return n.result
    if isinstance(n, RoundNote):
        return n.after
    return None


class _Filler(MathWriter):
    """A formula with values in place of names (and of lookups, sums and roundings)."""

    def __init__(self, names: Names, loc: Locale, shown: object) -> None:
        super().__init__(names, loc)
        self.shown = shown

    def _go(self, e: ir.Expr) -> tuple[list[Seg], int]:
        text = self.shown(e)  # type: ignore[operator]
        if text is not None:
            # a negative value is bracketed wherever it is an operand: "a − (−20,000)"
            return [Seg(text)], 0 if text.startswith("-") else 8
        return super()._go(e)
