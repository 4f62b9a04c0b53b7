"""The message catalogue of the docs: which fixed texts there are, and which a language lacks.

Input: the docs package's Python modules and templates. Output: the messages
found in them (as ``pybabel extract -F babel.cfg -k N_`` finds them), and for
a language the messages its ``.po`` file does not translate. The tests use
this to keep every language complete; translators use the ``.pot`` file it
writes.
"""

from __future__ import annotations

import pathlib

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from rulelang.docs.i18n import DOMAIN, LOCALE_DIR

PACKAGE = pathlib.Path(__file__).parent
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None}
METHODS = [("**.py", "python"), ("**/templates/**", "jinja2")]
OPTIONS = {"**/templates/**": {"extensions": "jinja2.ext.i18n"}}


def extract() -> Catalog:
    """Every message of the docs' code and templates, sorted, without source lines (stable diffs)."""
    catalog = Catalog(domain=DOMAIN, project="rulelang", fuzzy=False)
    for _path, _line, message, comments, context in extract_from_dir(
        str(PACKAGE), METHODS, options_map=OPTIONS, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",)
    ):
        catalog.add(message, None, auto_comments=comments, context=context)
    return catalog


def untranslated(lang: str) -> list[str]:
    """The messages that ``lang``'s catalogue lacks or leaves empty."""
    with (LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as fh:
        po = read_po(fh)
    out = []
    for m in extract():
        if not m.id:
            continue  # the header
        have = po.get(m.id)
        strings = (have.string if have is not None else None) or ()
        if isinstance(strings, str):
            strings = (strings,)
        if have is None or not all(strings) or have.fuzzy:
            out.append(m.id if isinstance(m.id, str) else m.id[0])
    return sorted(out)
