"""Scenario files: tables of inputs and expected outputs, one case per row.

Input: a CSV, JSON, JSON Lines or YAML file. Output: a :class:`ScenarioFile`
of raw rows with their locations, then (given the loaded ruleset a row names)
one :class:`~rulelang.testing.Case` per row.

A row's keys (CSV columns) say what each value is:

- ``case``: the case's name; ``ruleset``: the rule file (relative to the
  scenario file); ``profile``: a profile; ``param:NAME`` or a ``params``
  mapping: parameter overrides;
- ``expect:TARGET`` or an ``expect`` mapping: an expected value, where TARGET
  is a definition, ``collection[i].name`` or a ladder (its level), optionally
  followed by ``~TOLERANCE`` (``expect:margin_ratio~0.01%``);
- anything else is an input; ``collection[i].field`` sets one field of one
  record, and a ``given`` mapping holds inputs whose names clash with the above.

The ruleset: the row's ``ruleset``, else the file's (a top-level ``ruleset:``
in JSON or YAML), else the sibling rule file with the same stem
(``usdm.cases.csv`` → ``usdm.rules``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from rulelang import ir, nodes
from rulelang.api import Ruleset
from rulelang.check.context import did_you_mean
from rulelang.errors import RulelangError
from rulelang.regress.literals import CellError, read_input, read_number, read_value
from rulelang.testing import Case, Check
from rulelang.types import NumType

EXTENSIONS = (".csv", ".json", ".jsonl", ".ndjson", ".yaml", ".yml")
STEMS = ("cases", "scenarios")  # `cases.csv`, `usdm.cases.yaml`, `okx.scenarios.jsonl`
RESERVED = ("case", "ruleset", "profile", "params", "given", "expect")
EXPECT = "expect:"
PARAM = "param:"

_TARGET = re.compile(r"^\s*([^\[\]~.\s]+)\s*(?:\[\s*(\d+)\s*\]\s*\.\s*([^\[\]~.\s]+))?\s*(?:~(.*))?$")


class ScenarioError(RulelangError):
    """A scenario file that cannot be read at all."""


def is_scenario_name(name: str) -> bool:
    """Whether a file met while searching a folder is a scenario file: ``cases.csv``, ``*.cases.yaml``..."""
    stem, ext = os.path.splitext(name)
    if ext.lower() not in EXTENSIONS:
        return False
    return stem in STEMS or any(stem.endswith("." + s) for s in STEMS)


@attrs.frozen
class Row:
    location: str  # path:line, or path[i] in a JSON array
    number: int  # 1-based position of the case in its file
    data: Mapping[str, Any] | None
    problem: str | None = None  # the row could not be read


@attrs.frozen
class ScenarioFile:
    path: str
    rows: tuple[Row, ...]
    ruleset: str | None = None  # the file's own `ruleset:`, as written
    defaults: Mapping[str, Any] = attrs.field(factory=dict)  # file-level profile, params, given

    def ruleset_of(self, row: Row) -> str | None:
        """The rule file ``row`` runs on (a path as the user can open it), or None when nothing names one."""
        named = row.data.get("ruleset") if row.data is not None else None
        named = named if isinstance(named, str) and named.strip() else self.ruleset
        folder = os.path.dirname(self.path)
        if named:
            return os.path.normpath(os.path.join(folder, named.strip()))
        stem = os.path.basename(self.path).split(".", 1)[0]
        sibling = os.path.normpath(os.path.join(folder, stem + ".rules"))
        return sibling if stem not in STEMS and os.path.isfile(sibling) else None


def read_file(path: str) -> ScenarioFile:
    """Read every row of a scenario file; raise :class:`ScenarioError` when the file cannot be read."""
    from rulelang.datafiles import DataFileError, read_accounts

    ext = os.path.splitext(path)[1].lower()
    try:
        if ext in (".csv", ".jsonl", ".ndjson"):
            fmt = "csv" if ext == ".csv" else "jsonl"
            rows = []
            for n, (name, data) in enumerate(read_accounts(path, fmt), start=1):
                if isinstance(data, DataFileError):
                    rows.append(Row(name, n, None, str(data)))
                elif not isinstance(data, Mapping):
                    rows.append(Row(name, n, None, "expected an object with the case's inputs and expectations"))
                else:
                    rows.append(Row(name, n, data))
            return ScenarioFile(path, tuple(rows))
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as err:
        raise ScenarioError(f"{path}: cannot open: {err.strerror}") from None
    except DataFileError as err:
        raise ScenarioError(str(err)) from None
    if ext == ".json":
        try:
            data = json.loads(text, parse_float=Decimal, parse_int=Decimal)
        except ValueError as err:
            raise ScenarioError(f"{path}: not valid JSON: {err}") from None
        lines: list[int] = []
    else:
        import yaml

        from rulelang.regress import yamlio

        try:
            data, lines = yamlio.load(text)
        except yaml.YAMLError as err:
            raise ScenarioError(f"{path}: not valid YAML: {err}") from None
    return _document(path, data, lines)


def _document(path: str, data: Any, lines: list[int]) -> ScenarioFile:
    head: Mapping[str, Any] = {}
    if isinstance(data, Mapping):
        head, items = data, data.get("cases")
        unknown = sorted(set(head) - {"ruleset", "profile", "params", "given", "cases"})
        if not isinstance(items, list) or unknown:
            what = f"unknown key(s) {', '.join(unknown)}" if unknown else "no `cases:` list"
            raise ScenarioError(f"{path}: {what}; a scenario file is a list of cases, or ruleset: ... cases: [...]")
    elif isinstance(data, list):
        items = data
    else:
        raise ScenarioError(f"{path}: expected a list of cases, or ruleset: ... cases: [...]")
    rows = []
    for i, item in enumerate(items):
        where = f"{path}:{lines[i]}" if i < len(lines) else f"{path}[{i}]"
        if isinstance(item, Mapping):
            rows.append(Row(where, i + 1, item))
        else:
            rows.append(Row(where, i + 1, None, "expected an object with the case's inputs and expectations"))
    ruleset = head.get("ruleset")
    defaults = {k: head[k] for k in ("profile", "params", "given") if k in head}
    return ScenarioFile(path, tuple(rows), ruleset if isinstance(ruleset, str) else None, defaults)


# ----------------------------------------------------------------- rows into cases


def parse_target(key: str) -> tuple[nodes.Target, str | None] | None:
    """``name``, ``collection[i].name``, each optionally with ``~tolerance``; None when malformed."""
    m = _TARGET.match(key)
    if m is None:
        return None
    name, index, field, tolerance = m.groups()
    target = nodes.Target(name=name, index=int(index) if index is not None else None, field=field)
    return target, tolerance.strip() if tolerance is not None else None


def to_case(rs: Ruleset, scenario: ScenarioFile, row: Row) -> Case:
    """The case ``row`` states, checked against ``rs``; what cannot be read goes into ``problems``."""
    b = _Binder(rs)
    data = row.data or {}
    title = data.get("case")
    title = str(title).strip() if title is not None and str(title).strip() else f"case {row.number}"
    if row.problem is not None:
        return Case(title, row.location, {}, (), problems=(row.problem,))
    merged: dict[str, Any] = {}
    for source in (scenario.defaults.get("given"), data.get("given")):
        if source is not None:
            b.mapping(source, "given", merged)
    params: dict[str, Any] = {}
    for source in (scenario.defaults.get("params"), data.get("params")):
        if source is not None:
            b.mapping(source, "params", params)
    profile = data.get("profile", scenario.defaults.get("profile"))
    if profile is not None and not isinstance(profile, str):
        b.problems.append(f"profile: expected a profile's name, got {profile!r}")
        profile = None
    flat: dict[str, Any] = {}
    for key, value in data.items():
        k = str(key).strip()
        if k in RESERVED:
            if k == "expect":
                b.expectations(value)
            continue
        if k.startswith(EXPECT):
            b.expectation(k[len(EXPECT) :], value)
        elif k.startswith(PARAM):
            params[k[len(PARAM) :].strip()] = value
        else:
            flat[k] = value
    b.mapping(flat, None, merged)
    inputs = b.inputs(merged)
    return Case(
        title=title,
        location=row.location,
        inputs=inputs,
        checks=tuple(b.checks),
        profile=profile.strip() if isinstance(profile, str) else None,
        params=params,
        record=row.location,
        problems=tuple(b.problems),
    )


class _Binder:
    """Reads one row's values against a ruleset, collecting every problem."""

    def __init__(self, rs: Ruleset) -> None:
        self.rs = rs
        self.checks: list[Check] = []
        self.problems: list[str] = []
        self.ladders = {lad.name: tuple(r.name for r in lad.rungs) for lad in rs.ir.ladders}

    def mapping(self, value: object, what: str | None, into: dict[str, Any]) -> None:
        if not isinstance(value, Mapping):
            self.problems.append(f"{what}: expected a mapping of names to values")
            return
        into.update({str(k).strip(): v for k, v in value.items()})

    # ------------------------------------------------------------ inputs
    def inputs(self, given: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        records: dict[str, dict[int, dict[str, Any]]] = {}
        for key, value in given.items():
            parsed = parse_target(key)
            decl = self.rs.ir.input(parsed[0].name) if parsed is not None and parsed[1] is None else None
            if parsed is None or decl is None:
                hint = did_you_mean(key.split("[")[0], [i.name for i in self.rs.ir.inputs])
                self.problems.append(f"`{key}` is not an input" + _hint(hint))
                continue
            target = parsed[0]
            if target.index is not None and decl.fields is None:
                self.problems.append(f"`{key}`: `{decl.name}` is not a list of records")
                continue
            if target.index is None:
                out[key] = self._given(decl, value)
                continue
            fdecl = next((f for f in decl.fields or () if f.name == target.field), None)
            if fdecl is None:
                hint = did_you_mean(target.field or "", [f.name for f in decl.fields or ()])
                self.problems.append(f"`{key}`: {decl.name} records have no field `{target.field}`" + _hint(hint))
                continue
            records.setdefault(decl.name, {}).setdefault(target.index, {})[fdecl.name] = read_input(value, fdecl.type)
        for name, by_index in records.items():
            if name in out:
                self.problems.append(f"`{name}` is given both whole and field by field")
                continue
            out[name] = [by_index.get(i, {}) for i in range(max(by_index) + 1)]
        return out

    def _given(self, decl: ir.InputDecl, value: object) -> object:
        if decl.fields is None:
            return read_input(value, decl.type)
        if not isinstance(value, list):
            return value  # the validator says a list of records is expected
        types = {f.name: f.type for f in decl.fields}
        return [
            {k: read_input(v, types[k]) if k in types else v for k, v in rec.items()}
            if isinstance(rec, Mapping)
            else rec
            for rec in value
        ]

    # ------------------------------------------------------------ expectations
    def expectations(self, value: object) -> None:
        if not isinstance(value, Mapping):
            self.problems.append("expect: expected a mapping of names to expected values")
            return
        for key, v in value.items():
            k = str(key).strip()
            if isinstance(v, list) and all(isinstance(r, Mapping) for r in v):
                # per-record values, nested: `positions: [{maintenance_margin: 1340}, ...]`
                for i, rec in enumerate(v):
                    for field, fv in rec.items():
                        name, _, tol = str(field).partition("~")
                        self.expectation(f"{k}[{i}].{name.strip()}" + (f"~{tol}" if tol else ""), fv)
            else:
                self.expectation(k, v)

    def expectation(self, key: str, raw: object) -> None:
        parsed = parse_target(key)
        if parsed is None:
            self.problems.append(f"`{key}`: expected NAME, COLLECTION[i].NAME or LADDER, then optionally ~TOLERANCE")
            return
        target, tol_text = parsed
        levels = self.ladders.get(target.name, ()) if target.index is None else ()
        qual = f"{target.name}.{target.field}" if target.field else target.name
        d = self.rs.ir.definition(qual)
        if not levels and d is None:
            names = [x.qualname for x in self.rs.ir.definitions] + list(self.ladders)
            hint = did_you_mean(qual, names)
            self.problems.append(f"`{target}` is not a definition or a level ladder" + _hint(hint))
            return
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return  # an empty cell expects nothing
        try:
            value = read_value(raw, d.type if d else None, levels)
            tolerance = None
            if tol_text is not None:
                if d is None or not isinstance(d.type, NumType):
                    raise CellError("a tolerance needs a numeric value")
                tolerance = abs(read_number(tol_text, d.type))
        except CellError as err:
            self.problems.append(f"{key}: {err}")
            return
        self.checks.append(Check(target, value, tolerance))


def _hint(hint: str | None) -> str:
    return f"; {hint}" if hint else ""
