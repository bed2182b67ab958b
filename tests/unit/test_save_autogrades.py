"""The worker's SaveAutoGrades commits once per notebook instead of once per cell: the
gradebook must end exactly as nbgrader's own SaveAutoGrades leaves it, also when a cell
stops the pass midway (what came before it stays saved, as nbgrader's per-cell commits
left it)."""

import datetime as dt

import nbformat
import pytest
from nbgrader.api import Comment, Gradebook, Grade, MissingEntry
from nbgrader.preprocessors import SaveAutoGrades
from nbgrader.utils import compute_checksum

from sabaq.autograders.notebook.engine import SaveAutoGradesAtOnce
from sabaq.autograders.notebook.gradebook import shared_engines

from nbgrader_cells import add_teachers_cells, cell


def _cell(*args, **kwargs):
    return cell(*args, checksum=False, **kwargs)  # a checksum only where a test sets one


ERROR = {"output_type": "error", "ename": "AssertionError", "evalue": "", "traceback": ["AssertionError"]}


def _notebook(extra=()):
    answer = _cell("code", "answer", "def f(): return 1", solution=True)
    untouched = _cell("markdown", "essay", "YOUR ANSWER HERE", points=2, solution=True)
    untouched.metadata.nbgrader["checksum"] = compute_checksum(untouched)
    cells = [answer,
             _cell("code", "t_pass", "assert f() == 1", points=1),
             _cell("code", "t_fail", "assert f() == 2", points=2, outputs=[ERROR]),
             _cell("code", "t_partial", "0.5", points=3, outputs=[{"output_type": "execute_result", "execution_count": 1,
                                                                     "data": {"text/plain": "0.5"}, "metadata": {}}]),
             untouched,
             *extra,
             _cell("markdown", "task", "Describe", points=1, task=True)]
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    return nb


def _gradebook(folder, nb):
    url = f"sqlite:///{folder / 'gradebook.db'}"
    with Gradebook(url) as gb:
        gb.add_assignment("hw", duedate=dt.datetime(2026, 12, 1))
        gb.add_notebook("p1", "hw")
        add_teachers_cells(gb, nb, "p1", "hw")
        gb.add_student("ann")
        gb.add_submission("hw", "ann")
        gb.find_grade("t_partial", "p1", "hw", "ann").manual_score = 1.0  # a grader's, kept
        gb.db.commit()
    return url


def _rows(url):
    with Gradebook(url) as gb:
        grades = sorted((g.name, g.auto_score, g.manual_score, g.needs_manual_grade) for g in gb.db.query(Grade))
        comments = sorted((c.name, c.auto_comment) for c in gb.db.query(Comment))
        return grades, comments


def _save(preprocessor, url, nb):
    resources = {"nbgrader": {"notebook": "p1", "assignment": "hw", "student": "ann", "db_url": url}}
    return preprocessor().preprocess(nb, resources)


@pytest.mark.parametrize("engines", [False, True])
def test_same_rows_as_nbgraders_save(tmp_path, engines):
    theirs, ours = tmp_path / "theirs", tmp_path / "ours"
    theirs.mkdir(), ours.mkdir()
    url_theirs, url_ours = _gradebook(theirs, _notebook()), _gradebook(ours, _notebook())
    before = _rows(url_ours)
    _save(SaveAutoGrades, url_theirs, _notebook())
    if engines:  # as the worker runs it
        with shared_engines(scratch=True):
            _save(SaveAutoGradesAtOnce, url_ours, _notebook())
    else:
        _save(SaveAutoGradesAtOnce, url_ours, _notebook())
    assert _rows(url_ours) == _rows(url_theirs) != before
    grades = {name: rest for name, *rest in _rows(url_ours)[0]}
    assert grades["t_pass"] == [1.0, None, False] and grades["t_fail"] == [0.0, None, False]
    assert grades["t_partial"] == [0.5, 1.0, True]


def test_a_pass_stopped_midway_keeps_what_nbgrader_keeps(tmp_path):
    stranger = _cell("code", "not_in_gradebook", "assert True", points=1)
    theirs, ours = tmp_path / "theirs", tmp_path / "ours"
    theirs.mkdir(), ours.mkdir()
    url_theirs, url_ours = _gradebook(theirs, _notebook()), _gradebook(ours, _notebook())
    for preprocessor, url in ((SaveAutoGrades, url_theirs), (SaveAutoGradesAtOnce, url_ours)):
        with pytest.raises(MissingEntry):
            _save(preprocessor, url, _notebook(extra=[stranger]))
    assert _rows(url_ours) == _rows(url_theirs)
    grades = {name: rest for name, *rest in _rows(url_ours)[0]}
    assert grades["t_pass"] == [1.0, None, False]  # saved before the stranger stopped the pass
    assert grades["task"][0] is None  # after it: not saved
