"""nbgrader's per-cell gradebook lookups, answered from a few queries per notebook.

nbgrader's OverwriteCells asks the gradebook, for every cell of every notebook, for its
source cell and its graded cell; SaveAutoGrades asks for every cell's grade and comment:
one query of up to six joins per question (two when the first kind misses), about a
third of the SQL a notebook costs the worker. Here the same questions are answered from
one query per kind of row: the teacher's cells and notebooks' kernelspecs once per grading
run (generating the assignment wrote them; grading never changes them), a submission's
grades and comments once per notebook. A question about a cell that is not there goes to nbgrader's own
finder, which raises what it raised before.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

from nbgrader.api import (
    Assignment,
    BaseCell,
    Comment,
    Grade,
    Gradebook,
    GradeCell,
    Notebook,
    SourceCell,
    Student,
    SubmittedAssignment,
    SubmittedNotebook,
    TaskCell,
)
from nbgrader.preprocessors import AssignLatePenalties, OverwriteCells, OverwriteKernelspec
from sqlalchemy import bindparam, select

# The teacher's cells of each (gradebook, assignment, notebook), read once per grading run:
# {key: (source cells by name, graded cells by name)}. SabaqAutograde empties it before and
# after each run (see engine.SabaqAutograde.convert_notebooks).
TEACHER_CELLS: dict[tuple[str, str, str], tuple[dict, dict]] = {}
# and each notebook's kernelspec as the teacher's notebook has it (JSON text or None)
TEACHER_KERNELSPECS: dict[tuple[str, str, str], str | None] = {}


def forget_the_teachers() -> None:
    """Read the teacher's records again from the next question on (a new run may be of another
    assignment, or of the same one generated again)."""
    TEACHER_CELLS.clear()
    TEACHER_KERNELSPECS.clear()

SOURCE_FIELDS = ("name", "cell_type", "locked", "checksum", "source")


def answer_from(gradebook, finder: str, found: dict[tuple, object]) -> None:
    """Make ``gradebook.<finder>(*args)`` answer from `found` (keyed by the finder's
    arguments); what is not there is asked of nbgrader's finder as before."""
    original = getattr(gradebook, finder)

    def find(*args):
        hit = found.get(args)
        return hit if hit is not None else original(*args)

    setattr(gradebook, finder, find)


def teacher_cells(gradebook, db_url: str, notebook: str, assignment: str) -> tuple[dict, dict]:
    """The notebook's source cells (their fields OverwriteCells reads) and graded cells (their
    maximum score) by name, as plain values read in three queries, once per run. A grade cell
    comes before a task cell of the same name, as nbgrader's ``find_graded_cell`` looks."""
    key = (db_url, assignment, notebook)
    if key not in TEACHER_CELLS:
        db = gradebook.db

        def of_this_notebook(cell, *columns):
            return (db.query(*columns).join(Notebook, Notebook.id == cell.notebook_id)
                    .join(Assignment, Assignment.id == Notebook.assignment_id)
                    .filter(Notebook.name == notebook, Assignment.name == assignment))

        sources = {row.name: SimpleNamespace(**{f: getattr(row, f) for f in SOURCE_FIELDS})
                   for row in of_this_notebook(SourceCell, *(getattr(SourceCell, f) for f in SOURCE_FIELDS))}
        graded: dict[str, SimpleNamespace] = {}
        for kind in (TaskCell, GradeCell):  # grade cells last: they win a shared name
            for name, max_score in of_this_notebook(kind, kind.name, kind.max_score):
                graded[name] = SimpleNamespace(max_score=max_score)
        TEACHER_CELLS[key] = (sources, graded)
    return TEACHER_CELLS[key]


class OverwriteCellsAtOnce(OverwriteCells):
    """nbgrader's OverwriteCells, reading the teacher's cells once per run instead of twice
    per cell: the same cells are restored the same way (tested against nbgrader's)."""

    def preprocess(self, nb, resources):
        # nbgrader's OverwriteCells.preprocess, with the gradebook answering from the run's cells
        self.notebook_id = resources["nbgrader"]["notebook"]
        self.assignment_id = resources["nbgrader"]["assignment"]
        self.db_url = resources["nbgrader"]["db_url"]
        self.gradebook = Gradebook(self.db_url)
        with self.gradebook:
            sources, graded = teacher_cells(self.gradebook, self.db_url, self.notebook_id, self.assignment_id)
            where = (self.notebook_id, self.assignment_id)
            answer_from(self.gradebook, "find_source_cell", {(name, *where): c for name, c in sources.items()})
            answer_from(self.gradebook, "find_graded_cell", {(name, *where): c for name, c in graded.items()})
            nb, resources = super(OverwriteCells, self).preprocess(nb, resources)
            if self.add_missing_cells:
                nb, resources = self.add_missing_grade_cells(nb, resources)
                nb, resources = self.add_missing_task_cells(nb, resources)
        return nb, resources


class OverwriteKernelspecAtOnce(OverwriteKernelspec):
    """nbgrader's OverwriteKernelspec, reading the teacher's kernelspec once per run instead of
    once per notebook: the submitted notebook gets the teacher's kernelspec, if there is one."""

    def preprocess(self, nb, resources):
        notebook, assignment = resources["nbgrader"]["notebook"], resources["nbgrader"]["assignment"]
        key = (resources["nbgrader"]["db_url"], assignment, notebook)
        if key not in TEACHER_KERNELSPECS:
            with Gradebook(key[0]) as gb:
                TEACHER_KERNELSPECS[key] = gb.find_notebook(notebook, assignment).kernelspec
        kernelspec = TEACHER_KERNELSPECS[key]
        if kernelspec is not None and (kernelspec := json.loads(kernelspec)):
            nb.metadata["kernelspec"] = kernelspec
        return nb, resources


def with_its_submission(statement):
    """`statement`, from submitted notebooks, joined to each one's notebook, submission and
    assignment."""
    return (statement.join(Notebook, Notebook.id == SubmittedNotebook.notebook_id)
            .join(SubmittedAssignment, SubmittedAssignment.id == SubmittedNotebook.assignment_id)
            .join(Assignment, Assignment.id == SubmittedAssignment.assignment_id))


def with_its_cell_and_student(statement, model):
    """`statement`, from rows of `model` (grades or comments), joined to each one's cell,
    submitted notebook, notebook, submission, assignment and student."""
    return with_its_submission(statement.join(BaseCell, BaseCell.id == model.cell_id)
                               .join(SubmittedNotebook, SubmittedNotebook.id == model.notebook_id)
                               ).join(Student, Student.id == SubmittedAssignment.student_id)


# a submitted notebook's late penalty and what its lateness is computed from
LATENESS = (with_its_submission(select(SubmittedNotebook.late_submission_penalty, SubmittedAssignment.timestamp,
                                       SubmittedAssignment.extension, Assignment.duedate))
            .filter(Notebook.name == bindparam("notebook"), Assignment.name == bindparam("assignment"),
                    SubmittedAssignment.student_id == bindparam("student")))


class AssignLatePenaltiesAtOnce(AssignLatePenalties):
    """nbgrader's AssignLatePenalties, asking one question first: was the submission late, and
    does the notebook hold a penalty? When on time with none (a deadline's usual case), nbgrader
    would only set the penalty to none again; otherwise nbgrader's own pass runs."""

    def preprocess(self, nb, resources):
        meta = resources["nbgrader"]
        with Gradebook(meta["db_url"]) as gb:
            found = gb.db.execute(LATENESS, {key: meta[key] for key in ("notebook", "assignment", "student")})
            found = found.one_or_none()
        if found is not None and found.late_submission_penalty is None and not seconds_late(*found[1:]):
            return nb, resources
        return super().preprocess(nb, resources)


def seconds_late(timestamp, extension, duedate) -> float:
    """nbgrader's ``SubmittedAssignment.total_seconds_late`` from the row's values."""
    if timestamp is None or duedate is None:
        return 0
    return max(0, (timestamp - (duedate + extension if extension is not None else duedate)).total_seconds())


def _submitted_rows(model, kinds: tuple[str, ...]):
    """A submitted notebook's rows of `model` with their cell's name and kind; built once (a
    statement's construction cost as much as running it)."""
    return (with_its_cell_and_student(select(model, BaseCell.name, BaseCell.type), model)
            .filter(Notebook.name == bindparam("notebook"), Assignment.name == bindparam("assignment"),
                    Student.id == bindparam("student"), BaseCell.type.in_(kinds)))


GRADE_KINDS, COMMENT_KINDS = ("GradeCell", "TaskCell"), ("SolutionCell", "TaskCell")
SUBMITTED_GRADES, SUBMITTED_COMMENTS = _submitted_rows(Grade, GRADE_KINDS), _submitted_rows(Comment, COMMENT_KINDS)


def answer_grades_and_comments(gradebook, notebook: str, assignment: str, student: str) -> None:
    """Load the submitted notebook's grades and comments in two queries and let
    ``find_grade``/``find_comment`` answer from them (the rows are the session's own, so
    what SaveAutoGrades sets on them is saved as before). nbgrader looks for a grade by
    grade cell, then task cell, and a comment by solution cell, then task cell."""
    names = {"notebook": notebook, "assignment": assignment, "student": student}

    def rows(statement, kinds: tuple[str, ...]) -> dict[tuple, object]:
        found: dict[tuple, object] = {}
        for row, name, kind in sorted(gradebook.db.execute(statement, names), key=lambda r: kinds.index(r[2]),
                                      reverse=True):
            found[(name, notebook, assignment, student)] = row  # the first kind is put last: it wins
        return found

    answer_from(gradebook, "find_grade", rows(SUBMITTED_GRADES, GRADE_KINDS))
    answer_from(gradebook, "find_comment", rows(SUBMITTED_COMMENTS, COMMENT_KINDS))
