"""Versions of a ruleset and the one in force on a date.

Input: a ruleset reference as a user writes it. Output: the :class:`Version`
it names, ready to load.

A ruleset's history lives in one of two places:

- **a folder**: every ``*.rules`` file directly in it that declares the same
  ``ruleset NAME`` is a version, each with its own ``effective`` date (and its
  own imports, so a version keeps the tier tables it was published with);
- **git**: every commit that changed the ruleset file or a file it imports is
  a version, dated by the ``effective`` line of the ruleset file in that commit.

The version in force on a day is the one with the latest ``effective`` date on
or before it; in git, of the commits with that date, the newest (a correction
republished under the same date replaces the first). The working tree counts
as the newest commit when it differs from ``HEAD``.

References (``rulelang eval``, ``rulelang diff``): ``PATH`` (a file as it is,
or a folder of versions: the one in force today), ``PATH@YYYY-MM-DD`` (the
version in force on that day) and ``PATH@REV`` (the file at a git revision:
``HEAD~1``, ``origin/main``, a tag or a commit). A git revision is read from
git's object store, imports included, without touching the working tree; the
messages about it name files as git does, ``a1b2c3d:rulesets/usdm.rules``.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import itertools
import os
import posixpath
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from rulelang.check import check_file
from rulelang.check.loader import DISK, Disk, Files
from rulelang.errors import Diagnostic, RulelangError
from rulelang.source import Source

if TYPE_CHECKING:
    from rulelang import nodes
    from rulelang.api import Ruleset

__all__ = ["History", "Version", "VersionError", "history", "resolve"]

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_HEADER = re.compile(r"^ruleset[ \t]+(\w+)", re.MULTILINE)


class VersionError(RulelangError):
    """A reference that names no version: no such file or revision, no version in force, a bad date."""


def parse_date(text: str, what: str = "date") -> dt.date:
    """``YYYY-MM-DD`` as a date, or a :class:`VersionError` saying what was expected."""
    if _DATE.fullmatch(text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError as err:
            raise VersionError(f"{what} {text!r} is not a calendar date ({err})") from None
    raise VersionError(f"{what} {text!r}: expected a date written YYYY-MM-DD, e.g. 2024-06-01")


def today() -> dt.date:
    """Today in UTC, the calendar exchanges publish effective dates in."""
    return dt.datetime.now(dt.UTC).date()


# ----------------------------------------------------------------- versions


@attrs.frozen
class Version:
    """One version of a ruleset: where it is read from and the date it takes effect."""

    name: str  # the `ruleset` name
    path: str  # as the loader reads it: a file, or REV:path in git
    effective: dt.date | None
    version: str | None  # the header's `version` text
    commit: str | None = None  # the full commit id, for a version read from git
    committed: str | None = None  # the commit's date (ISO 8601), for a version read from git
    files: Files = attrs.field(default=DISK, eq=False, repr=False)

    def describe(self) -> str:
        """``path (name 1.2.0, effective 2024-06-01)``: how reports name a version."""
        parts = [self.name + (f" {self.version}" if self.version else "")]
        if self.effective is not None:
            parts.append(f"effective {self.effective.isoformat()}")
        return f"{self.path} ({', '.join(parts)})"

    def load(self, imports: Mapping[str, str] | None = None) -> Ruleset:
        """Check and compile this version (a file on disk goes through the persistent cache)."""
        from rulelang import api

        if isinstance(self.files, Disk):
            return api.load(self.path, imports=imports)
        checked, warnings = check_file(self.path, None, imports, self.files)
        return api.Ruleset(checked, warnings)


@attrs.frozen
class History:
    """Every version of one ruleset, oldest first (by effective date; in git, then by commit order)."""

    name: str
    versions: tuple[Version, ...]
    where: str  # "folder F", "git history of F", or the single file

    def in_force(self, day: dt.date) -> Version:
        """The version with the latest effective date on or before ``day`` (the newest of equals).

        A version without an ``effective`` line counts as in force from the beginning: a file that
        never had one, or the commits before a date was first written into it.
        """
        best: Version | None = None
        for v in self.versions:  # oldest first: `>=` keeps the newest of equal dates
            since = v.effective or dt.date.min
            if since <= day and (best is None or since >= (best.effective or dt.date.min)):
                best = v
        if best is None:
            first = min((v.effective for v in self.versions if v.effective is not None), default=None)
            when = f"; the first takes effect on {first.isoformat()}" if first else ""
            raise VersionError(f"no version of {self.name} is in force on {day.isoformat()} ({self.where}{when})")
        return best


# ----------------------------------------------------------------- reading headers


def _header(source: Source) -> nodes.Header | None:
    """A rule file's `ruleset` header, or None (an imported table); files without one are not parsed."""
    from rulelang import nodes
    from rulelang.syntax import parse_source

    if not _HEADER.search(source.text):
        return None
    parsed, _ = parse_source(source)
    return next((d for d in parsed.decls if isinstance(d, nodes.Header)), None)


def _version_of(
    source: Source, files: Files = DISK, commit: str | None = None, committed: str | None = None
) -> Version | None:
    """The version a rule file declares, or None when it has no `ruleset` header (an imported table)."""
    header = _header(source)
    if header is None:
        return None
    effective = None
    if header.effective is not None:
        try:
            effective = dt.date.fromisoformat(header.effective)
        except ValueError:
            raise VersionError(f"{source.path}: effective {header.effective} is not a calendar date") from None
    return Version(header.name, source.path, effective, header.version, commit, committed, files)


def _folder_history(folder: str, names: Sequence[str], read: Files, name: str | None = None) -> History:
    """The versions among ``names`` (files of ``folder``); of ruleset ``name`` when given."""
    found: list[Version] = []
    for entry in sorted(names):
        path = posixpath.join(folder, entry) if isinstance(read, GitTree) else os.path.join(folder, entry)
        v = _version_of(read.read(path), read)
        if v is not None and (name is None or v.name == name):
            found.append(v)
    if not found:
        raise VersionError(f"{folder}: no ruleset file (a .rules file with a `ruleset` header) in this folder")
    kinds = sorted({v.name for v in found})
    if len(kinds) > 1:
        raise VersionError(
            f"{folder}: the folder holds several rulesets ({', '.join(kinds)}); "
            "a folder of versions holds one, or name one of its files"
        )
    if len(found) > 1:
        for v in found:
            if v.effective is None:
                raise VersionError(
                    f"{v.path}: one of several versions of {v.name} in {folder}, so its header needs "
                    "`effective YYYY-MM-DD`, the day it takes effect"
                )
    found.sort(key=lambda v: v.effective or dt.date.min)
    for a, b in itertools.pairwise(found):
        if a.effective == b.effective:
            raise VersionError(
                f"{a.path} and {b.path} both take effect on {b.effective}: "
                "two versions of one ruleset need different effective dates"
            )
    return History(found[0].name, tuple(found), f"folder {folder}")


def _disk_names(folder: str) -> list[str]:
    return [f for f in os.listdir(folder) if f.endswith(".rules") and os.path.isfile(os.path.join(folder, f))]


# ----------------------------------------------------------------- git


def _git(folder: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", folder, *args], capture_output=True, text=True, check=False)


class Repo:
    """A git repository, driven through the `git` command."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._batch: subprocess.Popen[bytes] | None = None

    @classmethod
    def of(cls, path: str) -> Repo | None:
        """The repository holding ``path``, or None (not in one, or no `git` on this machine)."""
        if shutil.which("git") is None:
            return None
        folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
        done = _git(folder, "rev-parse", "--show-toplevel")
        return cls(done.stdout.strip()) if done.returncode == 0 else None

    def git(self, *args: str) -> str:
        done = _git(self.root, *args)
        if done.returncode != 0:
            raise VersionError(f"git {' '.join(args)}: {done.stderr.strip() or 'failed'}")
        return done.stdout

    def rel(self, path: str) -> str:
        """``path`` relative to the repository's top folder, with ``/``."""
        return os.path.relpath(os.path.realpath(path), os.path.realpath(self.root)).replace(os.sep, "/")

    def commit(self, rev: str) -> tuple[str, str, str]:
        """The full id, short id and commit date of revision ``rev``."""
        done = _git(self.root, "log", "-1", "--format=%H %h %cI", rev + "^{commit}", "--")
        if done.returncode != 0 or not done.stdout.strip():
            raise VersionError(f"{rev!r} is not a git revision of {self.root} (a commit, branch, tag or HEAD~N)")
        full, short, date = done.stdout.split()
        return full, short, date

    def blob(self, sha: str) -> bytes:
        """The content of one object, through one long-lived `git cat-file --batch`."""
        if self._batch is None:
            self._batch = subprocess.Popen(
                ["git", "-C", self.root, "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
        assert self._batch.stdin is not None and self._batch.stdout is not None
        self._batch.stdin.write(sha.encode() + b"\n")
        self._batch.stdin.flush()
        header = self._batch.stdout.readline().split()
        if len(header) != 3:
            raise VersionError(f"git cat-file: no object {sha}")
        data = self._batch.stdout.read(int(header[2]) + 1)
        return data[:-1]

    def close(self) -> None:
        if self._batch is not None:
            assert self._batch.stdin is not None
            self._batch.stdin.close()
            self._batch.wait()
            self._batch = None

    def __del__(self) -> None:
        self.close()


class GitTree:
    """The files of one commit as the loader sees them: paths ``SHORT:relative/path`` (git's own notation)."""

    def __init__(self, repo: Repo, commit: str, short: str) -> None:
        self.repo = repo
        self.commit = commit
        self.prefix = short + ":"
        self._blobs: dict[str, str] | None = None

    @property
    def blobs(self) -> dict[str, str]:
        if self._blobs is None:
            out = self.repo.git("ls-tree", "-r", "-z", "--full-tree", self.commit)
            blobs = {}
            for item in out.split("\0"):
                if item:
                    meta, path = item.split("\t", 1)
                    _, kind, sha = meta.split()
                    if kind == "blob":
                        blobs[path] = sha
            self._blobs = blobs
        return self._blobs

    def rel(self, path: str) -> str | None:
        if not path.startswith(self.prefix):
            return None
        rel = posixpath.normpath(path[len(self.prefix) :])
        return None if rel.startswith("../") or rel == ".." else rel

    def read(self, path: str) -> Source:
        rel = self.rel(path)
        if rel is None or rel not in self.blobs:
            raise VersionError(f"{path}: no such file in commit {self.prefix[:-1]}")
        return Source(path, self.repo.blob(self.blobs[rel]).decode("utf-8"))

    def glob(self, pattern: str) -> list[str]:
        rel = self.rel(pattern)
        if rel is None:
            return []
        parts = rel.split("/")
        return [
            self.prefix + path
            for path in self.blobs
            if len(comps := path.split("/")) == len(parts) and all(map(_component_matches, comps, parts))
        ]

    def isfile(self, path: str) -> bool:
        rel = self.rel(path)
        return rel is not None and rel in self.blobs

    def isdir(self, path: str) -> bool:
        rel = self.rel(path)
        return rel is not None and any(p.startswith(rel.rstrip("/") + "/") for p in self.blobs)

    def key(self, path: str) -> str:
        return self.prefix + (self.rel(path) or path)

    def listdir(self, folder: str) -> list[str]:
        rel = (self.rel(folder) or "").rstrip("/")
        return [p[len(rel) + 1 :] for p in self.blobs if posixpath.dirname(p) == rel and p.endswith(".rules")]


def _component_matches(name: str, pattern: str) -> bool:
    """One path component against one glob component, as :mod:`glob` does (``*`` skips dot files)."""
    if name.startswith(".") and not pattern.startswith("."):
        return False
    return fnmatch.fnmatchcase(name, pattern)


def _git_history(path: str, repo: Repo, imports: Mapping[str, str] | None) -> History:
    """Every commit that changed the ruleset at ``path`` or a file it imports, oldest first."""
    from rulelang.check.loader import load

    rel = repo.rel(path)
    loaded = load(path, None, imports)
    watched = {rel} | {repo.rel(s.path) for s in loaded.sources}
    watched |= {repo.rel(os.path.dirname(pattern) or ".") for pattern, _ in loaded.globs}
    log = repo.git("log", "--format=%H %h %cI", "--", *sorted(watched))
    versions: list[Version] = []
    for line in reversed(log.splitlines()):
        full, short, date = line.split()
        tree = GitTree(repo, full, short)
        if not tree.isfile(tree.prefix + rel):
            continue
        v = _version_of(tree.read(tree.prefix + rel), tree, full, date)
        if v is not None:
            versions.append(v)
    changed = repo.git("status", "--porcelain", "--untracked-files=all", "--", *sorted(watched)).strip()
    if changed or not versions:
        current = _version_of(DISK.read(path))
        if current is not None:
            versions.append(current)
    if not versions:
        raise VersionError(f"{path}: not a ruleset file (no `ruleset` header)")
    return History(versions[-1].name, tuple(versions), f"git history of {path}")


# ----------------------------------------------------------------- references


def history(path: str, source: str = "auto", imports: Mapping[str, str] | None = None) -> History:
    """The versions of the ruleset at ``path`` (a file or a folder of versions).

    ``source``: ``folder`` (the files beside it that declare the same ruleset), ``git``
    (the commits that changed it or its imports), or ``auto``: the folder when it holds
    more than one version, else git when the file is in a repository, else the file alone.
    """
    if source not in ("auto", "folder", "git"):
        raise VersionError(f"history {source!r}: expected auto, folder or git")
    if os.path.isdir(path):
        return _folder_history(path, _disk_names(path), DISK)
    if not os.path.isfile(path):
        raise VersionError(f"{path}: no such file or folder")
    this = _version_of(DISK.read(path))
    if this is None:
        raise VersionError(f"{path}: not a ruleset file (no `ruleset` header)")
    folder = os.path.dirname(path) or "."
    if source == "folder" or source == "auto":
        beside = _folder_history(folder, _disk_names(folder), DISK, this.name)
        if source == "folder" or len(beside.versions) > 1:
            return beside
    repo = Repo.of(path)
    if repo is not None:
        return _git_history(path, repo, imports)
    if source == "git":
        raise VersionError(f"{path} is not in a git repository")
    return History(this.name, (this,), path)


def split(reference: str) -> tuple[str, str | None]:
    """``PATH@AT`` into the path and what follows the last ``@`` (a date or a git revision)."""
    if os.path.exists(reference) or "@" not in reference:
        return reference, None
    path, _, at = reference.rpartition("@")
    return path, at


def resolve(
    reference: str, as_of: dt.date | None = None, source: str = "auto", imports: Mapping[str, str] | None = None
) -> Version:
    """The version a reference names: ``PATH``, ``PATH@YYYY-MM-DD`` or ``PATH@REV`` (see the module's notes).

    ``as_of`` picks the version in force on that day; a folder without a date means today.
    """
    path, at = split(reference)
    if at is not None and _DATE.fullmatch(at):
        if as_of is not None:
            raise VersionError(f"{reference} names a date and --as-of gives another: give one")
        as_of, at = parse_date(at, reference + ":"), None
    if at is not None:
        return _at_revision(reference, path, at, as_of)
    if os.path.isdir(path):
        return history(path, source, imports).in_force(as_of or today())
    if not os.path.isfile(path):
        raise VersionError(f"{path}: no such file or folder")
    if as_of is None:
        v = _version_of(DISK.read(path))
        return v if v is not None else Version(os.path.basename(path).removesuffix(".rules"), path, None, None)
    return history(path, source, imports).in_force(as_of)


def _at_revision(reference: str, path: str, rev: str, as_of: dt.date | None) -> Version:
    if not rev:
        raise VersionError(f"{reference}: nothing after @ (a date YYYY-MM-DD or a git revision)")
    repo = Repo.of(path if os.path.exists(path) else os.path.dirname(path) or ".")
    if repo is None:
        raise VersionError(f"{reference}: {path} is not in a git repository, so @{rev} names no version")
    full, short, date = repo.commit(rev)
    tree = GitTree(repo, full, short)
    here = tree.prefix + repo.rel(path)
    if tree.isdir(here):
        return _folder_history(here, tree.listdir(here), tree).in_force(as_of or today())
    if not tree.isfile(here):
        raise VersionError(f"{reference}: {repo.rel(path)} is not in revision {rev} ({short})")
    if as_of is not None:
        raise VersionError(f"{reference}: a git revision names one version; --as-of picks from a history, not both")
    v = _version_of(tree.read(here), tree, full, date)
    if v is None:
        raise VersionError(f"{here}: not a ruleset file (no `ruleset` header)")
    return v


# ----------------------------------------------------------------- checking a folder of versions


def history_diagnostics(paths: Sequence[str]) -> list[Diagnostic]:
    """What is wrong with the histories among ``paths`` (rule files on disk): files of one folder that
    declare the same ruleset are its versions, so each needs an effective date (RL0211) and no two
    may share one (RL0212). `rulelang check` reports them with the files' other diagnostics."""
    groups: dict[tuple[str, str], list[tuple[str, nodes.Header]]] = {}
    for path in paths:
        header = _header(DISK.read(path))
        if header is not None:
            key = (os.path.dirname(os.path.abspath(path)), header.name)
            groups.setdefault(key, []).append((path, header))
    out: list[Diagnostic] = []
    for (_, name), members in groups.items():
        if len(members) < 2:
            continue
        others = ", ".join(os.path.basename(p) for p, _ in members)
        first_on: dict[str, str] = {}
        for path, h in sorted(members, key=lambda m: m[0]):
            if h.effective is None:
                out.append(
                    Diagnostic(
                        code="RL0211",
                        message=f"`{name}` has several versions in this folder ({others}), and this one has no "
                        "effective date",
                        span=h.name_span,
                        hint="add `effective YYYY-MM-DD` to the header: the day this version takes effect",
                    )
                )
            elif h.effective in first_on:
                out.append(
                    Diagnostic(
                        code="RL0212",
                        message=f"{first_on[h.effective]} is also `{name}` effective {h.effective}: "
                        "two versions cannot take effect on the same day",
                        span=h.effective_span or h.name_span,
                        hint="give the later version its own date, or merge the two files",
                    )
                )
            else:
                first_on[h.effective] = os.path.basename(path)
    return out
