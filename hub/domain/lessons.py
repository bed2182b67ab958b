"""Lessons in a course: publishing them, delivering them, and what the class got right.

A teacher publishes a lesson folder (see ``sabaq.lessons``): its files are kept
as blobs, ``exercises.toml`` is replaced by the encoded ``exercises.dat`` so
that answers are not readable in students' copies. Each student receives the
lesson in one language (theirs, else the course's) in ``~/lessons/<course>/<lesson>/``,
merged with their own edits (``sabaq.lessons.sync``): all their lessons as their server
starts, and one again, in their language of then, as they open it from the course page. Self-check attempts come
back from the notebooks and become per-exercise success rates for the teacher.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sabaq.archive import safe_name
from sabaq.errors import Forbidden, Invalid, NotFound
from sabaq.hub.store.blobs import put_blob, stored_files
from sabaq.hub.store.models import Course, Lesson, LessonAttempt, LessonFile, Membership, Role, User, utcnow
from sabaq.i18n import N_
from sabaq.lessons.exercises import ENCODED_FILE, EXERCISES_FILE, encode_raw, read_raw
from sabaq.lessons.meta import NOTEBOOK, PUBLISHED_FILE, LessonError, load_meta
from sabaq.lessons.sync import STATE_FILE

SKIPPED = ("__pycache__", ".ipynb_checkpoints", STATE_FILE, PUBLISHED_FILE)  # a teacher's own copy's bookkeeping


def lesson_files(folder: Path) -> dict[str, bytes]:
    """The files students receive: everything but the answers in clear (encoded instead)."""
    files = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if not path.is_file() or any(part in SKIPPED for part in rel.split("/")):
            continue
        if rel == EXERCISES_FILE:
            files[ENCODED_FILE] = encode_raw(read_raw(folder))
        elif rel != ENCODED_FILE:
            files[rel] = path.read_bytes()
    return files


def publish(db: Session, course: Course, folder: str | Path) -> Lesson:
    """Publish (or update) a lesson; students get the new version at their next start or pull."""
    folder = Path(folder)
    try:
        meta = load_meta(folder)
        exercises = list(read_raw(folder))
    except LessonError as e:
        raise Invalid(N_("The lesson cannot be published: {reason}"), reason=str(e)) from None
    safe_name(meta.id)  # the lesson's folder in every student's home
    lesson = db.scalar(select(Lesson).where(Lesson.course_id == course.id, Lesson.name == meta.id))
    if lesson is None:
        lesson = Lesson(course=course, name=meta.id)
        db.add(lesson)
    lesson.title, lesson.subject, lesson.grade = dict(meta.title), meta.subject, meta.grade
    lesson.exercises = exercises
    lesson.version = (lesson.version or 0) + 1
    lesson.published_at = utcnow()
    lesson.files.clear()
    db.flush()
    for rel, content in lesson_files(folder).items():
        lesson.files.append(LessonFile(path=rel, sha256=put_blob(db, content), size=len(content)))
    db.flush()
    return lesson


def get_lesson(db: Session, course: Course, name: str) -> Lesson:
    lesson = db.scalar(select(Lesson).where(Lesson.course_id == course.id, Lesson.name == name))
    if lesson is None:
        raise NotFound(N_("There is no lesson '{lesson}' in the course '{course}'."), lesson=name, course=course.slug)
    return lesson


def lessons_of(db: Session, course: Course) -> list[Lesson]:
    return list(db.scalars(select(Lesson).where(Lesson.course_id == course.id).order_by(Lesson.name)))


def delivered_language(lesson: Lesson, user: User) -> str | None:
    """The one language of the lesson this person receives: theirs, else the course's, else any."""
    langs = {m["lang"] for f in lesson.files if (m := NOTEBOOK.match(f.path))}
    return next((x for x in (user.language, lesson.course.language, "en", *sorted(langs)) if x in langs), None)


def delivered_files(db: Session, lesson: Lesson, user: User) -> dict[str, bytes]:
    """The lesson as this person receives it: one language's notebooks, and who published it."""
    chosen = delivered_language(lesson, user)
    files = stored_files(db, [f for f in lesson.files if (m := NOTEBOOK.match(f.path)) is None or m["lang"] == chosen])
    files[PUBLISHED_FILE] = json.dumps({"course": lesson.course.slug, "lesson": lesson.name,
                                        "version": lesson.version}).encode()
    return files


def bundle_for(db: Session, user: User) -> dict[str, bytes]:
    """Every lesson of every course the person belongs to: {course/lesson/path: content}."""
    courses = db.scalars(select(Course).join(Membership, Membership.course_id == Course.id)
                         .where(Membership.user_id == user.id))
    out = {}
    for course in courses:
        for lesson in lessons_of(db, course):
            for rel, content in delivered_files(db, lesson, user).items():
                out[f"{course.slug}/{lesson.name}/{rel}"] = content
    return out


def record_attempt(db: Session, student: User, course: Course, name: str, exercise: str, correct: bool,
                   attempt: int, answer: str = "") -> LessonAttempt:
    """Keep one self-check attempt of a student of the course."""
    membership = db.scalar(select(Membership).where(Membership.course_id == course.id,
                                                    Membership.user_id == student.id))
    if membership is None or membership.role != Role.student:
        raise Forbidden(N_("Only students of the course '{course}' report lesson attempts."), course=course.slug)
    lesson = get_lesson(db, course, name)
    if exercise not in lesson.exercises:
        raise Invalid(N_("The lesson '{lesson}' has no exercise '{exercise}'."), lesson=name, exercise=exercise)
    item = LessonAttempt(lesson=lesson, student_id=student.id, exercise=exercise, correct=bool(correct),
                         attempt=max(1, int(attempt)), answer=str(answer)[:200])
    db.add(item)
    db.flush()
    return item


def stats(db: Session, lesson: Lesson) -> dict:
    """Per exercise: who tried, who got it right, right at the first try, attempts until right."""
    students = db.scalar(select(func.count()).select_from(Membership).where(
        Membership.course_id == lesson.course_id, Membership.role == Role.student)) or 0
    per: dict[str, dict[int, list[LessonAttempt]]] = defaultdict(lambda: defaultdict(list))
    for a in db.scalars(select(LessonAttempt).where(LessonAttempt.lesson_id == lesson.id).order_by(LessonAttempt.at,
                                                                                                   LessonAttempt.id)):
        per[a.exercise][a.student_id].append(a)
    rows = []
    for exercise in lesson.exercises:
        tries = per.get(exercise, {})
        solved = [ts for ts in tries.values() if any(t.correct for t in ts)]
        first = [ts for ts in tries.values() if ts[0].correct]
        until = [next(i for i, t in enumerate(ts, 1) if t.correct) for ts in solved]
        rows.append({
            "exercise": exercise, "students": students, "tried": len(tries), "solved": len(solved),
            "first_try": len(first), "attempts": sum(len(ts) for ts in tries.values()),
            "success_rate": round(len(solved) / len(tries), 3) if tries else None,
            "first_try_rate": round(len(first) / len(tries), 3) if tries else None,
            "mean_attempts_to_solve": round(sum(until) / len(until), 2) if until else None,
        })
    return {"lesson": lesson.name, "version": lesson.version, "exercises": rows}
