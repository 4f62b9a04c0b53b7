"""Find and run every case under some paths: example blocks and scenario rows.

Input: paths (rule files, scenario files, folders) and the ``--import``
redirections. Output: one :class:`FileRun` per file, holding each case's
:class:`~rulelang.testing.Outcome` and time, or why the file could not run;
and, when asked, a coverage :class:`~rulelang.regress.coverage.Report` per
ruleset. The command line, the JUnit writer and the pytest plugin all read
these.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping

import attrs

from rulelang import api
from rulelang.errors import RulesetError
from rulelang.inputs import parse_pairs
from rulelang.regress.coverage import Coverage, Report
from rulelang.regress.scenarios import (
    EXTENSIONS,
    Row,
    ScenarioError,
    ScenarioFile,
    is_scenario_name,
    read_file,
    to_case,
)
from rulelang.testing import Case, Failure, Outcome, example_case, example_outcome, run_case


def discover(paths: Iterable[str]) -> list[tuple[str, str]]:
    """``(kind, path)`` for each file to run, kind ``rules`` or ``scenarios``; folders are searched, sorted."""
    out: list[tuple[str, str]] = []
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs.sort()
                for f in sorted(files):
                    if f.endswith(".rules"):
                        out.append(("rules", os.path.join(root, f)))
                    elif is_scenario_name(f):
                        out.append(("scenarios", os.path.join(root, f)))
        elif os.path.splitext(p)[1].lower() in EXTENSIONS:
            out.append(("scenarios", p))
        else:
            out.append(("rules", p))
    return out


@attrs.frozen
class FileRun:
    path: str
    kind: str  # rules, scenarios
    outcomes: tuple[Outcome, ...] = ()
    seconds: tuple[float, ...] = ()  # per outcome
    error: str | None = None  # why the file could not run at all
    diagnostics: RulesetError | None = None  # the errors of a ruleset that does not check


class Session:
    """Loads each ruleset once, runs cases, and keeps coverage per ruleset when asked."""

    def __init__(self, imports: Mapping[str, str] | None = None, coverage: bool = False) -> None:
        self.imports = dict(imports or {})
        self.coverage = coverage
        self._loaded: dict[str, api.Ruleset | RulesetError] = {}
        self._coverage: dict[str, tuple[Coverage, list[int]]] = {}
        self.broken: dict[str, RulesetError] = {}  # rulesets with errors, by the path first used

    def load(self, path: str) -> api.Ruleset:
        """The checked ruleset at ``path``, loaded once; raises :class:`RulesetError`."""
        key = os.path.abspath(path)
        got = self._loaded.get(key)
        if got is None:
            try:
                got = api.load(path, imports=self.imports)
            except RulesetError as err:
                got = err
                self.broken[path] = err
            self._loaded[key] = got
        if isinstance(got, RulesetError):
            raise got
        return got

    def run(self, rs: api.Ruleset, case: Case) -> tuple[Outcome, float]:
        observer = None
        if self.coverage:
            key = os.path.abspath(rs.ir.path)
            if key not in self._coverage:
                self._coverage[key] = (Coverage(rs.ir), [0])
            observer, count = self._coverage[key]
            count[0] += 1
        start = time.perf_counter()
        outcome = run_case(rs, case, observer)
        return outcome, time.perf_counter() - start

    # ------------------------------------------------------------ files
    def run_file(self, kind: str, path: str) -> FileRun:
        return self.run_rules(path) if kind == "rules" else self.run_scenarios(path)

    def run_rules(self, path: str) -> FileRun:
        try:
            rs = self.load(path)
        except RulesetError as err:
            return FileRun(path, "rules", error=f"{path}: the ruleset has errors", diagnostics=err)
        if self.coverage:
            self._coverage.setdefault(os.path.abspath(rs.ir.path), (Coverage(rs.ir), [0]))
        outcomes, seconds = [], []
        for ex in rs.ir.examples:
            outcome, took = self.run(rs, example_case(rs, ex))
            outcomes.append(example_outcome(outcome, ex))
            seconds.append(took)
        return FileRun(path, "rules", tuple(outcomes), tuple(seconds))

    def run_scenarios(self, path: str) -> FileRun:
        try:
            scenario = read_file(path)
        except ScenarioError as err:
            return FileRun(path, "scenarios", error=str(err))
        outcomes, seconds = [], []
        for row in scenario.rows:
            outcome, took = self._row(scenario, row)
            outcomes.append(outcome)
            seconds.append(took)
        return FileRun(path, "scenarios", tuple(outcomes), tuple(seconds))

    def cases(self, scenario: ScenarioFile) -> list[tuple[api.Ruleset | None, Case]]:
        """Each row of ``scenario`` as a case, with its ruleset (None: the row cannot run, its case says why)."""
        out: list[tuple[api.Ruleset | None, Case]] = []
        for row in scenario.rows:
            ruleset = scenario.ruleset_of(row)
            title = f"case {row.number}"
            if ruleset is None:
                problem = (
                    "cannot tell which ruleset to run: add a `ruleset` column or key, "
                    "or put the rule file beside this one with the same stem (usdm.cases.csv → usdm.rules)"
                )
            elif not os.path.isfile(ruleset):
                problem = f"the ruleset {ruleset} does not exist"
            else:
                try:
                    rs = self.load(ruleset)
                except RulesetError:
                    problem = f"the ruleset {ruleset} has errors"
                else:
                    out.append((rs, to_case(rs, scenario, row)))
                    continue
            data = row.data or {}
            if data.get("case"):
                title = str(data["case"]).strip()
            out.append((None, Case(title, row.location, {}, (), problems=(problem,))))
        return out

    def _row(self, scenario: ScenarioFile, row: Row) -> tuple[Outcome, float]:
        single = attrs.evolve(scenario, rows=(row,))
        ((rs, case),) = self.cases(single)
        if rs is None:
            failures = tuple(Failure("(case)", p) for p in case.problems)
            return Outcome(scenario.path, case, failures), 0.0
        return self.run(rs, case)

    def reports(self) -> list[Report]:
        """Coverage of each ruleset that has rules to cover (tables-only files are covered where imported)."""
        out = []
        for cov, count in self._coverage.values():
            if cov.ruleset.definitions or cov.ruleset.ladders:
                out.append(cov.report(count[0]))
        return out


def parse_imports(items: Iterable[str] | None) -> dict[str, str]:
    """``--import NAME=PATH`` items as a mapping; raises ValueError naming a malformed item."""
    return parse_pairs(items, "--import", "NAME=PATH")
