"""Read exchange JSON exactly, and say where it is wrong.

Input: the bytes of a JSON file. Output: a :class:`Node`, a value with its path
inside the document (``brackets[3].notionalCap``). Its accessors return exact
:class:`~decimal.Decimal` numbers and texts, or raise :class:`ImportDataError`
naming the file, the path and what was expected.
"""

from __future__ import annotations

import contextlib
import json
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn

import attrs

from rulelang.errors import RulelangError

__all__ = ["ImportDataError", "Node", "parse_json", "printable"]


class ImportDataError(RulelangError):
    """Exchange data that cannot be imported: ``source: path: message``."""

    def __init__(self, source: str, path: str, message: str) -> None:
        self.source = source
        self.path = path
        self.message = message
        super().__init__(": ".join(p for p in (source, path, message) if p))


class _Missing:
    """The value of a field that is not there."""


MISSING: Any = _Missing()
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def printable(text: str) -> bool:
    """Whether ``text`` has no control characters or line breaks (it goes into rule text and file names)."""
    return not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text)


def parse_json(data: bytes, source: str) -> Node:
    """Parse ``data``; numbers become Decimals read from their text (``0.1`` is exactly one tenth)."""

    def no_constant(name: str) -> NoReturn:
        raise ImportDataError(source, "", f"not valid JSON: `{name}` is not a number JSON allows")

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ImportDataError(source, "", f"not UTF-8 text (byte {err.start})") from None
    try:
        value = json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=no_constant)
    except json.JSONDecodeError as err:
        raise ImportDataError(
            source, "", f"not valid JSON: {err.msg} at line {err.lineno} column {err.colno}"
        ) from None
    return Node(value=value, path="", source=source)


def describe(value: Any) -> str:
    """Name a JSON value in a message: ``null``, ``"abc"``, ``12``, ``a list``."""
    if value is MISSING:
        return "nothing (the field is missing)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return json.dumps(shown, ensure_ascii=False)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return "a list"
    return "an object"


@attrs.frozen
class Node:
    """A JSON value and where it is: ``path`` is empty for the whole document."""

    value: Any
    path: str
    source: str

    def fail(self, message: str) -> NoReturn:
        raise ImportDataError(self.source, self.path, message)

    def expected(self, what: str) -> NoReturn:
        self.fail(f"expected {what}, got {describe(self.value)}")

    @property
    def missing(self) -> bool:
        return self.value is MISSING

    # ------------------------------------------------------------ structure
    def is_object(self) -> bool:
        return isinstance(self.value, dict)

    def is_list(self) -> bool:
        return isinstance(self.value, list)

    def has(self, key: str) -> bool:
        return isinstance(self.value, dict) and key in self.value

    def field(self, key: str) -> Node:
        """The member ``key`` of an object (a missing member reads as missing, not as an error yet)."""
        if not isinstance(self.value, dict):
            self.expected("an object")
        if _PLAIN_KEY.fullmatch(key):
            path = f"{self.path}.{key}" if self.path else key
        else:
            path = f"{self.path}[{json.dumps(key, ensure_ascii=False)}]"
        return Node(value=self.value.get(key, MISSING), path=path, source=self.source)

    def items(self, what: str = "a list") -> list[Node]:
        """The elements of a non-empty list."""
        if not isinstance(self.value, list):
            self.expected(what)
        if not self.value:
            self.fail(f"expected {what} with at least one entry, got an empty list")
        return [Node(value=v, path=f"{self.path}[{i}]", source=self.source) for i, v in enumerate(self.value)]

    def entries(self, what: str = "an object") -> list[tuple[str, Node]]:
        """The members of a non-empty object, in file order."""
        if not isinstance(self.value, dict):
            self.expected(what)
        if not self.value:
            self.fail(f"expected {what} with at least one entry, got an empty object")
        return [(k, self.field(k)) for k in self.value]

    # ------------------------------------------------------------ scalars
    def number(self, *, empty_is_infinite: bool = False) -> Decimal | None:
        """A finite number, from a JSON number or a string holding one.

        With ``empty_is_infinite``, ``""`` (OKX's "no upper bound") gives None.
        """
        v = self.value
        if empty_is_infinite and v == "":
            return None
        d: Decimal | None = v if isinstance(v, Decimal) else None
        if isinstance(v, str) and v.strip() and "_" not in v:
            with contextlib.suppress(InvalidOperation):
                d = Decimal(v.strip())
        if d is None or not d.is_finite():
            self.expected("a number")
        # as for account data: 1e999999999 is a valid decimal, but writing it out would take a gigabyte
        if d and not -100 <= d.adjusted() < 100:
            self.fail(f"expected a number between 1e-100 and 1e100 in size, got {d}")
        return d

    def amount(self) -> Decimal:
        """A number that must be there."""
        d = self.number()
        assert d is not None
        return d

    def text(self) -> str:
        """A non-empty string without control characters."""
        if not isinstance(self.value, str) or not self.value.strip() or not printable(self.value):
            self.expected("a non-empty text without control characters")
        return self.value
