"""A grading run makes its submissions ready in the gradebook in one transaction: the rows (and
their order) must be exactly those nbgrader's own update_or_create_student + add_submission
make one student at a time, a submission that exists already must keep its grades, and a
student unknown to a gradebook that does not create students must stay unknown. The engine's
``init_assignment`` for a prepared student must leave the gradebook, the graded folder and the
notebooks to grade exactly as nbgrader's own leaves them (late, regraded, missing, unknown and
excluded files and notebooks)."""

import datetime as dt
import os
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from sqlalchemy import text

from sabaq.autograders.notebook import gradebook
from nbgrader.converters import Autograde

from sabaq.autograders.notebook.batch import BatchCourseDirectory
from sabaq.autograders.notebook.engine import SabaqAutograde
from sabaq.autograders.notebook.submissions import prepare_submissions

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
        assert prepare_submissions(gb, "hw", dict.fromkeys(STUDENTS), create_students=True).students == set(STUDENTS)
    made = _rows(ours)
    assert made == _rows(theirs)
    assert [row[0] for row in made["submissions"]] == STUDENTS
    assert [row[:2] for row in made["notebooks"][:2]] == [("ann", "p1"), ("ann", "p2")]
    assert len(made["grades"]) == 3 * 2 * 3 and len(made["comments"]) == 3 * 2 * 3


def test_an_existing_submission_keeps_its_grades_and_gets_the_new_time(tmp_path):
    url = _gradebook(tmp_path / "gb")
    with Gradebook(url) as gb:
        gb.add_student("bob")
        gb.add_submission("hw", "bob", timestamp="2026-11-30 10:00:00")
        grade = gb.find_grade("p1test", "p1", "hw", "bob")
        grade.manual_score = 1.5
        gb.db.commit()
    with Gradebook(url) as gb:
        times = {"ann": None, "bob": "2026-12-01 02:00:00", "cem": dt.datetime(2026, 11, 29)}
        prepared = prepare_submissions(gb, "hw", times, create_students=True)
    assert prepared.students == set(STUDENTS) and prepared.notebooks == ["p1", "p2"]
    assert prepared.seconds_late == {"bob": 7200}
    rows = _rows(url)
    assert [row[0] for row in rows["submissions"]] == ["bob", "ann", "cem"]
    assert rows["submissions"][0][2].startswith("2026-12-01 02:00:00")
    assert rows["submissions"][1][2] is None and rows["submissions"][2][2].startswith("2026-11-29 00:00:00")
    assert ("bob", "p1test", None, 1.5, None, True) in rows["grades"]
    assert sum(1 for row in rows["grades"] if row[0] == "bob") == 6  # not a second set


def test_without_creating_students_an_unknown_student_stays_unknown(tmp_path):
    url = _gradebook(tmp_path / "gb")
    with Gradebook(url) as gb:
        gb.add_student("cem")
    with Gradebook(url) as gb:
        assert prepare_submissions(gb, "hw", dict.fromkeys(STUDENTS), create_students=False).students == {"cem"}
    rows = _rows(url)
    assert [row[0] for row in rows["students"]] == ["cem"]
    assert [row[0] for row in rows["submissions"]] == ["cem"]


def test_an_assignment_the_gradebook_lacks_adds_nothing(tmp_path):
    url = _gradebook(tmp_path / "gb")
    with Gradebook(url) as gb:
        assert prepare_submissions(gb, "nope", dict.fromkeys(STUDENTS), create_students=True) is None
    assert _rows(url)["students"] == []


# Each student's submitted folder: {file: text}; "timestamp.txt" is the submission's time.
SUBMITTED = {
    "ann": {"p1.ipynb": None, "p2.ipynb": None, "timestamp.txt": "2026-12-02 00:00:00", "mine.txt": "ann's",
            "extra.txt": "ann's own extra"},  # late by a day; extra.txt is not overwritten
    "bob": {"p1.ipynb": None, "timestamp.txt": "2026-11-30 09:00:00",  # p2 missing: scored zero
            "data/table.csv": "bob's table"},  # the teacher's table replaces his
    "cem": {"p1.ipynb": None, "p2.ipynb": None, "p3.ipynb": None},  # p3 unknown; no time
    "dan": {"p9.ipynb": None, "timestamp.txt": "not a time at all"},  # no known notebook: an error
}


def _course(root: Path) -> str:
    url = _gradebook(root)
    with Gradebook(url) as gb:  # bob's earlier submission, with an extension and a teacher's score
        gb.add_student("bob")
        gb.add_submission("hw", "bob", timestamp="2026-11-29 10:00:00", extension=dt.timedelta(hours=2))
        gb.find_grade("p1test", "p1", "hw", "bob").manual_score = 1.5
        gb.db.commit()
    files = {"source/hw/p1.ipynb": None, "source/hw/p2.ipynb": None, "source/hw/data/table.csv": "the table",
             "source/hw/extra.txt": "the teacher's extra", "source/hw/.ipynb_checkpoints/x.txt": "ignored"}
    files.update({f"submitted/{student}/hw/{name}": text
                  for student, its in SUBMITTED.items() for name, text in its.items()})
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if text is None:
            nbformat.write(_notebook(Path(name).stem), path)
        else:
            path.write_text(text)
    return url


def _init_each(converter_class, root: Path):
    """Run `converter_class`'s init_assignment for every student as a run does; return what
    each left: the notebooks to grade or the error, and every file of the graded folders."""
    coursedir = BatchCourseDirectory(root=str(root))  # as grading runs use (an unreadable time counts as none)
    converter = converter_class(coursedir=coursedir, exclude_overwriting={"hw": ["extra.txt"]})
    folders = [(f"submitted/{student}/hw", {"assignment_id": "hw", "student_id": student}) for student in SUBMITTED]
    if converter_class is SabaqAutograde:
        converter._prepare_submissions(folders)
        assert set(converter._prepared["hw"].students) == set(SUBMITTED)  # the fast path is the one tested
    left = {}
    for folder, gd in folders:
        converter.notebooks = sorted(str(path) for path in (root / folder).glob("*.ipynb"))
        try:
            converter.init_assignment("hw", gd["student_id"])
            left[gd["student_id"]] = [os.path.relpath(nb, root) for nb in converter.notebooks]
        except Exception as error:  # noqa: BLE001 - the error is part of what is compared
            left[gd["student_id"]] = f"{type(error).__name__}: {error}"
    graded = {str(path.relative_to(root)): path.read_text() for path in sorted((root / "autograded").rglob("*"))
              if path.is_file()}
    return left, graded


def test_init_assignment_of_prepared_students_leaves_what_nbgraders_leaves(tmp_path):
    theirs_url, ours_url = _course(tmp_path / "theirs"), _course(tmp_path / "ours")
    theirs = _init_each(Autograde, tmp_path / "theirs")
    ours = _init_each(SabaqAutograde, tmp_path / "ours")
    assert ours == theirs
    left, graded = ours
    assert left["cem"] == ["submitted/cem/hw/p1.ipynb", "submitted/cem/hw/p2.ipynb"]
    assert left["dan"].startswith("NbGraderException: No notebooks found")
    assert graded["autograded/bob/hw/data/table.csv"] == "the table"
    assert graded["autograded/ann/hw/extra.txt"] == "ann's own extra"
    assert "autograded/ann/hw/.ipynb_checkpoints/x.txt" not in graded
    rows = _rows(ours_url)
    assert rows == _rows(theirs_url)
    times = {row[0]: row[2] for row in rows["submissions"]}
    assert times["ann"].startswith("2026-12-02") and times["bob"].startswith("2026-11-30 09:00")
    assert times["cem"] is None
    assert ("bob", "p2test", 0, None, None, False) in rows["grades"]  # p2 was not submitted
    assert ("bob", "p1test", None, 1.5, None, True) in rows["grades"]  # the teacher's score stays
