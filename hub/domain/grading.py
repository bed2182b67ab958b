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

from sabaq.contracts import ScoredResult, result_from_json
from sabaq.hub.domain.assignments import latest_submissions
from sabaq.hub.domain.kinds import enqueue_grading
from sabaq.hub.store.blobs import put_blob
from sabaq.hub.store.models import Assignment, GradeResult, Job, Submission


def regrade(db: Session, assignment: Assignment) -> int:
    """Grade every student's newest submission again, e.g. after a test was fixed."""
    count = 0
    for submission in latest_submissions(db, assignment):
        if enqueue_grading(db, submission, again=True) is not None:
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
