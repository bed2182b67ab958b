"""Grading in the service: queueing grade jobs and keeping their results.

Every submission of an assignment that has the teacher's source gets a grade
job. A result is accepted only from the worker holding the job's lease (see
``jobs``), and accepting it makes it the submission's one current result; the
earlier results stay, no longer current. Regrading queues the newest
submission of every student again.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sabaq.contracts import JobKind, ScoredResult, result_from_json
from sabaq.hub.store import jobs
from sabaq.hub.domain.assignments import latest_submissions
from sabaq.hub.store.blobs import put_blob
from sabaq.hub.store.models import Assignment, FileKind, GradeResult, Job, Submission

GRADE = JobKind.grade
JUDGE = JobKind.judge  # olympiad tasks: the judge runs the program on the package's tests
KINDS = (GRADE, JUDGE)  # jobs whose results are grade results


def job_kind(assignment: Assignment) -> str:
    from sabaq.hub.domain.olympiad import is_task  # tasks builds on assignments, which builds on this module

    return JUDGE if is_task(assignment) else GRADE


def can_grade(assignment: Assignment) -> bool:
    if job_kind(assignment) == JUDGE:
        return any(f.kind == FileKind.source and f.path == "problem.yaml" for f in assignment.files)
    return any(f.kind == FileKind.source and f.path.endswith(".ipynb") for f in assignment.files)


def job_key(submission: Submission) -> str:
    return f"{GRADE}:{submission.id}"


def enqueue(db: Session, submission: Submission, again: bool = False) -> Job | None:
    """Queue grading (or judging) of one submission (again: even if it was graded before)."""
    if not can_grade(submission.assignment):
        return None
    return jobs.enqueue(db, job_kind(submission.assignment), job_key(submission),
                        {"submission_id": submission.id}, reset=again)


def regrade(db: Session, assignment: Assignment) -> int:
    """Grade every student's newest submission again, e.g. after a test was fixed."""
    count = 0
    for submission in latest_submissions(db, assignment):
        if enqueue(db, submission, again=True) is not None:
            count += 1
    return count


def record(db: Session, job: Job, result: ScoredResult | dict) -> GradeResult:
    """Store a grade or judge job's result (the contract's model, or its JSON, which is
    checked here) as the submission's current one."""
    if isinstance(result, dict):
        result = result_from_json(job.kind, result)
    submission_id = job.payload["submission_id"]
    db.execute(
        update(GradeResult)
        .where(GradeResult.submission_id == submission_id, GradeResult.current.is_(True))
        .values(current=False)
    )
    item = GradeResult(
        submission_id=submission_id,
        job_id=job.id,
        current=True,
        status=result.status,
        score=result.score,
        max_score=result.max_score,
        late_penalty=result.late_penalty,
        needs_manual_grade=result.needs_manual_grade,
        details=result.details.to_json() if result.details is not None else {},
        error=result.error,
        notebooks={name: put_blob(db, text.encode("utf-8")) for name, text in result.notebooks.items()},
    )
    db.add(item)
    db.flush()
    return item


def current_result(db: Session, submission: Submission) -> GradeResult | None:
    return db.scalar(
        select(GradeResult).where(GradeResult.submission_id == submission.id, GradeResult.current.is_(True))
    )


def current_results(db: Session, assignment: Assignment) -> dict[int, GradeResult]:
    """{submission id: current result} for an assignment."""
    rows = db.scalars(
        select(GradeResult)
        .join(Submission, Submission.id == GradeResult.submission_id)
        .where(Submission.assignment_id == assignment.id, GradeResult.current.is_(True))
    )
    return {r.submission_id: r for r in rows}
