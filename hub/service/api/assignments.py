"""API v1 for assignments: release, take back, list, a student's start of a timed one,
fetch (the exchange plugin's ``fetch_assignment``), the teacher's source, grading again."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from sqlalchemy.orm import Session

from sabaq.hub.domain import assignments as asg
from sabaq.hub.domain import courses as crs
from sabaq.hub.domain import grading
from sabaq.hub.service import forms
from sabaq.hub.service.access import course_and_role, is_staff, staff_assignment
from sabaq.hub.service.api.files import ZIP, read_uploads, zip_response
from sabaq.hub.service.api.schemas import ERRORS, AssignmentOut, RegradeOut, StartOut, assignment_out
from sabaq.hub.service.deps import DB, current_user
from sabaq.hub.service.views import assignment_page
from sabaq.hub.store.models import FileKind, Role, User

router = APIRouter(prefix="/api/v1", tags=["v1"], responses=ERRORS)


@router.get("/courses/{course_id}/assignments", response_model=list[AssignmentOut],
            summary="Assignments (students: released ones; staff: all)")
def list_assignments(course_id: str, user: User = Depends(current_user), db: Session = DB):
    course, role = course_and_role(db, user, course_id)
    staff = is_staff(user, role)
    items = course.assignments if staff else asg.released_for(db, course)
    return [assignment_out(db, a, staff) for a in sorted(items, key=lambda a: a.name)]


@router.put("/courses/{course_id}/assignments/{name}", response_model=AssignmentOut,
            summary="Release an assignment (teacher): student files and the private source")
async def release_assignment(
    request: Request, course_id: str, name: str,
    release: list[UploadFile] = File(..., description="released files; file name = relative path"),
    source: list[UploadFile] = File(default=[], description="teacher's source files, kept private"),
    due: str | None = Form(None, description="due date, ISO 8601; the course's local time if no zone"),
    closes: str | None = Form(None, description="no submissions after this; empty: late ones are accepted"),
    title: str = Form("", max_length=200),
    user: User = Depends(current_user), db: Session = DB,
):
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course, teacher_only=True)
    due_at, closes_at = forms.when(request, due, course), forms.when(request, closes, course)
    if due is None and closes is None and (earlier := asg.find_assignment(db, course, name)) is not None:
        # nbgrader's release sends no date when the formgrader has none: the one set on sabaq's page stays
        due_at, closes_at = earlier.due_at, earlier.closes_at
    release_files = await read_uploads(request, release)
    source_files = await read_uploads(request, source) if source else {}
    a = asg.release(db, course, name, release_files, source_files, due_at=due_at, closes_at=closes_at, title=title)
    return assignment_out(db, a, True)


@router.delete("/courses/{course_id}/assignments/{name}/release", response_model=AssignmentOut,
               summary="Take a release back (teacher); submissions are kept")
def unrelease_assignment(course_id: str, name: str, user: User = Depends(current_user), db: Session = DB):
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course, teacher_only=True)
    a = asg.get_assignment(db, course, name)
    asg.unpublish(a)
    return assignment_out(db, a, True)


@router.get("/courses/{course_id}/assignments/{name}", response_model=AssignmentOut, summary="One assignment")
def get_assignment(course_id: str, name: str, user: User = Depends(current_user), db: Session = DB):
    course, role = course_and_role(db, user, course_id)
    staff = is_staff(user, role)
    return assignment_out(db, asg.get_assignment(db, course, name, staff=staff), staff)


@router.get("/courses/{course_id}/assignments/{name}/download", response_class=Response,
            responses={200: {"content": {ZIP: {}}}}, summary="The released files as a zip (members)")
def download_assignment(request: Request, course_id: str, name: str, user: User = Depends(current_user),
                        db: Session = DB):
    course, role = course_and_role(db, user, course_id)
    a = asg.get_assignment(db, course, name, staff=is_staff(user, role))
    if role == Role.student:  # a timed one only once started: a fetch, or a link someone sent, starts no clock
        asg.require_started(db, a, user, assignment_page(request.app.state.settings, a))
    return zip_response(asg.released_files_for(db, a, user), f"{name}.zip")


@router.post("/courses/{course_id}/assignments/{name}/start", response_model=StartOut,
             summary="Start a timed assignment (the student, when ready): the minutes run from now")
def start_assignment(course_id: str, name: str, user: User = Depends(current_user), db: Session = DB):
    course = crs.get_course(db, course_id)
    crs.require_student(db, user, course)
    a = asg.get_assignment(db, course, name, staff=False)
    rule = asg.start(db, a, user)
    return StartOut(assignment=a.name, minutes=a.timed_minutes, started_at=rule.opened_at,
                    ends_at=asg.time_ends(db, a, user))


@router.get("/courses/{course_id}/assignments/{name}/source", response_class=Response,
            responses={200: {"content": {ZIP: {}}}}, summary="The teacher's source as a zip (staff)")
def download_source(course_id: str, name: str, user: User = Depends(current_user), db: Session = DB):
    _, a = staff_assignment(db, user, course_id, name)
    return zip_response(asg.files_of(db, a, FileKind.source), f"{name}-source.zip")


@router.post("/courses/{course_id}/assignments/{name}/regrade", response_model=RegradeOut,
             summary="Grade every student's newest submission again (staff), e.g. after fixing a test")
def regrade(course_id: str, name: str, user: User = Depends(current_user), db: Session = DB):
    _, a = staff_assignment(db, user, course_id, name)
    return RegradeOut(queued=grading.regrade(db, a))
