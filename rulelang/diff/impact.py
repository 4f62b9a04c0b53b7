"""Evaluate a book of accounts under two versions of a ruleset and measure what changes.

Input: two compiled :class:`~rulelang.api.Ruleset` and an iterator of
``(name, account)`` pairs (:func:`read_book`: JSON Lines, JSON, CSV or Parquet).
Output: an :class:`Impact`: per ladder the transition matrix of levels, the
accounts newly at the gate level (or worse), the largest changes of one numeric
definition (the measure) and its totals over the book, and every account that
could not be evaluated (counted and listed, never dropped). The book is read
once; one account is in memory at a time, plus the top-N lists.
"""

from __future__ import annotations

import heapq
import os
from collections import Counter
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import attrs

from rulelang import ir
from rulelang.api import Ruleset
from rulelang.datafiles import DataFileError, read_accounts
from rulelang.errors import EvaluationError, InputError
from rulelang.results import Result
from rulelang.types import NumType


class DiffUsageError(ValueError):
    """A bad ``--measure`` or ``--fail-on``: the command's usage error."""


# ----------------------------------------------------------------- reading the book


def read_book(path: str, fmt: str | None = None) -> Iterator[tuple[str, Any]]:
    """Yield ``(name, account)``; Parquet (``.parquet``) through pyarrow, the rest as ``rulelang eval`` reads."""
    if fmt == "parquet" or (fmt is None and os.path.splitext(path)[1].lower() in (".parquet", ".pq")):
        yield from _read_parquet(path)
    else:
        yield from read_accounts(path, fmt)


def _read_parquet(path: str) -> Iterator[tuple[str, Any]]:
    """The book's rows as the batch reads them (:func:`rulelang.columnar.stream.parquet_accounts`:
    one record batch in memory at a time, rows named ``book.parquet[7]``); a float is read
    through its shortest text by the validator, as a JSON reader would see it."""
    try:
        from rulelang.columnar.stream import open_parquet, parquet_accounts
    except ImportError:  # pragma: no cover - pyarrow and NumPy are the `batch` extra
        raise DataFileError(f"{path}: reading Parquet needs pyarrow (pip install rulelang[batch])") from None
    try:
        open_parquet(path)
    except (OSError, ValueError) as err:
        raise DataFileError(f"{path}: cannot read Parquet: {err}") from None
    yield from parquet_accounts(path)


# ----------------------------------------------------------------- the result


@attrs.frozen(kw_only=True)
class Gate:
    """Accounts newly at ``level`` of ``ladder`` or a more severe level."""

    ladder: str
    level: str


@attrs.frozen(kw_only=True)
class Moved:
    """One account whose gate level is new, or whose measure changed."""

    record: str
    old_level: str | None
    new_level: str | None
    old: Decimal | None
    new: Decimal | None

    @property
    def delta(self) -> Decimal:
        return (self.new or Decimal(0)) - (self.old or Decimal(0))


@attrs.frozen(kw_only=True)
class Bad:
    record: str
    version: str  # old | new | both | (read)
    message: str


@attrs.define(kw_only=True)
class Impact:
    read: int = 0
    evaluated: int = 0
    bad: int = 0
    bad_samples: list[Bad] = attrs.Factory(list)
    ladders: dict[str, tuple[str, ...]] = attrs.Factory(dict)  # each ladder's levels, most severe first
    transitions: dict[str, Counter[tuple[str, str]]] = attrs.Factory(dict)
    gates: list[Gate] = attrs.Factory(list)
    newly: dict[str, int] = attrs.Factory(dict)  # per ladder: accounts newly at its gate or worse
    newly_samples: dict[str, list[Moved]] = attrs.Factory(dict)
    measure: str | None = None
    measure_type: NumType | None = None
    total_old: Decimal = Decimal(0)
    total_new: Decimal = Decimal(0)
    increased: int = 0
    decreased: int = 0
    top: list[Moved] = attrs.Factory(list)

    @property
    def total_delta(self) -> Decimal:
        return self.total_new - self.total_old

    @property
    def gate_hit(self) -> bool:
        return any(self.newly.get(g.ladder, 0) for g in self.gates)


def default_measure(rs: ir.Ruleset) -> str | None:
    """``maintenance_margin``, else the first amount named like a maintenance margin, else the first amount."""
    amounts = [d.name for d in rs.definitions if d.collection is None and _is_amount(d.type)]
    if "maintenance_margin" in amounts:
        return "maintenance_margin"
    named = [n for n in amounts if "maintenance" in n]
    return (named or amounts)[0] if amounts else None


def _is_amount(t: object) -> bool:
    return isinstance(t, NumType) and t.dim is not None and not t.dim.dimensionless


def gates(old: ir.Ruleset, new: ir.Ruleset, fail_on: str | None) -> list[Gate]:
    """The gate of each ladder both versions have: ``--fail-on [LADDER.]LEVEL``, else its most severe level."""
    common = [lad for lad in new.ladders if any(o.name == lad.name for o in old.ladders)]
    if fail_on is None:
        return [Gate(ladder=lad.name, level=lad.rungs[0].name) for lad in common]
    ladder, _, level = fail_on.rpartition(".")
    found = [
        Gate(ladder=lad.name, level=level)
        for lad in common
        if (not ladder or lad.name == ladder) and any(r.name == level for r in lad.rungs)
    ]
    if not found:
        known = ", ".join(f"{lad.name}.{r.name}" for lad in common for r in lad.rungs) or "none"
        raise DiffUsageError(f"--fail-on {fail_on}: no such level in both versions (levels: {known})")
    return found


def measure_of(old: ir.Ruleset, new: ir.Ruleset, name: str | None) -> str | None:
    """Check ``--measure``: a numeric global definition of both versions (default: :func:`default_measure`)."""
    if name is None:
        name = default_measure(new)
        return name if name is not None and _numeric(old, name) else None
    if not (_numeric(old, name) and _numeric(new, name)):
        raise DiffUsageError(f"--measure {name}: not a numeric definition (outside collections) of both versions")
    return name


def _numeric(rs: ir.Ruleset, name: str) -> bool:
    d = rs.definition(name)
    return d is not None and isinstance(d.type, NumType)


# ----------------------------------------------------------------- the run


def _severity(levels: tuple[str, ...], level: str | None) -> int:
    """0 for the most severe level; levels a version does not have count as least severe."""
    return levels.index(level) if level in levels else len(levels)


def measure_impact(
    old: Ruleset,
    new: Ruleset,
    accounts: Iterator[tuple[str, Any]],
    *,
    measure: str | None = None,
    fail_on: str | None = None,
    top: int = 10,
    samples: int = 20,
    old_params: Mapping[str, ir.Value] | None = None,
    new_params: Mapping[str, ir.Value] | None = None,
) -> Impact:
    """Evaluate every account under ``old`` and ``new`` (compiled evaluators).

    ``old_params`` and ``new_params`` are every parameter's value (``Ruleset.params(overrides,
    profile)``); by default each version's own file values.
    """
    measure = measure_of(old.ir, new.ir, measure)
    imp = Impact(gates=gates(old.ir, new.ir, fail_on), measure=measure)
    if measure is not None:
        d = new.ir.definition(measure)
        assert d is not None
        imp.measure_type = d.type if isinstance(d.type, NumType) else None
    old_levels = {lad.name: tuple(r.name for r in lad.rungs) for lad in old.ir.ladders}
    for lad in new.ir.ladders:
        if lad.name in old_levels:
            names = tuple(r.name for r in lad.rungs)
            imp.ladders[lad.name] = names + tuple(n for n in old_levels[lad.name] if n not in names)
            imp.transitions[lad.name] = Counter()
            imp.newly[lad.name] = 0
            imp.newly_samples[lad.name] = []
    gate_of = {g.ladder: g.level for g in imp.gates}
    heap: list[tuple[Decimal, int, Moved]] = []
    params = (
        (old, old_params if old_params is not None else old.params()),
        (new, new_params if new_params is not None else new.params()),
    )
    for name, data in accounts:
        imp.read += 1
        if isinstance(data, DataFileError):
            _bad(imp, samples, name, "(read)", str(data))
            continue
        results: list[Result] = []
        errors: list[tuple[str, Exception]] = []
        for version, (rs, values) in zip(("old", "new"), params, strict=True):
            try:
                results.append(rs.evaluate_account(rs.validate(data, name), values))
            except (InputError, EvaluationError) as err:
                errors.append((version, err))
        if errors:
            which = "both" if len(errors) == 2 else errors[0][0]
            _bad(imp, samples, name, which, _message(errors[0][1]))
            continue
        r0, r1 = results
        imp.evaluated += 1
        m0 = m1 = None
        if measure is not None:
            v0, v1 = r0.values[measure], r1.values[measure]
            m0 = v0 if isinstance(v0, Decimal) else None
            m1 = v1 if isinstance(v1, Decimal) else None
            if m0 is not None and m1 is not None:
                imp.total_old += m0
                imp.total_new += m1
                if m1 != m0:
                    imp.increased += m1 > m0
                    imp.decreased += m1 < m0
                    key = abs(m1 - m0)
                    moved = Moved(record=name, old_level=None, new_level=None, old=m0, new=m1)
                    item = (key, -imp.read, moved)
                    if len(heap) < top:
                        heapq.heappush(heap, item)
                    elif top and item[:2] > heap[0][:2]:
                        heapq.heapreplace(heap, item)
        for ladder, counter in imp.transitions.items():
            a, b = r0.levels[ladder].level, r1.levels[ladder].level
            counter[(a, b)] += 1
            gate = gate_of.get(ladder)
            if gate is None:
                continue
            new_sev = _severity(imp.ladders[ladder], b)
            limit = _severity(imp.ladders[ladder], gate)
            old_sev = _severity(old_levels[ladder], a)
            old_limit = _severity(old_levels[ladder], gate)
            if new_sev <= limit and not old_sev <= old_limit:
                imp.newly[ladder] += 1
                if len(imp.newly_samples[ladder]) < samples:
                    imp.newly_samples[ladder].append(Moved(record=name, old_level=a, new_level=b, old=m0, new=m1))
    imp.top = [m for _, _, m in sorted(heap, key=lambda x: (-x[0], -x[1]))]
    return imp


def _message(err: Exception) -> str:
    if isinstance(err, InputError):
        return "; ".join(f"{path}: {message}" for path, message in err.problems)
    return str(err)


def _bad(imp: Impact, samples: int, name: str, version: str, message: str) -> None:
    imp.bad += 1
    if len(imp.bad_samples) < samples:
        imp.bad_samples.append(Bad(record=name, version=version, message=message))
