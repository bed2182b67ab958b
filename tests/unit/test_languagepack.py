"""The Kazakh language pack of JupyterLab (languagepack-kk/): PO catalogues built into the JSON
JupyterLab reads (issue 16)."""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path

PACK = Path(__file__).resolve().parents[2] / "languagepack-kk"
sys.path.insert(0, str(PACK))

from po2json import build, catalogue  # noqa: E402

PO = r'''
msgid ""
msgstr ""
"Language: kk_KZ\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\n"
"Content-Type: text/plain; charset=utf-8\n"

msgctxt "menu"
msgid "File"
msgstr "Файл"

msgid "Save"
msgstr "Сақтау"

msgid "Not yet"
msgstr ""

#, fuzzy
msgid "Guessed"
msgstr "Болжам"

msgid "Copy Cell"
msgid_plural "Copy Cells"
msgstr[0] "Ұяшықты көшіру"
msgstr[1] "Ұяшықтарды көшіру"

msgid "%1 Item"
msgid_plural "%1 Items"
msgstr[0] "%1 нысан"
msgstr[1] ""
'''


def test_a_po_catalogue_becomes_jupyterlabs_json():
    data = catalogue(PO, "jupyterlab")
    assert data[""] == {"domain": "jupyterlab", "language": "kk-KZ",
                        "plural_forms": "nplurals=2; plural=(n != 1);", "version": "jupyterlab"}
    assert data["menu\x04File"] == ["Файл"]  # a context is joined as JupyterLab's _p() looks it up
    assert data["Save"] == ["Сақтау"]
    assert data["Copy Cell"] == ["Ұяшықты көшіру", "Ұяшықтарды көшіру"]  # keyed by the singular, as _n() does
    assert data["%1 Item"] == ["%1 нысан", "%1 нысан"]  # an empty form takes the first
    assert "Not yet" not in data and "Guessed" not in data  # untranslated and fuzzy: shown in English
    assert "File" not in data


def test_the_packs_catalogues_build_with_the_menus_a_class_meets(tmp_path):
    written = build(PACK / "po", tmp_path / "pkg")
    folder = tmp_path / "pkg" / "locale" / "kk_KZ" / "LC_MESSAGES"
    assert sorted(p.name for p in written) == ["jupyterlab.json", "notebook.json"]
    lab = json.loads((folder / "jupyterlab.json").read_text(encoding="utf-8"))
    menus = [lab[f"menu\x04{m}"][0] for m in ("File", "Edit", "View", "Run", "Kernel", "Tabs", "Settings", "Help")]
    assert menus == ["Файл", "Түзету", "Көрініс", "Орындау", "Ядро", "Қойындылар", "Баптаулар", "Анықтама"]
    for msgid in ("Save", "Rename", "Delete", "Restart Kernel…", "Select Kernel", "Shut Down Kernel", "Idle", "Busy",
                  "Launcher", "New Folder", "Upload Files", "Run Selected Cell", "Cancel", "Interrupt Kernel",
                  "Do you want to restart the kernel of %1? All variables will be lost.", "Cell type"):
        assert lab[msgid][0] and re.search("[а-яәғқңөұүһі]", lab[msgid][0]), msgid
    assert len(lab) > 500


def test_every_translation_keeps_its_placeholders_and_line_breaks():
    """A lost %1 prints a blank where the file's name was; JupyterLab fills them in by number."""
    from babel.messages.pofile import read_po

    for po in (PACK / "po").glob("*.po"):
        with po.open("rb") as f:
            messages = [m for m in read_po(f) if m.id]
        for m in messages:
            ids = list(m.id) if m.pluralizable else [m.id]
            forms = [s for s in (m.string if m.pluralizable else [m.string]) if s]
            wanted = set(re.findall(r"%\d", " ".join(ids)))
            for form in forms:
                found = set(re.findall(r"%\d", form))
                assert found == wanted or (m.pluralizable and found <= wanted), (po.name, m.id, form)
                assert form.count("\n") == ids[0].count("\n"), (po.name, m.id, form)


def test_the_pack_registers_itself_as_the_russian_pack_does():
    """jupyterlab_server finds packs by the entry point group and a locale name babel knows."""
    project = tomllib.loads((PACK / "pyproject.toml").read_text())
    assert project["project"]["name"] == "jupyterlab-language-pack-kk-KZ"
    assert project["project"]["entry-points"]["jupyterlab.languagepack"] == {"kk_KZ": "jupyterlab_language_pack_kk_KZ"}
    import babel

    assert babel.Locale.parse("kk_KZ").language == "kk"
