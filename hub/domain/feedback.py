"""Showing a graded notebook: to the teacher who grades it, and as feedback to the student.

Notebooks are rendered by sabaq, not by the browser: markdown with raw HTML
escaped, outputs as text and images only (a student's HTML or JavaScript
output never runs in a teacher's page). Feedback for students has the hidden
tests removed (as in ``sabaq.autograders.notebook.feedback``), and carries the scores
(a teacher's manual score wins) and the teacher's comments.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import nbformat
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from sabaq.hub.domain.assignments import store_feedback
from sabaq.hub.store.blobs import get_blob
from sabaq.hub.store.models import Comment, GradeResult, ManualGrade, Submission
from sabaq.i18n import translator
from sabaq.mathtext import markdown_html, text_html

_ansi = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_templates = Environment(loader=PackageLoader("sabaq.hub.domain", "feedback-templates"),
                         autoescape=select_autoescape(["html"]))
_templates.filters["math"] = lambda text: Markup(text_html(text))  # a comment with its formulas as MathML
HIDDEN_BEGIN, HIDDEN_END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"


@dataclass
class CellView:
    kind: str  # markdown, code, raw
    html: Markup | None = None
    source: str = ""
    outputs: list[dict] = field(default_factory=list)
    grade_id: str = ""
    points: float | None = None
    auto_score: float | None = None
    manual_score: float | None = None
    needs_manual: bool = False
    comment: str = ""


def _strip_hidden(source: str) -> tuple[str, bool]:
    lines, kept, inside, removed = source.split("\n"), [], False, False
    for line in lines:
        if HIDDEN_BEGIN in line:
            inside, removed = True, True
        elif HIDDEN_END in line:
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept), removed


def _output_view(output: dict, short_errors: bool) -> dict | None:
    kind = output.get("output_type")
    if kind == "stream":
        return {"kind": "text", "text": output.get("text", ""), "stream": output.get("name")}
    if kind == "error":
        if short_errors:
            return {"kind": "error", "text": f"{output.get('ename', '')}: {output.get('evalue', '')}"}
        return {"kind": "error", "text": _ansi.sub("", "\n".join(output.get("traceback", [])))}
    if kind in ("execute_result", "display_data"):
        data = output.get("data", {})
        for mime in ("image/png", "image/jpeg"):
            if mime in data:
                return {"kind": "image", "src": f"data:{mime};base64,{''.join(data[mime]).strip()}"}
        if "text/plain" in data:
            text = data["text/plain"]
            return {"kind": "text", "text": "".join(text) if isinstance(text, list) else text}
    return None


def cell_views(nb, cells: dict[str, dict], manual: dict[str, float], comments: dict[str, str],
               for_student: bool) -> list[CellView]:
    views = []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        grade_id = meta.get("grade_id", "") if meta.get("grade") else ""
        source, hidden = _strip_hidden(cell.source) if for_student else (cell.source, False)
        view = CellView(kind=cell.cell_type, source=source, grade_id=grade_id)
        if cell.cell_type == "markdown":
            view.html = Markup(markdown_html(source))
        if cell.cell_type == "code":
            view.outputs = [v for o in cell.get("outputs", []) if (v := _output_view(o, hidden)) is not None]
        if grade_id:
            info = cells.get(grade_id, {})
            view.points = info.get("max_score", meta.get("points"))
            view.auto_score = info.get("auto_score")
            view.manual_score = manual.get(grade_id)
            view.needs_manual = bool(info.get("needs_manual_grade")) and grade_id not in manual
        if meta.get("grade_id"):
            view.comment = comments.get(meta["grade_id"], "")
        views.append(view)
    return views


def graded_notebooks(db: Session, result: GradeResult | None) -> dict[str, nbformat.NotebookNode]:
    if result is None:
        return {}
    return {name: nbformat.reads(get_blob(db, sha).decode("utf-8"), as_version=4)
            for name, sha in sorted(result.notebooks.items())}


def manual_scores(db: Session, submission: Submission) -> dict[tuple[str, str], float]:
    return {(m.notebook, m.grade_id): m.score
            for m in db.scalars(select(ManualGrade).where(ManualGrade.submission_id == submission.id))}


def comments_of(db: Session, submission: Submission) -> dict[tuple[str, str], str]:
    return {(c.notebook, c.grade_id): c.text
            for c in db.scalars(select(Comment).where(Comment.submission_id == submission.id))}


def notebook_views(db: Session, submission: Submission, result: GradeResult | None, for_student: bool):
    """[(notebook name, [CellView])] of a submission's graded notebooks."""
    manual = manual_scores(db, submission)
    comments = comments_of(db, submission)
    out = []
    for name, nb in graded_notebooks(db, result).items():
        cells = result.details.get("notebooks", {}).get(name, {}).get("cells", {})
        out.append((name, cell_views(
            nb, cells,
            {g: s for (n, g), s in manual.items() if n == name},
            {g: t for (n, g), t in comments.items() if n == name},
            for_student,
        )))
    return out


def render_feedback(db: Session, submission: Submission, result: GradeResult | None, mark, lang: str) -> dict[str, bytes]:
    """{notebook: standalone HTML} for the student, in their language."""
    _ = translator(lang)
    comments = comments_of(db, submission)
    pages = {}
    views = notebook_views(db, submission, result, for_student=True) or [("paper", [])]
    for name, cells in views:
        html = _templates.get_template("feedback.html").render(
            _=_, lang=lang, notebook=name, cells=cells, mark=mark, submission=submission,
            overall=comments.get(("", ""), ""), assignment=submission.assignment,
        )
        pages[name] = html.encode("utf-8")
    return pages


def release_feedback(db: Session, submission: Submission, mark, lang: str) -> list[str]:
    from sabaq.hub.domain.grading import current_result

    pages = render_feedback(db, submission, current_result(db, submission), mark, lang)
    for name, html in pages.items():
        store_feedback(db, submission, name, html)
    return sorted(pages)


def details_json(result: GradeResult | None) -> str:
    return json.dumps(result.details if result else {}, ensure_ascii=False)
