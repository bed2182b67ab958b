"""A course's pages: its assignments and lessons (students see their own work, staff
the class's), a lesson's success rates, a practice contest, the class list upload.

Every page is rendered in the reader's language; ``?lang=kk|ru|en`` switches
it and remembers the choice (cookie and profile).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from sabaq.hub.domain import assignments as asg
from sabaq.hub.domain import courses as crs
from sabaq.hub.domain import kinds, lesson_questions, lessons, rosters
from sabaq.hub.domain import olympiad as tasks
from sabaq.hub.service import forms
from sabaq.hub.service.access import course_and_role, is_staff
from sabaq.hub.service.deps import DB, current_user, request_language
from sabaq.hub.service.pages.render import PREFIX, back, remember_language, render
from sabaq.hub.store.models import Role, User
from sabaq.i18n import translator

router = APIRouter(include_in_schema=False)
ROSTER_LIMIT = 5 * 1024 * 1024
CONTEST_REFRESH_SECONDS = 15  # how often an open contest page asks whether its table changed


@router.get("/courses/{course_id}", response_class=HTMLResponse)
def course_page(request: Request, course_id: str, user: User = Depends(current_user),
                db: Session = DB, report: dict | None = None):
    remember_language(request, user)
    course, role = course_and_role(db, user, course_id)
    if not is_staff(user, role):
        items = asg.released_for(db, course)
        mine = {a.id: asg.submissions_of(db, a, user) for a in items}
        shown = lessons.lessons_of(db, course)
        return render(request, "course_student.html", user=user, course=course, assignments=items, mine=mine,
                      lessons=shown, lesson_langs={l.id: lessons.delivered_language(l, user) for l in shown})
    items = sorted(course.assignments, key=lambda a: a.name)
    students = crs.members(db, course, Role.student)
    latest = {a.id: {s.student_id: s for s in asg.latest_submissions(db, a)} for a in items}
    return render(
        request, "course_staff.html", user=user, course=course, assignments=items,
        students=students, latest=latest, members=crs.members(db, course),
        can_import=user.is_admin or role == Role.teacher, report=report,
        has_tasks=any(kinds.is_task(a) for a in items), lessons=lessons.lessons_of(db, course),
    )


@router.get("/courses/{course_id}/lessons/{name}", response_class=HTMLResponse)
def lesson_page(request: Request, course_id: str, name: str, user: User = Depends(current_user), db: Session = DB):
    """Where the class gets stuck: per-exercise success rates of a lesson's self-checks."""
    remember_language(request, user)
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course)
    lesson = lessons.get_lesson(db, course, name)
    return render(request, "lesson.html", user=user, course=course, lesson=lesson, stats=lessons.stats(db, lesson),
                  questions=lesson_questions.questions(db, lesson, request_language(request, user)))


@router.get("/courses/{course_id}/contest", response_class=HTMLResponse)
def contest_page(request: Request, course_id: str, user: User = Depends(current_user), db: Session = DB):
    """The coach's view of a practice contest: every student's verdicts on every task."""
    remember_language(request, user)
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course)
    return render(request, "contest.html", user=user, course=course, table=tasks.contest_table(db, course),
                  can_order=user.is_admin or crs.role_in(db, user, course) == Role.teacher,
                  refresh_seconds=CONTEST_REFRESH_SECONDS)


@router.post("/courses/{course_id}/contest/order")
async def contest_order(request: Request, course_id: str, user: User = Depends(current_user), db: Session = DB):
    """The coach's order of the tasks, from the page's place fields (``place-<task>``: 1 is
    first; equal places keep the tasks' order as it was)."""
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course, teacher_only=True)
    form = await request.form()
    shown = [t.name for t in tasks.contest_tasks(db, course)]
    places = {name: forms.number(form.get(f"place-{name}"), forms.PAGE, default=len(shown) + 1) for name in shown}
    tasks.set_order(db, course, sorted(shown, key=lambda name: places[name]))
    return back(f"{PREFIX}/courses/{course.slug}/contest")


@router.post("/courses/{course_id}/roster", response_class=HTMLResponse)
async def roster_upload(request: Request, course_id: str, file: UploadFile = File(...),
                        user: User = Depends(current_user), db: Session = DB):
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course, teacher_only=True)
    data = await file.read(ROSTER_LIMIT + 1)
    report = rosters.import_roster(db, course, data[:ROSTER_LIMIT],
                                   request.app.state.settings.auth.min_password_length, by=user)
    if report.ok:
        db.commit()
        request.app.state.hub_sync.request()
    else:
        db.rollback()
    body = report.as_dict(translator(request_language(request, user)))
    return course_page(request, course_id, user, db, report=body)
