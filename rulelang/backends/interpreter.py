"""The reference interpreter: the oracle every other backend must agree with.

Input: an :class:`~rulelang.ir.Ruleset` and a validated
:class:`~rulelang.inputs.Account`. Output: a :class:`~rulelang.results.Result`
and, when asked, a trace of every step (what ``explain`` shows). It walks the
IR directly, computes ``progressive`` slice by slice, and favours plainness
over speed: it is not on the hot path.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Protocol

import attrs

from rulelang import ir, runtime, solver
from rulelang.errors import EvaluationError
from rulelang.inputs import Account
from rulelang.results import LevelResult, Result
from rulelang.values import NoSolution, known

# ----------------------------------------------------------------- trace


@attrs.frozen
class Ref:
    """A value a formula read: an input, a parameter, a field or another definition."""

    kind: str  # input, param, field, definition
    name: str
    value: ir.Value


@attrs.frozen
class LookupNote:
    mode: str
    table: str
    column: str | None
    group: str | None
    size: Decimal
    tier: int
    lower: Decimal
    upper: Decimal | None
    rate: ir.Value | None
    cum: Decimal | None
    slices: tuple[tuple[int, Decimal, Decimal, Decimal], ...]
    result: ir.Value


@attrs.frozen
class RoundNote:
    before: Decimal
    after: Decimal
    places: int
    mode: str


@attrs.frozen
class AggregateNote:
    func: str
    collection: str
    counted: int
    total: int
    result: ir.Value


@attrs.frozen
class SolveNote:
    vary: str
    until: str
    tick: Decimal | None
    outcome: solver.Outcome


Note = LookupNote | RoundNote | AggregateNote | SolveNote


@attrs.frozen
class Step:
    """How one value was computed: the formula, what it read, the tiers and roundings."""

    name: str
    record: int | None
    value: ir.Value
    definition: ir.Definition
    refs: tuple[Ref, ...]
    notes: tuple[Note, ...]


@attrs.frozen
class LadderStep:
    ladder: ir.Ladder
    level: str
    checked: tuple[tuple[str, bool], ...]  # each rung tried, and whether it held


class Observer(Protocol):
    """Told what one evaluation exercised (rule coverage); ``None`` on the default path.

    Solves evaluate their probe programs without an observer: the values a
    search tries are not cases.
    """

    def lookup(self, e: ir.Lookup, key: str, size: Decimal, index: int) -> None: ...
    def branch(self, e: ir.Cond, taken: bool) -> None: ...
    def rung(self, ladder: ir.Ladder, index: int) -> None: ...


# ----------------------------------------------------------------- interpreter


class _Frame:
    """Per-definition trace collector."""

    def __init__(self) -> None:
        self.refs: dict[tuple[str, str], Ref] = {}
        self.notes: list[Note] = []


class Interpreter:
    """Evaluate a ruleset by walking its IR."""

    def __init__(self, ruleset: ir.Ruleset) -> None:
        self.ruleset = ruleset
        self.tables = {t.name: runtime.table_tiers(t) for t in ruleset.tables}
        self.decls = {t.name: t for t in ruleset.tables}
        self.scalar_index = {i.name: n for n, i in enumerate(x for x in ruleset.inputs if x.fields is None)}
        colls = [i for i in ruleset.inputs if i.fields is not None]
        self.coll_index = {c.name: n for n, c in enumerate(colls)}
        self.field_index = {c.name: {f.name: k for k, f in enumerate(c.fields or ())} for c in colls}
        self._probes: dict[int, tuple[solver.Probe, Interpreter]] = {}

    def probe(self, e: ir.Solve) -> tuple[solver.Probe, Interpreter]:
        """The probe program of a solve and an interpreter for it (made once)."""
        got = self._probes.get(id(e))
        if got is None:
            probe = solver.probe_program(self.ruleset, e)
            got = self._probes[id(e)] = (probe, Interpreter(probe.program))
        return got

    def run(
        self,
        account: Account,
        params: Mapping[str, ir.Value],
        trace: bool = False,
        observer: Observer | None = None,
    ) -> tuple[Result, list[Step], list[LadderStep]]:
        """Evaluate ``account`` with ``params`` (every parameter's value); tell ``observer`` what was exercised."""
        state = _State(self, account, params, trace)
        state.observer = observer
        with decimal.localcontext(runtime.CONTEXT):
            for d in self.ruleset.definitions:
                state.define(d)
            levels = {lad.name: state.ladder(lad) for lad in self.ruleset.ladders}
        records: dict[str, tuple[dict[str, ir.Value], ...]] = {}
        for coll, n in self.coll_index.items():
            count = len(account.collections[n])
            per = [q for q in state.rec_values if q[0] == coll]
            records[coll] = tuple({name: state.rec_values[(c, name)][i] for c, name in per} for i in range(count))
        result = Result(values=dict(state.values), records=records, levels=levels)
        return result, state.steps, state.ladder_steps


class _State:
    def __init__(self, interp: Interpreter, account: Account, params: Mapping[str, ir.Value], trace: bool) -> None:
        self.i = interp
        self.account = account
        self.params = params
        self.trace = trace
        self.observer: Observer | None = None
        self.values: dict[str, ir.Value] = {}
        self.rec_values: dict[tuple[str, str], list[ir.Value]] = {}
        self.current: dict[str, int] = {}
        self.frame: _Frame | None = None
        self.steps: list[Step] = []
        self.ladder_steps: list[LadderStep] = []
        self.definition: ir.Definition | None = None
        self.record: int | None = None  # the record a per-record definition is being computed for

    # ------------------------------------------------------------ definitions
    def define(self, d: ir.Definition) -> None:
        self.definition = d
        if d.collection is None:
            self.values[d.name] = self._traced(d, None)
            return
        records = self.account.collections[self.i.coll_index[d.collection]]
        out: list[ir.Value] = []
        self.rec_values[(d.collection, d.name)] = out
        for idx in range(len(records)):
            self.current[d.collection] = self.record = idx
            out.append(self._traced(d, idx))
        self.current.pop(d.collection, None)
        self.record = None

    def _traced(self, d: ir.Definition, record: int | None) -> ir.Value:
        if not self.trace:
            value: ir.Value = self.eval(d.expr)
            return value
        self.frame = _Frame()
        value = self.eval(d.expr)
        self.steps.append(
            Step(
                name=d.qualname,
                record=record,
                value=value,
                definition=d,
                refs=tuple(self.frame.refs.values()),
                notes=tuple(self.frame.notes),
            )
        )
        self.frame = None
        return value

    def ladder(self, lad: ir.Ladder) -> LevelResult:
        self.definition = None
        checked: list[tuple[str, bool]] = []
        chosen = lad.rungs[-1]
        for rung in lad.rungs:
            if rung.cond is None:
                chosen = rung
                break
            held = self.eval(rung.cond)
            checked.append((rung.name, bool(held)))
            if held:
                chosen = rung
                break
        if self.trace:
            self.ladder_steps.append(LadderStep(ladder=lad, level=chosen.name, checked=tuple(checked)))
        if self.observer is not None:
            self.observer.rung(lad, lad.rungs.index(chosen))
        return LevelResult(ladder=lad.name, level=chosen.name, actions=chosen.actions)

    # ------------------------------------------------------------ expressions
    def _ref(self, kind: str, name: str, value: ir.Value) -> ir.Value:
        if self.frame is not None:
            self.frame.refs.setdefault((kind, name), Ref(kind, name, value))
        return value

    def _fail(self, message: str, e: Any) -> EvaluationError:
        d = self.definition
        formula = d.qualname if d is not None else None
        if d is not None and d.collection is not None and self.record is not None:
            formula = f"{d.collection}[{self.record}].{d.name}"  # which record failed
        return EvaluationError(message, e.span, formula)

    def eval(self, e: ir.Expr) -> Any:
        match e:
            case ir.Const():
                return e.value
            case ir.InputRef():
                return self._ref("input", e.name, self.account.scalars[self.i.scalar_index[e.name]])
            case ir.ParamRef():
                return self._ref("param", e.name, self.params[e.name])
            case ir.DefRef():
                return self._ref("definition", e.name, self.values[e.name])
            case ir.FieldRef():
                rec = self.account.collections[self.i.coll_index[e.collection]][self.current[e.collection]]
                value = rec[self.i.field_index[e.collection][e.name]]
                return (
                    self._ref("field", e.name, value) if len(self.current) == 1 and self._own(e.collection) else value
                )
            case ir.RecDefRef():
                value = self.rec_values[(e.collection, e.name)][self.current[e.collection]]
                if self._own(e.collection):
                    return self._ref("definition", f"{e.collection}.{e.name}", value)
                return value
            case ir.Arith():
                a, b = self._known(e.left), self._known(e.right)
                try:
                    if e.op == "+":
                        return a + b
                    if e.op == "-":
                        return a - b
                    if e.op == "*":
                        return a * b
                    return a / b
                except (decimal.DivisionByZero, decimal.InvalidOperation):
                    if e.op == "/" and b == 0:
                        raise self._fail(
                            f"division by zero: `{e.right.span.text if e.right.span else 'divisor'}` is 0 "
                            "(guard it with `if ... then ... else ...`)",
                            e,
                        ) from None
                    raise self._fail(f"invalid arithmetic in `{e.span.text}`", e) from None
                except decimal.Overflow:
                    raise self._fail(f"the result of `{e.span.text}` is too large", e) from None
            case ir.Neg():
                return -self._known(e.operand)
            case ir.Compare():
                a, b = self._known(e.left), self._known(e.right)
                return _COMPARE[e.op](a, b)
            case ir.Logic():
                if e.op == "and":
                    return self.eval(e.left) and self.eval(e.right)
                return self.eval(e.left) or self.eval(e.right)
            case ir.Not():
                return not self.eval(e.operand)
            case ir.Cond():
                held = self.eval(e.cond)
                if self.observer is not None:
                    self.observer.branch(e, bool(held))
                return self.eval(e.then) if held else self.eval(e.otherwise)
            case ir.Func():
                if e.name == "known":
                    return known(self.eval(e.args[0]))
                args = [self._known(a) for a in e.args]
                if e.name == "abs":
                    return abs(args[0])
                return min(args) if e.name == "min" else max(args)
            case ir.Round():
                before = self._known(e.operand)
                try:
                    after = runtime.round_to(before, e.places, e.mode)
                except decimal.InvalidOperation:
                    raise self._fail(f"cannot round {before} to {e.places} places", e) from None
                if self.frame is not None:
                    self.frame.notes.append(RoundNote(before, after, e.places, e.mode))
                return after
            case ir.Aggregate():
                return self._aggregate(e)
            case ir.Lookup():
                return self._lookup(e)
            case ir.Solve():
                return self._solve(e)
        raise AssertionError(f"unknown IR node {e!r}")

    def _known(self, e: ir.Expr) -> Any:
        """Evaluate ``e`` where a number is needed: a solve that found no value is an error here."""
        value = self.eval(e)
        if type(value) is NoSolution:
            what = e.span.text if e.span is not None else "a solved value"
            raise self._fail(
                f"`{what}` has no value ({value.reason}); guard it with `if known({what}) then ... else ...`", e
            )
        return value

    def _solve(self, e: ir.Solve) -> Any:
        probe, interp = self.i.probe(e)
        tick = self._known(e.tick) if e.tick is not None else None
        i = self.current[e.collection] if e.collection is not None else None
        x0 = probe.start(self.account.scalars, self.account.collections, i)

        def at(x: Decimal) -> solver.Sample:
            scalars, colls = solver.set_value(self.account.scalars, self.account.collections, probe, i, x)
            try:
                result = interp.run(Account(scalars, colls), self.params)[0]
            except EvaluationError as err:
                raise EvaluationError(
                    f"while solving at {e.vary} = {x}: {err.message}", err.span, err.formula
                ) from None
            return solver.read_sample(probe, result.values, result.records, i)

        what = probe.what(i)
        outcome = solver.solve(at, x0, tick, probe.atoms, what, probe.until_text)
        if self.frame is not None:
            self.frame.notes.append(SolveNote(vary=what, until=probe.until_text, tick=tick, outcome=outcome))
        return outcome.value

    def _own(self, coll: str) -> bool:
        d = self.definition
        return d is not None and d.collection == coll

    def _aggregate(self, e: ir.Aggregate) -> Any:
        records = self.account.collections[self.i.coll_index[e.collection]]
        saved = self.current.get(e.collection)
        frame, self.frame = (
            self.frame,
            None,
        )  # per-record reads inside an aggregate are not steps of their own
        values: list[Any] = []
        try:
            for idx in range(len(records)):
                self.current[e.collection] = idx
                if e.where is not None and not self.eval(e.where):
                    continue
                values.append(self.eval(e.body) if e.body is not None else None)
        finally:
            if saved is None:
                self.current.pop(e.collection, None)
            else:
                self.current[e.collection] = saved
            self.frame = frame
        f = e.func
        if f == "sum":
            try:
                result: Any = sum(values, runtime.ZERO)
            except ArithmeticError:
                raise self._fail(f"the sum over `{e.collection}` is too large", e) from None
        elif f == "count":
            result = Decimal(len(values))
        elif f == "any":
            result = any(values)
        elif f == "all":
            result = all(values)
        elif values:
            result = min(values) if f == "min" else max(values)
        elif e.default is not None:
            result = self.eval(e.default)
        else:
            raise self._fail(f"`{f}` of no records: `{e.collection}` has none that qualify (add `default ...`)", e)
        if self.frame is not None:
            self.frame.notes.append(AggregateNote(f, e.collection, len(values), len(records), result))
        return result

    def _lookup(self, e: ir.Lookup) -> Any:
        size = self.eval(e.size)
        key = self.eval(e.group) if e.group is not None else ""
        try:
            tiers = runtime.group(self.i.tables[e.table], key)
            idx = tiers.index(size)
        except runtime.TierError as err:
            raise self._fail(f"table `{e.table}`: {err}", e) from None
        if self.observer is not None:
            self.observer.lookup(e, key, size, idx)
        col = e.column
        rate = tiers.values[col][idx] if col is not None else None
        cum = tiers.cums.get(col, ()) if col is not None else ()
        cum_v = cum[idx] if cum else None
        slices: tuple[tuple[int, Decimal, Decimal, Decimal], ...] = ()
        try:
            if e.mode == "progressive":
                assert col is not None
                slices = tuple(runtime.progressive_slices(tiers, col, size))
                result: Any = runtime.progressive_total(list(slices))
            elif e.mode == "bracket":
                assert isinstance(rate, Decimal) and cum_v is not None
                result = runtime.charge(size, rate, cum_v)
            elif e.mode == "step":
                result = size * rate
            elif e.mode == "lookup":
                result = rate
            elif e.mode == "cum":
                result = cum_v
            else:
                result = Decimal(idx + 1)
        except ArithmeticError:
            raise self._fail(f"table `{e.table}`: the result for size {size} is too large", e) from None
        if self.frame is not None:
            upper = tiers.uppers[idx]
            self.frame.notes.append(
                LookupNote(
                    mode=e.mode,
                    table=e.table,
                    column=col,
                    group=key or None,
                    size=size,
                    tier=idx + 1,
                    lower=tiers.lowers[idx],
                    upper=None if upper == runtime.INFINITY else upper,
                    rate=rate,
                    cum=cum_v,
                    slices=slices,
                    result=result,
                )
            )
        return result


_COMPARE = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}
