"""An idle worker's claim waits at the service for a job (a long poll): it is answered as soon
as a job is stored (at once when this service process stored it, within a short interval when
another did), with the empty list when the wait is over, and at once when the service stops;
it holds no database connection while it waits. The worker sends its wait and waits longer
for the answer, and a stop breaks its wait off."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

import httpx
import pytest

from sabaq.autograders import worker
from sabaq.contracts import MAX_CLAIM_WAIT, JobKind
from sabaq.hub.service.app import create_app
from sabaq.hub.store import jobs
from sabaq.hub.store.database import upgrade
from sabaq.settings import Settings, ensure_secrets

CLAIM = "/services/sabaq/api/v1/worker/claim-many"
WAIT = 20.0  # a job stored during the wait must come back well before this


@pytest.fixture
def app(tmp_path):
    ensure_secrets(tmp_path)
    settings = Settings.load(data_dir=tmp_path, environ={})
    upgrade(settings.database_url)
    app = create_app(settings)
    yield app
    app.state.engine.dispose()


def store(app, key: str = "grade:1") -> None:
    """A job stored as a student's submission stores one: in its own session, committed."""
    with app.state.sessions() as db:
        jobs.enqueue(db, JobKind.grade, key, {"submission_id": 1})
        db.commit()


async def post(app, body: dict, token: str | None = None) -> tuple[httpx.Response, float]:
    """The answer to a claim, and how long it took."""
    token = app.state.settings.worker.token if token is None else token
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sabaq") as client:
        started = time.monotonic()
        r = await client.post(CLAIM, json=body, timeout=60,
                              headers={"Authorization": f"token {token}", "X-Sabaq-Worker": "w1"})
        return r, time.monotonic() - started


def never_look(app) -> None:
    waits = app.state.claim_waits
    waits.check_seconds = waits.idle_check_seconds = 3600


def claim_while(app, body: dict, meanwhile, after: float = 0.3) -> tuple[httpx.Response, float]:
    """A claim, and ``meanwhile()`` run in a thread ``after`` seconds into it."""
    async def both():
        waiting = asyncio.create_task(post(app, body))
        await asyncio.sleep(after)
        assert not waiting.done()  # it is waiting
        await asyncio.to_thread(meanwhile)
        return await waiting

    return asyncio.run(both())


def test_a_job_stored_in_this_process_is_handed_out_at_once(app):
    never_look(app)  # only the bell can wake it
    r, took = claim_while(app, {"kinds": ["grade"], "max_jobs": 4, "wait_seconds": WAIT}, lambda: store(app))
    assert r.status_code == 200, r.text
    assert [j["kind"] for j in r.json()["jobs"]] == ["grade"]
    assert took < WAIT / 2


def test_a_job_another_process_stored_is_found_by_looking(app, monkeypatch):
    monkeypatch.setattr(jobs.QUEUED, "ring", lambda: None)  # as if stored by the service's other process
    r, took = claim_while(app, {"kinds": ["grade"], "max_jobs": 4, "wait_seconds": WAIT}, lambda: store(app))
    assert [j["kind"] for j in r.json()["jobs"]] == ["grade"]
    assert took < WAIT / 2


def test_a_job_of_another_kind_does_not_end_the_wait(app):
    # the grade job is stored 0.3 s into the wait and rings the bell: a wait it ended would be over by 0.4 s
    r, took = claim_while(app, {"kinds": ["check"], "max_jobs": 4, "wait_seconds": 0.8}, lambda: store(app))
    assert r.json() == {"jobs": []} and took >= 0.8
    r, _ = asyncio.run(post(app, {"kinds": ["grade"], "max_jobs": 4}))
    assert len(r.json()["jobs"]) == 1  # still there for a worker that grades


def test_with_nothing_to_claim_the_answer_is_empty_after_the_wait(app):
    r, took = asyncio.run(post(app, {"max_jobs": 4, "wait_seconds": 0.6}))
    assert r.status_code == 200 and r.json() == {"jobs": []}
    assert took >= 0.6
    r, took = asyncio.run(post(app, {"max_jobs": 4}))  # no wait: the old poll's answer
    assert r.json() == {"jobs": []} and took < 0.6


@pytest.mark.parametrize("wait", [-1, MAX_CLAIM_WAIT + 1, "soon", None])
def test_a_wait_out_of_bounds_is_refused(app, wait):
    r, took = asyncio.run(post(app, {"max_jobs": 4, "wait_seconds": wait}))
    assert r.status_code == 422 and took < 5


@pytest.mark.parametrize("token", ["", "not-the-worker-token", "a-students-hub-token"])
def test_only_a_worker_may_wait_for_jobs(app, token):
    store(app)
    r, took = asyncio.run(post(app, {"max_jobs": 4, "wait_seconds": 5}, token=token))
    assert r.status_code == 401 and r.json()["error"] == "worker_only" and took < 5
    r, _ = asyncio.run(post(app, {"max_jobs": 4}))
    assert len(r.json()["jobs"]) == 1  # the refused caller took nothing


def test_a_waiting_claim_holds_no_database_connection(app):
    pool = app.state.engine.pool
    seen = []

    def watch():
        for _ in range(10):
            seen.append(pool.checkedout())
            time.sleep(0.05)
        store(app)

    never_look(app)  # between its first look and the bell
    r, took = claim_while(app, {"max_jobs": 4, "wait_seconds": WAIT}, watch)
    assert len(r.json()["jobs"]) == 1 and took < WAIT / 2
    assert seen and max(seen) == 0
    assert pool.checkedout() == 0


def test_a_waiting_claim_leaves_the_database_to_other_requests(app):
    """With one database slot, held by a waiting claim, every other request would queue
    behind it until told the service is busy (503; here after 0.5 s, well within the claim's wait)."""
    from sabaq.hub.service.limits import DatabaseSlots

    app.state.db_slots = DatabaseSlots(1, wait_seconds=0.5)
    store(app)

    async def both():
        waiting = asyncio.create_task(post(app, {"kinds": ["check"], "max_jobs": 4, "wait_seconds": 1.5}))
        await asyncio.sleep(0.3)
        r, took = await post(app, {"kinds": ["grade"], "max_jobs": 4})
        assert not waiting.done()
        return r, took, await waiting

    r, took, (waited, _) = asyncio.run(both())
    assert r.status_code == 200 and len(r.json()["jobs"]) == 1 and took < 2
    assert waited.status_code == 200 and waited.json() == {"jobs": []}


def test_many_waiting_claims_share_one_look_at_the_database(app, monkeypatch):
    looks = []
    anything = jobs.anything_to_claim
    monkeypatch.setattr(jobs, "anything_to_claim", lambda *a, **k: (looks.append(1), anything(*a, **k))[1])
    app.state.claim_waits.check_seconds = app.state.claim_waits.idle_check_seconds = 0.1

    async def six():
        return await asyncio.gather(*(post(app, {"max_jobs": 4, "wait_seconds": 0.5}) for _ in range(6)))

    answers = asyncio.run(six())
    assert all(r.json() == {"jobs": []} for r, _ in answers)
    # six first looks, then about one each 0.1 s for all of them (not six each 0.1 s: 36)
    assert len(looks) <= 6 + 8


def test_a_stopping_service_answers_its_waiting_claims_at_once(app):
    never_look(app)  # the stop itself wakes them
    r, took = claim_while(app, {"max_jobs": 4, "wait_seconds": WAIT}, app.state.claim_waits.stop)
    assert r.status_code == 200 and r.json() == {"jobs": []}
    assert took < WAIT / 2


def test_looks_are_frequent_while_there_is_work_and_sparse_when_idle():
    from sabaq.hub.service.api.worker import Waiting

    waits = Waiting(check_seconds=0.05, idle_check_seconds=0.5, busy_seconds=0.3)
    assert waits.interval() == 0.5  # an idle service looks twice a second
    waits.busy()  # a job was handed out or stored
    assert waits.interval() == 0.05
    assert waits.due(["grade"]) and not waits.due(["grade"])  # one look for all claims of these kinds
    assert waits.due(["check"])
    time.sleep(0.35)
    assert waits.interval() == 0.5


def test_a_stop_signal_ends_the_waits_and_still_reaches_the_server(app):
    heard = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: heard.append(signum))
    try:
        app.state.claim_waits.start()  # the service's start, in the main thread (as under uvicorn)
        assert not app.state.claim_waits.stopping.is_set()
        signal.getsignal(signal.SIGTERM)(signal.SIGTERM, None)
        assert app.state.claim_waits.stopping.is_set() and heard == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_the_claim_wait_setting_stays_within_what_the_service_accepts(tmp_path):
    from sabaq.settings import WorkerSettings

    trait = WorkerSettings.class_traits()["claim_wait_seconds"]
    assert trait.max == MAX_CLAIM_WAIT and trait.min == 0 and trait.help
    settings = Settings.load(data_dir=tmp_path, environ={})
    assert 0 < settings.worker.claim_wait_seconds <= MAX_CLAIM_WAIT
    assert Settings.load(data_dir=tmp_path, environ={"SABAQ_WORKER_CLAIM_WAIT_SECONDS": "0"}).worker.claim_wait_seconds == 0


class WaitingService:
    """Stands in for the service: records each claim and its timeout; answers after ``answer``."""

    def __init__(self, answer=lambda: []):
        self.answer = answer
        self.claims: list[tuple[dict, object]] = []

    def post(self, path: str, *, json: dict, ok: tuple[int, ...], timeout=None) -> httpx.Response:
        self.claims.append((json, timeout))
        return httpx.Response(200, json={"jobs": self.answer()})

    def close(self) -> None:
        pass


def test_the_worker_sends_its_wait_and_waits_longer_for_the_answer():
    service = WaitingService()
    w = worker.Worker(service, {JobKind.check: lambda client, payload: None}, poll_seconds=30, claim_wait=20)
    assert w.claim() == []
    body, timeout = service.claims[0]
    assert body["wait_seconds"] == 20 and timeout > 20
    # without a wait: the old poll, with the client's own timeout
    w = worker.Worker(service, {JobKind.check: lambda client, payload: None}, claim_wait=0)
    w.claim()
    assert "wait_seconds" not in service.claims[-1][0] and service.claims[-1][1] is None


def test_an_empty_answer_after_a_wait_is_followed_by_the_next_claim_at_once():
    service = WaitingService()

    def wait_then_nothing():
        time.sleep(0.1)  # the service's wait
        if len(service.claims) == 3:
            w.stopping = True
        return []

    service.answer = wait_then_nothing
    w = worker.Worker(service, {JobKind.check: lambda client, payload: None}, poll_seconds=30, claim_wait=0.1)
    started = time.monotonic()
    assert w.run() == 0
    assert len(service.claims) == 3 and time.monotonic() - started < 5  # not poll_seconds between them


def test_an_empty_answer_at_once_is_not_asked_again_at_once():
    """A service that does not wait (an older one, or one that is stopping) answers at once:
    the worker pauses poll_seconds as it always did, rather than asking as fast as it can."""
    service = WaitingService()
    w = worker.Worker(service, {JobKind.check: lambda client, payload: None}, poll_seconds=0.15, claim_wait=20)

    def nothing():
        if len(service.claims) == 3:
            w.stopping = True
        return []

    service.answer = nothing
    started = time.monotonic()
    assert w.run() == 0
    assert len(service.claims) == 3 and time.monotonic() - started >= 0.3


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals: main thread")
def test_a_worker_told_to_stop_while_it_waits_stops_at_once():
    """As main() sets it up: the signal handler calls stop(); the wait (here a sleep standing in
    for the service's answer, which a signal does not end by itself) is broken off."""
    service = WaitingService(answer=lambda: time.sleep(60) or [])
    w = worker.Worker(service, {JobKind.check: lambda client, payload: None}, poll_seconds=30, claim_wait=20)
    previous = signal.signal(signal.SIGUSR1, lambda *_: w.stop())
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGUSR1))
    try:
        timer.start()
        started = time.monotonic()
        assert w.run() == 0
        assert time.monotonic() - started < 10 and w.stopping and len(service.claims) == 1
    finally:
        timer.cancel()
        signal.signal(signal.SIGUSR1, previous)


def test_a_stop_outside_a_wait_lets_the_jobs_in_hand_finish():
    w = worker.Worker(WaitingService(), {JobKind.check: lambda client, payload: None}, claim_wait=20)
    w.stop()  # no exception: the run loop sees stopping after its job
    assert w.stopping and w.claim() == []
