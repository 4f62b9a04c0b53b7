"""Tier tables and haircut schedules for the docs: rows with derived figures, and their charts.

Input: a checked :class:`~rulelang.ir.TableDecl`, the lookup modes the ruleset
applies to its columns, and a :class:`~rulelang.docs.i18n.Locale`. Output:
:class:`TableView` objects holding formatted rows and SVG charts. Every
figure is computed by the engine's runtime (:mod:`rulelang.runtime`): the
maintenance amounts ``cum`` the checker derived, ``size × rate − cum`` at each
band edge and at the sample sizes of the charts.

A table is a *haircut schedule* when it has no margin-rate column (``mmr`` or
``imr``) but has a rate column: the rate is the share of a collateral's value
that counts (OKX's discount rates, Binance's collateral ratios).
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Iterable
from decimal import Decimal

import attrs

from rulelang import ir, runtime
from rulelang.docs import svg
from rulelang.docs.i18n import Locale
from rulelang.docs.origin import location
from rulelang.types import NumType, Type

MARGIN_COLUMNS = ("mmr", "imr")
SAMPLES = 8  # sample sizes inside each band, besides its two edges
_SHOWN = Decimal("0.000001")  # rates are shown exactly when they end within 0.0001 %


@attrs.frozen
class GroupView:
    key: str  # "" for a table without `per`
    anchor: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    charts: tuple[svg.Chart, ...]


@attrs.frozen
class TableView:
    anchor: str
    name: str
    label: str
    description: str | None
    kind: str  # "tiers" or "haircuts"
    unit: str
    key_label: str | None  # the `per` column
    bands_rule: str
    notes: tuple[str, ...]
    groups: tuple[GroupView, ...]
    location: str


def is_rate(t: Type) -> bool:
    return isinstance(t, NumType) and t.dim is not None and t.dim.dimensionless and t.style == "percent"


def is_haircut(t: ir.TableDecl) -> bool:
    names = {c.name for c in t.columns}
    return not names & set(MARGIN_COLUMNS) and any(is_rate(c.type) for c in t.columns)


def modes_used(rs: ir.Ruleset) -> dict[tuple[str, str], set[str]]:
    """The lookup modes the ruleset applies to each ``(table, column)``."""
    out: dict[tuple[str, str], set[str]] = {}
    for d in rs.definitions:
        for x in ir.walk(d.expr):
            if isinstance(x, ir.Lookup) and x.column is not None:
                out.setdefault((x.table, x.column), set()).add(x.mode)
    return out


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


def _unit(t: ir.TableDecl) -> str:
    kt = t.key_type
    return str(kt.dim) if isinstance(kt, NumType) and kt.dim is not None and not kt.dim.dimensionless else ""


class TableWriter:
    """Build the views of the tables of one ruleset."""

    def __init__(self, rs: ir.Ruleset, loc: Locale, label_of: dict[str, str]) -> None:
        self.rs = rs
        self.loc = loc
        self.modes = modes_used(rs)
        self.label_of = label_of  # table name -> its label in the page's language

    # ------------------------------------------------------------ formatting
    def _amount(self, d: Decimal | None, unit: str) -> str:
        if d is None:
            return "∞"
        return self.loc.number(d)

    def _rate(self, d: Decimal) -> str:
        """A rate exactly when it ends within 0.0001 %, else rounded and marked ≈."""
        q = d.quantize(_SHOWN, rounding=decimal.ROUND_HALF_EVEN, context=runtime.WIDE)
        return self.loc.percent(d) if q == d else "≈ " + self.loc.percent(q)

    def _cell(self, v: ir.Value, t: Type) -> str:
        return self.loc.value(v, t, unit=False)

    def chart_mode(self, table: str, column: str) -> str:
        """``progressive`` (continuous, = ``bracket``) or ``step`` (the whole size at one rate)."""
        used = self.modes.get((table, column), set())
        if used & {"progressive", "bracket"} or not used & {"step", "lookup"}:
            return "progressive"
        return "step"

    # ------------------------------------------------------------ views
    def view(self, t: ir.TableDecl) -> TableView:
        _ = self.loc._
        kind = "haircuts" if is_haircut(t) else "tiers"
        unit = _unit(t)
        rule = (
            _("a size on a band's lower edge belongs to that band (from ≤ size < to)")
            if t.lower_inclusive
            else _("a size on a band's upper edge belongs to that band (from < size ≤ to)")
        )
        if t.tick is not None:
            step = self.loc.value(t.tick.value, t.tick.type)
            rule = (
                _("{rule}; sizes step by {tick}, the smallest step the exchange distinguishes")
                .replace("{rule}", rule)
                .replace("{tick}", step)
            )
        notes: list[str] = []
        groups = []
        rtiers = runtime.table_tiers(t)
        for key, tiers in t.tiers:
            if kind == "tiers":
                headers, rows, charts, extra = self._tier_rows(t, key, tiers, rtiers[key])
            else:
                headers, rows, charts, extra = self._haircut_rows(t, key, tiers, rtiers[key])
            for n in extra:
                if n not in notes:
                    notes.append(n)
            anchor = f"table-{t.name}" + (f"-{slug(key)}" if key else "")
            groups.append(GroupView(key, anchor, headers, rows, charts))
        return TableView(
            anchor=f"table-{t.name}",
            name=t.name,
            label=self.label_of[t.name],
            description=self.loc.text(t.meta.description, f"table {t.name}", "description"),
            kind=kind,
            unit=unit,
            key_label=t.group,
            bands_rule=rule,
            notes=tuple(notes),
            groups=tuple(groups),
            location=location(t.span),
        )

    def _rate_columns(self, t: ir.TableDecl) -> list[ir.Column]:
        return [c for c in t.columns if is_rate(c.type)]

    def _chart_column(self, t: ir.TableDecl) -> ir.Column | None:
        rates = self._rate_columns(t)
        return next((c for c in rates if c.name == "mmr"), rates[0] if rates else None)

    def _tier_rows(
        self, t: ir.TableDecl, key: str, tiers: tuple[ir.Tier, ...], rt: runtime.Tiers
    ) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...], tuple[svg.Chart, ...], list[str]]:
        _ = self.loc._
        unit = _unit(t)
        rates = self._rate_columns(t)
        chart_col = self._chart_column(t)
        has_leverage = any(isinstance(c.type, NumType) and c.type.style == "leverage" for c in t.columns)
        imr = t.column("imr")
        derive_leverage = not has_leverage and imr is not None
        # a stated `cum` that equals the derived one is shown once, as the derived column
        hide_cum = (
            t.column("cum") is not None
            and t.column("mmr") is not None
            and all(tr.value("cum") == tr.cum_of("mmr") for tr in tiers)
        )
        shown_cols = [c for c in t.columns if not (hide_cum and c.name == "cum")]
        u = f" ({unit})" if unit else ""
        headers = [_("Band"), _("From") + u, _("To") + u, *[c.name for c in shown_cols]]
        for c in rates:
            headers.append(
                _("Maintenance amount (cum)") + u
                if c.name == "mmr"
                else _("cum of {column}").replace("{column}", c.name) + u
            )
        if derive_leverage:
            headers.append(_("Max leverage (1 ÷ imr)"))
        mode = self.chart_mode(t.name, chart_col.name) if chart_col else "progressive"
        if chart_col is not None:
            headers += [
                _("Effective {column} at from").replace("{column}", chart_col.name),
                _("Effective {column} at to").replace("{column}", chart_col.name),
            ]
        rows = []
        for i, tr in enumerate(tiers):
            row = [str(tr.number), self._amount(tr.lower, unit), self._amount(tr.upper, unit)]
            row += [self._cell(tr.value(c.name), c.type) for c in shown_cols]
            row += [self.loc.number(tr.cum_of(c.name)) for c in rates]
            if derive_leverage:
                assert imr is not None
                rate = tr.value("imr")
                assert isinstance(rate, Decimal)
                row.append(self._leverage(rate))
            if chart_col is not None:
                row += [
                    self._effective(rt, chart_col.name, i, tr.lower, mode),
                    self._effective(rt, chart_col.name, i, tr.upper, mode),
                ]
            rows.append(tuple(row))
        notes = []
        if hide_cum:
            notes.append(
                _("The table's own cum column equals the maintenance amount the engine derives; it is shown once.")
            )
        notes.append(
            _(
                "Maintenance amount: cum of band 1 = 0, cum of band n = cum of band n−1 + from(n) "
                "× (rate(n) − rate(n−1)), so that size × rate − cum equals the progressive sum."
            )
        )
        if chart_col is not None:
            notes.append(
                _("Effective rate: the margin at a size divided by the size; computed {how}.").replace(
                    "{how}",
                    _("as size × rate − cum (continuous at the edges)")
                    if mode == "progressive"
                    else _("with the whole size at its band's rate (it jumps at the edges)"),
                )
            )
        charts = self._tier_charts(t, key, rt, chart_col.name, mode) if chart_col else ()
        return tuple(headers), tuple(rows), charts, notes

    def _leverage(self, imr: Decimal) -> str:
        if imr == 0:
            return "∞"
        exact = runtime.CONTEXT.divide(Decimal(1), imr)
        shown = exact.quantize(Decimal("0.01"), rounding=decimal.ROUND_DOWN, context=runtime.WIDE)
        return (self.loc.number(shown) if shown == exact else "≈ " + self.loc.number(shown)) + "x"

    def _effective(self, rt: runtime.Tiers, col: str, i: int, edge: Decimal | None, mode: str) -> str:
        rate = rt.values[col][i]
        assert isinstance(rate, Decimal)
        if edge is None:
            return "→ " + self.loc.percent(rate)
        if edge == 0 or mode == "step":
            return self.loc.percent(rate)
        margin = runtime.charge(edge, rate, rt.cums[col][i])
        return self._rate(runtime.CONTEXT.divide(margin, edge))

    def _haircut_rows(
        self, t: ir.TableDecl, key: str, tiers: tuple[ir.Tier, ...], rt: runtime.Tiers
    ) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...], tuple[svg.Chart, ...], list[str]]:
        _ = self.loc._
        unit = _unit(t)
        u = f" ({unit})" if unit else ""
        col = self._chart_column(t)
        assert col is not None
        headers = [
            _("Band"),
            _("From") + u,
            _("To") + u,
            *[c.name for c in t.columns],
            _("Haircut"),
            _("Counted value at the band's end") + u,
        ]
        rows = []
        for i, tr in enumerate(tiers):
            rate = rt.values[col.name][i]
            assert isinstance(rate, Decimal)
            end = "—" if tr.upper is None else self.loc.number(runtime.charge(tr.upper, rate, rt.cums[col.name][i]))
            row = [str(tr.number), self._amount(tr.lower, unit), self._amount(tr.upper, unit)]
            row += [self._cell(tr.value(c.name), c.type) for c in t.columns]
            row += [self.loc.percent(runtime.CONTEXT.subtract(Decimal(1), rate)), end]
            rows.append(tuple(row))
        notes = [
            _(
                "Each slice of a collateral's value counts at its own band's rate; "
                "the haircut is the part that does not count (1 − rate)."
            )
        ]
        return tuple(headers), tuple(rows), (self._haircut_chart(t, key, rt, col.name),), notes

    # ------------------------------------------------------------ charts
    def _range(self, rt: runtime.Tiers) -> tuple[Decimal, Decimal, bool]:
        """The sizes a chart shows: to the last finite edge (or past the last band's start), log when wide."""
        finite = sorted({e for e in (*rt.lowers, *rt.uppers) if e != runtime.INFINITY and e > 0})
        open_end = rt.uppers[-1] == runtime.INFINITY
        if not open_end:
            top = rt.uppers[-1]
        elif rt.lowers[-1] > 0:
            top = rt.lowers[-1] * 2
        else:
            top = Decimal(100)  # one open band from 0: any scale shows it
        if finite and top / finite[0] > 100:
            with decimal.localcontext(runtime.CONTEXT):
                lo = Decimal(10) ** (finite[0] / 10).log10().to_integral_value(decimal.ROUND_FLOOR)
            return lo, top, True
        return rt.lowers[0], top, False

    def _sizes(self, lo: Decimal, hi: Decimal, log: bool) -> list[Decimal]:
        with decimal.localcontext(runtime.CONTEXT):
            if log and lo > 0:
                ratio = hi / lo
                return [lo * ratio ** (Decimal(k) / (SAMPLES + 1)) for k in range(1, SAMPLES + 1)]
            return [lo + (hi - lo) * k / (SAMPLES + 1) for k in range(1, SAMPLES + 1)]

    def _curve(
        self, rt: runtime.Tiers, col: str, mode: str, x_lo: Decimal, x_hi: Decimal, log: bool
    ) -> tuple[list[svg.Point], list[svg.Point]]:
        """Sample ``(size, margin)`` points band by band, with every band edge; and the edge points."""
        points: list[svg.Point] = []
        edges: list[svg.Point] = []
        with decimal.localcontext(runtime.CONTEXT):
            for i, (lo, hi) in enumerate(zip(rt.lowers, rt.uppers, strict=True)):
                a, b = max(lo, x_lo), min(hi, x_hi)
                if a >= b:
                    continue
                rate, cum = rt.values[col][i], rt.cums[col][i]
                assert isinstance(rate, Decimal)

                def own(x: Decimal, rate: Decimal = rate, cum: Decimal = cum) -> Decimal:
                    # this band's formula at its own edges: the lookup would pick a neighbour there
                    return runtime.charge(x, rate, cum) if mode == "progressive" else x * rate

                inner = [
                    (x, runtime.bracket(rt, col, x) if mode == "progressive" else runtime.step(rt, col, x))
                    for x in self._sizes(a, b, log)
                ]
                points += [(a, own(a)), *inner, (b, own(b))]
                if a == lo:
                    edges.append((a, own(a)))
        if points:
            edges.append(points[-1])
        return points, edges

    def _tier_charts(self, t: ir.TableDecl, key: str, rt: runtime.Tiers, col: str, mode: str) -> tuple[svg.Chart, ...]:
        _ = self.loc._
        unit = _unit(t)
        label = self.label_of[t.name] + (f" · {key}" if key else "")
        x_lo, x_hi, log = self._range(rt)
        points, edge_points = self._curve(rt, col, mode, x_lo, x_hi, log)
        first = rt.values[col][0]
        assert isinstance(first, Decimal)
        with decimal.localcontext(runtime.CONTEXT):
            # at size 0 the effective rate is the first band's rate (its limit)
            rates = [(x, m / x if x > 0 else first) for x, m in points]
            rate_edges = [(x, m / x if x > 0 else first) for x, m in edge_points]
        edges = [e for e in rt.lowers if e > x_lo]
        base = f"{slug(t.name)}" + (f"-{slug(key)}" if key else "") + f"-{slug(col)}"
        size_label = _("Size") + (f" ({unit})" if unit else "") + (" · " + _("log scale") if log else "")
        y_max = max(m for _x, m in points)
        y_min = min(m for _x, m in points)
        y_log = log and y_min > 0
        if y_log:
            with decimal.localcontext(runtime.CONTEXT):
                y_axis = (
                    Decimal(10) ** y_min.log10().to_integral_value(decimal.ROUND_FLOOR),
                    Decimal(10) ** y_max.log10().to_integral_value(decimal.ROUND_CEILING),
                    True,
                )
        else:
            y_axis = (Decimal(0), svg.nice_ceiling(y_max), False)
        kinks = ", ".join(self.loc.number(e) for e in edges)
        what = _("Margin") if col == "mmr" else col
        mm_title = _("{what} against size: {table}").replace("{what}", what).replace("{table}", label)
        how = (
            _("piecewise linear, its slope changing at each band edge")
            if mode == "progressive"
            else _("jumping at each band edge")
        )
        mm_desc = _("Line chart of {column} charged on sizes from {lo} to {hi} {unit}: {how} ({edges}).").format_map(
            _Fmt(column=col, lo=self.loc.number(x_lo), hi=self.loc.number(x_hi), unit=unit, how=how, edges=kinks)
        )
        mm = svg.line_chart(
            chart_id=f"{base}-margin",
            title=mm_title,
            desc=mm_desc,
            x_label=size_label,
            y_label=what + (f" ({unit})" if unit else ""),
            series=[svg.Series(what, tuple(points), "s1", tuple(edge_points))],
            x_axis=(x_lo, x_hi, log),
            y_axis=y_axis,
            x_tick=self.loc.compact,
            y_tick=self.loc.compact,
            edges=edges,
        )
        r_max = max(r for _x, r in rates)
        r_min = min(r for _x, r in rates)
        rate_axis = (Decimal(0), svg.nice_ceiling(r_max), False)
        if log and r_min > 0:
            # on a wide table the first bands' rates are tiny beside the last ones': a log axis shows them all
            with decimal.localcontext(runtime.CONTEXT):
                rate_axis = (
                    Decimal(10) ** r_min.log10().to_integral_value(decimal.ROUND_FLOOR),
                    Decimal(10) ** r_max.log10().to_integral_value(decimal.ROUND_CEILING),
                    True,
                )
        rate_title = _("Effective rate against size: {table}").replace("{table}", label)
        rate_desc = _(
            "Line chart of the effective {column} rate (margin ÷ size) on sizes from {lo} "
            "to {hi} {unit}, rising towards each band's rate; band edges at {edges}."
        ).format_map(_Fmt(column=col, lo=self.loc.number(x_lo), hi=self.loc.number(x_hi), unit=unit, edges=kinks))
        rate_chart = svg.line_chart(
            chart_id=f"{base}-rate",
            title=rate_title,
            desc=rate_desc,
            x_label=size_label,
            y_label=_("Effective rate") + (" · " + _("log scale") if rate_axis[2] else ""),
            series=[svg.Series(_("Effective rate"), tuple(rates), "s2", tuple(rate_edges))],
            x_axis=(x_lo, x_hi, log),
            y_axis=rate_axis,
            x_tick=self.loc.compact,
            y_tick=self.loc.percent,
            edges=edges,
        )
        return (
            svg.Chart(f"{base}-margin", mm_title, mm_desc, mm),
            svg.Chart(f"{base}-rate", rate_title, rate_desc, rate_chart),
        )

    def _haircut_chart(self, t: ir.TableDecl, key: str, rt: runtime.Tiers, col: str) -> svg.Chart:
        _ = self.loc._
        unit = _unit(t)
        label = self.label_of[t.name] + (f" · {key}" if key else "")
        x_lo, x_hi, log = self._range(rt)
        points, edge_points = self._curve(rt, col, "progressive", x_lo, x_hi, log)
        base = f"{slug(t.name)}" + (f"-{slug(key)}" if key else "") + "-haircut"
        title = _("Counted value against collateral value: {table}").replace("{table}", label)
        desc = _(
            "Line chart of the value that counts after the haircut, for collateral values from {lo} to {hi} "
            "{unit}, beside the full value (no haircut); the slope changes at each band edge ({edges})."
        ).format_map(
            _Fmt(
                lo=self.loc.number(x_lo),
                hi=self.loc.number(x_hi),
                unit=unit,
                edges=", ".join(self.loc.number(e) for e in rt.lowers if e > x_lo),
            )
        )
        y_top = svg.nice_ceiling(x_hi)
        chart = svg.line_chart(
            chart_id=base,
            title=title,
            desc=desc,
            x_label=_("Collateral value") + (f" ({unit})" if unit else "") + (" · " + _("log scale") if log else ""),
            y_label=_("Counted value") + (f" ({unit})" if unit else ""),
            series=[
                svg.Series(_("Counted value"), tuple(points), "s1", tuple(edge_points)),
                svg.Series(_("Full value (no haircut)"), ((x_lo, x_lo), (x_hi, x_hi)), "ref"),
            ],
            x_axis=(x_lo, x_hi, log),
            y_axis=(x_lo, y_top, log) if log else (Decimal(0), y_top, False),
            x_tick=self.loc.compact,
            y_tick=self.loc.compact,
            edges=[e for e in rt.lowers if e > x_lo],
        )
        return svg.Chart(base, title, desc, chart)


class _Fmt(dict[str, str]):
    """``str.format_map`` arguments that leave unknown placeholders alone (a translation may drop one)."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def tables_of(rs: ir.Ruleset, kind: str) -> Iterable[ir.TableDecl]:
    return (t for t in rs.tables if (is_haircut(t) if kind == "haircuts" else not is_haircut(t)))
