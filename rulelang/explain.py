"""Explanations for a risk officer: how each value was computed, step by step.

Input: the reference interpreter's trace (:class:`~rulelang.backends.interpreter.Step`).
Output: an :class:`Explanation` holding, for the value asked about and every
value it depends on, the formula as written with its line, the values it read,
the tier rows matched with their rates (and each slice of a progressive
charge), haircuts, aggregates and roundings; as text for people and JSON for
programs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from rulelang import ir
from rulelang.backends.interpreter import AggregateNote, LadderStep, LookupNote, Note, RoundNote, SolveNote, Step
from rulelang.display import plain, show
from rulelang.errors import InputError
from rulelang.inputs import Account
from rulelang.printer import formula
from rulelang.results import Result, json_value
from rulelang.types import Dim, NumType, Type
from rulelang.values import NoSolution


@attrs.frozen
class ExplainedStep:
    name: str
    record: int | None
    value: ir.Value
    shown: str
    label: str | None
    formula: str
    location: str
    reads: tuple[tuple[str, str, ir.Value, str], ...]  # kind, name, value, shown
    details: tuple[str, ...]
    notes: tuple[dict[str, Any], ...]

    def title(self) -> str:
        return self.name if self.record is None else self.name.replace(".", f"[{self.record}].", 1)


@attrs.frozen
class ExplainedLevel:
    ladder: str
    level: str
    actions: tuple[str, ...]
    checked: tuple[tuple[str, str, bool], ...]  # rung, condition as written, held
    reads: tuple[tuple[str, str, ir.Value, str], ...] = ()  # kind, name, value, shown: what the conditions read


@attrs.frozen
class Explanation:
    target: str | None
    steps: tuple[ExplainedStep, ...]
    levels: tuple[ExplainedLevel, ...]

    def to_text(self) -> str:
        out: list[str] = []
        for s in self.steps:
            head = f"{s.title()} = {s.shown}"
            if s.label and s.label != s.name:
                head += f"   ({s.label})"
            out.append(head)
            out.append(f"  formula: {s.formula}   [{s.location}]")
            for kind, name, _, shown in s.reads:
                out.append(f"  {kind} {name} = {shown}")
            out.extend("  " + d for d in s.details)
            out.append("")
        for lv in self.levels:
            out.append(
                f"{lv.ladder}: level {lv.level}" + (f" (actions: {', '.join(lv.actions)})" if lv.actions else "")
            )
            for kind, name, _, shown in lv.reads:
                out.append(f"  {kind} {name} = {shown}")
            for rung, cond, held in lv.checked:
                out.append(f"  {rung}: {cond} -> {'true' if held else 'false'}")
            out.append("")
        return "\n".join(out).rstrip() + "\n"

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "steps": [
                {
                    "name": s.name,
                    "record": s.record,
                    "value": json_value(s.value),
                    "shown": s.shown,
                    "label": s.label,
                    "formula": s.formula,
                    "location": s.location,
                    "reads": [{"kind": k, "name": n, "value": json_value(v)} for k, n, v, _ in s.reads],
                    "details": list(s.details),
                    "notes": list(s.notes),
                }
                for s in self.steps
            ],
            "levels": [
                {
                    "ladder": lv.ladder,
                    "level": lv.level,
                    "actions": list(lv.actions),
                    "reads": [{"kind": k, "name": n, "value": json_value(v)} for k, n, v, _ in lv.reads],
                    "checked": [{"level": r, "condition": c, "held": h} for r, c, h in lv.checked],
                }
                for lv in self.levels
            ],
        }


def _deps(d: ir.Definition) -> list[str]:
    out = []
    for x in ir.walk(d.expr):
        if isinstance(x, ir.DefRef):
            out.append(x.name)
        elif isinstance(x, ir.RecDefRef):
            out.append(f"{x.collection}.{x.name}")
    return out


_RECORD_TARGET = re.compile(r"(\w+)\[(\d+)\]\.(\w+)")


def _of(s: Step) -> str | None:
    return s.definition.collection


def build_explanation(
    rs: ir.Ruleset,
    result: Result,
    steps: list[Step],
    ladder_steps: list[LadderStep],
    target: str | None,
    params: Mapping[str, ir.Value],
    account: Account,
) -> Explanation:
    defs = {d.qualname: d for d in rs.definitions}
    ladders = {lad.name: lad for lad in rs.ladders}
    collection: str | None = None
    record = -1
    wanted: set[str] = set()
    wanted_ladders: list[str] = []

    def need(q: str) -> None:
        if q in wanted:
            return
        wanted.add(q)
        for dep in _deps(defs[q]):
            need(dep)

    if target is None:
        wanted = set(defs)
        wanted_ladders = list(ladders)
    elif target in ladders:
        wanted_ladders = [target]
        for rung in ladders[target].rungs:
            if rung.cond is not None:
                for x in ir.walk(rung.cond):
                    if isinstance(x, ir.DefRef):
                        need(x.name)
    elif target in defs:
        need(target)
    elif (m := _RECORD_TARGET.fullmatch(target)) and f"{m[1]}.{m[3]}" in defs:
        # one record's value: that record's steps of its collection, and what they read
        need(f"{m[1]}.{m[3]}")
        collection, record = m[1], int(m[2])
        count = len(result.records.get(collection, ()))
        if record >= count:
            raise InputError([(target, f"no such record: the account has {count} {collection}")], "--value")
    else:
        from rulelang.check.context import did_you_mean

        hint = did_you_mean(target, [*defs, *ladders])
        raise InputError([(target, "no such definition or level ladder" + (f"; {hint}" if hint else ""))], "--value")
    types = _types(rs)
    out = [
        _step(s, types)
        for s in steps
        if s.name in wanted and (collection is None or s.record is None or s.record == record or _of(s) != collection)
    ]
    levels = []
    for ls in ladder_steps:
        if ls.ladder.name not in wanted_ladders:
            continue
        rungs = {r.name: r for r in ls.ladder.rungs}
        checked = tuple(
            (name, rungs[name].cond.span.text if rungs[name].cond is not None else "", held)  # type: ignore[union-attr]
            for name, held in ls.checked
        )
        lv = result.levels[ls.ladder.name]
        reads = _ladder_reads(rs, ls.ladder, result, params, account, types)
        levels.append(
            ExplainedLevel(ladder=lv.ladder, level=lv.level, actions=lv.actions, checked=checked, reads=reads)
        )
    return Explanation(target=target, steps=tuple(out), levels=tuple(levels))


def _ladder_reads(
    rs: ir.Ruleset,
    ladder: ir.Ladder,
    result: Result,
    params: Mapping[str, ir.Value],
    account: Account,
    types: dict[tuple[str, str], Type],
) -> tuple[tuple[str, str, ir.Value, str], ...]:
    """The definitions, parameters and inputs a ladder's conditions read, with their values."""
    scalars = [i.name for i in rs.inputs if i.fields is None]
    seen: dict[tuple[str, str], ir.Value] = {}
    for rung in ladder.rungs:
        for x in ir.walk(rung.cond) if rung.cond is not None else ():
            if isinstance(x, ir.DefRef):
                seen.setdefault(("definition", x.name), result.values[x.name])
            elif isinstance(x, ir.ParamRef):
                seen.setdefault(("param", x.name), params[x.name])
            elif isinstance(x, ir.InputRef):
                seen.setdefault(("input", x.name), account.scalars[scalars.index(x.name)])
    return tuple((k, n, v, show(v, types.get((k, n)))) for (k, n), v in seen.items())


def _types(rs: ir.Ruleset) -> dict[tuple[str, str], Type]:
    t: dict[tuple[str, str], Type] = {}
    for i in rs.inputs:
        t[("input", i.name)] = i.type
        for f in i.fields or ():
            t[("field", f.name)] = f.type
    for p in rs.params:
        t[("param", p.name)] = p.type
    for d in rs.definitions:
        t[("definition", d.qualname)] = d.type
    for table in rs.tables:
        for c in table.columns:
            t[("column", f"{table.name}.{c.name}")] = c.type
    return t


def _step(s: Step, types: dict[tuple[str, str], Type]) -> ExplainedStep:
    d = s.definition
    label = d.meta.label.get("en") if d.meta.label else None
    reads = tuple((r.kind, r.name, r.value, show(r.value, types.get((r.kind, r.name)))) for r in s.refs)
    details: list[str] = []
    notes: list[dict[str, Any]] = []
    for note in s.notes:
        details.extend(_describe(note, d.type, types))
        notes.append(_note_json(note))
    loc = d.span.location() if d.span else "?"
    return ExplainedStep(
        name=s.name,
        record=s.record,
        value=s.value,
        shown=show(s.value, d.type),
        label=label,
        formula=formula(d.expr) if isinstance(d.expr, ir.Solve) else d.expr.span.text if d.expr.span else "?",
        location=loc.rsplit(":", 1)[0],
        reads=reads,
        details=tuple(details),
        notes=tuple(notes),
    )


def _rate(v: ir.Value | None) -> str:
    if isinstance(v, Decimal):
        return show(v, NumType(Dim(), "percent"))  # exact: `v * 100` would round to 28 digits
    return str(v)


def _band(n: LookupNote) -> str:
    top = "inf" if n.upper is None else plain(n.upper)
    return f"tier {n.tier} ({plain(n.lower)} to {top})"


def _describe(n: Note, t: Type, types: dict[tuple[str, str], Type]) -> list[str]:
    if isinstance(n, LookupNote):
        where = f"table {n.table}" + (f"[{n.group}]" if n.group else "")
        col = f", column {n.column}" if n.column else ""
        size = plain(n.size)
        if n.mode == "progressive":
            lines = [f"{where}{col}: {size} charged slice by slice (progressive), {len(n.slices)} tier(s):"]
            for tier_no, width, rate, amount in n.slices:
                lines.append(f"  tier {tier_no}: {plain(width)} × {_rate(rate)} = {plain(amount)}")
            lines.append(f"  total = {' + '.join(plain(s[3]) for s in n.slices)} = {plain(n.result)}")  # type: ignore[arg-type]
            return lines
        if n.mode == "bracket":
            return [
                f"{where}{col}: {size} falls in {_band(n)}, rate {_rate(n.rate)}, "
                f"maintenance amount {plain(n.cum or Decimal(0))}",
                f"  {size} × {_rate(n.rate)} − {plain(n.cum or Decimal(0))} = {plain(n.result)}",  # type: ignore[arg-type]
            ]
        if n.mode == "step":
            return [
                f"{where}{col}: {size} falls in {_band(n)}; the whole size at its rate",
                f"  {size} × {_rate(n.rate)} = {plain(n.result)}",  # type: ignore[arg-type]
            ]
        if n.mode == "lookup":
            assert n.rate is not None
            shown = show(n.rate, types.get(("column", f"{n.table}.{n.column}")))  # 20x, 0.4%, BTCUSDT
            return [f"{where}{col}: {size} falls in {_band(n)}: {n.column} = {shown}"]
        if n.mode == "cum":
            return [f"{where}{col}: {size} falls in {_band(n)}: maintenance amount = {plain(n.result)}"]  # type: ignore[arg-type]
        return [f"{where}: {size} falls in {_band(n)}"]
    if isinstance(n, RoundNote):
        return [f"rounded {plain(n.before)} to {n.places} places ({n.mode.replace('_', '-')}) = {plain(n.after)}"]
    if isinstance(n, SolveNote):
        o = n.outcome
        start = f"{n.vary} varied from its value {plain(o.start)}, everything else fixed"
        if isinstance(o.value, NoSolution):
            return [f"solved: {start}: no value ({o.value.reason}); {o.probes} evaluations"]
        state = "holds" if o.held_at_start else "does not hold"
        lines = [f"solved: {start}; `{n.until}` {state} there"]
        assert o.exact is not None
        if o.atom is not None:
            where = o.atom.span.text if o.atom.span is not None else "the comparison"
            lines.append(f"  it changes where `{where}` changes: at {plain(o.exact)} (solved exactly)")
        else:
            lines.append(f"  it changes at {plain(o.exact)} (bisected)")
        if n.tick is not None:
            lines.append(f"  rounded to the tick {plain(n.tick)}: {plain(o.value)}")
        lines.append(f"  {o.probes} evaluations of the ruleset")
        return lines
    if isinstance(n, AggregateNote):
        which = f"{n.counted} of {n.total} records" if n.counted != n.total else f"{n.total} records"
        return [f"{n.func} over {n.collection} ({which}) = {show(n.result, t if isinstance(t, NumType) else None)}"]
    raise AssertionError(n)


def _note_json(n: Note) -> dict[str, Any]:
    if isinstance(n, SolveNote):
        o = n.outcome
        return {
            "kind": "solve",
            "vary": n.vary,
            "until": n.until,
            "start": json_value(o.start),
            "held_at_start": o.held_at_start,
            "exact": json_value(o.exact) if o.exact is not None else None,
            "solved_on": o.atom.span.text if o.atom is not None and o.atom.span is not None else None,
            "tick": json_value(n.tick) if n.tick is not None else None,
            "result": json_value(o.value),
            "evaluations": o.probes,
        }

    def conv(v: Any) -> Any:
        if isinstance(v, tuple):
            return [conv(x) for x in v]
        return json_value(v) if isinstance(v, (Decimal, bool, str)) else v

    data = attrs.asdict(n, recurse=False)
    return {"kind": type(n).__name__.removesuffix("Note").lower(), **{k: conv(v) for k, v in data.items()}}
