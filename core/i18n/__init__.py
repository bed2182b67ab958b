"""Translations of every user-visible string into Kazakh, Russian and English.

English text is the message id; ``kk.po`` and ``ru.po`` beside this file are
ordinary gettext catalogs that translators can edit with any PO tool. They are
read directly (no compiled .mo files to keep in sync). Placeholders use
``str.format`` names: ``_("Course {course} does not exist.").format(course=c)``.
Messages avoid plural agreement (write "Submissions: 3"), so no ngettext.
"""

from __future__ import annotations

import functools
from pathlib import Path

from babel.messages.pofile import read_po

LANGUAGES = ("kk", "ru", "en")
LANGUAGE_NAMES = {"kk": "Қазақша", "ru": "Русский", "en": "English"}
_HERE = Path(__file__).parent


def N_(message: str) -> str:
    """Mark a string for extraction where it is translated later."""
    return message


@functools.cache
def catalog(lang: str) -> dict[str, str]:
    """msgid -> msgstr for one language (empty for English)."""
    path = _HERE / f"{lang}.po"
    if lang == "en" or not path.exists():
        return {}
    with open(path, "rb") as fh:
        cat = read_po(fh, locale=lang)
    return {m.id: m.string for m in cat if m.id and m.string and not m.fuzzy}


class Translator:
    """gettext for one language; unknown ids fall back to English."""

    def __init__(self, lang: str):
        self.lang = lang if lang in LANGUAGES else "en"
        self._catalog = catalog(self.lang)

    def gettext(self, message: str) -> str:
        return self._catalog.get(message, message)

    __call__ = gettext


def translator(lang: str | None) -> Translator:
    return _translator(lang or "en")


@functools.cache
def _translator(lang: str) -> Translator:
    return Translator(lang)


def environment_language(environ=None) -> str:
    """kk, ru or en for a command in a terminal: $SABAQ_LANG (set in users' servers), else $LANG."""
    import os

    environ = os.environ if environ is None else environ
    code = (environ.get("SABAQ_LANG") or environ.get("LANG", "")).split("_")[0].split(".")[0].lower()
    return code if code in LANGUAGES else "en"


def terminal_text(message: str, **values) -> str:
    """A message (an N_() msgid) for a terminal, in its language (see environment_language)."""
    return translator(environment_language())(message).format(**values)


def negotiate(accept_language: str | None, default: str = "en") -> str:
    """Pick kk, ru or en from an Accept-Language header."""
    if not accept_language:
        return default
    choices = []
    for index, part in enumerate(accept_language.split(",")):
        piece = part.strip()
        if not piece:
            continue
        tag, _, params = piece.partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        choices.append((-quality, index, tag.strip().lower()))
    for _, _, tag in sorted(choices):
        primary = tag.split("-")[0]
        if primary in LANGUAGES:
            return primary
    return default
