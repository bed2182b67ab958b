"""Assignments on paper, for students without a computer or internet at home.

The released notebooks (never the teacher's source) are laid out as a printable
page with room for the student's name and class, and turned into a PDF by a
headless Chromium, the same browser the tests drive.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import nbformat
from sqlalchemy.orm import Session

from sabaq.errors import SabaqError
from sabaq.hub.domain.assignments import files_of
from sabaq.hub.domain.feedback import _templates, cell_views
from sabaq.hub.store.models import Assignment, FileKind
from sabaq.i18n import N_, translator

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")


def assignment_html(db: Session, a: Assignment, lang: str) -> str:
    _ = translator(lang)
    notebooks = []
    for path, content in sorted(files_of(db, a, FileKind.release).items()):
        if path.endswith(".ipynb"):
            nb = nbformat.reads(content.decode("utf-8"), as_version=4)
            notebooks.append((path[:-6], cell_views(nb, {}, {}, {}, for_student=True)))
    return _templates.get_template("print.html").render(_=_, lang=lang, assignment=a, notebooks=notebooks)


def assignment_pdf(db: Session, a: Assignment, lang: str) -> bytes:
    browser = next((shutil.which(b) for b in CHROMIUM if shutil.which(b)), None)
    if browser is None:
        raise SabaqError(N_("Printing needs Chromium on the server; ask the administrator to install it."),
                         status=503, code="no_browser")
    with tempfile.TemporaryDirectory(prefix="sabaq-print-") as tmp:
        page, pdf = Path(tmp) / "assignment.html", Path(tmp) / "assignment.pdf"
        page.write_text(assignment_html(db, a, lang), encoding="utf-8")
        proc = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp}/profile",
             "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri()],
            capture_output=True, timeout=120,
        )
        if not pdf.exists():
            raise SabaqError(N_("The PDF could not be made ({detail})."), status=500, code="print_failed",
                             detail=proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or "?")
        return pdf.read_bytes()
