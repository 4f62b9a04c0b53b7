"""Evaluate a table of accounts: the vectorised plan, then the exact evaluator where it must decide.

Input: a :class:`~rulelang.api.Ruleset` and a table (Arrow, pandas, Polars).
Output: a table of the same kind, one row per account, in input order, with
every global definition, every ladder's level and (``records=True``) every
per-record definition as a list column; an ``error`` column holds the
message of an account the exact evaluator rejects (its values are null).

1. :mod:`~rulelang.columnar.layout` reads the table into exploded arrays.
2. Chunks of accounts run through the :class:`~rulelang.columnar.plan.Plan`'s
   generated function; a large book is split with a forked worker per extra CPU.
3. Every flagged account (a decision within the float's error bound, an
   input the plan cannot read, a possible evaluation error) is evaluated by
   the exact compiled evaluator, and its results replace the plan's.
"""

from __future__ import annotations

import os
import pickle
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from rulelang import ir
from rulelang.api import Ruleset
from rulelang.columnar import layout
from rulelang.columnar.chunks import make_chunk
from rulelang.columnar.output import Columns, _zeros, build, shared
from rulelang.columnar.plan import Plan, Unsupported
from rulelang.errors import EvaluationError, InputError

#: accounts per chunk: small enough that a chunk's temporaries stay in the CPU cache
CHUNK = 8192
#: below this many accounts a batch runs in one process: a fork costs more than it saves
FORK_FROM = 200_000

_plans: weakref.WeakKeyDictionary[Ruleset, Plan | Unsupported] = weakref.WeakKeyDictionary()


def plan_for(ruleset: Ruleset) -> Plan | Unsupported:
    """The ruleset's plan (made once), or why it has none."""
    got = _plans.get(ruleset)
    if got is None:
        try:
            got = Plan(ruleset.ir)
        except Unsupported as why:
            got = why
        _plans[ruleset] = got
    return got


@attrs.define
class Stats:
    """What one batch evaluation did, for tests and benchmarks."""

    accounts: int = 0
    vectorised: int = 0
    exact: int = 0  # accounts re-evaluated exactly (flagged or unreadable)
    errors: int = 0
    reason: str | None = None  # why every account went to the exact evaluator, if it did


def evaluate_batch(
    ruleset: Ruleset,
    table: Any,
    params: Mapping[str, Any] | None = None,
    profile: str | None = None,
    *,
    records: bool = False,
    error_bounds: bool = False,
    threads: int | None = None,
    chunk_size: int = CHUNK,
    error_column: str = "error",
    stats: Stats | None = None,
) -> Any:
    """Evaluate every account (row) of ``table``; return a table of the same kind with the results.

    Levels, tier numbers, bools and texts are exactly those of
    :meth:`Ruleset.evaluate`; numbers are float64 within the bound documented
    in ``docs/performance.md`` (``error_bounds=True`` adds a ``<name>.bound``
    column per number: the guaranteed largest distance from the exact value).
    """
    arrow, kind = layout.to_arrow(table)
    stats = stats if stats is not None else Stats()
    values = ruleset.params(params, profile)
    batch = layout.read(ruleset.ir, arrow)
    stats.accounts = batch.n
    plan = plan_for(ruleset)
    workers = max(1, threads if threads is not None else _cpus())
    forked = workers > 1 and batch.n >= FORK_FROM and hasattr(os, "fork") and not isinstance(plan, Unsupported)
    cols = Columns.empty(ruleset.ir, batch, records, error_bounds, shared if forked else _zeros)
    if isinstance(plan, Unsupported):
        stats.reason = str(plan)
        redo = np.ones(batch.n, dtype=np.bool_)
    else:
        redo = _vectorised(plan, batch, values, cols, workers if forked else 1, chunk_size)
    rows = np.flatnonzero(redo)
    stats.exact = len(rows)
    stats.vectorised = batch.n - len(rows)
    stats.errors = _exactly(ruleset, batch, values, rows, cols)
    return build(cols, ruleset.ir, batch, kind, error_column)


def _vectorised(
    plan: Plan,
    batch: layout.Batch,
    params: Mapping[str, ir.Value],
    cols: Columns,
    workers: int,
    chunk_size: int,
) -> npt.NDArray[np.bool_]:
    """Run the plan over every chunk; return the accounts to evaluate exactly.

    With several workers, ``workers - 1`` forked child processes and this one take
    chunks from a common queue (a pipe holding every chunk's start) until it is
    empty: threads did not scale (several NumPy calls hold the GIL), while a fork
    shares the batch for free (copy-on-write) and writes into the output's shared
    memory. A busy CPU then costs a fork, not half the book:
    a worker that gets little CPU takes few chunks. The chunks of a worker that
    fails are run again here.
    """
    pvalues = plan.param_values(params)
    redo = shared(batch.n, np.bool_) if workers > 1 else np.zeros(batch.n, dtype=np.bool_)
    starts = list(range(0, batch.n, max(1, chunk_size)))
    records = bool(cols.records)
    error_bounds = any(s.bound is not None for s in (*cols.globals.values(), *cols.records.values()))
    sig = plan.batch_signature(batch, pvalues, records, error_bounds)
    plan.generated(sig)  # made once, before any worker is forked

    def run(part: Iterable[int]) -> list[int]:
        done = []
        for start in part:
            stop = min(start + chunk_size, batch.n)
            chunk = make_chunk(plan, batch, start, stop, pvalues)
            out = plan.run(chunk, signature=sig)
            cols.store(out, start, stop, batch, chunk)
            redo[start:stop] = out.flags
            done.append(start)
        return done

    if workers == 1:
        run(starts)
        return redo
    queue = _queue(starts)
    if queue is None:  # the chunks do not fit in a pipe: fixed, contiguous parts
        parts: list[Iterable[int]] = [
            starts[i * len(starts) // workers : (i + 1) * len(starts) // workers] for i in range(workers)
        ]
    else:
        parts = [_claimed(queue) for _ in range(workers)]
    children = [_fork(run, cols, part) for part in parts[:-1]]
    done = set(run(parts[-1]))
    for pid, reader in children:
        report = _collect(pid, reader)
        if report is not None:
            deferred, theirs = report
            cols.translate(deferred)
            done.update(theirs)
    if queue is not None:
        os.close(queue)
    run(s for s in starts if s not in done)  # what a failed worker took
    return np.array(redo, dtype=np.bool_)  # out of the shared memory


_ITEM = 8  # bytes per chunk start in the queue


def _queue(starts: list[int]) -> int | None:
    """A pipe holding every start, closed for writing (its reader sees the end), or None if they do not fit."""
    data = b"".join(s.to_bytes(_ITEM, "little") for s in starts)
    reader, writer = os.pipe()
    try:
        if len(data) > 65536:  # the default capacity of a Linux pipe
            import fcntl  # POSIX only, as fork is

            fcntl.fcntl(writer, fcntl.F_SETPIPE_SZ, len(data))  # Linux only: elsewhere, AttributeError
        os.set_blocking(writer, False)
        written = os.write(writer, data) if data else 0
    except (OSError, AttributeError):
        written = -1
    os.close(writer)
    if written != len(data):
        os.close(reader)
        return None
    return reader


def _claimed(queue: int) -> Iterator[int]:
    """Starts taken from the queue, one at a time (a pipe read of 8 bytes is never split between readers)."""
    while True:
        got = os.read(queue, _ITEM)
        if len(got) < _ITEM:
            return
        yield int.from_bytes(got, "little")


def _fork(run: Callable[[Iterable[int]], list[int]], cols: Columns, part: Iterable[int]) -> tuple[int, int]:
    """Run ``part`` in a child process; return its pid and the pipe it reports on (text dictionaries, chunks done)."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compute, report, and leave without running the parent's clean-up
        status = 1
        try:
            os.close(reader)
            cols.deferred = []
            done = run(part)
            with os.fdopen(writer, "wb") as fh:
                pickle.dump((cols.deferred, done), fh)
            status = 0
        finally:
            os._exit(status)
    os.close(writer)
    return pid, reader


def _collect(pid: int, reader: int) -> tuple[list[Any], list[int]] | None:
    """A worker's report (text dictionaries to translate, chunks done), or None if it failed.

    The report is complete only when the worker has finished its part (it writes
    nothing otherwise): then its exit is awaited on a thread, because tearing down
    a copy of a large process takes a while (20 ms for 800 MiB) that nothing needs
    to wait for.
    """
    with os.fdopen(reader, "rb") as fh:
        data = fh.read()
    try:
        got: tuple[list[Any], list[int]] = pickle.loads(data)
    except Exception:  # no report, or a truncated one: the worker failed
        os.waitpid(pid, 0)
        return None
    threading.Thread(target=os.waitpid, args=(pid, 0), daemon=True).start()
    return got


def _present(account: dict[str, Any]) -> dict[str, Any]:
    """A table row as an account: a null is a value the account does not give (its default, if any)."""
    out: dict[str, Any] = {}
    for key, value in account.items():
        if value is None:
            continue
        if isinstance(value, list):
            value = [{k: v for k, v in r.items() if v is not None} if isinstance(r, dict) else r for r in value]
        out[key] = value
    return out


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _exactly(
    ruleset: Ruleset,
    batch: layout.Batch,
    params: Mapping[str, ir.Value],
    rows: npt.NDArray[np.intp],
    cols: Columns,
) -> int:
    """Evaluate ``rows`` with the exact evaluator and write their results; return how many failed."""
    if not len(rows):
        return 0
    import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type information

    data = batch.source.take(pa.array(rows)).to_pylist()
    errors = 0
    for row, account in zip(rows.tolist(), data, strict=True):
        try:
            result = ruleset.evaluate_account(ruleset.validate(_present(account)), params)
        except (InputError, EvaluationError) as err:
            cols.fail(row, str(err))
            errors += 1
            continue
        cols.put(row, result, batch)
    return errors
