"""Reductions over the records of each account (segments of the exploded arrays).

Input: a per-record array and the collection's offsets within one chunk.
Output: one value per account. Empty segments get the reduction's identity
(or the caller's default): ``np.add.reduceat`` alone would give them the next
record's value.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import numpy.typing as npt


@attrs.define
class Segments:
    """The records of one collection within a chunk of accounts."""

    offsets: npt.NDArray[np.int64]  # n + 1, starting at 0
    counts: npt.NDArray[np.int64]
    starts: npt.NDArray[np.int64]  # safe for reduceat: empty segments clipped into range
    empty: npt.NDArray[np.bool_] | None  # None: no account has no records
    owner: npt.NDArray[np.intp]  # per record: its account within the chunk
    longest: int

    @classmethod
    def of(cls, offsets: npt.NDArray[np.int64]) -> Segments:
        counts = np.diff(offsets)
        total = int(offsets[-1])
        empty = counts == 0
        starts = np.minimum(offsets[:-1], max(total - 1, 0))
        owner = np.repeat(np.arange(len(counts), dtype=np.intp), counts)
        return cls(
            offsets=offsets,
            counts=counts,
            starts=starts,
            empty=empty if empty.any() else None,
            owner=owner,
            longest=int(counts.max()) if len(counts) else 0,
        )

    @property
    def n(self) -> int:
        return len(self.counts)

    @property
    def records(self) -> int:
        return int(self.offsets[-1])

    def reduce(self, ufunc: Any, values: Any, identity: Any, dtype: Any = np.float64) -> Any:
        """``ufunc`` over each account's records; ``identity`` for an account without any."""
        if self.records == 0:
            return np.full(self.n, identity, dtype=dtype)
        values = np.broadcast_to(values, (self.records,)) if np.ndim(values) == 0 else values
        out = ufunc.reduceat(values, self.starts)
        if self.empty is not None:
            out[self.empty] = identity
        return out

    def total(self, values: Any) -> Any:
        """Sums per account (``bincount`` is faster than ``add.reduceat`` and needs no care for empty accounts)."""
        if np.ndim(values) == 0:
            return self.counts * float(values)
        return np.bincount(self.owner, weights=values, minlength=self.n)

    def any(self, flags: Any) -> Any:
        if np.ndim(flags) == 0:
            return (self.counts > 0) & bool(flags)
        return np.bincount(self.owner, weights=flags, minlength=self.n) > 0

    def all(self, flags: Any) -> Any:
        return self.reduce(np.logical_and, flags, True, np.bool_)

    def spread(self, values: Any) -> Any:
        """Each account's value repeated for each of its records."""
        if np.ndim(values) == 0:
            return values
        return values[self.owner]
