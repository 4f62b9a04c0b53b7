"""Measure expressions of a ruleset on accounts, and find the input that brings one to a value.

Input: an :class:`~rulelang.ir.Ruleset` and the expressions to measure (a
lookup's size, a level condition's ``left − right``). Output: their values on
an account, computed by the reference interpreter through only the
definitions they need; and :func:`reach`, which changes one input of an
account so that a measured value equals a target exactly.

How :func:`reach` searches: along one input at a time (the expression's own
inputs, in the order it reads them), secant steps from the account's value; a
step's result is tried as computed, the last one also rounded to 0..16 decimal places, and
taken only when the measured value is exactly the target. Sizes are linear
within a tier, so the first step lands; ratios converge in a few. When no input gets there
exactly from the account as it is (``quantity × price`` with a price that
does not divide the edge), the other inputs are set to 1 and it tries again.
"""

from __future__ import annotations

import copy
import decimal
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import attrs

from rulelang import ir, nodes, runtime
from rulelang.backends.interpreter import Interpreter
from rulelang.errors import EvaluationError, InputError
from rulelang.inputs import Validator
from rulelang.types import NumType

HIDDEN = "#m"  # hidden definitions: no rule file can write this name
PLACES = 16  # roundings tried for an exact hit
SHORT = 16  # significant digits of a value good enough to stop looking at other inputs
SECANT_STEPS = 24  # a step lands at once on a linear value; ratios (1 / balance) take a few
CLOSE = Decimal("1e-28")  # steps closer than this (relative) have converged


@attrs.frozen
class Driver:
    """An input a measured value depends on: a scalar, or a field of the first record of ``collection``."""

    name: str
    collection: str | None = None
    default: ir.Value | None = None  # what the account gets when it leaves the input out

    def get(self, data: Mapping[str, Any]) -> object:
        if self.collection is None:
            return data.get(self.name, self.default)
        records = data.get(self.collection) or []
        return records[0].get(self.name, self.default) if records and isinstance(records[0], Mapping) else None

    def set(self, data: Mapping[str, Any], value: Decimal) -> dict[str, Any]:
        out = dict(data)
        if self.collection is None:
            out[self.name] = value
        else:
            records = [dict(r) for r in out[self.collection]]
            records[0][self.name] = value
            out[self.collection] = records
        return out

    def __str__(self) -> str:
        return self.name if self.collection is None else f"{self.collection}[0].{self.name}"


class Meter:
    """Evaluates a few expressions (each in a scope: global, or per record of a collection)."""

    def __init__(self, rs: ir.Ruleset, exprs: list[tuple[str | None, ir.Expr]], params: Mapping[str, ir.Value]):
        self.rs = rs
        self.params = params
        self.defs = {d.qualname: d for d in rs.definitions}
        needed: set[str] = set()
        for _, e in exprs:
            self._need(e, needed)
        hidden = tuple(
            ir.Definition(name=f"{HIDDEN}{k}", collection=scope, expr=e, type=e.type, meta=nodes.Meta())
            for k, (scope, e) in enumerate(exprs)
        )
        self.scopes = [scope for scope, _ in exprs]
        program = attrs.evolve(
            rs,
            definitions=tuple(d for d in rs.definitions if d.qualname in needed) + hidden,
            ladders=(),
            examples=(),
        )
        self.interpreter = Interpreter(program)
        self.validator = Validator(rs)

    def _need(self, e: ir.Expr, needed: set[str]) -> None:
        for x in ir.walk(e):
            q = _qualname(x)
            if q is not None and q not in needed:
                needed.add(q)
                self._need(self.defs[q].expr, needed)

    def values(self, data: Mapping[str, Any]) -> list[ir.Value] | None:
        """Each expression's value on ``data`` (per-record ones on the first record); None when it fails."""
        try:
            account = self.validator.validate(data)
            result = self.interpreter.run(account, self.params)[0]
        except (InputError, EvaluationError):
            return None
        out: list[ir.Value] = []
        for k, scope in enumerate(self.scopes):
            if scope is None:
                out.append(result.values[f"{HIDDEN}{k}"])
            else:
                records = result.records[scope]
                if not records:
                    return None
                out.append(records[0][f"{HIDDEN}{k}"])
        return out

    def value(self, data: Mapping[str, Any], k: int) -> Decimal | None:
        got = self.values(data)
        v = got[k] if got is not None else None
        return v if isinstance(v, Decimal) else None

    def drivers(self, e: ir.Expr) -> list[Driver]:
        """The numeric inputs ``e`` reads (through definitions), in the order it reads them."""
        out: list[Driver] = []
        for x in self._reads(e, set()):
            if x not in out:
                out.append(x)
        return out

    def _reads(self, e: ir.Expr, seen: set[str]) -> Iterator[Driver]:
        if isinstance(e, ir.Solve):
            return  # what a solve varies is its own business
        if isinstance(e, ir.InputRef) and isinstance(e.type, NumType):
            decl = self.rs.input(e.name)
            yield Driver(e.name, None, decl.default if decl is not None and decl.has_default else None)
        elif isinstance(e, ir.FieldRef) and isinstance(e.type, NumType):
            coll = self.rs.input(e.collection)
            field = next((f for f in coll.fields or () if f.name == e.name), None) if coll is not None else None
            yield Driver(e.name, e.collection, field.default if field is not None and field.has_default else None)
        q = _qualname(e)
        if q is not None and q not in seen:
            seen.add(q)
            yield from self._reads(self.defs[q].expr, seen)
        for c in ir.children(e):
            yield from self._reads(c, seen)


def _qualname(e: ir.Expr) -> str | None:
    if isinstance(e, ir.DefRef):
        return e.name
    if isinstance(e, ir.RecDefRef):
        return f"{e.collection}.{e.name}"
    return None


def reach(
    meter: Meter, k: int, data: Mapping[str, Any], drivers: list[Driver], target: Decimal
) -> dict[str, Any] | None:
    """``data`` with one driver changed so that expression ``k`` is exactly ``target``; None if none does.

    Of the drivers that get there, the first whose value is short is taken, else the shortest.
    """
    with decimal.localcontext(runtime.CONTEXT):
        for start in (data, _ones(data, drivers)):
            best: tuple[int, Driver, Decimal] | None = None
            for d in drivers:
                x = _along(meter, k, start, d, target)
                if x is None:
                    continue
                digits = len(x.normalize().as_tuple().digits)
                if digits <= SHORT:
                    return d.set(start, x)
                if best is None or digits < best[0]:
                    best = (digits, d, x)
            if best is not None:
                return best[1].set(start, best[2])
    return None


def _ones(data: Mapping[str, Any], drivers: list[Driver]) -> dict[str, Any]:
    out = copy.deepcopy(dict(data))
    for d in drivers:
        if d.get(out) is not None:
            out = d.set(out, Decimal(1))
    return out


def _along(meter: Meter, k: int, data: Mapping[str, Any], d: Driver, target: Decimal) -> Decimal | None:
    """The value of ``d`` at which expression ``k`` is exactly ``target``, found by secant steps."""
    raw = d.get(data)
    try:
        x0 = Decimal(raw) if isinstance(raw, (Decimal, int, str)) and not isinstance(raw, bool) else None
    except decimal.InvalidOperation:
        x0 = None
    if x0 is None:
        return None

    def f(x: Decimal) -> Decimal | None:
        return meter.value(d.set(data, x), k)

    xa, fa = x0, f(x0)
    if fa is None:
        return None
    if fa == target:
        return x0
    xb = x0 * 2 if x0 else Decimal(1)
    fb = f(xb)
    x = None
    hit = False
    for _ in range(SECANT_STEPS):
        if fb is None or fb == fa:
            break
        x = xb - (fb - target) * (xb - xa) / (fb - fa)
        fx = f(x)
        hit = fx == target
        if hit or fx is None or abs(x - xb) <= abs(x) * CLOSE:
            break  # there, or converged: the root does not terminate, or is out of this input's reach
        xa, fa, xb, fb = xb, fb, x, fx
    if x is None:
        return None
    exponent = x.normalize().as_tuple().exponent
    if hit and isinstance(exponent, int) and -exponent <= PLACES:
        return x
    # a long value: 34 digits of 1/3 can give the target exactly too, but a shorter one reads better
    for candidate in _roundings(x):
        if f(candidate) == target:
            return candidate
    return x if hit else None


def _roundings(x: Decimal) -> Iterator[Decimal]:
    seen = set()
    for places in range(PLACES + 1):
        try:
            r = x.quantize(Decimal(1).scaleb(-places), rounding=decimal.ROUND_HALF_EVEN)
        except decimal.InvalidOperation:
            return
        if r not in seen:
            seen.add(r)
            yield r
