"""Grading in the service: queueing grade jobs and keeping their results.

Every submission of an assignment that has the teacher's source gets a grade
job. A result is accepted only from the worker holding the job's lease (see
``jobs``), and accepting it makes it the submission's one current result; the
earlier results stay, no longer current. Regrading queues the newest
submission of every student again.
"""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from sabaq.contracts import ScoredResult, result_from_json
from sabaq.hub.domain.assignments import latest_submissions
from sabaq.hub.domain.kinds import enqueue_grading
from sabaq.hub.store.blobs import put_blobs
from sabaq.hub.store.models import Assignment, GradeResult, Job, Submission, utcnow


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
    record_all(db, [(job, result)])
    return db.scalar(select(GradeResult).where(GradeResult.job_id == job.id, GradeResult.current.is_(True))
                     .order_by(GradeResult.id.desc()).limit(1))


def record_all(db: Session, scored: list[tuple[Job, ScoredResult | dict]]) -> None:
    """``record`` for a batch's results, in a few statements for all of them rather than a few
    each (a worker reports a batch in one transaction, which holds SQLite's write lock). A
    submission reported twice in the batch keeps its last result as the current one."""
    if not scored:
        return
    parsed = [(job, result_from_json(job.kind, r) if isinstance(r, dict) else r) for job, r in scored]
    submission_ids = [job.payload["submission_id"] for job, _ in parsed]
    db.execute(
        update(GradeResult)
        .where(GradeResult.submission_id.in_(sorted(set(submission_ids))), GradeResult.current.is_(True))
        .values(current=False)
    )
    digests = iter(put_blobs(db, [text.encode("utf-8") for _, r in parsed for text in r.notebooks.values()]))
    last = {submission_id: i for i, submission_id in enumerate(submission_ids)}
    now = utcnow()
    db.execute(insert(GradeResult), [  # one statement for all the rows (the ORM sent one per row, for their ids)
        {
            "submission_id": submission_id,
            "job_id": job.id,
            "current": last[submission_id] == i,
            "status": result.status,
            "score": result.score,
            "max_score": result.max_score,
            "late_penalty": result.late_penalty,
            "needs_manual_grade": result.needs_manual_grade,
            "details": result.details.to_json() if result.details is not None else {},
            "error": result.error,
            "notebooks": {name: next(digests) for name in result.notebooks},
            "created_at": now,
        }
        for i, ((job, result), submission_id) in enumerate(zip(parsed, submission_ids))
    ])


def current_result(db: Session, submission: Submission) -> GradeResult | None:
    return db.scalar(
        select(GradeResult).where(GradeResult.submission_id == submission.id, GradeResult.current.is_(True))
    )


def current_results(db: Session, assignment: Assignment, *, columns: tuple = ()) -> dict:
    """{submission id: current result} for an assignment: GradeResult entities, or with
    ``columns`` (GradeResult's) rows of those columns, which a listing polled at a deadline
    reads without the ORM's cost per entity."""
    wanted = select(GradeResult.submission_id, *columns) if columns else select(GradeResult)
    rows = db.execute(
        wanted.join(Submission, Submission.id == GradeResult.submission_id)
        .where(Submission.assignment_id == assignment.id, GradeResult.current.is_(True))
    )
    if columns:
        return {row.submission_id: row for row in rows}
    return {r.submission_id: r for r in rows.scalars()}
