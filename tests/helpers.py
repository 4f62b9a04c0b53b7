"""Shared test helpers: check rule text and look at its diagnostics."""

from __future__ import annotations

import os
import pathlib
import subprocess
import textwrap

from rulelang import ir
from rulelang.check import check_file
from rulelang.errors import Diagnostic, RulesetError


def dedent(text: str) -> str:
    """Strip the common indentation of a triple-quoted rule file and its first newline."""
    return textwrap.dedent(text).lstrip("\n")


def check_text(text: str, path: str = "t.rules") -> list[Diagnostic]:
    """Check ``text`` as a file named ``path``; return every diagnostic (errors and warnings)."""
    try:
        _, warnings = check_file(path, text)
    except RulesetError as err:
        return list(err.diagnostics)
    return list(warnings)


def check_ok(text: str, path: str = "t.rules") -> tuple[ir.Ruleset, list[Diagnostic]]:
    """Check ``text`` and fail the test with the rendered errors if it has any."""
    try:
        return check_file(path, text)
    except RulesetError as err:
        raise AssertionError("expected no errors, got:\n" + err.render()) from None


def errors(text: str, path: str = "t.rules") -> list[Diagnostic]:
    """Only the errors of ``text``, in file order."""
    return [d for d in check_text(text, path) if d.is_error]


def render(diags: list[Diagnostic]) -> str:
    return "\n\n".join(d.render() for d in diags)


def one_error(text: str, path: str = "t.rules") -> Diagnostic:
    """The single error of ``text``; fails with the rendered diagnostics if there are more or none."""
    found = errors(text, path)
    assert len(found) == 1, f"expected exactly one error, got {len(found)}:\n{render(found)}"
    return found[0]


def where(d: Diagnostic) -> tuple[int, int]:
    """The 1-based ``(line, column)`` of a diagnostic."""
    assert d.span is not None
    return d.span.line, d.span.column


def git(repo: pathlib.Path, *args: str) -> str:
    """Run git in ``repo`` as a fixed author, ignoring the machine's git configuration; return its output."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Risk",
        "GIT_AUTHOR_EMAIL": "risk@example.com",
        "GIT_COMMITTER_NAME": "Risk",
        "GIT_COMMITTER_EMAIL": "risk@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_SYSTEM": os.devnull,
    }
    done = subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env)
    return done.stdout
