"""Render pages with Jinja: one self-contained HTML file, or Markdown with SVG files, per ruleset.

Input: :class:`~rulelang.docs.page.Page` objects. Output: the files of the
site, as ``{relative path: bytes}``; :func:`write` puts them in a folder.
HTML pages embed their CSS and SVG and load nothing (a Content-Security-Policy
says so to the browser); Markdown pages link their charts as ``.svg`` files
beside them, which GitHub and MkDocs both show. The same pages give the same
bytes: nothing depends on the time or the machine.
"""

from __future__ import annotations

import functools
import pathlib
import re
from collections.abc import Sequence

import jinja2
from markupsafe import Markup, escape

from rulelang.docs.i18n import Locale, translations
from rulelang.docs.math import Formula
from rulelang.docs.page import Page
from rulelang.highlight import highlight_html, stylesheet

TEMPLATES = pathlib.Path(__file__).parent / "templates"
FORMATS = ("html", "md")


# ----------------------------------------------------------------- HTML filters


def html_formula(f: Formula) -> Markup:
    out = []
    for s in f:
        t = escape(s.text)
        if s.code:
            t = Markup("<code>") + t + Markup("</code>")
        if s.strong:
            t = Markup("<strong>") + t + Markup("</strong>")
        if s.href:
            t = Markup('<a href="#') + escape(s.href) + Markup('">') + t + Markup("</a>")
        out.append(t)
    return Markup("").join(out)


def html_source(text: str) -> Markup:
    return Markup(highlight_html(text))


def html_svg(svg: str) -> Markup:
    return Markup(svg)


# ----------------------------------------------------------------- Markdown filters

_MD_SPECIAL = re.compile(r"([\\`*_\[\]>|#])")


def md_escape(text: object) -> str:
    """Text that Markdown shows as written (GitHub and Python-Markdown alike).

    ``<`` and ``~`` become entities: Python-Markdown (MkDocs) does not take ``\\<`` or ``\\~``
    as escapes and would show the backslash.
    """
    escaped = _MD_SPECIAL.sub(r"\\\1", str(text)).replace("<", "&lt;").replace("~", "&#126;")
    return escaped.replace("\n", " ")


def md_formula(f: Formula) -> str:
    out = []
    for s in f:
        t = f"`{s.text}`" if s.code else md_escape(s.text)
        if s.strong:
            t = f"**{t}**"
        if s.href:
            t = f"[{t}](#{s.href})"
        out.append(t)
    return "".join(out)


def md_fence(text: str) -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}rules\n{text}\n{fence}"


# ----------------------------------------------------------------- environments


@functools.cache
def environment(fmt: str, lang: str) -> jinja2.Environment:
    """The Jinja environment of one output format and language (templates and catalogue)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES / fmt)),
        autoescape=fmt == "html",
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    loc = Locale(lang)
    env.globals["lang"] = lang
    env.globals["number"] = loc.number
    if fmt == "html":
        env.filters["f"] = html_formula
        env.filters["source"] = html_source
        env.filters["svg"] = html_svg
        env.globals["pygments_css"] = Markup(stylesheet())
    else:
        env.filters["f"] = md_formula
        env.filters["md"] = md_escape
        env.filters["fence"] = md_fence
    return env


def render_site(pages: Sequence[Page], fmt: str, lang: str) -> dict[str, bytes]:
    """Every file of the site: the pages, the index, and (Markdown) the charts."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (use one of: {', '.join(FORMATS)})")
    env = environment(fmt, lang)
    files: dict[str, bytes] = {}
    ext = "html" if fmt == "html" else "md"
    page_t = env.get_template(f"page.{ext}")
    for page in pages:
        charts = {c.chart_id: f"{page.slug}/{c.chart_id}.svg" for c in page.charts()}
        files[f"{page.slug}.{ext}"] = _bytes(page_t.render(page=page, charts=charts))
        if fmt == "md":
            for c in page.charts():
                files[charts[c.chart_id]] = _bytes(c.svg + "\n")
    index = env.get_template(f"index.{ext}").render(pages=pages, ext=ext)
    files[f"index.{ext}"] = _bytes(index)
    return dict(sorted(files.items()))


def _bytes(text: str) -> bytes:
    # one newline at the end, no trailing spaces: stable under editors and `git diff --check`
    lines = [line.rstrip() for line in text.split("\n")]
    return ("\n".join(lines).rstrip("\n") + "\n").encode("utf-8")
