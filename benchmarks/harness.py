"""Time several implementations of one workload fairly, in one process.

Input: :class:`Case` objects, each a callable that does one pass over the same
workload. Output: a :class:`Timing` per case. The cases run in interleaved
rounds (round ``r`` starts at case ``r mod k``), so a slow spell of the machine
hits every case alike; each case is calibrated once to repeat its pass for at
least ``min_time`` per sample, the garbage collector is paused while a sample
runs (as ``timeit`` does), and the figures are medians over the rounds.
Ratios are paired: the median over rounds of ``case / baseline`` within the
same round.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Sequence

import attrs


@attrs.frozen
class Case:
    """One implementation: ``run()`` does a pass over ``items`` work items."""

    name: str
    run: Callable[[], object]
    items: int
    role: str = "headline"  # "headline" rows answer the question; "breakdown" rows explain them
    note: str = ""


@attrs.frozen
class Timing:
    name: str
    role: str
    note: str
    items: int
    loops: int  # passes per sample
    seconds: tuple[float, ...]  # per pass, one per round
    ratios: tuple[float, ...]  # per round, against the baseline of the same round

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def items_per_second(self) -> float:
        return self.items / self.median

    @property
    def microseconds_per_item(self) -> float:
        return self.median / self.items * 1e6

    @property
    def spread(self) -> float:
        """(slowest − fastest) / median over the rounds: how noisy the figure is."""
        return (max(self.seconds) - min(self.seconds)) / self.median

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "role": self.role,
            "note": self.note,
            "items": self.items,
            "loops": self.loops,
            "seconds_per_pass": list(self.seconds),
            "median_seconds": self.median,
            "items_per_second": self.items_per_second,
            "microseconds_per_item": self.microseconds_per_item,
            "spread": self.spread,
            "ratio_to_baseline": self.ratio,
            "ratios_per_round": list(self.ratios),
        }


def _sample(run: Callable[[], object], loops: int) -> float:
    """Seconds per pass, over ``loops`` passes, with the collector paused."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(loops):
            run()
        return (time.perf_counter() - start) / loops
    finally:
        if was_enabled:
            gc.enable()


def calibrate(case: Case, min_time: float) -> int:
    """Passes per sample so that one sample lasts at least ``min_time`` (one warm-up pass first)."""
    case.run()
    once = _sample(case.run, 1)
    return max(1, math.ceil(min_time / once)) if once < min_time else 1


def run(
    cases: Sequence[Case],
    rounds: int,
    baseline: str,
    min_time: float = 0.2,
    progress: Callable[[str], None] | None = None,
) -> list[Timing]:
    """Time ``cases`` in ``rounds`` interleaved rounds; ratios are against the case named ``baseline``."""
    names = [c.name for c in cases]
    if baseline not in names:
        raise ValueError(f"no case named {baseline!r}")
    loops = {c.name: calibrate(c, min_time) for c in cases}
    seconds: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        k = r % len(cases)
        for case in list(cases[k:]) + list(cases[:k]):
            seconds[case.name].append(_sample(case.run, loops[case.name]))
        if progress:
            progress(f"round {r + 1}/{rounds} done")
    base = seconds[baseline]
    return [
        Timing(
            name=c.name,
            role=c.role,
            note=c.note,
            items=c.items,
            loops=loops[c.name],
            seconds=tuple(seconds[c.name]),
            ratios=tuple(s / b for s, b in zip(seconds[c.name], base, strict=True)),
        )
        for c in cases
    ]
