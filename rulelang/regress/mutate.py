"""Mutation adequacy: change one constant at a time and see whether the tests notice.

Input: a ruleset path (with the files it imports, its example blocks and the
scenario files whose rows run on it). Output: a :class:`Report` holding each
:class:`Mutant` (one edit of the source text: a tier rate, a band edge moved in
both rows that share it, a level threshold, a parameter's value, a flipped
comparison) and what became of it: ``killed`` (a case failed), ``invalid``
(the checker rejected the mutated file) or ``survived`` (every case passed).

Mutants are made by editing the text at a node's span, so each one is a real
rule file with a line number; a mutant is loaded from a copy of the ruleset's
file tree in a temporary folder, so a constant of an imported table file is
mutated like one of the ruleset itself.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs

from rulelang import api, ir, nodes
from rulelang.check.loader import load as parse_files
from rulelang.errors import RulesetError
from rulelang.regress.runner import discover
from rulelang.regress.scenarios import ScenarioError, is_scenario_name, read_file, to_case
from rulelang.source import Span
from rulelang.testing import Case, example_case, run_case
from rulelang.types import NumType

KINDS = ("rate", "edge", "threshold", "value", "param", "comparison")
GATED = ("rate", "edge", "threshold")  # a survivor of these kinds fails `rulelang test --mutate`
STATUSES = ("killed", "invalid", "survived")
RATE_NAMES = ("imr", "mmr", "rate", "haircut", "discount", "discount_rate", "collateral_ratio")
FLIP = {"<": "<=", "<=": "<", ">": ">=", ">=": ">"}
_NUMBER = re.compile(r"-?[0-9][0-9_]*(?:\.[0-9_]*)?")
_SCALE = Decimal("1.1")


@attrs.frozen
class Edit:
    """Replace ``[start, end)`` of the file at ``path`` with ``text``."""

    path: str
    start: int
    end: int
    text: str


@attrs.frozen
class Mutant:
    kind: str  # one of KINDS
    change: str  # what changed, e.g. `table tiers tier 3 mmr 1% → 1.1%`
    path: str
    line: int
    column: int
    edits: tuple[Edit, ...]

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@attrs.frozen
class Result:
    mutant: Mutant
    status: str  # one of STATUSES
    detail: str = ""  # the case that killed it, or the checker's first error


@attrs.frozen
class Report:
    """The mutants of one ruleset and their fate; ``error`` says why none could run."""

    path: str
    name: str
    cases: int = 0
    results: tuple[Result, ...] = ()
    error: str | None = None

    def counts(self) -> dict[str, dict[str, int]]:
        out = {k: dict.fromkeys(STATUSES, 0) for k in KINDS}
        for r in self.results:
            out[r.mutant.kind][r.status] += 1
        return {k: v for k, v in out.items() if any(v.values())}

    def of(self, status: str) -> list[Result]:
        return [r for r in self.results if r.status == status]

    @property
    def failed(self) -> bool:
        """True when the ruleset could not be mutated or a rate, edge or threshold mutant survived."""
        return self.error is not None or any(r.mutant.kind in GATED for r in self.of("survived"))


# ----------------------------------------------------------------- making mutants


def _fmt(d: Decimal) -> str:
    text = format(d.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _number_at(span: Span) -> tuple[int, int, Decimal] | None:
    """The offsets and value of the number a literal starts with, as written (``0.5`` of ``0.5%``)."""
    m = _NUMBER.match(span.text)
    if m is None:
        return None
    return span.start + m.start(), span.start + m.end(), Decimal(m.group().replace("_", ""))


def _step(d: Decimal) -> Decimal:
    """One unit in the last decimal place written: 70 → 1, 66.67 → 0.01."""
    exp = d.as_tuple().exponent
    return Decimal(1).scaleb(exp if isinstance(exp, int) else 0)


def _replace(span: Span, new: Decimal, unit: str = "") -> tuple[Edit, str, str] | None:
    """The edit writing ``new`` (and ``unit``) in place of the number ``span`` starts with; the old and new literal."""
    got = _number_at(span)
    if got is None:
        return None
    start, end, _ = got
    text = _fmt(new) + (f" {unit}" if unit else "")
    after = span.source.text[span.start : start] + text + span.source.text[end : span.end]
    return Edit(span.source.path, start, end, text), span.text.strip(), after.strip()


def _mutant(kind: str, what: str, span: Span, new: Decimal, unit: str = "") -> Mutant | None:
    got = _replace(span, new, unit)
    if got is None:
        return None
    edit, old, after = got
    return Mutant(kind, f"{what} {old} → {after}", span.source.path, span.line, span.column, (edit,))


def _scaled(kind: str, what: str, span: Span) -> Mutant | None:
    """``span``'s number × 1.1, or × 0.9 for a rate that would pass 100 %; a zero becomes 0.01 % or one unit."""
    got = _number_at(span)
    if got is None:
        return None
    old = got[2]
    percent = span.text.strip().endswith("%")
    if old == 0:
        new = Decimal("0.01") if percent else _step(old)
    else:
        new = old * _SCALE
        if percent and new > 100:
            new = old * (2 - _SCALE)
    return _mutant(kind, what, span, new)


def _walk(node: Any) -> Iterator[Any]:
    """``node`` and every syntax node below it."""
    if isinstance(node, tuple):
        for item in node:
            yield from _walk(item)
    elif attrs.has(type(node)) and not isinstance(node, Span):
        yield node
        for f in attrs.fields(type(node)):
            if f.name != "span" and not f.name.endswith("_span"):
                yield from _walk(getattr(node, f.name))


def _read(ruleset: ir.Ruleset) -> set[tuple[str, str | None]]:
    """``(table, column)`` of every lookup the ruleset evaluates."""
    roots = [d.expr for d in ruleset.definitions] + [
        r.cond for lad in ruleset.ladders for r in lad.rungs if r.cond is not None
    ]
    return {(e.table, e.column) for root in roots for e in ir.walk(root) if isinstance(e, ir.Lookup)}


def _table_mutants(t: nodes.Table, read: set[tuple[str, str | None]]) -> Iterator[Mutant]:
    if t.header is None or not any(name == t.name for name, _ in read):
        return
    names = [c.value.name if isinstance(c.value, nodes.Name) else "" for c in t.header.cells]
    groups: dict[str, list[dict[str, nodes.Cell]]] = {}
    for row in t.rows:
        if len(row.cells) == len(names):
            cells = dict(zip(names, row.cells, strict=True))
            groups.setdefault(cells[t.group].text if t.group else "", []).append(cells)
    for key, rows in groups.items():
        label = f"table {t.name}[{key}]" if t.group else f"table {t.name}"
        for number, cells in enumerate(rows, start=1):
            for col, cell in cells.items():
                if col in ("from", "to", t.group) or (t.name, col) not in read:
                    continue
                if not isinstance(cell.value, nodes.Number):
                    continue
                rate = cell.value.style == "percent" or col in RATE_NAMES or col.endswith("_rate")
                m = _scaled("rate" if rate else "value", f"{label} tier {number} {col}", cell.span)
                if m is not None:
                    yield m
        for number in range(1, len(rows)):
            m = _edge(label, number, rows[number - 1], rows[number])
            if m is not None:
                yield m


def _edge(label: str, number: int, below: dict[str, nodes.Cell], above: dict[str, nodes.Cell]) -> Mutant | None:
    """Move the edge that tier ``number`` ends and the next tier starts on, in both rows, by 10 % of a band."""
    end, start = below["to"], above["from"]
    got_end, got_start = _number_at(end.span), _number_at(start.span)
    if got_end is None or got_start is None or got_end[2] != got_start[2]:
        return None  # not a shared edge as written: the checker reports it
    old = got_end[2]
    top = _number_at(above["to"].span) if not above["to"].infinite else None
    bottom = _number_at(below["from"].span)
    if top is not None:
        width = top[2] - old
    elif bottom is not None:
        width = old - bottom[2]
    else:
        return None
    new = old + width / 10
    a, b = _replace(end.span, new), _replace(start.span, new)
    if a is None or b is None or new == old:
        return None
    change = f"{label} edge {a[1]} → {a[2]} (tier {number} `to`, tier {number + 1} `from`)"
    return Mutant("edge", change, end.span.source.path, end.span.line, end.span.column, (a[0], b[0]))


def _comparisons(cond: nodes.Expr) -> Iterator[nodes.Binary]:
    """The comparisons of a condition, through `and`, `or` and `not`."""
    if isinstance(cond, nodes.Binary) and cond.op in ("and", "or"):
        yield from _comparisons(cond.left)
        yield from _comparisons(cond.right)
    elif isinstance(cond, nodes.Unary) and cond.op == "not":
        yield from _comparisons(cond.operand)
    elif isinstance(cond, nodes.Binary) and cond.op in FLIP:
        yield cond


def _units(ruleset: ir.Ruleset) -> dict[tuple[str, int], str]:
    """The unit of the other side of each comparison in a rung, by the comparison's place (``{(path, start): "USDT"}``).

    A bare ``0`` fits any unit but ``1`` does not: a stepped zero threshold is written with this unit.
    """
    out: dict[tuple[str, int], str] = {}
    for lad in ruleset.ladders:
        for e in (e for r in lad.rungs if r.cond is not None for e in ir.walk(r.cond)):
            if isinstance(e, ir.Compare) and e.span is not None:
                for side in (e.left, e.right):
                    dim = side.type.dim if isinstance(side.type, NumType) else None
                    if dim is not None and dim.items and all(abs(x) == 1 for _, x in dim.items):
                        out[(e.span.source.path, e.span.start)] = str(dim)
    return out


def _threshold_mutants(
    files: Sequence[nodes.File], units: Mapping[tuple[str, int], str]
) -> tuple[list[Mutant], set[str]]:
    """± one step of each level threshold: a literal in a rung's comparison, or the parameter it names."""
    params = {d.name: d for f in files for d in f.decls if isinstance(d, nodes.Param)}
    out: list[Mutant] = []
    used: list[str] = []
    for lv in (d for f in files for d in f.decls if isinstance(d, nodes.Levels)):
        for rung in lv.rungs:
            for cmp in _comparisons(rung.cond) if rung.cond is not None else ():
                for side in (cmp.left, cmp.right):
                    if isinstance(side, nodes.Number):
                        unit = units.get((cmp.span.source.path, cmp.span.start), "") if side.unit is None else ""
                        out.extend(_stepped(f"levels {lv.name} {rung.name}:", side.span, unit))
                    elif isinstance(side, nodes.Name) and side.name in params and side.name not in used:
                        used.append(side.name)
    for name in used:
        value = params[name].value
        if isinstance(value, nodes.Number):
            out.extend(_stepped(f"param {name}", value.span))
    for pr in (d for f in files for d in f.decls if isinstance(d, nodes.Profile)):
        for a in pr.assigns:
            if a.name in used and isinstance(a.value, nodes.Number):
                out.extend(_stepped(f"profile {pr.name} {a.name}", a.value.span))
    return out, set(used)


def _stepped(what: str, span: Span, unit: str = "") -> list[Mutant]:
    got = _number_at(span)
    if got is None:
        return []
    step = _step(got[2])
    unit = unit if got[2] == 0 and not span.text.strip().endswith("%") else ""
    return [m for m in (_mutant("threshold", what, span, got[2] + d, unit) for d in (step, -step)) if m is not None]


def mutants(files: Sequence[nodes.File], ruleset: ir.Ruleset) -> list[Mutant]:
    """Every mutant of the parsed ``files`` (the ruleset's and its imports'), in file order."""
    read = _read(ruleset)
    out: list[Mutant] = []
    for f in files:
        for t in (d for d in f.decls if isinstance(d, nodes.Table)):
            out.extend(_table_mutants(t, read))
    thresholds, threshold_params = _threshold_mutants(files, _units(ruleset))
    out.extend(thresholds)
    for f in files:
        for d in f.decls:
            if isinstance(d, nodes.Param) and d.name not in threshold_params and isinstance(d.value, nodes.Number):
                m = _scaled("param", f"param {d.name}", d.value.span)
                if m is not None:
                    out.append(m)
    for f in files:
        for d in f.decls:
            if isinstance(d, nodes.Levels):
                owners = [(f"levels {d.name} {r.name}:", r.cond) for r in d.rungs if r.cond is not None]
            elif isinstance(d, nodes.Let):
                owners = [(f"let {d.qualname}:", d.expr)]
            elif isinstance(d, nodes.Solve) and d.until is not None:
                owners = [(f"solve {d.qualname}:", d.until)]
            else:
                continue
            for what, expr in owners:
                for b in _walk(expr):
                    if isinstance(b, nodes.Binary) and b.op in FLIP and b.op_span is not None:
                        s = b.op_span
                        change = f"{what} {s.text} → {FLIP[b.op]} in `{b.span.text}`"
                        edit = Edit(s.source.path, s.start, s.end, FLIP[b.op])
                        out.append(Mutant("comparison", change, s.source.path, s.line, s.column, (edit,)))
    order = {f.path: i for i, f in enumerate(files)}
    return sorted(out, key=lambda m: (order.get(m.path, 0), m.line, m.column, KINDS.index(m.kind)))


# ----------------------------------------------------------------- running them


class _Tree:
    """A copy of a ruleset's files in a temporary folder, where one file at a time is mutated."""

    def __init__(self, paths: Sequence[str], texts: Mapping[str, str], imports: Mapping[str, str]) -> None:
        self.root = os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in paths])
        self.tmp = tempfile.mkdtemp(prefix="rulelang-mutants-")
        self.texts = dict(texts)
        for p in paths:
            self._write(p, self.texts[p])
        self.imports = {name: self._moved(pattern) for name, pattern in imports.items()}

    def _moved(self, path: str) -> str:
        rel = os.path.relpath(os.path.abspath(path), self.root)
        return path if rel.startswith("..") else os.path.join(self.tmp, rel)

    def _write(self, path: str, text: str) -> None:
        target = self._moved(path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w", encoding="utf-8") as fh:
            fh.write(text)

    def load(self, main: str, mutant: Mutant) -> api.Ruleset:
        """The ruleset at ``main`` with ``mutant`` applied; raises :class:`RulesetError`."""
        changed = {e.path for e in mutant.edits}
        for path in changed:
            text = self.texts[path]
            for e in sorted((e for e in mutant.edits if e.path == path), key=lambda e: -e.start):
                text = text[: e.start] + e.text + text[e.end :]
            self._write(path, text)
        try:
            return api.load(self._moved(main), imports=self.imports, cache=False)
        finally:
            for path in changed:
                self._write(path, self.texts[path])

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def _scenario_cases(rs: api.Ruleset, path: str, scenarios: Iterable[str]) -> tuple[list[Case], list[str]]:
    """The rows of ``scenarios`` that run on the ruleset at ``path``, as cases; and the files that cannot be read."""
    cases: list[Case] = []
    problems: list[str] = []
    for sp in scenarios:
        try:
            scenario = read_file(sp)
        except ScenarioError as err:
            problems.append(str(err))
            continue
        for row in scenario.rows:
            target = scenario.ruleset_of(row)
            if target is not None and os.path.abspath(target) == os.path.abspath(path):
                cases.append(to_case(rs, scenario, row))
    return cases, problems


def mutate_ruleset(path: str, scenarios: Iterable[str] = (), imports: Mapping[str, str] | None = None) -> Report:
    """Make every mutant of the ruleset at ``path`` and run its examples and scenario rows on each."""
    imports = dict(imports or {})
    try:
        rs = api.load(path, imports=imports)
    except RulesetError as err:
        first = err.diagnostics[0].render().splitlines()[0] if err.diagnostics else ""
        return Report(path, path, error=f"the ruleset has errors: {first}")
    loaded = parse_files(path, None, imports)
    cases = [example_case(rs, ex) for ex in rs.ir.examples]
    extra, problems = _scenario_cases(rs, path, scenarios)
    cases += extra
    name = rs.ir.header.name
    if problems:
        return Report(path, name, len(cases), error="; ".join(problems))
    failing = [o for o in (run_case(rs, c) for c in cases) if not o.passed]
    if failing:
        return Report(path, name, len(cases), error=f"{len(failing)} case(s) fail on the ruleset as written")
    tree = _Tree([s.path for s in loaded.sources], {s.path: s.text for s in loaded.sources}, imports)
    results: list[Result] = []
    try:
        for m in mutants(loaded.files, rs.ir):
            results.append(_run(tree, path, m, cases))
    finally:
        tree.close()
    return Report(path, name, len(cases), tuple(results))


def _run(tree: _Tree, path: str, m: Mutant, cases: Sequence[Case]) -> Result:
    try:
        mutated = tree.load(path, m)
    except RulesetError as err:
        errors = [d for d in err.diagnostics if d.is_error]
        return Result(m, "invalid", errors[0].message if errors else "")
    for case in cases:
        if not run_case(mutated, case).passed:
            return Result(m, "killed", f"{case.location} {case.title}")
    return Result(m, "survived")


def has_header(path: str, imports: Mapping[str, str] | None = None) -> bool:
    """True when the rule file at ``path`` starts a ruleset (a file of tables that rulesets import does not)."""
    main = parse_files(path, None, imports).files[0]
    return any(isinstance(d, nodes.Header) for d in main.decls)


def run(paths: Sequence[str], imports: Mapping[str, str] | None = None) -> list[Report]:
    """Mutate every ruleset under ``paths``; scenario files under them and beside each ruleset run too."""
    found = discover(paths)
    scenarios = [p for kind, p in found if kind == "scenarios"]
    reports = []
    for kind, path in found:
        if kind != "rules" or not has_header(path, imports):
            continue
        folder = os.path.dirname(path) or "."
        beside = [os.path.join(folder, f) for f in sorted(os.listdir(folder)) if is_scenario_name(f)]
        mine = list(dict.fromkeys(os.path.normpath(p) for p in scenarios + beside))
        reports.append(mutate_ruleset(path, mine, imports))
    return reports


# ----------------------------------------------------------------- reporting


def render(reports: Sequence[Report], verbose: bool = False) -> str:
    """The text report: per ruleset the counts by kind, then each survivor (verbose: each rejected mutant too)."""
    lines: list[str] = []
    for rep in reports:
        if rep.error is not None:
            lines.append(f"{rep.path}: cannot mutate: {rep.error}")
            continue
        lines.append(f"{rep.path} ({rep.name}): {len(rep.results)} mutant(s), {rep.cases} case(s)")
        lines.append(f"  {'kind':<11} {'killed':>7} {'invalid':>8} {'survived':>9}")
        for kind, c in rep.counts().items():
            lines.append(f"  {kind:<11} {c['killed']:>7} {c['invalid']:>8} {c['survived']:>9}")
        for r in rep.of("survived"):
            lines.append(f"  SURVIVED {r.mutant.location}: {r.mutant.kind}: {r.mutant.change}")
        if verbose:
            for r in rep.of("invalid"):
                lines.append(f"  INVALID {r.mutant.location}: {r.mutant.change} (rejected by the checker: {r.detail})")
    total = {s: sum(len(rep.of(s)) for rep in reports) for s in STATUSES}
    summary = f"{sum(total.values())} mutant(s): {total['killed']} killed, {total['invalid']} rejected by the checker"
    summary += f", {total['survived']} survived"
    broken = sum(rep.error is not None for rep in reports)
    lines.append(summary + (f", {broken} ruleset(s) not mutated" if broken else ""))
    return "\n".join(lines)


def to_json(reports: Sequence[Report]) -> dict[str, Any]:
    def result(r: Result) -> dict[str, Any]:
        m = r.mutant
        return {
            "kind": m.kind,
            "change": m.change,
            "location": m.location,
            "file": m.path,
            "line": m.line,
            "column": m.column,
            "status": r.status,
            "detail": r.detail,
        }

    return {
        "rulesets": [
            {
                "ruleset": rep.name,
                "path": rep.path,
                "cases": rep.cases,
                "error": rep.error,
                "counts": rep.counts(),
                "survived": [result(r) for r in rep.of("survived")],
                "invalid": [result(r) for r in rep.of("invalid")],
                "failed": rep.failed,
            }
            for rep in reports
        ],
        "failed": any(rep.failed for rep in reports),
    }
