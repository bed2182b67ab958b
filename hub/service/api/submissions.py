"""API v1 for submissions: a student submits (answered only once it is stored), staff
collect and release feedback, students, parents and teachers read what they may."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Header, Request, Response, UploadFile
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from starlette.concurrency import run_in_threadpool

from sabaq.errors import Invalid
from sabaq.hub.domain import assignments as asg
from sabaq.hub.domain import courses as crs
from sabaq.hub.domain import repeats
from sabaq.hub.service.access import course_and_role, is_staff, staff_submission, viewable_submission
from sabaq.hub.service.api.files import ZIP, read_uploads, zip_response
from sabaq.hub.service.api.schemas import (
    ERRORS,
    SUBMISSION_OUT_LOAD,
    Id,
    SubmissionOut,
    listed_out,
    submission_out,
)
from sabaq.hub.service.deps import DB, current_user
from sabaq.hub.service.views import assignment_page
from sabaq.hub.store.blobs import get_blob
from sabaq.hub.store.database import reading
from sabaq.hub.store.models import Assignment, Submission, User
from sabaq.i18n import N_
from sabaq.timings import spent

router = APIRouter(prefix="/api/v1", tags=["v1"], responses=ERRORS)


@router.post("/courses/{course_id}/assignments/{name}/submissions", status_code=201, response_model=SubmissionOut,
             summary="Submit an attempt (students); answered only after it is stored")
async def submit(request: Request, course_id: str, name: str,
                 files: list[UploadFile] = File(..., description="file name = path relative to the assignment folder"),
                 idempotency_key: str | None = Header(
                     None, description="a random value of the client's, sent again unchanged when it repeats this "
                     "upload: the attempt stored by the first is the answer, not a second attempt"),
                 user: User = Depends(current_user), db: Session = DB):
    # The database is used in two short transactions in a thread, never across an await:
    # on SQLite a transaction holds the write lock, and a deadline's crowd queues behind it.
    # Each phase's time goes into the answer's Server-Timing (sabaq bench deadline reads it).
    key = repeats.checked_key(idempotency_key)
    declared = sum(f.size or 0 for f in files)  # known once the form has arrived on disk: checked before reading it
    with spent("check"):
        earlier = await run_in_threadpool(_may_submit, request, db, course_id, name, user, declared, key)
    if earlier is not None:
        return earlier
    with spent("upload"):
        data = await read_uploads(request, files)
    with spent("store"):
        return await run_in_threadpool(_store, request, db, course_id, name, user, data, key)


def _open_to(request: Request, db: Session, course_id: str, name: str, user: User, incoming: int) -> Assignment:
    """The assignment, if this student may submit ``incoming`` bytes to it now."""
    a = asg.students_assignment(db, course_id, name, user)
    if a.timed_minutes:  # only a timed one waits for its start (its page, in the refusal, reads the course again)
        asg.require_started(db, a, user, assignment_page(request.app.state.settings, a))
    limits = request.app.state.settings.service
    asg.check_quota(db, a, user, incoming, max_attempts=limits.max_attempts,
                    max_submission_mb=limits.max_submission_mb, max_student_mb=limits.max_student_mb)
    return a


def _earlier(db: Session, course_id: str, name: str, user: User, key: str | None) -> SubmissionOut | None:
    """The attempt a first sending of this upload stored (the student's own, in this course)."""
    if key is None:
        return None
    found = repeats.stored_before(db, user, asg.students_assignment(db, course_id, name, user), key)
    return None if found is None else submission_out(found)


def _may_submit(request: Request, db: Session, course_id: str, name: str, user: User, incoming: int,
                key: str | None) -> SubmissionOut | None:
    """Refuse early, before the files are read; the transaction ends here (it wrote nothing).
    A repeat of an upload already stored is answered with it, whatever the rules say now
    (the deadline or the last attempt may have passed since it was stored)."""
    reading(db)  # waits for no writer: a deadline's crowd queues only to store
    try:
        earlier = _earlier(db, course_id, name, user, key)
        if earlier is None:
            _open_to(request, db, course_id, name, user, incoming)
        return earlier
    finally:
        db.commit()


def _store(request: Request, db: Session, course_id: str, name: str, user: User, data: dict[str, bytes],
           key: str | None) -> SubmissionOut:
    """Checked again with the files' real sizes, stored with its check and grading jobs, committed:
    only then is the student told it was received."""
    a = _open_to(request, db, course_id, name, user, sum(len(content) for content in data.values()))
    try:
        submission = asg.submit(db, a, user, data, request_key=key)
    except (Invalid, IntegrityError):
        # the same upload sent twice at once (PostgreSQL lets both in until the first commits)
        db.rollback()
        earlier = _earlier(db, course_id, name, user, key)
        if earlier is None:
            raise
        return earlier
    out = submission_out(submission)
    db.commit()
    return out


@router.get("/courses/{course_id}/assignments/{name}/submissions", response_model=list[SubmissionOut],
            summary="Submissions: all for staff, one's own for a student")
def list_submissions(course_id: str, name: str, latest: bool = False,
                     user: User = Depends(current_user), db: Session = DB):
    course, role = course_and_role(db, user, course_id)
    staff = is_staff(user, role)
    a = asg.get_assignment(db, course, name, staff=staff)  # to students an unreleased one does not exist
    if staff:
        set_committed_value(a, "course", course)  # the listing names it: not read again
        return listed_out(db, a, latest=latest)
    items = asg.submissions_of(db, a, user, load=SUBMISSION_OUT_LOAD)
    if latest:
        items = items[-1:]
    return [submission_out(s) for s in items]


@router.get("/submissions/{submission_id}", response_model=SubmissionOut,
            summary="One submission (the student, their parents, course staff)")
def get_submission(submission_id: Id, user: User = Depends(current_user), db: Session = DB):
    return submission_out(viewable_submission(db, user, submission_id))


@router.get("/submissions/{submission_id}/download", response_class=Response,
            responses={200: {"content": {ZIP: {}}}}, summary="Submitted files as a zip")
def download_submission(submission_id: Id, user: User = Depends(current_user), db: Session = DB):
    s = viewable_submission(db, user, submission_id)
    return zip_response(asg.submission_files(db, s), f"{s.assignment.name}-{s.student.name}-{s.attempt}.zip")


@router.put("/submissions/{submission_id}/feedback", response_model=SubmissionOut,
            summary="Release feedback HTML for a submission (staff)")
async def put_feedback(request: Request, submission_id: Id, files: list[UploadFile] = File(...),
                       user: User = Depends(current_user), db: Session = DB):
    s = staff_submission(db, user, submission_id)
    for path, html in (await read_uploads(request, files)).items():
        if not path.endswith(".html") or "/" in path:
            raise Invalid(N_("Feedback must be one HTML file per notebook, like 'problem1.html'."))
        asg.store_feedback(db, s, path[: -len(".html")], html)
    db.refresh(s)
    return submission_out(s)


@router.get("/submissions/{submission_id}/feedback", response_class=Response,
            responses={200: {"content": {ZIP: {}}}}, summary="Released feedback as a zip")
def download_feedback(submission_id: Id, user: User = Depends(current_user), db: Session = DB):
    s = viewable_submission(db, user, submission_id)
    return zip_response({f"{f.notebook}.html": get_blob(db, f.sha256) for f in s.feedback}, "feedback.zip")


@router.get("/students/{login}/submissions", response_model=list[SubmissionOut],
            summary="A student's submissions (the student, their parents, their teachers)")
def student_submissions(login: str, user: User = Depends(current_user), db: Session = DB):
    student = crs.require_view_student(db, user, login)
    items = db.scalars(select(Submission).where(Submission.student_id == student.id)
                       .order_by(Submission.submitted_at).options(*SUBMISSION_OUT_LOAD))
    if user.is_admin or user.id == student.id or crs.is_guardian(db, user, student):
        visible = list(items)
    else:  # a teacher sees the work done in their own courses only (asked once per course)
        allowed: dict[int, bool] = {}
        visible = []
        for s in items:
            course = s.assignment.course
            if course.id not in allowed:
                allowed[course.id] = crs.can_view_student(db, user, student, course)
            if allowed[course.id]:
                visible.append(s)
    return [submission_out(s) for s in visible]
