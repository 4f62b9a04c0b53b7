"""Rulebooks: one documentation page per ruleset, in HTML or Markdown, in English or Chinese.

Input: rule files. Output: the files of a small site (see :mod:`.render`):
a page per ruleset and an index, every figure on them computed by the engine
when the pages are built. The stages: :mod:`.page` turns a checked and
compiled ruleset into page data (with :mod:`.math` for formulas,
:mod:`.tables` and :mod:`.svg` for tables and charts, :mod:`.worked` for the
examples), and :mod:`.render` lays the pages out with Jinja templates;
:mod:`.i18n` supplies the catalogues and number formats of each language.
"""

from __future__ import annotations

import os
import pathlib
import re
from collections.abc import Iterable, Mapping, Sequence

import attrs

from rulelang import api
from rulelang.docs.i18n import LANGS, Locale, Missing
from rulelang.docs.page import Page, VersionLink, build_page
from rulelang.docs.render import FORMATS, render_site

_HEADER = re.compile(r"^ruleset[ \t]", re.MULTILINE)


@attrs.frozen
class Site:
    """The rendered files (relative path → bytes) and, per page, the texts missing in its language."""

    files: Mapping[str, bytes]
    missing: Mapping[str, tuple[Missing, ...]]


def has_header(path: str) -> bool:
    """Whether the file is a ruleset (has a ``ruleset`` header), not a file of shared tables."""
    with open(path, encoding="utf-8") as fh:
        return _HEADER.search(fh.read()) is not None


def ruleset_files(paths: Iterable[str]) -> list[str]:
    """The files to document: folders give their ``*.rules`` rulesets (sorted); files are kept."""
    out: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs.sort()
                found = (os.path.join(root, f) for f in sorted(files) if f.endswith(".rules"))
                out += [f for f in found if has_header(f)]
        else:
            out.append(p)
    return out


def build(paths: Sequence[str], fmt: str = "html", lang: str = "en", imports: Mapping[str, str] | None = None) -> Site:
    """Check, compile and document the rulesets at ``paths`` (files or folders)."""
    if lang not in LANGS:
        raise ValueError(f"unsupported language {lang!r} (use one of: {', '.join(LANGS)})")
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (use one of: {', '.join(FORMATS)})")
    pages: list[Page] = []
    for path in ruleset_files(paths):
        rs = api.load(path, imports=imports)
        pages.append(build_page(rs, Locale(lang)))
    unique = _versioned(pages)
    return Site(files=render_site(unique, fmt, lang), missing={p.slug: p.missing for p in unique})


def _versioned(pages: list[Page]) -> list[Page]:
    """Pages of one ruleset name are its versions: each is named by its effective date (or version)
    and links to the others; any other clash of names gets a number."""
    by_name: dict[str, list[int]] = {}
    for k, page in enumerate(pages):
        by_name.setdefault(page.name, []).append(k)
    out = list(pages)
    for ks in by_name.values():
        if len(ks) < 2:
            continue
        ks.sort(key=lambda k: (pages[k].effective or "", pages[k].version or ""))
        slugs = [f"{pages[k].slug}-{pages[k].effective or pages[k].version or n + 1}" for n, k in enumerate(ks)]
        for k, slug in zip(ks, slugs, strict=True):
            links = tuple(
                VersionLink(slug=s, version=pages[j].version, effective=pages[j].effective, current=j == k)
                for j, s in zip(ks, slugs, strict=True)
            )
            out[k] = attrs.evolve(pages[k], slug=slug, versions=links)
    seen: dict[str, int] = {}
    for k, page in enumerate(out):
        n = seen.get(page.slug, 0)
        seen[page.slug] = n + 1
        if n:
            out[k] = attrs.evolve(page, slug=f"{page.slug}-{n + 1}")
    return out


def write(site: Site, out_dir: str) -> list[str]:
    """Write the site's files under ``out_dir``; return their paths."""
    written = []
    for rel, data in site.files.items():
        target = pathlib.Path(out_dir, rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written.append(str(target))
    return written


__all__ = ["FORMATS", "LANGS", "Site", "build", "has_header", "ruleset_files", "write"]
