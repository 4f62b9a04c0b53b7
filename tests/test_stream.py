"""Streaming a book through `rulelang eval --output`: Parquet in and out, and the columnar backend."""

from __future__ import annotations

import json
import math
import pathlib
import random
from decimal import Decimal
from typing import Any

import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

import rulelang  # noqa: E402 - after the skips
from benchmarks.accounts import account  # noqa: E402
from rulelang.cli import main  # noqa: E402
from rulelang.columnar import stream  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
BENCH = str(ROOT / "rulesets" / "bench" / "account.rules")
TIERED = str(ROOT / "rulesets" / "okx" / "tiered_margin.rules")


def _book(n: int = 400) -> list[dict[str, Any]]:
    rng = random.Random(3)
    accounts = [account(rng) for _ in range(n)]
    accounts[7]["usdt_index"] = "-1"  # rejected: must be > 0
    return accounts


@pytest.fixture
def book(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "book.parquet"
    pq.write_table(pa.Table.from_pylist(_book()), path)
    return path


def _read(path: pathlib.Path) -> list[dict[str, Any]]:
    if path.suffix == ".parquet":
        rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()
        return rows
    return [json.loads(line) for line in path.read_text().splitlines()]


def _check_against_exact(rows: list[dict[str, Any]], exact_numbers: bool) -> None:
    rs = rulelang.load(BENCH)
    accounts = _book()
    assert len(rows) == len(accounts) - 1
    for row in rows:
        i = int(row["record"].rsplit("[", 1)[1].rstrip("]"))
        want = rs.evaluate(accounts[i])
        level = want.levels["risk_level"]
        if isinstance(row["risk_level"], dict):  # the exact backend's JSON Lines: Result.to_json
            assert row["risk_level"] == {"level": level.level, "actions": list(level.actions)}
        else:  # the flat rows of CSV and Parquet
            assert row["risk_level"] == level.level
            assert row["risk_level.actions"] == " ".join(level.actions)
        assert row["has_requirement"] == want.values["has_requirement"]
        for name in ("equity", "maintenance", "margin_ratio"):
            exact = want.values[name]
            assert isinstance(exact, Decimal)
            if exact_numbers:
                assert Decimal(row[name]) == exact
            else:
                assert math.isclose(row[name], float(exact), rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.parametrize("backend", ["exact", "columnar"])
@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_parquet_book(book: pathlib.Path, backend: str, suffix: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = book.parent / f"results{suffix}"
    assert main(["eval", BENCH, "-i", str(book), "-o", str(out), "-q", "--backend", backend]) == 2
    assert "read 400, written 399, rejected 1 (400 = 399 + 1)" in capsys.readouterr().err
    _check_against_exact(_read(out), exact_numbers=backend == "exact")
    (reject,) = _read(book.parent / f"results{suffix}.rejects.jsonl")
    assert reject["record"] == f"{book}[7]"
    assert reject["errors"] == [{"field": "usdt_index", "message": "must be > 0, got -1"}]
    assert reject["row"]["usdt_index"] == "-1"
    assert not [p for p in book.parent.iterdir() if p.name.endswith(".tmp")]


def test_columnar_csv_output(book: pathlib.Path) -> None:
    out = book.parent / "results.csv"
    assert main(["eval", BENCH, "-i", str(book), "-o", str(out), "-q", "--backend", "columnar"]) == 2
    header = out.read_text().splitlines()[0]
    assert header.split(",")[:2] == ['"record"', '"collateral_value"']
    assert '"risk_level.actions"' in header


def test_columnar_text_input_matches_parquet(book: pathlib.Path) -> None:
    """A JSON Lines book (with a line that is not JSON, and one of the wrong shape) gives the same results."""
    text = book.parent / "book.jsonl"
    lines = [json.dumps(a) for a in _book()]
    lines[3] = "not JSON"
    lines[4] = json.dumps({**_book()[4], "positions": "many"})
    text.write_text("\n".join(lines) + "\n")
    out = book.parent / "results.parquet"
    assert main(["eval", BENCH, "-i", str(text), "-o", str(out), "-q", "--backend", "columnar"]) == 2
    rows = {r["record"].rsplit(":", 1)[1]: r for r in _read(out)}
    rejects = _read(book.parent / "results.parquet.rejects.jsonl")
    assert sorted(r["record"].rsplit(":", 1)[1] for r in rejects) == ["4", "5", "8"]
    assert len(rows) == 397
    rs = rulelang.load(BENCH)
    want = rs.evaluate(_book()[0])
    assert rows["1"]["risk_level"] == want.levels["risk_level"].level
    assert math.isclose(rows["1"]["equity"], float(want.values["equity"]), rel_tol=1e-12)  # type: ignore[arg-type]


def test_small_chunks_reconcile(book: pathlib.Path) -> None:
    rs = rulelang.load(BENCH)
    out = book.parent / "results.parquet"
    done: list[int] = []
    summary = stream.run(rs, str(book), "parquet", str(out), "parquet", rs.params(), tick=done.append, chunk=64)
    assert (summary.read, summary.written, summary.rejected) == (400, 399, 1)
    assert done == [64] * 6 + [16]
    assert pq.ParquetFile(out).metadata.num_rows == 399


def test_parquet_input_for_exact_eval_and_explain(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = tmp_path / "book.parquet"
    pq.write_table(pa.table({"position_btc": ["120"], "notional": ["1800000"]}), book)
    assert main(["eval", TIERED, "-i", str(book), "--format", "jsonl"]) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (row["record"], row["maintenance_margin_btc"]) == (f"{book}[0]", "1.05")


def test_columnar_needs_output(book: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", BENCH, "-i", str(book), "--backend", "columnar"]) == 2
    assert "--backend columnar needs --output" in capsys.readouterr().err


def test_failed_run_leaves_no_file(book: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(stream, "evaluate_batch", boom)
    with pytest.raises(RuntimeError):
        main(["eval", BENCH, "-i", str(book), "-o", str(book.parent / "r.parquet"), "--backend", "columnar"])
    assert sorted(p.name for p in book.parent.iterdir()) == ["book.parquet"]
