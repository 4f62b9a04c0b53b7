"""Types and units of values in a ruleset.

A :class:`Dim` is a product of declared units with integer exponents
(``USDT/BTC`` is ``{USDT: 1, BTC: -1}``). Numbers carry a dimension and a
display style (plain, percent, leverage). The checker infers a type for every
expression; the backends only read it.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs


@attrs.frozen
class Dim:
    """A unit dimension: sorted ``(unit, exponent)`` pairs, exponents non-zero."""

    items: tuple[tuple[str, int], ...] = ()

    @classmethod
    def of(cls, counts: Mapping[str, int]) -> Dim:
        return cls(tuple(sorted((u, e) for u, e in counts.items() if e)))

    @classmethod
    def unit(cls, name: str) -> Dim:
        return cls(((name, 1),))

    def _combine(self, other: Dim, sign: int) -> Dim:
        counts = dict(self.items)
        for u, e in other.items:
            counts[u] = counts.get(u, 0) + sign * e
        return Dim.of(counts)

    def __mul__(self, other: Dim) -> Dim:
        return self._combine(other, 1)

    def __truediv__(self, other: Dim) -> Dim:
        return self._combine(other, -1)

    @property
    def dimensionless(self) -> bool:
        return not self.items

    def __str__(self) -> str:
        num = [u if e == 1 else f"{u}^{e}" for u, e in self.items if e > 0]
        den = [u if e == -1 else f"{u}^{-e}" for u, e in self.items if e < 0]
        text = "*".join(num) or ("1" if den else "number")
        return text + "".join("/" + d for d in den)


NUMBER_STYLES = ("number", "percent", "leverage")


@attrs.frozen
class NumType:
    """A number with a dimension; ``dim`` None is the unitless literal ``0``, which fits any unit."""

    dim: Dim | None
    style: str = "number"

    def __str__(self) -> str:
        if self.dim is None:
            return "number"
        if self.dim.dimensionless:
            return self.style
        return str(self.dim)


@attrs.frozen
class BoolType:
    def __str__(self) -> str:
        return "bool"


@attrs.frozen
class TextType:
    def __str__(self) -> str:
        return "text"


@attrs.frozen
class EnumType:
    values: tuple[str, ...]

    def __str__(self) -> str:
        return " | ".join(self.values)


@attrs.frozen
class EnumValueType:
    """The type of a bare enumeration value such as ``long``: fits any enumeration that has it."""

    value: str

    def __str__(self) -> str:
        return f"enumeration value `{self.value}`"


@attrs.frozen
class CollectionType:
    """A collection input: records with the fields of ``name``."""

    name: str

    def __str__(self) -> str:
        return f"list of {self.name} records"


Type = NumType | BoolType | TextType | EnumType | EnumValueType | CollectionType

BOOL = BoolType()
TEXT = TextType()
NUMBER = NumType(Dim())


def same_dim(a: NumType, b: NumType) -> bool:
    """Whether ``a`` and ``b`` may be added or compared (``0`` fits any unit)."""
    return a.dim is None or b.dim is None or a.dim == b.dim


def compatible(expected: Type, actual: Type) -> bool:
    """Whether a value of type ``actual`` may stand where ``expected`` is declared."""
    if isinstance(expected, NumType) and isinstance(actual, NumType):
        return same_dim(expected, actual)
    if isinstance(expected, EnumType) and isinstance(actual, EnumValueType):
        return actual.value in expected.values
    if isinstance(expected, EnumType) and isinstance(actual, EnumType):
        return set(actual.values) <= set(expected.values)
    return expected == actual
