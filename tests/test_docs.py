"""The documentation is tested: every complete rule file shown in docs/ checks and its examples pass."""

from __future__ import annotations

import pathlib
import re

import pytest

import rulelang
from rulelang.testing import run_examples

ROOT = pathlib.Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"^```rules\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _blocks() -> list[tuple[str, int, str]]:
    out = []
    for doc in sorted((ROOT / "docs").glob("*.md")):
        text = doc.read_text(encoding="utf-8")
        for m in BLOCK.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            out.append((doc.name, line, m.group(1)))
    return out


BLOCKS = _blocks()


def test_language_reference_has_rule_examples() -> None:
    assert sum(1 for name, _, _ in BLOCKS if name == "language.md") >= 5


@pytest.mark.parametrize(("doc", "line", "text"), BLOCKS, ids=[f"{d}:{n}" for d, n, _ in BLOCKS])
def test_rules_block_checks_and_its_examples_pass(doc: str, line: int, text: str, tmp_path: pathlib.Path) -> None:
    path = tmp_path / f"{doc}-{line}.rules"
    path.write_text(text, encoding="utf-8")
    rs = rulelang.load(str(path))
    outcomes = run_examples(rs)
    failures = [f.render() for o in outcomes for f in o.failures]
    assert failures == []
