"""Values that are not plain numbers, texts or bools: a solve that found no value."""

from __future__ import annotations


class NoSolution:
    """The value of a solve that has none, with the reason. Any arithmetic on it is an error."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NoSolution) and other.reason == self.reason

    def __hash__(self) -> int:
        return hash(self.reason)

    def __repr__(self) -> str:
        return f"NoSolution({self.reason!r})"


def known(value: object) -> bool:
    """Whether ``value`` exists (a solve may find none)."""
    return type(value) is not NoSolution
