"""Render a diff report as terminal text, Markdown, HTML or JSON.

Input: a :class:`Report` (the rule changes of :mod:`rulelang.diff.rules` and,
with a book, the :class:`~rulelang.diff.impact.Impact`). Output: text. JSON
carries every decimal as a string; HTML is one self-contained page, every user
text escaped by jinja2's autoescape.
"""

from __future__ import annotations

import io
import json
import os
from decimal import Decimal
from typing import Any

import attrs

from rulelang.diff.impact import Impact, Moved
from rulelang.diff.rules import SECTIONS, Change
from rulelang.display import show
from rulelang.results import decimal_text

TITLES = {
    "ruleset": "Ruleset",
    "inputs": "Inputs",
    "params": "Parameters",
    "profiles": "Profiles",
    "tables": "Tables",
    "definitions": "Definitions",
    "levels": "Levels",
}


@attrs.frozen(kw_only=True)
class Report:
    old: str
    new: str
    changes: tuple[Change, ...]
    impact: Impact | None = None
    book: str | None = None
    fail_on: str | None = None
    settings: tuple[str, ...] = ()  # how the versions were evaluated: parameter overrides, profiles

    def sections(self) -> list[tuple[str, list[Change]]]:
        present = [s for s in SECTIONS if any(c.section == s for c in self.changes)]
        return [(TITLES[s], [c for c in self.changes if c.section == s]) for s in present]

    @property
    def failed(self) -> bool:
        """True when ``--fail-on`` was given and an account newly reached that level or worse."""
        return self.fail_on is not None and self.impact is not None and self.impact.gate_hit


# ----------------------------------------------------------------- shared wording


def _amount(imp: Impact, v: Decimal | None, sign: bool = False) -> str:
    if v is None:
        return "-"
    text = show(v, imp.measure_type, group=True)
    return f"+{text}" if sign and v > 0 else text


def book_line(imp: Impact, book: str) -> str:
    bad = f", {imp.bad:,} could not be evaluated" if imp.bad else ""
    return f"book {book}: {imp.read:,} account(s) read, {imp.evaluated:,} evaluated under both versions{bad}"


def totals_line(imp: Impact) -> str | None:
    if imp.measure is None:
        return None
    unchanged = imp.evaluated - imp.increased - imp.decreased
    return (
        f"{imp.measure}: total {_amount(imp, imp.total_old)} {'→'} {_amount(imp, imp.total_new)} "
        f"({_amount(imp, imp.total_delta, sign=True)}); "
        f"{imp.increased:,} up, {imp.decreased:,} down, {unchanged:,} unchanged"
    )


def matrix(imp: Impact, ladder: str) -> tuple[list[str], list[list[int]]]:
    """Rows (old level) × columns (new level) of account counts, levels most severe first."""
    levels = list(imp.ladders[ladder])
    counts = imp.transitions[ladder]
    return levels, [[counts.get((a, b), 0) for b in levels] for a in levels]


def moves(imp: Impact, ladder: str) -> list[str]:
    """``safe → warning: 12`` for every changed level, most accounts first (ties in level order)."""
    levels = imp.ladders[ladder]
    items = [(n, levels.index(a), levels.index(b), a, b) for (a, b), n in imp.transitions[ladder].items() if a != b]
    return [f"{a} → {b}: {n:,}" for n, _, _, a, b in sorted(items, key=lambda x: (-x[0], x[1], x[2]))]


def gate_title(imp: Impact, ladder: str) -> str:
    gate = next(g for g in imp.gates if g.ladder == ladder)
    worse = " or worse" if imp.ladders[ladder].index(gate.level) else ""
    return f"newly at {gate.level}{worse} ({ladder}): {imp.newly[ladder]:,}"


# ----------------------------------------------------------------- text


def render_text(report: Report, width: int = 100) -> str:
    from rich.console import Console
    from rich.table import Table

    buf = io.StringIO()
    con = Console(file=buf, width=width, color_system=None, highlight=False, emoji=False, markup=False, soft_wrap=True)
    con.print(f"rulelang diff {report.old} → {report.new}")
    for line in report.settings:
        con.print(f"  {line}")
    if not report.changes:
        con.print("no changes to the rules")
    for title, changes in report.sections():
        con.print()
        con.print(title)
        for c in changes:
            con.print(f"  {c.text}")
            for d in c.details:
                con.print(f"      {d}")
    imp = report.impact
    if imp is not None and report.book is not None:
        con.print()
        con.print(book_line(imp, report.book))
        for ladder in imp.ladders:
            levels, rows = matrix(imp, ladder)
            table = Table(title=f"{ladder}: old level (rows) → new level (columns)", title_justify="left")
            table.add_column("old \\ new")
            for lv in levels:
                table.add_column(lv, justify="right")
            for lv, row in zip(levels, rows, strict=True):
                table.add_row(lv, *(f"{n:,}" for n in row))
            con.print(table)
            for line in moves(imp, ladder) or ["no account changes level"]:
                con.print(f"  {line}")
            if ladder in {g.ladder for g in imp.gates}:
                con.print(gate_title(imp, ladder))
                for m in imp.newly_samples[ladder]:
                    con.print(f"  {m.record}: {m.old_level} → {m.new_level}")
        if (totals := totals_line(imp)) is not None:
            con.print(totals)
        if imp.top:
            table = Table(title=f"largest changes of {imp.measure}", title_justify="left")
            # the account's name is never cut short (it is how the reader finds it); amounts stay whole
            table.add_column("account", justify="left", overflow="fold")
            for col in ("old", "new", "change"):
                table.add_column(col, justify="right", no_wrap=True)
            folder = os.path.dirname(report.book or "")
            for m in imp.top:
                # the book is named above: the file name and line (or row) find the account
                record = m.record[len(folder) + 1 :] if folder and m.record.startswith(folder + "/") else m.record
                table.add_row(record, _amount(imp, m.old), _amount(imp, m.new), _amount(imp, m.delta, sign=True))
            con.print(table)
        for b in imp.bad_samples:
            con.print(f"  could not evaluate {b.record} ({b.version}): {b.message}")
        if imp.bad > len(imp.bad_samples):
            con.print(f"  ... and {imp.bad - len(imp.bad_samples):,} more")
    if report.fail_on is not None and imp is not None:
        con.print(f"--fail-on {report.fail_on}: " + ("FAILED" if report.failed else "passed"))
    return buf.getvalue()


# ----------------------------------------------------------------- Markdown


def _md(text: str) -> str:
    """Escape what Markdown would read as formatting in a table cell or list item."""
    for ch in "\\`*_[]<>|":
        text = text.replace(ch, "\\" + ch)
    return text


def render_markdown(report: Report) -> str:
    out = [f"## Rule changes: `{report.old}` → `{report.new}`", ""]
    if report.settings:
        out += [f"- {_md(line)}" for line in report.settings] + [""]
    if not report.changes:
        out += ["No changes to the rules.", ""]
    for title, changes in report.sections():
        out += [f"**{title}**", ""]
        for c in changes:
            out.append(f"- {_md(c.text)}")
            out += [f"  - `{d}`" for d in c.details]
        out.append("")
    imp = report.impact
    if imp is not None and report.book is not None:
        out += [f"### Impact on the book `{report.book}`", "", _md(book_line(imp, report.book)), ""]
        for ladder in imp.ladders:
            levels, rows = matrix(imp, ladder)
            out += [f"**{_md(ladder)}**: old level (rows) → new level (columns)", ""]
            out.append("| old \\ new | " + " | ".join(_md(lv) for lv in levels) + " |")
            out.append("|---|" + "---:|" * len(levels))
            out += [
                f"| {_md(lv)} | " + " | ".join(f"{n:,}" for n in row) + " |"
                for lv, row in zip(levels, rows, strict=True)
            ]
            out.append("")
            if ladder in {g.ladder for g in imp.gates}:
                out += [f"**{_md(gate_title(imp, ladder))}**", ""]
                out += [f"- {_md(m.record)}: {m.old_level} → {m.new_level}" for m in imp.newly_samples[ladder]]
                out.append("")
        if (totals := totals_line(imp)) is not None:
            out += [_md(totals), ""]
        if imp.top:
            out += [
                f"Largest changes of {_md(imp.measure or '')}:",
                "",
                "| account | old | new | change |",
                "|---|---:|---:|---:|",
            ]
            for m in imp.top:
                cells = (_amount(imp, m.old), _amount(imp, m.new), _amount(imp, m.delta, sign=True))
                out.append(f"| {_md(m.record)} | " + " | ".join(cells) + " |")
            out.append("")
        if imp.bad_samples:
            out += [f"Accounts that could not be evaluated ({imp.bad:,}):", ""]
            out += [f"- {_md(b.record)} ({b.version}): {_md(b.message)}" for b in imp.bad_samples]
            out.append("")
    if report.fail_on is not None and imp is not None:
        out += [f"`--fail-on {report.fail_on}`: **{'FAILED' if report.failed else 'passed'}**", ""]
    return "\n".join(out)


# ----------------------------------------------------------------- HTML


def render_html(report: Report) -> str:
    """A self-contained page, with the rulebooks' templates and style (docs/templates/html/diff.html)."""
    from rulelang.docs.render import environment

    imp = report.impact
    ctx: dict[str, Any] = {"r": report, "imp": imp, "gate_title": gate_title}
    if imp is not None:
        ctx["book"] = book_line(imp, report.book or "")
        ctx["matrices"] = [(ladder, *matrix(imp, ladder)) for ladder in imp.ladders]
        ctx["gated"] = {g.ladder for g in imp.gates}
        ctx["totals"] = totals_line(imp)
        ctx["top"] = [
            (m.record, _amount(imp, m.old), _amount(imp, m.new), _amount(imp, m.delta, sign=True)) for m in imp.top
        ]
    return environment("html", "en").get_template("diff.html").render(**ctx)


# ----------------------------------------------------------------- JSON


def _dec(v: Decimal | None) -> str | None:
    return None if v is None else decimal_text(v)


def _moved(m: Moved) -> dict[str, Any]:
    return {
        "record": m.record,
        "old_level": m.old_level,
        "new_level": m.new_level,
        "old": _dec(m.old),
        "new": _dec(m.new),
    }


def to_json(report: Report) -> dict[str, Any]:
    out: dict[str, Any] = {
        "old": report.old,
        "new": report.new,
        "settings": list(report.settings),
        "changes": [c.to_json() for c in report.changes],
    }
    imp = report.impact
    if imp is None:
        out["impact"] = None
    else:
        out["impact"] = {
            "book": report.book,
            "read": imp.read,
            "evaluated": imp.evaluated,
            "bad": imp.bad,
            "bad_samples": [attrs.asdict(b) for b in imp.bad_samples],
            "ladders": {
                ladder: {
                    "levels": list(levels),
                    "transitions": [
                        {"old": a, "new": b, "accounts": imp.transitions[ladder][(a, b)]}
                        for a in levels
                        for b in levels
                        if imp.transitions[ladder].get((a, b))
                    ],
                    "gate": next((g.level for g in imp.gates if g.ladder == ladder), None),
                    "newly": imp.newly.get(ladder, 0),
                    "newly_samples": [_moved(m) for m in imp.newly_samples.get(ladder, [])],
                }
                for ladder, levels in imp.ladders.items()
            },
            "measure": None
            if imp.measure is None
            else {
                "name": imp.measure,
                "total_old": _dec(imp.total_old),
                "total_new": _dec(imp.total_new),
                "total_change": _dec(imp.total_delta),
                "increased": imp.increased,
                "decreased": imp.decreased,
                "top": [{**_moved(m), "change": _dec(m.delta)} for m in imp.top],
            },
        }
    out["fail_on"] = report.fail_on
    out["failed"] = report.failed
    return out


def render(report: Report, fmt: str) -> str:
    """The report in ``fmt``: ``text``, ``md``, ``html`` or ``json``."""
    if fmt == "json":
        return json.dumps(to_json(report), indent=2, ensure_ascii=False) + "\n"
    if fmt == "md":
        return render_markdown(report)
    if fmt == "html":
        return render_html(report)
    return render_text(report)
