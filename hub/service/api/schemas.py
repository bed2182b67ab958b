"""The shapes of API v1's answers and requests about people, courses, assignments and
submissions, and the functions that fill the answers from the database's rows.

Other routers (olympiad tasks, lessons) answer with these shapes too, so they live
apart from the routes.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Path, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, selectinload

from sabaq.hub.domain import assignments as asg
from sabaq.hub.domain import grading
from sabaq.hub.store.models import Assignment, Course, FileKind, GradeResult, Role, Submission, User

# --- numbers in addresses ---------------------------------------------------------

# The largest id a table has: ids are INTEGER columns, 32 bits on PostgreSQL (64 on SQLite). A
# larger one failed in the database driver (a 500: OverflowError on SQLite, "integer out of
# range" on PostgreSQL); bounded here it is a translated 422 before any query, and the bounds
# are in the OpenAPI for clients and fuzzers to see.
MAX_ID = 2**31 - 1
MAX_COUNT = 1_000_000  # attempts and other counts: far more than any class makes

Id = Annotated[int, Path(ge=1, le=MAX_ID, description="a row's id, from 1")]
"""The type of every id in a route's path (submissions, jobs)."""

Term = Annotated[int | None, Query(ge=1, le=4, description="a term of the school year, 1 to 4; none: all")]
"""The type of a query's term: the four terms of a Kazakhstani school year."""

# --- answers -----------------------------------------------------------------


class ErrorOut(BaseModel):
    """Every refusal and failure (sabaq.errors.SabaqError), whichever route."""

    error: str = Field(description="a stable code: not_found, forbidden, invalid, bad_address ...")
    message: str = Field(description="what went wrong and what to do, in the reader's language")


ERRORS: dict[int | str, dict] = {status: {"model": ErrorOut, "description": text} for status, text in {
    400: "The address or the body cannot be read",
    401: "Not logged in, or the login has expired",
    403: "The caller may not do this",
    404: "No such thing, or none the caller may see",
    409: "In conflict with what is stored",
    413: "Larger than sabaq accepts",
    422: "A value is missing or wrong",
    429: "Too many attempts",
    500: "A bug: the message names a request id, which the service's log has",
    503: "Busy, or the database is away: nothing was done, try again (Retry-After)",
}.items()}
"""The error answers every API route may give, for its OpenAPI (each router's ``responses``)."""



class CourseOut(BaseModel):
    id: str = Field(description="course id (nbgrader course_id)")
    title: str
    language: str
    timezone: str = Field(description="the time zone due dates are typed and shown in (IANA: Asia/Almaty)")
    role: str | None = Field(None, description="the caller's role: teacher, assistant, student")


class MeOut(BaseModel):
    name: str
    full_name: str
    language: str | None
    admin: bool
    courses: list[CourseOut]
    children: list[str]


class MemberOut(BaseModel):
    login: str
    full_name: str
    role: str
    section: str


class AssignmentOut(BaseModel):
    course: str
    name: str
    title: str
    released_at: dt.datetime | None
    due_at: dt.datetime | None
    closes_at: dt.datetime | None
    version: int
    notebooks: list[str]
    timed_minutes: int | None = Field(None, description="timed: minutes from the student's start (POST …/start)")
    submitted: int | None = Field(None, description="staff only: students with a submission")


class StartOut(BaseModel):
    assignment: str
    minutes: int = Field(description="the timed window")
    started_at: dt.datetime = Field(description="the student's start (the first one: starting again changes nothing)")
    ends_at: dt.datetime = Field(description="submissions are refused after this (never later than the due date)")


class SubmissionOut(BaseModel):
    id: int
    course: str
    assignment: str
    student: str
    attempt: int
    submitted_at: dt.datetime
    timestamp: str = Field(description="nbgrader timestamp text")
    late: bool
    files: list[str]
    feedback: list[str]
    feedback_hashes: dict[str, str] = Field(description="notebook -> sha256 of its released feedback")
    check: dict | None
    grade: GradeOut | None = Field(None, description="staff only: the current autograde result")


class GradeOut(BaseModel):
    status: str = Field(description="graded, or failed")
    score: float = Field(description="after the late penalty")
    max_score: float
    late_penalty: float
    needs_manual_grade: bool
    graded_at: dt.datetime
    details: dict


class RosterOut(BaseModel):
    ok: bool
    created: list[dict]
    updated: list[dict]
    errors: list[dict]
    warnings: list[dict]


class RegradeOut(BaseModel):
    queued: int = Field(description="submissions queued for grading")


# --- requests ----------------------------------------------------------------


# Text no longer than the database keeps (PostgreSQL refuses a longer value with an error).
Login = Annotated[str, Field(max_length=64)]
Language = Annotated[str, Field(max_length=8, description="kk, ru or en")]


class LanguageIn(BaseModel):
    language: Language


class CourseIn(BaseModel):
    id: str = Field(max_length=64)
    title: str = Field("", max_length=200)
    language: Language = "kk"


class MemberIn(BaseModel):
    role: Role
    section: str = Field("", max_length=32)


class UserIn(BaseModel):
    login: Login
    full_name: str = Field("", max_length=200)
    password: str | None = Field(None, max_length=1000)
    admin: bool = False
    language: Language | None = None


class ChildIn(BaseModel):
    child: Login


# --- rows to answers -----------------------------------------------------------


def course_out(course: Course, role: Role | None) -> CourseOut:
    return CourseOut(id=course.slug, title=course.title, language=course.language, timezone=course.timezone,
                     role=role.value if role else None)


def account_out(user: User) -> MemberOut:
    """An account as the admin's list shows it: its role is "admin" or nothing."""
    return MemberOut(login=user.name, full_name=user.full_name, role="admin" if user.is_admin else "", section="")


def assignment_out(db: Session, a: Assignment, staff: bool) -> AssignmentOut:
    notebooks = sorted({f.path.split("/", 2)[-1] if f.path.startswith(asg.I18N) else f.path
                        for f in a.files if f.kind == FileKind.release and f.path.endswith(".ipynb")})
    out = AssignmentOut(
        course=a.course.slug, name=a.name, title=a.title, released_at=a.released_at,
        due_at=a.due_at, closes_at=a.closes_at, version=a.version, notebooks=notebooks,
        timed_minutes=a.timed_minutes,
    )
    if staff:
        out.submitted = len(asg.latest_submissions(db, a))
    return out


# What submission_out reads of a submission besides its own columns: a list of N submissions
# loads these in one query each, not N lazy loads each (a teacher's page polls the list of a class)
SUBMISSION_OUT_LOAD = (selectinload(Submission.assignment).selectinload(Assignment.course),
                       selectinload(Submission.student), selectinload(Submission.files),
                       selectinload(Submission.feedback))


def submission_out(s: Submission, result: GradeResult | None = None) -> SubmissionOut:
    return _submission_out(s, s.assignment.course.slug, s.assignment.name, s.student.name,
                           [f.path for f in s.files], {f.notebook: f.sha256 for f in s.feedback}, result)


# a current result's columns that a listing's grade shows (submission_out's GradeOut)
GRADE_OUT_COLUMNS = (GradeResult.status, GradeResult.score, GradeResult.max_score, GradeResult.late_penalty,
                     GradeResult.needs_manual_grade, GradeResult.created_at, GradeResult.details)


def listed_out(db: Session, a: Assignment, *, latest: bool) -> list[SubmissionOut]:
    """A teacher's list of a class's submissions, with their grades (``submission_out`` of each),
    read as columns (asg.listed_submissions, grading's current_results of GRADE_OUT_COLUMNS)."""
    rows, files, feedback = asg.listed_submissions(db, a, latest=latest)
    results = grading.current_results(db, a, columns=GRADE_OUT_COLUMNS)
    slug = a.course.slug
    return [_submission_out(row, slug, a.name, row.student, files[row.id], feedback[row.id], results.get(row.id))
            for row in rows]


def _submission_out(s, course: str, assignment: str, student: str, files: list[str], feedback: dict[str, str],
                    result) -> SubmissionOut:
    """``s``: a submission or a row of its columns (id, attempt, submitted_at, late, check);
    ``result``: its current GradeResult or a row of GRADE_OUT_COLUMNS."""
    grade = None
    if result is not None:
        grade = GradeOut(status=result.status, score=result.score, max_score=result.max_score,
                         late_penalty=result.late_penalty, needs_manual_grade=result.needs_manual_grade,
                         graded_at=result.created_at, details=result.details)
    return SubmissionOut(
        id=s.id, course=course, assignment=assignment, student=student, attempt=s.attempt,
        submitted_at=s.submitted_at, timestamp=asg.nbgrader_timestamp(s.submitted_at), late=s.late,
        files=sorted(files), feedback=sorted(feedback), feedback_hashes=feedback, check=s.check, grade=grade,
    )
