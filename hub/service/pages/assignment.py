"""An assignment's page: for a student their attempts (and a timed one's Start button);
for staff the class's work, the settings, per-student rules and paper marks, feedback
for everyone, the charts and the printout.

Forms post here (with the session's CSRF token) and call the same functions as
the REST API (``sabaq.hub.domain.assignments``, ``marking``, ``feedback``).
"""

from __future__ import annotations

import statistics

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from sabaq.errors import Invalid
from sabaq.hub.domain import assignments as asg
from sabaq.hub.domain import courses as crs
from sabaq.hub.domain import feedback, gradebook, grading, kinds, marking, printing, reports, timerules
from sabaq.hub.service import forms
from sabaq.hub.service.access import course_and_role, course_student, is_staff, staff_assignment
from sabaq.hub.service.deps import DB, current_user, request_language
from sabaq.hub.service.pages.render import CATEGORY_NAMES, LATE_NAMES, PREFIX, STATUS_NAMES, back, render
from sabaq.hub.store.models import Role, StudentRule, Submission, User, utcnow
from sabaq.i18n import N_, translator

router = APIRouter(include_in_schema=False)


def _url(course_id: str, name: str) -> str:
    return f"{PREFIX}/courses/{course_id}/assignments/{name}"


@router.get("/courses/{course_id}/assignments/{name}", response_class=HTMLResponse)
def assignment_page(request: Request, course_id: str, name: str, user: User = Depends(current_user),
                    db: Session = DB):
    course, role = course_and_role(db, user, course_id)
    staff = is_staff(user, role)
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
    marks, rules, extra = {}, {}, {}
    if not staff and a.timed_minutes:
        ends = asg.time_ends(db, a, user)
        extra = dict(started=asg.started_at(db, a, user), ends=ends,
                     remaining=timerules.remaining(utcnow(), ends) if ends else None,
                     due=asg.effective_due_for(a, asg.student_rule(db, a, user)))
    if staff:
        marks = {row.student.id: row.marks[a.id] for row in gradebook.build(db, course).rows if a.id in row.marks}
        rules = {r.student_id: r for r in db.scalars(select(StudentRule).where(StudentRule.assignment_id == a.id))}
        extra = dict(status_names=STATUS_NAMES, category_names=CATEGORY_NAMES, late_names=LATE_NAMES,
                     can_schedule=user.is_admin or role == Role.teacher,
                     feedback_ready=sum(1 for m in marks.values() if _feedback_ready(m)),
                     notice=_notice(request, user))
    return render(request, "assignment.html", user=user, course=course, assignment=a, staff=staff,
                  students=students, by_student=by_student, own=subs if not staff else [],
                  marks=marks, rules=rules, can_grade=kinds.can_grade(a),
                  queued=request.query_params.get("queued"), **extra)


@router.post("/courses/{course_id}/assignments/{name}/start")
def start_page(course_id: str, name: str, user: User = Depends(current_user), db: Session = DB):
    """The Start button of a timed assignment (a form with the session's CSRF token)."""
    course = crs.get_course(db, course_id)
    crs.require_student(db, user, course)
    asg.start(db, asg.get_assignment(db, course, name, staff=False), user)
    return back(_url(course_id, name))


@router.post("/courses/{course_id}/assignments/{name}/regrade")
def regrade_page(request: Request, course_id: str, name: str, user: User = Depends(current_user), db: Session = DB):
    _, a = staff_assignment(db, user, course_id, name)
    count = grading.regrade(db, a)
    return back(f"{_url(course_id, name)}?queued={count}")


def _feedback_ready(mark) -> bool:
    """Whether a student's mark has feedback to release: graded work (or paper)."""
    return bool(mark and mark.submission_id and mark.status in (gradebook.GRADED, gradebook.PAPER))


NOTICES = {"saved": N_("Saved."), "published": N_("Released: students see it now."),
           "unpublished": N_("The release is taken back: students no longer see it; their work is kept.")}


def _notice(request: Request, user: User) -> str:
    """The result of the form just sent, in the reader's language (the page it came back to)."""
    _ = translator(request_language(request, user))
    released = request.query_params.get("released")
    if released is not None and released.isdigit():
        return _("Feedback released to {n} students.").format(n=int(released))
    return next((_(text) for key, text in NOTICES.items() if key in request.query_params), "")


@router.post("/courses/{course_id}/assignments/{name}/release-feedback")
async def release_all(request: Request, course_id: str, name: str, user: User = Depends(current_user),
                      db: Session = DB):
    """Feedback for every graded student, once the teacher has confirmed it (``confirm``)."""
    course, a = staff_assignment(db, user, course_id, name)
    if (await request.form()).get("confirm") != "1":
        raise Invalid(N_("Feedback was not released: confirm it with the button 'Yes, release feedback'."))
    count = 0
    for row in gradebook.build(db, course).rows:
        mark = row.marks.get(a.id)
        if _feedback_ready(mark):
            feedback.release_feedback(db, db.get(Submission, mark.submission_id), mark,
                                      row.student.language or course.language)
            count += 1
    return back(f"{_url(course_id, name)}?released={count}")


@router.post("/courses/{course_id}/assignments/{name}/settings")
async def assignment_settings(request: Request, course_id: str, name: str, user: User = Depends(current_user),
                              db: Session = DB):
    course, a = staff_assignment(db, user, course_id, name)
    crs.require_staff(db, user, course, teacher_only=True)
    form = await request.form()
    asg.configure(a, category=form.get("category") or None, term=forms.number(form.get("term"), forms.WHOLE, None),
                  estimated_minutes=forms.number(form.get("estimated_minutes"), forms.MINUTES, 0) or None,
                  timed_minutes=forms.number(form.get("timed_minutes"), forms.MINUTES, 0) or None,
                  late_policy=form.get("late_policy") or None,
                  late_percent_per_day=forms.number(form.get("late_percent_per_day"), forms.PERCENT, 0.0),
                  late_floor_percent=forms.number(form.get("late_floor_percent"), forms.PERCENT, 0.0))
    if form.get("due"):  # the API's rule, notice included: a blank field leaves the date as it is
        asg.set_due(a, forms.when(request, str(form["due"]), course))
    return back(_url(course_id, name))


@router.post("/courses/{course_id}/assignments/{name}/students/{login}")
async def student_rule(request: Request, course_id: str, name: str, login: str, user: User = Depends(current_user),
                       db: Session = DB):
    course, a = staff_assignment(db, user, course_id, name)
    form = await request.form()
    marking.set_student_rule(db, a, course_student(db, user, course, login),
                             extension_minutes=forms.number(form.get("extension_minutes"), forms.MINUTES, 0),
                             excused=bool(form.get("excused")))
    return back(_url(course_id, name))


@router.post("/courses/{course_id}/assignments/{name}/paper")
async def paper(request: Request, course_id: str, name: str, user: User = Depends(current_user), db: Session = DB):
    course, a = staff_assignment(db, user, course_id, name)
    form = await request.form()
    score = forms.number(form.get("score"), forms.SCORE)
    marking.record_paper(db, a, course_student(db, user, course, str(form.get("student", ""))), score,
                         str(form.get("comment", "")), user)
    return back(_url(course_id, name))


def _percents(db: Session, course, a) -> list[float]:
    gb = gradebook.build(db, course)
    return [100 * m.score / m.max_score for r in gb.rows if (m := r.marks[a.id]).max_score
            and m.score is not None and m.status in (gradebook.GRADED, gradebook.NEEDS_MANUAL, gradebook.PAPER)]


@router.get("/courses/{course_id}/assignments/{name}/distribution.png")
def distribution(request: Request, course_id: str, name: str, user: User = Depends(current_user), db: Session = DB):
    course, a = staff_assignment(db, user, course_id, name)
    _ = translator(request_language(request, user))
    title = _("Scores of {assignment}").format(assignment=a.title or a.name)
    png = reports.distribution_png(_percents(db, course, a), title,
                                   _("% of the maximum"), _("students"))
    return Response(png, media_type="image/png")


@router.get("/courses/{course_id}/assignments/{name}/questions.png")
def questions(request: Request, course_id: str, name: str, user: User = Depends(current_user), db: Session = DB):
    _course, a = staff_assignment(db, user, course_id, name)
    _ = translator(request_language(request, user))
    results = grading.current_results(db, a)
    latest = {s.id for s in asg.latest_submissions(db, a)}
    shares: dict[str, list[float]] = {}
    for sid, result in results.items():
        if sid not in latest or result.status != "graded":
            continue
        manual = feedback.manual_scores(db, db.get(Submission, sid))
        for nb, info in result.details.get("notebooks", {}).items():
            for grade_id, cell in info.get("cells", {}).items():
                if not cell.get("max_score"):
                    continue
                score = manual.get((nb, grade_id), cell.get("score") or 0.0)
                shares.setdefault(grade_id, []).append(100 * score / cell["max_score"])
    averages = [(g, statistics.mean(v)) for g, v in sorted(shares.items())]
    png = reports.questions_png(averages, _("Average per question"), _("% of the points"))
    return Response(png, media_type="image/png")


@router.get("/courses/{course_id}/assignments/{name}/print.pdf")
def print_pdf(request: Request, course_id: str, name: str, user: User = Depends(current_user), db: Session = DB):
    course, a = staff_assignment(db, user, course_id, name)
    pdf = printing.assignment_pdf(db, a, request_language(request, user))
    return Response(pdf, media_type="application/pdf",
                    headers={"content-disposition": f'attachment; filename="{course.slug}-{a.name}.pdf"'})
