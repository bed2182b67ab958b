"""Courses, who belongs to them in which role, and who may see whom.

Every permission decision of the service goes through the functions here, so
there is one place to read (and test) the access rules:

- an admin may do everything;
- a teacher manages their own courses; an assistant grades in them;
- a student sees their own work in their own courses;
- a parent sees their own children's work, nothing else;
- parents are linked to children by an admin, or by a teacher of the child's course
  (``require_guardian_link``, the one rule for the API and the roster import).
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from sabaq.errors import Conflict, Forbidden, Invalid, NotFound
from sabaq.hub.domain import assessment
from sabaq.hub.store.models import STAFF_ROLES, Course, Guardian, Membership, Role, User
from sabaq.i18n import N_

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def check_slug(slug: str) -> str:
    if not SLUG_RE.match(slug or ""):
        raise Invalid(
            N_("The course id '{slug}' is not allowed: use lowercase Latin letters, digits, '-' and '_'."),
            slug=slug,
        )
    return slug


def get_course(db: Session, slug: str) -> Course:
    course = db.scalar(select(Course).where(Course.slug == slug))
    if course is None:
        raise no_course(slug)
    return course


def no_course(slug: str) -> NotFound:
    return NotFound(N_("There is no course '{course}'. Check the course id."), course=slug)


def create_course(db: Session, slug: str, title: str, language: str = "kk") -> Course:
    check_slug(slug)
    if db.scalar(select(Course).where(Course.slug == slug)) is not None:
        raise Conflict(N_("A course with the id '{course}' already exists."), course=slug)
    course = Course(slug=slug, title=title or slug, language=language)
    db.add(course)
    db.flush()
    return course


def role_in(db: Session, user: User, course: Course) -> Role | None:
    return db.scalar(
        select(Membership.role).where(
            Membership.user_id == user.id, Membership.course_id == course.id
        )
    )


def set_member(db: Session, course: Course, user: User, role: Role, section: str = "") -> Membership:
    member = db.scalar(
        select(Membership).where(Membership.user_id == user.id, Membership.course_id == course.id)
    )
    if member is None:
        member = Membership(course=course, user=user, role=role, section=section)
        db.add(member)
    else:
        member.role = role
        if section:
            member.section = section
    db.flush()
    return member


def remove_member(db: Session, course: Course, user: User) -> None:
    member = db.scalar(
        select(Membership).where(Membership.user_id == user.id, Membership.course_id == course.id)
    )
    if member is not None:
        db.delete(member)
        db.flush()


def link_guardian(db: Session, parent: User, student: User) -> Guardian:
    if parent.id == student.id:
        raise Invalid(N_("A person cannot be their own parent."))
    link = db.scalar(
        select(Guardian).where(Guardian.parent_id == parent.id, Guardian.student_id == student.id)
    )
    if link is None:
        link = Guardian(parent=parent, student=student)
        db.add(link)
        db.flush()
    return link


def _taught_students(by: User):
    """The ids of the students of the courses ``by`` teaches (a query)."""
    taught = select(Membership.course_id).where(Membership.user_id == by.id, Membership.role == Role.teacher)
    return select(Membership.user_id).where(Membership.course_id.in_(taught), Membership.role == Role.student)


def _teaches(db: Session, by: User, student: User) -> bool:
    """Is ``student`` a student of a course ``by`` teaches?"""
    return db.scalar(select(User.id).where(User.id == student.id, User.id.in_(_taught_students(by)))) is not None


def _not_your_student(child: str) -> Forbidden:
    return Forbidden(
        N_("You may link a parent only to a student of a course you teach, and '{child}' is not one. "
           "Ask the administrator to link them."),
        child=child,
    )


def require_guardian_link(db: Session, by: User | None, parent: User, child: User) -> None:
    """May ``by`` make ``parent`` a guardian of ``child``? ``None`` is the machine's
    administrator (the shell). Raises Forbidden (or Invalid) saying what to do instead.

    A guardian sees the child's work in every course of the child's, so:

    - an admin may link anyone (but nobody to themselves);
    - a teacher only a child who is a student of a course they teach (a teacher role;
      an assistant may not), and only a parent account within that teacher's remit: not
      the teacher themself, not an admin, no role in any course, and no children outside
      the courses the teacher teaches. An account that teaches, assists or studies
      somewhere, or the parent of another course's child, is the admin's to link:
      otherwise a teacher could let themself (or anyone) see other courses' work.

    A link that already exists passes once the child is the teacher's (nothing changes).
    """
    if parent.id == child.id:
        raise Invalid(N_("A person cannot be their own parent."))
    if by is None or by.is_admin:
        return
    taught_students = _taught_students(by)
    if not _teaches(db, by, child):
        raise _not_your_student(child.name)
    if is_guardian(db, parent, child):
        return
    other_role = db.scalar(select(Membership.id).where(Membership.user_id == parent.id).limit(1))
    other_child = db.scalar(
        select(Guardian.id)
        .where(Guardian.parent_id == parent.id, Guardian.student_id.not_in(taught_students))
        .limit(1)
    )
    if parent.id == by.id or parent.is_admin or other_role is not None or other_child is not None:
        raise Forbidden(
            N_("A teacher cannot make '{parent}' the parent of '{child}': that account is yours or an "
               "administrator's, has a role in a course, or has children outside your courses. Ask the "
               "administrator to link them."),
            parent=parent.name, child=child.name,
        )


def add_guardian(db: Session, by: User, parent_login: str, child_login: str) -> Guardian:
    """Link two accounts by login (the API's route), under ``require_guardian_link``.
    A caller who may not link this child learns nothing about which logins exist."""
    child = db.scalar(select(User).where(User.name == child_login))
    parent = db.scalar(select(User).where(User.name == parent_login))
    if not by.is_admin and (child is None or not _teaches(db, by, child)):
        raise _not_your_student(child_login)
    for login, user in ((child_login, child), (parent_login, parent)):
        if user is None:
            raise NotFound(N_("There is no user '{name}'."), name=login)
    require_guardian_link(db, by, parent, child)
    return link_guardian(db, parent, child)


def children_of(db: Session, parent: User) -> list[User]:
    return list(
        db.scalars(
            select(User)
            .join(Guardian, Guardian.student_id == User.id)
            .where(Guardian.parent_id == parent.id)
            .order_by(User.full_name, User.name)
        )
    )


def is_guardian(db: Session, parent: User, student: User) -> bool:
    return db.scalar(
        select(Guardian.id).where(Guardian.parent_id == parent.id, Guardian.student_id == student.id)
    ) is not None


def is_parent(db: Session, user: User) -> bool:
    return db.scalar(select(Guardian.id).where(Guardian.parent_id == user.id).limit(1)) is not None


def courses_of(db: Session, user: User) -> list[tuple[Course, Role]]:
    rows = db.execute(
        select(Course, Membership.role)
        .join(Membership, Membership.course_id == Course.id)
        .where(Membership.user_id == user.id)
        .order_by(Course.slug)
    )
    return [(c, r) for c, r in rows]


def language_of(db: Session, user: User) -> str | None:
    """The language a user's JupyterLab and lessons speak: her own choice, else her first
    course's; None when neither names one (the site's then)."""
    if user.language:
        return user.language
    courses = courses_of(db, user)
    return courses[0][0].language if courses else None


def visible_courses(db: Session, user: User) -> list[Course]:
    if user.is_admin:
        return list(db.scalars(select(Course).order_by(Course.slug)))
    return [c for c, _ in courses_of(db, user)]


def members(db: Session, course: Course, role: Role | None = None) -> list[Membership]:
    q = select(Membership).join(User).where(Membership.course_id == course.id)
    if role is not None:
        q = q.where(Membership.role == role)
    return list(db.scalars(q.order_by(Membership.role, User.full_name, User.name)))


# --- access rules --------------------------------------------------------


def require_member(db: Session, user: User, course: Course) -> Role | None:
    """Any role in the course (admins pass with None)."""
    if user.is_admin:
        return role_in(db, user, course)
    role = role_in(db, user, course)
    if role is None:
        raise Forbidden(
            N_("You are not a member of the course '{course}'. Ask its teacher to add you."),
            course=course.slug,
        )
    return role


def require_staff(db: Session, user: User, course: Course, teacher_only: bool = False) -> None:
    """A teacher (or, unless teacher_only, an assistant) of the course, or an admin."""
    if user.is_admin:
        return
    role = role_in(db, user, course)
    allowed = (Role.teacher,) if teacher_only else STAFF_ROLES
    if role not in allowed:
        raise Forbidden(
            N_("Only the teachers of the course '{course}' may do this."),
            course=course.slug,
        )


def require_student(db: Session, user: User, course: Course) -> None:
    require_student_role(role_in(db, user, course), course)


def require_student_role(role: Role | None, course: Course) -> None:
    """``role``, the caller's in ``course`` (read by the caller), is a student's."""
    if role != Role.student:
        raise Forbidden(
            N_("Only students of the course '{course}' can fetch and submit its assignments."),
            course=course.slug,
        )


def require_admin(user: User) -> None:
    if not user.is_admin:
        raise Forbidden(N_("Only an administrator may do this."))


def can_view_student(db: Session, viewer: User, student: User, course: Course | None = None) -> bool:
    """Self, a guardian, staff of a course the student is in (that course if given), or an admin."""
    if viewer.is_admin or viewer.id == student.id or is_guardian(db, viewer, student):
        return True
    staff_courses = select(Membership.course_id).where(
        Membership.user_id == viewer.id, Membership.role.in_(STAFF_ROLES)
    )
    q = select(Membership.id).where(
        Membership.user_id == student.id,
        Membership.role == Role.student,
        Membership.course_id.in_(staff_courses),
    )
    if course is not None:
        q = q.where(Membership.course_id == course.id)
    return db.scalar(q.limit(1)) is not None


def require_view_student(db: Session, viewer: User, name: str, course: Course | None = None) -> User:
    student = db.scalar(select(User).where(User.name == name))
    if student is None or not can_view_student(db, viewer, student, course):
        # Same answer whether the student exists or not: no probing of names.
        raise Forbidden(N_("You may not see the work of '{name}'."), name=name)
    return student


def change_settings(course: Course, *, scheme: str | None = None, scheme_weights: dict[str, float] | None = None,
                    min_notice_hours: float | None = None, daily_load_minutes: int | None = None,
                    timezone: str | None = None) -> None:
    """A course's grading settings as its teacher changes them, on the gradebook page or
    through the API (the same rule for both); None keeps a setting as it is."""
    if scheme is not None or scheme_weights is not None:
        name = course.scheme if scheme is None else scheme
        weights = course.scheme_weights if scheme_weights is None else scheme_weights
        try:
            assessment.scheme(name, weights)
        except ValueError:
            raise Invalid(N_("Unknown assessment scheme '{scheme}': use kz-criteria, weighted or points."),
                          scheme=name) from None
        course.scheme, course.scheme_weights = name, dict(weights or {})
    if min_notice_hours is not None:
        course.min_notice_hours = min_notice_hours
    if daily_load_minutes is not None:
        course.daily_load_minutes = daily_load_minutes
    if timezone is not None:
        course.timezone = check_timezone(timezone)


def check_timezone(name: str) -> str:
    """An IANA time zone name (Asia/Almaty, Asia/Aqtobe, Europe/Moscow ...): due dates
    are typed and shown in it."""
    name = (name or "").strip()
    try:
        if not name or name.startswith(("/", ".")) or ".." in name:
            raise ValueError(name)
        ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):
        raise Invalid(N_("Unknown time zone '{zone}': write a name like Asia/Almaty or Asia/Aqtobe."),
                      zone=name) from None
    return name
