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
from rulelang.results import LevelResult, Result


class Ruleset:
    """A checked and compiled ruleset."""

    def __init__(self, checked: ir.Ruleset, warnings: list[Diagnostic]) -> None:
        self.ir = checked
        self.warnings = tuple(warnings)
        self.validator = Validator(checked)
        self.interpreter = Interpreter(checked)
        self._compiled: CompiledFunction | None = None
        self._global_names = tuple(d.name for d in checked.definitions if d.collection is None)
        self._record_defs = tuple((d.collection, d.name) for d in checked.definitions if d.collection is not None)
        self._colls = tuple(i.name for i in checked.inputs if i.fields is not None)
        self._default_params = {p.name: p.value for p in checked.params}
        self._param_order = tuple(p.name for p in checked.params)
        self._ladders = checked.ladders

    @property
    def name(self) -> str:
        return self.ir.header.name

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
        values = self.params(params, profile)
        return self.evaluate_account(account, values)

    def evaluate_account(self, account: Account, params: Mapping[str, ir.Value]) -> Result:
        ptuple = tuple(params[n] for n in self._param_order)
        try:
            with decimal.localcontext(runtime.CONTEXT):
                globals_, records, levels = self.compiled.evaluate(account.scalars, account.collections, ptuple)
        except (ArithmeticError, runtime.TierError, runtime.EmptyError):
            # the compiled code only knows that something failed; the interpreter says where
            self.interpreter.run(account, params)
            raise EvaluationError("internal error: the compiled and reference evaluators disagree", None) from None
        recs: dict[str, list[dict[str, ir.Value]]] = {}
        for c in self._colls:
            recs[c] = [{} for _ in account.collections[self._colls.index(c)]]
        for (coll, name), column in zip(self._record_defs, records, strict=True):
            assert coll is not None
            for rec, v in zip(recs[coll], column, strict=True):
                rec[name] = v
        return Result(
            values=dict(zip(self._global_names, globals_, strict=True)),
            records={c: tuple(r) for c, r in recs.items()},
            levels={
                lad.name: LevelResult(lad.name, lad.rungs[i].name, lad.rungs[i].actions)
                for lad, i in zip(self._ladders, levels, strict=True)
            },
        )

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


def load(path: str, text: str | None = None) -> Ruleset:
    """Check and compile the ruleset at ``path`` (or ``text``, named ``path``)."""
    checked, warnings = check_file(path, text)
    return Ruleset(checked, warnings)
