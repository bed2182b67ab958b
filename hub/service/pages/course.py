"""Server-rendered pages: light HTML that loads fast on a slow rural link.

Every page is rendered in the reader's language; ``?lang=kk|ru|en`` switches
it and remembers the choice (cookie and profile).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.orm import Session

from sabaq.i18n import LANGUAGE_NAMES, LANGUAGES, N_, translator

from sabaq.hub.domain import assignments as asg
from sabaq.hub.domain import courses as crs
from sabaq.hub.domain import gradebook
from sabaq.hub.domain import grading
from sabaq.hub.domain import lessons
from sabaq.hub.domain import rosters
from sabaq.hub.domain import olympiad as tasks
from sabaq.errors import SabaqError
from sabaq.hub.store.models import STAFF_ROLES, Role, User
from sabaq.hub.service.deps import LANG_COOKIE, csrf_token, current_user, DB, request_language

router = APIRouter(include_in_schema=False)
# Role names are shown translated; listed here so the extractor finds them.
ROLE_NAMES = (N_("teacher"), N_("assistant"), N_("student"), N_("parent"), N_("admin"))
templates = Environment(
    loader=PackageLoader("sabaq.hub.service", "templates"),
    autoescape=select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
)


def render(request: Request, name: str, status: int = 200, user: User | None = None, **context) -> HTMLResponse:
    lang = request_language(request, user)
    _ = translator(lang)
    tz = ZoneInfo(request.app.state.settings.general.timezone)

    def when(value):
        if value is None:
            return "—"
        return format_datetime(value, format="d MMM y, HH:mm", tzinfo=tz, locale=lang)

    html = templates.get_template(name).render(
        _=_, lang=lang, languages=LANGUAGES, language_names=LANGUAGE_NAMES, when=when,
        user=user, prefix="/services/sabaq", csrf=csrf_token(request), path=request.url.path,
        **context,
    )
    response = HTMLResponse(html, status_code=status)
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES:
        # path "/": the hub's login page reads it too
        response.set_cookie(LANG_COOKIE, chosen, max_age=365 * 86400, path="/", samesite="lax")
    return response


def error_page(request: Request, exc: SabaqError) -> HTMLResponse:
    lang = request_language(request)
    return render(request, "error.html", status=exc.status, message=exc.translated(lang),
                  user=getattr(request.state, "viewer", None))


def _remember_language(request: Request, user: User) -> None:
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES and user.language != chosen:
        user.language = chosen


@router.get("/", response_class=HTMLResponse)
def home(request: Request, user: User = Depends(current_user), db: Session = DB):
    _remember_language(request, user)
    courses = crs.courses_of(db, user)
    if user.is_admin:
        mine = {c.id for c, _ in courses}
        courses += [(c, None) for c in crs.visible_courses(db, user) if c.id not in mine]
    return render(request, "home.html", user=user, courses=courses, children=crs.children_of(db, user))


@router.get("/courses/{course_id}", response_class=HTMLResponse)
def course_page(request: Request, course_id: str, user: User = Depends(current_user),
                db: Session = DB, report: dict | None = None):
    _remember_language(request, user)
    course = crs.get_course(db, course_id)
    role = crs.require_member(db, user, course)
    staff = user.is_admin or role in STAFF_ROLES
    if not staff:
        items = asg.released_for(db, course)
        mine = {a.id: asg.submissions_of(db, a, user) for a in items}
        return render(request, "course_student.html", user=user, course=course, assignments=items, mine=mine,
                      lessons=lessons.lessons_of(db, course))
    items = sorted(course.assignments, key=lambda a: a.name)
    students = crs.members(db, course, Role.student)
    latest = {a.id: {s.student_id: s for s in asg.latest_submissions(db, a)} for a in items}
    return render(
        request, "course_staff.html", user=user, course=course, assignments=items,
        students=students, latest=latest, members=crs.members(db, course),
        can_import=user.is_admin or role == Role.teacher, report=report,
        has_tasks=any(tasks.is_task(a) for a in items), lessons=lessons.lessons_of(db, course),
    )


@router.get("/courses/{course_id}/lessons/{name}", response_class=HTMLResponse)
def lesson_page(request: Request, course_id: str, name: str, user: User = Depends(current_user), db: Session = DB):
    """Where the class gets stuck: per-exercise success rates of a lesson's self-checks."""
    _remember_language(request, user)
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course)
    lesson = lessons.get_lesson(db, course, name)
    return render(request, "lesson.html", user=user, course=course, lesson=lesson, stats=lessons.stats(db, lesson))


@router.get("/courses/{course_id}/contest", response_class=HTMLResponse)
def contest_page(request: Request, course_id: str, user: User = Depends(current_user), db: Session = DB):
    """The coach's view of a practice contest: every student's verdicts on every task."""
    _remember_language(request, user)
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course)
    return render(request, "contest.html", user=user, course=course, table=tasks.contest_table(db, course))


@router.post("/courses/{course_id}/roster", response_class=HTMLResponse)
async def roster_upload(request: Request, course_id: str, file: UploadFile = File(...),
                        user: User = Depends(current_user), db: Session = DB):
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course, teacher_only=True)
    data = await file.read(5 * 1024 * 1024 + 1)
    report = rosters.import_roster(db, course, data[: 5 * 1024 * 1024],
                                   request.app.state.settings.auth.min_password_length)
    if report.ok:
        db.commit()
        request.app.state.hub_sync.request()
    else:
        db.rollback()
    body = report.as_dict(translator(request_language(request, user)))
    return course_page(request, course_id, user, db, report=body)


@router.get("/courses/{course_id}/assignments/{name}", response_class=HTMLResponse)
def assignment_page(request: Request, course_id: str, name: str, user: User = Depends(current_user),
                    db: Session = DB):
    course = crs.get_course(db, course_id)
    role = crs.require_member(db, user, course)
    staff = user.is_admin or role in STAFF_ROLES
    a = asg.get_assignment(db, course, name, staff=staff)
    if staff:
        subs = asg.submissions_of(db, a)
        students = crs.members(db, course, Role.student)
    else:
        subs = asg.submissions_of(db, a, user)
        students = []
    by_student: dict[int, list] = {}
    for s in subs:
        by_student.setdefault(s.student_id, []).append(s)
    marks, rules = {}, {}
    if staff:
        from sqlalchemy import select

        from sabaq.hub.store.models import StudentRule
        from sabaq.hub.service.pages.gradebook import CATEGORY_NAMES, LATE_NAMES, STATUS_NAMES

        marks = {row.student.id: row.marks[a.id] for row in gradebook.build(db, course).rows if a.id in row.marks}
        rules = {r.student_id: r for r in db.scalars(select(StudentRule).where(StudentRule.assignment_id == a.id))}
        extra = dict(status_names=STATUS_NAMES, category_names=CATEGORY_NAMES, late_names=LATE_NAMES)
    else:
        extra = {}
    return render(request, "assignment.html", user=user, course=course, assignment=a, staff=staff,
                  students=students, by_student=by_student, own=subs if not staff else [],
                  marks=marks, rules=rules, can_grade=grading.can_grade(a),
                  queued=request.query_params.get("queued"), **extra)


@router.post("/courses/{course_id}/assignments/{name}/regrade")
def regrade_page(request: Request, course_id: str, name: str, user: User = Depends(current_user), db: Session = DB):
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course)
    count = grading.regrade(db, asg.get_assignment(db, course, name))
    return RedirectResponse(f"/services/sabaq/courses/{course_id}/assignments/{name}?queued={count}", status_code=303)


@router.get("/students/{login}", response_class=HTMLResponse)
def student_page(request: Request, login: str, user: User = Depends(current_user), db: Session = DB):
    from sabaq.hub.service.pages.gradebook import _student_page

    return _student_page(request, user, crs.require_view_student(db, user, login), db)
