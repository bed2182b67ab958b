"""The service's database work on a deadline's path does not grow with the class.

A teacher's page polls the list of a class's submissions while a deadline is graded; the
workers fetch a bundle and report a batch for every submission. Each of these once read
the rows it answers with one lazy load at a time (the student, the files, the feedback of
every submission; every stored file of a bundle; every job of a report), so the service's
CPU per submission grew with the class and with the files. These tests count the SQL
statements a request sends (SQLAlchemy's ``before_cursor_execute``): they stay the same for
a class of 3 and of 12, for a bundle of 2 files and of 6, for a report of 1 job and of 8.
"""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest
from service_app import USER_HEADER, Site, notebook
from sqlalchemy import event, select

from sabaq.hub.domain import accounts, courses
from sabaq.hub.domain import assignments as asg
from sabaq.hub.service.app import PREFIX
from sabaq.hub.store.models import GradeResult, Role, User

COURSE, ASSIGNMENT = "alg8", "hw1"


@pytest.fixture
def site(tmp_path):
    s = Site(tmp_path)
    with s.sessions() as db:
        accounts.create_user(db, "admin", is_admin=True)
        course = courses.create_course(db, COURSE, "Algebra 8")
        courses.set_member(db, course, accounts.create_user(db, "teacher"), Role.teacher)
        db.commit()
    yield s
    s.app.state.engine.dispose()


def enrol(site: Site, logins: list[str], files: int = 1) -> None:
    """Students of the course, each with a graded submission of ``files`` notebooks and released feedback."""
    with site.sessions() as db:
        course = courses.get_course(db, COURSE)
        a = asg.find_assignment(db, course, ASSIGNMENT)
        if a is None:
            a = asg.release(db, course, ASSIGNMENT, {"hw.ipynb": notebook()}, {"hw.ipynb": notebook()})
        for login in logins:
            student = accounts.create_user(db, login)
            courses.set_member(db, course, student, Role.student, section="8A")
            s = asg.submit(db, a, student, {f"hw{i}.ipynb": notebook(i + 1) for i in range(files)})
            db.add(GradeResult(submission_id=s.id, status="graded", score=1.0, max_score=3.0, details={}))
            asg.store_feedback(db, s, "hw0", f"<p>{login}</p>".encode())
        db.commit()


@contextlib.contextmanager
def statements(site: Site):
    """The SQL statements sent meanwhile (a list, filled as they go)."""
    sent: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement)

    engine = site.app.state.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", count)


def counted(site: Site, method: str, path: str, user: str | None = "teacher", **kwargs) -> tuple[httpx.Response, int]:
    with statements(site) as sent:
        r = site.call(method, path, user=user, **kwargs)
    assert r.status_code < 300, r.text
    return r, len(sent)


@pytest.mark.parametrize("latest", [True, False])
def test_a_teachers_poll_costs_the_same_statements_for_3_and_for_12_students(site, latest):
    path = f"/api/v1/courses/{COURSE}/assignments/{ASSIGNMENT}/submissions"
    params = {"latest": "true"} if latest else {}
    enrol(site, [f"s{i}" for i in range(3)])
    small, few = counted(site, "GET", path, params=params)
    enrol(site, [f"t{i}" for i in range(9)], files=3)
    large, many = counted(site, "GET", path, params=params)
    assert many == few, f"3 students: {few} statements, 12: {many}"
    # and the answer is the whole of each row, read as before
    rows = {s["student"]: s for s in large.json()}
    assert len(rows) == 12 and rows["t4"]["files"] == ["hw0.ipynb", "hw1.ipynb", "hw2.ipynb"]
    assert rows["t4"]["feedback"] == ["hw0"] and rows["t4"]["course"] == COURSE
    assert rows["t4"]["assignment"] == ASSIGNMENT and rows["t4"]["grade"]["score"] == 1.0
    assert small.json() == [s for s in large.json() if s["student"].startswith("s")]


def test_a_students_own_lists_cost_the_same_statements_for_1_and_for_4_attempts(site):
    enrol(site, ["aliya"])
    mine = f"/api/v1/courses/{COURSE}/assignments/{ASSIGNMENT}/submissions"
    theirs = "/api/v1/students/aliya/submissions"
    _, one = counted(site, "GET", mine, user="aliya")
    _, one_by_login = counted(site, "GET", theirs, user="teacher")
    with site.sessions() as db:
        a = asg.find_assignment(db, courses.get_course(db, COURSE), ASSIGNMENT)
        aliya = db.scalar(select(User).where(User.name == "aliya"))
        for i in range(3):
            asg.submit(db, a, aliya, {"hw0.ipynb": notebook(), f"extra{i}.ipynb": notebook()})
        db.commit()
    r, four = counted(site, "GET", mine, user="aliya")
    r_by_login, four_by_login = counted(site, "GET", theirs, user="teacher")
    assert (four, four_by_login) == (one, one_by_login)
    assert [s["attempt"] for s in r.json()] == [1, 2, 3, 4] == [s["attempt"] for s in r_by_login.json()]
    assert r.json()[3]["files"] == ["extra2.ipynb", "hw0.ipynb"]
    # another student sees none of hers, and a teacher of no course of hers is refused as before
    with site.sessions() as db:
        accounts.create_user(db, "stranger")
        db.commit()
    assert site.call("GET", theirs, user="stranger").status_code == 403
