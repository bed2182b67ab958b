"""REST API v1 for people and their servers (the exchange plugin uses it).

Every route names who may call it; the checks themselves live in
``sabaq.hub.domain.courses`` so that pages, API and CLI share one rule book.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from sabaq.i18n import LANGUAGES, N_

from sabaq.hub.domain import accounts
from sabaq import archive
from sabaq.hub.domain import assignments as asg
from sabaq.hub.domain import courses as crs
from sabaq.hub.domain import grading
from sabaq.hub.domain import rosters
from sabaq.errors import Invalid, TooLarge
from sabaq.hub.domain.uploads import check_file_count, check_upload
from sabaq.hub.store.blobs import get_blob
from sabaq.hub.store.models import STAFF_ROLES, Assignment, Course, FileKind, GradeResult, Role, Submission, User
from sabaq.hub.service.deps import current_user, DB, gettext_for
from sabaq.hub.domain.dates import parse_when

router = APIRouter(prefix="/api/v1", tags=["v1"])
ZIP = "application/zip"


# --- response models ---------------------------------------------------------


class CourseOut(BaseModel):
    id: str = Field(description="course id (nbgrader course_id)")
    title: str
    language: str
    role: str | None = Field(None, description="the caller's role: teacher, assistant, student")


class MeOut(BaseModel):
    name: str
    full_name: str
    language: str | None
    admin: bool
    courses: list[CourseOut]
    children: list[str]


class MemberOut(BaseModel):
    login: str
    full_name: str
    role: str
    section: str


class AssignmentOut(BaseModel):
    course: str
    name: str
    title: str
    released_at: dt.datetime | None
    due_at: dt.datetime | None
    closes_at: dt.datetime | None
    version: int
    notebooks: list[str]
    submitted: int | None = Field(None, description="staff only: students with a submission")


class SubmissionOut(BaseModel):
    id: int
    course: str
    assignment: str
    student: str
    attempt: int
    submitted_at: dt.datetime
    timestamp: str = Field(description="nbgrader timestamp text")
    late: bool
    files: list[str]
    feedback: list[str]
    feedback_hashes: dict[str, str] = Field(description="notebook -> sha256 of its released feedback")
    check: dict | None
    grade: GradeOut | None = Field(None, description="staff only: the current autograde result")


class GradeOut(BaseModel):
    status: str = Field(description="graded, or failed")
    score: float = Field(description="after the late penalty")
    max_score: float
    late_penalty: float
    needs_manual_grade: bool
    graded_at: dt.datetime
    details: dict


class RosterOut(BaseModel):
    ok: bool
    created: list[dict]
    updated: list[dict]
    errors: list[dict]
    warnings: list[dict]


class LanguageIn(BaseModel):
    language: str


class CourseIn(BaseModel):
    id: str
    title: str = ""
    language: str = "kk"


class MemberIn(BaseModel):
    role: Role
    section: str = ""


class UserIn(BaseModel):
    login: str
    full_name: str = ""
    password: str | None = None
    admin: bool = False
    language: str | None = None


class ChildIn(BaseModel):
    child: str


# --- helpers -----------------------------------------------------------------


def course_out(course: Course, role: Role | None) -> CourseOut:
    return CourseOut(id=course.slug, title=course.title, language=course.language,
                     role=role.value if role else None)


def assignment_out(db: Session, a: Assignment, staff: bool) -> AssignmentOut:
    notebooks = sorted({f.path.split("/", 2)[-1] if f.path.startswith(asg.I18N) else f.path
                        for f in a.files if f.kind == FileKind.release and f.path.endswith(".ipynb")})
    out = AssignmentOut(
        course=a.course.slug, name=a.name, title=a.title, released_at=a.released_at,
        due_at=a.due_at, closes_at=a.closes_at, version=a.version, notebooks=notebooks,
    )
    if staff:
        out.submitted = len(asg.latest_submissions(db, a))
    return out


def submission_out(s: Submission, result: GradeResult | None = None) -> SubmissionOut:
    grade = None
    if result is not None:
        grade = GradeOut(status=result.status, score=result.score, max_score=result.max_score,
                         late_penalty=result.late_penalty, needs_manual_grade=result.needs_manual_grade,
                         graded_at=result.created_at, details=result.details)
    return SubmissionOut(
        id=s.id, course=s.assignment.course.slug, assignment=s.assignment.name,
        student=s.student.name, attempt=s.attempt, submitted_at=s.submitted_at,
        timestamp=asg.nbgrader_timestamp(s.submitted_at), late=s.late,
        files=sorted(f.path for f in s.files), feedback=sorted(f.notebook for f in s.feedback),
        feedback_hashes={f.notebook: f.sha256 for f in s.feedback}, check=s.check, grade=grade,
    )


def zip_response(files: dict[str, bytes], filename: str) -> Response:
    return Response(
        archive.pack(files), media_type=ZIP,
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


async def read_uploads(request: Request, uploads: list[UploadFile]) -> dict[str, bytes]:
    """Read uploaded files, stopping at the size limit instead of filling memory."""
    settings = request.app.state.settings
    limit = settings.service.max_upload_mb * 1024 * 1024
    files: dict[str, bytes] = {}
    check_file_count(len(uploads), settings.service.max_files)
    for upload in uploads:
        data = await upload.read(limit + 1)
        name = archive.safe_relpath(upload.filename or "")
        if len(data) > limit:
            raise TooLarge(
                N_("The file '{path}' is {size} MB; the limit is {limit} MB. Make it smaller (for example, clear large outputs) and try again."),
                path=name, size=f"> {settings.service.max_upload_mb}", limit=settings.service.max_upload_mb,
            )
        if name in files:
            raise Invalid(N_("The file '{path}' was sent twice."), path=name)
        files[name] = data
    return check_upload(files, limit, settings.service.max_files)


def _course_and_role(db: Session, user: User, course_id: str) -> tuple[Course, Role | None]:
    course = crs.get_course(db, course_id)
    return course, crs.require_member(db, user, course)


def _is_staff(user: User, role: Role | None) -> bool:
    return user.is_admin or role in STAFF_ROLES


# --- people ------------------------------------------------------------------


@router.get("/me", response_model=MeOut, summary="Who am I; my courses and children")
def me(user: User = Depends(current_user), db: Session = DB):
    return MeOut(
        name=user.name, full_name=user.full_name, language=user.language, admin=user.is_admin,
        courses=[course_out(c, r) for c, r in crs.courses_of(db, user)],
        children=[c.name for c in crs.children_of(db, user)],
    )


@router.patch("/me", response_model=MeOut, summary="Set my language (kk, ru, en)")
def set_my_language(body: LanguageIn, user: User = Depends(current_user), db: Session = DB):
    if body.language not in LANGUAGES:
        raise Invalid(N_("Unknown language '{lang}': choose kk, ru or en."), lang=body.language)
    user.language = body.language
    return me(user, db)


@router.get("/users", response_model=list[MemberOut], summary="All accounts (admin)")
def list_users(user: User = Depends(current_user), db: Session = DB):
    from sqlalchemy import select

    crs.require_admin(user)
    return [MemberOut(login=u.name, full_name=u.full_name, role="admin" if u.is_admin else "", section="")
            for u in db.scalars(select(User).order_by(User.name))]


@router.post("/users", status_code=201, response_model=MemberOut, summary="Create an account (admin)")
def create_user(request: Request, body: UserIn, user: User = Depends(current_user), db: Session = DB):
    crs.require_admin(user)
    if body.password:
        accounts.check_password(body.password, request.app.state.settings.auth.min_password_length)
    new = accounts.create_user(db, body.login, full_name=body.full_name, password=body.password,
                               is_admin=body.admin, language=body.language)
    return MemberOut(login=new.name, full_name=new.full_name, role="admin" if new.is_admin else "", section="")


@router.post("/users/{login}/children", status_code=201, summary="Link a parent to a child (admin)")
def add_child(login: str, body: ChildIn, user: User = Depends(current_user), db: Session = DB):
    crs.require_admin(user)
    crs.link_guardian(db, accounts.get_user(db, login), accounts.get_user(db, body.child))
    return {"parent": login, "child": body.child}


# --- courses and rosters -------------------------------------------------------


@router.get("/courses", response_model=list[CourseOut], summary="Courses I belong to (all, for admins)")
def list_courses(user: User = Depends(current_user), db: Session = DB):
    return [course_out(c, crs.role_in(db, user, c)) for c in crs.visible_courses(db, user)]


@router.post("/courses", status_code=201, response_model=CourseOut, summary="Create a course (admin)")
def create_course(body: CourseIn, user: User = Depends(current_user), db: Session = DB):
    crs.require_admin(user)
    if body.language not in LANGUAGES:
        raise Invalid(N_("Unknown language '{lang}': choose kk, ru or en."), lang=body.language)
    return course_out(crs.create_course(db, body.id, body.title, body.language), None)


@router.get("/courses/{course_id}", response_model=CourseOut, summary="One course (members)")
def get_course(course_id: str, user: User = Depends(current_user), db: Session = DB):
    course, role = _course_and_role(db, user, course_id)
    return course_out(course, role)


@router.get("/courses/{course_id}/members", response_model=list[MemberOut], summary="Roster (staff)")
def list_members(course_id: str, user: User = Depends(current_user), db: Session = DB):
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course)
    return [MemberOut(login=m.user.name, full_name=m.user.full_name, role=m.role.value, section=m.section)
            for m in crs.members(db, course)]


@router.put("/courses/{course_id}/members/{login}", response_model=MemberOut, summary="Add or change a member (teacher)")
def put_member(course_id: str, login: str, body: MemberIn, user: User = Depends(current_user),
               db: Session = DB):
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course, teacher_only=True)
    member = crs.set_member(db, course, accounts.get_user(db, login), body.role, body.section)
    return MemberOut(login=login, full_name=member.user.full_name, role=member.role.value, section=member.section)


@router.delete("/courses/{course_id}/members/{login}", status_code=204, summary="Remove a member (teacher)")
def delete_member(course_id: str, login: str, user: User = Depends(current_user), db: Session = DB):
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course, teacher_only=True)
    crs.remove_member(db, course, accounts.get_user(db, login))
    return Response(status_code=204)


@router.post("/courses/{course_id}/roster", response_model=RosterOut,
             summary="Import a class list from CSV (teacher); nothing changes if a row is wrong")
async def import_roster(request: Request, course_id: str, file: UploadFile = File(...),
                        user: User = Depends(current_user), db: Session = DB):
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course, teacher_only=True)
    data = await file.read(5 * 1024 * 1024 + 1)
    if len(data) > 5 * 1024 * 1024:
        raise TooLarge(N_("A roster file may be at most 5 MB."))
    report = rosters.import_roster(db, course, data, request.app.state.settings.auth.min_password_length)
    body = report.as_dict(gettext_for(request, user))
    if not report.ok:
        db.rollback()
        return Response(RosterOut(**body).model_dump_json(), status_code=422, media_type="application/json")
    request.app.state.hub_sync.request()
    return body


# --- assignments ----------------------------------------------------------------


@router.get("/courses/{course_id}/assignments", response_model=list[AssignmentOut],
            summary="Assignments (students: released ones; staff: all)")
def list_assignments(course_id: str, user: User = Depends(current_user), db: Session = DB):
    course, role = _course_and_role(db, user, course_id)
    staff = _is_staff(user, role)
    items = course.assignments if staff else asg.released_for(db, course)
    return [assignment_out(db, a, staff) for a in sorted(items, key=lambda a: a.name)]


@router.put("/courses/{course_id}/assignments/{name}", response_model=AssignmentOut,
            summary="Release an assignment (teacher): student files and the private source")
async def release_assignment(
    request: Request, course_id: str, name: str,
    release: list[UploadFile] = File(..., description="released files; file name = relative path"),
    source: list[UploadFile] = File(default=[], description="teacher's source files, kept private"),
    due: str | None = Form(None, description="due date, ISO 8601; local time of the site if no zone"),
    closes: str | None = Form(None, description="no submissions after this; empty: late ones are accepted"),
    title: str = Form(""),
    user: User = Depends(current_user), db: Session = DB,
):
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course, teacher_only=True)
    tz = request.app.state.settings.general.timezone
    release_files = await read_uploads(request, release)
    source_files = await read_uploads(request, source) if source else {}
    a = asg.release(db, course, name, release_files, source_files,
                    due_at=parse_when(due, tz), closes_at=parse_when(closes, tz), title=title)
    return assignment_out(db, a, True)


@router.delete("/courses/{course_id}/assignments/{name}/release", response_model=AssignmentOut,
               summary="Take a release back (teacher); submissions are kept")
def unrelease_assignment(course_id: str, name: str, user: User = Depends(current_user), db: Session = DB):
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course, teacher_only=True)
    a = asg.get_assignment(db, course, name)
    a.released_at = None
    return assignment_out(db, a, True)


@router.get("/courses/{course_id}/assignments/{name}", response_model=AssignmentOut, summary="One assignment")
def get_assignment(course_id: str, name: str, user: User = Depends(current_user), db: Session = DB):
    course, role = _course_and_role(db, user, course_id)
    staff = _is_staff(user, role)
    return assignment_out(db, asg.get_assignment(db, course, name, staff=staff), staff)


@router.get("/courses/{course_id}/assignments/{name}/download", response_class=Response,
            responses={200: {"content": {ZIP: {}}}}, summary="The released files as a zip (members)")
def download_assignment(course_id: str, name: str, user: User = Depends(current_user), db: Session = DB):
    course, role = _course_and_role(db, user, course_id)
    a = asg.get_assignment(db, course, name, staff=_is_staff(user, role))
    if role == Role.student:
        asg.record_opening(db, a, user)  # the clock of a timed assignment starts at the first fetch
    return zip_response(asg.released_files_for(db, a, user), f"{name}.zip")


@router.get("/courses/{course_id}/assignments/{name}/source", response_class=Response,
            responses={200: {"content": {ZIP: {}}}}, summary="The teacher's source as a zip (staff)")
def download_source(course_id: str, name: str, user: User = Depends(current_user), db: Session = DB):
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course)
    a = asg.get_assignment(db, course, name)
    return zip_response(asg.files_of(db, a, FileKind.source), f"{name}-source.zip")


@router.post("/courses/{course_id}/assignments/{name}/submissions", status_code=201, response_model=SubmissionOut,
             summary="Submit an attempt (students); answered only after it is stored")
async def submit(request: Request, course_id: str, name: str,
                 files: list[UploadFile] = File(..., description="file name = path relative to the assignment folder"),
                 user: User = Depends(current_user), db: Session = DB):
    course = crs.get_course(db, course_id)
    crs.require_student(db, user, course)
    a = asg.get_assignment(db, course, name)
    data = await read_uploads(request, files)
    submission = asg.submit(db, a, user, data)
    out = submission_out(submission)
    db.commit()  # stored before the student hears "received"
    return out


@router.get("/courses/{course_id}/assignments/{name}/submissions", response_model=list[SubmissionOut],
            summary="Submissions: all for staff, one's own for a student")
def list_submissions(course_id: str, name: str, latest: bool = False,
                     user: User = Depends(current_user), db: Session = DB):
    course, role = _course_and_role(db, user, course_id)
    a = asg.get_assignment(db, course, name)
    if _is_staff(user, role):
        items = asg.latest_submissions(db, a) if latest else asg.submissions_of(db, a)
        results = grading.current_results(db, a)
        return [submission_out(s, results.get(s.id)) for s in items]
    items = asg.submissions_of(db, a, user)
    if latest:
        items = items[-1:]
    return [submission_out(s) for s in items]


class RegradeOut(BaseModel):
    queued: int = Field(description="submissions queued for grading")


@router.post("/courses/{course_id}/assignments/{name}/regrade", response_model=RegradeOut,
             summary="Grade every student's newest submission again (staff), e.g. after fixing a test")
def regrade(course_id: str, name: str, user: User = Depends(current_user), db: Session = DB):
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course)
    return RegradeOut(queued=grading.regrade(db, asg.get_assignment(db, course, name)))


def _viewable_submission(db: Session, user: User, submission_id: int) -> Submission:
    s = asg.get_submission(db, submission_id)
    crs.require_view_student(db, user, s.student.name, s.assignment.course)
    return s


@router.get("/submissions/{submission_id}", response_model=SubmissionOut,
            summary="One submission (the student, their parents, course staff)")
def get_submission(submission_id: int, user: User = Depends(current_user), db: Session = DB):
    return submission_out(_viewable_submission(db, user, submission_id))


@router.get("/submissions/{submission_id}/download", response_class=Response,
            responses={200: {"content": {ZIP: {}}}}, summary="Submitted files as a zip")
def download_submission(submission_id: int, user: User = Depends(current_user), db: Session = DB):
    s = _viewable_submission(db, user, submission_id)
    return zip_response(asg.submission_files(db, s), f"{s.assignment.name}-{s.student.name}-{s.attempt}.zip")


@router.put("/submissions/{submission_id}/feedback", response_model=SubmissionOut,
            summary="Release feedback HTML for a submission (staff)")
async def put_feedback(request: Request, submission_id: int, files: list[UploadFile] = File(...),
                       user: User = Depends(current_user), db: Session = DB):
    s = asg.get_submission(db, submission_id)
    crs.require_staff(db, user, s.assignment.course)
    for path, html in (await read_uploads(request, files)).items():
        if not path.endswith(".html") or "/" in path:
            raise Invalid(N_("Feedback must be one HTML file per notebook, like 'problem1.html'."))
        asg.store_feedback(db, s, path[: -len(".html")], html)
    db.refresh(s)
    return submission_out(s)


@router.get("/submissions/{submission_id}/feedback", response_class=Response,
            responses={200: {"content": {ZIP: {}}}}, summary="Released feedback as a zip")
def download_feedback(submission_id: int, user: User = Depends(current_user), db: Session = DB):
    s = _viewable_submission(db, user, submission_id)
    return zip_response({f"{f.notebook}.html": get_blob(db, f.sha256) for f in s.feedback}, "feedback.zip")


@router.get("/students/{login}/submissions", response_model=list[SubmissionOut],
            summary="A student's submissions (the student, their parents, their teachers)")
def student_submissions(login: str, user: User = Depends(current_user), db: Session = DB):
    student = crs.require_view_student(db, user, login)
    from sqlalchemy import select

    items = db.scalars(select(Submission).where(Submission.student_id == student.id)
                       .order_by(Submission.submitted_at))
    if user.is_admin or user.id == student.id or crs.is_guardian(db, user, student):
        visible = list(items)
    else:  # a teacher sees the work done in their own courses only
        visible = [s for s in items if crs.can_view_student(db, user, student, s.assignment.course)]
    return [submission_out(s) for s in visible]

