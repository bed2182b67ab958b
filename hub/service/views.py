"""What the pages and the API both show, computed once for both."""

from __future__ import annotations

from sqlalchemy.orm import Session

from sabaq.hub.domain import gradebook, timerules
from sabaq.hub.service.pages.render import PREFIX
from sabaq.hub.store.models import Assignment, Course, Submission
from sabaq.i18n import translator
from sabaq.settings import Settings


def mark_of(db: Session, submission: Submission) -> gradebook.Mark:
    """One submission's mark as the gradebook counts it (penalties, manual scores, rules)."""
    gb = gradebook.build(db, submission.assignment.course, students=[submission.student_id])
    return gb.rows[0].marks[submission.assignment_id] if gb.rows else gradebook.Mark("graded")


def load_warnings(db: Session, course: Course, lang: str, settings: Settings) -> list[str]:
    """Days on which the class's homework exceeds the course's daily load, in the reader's language."""
    _ = translator(lang)
    items = [(a.due_at, a.estimated_minutes) for a in course.assignments]
    zone = course.timezone or settings.general.timezone
    days = timerules.overloaded_days(items, zone, course.daily_load_minutes or 0)
    return [_("Homework due on {day} takes about {minutes} minutes; the daily limit is {limit}.").format(
        day=day.isoformat(), minutes=minutes, limit=course.daily_load_minutes) for day, minutes in sorted(days.items())]


def assignment_page(settings: Settings, assignment: Assignment) -> str:
    """The address of an assignment's page, for messages that send people there."""
    return f"{settings.public_url}{PREFIX.strip('/')}/courses/{assignment.course.slug}/assignments/{assignment.name}"
