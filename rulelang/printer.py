"""Print the IR as text: formulas in infix with minimal parentheses, and whole rulesets.

Input: :mod:`rulelang.ir` objects. Output: text for ``rulelang dump --stage ir``;
``formula`` is also what other backends (docs, diff) use to show a formula.
``name`` lets a caller show each reference its own way (a label, a link).
"""

from __future__ import annotations

from collections.abc import Callable

from rulelang import ir
from rulelang.display import plain, show
from rulelang.types import NumType

_PREC = {"or": 1, "and": 2, "not": 3, "cmp": 4, "+": 5, "-": 5, "*": 6, "/": 6, "neg": 7, "atom": 8}


def _default_name(kind: str, name: str) -> str:
    """A reference as the rule file writes it: a record's own definition without its collection."""
    return name.rsplit(".", 1)[-1]


def formula(e: ir.Expr, name: Callable[[str, str], str] = _default_name, times: str = "*", divide: str = "/") -> str:
    """Return ``e`` as infix text. ``name(kind, name)`` renders each reference."""

    def go(e: ir.Expr) -> tuple[str, int]:
        match e:
            case ir.Const():
                if isinstance(e.value, str) and e.text.startswith('"'):
                    return e.text, 8
                return (e.text or show(e.value, e.type if isinstance(e.type, NumType) else None)), 8
            case ir.InputRef():
                return name("input", e.name), 8
            case ir.ParamRef():
                return name("param", e.name), 8
            case ir.DefRef():
                return name("definition", e.name), 8
            case ir.FieldRef():
                return name("field", e.name), 8
            case ir.RecDefRef():
                return name("definition", f"{e.collection}.{e.name}"), 8
            case ir.Arith():
                p = _PREC[e.op]
                sym = {"*": times, "/": divide}.get(e.op, e.op)
                # left-associative: the right side needs parentheses at equal precedence for - and /
                return f"{wrap(e.left, p)} {sym} {wrap(e.right, p + (e.op in '-/'))}", p
            case ir.Neg():
                return f"-{wrap(e.operand, 7)}", 7
            case ir.Compare():
                return f"{wrap(e.left, 5)} {e.op} {wrap(e.right, 5)}", 4
            case ir.Logic():
                p = _PREC[e.op]
                return f"{wrap(e.left, p)} {e.op} {wrap(e.right, p + 1)}", p
            case ir.Not():
                return f"not {wrap(e.operand, 3)}", 3
            case ir.Cond():
                return f"if {go(e.cond)[0]} then {go(e.then)[0]} else {go(e.otherwise)[0]}", 0
            case ir.Func():
                return f"{e.name}({', '.join(go(a)[0] for a in e.args)})", 8
            case ir.Round():
                return f"round({go(e.operand)[0]}, {e.places}, {e.mode})", 8
            case ir.Aggregate():
                parts = [e.collection]
                if e.body is not None:
                    parts.append(go(e.body)[0])
                if e.where is not None:
                    parts.append("where " + go(e.where)[0])
                if e.default is not None:
                    parts.append("default " + go(e.default)[0])
                return f"{e.func}({', '.join(parts)})", 8
            case ir.Solve():
                tick = f" to the tick {go(e.tick)[0]}" if e.tick is not None else ""
                return f"solve {name('field' if e.collection else 'input', e.vary)} until {go(e.until)[0]}{tick}", 0
            case ir.Lookup():
                table = name("table", e.table) + (f"[{go(e.group)[0]}]" if e.group is not None else "")
                target = table if e.column is None else f"{table}.{e.column}"
                return f"{e.mode}({target}, {go(e.size)[0]})", 8
        raise AssertionError(e)

    def wrap(e: ir.Expr, prec: int) -> str:
        text, p = go(e)
        return f"({text})" if p < prec else text

    return go(e)[0]


def print_ir(rs: ir.Ruleset) -> str:
    """The whole checked ruleset, one declaration per line or block."""
    out = [f"ruleset {rs.header.name}  # {rs.digest[:12]}  files: {', '.join(rs.files)}"]
    out.append("units " + ", ".join(rs.units))
    for i in rs.inputs:
        if i.fields is None:
            extra = (f" {i.bound.text}" if i.bound else "") + (f" = {i.default}" if i.has_default else "")
            out.append(f"input {i.name}: {i.type}{extra}")
        else:
            out.append(f"input {i.name}: list")
            for f in i.fields:
                extra = (f" {f.bound.text}" if f.bound else "") + (f" = {f.default}" if f.has_default else "")
                out.append(f"    {f.name}: {f.type}{extra}")
    for p in rs.params:
        out.append(f"param {p.name}: {p.type} = {p.text}")
    for pr in rs.profiles:
        out.append(f"profile {pr.name}: " + ", ".join(f"{k} = {v}" for k, v in pr.values))
    for t in rs.tables:
        incl = "from <= size < to" if t.lower_inclusive else "from < size <= to"
        per = f" per {t.group}" if t.group else ""
        tick = f"  tick {show(t.tick.value, t.tick.type)}" if t.tick is not None else ""
        out.append(f"table {t.name}: {t.key_type}{per}  bands {incl}{tick}")
        for key, tiers in t.tiers:
            for tier in tiers:
                cells = ", ".join(f"{c}={v}" for c, v in tier.values)
                cums = ", ".join(f"cum[{c}]={plain(v)}" for c, v in tier.cum)
                top = "inf" if tier.upper is None else plain(tier.upper)
                out.append(
                    f"    {key + ' ' if key else ''}tier {tier.number}: {plain(tier.lower)} .. {top}: {cells}; {cums}"
                )
    for d in rs.definitions:
        out.append(f"let {d.qualname}: {d.type} = {formula(d.expr)}")
    for lad in rs.ladders:
        out.append(f"levels {lad.name}" + (f"  tick {show(lad.tick.value, lad.tick.type)}" if lad.tick else ""))
        for r in lad.rungs:
            cond = "otherwise" if r.cond is None else "when " + formula(r.cond)
            acts = f" do {', '.join(r.actions)}" if r.actions else ""
            out.append(f"    {r.name} {cond}{acts}")
    for ex in rs.examples:
        out.append(f"example {ex.title!r}: {len(ex.expects)} expectation(s)")
    return "\n".join(out)
