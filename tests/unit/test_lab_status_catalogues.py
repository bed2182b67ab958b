"""sabaq-lab speaks Kazakh and Russian: every string its JavaScript passes to JupyterLab's
translator (``trans.__``) has a translation in both catalogues, with the placeholders it
fills, and the catalogues are where and as JupyterLab reads them."""

from __future__ import annotations

import json
import re
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from sabaq.hub.exchange import status

EXCHANGE = Path(status.__file__).parent
# the extension's source is in the checkout (the installed package holds only what it built)
SOURCE = Path(__file__).resolve().parents[2] / "hub" / "exchange" / "labextension" / "src" / "index.js"
# JupyterLab's Gettext files a catalogue under its header's language, written as the
# language packs write it ("ru-RU"); "ru_RU" there leaves every string in English
LOCALES = {"kk_KZ": "kk-KZ", "ru_RU": "ru-RU"}


def msgids() -> set[str]:
    return set(re.findall(r"trans\.__\('((?:[^'\\]|\\.)*)'", SOURCE.read_text(encoding="utf-8")))


def catalogue(locale: str) -> dict:
    return json.loads((EXCHANGE / "locale" / locale / "LC_MESSAGES" / "sabaq_lab.json").read_text(encoding="utf-8"))


def test_the_source_has_strings_to_translate():
    assert {"My assignments", "received: attempt %1 at %2", "Gradebook"} <= msgids()


@pytest.mark.parametrize("locale", sorted(LOCALES))
def test_every_string_is_translated_with_its_placeholders(locale):
    data = catalogue(locale)
    assert data[""]["domain"] == "sabaq_lab" and data[""]["language"] == LOCALES[locale]
    for msgid in msgids():
        assert msgid in data, f"{locale}: no translation of {msgid!r}"
        [text] = data[msgid]
        assert text.strip()
        assert sorted(re.findall(r"%\d", text)) == sorted(re.findall(r"%\d", msgid)), (locale, msgid, text)
    assert not set(data) - msgids() - {""}, "translations of strings the source no longer has"


def test_jupyterlab_finds_the_catalogues_through_the_entry_point():
    [point] = [p for p in entry_points(group="jupyterlab.locale") if p.name == "sabaq_lab"]
    folder = Path(point.load().__file__).parent
    for locale in LOCALES:
        assert (folder / "locale" / locale / "LC_MESSAGES" / "sabaq_lab.json").is_file()
