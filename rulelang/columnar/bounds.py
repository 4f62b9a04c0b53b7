"""Floating-point values that carry a bound on their distance from the exact value.

Input: float64 arrays (or scalars) with what is known of their error. Output:
the results of ``+ − × ÷``, ``abs``, ``min``, ``max`` and ``if`` with their
bounds, and the tests that say whether a comparison is decided.

The bound is the classic running error analysis of floating point (Higham,
*Accuracy and Stability of Numerical Algorithms*, ch. 3). Each value ``v``
approximates an exact value ``x`` with::

    |v − x| ≤ γ(k) · M,     γ(k) = k·u / (1 − k·u),   u = 2⁻⁵³

where ``k`` counts the roundings on the longest path from the inputs (a plain
number per value) and ``M`` is the value computed with every input, constant
and intermediate replaced by its absolute value (``|a| + |b|`` for ``a − b``,
``|a|·|b|`` for ``a·b``). Where that magnitude equals ``|v|`` (a product, a
sum of non-negative terms) ``M`` is not stored: ``m is None`` means ``M = |v|``.
A division is bounded directly (see :func:`div`) and then continues as
``k = 1``.

The exact evaluator itself rounds at 34 significant digits; its distance from
the real-number value obeys the same bound with u = 5·10⁻³⁴, which is far
below the slack of the decisions below. Every decision doubles the bound
(:data:`SLACK`): that covers the rounding of the bound's own computation (a
relative ``k·u``), the Decimal evaluator's rounding and the ``1/(1 − γ)``
between ``|v|`` and ``|x|``, each smaller than 10⁻¹² of the bound here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

U = 2.0**-53
#: decisions use this multiple of the bound (see the module docstring)
SLACK = 2.0

Arr = Any  # a float64 array or a Python float


def gamma(k: float) -> float:
    return k * U / (1.0 - k * U)


class Num:
    """A number per row: value ``v``, magnitude ``m`` (None: ``|v|``), roundings ``k``."""

    __slots__ = ("exact_zero", "k", "m", "nonneg", "v")

    def __init__(self, v: Arr, m: Arr | None, k: float, nonneg: bool, exact_zero: bool = False) -> None:
        self.v = v
        self.m = m
        self.k = k
        self.nonneg = nonneg
        self.exact_zero = exact_zero  # the constant 0: products with it are exactly 0

    def mag(self) -> Arr:
        """``M``, explicitly."""
        if self.m is not None:
            return self.m
        return self.v if self.nonneg else np.abs(self.v)

    def bound(self) -> Arr:
        """``γ(k)·M``: the largest distance of ``v`` from the exact value."""
        if self.k == 0:
            return 0.0
        return gamma(self.k) * self.mag()


def const(value: float, exact: bool) -> Num:
    return Num(value, None, 0.0 if exact else 1.0, value >= 0, exact_zero=exact and value == 0)


def add(a: Num, b: Num, subtract: bool = False) -> Num:
    if b.exact_zero:
        return a
    if a.exact_zero:
        return neg(b) if subtract else b
    v = a.v - b.v if subtract else a.v + b.v
    k = max(a.k, b.k) + 1.0
    if not subtract and a.nonneg and b.nonneg and a.m is None and b.m is None:
        return Num(v, None, k, True)
    return Num(v, a.mag() + b.mag(), k, not subtract and a.nonneg and b.nonneg)


def mul(a: Num, b: Num) -> Num:
    if a.exact_zero or b.exact_zero:
        return const(0.0, True)
    v = a.v * b.v
    k = a.k + b.k + (0.0 if _power_of_two(a) or _power_of_two(b) else 1.0)
    nonneg = a.nonneg and b.nonneg
    if a.m is None and b.m is None:
        return Num(v, None, k, nonneg)
    return Num(v, a.mag() * b.mag(), k, nonneg)


def _power_of_two(a: Num) -> bool:
    """An exact constant ±2ⁿ: multiplying by it does not round."""
    if a.k != 0 or not isinstance(a.v, float) or a.v == 0:
        return False
    mantissa, _ = np.frexp(a.v)
    return bool(abs(mantissa) == 0.5)


def certainly_nonzero(b: Num) -> Arr:
    """Rows where ``b`` is certainly not zero (its sign is then that of ``v``)."""
    return np.abs(b.v) > SLACK * b.bound()


def div(a: Num, b: Num) -> Num:
    """``a / b`` where ``b`` is certainly non-zero (rows where it is not must be flagged by the caller).

    With ``|va − xa| ≤ βa`` and ``|vb − xb| ≤ βb < |vb|``::

        |va/vb − xa/xb| ≤ (βa + |va/vb|·βb) / (|vb| − βb)

    and the division's own rounding adds ``u·|q|``.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        q = a.v / b.v
        nonneg = a.nonneg and b.nonneg
        if a.exact_zero:
            return const(0.0, True)
        if b.k == 0 and a.m is None and isinstance(b.v, float):
            return Num(q, None, a.k + 1.0, nonneg)  # division by an exact constant
        beta_a, beta_b = a.bound(), b.bound()
        absq = np.abs(q)
        err = (beta_a + absq * beta_b) / (np.abs(b.v) - beta_b) + U * absq
        return Num(q, err / gamma(1.0), 1.0, nonneg)


def neg(a: Num) -> Num:
    if a.exact_zero:
        return a
    return Num(-a.v, a.m, a.k, False)


def absolute(a: Num) -> Num:
    return Num(np.abs(a.v), a.m, a.k, True, a.exact_zero)


def extreme(args: list[Num], largest: bool) -> Num:
    """``min`` or ``max``: both are 1-Lipschitz in the largest of the arguments' errors."""
    f = np.maximum if largest else np.minimum
    v = args[0].v
    for a in args[1:]:
        v = f(v, a.v)
    k = max(a.k for a in args)
    nonneg = all(a.nonneg for a in args) if not largest else any(a.nonneg for a in args)
    if largest and all(a.nonneg and a.m is None for a in args):
        return Num(v, None, k, True)  # the largest of non-negative values is the largest magnitude
    m = args[0].mag()
    for a in args[1:]:
        m = np.maximum(m, a.mag())
    return Num(v, m, k, nonneg)


def choose(cond: Arr, a: Num, b: Num) -> Num:
    """``if cond then a else b``, row by row."""
    v = np.where(cond, a.v, b.v)
    k = max(a.k, b.k)
    nonneg = a.nonneg and b.nonneg
    if a.m is None and b.m is None:
        return Num(v, None, k, nonneg)
    return Num(v, np.where(cond, a.mag(), b.mag()), k, nonneg)


def decided(a: Num, b: Num) -> Arr:
    """Rows where the order of ``a`` and ``b`` (and whether they are equal) is that of the exact values.

    ``fl(va − vb)`` has the sign of ``va − vb``; when ``|va − vb|`` exceeds the
    summed bounds, ``xa − xb`` has that sign too. Two exact values (bound 0)
    are always decided. NaN (from an unguarded branch) is never decided.
    """
    if a.k == 0 and b.k == 0:
        return True
    bound = SLACK * (_bound_or_zero(a) + _bound_or_zero(b))
    with np.errstate(invalid="ignore", over="ignore"):
        d = np.abs(a.v - b.v)
        return (d > bound) | (bound == 0)


def _bound_or_zero(a: Num) -> Arr:
    return 0.0 if a.k == 0 or a.exact_zero else a.bound()
