"""A persistent cache of checked rulesets, so loading a large ruleset again is near-instant.

Input: a ruleset path (and its import redirects). Output: the ruleset, from the
cache when every file it read is unchanged, every import pattern matches the
same files, and rulelang itself is unchanged; otherwise checked afresh and
stored. Rulesets with errors are never cached.

Where: ``$RULELANG_CACHE_DIR``, else ``$XDG_CACHE_HOME/rulelang``, else
``~/.cache/rulelang``. ``RULELANG_CACHE=0`` turns it off. Entries are pickles,
read only from that folder, which belongs to the user running rulelang.

An entry is one pickle stream of three parts, read in turn by one unpickler
(so that objects the parts share are shared again):

1. what makes it fresh: the files read with their sha256, the import patterns and their matches;
2. what evaluating needs: the IR without its tables and examples, the warnings, and the
   compiled function as data (:attr:`~rulelang.backends.codegen.CompiledFunction.artifact`:
   its source, marshalled code and tables as flat tuples);
3. the tables and examples, read only when something asks for the whole IR
   (:attr:`rulelang.Ruleset.ir`: the interpreter, ``explain``, docs, ...).

So a load from the cache reads part 3 of a 500-symbol ruleset (most of the entry) only
when needed, generates no code, and never imports the checker or its parser.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import io
import os
import pickle
import sys
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from rulelang import ir
from rulelang.errors import Diagnostic

if TYPE_CHECKING:
    from rulelang.api import Ruleset


def check_file(
    path: str, text: str | None = None, imports: Mapping[str, str] | None = None
) -> tuple[ir.Ruleset, list[Diagnostic]]:
    """:func:`rulelang.check.check_file`, imported only on a cache miss (it brings the parser)."""
    from rulelang.check import check_file as check

    return check(path, text, imports)


def cache_dir() -> str | None:
    """The cache folder, or None when caching is off."""
    if os.environ.get("RULELANG_CACHE", "1") == "0":
        return None
    base = os.environ.get("RULELANG_CACHE_DIR")
    if base:
        return base
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(xdg, "rulelang")


@functools.cache
def _schema() -> str:
    """What rulelang itself is: a change to any of its files makes every entry stale."""
    root = os.path.dirname(os.path.abspath(__file__))
    h = hashlib.sha256(sys.version.encode())
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            if name.endswith((".py", ".lark")):
                st = os.stat(os.path.join(folder, name))
                h.update(f"{os.path.relpath(os.path.join(folder, name), root)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()


def _sha(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return None


def _entry_path(folder: str, path: str, imports: Mapping[str, str] | None) -> str:
    redirects = [f"{k}={v}" for k, v in sorted((imports or {}).items())]
    # the path as given (and where from): the ruleset's messages name files the way the user did
    key = hashlib.sha256("\0".join([_schema(), os.getcwd(), path, *redirects]).encode()).hexdigest()
    return os.path.join(folder, key[:2], key + ".pickle")


def load_ruleset(path: str, imports: Mapping[str, str] | None = None) -> Ruleset:
    """Load ``path`` as :func:`rulelang.load` does, through the cache when it is on."""
    from rulelang.api import Ruleset

    folder = cache_dir()
    if folder is None:
        return Ruleset(*check_file(path, None, imports))
    entry_path = _entry_path(folder, path, imports)
    cached = _read(entry_path, path, imports)
    if cached is not None:
        return cached
    checked, warnings = check_file(path, None, imports)
    rs = Ruleset(checked, warnings)
    _write(entry_path, checked, warnings, rs.compiled.artifact)
    return rs


def load_checked(path: str, imports: Mapping[str, str] | None = None) -> tuple[ir.Ruleset, list[Diagnostic]]:
    """Check ``path`` (see :func:`rulelang.check.check_file`), through the cache when it is on."""
    rs = load_ruleset(path, imports)
    return rs.ir, list(rs.warnings)


def _fresh(files: tuple[tuple[str, str], ...], globs: tuple[tuple[str, tuple[str, ...]], ...]) -> bool:
    if any(_sha(path) != sha for path, sha in files):
        return False
    return all(tuple(sorted(glob.glob(pattern))) == matches for pattern, matches in globs)


_UNREADABLE = (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError, ValueError)


def _read(path: str, source: str, imports: Mapping[str, str] | None) -> Ruleset | None:
    """The ruleset ``source`` from the entry at ``path``, if it is there, readable and fresh."""
    from rulelang.api import Ruleset

    try:
        with open(path, "rb") as fh:
            data = fh.read()
        # our own cache folder, written by this module
        unpickler = pickle.Unpickler(io.BytesIO(data))
        files, globs = unpickler.load()
        if not _fresh(files, globs):
            return None
        summary, warnings, artifact = unpickler.load()
        if not isinstance(summary, ir.Ruleset):
            return None
    except _UNREADABLE:
        return None

    return Ruleset.restored(summary, list(warnings), _Rest(unpickler, summary, source, imports), artifact)


class _Rest:
    """Part 3 of an entry, read when first called: the whole IR."""

    def __init__(
        self, unpickler: pickle.Unpickler, summary: ir.Ruleset, source: str, imports: Mapping[str, str] | None
    ) -> None:
        self.unpickler: pickle.Unpickler | None = unpickler
        self.summary = summary
        self.source = source
        self.imports = imports
        self.ruleset: ir.Ruleset | None = None
        self.lock = threading.Lock()

    def __call__(self) -> ir.Ruleset:
        with self.lock:  # Ruleset.ir asks once, but two threads could ask first together
            if self.ruleset is None:
                assert self.unpickler is not None
                try:
                    # the rest of the stream, by the same unpickler: what it shares with part 2 stays shared
                    tables, examples = self.unpickler.load()
                    self.ruleset = attrs.evolve(self.summary, tables=tables, examples=examples)
                except _UNREADABLE:  # the entry was read whole before: only a damaged entry gets here
                    self.ruleset = check_file(self.source, None, self.imports)[0]
                self.unpickler = None
            return self.ruleset


def _write(path: str, checked: ir.Ruleset, warnings: list[Diagnostic], artifact: Any) -> None:
    """Store atomically (a temporary file, then a rename); a cache that cannot be written is skipped."""
    import tempfile  # here: it imports shutil and random, which a load from the cache never needs

    files = tuple((f, _sha(f) or "") for f in checked.files)
    summary = attrs.evolve(checked, tables=(), examples=())
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            pickler = pickle.Pickler(fh, protocol=pickle.HIGHEST_PROTOCOL)
            pickler.dump((files, checked.globs))
            pickler.dump((summary, tuple(warnings), _interned(artifact)))
            pickler.dump((checked.tables, checked.examples))
        os.replace(tmp, path)
    except OSError:
        return


def _interned(value: Any) -> Any:
    """``value`` (plain data) with equal decimals made one object, so that the pickle holds each once.

    Equal means the same text (``1.0`` and ``1`` stay apart: a lookup returns its value as written).
    A container met twice stays one container.
    """
    from decimal import Decimal

    decimals: dict[str, Decimal] = {}
    done: dict[int, Any] = {}

    def intern(v: Any) -> Any:
        t = type(v)
        if t is Decimal:
            return decimals.setdefault(str(v), v)
        if t is not tuple and t is not dict:
            return v
        got = done.get(id(v))
        if got is None:
            got = tuple(map(intern, v)) if t is tuple else {k: intern(x) for k, x in v.items()}
            done[id(v)] = got
        return got

    return intern(value)
