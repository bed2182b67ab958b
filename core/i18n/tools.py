"""Finding every translatable string, and which ones a catalog still lacks.

Strings are marked with ``_()`` or ``N_()`` in Python and ``_()`` in the
Jinja templates. ``sabaq i18n check`` lists what kk.po or ru.po is missing;
``sabaq i18n update`` adds the missing ids (empty) so a translator can fill them.
"""

from __future__ import annotations

import re
import string
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from sabaq.i18n import _HERE, LANGUAGES

KEYWORDS = {"_": None, "N_": None}
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def source_roots() -> list[Path]:
    """The installed sabaq package folders (sabaq, sabaq.hub, sabaq.autograders, ...)."""
    from sabaq.paths import package_dirs

    return package_dirs()


def extract_messages() -> dict[str, list[str]]:
    """msgid -> places it is used."""
    found: dict[str, list[str]] = {}
    seen_roots = set()
    for root in source_roots():
        if root in seen_roots:
            continue
        seen_roots.add(root)
        for filename, lineno, message, _comments, _context in extract_from_dir(
            str(root), METHODS, keywords=KEYWORDS
        ):
            if isinstance(message, tuple):
                message = message[0]
            if message:
                found.setdefault(message, []).append(f"{root.name}/{filename}:{lineno}")
    return found


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def problems(lang: str) -> list[str]:
    """Missing or broken translations of one language, as readable lines."""
    from sabaq.i18n import catalog

    catalog.cache_clear()
    translated = catalog(lang)
    out = []
    for msgid, places in sorted(extract_messages().items()):
        text = translated.get(msgid)
        if not text:
            out.append(f"{lang}: missing: {msgid!r} ({places[0]})")
        elif placeholders(text) != placeholders(msgid):
            out.append(f"{lang}: placeholders differ: {msgid!r} -> {text!r}")
    return out


def update(lang: str) -> int:
    """Add missing ids to <lang>.po; return how many were added."""
    path = _HERE / f"{lang}.po"
    if path.exists():
        with open(path, "rb") as fh:
            cat = read_po(fh, locale=lang)
    else:
        cat = Catalog(locale=lang, project="sabaq")
    added = 0
    for msgid, places in sorted(extract_messages().items()):
        if msgid not in cat:
            cat.add(msgid, "", locations=[(p.rsplit(":", 1)[0], int(p.rsplit(":", 1)[1])) for p in places[:1]])
            added += 1
    with open(path, "wb") as fh:
        write_po(fh, cat, width=100, omit_header=False, no_location=True)
    return added


__all__ = ["extract_messages", "problems", "update", "LANGUAGES"]
