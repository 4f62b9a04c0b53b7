"""Peak memory of streaming a large Parquet book through `rulelang eval --output`.

Writes a seeded book of ``--accounts`` accounts for ``rulesets/bench/account.rules``
(``--distinct`` generated accounts, repeated: generating 10 million accounts in
Python would take longer than evaluating them, and repetition changes nothing
the memory depends on), then runs the CLI in a child process and reports its
wall time and peak resident set size (``ru_maxrss`` of the children: the
largest single process, the CLI or the worker it forks per record batch).

    python -m benchmarks.memory                       # 1,000,000 accounts, columnar
    python -m benchmarks.memory --accounts 10000000   # the 10-million claim (< 2 GiB)
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time

from benchmarks.accounts import account

RULES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "rulesets", "bench", "account.rules")


def write_book(path: str, accounts: int, distinct: int, seed: int = 1, group: int = 100_000) -> None:
    """A Parquet book of ``accounts`` rows: ``distinct`` seeded accounts, repeated, in row groups of ``group``."""
    import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type information
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    rng = random.Random(seed)
    pool = pa.Table.from_pylist([account(rng) for _ in range(min(distinct, accounts))])
    with pq.ParquetWriter(path, pool.schema) as writer:
        done = 0
        while done < accounts:
            start = done % pool.num_rows
            size = min(group, accounts - done, pool.num_rows - start)
            writer.write_table(pool.slice(start, size))
            done += size


def measure(book: str, output: str, backend: str) -> tuple[float, float]:
    """Run the CLI on ``book``; return its wall time (s) and peak RSS (MiB)."""
    cmd = [sys.executable, "-m", "rulelang", "eval", RULES, "-i", book, "-o", output, "-q", "--backend", backend]
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    elapsed = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    return elapsed, peak_kib / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=1_000_000)
    ap.add_argument("--distinct", type=int, default=200_000, help="accounts generated (then repeated)")
    ap.add_argument("--backend", choices=["columnar", "exact"], default="columnar")
    ap.add_argument("--output", default="results.parquet", help="results file name (.parquet, .jsonl, .csv)")
    ap.add_argument("--dir", help="where the book and results go (default: a temporary folder, removed)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        book = os.path.join(folder, "book.parquet")
        start = time.perf_counter()
        write_book(book, args.accounts, args.distinct)
        made = time.perf_counter() - start
        size = os.path.getsize(book) / 2**20
        print(
            f"book: {args.accounts:,} accounts ({args.distinct:,} distinct), {size:,.0f} MiB, written in {made:.0f} s"
        )
        # one child only before this point, so RUSAGE_CHILDREN is the CLI's own peak
        elapsed, peak = measure(book, os.path.join(folder, args.output), args.backend)
        print(f"{args.backend}: {elapsed:.1f} s ({args.accounts / elapsed:,.0f} accounts/s), peak RSS {peak:,.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
