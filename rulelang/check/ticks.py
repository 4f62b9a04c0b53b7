"""Read declared ``tick`` lines: the smallest step of a table's size or of a ladder's compared values.

Input: the :class:`~rulelang.nodes.Tick` lines of one table or ladder. Output:
the one tick line as a literal number above zero, every other problem
reported (a second line, a formula instead of a number, zero or below). The
unit is checked by the caller, which knows what the tick steps; ``is_multiple``
tells whether a value is a whole number of ticks, exactly.
"""

from __future__ import annotations

from decimal import Decimal

from rulelang import nodes
from rulelang.check.context import Context


def tick_literal(ctx: Context, ticks: tuple[nodes.Tick, ...], owner: str, example: str) -> nodes.Number | None:
    """The number of the first tick line of ``owner`` (``table `brackets```), or None.

    A second line is RL0202, a tick that is not a number written out RL0304,
    zero or a negative tick RL0415. ``example`` shows a good line in the hints.
    """
    if not ticks:
        return None
    first, *extra = ticks
    for tick in extra:
        ctx.error(
            "RL0202",
            f"{owner} has more than one `tick` line (the first is at line {first.span.line})",
            tick.span,
            hint="keep one `tick` line",
        )
    value = first.value
    if not isinstance(value, nodes.Number):
        ctx.error("RL0304", f"the tick of {owner} must be a number written out, such as `{example}`", value.span)
        return None
    if value.value <= 0:
        ctx.error(
            "RL0415",
            f"the tick of {owner} must be above zero, but it is {value.text}",
            value.span,
            hint="the tick is the smallest step the exchange distinguishes, e.g. `" + example + "`",
        )
        return None
    return value


def _integer(d: Decimal, exponent: int) -> int:
    """``d`` in units of ``10 ** exponent`` (an exponent at most ``d``'s own): exact."""
    sign, digits, exp = d.as_tuple()
    assert isinstance(exp, int)
    n: int = int("".join(map(str, digits)) or "0") * 10 ** (exp - exponent)
    return -n if sign else n


def is_multiple(value: Decimal, step: Decimal) -> bool:
    """Whether ``value`` is a whole number of ``step`` (``step`` above zero), computed exactly."""
    e1, e2 = value.as_tuple().exponent, step.as_tuple().exponent
    assert isinstance(e1, int) and isinstance(e2, int)
    exponent = min(e1, e2)
    return _integer(value, exponent) % _integer(step, exponent) == 0
