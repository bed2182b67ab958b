"""The gradebook: every student's mark for every assignment, their totals and term grades.

Built with a handful of set-based queries (students, assignments, newest
submissions, current results, manual grades, student rules), then combined in
memory, so a class of a thousand students and forty assignments is one page.
Scores: a teacher's manual grade for a cell wins over the autograder's; a paper
submission scores what the teacher entered; the late penalty follows the
assignment's policy and the student's own due date. An olympiad task counts
the best of all attempts, not the newest.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sabaq.hub.domain import assessment, timerules
from sabaq.hub.domain.kinds import can_grade, is_task
from sabaq.hub.store.models import (
    Assignment,
    Course,
    GradeResult,
    ManualGrade,
    Membership,
    Role,
    StudentRule,
    Submission,
    User,
    utcnow,
)

NOT_SUBMITTED = "not_submitted"
SUBMITTED = "submitted"  # stored, cannot be autograded (no teacher's source)
GRADING = "grading"
GRADED = "graded"
NEEDS_MANUAL = "needs_manual"
FAILED = "failed"
EXCUSED = "excused"
PAPER = "paper"


@dataclass
class Mark:
    status: str
    score: float | None = None
    max_score: float = 0.0
    late: bool = False
    late_penalty: float = 0.0
    submission_id: int | None = None
    attempts: int = 0
    due: dt.datetime | None = None

    @property
    def counts(self) -> bool:
        """Whether this mark enters totals and term grades."""
        return self.status in (GRADED, NEEDS_MANUAL, PAPER) or (
            self.status == NOT_SUBMITTED and self.due is not None and self.due < utcnow()
        )


@dataclass
class Row:
    student: User
    section: str
    marks: dict[int, Mark] = field(default_factory=dict)  # assignment id -> mark
    points: float = 0.0
    max_points: float = 0.0
    term_percent: dict[int, float | None] = field(default_factory=dict)
    term_grade: dict[int, int | None] = field(default_factory=dict)
    year_grade: int | None = None


@dataclass
class Gradebook:
    course: Course
    assignments: list[Assignment]
    rows: list[Row]
    terms: list[int]
    total_students: int = 0
    page: int = 1
    page_size: int = 100


def late_policy(a: Assignment) -> timerules.LatePolicy:
    return timerules.LatePolicy(a.late_policy or "none", a.late_percent_per_day or 0.0, a.late_floor_percent or 0.0)


def student_due(a: Assignment, rule: StudentRule | None) -> dt.datetime | None:
    if rule is None:
        return a.due_at
    return timerules.effective_due(a.due_at, rule.extension_minutes or 0, rule.due_at)


class SubmissionRow(NamedTuple):
    id: int
    attempt: int
    submitted_at: dt.datetime
    kind: str


class ResultRow(NamedTuple):
    status: str
    score: float
    needs_manual_grade: bool


def score_of(result: ResultRow | None, manual: dict[tuple[str, str], float],
             details: dict | None) -> tuple[float | None, bool]:
    """(score before the late penalty, whether some cell still needs a teacher).

    Without manual scores the worker's totals serve; with them, the cells are
    added up again, a teacher's score winning over the autograder's.
    """
    if result is None or result.status != "graded":
        return None, False
    if not manual:
        return result.score, result.needs_manual_grade
    total = 0.0
    waiting = False
    for notebook, info in (details or {}).get("notebooks", {}).items():
        for grade_id, cell in info.get("cells", {}).items():
            if (notebook, grade_id) in manual:
                total += manual[(notebook, grade_id)]
            elif cell.get("needs_manual_grade"):
                waiting = True
                total += cell.get("auto_score") or 0.0
            else:
                total += cell.get("score") or 0.0
    return total, waiting


def mark_for(a: Assignment, submission: SubmissionRow | None, result: ResultRow | None,
             manual: dict[tuple[str, str], float], details: dict | None, rule: StudentRule | None,
             gradeable: bool) -> Mark:
    due = student_due(a, rule)
    max_score = a.max_score or (result.score if result else 0.0)
    if rule is not None and rule.excused:
        return Mark(EXCUSED, max_score=max_score, due=due)
    if submission is None:
        return Mark(NOT_SUBMITTED, 0.0, max_score, due=due)
    late = timerules.days_late(submission.submitted_at, due) > 0
    common = dict(max_score=max_score, late=late, submission_id=submission.id, attempts=submission.attempt, due=due)
    if submission.kind == "paper":
        score = manual.get(("paper", "total"), 0.0)
        penalty = timerules.late_penalty(score, submission.submitted_at, due, late_policy(a))
        return Mark(PAPER, score - penalty, late_penalty=penalty, **common)
    raw, waiting = score_of(result, manual, details)
    if raw is None:
        status = FAILED if result is not None else (GRADING if gradeable else SUBMITTED)
        return Mark(status, None, **common)
    penalty = timerules.late_penalty(raw, submission.submitted_at, due, late_policy(a))
    return Mark(NEEDS_MANUAL if waiting else GRADED, raw - penalty, late_penalty=penalty, **common)


def build(db: Session, course: Course, section: str | None = None, term: int | None = None,
          category: str | None = None, students: list[int] | None = None,
          page: int | None = None, page_size: int = 100) -> Gradebook:
    """The gradebook; with `page`, only that page of students (ordered by class and name)."""
    from sabaq.hub.domain.olympiad import best_scores

    assignments = list(db.scalars(select(Assignment).where(Assignment.course_id == course.id)
                                  .order_by(Assignment.term, Assignment.due_at, Assignment.name)))
    all_terms = sorted({a.term for a in assignments}) or [1]
    if term:
        assignments = [a for a in assignments if a.term == term]
    if category:
        assignments = [a for a in assignments if a.category == category]
    ids = [a.id for a in assignments]

    q = (select(User, Membership.section).join(Membership, Membership.user_id == User.id)
         .where(Membership.course_id == course.id, Membership.role == Role.student))
    if section:
        q = q.where(Membership.section == section)
    if students is not None:
        q = q.where(User.id.in_(students))
    q = q.order_by(Membership.section, User.full_name, User.name)
    total_students = None
    if page is not None:
        total_students = db.scalar(select(func.count()).select_from(q.subquery()))
        q = q.offset(max(page - 1, 0) * page_size).limit(page_size)
    people = list(db.execute(q))
    student_ids = [u.id for u, _ in people]

    # the newest attempt of each of these students at each of these assignments
    newest = (select(Submission.assignment_id, Submission.student_id, func.max(Submission.attempt).label("n"))
              .where(Submission.assignment_id.in_(ids), Submission.student_id.in_(student_ids))
              .group_by(Submission.assignment_id, Submission.student_id).subquery())
    joined = (Submission.assignment_id == newest.c.assignment_id) & (Submission.student_id == newest.c.student_id) \
        & (Submission.attempt == newest.c.n)
    rows = db.execute(select(Submission.assignment_id, Submission.student_id, Submission.id, Submission.attempt,
                             Submission.submitted_at, Submission.kind).join(newest, joined))
    submissions = {(r[0], r[1]): SubmissionRow(*r[2:]) for r in rows}
    results = {r[0]: ResultRow(*r[1:]) for r in db.execute(
        select(GradeResult.submission_id, GradeResult.status, GradeResult.score, GradeResult.needs_manual_grade)
        .join(Submission, Submission.id == GradeResult.submission_id).join(newest, joined)
        .where(GradeResult.current.is_(True)))}
    manual: dict[int, dict[tuple[str, str], float]] = {}
    for sid, notebook, grade_id, score in db.execute(
            select(ManualGrade.submission_id, ManualGrade.notebook, ManualGrade.grade_id, ManualGrade.score)
            .join(Submission, Submission.id == ManualGrade.submission_id).join(newest, joined)):
        manual.setdefault(sid, {})[(notebook, grade_id)] = score
    details = {}
    if manual:  # only hand-graded work needs its cells added up again
        details = dict(db.execute(select(GradeResult.submission_id, GradeResult.details).where(
            GradeResult.current.is_(True), GradeResult.submission_id.in_(list(manual)))).all())
    rules = {(r.assignment_id, r.student_id): r for r in db.scalars(
        select(StudentRule).where(StudentRule.assignment_id.in_(ids), StudentRule.student_id.in_(student_ids)))}
    gradeable = {a.id: can_grade(a) for a in assignments}
    best = best_scores(db, [a.id for a in assignments if is_task(a)], student_ids)
    scheme = assessment.scheme(course.scheme or "kz-criteria", course.scheme_weights)

    out = []
    for user, sec in people:
        row = Row(student=user, section=sec)
        for a in assignments:
            sub = submissions.get((a.id, user.id))
            mark = mark_for(a, sub, results.get(sub.id) if sub else None, manual.get(sub.id, {}) if sub else {},
                            details.get(sub.id) if sub else None, rules.get((a.id, user.id)), gradeable[a.id])
            if (a.id, user.id) in best and mark.status != EXCUSED:  # a task counts the best attempt
                mark = replace(mark, status=GRADED, score=best[(a.id, user.id)], late_penalty=0.0)
            row.marks[a.id] = mark
            if mark.counts:
                row.points += mark.score or 0.0
                row.max_points += mark.max_score
        for t in ([term] if term else all_terms):
            marks = [assessment.Mark(a.category, row.marks[a.id].score or 0.0, row.marks[a.id].max_score,
                                     excused=row.marks[a.id].status == EXCUSED)
                     for a in assignments
                     if a.term == t and (row.marks[a.id].counts or row.marks[a.id].status == EXCUSED)]
            percent = scheme.term_percent(marks)
            row.term_percent[t] = percent
            row.term_grade[t] = scheme.grade(percent)
        row.year_grade = scheme.year_grade(list(row.term_grade.values()))
        out.append(row)
    gb = Gradebook(course, assignments, out, all_terms)
    gb.total_students = len(out) if total_students is None else total_students
    gb.page, gb.page_size = page or 1, page_size
    return gb


def student_report(db: Session, viewer: User, student: User, now: dt.datetime | None = None) -> list[dict]:
    """What a student (or their parent) sees per course: deadlines with their own
    extension, time left in a timed window, and marks once feedback is released."""
    from sabaq.hub.domain import assignments as asg
    from sabaq.hub.domain import courses as crs
    from sabaq.hub.store.models import Feedback

    now = now or utcnow()
    released = {f.submission_id for f in db.scalars(
        select(Feedback).join(Submission).where(Submission.student_id == student.id))}
    out = []
    for course, role in crs.courses_of(db, student):
        if role != Role.student or not crs.can_view_student(db, viewer, student, course):
            continue
        gb = build(db, course, students=[student.id])
        row = gb.rows[0]
        items = []
        for a in gb.assignments:
            if not asg.is_open_to_students(a, now):
                continue
            mark = row.marks[a.id]
            rule = asg.student_rule(db, a, student)
            opened = rule.opened_at if rule else None
            end = timerules.window_end(opened, a.timed_minutes, mark.due)
            shown = mark.submission_id in released
            hidden_status = SUBMITTED if mark.submission_id else mark.status
            items.append({
                "assignment": a.name, "title": a.title or a.name, "category": a.category, "term": a.term,
                "due_at": mark.due, "timed_minutes": a.timed_minutes,
                "remaining_seconds": timerules.remaining(now, end).total_seconds() if a.timed_minutes and opened else None,
                "status": mark.status if shown or mark.submission_id is None else hidden_status,
                "score": mark.score if shown else None, "max_score": mark.max_score, "late": mark.late,
                "feedback": [f.notebook for f in db.get(Submission, mark.submission_id).feedback]
                if shown else [], "submission_id": mark.submission_id,
            })
        # term grades from the released marks only: nothing the teacher has not released shows
        scheme = assessment.scheme(course.scheme or "kz-criteria", course.scheme_weights)
        grades = {}
        for term in sorted({i["term"] for i in items if i["score"] is not None}):
            marks = [assessment.Mark(i["category"], i["score"], i["max_score"])
                     for i in items if i["term"] == term and i["score"] is not None]
            grades[term] = scheme.grade(scheme.term_percent(marks))
        out.append({"course": course.slug, "title": course.title, "assignments": items, "term_grade": grades,
                    "timezone": course.timezone})
    return out
