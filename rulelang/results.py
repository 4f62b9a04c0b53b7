"""What an evaluation returns: every named value, per-record values, the levels.

Results are attrs objects; :meth:`Result.to_json` gives plain JSON with every
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


@attrs.frozen
class Result:
    """The outcome of evaluating one account.

    ``values`` maps each global definition to its value; ``records`` maps each
    collection to one mapping per record holding its per-record definitions;
    ``levels`` maps each ladder to the level reached.
    """

    values: Mapping[str, Value]
    records: Mapping[str, tuple[Mapping[str, Value], ...]]
    levels: Mapping[str, LevelResult]

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
