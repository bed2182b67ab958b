"""A worker claims several jobs at once (to grade a deadline's submissions in one run of
nbgrader's pipeline): all of one kind, only kinds it asked for, a judge job alone, at most
MAX_BATCH, and each with a lease of its own, completed, lapsed and retried by itself."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading

import httpx
import pytest

from sabaq.contracts import AFTER_OTHERS, BATCHED_KINDS, MAX_BATCH, JobKind
from sabaq.hub.service.app import create_app
from sabaq.hub.store import jobs
from sabaq.hub.store.database import upgrade
from sabaq.hub.store.models import Job, JobState, utcnow
from sabaq.settings import Settings, ensure_secrets

LEASE = 60


def queue(db, *kinds: str) -> list[int]:
    ids = [jobs.enqueue(db, kind, f"{kind}:{i}", {"submission_id": i}).id for i, kind in enumerate(kinds)]
    db.commit()
    return ids


def test_a_claim_takes_the_oldest_jobs_of_the_first_jobs_kind_grades_before_checks(db):
    """A submission queues its check before its grade; at a deadline the grades go first."""
    check, grade1, grade2, check2, grade3, judge = queue(db, "check", "grade", "grade", "check", "grade", "judge")
    assert AFTER_OTHERS == {JobKind.check}
    taken = jobs.claim_many(db, "w1", LEASE, 3, limit=2, batched=BATCHED_KINDS)
    assert [j.id for j in taken] == [grade1, grade2]
    assert all(j.state == JobState.running and j.worker == "w1" and j.attempts == 1 for j in taken)
    assert [j.id for j in jobs.claim_many(db, "w1", LEASE, 3, limit=8, batched=BATCHED_KINDS)] == [grade3]
    assert [j.id for j in jobs.claim_many(db, "w1", LEASE, 3, limit=8, batched=BATCHED_KINDS)] == [judge]
    taken = jobs.claim_many(db, "w1", LEASE, 3, limit=5, batched=BATCHED_KINDS)  # nothing else waits now
    assert [j.id for j in taken] == [check, check2]
    assert jobs.claim_many(db, "w1", LEASE, 3, limit=8) == []


def test_a_worker_that_asks_only_for_checks_gets_one_while_grades_wait(db):
    check, grade = queue(db, "check", "grade")
    assert [j.id for j in jobs.claim_many(db, "w1", LEASE, 3, limit=8, kinds=["check"])] == [check]
    assert [j.id for j in jobs.claim_many(db, "w2", LEASE, 3, limit=8)] == [grade]


def test_a_worker_gets_only_the_kinds_it_asked_for(db):
    queue(db, "check", "judge", "grade", "check", "grade")
    taken = jobs.claim_many(db, "w1", LEASE, 3, kinds=["grade"], limit=8, batched=BATCHED_KINDS)
    assert [j.kind for j in taken] == ["grade", "grade"]
    left = db.query(Job).filter(Job.state == JobState.queued).all()
    assert sorted(j.kind for j in left) == ["check", "check", "judge"]


def test_a_judge_job_is_handed_out_alone(db):
    first, second = queue(db, "judge", "judge")
    assert JobKind.judge not in BATCHED_KINDS
    assert [j.id for j in jobs.claim_many(db, "w1", LEASE, 3, limit=8, batched=BATCHED_KINDS)] == [first]
    assert [j.id for j in jobs.claim_many(db, "w2", LEASE, 3, limit=8, batched=BATCHED_KINDS)] == [second]


def test_each_job_of_a_batch_has_its_own_lease(db):
    ids = queue(db, "grade", "grade", "grade")
    start = utcnow()
    taken = jobs.claim_many(db, "w1", LEASE, 3, limit=3, now=start)
    assert [j.id for j in taken] == ids
    assert jobs.complete(db, ids[0], "w1", {"status": "graded"}) is not None
    assert jobs.renew(db, ids[1], "w1", 3 * LEASE) is not None  # the worker is still on this one
    db.commit()
    # the worker died: only the job whose lease lapsed goes to another worker, once
    later = start + dt.timedelta(seconds=LEASE + 1)
    again = jobs.claim_many(db, "w2", LEASE, 3, limit=8, now=later)
    assert [(j.id, j.worker, j.attempts) for j in again] == [(ids[2], "w2", 2)]
    assert jobs.complete(db, ids[2], "w1", {"status": "graded"}) is None  # w1's late result is refused
    assert db.get(Job, ids[0]).state == JobState.done and db.get(Job, ids[1]).worker == "w1"


def test_parallel_batches_never_share_a_job(sessions):
    with sessions() as db:
        queue(db, *["grade"] * 40)
    claimed: list[int] = []
    lock = threading.Lock()

    def worker(name):
        while True:
            with sessions() as db:
                taken = jobs.claim_many(db, name, LEASE, 3, limit=3)
                db.commit()
                if not taken:
                    return
                assert len(taken) <= 3
                with lock:
                    claimed.extend(job.id for job in taken)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == 40


@pytest.fixture
def app(tmp_path):
    ensure_secrets(tmp_path)
    settings = Settings.load(data_dir=tmp_path, environ={})
    upgrade(settings.database_url)
    app = create_app(settings)
    with app.state.sessions() as db:
        queue(db, *["grade"] * (MAX_BATCH + 2), "check")
    yield app
    app.state.engine.dispose()


def call(app, path: str, body: dict, worker: str = "w1") -> httpx.Response:
    async def post():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sabaq") as client:
            return await client.post(f"/services/sabaq/api/v1/worker/{path}", json=body, headers={
                "Authorization": f"token {app.state.settings.worker.token}", "X-Sabaq-Worker": worker})

    return asyncio.run(post())


def test_the_api_hands_out_at_most_max_batch_jobs(app):
    assert call(app, "claim-many", {"kinds": ["grade"], "max_jobs": MAX_BATCH + 1}).status_code == 422
    assert call(app, "claim-many", {"kinds": ["grade"], "max_jobs": 0}).status_code == 422
    assert call(app, "claim-many", {"kinds": ["mark"], "max_jobs": 2}).status_code == 422
    r = call(app, "claim-many", {"kinds": ["grade"], "max_jobs": MAX_BATCH})
    assert r.status_code == 200
    taken = r.json()["jobs"]
    assert len(taken) == MAX_BATCH and {j["kind"] for j in taken} == {"grade"}
    assert all(j["attempts"] == 1 and "submission_id" in j["payload"] for j in taken)
    r = call(app, "claim-many", {"max_jobs": 8}, worker="w2")
    assert [j["kind"] for j in r.json()["jobs"]] == ["grade", "grade"]
    assert [j["kind"] for j in call(app, "claim-many", {"max_jobs": 8}, worker="w2").json()["jobs"]] == ["check"]
    assert call(app, "claim-many", {"max_jobs": 8}, worker="w2").json() == {"jobs": []}


def test_each_claimed_job_is_reported_by_itself(app):
    taken = call(app, "claim-many", {"kinds": ["grade"], "max_jobs": 3}).json()["jobs"]
    first, second, third = (j["id"] for j in taken)
    # another worker cannot report on them; the holder reports each, in any order
    assert call(app, f"jobs/{first}/fail", {"error": "x"}, worker="w2").status_code == 409
    assert call(app, f"jobs/{third}/fail", {"error": "ValueError: broken"}).json()["state"] == "queued"
    assert call(app, f"jobs/{first}/renew", {}).status_code == 200
    with app.state.sessions() as db:
        states = {j: db.get(Job, j).state for j in (first, second, third)}
    assert states == {first: JobState.running, second: JobState.running, third: JobState.queued}


def test_a_workers_batch_setting_stays_within_what_one_claim_hands_out(tmp_path):
    from sabaq.settings import WorkerSettings

    assert WorkerSettings.class_traits()["batch"].max == MAX_BATCH
    assert Settings.load(data_dir=tmp_path, environ={"SABAQ_WORKER_BATCH": "3"}).worker.batch == 3
