"""Reductions over the records of each account (segments of the exploded arrays).

Input: a per-record array and the collection's offsets within one chunk.
Output: one value per account. Empty segments get the reduction's identity
(or the caller's default): ``np.add.reduceat`` alone would give them the next
record's value.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


class Segments:
    """The records of one collection within a chunk of accounts."""

    __slots__ = ("_empty", "_longest", "counts", "offsets", "owner")

    def __init__(
        self, offsets: npt.NDArray[np.int64], counts: npt.NDArray[np.int64], owner: npt.NDArray[np.intp]
    ) -> None:
        self.offsets = offsets  # n + 1, starting at 0
        self.counts = counts
        self.owner = owner  # per record: its account within the chunk
        self._longest = -1
        self._empty: npt.NDArray[np.bool_] | bool | None = False  # False: not computed yet

    @classmethod
    def of(cls, offsets: npt.NDArray[np.int64]) -> Segments:
        counts = offsets[1:] - offsets[:-1]
        owner = np.arange(len(counts), dtype=np.intp).repeat(counts)
        return cls(offsets, counts, owner)

    @property
    def longest(self) -> int:
        """The most records of an account."""
        if self._longest < 0:
            self._longest = int(self.counts.max()) if len(self.counts) else 0
        return self._longest

    @property
    def empty(self) -> npt.NDArray[np.bool_] | None:
        """The accounts without records (None: there are none)."""
        if self._empty is False:
            empty = self.counts == 0
            self._empty = empty if empty.any() else None
        return self._empty  # type: ignore[return-value]

    @property
    def n(self) -> int:
        return len(self.counts)

    @property
    def records(self) -> int:
        return int(self.offsets[-1])

    def reduce(self, ufunc: Any, values: Any, identity: Any, dtype: Any = np.float64) -> Any:
        """``ufunc`` over each account's records; ``identity`` for an account without any.

        ``reduceat`` runs from each start to the next one, so it is given the starts of
        the accounts that have records only (an empty account's start is its successor's).
        """
        if self.records == 0:
            return np.full(self.n, identity, dtype=dtype)
        values = np.broadcast_to(values, (self.records,)) if np.ndim(values) == 0 else values
        if self.empty is None:
            return ufunc.reduceat(values, self.offsets[:-1])
        held = ~self.empty
        out = np.full(self.n, identity, dtype=dtype)
        out[held] = ufunc.reduceat(values, self.offsets[:-1][held])
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
