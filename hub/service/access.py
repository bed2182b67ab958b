"""Who may see what a request names: the lookups that pages and API routes share.

Each one finds the thing in the URL and checks the caller against the rule book
(``sabaq.hub.domain.courses``) in one step, so no route can find without checking.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from sabaq.errors import Invalid
from sabaq.hub.domain import assignments as asg
from sabaq.hub.domain import courses as crs
from sabaq.hub.store.models import STAFF_ROLES, Assignment, Course, Role, Submission, User
from sabaq.i18n import N_


def is_staff(user: User, role: Role | None) -> bool:
    return user.is_admin or role in STAFF_ROLES


def course_and_role(db: Session, user: User, course_id: str) -> tuple[Course, Role | None]:
    """A course the caller belongs to, and their role in it (admins: None unless a member)."""
    course = crs.get_course(db, course_id)
    return course, crs.require_member(db, user, course)


def staff_assignment(db: Session, user: User, course_id: str, name: str) -> tuple[Course, Assignment]:
    """An assignment of a course the caller teaches or assists in."""
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course)
    return course, asg.get_assignment(db, course, name)


def viewable_submission(db: Session, user: User, submission_id: int) -> Submission:
    """A submission its student, their parents or the course's staff may see."""
    s = asg.get_submission(db, submission_id)
    crs.require_view_student(db, user, s.student.name, s.assignment.course)
    return s


def staff_submission(db: Session, user: User, submission_id: int) -> Submission:
    """A submission to a course the caller teaches or assists in."""
    s = asg.get_submission(db, submission_id)
    crs.require_staff(db, user, s.assignment.course)
    return s


def course_student(db: Session, user: User, course: Course, login: str) -> User:
    """A student of the course whom the caller may see (teachers mark, excuse and extend them)."""
    student = crs.require_view_student(db, user, login, course)
    if crs.role_in(db, student, course) != Role.student:
        raise Invalid(N_("'{name}' is not a student of this course."), name=login)
    return student
