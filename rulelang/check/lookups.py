"""Check tier-table lookups: ``progressive``, ``bracket``, ``step``, ``lookup``, ``cum``, ``tier``.

Input: a :class:`~rulelang.nodes.Call` whose function is a lookup mode. Output:
an :class:`~rulelang.ir.Lookup` whose type follows the table: a rate column
applied to a size in USDT gives USDT; ``lookup`` gives the column's own type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rulelang import ir, nodes
from rulelang.check.context import did_you_mean
from rulelang.types import NUMBER, Dim, EnumType, NumType, TextType, Type, compatible

if TYPE_CHECKING:
    from rulelang.check.expressions import ExprChecker


def lower_lookup(ec: ExprChecker, e: nodes.Call) -> ir.Expr | None:
    from rulelang.check.expressions import describe

    ctx = ec.ctx
    mode = e.func
    shape = (
        "`tier(table, size)`" if mode == "tier" else f"`{mode}(table.column, size)`"
    ) + " (for a table with `per`, `table[key]`)"
    if len(e.args) != 2 or any(a.kind for a in e.args):
        ctx.error("RL0304", f"`{mode}` takes a table and a size", e.span, hint=f"write {shape}")
        return None
    target, size_node = e.args[0].value, e.args[1].value
    column_name: str | None = None
    column_span = target.span
    if mode != "tier":
        if not isinstance(target, nodes.Attr):
            ctx.error(
                "RL0304",
                f"the first argument of `{mode}` must be `table.column`",
                target.span,
                hint=f"write {shape}",
            )
            return None
        column_name, column_span, target = target.name, target.name_span, target.base
    if isinstance(target, nodes.Index):
        table_name, key_node, table_span = target.name, target.index, target.span
    elif isinstance(target, nodes.Name):
        table_name, key_node, table_span = target.name, None, target.span
    else:
        ctx.error("RL0304", f"`{mode}` needs a table here", target.span, hint=f"write {shape}")
        return None
    table = ctx.tables.get(table_name)
    if table is None:
        if table_name not in ctx.failed and not ctx.imports_failed:
            hint = did_you_mean(table_name, ctx.tables)
            ctx.error("RL0201", f"undefined table `{table_name}`", table_span, hint=hint)
        ec.lower(size_node)  # still report its own errors, and mark the inputs it uses as used
        if key_node is not None:
            ec.lower(key_node)
        return None
    size = ec.lower(size_node)
    group = ec.lower(key_node) if key_node is not None else None
    if table.group is not None and key_node is None:
        ctx.error(
            "RL0304",
            f"table `{table_name}` has one set of tiers per {table.group}: "
            f"say which, e.g. `{table_name}[{table.group}]`",
            table_span,
        )
        return None
    if table.group is None and key_node is not None:
        ctx.error("RL0304", f"table `{table_name}` is not keyed (it has no `per`)", table_span)
        return None
    if group is not None and not isinstance(group.type, (TextType, EnumType)):
        ctx.error(
            "RL0302",
            f"a table key must be a text or an enumeration, but this is {describe(group.type)}",
            key_node.span if key_node else table_span,
        )
        return None
    column = None
    if column_name in ("from", "to"):
        if mode != "lookup":
            ctx.error(
                "RL0304",
                f"`{column_name}` is a band edge, not a rate: read it with `lookup({table_name}.{column_name}, size)`",
                column_span,
            )
            return None
        column = ir.Column(name=column_name, type=table.key_type)
    elif column_name is not None:
        column = table.column(column_name)
        if column is None:
            names = [c.name for c in table.columns]
            ctx.error(
                "RL0207",
                f"table `{table_name}` has no column `{column_name}`",
                column_span,
                hint=did_you_mean(column_name, names) or ("its columns are " + ", ".join(names) if names else None),
            )
            return None
    if size is None:
        return None
    if not compatible(table.key_type, size.type):
        ctx.error(
            "RL0301",
            f"table `{table_name}` is keyed by {describe(table.key_type)}, but this size is {describe(size.type)}",
            size_node.span,
        )
        return None
    t: Type
    if mode == "tier":
        t = NUMBER
    else:
        assert column is not None
        ct = column.type
        if mode == "lookup":
            t = ct
        else:
            if not isinstance(ct, NumType):
                ctx.error(
                    "RL0302",
                    f"`{mode}` needs a numeric column, but `{column_name}` holds {describe(ct)}",
                    column_span,
                )
                return None
            if mode == "progressive" and table.tiers:
                bad = [k for k, tiers in table.tiers if tiers and tiers[0].lower != 0]
                if bad:
                    ctx.error(
                        "RL0411",
                        f"`progressive` charges every slice from 0, but table `{table_name}`"
                        + (f" (for {bad[0]})" if bad[0] else "")
                        + " does not start at 0",
                        e.span,
                    )
                    return None
            kd = table.key_type.dim if isinstance(table.key_type, NumType) and table.key_type.dim else Dim()
            cd = ct.dim if ct.dim is not None else Dim()
            t = NumType(kd * cd)
    return ir.Lookup(mode=mode, table=table_name, column=column_name, size=size, group=group, type=t, span=e.span)
