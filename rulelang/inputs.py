"""Validate account data against a ruleset's inputs.

Input: a mapping as an account sends it (JSON numbers as Decimal or int, or
numeric strings; booleans; enumeration values as strings; collections as lists
of mappings). Output: an :class:`Account` with exact values in declaration
order, or an :class:`~rulelang.errors.InputError` naming every bad field as
``record.field`` with what was expected. A number is read through its decimal
text, never through a binary float.
"""

from __future__ import annotations

import decimal
import itertools
import math
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs

from rulelang import ir
from rulelang.errors import InputError
from rulelang.types import BoolType, EnumType, NumType, TextType, Type

_OPS: dict[str, Callable[[Decimal, Decimal], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}


#: Account numbers must lie within 10^±MAX_MAGNITUDE (zero aside).
MAX_MAGNITUDE = 100


class _Bad(Exception):
    pass


def _shown(v: object) -> str:
    """A value as the account's JSON shows it, for messages (never a Python repr such as ``Decimal('1')``)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (Decimal, int, float)):
        return f"the number {v}"
    if isinstance(v, str):
        return f"the text {v!r}"
    if isinstance(v, Mapping):
        return "an object"
    if isinstance(v, (list, tuple)):
        return "a list"
    return type(v).__name__


def to_decimal(v: object) -> Decimal:
    """Read a number exactly; raise ``_Bad`` with what was wrong."""
    t = type(v)
    if t is Decimal:
        d = v
    elif t is int:
        d = Decimal(v)  # type: ignore[arg-type]  # t is int
    elif t is str:
        try:
            d = Decimal(v)  # type: ignore[arg-type]  # t is str; Decimal strips spaces and reads 1_000
        except decimal.InvalidOperation:
            raise _Bad(f"expected a number, got the text {v!r}") from None
    elif t is float:
        if not math.isfinite(v):  # type: ignore[arg-type]
            raise _Bad(f"expected a finite number, got {v}")
        d = Decimal(repr(v))  # the float's shortest decimal text, never its binary expansion
    elif t is bool:
        raise _Bad(f"expected a number, got {str(v).lower()}")
    elif v is None:
        raise _Bad("expected a number, got null")
    else:
        raise _Bad(f"expected a number, got {_shown(v)}")
    assert isinstance(d, Decimal)
    if not d.is_finite():
        raise _Bad(f"expected a finite number, got {v}")
    if d and not -MAX_MAGNITUDE <= d.adjusted() <= MAX_MAGNITUDE:
        # 1e-999999 is a valid decimal, but printing it takes a megabyte: no margin figure is that size
        raise _Bad(f"{v} is out of range: numbers must lie between 1e-{MAX_MAGNITUDE} and 1e{MAX_MAGNITUDE} in size")
    return d


def _converter(t: Type, bound: ir.Bound | None) -> Callable[[object], ir.Value]:
    if isinstance(t, NumType):
        if bound is None:
            return to_decimal
        op, limit, text = _OPS[bound.op], bound.bound, bound.text

        def checked(v: object) -> Decimal:
            d = to_decimal(v)
            if not op(d, limit):
                raise _Bad(f"must be {text}, got {format(d, 'f')}")
            return d

        return checked
    if isinstance(t, BoolType):

        def to_bool(v: object) -> bool:
            if type(v) is bool:
                return bool(v)
            if isinstance(v, str) and v.strip().lower() in ("true", "false"):
                return v.strip().lower() == "true"
            raise _Bad(f"expected true or false, got {_shown(v)}")

        return to_bool
    if isinstance(t, EnumType):
        values = t.values

        def to_enum(v: object) -> str:
            if isinstance(v, str) and v in values:
                return v
            raise _Bad(f"expected one of {', '.join(values)}, got {_shown(v)}")

        return to_enum
    if isinstance(t, TextType):

        def to_text(v: object) -> str:
            if isinstance(v, str):
                return v
            raise _Bad(f"expected a text, got {_shown(v)}")

        return to_text
    raise AssertionError(t)


# ----------------------------------------------------------------- the fast path
#
# Validating an account the general way (a converter call per field, every problem collected)
# cost as much as evaluating it. Each ruleset gets, besides, one generated function that reads a
# *valid* account in straight-line code: a dict subscript per field, ``Decimal(text)``, and the
# finiteness, 10^±100 range and bound checks folded into one chained comparison of decimals
# (exact: no rounding takes part). It gives up (returns None) at the first thing it does not
# accept, and the general path then reads the account again and names every problem, so every
# message is the general path's. It accepts only what the general path accepts; anything
# unusual (a Mapping that is not a dict, a tuple of records, "true" for a bool, a subclass of
# str for a text) takes the general path; tests/test_fast_paths.py holds the two side by side.
# As in the compiled evaluator, no account or ruleset text enters the source: keys,
# enumerations, defaults and limits are passed in the function's namespace.

#: the smallest and the first too large magnitude of a non-zero account number
_LOWEST = Decimal(f"1e-{MAX_MAGNITUDE}")
_TOO_LARGE = Decimal(f"1e{MAX_MAGNITUDE + 1}")


def _from_float(v: float) -> Decimal:
    return Decimal(repr(v))  # a non-finite float reads as NaN or Infinity, which the checks refuse


#: how each exact type of number is read (a bool, a Decimal subclass, ... are not here: general path)
_NUMBER_READERS: dict[type, Callable[[Any], Decimal]] = {
    str: Decimal,
    int: Decimal,
    Decimal: Decimal,  # Decimal(d) is d itself
    float: _from_float,
}

#: a bound's operator as generated source (only these: no text of the ruleset enters the source)
_CMP_TEXT = {">=": ">=", ">": ">", "<=": "<=", "<": "<", "==": "==", "!=": "!="}

Scalars = tuple[ir.Value, ...]
Collections = tuple[tuple[tuple[ir.Value, ...], ...], ...]
FastReader = Callable[[object], tuple[Scalars, Collections] | None]


class _ReaderGen:
    """Write the fast reader of one ruleset's inputs (see above) as Python source over namer names."""

    def __init__(self) -> None:
        self.ns: dict[str, Any] = {
            "_num": _NUMBER_READERS,
            "_lo": _LOWEST,
            "_hi": _TOO_LARGE,
            "_nlo": -_LOWEST,
            "_nhi": -_TOO_LARGE,
            "_dict": dict,
            "_list": list,
            "_str": str,
            "_bool": bool,
            "_tuple": tuple,
            "_type": type,
        }
        self.lines: list[str] = []
        self.count = itertools.count()

    def const(self, value: object) -> str:
        name = f"_k{next(self.count)}"
        self.ns[name] = value
        return name

    def emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    def field(self, depth: int, source: str, decl: ir.InputDecl | ir.FieldDecl, var: str) -> None:
        """Read ``decl`` from the dict ``source`` into ``var``; return None if it is not plainly valid."""
        key = self.const(decl.name)
        t = decl.type
        if decl.has_default:
            # missing or null: the default (as the general path)
            self.emit(depth, f"_v = {source}.get({key})")
            self.emit(depth, "if _v is None:")
            self.emit(depth + 1, f"{var} = {self.const(decl.default)}")
            self.emit(depth, "else:")
            depth += 1
            value = "_v"
        else:
            value = f"{source}[{key}]"  # a KeyError (missing) gives up
        if isinstance(t, NumType):
            if value != "_v":
                self.emit(depth, f"_v = {value}")
            self.emit(depth, f"{var} = _num[_type(_v)](_v)")
            self.emit(depth, f"if not ({self.number_check(var, decl.bound)}):")
            self.emit(depth + 1, "return None")
        elif isinstance(t, EnumType):
            # a dict of the allowed texts: anything else (another text, a number, a list) is a KeyError or TypeError
            self.emit(depth, f"{var} = {self.const({v: v for v in t.values})}[{value}]")
        elif isinstance(t, TextType):
            self.emit(depth, f"{var} = {value}")
            self.emit(depth, f"if _type({var}) is not _str:")
            self.emit(depth + 1, "return None")
        elif isinstance(t, BoolType):
            self.emit(depth, f"{var} = {value}")
            self.emit(depth, f"if _type({var}) is not _bool:")
            self.emit(depth + 1, "return None")
        else:
            raise AssertionError(t)

    def number_check(self, var: str, bound: ir.Bound | None) -> str:
        """A condition that holds only for a finite decimal within 10^±MAX_MAGNITUDE (or 0) meeting ``bound``.

        A NaN makes the comparisons raise (or be false): either way the reader gives up.
        """
        positive = f"_lo <= {var} < _hi"
        in_range = f"not {var} or {positive} or _nhi < {var} <= _nlo"
        if bound is None:
            return in_range
        if bound.bound == 0 and bound.op == ">":
            return positive
        if bound.bound == 0 and bound.op == ">=":
            return f"not {var} or {positive}"
        return f"({in_range}) and {var} {_CMP_TEXT[bound.op]} {self.const(bound.bound)}"

    def function(self, ruleset: ir.Ruleset) -> str:
        emit = self.emit
        emit(0, "def read(_data):")
        emit(1, "if _type(_data) is not _dict:")
        emit(2, "return None")
        emit(1, "try:")
        scalars: list[str] = []
        colls: list[str] = []
        for n, decl in enumerate(ruleset.inputs):
            if decl.fields is None:
                var = f"_s{n}"
                self.field(2, "_data", decl, var)
                scalars.append(var)
                continue
            rows, var = f"_l{n}", f"_c{n}"
            emit(2, f"_raw = _data[{self.const(decl.name)}]")
            emit(2, "if _type(_raw) is not _list:")
            emit(3, "return None")
            emit(2, f"{rows} = []")
            emit(2, "for _r in _raw:")
            emit(3, "if _type(_r) is not _dict:")
            emit(4, "return None")
            names = [f"_f{k}" for k in range(len(decl.fields))]
            for fdecl, fvar in zip(decl.fields, names, strict=True):
                self.field(3, "_r", fdecl, fvar)
            emit(3, f"{rows}.append(({''.join(f'{v}, ' for v in names)}))")
            emit(2, f"{var} = _tuple({rows})")
            colls.append(var)
        emit(1, "except Exception:")
        emit(2, "return None  # the general path says what is wrong")
        emit(1, f"return ({''.join(f'{v}, ' for v in scalars)}), ({''.join(f'{v}, ' for v in colls)})")
        return "\n".join(self.lines) + "\n"


def fast_reader(ruleset: ir.Ruleset) -> FastReader:
    """The generated reader of valid accounts: ``read(data)`` is ``(scalars, collections)``, or None."""
    gen = _ReaderGen()
    source = gen.function(ruleset)
    namespace: dict[str, Any] = dict(gen.ns)
    namespace["__builtins__"] = {"Exception": Exception}
    exec(compile(source, f"<rulelang reader {ruleset.header.name}>", "exec"), namespace)
    reader: FastReader = namespace["read"]
    reader.source = source  # type: ignore[attr-defined]  # for tests and curious readers
    return reader


@attrs.frozen
class Account:
    """Validated inputs: scalars in declaration order; each collection as a list of field tuples."""

    scalars: tuple[ir.Value, ...]
    collections: tuple[tuple[tuple[ir.Value, ...], ...], ...]


_MISSING = object()


class Validator:
    """Validate accounts for one ruleset (converters are built once)."""

    def __init__(self, ruleset: ir.Ruleset) -> None:
        self.scalars: list[tuple[str, Callable[[object], ir.Value], ir.InputDecl]] = []
        self.collections: list[tuple[str, list[tuple[str, Callable[[object], ir.Value], ir.FieldDecl]]]] = []
        for i in ruleset.inputs:
            if i.fields is None:
                self.scalars.append((i.name, _converter(i.type, i.bound), i))
            else:
                self.collections.append((i.name, [(f.name, _converter(f.type, f.bound), f) for f in i.fields]))
        self._ruleset = ruleset
        self._fast: FastReader | None = None

    @property
    def fast(self) -> FastReader:
        """The generated reader of plainly valid accounts (made on first use)."""
        if self._fast is None:
            self._fast = fast_reader(self._ruleset)
        return self._fast

    def validate(self, data: Mapping[str, Any], record: str | None = None) -> Account:
        """Return the account's exact values, or raise :class:`InputError` listing every problem."""
        got = (self._fast or self.fast)(data)
        if got is None:
            return self.validate_all(data, record)
        return Account(*got)

    def validate_all(self, data: Mapping[str, Any], record: str | None = None) -> Account:
        """:meth:`validate` the general way: any mapping and sequence, every problem found and named."""
        if type(data) is not dict and not isinstance(data, Mapping):  # the exact check first: it is cheap
            raise InputError([("(account)", f"expected an object with the inputs, got {type(data).__name__}")], record)
        problems: list[tuple[str, str]] = []
        scalars: list[ir.Value] = []
        # The scalar loop and the field loop below repeat the same default/convert steps on purpose:
        # a shared helper costs a call per field, which measured 2 us of a 20 us account.
        for name, conv, decl in self.scalars:
            v = data.get(name, _MISSING)
            if v is _MISSING or (v is None and decl.has_default):
                if decl.has_default:
                    assert decl.default is not None
                    scalars.append(decl.default)
                else:
                    problems.append((name, f"missing; expected {_expected(decl.type)}"))
                    scalars.append(Decimal(0))
                continue
            try:
                scalars.append(conv(v))
            except _Bad as bad:
                problems.append((name, str(bad)))
                scalars.append(Decimal(0))
        collections: list[tuple[tuple[ir.Value, ...], ...]] = []
        for name, fields in self.collections:
            raw = data.get(name, _MISSING)
            if raw is _MISSING:
                problems.append((name, "missing; expected a list of records (use [] for none)"))
                collections.append(())
                continue
            if type(raw) is not list and (isinstance(raw, (str, bytes, Mapping)) or not isinstance(raw, Sequence)):
                problems.append((name, f"expected a list of records, got {_shown(raw)}"))
                collections.append(())
                continue
            recs: list[tuple[ir.Value, ...]] = []
            for idx, rec in enumerate(raw):
                if type(rec) is not dict and not isinstance(rec, Mapping):
                    problems.append((f"{name}[{idx}]", f"expected a record (an object), got {_shown(rec)}"))
                    continue
                row: list[ir.Value] = []
                for fname, conv, fdecl in fields:
                    v = rec.get(fname, _MISSING)
                    if v is _MISSING or (v is None and fdecl.has_default):
                        if fdecl.has_default:
                            assert fdecl.default is not None
                            row.append(fdecl.default)
                        else:
                            problems.append((f"{name}[{idx}].{fname}", f"missing; expected {_expected(fdecl.type)}"))
                        continue
                    try:
                        row.append(conv(v))
                    except _Bad as bad:
                        problems.append((f"{name}[{idx}].{fname}", str(bad)))
                recs.append(tuple(row))
            collections.append(tuple(recs))
        if problems:
            raise InputError(problems, record)
        return Account(tuple(scalars), tuple(collections))


def _expected(t: Type) -> str:
    if isinstance(t, NumType):
        return "a number" + ("" if t.dim is None or t.dim.dimensionless else f" (in {t.dim})")
    if isinstance(t, EnumType):
        return "one of " + ", ".join(t.values)
    return str(t)


def parse_pairs(items: Iterable[str] | None, flag: str, form: str = "NAME=VALUE") -> dict[str, str]:
    """Command-line ``NAME=VALUE`` items (``--param``, ``--import``) as a mapping, spaces around
    either side dropped; a ValueError names an item without ``=``."""
    out: dict[str, str] = {}
    for item in items or ():
        if "=" not in item:
            raise ValueError(f"{flag} expects {form}, got {item!r}")
        name, value = item.split("=", 1)
        out[name.strip()] = value.strip()
    return out


def parse_param(ruleset: ir.Ruleset, name: str, value: object) -> ir.Value:
    """Read an override of parameter ``name``: a value, or rule-literal text such as ``"60%"``."""
    from rulelang.check.context import did_you_mean

    decl = next((p for p in ruleset.params if p.name == name), None)
    if decl is None:
        hint = did_you_mean(name, [p.name for p in ruleset.params])
        raise InputError([(name, "not a parameter of this ruleset" + (f"; {hint}" if hint else ""))], "params")
    if isinstance(value, str) and isinstance(decl.type, NumType):
        value = _literal_text(value)
    try:
        return _converter(decl.type, None)(value)
    except _Bad as bad:
        raise InputError([(name, str(bad))], "params") from None


def _literal_text(text: str) -> object:
    t = text.strip().replace("_", "")
    if t.endswith("%"):
        try:
            # exact, unlike scaleb (which rounds to the ambient context's 28 digits)
            sign, digits, exponent = Decimal(t[:-1]).as_tuple()
            return Decimal((sign, digits, exponent - 2)) if isinstance(exponent, int) else text
        except decimal.InvalidOperation:
            return text
    if t.endswith("x"):
        return t[:-1]
    parts = t.split()
    return parts[0] if len(parts) == 2 else t
