"""A grading run's submissions, made ready in the gradebook in one transaction.

nbgrader's ``Autograde.init_assignment`` makes each student's rows as it reaches the student:
the student (``update_or_create_student``) and then the submission mirroring the assignment
(``add_submission``: a submitted notebook per notebook, a grade per graded cell, a comment per
solution cell), each with its own lazy loads and commit, about a fifth of the worker's CPU for
a notebook. Here the rows of every submission a run is about to grade that does not exist yet
are made beforehand, the same rows as ``add_submission`` makes, in the same order, with one
commit. ``prepare_submissions`` also does the rest of what ``init_assignment`` asks of the
gradebook, for every student at once: each submission gets its timestamp, and the assignment's
notebooks and each student's lateness are read once (see ``engine.SabaqAutograde.init_assignment``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nbgrader.api import Assignment, Comment, Grade, Gradebook, Notebook, Student, SubmittedAssignment, SubmittedNotebook
from nbgrader.utils import parse_utc
from sqlalchemy.orm import selectinload


@dataclass
class Prepared:
    """What nbgrader's ``init_assignment`` would have found in the gradebook for the students
    of one assignment a run grades: whose rows are ready, the assignment's notebooks, and how
    many seconds late each late submission is."""

    students: set[str] = field(default_factory=set)
    notebooks: list[str] = field(default_factory=list)
    seconds_late: dict[str, float] = field(default_factory=dict)


def prepare_submissions(gb: Gradebook, assignment: str, timestamps: dict, create_students: bool) -> Prepared | None:
    """Make ready, in one transaction, the submission of `assignment` of each student in
    `timestamps` (student id -> the submission's time or None), as nbgrader's
    ``init_assignment`` makes each: the student if missing and `create_students`, the
    submission's rows if missing (``mirror``), its timestamp when there is one. None when the
    gradebook lacks the assignment; a student left out of ``students`` (unknown, and students
    are not created) is left to nbgrader, which says what is wrong."""
    found = _assignment(gb, assignment)
    if found is None:
        return None
    prepared = Prepared(notebooks=[notebook.name for notebook in found.notebooks])
    students = list(timestamps)
    if not students:
        return prepared
    known = {sid for (sid,) in gb.db.query(Student.id).filter(Student.id.in_(students))}
    submissions = {submission.student_id: submission for submission in gb.db.query(SubmittedAssignment)
                   .filter(SubmittedAssignment.assignment_id == found.id, SubmittedAssignment.student_id.in_(students))}
    for student_id in students:
        submission = submissions.get(student_id)
        if submission is None:
            if student_id not in known:
                if not create_students:
                    continue
                gb.db.add(Student(id=student_id))
            submission = mirror(found, student_id)
            gb.db.add(submission)
        if timestamps[student_id] is not None:
            submission.timestamp = parse_utc(timestamps[student_id])
        prepared.students.add(student_id)
        if late := submission.total_seconds_late:
            prepared.seconds_late[student_id] = late
    gb.db.commit()
    return prepared


def _assignment(gb: Gradebook, assignment: str) -> Assignment | None:
    """The assignment with its notebooks and their cells (what ``mirror`` reads), or None;
    found by name alone, as nbgrader's ``find_assignment`` finds it."""
    return (gb.db.query(Assignment)
            .options(selectinload(Assignment.notebooks).selectinload(Notebook._base_cells))
            .filter(Assignment.name == assignment)
            .one_or_none())


def mirror(assignment: Assignment, student_id: str) -> SubmittedAssignment:
    """A new submission of `assignment` holding what nbgrader's ``add_submission`` puts in one."""
    submission = SubmittedAssignment(assignment=assignment, student_id=student_id)
    for notebook in assignment.notebooks:
        nb = SubmittedNotebook(notebook=notebook, assignment=submission)
        for grade_cell in notebook.grade_cells:
            Grade(cell_id=grade_cell.id, notebook=nb)
        for solution_cell in notebook.solution_cells:
            Comment(cell_id=solution_cell.id, notebook=nb)
        for task_cell in notebook.task_cells:
            Comment(cell_id=task_cell.id, notebook=nb)
            Grade(cell_id=task_cell.id, notebook=nb)
    return submission
