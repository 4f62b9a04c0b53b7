"""Solved quantities: the value of an input at which a condition starts or stops holding.

Input: an :class:`~rulelang.ir.Solve` (say: vary a position's ``mark_price``
until ``liquidated``) and a way to evaluate the ruleset with that value
changed. Output: the exact boundary value, rounded to the tick when one is
given, or a :class:`NoSolution` saying why there is none.

How it searches, the same way for both backends (so the compiled evaluator
and the reference interpreter agree to the last digit):

1. From the current value x0, step geometrically down (x0/2, x0/4, ...) and up
   (2·x0, 4·x0, ...) until the condition changes, giving a bracket on each side.
2. Bisect each bracket until it is narrow (12 significant digits).
3. Refine exactly: find the comparison inside the condition that flips across
   the bracket (``margin_balance <= maintenance_margin``), and solve
   ``left − right = 0`` on it by regula falsi (Illinois). Within one tier both
   sides are linear or a ratio of linear functions of the value, so this
   converges to the 34-digit root in a few steps. A condition with no such
   comparison (a tier number changing, a text) is bisected to the end.
4. Take the boundary nearest x0; round it to the tick (nearest, ties to even).

The search looks at values from x0·2⁻⁶⁰ to x0·2⁶⁰, and stops early in a
direction where the ruleset cannot be evaluated (a size beyond a table's last
band). The condition is assumed to change at most once between two probes one
doubling apart.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

import attrs

from rulelang import ir, nodes
from rulelang.errors import EvaluationError
from rulelang.runtime import EmptyError, TierError
from rulelang.types import BOOL, NumType
from rulelang.values import NoSolution

STEPS = 60  # doublings searched on each side of the current value
NARROW = Decimal("1e-12")  # bisect until the bracket is this narrow, relative to its ends
EXACT = Decimal("1e-30")  # refine until the bracket is this narrow
MAX_REFINE = 200


Record = tuple[ir.Value, ...]


@attrs.frozen
class Atom:
    """A comparison inside a solve's condition: its difference is a hidden definition of the probe."""

    qualname: str
    compare: ir.Compare


@attrs.frozen
class Probe:
    """What to evaluate while solving: a smaller ruleset holding the condition and its atoms."""

    program: ir.Ruleset
    until: str  # qualified name of the hidden definition holding the condition
    atoms: tuple[Atom, ...]
    collection: str | None
    vary: str
    # where the varied value sits in a validated account: (collection, field) or (0, scalar input)
    position: tuple[int, int]
    until_text: str  # the condition as written

    def what(self, record: int | None) -> str:
        """The varied value, for messages: ``mark_price of positions[1]``."""
        return f"{self.vary} of {self.collection}[{record}]" if self.collection is not None else self.vary

    def start(
        self, scalars: Sequence[ir.Value], collections: Sequence[Sequence[Record]], record: int | None
    ) -> Decimal:
        """The varied value's current value in the account."""
        c, f = self.position
        value = collections[c][record][f] if record is not None else scalars[f]
        assert isinstance(value, Decimal)
        return value


HIDDEN = "#"  # hidden definitions carry this in their names, which no rule file can write


def probe_program(rs: ir.Ruleset, solve: ir.Solve) -> Probe:
    """The definitions the condition of ``solve`` needs, plus hidden ones for it and its atoms."""
    defs = {d.qualname: d for d in rs.definitions}
    needed: set[str] = set()

    def need(e: ir.Expr) -> None:
        for x in ir.walk(e):
            q = (
                x.name
                if isinstance(x, ir.DefRef)
                else f"{x.collection}.{x.name}"
                if isinstance(x, ir.RecDefRef)
                else None
            )
            if q is not None and q not in needed:
                needed.add(q)
                need(defs[q].expr)

    need(solve.until)
    hidden: list[ir.Definition] = [
        ir.Definition(
            name=f"{HIDDEN}until", collection=solve.collection, expr=solve.until, type=BOOL, meta=nodes.Meta()
        )
    ]
    atoms: list[Atom] = []
    for k, (compare, scope) in enumerate(_atoms(solve.until, solve.collection, defs)):
        left, right = compare.left.type, compare.right.type
        t = left if isinstance(left, NumType) and left.dim is not None else right
        diff = ir.Arith(op="-", left=compare.left, right=compare.right, type=t, span=compare.span)
        name = f"{HIDDEN}g{k}"
        hidden.append(ir.Definition(name=name, collection=scope, expr=diff, type=t, meta=nodes.Meta()))
        atoms.append(Atom(qualname=f"{scope}.{name}" if scope else name, compare=compare))
    program = attrs.evolve(
        rs,
        definitions=tuple(d for d in rs.definitions if d.qualname in needed) + tuple(hidden),
        ladders=(),
        examples=(),
    )
    until = f"{solve.collection}.{HIDDEN}until" if solve.collection else f"{HIDDEN}until"
    if solve.collection is not None:
        colls = [i for i in rs.inputs if i.fields is not None]
        c = next(n for n, i in enumerate(colls) if i.name == solve.collection)
        position = (c, [f.name for f in colls[c].fields or ()].index(solve.vary))
    else:
        position = (0, [i.name for i in rs.inputs if i.fields is None].index(solve.vary))
    return Probe(
        program=program,
        until=until,
        atoms=tuple(atoms),
        collection=solve.collection,
        vary=solve.vary,
        position=position,
        until_text=solve.until.span.text if solve.until.span is not None else "the condition",
    )


def _atoms(e: ir.Expr, scope: str | None, defs: dict[str, ir.Definition]) -> list[tuple[ir.Compare, str | None]]:
    """The numeric comparisons whose outcome decides ``e`` (through and/or/not/if and bool definitions)."""
    match e:
        case ir.Compare() if e.op in ("<", "<=", ">", ">=") and isinstance(e.left.type, NumType):
            return [(e, scope)]
        case ir.Logic():
            return _atoms(e.left, scope, defs) + _atoms(e.right, scope, defs)
        case ir.Not():
            return _atoms(e.operand, scope, defs)
        case ir.Cond():
            return _atoms(e.cond, scope, defs) + _atoms(e.then, scope, defs) + _atoms(e.otherwise, scope, defs)
        case ir.DefRef():
            return _atoms(defs[e.name].expr, None, defs)
        case ir.RecDefRef() if e.collection == scope:
            return _atoms(defs[f"{e.collection}.{e.name}"].expr, scope, defs)
    return []


# ----------------------------------------------------------------- the search

#: What a probe may raise where the ruleset is not defined (a size beyond a table's last band,
#: a division by zero): from the interpreter, or from compiled code before it defers to it.
PROBE_ERRORS = (EvaluationError, ArithmeticError, TierError, EmptyError, TypeError)

#: One evaluation at a value: whether the condition holds, and each atom's difference.
Sample = tuple[bool, tuple[object, ...]]


@attrs.frozen
class Outcome:
    """A solve's result and how it was found (for ``explain``)."""

    value: Decimal | NoSolution
    start: Decimal
    held_at_start: bool
    exact: Decimal | None  # the boundary before rounding to the tick
    atom: ir.Compare | None  # the comparison solved exactly, if any
    probes: int


def solve(
    at: Callable[[Decimal], Sample],
    x0: Decimal,
    tick: Decimal | None,
    atoms: Sequence[Atom],
    what: str,
    until: str,
) -> Outcome:
    """Find the boundary of the condition nearest ``x0`` (see the module docstring)."""
    count = 0

    def sample(x: Decimal) -> Sample:
        nonlocal count
        count += 1
        return at(x)

    if not x0 > 0:
        return Outcome(NoSolution(f"{what} is {x0}; a solve searches positive values"), x0, False, None, None, 0)
    held = sample(x0)[0]
    best: tuple[Decimal, ir.Compare | None] | None = None
    two = Decimal(2)
    reached = [x0, x0]  # the lowest and highest values evaluated
    for down in (True, False):
        prev = x0
        bracket = None
        for k in range(1, STEPS + 1):
            x = x0 / two**k if down else x0 * two**k
            try:
                flipped = sample(x)[0] != held
            except PROBE_ERRORS:
                break  # the ruleset is not defined this far (beyond a table's last band): search no further
            reached[0 if down else 1] = x
            if flipped:
                bracket = (x, prev) if down else (prev, x)
                break
            prev = x
        if bracket is None:
            continue
        root, k_atom = _boundary(sample, bracket)
        atom = atoms[k_atom].compare if k_atom is not None else None
        if best is None or abs(root - x0) < abs(best[0] - x0):
            best = (root, atom)
    if best is None:
        lo, hi = reached
        which = "every" if held else "no"
        reason = f"`{until}` holds for {which} {what} from {_short(lo)} to {_short(hi)}"
        return Outcome(NoSolution(reason), x0, held, None, None, count)
    root, atom = best
    value = root
    if tick is not None and tick != 0:
        value = (root / tick).to_integral_value(decimal.ROUND_HALF_EVEN) * abs(tick)
    return Outcome(value, x0, held, root, atom, count)


def _boundary(sample: Callable[[Decimal], Sample], bracket: tuple[Decimal, Decimal]) -> tuple[Decimal, int | None]:
    """Narrow ``bracket`` (the condition differs at its ends) to the exact boundary.

    Returns the boundary and the index of the atom solved exactly (None: bisected).
    """
    a, b = bracket
    sa, sb = sample(a), sample(b)
    two = Decimal(2)

    def bisect_to(width: Decimal) -> None:
        nonlocal a, b, sa, sb
        while b - a > width * b:
            m = (a + b) / two
            sm = sample(m)
            if sm[0] == sa[0]:
                a, sa = m, sm
            else:
                b, sb = m, sm

    bisect_to(NARROW)
    k = _flipping_atom(sa, sb)
    if k is None:
        bisect_to(EXACT)
        return (b if sb[0] != sa[0] else a), None
    return _regula_falsi(sample, a, b, sa[1][k], sb[1][k], k), k


def _flipping_atom(sa: Sample, sb: Sample) -> int | None:
    """The first atom whose difference changes sign strictly across the bracket.

    A difference that is zero at an end (``tier(...) > 2`` is 0 on all of tier 2)
    may be a step, not a crossing: such conditions are bisected instead.
    """
    for k, (ga, gb) in enumerate(zip(sa[1], sb[1], strict=True)):
        if isinstance(ga, Decimal) and isinstance(gb, Decimal) and ga and gb and ga.is_signed() != gb.is_signed():
            return k
    return None


def _regula_falsi(
    sample: Callable[[Decimal], Sample], a: Decimal, b: Decimal, ga: object, gb: object, k: int
) -> Decimal:
    """Solve atom ``k``'s difference = 0 in [a, b] (Illinois variant: the root stays bracketed)."""
    assert isinstance(ga, Decimal) and isinstance(gb, Decimal)
    if not ga:
        return a
    if not gb:
        return b
    wa, wb = ga, gb  # the secant's weights: Illinois halves the one of a side that keeps its end
    x = b
    for _ in range(MAX_REFINE):
        x = b - wb * (b - a) / (wb - wa)
        if not a < x < b:
            x = (a + b) / 2
        gx = sample(x)[1][k]
        if not isinstance(gx, Decimal) or not gx:
            return x
        if gx.is_signed() == gb.is_signed():
            b, gb, wb = x, gx, gx
            wa = wa / 2
        else:
            a, ga, wa = x, gx, gx
            wb = wb / 2
        if b - a <= EXACT * b:
            break
    # the root lies in [a, b], 30 digits wide: the secant through the true values places it
    return b - gb * (b - a) / (gb - ga)


def _short(d: Decimal) -> str:
    return f"{d:.6g}"


def set_value(
    scalars: tuple[ir.Value, ...],
    collections: tuple[tuple[Record, ...], ...],
    probe: Probe,
    i: int | None,
    x: Decimal,
) -> tuple[tuple[ir.Value, ...], tuple[tuple[Record, ...], ...]]:
    """The account with the probe's varied value set to ``x`` (in record ``i`` for a per-record solve)."""
    c, f = probe.position
    if i is None:
        new_scalars = list(scalars)
        new_scalars[f] = x
        return tuple(new_scalars), collections
    records = list(collections[c])
    record = list(records[i])
    record[f] = x
    records[i] = tuple(record)
    new = list(collections)
    new[c] = tuple(records)
    return scalars, tuple(new)


def read_sample(
    probe: Probe,
    values: Mapping[str, object],
    records: Mapping[str, Sequence[Mapping[str, object]]],
    record: int | None,
) -> Sample:
    """Read the condition and the atoms' differences from a probe's result."""

    def read(qualname: str) -> object:
        if "." not in qualname:
            return values[qualname]
        coll, name = qualname.split(".", 1)
        assert record is not None
        return records[coll][record][name]

    return bool(read(probe.until)), tuple(read(a.qualname) for a in probe.atoms)
