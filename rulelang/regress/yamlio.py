"""YAML scenario files, read and written with exact numbers.

Input: YAML text. Output: plain data in which every number is a
:class:`~decimal.Decimal` read from its text (PyYAML would give a binary
float for ``0.1``), with the line of each case; and back: data whose decimals
are written as plain numbers.
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Any

import yaml

from rulelang.display import plain


class _Loader(yaml.SafeLoader):
    pass


def _number(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    text = str(loader.construct_scalar(node))  # type: ignore[arg-type]  # an int or float tag is on a scalar
    try:
        d = Decimal(text.replace("_", ""))
    except decimal.InvalidOperation:
        d = Decimal("NaN")
    if not d.is_finite():
        raise yaml.constructor.ConstructorError(
            None, None, f"{text!r} is not a number rulelang reads (write plain decimals)", node.start_mark
        )
    return d


_Loader.add_constructor("tag:yaml.org,2002:int", _number)
_Loader.add_constructor("tag:yaml.org,2002:float", _number)


def load(text: str) -> tuple[Any, list[int]]:
    """The document, and the 1-based line of each case (the items of a top list, or of ``cases:``)."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    items: Any = None
    if isinstance(node, yaml.SequenceNode):
        items = node
    elif isinstance(node, yaml.MappingNode):
        items = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == "cases"), None)
    lines = [item.start_mark.line + 1 for item in items.value] if isinstance(items, yaml.SequenceNode) else []
    return data, lines


class _Dumper(yaml.SafeDumper):
    pass


def _decimal(dumper: yaml.SafeDumper, d: Decimal) -> yaml.Node:
    text = plain(d)
    tag = "tag:yaml.org,2002:int" if "." not in text else "tag:yaml.org,2002:float"
    return dumper.represent_scalar(tag, text)


_Dumper.add_representer(Decimal, _decimal)


def dump(data: Any) -> str:
    """``data`` as YAML, keys in the order given, decimals as plain numbers."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
