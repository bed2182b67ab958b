"""What each self-check of a lesson asks, for the teacher's statistics: "q3" means nothing
to a teacher; the question's own words do.

A lesson's notebook asks a question in a Markdown cell and checks the answer in the code
cell after it (``lesson.check("q3")``): the question is that Markdown cell's last
paragraph (its heading dropped), in the reader's language when the lesson has it.
"""

from __future__ import annotations

import re

import nbformat
from sqlalchemy.orm import Session

from sabaq.hub.store.blobs import get_blob
from sabaq.hub.store.models import Lesson

CHECK = re.compile(r"""\bcheck\(\s*["']([^"']+)["']""")
NOTEBOOK = re.compile(r"^[^/]+\.(?P<lang>[a-z]{2})\.ipynb$")
LONGEST = 300  # characters of a question shown in a table cell


def _question(markdown: str) -> str:
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", markdown) if p.strip() and not p.lstrip().startswith("#")]
    text = paragraphs[-1] if paragraphs else ""
    return text if len(text) <= LONGEST else text[:LONGEST - 1].rstrip() + "…"


def questions(db: Session, lesson: Lesson, lang: str) -> dict[str, str]:
    """{exercise id: its question as Markdown}, from the notebook in `lang` (else the
    course's language, else English, else any); an exercise not found is left out."""
    notebooks = {m["lang"]: f for f in lesson.files if (m := NOTEBOOK.match(f.path))}
    chosen = next((notebooks[x] for x in (lang, lesson.course.language, "en", *sorted(notebooks)) if x in notebooks),
                  None)
    if chosen is None:
        return {}
    try:
        nb = nbformat.reads(get_blob(db, chosen.sha256).decode("utf-8"), as_version=4)
    except Exception:  # noqa: BLE001 - a lesson published before it could be read: no questions to show
        return {}
    found: dict[str, str] = {}
    last_markdown = ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            last_markdown = cell.source
        elif cell.cell_type == "code":
            for exercise in CHECK.findall(cell.source):
                found.setdefault(exercise, _question(last_markdown))
    return {k: v for k, v in found.items() if v}
