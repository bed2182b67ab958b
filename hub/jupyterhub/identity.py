"""Logins from a school's identity provider or LMS, mapped onto sabaq's people and courses.

An OpenID Connect provider (GenericOAuthenticator) says who someone is and, in a
claim, their groups or roles; an LMS's LTI 1.3 launch (LTI13Authenticator) says
who, which course (the context) and which LMS roles. These pure functions turn
those claims into an ``Identity``; ``apply_identity`` makes sabaq's accounts,
courses and memberships agree with it. The hub calls them from
``Authenticator.post_auth_hook`` (see ``hubconfig.configure_kubernetes``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from sabaq.hub.domain.accounts import find_user
from sabaq.hub.domain.courses import create_course, role_in, set_member
from sabaq.hub.store.models import Course, Role, User

LTI_ROLES = "https://purl.imsglobal.org/spec/lti/claim/roles"
LTI_CONTEXT = "https://purl.imsglobal.org/spec/lti/claim/context"
# LIS role URIs (LTI 1.3 core); the fragment after '#' is what matters
LTI_TEACHER = {"Instructor", "ContentDeveloper", "Administrator"}
LTI_ASSISTANT = {"TeachingAssistant", "Mentor"}
LTI_STUDENT = {"Learner", "Student"}
LTI_ADMIN = {"Administrator", "SysAdmin"}


@dataclass
class Identity:
    name: str
    full_name: str = ""
    email: str = ""
    admin: bool = False
    memberships: list[tuple[str, Role, str]] = field(default_factory=list)  # (course id, role, course title)


def _login(value: str) -> str:
    """A hub-safe login from an e-mail or subject: lowercase, no spaces."""
    value = (value or "").strip().lower()
    return re.sub(r"[^a-z0-9._@-]+", "-", value)[:64]


def course_slug(value: str) -> str:
    slug = re.sub(r"[^a-z0-9_-]+", "-", (value or "").lower()).strip("-")
    return slug[:63] or "course"


def from_oidc(userinfo: dict, *, username_claim: str = "email", roles_claim: str = "groups",
              teacher_values=("teacher",), assistant_values=("assistant",), student_values=("student",),
              admin_values=("admin",), course_prefix: str = "course:") -> Identity:
    """Map an OpenID Connect userinfo.

    The roles claim holds strings such as ``teacher``, ``admin`` and course entries
    ``course:<id>:<role>`` (for example ``course:phys9:student``). A plain
    ``teacher``/``student`` value gives the role but no course.
    """
    claims = userinfo.get(roles_claim) or []
    if isinstance(claims, str):
        claims = [claims]
    identity = Identity(
        name=_login(userinfo.get(username_claim) or userinfo.get("sub", "")),
        full_name=userinfo.get("name") or " ".join(p for p in (userinfo.get("given_name"), userinfo.get("family_name")) if p),
        email=userinfo.get("email", ""),
        admin=any(c in admin_values for c in claims),
    )
    roles = {"teacher": Role.teacher, "assistant": Role.assistant, "student": Role.student}
    values = {"teacher": teacher_values, "assistant": assistant_values, "student": student_values}
    for claim in claims:
        if claim.startswith(course_prefix):
            parts = claim[len(course_prefix):].split(":")
            if len(parts) == 2:
                kind = next((k for k, v in values.items() if parts[1] in v), None)
                if kind:
                    identity.memberships.append((course_slug(parts[0]), roles[kind], parts[0]))
    return identity


def _lti_role_names(roles: list[str]) -> set[str]:
    return {r.rsplit("#", 1)[-1].rsplit("/", 1)[-1] for r in roles}


def from_lti13(claims: dict, *, username_key: str = "email") -> Identity:
    """Map an LTI 1.3 launch (the ID token's claims) from Moodle, Canvas or another LMS."""
    names = _lti_role_names(claims.get(LTI_ROLES, []))
    context = claims.get(LTI_CONTEXT) or {}
    key = username_key[len("custom_"):] if username_key.startswith("custom_") else username_key
    login = claims.get(key) or claims.get("https://purl.imsglobal.org/spec/lti/claim/custom", {}).get(key) or claims.get("sub", "")
    identity = Identity(
        name=_login(login),
        full_name=claims.get("name") or " ".join(p for p in (claims.get("given_name"), claims.get("family_name")) if p),
        email=claims.get("email", ""),
        admin=bool(names & LTI_ADMIN) and "Instructor" not in names and "Learner" not in names,
    )
    if context.get("id"):
        if names & LTI_TEACHER:
            role = Role.teacher
        elif names & LTI_ASSISTANT:
            role = Role.assistant
        elif names & LTI_STUDENT:
            role = Role.student
        else:
            role = None
        if role is not None:
            slug = course_slug(context.get("label") or context["id"])
            identity.memberships.append((slug, role, context.get("title") or context.get("label") or slug))
    return identity


def apply_identity(db: Session, identity: Identity, create_courses: bool = True, language: str = "kk") -> User:
    """Create or update the account and memberships the identity provider vouches for."""
    user = find_user(db, identity.name)
    if user is None:
        user = User(name=identity.name, full_name=identity.full_name or identity.name, email=identity.email)
        db.add(user)
        db.flush()
    else:
        user.full_name = identity.full_name or user.full_name
        user.email = identity.email or user.email
    if identity.admin:
        user.is_admin = True
    for slug, role, title in identity.memberships:
        course = db.query(Course).filter(Course.slug == slug).one_or_none()
        if course is None:
            if not create_courses:
                continue
            course = create_course(db, slug, title or slug, language)
        if role_in(db, user, course) != role:
            set_member(db, course, user, role)
    db.flush()
    return user
