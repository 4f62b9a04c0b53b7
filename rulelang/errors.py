"""Diagnostics: what went wrong, where, and what was expected.

Every user-facing problem is a :class:`Diagnostic` with a stable code, a
severity, a span and a plain message. Stages collect diagnostics and raise one
:class:`RulesetError` carrying all of them, so a user fixes five mistakes in one
run. Errors in account data are :class:`InputError` (they name the record and
field, not a source position); failures while evaluating a formula are
:class:`EvaluationError` (they name the formula and its line).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence

import attrs

from rulelang.source import Span


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@attrs.frozen(kw_only=True)
class Diagnostic:
    """One problem found in a rule file."""

    code: str
    message: str
    span: Span | None
    severity: Severity = Severity.ERROR
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def render(self) -> str:
        """Render like a compiler: location, code, message, excerpt, caret, hint."""
        where = self.span.location() if self.span else "<ruleset>"
        lines = [f"{where}: {self.severity.value}[{self.code}]: {self.message}"]
        if self.span is not None:
            source = self.span.source
            line, col = source.line_col(self.span.start)
            text = source.line_text(line)
            end_line, end_col = source.line_col(max(self.span.start, self.span.end - 1))
            width = (end_col - col + 1) if end_line == line else len(text) - col + 1
            width = min(width, len(text) - col + 1)  # a span may end with its line's newline
            gutter = f"{line:>4} | "
            lines.append(gutter + text)
            lines.append(" " * (len(gutter) - 2) + "| " + " " * (col - 1) + "^" * max(1, width))
        if self.hint:
            lines.append(f"  = help: {self.hint}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
        }
        if self.span is not None:
            out.update(file=self.span.source.path, line=self.span.line, column=self.span.column)
        if self.hint:
            out["hint"] = self.hint
        return out


def sort_key(d: Diagnostic) -> tuple[str, int, str]:
    if d.span is None:
        return ("", 0, d.code)
    return (d.span.source.path, d.span.start, d.code)


class RulelangError(Exception):
    """Base class of every error rulelang raises on purpose."""


class RulesetError(RulelangError):
    """A rule file has errors; ``diagnostics`` lists all of them, in file order."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics: tuple[Diagnostic, ...] = tuple(sorted(diagnostics, key=sort_key))
        errors = [d for d in self.diagnostics if d.is_error]
        super().__init__(f"{len(errors)} error(s) in ruleset")

    def render(self) -> str:
        return "\n\n".join(d.render() for d in self.diagnostics)

    def __str__(self) -> str:
        return self.render()


class InputError(RulelangError):
    """Account data does not fit the ruleset's inputs.

    ``problems`` is a list of ``(path, message)`` pairs where ``path`` names the
    record and field, e.g. ``positions[2].quantity``.
    """

    def __init__(self, problems: Sequence[tuple[str, str]], record: str | None = None) -> None:
        self.problems = tuple(problems)
        self.record = record
        super().__init__(self.render())

    def render(self) -> str:
        prefix = f"{self.record}: " if self.record else ""
        return "\n".join(f"{prefix}{path}: {message}" for path, message in self.problems)


class EvaluationError(RulelangError):
    """A formula could not be evaluated (division by zero, size outside a table...)."""

    def __init__(self, message: str, span: Span | None, formula: str | None = None) -> None:
        self.message = message
        self.span = span
        self.formula = formula
        super().__init__(self.render())

    def render(self) -> str:
        where = f"{self.span.location()}: " if self.span else ""
        what = f"in {self.formula}: " if self.formula else ""
        return f"{where}error: {what}{self.message}"
