"""What an evaluation returns: every named value, per-record values, the levels.

Results are immutable; :meth:`Result.to_json` gives plain JSON with every
decimal as a string, so no binary float ever carries a figure.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import attrs

from rulelang.ir import Value
from rulelang.values import NoSolution


def decimal_text(d: Decimal) -> str:
    """A decimal as plain text: no exponent, no trailing zeros, never rounded."""
    from rulelang.display import plain

    return plain(d)


def json_value(v: Value) -> Any:
    """A value for JSON: decimals as strings; a solve with no value as ``{"none": reason}``."""
    if isinstance(v, Decimal):
        return decimal_text(v)
    if isinstance(v, NoSolution):
        return {"none": v.reason}
    return v


class RecordValues(Mapping[str, tuple[Mapping[str, Value], ...]]):
    """Per-record values by collection, made into one mapping per record only when read.

    The compiled evaluator produces one list per per-record definition; most
    callers (batch runs, levels, totals) never look at single records, so the
    per-record mappings are built on first access. Compares equal to a plain
    ``dict`` with the same content.
    """

    __slots__ = ("_built", "_columns", "_counts", "_layout")

    def __init__(
        self,
        layout: tuple[tuple[str, tuple[int, ...], tuple[str, ...]], ...],
        columns: tuple[list[Value], ...],
        counts: tuple[int, ...],
    ) -> None:
        self._layout = layout
        self._columns = columns
        self._counts = counts
        self._built: dict[str, tuple[Mapping[str, Value], ...]] = {}

    def __getitem__(self, collection: str) -> tuple[Mapping[str, Value], ...]:
        built = self._built.get(collection)
        if built is None:
            for (name, positions, names), count in zip(self._layout, self._counts, strict=True):
                if name == collection:
                    columns = [self._columns[k] for k in positions]
                    built = (
                        tuple(dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True))
                        if positions
                        else tuple({} for _ in range(count))
                    )
                    self._built[collection] = built
                    break
            else:
                raise KeyError(collection)
        return built

    def __iter__(self) -> Iterator[str]:
        return (name for name, _, _ in self._layout)

    def __len__(self) -> int:
        return len(self._layout)

    def __repr__(self) -> str:
        return repr(dict(self))


@attrs.frozen
class LevelResult:
    """The level an account reached on one ladder, with that level's actions."""

    ladder: str
    level: str
    actions: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"level": self.level, "actions": list(self.actions)}


#: what the compiled evaluator knows once per ruleset to make its output a :class:`Result`:
#: the global definitions' names, per collection its per-record definitions (see
#: :class:`RecordValues`), and per ladder its name and one :class:`LevelResult` per rung
Shape = tuple[
    tuple[str, ...],
    tuple[tuple[str, tuple[int, ...], tuple[str, ...]], ...],
    tuple[tuple[str, tuple[LevelResult, ...]], ...],
]

_new = object.__new__
_set = object.__setattr__


class Result:
    """The outcome of evaluating one account.

    ``values`` maps each global definition to its value; ``records`` maps each
    collection to one mapping per record holding its per-record definitions;
    ``levels`` maps each ladder to the level reached.

    Immutable. A result of the compiled evaluator keeps the generated code's
    output and makes these mappings when first read: a caller that reads one
    figure, or none, does not pay for the rest.
    """

    __slots__ = ("_levels", "_raw", "_records", "_values")

    _values: Mapping[str, Value]
    _records: Mapping[str, tuple[Mapping[str, Value], ...]]
    _levels: Mapping[str, LevelResult]
    _raw: tuple[Shape, tuple[tuple[Value, ...], tuple[list[Value], ...], tuple[int, ...]], tuple[Any, ...]] | None

    def __init__(
        self,
        values: Mapping[str, Value],
        records: Mapping[str, tuple[Mapping[str, Value], ...]],
        levels: Mapping[str, LevelResult],
    ) -> None:
        _set(self, "_values", values)
        _set(self, "_records", records)
        _set(self, "_levels", levels)
        _set(self, "_raw", None)

    @classmethod
    def compiled(
        cls,
        shape: Shape,
        output: tuple[tuple[Value, ...], tuple[list[Value], ...], tuple[int, ...]],
        collections: tuple[Any, ...],
    ) -> Result:
        """A result over the compiled code's ``output`` (globals, per-record columns, rung per ladder)."""
        self = _new(cls)
        _set(self, "_raw", (shape, output, collections))
        return self

    # The mappings, made from the raw output on first use (the slots are unset until then).
    @property
    def values(self) -> Mapping[str, Value]:
        try:
            return self._values
        except AttributeError:
            assert self._raw is not None
            (names, _, _), (globals_, _, _), _ = self._raw
            values = dict(zip(names, globals_, strict=True))
            _set(self, "_values", values)
            return values

    @property
    def records(self) -> Mapping[str, tuple[Mapping[str, Value], ...]]:
        try:
            return self._records
        except AttributeError:
            assert self._raw is not None
            (_, layout, _), (_, columns, _), collections = self._raw
            records = RecordValues(layout, columns, tuple(map(len, collections)))
            _set(self, "_records", records)
            return records

    @property
    def levels(self) -> Mapping[str, LevelResult]:
        try:
            return self._levels
        except AttributeError:
            assert self._raw is not None
            (_, _, ladders), (_, _, rungs), _ = self._raw
            levels = {name: results[i] for (name, results), i in zip(ladders, rungs, strict=True)}
            _set(self, "_levels", levels)
            return levels

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"a Result cannot be changed (tried to set {name!r})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"a Result cannot be changed (tried to delete {name!r})")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Result)
        return (self.values, self.records, self.levels) == (other.values, other.records, other.levels)

    __hash__ = None  # type: ignore[assignment]  # its mappings are not hashable

    def __repr__(self) -> str:
        return f"Result(values={self.values!r}, records={self.records!r}, levels={self.levels!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        records = {name: tuple(dict(r) for r in recs) for name, recs in self.records.items()}
        return (Result, (dict(self.values), records, dict(self.levels)))

    def __getitem__(self, name: str) -> Value:
        if name in self.levels:
            return self.levels[name].level
        return self.values[name]

    def get(self, target: str) -> Value:
        """Look up ``name``, a ladder, or ``collection[i].name``."""
        if "[" in target:
            coll, rest = target.split("[", 1)
            idx, field = rest.split("].", 1)
            return self.records[coll][int(idx)][field]
        return self[target]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: json_value(v) for name, v in self.values.items()}
        for coll, recs in self.records.items():
            out[coll] = [{k: json_value(v) for k, v in rec.items()} for rec in recs]
        for name, lv in self.levels.items():
            out[name] = lv.to_json()
        return out
