"""Streaming keeps memory flat: a book of 4N chunks takes no more memory than one of N.

A child process streams a small book in tiny chunks (so that it has many) and
records, after every chunk (and a garbage collection), the bytes Arrow has
allocated, the blocks Python's allocator holds (``sys.getallocatedblocks``) and
the peak resident set size. Every chunk of the book holds the same accounts, so
a run that keeps nothing from one chunk to the next reaches the same peaks
with 4N chunks as with N, and within the 4N run the same peaks in its last 3N
chunks as in its first N. What a run keeps per chunk (a list of tables, a
cache keyed by account) or per byte of the book (pyarrow's pre-buffered
Parquet column chunks) shows as growth. No timing is asserted.

The margins, measured on this book: Arrow's peaks differ by at most 2 KiB
between the runs and not at all within one; Python's growth by under 250
blocks (the samples' own list of dicts takes ~8 blocks a chunk); peak RSS
(``VmHWM``) by at most 20 KiB within a run but by up to 4 MiB between two
processes, so it is compared within the long run only. Reading Parquet with
pyarrow's default ``pre_buffer=True`` (the leak this test was written for: 75
MiB per million accounts of the benchmark book, see ``docs/performance.md``)
keeps what the reader has read until it is closed: +1.5 MiB of Arrow memory
in the 4N run here (+390 KiB with the exact backend's smaller chunks), well
over the margin.
"""

from __future__ import annotations

import json
import os
import pathlib
import random
import subprocess
import sys
import threading
from decimal import Decimal
from typing import Any

import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from benchmarks.accounts import account  # noqa: E402 - after the skips
from rulelang.datafiles import read_accounts  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
BENCH = str(ROOT / "rulesets" / "bench" / "account.rules")

N = 4  # the short book's chunks; the long book has 4N
ARROW_MARGIN = 128 * 1024  # bytes
PYTHON_MARGIN = 2_000  # allocator blocks (a leak of one object per 6 accounts exceeds it)
RSS_MARGIN = 8 * 1024 * 1024  # bytes (allocator noise; within one run only)

CHILD = """
import gc, json, os, sys
import pyarrow as pa
import rulelang
from rulelang import batch
from rulelang.columnar import stream

rules, book, output, backend, chunk = sys.argv[1:6]
chunk = int(chunk)
rs = rulelang.load(rules)
params = rs.params({}, None)
samples = []
done = 0

def sample(n):
    global done
    done += n
    if backend == "exact" and done % chunk:
        return
    gc.collect()
    with open("/proc/self/status") as fh:  # VmHWM, not ru_maxrss: that starts at the parent's peak
        status = dict(line.split(":", 1) for line in fh)
    samples.append({
        "accounts": done,
        "arrow": pa.total_allocated_bytes(),
        "python": sys.getallocatedblocks(),
        "rss": int(status["VmRSS"].split()[0]) * 1024,
        "peak_rss": int(status["VmHWM"].split()[0]) * 1024,
    })

fmt = os.path.splitext(output)[1].lstrip(".")
in_fmt = os.path.splitext(book)[1].lstrip(".")
if backend == "columnar":
    stream.run(rs, book, in_fmt, output, fmt, params, tick=sample, chunk=chunk)
else:
    from rulelang.datafiles import read_accounts
    accounts = stream.parquet_accounts(book, chunk) if in_fmt == "parquet" else read_accounts(book, in_fmt)
    batch.run(rs, accounts, output, fmt, params, tick=lambda: sample(1))
print(json.dumps(samples))
"""


def _book(folder: pathlib.Path, suffix: str, chunks: int, chunk: int) -> pathlib.Path:
    """``chunks`` chunks of the same ``chunk`` accounts (Parquet: a row group each)."""
    rng = random.Random(5)
    accounts = [account(rng) for _ in range(chunk)]
    path = folder / f"book{chunks}{suffix}"
    if suffix == ".parquet":
        table = pa.Table.from_pylist(accounts)
        with pq.ParquetWriter(path, table.schema) as writer:
            for _ in range(chunks):
                writer.write_table(table)
    else:
        path.write_text("".join(json.dumps(a) + "\n" for a in accounts) * chunks)
    return path


def _run(folder: pathlib.Path, backend: str, suffix: str, output: str, chunks: int, chunk: int) -> list[dict[str, Any]]:
    """The samples of a child process streaming a book of ``chunks`` chunks."""
    book = _book(folder, suffix, chunks, chunk)
    cmd = [sys.executable, "-c", CHILD, BENCH, str(book), str(folder / output), backend, str(chunk)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
    samples: list[dict[str, Any]] = json.loads(proc.stdout)
    assert [s["accounts"] for s in samples] == [chunk * (i + 1) for i in range(chunks)]
    return samples


def _peak(samples: list[dict[str, Any]], key: str) -> int:
    return int(max(s[key] for s in samples))


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads VmHWM from /proc")
@pytest.mark.parametrize(
    ("backend", "suffix", "output", "chunk"),
    [
        ("columnar", ".parquet", "results.parquet", 1000),
        ("columnar", ".jsonl", "results.csv", 500),
        ("exact", ".parquet", "results.jsonl", 250),
    ],
)
def test_memory_does_not_grow_with_the_chunks(
    tmp_path: pathlib.Path, backend: str, suffix: str, output: str, chunk: int
) -> None:
    short = _run(tmp_path, backend, suffix, output, N, chunk)
    long = _run(tmp_path, backend, suffix, output, 4 * N, chunk)
    # the long run against the short one: Arrow as it is (pre-buffering reads ahead from the first
    # chunk on); Python from each run's first chunk (loading the ruleset from the cache or not
    # leaves tens of thousands of blocks more or less)
    assert _peak(long, "arrow") - _peak(short, "arrow") <= ARROW_MARGIN, (short, long)
    python = (_peak(long, "python") - long[0]["python"]) - (_peak(short, "python") - short[0]["python"])
    assert python <= PYTHON_MARGIN, (short, long)
    # the long run's last 3N chunks against its first N
    for key, margin in (("arrow", ARROW_MARGIN), ("python", PYTHON_MARGIN), ("peak_rss", RSS_MARGIN)):
        assert _peak(long[N:], key) - _peak(long[:N], key) <= margin, (key, long)


@pytest.mark.skipif(not os.path.isdir("/dev/fd"), reason="needs /dev/fd")
def test_a_pipe_is_read_as_it_comes() -> None:
    """The first account of a pipe is read while its writer is still writing: a pipe is not read whole."""
    r, w = os.pipe()
    got: list[tuple[str, Any]] = []
    reader = threading.Thread(target=lambda: got.append(next(read_accounts(f"/dev/fd/{r}"))), daemon=True)
    try:
        os.write(w, b'{"size": 1.5}\n' * 1000)  # more than the 4 KiB the format is detected from
        reader.start()
        reader.join(timeout=10)
        assert got == [(f"/dev/fd/{r}:1", {"size": Decimal("1.5")})]
    finally:
        os.close(w)
        reader.join()
        os.close(r)
