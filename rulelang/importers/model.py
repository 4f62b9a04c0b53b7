"""What an importer builds: one keyed tier table, venue-neutral.

Input: the fields each venue reader picked out of its JSON. Output: a
:class:`TableData` whose bands were checked to meet edge to edge, in order,
with the JSON path of every band kept for messages.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from decimal import Decimal

import attrs

from rulelang.importers.jsondata import Node


@attrs.frozen(kw_only=True)
class Options:
    """What the user asked for on the command line (None: the kind's default)."""

    table: str | None = None
    unit: str | None = None
    date: str | None = None
    only: tuple[str, ...] = ()
    upper_inclusive: bool | None = None  # ccxt only: which end of a tier is inclusive
    units_line: bool = True


@attrs.frozen(kw_only=True)
class Column:
    """A value column: its name in the rule file and how its cells are written."""

    name: str
    style: str  # "percent" (0.4%), "leverage" (125x) or "amount" (1_300)


@attrs.frozen(kw_only=True)
class Band:
    """One tier: its edges, its values (one per column) and where it came from."""

    number: int  # 1-based within its key: the checker's "tier N"
    lower: Decimal
    upper: Decimal | None  # None: no upper end
    values: tuple[Decimal, ...]
    path: str  # the JSON path of the tier, for messages
    comment: str | None = None


@attrs.frozen(kw_only=True)
class TierSet:
    key: str
    bands: tuple[Band, ...]


@attrs.frozen(kw_only=True)
class TableData:
    """A keyed tier table, ready to be written as rule text."""

    kind: str
    title: str  # "Binance USDⓈ-M leverage brackets"
    name: str  # the table's name in the rule file
    unit: str
    key_column: str  # the `per` column: symbol, instrument, ccy
    key_plural: str  # for a header naming many keys: "symbols"
    size_word: str  # the middle word of the `bands` line
    lower_inclusive: bool
    label: tuple[str, str]  # English, Chinese
    columns: tuple[Column, ...]
    tier_sets: tuple[TierSet, ...]
    tier_word: str  # how the venue names a tier: "bracket", "tier"
    cum_source: str | None  # the JSON field a `cum` column came from, for warnings
    date: str | None  # "2024-10-24", from the data (see ``date_origin``)
    date_origin: str | None = None
    notes: tuple[str, ...] = ()  # extra header comment lines, for every file
    key_notes: tuple[tuple[str, str], ...] = ()  # (key, line): only in the files that hold that key
    extra_warnings: tuple[str, ...] = ()  # venue checks the checker cannot repeat (OKX disCcyEq)


@attrs.frozen(kw_only=True)
class Edge:
    """A tier's edges as read, with the nodes they came from (for messages)."""

    lower: Decimal
    upper: Decimal | None
    lower_node: Node
    upper_node: Node
    node: Node  # the whole tier


def chain(edges: Sequence[Edge], *, what: str, integer_steps: bool = False) -> list[tuple[Decimal, Decimal | None]]:
    """Check that the tiers meet edge to edge, increasing; return each tier's (lower, upper).

    ``what`` names a tier in messages ("bracket"). With ``integer_steps`` (OKX,
    upper-inclusive integer bands such as 0–3000, 3001–6000), a tier may start
    one above the previous tier's end; it is written from that end, so every
    boundary appears once. One table must use one convention throughout.
    """
    for prev, e in itertools.pairwise(edges):
        if e.lower < prev.lower:
            e.lower_node.fail(
                f"{what}s out of order: this {what} starts at {e.lower}, below the start of the one before it "
                f"({prev.node.path}, from {prev.lower}); list them from the smallest"
            )
    out: list[tuple[Decimal, Decimal | None]] = []
    step: Decimal | None = None  # the convention the table uses: edges meet (0) or step by 1
    for i, e in enumerate(edges):
        if e.lower < 0:
            e.lower_node.fail(f"expected a number >= 0, got {e.lower}")
        if e.upper is not None and e.upper <= e.lower:
            e.upper_node.fail(f"this {what} ends at {e.upper}, which is not above its start {e.lower}")
        if i == 0:
            out.append((e.lower, e.upper))
            continue
        prev = edges[i - 1]
        prev_upper = prev.upper
        if prev_upper is None:
            prev.upper_node.fail(f"this {what} has no upper end, but more {what}s follow it")
        gap = e.lower - prev_upper
        if gap not in ((Decimal(0), Decimal(1)) if integer_steps else (Decimal(0),)):
            hint = f" or {prev_upper + 1}" if integer_steps else ""
            e.lower_node.fail(
                f"{'a gap' if gap > 0 else 'an overlap'}: this {what} starts at {e.lower}, but the one before it "
                f"({prev.node.path}) ends at {prev_upper}; expected {prev_upper}{hint}"
            )
        if step is not None and gap != step:
            e.lower_node.fail(
                f"inconsistent edges: this {what} starts at the end of the one before it + {gap}, "
                f"but earlier ones start at the end of the one before + {step}"
            )
        step = gap
        out.append((prev_upper, e.upper))
    return out


def unit_of(
    options: Options, found: dict[str, list[tuple[str | None, Node]]], sets: tuple[TierSet, ...], root: Node, what: str
) -> str:
    """The table's unit: ``--unit``, else the one unit the imported keys agree on.

    ``found`` maps each key to the units read or inferred for it (None: the data
    does not say), each with the node it came from.
    """
    if options.unit is not None:
        return options.unit
    candidates: dict[str, Node] = {}
    for t in sets:
        for unit, node in found.get(t.key, ()):
            if unit is None:
                node.fail(f"cannot tell the unit of the {what} of {t.key}: pass --unit")
            candidates.setdefault(unit, node)
    if not candidates:
        root.fail(f"cannot tell the unit of the {what}: pass --unit")
    if len(candidates) > 1:
        (u1, n1), (u2, n2) = list(candidates.items())[:2]
        n2.fail(
            f"mixed units: {u2} here, {u1} at {n1.path}; one table has one unit: "
            "pass --only to import one currency at a time, or --unit"
        )
    return next(iter(candidates))


def select(options: Options, sets: dict[str, list[Band]], key_column: str, root: Node) -> tuple[TierSet, ...]:
    """Keep the keys ``--only`` names (all when none), sorted: the output does not depend on the order of the data."""
    keys = sorted(sets)
    if options.only:
        unknown = [k for k in options.only if k not in sets]
        if unknown:
            shown = ", ".join(keys[:10]) + (", ..." if len(keys) > 10 else "")
            root.fail(f"--only {unknown[0]}: no {key_column} {unknown[0]} in the data (it has {shown})")
        keys = sorted(set(options.only))
    return tuple(TierSet(key=k, bands=tuple(sets[k])) for k in keys)
