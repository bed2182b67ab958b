"""PO catalogues to the JSON catalogues JupyterLab reads (jupyterlab_server's translation_utils).

A language pack holds, for each domain (``jupyterlab``, ``notebook``, ...), a JSON object:
``{"": {"domain", "language", "plural_forms", "version"}, msgid: [msgstr, ...]}``, a message
with a context keyed ``context\\x04msgid`` and a plural one with all its forms. Untranslated
messages are left out, so JupyterLab shows them in English. Run at build time (setup.py):
the JSON files are not committed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po

LANGUAGE = "kk-KZ"
LOCALE = "kk_KZ"
VERSION = "jupyterlab"  # what the language packs of the Jupyter project write


def catalogue(po_text: str, domain: str, language: str = LANGUAGE) -> dict:
    """One domain's JSON catalogue from the text of its PO file."""
    import io

    cat = read_po(io.BytesIO(po_text.encode("utf-8")), domain=domain)
    out: dict = {"": {"domain": domain, "language": language,
                      "plural_forms": cat.plural_forms, "version": VERSION}}
    for message in cat:
        if not message.id:
            continue
        singular = message.id[0] if isinstance(message.id, (list, tuple)) else message.id
        forms = list(message.string) if isinstance(message.string, (list, tuple)) else [message.string]
        if not any(forms) or message.fuzzy:
            continue
        forms = [form or forms[0] for form in forms]
        key = f"{message.context}\x04{singular}" if message.context else singular
        out[key] = forms
    return out


def build(po_dir: Path, package_dir: Path, locale: str = LOCALE) -> list[Path]:
    """Each po_dir/<domain>.po as <package>/locale/<locale>/LC_MESSAGES/<domain>.json."""
    target = package_dir / "locale" / locale / "LC_MESSAGES"
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for po in sorted(po_dir.glob("*.po")):
        data = catalogue(po.read_text(encoding="utf-8"), po.stem)
        path = target / f"{po.stem}.json"
        path.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":  # python po2json.py po/ jupyterlab_language_pack_kk_KZ/
    for p in build(Path(sys.argv[1]), Path(sys.argv[2])):
        print(p)
