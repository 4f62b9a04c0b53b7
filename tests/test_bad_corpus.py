"""Golden tests: every ``tests/corpus/bad/*.rules`` gives exactly the diagnostics in its ``.expected`` file.

The ``.expected`` files are written by hand, after checking each position and message; there is
deliberately no switch that rewrites them from the checker's output. Paths in them are relative to
the repository root, as a user running ``rulelang check`` from there sees them.
"""

from __future__ import annotations

import pathlib

import pytest

from rulelang.check import check_file
from rulelang.errors import RulesetError

ROOT = pathlib.Path(__file__).resolve().parent.parent
BAD = ROOT / "tests" / "corpus" / "bad"
CASES = sorted(BAD.glob("*.rules"))


def test_the_bad_corpus_is_not_empty() -> None:
    assert len(CASES) >= 4
    assert (BAD / "five_mistakes.rules") in CASES


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_bad_file_gives_the_expected_diagnostics(case: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected_file = case.with_suffix(".expected")
    assert expected_file.exists(), f"{case.name} has no {expected_file.name}"
    monkeypatch.chdir(ROOT)  # imports resolve from the file's folder, as the path is written
    with pytest.raises(RulesetError) as info:
        check_file(case.relative_to(ROOT).as_posix())
    assert info.value.render() + "\n" == expected_file.read_text(encoding="utf-8")


def test_five_mistakes_give_five_positioned_errors_in_one_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    with pytest.raises(RulesetError) as info:
        check_file("tests/corpus/bad/five_mistakes.rules")
    found = [(d.code, d.span.line, d.span.column) for d in info.value.diagnostics if d.span is not None]
    assert found == [
        ("RL0404", 18, 5),  # a gap between two bands
        ("RL0408", 19, 31),  # a maintenance rate above the initial rate
        ("RL0301", 23, 39),  # an amount in USDT taken from a price
        ("RL0201", 25, 46),  # a misspelt name
        ("RL0501", 27, 8),  # a ladder without `otherwise`
    ]
    assert len(info.value.diagnostics) == 5
