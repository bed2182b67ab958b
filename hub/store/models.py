"""sabaq's database: people, courses, assignments, files, submissions, jobs.

Everything the service knows lives here, so service replicas are stateless.
Files are content-addressed blobs stored in the same database, so a submission
and its files are written in one transaction and nothing needs a shared disk.
Schema changes go through Alembic migrations (``sabaq/hub/migrations``).
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given to the database; use UTC")
            value = value.astimezone(dt.timezone.utc)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Role(str, enum.Enum):
    """A person's role in one course."""

    teacher = "teacher"
    assistant = "assistant"
    student = "student"


STAFF_ROLES = (Role.teacher, Role.assistant)


class FileKind(str, enum.Enum):
    release = "release"  # what students fetch
    source = "source"  # the teacher's version: solutions and hidden tests


class JobState(str, enum.Enum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True, doc="login, as in the hub")
    full_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    memberships: Mapped[list["Membership"]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )


class Guardian(Base):
    """A parent (or other guardian) allowed to read one student's results."""

    __tablename__ = "guardians"
    __table_args__ = (UniqueConstraint("parent_id", "student_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))

    parent: Mapped[User] = relationship(foreign_keys=[parent_id])
    student: Mapped[User] = relationship(foreign_keys=[student_id])


class Course(Base):
    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True, doc="nbgrader course_id")
    title: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(8), default="kk")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    scheme: Mapped[str] = mapped_column(String(32), default="kz-criteria",
                                        doc="kz-criteria, weighted or points")
    scheme_weights: Mapped[dict] = mapped_column(JSON, default=dict, doc="category -> weight, for weighted")
    min_notice_hours: Mapped[float] = mapped_column(default=0.0)
    daily_load_minutes: Mapped[int] = mapped_column(Integer, default=0, doc="0: no limit")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Almaty",
                                          doc="IANA name: due dates are typed and shown in it")

    memberships: Mapped[list["Membership"]] = relationship(
        back_populates="course", cascade="all, delete-orphan"
    )
    assignments: Mapped[list["Assignment"]] = relationship(
        back_populates="course", cascade="all, delete-orphan"
    )


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("course_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16))
    section: Mapped[str] = mapped_column(String(32), default="", doc="class, e.g. 7A")

    course: Mapped[Course] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship(back_populates="memberships")


class Blob(Base):
    """File content, stored once per distinct content (sha256)."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Assignment(Base):
    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("course_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64), doc="nbgrader assignment_id")
    title: Mapped[str] = mapped_column(String(200), default="")
    released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closes_at: Mapped[dt.datetime | None] = mapped_column(
        UTCDateTime, nullable=True, doc="no submissions accepted after this"
    )
    version: Mapped[int] = mapped_column(Integer, default=0, doc="bumped by each release")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    category: Mapped[str] = mapped_column(String(32), default="formative")
    term: Mapped[int] = mapped_column(Integer, default=1)
    max_score: Mapped[float] = mapped_column(default=0.0, doc="points of the source's graded cells")
    estimated_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    timed_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True,
                                                      doc="window from each student's first opening")
    late_policy: Mapped[str] = mapped_column(String(16), default="none")
    late_percent_per_day: Mapped[float] = mapped_column(default=0.0)
    late_floor_percent: Mapped[float] = mapped_column(default=0.0)
    position: Mapped[int | None] = mapped_column(Integer, nullable=True,
                                                 doc="an olympiad task's place in the contest, as the coach sets it")
    share_checker: Mapped[bool] = mapped_column(Boolean, default=False,
                                                doc="an olympiad task's interactor given to students to try samples")

    course: Mapped[Course] = relationship(back_populates="assignments")
    files: Mapped[list["AssignmentFile"]] = relationship(
        back_populates="assignment", cascade="all, delete-orphan"
    )
    submissions: Mapped[list["Submission"]] = relationship(back_populates="assignment")


class AssignmentFile(Base):
    __tablename__ = "assignment_files"
    __table_args__ = (UniqueConstraint("assignment_id", "kind", "path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE")
    )
    kind: Mapped[FileKind] = mapped_column(Enum(FileKind, native_enum=False, length=16))
    path: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    size: Mapped[int] = mapped_column(Integer)

    assignment: Mapped[Assignment] = relationship(back_populates="files")


class Submission(Base):
    """One attempt, immutable once written; every attempt is kept."""

    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("assignment_id", "student_id", "attempt"),
                      UniqueConstraint("student_id", "request_key"))

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"))
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    attempt: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    assignment_version: Mapped[int] = mapped_column(Integer, default=0)
    secret: Mapped[str] = mapped_column(String(128), doc="nbgrader submission_secret")
    kind: Mapped[str] = mapped_column(String(16), default="notebook", doc="notebook, or paper (marked by hand)")
    check: Mapped[dict | None] = mapped_column(
        JSON, nullable=True, doc="the worker's report on the submitted notebooks"
    )
    request_key: Mapped[str | None] = mapped_column(
        String(64), nullable=True, doc="the Idempotency-Key its upload carried: a repeat of that upload is this one"
    )

    assignment: Mapped[Assignment] = relationship(back_populates="submissions")
    student: Mapped[User] = relationship()
    files: Mapped[list["SubmissionFile"]] = relationship(
        back_populates="submission", cascade="all, delete-orphan"
    )
    feedback: Mapped[list["Feedback"]] = relationship(
        back_populates="submission", cascade="all, delete-orphan"
    )


class SubmissionFile(Base):
    __tablename__ = "submission_files"
    __table_args__ = (UniqueConstraint("submission_id", "path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE")
    )
    path: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    size: Mapped[int] = mapped_column(Integer)

    submission: Mapped[Submission] = relationship(back_populates="files")


class Feedback(Base):
    """Feedback HTML for one notebook of one submission, released by staff."""

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("submission_id", "notebook"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE")
    )
    notebook: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    released_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    submission: Mapped[Submission] = relationship(back_populates="feedback")


class Job(Base):
    """Work for the grading workers; claimed with a lease, retried when it lapses."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_state_available", "state", "available_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(200), unique=True, doc="idempotency key")
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    state: Mapped[JobState] = mapped_column(
        Enum(JobState, native_enum=False, length=16), default=JobState.queued
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    worker: Mapped[str] = mapped_column(String(100), default="")
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class GradeResult(Base):
    """What grading found for one submission. Every grading is kept; exactly one
    result per submission is current (the newest accepted one)."""

    __tablename__ = "grade_results"
    __table_args__ = (Index("ix_grade_results_submission_current", "submission_id", "current"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), nullable=True)
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), doc="graded, or failed with an error")
    score: Mapped[float] = mapped_column(default=0.0)
    max_score: Mapped[float] = mapped_column(default=0.0)
    late_penalty: Mapped[float] = mapped_column(default=0.0)
    needs_manual_grade: Mapped[bool] = mapped_column(Boolean, default=False)
    details: Mapped[dict] = mapped_column(JSON, default=dict, doc="per notebook and cell scores, problems")
    notebooks: Mapped[dict] = mapped_column(JSON, default=dict, doc="notebook -> sha256 of the graded notebook")
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    submission: Mapped[Submission] = relationship()


class StudentRule(Base):
    """One student's own arrangement for one assignment: extension, excusal, timed start."""

    __tablename__ = "student_rules"
    __table_args__ = (UniqueConstraint("assignment_id", "student_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    extension_minutes: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True, doc="own due date")
    excused: Mapped[bool] = mapped_column(Boolean, default=False)
    opened_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True,
                                                          doc="the student's start of a timed assignment")


class ManualGrade(Base):
    """A teacher's score for one graded cell (overrides the autograder) or for a
    paper submission (notebook "paper", cell "total")."""

    __tablename__ = "manual_grades"
    __table_args__ = (UniqueConstraint("submission_id", "notebook", "grade_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    notebook: Mapped[str] = mapped_column(String(200))
    grade_id: Mapped[str] = mapped_column(String(200))
    score: Mapped[float] = mapped_column()
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Comment(Base):
    """A teacher's note on one cell (grade_id set) or on the whole submission (both empty)."""

    __tablename__ = "comments"
    __table_args__ = (UniqueConstraint("submission_id", "notebook", "grade_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    notebook: Mapped[str] = mapped_column(String(200), default="")
    grade_id: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Lesson(Base):
    """An interactive lesson published to a course: its files, in every language."""

    __tablename__ = "lessons"
    __table_args__ = (UniqueConstraint("course_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64), doc="the lesson's id, its folder's name in students' servers")
    title: Mapped[dict] = mapped_column(JSON, default=dict, doc="language -> title")
    subject: Mapped[str] = mapped_column(String(32), default="")
    grade: Mapped[int | None] = mapped_column(Integer, nullable=True)
    exercises: Mapped[list] = mapped_column(JSON, default=list, doc="exercise ids, in the lesson's order")
    version: Mapped[int] = mapped_column(Integer, default=0, doc="bumped by each publication")
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    course: Mapped[Course] = relationship()
    files: Mapped[list["LessonFile"]] = relationship(back_populates="lesson", cascade="all, delete-orphan")


class LessonFile(Base):
    __tablename__ = "lesson_files"
    __table_args__ = (UniqueConstraint("lesson_id", "path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    size: Mapped[int] = mapped_column(Integer)

    lesson: Mapped[Lesson] = relationship(back_populates="files")


class LessonAttempt(Base):
    """One answer of a student to one self-check of a lesson, right or wrong."""

    __tablename__ = "lesson_attempts"
    __table_args__ = (Index("ix_lesson_attempts_lesson_exercise", "lesson_id", "exercise"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    exercise: Mapped[str] = mapped_column(String(64))
    correct: Mapped[bool] = mapped_column(Boolean)
    attempt: Mapped[int] = mapped_column(Integer, doc="the student's count for this exercise, from the notebook")
    answer: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    lesson: Mapped[Lesson] = relationship()
