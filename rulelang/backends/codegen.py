"""Compile the IR into a Python function (the fast, exact evaluator).

Input: an :class:`~rulelang.ir.Ruleset`. Output: a :class:`CompiledFunction`
wrapping ``evaluate(scalars, collections, params)``, built from Python ``ast``
objects. User text never reaches the generated code as text: names come from a
namer (``_d3``, ``_k7``), and every constant, table and helper is passed
through the function's namespace. The source is registered in ``linecache`` so
tracebacks and ``rulelang dump --stage python`` show it.
"""

from __future__ import annotations

import ast
import itertools
import linecache
import marshal
import sys
import types
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from rulelang import ir, runtime
from rulelang.values import known


class _Gen:
    def __init__(self, ruleset: ir.Ruleset) -> None:
        self.rs = ruleset
        self.ns: dict[str, Any] = _helpers()
        # how to make each namespace entry again without the IR (see CompiledFunction.artifact)
        self.recipes: dict[str, Recipe] = {}
        self.cacheable = True  # a solve's probe needs the IR: not restorable
        self.counter = itertools.count()
        self.tables = {t.name: runtime.FlatTiers(runtime.table_tiers(t)) for t in ruleset.tables}
        # namespace names of each table's index functions and columns, made once per ruleset
        self.table_names: dict[tuple[object, ...], str] = {}
        # Shared band searches. Where a lookup is evaluated whenever the definition is (not under
        # an `if`, the right side of `and`/`or`, or inside an aggregate), its search becomes a
        # statement before the definition, ``_g = _ix(key, size)``, and every such lookup of the
        # same table, key and size in the same scope (the function, or one loop's body) reads
        # its columns at ``_g``. ``hoist`` collects those statements (None: no hoisting here).
        self.hoist: list[ast.stmt] | None = None
        self.searches: dict[str, tuple[str, ast.expr]] = {}
        self.guarded = 0
        scalars = [i for i in ruleset.inputs if i.fields is None]
        colls = [i for i in ruleset.inputs if i.fields is not None]
        self.scalar_var = {i.name: f"_s{n}" for n, i in enumerate(scalars)}
        self.coll_var = {c.name: f"_c{n}" for n, c in enumerate(colls)}
        self.field_index = {c.name: {f.name: k for k, f in enumerate(c.fields or ())} for c in colls}
        self.param_var = {p.name: f"_p{n}" for n, p in enumerate(ruleset.params)}
        self.def_var: dict[str, str] = {}
        # collection -> (record variable, index variable) for the innermost loop over it
        self.bindings: dict[str, list[tuple[str, str]]] = {}
        # per-record definitions computed in the loop being generated: qualname -> local variable
        self.loop_locals: dict[str, str] = {}

    def fresh(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter)}"

    def const(self, value: object) -> ast.expr:
        if isinstance(value, bool):
            return ast.Constant(value)
        assert isinstance(value, (Decimal, str)), value
        name = self.fresh("_k")
        self.put(name, value, ("value", value))
        return _name(name)

    def put(self, name: str, value: object, recipe: Recipe) -> None:
        self.ns[name] = value
        self.recipes[name] = recipe

    # ------------------------------------------------------------ expressions
    def expr(self, e: ir.Expr) -> ast.expr:
        match e:
            case ir.Const():
                return self.const(e.value)
            case ir.InputRef():
                return _name(self.scalar_var[e.name])
            case ir.ParamRef():
                return _name(self.param_var[e.name])
            case ir.DefRef():
                return _name(self.def_var[e.name])
            case ir.FieldRef():
                rec, _ = self.bindings[e.collection][-1]
                return ast.Subscript(_name(rec), ast.Constant(self.field_index[e.collection][e.name]), ast.Load())
            case ir.RecDefRef():
                qual = f"{e.collection}.{e.name}"
                rec, idx = self.bindings[e.collection][-1]
                if qual in self.loop_locals and len(self.bindings[e.collection]) == 1:
                    return _name(self.loop_locals[qual])
                return ast.Subscript(_name(self.def_var[qual]), _name(idx), ast.Load())
            case ir.Arith():
                op = {"+": ast.Add(), "-": ast.Sub(), "*": ast.Mult(), "/": ast.Div()}[e.op]
                return ast.BinOp(self.expr(e.left), op, self.expr(e.right))
            case ir.Neg():
                return ast.UnaryOp(ast.USub(), self.expr(e.operand))
            case ir.Compare():
                return ast.Compare(self.expr(e.left), [_CMP[e.op]()], [self.expr(e.right)])
            case ir.Logic():
                op2 = ast.And() if e.op == "and" else ast.Or()
                left = self.expr(e.left)
                return ast.BoolOp(op2, [left, self.guarded_expr(e.right)])
            case ir.Not():
                return ast.UnaryOp(ast.Not(), self.expr(e.operand))
            case ir.Cond():
                cond = self.expr(e.cond)
                return ast.IfExp(cond, self.guarded_expr(e.then), self.guarded_expr(e.otherwise))
            case ir.Func():
                if e.name == "known":
                    return _call("_known", [self.expr(e.args[0])])
                return _call(e.name, [self.expr(a) for a in e.args])
            case ir.Solve():
                fn = self.fresh("_sv")
                self.ns[fn] = _compiled_solver(self.rs, e)
                self.cacheable = False
                record = _name(self.bindings[e.collection][-1][1]) if e.collection else ast.Constant(None)
                tick = self.guarded_expr(e.tick) if e.tick is not None else ast.Constant(None)
                args = [_name("_scalars"), _name("_collections"), _name("_params"), record, tick]
                return ast.Call(_name(fn), args, [])
            case ir.Round():
                exp = self.const(Decimal(1).scaleb(-e.places))
                mode = self.fresh("_m")
                self.put(mode, runtime.ROUNDING[e.mode], ("value", runtime.ROUNDING[e.mode]))
                return ast.Call(
                    ast.Attribute(self.expr(e.operand), "quantize", ast.Load()),
                    [exp],
                    [ast.keyword("rounding", _name(mode))],
                )
            case ir.Aggregate():
                return self.aggregate(e)
            case ir.Lookup():
                return self.lookup(e)
        raise AssertionError(e)

    def guarded_expr(self, e: ir.Expr) -> ast.expr:
        """An expression evaluated only sometimes: its lookups search on their own."""
        self.guarded += 1
        try:
            return self.expr(e)
        finally:
            self.guarded -= 1

    def table_name(self, prefix: str, key: tuple[object, ...], make: Callable[[], tuple[object, Recipe]]) -> str:
        name = self.table_names.get(key)
        if name is None:
            name = self.table_names[key] = self.fresh(prefix)
            self.put(name, *make())
        return name

    def lookup(self, e: ir.Lookup) -> ast.expr:
        flat, grouped = self.tables[e.table], e.group is not None
        args = ([self.expr(e.group)] if e.group is not None else []) + [self.expr(e.size)]
        if self.hoist is None or self.guarded:
            fn = self.fresh("_lk")
            rates = flat.column("lookup", e.column) if e.mode in ("bracket", "progressive") else ()
            recipe: Recipe = ("lookup", flat.bands, grouped, e.mode, rates, flat.column(e.mode, e.column))
            self.put(fn, _made(recipe), recipe)
            return ast.Call(_name(fn), args, [])
        # the search as a statement before the definition, shared with the same search in this scope
        memo = ast.dump(ast.Tuple(args, ast.Load()))
        found = self.searches.get(f"{e.table}\0{memo}")
        if found is None:
            if not isinstance(args[-1], ast.Name):
                size_var = self.fresh("_z")
                self.hoist.append(ast.Assign([_name(size_var, ast.Store())], args[-1]))
                args[-1] = _name(size_var)
            recipe = ("index", flat.bands, grouped)
            index = self.table_name("_ix", (e.table, grouped), lambda: (_made(recipe), recipe))
            found = (self.fresh("_g"), args[-1])
            self.hoist.append(ast.Assign([_name(found[0], ast.Store())], ast.Call(_name(index), args, [])))
            self.searches[f"{e.table}\0{memo}"] = found
        position, size = found

        def at(mode: str) -> ast.expr:
            def make() -> tuple[object, Recipe]:
                values = flat.column(mode, e.column)
                return values, ("value", values)

            column = self.table_name("_tc", (e.table, mode, e.column), make)
            return ast.Subscript(_name(column), _name(position), ast.Load())

        if e.mode in ("bracket", "progressive"):
            return ast.Call(_name("_fma"), [size, at("lookup"), at(e.mode)], [])
        if e.mode == "step":
            return ast.BinOp(size, ast.Mult(), at("lookup"))
        return at(e.mode)

    def aggregate(self, e: ir.Aggregate) -> ast.expr:
        f = e.func
        body_def = e.body if isinstance(e.body, ir.RecDefRef) and e.body.collection == e.collection else None
        if e.where is None and (body_def is not None or f == "count"):
            # the values are already a complete list: aggregate it directly
            if f == "count":
                return _call("_Decimal", [_call("len", [_name(self.coll_var[e.collection])])])
            assert body_def is not None
            column = _name(self.def_var[f"{e.collection}.{body_def.name}"])
            return self.finish(e, column)
        rec, idx = self.fresh("_q"), self.fresh("_j")
        self.bindings.setdefault(e.collection, []).append((rec, idx))
        self.guarded += 1  # per record, in the comprehension's own scope
        try:
            body = self.expr(e.body) if e.body is not None else ast.Constant(1)
            conds = [self.expr(e.where)] if e.where is not None else []
        finally:
            self.guarded -= 1
            self.bindings[e.collection].pop()
        target, iterable = _records(rec, idx, self.coll_var[e.collection], [body, *conds])
        gen = ast.comprehension(target=target, iter=iterable, ifs=conds, is_async=0)
        return self.finish(e, ast.ListComp(body, [gen]))

    def finish(self, e: ir.Aggregate, items: ast.expr) -> ast.expr:
        """Apply the aggregate's function to the list of per-record values ``items``."""
        f = e.func
        if f == "sum":
            return _call("sum", [items, _name("_ZERO")])
        if f == "count":
            return _call("_Decimal", [_call("len", [items])])
        if f in ("any", "all"):
            return _call(f, [items])
        tmp = self.fresh("_t")
        fallback = self.guarded_expr(e.default) if e.default is not None else _call("_empty", [])
        return ast.IfExp(ast.NamedExpr(_name(tmp, ast.Store()), items), _call(f, [_name(tmp)]), fallback)

    # ------------------------------------------------------------ statements
    def function(self) -> ast.Module:
        body: list[ast.stmt] = []

        def unpack(names: list[str], source: str) -> None:
            if names:
                targets: list[ast.expr] = [_name(n, ast.Store()) for n in names]
                target = ast.Tuple(targets, ast.Store())
                body.append(ast.Assign([target], _name(source)))

        unpack(list(self.scalar_var.values()), "_scalars")
        unpack(list(self.coll_var.values()), "_collections")
        unpack(list(self.param_var.values()), "_params")
        defs = list(self.rs.definitions)
        for d in defs:
            self.def_var[d.qualname] = self.fresh("_d")
        for coll, group_defs in _loops(defs):
            if coll is None:
                for d in group_defs:
                    body.extend(self.definition(d, self.def_var[d.qualname]))
                continue
            searches, self.searches = self.searches, {}  # a loop's searches are its own
            body.extend(self.record_loop(coll, group_defs))
            self.searches = searches
        levels: list[ast.expr] = []
        for lad in self.rs.ladders:
            var = self.fresh("_l")
            body.append(self.ladder(lad, var))
            levels.append(_name(var))
        globals_: list[ast.expr] = [_name(self.def_var[d.qualname]) for d in defs if d.collection is None]
        records: list[ast.expr] = [_name(self.def_var[d.qualname]) for d in defs if d.collection is not None]
        body.append(
            ast.Return(
                ast.Tuple(
                    [
                        ast.Tuple(globals_, ast.Load()),
                        ast.Tuple(records, ast.Load()),
                        ast.Tuple(levels, ast.Load()),
                    ],
                    ast.Load(),
                )
            )
        )
        args = ast.arguments(
            posonlyargs=[],
            args=[ast.arg("_scalars"), ast.arg("_collections"), ast.arg("_params")],
            kwonlyargs=[],
            kw_defaults=[],
            defaults=[],
        )
        extra: dict[str, Any] = {"type_params": []} if sys.version_info >= (3, 12) else {}
        fn = ast.FunctionDef(name="evaluate", args=args, body=body, decorator_list=[], returns=None, **extra)
        return ast.fix_missing_locations(ast.Module(body=[fn], type_ignores=[]))

    def record_loop(self, coll: str, defs: list[ir.Definition]) -> list[ast.stmt]:
        rec, idx = self.fresh("_r"), self.fresh("_i")
        stmts: list[ast.stmt] = [
            ast.Assign([_name(self.def_var[d.qualname], ast.Store())], ast.List([], ast.Load())) for d in defs
        ]
        self.bindings.setdefault(coll, []).append((rec, idx))
        loop_body: list[ast.stmt] = []
        try:
            for d in defs:
                local = self.fresh("_x")
                loop_body.extend(self.definition(d, local))
                loop_body.append(
                    ast.Expr(
                        ast.Call(
                            ast.Attribute(_name(self.def_var[d.qualname]), "append", ast.Load()),
                            [_name(local)],
                            [],
                        )
                    )
                )
                self.loop_locals[d.qualname] = local
        finally:
            self.bindings[coll].pop()
            for d in defs:
                self.loop_locals.pop(d.qualname, None)
        target, iterable = _records(rec, idx, self.coll_var[coll], loop_body)
        stmts.append(ast.For(target=target, iter=iterable, body=loop_body, orelse=[]))
        return stmts

    def definition(self, d: ir.Definition, var: str) -> list[ast.stmt]:
        """``var = <d's expression>``, after the band searches it shares (see ``hoist``)."""
        self.hoist = []
        try:
            value = self.expr(d.expr)
            return [*self.hoist, ast.Assign([_name(var, ast.Store())], value)]
        finally:
            self.hoist = None

    def ladder(self, lad: ir.Ladder, var: str) -> ast.stmt:
        stmt: ast.stmt = ast.Assign([_name(var, ast.Store())], ast.Constant(len(lad.rungs) - 1))
        for n in range(len(lad.rungs) - 2, -1, -1):
            cond = lad.rungs[n].cond
            assert cond is not None
            stmt = ast.If(self.expr(cond), [ast.Assign([_name(var, ast.Store())], ast.Constant(n))], [stmt])
        return stmt


def _loops(defs: list[ir.Definition]) -> list[tuple[str | None, list[ir.Definition]]]:
    """Group definitions into runs: consecutive per-record ones of a collection share a loop.

    A per-record definition that aggregates over its own collection starts a new
    loop, because it needs every record's earlier values, not only those so far.
    """
    runs: list[tuple[str | None, list[ir.Definition]]] = []
    for d in defs:
        own_aggregate = d.collection is not None and any(
            isinstance(x, ir.Aggregate) and x.collection == d.collection for x in ir.walk(d.expr)
        )
        same_loop = runs and runs[-1][0] == d.collection and d.collection is not None and not own_aggregate
        both_global = runs and runs[-1][0] is None and d.collection is None
        if same_loop or both_global:
            runs[-1][1].append(d)
        else:
            runs.append((d.collection, [d]))
    return runs


_CMP: dict[str, type[ast.cmpop]] = {
    "<": ast.Lt,
    "<=": ast.LtE,
    ">": ast.Gt,
    ">=": ast.GtE,
    "==": ast.Eq,
    "!=": ast.NotEq,
}


def _records(rec: str, idx: str, coll: str, uses: Sequence[ast.AST]) -> tuple[ast.expr, ast.expr]:
    """Loop target and iterable over the records of ``coll``: with their index only if ``uses`` read it."""
    if any(isinstance(n, ast.Name) and n.id == idx for u in uses for n in ast.walk(u)):
        target = ast.Tuple([_name(idx, ast.Store()), _name(rec, ast.Store())], ast.Store())
        return target, _call("enumerate", [_name(coll)])
    return _name(rec, ast.Store()), _name(coll)


def _name(name: str, ctx: ast.expr_context | None = None) -> ast.Name:
    return ast.Name(name, ctx or ast.Load())


def _call(func: str, args: list[ast.expr]) -> ast.Call:
    return ast.Call(_name(func), args, [])


_compiled_count = itertools.count()

#: How to make one namespace entry of compiled code: ``("value", v)``; ``("index", bands,
#: grouped)`` for :func:`runtime.band_index`; ``("lookup", bands, grouped, mode, rates, values)``
#: for :func:`runtime.lookup_site`. Plain data, so that a cache can store it.
Recipe = tuple[Any, ...]

#: What :meth:`CompiledFunction.restore` needs: the source, the marshalled code, the recipes.
Artifact = tuple[str, bytes, dict[str, Recipe]]

_BUILTINS = {
    "sum": sum,
    "len": len,
    "min": min,
    "max": max,
    "abs": abs,
    "any": any,
    "all": all,
    "enumerate": enumerate,
}


def _helpers() -> dict[str, Any]:
    """The namespace entries every compiled function has."""
    return {
        "_ZERO": runtime.ZERO,
        "_Decimal": Decimal,
        "_empty": runtime.empty,
        "_known": known,
        "_fma": Decimal.fma,
    }


def _made(recipe: Recipe) -> object:
    kind = recipe[0]
    if kind == "value":
        return recipe[1]
    if kind == "index":
        return runtime.band_index(recipe[1], recipe[2])
    if kind == "lookup":
        _, bands, grouped, mode, rates, values = recipe
        return runtime.lookup_site(runtime.band_index(bands, grouped), mode, rates, values, grouped)
    raise ValueError(f"unknown recipe {kind!r}")


def _renamed(code: types.CodeType, filename: str) -> types.CodeType:
    consts = tuple(_renamed(c, filename) if isinstance(c, types.CodeType) else c for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


class CompiledFunction:
    """The generated ``evaluate`` with its source (for ``dump``) and namespace.

    ``artifact`` (None for a ruleset with a solve) is the function as plain data: a cache
    stores it and :meth:`restore` makes the same function again without the IR or code
    generation.
    """

    source: str
    artifact: Artifact | None
    evaluate: Callable[[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]], Any]

    def __init__(self, ruleset: ir.Ruleset) -> None:
        gen = _Gen(ruleset)
        module = gen.function()
        source = ast.unparse(module)
        filename = f"<rulelang {ruleset.header.name} #{next(_compiled_count)}>"
        code = compile(module, filename, "exec")
        self._define(source, code, gen.ns)
        self.artifact = (source, marshal.dumps(code), gen.recipes) if gen.cacheable else None

    @classmethod
    def restore(cls, name: str, artifact: Artifact) -> CompiledFunction:
        """The function ``artifact`` was made from (of the ruleset called ``name``)."""
        source, code, recipes = artifact
        self = cls.__new__(cls)
        namespace = _helpers()
        namespace.update((k, _made(r)) for k, r in recipes.items())
        filename = f"<rulelang {name} #{next(_compiled_count)}>"
        self._define(source, _renamed(marshal.loads(code), filename), namespace)
        self.artifact = artifact
        return self

    def _define(self, source: str, code: types.CodeType, namespace: dict[str, Any]) -> None:
        self.source = source
        filename = code.co_filename
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        namespace["__builtins__"] = dict(_BUILTINS)
        exec(code, namespace)
        self.evaluate = namespace["evaluate"]


def _compiled_solver(rs: ir.Ruleset, e: ir.Solve) -> Callable[..., Any]:
    """The function compiled code calls for a solve: it probes a compiled copy of the condition."""
    from rulelang import solver  # only rulesets with a solve need it

    probe = solver.probe_program(rs, e)
    compiled = CompiledFunction(probe.program)
    defs = probe.program.definitions
    globals_ = [d.qualname for d in defs if d.collection is None]
    records = [d.qualname for d in defs if d.collection is not None]

    def where(qualname: str) -> tuple[bool, int]:
        return (True, globals_.index(qualname)) if qualname in globals_ else (False, records.index(qualname))

    slots = [where(probe.until)] + [where(a.qualname) for a in probe.atoms]
    evaluate = compiled.evaluate

    def run(scalars: Any, collections: Any, params: Any, record: int | None, tick: Decimal | None) -> Any:
        x0 = probe.start(scalars, collections, record)

        def at(x: Decimal) -> solver.Sample:
            s, cs = solver.set_value(scalars, collections, probe, record, x)
            out_globals, out_records, _ = evaluate(s, cs, params)
            vals = [out_globals[k] if is_global else out_records[k][record] for is_global, k in slots]
            return bool(vals[0]), tuple(vals[1:])

        return solver.solve(at, x0, tick, probe.atoms, probe.what(record), probe.until_text).value

    return run
