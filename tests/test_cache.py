"""The persistent cache of checked rulesets: used when nothing changed, refreshed when anything did."""

from __future__ import annotations

import os
import pathlib
from decimal import Decimal

import pytest

import rulelang
from rulelang import cache

RULES = 'ruleset c\nunits USDT\nimport t "parts/*.rules"\ninput s: text\ninput n: USDT\nlet m: USDT = step(t[s].r, n)\n'
PART = "units USDT\ntable t: USDT per symbol\n    bands from <= size < to\n    | symbol | from | to | r |\n    | {key} | 0 | inf | {rate} |\n"


@pytest.fixture
def tree(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    monkeypatch.setenv("RULELANG_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "A.rules").write_text(PART.format(key="A", rate="1%"))
    (tmp_path / "c.rules").write_text(RULES)
    return tmp_path


def _entries(tree: pathlib.Path) -> list[pathlib.Path]:
    return sorted((tree / "cache").rglob("*.pickle"))


def _m(tree: pathlib.Path, key: str) -> Decimal:
    value = rulelang.load(str(tree / "c.rules")).evaluate({"s": key, "n": "100"})["m"]
    assert isinstance(value, Decimal)
    return value


def test_a_second_load_comes_from_the_cache(tree: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _m(tree, "A") == Decimal("1")
    assert len(_entries(tree)) == 1
    # the checker must not run again: make it fail if it does
    monkeypatch.setattr(cache, "check_file", lambda *a, **k: pytest.fail("checked again"))
    assert _m(tree, "A") == Decimal("1")


def test_an_edited_imported_file_is_checked_again(tree: pathlib.Path) -> None:
    assert _m(tree, "A") == Decimal("1")
    (tree / "parts" / "A.rules").write_text(PART.format(key="A", rate="2%"))
    assert _m(tree, "A") == Decimal("2")


def test_a_new_file_matching_an_import_is_seen(tree: pathlib.Path) -> None:
    assert _m(tree, "A") == Decimal("1")
    (tree / "parts" / "B.rules").write_text(PART.format(key="B", rate="3%"))
    assert _m(tree, "B") == Decimal("3")


def test_rulesets_with_errors_are_not_cached(tree: pathlib.Path) -> None:
    (tree / "c.rules").write_text(RULES + "let broken = nope\n")
    with pytest.raises(rulelang.RulesetError):
        rulelang.load(str(tree / "c.rules"))
    assert _entries(tree) == []


def test_a_corrupt_entry_is_ignored(tree: pathlib.Path) -> None:
    assert _m(tree, "A") == Decimal("1")
    (entry,) = _entries(tree)
    entry.write_bytes(b"not a pickle")
    assert _m(tree, "A") == Decimal("1")


def test_caching_can_be_turned_off(tree: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RULELANG_CACHE", "0")
    assert _m(tree, "A") == Decimal("1")
    assert not os.path.exists(tree / "cache")


def test_messages_keep_the_path_as_given(tree: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree)
    absolute = rulelang.load(str(tree / "c.rules"))
    relative = rulelang.load("c.rules")
    assert absolute.ir.path == str(tree / "c.rules")
    assert relative.ir.path == "c.rules"
