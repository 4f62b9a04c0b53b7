"""Streaming evaluation of a book: results and rejects files, reconciliation, atomic writes."""

from __future__ import annotations

import csv
import json
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

import rulelang
from rulelang import batch
from rulelang.cli import main

ROOT = pathlib.Path(__file__).resolve().parent.parent
TIERED = str(ROOT / "rulesets" / "okx" / "tiered_margin.rules")

BOOK = [
    '{"position_btc": "120", "notional": "1800000"}',
    "this is not JSON",
    '{"position_btc": "-1", "notional": "5"}',
    '{"position_btc": "50", "notional": "5000000"}',
]


@pytest.fixture
def book(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "book.jsonl"
    path.write_text("\n".join(BOOK) + "\n")
    return path


def test_results_rejects_and_reconciliation(book: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = book.parent / "results.jsonl"
    code = main(["eval", TIERED, "-i", str(book), "-o", str(out)])
    assert code == 2  # a rejected account is an input error; the others are still written
    results = [json.loads(line) for line in out.read_text().splitlines()]
    # 120 BTC -> 1.05 BTC; 1.8M -> IM 181,000; 5M -> IM 805,000 and MM 385,000; 50 BTC -> 0.25 BTC
    assert [(r["record"].rsplit(":", 1)[1], r["maintenance_margin_btc"], r["initial_margin"]) for r in results] == [
        ("1", "1.05", "181000"),
        ("4", "0.25", "805000"),
    ]
    rejects = [json.loads(line) for line in (book.parent / "results.jsonl.rejects.jsonl").read_text().splitlines()]
    assert [(r["record"].rsplit(":", 1)[1], r["row"], r["errors"][0]["field"]) for r in rejects] == [
        ("2", "this is not JSON", "(record)"),
        ("3", {"position_btc": "-1", "notional": "5"}, "position_btc"),
    ]
    assert rejects[1]["errors"][0]["message"] == "must be >= 0, got -1"
    err = capsys.readouterr().err
    assert "read 4, written 2, rejected 2 (4 = 2 + 2)" in err


def test_csv_results(book: pathlib.Path) -> None:
    out = book.parent / "results.csv"
    assert main(["eval", TIERED, "-i", str(book), "-o", str(out), "-q"]) == 2
    rows = list(csv.DictReader(out.open()))
    assert [(r["maintenance_margin"], r["notional_tier"]) for r in rows] == [("75000", "2"), ("385000", "3")]


def test_a_clean_book_leaves_no_rejects_file(tmp_path: pathlib.Path) -> None:
    book = tmp_path / "ok.jsonl"
    book.write_text(BOOK[0] + "\n")
    out = tmp_path / "r.jsonl"
    assert main(["eval", TIERED, "-i", str(book), "-o", str(out)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.jsonl", "r.jsonl"]


def test_a_crash_leaves_no_half_file(tmp_path: pathlib.Path) -> None:
    rs = rulelang.load(TIERED)

    def accounts() -> Iterator[tuple[str, Any]]:
        yield "a", {"position_btc": "1"}
        raise OSError("disk went away")

    out = tmp_path / "r.jsonl"
    with pytest.raises(OSError):
        batch.run(rs, accounts(), str(out), "jsonl", rs.params())
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_output_format_is_a_usage_error(book: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", TIERED, "-i", str(book), "-o", str(book.parent / "r.xlsx")]) == 2
    assert "write .jsonl, .csv or .parquet" in capsys.readouterr().err


def test_counting_records_for_the_progress_bar(tmp_path: pathlib.Path) -> None:
    p = tmp_path / "a.csv"
    p.write_text("x\n1\n2\n3")  # no newline after the last row
    assert batch.count_records(str(p), "csv") == 3
    assert batch.count_records(str(p), "json") is None
