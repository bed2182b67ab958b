"""The worker's OverwriteCells and SaveAutoGrades answer nbgrader's per-cell gradebook
lookups from a few queries: the notebook they leave and the gradebook rows must be exactly
nbgrader's own, for a student who changed what they may not (a locked cell's text, a test's
points, a cell's type, a cell the teacher never had), and with fewer SQL statements."""

import copy
import datetime as dt

import nbformat
import pytest
from nbgrader.api import Comment, Grade, Gradebook
from nbgrader.preprocessors import AssignLatePenalties, OverwriteCells, OverwriteKernelspec, SaveAutoGrades
from sqlalchemy import event
from traitlets.config import Config
from sqlalchemy.engine import Engine

from sabaq.autograders.notebook import gradebook, lookups
from sabaq.autograders.notebook.engine import SaveAutoGradesAtOnce
from sabaq.autograders.notebook.lookups import AssignLatePenaltiesAtOnce, OverwriteCellsAtOnce, OverwriteKernelspecAtOnce

from nbgrader_cells import add_teachers_cells, cell as _cell


def _teachers():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _cell("markdown", "intro", "Read this", locked=True),
        _cell("code", "answer", "# YOUR CODE HERE", solution=True),
        _cell("code", "t_one", "assert f() == 1", points=1),
        _cell("code", "t_two", "assert f() == 2", points=2),
        _cell("markdown", "essay", "YOUR ANSWER HERE", points=2, solution=True),
        _cell("markdown", "task", "Describe", points=1, task=True),
    ]
    return nb


def _students():
    """The teacher's notebook as a student who broke the rules hands it in."""
    nb = copy.deepcopy(_teachers())
    cells = {c.metadata.nbgrader["grade_id"]: c for c in nb.cells}
    cells["answer"].source = "def f(): return 1"
    cells["intro"].source = "I rewrote the instructions"  # locked: restored
    cells["t_one"].source = "pass"  # a test: restored
    cells["t_two"].metadata.nbgrader["points"] = 200  # points: put back
    cells["essay"].source = "My essay"
    cells["task"].cell_type = "code"  # type: put back
    cells["task"].outputs, cells["task"].execution_count = [], None
    stranger = _cell("code", "mine", "assert True", points=5)  # not the teacher's: loses its id
    nb.cells.insert(3, stranger)
    return nb


def _gradebook(folder):
    url = f"sqlite:///{folder / 'gradebook.db'}"
    with Gradebook(url) as gb:
        gb.add_assignment("hw", duedate=dt.datetime(2026, 12, 1))
        gb.add_notebook("p1", "hw")
        add_teachers_cells(gb, _teachers(), "p1", "hw", sources=True)
        gb.add_student("ann")
        gb.add_submission("hw", "ann")
    return url


def _resources(url):
    return {"nbgrader": {"notebook": "p1", "assignment": "hw", "student": "ann", "db_url": url}}


def _counting():
    """Statements sent from here on (a Gradebook's own set-up is not sent in the worker: see
    gradebook.shared_engines, which the tests run inside)."""
    count = [0]

    def one(*_):
        count[0] += 1

    event.listen(Engine, "before_cursor_execute", one)
    return count, lambda: event.remove(Engine, "before_cursor_execute", one)


@pytest.fixture(autouse=True)
def _fresh_run():
    lookups.forget_the_teachers()  # as SabaqAutograde does before and after each run
    with gradebook.shared_engines(scratch=True):  # as the worker grades
        yield
    lookups.forget_the_teachers()


def test_overwrite_cells_restores_what_nbgraders_restores_with_fewer_queries(tmp_path):
    url = _gradebook(tmp_path)
    counted = []
    results = []
    handed_in = _students()
    for preprocessor in (OverwriteCells, OverwriteCellsAtOnce):
        count, stop = _counting()
        try:
            nb, _ = preprocessor().preprocess(copy.deepcopy(handed_in), _resources(url))
        finally:
            stop()
        counted.append(count[0])
        results.append(nb)
    theirs, ours = results
    assert ours == theirs
    cells = {c.metadata.nbgrader.get("grade_id", "?"): c for c in ours.cells}
    assert cells["intro"].source == "Read this" and cells["t_one"].source == "assert f() == 1"
    assert cells["t_two"].metadata.nbgrader["points"] == 2.0 and cells["task"].cell_type == "markdown"
    assert cells["answer"].source == "def f(): return 1" and "?" in cells  # the stranger lost its id
    assert counted[1] < counted[0] / 2, counted


def test_the_teachers_cells_are_read_once_per_run(tmp_path):
    url = _gradebook(tmp_path)
    OverwriteCellsAtOnce().preprocess(_students(), _resources(url))
    count, stop = _counting()
    try:
        again, _ = OverwriteCellsAtOnce().preprocess(_students(), _resources(url))
    finally:
        stop()
    assert count[0] == 1  # the next student's notebook asks only about the cell the teacher never had
    assert again.cells[0].source == "Read this"


def test_a_new_run_reads_the_teachers_cells_again(tmp_path):
    """The worker grades every run in the same scratch gradebook path: a run of another
    assignment version must not be answered from the last run's cells."""
    url = _gradebook(tmp_path)
    OverwriteCellsAtOnce().preprocess(_students(), _resources(url))
    version_two = _cell("markdown", "intro", "Version two", locked=True)
    with Gradebook(url) as gb:
        cell = gb.find_source_cell("intro", "p1", "hw")
        cell.source, cell.checksum = version_two.source, version_two.metadata.nbgrader["checksum"]
        gb.db.commit()
    lookups.forget_the_teachers()  # a new run
    nb, _ = OverwriteCellsAtOnce().preprocess(_students(), _resources(url))
    assert nb.cells[0].source == "Version two"


def _graded_notebook():
    nb = _teachers()
    error = nbformat.from_dict({"output_type": "error", "ename": "AssertionError", "evalue": "",
                                "traceback": ["AssertionError"]})
    for cell in nb.cells:
        if cell.metadata.nbgrader["grade_id"] == "t_two":
            cell.outputs = [error]
        if cell.metadata.nbgrader["grade_id"] == "answer":
            cell.source = "def f(): return 1"
    return nb


def _rows(url):
    with Gradebook(url) as gb:
        return (sorted((g.name, g.auto_score, g.needs_manual_grade) for g in gb.db.query(Grade)),
                sorted((c.name, c.auto_comment) for c in gb.db.query(Comment)))


def test_grades_and_comments_are_saved_as_nbgrader_saves_them_with_fewer_queries(tmp_path):
    theirs, ours = tmp_path / "theirs", tmp_path / "ours"
    theirs.mkdir(), ours.mkdir()
    urls = {SaveAutoGrades: _gradebook(theirs), SaveAutoGradesAtOnce: _gradebook(ours)}
    counted = {}
    for preprocessor, url in urls.items():
        count, stop = _counting()
        try:
            preprocessor().preprocess(_graded_notebook(), _resources(url))
        finally:
            stop()
        counted[preprocessor] = count[0]
    assert _rows(urls[SaveAutoGradesAtOnce]) == _rows(urls[SaveAutoGrades])
    grades, comments = _rows(urls[SaveAutoGradesAtOnce])
    assert ("t_one", 1.0, False) in grades and ("t_two", 0.0, False) in grades
    assert ("essay", "No response.") in comments and ("answer", None) in comments
    assert counted[SaveAutoGradesAtOnce] < counted[SaveAutoGrades] / 2, counted


def _with_kernelspec(url, kernelspec):
    with Gradebook(url) as gb:
        gb.find_notebook("p1", "hw").kernelspec = kernelspec
        gb.db.commit()


@pytest.mark.parametrize("teachers", ['{"name": "python3", "display_name": "Python 3", "language": "python"}',
                                      None, "{}"])
def test_the_kernelspec_is_overwritten_as_nbgrader_overwrites_it_read_once_per_run(tmp_path, teachers):
    url = _gradebook(tmp_path)
    _with_kernelspec(url, teachers)

    def students():
        nb = _students()
        nb.metadata["kernelspec"] = {"name": "evil", "display_name": "Mine", "language": "bash"}
        return nb

    theirs, _ = OverwriteKernelspec().preprocess(students(), _resources(url))
    ours, _ = OverwriteKernelspecAtOnce().preprocess(students(), _resources(url))
    assert ours.metadata == theirs.metadata
    count, stop = _counting()
    try:
        again, _ = OverwriteKernelspecAtOnce().preprocess(students(), _resources(url))
    finally:
        stop()
    assert count[0] == 0 and again.metadata == theirs.metadata
    _with_kernelspec(url, '{"name": "julia", "language": "julia"}')
    lookups.forget_the_teachers()  # a new run reads the teacher's notebook again
    changed, _ = OverwriteKernelspecAtOnce().preprocess(students(), _resources(url))
    assert changed.metadata["kernelspec"]["name"] == "julia"


def _penalties(url):
    with Gradebook(url) as gb:
        return [(nb.name, nb.late_submission_penalty) for nb in gb.find_submission("hw", "ann").notebooks]


@pytest.mark.parametrize("submitted, extension, stale, late", [
    (dt.datetime(2026, 11, 30), None, None, False),  # on time: nothing to ask further
    (None, None, None, False),  # no timestamp
    (dt.datetime(2026, 11, 30), None, 3.0, False),  # on time now, a penalty left from before: reset
    (dt.datetime(2026, 12, 2), None, None, True),  # a day late
    (dt.datetime(2026, 12, 2), dt.timedelta(days=2), None, False),  # on time with the extension
])
def test_late_penalties_are_assigned_as_nbgrader_assigns_them(tmp_path, submitted, extension, stale, late):
    results = []
    for preprocessor in (AssignLatePenalties, AssignLatePenaltiesAtOnce):
        folder = tmp_path / preprocessor.__name__
        folder.mkdir()
        url = _gradebook(folder)
        with Gradebook(url) as gb:
            submission = gb.find_submission("hw", "ann")
            submission.timestamp, submission.extension = submitted, extension
            submission.notebooks[0].late_submission_penalty = stale
            grade = gb.find_grade("t_two", "p1", "hw", "ann")
            grade.auto_score = 2.0
            gb.db.commit()
        count, stop = _counting()
        try:
            preprocessor(config=Config({"LateSubmissionPlugin": {"penalty_method": "zero"}})).preprocess(
                _graded_notebook(), _resources(url))
        finally:
            stop()
        results.append((_penalties(url), count[0]))
    (theirs, _), (ours, statements) = results
    assert ours == theirs
    assert (theirs[0][1] not in (None, 0.0)) == late
    if not late and stale is None:
        assert statements == 1  # the one question
