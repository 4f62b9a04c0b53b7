"""The checker's shared state: declarations by name, diagnostics, and what is used.

Input: the declarations gathered from every loaded file. The expression
checker, the table checker and the ladder checker all read and report through
one :class:`Context`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable

import attrs

from rulelang import ir, nodes
from rulelang.errors import Diagnostic, Severity
from rulelang.source import Span
from rulelang.types import Type

BUILTIN_ACTIONS = {
    "notify": "Notify the account holder",
    "restrict_new_orders": "Restrict new orders",
    "reduce_only": "Reduce-only: new orders may only reduce positions",
    "partial_liquidation": "Partial liquidation",
    "full_liquidation": "Full liquidation",
}


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """Return a ``did you mean `x`?`` hint for a misspelt ``name``, or None."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


@attrs.define
class Context:
    """Everything the checker knows while it checks one ruleset."""

    diagnostics: list[Diagnostic] = attrs.Factory(list)
    units: dict[str, Span] = attrs.Factory(dict)
    inputs: dict[str, ir.InputDecl] = attrs.Factory(dict)
    params: dict[str, ir.ParamDecl] = attrs.Factory(dict)
    tables: dict[str, ir.TableDecl] = attrs.Factory(dict)
    lets: dict[str, nodes.Let | nodes.Solve] = attrs.Factory(dict)
    definitions: dict[str, ir.Definition] = attrs.Factory(dict)
    order: list[str] = attrs.Factory(list)
    in_progress: list[str] = attrs.Factory(list)
    # declarations that had errors (already reported): their uses stay silent
    failed: set[str] = attrs.Factory(set)
    enum_values: set[str] = attrs.Factory(set)
    used_inputs: set[str] = attrs.Factory(set)
    used_fields: set[tuple[str, str]] = attrs.Factory(set)
    actions: dict[str, ir.Action] = attrs.Factory(dict)
    # an import failed: a name it would have defined cannot be called undefined
    imports_failed: bool = False
    # set by the orchestrator: lowers the definition with this qualified name
    lower_definition: Callable[[str], None] | None = None

    def error(self, code: str, message: str, span: Span | None, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code=code, message=message, span=span, hint=hint))

    def warn(self, code: str, message: str, span: Span | None, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code=code, message=message, span=span, hint=hint, severity=Severity.WARNING))

    def definition_type(self, qualname: str, span: Span) -> Type | None:
        """Return the type of a definition, checking it first if need be; None if it failed."""
        if qualname in self.definitions:
            return self.definitions[qualname].type
        if qualname in self.in_progress:
            start = self.in_progress.index(qualname)
            chain = [*self.in_progress[start:], qualname]
            let = self.lets[qualname]
            self.error(
                "RL0205",
                "definitions depend on each other in a cycle: " + " -> ".join(chain),
                let.name_span,
                hint="a value cannot be computed from itself; break the cycle",
            )
            self.failed.add(qualname)
            return None
        if qualname in self.failed:
            return None
        assert self.lower_definition is not None
        self.lower_definition(qualname)
        d = self.definitions.get(qualname)
        return d.type if d is not None else None

    def global_names(self) -> list[str]:
        names = list(self.inputs) + list(self.params) + list(self.tables)
        return names + [q for q in self.lets if "." not in q]
