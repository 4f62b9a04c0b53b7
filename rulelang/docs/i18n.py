"""Languages of the generated docs: message catalogues, texts of the rule files, number formats.

Input: a language code (``en``, ``zh``) and the values and texts of a ruleset.
Output: a :class:`Locale` that translates the fixed text of the docs (through
the ``.po`` catalogues under ``locale/``, read with Babel at run time, so no
compile step is needed), picks a rule file's text in the language with
English as the fallback (recording what was missing), and formats numbers
for the locale without ever rounding: decimals are formatted in a
100-digit context, so the 34 digits the engine computes all reach the page.
"""

from __future__ import annotations

import decimal
import functools
import gettext
import io
import pathlib
import re
from decimal import Decimal

import attrs
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_compact_decimal, format_decimal, format_percent
from babel.support import Translations

from rulelang import nodes
from rulelang.ir import Value
from rulelang.types import EnumType, NumType, Type
from rulelang.values import NoSolution

LANGS = ("en", "zh")
_BABEL_LOCALE = {"en": "en", "zh": "zh_Hans_CN"}
LOCALE_DIR = pathlib.Path(__file__).parent / "locale"
DOMAIN = "rulelang"

# Babel quantizes in the current decimal context: give it room for every digit the engine keeps
_EXACT = decimal.Context(prec=200, Emin=decimal.MIN_EMIN, Emax=decimal.MAX_EMAX)


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without translating it here."""
    return message


#: The labels the checker gives the built-in actions, translated through the catalogue.
BUILTIN_ACTION_LABELS = (
    N_("Notify the account holder"),
    N_("Restrict new orders"),
    N_("Reduce-only: new orders may only reduce positions"),
    N_("Partial liquidation"),
    N_("Full liquidation"),
)


@functools.cache
def translations(lang: str) -> gettext.NullTranslations:
    """The catalogue of ``lang`` (English is the source language: no catalogue)."""
    path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.is_file():
        return gettext.NullTranslations()
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=_BABEL_LOCALE[lang], domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(buf, domain=DOMAIN)


@attrs.frozen
class Missing:
    """A text of the rule file with no version in the page's language (English was shown)."""

    where: str  # e.g. "definition margin_ratio"
    what: str  # label, description, title

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class Locale:
    """Translate and format for one language; collects the rule-file texts missing in it."""

    def __init__(self, lang: str) -> None:
        if lang not in LANGS:
            raise ValueError(f"unsupported language {lang!r} (supported: {', '.join(LANGS)})")
        self.lang = lang
        self.babel = _BABEL_LOCALE[lang]
        self.translations = translations(lang)
        self.missing: list[Missing] = []

    # ------------------------------------------------------------ fixed text
    def _(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)

    def split(self, message: str) -> list[str]:
        """A translated template split at its ``{name}`` placeholders: text, name, text, name, ..."""
        return _PLACEHOLDER.split(message)

    # ------------------------------------------------------------ rule-file texts
    def text(self, value: nodes.Text | None, where: str, what: str, fallback: str | None = None) -> str | None:
        """``value`` in this language; else English, and the miss is recorded; else ``fallback``."""
        if value is None:
            return fallback
        own = value.get(self.lang)
        if own is not None:
            return own
        english = value.get("en")
        if english is not None and self.lang != "en":
            builtin = self._(english) if english in BUILTIN_ACTION_LABELS else None
            if builtin is not None and builtin != english:
                return builtin
            self.missing.append(Missing(where, what))
        return english if english is not None else fallback

    # ------------------------------------------------------------ numbers
    def number(self, d: Decimal) -> str:
        """``d`` with the locale's separators, every digit kept."""
        with decimal.localcontext(_EXACT):
            return format_decimal(d.normalize() if d else Decimal(0), locale=self.babel, decimal_quantization=False)

    def percent(self, d: Decimal) -> str:
        with decimal.localcontext(_EXACT):
            return format_percent(d.normalize() if d else Decimal(0), locale=self.babel, decimal_quantization=False)

    def compact(self, d: Decimal) -> str:
        """A short axis label: ``50K``, ``1.8B`` (``5万`` in Chinese)."""
        if abs(d) < 1_000:
            return self.number(d)
        with decimal.localcontext(_EXACT):
            return format_compact_decimal(d, locale=self.babel, fraction_digits=2)

    def value(self, v: Value | None, t: Type | None = None, unit: bool = True) -> str:
        """A value as a person reads it: ``1,050.5 USDT``, ``0.5%``, ``20x``, ``true``."""
        if v is None:
            return "—"
        if isinstance(v, bool):
            return self._("true") if v else self._("false")
        if isinstance(v, NoSolution):
            return self._("none ({reason})").replace("{reason}", v.reason)
        if isinstance(v, str):
            return v
        if isinstance(t, NumType) and t.dim is not None:
            if not t.dim.dimensionless:
                return f"{self.number(v)} {t.dim}" if unit else self.number(v)
            if t.style == "percent":
                return self.percent(v)
            if t.style == "leverage":
                return f"{self.number(v)}x"
        return self.number(v)

    def enum_values(self, t: EnumType) -> str:
        return " | ".join(t.values)


def humanize(name: str) -> str:
    """A name without a label, as words: ``margin_ratio`` → ``margin ratio``."""
    return name.rsplit(".", 1)[-1].replace("_", " ")


def inline(label: str) -> str:
    """A label as it reads inside a sentence: ``Maintenance margin`` → ``maintenance margin``.

    Words written with more capitals (``BTC tier``, ``PnL``) keep them.
    """
    first, _, rest = label.partition(" ")
    if len(first) > 1 and first[0].isupper() and not any(c.isupper() for c in first[1:]):
        return first[0].lower() + first[1:] + (" " + rest if rest else "")
    return label
