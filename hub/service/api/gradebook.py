"""REST API v1 for the gradebook: settings, marks, manual grading, feedback, exports.

Staff of a course (teachers; assistants grade and comment) manage it; a student
and their parents read the student's released marks and feedback, nothing else.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from sabaq.errors import NotFound
from sabaq.hub.domain import assignments as asg
from sabaq.hub.domain import courses as crs
from sabaq.hub.domain import feedback, gradebook, marking, reports
from sabaq.hub.service import forms
from sabaq.hub.service.access import course_student, staff_assignment, staff_submission
from sabaq.hub.service.api.schemas import ERRORS, Id, Term
from sabaq.hub.service.deps import DB, current_user, request_language
from sabaq.hub.service.views import load_warnings, mark_of
from sabaq.hub.store.models import Submission, User
from sabaq.i18n import N_

router = APIRouter(prefix="/api/v1", tags=["gradebook"], responses=ERRORS)


class CourseSettingsIn(BaseModel):
    scheme: str | None = Field(None, max_length=32, description="kz-criteria, weighted or points")
    scheme_weights: dict[str, forms.Weight] | None = None
    min_notice_hours: forms.Hours | None = None
    daily_load_minutes: forms.DayMinutes | None = None
    timezone: str | None = Field(None, max_length=64, description="IANA name, e.g. Asia/Almaty: due dates are "
                                 "typed and shown in it")


class AssignmentSettingsIn(BaseModel):
    category: str | None = Field(None, max_length=32)
    term: forms.Whole | None = None
    estimated_minutes: forms.Minutes | None = None
    timed_minutes: forms.Minutes | None = None
    late_policy: str | None = Field(None, max_length=16)
    late_percent_per_day: forms.Percent | None = None
    late_floor_percent: forms.Percent | None = None
    due: str | None = None
    closes: str | None = None


class RuleIn(BaseModel):
    extension_minutes: forms.Minutes | None = None
    due: str | None = None
    excused: bool | None = None


class GradeIn(BaseModel):
    notebook: str = Field(max_length=200)
    grade_id: str = Field(max_length=200)
    score: forms.Score | None = Field(None, description="null: back to the autograder's score")


class CommentIn(BaseModel):
    notebook: str = Field("", max_length=200)
    grade_id: str = Field("", max_length=200)
    text: str = Field("", max_length=20000)


class PaperIn(BaseModel):
    student: str = Field(max_length=64)
    score: forms.Score
    comment: str = Field("", max_length=20000)


class MarkOut(BaseModel):
    assignment: str
    status: str
    score: float | None
    max_score: float
    late: bool
    late_penalty: float
    submission_id: int | None
    due: dt.datetime | None


class RowOut(BaseModel):
    student: str
    full_name: str
    section: str
    marks: list[MarkOut]
    points: float
    max_points: float
    term_percent: dict[int, float | None]
    term_grade: dict[int, int | None]
    year_grade: int | None


class GradebookOut(BaseModel):
    course: str
    scheme: str
    assignments: list[dict]
    rows: list[RowOut]
    warnings: list[str]


def mark_out(a, mark: gradebook.Mark) -> MarkOut:
    return MarkOut(assignment=a.name, status=mark.status, score=mark.score, max_score=mark.max_score,
                   late=mark.late, late_penalty=mark.late_penalty, submission_id=mark.submission_id, due=mark.due)


@router.patch("/courses/{course_id}", summary="Course settings: scheme, notice, daily load (teacher)")
def course_settings(course_id: str, body: CourseSettingsIn, user: User = Depends(current_user), db: Session = DB):
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course, teacher_only=True)
    crs.change_settings(course, scheme=body.scheme, scheme_weights=body.scheme_weights,
                        min_notice_hours=body.min_notice_hours, daily_load_minutes=body.daily_load_minutes,
                        timezone=body.timezone)
    return {"id": course.slug, "scheme": course.scheme, "scheme_weights": course.scheme_weights,
            "min_notice_hours": course.min_notice_hours, "daily_load_minutes": course.daily_load_minutes,
            "timezone": course.timezone}


@router.patch("/courses/{course_id}/assignments/{name}", summary="Assignment settings and dates (teacher)")
def assignment_settings(request: Request, course_id: str, name: str, body: AssignmentSettingsIn,
                        user: User = Depends(current_user), db: Session = DB):
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course, teacher_only=True)
    a = asg.get_assignment(db, course, name)
    values = body.model_dump(exclude_none=True)
    if "due" in values or "closes" in values:  # the pages' rule: notice kept, closing not before due
        asg.set_dates(a, forms.when(request, values.pop("due"), course) if "due" in values else a.due_at,
                      forms.when(request, values.pop("closes"), course) if "closes" in values else a.closes_at)
    asg.configure(a, **values)
    lang = request_language(request, user)
    return {"name": a.name, "category": a.category, "term": a.term, "due_at": a.due_at,
            "closes_at": a.closes_at, "timed_minutes": a.timed_minutes, "estimated_minutes": a.estimated_minutes,
            "late_policy": a.late_policy, "late_percent_per_day": a.late_percent_per_day,
            "late_floor_percent": a.late_floor_percent,
            "warnings": load_warnings(db, course, lang, request.app.state.settings)}


@router.get("/courses/{course_id}/gradebook", response_model=GradebookOut, summary="The gradebook (staff)")
def get_gradebook(request: Request, course_id: str, section: str | None = None, term: Term = None,
                  category: str | None = None, user: User = Depends(current_user), db: Session = DB):
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course)
    gb = gradebook.build(db, course, section, term, category)
    return GradebookOut(
        course=course.slug, scheme=course.scheme,
        assignments=[{"name": a.name, "category": a.category, "term": a.term, "max_score": a.max_score,
                      "due_at": a.due_at} for a in gb.assignments],
        rows=[RowOut(student=r.student.name, full_name=r.student.full_name, section=r.section,
                     marks=[mark_out(a, r.marks[a.id]) for a in gb.assignments], points=r.points,
                     max_points=r.max_points, term_percent=r.term_percent, term_grade=r.term_grade,
                     year_grade=r.year_grade) for r in gb.rows],
        warnings=load_warnings(db, course, request_language(request, user), request.app.state.settings),
    )


@router.put("/courses/{course_id}/assignments/{name}/students/{login}",
            summary="A student's extension, own due date or excusal (staff)")
def student_rule(request: Request, course_id: str, name: str, login: str, body: RuleIn,
                 user: User = Depends(current_user), db: Session = DB):
    course, a = staff_assignment(db, user, course_id, name)
    rule = marking.set_student_rule(db, a, course_student(db, user, course, login), body.extension_minutes,
                                    forms.when(request, body.due, course), body.excused)
    return {"student": login, "assignment": name, "extension_minutes": rule.extension_minutes,
            "due_at": asg.effective_due_for(a, rule), "excused": rule.excused}


@router.put("/submissions/{submission_id}/grades", summary="Score a cell by hand (staff)")
def set_grade(submission_id: Id, body: GradeIn, user: User = Depends(current_user), db: Session = DB):
    s = staff_submission(db, user, submission_id)
    marking.set_manual_grade(db, s, body.notebook, body.grade_id, body.score, user)
    return {"grade_id": body.grade_id, "score": body.score}


@router.put("/submissions/{submission_id}/comments", summary="Comment a cell or the whole work (staff)")
def set_comment(submission_id: Id, body: CommentIn, user: User = Depends(current_user), db: Session = DB):
    s = staff_submission(db, user, submission_id)
    comment = marking.set_comment(db, s, body.notebook, body.grade_id, body.text, user)
    return {"notebook": body.notebook, "grade_id": body.grade_id, "text": comment.text}


@router.post("/courses/{course_id}/assignments/{name}/paper", status_code=201,
             summary="Enter the mark of work done on paper (staff); flagged as paper")
def paper_mark(course_id: str, name: str, body: PaperIn, user: User = Depends(current_user), db: Session = DB):
    course, a = staff_assignment(db, user, course_id, name)
    submission = marking.record_paper(db, a, course_student(db, user, course, body.student), body.score,
                                      body.comment, user)
    return {"submission_id": submission.id, "kind": "paper", "score": body.score}


@router.post("/submissions/{submission_id}/release-feedback", summary="Release feedback to the student (staff)")
def release_one(request: Request, submission_id: Id, user: User = Depends(current_user), db: Session = DB):
    s = staff_submission(db, user, submission_id)
    lang = s.student.language or s.assignment.course.language
    return {"submission_id": s.id, "notebooks": feedback.release_feedback(db, s, mark_of(db, s), lang)}


@router.post("/courses/{course_id}/assignments/{name}/release-feedback",
             summary="Release feedback to the whole class (staff): every graded newest submission")
def release_all(course_id: str, name: str, user: User = Depends(current_user), db: Session = DB):
    course, a = staff_assignment(db, user, course_id, name)
    gb = gradebook.build(db, course)
    released, waiting = [], []
    for row in gb.rows:
        mark = row.marks.get(a.id)
        if mark is None or mark.submission_id is None:
            continue
        if mark.status not in (gradebook.GRADED, gradebook.PAPER):
            waiting.append(row.student.name)
            continue
        s = db.get(Submission, mark.submission_id)
        feedback.release_feedback(db, s, mark, row.student.language or course.language)
        released.append(row.student.name)
    return {"released": released, "not_ready": waiting}


@router.get("/students/{login}/grades", summary="A student's deadlines, released marks and feedback "
            "(the student, their parents, their teachers)")
def student_grades(login: str, user: User = Depends(current_user), db: Session = DB):
    student = crs.require_view_student(db, user, login)
    return {"student": student.name, "full_name": student.full_name,
            "courses": gradebook.student_report(db, user, student)}


@router.get("/submissions/{submission_id}/feedback/{notebook}.html", response_class=Response,
            summary="Released feedback of one notebook, as a page")
def feedback_page(submission_id: Id, notebook: str, user: User = Depends(current_user), db: Session = DB):
    from sabaq.hub.store.blobs import get_blob

    s = asg.get_submission(db, submission_id)
    crs.require_view_student(db, user, s.student.name, s.assignment.course)
    item = next((f for f in s.feedback if f.notebook == notebook), None)
    if item is None:
        raise NotFound(N_("No feedback has been released for this work yet."))
    return Response(get_blob(db, item.sha256), media_type="text/html; charset=utf-8",
                    headers={"content-security-policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'"})


@router.get("/courses/{course_id}/export.{fmt}", response_class=Response,
            summary="The gradebook as CSV or XLSX (staff), optionally one term")
def export(request: Request, course_id: str, fmt: str, term: Term = None, section: str | None = None,
           user: User = Depends(current_user), db: Session = DB):
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course)
    if fmt not in ("csv", "xlsx"):
        raise NotFound(N_("Exports are csv or xlsx."))
    gb = gradebook.build(db, course, section, term)
    lang = request_language(request, user)
    name = f"{course.slug}{f'-term{term}' if term else ''}.{fmt}"
    headers = {"content-disposition": f'attachment; filename="{name}"'}
    if fmt == "csv":
        return Response(reports.to_csv(gb, lang), media_type="text/csv; charset=utf-8", headers=headers)
    return Response(reports.to_xlsx(gb, lang), headers=headers,
                    media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
