"""Peak memory of streaming a book through `rulelang eval --output`, at several book sizes.

Writes a seeded book for ``rulesets/bench/account.rules`` per size (``--distinct``
generated accounts, repeated: generating 10 million accounts in Python would
take longer than evaluating them, and repetition changes nothing the memory
depends on), runs the CLI on each in a child process, and reports its wall
time and peak resident set size: the ``ru_maxrss`` that ``wait4`` gives for
the child, the largest of the CLI and any worker it forks. From the
peaks it fits the slope (MiB per million accounts, least squares): flat
streaming gives a slope near 0, whatever the book's size.

The results go to ``benchmarks/results/memory.json`` and ``memory.md``: one
entry per configuration (backend, input and output format), replaced when
that configuration runs again, so the page collects every configuration run.

    python -m benchmarks.memory                                  # 200k, 1M and 5M accounts, columnar
    python -m benchmarks.memory --accounts 1000000 10000000      # flat up to 10 million (< 2 GiB)
    python -m benchmarks.memory --backend exact --accounts 100000 400000
    python -m benchmarks.memory --output results.jsonl           # JSON Lines results (.csv: CSV)
    python -m benchmarks.memory --input jsonl                    # a JSON Lines book (the text path)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from typing import Any

from benchmarks.accounts import account
from benchmarks.report import machine

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RULES = os.path.join(ROOT, "rulesets", "bench", "account.rules")
RESULTS = os.path.join(ROOT, "benchmarks", "results")
SIZES = [200_000, 1_000_000, 5_000_000]


def write_book(path: str, accounts: int, distinct: int, seed: int = 1, group: int = 100_000) -> None:
    """A book of ``accounts`` rows: ``distinct`` seeded accounts, repeated (Parquet: in row groups of ``group``).

    The format follows the extension: ``.parquet`` or ``.jsonl``. The distinct
    accounts are kept next to the book (``<folder>/pool-<seed>-<distinct>.parquet``)
    for the next size: making them takes longer than writing the book.
    """
    import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type information
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    kept = os.path.join(os.path.dirname(os.path.abspath(path)), f"pool-{seed}-{distinct}.parquet")
    if os.path.exists(kept):
        table = pq.read_table(kept)
    else:
        rng = random.Random(seed)
        table = pa.Table.from_pylist([account(rng) for _ in range(distinct)])
        pq.write_table(table, kept)
    table = table.slice(0, accounts)
    if path.endswith(".jsonl"):
        lines = [json.dumps(a, separators=(",", ":")) + "\n" for a in _present(table.to_pylist())]
        with open(path, "w", encoding="utf-8") as fh:
            for start in range(0, accounts, len(lines)):
                fh.writelines(lines[: accounts - start])
        return
    with pq.ParquetWriter(path, table.schema) as writer:
        done = 0
        while done < accounts:
            start = done % table.num_rows
            size = min(group, accounts - done, table.num_rows - start)
            writer.write_table(table.slice(start, size))
            done += size


def _present(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows read back from Parquet without the nulls Arrow filled in for fields an account does not give."""

    def clean(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items() if x is not None}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v

    return [clean(r) for r in rows]


def _write_book_in_child(path: str, accounts: int, distinct: int) -> None:
    """``write_book`` in a child process, so that this one stays small (see :func:`measure`)."""
    code = "import sys; from benchmarks.memory import write_book; write_book(sys.argv[1], *map(int, sys.argv[2:]))"
    subprocess.run([sys.executable, "-c", code, path, str(accounts), str(distinct)], check=True, cwd=ROOT)


def measure(book: str, output: str, backend: str) -> tuple[float, float]:
    """Run the CLI on ``book``; return its wall time (s) and peak RSS (MiB) with its forked workers.

    The child's ``ru_maxrss`` starts at this process's own peak: Linux carries
    the high-water mark over the ``vfork`` and ``exec`` that start it. So this
    process must never hold more than the CLI does: the books are written by
    another child, and nothing large is made here.
    """
    cmd = [sys.executable, "-m", "rulelang", "eval", RULES, "-i", book, "-o", output, "-q", "--backend", backend]
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        # wait4: this child's own figures (its waited-for workers included), not every child's so far
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            sys.stderr.write(err.read().decode(errors="replace"))
            raise subprocess.CalledProcessError(proc.returncode, cmd)
    return elapsed, usage.ru_maxrss / 1024  # KiB on Linux


def slope(points: list[tuple[int, float]]) -> float | None:
    """Least-squares MiB per million accounts of ``(accounts, peak MiB)``; None with fewer than two sizes."""
    if len({n for n, _ in points}) < 2:
        return None
    xs = [n / 1e6 for n, _ in points]
    ys = [p for _, p in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)


def run(sizes: list[int], distinct: int, backend: str, input_fmt: str, output: str, folder: str) -> dict[str, Any]:
    """Measure every size; return the configuration's entry for the results file."""
    rows: list[dict[str, Any]] = []
    for n in sorted(sizes):
        book = os.path.join(folder, f"book.{input_fmt}")
        start = time.perf_counter()
        _write_book_in_child(book, n, distinct)
        made = time.perf_counter() - start
        size = os.path.getsize(book) / 2**20
        results = os.path.join(folder, output)
        elapsed, peak = measure(book, results, backend)
        for path in (book, results, results + ".rejects.jsonl"):  # before the next size
            if os.path.exists(path):
                os.unlink(path)
        rows.append(
            {
                "accounts": n,
                "book_mib": round(size, 1),
                "seconds": round(elapsed, 2),
                "accounts_per_second": round(n / elapsed),
                "peak_rss_mib": round(peak, 1),
            }
        )
        print(
            f"{n:>12,} accounts  book {size:7,.0f} MiB (written in {made:.0f} s)  {elapsed:7.1f} s"
            f"  {n / elapsed:>10,.0f} accounts/s  peak RSS {peak:7,.0f} MiB",
            flush=True,
        )
    peaks = [(r["accounts"], r["peak_rss_mib"]) for r in rows]
    fitted = slope(peaks)
    spread = max(p for _, p in peaks) - min(p for _, p in peaks)
    if fitted is not None:
        print(f"slope: {fitted:+.1f} MiB per million accounts; peaks within {spread:.0f} MiB of each other")
    return {
        "backend": backend,
        "input": input_fmt,
        "output": os.path.splitext(output)[1].lstrip("."),
        "distinct": distinct,
        "sizes": rows,
        "slope_mib_per_million": None if fitted is None else round(fitted, 2),
        "spread_mib": round(spread, 1),
        "machine": machine(),
        "arrow_memory_pool": _pool(),
        "command": "python -m benchmarks.memory " + " ".join(sys.argv[1:]),
    }


def _pool() -> str:
    import pyarrow as pa

    return str(pa.default_memory_pool().backend_name)


def save(entry: dict[str, Any], directory: str = RESULTS, stem: str = "memory") -> tuple[str, str]:
    """Put ``entry`` into ``<stem>.json`` (replacing the same configuration's) and render ``<stem>.md``."""
    os.makedirs(directory, exist_ok=True)
    json_path, md_path = (os.path.join(directory, f"{stem}.{ext}") for ext in ("json", "md"))
    runs: list[dict[str, Any]] = []
    if os.path.exists(json_path):
        with open(json_path, encoding="utf-8") as fh:
            runs = json.load(fh).get("runs", [])
    key = (entry["backend"], entry["input"], entry["output"])
    runs = [r for r in runs if (r["backend"], r["input"], r["output"]) != key] + [entry]
    runs.sort(key=_order)
    with open(json_path, "w", encoding="utf-8") as fh:
        json.dump({"runs": runs}, fh, indent=2)
        fh.write("\n")
    with open(md_path, "w", encoding="utf-8") as fh:
        fh.write(markdown(runs))
    return json_path, md_path


def _order(entry: dict[str, Any]) -> tuple[bool, bool, bool, str]:
    """Columnar first, then Parquet in, then Parquet out."""
    return entry["backend"] != "columnar", entry["input"] != "parquet", entry["output"] != "parquet", entry["output"]


def markdown(runs: list[dict[str, Any]]) -> str:
    """The results page: a table per configuration, with its slope."""
    lines = [
        "# Memory of streaming a book",
        "",
        "`python -m benchmarks.memory`: `rulelang eval rulesets/bench/account.rules --input BOOK --output RESULTS`",
        "in a child process per book size; peak RSS is the child's `ru_maxrss` from `wait4` (the CLI or a worker",
        "it forks, whichever is larger; the books are written by another process, since a child's `ru_maxrss`",
        "starts at its parent's peak). The slope is the least-squares fit of the peaks against the number of",
        "accounts: memory that stays flat however large the book has a slope near 0.",
    ]
    for r in runs:
        m = r["machine"]
        fitted = r["slope_mib_per_million"]
        lines += [
            "",
            f"## `--backend {r['backend']}`, {r['input']} in, {r['output']} out",
            "",
            f"`{r['command']}` at {m['when']}, commit {m['git']['commit']}"
            + (f" with {m['git']['uncommitted_files']} uncommitted files" if m["git"]["uncommitted_files"] else "")
            + f". {m['implementation']} {m['python']}, {m['cpus_usable']} CPUs usable, load average "
            f"{m['load_average_1min']} at the start; Arrow memory pool {r['arrow_memory_pool']}; "
            f"{r['distinct']:,} distinct accounts, repeated.",
            "",
            "| accounts | book | wall time | accounts/s | peak RSS |",
            "|---:|---:|---:|---:|---:|",
        ]
        for s in r["sizes"]:
            lines.append(
                f"| {s['accounts']:,} | {s['book_mib']:,.0f} MiB | {s['seconds']:,.1f} s "
                f"| {s['accounts_per_second']:,} | {s['peak_rss_mib']:,.0f} MiB |"
            )
        lines += [
            "",
            "Slope: "
            + ("one size only" if fitted is None else f"**{fitted:+.1f} MiB per million accounts**")
            + f"; the peaks lie within {r['spread_mib']:,.0f} MiB of each other.",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, nargs="+", default=SIZES, help="book sizes (default: %(default)s)")
    ap.add_argument("--distinct", type=int, default=200_000, help="accounts generated (then repeated)")
    ap.add_argument("--backend", choices=["columnar", "exact"], default="columnar")
    ap.add_argument("--input", choices=["parquet", "jsonl"], default="parquet", help="the book's format")
    ap.add_argument("--output", default="results.parquet", help="results file name (.parquet, .jsonl, .csv)")
    ap.add_argument("--dir", help="where the books and results go (default: a temporary folder, removed)")
    ap.add_argument("--results", default=RESULTS, help="folder of memory.json and memory.md (default: %(default)s)")
    ap.add_argument("--no-save", action="store_true", help="print only; leave the results files alone")
    args = ap.parse_args(argv)
    print(f"--backend {args.backend}, {args.input} in, {args.output} out; {args.distinct:,} distinct accounts")
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        entry = run(args.accounts, args.distinct, args.backend, args.input, args.output, folder)
    if not args.no_save:
        for path in save(entry, args.results):
            print(f"wrote {os.path.relpath(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
