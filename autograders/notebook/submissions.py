"""A grading run's new submissions, made in the gradebook in one transaction.

nbgrader's ``Autograde.init_assignment`` makes each student's rows as it reaches the student:
the student (``update_or_create_student``) and then the submission mirroring the assignment
(``add_submission``: a submitted notebook per notebook, a grade per graded cell, a comment per
solution cell), each with its own lazy loads and commit, about a fifth of the worker's CPU for
a notebook. Here the rows of every submission a run is about to grade that does not exist yet
are made beforehand, the same rows as ``add_submission`` makes, in the same order, with one
commit; nbgrader's ``init_assignment`` then finds them and goes on as for a regrade (it sets
the timestamp). Submissions that exist already are left to nbgrader.
"""

from __future__ import annotations

from nbgrader.api import Assignment, Comment, Grade, Gradebook, Notebook, Student, SubmittedAssignment, SubmittedNotebook
from sqlalchemy.orm import selectinload


def add_missing_submissions(gb: Gradebook, assignment: str, students: list[str], create_students: bool) -> int:
    """Add, in `students`' order, the submission of `assignment` of each student who has none
    (and, if `create_students`, the student first, as nbgrader's ``create_student`` does);
    return how many submissions were added. A student who is not in the gradebook when
    students are not created is left out: nbgrader reports that one itself."""
    found = (gb.db.query(Assignment)
             .options(selectinload(Assignment.notebooks).selectinload(Notebook._base_cells))
             .filter(Assignment.name == assignment, Assignment.course_id == gb.course_id)
             .one_or_none())
    if found is None or not students:
        return 0
    known = {sid for (sid,) in gb.db.query(Student.id).filter(Student.id.in_(students))}
    submitted = {sid for (sid,) in gb.db.query(SubmittedAssignment.student_id)
                 .filter(SubmittedAssignment.assignment_id == found.id, SubmittedAssignment.student_id.in_(students))}
    added = 0
    for student_id in dict.fromkeys(students):
        if student_id in submitted:
            continue
        if student_id not in known:
            if not create_students:
                continue
            gb.db.add(Student(id=student_id))
        gb.db.add(mirror(found, student_id))
        added += 1
    gb.db.commit()
    return added


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
