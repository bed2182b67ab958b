"""An upload sent again after its answer was lost is the attempt already stored (issue 19).

The service may store a submission and die before answering, or the answer may time out
on the way back: the student's server then sends the same upload again with the same
``Idempotency-Key``. She must get the attempt already stored, not a second one (which
would cost her an attempt and be graded twice). Run on SQLite and PostgreSQL; the service
runs in-process (``tests/service_app.py``)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from conftest import _drop_postgres, database_url
from service_app import USER_HEADER, Site, notebook
from sqlalchemy import func, select

from sabaq.hub.domain import accounts, courses
from sabaq.hub.domain import assignments as asg
from sabaq.hub.service.app import PREFIX
from sabaq.hub.store.models import Job, Role, Submission

SUBMIT = "/api/v1/courses/alg8/assignments/{name}/submissions"


@pytest.fixture(params=["sqlite", "postgresql"])
def site(request, tmp_path):
    url = "" if request.param == "sqlite" else database_url("postgresql", tmp_path)
    s = Site(tmp_path, url)
    s.school = s.seed()
    with s.sessions() as db:  # a second student, and a second assignment
        course = courses.get_course(db, "alg8")
        courses.set_member(db, course, accounts.create_user(db, "bota"), Role.student)
        asg.release(db, course, "hw2", {"hw.ipynb": notebook()}, {"hw.ipynb": notebook()})
        db.commit()
    yield s
    s.app.state.engine.dispose()
    if url:
        _drop_postgres(url)


def upload(site: Site, key: str | None, user: str = "aliya", name: str = "hw1") -> httpx.Response:
    return site.call("POST", SUBMIT.format(name=name), user=user, lang="en",
                     headers={"Idempotency-Key": key} if key else None,
                     files=[("files", ("hw.ipynb", notebook(), "application/x-ipynb+json"))])


def stored(site: Site, user: str = "aliya") -> list[tuple[int, int, str | None]]:
    with site.sessions() as db:
        student = accounts.find_user(db, user)
        return list(db.execute(select(Submission.id, Submission.attempt, Submission.request_key)
                               .where(Submission.student_id == student.id).order_by(Submission.id)).all())


def jobs_for(site: Site, submission_id: int) -> int:
    with site.sessions() as db:
        return db.scalar(select(func.count(Job.id)).where(Job.payload["submission_id"].as_integer() == submission_id))


def test_the_same_upload_sent_twice_is_one_attempt_graded_once(site):
    before = stored(site)
    first = upload(site, "k-0001-aaaa")
    again = upload(site, "k-0001-aaaa")
    assert first.status_code == again.status_code == 201, first.text
    assert again.json() == first.json()
    after = stored(site)
    assert after == before + [(first.json()["id"], before[-1][1] + 1, "k-0001-aaaa")]
    assert jobs_for(site, first.json()["id"]) == 2  # its check and its grading, once each


def test_a_new_key_is_a_new_attempt_and_no_key_is_as_before(site):
    a, b, c = upload(site, "k-0002-aaaa"), upload(site, "k-0002-bbbb"), upload(site, None)
    assert len({a.json()["id"], b.json()["id"], c.json()["id"]}) == 3
    assert [key for _, _, key in stored(site)][-3:] == ["k-0002-aaaa", "k-0002-bbbb", None]


def test_a_repeat_is_answered_even_when_its_attempt_was_the_last_one(site):
    site.settings.service.max_attempts = len(stored(site)) + 1
    first = upload(site, "k-0003-aaaa")
    assert first.status_code == 201
    assert upload(site, "k-0003-bbbb").status_code == 429  # no attempt left for new work
    again = upload(site, "k-0003-aaaa")
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]


def test_two_copies_arriving_at_once_store_one_attempt(site):
    async def both():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=site.app), base_url="http://sabaq") as c:
            def one():
                return c.post(PREFIX + SUBMIT.format(name="hw1"),
                              headers={USER_HEADER: "aliya", "Idempotency-Key": "k-0004-aaaa"},
                              files=[("files", ("hw.ipynb", notebook(), "application/x-ipynb+json"))])
            return await asyncio.gather(one(), one(), one())

    answers = asyncio.run(both())
    assert [r.status_code for r in answers] == [201] * 3, [r.text for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1
    assert [key for _, _, key in stored(site)].count("k-0004-aaaa") == 1


def test_another_students_key_gives_her_own_attempt_never_the_first_ones(site):
    """Keys belong to the student who sent them: guessing one reveals nothing."""
    mine = upload(site, "k-0005-aaaa").json()
    theirs = upload(site, "k-0005-aaaa", user="bota")
    assert theirs.status_code == 201 and theirs.json()["id"] != mine["id"]
    assert [key for _, _, key in stored(site, "bota")] == ["k-0005-aaaa"]


def test_a_key_sent_again_for_another_assignment_is_refused_with_a_reason(site):
    assert upload(site, "k-0006-aaaa").status_code == 201
    r = upload(site, "k-0006-aaaa", name="hw2")
    assert r.status_code == 422 and r.json()["error"] == "idempotency_key_reused"
    assert "another assignment" in r.json()["message"]


@pytest.mark.parametrize("key", ["short", "x" * 65, "k-0007/../aaaa", "ключ-0007-aaaa"])
def test_a_malformed_key_is_a_clear_422_and_nothing_is_stored(site, key):
    before = stored(site)
    r = site.call("POST", SUBMIT.format(name="hw1"), user="aliya", lang="ru",
                  headers={"Idempotency-Key": key.encode("utf-8")},
                  files=[("files", ("hw.ipynb", notebook(), "application/x-ipynb+json"))])
    assert r.status_code == 422 and r.json()["error"] == "bad_idempotency_key"
    assert "Idempotency-Key" in r.json()["message"]  # in Russian, naming the header
    assert stored(site) == before
