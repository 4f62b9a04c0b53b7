"""The semantic diff of two versions of a ruleset: ``rulelang diff OLD NEW``.

Stages: :mod:`~rulelang.diff.rules` compares the two checked IRs by name
(parameters, tables tier by tier, formulas, ladders, inputs, profiles);
:mod:`~rulelang.diff.impact` evaluates a book of accounts under both versions;
:mod:`~rulelang.diff.report` renders the result as text, Markdown, HTML or JSON.
"""

from __future__ import annotations

from rulelang.diff.impact import DiffUsageError, Impact, measure_impact, read_book
from rulelang.diff.report import Report, render
from rulelang.diff.rules import Change, diff_rulesets

__all__ = ["Change", "DiffUsageError", "Impact", "Report", "diff_rulesets", "measure_impact", "read_book", "render"]
