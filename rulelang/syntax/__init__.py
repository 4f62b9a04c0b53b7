"""The syntax layer: grammar, cached parser, tree-to-node builder, friendly syntax errors."""

from rulelang.syntax.parser import parse_source

__all__ = ["parse_source"]
