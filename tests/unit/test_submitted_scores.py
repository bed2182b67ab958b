"""A worker reads a graded submission's scores back from nbgrader's gradebook in two
queries (``submitted_scores``); they must be what nbgrader's own objects say, cell by
cell and in their order, for every kind of cell and with a late penalty."""

import datetime as dt

from nbgrader.api import Gradebook

from sabaq.autograders.jobs.grade import submitted_scores
from sabaq.autograders.notebook.gradebook import shared_engines
from sabaq.contracts import GradingMeta

DUE = dt.datetime(2026, 12, 1, 12, 0)


def _gradebook(course):
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "c1") as gb:
        gb.add_assignment("hw", duedate=DUE)
        for notebook, cells in (("b-second", ("z1", "a2")), ("a-first", ("t1", "t2"))):
            gb.add_notebook(notebook, "hw")
            for i, name in enumerate(cells):
                gb.add_grade_cell(name, notebook, "hw", max_score=1.5 + i, cell_type="code")
            gb.add_solution_cell(f"{notebook}-answer", notebook, "hw")
            gb.add_grade_cell(f"{notebook}-essay", notebook, "hw", max_score=4, cell_type="markdown")
            gb.add_task_cell(f"{notebook}-task", notebook, "hw", max_score=2, cell_type="markdown")
        gb.add_notebook("empty", "hw")  # no graded cell at all
        for student in ("ann", "bob", "nosub"):
            gb.add_student(student)
        gb.add_submission("hw", "ann", timestamp=DUE + dt.timedelta(hours=2))
        gb.add_submission("hw", "bob", timestamp=DUE)
        for grade_id, notebook, score in (("z1", "b-second", 1.5), ("a2", "b-second", 0.0), ("t1", "a-first", 0.75)):
            grade = gb.find_grade(grade_id, notebook, "hw", "ann")
            grade.auto_score = score
            grade.needs_manual_grade = False
        gb.find_grade("t2", "a-first", "hw", "ann").manual_score = 2.0
        gb.find_grade("t2", "a-first", "hw", "ann").extra_credit = 0.5
        gb.find_submission_notebook("a-first", "hw", "ann").late_submission_penalty = 1.25
        gb.db.commit()


def _from_nbgrader_objects(course, student):
    """What walking nbgrader's objects gives (how the worker read them before)."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "c1") as gb:
        submission = gb.find_submission("hw", student)
        return [(nb.name, nb.score, nb.max_score, nb.late_submission_penalty or 0.0,
                 [(g.name, g.score, g.auto_score, g.max_score, g.needs_manual_grade) for g in nb.grades])
                for nb in submission.notebooks]


def _flat(scores):
    return [(name, nb.score, nb.max_score, nb.late_penalty,
             [(cell, c.score, c.auto_score, c.max_score, c.needs_manual_grade) for cell, c in nb.cells.items()])
            for name, nb in scores.items()]


def test_scores_are_nbgraders_cell_by_cell_in_its_order(tmp_path):
    _gradebook(tmp_path)
    for student in ("ann", "bob"):
        meta = GradingMeta(course="c1", assignment="hw", student=student, version=1)
        expected = _from_nbgrader_objects(tmp_path, student)
        assert _flat(submitted_scores(tmp_path, meta)) == expected
        with shared_engines(scratch=True):  # as a worker reads them
            assert _flat(submitted_scores(tmp_path, meta)) == expected
    ann = submitted_scores(tmp_path, GradingMeta(course="c1", assignment="hw", student="ann", version=1))
    assert ann["a-first"].late_penalty == 1.25 and ann["a-first"].cells["t2"].score == 2.5
    assert ann["empty"].cells == {} and ann["empty"].max_score == 0


def test_no_submission_and_other_courses_are_none(tmp_path):
    _gradebook(tmp_path)
    assert submitted_scores(tmp_path, GradingMeta(course="c1", assignment="hw", student="nosub", version=1)) is None
    assert submitted_scores(tmp_path, GradingMeta(course="c1", assignment="other", student="ann", version=1)) is None
    assert submitted_scores(tmp_path, GradingMeta(course="c2", assignment="hw", student="ann", version=1)) is None
