"""A grading run makes its new submissions' gradebook rows in one transaction: the rows (and
their order) must be exactly those nbgrader's own update_or_create_student + add_submission
make one student at a time, a submission that exists already must be left as it is, and a
student unknown to a gradebook that does not create students must stay unknown."""

import datetime as dt

import nbformat
import pytest
from nbgrader.api import Gradebook
from sqlalchemy import text

from sabaq.autograders.notebook import gradebook
from sabaq.autograders.notebook.submissions import add_missing_submissions

from nbgrader_cells import add_teachers_cells, cell

STUDENTS = ["ann", "bob", "cem"]


def _notebook(prefix):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        cell("code", f"{prefix}answer", "# YOUR CODE HERE", solution=True),
        cell("code", f"{prefix}test", "assert f() == 1", points=2),
        cell("markdown", f"{prefix}essay", "YOUR ANSWER HERE", points=1, solution=True),
        cell("markdown", f"{prefix}task", "Describe", points=3, task=True),
    ]
    return nb


def _gradebook(folder):
    folder.mkdir()
    url = f"sqlite:///{folder / 'gradebook.db'}"
    with Gradebook(url) as gb:
        gb.add_assignment("hw", duedate=dt.datetime(2026, 12, 1))
        gb.add_assignment("other")
        for name in ("p2", "p1"):  # added out of order: submissions follow the notebooks' names
            gb.add_notebook(name, "hw")
            add_teachers_cells(gb, _notebook(name), name, "hw")
    return url


def _rows(url):
    """Every row of a submission, in rowid order, named instead of by uuid."""
    with Gradebook(url) as gb:
        db = gb.db
        return {
            "students": db.execute(text("SELECT id, first_name, last_name, email FROM student ORDER BY rowid")).all(),
            "submissions": db.execute(text(
                "SELECT s.student_id, a.name, s.timestamp, s.extension FROM submitted_assignment s "
                "JOIN assignment a ON a.id = s.assignment_id ORDER BY s.rowid")).all(),
            "notebooks": db.execute(text(
                "SELECT s.student_id, n.name, sn.flagged, sn.late_submission_penalty FROM submitted_notebook sn "
                "JOIN submitted_assignment s ON s.id = sn.assignment_id JOIN notebook n ON n.id = sn.notebook_id "
                "ORDER BY sn.rowid")).all(),
            "grades": db.execute(text(
                "SELECT s.student_id, c.name, g.auto_score, g.manual_score, g.extra_credit, g.needs_manual_grade "
                "FROM grade g JOIN submitted_notebook sn ON sn.id = g.notebook_id "
                "JOIN submitted_assignment s ON s.id = sn.assignment_id JOIN base_cell c ON c.id = g.cell_id "
                "ORDER BY g.rowid")).all(),
            "comments": db.execute(text(
                "SELECT s.student_id, c.name, m.auto_comment, m.manual_comment FROM comment m "
                "JOIN submitted_notebook sn ON sn.id = m.notebook_id "
                "JOIN submitted_assignment s ON s.id = sn.assignment_id JOIN base_cell c ON c.id = m.cell_id "
                "ORDER BY m.rowid")).all(),
        }


@pytest.fixture(autouse=True)
def _as_the_worker():
    with gradebook.shared_engines(scratch=True):
        yield


def test_the_rows_are_nbgraders_own_in_nbgraders_order(tmp_path):
    theirs, ours = _gradebook(tmp_path / "theirs"), _gradebook(tmp_path / "ours")
    with Gradebook(theirs) as gb:
        for student in STUDENTS:  # what Autograde.init_assignment does for each, in turn
            gb.update_or_create_student(student)
            gb.update_or_create_submission("hw", student)
    with Gradebook(ours) as gb:
        assert add_missing_submissions(gb, "hw", STUDENTS, create_students=True) == 3
    made = _rows(ours)
    assert made == _rows(theirs)
    assert [row[0] for row in made["submissions"]] == STUDENTS
    assert [row[:2] for row in made["notebooks"][:2]] == [("ann", "p1"), ("ann", "p2")]
    assert len(made["grades"]) == 3 * 2 * 3 and len(made["comments"]) == 3 * 2 * 3


def test_an_existing_submission_is_left_as_it_is(tmp_path):
    url = _gradebook(tmp_path / "gb")
    with Gradebook(url) as gb:
        gb.add_student("bob")
        gb.add_submission("hw", "bob", timestamp="2026-11-30 10:00:00")
        grade = gb.find_grade("p1test", "p1", "hw", "bob")
        grade.manual_score = 1.5
        gb.db.commit()
    with Gradebook(url) as gb:
        assert add_missing_submissions(gb, "hw", STUDENTS, create_students=True) == 2
    rows = _rows(url)
    assert [row[0] for row in rows["submissions"]] == ["bob", "ann", "cem"]
    assert rows["submissions"][0][2].startswith("2026-11-30 10:00:00")
    assert ("bob", "p1test", None, 1.5, None, True) in rows["grades"]
    assert sum(1 for row in rows["grades"] if row[0] == "bob") == 6  # not a second set


def test_without_creating_students_an_unknown_student_stays_unknown(tmp_path):
    url = _gradebook(tmp_path / "gb")
    with Gradebook(url) as gb:
        gb.add_student("cem")
    with Gradebook(url) as gb:
        assert add_missing_submissions(gb, "hw", STUDENTS, create_students=False) == 1
    rows = _rows(url)
    assert [row[0] for row in rows["students"]] == ["cem"]
    assert [row[0] for row in rows["submissions"]] == ["cem"]


def test_an_assignment_the_gradebook_lacks_adds_nothing(tmp_path):
    url = _gradebook(tmp_path / "gb")
    with Gradebook(url) as gb:
        assert add_missing_submissions(gb, "nope", STUDENTS, create_students=True) == 0
    assert _rows(url)["students"] == []
