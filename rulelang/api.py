"""The public API: load a ruleset, evaluate accounts, explain values.

``load(path)`` checks the file (raising :class:`~rulelang.errors.RulesetError`
with every diagnostic) and compiles it; the returned :class:`Ruleset`
evaluates accounts with the compiled evaluator and explains them with the
reference interpreter, which is also the oracle the compiled code is tested
against.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from typing import Any

from rulelang import ir, runtime
from rulelang.backends.codegen import CompiledFunction
from rulelang.backends.interpreter import Interpreter
from rulelang.check import check_file
from rulelang.errors import Diagnostic, EvaluationError, InputError
from rulelang.explain import Explanation, build_explanation
from rulelang.inputs import Account, Validator, parse_param
from rulelang.results import LevelResult, RecordValues, Result


class Ruleset:
    """A checked and compiled ruleset."""

    def __init__(self, checked: ir.Ruleset, warnings: list[Diagnostic]) -> None:
        self.ir = checked
        self.warnings = tuple(warnings)
        self.validator = Validator(checked)
        self._interpreter: Interpreter | None = None
        self._compiled: CompiledFunction | None = None
        self._global_names = tuple(d.name for d in checked.definitions if d.collection is None)
        self._record_defs = tuple((d.collection, d.name) for d in checked.definitions if d.collection is not None)
        self._colls = tuple(i.name for i in checked.inputs if i.fields is not None)
        self._default_params = {p.name: p.value for p in checked.params}
        self._param_order = tuple(p.name for p in checked.params)
        self._ladders = checked.ladders
        # one LevelResult per rung, made once: results share them
        self._level_results = tuple(
            tuple(LevelResult(lad.name, r.name, r.actions) for r in lad.rungs) for lad in checked.ladders
        )
        self._ladder_names = tuple(lad.name for lad in checked.ladders)
        # per collection: the positions of its per-record definitions in the compiled output, and their names
        self._record_layout = tuple(
            (
                c,
                tuple(k for k, (coll, _) in enumerate(self._record_defs) if coll == c),
                tuple(name for coll, name in self._record_defs if coll == c),
            )
            for c in self._colls
        )
        self._default_ptuple: tuple[ir.Value, ...] | None = None

    @property
    def name(self) -> str:
        return self.ir.header.name

    @property
    def interpreter(self) -> Interpreter:
        if self._interpreter is None:
            self._interpreter = Interpreter(self.ir)
        return self._interpreter

    @property
    def compiled(self) -> CompiledFunction:
        if self._compiled is None:
            self._compiled = CompiledFunction(self.ir)
        return self._compiled

    # ------------------------------------------------------------ parameters
    def params(self, overrides: Mapping[str, Any] | None = None, profile: str | None = None) -> dict[str, ir.Value]:
        """Every parameter's value: the file's, then the profile's, then ``overrides``."""
        values = dict(self._default_params)
        if profile is not None:
            prof = next((p for p in self.ir.profiles if p.name == profile), None)
            if prof is None:
                names = ", ".join(p.name for p in self.ir.profiles) or "none"
                raise InputError([("profile", f"unknown profile `{profile}` (this ruleset has: {names})")], "params")
            values.update(prof.values)
        for name, value in (overrides or {}).items():
            values[name] = parse_param(self.ir, name, value)
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
        account = self.validator.validate(data, record)
        if params is None and profile is None:
            if self._default_ptuple is None:
                self._default_ptuple = tuple(self._default_params[n] for n in self._param_order)
            return self._run(account, self._default_ptuple, self._default_params)
        return self.evaluate_account(account, self.params(params, profile))

    def evaluate_account(self, account: Account, params: Mapping[str, ir.Value]) -> Result:
        """Evaluate an already validated account with every parameter's value given."""
        return self._run(account, tuple(params[n] for n in self._param_order), params)

    def _run(self, account: Account, ptuple: tuple[ir.Value, ...], params: Mapping[str, ir.Value]) -> Result:
        try:
            with decimal.localcontext(runtime.CONTEXT):
                globals_, records, levels = self.compiled.evaluate(account.scalars, account.collections, ptuple)
        except (ArithmeticError, TypeError, runtime.TierError, runtime.EmptyError):
            # TypeError: arithmetic on a solve that found no value
            # the compiled code only knows that something failed; the interpreter says where
            self.interpreter.run(account, params)
            raise EvaluationError("internal error: the compiled and reference evaluators disagree", None) from None
        # no strict zips here: the generated code returns exactly these shapes, and this is the hot path
        return Result(
            values=dict(zip(self._global_names, globals_)),  # noqa: B905
            records=RecordValues(self._record_layout, records, tuple(map(len, account.collections))),
            levels={
                name: results[i]
                for name, results, i in zip(self._ladder_names, self._level_results, levels)  # noqa: B905
            },
        )

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
        from rulelang.cache import load_checked

        checked, warnings = load_checked(path, imports)
    else:
        checked, warnings = check_file(path, text, imports)
    return Ruleset(checked, warnings)
