"""Teachers' marks: manual scores for cells, comments, per-student rules."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from sabaq.errors import Invalid, NotFound
from sabaq.hub.domain import assignments as asg
from sabaq.hub.domain import grading
from sabaq.hub.store.models import Assignment, Comment, ManualGrade, Submission, User, utcnow
from sabaq.i18n import N_


def set_manual_grade(db: Session, s: Submission, notebook: str, grade_id: str, score: float | None,
                     by: User) -> None:
    """A teacher's score for a graded cell; None gives the cell back to the autograder."""
    result = grading.current_result(db, s)
    cell = ((result.details if result else {}).get("notebooks", {}).get(notebook, {}).get("cells", {}).get(grade_id))
    if cell is None:
        raise NotFound(N_("There is no graded cell '{cell}' in '{notebook}'."), cell=grade_id, notebook=notebook)
    existing = db.scalar(select(ManualGrade).where(ManualGrade.submission_id == s.id, ManualGrade.notebook == notebook,
                                                   ManualGrade.grade_id == grade_id))
    if score is None:
        if existing is not None:
            db.delete(existing)
            db.flush()
        return
    maximum = cell.get("max_score") or 0
    if not 0 <= score <= maximum:
        raise Invalid(N_("The score must be between 0 and {max}."), max=maximum)
    if existing is None:
        existing = ManualGrade(submission_id=s.id, notebook=notebook, grade_id=grade_id, score=score)
        db.add(existing)
    existing.score, existing.by_id, existing.at = score, by.id, utcnow()
    db.flush()


def set_comment(db: Session, s: Submission, notebook: str, grade_id: str, text: str, by: User) -> Comment:
    existing = db.scalar(select(Comment).where(Comment.submission_id == s.id, Comment.notebook == notebook,
                                               Comment.grade_id == grade_id))
    if existing is None:
        existing = Comment(submission_id=s.id, notebook=notebook, grade_id=grade_id)
        db.add(existing)
    existing.text, existing.by_id, existing.at = text.strip(), by.id, utcnow()
    db.flush()
    return existing


def set_student_rule(db: Session, a: Assignment, student: User, extension_minutes: int | None = None,
                     due_at: dt.datetime | None = None, excused: bool | None = None):
    rule = asg.student_rule(db, a, student, create=True)
    if extension_minutes is not None:
        rule.extension_minutes = extension_minutes
    if due_at is not None:
        rule.due_at = due_at
    if excused is not None:
        rule.excused = excused
    db.flush()
    return rule


def record_paper(db: Session, a: Assignment, student: User, score: float, comment: str, by: User) -> Submission:
    if not 0 <= score <= (a.max_score or 0):
        raise Invalid(N_("The score must be between 0 and {max}."), max=a.max_score or 0)
    submission = asg.record_paper(db, a, student, score, by)
    if comment:
        set_comment(db, submission, "", "", comment, by)
    return submission
