"""Rule coverage: which tier rows, level rungs and branches the cases exercised.

Input: an :class:`~rulelang.ir.Ruleset`; then, as an
:class:`~rulelang.backends.interpreter.Observer` of the reference runs of its
cases, every lookup, rung and ``if`` they went through. Output: a
:class:`Report` per ruleset (as a text table and as JSON), listing every item
never hit with its file and line.

What counts:

- a **row** of a tier table (per key of a keyed table, haircut and collateral
  tables alike) is hit when a lookup's size falls in its band; for
  ``progressive`` that is the band holding the last slice: the bands below are
  passed through, but only a case that lands in a band tests its edges;
- a **rung** of a ladder is hit when it is the level reached (``otherwise``
  included);
- each ``if`` has two **branches**, hit when its condition was true (``then``)
  or false (``else``).

Lookups and conditions inside a ``solve``'s condition are evaluated only by
the search, never for a case, so they are not counted.
"""

from __future__ import annotations

import decimal
import json
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import attrs

from rulelang import ir
from rulelang.display import plain

KINDS = ("row", "rung", "branch")
HEADINGS = {"row": "tier rows", "rung": "level rungs", "branch": "branches"}


@attrs.frozen
class Item:
    kind: str  # row, rung, branch
    owner: str  # the table, ladder or definition
    what: str  # how a person recognises it
    location: str  # path:line

    def to_json(self, hits: int) -> dict[str, Any]:
        return {"kind": self.kind, "owner": self.owner, "what": self.what, "location": self.location, "hits": hits}


def _line(span: Any, fallback: str) -> str:
    return f"{span.source.path}:{span.line}" if span is not None else fallback


def _printable(text: str) -> str:
    """``text`` on one line: a key may hold any character."""
    return text if text.isprintable() else json.dumps(text, ensure_ascii=False)[1:-1]


def _conds(e: ir.Expr) -> Iterable[ir.Cond]:
    """The ``if`` expressions of ``e`` that a case evaluates (not those only a solve's search does)."""
    if isinstance(e, ir.Solve):
        return
    if isinstance(e, ir.Cond):
        yield e
    for c in ir.children(e):
        yield from _conds(c)


class Coverage:
    """Counts, for one ruleset, how often each row, rung and branch was hit."""

    def __init__(self, ruleset: ir.Ruleset) -> None:
        self.ruleset = ruleset
        self.items: list[Item] = []
        self.hits: list[int] = []
        self._rows: dict[tuple[str, str, int], int] = {}
        self._rungs: dict[tuple[str, int], int] = {}
        self._branches: dict[tuple[int, bool], int] = {}
        path = ruleset.path
        for t in ruleset.tables:
            for key, tiers in t.tiers:
                owner = f"{t.name}[{_printable(key)}]" if t.group else t.name
                for k, tier in enumerate(tiers):
                    upper = "inf" if tier.upper is None else plain(tier.upper)
                    what = f"table {owner} row {tier.number} ({plain(tier.lower)} .. {upper})"
                    self._rows[(t.name, key, k)] = self._add("row", t.name, what, _line(tier.span, path))
        for lad in ruleset.ladders:
            for k, rung in enumerate(lad.rungs):
                what = f"ladder {lad.name} level {rung.name}"
                self._rungs[(lad.name, k)] = self._add("rung", lad.name, what, _line(rung.span, path))
        sources: list[tuple[str, ir.Expr]] = [(d.qualname, d.expr) for d in ruleset.definitions]
        sources += [(lad.name, r.cond) for lad in ruleset.ladders for r in lad.rungs if r.cond is not None]
        for owner, expr in sources:
            for cond in _conds(expr):
                text = cond.cond.span.text if cond.cond.span is not None else "the condition"
                where = _line(cond.span, path)
                for taken, branch in ((True, "then"), (False, "else")):
                    what = f"{owner}: `if {text}` {branch}"
                    self._branches[(id(cond), taken)] = self._add("branch", owner, what, where)

    def _add(self, kind: str, owner: str, what: str, location: str) -> int:
        self.items.append(Item(kind, owner, what, location))
        self.hits.append(0)
        return len(self.items) - 1

    # ------------------------------------------------------------ the observer
    def lookup(self, e: ir.Lookup, key: str, size: Decimal, index: int) -> None:
        k = self._rows.get((e.table, key, index))
        if k is not None:
            self.hits[k] += 1

    def branch(self, e: ir.Cond, taken: bool) -> None:
        k = self._branches.get((id(e), taken))
        if k is not None:
            self.hits[k] += 1

    def rung(self, ladder: ir.Ladder, index: int) -> None:
        k = self._rungs.get((ladder.name, index))
        if k is not None:
            self.hits[k] += 1

    def report(self, cases: int) -> Report:
        return Report(self.ruleset.header.name, self.ruleset.path, cases, tuple(self.items), tuple(self.hits))


@attrs.frozen
class Report:
    ruleset: str
    path: str
    cases: int  # how many cases ran on the ruleset
    items: tuple[Item, ...]
    hits: tuple[int, ...]

    def count(self, kind: str | None = None) -> tuple[int, int]:
        """(hit, total) of one kind of item, or of all."""
        pairs = [(i, h) for i, h in zip(self.items, self.hits, strict=True) if kind is None or i.kind == kind]
        return sum(1 for _, h in pairs if h), len(pairs)

    def missed(self) -> list[Item]:
        return [i for i, h in zip(self.items, self.hits, strict=True) if not h]

    def to_json(self) -> dict[str, Any]:
        hit, total = self.count()
        return {
            "ruleset": self.ruleset,
            "path": self.path,
            "cases": self.cases,
            **{HEADINGS[k].replace(" ", "_"): dict(zip(("hit", "total"), self.count(k), strict=True)) for k in KINDS},
            "hit": hit,
            "total": total,
            "percent": percent_text(hit, total),
            "items": [i.to_json(h) for i, h in zip(self.items, self.hits, strict=True)],
        }


def percent_text(hit: int, total: int) -> str:
    """``hit / total`` as a percentage with one decimal, rounded down (99.96 % is not shown as 100 %)."""
    if total == 0:
        return "100.0"
    with decimal.localcontext() as ctx:
        ctx.rounding = decimal.ROUND_DOWN
        return str((Decimal(hit * 100) / total).quantize(Decimal("0.1")))


def below(reports: Sequence[Report], fail_under: Decimal) -> bool:
    """Whether the items hit over all ``reports`` are fewer than ``fail_under`` percent of them."""
    hit = sum(r.count()[0] for r in reports)
    total = sum(r.count()[1] for r in reports)
    return total > 0 and hit * 100 < fail_under * total


def render_table(reports: Sequence[Report]) -> str:
    """The coverage of each ruleset as a text table, then every item never hit."""
    head = ["ruleset", "cases", *(HEADINGS[k] for k in KINDS), "total"]
    rows = []
    for r in reports:
        hit, total = r.count()
        cells = [f"{h}/{t}" for h, t in (r.count(k) for k in KINDS)]
        rows.append([r.path, str(r.cases), *cells, f"{percent_text(hit, total)}%"])
    if len(reports) > 1:
        sums = [(sum(r.count(k)[0] for r in reports), sum(r.count(k)[1] for r in reports)) for k in (*KINDS, None)]
        cells = [f"{h}/{t}" for h, t in sums[:-1]]
        rows.append(["TOTAL", str(sum(r.cases for r in reports)), *cells, f"{percent_text(*sums[-1])}%"])
    widths = [max(len(x[c]) for x in [head, *rows]) for c in range(len(head))]
    lines = []
    for n, row in enumerate([head, *rows]):
        cells = [row[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    for r in reports:
        missed = r.missed()
        if missed:
            lines.append("")
            lines.append(f"never hit in {r.path}:")
            lines.extend(f"  {i.location}: {i.what}" for i in missed)
    return "\n".join(lines)


def to_json(reports: Sequence[Report]) -> dict[str, Any]:
    hit = sum(r.count()[0] for r in reports)
    total = sum(r.count()[1] for r in reports)
    return {
        "rulesets": [r.to_json() for r in reports],
        "hit": hit,
        "total": total,
        "percent": percent_text(hit, total),
    }
