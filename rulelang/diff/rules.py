"""Compare two checked rulesets by name and describe each change in the risk team's words.

Input: two :class:`~rulelang.ir.Ruleset` (the old and the new version).
Output: a list of :class:`Change`, one line each ("brackets BTCUSDT tier 3 mmr:
0.65% → 0.7%"), grouped by section: ruleset, inputs, params, profiles, tables,
definitions, levels. Numbers are shown as rule files write them
(:func:`rulelang.display.show`), formulas with :func:`rulelang.printer.formula`.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import TypeVar

import attrs

from rulelang import ir, nodes
from rulelang.check.context import Context
from rulelang.check.ladders import threshold
from rulelang.display import grouped, show
from rulelang.printer import formula
from rulelang.types import NumType, Type

SECTIONS = ("ruleset", "inputs", "params", "profiles", "tables", "definitions", "levels")
ARROW = "→"

T = TypeVar("T")


@attrs.frozen(kw_only=True)
class Change:
    """One difference: ``text`` is the line shown; ``details`` are lines shown under it."""

    section: str
    subject: str  # the name of the declaration it is about
    kind: str  # added | removed | changed
    text: str
    details: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return attrs.asdict(self)


def _ch(section: str, subject: str, kind: str, text: str, details: tuple[str, ...] = ()) -> Change:
    return Change(section=section, subject=subject, kind=kind, text=text, details=details)


def named(name: str, meta: nodes.Meta | None) -> str:
    """``Label (name)`` when an English label says more than the name, else ``name``."""
    label = meta.label.get("en") if meta is not None and meta.label is not None else None
    return f"{label} ({name})" if label and label != name else name


def _num(v: ir.Value, t: Type | None) -> str:
    return show(v, t, group=True)


def _type_text(t: Type) -> str:
    return str(t)


def diff_rulesets(old: ir.Ruleset, new: ir.Ruleset) -> list[Change]:
    """Every difference between ``old`` and ``new``, in section order."""
    out: list[Change] = []
    out += _header(old, new)
    out += _inputs(old, new)
    out += _params(old, new)
    out += _profiles(old, new)
    out += _tables(old, new)
    out += _definitions(old, new)
    out += _ladders(old, new)
    return out


def _by_name(items: tuple[T, ...], key: str = "name") -> dict[str, T]:
    return {getattr(i, key): i for i in items}


def _matched(old: tuple[T, ...], new: tuple[T, ...], key: str = "name") -> tuple[list[T], list[tuple[T, T]], list[T]]:
    """Removed, kept (old, new) and added items, matched by name; in file order."""
    o, n = _by_name(old, key), _by_name(new, key)
    removed = [x for k, x in o.items() if k not in n]
    kept = [(x, n[k]) for k, x in o.items() if k in n]
    added = [x for k, x in n.items() if k not in o]
    return removed, kept, added


# ----------------------------------------------------------------- header


def _header(old: ir.Ruleset, new: ir.Ruleset) -> list[Change]:
    out = []
    h0, h1 = old.header, new.header
    for what, a, b in (
        ("name", h0.name, h1.name),
        ("version", h0.version, h1.version),
        ("effective", h0.effective, h1.effective),
    ):
        if a != b:
            out.append(_ch("ruleset", what, "changed", f"{what} {a or '-'} {ARROW} {b or '-'}"))
    return out


# ----------------------------------------------------------------- inputs


def _decl_text(decl: ir.InputDecl | ir.FieldDecl) -> str:
    text = _type_text(decl.type)
    if decl.bound is not None:
        text += f" {decl.bound.text}"
    if decl.has_default and decl.default is not None:
        text += f" = {_num(decl.default, decl.type)}"
    return text


def _inputs(old: ir.Ruleset, new: ir.Ruleset) -> list[Change]:
    out: list[Change] = []
    removed, kept, added = _matched(old.inputs, new.inputs)
    for i in removed:
        out.append(_ch("inputs", i.name, "removed", f"input {named(i.name, i.meta)} removed"))
    for i in added:
        what = "list" if i.is_collection else _decl_text(i)
        out.append(_ch("inputs", i.name, "added", f"new input {named(i.name, i.meta)}: {what}"))
    for a, b in kept:
        who = named(b.name, b.meta)
        if a.is_collection != b.is_collection:
            out.append(_ch("inputs", b.name, "changed", f"input {who}: now a {'list' if b.is_collection else 'value'}"))
            continue
        if a.fields is not None and b.fields is not None:
            f_removed, f_kept, f_added = _matched(a.fields, b.fields)
            for f in f_removed:
                out.append(_ch("inputs", b.name, "changed", f"input {who}: field {f.name} removed"))
            for f in f_added:
                text = _decl_text(f)
                out.append(_ch("inputs", b.name, "changed", f"input {who}: new field {f.name}: {text}"))
            for fa, fb in f_kept:
                ta = _decl_text(fa)
                tb = _decl_text(fb)
                if ta != tb:
                    out.append(_ch("inputs", b.name, "changed", f"input {who}: field {fb.name}: {ta} {ARROW} {tb}"))
            continue
        ta = _decl_text(a)
        tb = _decl_text(b)
        if ta != tb:
            out.append(_ch("inputs", b.name, "changed", f"input {who}: {ta} {ARROW} {tb}"))
    return out


# ----------------------------------------------------------------- params and profiles


def _params(old: ir.Ruleset, new: ir.Ruleset) -> list[Change]:
    out: list[Change] = []
    removed, kept, added = _matched(old.params, new.params)
    for p in removed:
        out.append(_ch("params", p.name, "removed", f"{named(p.name, p.meta)} removed (was {_num(p.value, p.type)})"))
    for p in added:
        out.append(_ch("params", p.name, "added", f"new {named(p.name, p.meta)} = {_num(p.value, p.type)}"))
    for a, b in kept:
        if a.value != b.value or str(a.type) != str(b.type):
            out.append(
                _ch(
                    "params",
                    b.name,
                    "changed",
                    f"{named(b.name, b.meta)}: {_num(a.value, a.type)} {ARROW} {_num(b.value, b.type)}",
                )
            )
    return out


def _profiles(old: ir.Ruleset, new: ir.Ruleset) -> list[Change]:
    out: list[Change] = []
    types = {p.name: p.type for p in (*old.params, *new.params)}
    removed, kept, added = _matched(old.profiles, new.profiles)
    for pr in removed:
        out.append(_ch("profiles", pr.name, "removed", f"profile {named(pr.name, pr.meta)} removed"))
    for pr in added:
        sets = ", ".join(f"{k} = {_num(v, types.get(k))}" for k, v in pr.values)
        out.append(
            _ch("profiles", pr.name, "added", f"new profile {named(pr.name, pr.meta)}: {sets or 'no overrides'}")
        )
    for a, b in kept:
        va, vb = dict(a.values), dict(b.values)
        who = named(b.name, b.meta)
        for k in [*va, *(k for k in vb if k not in va)]:
            t = types.get(k)
            if k not in vb:
                out.append(
                    _ch("profiles", b.name, "changed", f"profile {who}: no longer sets {k} (was {_num(va[k], t)})")
                )
            elif k not in va:
                out.append(_ch("profiles", b.name, "changed", f"profile {who}: sets {k} = {_num(vb[k], t)}"))
            elif va[k] != vb[k]:
                out.append(
                    _ch("profiles", b.name, "changed", f"profile {who}: {k} {_num(va[k], t)} {ARROW} {_num(vb[k], t)}")
                )
    return out


# ----------------------------------------------------------------- tables


def _edge(d: Decimal | None) -> str:
    return "inf" if d is None else grouped(d)


def _band(t: ir.Tier) -> str:
    return f"{_edge(t.lower)} .. {_edge(t.upper)}"


def _cells(table: ir.TableDecl, tier: ir.Tier) -> str:
    return ", ".join(f"{c} {_num(v, _col_type(table, c))}" for c, v in tier.values)


def _col_type(table: ir.TableDecl, name: str) -> Type | None:
    col = table.column(name)
    return col.type if col is not None else None


def _tables(old: ir.Ruleset, new: ir.Ruleset) -> list[Change]:
    out: list[Change] = []
    removed, kept, added = _matched(old.tables, new.tables)
    for t in removed:
        out.append(_ch("tables", t.name, "removed", f"table {named(t.name, t.meta)} removed"))
    for t in added:
        keys = len(t.tiers)
        tiers = sum(len(ts) for _, ts in t.tiers)
        per = f", {keys} key(s)" if t.group else ""
        out.append(_ch("tables", t.name, "added", f"new table {named(t.name, t.meta)}: {tiers} tier(s){per}"))
    for a, b in kept:
        out += _table(a, b)
    return out


def _table(a: ir.TableDecl, b: ir.TableDecl) -> list[Change]:
    who = named(b.name, b.meta)
    out: list[str] = []
    if str(a.key_type) != str(b.key_type):
        out.append(f"unit {a.key_type} {ARROW} {b.key_type}")
    if a.lower_inclusive != b.lower_inclusive:
        words = {True: "from <= size < to", False: "from < size <= to"}
        out.append(f"bands {words[a.lower_inclusive]} {ARROW} {words[b.lower_inclusive]}")
    out += _tick(a.tick, b.tick)
    cols_a, cols_b = [c.name for c in a.columns], [c.name for c in b.columns]
    out += [f"column {c} removed" for c in cols_a if c not in cols_b]
    out += [f"new column {c}" for c in cols_b if c not in cols_a]
    ga, gb = a.groups(), b.groups()
    for key in ga:
        if key not in gb:
            out.append(f"{key} removed ({len(ga[key])} tier(s))")
    for key in gb:
        if key not in ga:
            out.append(f"new {key}: {len(gb[key])} tier(s)")
    for key, tiers_b in gb.items():
        if key in ga:
            prefix = f"{key} " if key else ""
            out += [prefix + line for line in _tiers(b, ga[key], tiers_b)]
    return [_ch("tables", b.name, "changed", f"{who} {line}") for line in out]


def _tick(a: ir.Tick | None, b: ir.Tick | None) -> list[str]:
    """``tick 0.01 USDT → 0.1 USDT``, ``new tick 0.01 USDT``, ``tick 0.01 USDT removed``."""
    if a is None and b is None:
        return []
    if a is None:
        assert b is not None
        return [f"new tick {_num(b.value, b.type)}"]
    if b is None:
        return [f"tick {_num(a.value, a.type)} removed"]
    if a.value == b.value and a.type == b.type:
        return []
    return [f"tick {_num(a.value, a.type)} {ARROW} {_num(b.value, b.type)}"]


def _tiers(table: ir.TableDecl, old: tuple[ir.Tier, ...], new: tuple[ir.Tier, ...]) -> list[str]:
    """Tier-by-tier changes: matched by position when the count is kept, else by lower edge."""
    out: list[str] = []
    if len(old) == len(new):
        pairs = list(zip(old, new, strict=True))
        gone: list[ir.Tier] = []
        fresh: list[ir.Tier] = []
    else:
        lowers = {t.lower: t for t in old}
        pairs = [(lowers[t.lower], t) for t in new if t.lower in lowers]
        kept_lowers = {t.lower for t in new}
        gone = [t for t in old if t.lower not in kept_lowers]
        fresh = [t for t in new if t.lower not in lowers]
    for t in gone:
        out.append(f"tier {t.number} ({_band(t)}) removed")
    for ta, tb in pairs:
        if (ta.lower, ta.upper) != (tb.lower, tb.upper):
            out.append(f"tier {tb.number} band {_band(ta)} {ARROW} {_band(tb)}")
        va, vb = dict(ta.values), dict(tb.values)
        for col, v in vb.items():
            if col in va and va[col] != v:
                ct = _col_type(table, col)
                out.append(f"tier {tb.number} {col} {_num(va[col], ct)} {ARROW} {_num(v, ct)}")
    for t in fresh:
        where = f"above {_edge(t.lower)}" if t.upper is None else _band(t)
        out.append(f"new tier {t.number} {where}: {_cells(table, t)}")
    return out


# ----------------------------------------------------------------- definitions


def _terms(e: ir.Expr, sign: str = "+") -> list[str]:
    """The signed terms of a top-level sum: ``a - (b + c)`` → ``+ a``, ``- b``, ``- c``."""
    if isinstance(e, ir.Arith) and e.op in "+-":
        flip = {"+": "-", "-": "+"}
        return _terms(e.left, sign) + _terms(e.right, sign if e.op == "+" else flip[sign])
    return [f"{sign} {formula(e)}"]


def _structure(a: ir.Expr, b: ir.Expr) -> str | None:
    """``+ unsettled_fees, no longer - fee`` when the sums share a term, else None."""
    ta, tb = Counter(_terms(a)), Counter(_terms(b))
    if not ta & tb:
        return None
    added = list((tb - ta).elements())
    removed = [f"no longer {t}" for t in (ta - tb).elements()]
    return ", ".join(added + removed) or None


def _definitions(old: ir.Ruleset, new: ir.Ruleset) -> list[Change]:
    out: list[Change] = []
    removed, kept, added = _matched(old.definitions, new.definitions, key="qualname")
    for d in removed:
        out.append(
            _ch(
                "definitions",
                d.qualname,
                "removed",
                f"{named(d.qualname, d.meta)} removed",
                (f"was: {formula(d.expr)}",),
            )
        )
    for d in added:
        out.append(
            _ch(
                "definitions",
                d.qualname,
                "added",
                f"new {named(d.qualname, d.meta)}: {d.type}",
                (f"= {formula(d.expr)}",),
            )
        )
    for a, b in kept:
        who = named(b.qualname, b.meta)
        if str(a.type) != str(b.type):
            out.append(_ch("definitions", b.qualname, "changed", f"{who}: type {a.type} {ARROW} {b.type}"))
        fa, fb = formula(a.expr), formula(b.expr)
        if fa != fb:
            what = _structure(a.expr, b.expr)
            text = f"formula of {who} changed" + (f": {what}" if what else "")
            out.append(_ch("definitions", b.qualname, "changed", text, (f"was: {fa}", f"now: {fb}")))
    return out


# ----------------------------------------------------------------- ladders


def _conjuncts(e: ir.Expr) -> list[ir.Expr]:
    if isinstance(e, ir.Logic) and e.op == "and":
        return _conjuncts(e.left) + _conjuncts(e.right)
    return [e]


def rung_threshold(rs: ir.Ruleset, cond: ir.Expr | None) -> str | None:
    """``margin_ratio <= 150%``: the one threshold comparison of a rung (through ``and``), or None."""
    if cond is None:
        return None
    ctx = Context(params={p.name: p for p in rs.params})
    found = [s for s in (threshold(ctx, c) for c in _conjuncts(cond)) if s is not None]
    if len(found) != 1:
        return None
    measure, op, value = found[0]
    t = measure.type if isinstance(measure.type, NumType) else None
    return f"{formula(measure)} {op} {_num(value, t)}"


def _rung_text(r: ir.Rung) -> str:
    cond = "otherwise" if r.cond is None else f"when {formula(r.cond)}"
    acts = f" do {', '.join(r.actions)}" if r.actions else ""
    return cond + acts


def _ladders(old: ir.Ruleset, new: ir.Ruleset) -> list[Change]:
    out: list[Change] = []
    removed, kept, added = _matched(old.ladders, new.ladders)
    for lad in removed:
        out.append(_ch("levels", lad.name, "removed", f"levels {named(lad.name, lad.meta)} removed"))
    for lad in added:
        names = ", ".join(r.name for r in lad.rungs)
        out.append(_ch("levels", lad.name, "added", f"new levels {named(lad.name, lad.meta)}: {names}"))
    for a, b in kept:
        who = named(b.name, b.meta)
        lines: list[tuple[str, tuple[str, ...]]] = [(line, ()) for line in _tick(a.tick, b.tick)]
        r_removed, r_kept, r_added = _matched(a.rungs, b.rungs)
        for r in r_removed:
            lines.append((f"level {named(r.name, r.meta)} removed", ()))
        for r in r_added:
            pos = [x.name for x in b.rungs].index(r.name)
            after = f" (below {b.rungs[pos - 1].name})" if pos else " (first)"
            lines.append((f"new level {named(r.name, r.meta)}{after}", (_rung_text(r),)))
        order_a = [r.name for r in a.rungs if r.name in {x.name for x in b.rungs}]
        order_b = [r.name for r in b.rungs if r.name in {x.name for x in a.rungs}]
        if order_a != order_b:
            lines.append((f"levels reordered: {', '.join(order_a)} {ARROW} {', '.join(order_b)}", ()))
        for ra, rb in r_kept:
            rwho = named(rb.name, rb.meta)
            ca = None if ra.cond is None else formula(ra.cond)
            cb = None if rb.cond is None else formula(rb.cond)
            sa, sb = rung_threshold(old, ra.cond), rung_threshold(new, rb.cond)
            if sa is not None and sb is not None and sa != sb:
                details = (f"was: when {ca}", f"now: when {cb}") if ca != cb else ()
                lines.append((f"{rwho} threshold {sa} {ARROW} {sb}", details))
            elif ca != cb:
                lines.append((f"{rwho} condition changed", (f"was: {_rung_text(ra)}", f"now: {_rung_text(rb)}")))
            if ra.actions != rb.actions:
                acts_a = ", ".join(ra.actions) or "no actions"
                acts_b = ", ".join(rb.actions) or "no actions"
                lines.append((f"{rwho} actions {acts_a} {ARROW} {acts_b}", ()))
        out += [_ch("levels", b.name, "changed", f"{who}: {t}", details=d) for t, d in lines]
    return out
