"""The public API: load a ruleset, evaluate accounts, explain values.

``load(path)`` checks the file (raising :class:`~rulelang.errors.RulesetError`
with every diagnostic) and compiles it; the returned :class:`Ruleset`
evaluates accounts with the compiled evaluator and explains them with the
reference interpreter, which is also the oracle the compiled code is tested
against.

The checker (and its parser, lark), the interpreter and ``explain`` are
imported when first used: a ruleset loaded from the cache and evaluated with
the compiled code never needs them.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from rulelang import ir as _ir
from rulelang import runtime
from rulelang.backends.codegen import Artifact, CompiledFunction
from rulelang.errors import Diagnostic, EvaluationError, InputError
from rulelang.inputs import Account, Collections, Scalars, Validator, parse_param
from rulelang.results import LevelResult, Result, Shape

if TYPE_CHECKING:
    from rulelang.backends.interpreter import Interpreter
    from rulelang.explain import Explanation

_compiled_result = Result.compiled
_getcontext = decimal.getcontext
_setcontext = decimal.setcontext
_CONTEXT = runtime.CONTEXT
#: what compiled code raises where the ruleset is not defined for an account (TypeError:
#: arithmetic on a solve that found no value); the interpreter then says where
_FAILURES = (ArithmeticError, TypeError, runtime.TierError, runtime.EmptyError)


class Ruleset:
    """A checked and compiled ruleset."""

    def __init__(self, checked: _ir.Ruleset, warnings: list[Diagnostic]) -> None:
        self._ir: _ir.Ruleset | None = checked
        self._rest: Callable[[], _ir.Ruleset] | None = None
        self._artifact: Artifact | None = None
        self._setup(checked, warnings)

    @classmethod
    def restored(
        cls,
        summary: _ir.Ruleset,
        warnings: list[Diagnostic],
        full: Callable[[], _ir.Ruleset],
        artifact: Artifact | None,
    ) -> Ruleset:
        """A ruleset as a cache keeps it (see :mod:`rulelang.cache`).

        ``summary`` is its IR without what evaluating needs not (tables, examples),
        ``artifact`` its compiled function as data (None: compile again), and
        ``full()`` reads the whole IR, when something first asks for :attr:`ir`.
        """
        self = cls.__new__(cls)
        self._ir = None
        self._rest = full
        self._artifact = artifact
        self._setup(summary, warnings)
        return self

    def _setup(self, summary: _ir.Ruleset, warnings: list[Diagnostic]) -> None:
        self._summary = summary
        self.warnings = tuple(warnings)
        self.validator = Validator(summary)
        self._interpreter: Interpreter | None = None
        self._compiled: CompiledFunction | None = None
        self._default_params = {p.name: p.value for p in summary.params}
        self._param_order = tuple(p.name for p in summary.params)
        self._default_ptuple = tuple(self._default_params[n] for n in self._param_order)
        record_defs = tuple((d.collection, d.name) for d in summary.definitions if d.collection is not None)
        self._shape: Shape = (
            tuple(d.name for d in summary.definitions if d.collection is None),
            # per collection: the positions of its per-record definitions in the compiled output, and their names
            tuple(
                (
                    c.name,
                    tuple(k for k, (coll, _) in enumerate(record_defs) if coll == c.name),
                    tuple(name for coll, name in record_defs if coll == c.name),
                )
                for c in summary.inputs
                if c.fields is not None
            ),
            # per ladder, one LevelResult per rung, made once: results share them
            tuple(
                (lad.name, tuple(LevelResult(lad.name, r.name, r.actions) for r in lad.rungs))
                for lad in summary.ladders
            ),
        )
        # the hot path's callables, bound on first use
        self._read: Callable[[object], tuple[Scalars, Collections] | None] | None = None
        self._generated: Callable[[Any, Any, Any], Any] | None = None

    @property
    def ir(self) -> _ir.Ruleset:
        """The checked ruleset (from a cache: read in full on first use)."""
        if self._ir is None:
            assert self._rest is not None
            self._ir = self._rest()
        return self._ir

    @property
    def name(self) -> str:
        return self._summary.header.name

    @property
    def interpreter(self) -> Interpreter:
        if self._interpreter is None:
            from rulelang.backends.interpreter import Interpreter

            self._interpreter = Interpreter(self.ir)
        return self._interpreter

    @property
    def compiled(self) -> CompiledFunction:
        if self._compiled is None:
            if self._artifact is not None:
                self._compiled = CompiledFunction.restore(self.name, self._artifact)
            else:
                self._compiled = CompiledFunction(self.ir)
        return self._compiled

    # ------------------------------------------------------------ parameters
    def params(self, overrides: Mapping[str, Any] | None = None, profile: str | None = None) -> dict[str, _ir.Value]:
        """Every parameter's value: the file's, then the profile's, then ``overrides``."""
        values = dict(self._default_params)
        if profile is not None:
            prof = next((p for p in self._summary.profiles if p.name == profile), None)
            if prof is None:
                names = ", ".join(p.name for p in self._summary.profiles) or "none"
                raise InputError([("profile", f"unknown profile `{profile}` (this ruleset has: {names})")], "params")
            values.update(prof.values)
        for name, value in (overrides or {}).items():
            values[name] = parse_param(self._summary, name, value)
        return values

    # ------------------------------------------------------------ evaluation
    def validate(self, data: Mapping[str, Any], record: str | None = None) -> Account:
        return self.validator.validate(data, record)

    def evaluate(
        self,
        data: Mapping[str, Any],
        params: Mapping[str, Any] | None = None,
        profile: str | None = None,
        record: str | None = None,
    ) -> Result:
        """Evaluate one account with the compiled evaluator."""
        # the generated reader takes a plainly valid account; anything else goes to the
        # validator, which accepts what the reader did not try and names every problem
        got = (self._read or self._bind())(data)
        if got is None:
            account = self.validator.validate_all(data, record)
            got = account.scalars, account.collections
        if params is None and profile is None:
            return self._run(got[0], got[1], self._default_ptuple, self._default_params)
        values = self.params(params, profile)
        return self._run(got[0], got[1], tuple(values[n] for n in self._param_order), values)

    def evaluate_account(self, account: Account, params: Mapping[str, _ir.Value]) -> Result:
        """Evaluate an already validated account with every parameter's value given."""
        return self._run(account.scalars, account.collections, tuple(params[n] for n in self._param_order), params)

    def _bind(self) -> Callable[[object], tuple[Scalars, Collections] | None]:
        self._generated = self.compiled.evaluate
        self._read = self.validator.fast
        return self._read

    def _run(
        self,
        scalars: Scalars,
        collections: Collections,
        ptuple: tuple[_ir.Value, ...],
        params: Mapping[str, _ir.Value],
    ) -> Result:
        generated = self._generated or self.compiled.evaluate
        # The evaluation's decimal context is set and restored by hand: ``localcontext`` copies
        # the context on every call, which cost a tenth of an evaluation. The compiled code
        # never changes the context, so every evaluation can share runtime.CONTEXT.
        saved = _getcontext()
        _setcontext(_CONTEXT)
        try:
            output = generated(scalars, collections, ptuple)
        except _FAILURES:
            # the compiled code only knows that something failed; the interpreter says where
            _setcontext(saved)
            self.interpreter.run(Account(scalars, collections), params)
            raise EvaluationError("internal error: the compiled and reference evaluators disagree", None) from None
        finally:
            _setcontext(saved)
        return _compiled_result(self._shape, output, collections)

    def evaluate_batch(
        self, table: Any, params: Mapping[str, Any] | None = None, profile: str | None = None, **options: Any
    ) -> Any:
        """Evaluate a table of accounts (Arrow, pandas or Polars); returns a table of the same kind.

        Needs the ``batch`` extra (NumPy, Arrow). Levels, tiers and every decision are those of
        the exact evaluator; amounts are floats within the bound in docs/performance.md.
        """
        from rulelang.columnar import evaluate_batch

        return evaluate_batch(self, table, params, profile, **options)

    def evaluate_reference(
        self, data: Mapping[str, Any], params: Mapping[str, Any] | None = None, profile: str | None = None
    ) -> Result:
        """Evaluate one account with the reference interpreter (the oracle)."""
        account = self.validator.validate(data)
        return self.interpreter.run(account, self.params(params, profile))[0]

    def explain(
        self,
        data: Mapping[str, Any],
        name: str | None = None,
        params: Mapping[str, Any] | None = None,
        profile: str | None = None,
    ) -> Explanation:
        """Explain how ``name`` (a definition or ladder; all when None) was computed."""
        from rulelang.explain import build_explanation

        account = self.validator.validate(data)
        values = self.params(params, profile)
        result, steps, ladder_steps = self.interpreter.run(account, values, trace=True)
        return build_explanation(self.ir, result, steps, ladder_steps, name, values, account)


def load(path: str, text: str | None = None, imports: Mapping[str, str] | None = None, cache: bool = True) -> Ruleset:
    """Check and compile the ruleset at ``path`` (or ``text``, named ``path``).

    ``imports`` redirects named imports: ``load("usdm.rules", imports={"brackets": "mine/*.rules"})``.
    A file (not ``text``) is checked through the persistent cache of :mod:`rulelang.cache`
    unless ``cache`` is False.
    """
    if text is None and cache:
        from rulelang.cache import load_ruleset

        return load_ruleset(path, imports)
    from rulelang.check import check_file

    return Ruleset(*check_file(path, text, imports))
