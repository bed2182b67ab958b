"""Gradebook pages: the class table, grading one submission, charts, printing.

Forms post here (with the session's CSRF token) and call the same functions as
the REST API (``sabaq.hub.domain.marking``, ``feedback``, ``gradebook``).
"""

from __future__ import annotations

import statistics

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from sabaq.i18n import N_, translator

from sabaq.hub.domain import assessment
from sabaq.hub.domain import assignments as asg
from sabaq.hub.domain import courses as crs
from sabaq.hub.domain import feedback
from sabaq.hub.domain import gradebook
from sabaq.hub.domain import grading
from sabaq.hub.domain import marking
from sabaq.hub.domain import printing
from sabaq.hub.domain import reports
from sabaq.hub.domain.dates import parse_when
from sabaq.errors import Invalid
from sabaq.hub.store.models import Role, Submission, User
from sabaq.hub.service.deps import DB, current_user, request_language
from sabaq.hub.service.api.gradebook import _course_student, _mark_of, load_warnings
from sabaq.hub.service.pages.course import render

router = APIRouter(include_in_schema=False)
STATUS_NAMES = {
    gradebook.NOT_SUBMITTED: N_("not submitted"), gradebook.SUBMITTED: N_("submitted"),
    gradebook.GRADING: N_("grading"), gradebook.GRADED: N_("graded"),
    gradebook.NEEDS_MANUAL: N_("needs manual grading"), gradebook.FAILED: N_("grading failed"),
    gradebook.EXCUSED: N_("excused"), gradebook.PAPER: N_("on paper"),
}
LATE_NAMES = {"none": N_("accepted, no penalty"), "zero": N_("scores zero"), "percent": N_("loses a share per day")}
CATEGORY_NAMES = {assessment.FORMATIVE: N_("formative"), assessment.UNIT_SUMMATIVE: N_("unit summative"),
                  assessment.TERM_SUMMATIVE: N_("term summative")}


def mark_cells(gb, _, prefix: str = "/services/sabaq") -> dict[int, list[Markup]]:
    """The table's cells as ready HTML: built here because a thousand-student class is
    tens of thousands of cells, and a template loop costs ten times more per cell."""
    names = {k: escape(_(v)) for k, v in STATUS_NAMES.items()}
    late = escape(_("late"))
    out = {}
    for row in gb.rows:
        cells = []
        for a in gb.assignments:
            m = row.marks[a.id]
            text = f"{m.score:g}" if m.score is not None and m.status != gradebook.NOT_SUBMITTED else \
                f'<span class="muted">{names[m.status]}</span>'
            if m.submission_id:
                text = f'<a href="{prefix}/submissions/{m.submission_id}">{text}</a>'
            if m.status == gradebook.NEEDS_MANUAL:
                text += f' <span class="late" title="{names[m.status]}">✎</span>'
            if m.late:
                text += f' <span class="late" title="{late}">⏰</span>'
            if m.status == gradebook.PAPER:
                text += f' <span title="{names[m.status]}">📄</span>'
            cells.append(Markup(f'<td class="mark {m.status}">{text}</td>'))
        out[row.student.id] = cells
    return out


def _back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _int(value, default=None):
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default


@router.get("/courses/{course_id}/gradebook", response_class=HTMLResponse)
def gradebook_page(request: Request, course_id: str, user: User = Depends(current_user), db: Session = DB):
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course)
    q = request.query_params
    section, category = q.get("section") or None, q.get("category") or None
    term = _int(q.get("term"))
    gb = gradebook.build(db, course, section, term, category, page=max(_int(q.get("page"), 1), 1))
    sections = sorted({m.section for m in crs.members(db, course, Role.student) if m.section})
    cells = mark_cells(gb, translator(request_language(request, user)))
    return render(request, "gradebook.html", user=user, course=course, gb=gb, sections=sections, cells=cells,
                  section=section or "", term=term, category=category or "", status_names=STATUS_NAMES,
                  category_names=CATEGORY_NAMES,
                  warnings=load_warnings(db, course, request_language(request, user), request.app.state.settings))


@router.post("/courses/{course_id}/settings")
async def course_settings(request: Request, course_id: str, user: User = Depends(current_user), db: Session = DB):
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course, teacher_only=True)
    form = await request.form()
    weights = {}
    for line in str(form.get("scheme_weights", "")).splitlines():
        if "=" in line:
            key, _, value = line.partition("=")
            try:
                weights[key.strip()] = float(value.strip().replace(",", "."))
            except ValueError:
                raise Invalid(N_("'{value}' is not a number."), value=value.strip()) from None
    name = str(form.get("scheme") or course.scheme)
    try:
        assessment.scheme(name, weights)
    except ValueError:
        raise Invalid(N_("Unknown assessment scheme '{scheme}': use kz-criteria, weighted or points."),
                      scheme=name) from None
    course.scheme, course.scheme_weights = name, weights
    course.min_notice_hours = float(form.get("min_notice_hours") or 0)
    course.daily_load_minutes = _int(form.get("daily_load_minutes"), 0)
    return _back(f"/services/sabaq/courses/{course_id}/gradebook")


@router.get("/submissions/{submission_id}", response_class=HTMLResponse)
def submission_page(request: Request, submission_id: int, user: User = Depends(current_user), db: Session = DB):
    s = asg.get_submission(db, submission_id)
    crs.require_staff(db, user, s.assignment.course)
    result = grading.current_result(db, s)
    notebooks = feedback.notebook_views(db, s, result, for_student=False)
    overall = feedback.comments_of(db, s).get(("", ""), "")
    return render(request, "submission.html", user=user, s=s, result=result, notebooks=notebooks,
                  mark=_mark_of(db, s), overall=overall, status_names=STATUS_NAMES,
                  released=[f.notebook for f in s.feedback], saved=request.query_params.get("saved"))


@router.post("/submissions/{submission_id}/marks")
async def save_marks(request: Request, submission_id: int, user: User = Depends(current_user), db: Session = DB):
    s = asg.get_submission(db, submission_id)
    crs.require_staff(db, user, s.assignment.course)
    form = await request.form()
    for key, value in form.items():
        parts = key.split("::")
        if parts[0] == "score" and len(parts) == 3:
            text = str(value).strip().replace(",", ".")
            try:
                score = float(text) if text else None
            except ValueError:
                raise Invalid(N_("'{value}' is not a number."), value=text) from None
            marking.set_manual_grade(db, s, parts[1], parts[2], score, user)
        elif parts[0] == "comment" and len(parts) == 3:
            marking.set_comment(db, s, parts[1], parts[2], str(value), user)
    if "overall" in form:
        marking.set_comment(db, s, "", "", str(form["overall"]), user)
    if form.get("release"):
        feedback.release_feedback(db, s, _mark_of(db, s), s.student.language or s.assignment.course.language)
    return _back(f"/services/sabaq/submissions/{s.id}?saved=1")


def _assignment(db: Session, user: User, course_id: str, name: str):
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course)
    return course, asg.get_assignment(db, course, name)


def _assignment_url(course_id: str, name: str) -> str:
    return f"/services/sabaq/courses/{course_id}/assignments/{name}"


@router.post("/courses/{course_id}/assignments/{name}/release-feedback")
def release_all(course_id: str, name: str, user: User = Depends(current_user), db: Session = DB):
    course, a = _assignment(db, user, course_id, name)
    for row in gradebook.build(db, course).rows:
        mark = row.marks.get(a.id)
        if mark and mark.submission_id and mark.status in (gradebook.GRADED, gradebook.PAPER):
            feedback.release_feedback(db, db.get(Submission, mark.submission_id), mark,
                                      row.student.language or course.language)
    return _back(_assignment_url(course_id, name) + "?released=1")


@router.post("/courses/{course_id}/assignments/{name}/settings")
async def assignment_settings(request: Request, course_id: str, name: str, user: User = Depends(current_user),
                              db: Session = DB):
    course, a = _assignment(db, user, course_id, name)
    crs.require_staff(db, user, course, teacher_only=True)
    form = await request.form()
    asg.configure(a, category=form.get("category") or None, term=_int(form.get("term")),
                  estimated_minutes=_int(form.get("estimated_minutes"), 0) or None,
                  timed_minutes=_int(form.get("timed_minutes"), 0) or None,
                  late_policy=form.get("late_policy") or None,
                  late_percent_per_day=float(form.get("late_percent_per_day") or 0),
                  late_floor_percent=float(form.get("late_floor_percent") or 0))
    if form.get("due"):
        a.due_at = parse_when(str(form["due"]), request.app.state.settings.general.timezone)
    return _back(_assignment_url(course_id, name))


@router.post("/courses/{course_id}/assignments/{name}/students/{login}")
async def student_rule(request: Request, course_id: str, name: str, login: str, user: User = Depends(current_user),
                       db: Session = DB):
    course, a = _assignment(db, user, course_id, name)
    form = await request.form()
    marking.set_student_rule(db, a, _course_student(db, user, course, login),
                             extension_minutes=_int(form.get("extension_minutes"), 0),
                             excused=bool(form.get("excused")))
    return _back(_assignment_url(course_id, name))


@router.post("/courses/{course_id}/assignments/{name}/paper")
async def paper(request: Request, course_id: str, name: str, user: User = Depends(current_user), db: Session = DB):
    course, a = _assignment(db, user, course_id, name)
    form = await request.form()
    text = str(form.get("score", "")).strip().replace(",", ".")
    try:
        score = float(text)
    except ValueError:
        raise Invalid(N_("'{value}' is not a number."), value=text) from None
    marking.record_paper(db, a, _course_student(db, user, course, str(form.get("student", ""))), score,
                         str(form.get("comment", "")), user)
    return _back(_assignment_url(course_id, name))


def _percents(db: Session, course, a) -> list[float]:
    gb = gradebook.build(db, course)
    return [100 * m.score / m.max_score for r in gb.rows if (m := r.marks[a.id]).max_score
            and m.score is not None and m.status in (gradebook.GRADED, gradebook.NEEDS_MANUAL, gradebook.PAPER)]


@router.get("/courses/{course_id}/assignments/{name}/distribution.png")
def distribution(request: Request, course_id: str, name: str, user: User = Depends(current_user), db: Session = DB):
    course, a = _assignment(db, user, course_id, name)
    _ = translator(request_language(request, user))
    png = reports.distribution_png(_percents(db, course, a), _("Scores of {assignment}").format(assignment=a.name),
                                   _("% of the maximum"), _("students"))
    return Response(png, media_type="image/png")


@router.get("/courses/{course_id}/assignments/{name}/questions.png")
def questions(request: Request, course_id: str, name: str, user: User = Depends(current_user), db: Session = DB):
    course, a = _assignment(db, user, course_id, name)
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
    course, a = _assignment(db, user, course_id, name)
    lang = request_language(request, user)
    pdf = printing.assignment_pdf(db, a, lang)
    return Response(pdf, media_type="application/pdf",
                    headers={"content-disposition": f'attachment; filename="{course.slug}-{a.name}.pdf"'})


@router.get("/me/grades", response_class=HTMLResponse)
def my_grades(request: Request, user: User = Depends(current_user), db: Session = DB):
    return _student_page(request, user, user, db)


def _student_page(request: Request, viewer: User, student: User, db: Session) -> HTMLResponse:
    report = gradebook.student_report(db, viewer, student)
    return render(request, "student.html", user=viewer, student=student, report=report,
                  status_names=STATUS_NAMES, category_names=CATEGORY_NAMES)
