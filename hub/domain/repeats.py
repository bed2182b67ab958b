"""Uploads repeated after a lost answer: the same attempt, not a second one.

A student's server sends each upload with an ``Idempotency-Key`` (a random value of
its own). When the service stored the upload but its answer never arrived (the
service died after the commit, a timeout, a proxy between), the client sends the
same request again with the same key: the student gets the attempt already stored,
and no second attempt counts against her or is graded again."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from sabaq.errors import Invalid
from sabaq.hub.store.models import Assignment, Submission, User
from sabaq.i18n import N_

KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")


def checked_key(key: str | None) -> str | None:
    """The key as given, or None without one; a malformed one is refused (a client's bug)."""
    if key is None:
        return None
    if not KEY.fullmatch(key):
        raise Invalid(N_("The upload's Idempotency-Key must be 8 to 64 letters, digits, '-' or '_'."),
                      code="bad_idempotency_key")
    return key


def stored_before(db: Session, student: User, assignment: Assignment, key: str | None) -> Submission | None:
    """The attempt an earlier request with this key stored, if any.

    A key sent again for another assignment is a client's bug, refused rather than
    answered with the wrong attempt."""
    if key is None:
        return None
    found = db.scalar(select(Submission).where(Submission.student_id == student.id, Submission.request_key == key))
    if found is not None and found.assignment_id != assignment.id:
        raise Invalid(N_("This Idempotency-Key was already used for another assignment; send a new one."),
                      code="idempotency_key_reused")
    return found
