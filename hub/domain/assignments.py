"""Releasing assignments, storing submissions and feedback.

A submission is written (files and record, in one transaction, together with
the job that checks it) before the student is told it was received. Rows are
never updated after that; every attempt is kept.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets

from sqlalchemy import Row, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from sabaq.contracts import JobKind
from sabaq.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge, TooMany
from sabaq.hub.domain import courses as crs
from sabaq.hub.domain.kinds import grading_job
from sabaq.hub.domain.timerules import LATE_POLICIES, effective_due, notice_ok, window_end
from sabaq.hub.store import jobs
from sabaq.hub.store.blobs import IN_LIST, put_blob, put_blobs, stored_file_groups_of, stored_files
from sabaq.hub.store.database import inserted
from sabaq.hub.store.models import (
    Assignment,
    AssignmentFile,
    Course,
    Feedback,
    FileKind,
    ManualGrade,
    Membership,
    StudentRule,
    Submission,
    SubmissionFile,
    User,
    utcnow,
)
from sabaq.i18n import N_

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def nbgrader_timestamp(when: dt.datetime) -> str:
    """nbgrader's timestamp text, e.g. '2026-11-22 09:00:00.000000 UTC'."""
    return when.astimezone(dt.timezone.utc).strftime(TIMESTAMP_FORMAT)


def get_assignment(db: Session, course: Course, name: str, staff: bool = True) -> Assignment:
    """The assignment; to students (staff=False) an unreleased one does not exist."""
    assignment = db.scalar(
        select(Assignment).where(Assignment.course_id == course.id, Assignment.name == name)
    )
    if assignment is None or not (staff or is_open_to_students(assignment)):
        raise _no_assignment(name, course)
    return assignment


def _no_assignment(name: str, course: Course) -> NotFound:
    return NotFound(N_("There is no assignment '{assignment}' in the course '{course}'."),
                    assignment=name, course=course.slug)


def students_assignment(db: Session, slug: str, name: str, student: User) -> Assignment:
    """The released assignment ``name`` of the course ``slug``, to a student of that course;
    refused as get_course, courses.require_student and get_assignment(staff=False) refuse,
    in that order. The course, the caller's role and the assignment are read in one
    statement (an upload asks twice, before and after its files are read, at every
    deadline), and the assignment's course is set on it rather than read again."""
    row = db.execute(
        select(Course, Membership.role, Assignment)
        .outerjoin(Membership, (Membership.course_id == Course.id) & (Membership.user_id == student.id))
        .outerjoin(Assignment, (Assignment.course_id == Course.id) & (Assignment.name == name))
        .where(Course.slug == slug)
    ).first()
    if row is None:
        raise crs.no_course(slug)
    course, role, assignment = row
    crs.require_student_role(role, course)
    if assignment is None or not is_open_to_students(assignment):  # unreleased: the same 404 as a missing one
        raise _no_assignment(name, course)
    set_committed_value(assignment, "course", course)
    return assignment


def find_assignment(db: Session, course: Course, name: str) -> Assignment | None:
    """The course's assignment of that id, released or not; None if there is none."""
    return db.scalar(select(Assignment).where(Assignment.course_id == course.id, Assignment.name == name))


def is_open_to_students(assignment: Assignment, now: dt.datetime | None = None) -> bool:
    now = now or utcnow()
    return assignment.released_at is not None and assignment.released_at <= now


def points_of(files: dict[str, bytes]) -> float:
    """Points of the graded cells in nbgrader notebooks (the assignment's maximum)."""
    import nbformat

    total = 0.0
    for path, content in files.items():
        if not path.endswith(".ipynb"):
            continue
        try:
            nb = nbformat.reads(content.decode("utf-8"), as_version=4)
        except Exception:  # checked on upload; a broken source just has no points
            continue
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade"):
                total += float(meta.get("points", 0) or 0)
    return total


SETTINGS_FIELDS = ("category", "term", "estimated_minutes", "timed_minutes", "late_policy",
                   "late_percent_per_day", "late_floor_percent")


def configure(assignment: Assignment, **values) -> None:
    """Set the assignment's grading and time settings (only the ones given)."""
    for key, value in values.items():
        if key not in SETTINGS_FIELDS or value is None:
            continue
        if key == "late_policy" and value not in LATE_POLICIES:
            raise Invalid(N_("Unknown late policy '{policy}': use none, zero or percent."), policy=value)
        if key == "term" and not 1 <= int(value) <= 4:
            raise Invalid(N_("The term must be 1, 2, 3 or 4."))
        setattr(assignment, key, value)


def release(
    db: Session,
    course: Course,
    name: str,
    release_files: dict[str, bytes],
    source_files: dict[str, bytes],
    *,
    due_at: dt.datetime | None = None,
    closes_at: dt.datetime | None = None,
    title: str = "",
    now: dt.datetime | None = None,
    publish: bool = True,
    **settings,
) -> Assignment:
    """Publish (or re-publish) an assignment; students' earlier submissions stay.
    With publish=False its files and dates are stored as a draft, not shown to students
    until ``publish``."""
    now = now or utcnow()
    if publish:
        require_notice(course, now, due_at)
    if not any(p.endswith(".ipynb") for p in release_files):
        raise Invalid(
            N_("The assignment '{assignment}' has no notebook to release. Generate it with nbgrader first."),
            assignment=name,
        )
    if due_at and closes_at and closes_at < due_at:
        raise Invalid(N_("The assignment cannot close before it is due."))
    check_name(name)
    assignment = db.scalar(
        select(Assignment).where(Assignment.course_id == course.id, Assignment.name == name)
    )
    if assignment is None:
        assignment = Assignment(course=course, name=name)
        db.add(assignment)
    assignment.title = clean_title(title) or assignment.title or name
    if publish:
        assignment.released_at = now
    assignment.due_at = due_at
    assignment.closes_at = closes_at
    assignment.version = (assignment.version or 0) + 1
    assignment.max_score = points_of(source_files or release_files)
    configure(assignment, **settings)
    assignment.files.clear()
    db.flush()
    for kind, files in ((FileKind.release, release_files), (FileKind.source, source_files)):
        for path, content in files.items():
            assignment.files.append(
                AssignmentFile(kind=kind, path=path, sha256=put_blob(db, content), size=len(content))
            )
    db.flush()
    return assignment


def check_name(name: str) -> str:
    """An assignment's id: nbgrader's name, a folder's name in every home."""
    if not NAME_RE.match(name or ""):
        raise Invalid(
            N_("The assignment name '{assignment}' is not allowed: use Latin letters, digits, '-' and '_'."),
            assignment=name,
        )
    return name


def require_new(db: Session, course: Course, name: str) -> None:
    """Creating refuses an id the course already uses (releasing again is a separate step)."""
    if db.scalar(select(Assignment.id).where(Assignment.course_id == course.id, Assignment.name == check_name(name))):
        raise Conflict(N_("The course already has an assignment '{assignment}': choose another id, or open it "
                          "to change it."), assignment=name)


def require_notice(course: Course, released_at: dt.datetime, due_at: dt.datetime | None) -> None:
    """The course's minimum notice between a release and its due date: one rule for a
    release and for every later change of the date, from the API or from a page."""
    if not notice_ok(released_at, due_at, course.min_notice_hours or 0):
        raise Invalid(
            N_("The due date is too soon: this course gives students at least {hours} hours after release."),
            hours=f"{course.min_notice_hours:g}",
        )


def set_due(assignment: Assignment, due_at: dt.datetime | None) -> None:
    """Move (or clear) the class's due date; a released assignment keeps the minimum notice."""
    if assignment.released_at is not None:
        require_notice(assignment.course, assignment.released_at, due_at)
    assignment.due_at = due_at


def set_dates(assignment: Assignment, due_at: dt.datetime | None, closes_at: dt.datetime | None) -> None:
    """The due date (``set_due``'s rule) and the closing time, which cannot come first."""
    if due_at and closes_at and closes_at < due_at:
        raise Invalid(N_("The assignment cannot close before it is due."))
    set_due(assignment, due_at)
    assignment.closes_at = closes_at


TITLE_LENGTH = 200


def clean_title(title: str | None) -> str:
    """A title as people see it: one line, at most 200 characters."""
    text = " ".join((title or "").split())
    if len(text) > TITLE_LENGTH:
        raise Invalid(N_("The title is too long: write at most {limit} characters."), limit=TITLE_LENGTH)
    return text


def set_title(assignment: Assignment, title: str | None) -> None:
    """Rename what people see; the id (nbgrader's name) stays. Blank: the id."""
    assignment.title = clean_title(title) or assignment.name


def publish(assignment: Assignment, now: dt.datetime | None = None) -> None:
    """Show a stored assignment to students from now, with the course's notice before its due date."""
    now = now or utcnow()
    if not any(f.kind == FileKind.release and f.path.endswith(".ipynb") for f in assignment.files):
        raise Invalid(
            N_("The assignment '{assignment}' has no notebook to release. Generate it with nbgrader first."),
            assignment=assignment.name,
        )
    require_notice(assignment.course, now, assignment.due_at)
    assignment.released_at = now


def unpublish(assignment: Assignment) -> None:
    """Take a release back: students no longer see it; their submissions are kept."""
    assignment.released_at = None


def files_of(db: Session, assignment: Assignment, kind: FileKind) -> dict[str, bytes]:
    return stored_files(db, file_rows(assignment, kind))


def file_rows(assignment: Assignment, kind: FileKind) -> list[AssignmentFile]:
    return [f for f in assignment.files if f.kind == kind]


I18N = "i18n/"


def localize(files: dict[str, bytes], lang: str | None, fallback: str = "en") -> dict[str, bytes]:
    """Released files in one language: ``i18n/<lang>/x`` becomes ``x`` for the
    student's language (else the course's, else English, else any), other
    languages' copies are left out; files outside ``i18n/`` are for everyone."""
    langs = {p.split("/")[1] for p in files if p.startswith(I18N) and p.count("/") >= 2}
    if not langs:
        return files
    chosen = next(x for x in (lang, fallback, "en", *sorted(langs)) if x in langs)
    prefix = f"{I18N}{chosen}/"
    out = {p: c for p, c in files.items() if not p.startswith(I18N)}
    out.update({p[len(prefix):]: c for p, c in files.items() if p.startswith(prefix)})
    return out


def released_files_for(db: Session, assignment: Assignment, user: User) -> dict[str, bytes]:
    """What this person fetches: the released files in their language."""
    return _localized_for(assignment, user, files_of(db, assignment, FileKind.release))


def _localized_for(assignment: Assignment, user: User, released: dict[str, bytes]) -> dict[str, bytes]:
    return localize(released, user.language, assignment.course.language)


def released_for(db: Session, course: Course, now: dt.datetime | None = None) -> list[Assignment]:
    rows = db.scalars(
        select(Assignment).where(Assignment.course_id == course.id).order_by(Assignment.name)
    )
    return [a for a in rows if is_open_to_students(a, now)]


def submit(
    db: Session,
    assignment: Assignment,
    student: User,
    files: dict[str, bytes],
    now: dt.datetime | None = None,
    request_key: str | None = None,
) -> Submission:
    """Store one attempt and queue its check. The caller commits before answering.
    ``request_key``: the Idempotency-Key its upload carried (see ``repeats``)."""
    now = now or utcnow()
    if not is_open_to_students(assignment, now):
        raise NotFound(
            N_("There is no assignment '{assignment}' in the course '{course}'."),
            assignment=assignment.name,
            course=assignment.course.slug,
        )
    rule = student_rule(db, assignment, student)
    closes = assignment.closes_at
    if closes is not None and rule is not None and (rule.extension_minutes or rule.due_at):
        # an extension moves the closing time as far as it moves the due date
        closes = max(closes, effective_due_for(assignment, rule) or closes)
    if closes is not None and now > closes:
        raise Forbidden(
            N_("The assignment '{assignment}' closed on {closed}; submissions are no longer accepted. Talk to your teacher."),
            code="closed",
            assignment=assignment.name,
            closed=nbgrader_timestamp(closes),
        )
    if assignment.timed_minutes:
        end = window_end(rule.opened_at if rule else None, assignment.timed_minutes, effective_due_for(assignment, rule))
        if rule is not None and rule.opened_at is not None and end is not None and now > end:
            raise Forbidden(
                N_("Your {minutes} minutes for '{assignment}' ran out at {end}; the work can no longer be submitted."),
                code="time_up",
                minutes=assignment.timed_minutes,
                assignment=assignment.name,
                end=nbgrader_timestamp(end),
            )
    if not any(p.endswith(".ipynb") for p in files):
        raise Invalid(N_("The submission has no notebook. Submit the assignment folder you fetched."))
    attempt = (
        db.scalar(
            select(func.max(Submission.attempt)).where(
                Submission.assignment_id == assignment.id, Submission.student_id == student.id
            )
        )
        or 0
    ) + 1
    paths = sorted(files)
    digests = put_blobs(db, [files[path] for path in paths])
    row = dict(assignment_id=assignment.id, student_id=student.id, attempt=attempt, submitted_at=now,
               late=bool((due := effective_due_for(assignment, rule)) and now > due),
               assignment_version=assignment.version, secret=secrets.token_hex(64), kind="notebook", check=None,
               request_key=request_key)
    try:
        submission = _inserted(db, row, [dict(path=path, sha256=digest, size=len(files[path]))
                                         for path, digest in zip(paths, digests)])
    except IntegrityError:
        # Two submits of the same student raced for the attempt number.
        raise Invalid(N_("Another submission of yours is being saved right now; try again in a moment.")) from None
    set_committed_value(submission, "assignment", assignment)
    set_committed_value(submission, "student", student)
    check = (JobKind.check, f"{JobKind.check}:{submission.id}", {"submission_id": submission.id})
    jobs.enqueue_all(db, [check, *filter(None, [grading_job(submission, _source_paths(db, assignment))])])
    return submission


def _source_paths(db: Session, assignment: Assignment) -> list[str]:
    """The paths of the assignment's source files: its loaded files' if they are, else read as
    a column (not its files as entities, as a lazy load of them would, at every upload)."""
    if "files" in assignment.__dict__:
        return [f.path for f in assignment.files if f.kind == FileKind.source]
    return list(db.scalars(_SOURCE_PATHS, {"assignment_id": assignment.id}))


_SOURCE_PATHS = select(AssignmentFile.path).where(AssignmentFile.assignment_id == bindparam("assignment_id"),
                                                  AssignmentFile.kind == FileKind.source)


def _inserted(db: Session, row: dict, file_rows: list[dict]) -> Submission:
    """A new submission and its files, as ``inserted`` rows (its files' rows once its id is
    known); the submission's files are these and it has no feedback: nothing is read back."""
    (submission,) = inserted(db, Submission, [row])
    for file_row in file_rows:
        file_row["submission_id"] = submission.id
    set_committed_value(submission, "files", inserted(db, SubmissionFile, file_rows))
    set_committed_value(submission, "feedback", [])
    return submission


MB = 1024 * 1024


def check_quota(db: Session, assignment: Assignment, student: User, incoming: int, *, max_attempts: int,
                max_submission_mb: int, max_student_mb: int) -> None:
    """Before a submission's files are read (``incoming``: their bytes): the student has an
    attempt left, the files fit one submission, and all the student's attempts at this
    assignment stay within their room. 0 is no limit for attempts and room; paper marks do not count."""
    theirs = (Submission.assignment_id == assignment.id, Submission.student_id == student.id,
              Submission.kind != "paper")
    # the attempts and the bytes of their files, in one statement
    attempts, used = db.execute(
        select(func.count(Submission.id.distinct()), func.coalesce(func.sum(SubmissionFile.size), 0))
        .outerjoin(SubmissionFile, SubmissionFile.submission_id == Submission.id).where(*theirs)
    ).one()
    if max_attempts and attempts >= max_attempts:
        raise TooMany(
            N_("You have already submitted '{assignment}' {count} times, the most allowed. Your newest submission "
               "is kept and is the one graded; if you need another attempt, talk to your teacher."),
            code="too_many_attempts", assignment=assignment.name, count=attempts,
        )
    if incoming > max_submission_mb * MB:
        raise TooLarge(
            N_("Your submission is {size} MB; a submission may be at most {limit} MB. Make it smaller (for example, "
               "clear large outputs in the notebooks, or leave out data files) and submit again."),
            code="submission_too_large", size=f"{incoming / MB:.1f}", limit=max_submission_mb,
        )
    if max_student_mb:
        if used + incoming > max_student_mb * MB:
            raise TooLarge(
                N_("Your submissions of '{assignment}' already take {used} MB, and with this one ({size} MB) they "
                   "would pass {limit} MB, the most for all attempts together. Make it smaller (for example, clear "
                   "large outputs in the notebooks), or talk to your teacher."),
                code="student_quota", assignment=assignment.name, used=f"{used / MB:.1f}",
                size=f"{incoming / MB:.1f}", limit=max_student_mb,
            )


def record_paper(db: Session, assignment: Assignment, student: User, score: float, by: User,
                 now: dt.datetime | None = None) -> Submission:
    """Work done on paper, marked by the teacher: a submission without files, flagged "paper"."""
    now = now or utcnow()
    attempt = (db.scalar(select(func.max(Submission.attempt)).where(
        Submission.assignment_id == assignment.id, Submission.student_id == student.id)) or 0) + 1
    rule = student_rule(db, assignment, student)
    due = effective_due_for(assignment, rule)
    submission = Submission(assignment=assignment, student=student, attempt=attempt, submitted_at=now,
                            late=bool(due and now > due), assignment_version=assignment.version,
                            secret=secrets.token_hex(64), kind="paper")
    db.add(submission)
    db.flush()
    db.add(ManualGrade(submission_id=submission.id, notebook="paper", grade_id="total", score=score, by_id=by.id))
    db.flush()
    return submission


def student_rule(db: Session, assignment: Assignment, student: User, create: bool = False) -> StudentRule | None:
    rule = db.scalar(select(StudentRule).where(StudentRule.assignment_id == assignment.id,
                                               StudentRule.student_id == student.id))
    if rule is None and create:
        rule = StudentRule(assignment_id=assignment.id, student_id=student.id)
        db.add(rule)
        db.flush()
    return rule


def effective_due_for(assignment: Assignment, rule: StudentRule | None) -> dt.datetime | None:
    if rule is None:
        return assignment.due_at
    return effective_due(assignment.due_at, rule.extension_minutes or 0, rule.due_at)


def record_opening(db: Session, assignment: Assignment, student: User, now: dt.datetime | None = None) -> None:
    """The clock of a timed assignment starts for this student (only the first time counts)."""
    rule = student_rule(db, assignment, student, create=True)
    if rule.opened_at is None:
        rule.opened_at = now or utcnow()
        db.flush()


def start(db: Session, assignment: Assignment, student: User, now: dt.datetime | None = None) -> StudentRule:
    """The student starts a timed assignment, by a request they confirm (a POST, never a
    fetch or a link someone sent): their minutes run from now. Starting again changes nothing."""
    if not assignment.timed_minutes:
        raise Invalid(N_("'{assignment}' is not timed, so there is nothing to start: fetch it as usual."),
                      code="not_timed", assignment=assignment.name)
    record_opening(db, assignment, student, now)
    return student_rule(db, assignment, student)


def started_at(db: Session, assignment: Assignment, student: User) -> dt.datetime | None:
    rule = student_rule(db, assignment, student)
    return rule.opened_at if rule else None


def time_ends(db: Session, assignment: Assignment, student: User) -> dt.datetime | None:
    """When a started timed assignment closes for the student (None: not timed or not started)."""
    rule = student_rule(db, assignment, student)
    if not assignment.timed_minutes or rule is None or rule.opened_at is None:
        return None
    return window_end(rule.opened_at, assignment.timed_minutes, effective_due_for(assignment, rule))


def require_started(db: Session, assignment: Assignment, student: User, page: str) -> None:
    """A timed assignment's files and submissions wait until the student starts it on its
    page (``page``, the address to tell them)."""
    if assignment.timed_minutes and started_at(db, assignment, student) is None:
        raise Conflict(
            N_("'{assignment}' is timed: once you start it, you have {minutes} minutes to submit it, and the clock "
               "cannot be paused. When you are ready, open {page} and press Start; then fetch it."),
            code="not_started", assignment=assignment.name, minutes=assignment.timed_minutes, page=page,
        )


def submissions_of(
    db: Session, assignment: Assignment, student: User | None = None, *, load: tuple = ()
) -> list[Submission]:
    """``load``: loader options for what the caller reads of every row (one query each, not one per row)."""
    q = select(Submission).where(Submission.assignment_id == assignment.id).options(*load)
    if student is not None:
        q = q.where(Submission.student_id == student.id)
    return list(db.scalars(q.order_by(Submission.student_id, Submission.attempt)))


def latest_submissions(db: Session, assignment: Assignment, *, load: tuple = ()) -> list[Submission]:
    """The newest attempt of every student (``load``: as ``submissions_of``'s)."""
    newest = _newest_attempts(assignment)
    q = select(Submission).join(
        newest,
        (Submission.student_id == newest.c.student_id) & (Submission.attempt == newest.c.attempt),
    ).where(Submission.assignment_id == assignment.id).options(*load)
    return list(db.scalars(q))


def _newest_attempts(assignment: Assignment):
    """(student_id, attempt) of every student's newest attempt at the assignment."""
    return (
        select(Submission.student_id, func.max(Submission.attempt).label("attempt"))
        .where(Submission.assignment_id == assignment.id)
        .group_by(Submission.student_id)
        .subquery()
    )


LISTED = (Submission.id, Submission.attempt, Submission.submitted_at, Submission.late, Submission.check,
          User.name.label("student"))


def listed_submissions(db: Session, assignment: Assignment, *, latest: bool) -> tuple[list[Row], dict, dict]:
    """A class's submissions (``latest``: each student's newest) as the columns of LISTED, in
    ``submissions_of``'s order, with {submission id: [file path]} and {submission id: {notebook:
    sha256 of its feedback}}: three statements and no ORM objects. A teacher's page polls this
    while a deadline is graded, and loading every row, its student, files and feedback as
    entities cost the service more CPU the bigger the class."""
    q = select(*LISTED).join(User, User.id == Submission.student_id).where(Submission.assignment_id == assignment.id)
    if latest:
        newest = _newest_attempts(assignment)
        q = q.join(newest, (Submission.student_id == newest.c.student_id) & (Submission.attempt == newest.c.attempt))
    rows = db.execute(q.order_by(Submission.student_id, Submission.attempt)).all()
    files: dict[int, list[str]] = {row.id: [] for row in rows}
    feedback: dict[int, dict[str, str]] = {row.id: {} for row in rows}
    ids = list(files)
    for i in range(0, len(ids), IN_LIST):
        chunk = ids[i:i + IN_LIST]
        for submission_id, path in db.execute(select(SubmissionFile.submission_id, SubmissionFile.path)
                                              .where(SubmissionFile.submission_id.in_(chunk))):
            files[submission_id].append(path)
        for submission_id, notebook, digest in db.execute(select(Feedback.submission_id, Feedback.notebook,
                                                                 Feedback.sha256)
                                                          .where(Feedback.submission_id.in_(chunk))):
            feedback[submission_id][notebook] = digest
    return rows, files, feedback


def get_submission(db: Session, submission_id: int, *, load: tuple = ()) -> Submission:
    """``load``: loader options for what the caller reads of it and its relations."""
    submission = db.get(Submission, submission_id, options=load)
    if submission is None:
        raise NotFound(N_("There is no submission number {id}."), id=submission_id)
    return submission


def submission_files(db: Session, submission: Submission) -> dict[str, bytes]:
    """The student's files plus nbgrader's timestamp.txt, as collect expects."""
    return _with_timestamp(submission, stored_files(db, submission.files))


def _with_timestamp(submission: Submission, files: dict[str, bytes]) -> dict[str, bytes]:
    files["timestamp.txt"] = nbgrader_timestamp(submission.submitted_at).encode()
    return files


def bundle_inputs(db: Session, submission_id: int, kind: FileKind) -> tuple[Row, dict[str, bytes], dict[str, bytes]]:
    """What a worker's bundle needs of a submission: its facts (the columns of BUNDLE_FACTS),
    its files and its assignment's files of ``kind`` ({path: content}), in two statements and
    no ORM objects: a deadline asks for two bundles per submission, and loading the submission,
    its assignment, course, student and files as entities was most of a bundle's CPU."""
    facts = db.execute(BUNDLE_FACTS.where(Submission.id == submission_id)).one_or_none()
    if facts is None:
        raise NotFound(N_("There is no submission number {id}."), id=submission_id)
    submitted, assignment_files = stored_file_groups_of(
        db,
        select(SubmissionFile.path, SubmissionFile.sha256).where(SubmissionFile.submission_id == submission_id),
        select(AssignmentFile.path, AssignmentFile.sha256).where(AssignmentFile.assignment_id == facts.assignment_id,
                                                                 AssignmentFile.kind == kind),
    )
    return facts, submitted, assignment_files


BUNDLE_FACTS = (
    select(Submission.submitted_at, Assignment.id.label("assignment_id"), Assignment.name.label("assignment"),
           Assignment.version, Assignment.due_at, Course.slug.label("course"),
           Course.language.label("course_language"), User.name.label("student"),
           User.language.label("student_language"))
    .join(Assignment, Assignment.id == Submission.assignment_id)
    .join(Course, Course.id == Assignment.course_id)
    .join(User, User.id == Submission.student_id)
)


def check_inputs(db: Session, submission_id: int) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """What checking a submission needs: its ``submission_files`` (with nbgrader's timestamp)
    and what its student fetched (``released_files_for``), read by ``bundle_inputs``."""
    facts, mine, released = bundle_inputs(db, submission_id, FileKind.release)
    mine["timestamp.txt"] = nbgrader_timestamp(facts.submitted_at).encode()
    return mine, localize(released, facts.student_language, facts.course_language)


def store_feedback(db: Session, submission: Submission, notebook: str, html: bytes) -> Feedback:
    digest = put_blob(db, html)
    item = db.scalar(
        select(Feedback).where(Feedback.submission_id == submission.id, Feedback.notebook == notebook)
    )
    if item is None:
        item = Feedback(submission=submission, notebook=notebook, sha256=digest)
        db.add(item)
    item.sha256 = digest
    item.released_at = utcnow()
    db.flush()
    return item


def find_submission_by_timestamp(
    db: Session, assignment: Assignment, student: User, timestamp: str
) -> Submission | None:
    for sub in submissions_of(db, assignment, student):
        if nbgrader_timestamp(sub.submitted_at) == timestamp.strip():
            return sub
    return None
