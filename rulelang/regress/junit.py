"""JUnit XML for CI systems.

Input: the :class:`~rulelang.regress.runner.FileRun` of every file run.
Output: one ``<testsuite>`` per file, one ``<testcase>`` per case (a failed
one carries its expected and actual values, difference and trace), and one
``<error>`` case for a file that could not run (a ruleset with errors, an
unreadable scenario file), in the schema Jenkins, GitLab and GitHub read.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from rulelang.regress.runner import FileRun


def _classname(path: str) -> str:
    stem = os.path.splitext(os.path.normpath(path))[0].lstrip("./")
    return stem.replace(os.sep, ".").replace("/", ".")


def _line(location: str) -> str | None:
    parts = location.rsplit(":", 2)
    for part in parts[1:]:
        if part.isdigit():
            return part
    return None


def junit_xml(runs: Sequence[FileRun]) -> str:
    """The runs as a JUnit XML document (UTF-8 text, with its declaration)."""
    root = ET.Element("testsuites", name="rulelang")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    total_time = 0.0
    for run in runs:
        suite = ET.SubElement(root, "testsuite", name=run.path)
        counts = {"tests": 0, "failures": 0, "errors": 0}
        suite_time = 0.0
        if run.error is not None:
            counts["tests"] += 1
            counts["errors"] += 1
            case = ET.SubElement(suite, "testcase", classname=_classname(run.path), name="(file)", file=run.path)
            detail = run.diagnostics.render() if run.diagnostics is not None else run.error
            ET.SubElement(case, "error", message=run.error, type="rulelang.error").text = detail
        for outcome, seconds in zip(run.outcomes, run.seconds, strict=True):
            counts["tests"] += 1
            suite_time += seconds
            attrs = {"classname": _classname(run.path), "name": outcome.title, "file": run.path}
            line = _line(outcome.location)
            if line is not None:
                attrs["line"] = line
            attrs["time"] = f"{seconds:.6f}"
            case = ET.SubElement(suite, "testcase", attrs)
            if outcome.failures:
                counts["failures"] += 1
                first = outcome.failures[0]
                message = f"{first.target}: {first.message}".splitlines()[0]
                text = "\n".join(f.render() for f in outcome.failures)
                ET.SubElement(case, "failure", message=message, type="rulelang.expectation").text = text
        for k, v in counts.items():
            suite.set(k, str(v))
            totals[k] += v
        suite.set("time", f"{suite_time:.6f}")
        total_time += suite_time
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("time", f"{total_time:.6f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
