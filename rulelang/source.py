"""Source text and spans.

A :class:`Source` is one file's text; a :class:`Span` is a half-open range of
offsets into it. Line and column numbers are computed on demand, so spans stay
cheap to create and compare.
"""

from __future__ import annotations

import bisect
import functools

import attrs


@attrs.frozen(eq=False)
class Source:
    """The text of one rule file, with its path as the user wrote it."""

    path: str
    text: str

    @functools.cached_property
    def _line_starts(self) -> tuple[int, ...]:
        starts = [0]
        starts.extend(i + 1 for i, ch in enumerate(self.text) if ch == "\n")
        return tuple(starts)

    def line_col(self, offset: int) -> tuple[int, int]:
        """Return the 1-based line and column of ``offset``."""
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    def line_text(self, line: int) -> str:
        """Return the text of 1-based ``line`` without its newline."""
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]


@attrs.frozen
class Span:
    """A half-open range ``[start, end)`` of offsets into ``source``."""

    source: Source
    start: int
    end: int

    @property
    def line(self) -> int:
        return self.source.line_col(self.start)[0]

    @property
    def column(self) -> int:
        return self.source.line_col(self.start)[1]

    @property
    def text(self) -> str:
        return self.source.text[self.start : self.end]

    def location(self) -> str:
        """Return ``path:line:col`` for messages."""
        line, col = self.source.line_col(self.start)
        return f"{self.source.path}:{line}:{col}"


def span_field() -> Span:
    """An attrs field for a node's span: kept out of equality and repr.

    It defaults to None only for nodes the engine makes itself (built-in actions).
    """
    return attrs.field(default=None, eq=False, repr=False)  # type: ignore[no-any-return]
