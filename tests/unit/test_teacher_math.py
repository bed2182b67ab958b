"""Formulas ($...$, $$...$$) are MathML made on the server wherever sabaq shows notebook text
or comments: the grading page, the feedback file, the printed sheet and the lesson
statistics (issue 16). A formula can carry no markup of its own.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from service_app import Site
from sqlalchemy import select

from sabaq.hub.domain import courses, lessons, printing
from sabaq.hub.store.blobs import put_blob
from sabaq.hub.store.models import Assignment, AssignmentFile, FileKind, GradeResult
from sabaq.mathtext import markdown_html, text_html

LESSON = Path(__file__).resolve().parents[2] / "courses" / "lessons" / "math" / "linear-functions"


def graded_notebook() -> bytes:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("Solve $\\frac{x}{2} = 3$.", id="intro"))
    cell = nbformat.v4.new_markdown_cell("my answer", id="a1")
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "a1", "points": 2, "solution": True,
                                 "locked": False, "schema_version": 3, "task": False}
    nb.cells.append(cell)
    return nbformat.writes(nb).encode()


@pytest.fixture
def site(tmp_path):
    s = Site(tmp_path)
    s.school = s.seed()
    with s.sessions() as db:
        result = db.scalar(select(GradeResult))
        result.notebooks = {"hw": put_blob(db, graded_notebook())}
        db.commit()
    return s


def test_formulas_become_mathml_and_the_rest_stays_text():
    assert "<mfrac>" in text_html("$\\frac{1}{2}$") and "<msup>" in markdown_html("**a** $x^2$")
    assert 'display="block"' in markdown_html("$$\\sum_i a_i$$")
    assert text_html("costs $5 and $6") == "costs $5 and $6"  # money is not a formula
    assert text_html("<b>a</b>\nb") == "&lt;b&gt;a&lt;/b&gt;<br>\nb"


@pytest.mark.parametrize("attack", [
    "$\\text{<script>alert(1)</script>}$",
    "$\\text{<img src=x onerror=alert(1)>}$",
    "$\\href{javascript:alert(1)}{x}$",
    "$\\style{background:url(//evil)}{x}$",
    "[x](javascript:alert(1)) <script>alert(1)</script>",
    "\ue0000\ue001 $x$",  # the placeholder of a formula, typed by hand
])
def test_a_student_cannot_smuggle_markup_through_a_formula(attack):
    for rendered in (text_html(attack), markdown_html(attack)):
        tags = Tags()
        tags.feed(rendered)
        assert not tags.found & {"script", "img", "a", "iframe", "style"}, rendered
        assert not {name for name in tags.attributes if name in ("href", "src", "style") or name.startswith("on")}


class Tags(HTMLParser):
    """The elements and attribute names of a piece of HTML, as a browser would parse them."""

    def __init__(self):
        super().__init__()
        self.found, self.attributes = set(), set()

    def handle_starttag(self, tag, attrs):
        self.found.add(tag)
        self.attributes.update(name for name, _ in attrs)


def test_the_grading_page_and_the_feedback_show_formulas_of_cells_and_comments(site):
    sid = site.school.submission_id
    r = site.call("POST", f"/submissions/{sid}/marks", page=True,
                  data={"comment::hw::a1": "Right: $x = 6$", "overall": "Remember $\\sqrt{x}$", "release": "1"})
    assert r.status_code == 303, r.text
    page = site.call("GET", f"/submissions/{sid}", page=True).text
    assert "<mfrac>" in page and "<msqrt>" in page and "<mn>6</mn>" in page
    fb = site.call("GET", f"/api/v1/submissions/{sid}/feedback/hw.html", user="aliya")
    assert fb.status_code == 200
    assert "<mfrac>" in fb.text and "<msqrt>" in fb.text and "<mn>6</mn>" in fb.text and "$x = 6$" not in fb.text


def test_the_printed_sheet_shows_formulas(site):
    with site.sessions() as db:
        a = db.scalar(select(Assignment))
        a.files.append(AssignmentFile(kind=FileKind.release, path="sheet.ipynb",
                                      sha256=put_blob(db, graded_notebook()), size=1))
        db.flush()
        sheet = printing.assignment_html(db, a, "kk")
    assert "<mfrac>" in sheet and "\\frac" not in sheet


def test_lesson_statistics_show_each_question_in_the_readers_language(site):
    with site.sessions() as db:
        lessons.publish(db, courses.get_course(db, "alg8"), LESSON)
        db.commit()
    ru = site.call("GET", "/courses/alg8/lessons/linear-functions", lang="ru", page=True)
    assert ru.status_code == 200, ru.text
    assert "Что можно сказать о функции" in ru.text and "<math" in ru.text
    kk = site.call("GET", "/courses/alg8/lessons/linear-functions", lang="kk", page=True).text
    assert "Что можно сказать" not in kk and "<math" in kk
