"""Generate cases at the boundaries of a ruleset's tables and levels.

Input: a loaded :class:`~rulelang.api.Ruleset`, a base account, the ticks.
Output: :class:`Generated` cases (an account and a name saying which boundary
it sits on) and the boundaries that could not be reached, with why.

Where the cases go:

- for every tier table a lookup reads, per key of a keyed table: each band
  edge one tick below, at, and one tick above, and a size of zero;
- for every level of a ladder, each comparison in its condition
  (``margin_ratio <= liquidation_line``) with its left side one tick below,
  at, and one tick above its right side.

The tick of a table is the one given for it (``--tick brackets=0.01``), else
the one given for all, else the table's declared ``tick``, else one unit in
the smallest decimal place of its band edges (edges 0, 50_000, 250_000: 1;
edges 0, 0.5: 0.1). The tick of a level comparison is the one given
(``--level-tick``), else the ladder's declared ``tick`` when the comparison is
in its unit, else one unit in the last decimal place of the threshold's value
as shown (70 % → 1 %; 66.67 % → 0.01 %; 0 USDT → 1 USDT). Each case changes one input of the base account
(see :mod:`rulelang.regress.measure`); a record's collection holds that one
record only, with the table's key set.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import attrs

from rulelang import ir
from rulelang.api import Ruleset
from rulelang.check.ladders import compared_type, comparisons
from rulelang.display import plain, show
from rulelang.regress.measure import Meter, reach
from rulelang.types import BoolType, EnumType, NumType


@attrs.frozen
class Generated:
    name: str
    inputs: dict[str, Any]


@attrs.frozen
class Site:
    """A lookup's size, in its scope, for one table: where table boundaries are reached."""

    table: ir.TableDecl
    scope: str | None  # the collection the size is computed per record of
    size: ir.Expr
    group: ir.Expr | None


@attrs.frozen
class Threshold:
    ladder: str
    rung: str
    compare: ir.Compare


def sites(rs: ir.Ruleset) -> list[Site]:
    """Each distinct (table, size, scope) a lookup reads, in the order the definitions use them."""
    out: list[Site] = []
    seen: set[tuple[str, str, str | None]] = set()
    for d in rs.definitions:
        for e, scope in _lookups(d.expr, d.collection):
            key = (e.table, e.size.span.text if e.size.span else repr(e.size), scope)
            if key not in seen:
                seen.add(key)
                out.append(Site(rs.table(e.table), scope, e.size, e.group))
    return out


def _lookups(e: ir.Expr, scope: str | None) -> Iterator[tuple[ir.Lookup, str | None]]:
    if isinstance(e, ir.Solve):
        return
    if isinstance(e, ir.Lookup):
        yield e, scope
    inner = e.collection if isinstance(e, ir.Aggregate) else scope
    for c in ir.children(e):
        # an aggregate's default is computed outside its records
        yield from _lookups(c, scope if isinstance(e, ir.Aggregate) and c is e.default else inner)


def thresholds(rs: ir.Ruleset) -> list[Threshold]:
    """The numeric comparisons that decide each level (through and, or, not and true/false definitions)."""
    defs = {d.qualname: d for d in rs.definitions}
    out: list[Threshold] = []
    for lad in rs.ladders:
        for rung in lad.rungs:
            if rung.cond is not None:
                out.extend(Threshold(lad.name, rung.name, c) for c in comparisons(rung.cond, defs, set()))
    return out


# ----------------------------------------------------------------- ticks


def places_tick(values: list[Decimal]) -> Decimal:
    """One unit in the smallest decimal place used by ``values`` (never more than 1)."""
    places = 0
    for v in values:
        exponent = v.normalize().as_tuple().exponent
        if isinstance(exponent, int):
            places = max(places, -exponent)
    return Decimal(1).scaleb(-places)


def table_tick(table: ir.TableDecl, ticks: Mapping[str, Decimal], default: Decimal | None) -> Decimal:
    """``--tick TABLE=TICK``, else ``--tick TICK``, else the declared tick, else the edges' smallest place."""
    if table.name in ticks:
        return ticks[table.name]
    if default is not None:
        return default
    if table.tick is not None:
        return table.tick.value
    edges = [x for _, tiers in table.tiers for t in tiers for x in (t.lower, t.upper) if x is not None]
    return places_tick(edges)


def declared_level_tick(ladder: ir.Ladder, c: ir.Compare) -> Decimal | None:
    """The ladder's declared tick when comparison ``c`` is in its unit, else None."""
    t = compared_type(c)
    if ladder.tick is None or t is None or t.dim != ladder.tick.type.dim:
        return None
    return ladder.tick.value


def level_tick(value: Decimal, t: object) -> Decimal:
    """One unit in the last decimal place of ``value`` as shown (percent points for a percentage)."""
    if isinstance(t, NumType) and t.style == "percent" and (t.dim is None or t.dim.dimensionless):
        return places_tick([value.scaleb(2)]).scaleb(-2)
    return places_tick([value])


# ----------------------------------------------------------------- the base account


def synthesized(rs: ir.Ruleset) -> dict[str, Any]:
    """An account with every input that has no default: numbers 1, the first enumeration value, one record."""
    data: dict[str, Any] = {}
    for i in rs.inputs:
        if i.fields is not None:
            data[i.name] = [{f.name: _plain(f) for f in i.fields if not f.has_default}]
        elif not i.has_default:
            data[i.name] = _plain(i)
    return data


def base_account(rs: ir.Ruleset) -> dict[str, Any]:
    """The account cases vary by default: the first example with records in the most collections, else made up.

    A collection left empty gets one made-up record, so its fields can be varied.
    """
    colls = [i.name for i in rs.inputs if i.fields is not None]
    examples = sorted(rs.examples, key=lambda ex: -sum(1 for c in colls if ex.inputs.get(c)))
    data = copy.deepcopy(dict(examples[0].inputs)) if examples else synthesized(rs)
    made_up = synthesized(rs)
    for c in colls:
        if not data.get(c):
            data[c] = made_up[c]
    return data


def _plain(decl: ir.InputDecl | ir.FieldDecl) -> object:
    t = decl.type
    if isinstance(t, NumType):
        bound = decl.bound
        if bound is not None and bound.op in ("<", "<=") and bound.bound < 1:
            return bound.bound if bound.op == "<=" else bound.bound - 1
        return Decimal(1)
    if isinstance(t, BoolType):
        return False
    if isinstance(t, EnumType):
        return t.values[0]
    return ""


# ----------------------------------------------------------------- generation


@attrs.define
class Generator:
    rs: Ruleset
    base: dict[str, Any]
    ticks: dict[str, Decimal] = attrs.Factory(dict)
    tick: Decimal | None = None
    level_tick: Decimal | None = None
    cases: list[Generated] = attrs.Factory(list)
    skipped: list[str] = attrs.Factory(list)
    _seen: dict[str, int] = attrs.Factory(dict)  # account → its case

    def run(self) -> list[Generated]:
        params = self.rs.params()
        for site in sites(self.rs.ir):
            self._site(site, params)
        for th in thresholds(self.rs.ir):
            self._threshold(th, params)
        return self.cases

    def _add(self, name: str, data: dict[str, Any]) -> None:
        """Add a case; an account already there gets this boundary's name too."""
        key = json.dumps(data, sort_keys=True, default=lambda v: plain(v) if isinstance(v, Decimal) else str(v))
        k = self._seen.get(key)
        if k is None:
            self._seen[key] = len(self.cases)
            self.cases.append(Generated(name, data))
        elif name not in self.cases[k].name.split("; "):
            self.cases[k] = Generated(f"{self.cases[k].name}; {name}", data)

    # ------------------------------------------------------------ tables
    def _site(self, site: Site, params: Mapping[str, ir.Value]) -> None:
        t = site.table
        tick = table_tick(t, self.ticks, self.tick)
        size_text = site.size.span.text if site.size.span is not None else "the size"
        meter = Meter(self.rs.ir, [(site.scope, site.size)], params)
        drivers = meter.drivers(site.size)
        if not drivers:
            self.skipped.append(f"{t.name}: the size `{size_text}` reads no input a case can set; no cases")
            return
        for key, tiers in t.tiers:
            owner = f"{t.name}[{key}]" if t.group else t.name
            data = self._keyed(site, key)
            if data is None:
                self.skipped.append(f"{owner}: cannot set the key `{key}` (it is computed); no cases")
                continue
            edges = sorted({x for tier in tiers for x in (tier.lower, tier.upper) if x is not None})
            targets: list[tuple[Decimal, str]] = []
            if Decimal(0) not in edges:
                targets.append((Decimal(0), "zero"))
            for e in edges:
                targets += [
                    (e - tick, f"one tick below {plain(e)}"),
                    (e, "at the edge"),
                    (e + tick, f"one tick above {plain(e)}"),
                ]
            low, cap = tiers[0].lower, tiers[-1].upper
            for value, how in sorted(targets, key=lambda x: x[0]):
                if value < low or (cap is not None and (value > cap or (value == cap and t.lower_inclusive))):
                    continue  # in no band: the ruleset stops with an error there, no case to freeze
                name = f"{owner}: {size_text} = {plain(value)} ({how})"
                got = reach(meter, 0, data, drivers, value)
                if got is None:
                    names = ", ".join(str(d) for d in drivers)
                    self.skipped.append(f"{name}: cannot be reached exactly by changing {names}")
                else:
                    self._add(name, got)

    def _keyed(self, site: Site, key: str) -> dict[str, Any] | None:
        data = copy.deepcopy(self.base)
        g = site.group
        if site.scope is not None:
            records = [r for r in data.get(site.scope) or [] if isinstance(r, Mapping)]
            fresh = synthesized(self.rs.ir)[site.scope][0]
            if isinstance(g, ir.FieldRef) and g.collection == site.scope:
                mine = [r for r in records if r.get(g.name) == key]
                record = dict(mine[0] if mine else records[0] if records else fresh)
                record[g.name] = key
            else:
                record = dict(records[0] if records else fresh)
            data[site.scope] = [record]
        if g is None or (isinstance(g, ir.FieldRef) and g.collection == site.scope):
            return data
        if isinstance(g, ir.InputRef):
            data[g.name] = key
            return data
        return None

    # ------------------------------------------------------------ levels
    def _threshold(self, th: Threshold, params: Mapping[str, ir.Value]) -> None:
        c = th.compare
        gap = ir.Arith(op="-", left=c.left, right=c.right, type=c.left.type, span=c.span)
        meter = Meter(self.rs.ir, [(None, gap), (None, c.right)], params)
        data = copy.deepcopy(self.base)
        values = meter.values(data)
        right = values[1] if values is not None else None
        text = c.span.text if c.span is not None else "the condition"
        owner = f"{th.ladder} {th.rung}: {text}"
        if not isinstance(right, Decimal):
            self.skipped.append(f"{owner}: cannot be evaluated on the base account; no cases")
            return
        tick = self.level_tick
        if tick is None:
            ladder = next(lad for lad in self.rs.ir.ladders if lad.name == th.ladder)
            tick = declared_level_tick(ladder, c)
        if tick is None:
            tick = level_tick(right, c.right.type)
        left_text = c.left.span.text if c.left.span is not None else "the left side"
        drivers = meter.drivers(gap)
        single = {k: v[:1] if isinstance(v, list) else v for k, v in data.items()}
        shown_tick = show(tick, c.left.type)
        for offset, how in (
            (-tick, f"one tick ({shown_tick}) below"),
            (Decimal(0), "at"),
            (tick, f"one tick ({shown_tick}) above"),
        ):
            name = f"{owner} ({left_text} {how} {show(right, c.right.type)})"
            got = reach(meter, 0, data, drivers, offset)
            if got is None and single != data:
                got = reach(meter, 0, single, drivers, offset)  # a sum over records may need the others gone
            if got is None:
                names = ", ".join(str(d) for d in drivers) or "no input"
                self.skipped.append(f"{name}: cannot be reached exactly by changing {names}")
            else:
                self._add(name, got)
