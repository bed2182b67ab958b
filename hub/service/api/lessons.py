"""REST API of lessons: publishing, listing, delivery to servers, attempts and the class's success rates."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter, Depends, File, Request, Response, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from sabaq.archive import safe_name, write_tree
from sabaq.hub.domain import courses as crs
from sabaq.hub.domain import lessons
from sabaq.hub.service.api.files import ZIP, read_uploads, zip_response
from sabaq.hub.service.api.schemas import ERRORS, MAX_COUNT
from sabaq.hub.service.deps import DB, current_user
from sabaq.hub.store.models import Lesson, User

router = APIRouter(prefix="/api/v1", tags=["lessons"], responses=ERRORS)


class LessonOut(BaseModel):
    course: str
    name: str
    title: dict[str, str]
    subject: str
    grade: int | None
    version: int
    exercises: list[str]


def lesson_out(lesson: Lesson) -> LessonOut:
    return LessonOut(course=lesson.course.slug, name=lesson.name, title=lesson.title, subject=lesson.subject,
                     grade=lesson.grade, version=lesson.version, exercises=lesson.exercises)


@router.put("/courses/{course_id}/lessons/{name}", response_model=LessonOut,
            summary="Publish a lesson (teacher): the files of its folder; students get it at their next start")
async def publish_lesson(request: Request, course_id: str, name: str,
                         files: list[UploadFile] = File(..., description="lesson files; file name = relative path"),
                         user: User = Depends(current_user), db: Session = DB):
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course, teacher_only=True)
    name = safe_name(name)  # a folder's name below: '..' (sent as %2E%2E) would be its parent
    uploaded = await read_uploads(request, files)
    with tempfile.TemporaryDirectory(prefix="sabaq-lesson-upload-") as tmp:
        folder = Path(tmp) / name  # lesson.toml's id must match its folder's name
        write_tree(folder, uploaded)
        lesson = lessons.publish(db, course, folder)
    return lesson_out(lesson)


@router.get("/courses/{course_id}/lessons", response_model=list[LessonOut], summary="Lessons of a course (members)")
def list_lessons(course_id: str, user: User = Depends(current_user), db: Session = DB):
    course = crs.get_course(db, course_id)
    crs.require_member(db, user, course)
    return [lesson_out(x) for x in lessons.lessons_of(db, course)]


@router.get("/me/lessons.zip", response_class=Response, responses={200: {"content": {ZIP: {}}}},
            summary="My lessons, in my language: course/lesson/files (what `sabaq lesson pull` merges)")
def my_lessons(user: User = Depends(current_user), db: Session = DB):
    return zip_response(lessons.bundle_for(db, user), "lessons.zip")


@router.get("/me/lessons/{course_id}/{name}.zip", response_class=Response, responses={200: {"content": {ZIP: {}}}},
            summary="One lesson as I receive it now, in my current language (what the course page's "
                    "lesson link brings into my server): its files, for a member of its course")
def my_lesson(course_id: str, name: str, user: User = Depends(current_user), db: Session = DB):
    course = crs.get_course(db, course_id)
    crs.require_member(db, user, course)
    lesson = lessons.get_lesson(db, course, name)
    return zip_response(lessons.delivered_files(db, lesson, user), "lesson.zip")


class AttemptIn(BaseModel):
    course: str = Field(max_length=64)
    lesson: str = Field(max_length=64)
    exercise: str = Field(max_length=64)
    correct: bool
    attempt: int = Field(1, ge=1, le=MAX_COUNT)
    answer: str = Field("", max_length=2000, description="kept: its first 200 characters")
    lang: str | None = Field(None, max_length=8)


@router.post("/lessons/attempts", status_code=201, summary="A self-check attempt (the student's own server)")
def post_attempt(body: AttemptIn, user: User = Depends(current_user), db: Session = DB):
    course = crs.get_course(db, body.course)
    item = lessons.record_attempt(db, user, course, body.lesson, body.exercise, body.correct, body.attempt,
                                  body.answer)
    return {"id": item.id}


class ExerciseStats(BaseModel):
    exercise: str
    students: int = Field(description="students in the course")
    tried: int
    solved: int
    first_try: int
    attempts: int
    success_rate: float | None = Field(description="solved / tried")
    first_try_rate: float | None
    mean_attempts_to_solve: float | None


class LessonStatsOut(BaseModel):
    lesson: str
    version: int
    exercises: list[ExerciseStats]


@router.get("/courses/{course_id}/lessons/{name}/stats", response_model=LessonStatsOut,
            summary="Per-exercise success rates of the class (staff)")
def lesson_stats(course_id: str, name: str, user: User = Depends(current_user), db: Session = DB):
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course)
    return lessons.stats(db, lessons.get_lesson(db, course, name))
