"""The sabaq service in-process on its own SQLite database, called as anyone, with a
small school in it: no hub, no proxy, no browser.

The hub's answer about a token is replaced by a header naming the caller (``x-test-user``;
the login "admin" is an administrator), so each request is one person's; workers send
the worker token as they do in production.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

import httpx
import nbformat
from fastapi import Request

from sabaq.hub.domain import accounts, courses
from sabaq.hub.domain import assignments as asg
from sabaq.hub.service.app import PREFIX, create_app
from sabaq.hub.service.deps import optional_user
from sabaq.hub.store.database import upgrade
from sabaq.hub.store.models import GradeResult, Guardian, Role, utcnow
from sabaq.settings import Settings, ensure_secrets

USER_HEADER = "x-test-user"


def notebook(points: int = 3) -> bytes:
    """An nbgrader notebook with one graded cell, "q1", worth `points`."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("assert True", id="q1")
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "q1", "points": points, "locked": True,
                                 "schema_version": 3, "solution": False, "task": False}
    nb.cells.append(cell)
    return nbformat.writes(nb).encode()


def _caller(request: Request) -> dict | None:
    """The hub's user model for the login the request names, in short."""
    name = request.headers.get(USER_HEADER)
    return {"name": name, "admin": name == "admin"} if name else None


@dataclass
class School:
    """What `seed` made: logins by role, and the ids of real rows."""

    course: str = "alg8"
    assignment: str = "hw1"
    teacher: str = "teacher"
    assistant: str = "assistant"
    student: str = "aliya"
    parent: str = "mama"
    submission_id: int = 0
    notebook: str = "hw"


class Site:
    """The service app on a fresh database (SQLite in `data_dir`, or the PostgreSQL one given)."""

    def __init__(self, data_dir, database_url: str = ""):
        """`database_url`: an empty database to use instead of SQLite in `data_dir`."""
        ensure_secrets(data_dir)
        self.settings = Settings.load(data_dir=data_dir,
                                      environ={"SABAQ_DATABASE_URL": database_url} if database_url else {})
        upgrade(self.settings.database_url)
        self.app = create_app(self.settings)
        self.sessions = self.app.state.sessions
        self.app.dependency_overrides[optional_user] = _caller

    def seed(self) -> School:
        """A course taught by a teacher with an assistant, its student and her parent, an
        assignment released ten days ago, and her graded submission with released feedback."""
        school = School()
        with self.sessions() as db:
            accounts.create_user(db, "admin", is_admin=True)
            course = courses.create_course(db, school.course, "Алгебра 8")
            courses.set_member(db, course, accounts.create_user(db, school.teacher), Role.teacher)
            courses.set_member(db, course, accounts.create_user(db, school.assistant), Role.assistant)
            student = accounts.create_user(db, school.student)
            courses.set_member(db, course, student, Role.student, section="8A")
            parent = accounts.create_user(db, school.parent)
            db.add(Guardian(parent_id=parent.id, student_id=student.id))
            a = asg.release(db, course, school.assignment, {"hw.ipynb": notebook()}, {"hw.ipynb": notebook()},
                            now=utcnow() - dt.timedelta(days=10))
            submission = asg.submit(db, a, student, {"hw.ipynb": notebook()})
            db.add(GradeResult(submission_id=submission.id, status="graded", score=1.0, max_score=3.0,
                               details={"notebooks": {"hw": {"cells": {"q1": {
                                   "score": 1.0, "auto_score": 1.0, "max_score": 3.0,
                                   "needs_manual_grade": False}}}}}))
            asg.store_feedback(db, submission, school.notebook, b"<html><body>1 of 3</body></html>")
            db.commit()
            school.submission_id = submission.id
        return school

    def call(self, method: str, path: str, user: str | None = "teacher", lang: str = "ru", page: bool = False,
             headers: dict | None = None, **kwargs) -> httpx.Response:
        """One request to PREFIX + `path` as `user` (None: anonymous), reading `lang`."""
        sent = {"accept-language": lang, **(headers or {})}
        if user:
            sent[USER_HEADER] = user
        if page:
            sent["accept"] = "text/html"

        async def send():
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://sabaq") as c:
                return await c.request(method, PREFIX + path, headers=sent, **kwargs)

        return asyncio.run(send())
