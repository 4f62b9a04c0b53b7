"""Freeze generated cases' current outputs as expectations and write them as a scenario file.

Input: a loaded :class:`~rulelang.api.Ruleset` and the
:class:`~rulelang.regress.boundaries.Generated` cases. Output: a scenario
file (CSV, JSON, JSON Lines or YAML, by the output's extension) that
``rulelang test`` runs: after a rule change, the cases whose outputs moved
fail, each with the old and new value and the difference.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import attrs

from rulelang.api import Ruleset
from rulelang.errors import EvaluationError, InputError
from rulelang.regress.boundaries import Generated
from rulelang.regress.literals import write_value
from rulelang.results import Result
from rulelang.values import NoSolution

FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".yaml": "yaml", ".yml": "yaml"}


@attrs.frozen
class Frozen:
    name: str
    inputs: dict[str, Any]
    expect: dict[str, Any]  # target → value (a decimal, bool or text)


def freeze(rs: Ruleset, generated: Sequence[Generated]) -> tuple[list[Frozen], list[str]]:
    """Each case with every output it gives now; and the cases that cannot be evaluated, with why."""
    out: list[Frozen] = []
    skipped: list[str] = []
    for g in generated:
        try:
            result = rs.evaluate(g.inputs)
        except (InputError, EvaluationError) as err:
            skipped.append(f"{g.name}: cannot be evaluated: {str(err).splitlines()[0]}")
            continue
        out.append(Frozen(g.name, g.inputs, _outputs(rs, result)))
    return out, skipped


def _outputs(rs: Ruleset, result: Result) -> dict[str, Any]:
    expect: dict[str, Any] = {}
    for d in rs.ir.definitions:
        if d.collection is None and not isinstance(result.values[d.name], NoSolution):
            expect[d.name] = result.values[d.name]
    for lad in rs.ir.ladders:
        expect[lad.name] = result.levels[lad.name].level
    for coll, records in result.records.items():
        for i, rec in enumerate(records):
            for name, v in rec.items():
                if not isinstance(v, NoSolution):
                    expect[f"{coll}[{i}].{name}"] = v
    return expect


def _cell(v: Any) -> Any:
    """Inputs for JSON: decimals as exact strings, everywhere in nested records."""
    if isinstance(v, Decimal):
        return write_value(v)
    if isinstance(v, dict):
        return {k: _cell(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_cell(x) for x in v]
    return v


def render(cases: Sequence[Frozen], ruleset: str, fmt: str) -> str:
    """The cases as a scenario file's text; ``ruleset`` is the rule file's path relative to that file."""
    if fmt == "json":
        doc = {
            "ruleset": ruleset,
            "cases": [{"case": c.name, "given": _cell(c.inputs), "expect": _cell(c.expect)} for c in cases],
        }
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if fmt == "yaml":
        from rulelang.regress import yamlio

        items = [{"case": c.name, "given": c.inputs, "expect": c.expect} for c in cases]
        return yamlio.dump({"ruleset": ruleset, "cases": items})
    rows = [
        {
            "case": c.name,
            "ruleset": ruleset,
            **_cell(c.inputs),
            **{f"expect:{k}": v for k, v in _cell(c.expect).items()},
        }
        for c in cases
    ]
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    columns: list[str] = []
    for r in rows:
        columns.extend(k for k in r if k not in columns)
    inputs = [k for k in columns if k not in ("case", "ruleset") and not k.startswith("expect:")]
    columns = ["case", "ruleset", *inputs, *(k for k in columns if k.startswith("expect:"))]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: _csv(v) for k, v in r.items()})
    return buf.getvalue()


def _csv(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, dict)):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def write(path: str | None, ruleset_path: str, cases: Sequence[Frozen], fmt: str | None = None) -> str:
    """Write the cases to ``path`` (None: return the CSV text); the format follows the extension."""
    if path is None:
        return render(cases, ruleset_path, fmt or "csv")
    kind = fmt or FORMATS.get(os.path.splitext(path)[1].lower(), "csv")
    relative = os.path.relpath(ruleset_path, os.path.dirname(os.path.abspath(path)))
    text = render(cases, relative.replace(os.sep, "/"), kind)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    return text
