"""The pytest plugin: every example block and scenario row is a test item.

Registered through the ``pytest11`` entry point ``rulelang``, so installing
rulelang is enough. It collects nothing until told where: a repository of
rules says it once in its pytest configuration (no Python written)::

    [pytest]
    rulelang_paths = rulesets scenarios      # folders or files, relative to this file
    rulelang_imports = brackets=data/2024-06/*.rules   # optional, as `--import`

or ``pytest --rulelang PATH...`` collects every rule and scenario file met.
Rule files give one item per example (a ruleset with errors gives one failing
item, ``(check)``); scenario files (``cases.csv``, ``*.cases.yaml``...) one
item per row. A failure shows each expected and actual value, the difference
and the explain trace of the value that differs.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

from rulelang.api import Ruleset
from rulelang.errors import RulesetError
from rulelang.regress.runner import Session, parse_imports
from rulelang.regress.scenarios import ScenarioError, is_scenario_name, read_file
from rulelang.testing import Case, Failure, Outcome, example_case, run_case

_SESSION = pytest.StashKey[Session]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rulelang", "rule files and scenario files")
    group.addoption(
        "--rulelang",
        action="store_true",
        help="collect every *.rules file and scenario file met (not only under rulelang_paths)",
    )
    parser.addini(
        "rulelang_paths",
        type="paths",
        default=[],
        help="folders or files whose rule files and scenario files are collected as tests",
    )
    parser.addini("rulelang_imports", type="linelist", default=[], help="NAME=PATH import redirections, one a line")


def _session(config: pytest.Config) -> Session:
    session = config.stash.get(_SESSION, None)
    if session is None:
        try:
            imports = parse_imports(config.getini("rulelang_imports"))
        except ValueError as err:
            raise pytest.UsageError(f"rulelang_imports: {err}") from None
        session = config.stash[_SESSION] = Session(imports)
    return session


def _wanted(config: pytest.Config, path: pathlib.Path) -> bool:
    if config.getoption("rulelang"):
        return True
    roots: list[pathlib.Path] = config.getini("rulelang_paths")
    return any(path == root or root in path.parents for root in (r.resolve() for r in roots))


def pytest_collect_file(file_path: pathlib.Path, parent: pytest.Collector) -> pytest.Collector | None:
    name = file_path.name
    is_rules = name.endswith(".rules")
    if not (is_rules or is_scenario_name(name)) or not _wanted(parent.config, file_path.resolve()):
        return None
    if is_rules:
        return RulesFile.from_parent(parent, path=file_path)
    return ScenarioFile.from_parent(parent, path=file_path)


def _shown(path: pathlib.Path) -> str:
    """The path as messages show it: relative to the current folder when it can be."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive
        return str(path)


class CaseFailed(Exception):
    """A case whose checks failed; carries what to show."""

    def __init__(self, failures: tuple[Failure, ...]) -> None:
        super().__init__(failures[0].target if failures else "")
        self.failures = failures

    def render(self) -> str:
        return "\n".join(f.render() for f in self.failures)


class _Named:
    """Gives items unique names within a file: a repeated title gets ` [2]`, ` [3]`..."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def __call__(self, title: str) -> str:
        n = self.seen[title] = self.seen.get(title, 0) + 1
        return title if n == 1 else f"{title} [{n}]"


class RulesFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        try:
            rs = _session(self.config).load(_shown(self.path))
        except RulesetError as err:
            yield BrokenItem.from_parent(self, name="(check)", detail=err.render())
            return
        named = _Named()
        for ex in rs.ir.examples:
            case = example_case(rs, ex)
            yield CaseItem.from_parent(self, name=named(case.title), ruleset=rs, case=case)


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        try:
            scenario = read_file(_shown(self.path))
        except ScenarioError as err:
            yield BrokenItem.from_parent(self, name="(read)", detail=str(err))
            return
        named = _Named()
        for rs, case in _session(self.config).cases(scenario):
            yield CaseItem.from_parent(self, name=named(case.title), ruleset=rs, case=case)


class CaseItem(pytest.Item):
    def __init__(self, *, ruleset: Ruleset | None, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ruleset = ruleset
        self.case = case

    def runtest(self) -> None:
        if self.ruleset is None:
            failures = tuple(Failure("(case)", p) for p in self.case.problems)
            outcome = Outcome("", self.case, failures)
        else:
            outcome = run_case(self.ruleset, self.case)
        if outcome.failures:
            raise CaseFailed(outcome.failures)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFailed):
            return excinfo.value.render()
        return str(super().repr_failure(excinfo, style))

    def reportinfo(self) -> tuple[pathlib.Path, int | None, str]:
        line = self.case.location.rsplit(":", 2)
        number = next((int(p) for p in line[1:] if p.isdigit()), None)
        return self.path, number - 1 if number is not None else None, f"{self.case.location} {self.case.title}"


class BrokenItem(pytest.Item):
    """A file that cannot run: a ruleset with errors, a scenario file that cannot be read."""

    def __init__(self, *, detail: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.detail = detail

    def runtest(self) -> None:
        raise CaseFailed((Failure(self.name, self.detail),))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFailed):
            return self.detail
        return str(super().repr_failure(excinfo, style))

    def reportinfo(self) -> tuple[pathlib.Path, int | None, str]:
        return self.path, None, f"{_shown(self.path)} {self.name}"
