"""Where a page's content came from: file paths as the reader knows them, file hashes, snippets.

Input: spans and file paths of a checked ruleset. Output: texts for the
pages. Paths are shown relative to the current folder when they lie under
it (the loader makes imported paths absolute), so the same checkout gives
the same pages on any machine; hashes are of the files' bytes, which
``sha256sum`` can check.
"""

from __future__ import annotations

import hashlib
import os

from rulelang.source import Span


def display_path(path: str) -> str:
    """``path`` relative to the current folder when it is below it, with ``/`` separators."""
    if os.path.isabs(path):
        rel = os.path.relpath(path)
        if not rel.startswith(".."):
            path = rel
    return path.replace(os.sep, "/")


def location(span: Span | None) -> str:
    """``path:line`` of a declaration."""
    if span is None:
        return ""
    return f"{display_path(span.source.path)}:{span.line}"


def snippet(span: Span | None) -> str:
    """A declaration as written, without the blank and comment lines that follow it."""
    lines = (span.text if span is not None else "").rstrip("\n").split("\n")
    while lines and (not lines[-1].strip() or lines[-1].lstrip().startswith("#")):
        lines.pop()
    return "\n".join(lines)


def file_hash(path: str) -> str:
    """The SHA-256 of the file's bytes."""
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()
