"""The kinds of graded work and how each is graded: the one place that decides.

A notebook assignment is graded by nbgrader's pipeline in a worker (a ``grade``
job) once the teacher's source notebooks are held; an olympiad task (category
``olympiad``) is judged on its package's tests (a ``judge`` job) once the
package is held. Submitting, regrading, the gradebook and the pages all ask here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from sqlalchemy.orm import Session

from sabaq.contracts import JobKind
from sabaq.hub.store import jobs
from sabaq.hub.store.models import Assignment, FileKind, Job, Submission


@dataclass(frozen=True)
class GradingKind:
    category: str  # an assignment's category that selects this kind
    job: JobKind
    gradable_by: Callable[[str], bool]  # a source file (path) that this kind's grader works from


NOTEBOOK = GradingKind("notebook", JobKind.grade, lambda path: path.endswith(".ipynb"))
OLYMPIAD = GradingKind("olympiad", JobKind.judge, lambda path: path == "problem.yaml")
RESULT_JOBS = (NOTEBOOK.job, OLYMPIAD.job)  # jobs whose results are grade results


def kind_of(assignment: Assignment) -> GradingKind:
    return OLYMPIAD if assignment.category == OLYMPIAD.category else NOTEBOOK


def is_task(assignment: Assignment) -> bool:
    """An olympiad task (judged, best attempt counts), not a notebook assignment."""
    return kind_of(assignment) is OLYMPIAD


def can_grade(assignment: Assignment, source_paths: Iterable[str] | None = None) -> bool:
    """The teacher's side the grader needs is held (``source_paths``: the paths of the
    assignment's source files, if the caller read them; else its files are loaded)."""
    kind = kind_of(assignment)
    if source_paths is None:
        source_paths = (f.path for f in assignment.files if f.kind == FileKind.source)
    return any(kind.gradable_by(path) for path in source_paths)


def job_key(submission: Submission) -> str:
    return f"{JobKind.grade}:{submission.id}"


def enqueue_grading(db: Session, submission: Submission, again: bool = False) -> Job | None:
    """Queue grading (or judging) of one submission (again: even if it was graded before)."""
    job = grading_job(submission)
    return None if job is None else jobs.enqueue(db, *job, reset=again)


def grading_job(submission: Submission, source_paths: Iterable[str] | None = None) -> tuple[str, str, dict] | None:
    """The (kind, key, payload) that grades (or judges) this submission, None if it cannot be
    graded yet (``source_paths``: as ``can_grade``'s)."""
    if not can_grade(submission.assignment, source_paths):
        return None
    return kind_of(submission.assignment).job, job_key(submission), {"submission_id": submission.id}
