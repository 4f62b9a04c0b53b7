"""Read a ruleset file and the files it imports.

Input: a path. Output: the parsed :class:`~rulelang.nodes.File` of the ruleset
and of every imported file (each once, in the order first met), with their
syntax diagnostics. Imports are relative to the importing file and may be glob
patterns (``import "brackets/*.rules"``). Files are read from disk, or through
another :class:`Files` (``rulelang.versions`` reads a git revision's tree).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping
from typing import Protocol

import attrs

from rulelang import nodes
from rulelang.errors import Diagnostic
from rulelang.source import Source, Span
from rulelang.syntax import parse_source


@attrs.frozen
class Loaded:
    files: tuple[nodes.File, ...]
    sources: tuple[Source, ...]
    diagnostics: tuple[Diagnostic, ...]
    globs: tuple[tuple[str, tuple[str, ...]], ...] = ()  # each import pattern and the files it matched


def read_source(path: str) -> Source:
    with open(path, encoding="utf-8") as fh:
        return Source(path, fh.read())


class Files(Protocol):
    """Where rule files are read from: paths as the loader joins them, relative imports included."""

    def read(self, path: str) -> Source: ...

    def glob(self, pattern: str) -> list[str]: ...

    def isfile(self, path: str) -> bool: ...

    def key(self, path: str) -> str:
        """The same string for every spelling of one file (``a/../b.rules`` and ``b.rules``)."""
        ...


class Disk:
    """The file system, relative to the current folder."""

    def read(self, path: str) -> Source:
        return read_source(path)

    def glob(self, pattern: str) -> list[str]:
        return glob.glob(pattern)

    def isfile(self, path: str) -> bool:
        return os.path.isfile(path)

    def key(self, path: str) -> str:
        return os.path.realpath(path)


DISK = Disk()


def load(path: str, text: str | None = None, imports: Mapping[str, str] | None = None, files: Files = DISK) -> Loaded:
    """Parse ``path`` (or ``text`` under that name) and every file it imports.

    ``imports`` redirects named imports: ``{"brackets": "/data/brackets/*.rules"}``
    replaces the path of ``import brackets "..."`` (relative to the current
    folder, not to the rule file).
    """
    overrides = dict(imports or {})
    used: set[str] = set()
    globs: list[tuple[str, tuple[str, ...]]] = []
    parsed_files: list[nodes.File] = []
    sources: list[Source] = []
    diags: list[Diagnostic] = []
    seen: set[str] = set()

    def visit(source: Source, imported_by: Span | None) -> None:
        key = files.key(source.path)
        if key in seen:
            return
        seen.add(key)
        parsed, syntax = parse_source(source)
        parsed_files.append(parsed)
        sources.append(source)
        diags.extend(syntax)
        if imported_by is not None:
            for decl in parsed.decls:
                if isinstance(decl, nodes.Header):
                    diags.append(
                        Diagnostic(
                            code="RL0209",
                            message=f"`{source.path}` is imported, so it cannot have a `ruleset` header",
                            span=decl.name_span,
                            hint="keep tables, units and definitions in imported files; "
                            "the header belongs to the ruleset that imports them",
                        )
                    )
        base = os.path.dirname(source.path)
        for decl in parsed.decls:
            if not isinstance(decl, nodes.Import):
                continue
            if decl.name is not None and decl.name in overrides:
                used.add(decl.name)
                pattern = overrides[decl.name]
            else:
                pattern = os.path.join(base, decl.path)
            matches = sorted(files.glob(pattern)) if glob.has_magic(pattern) else [pattern]
            if glob.has_magic(pattern):
                globs.append((pattern, tuple(matches)))
            if not matches or not all(files.isfile(m) for m in matches):
                diags.append(
                    Diagnostic(
                        code="RL0208",
                        message=f"cannot import `{pattern}`: no such file",
                        span=decl.span,
                        hint=f"paths are relative to this file's folder ({base or '.'})",
                    )
                )
                continue
            for match in matches:
                visit(files.read(match), decl.span)

    visit(Source(path, text) if text is not None else files.read(path), None)
    for name in sorted(set(overrides) - used):
        diags.append(
            Diagnostic(
                code="RL0208",
                message=f"no import named `{name}` to redirect in {path}",
                span=None,
                hint='name an import in the rule file: `import brackets "brackets/*.rules"`',
            )
        )
    return Loaded(tuple(parsed_files), tuple(sources), tuple(diags), tuple(globs))
