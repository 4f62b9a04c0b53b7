"""Hand-built SVG: line charts with exact, deterministic coordinates, and the ladder's bands.

Input: points the engine computed (decimals), titles and labels already
translated. Output: ``<svg>`` text. Coordinates are computed in decimal
arithmetic and written with two decimals, so the same points always give
the same bytes. Every chart has a ``<title>`` and ``<desc>`` (its alt text)
and is labelled for screen readers.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Sequence
from decimal import Decimal
from html import escape

import attrs

_CTX = decimal.Context(prec=34, rounding=decimal.ROUND_HALF_EVEN, Emin=-999999, Emax=999999)
_CENT = Decimal("0.01")

WIDTH = Decimal(640)
PLOT_HEIGHT = Decimal(220)
LEFT, RIGHT, BOTTOM = Decimal(64), Decimal(16), Decimal(44)
FONTS = (
    "system-ui, -apple-system, &quot;Segoe UI&quot;, &quot;Noto Sans&quot;, &quot;Noto Sans CJK SC&quot;, sans-serif"
)

Point = tuple[Decimal, Decimal]


def c(v: Decimal) -> str:
    """A coordinate with two decimals: ``12.5`` → ``12.50``."""
    return str(v.quantize(_CENT, rounding=decimal.ROUND_HALF_EVEN, context=_CTX))


def _esc(s: str) -> str:
    return escape(s, quote=True)


@attrs.frozen
class Axis:
    """A data range mapped onto a pixel range, linear or logarithmic (base 10)."""

    lo: Decimal
    hi: Decimal
    px0: Decimal
    px1: Decimal
    log: bool = False

    def _t(self, v: Decimal) -> Decimal:
        with decimal.localcontext(_CTX):
            if self.log:
                return v.log10() if v > 0 else self.lo.log10()
            return v

    def pos(self, v: Decimal) -> Decimal:
        with decimal.localcontext(_CTX):
            lo, hi = self._t(self.lo), self._t(self.hi)
            if hi == lo:
                return self.px0
            return self.px0 + (self._t(v) - lo) * (self.px1 - self.px0) / (hi - lo)

    def ticks(self) -> list[Decimal]:
        with decimal.localcontext(_CTX):
            if self.log:
                k = self.lo.log10().to_integral_value(decimal.ROUND_CEILING)
                top = self.hi.log10().to_integral_value(decimal.ROUND_FLOOR)
                out = []
                while k <= top:
                    out.append(Decimal(10) ** k)
                    k += 1
                return out
            step = nice_step((self.hi - self.lo) / 5)
            first = (self.lo / step).to_integral_value(decimal.ROUND_CEILING) * step
            out = []
            v = first
            while v <= self.hi:
                out.append(v)
                v += step
            return out


def nice_step(raw: Decimal) -> Decimal:
    """The smallest of 1, 2, 5 × 10^k at least ``raw``."""
    if raw <= 0:
        return Decimal(1)
    with decimal.localcontext(_CTX):
        mag = Decimal(10) ** raw.log10().to_integral_value(decimal.ROUND_FLOOR)
        for m in (1, 2, 5, 10):
            if mag * m >= raw:
                return mag * m
    return mag * 10


def nice_ceiling(v: Decimal) -> Decimal:
    """A round number at least ``v`` for the top of an axis."""
    if v <= 0:
        return Decimal(1)
    step = nice_step(v / 5)
    with decimal.localcontext(_CTX):
        return (v / step).to_integral_value(decimal.ROUND_CEILING) * step


@attrs.frozen
class Series:
    label: str
    points: tuple[Point, ...]
    css: str  # s1, s2, ref: the colour and dash of the line
    markers: tuple[Point, ...] = ()


@attrs.frozen
class Marker:
    """A vertical line at ``x`` with a short label (a solved value, the current value)."""

    x: Decimal
    label: str
    css: str = "mark"


def line_chart(
    *,
    chart_id: str,
    title: str,
    desc: str,
    x_label: str,
    y_label: str,
    series: Sequence[Series],
    x_axis: tuple[Decimal, Decimal, bool],
    y_axis: tuple[Decimal, Decimal, bool],
    x_tick: Callable[[Decimal], str],
    y_tick: Callable[[Decimal], str],
    edges: Sequence[Decimal] = (),
    markers: Sequence[Marker] = (),
) -> str:
    """A line chart; ``edges`` are drawn as faint vertical lines (the band edges).

    The legend stands under the title, one series a line, so long labels never overlap.
    """
    top = Decimal(34 + 16 * len(series))
    height = top + PLOT_HEIGHT + BOTTOM
    bottom_px = top + PLOT_HEIGHT
    x = Axis(x_axis[0], x_axis[1], LEFT, WIDTH - RIGHT, x_axis[2])
    y = Axis(y_axis[0], y_axis[1], bottom_px, top, y_axis[2])
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
        f'font-family="{FONTS}" font-size="12">',
        f'<title id="{chart_id}-t">{_esc(title)}</title>',
        f'<desc id="{chart_id}-d">{_esc(desc)}</desc>',
        _STYLE,
        f'<rect class="bg" x="0" y="0" width="{WIDTH}" height="{height}"/>',
        f'<text class="ttl" x="4" y="18">{_esc(title)}</text>',
    ]
    for k, s in enumerate(series):
        ly = Decimal(36 + 16 * k)
        out.append(f'<path class="{s.css}" d="M{c(LEFT)} {c(ly - 4)}h24"/>')
        out.append(f'<text class="legend" x="{c(LEFT + 30)}" y="{c(ly)}">{_esc(s.label)}</text>')
    for t in x.ticks():
        px = c(x.pos(t))
        out.append(f'<line class="grid" x1="{px}" y1="{c(top)}" x2="{px}" y2="{c(bottom_px)}"/>')
        out.append(f'<text class="tick" x="{px}" y="{c(bottom_px + 16)}" text-anchor="middle">{_esc(x_tick(t))}</text>')
    for t in y.ticks():
        py = y.pos(t)
        out.append(f'<line class="grid" x1="{c(LEFT)}" y1="{c(py)}" x2="{c(WIDTH - RIGHT)}" y2="{c(py)}"/>')
        out.append(f'<text class="tick" x="{c(LEFT - 6)}" y="{c(py + 4)}" text-anchor="end">{_esc(y_tick(t))}</text>')
    for e in edges:
        if x.lo <= e <= x.hi:
            px = c(x.pos(e))
            out.append(f'<line class="edge" x1="{px}" y1="{c(top)}" x2="{px}" y2="{c(bottom_px)}"/>')
    out.append(f'<path class="axis" d="M{c(LEFT)} {c(top)}V{c(bottom_px)}H{c(WIDTH - RIGHT)}"/>')
    for s in series:
        pts = [(x.pos(px), y.pos(py)) for px, py in s.points if x.lo <= px <= x.hi]
        if not pts:
            continue
        d = "M" + " L".join(f"{c(a)} {c(b)}" for a, b in pts)
        out.append(f'<path class="{s.css}" d="{d}"/>')
        for mx, my in s.markers:
            if x.lo <= mx <= x.hi:
                out.append(f'<circle class="dot {s.css}" cx="{c(x.pos(mx))}" cy="{c(y.pos(my))}" r="3"/>')
    for m in markers:
        px = c(x.pos(m.x))
        out.append(f'<line class="{m.css}" x1="{px}" y1="{c(top)}" x2="{px}" y2="{c(bottom_px)}"/>')
        anchor = "end" if x.pos(m.x) > (LEFT + WIDTH) / 2 else "start"
        shift = Decimal(-4) if anchor == "end" else Decimal(4)
        out.append(
            f'<text class="mlabel" x="{c(x.pos(m.x) + shift)}" y="{c(top + 12)}" text-anchor="{anchor}">'
            f"{_esc(m.label)}</text>"
        )
    out.append(
        f'<text class="alabel" x="{c((LEFT + WIDTH - RIGHT) / 2)}" y="{c(height - 8)}" text-anchor="middle">'
        f"{_esc(x_label)}</text>"
    )
    out.append(
        f'<text class="alabel" transform="translate(14 {c((top + bottom_px) / 2)}) rotate(-90)" '
        f'text-anchor="middle">{_esc(y_label)}</text>'
    )
    out.append("</svg>")
    return "\n".join(out)


_STYLE = """<style>
.bg{fill:#fff}
.ttl{font-size:14px;font-weight:600;fill:#1a1a1a}
.grid{stroke:#e6e6e6;stroke-width:1}
.edge{stroke:#b8c4d6;stroke-width:1;stroke-dasharray:3 3}
.axis{fill:none;stroke:#555;stroke-width:1}
.tick,.legend,.mlabel{fill:#333}
.alabel{fill:#333;font-weight:600}
.s1{fill:none;stroke:#1f5fbf;stroke-width:2}
.s2{fill:none;stroke:#c2410c;stroke-width:2}
.ref{fill:none;stroke:#888;stroke-width:1.5;stroke-dasharray:6 4}
.dot.s1{fill:#1f5fbf;stroke:none}
.dot.s2{fill:#c2410c;stroke:none}
.dot.ref{fill:#888;stroke:none}
.mark{stroke:#b3261e;stroke-width:1.5}
.now{stroke:#555;stroke-width:1.5;stroke-dasharray:2 3}
</style>"""

# ----------------------------------------------------------------- ladder

#: Fills and borders from the most severe level (red) to the safest (green).
FILLS = ("#f9d4d2", "#fbdcc8", "#fde6bd", "#fbefb8", "#eaf1bd", "#d6edc6", "#cbe9d4")
STROKES = ("#b3261e", "#b4500f", "#a66a00", "#8a7400", "#667d12", "#2f7d32", "#1b6e43")


def severity(k: int, n: int) -> int:
    """The colour index of rung ``k`` of ``n`` (0 = most severe) on the seven-colour ramp."""
    if n <= 1:
        return len(FILLS) - 1
    return (k * (len(FILLS) - 1) + (n - 1) // 2) // (n - 1)


@attrs.frozen
class Band:
    title: str
    lines: tuple[str, ...]  # condition and actions, already wrapped


def wrap(text: str, width: int = 84) -> list[str]:
    """Break ``text`` into lines of about ``width`` narrow characters (CJK count twice)."""
    out: list[str] = []
    line = ""
    for word in _words(text):
        candidate = line + word
        if line and _units(candidate.rstrip()) > width:
            out.append(line.rstrip())
            line = word.lstrip()
        else:
            line = candidate
    if line.strip():
        out.append(line.rstrip())
    return out


def _units(s: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in s)


def _words(text: str) -> list[str]:
    """Pieces to wrap at: words with their trailing space, and single CJK characters."""
    out: list[str] = []
    cur = ""
    for ch in text:
        if ord(ch) > 0x2E80:
            if cur:
                out.append(cur)
                cur = ""
            out.append(ch)
        elif ch == " ":
            out.append(cur + " ")
            cur = ""
        else:
            cur += ch
    if cur:
        out.append(cur)
    return out


def ladder(*, chart_id: str, title: str, desc: str, bands: Sequence[Band]) -> str:
    """The levels of a ladder as coloured bands, the first (most severe) on top."""
    line_h = Decimal(17)
    pad = Decimal(10)
    y = Decimal(30)
    body: list[str] = []
    for k, band in enumerate(bands):
        i = severity(k, len(bands))
        h = pad * 2 + line_h * (1 + len(band.lines))
        body.append(
            f'<rect x="0.5" y="{c(y)}" width="{WIDTH - 1}" height="{c(h)}" rx="4" '
            f'fill="{FILLS[i]}" stroke="{STROKES[i]}"/>'
        )
        body.append(f'<rect x="0.5" y="{c(y)}" width="8" height="{c(h)}" fill="{STROKES[i]}"/>')
        ty = y + pad + 13
        body.append(f'<text class="lvl" x="20" y="{c(ty)}" fill="{STROKES[i]}">{_esc(band.title)}</text>')
        for line in band.lines:
            ty += line_h
            body.append(f'<text class="cond" x="20" y="{c(ty)}">{_esc(line)}</text>')
        y += h + 6
    height = y
    head = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart ladder" viewBox="0 0 {WIDTH} {c(height)}" '
        f'width="{WIDTH}" height="{c(height)}" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
        f'font-family="{FONTS}" font-size="13">',
        f'<title id="{chart_id}-t">{_esc(title)}</title>',
        f'<desc id="{chart_id}-d">{_esc(desc)}</desc>',
        "<style>.lvl{font-size:14px;font-weight:700}.cond{fill:#1a1a1a}.ttl{font-size:14px;font-weight:600;fill:#1a1a1a}</style>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{c(height)}" fill="#fff"/>',
        f'<text class="ttl" x="2" y="18">{_esc(title)}</text>',
    ]
    return "\n".join([*head, *body, "</svg>"])


@attrs.frozen
class Chart:
    """One drawing of a page: ``chart_id`` names it (and its file in Markdown output)."""

    chart_id: str
    title: str
    desc: str
    svg: str
