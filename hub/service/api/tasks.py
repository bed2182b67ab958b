"""REST API of olympiad tasks: publishing a package, a submission's verdict, the contest table."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from sabaq.archive import safe_name, write_tree
from sabaq.contracts import Note
from sabaq.errors import Invalid
from sabaq.hub.domain import courses as crs
from sabaq.hub.domain import grading, kinds
from sabaq.hub.domain import olympiad as tasks
from sabaq.hub.service.access import is_staff, viewable_submission
from sabaq.hub.service.api.files import read_uploads
from sabaq.hub.service.api.schemas import ERRORS, AssignmentOut, Id, assignment_out
from sabaq.hub.service.deps import DB, current_user
from sabaq.hub.store.models import User
from sabaq.i18n import N_
from sabaq.kattis.package import PackageError

router = APIRouter(prefix="/api/v1", tags=["olympiad tasks"], responses=ERRORS)


@router.put("/courses/{course_id}/tasks/{name}", response_model=AssignmentOut,
            summary="Publish an olympiad task (teacher): the files of a Kattis problem package")
async def publish_task(request: Request, course_id: str, name: str,
                       files: list[UploadFile] = File(..., description="package files; file name = relative path"),
                       title: str = Form("", max_length=200),
                       share_checker: bool | None = Form(None, description=(
                           "give an interactive task's interactor to students to try the samples with (it shows "
                           "how the task is judged); left out: the task's setting stays (off at first)")),
                       user: User = Depends(current_user), db: Session = DB):
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course, teacher_only=True)
    name = safe_name(name)  # a folder's name below: '..' (sent as %2E%2E) would be its parent
    package = await read_uploads(request, files)
    with tempfile.TemporaryDirectory(prefix="sabaq-task-upload-") as tmp:
        root = Path(tmp) / name
        write_tree(root, package)
        try:
            a = tasks.publish(db, course, root, name=name, title=title or None, share_checker=share_checker)
        except PackageError as e:
            raise Invalid(N_("The task package cannot be used: {reason}"), reason=e) from None
    return assignment_out(db, a, True)


class VerdictOut(BaseModel):
    submission_id: int
    attempt: int
    status: str = Field(description="queued, graded or failed")
    verdict: str | None = Field(None, description="AC, WA, TLE, MLE, RTE or CE")
    score: float | None = None
    max_score: float
    best: float | None = Field(None, description="the best score of all attempts so far")
    judge: dict = Field(default_factory=dict, description="groups and tests; secret tests without messages for students")
    error: str = ""


@router.get("/submissions/{submission_id}/verdict", response_model=VerdictOut,
            summary="The judge's verdict on a task submission (the student, their parents, course staff)")
def verdict(submission_id: Id, user: User = Depends(current_user), db: Session = DB):
    s = viewable_submission(db, user, submission_id)
    a = s.assignment
    if not kinds.is_task(a):
        raise Invalid(N_("'{assignment}' is not an olympiad task; it has no verdict."), assignment=a.name)
    result = grading.current_result(db, s)
    best = tasks.best_scores(db, [a.id], [s.student_id]).get((a.id, s.student_id))
    out = VerdictOut(submission_id=s.id, attempt=s.attempt, status="queued", max_score=a.max_score, best=best)
    if result is not None:
        staff = is_staff(user, crs.role_in(db, user, a.course))
        out.status = result.status
        out.score = result.score
        out.error = result.error if staff else ""
        out.judge = tasks.public_verdict(result.details or {}, staff)
        out.verdict = out.judge.get("verdict")
    return out


class FailureOut(BaseModel):
    group: str
    test: str
    note: Note | None = Field(None, description="sabaq's words: a message id and its values, to translate")
    message: str = Field("", description="the checker's own words (or the note in English)")


class ContestCell(BaseModel):
    task: str
    best: float | None
    max: float
    verdict: str | None
    attempts: int
    submission_id: int | None
    failure: FailureOut | None = Field(None, description="the newest verdict's first failing test")


class ContestRow(BaseModel):
    student: str
    full_name: str
    total: float
    cells: list[ContestCell]


class ContestOut(BaseModel):
    course: str
    tasks: list[str]
    max_total: float
    rows: list[ContestRow]


@router.get("/courses/{course_id}/contest", response_model=ContestOut,
            summary="Every student's best score and newest verdict on every task (staff)")
def contest(course_id: str, user: User = Depends(current_user), db: Session = DB):
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course)
    return contest_out(course, tasks.contest_table(db, course))


class OrderIn(BaseModel):
    tasks: list[str] = Field(max_length=500, description="task names, first to last; tasks left out follow them")


class OrderOut(BaseModel):
    tasks: list[str]


@router.put("/courses/{course_id}/contest/order", response_model=OrderOut,
            summary="The order of the contest's tasks, as the contest table shows them (teacher)")
def set_contest_order(course_id: str, body: OrderIn, user: User = Depends(current_user), db: Session = DB):
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course, teacher_only=True)
    return OrderOut(tasks=[t.name for t in tasks.set_order(db, course, body.tasks)])


def contest_out(course, table: dict) -> ContestOut:
    return ContestOut(course=course.slug, tasks=[t.name for t in table["tasks"]], max_total=table["max_total"],
                      rows=[ContestRow(student=r["student"].name, full_name=r["student"].full_name, total=r["total"],
                                       cells=[ContestCell(**c) for c in r["cells"]]) for r in table["rows"]])
