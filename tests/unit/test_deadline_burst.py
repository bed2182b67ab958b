"""A deadline's crowd queues and is stored; a worker's result counts once (issue 19).

200 submissions arrived at once through the exchange (64 at a time) and 28 got a 500
("QueuePool limit of size 5 overflow 10 reached"): every request took a thread and asked
the pool for a connection, and the submit route held SQLite's write lock while it read
the upload. Now requests queue for the database's slots (limits.DatabaseSlots), use it in
short transactions in threads, and only a request that waited too long is told "busy,
nothing was saved" (503, Retry-After), which the exchange's client repeats.

The app runs in-process on each backend; the hub's answer about a token is stubbed.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
import pytest
from fastapi import Request
from sqlalchemy import func, select
from test_contracts import GRADE
from test_service_forms import notebook

from sabaq.hub.domain import accounts, courses
from sabaq.hub.domain import assignments as asg
from sabaq.hub.service.app import create_app
from sabaq.hub.service.deps import optional_user
from sabaq.hub.service.limits import DatabaseSlots
from sabaq.hub.store.models import GradeResult, Job, Role, Submission, SubmissionFile, utcnow
from sabaq.i18n import translator
from sabaq.settings import Settings, ensure_secrets

SITE = "/services/sabaq/api/v1"
SUBMIT = f"{SITE}/courses/alg8/assignments/hw1/submissions"
BUSY = "sabaq is busy with many requests right now, so nothing was saved. Try again in a moment."
HUB_AWAY = "sabaq cannot check your login with the hub just now, so nothing was saved. Try again in a minute."
STUDENTS = [f"s{i:03d}" for i in range(100)]


@pytest.fixture
def app(db_url, tmp_path):
    """The service on `db_url`: course alg8 with 100 students, hw1 released yesterday."""
    ensure_secrets(tmp_path)
    settings = Settings.load(data_dir=tmp_path, environ={"SABAQ_DATABASE_URL": db_url})
    app = create_app(settings)

    def caller(request: Request) -> dict | None:
        name = request.headers.get("x-test-user")
        return {"name": name, "admin": False} if name else None

    app.dependency_overrides[optional_user] = caller
    with app.state.sessions() as db:
        course = courses.create_course(db, "alg8", "Algebra 8")
        for login in STUDENTS:
            courses.set_member(db, course, accounts.create_user(db, login), Role.student)
        asg.release(db, course, "hw1", {"hw.ipynb": notebook()}, {"hw.ipynb": notebook()},
                    now=utcnow() - dt.timedelta(days=1))
        db.commit()
    yield app
    app.state.engine.dispose()


def client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sabaq", timeout=120)


async def submit(c: httpx.AsyncClient, login: str, answer: str) -> httpx.Response:
    return await c.post(SUBMIT, headers={"x-test-user": login, "accept-language": "ru"},
                        files=[("files", ("hw.ipynb", notebook(answer), "application/x-ipynb+json"))])


def test_two_hundred_submissions_at_once_are_all_stored_with_their_jobs(app):
    async def crowd():
        async with client(app) as c:
            return await asyncio.gather(*(submit(c, login, f"x = {n}") for n in range(2) for login in STUDENTS))

    answers = asyncio.run(crowd())
    assert sorted({r.status_code for r in answers}) == [201], {r.status_code: r.text for r in answers}
    acknowledged = {r.json()["id"] for r in answers}
    with app.state.sessions() as db:
        assert set(db.scalars(select(Submission.id))) == acknowledged and len(acknowledged) == 200
        assert db.scalar(select(func.count(SubmissionFile.id))) == 200
        keys = set(db.scalars(select(Job.key)))
        assert {f"check:{i}" for i in acknowledged} <= keys
        assert db.scalar(select(func.count(Job.id)).where(Job.kind == "grade")) == 200
        attempts = db.execute(select(Submission.student_id, func.count()).group_by(Submission.student_id)).all()
        assert {n for _, n in attempts} == {2}


def test_a_request_that_waits_too_long_is_told_busy_and_nothing_is_saved(app):
    app.state.db_slots = DatabaseSlots(1, wait_seconds=0.3)

    async def behind_a_long_request():
        slots = app.state.db_slots
        async with client(app) as c, slots.held():  # someone holds the only slot
            return await submit(c, "s001", "x = 1")

    r = asyncio.run(behind_a_long_request())
    assert r.status_code == 503 and r.headers["retry-after"].isdigit()
    assert r.json() == {"error": "busy", "message": translator("ru")(BUSY)}
    with app.state.sessions() as db:
        assert db.scalar(select(func.count(Submission.id))) == 0

    async def once_it_is_free():
        async with client(app) as c:
            return await submit(c, "s001", "x = 1")

    assert asyncio.run(once_it_is_free()).status_code == 201  # the client's repeat is stored


def worker_call(app, worker: str, path: str, body: dict) -> httpx.Response:
    async def post():
        async with client(app) as c:
            return await c.post(f"{SITE}/worker/{path}", json=body, headers={
                "Authorization": f"token {app.state.settings.worker.token}", "X-Sabaq-Worker": worker})

    return asyncio.run(post())


def test_a_job_is_graded_once_when_two_workers_report_it(app):
    async def one():
        async with client(app) as c:
            return await submit(c, "s002", "x = 2")

    submission_id = asyncio.run(one()).json()["id"]
    first = worker_call(app, "w1", "claim", {"kinds": ["grade"]}).json()
    with app.state.sessions() as db:  # w1 stops answering: its lease lapses
        db.get(Job, first["id"]).lease_until = utcnow() - dt.timedelta(seconds=1)
        db.commit()
    second = worker_call(app, "w2", "claim", {"kinds": ["grade"]}).json()
    assert first["id"] == second["id"] and second["attempts"] == 2  # handed out again

    late = {**GRADE, "score": 1.0}
    assert worker_call(app, "w1", f"jobs/{first['id']}/complete", {"result": late}).status_code == 409
    assert worker_call(app, "w2", f"jobs/{second['id']}/complete", {"result": GRADE}).status_code == 200
    # the report repeated (its answer was lost), and the first worker once more: both ignored
    assert worker_call(app, "w2", f"jobs/{second['id']}/complete", {"result": late}).status_code == 409
    assert worker_call(app, "w1", f"jobs/{first['id']}/complete", {"result": late}).status_code == 409
    assert worker_call(app, "w1", f"jobs/{first['id']}/fail", {"error": "late"}).status_code == 409
    with app.state.sessions() as db:
        results = db.scalars(select(GradeResult).where(GradeResult.submission_id == submission_id)).all()
        assert [(r.current, r.score) for r in results] == [(True, GRADE["score"])]


def test_while_the_hub_is_away_a_submission_is_told_to_come_back_not_a_500(app):
    """The hub restarting: HubAuth cannot check the token (its 500); the student's client repeats a 503."""
    from tornado.web import HTTPError

    async def hub_away(token, sync=False):
        raise HTTPError(500, "Failed to connect to Hub API")

    del app.dependency_overrides[optional_user]
    app.state.hub_auth.user_for_token = hub_away

    async def send():
        async with client(app) as c:
            return await c.post(SUBMIT, headers={"Authorization": "token abc", "Accept-Language": "ru"},
                                files=[("files", ("hw.ipynb", notebook(), "application/x-ipynb+json"))])

    r = asyncio.run(send())
    assert r.status_code == 503 and r.headers["retry-after"].isdigit()
    assert r.json() == {"error": "hub_unavailable", "message": translator("ru")(HUB_AWAY)}
    with app.state.sessions() as db:
        assert db.scalar(select(func.count(Submission.id))) == 0


def test_a_submissions_answer_tells_the_time_of_each_of_its_phases(app):
    """sabaq bench deadline splits a slow answer into these (devtools.bench_deadline.WAITS)."""
    from sabaq.hub.service.timing import service_seconds

    async def one():
        async with client(app) as c:
            return await submit(c, "s002", "x = 2")

    r = asyncio.run(one())
    assert r.status_code == 201, r.text
    header = r.headers["server-timing"]
    phases = {name: service_seconds(header, name) for name in ("check", "upload", "store")}
    assert all(seconds is not None and seconds >= 0 for seconds in phases.values()), header
    assert service_seconds(header) >= phases["check"] + phases["upload"] + phases["store"]
    if app.state.engine.dialect.name == "sqlite":  # SQLite's write lock, waited for while storing
        assert 0 <= service_seconds(header, "lock") <= phases["store"], header


def test_the_bench_says_where_the_slowest_answers_time_went():
    from sabaq.devtools.bench_deadline import Outcome, where_the_slowest_went

    quick = [Outcome(f"q{i}", service_time=0.1, waits={"hub": 0.05, "store": 0.05}) for i in range(198)]
    slow = [Outcome("s1", service_time=3.0, waits={"hub": 2.5, "store": 0.5}),
            Outcome("s2", service_time=2.0, waits={"hub": 0.5, "store": 1.5, "lock": 1.0})]
    went = where_the_slowest_went(quick + slow + [Outcome("failed")])
    assert went["app"] == pytest.approx(2.5) and went["hub"] == pytest.approx(1.5)
    assert went["store"] == pytest.approx(1.0) and went["lock"] == pytest.approx(0.5) and went["queue"] == 0
