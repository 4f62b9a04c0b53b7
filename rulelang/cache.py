"""A persistent cache of checked rulesets, so loading a large ruleset again is near-instant.

Input: a ruleset path (and its import redirects). Output: the checked IR and
its warnings, from the cache when every file it read is unchanged, every
import pattern matches the same files, and rulelang itself is unchanged;
otherwise checked afresh and stored. Rulesets with errors are never cached.

Where: ``$RULELANG_CACHE_DIR``, else ``$XDG_CACHE_HOME/rulelang``, else
``~/.cache/rulelang``. ``RULELANG_CACHE=0`` turns it off. Entries are pickles,
read only from that folder, which belongs to the user running rulelang.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import os
import pickle
import sys
import tempfile
from collections.abc import Mapping

import attrs

from rulelang import ir
from rulelang.check import check_file
from rulelang.errors import Diagnostic


@attrs.frozen
class _Entry:
    files: tuple[tuple[str, str], ...]  # path, sha256 of its content
    globs: tuple[tuple[str, tuple[str, ...]], ...]
    ruleset: ir.Ruleset
    warnings: tuple[Diagnostic, ...]


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


def load_checked(path: str, imports: Mapping[str, str] | None = None) -> tuple[ir.Ruleset, list[Diagnostic]]:
    """Check ``path`` (see :func:`rulelang.check.check_file`), through the cache when it is on."""
    folder = cache_dir()
    if folder is None:
        return check_file(path, None, imports)
    redirects = [f"{k}={v}" for k, v in sorted((imports or {}).items())]
    # the path as given (and where from): the ruleset's messages name files the way the user did
    key = hashlib.sha256("\0".join([_schema(), os.getcwd(), path, *redirects]).encode()).hexdigest()
    entry_path = os.path.join(folder, key[:2], key + ".pickle")
    entry = _read(entry_path)
    if entry is not None and _fresh(entry):
        return entry.ruleset, list(entry.warnings)
    ruleset, warnings = check_file(path, None, imports)
    files = tuple((f, _sha(f) or "") for f in ruleset.files)
    _write(entry_path, _Entry(files=files, globs=ruleset.globs, ruleset=ruleset, warnings=tuple(warnings)))
    return ruleset, warnings


def _fresh(entry: _Entry) -> bool:
    if any(_sha(path) != sha for path, sha in entry.files):
        return False
    return all(tuple(sorted(glob.glob(pattern))) == matches for pattern, matches in entry.globs)


def _read(path: str) -> _Entry | None:
    try:
        with open(path, "rb") as fh:
            entry = pickle.load(fh)  # our own cache folder, written by this module
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError, ValueError):
        return None
    return entry if isinstance(entry, _Entry) else None


def _write(path: str, entry: _Entry) -> None:
    """Store atomically (a temporary file, then a rename); a cache that cannot be written is skipped."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(entry, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError:
        return
