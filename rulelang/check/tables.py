"""Check tier tables and derive their maintenance amounts.

Input: a :class:`~rulelang.nodes.Table`. Output: an
:class:`~rulelang.ir.TableDecl` whose bands are contiguous and increasing,
whose rates lie in [0, 1], whose maintenance rate never exceeds the initial
rate, and whose max leverage never rises with size; every problem is reported.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from rulelang import ir, nodes
from rulelang.check.context import Context
from rulelang.check.expressions import describe, unit_dim
from rulelang.check.ticks import is_multiple, tick_literal
from rulelang.display import show
from rulelang.runtime import WIDE
from rulelang.source import Span
from rulelang.types import Dim, NumType, TextType, Type

RATE_NAMES = ("imr", "mmr", "rate", "haircut", "discount", "discount_rate", "collateral_ratio")
LEVERAGE_NAMES = ("max_leverage", "leverage", "max_lever")


def _is_rate_column(name: str, t: Type) -> bool:
    if isinstance(t, NumType) and t.style == "percent":
        return True
    return name in RATE_NAMES or name.endswith("_rate")


def _is_leverage_column(name: str, t: Type) -> bool:
    return (isinstance(t, NumType) and t.style == "leverage") or name in LEVERAGE_NAMES


def check_table(ctx: Context, t: nodes.Table) -> ir.TableDecl | None:
    key_dim = unit_dim(ctx, t.key_unit)
    ok = key_dim is not None
    if t.bands is None:
        ctx.error(
            "RL0401",
            f"table `{t.name}` must say which end of a band is inclusive",
            t.name_span,
            hint="add a line `bands from <= size < to` (lower end inclusive) or `bands from < size <= to`",
        )
        ok = False
        lower_inclusive = True
    else:
        b = t.bands
        if (
            b.names[0] != "from"
            or b.names[2] != "to"
            or {b.lower_op, b.upper_op} != {"<", "<="}
            or b.lower_op == b.upper_op
        ):
            ctx.error(
                "RL0401",
                "cannot read this `bands` line",
                b.span,
                hint="write `bands from <= size < to` or `bands from < size <= to`",
            )
            ok = False
        lower_inclusive = b.lower_op == "<="
    tick = _tick(ctx, t, key_dim)
    if t.header is None:
        ctx.error(
            "RL0402",
            f"table `{t.name}` has no rows",
            t.name_span,
            hint="add a header row `| from | to | rate |` and one row per band",
        )
        return None
    names: list[str] = []
    for cell in t.header.cells:
        if cell.value is None and cell.text:
            return None  # unreadable: reported when the row was read
        if not isinstance(cell.value, nodes.Name):
            ctx.error("RL0402", f"a header cell must be a column name, not `{cell.text}`", cell.span)
            return None
        if cell.value.name in names:
            ctx.error("RL0202", f"column `{cell.value.name}` appears twice", cell.span)
            return None
        names.append(cell.value.name)
    required = ["from", "to"] + ([t.group] if t.group else [])
    missing = [r for r in required if r not in names]
    if missing:
        ctx.error(
            "RL0402",
            f"table `{t.name}` needs the column(s) " + ", ".join(f"`{m}`" for m in missing),
            t.header.span,
            hint=f"the header row names the columns, e.g. `| {' | '.join(required)} | rate |`",
        )
        return None
    if not t.rows:
        ctx.error(
            "RL0402",
            f"table `{t.name}` has a header but no bands",
            t.header.span,
            hint="add one row per band below the header row",
        )
        return None
    value_cols = [c for c in names if c not in required]
    key_type = NumType(key_dim) if key_dim is not None else NumType(Dim())
    col_types: dict[str, Type | None] = dict.fromkeys(value_cols)
    groups: dict[str, list[tuple[nodes.Row, Decimal, Decimal | None, dict[str, ir.Value]]]] = {}
    for row in t.rows:
        if len(row.cells) != len(names):
            ctx.error(
                "RL0403",
                f"this row has {len(row.cells)} cell{'' if len(row.cells) == 1 else 's'}, "
                f"but the header has {len(names)}",
                row.span,
            )
            ok = False
            continue
        cells = dict(zip(names, row.cells, strict=True))
        group_key = ""
        if t.group:
            gc = cells[t.group]
            if isinstance(gc.value, (nodes.Name, nodes.String)):
                group_key = gc.value.name if isinstance(gc.value, nodes.Name) else gc.value.value
            else:
                ctx.error("RL0403", f"the `{t.group}` cell must name a {t.group}, e.g. `BTCUSDT`", gc.span)
                ok = False
                continue
        lower = _band_edge(ctx, cells["from"], key_dim, allow_inf=False)
        upper = _band_edge(ctx, cells["to"], key_dim, allow_inf=True)
        values: dict[str, ir.Value] = {}
        for col in value_cols:
            got = _cell_value(ctx, cells[col], col, col_types)
            if got is None:
                ok = False
            else:
                values[col] = got
        if lower is None or upper is False:
            ok = False
            continue
        upper_v = None if upper is True else upper
        groups.setdefault(group_key, []).append((row, lower, upper_v, values))  # type: ignore[arg-type]
    columns = tuple(ir.Column(name=c, type=col_types[c] or NumType(Dim())) for c in value_cols)
    tiers: list[tuple[str, tuple[ir.Tier, ...]]] = []
    for key, rows in groups.items():
        ok &= _check_bands(ctx, t, key, rows)
        ok &= _check_columns(ctx, t, key, rows, columns)
        derived = _derive(rows, columns)
        _check_stated_cum(ctx, t, key, derived)
        tiers.append((key, derived))
    if not ok:
        return None
    if tick is not None:
        check_edges_on_tick(ctx, t, tick)
    return ir.TableDecl(
        name=t.name,
        key_type=key_type,
        group=t.group,
        lower_inclusive=lower_inclusive,
        columns=columns,
        tiers=tuple(tiers),
        meta=t.meta,
        tick=tick,
        span=t.span,
    )


def _tick(ctx: Context, t: nodes.Table, key_dim: Dim | None) -> ir.Tick | None:
    """The table's declared tick, in the unit of its size (a number written without a unit takes it)."""
    owner = f"table `{t.name}`"
    number = tick_literal(ctx, t.ticks, owner, f"tick 0.01 {t.key_unit}")
    if number is None or key_dim is None:
        return None
    if number.unit is not None:
        d = unit_dim(ctx, number.unit)
        if d is None:
            return None
        wrong: str | None = None if d == key_dim else f"an amount in {d}"
    else:
        wrong = None if number.style == "number" else f"a {number.style}"
    if wrong is not None:
        ctx.error(
            "RL0301",
            f"the tick of {owner} must be an amount in {key_dim} (the unit of its size), but this is {wrong}",
            number.span,
        )
        return None
    return ir.Tick(value=number.value, type=NumType(key_dim), span=number.span)


def check_edges_on_tick(ctx: Context, t: nodes.Table, tick: ir.Tick) -> None:
    """Warn (RL0414) at each band edge that is not a whole number of ticks: once per edge and key."""
    assert t.header is not None
    names = [c.value.name if isinstance(c.value, nodes.Name) else "" for c in t.header.cells]
    edges = [names.index("from"), names.index("to")]
    seen: set[tuple[str, Decimal]] = set()
    for row in t.rows:
        if len(row.cells) != len(names):
            continue
        key = ""
        if t.group:
            v = row.cells[names.index(t.group)].value
            key = v.name if isinstance(v, nodes.Name) else v.value if isinstance(v, nodes.String) else ""
        for cell in (row.cells[i] for i in edges):
            edge = cell.value
            if not isinstance(edge, nodes.Number) or (key, edge.value) in seen:
                continue
            seen.add((key, edge.value))
            if not is_multiple(edge.value, tick.value):
                where = f" for {key}" if key else ""
                shown = show(tick.value, tick.type)
                ctx.warn(
                    "RL0414",
                    f"band edge {_num(edge.value)}{where} of table `{t.name}` is not a whole number of ticks ({shown})",
                    cell.span,
                    hint=f"sizes step by {shown}: no size lies exactly on this edge; check the edge or the tick",
                )


def _band_edge(ctx: Context, cell: nodes.Cell, key_dim: Dim | None, allow_inf: bool) -> Decimal | bool | None:
    """A band's edge: a Decimal, True for ``inf`` (only in ``to``), None/False on error."""
    if cell.infinite:
        if allow_inf:
            return True
        ctx.error("RL0403", "a band cannot start at infinity", cell.span)
        return None
    v = cell.value
    if v is None and cell.text:
        return False if allow_inf else None  # unreadable: reported when the row was read
    if not isinstance(v, nodes.Number) or v.style != "number":
        what = f"not `{cell.text}`" if cell.text else "but this cell is empty"
        ctx.error("RL0403", f"a band edge must be a number, {what}", cell.span)
        return False if allow_inf else None
    if v.unit is not None and key_dim is not None:
        d = unit_dim(ctx, v.unit)
        if d is not None and d != key_dim:
            ctx.error("RL0301", f"this table is keyed by {key_dim}, but this edge is in {d}", cell.span)
            return False if allow_inf else None
    return v.value


def _cell_value(ctx: Context, cell: nodes.Cell, col: str, col_types: dict[str, Type | None]) -> ir.Value | None:
    v = cell.value
    if cell.infinite:
        ctx.error("RL0403", "only a band's `to` can be `inf`", cell.span)
        return None
    if v is None:
        if not cell.text:  # a cell with text but no value could not be read: already reported
            ctx.error("RL0403", f"the `{col}` cell is empty", cell.span)
        return None
    if isinstance(v, nodes.Number):
        d = unit_dim(ctx, v.unit) if v.unit is not None else Dim()
        if d is None:
            return None
        t: Type = NumType(d, v.style)
        value: ir.Value = v.value
    else:
        t = TextType()
        value = v.name if isinstance(v, nodes.Name) else v.value  # type: ignore[union-attr]
    known = col_types[col]
    if known is None:
        col_types[col] = t
    elif isinstance(known, NumType) and isinstance(t, NumType):
        if known.dim != t.dim:
            ctx.error("RL0410", f"column `{col}` mixes {describe(known)} and {describe(t)}", cell.span)
            return None
    elif type(known) is not type(t):
        ctx.error("RL0410", f"column `{col}` mixes {describe(known)} and {describe(t)}", cell.span)
        return None
    return value


Rows = list[tuple[nodes.Row, Decimal, Decimal | None, dict[str, ir.Value]]]


def _check_bands(ctx: Context, t: nodes.Table, key: str, rows: Rows) -> bool:
    ok = True
    where = f" for {key}" if key else ""
    for i, (row, lower, upper, _) in enumerate(rows):
        if upper is not None and upper <= lower:
            ctx.error("RL0406", f"band {i + 1}{where} does not increase: it goes from {lower} to {upper}", row.span)
            ok = False
        if lower < 0:
            ctx.error("RL0406", f"band {i + 1}{where} starts below zero ({lower})", row.span)
            ok = False
        if upper is None and i != len(rows) - 1:
            ctx.error("RL0405", f"band {i + 1}{where} has no upper bound, but more bands follow it", row.span)
            ok = False
        if i == 0:
            continue
        prev_upper = rows[i - 1][2]
        if prev_upper is None:
            continue
        if lower > prev_upper:
            ctx.error(
                "RL0404",
                f"gap in table `{t.name}`{where}: band {i} ends at {prev_upper} but band {i + 1} starts at {lower}",
                row.span,
                hint=f"start this band at {prev_upper} (the `bands` line says which end is inclusive)",
            )
            ok = False
        elif lower < prev_upper:
            ctx.error(
                "RL0405",
                f"overlap in table `{t.name}`{where}: band {i} ends at {prev_upper} but band {i + 1} starts at {lower}",
                row.span,
                hint=f"start this band at {prev_upper}",
            )
            ok = False
    return ok


def _check_columns(ctx: Context, t: nodes.Table, key: str, rows: Rows, columns: tuple[ir.Column, ...]) -> bool:
    ok = True
    where = f" for {key}" if key else ""
    names = {c.name: c for c in columns}

    def cell_span(row: nodes.Row, col: str) -> Span:
        assert t.header is not None
        idx = [c.value.name for c in t.header.cells if isinstance(c.value, nodes.Name)].index(col)
        return row.cells[idx].span

    for c in columns:
        if not isinstance(c.type, NumType):
            continue
        if _is_rate_column(c.name, c.type):
            for row, _, _, values in rows:
                v = values.get(c.name)
                if isinstance(v, Decimal) and not (0 <= v <= 1):
                    ctx.error(
                        "RL0407",
                        f"rate `{c.name}`{where} is {v:%}, outside 0% to 100%",
                        cell_span(row, c.name),
                    )
                    ok = False
        if _is_leverage_column(c.name, c.type):
            prev: Decimal | None = None
            for row, _, _, values in rows:
                v = values.get(c.name)
                if isinstance(v, Decimal):
                    if v <= 0:
                        ctx.error(
                            "RL0409",
                            f"max leverage `{c.name}`{where} must be above zero",
                            cell_span(row, c.name),
                        )
                        ok = False
                    if prev is not None and v > prev:
                        ctx.error(
                            "RL0409",
                            f"max leverage `{c.name}`{where} rises with size: {prev}x then {v}x",
                            cell_span(row, c.name),
                            hint="a larger position must not get more leverage",
                        )
                        ok = False
                    prev = v
    if "mmr" in names and "imr" in names:
        for row, _, _, values in rows:
            mmr, imr = values.get("mmr"), values.get("imr")
            if isinstance(mmr, Decimal) and isinstance(imr, Decimal) and mmr > imr:
                ctx.error(
                    "RL0408",
                    f"maintenance rate {_pct(mmr)} is above the initial rate {_pct(imr)}{where}",
                    cell_span(row, "mmr"),
                    hint="the maintenance margin rate must not exceed the initial margin rate",
                )
                ok = False
    return ok


def _pct(v: Decimal) -> str:
    return f"{(v * 100).normalize():f}%"


def _derive(rows: Rows, columns: tuple[ir.Column, ...]) -> tuple[ir.Tier, ...]:
    """Build the tiers with each numeric column's maintenance amount ``cum``.

    ``cum_1 = 0`` and ``cum_n = cum_{n-1} + from_n × (rate_n − rate_{n-1})``, so that
    ``size × rate_n − cum_n`` is the progressive sum for any size in band n.
    """
    numeric = [c.name for c in columns if isinstance(c.type, NumType)]
    cums = dict.fromkeys(numeric, Decimal(0))
    prev: dict[str, ir.Value] = {}
    out = []
    for i, (row, lower, upper, values) in enumerate(rows):
        if i > 0:
            for c in numeric:
                a, b = values.get(c), prev.get(c)
                if isinstance(a, Decimal) and isinstance(b, Decimal):
                    # exactly (not in the ambient 28 digits): bracket must equal the progressive sum
                    cums[c] = WIDE.add(cums[c], WIDE.multiply(lower, WIDE.subtract(a, b)))
        out.append(
            ir.Tier(
                number=i + 1,
                lower=lower,
                upper=upper,
                values=tuple(values.items()),
                cum=tuple((c, cums[c]) for c in numeric),
                span=row.span,
            )
        )
        prev = values
    return tuple(out)


def _check_stated_cum(ctx: Context, t: nodes.Table, key: str, tiers: tuple[ir.Tier, ...]) -> None:
    """Warn where a table's own `cum` column disagrees with the maintenance amount derived from `mmr`.

    Exchanges publish `cum` (Binance) or a maintenance deduction (Bybit) beside
    the rates, and real data has errors; the engine always uses its derivation.
    """
    names = {c for tier in tiers[:1] for c, _ in tier.values}
    if "cum" not in names or "mmr" not in names:
        return
    where = f" for {key}" if key else ""
    for tier in tiers:
        stated, derived = tier.value("cum"), tier.cum_of("mmr")
        if isinstance(stated, Decimal) and stated != derived:
            ctx.warn(
                "RL0412",
                f"tier {tier.number}{where} of table `{t.name}` states cum {_num(stated)}, but its rates give "
                f"{_num(derived)}; the engine uses {_num(derived)}",
                tier.span,
                hint="cum(n) = cum(n-1) + from(n) × (mmr(n) − mmr(n-1)), with cum(1) = 0",
            )


def _num(d: Decimal) -> str:
    from rulelang.display import grouped

    return grouped(d)


def merge_parts(ctx: Context, parts: list[nodes.Table], checked: list[ir.TableDecl | None]) -> ir.TableDecl | None:
    """Merge the parts of a keyed table declared in several files (one file per symbol).

    The parts must agree on the unit, the key, the inclusive end and the
    columns; each key may appear in one part only.
    """
    first = checked[0]
    assert first is not None
    if len(parts) == 1:
        return first
    ok = True
    owner: dict[str, nodes.Table] = {key: parts[0] for key, _ in first.tiers}
    tiers = list(first.tiers)
    for part, table in zip(parts[1:], checked[1:], strict=True):
        assert table is not None
        differs = [
            what
            for what, same in (
                ("unit", table.key_type == first.key_type),
                ("key", table.group == first.group),
                ("inclusive end (`bands` line)", table.lower_inclusive == first.lower_inclusive),
                ("columns", table.columns == first.columns),
            )
            if not same
        ]
        if differs:
            ctx.error(
                "RL0413",
                f"this part of table `{part.name}` differs from its first part (line {parts[0].name_span.line} of "
                f"{parts[0].name_span.source.path}) in its " + ", ".join(differs),
                part.name_span,
                hint="every part of a table split across files must have the same unit, `per`, `bands` and columns",
            )
            ok = False
            continue
        for key, key_tiers in table.tiers:
            if key in owner:
                other = owner[key]
                ctx.error(
                    "RL0413",
                    f"table `{part.name}` has tiers for {key} in two places: here and in {other.name_span.source.path}",
                    key_tiers[0].span,
                )
                ok = False
                continue
            owner[key] = part
            tiers.append((key, key_tiers))
    if not ok:
        return None
    return attrs.evolve(first, tiers=tuple(tiers), tick=_merged_tick(ctx, parts, checked))


def _merged_tick(ctx: Context, parts: list[nodes.Table], checked: list[ir.TableDecl | None]) -> ir.Tick | None:
    """The tick of a table split across files: the parts that declare one must agree; the others take it."""
    declared = [(part, table.tick) for part, table in zip(parts, checked, strict=True) if table and table.tick]
    if not declared:
        return None
    owner, tick = declared[0]
    for part, other in declared[1:]:
        if other.value != tick.value:
            ctx.error(
                "RL0413",
                f"this part of table `{part.name}` declares tick {show(other.value, other.type)}, but its part at "
                f"line {owner.name_span.line} of {owner.name_span.source.path} declares {show(tick.value, tick.type)}",
                other.span,
                hint="declare the tick once, or the same tick in every part",
            )
    for part, table in zip(parts, checked, strict=True):
        if table is not None and table.tick is None:
            check_edges_on_tick(ctx, part, tick)
    return tick
