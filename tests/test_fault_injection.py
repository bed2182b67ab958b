"""Nothing acknowledged is lost when a process dies in the middle of a deadline (issue 19).

50 students upload 200 submissions (4 each) through the hub's public port, as a browser
or a server behind the proxy would, while the test kills with SIGKILL the service, then a
grading worker, then the hub, then the proxy, each at a random moment (a fixed seed),
each once `sabaq up` has started the one before it again. A student's client retries as
sabaq.client does (a submission only when the service surely stored nothing), and a
student who still sees an error presses Submit again, as people do. Afterwards, in the
database: every acknowledged submission is there with exactly the files its student sent,
and has exactly one grade, its current one (a job whose worker died is handed out again
when its lease lapses; a late report is ignored). Run on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import signal
import time
from collections import Counter

import httpx
import nbformat
import pytest
from conftest import _drop_postgres, database_url
from sqlalchemy import func, select

from sabaq.archive import unpack
from sabaq.devtools.bench_deadline import ASSIGNMENT, NOTEBOOK, CallFailed, Deadline, LocalSabaq, Outcome, call
from sabaq.hub.jupyterhub.rundir import RunDir, members_of
from sabaq.hub.store.database import make_engine, make_sessionmaker
from sabaq.hub.store.models import GradeResult, Job, JobState, Submission, SubmissionFile

pytestmark = pytest.mark.e2e

STUDENTS = 50
ATTEMPTS = 4  # each: 200 submissions
VICTIMS = ("service", "worker-1", "hub", "proxy")  # in this order, one after another
SEED = 19


@pytest.fixture(params=["sqlite", "postgresql"])
def sabaq(request, tmp_path):
    """`sabaq up` with two workers and short leases, on each database."""
    url = database_url(request.param, tmp_path) if request.param == "postgresql" else ""
    up = LocalSabaq(url, workers=2, env={"SABAQ_WORKER_LEASE_SECONDS": "6", "SABAQ_WORKER_POLL_SECONDS": "0.5"})
    try:
        up.start()
        yield up
    finally:
        state = RunDir(up.data).read()
        up.stop()
        left = members_of(state.run) if state else []
        if url:
            _drop_postgres(url)
        up.cleanup()
    # the processes it restarted after the kills are in sessions of their own: its stop ends them too
    assert not left, f"processes of the run still running after its stop: {left}"


def pid_of(up: LocalSabaq, name: str) -> int | None:
    try:
        return int((up.data / "run" / f"{name}.pid").read_text())
    except (FileNotFoundError, ValueError):
        return None


def answered(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


async def back_again(up: LocalSabaq, name: str, killed: int, timeout: float = 120) -> None:
    """Until `sabaq up` has started `name` again and the platform answers through the proxy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = pid_of(up, name)
        if pid is not None and pid != killed and await asyncio.to_thread(
                lambda: answered(f"{up.url}/services/sabaq/health") and answered(f"{up.url}/hub/api/")):
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"{name} was not started again within {timeout:g} s:\n{up.log_tail()}")


async def killer(up: LocalSabaq, rng: random.Random, fired: list[asyncio.Event], kills: list[tuple]) -> None:
    for name, event in zip(VICTIMS, fired):
        await asyncio.sleep(rng.uniform(1.0, 4.0))
        pid = pid_of(up, name)
        assert pid, f"no pid file for {name} in {up.data / 'run'}"
        os.kill(pid, signal.SIGKILL)
        kills.append((name, pid, time.monotonic()))
        event.set()
        await back_again(up, name, pid)


async def student(http: httpx.AsyncClient, course: str, login: str, token: str, release: bytes, rng: random.Random,
                  fired: list[asyncio.Event], sent: dict[int, dict[str, str]], seen: list[Outcome],
                  troubles: list[str]) -> None:
    """Four submissions; the k-th waits for the k-th kill (and a moment), so uploads go on through each."""
    headers = {"Authorization": f"token {token}", "Accept-Language": "en"}
    for attempt in range(ATTEMPTS):
        if attempt:
            await fired[attempt].wait()
        await asyncio.sleep(rng.uniform(0, 4.0))
        nb = nbformat.reads(release.decode(), as_version=4)
        nb.cells[1].source = f"def speed(s, t):\n    return s / t  # {login}, attempt {attempt}"
        content = nbformat.writes(nb).encode()
        outcome = Outcome(login)
        for press in range(20):  # the student presses Submit again until it is received
            try:
                r = await call(http, "POST", f"courses/{course}/assignments/{ASSIGNMENT}/submissions", outcome,
                               headers=headers, files=[("files", (NOTEBOOK, content, "application/octet-stream"))])
            except CallFailed as e:
                outcome.error = str(e)
                troubles.append(outcome.error)
                await asyncio.sleep(2)
                continue
            outcome.submission_id = r.json()["id"]
            sent[outcome.submission_id] = {NOTEBOOK: hashlib.sha256(content).hexdigest()}
            break
        seen.append(outcome)


async def deadline_with_kills(up: LocalSabaq, course: str, tokens: dict[str, str], release: bytes):
    rng = random.Random(SEED)
    fired = [asyncio.Event() for _ in VICTIMS]
    kills: list[tuple] = []
    sent: dict[int, dict[str, str]] = {}
    seen: list[Outcome] = []
    troubles: list[str] = []  # what students saw before pressing Submit again
    async with httpx.AsyncClient(base_url=f"{up.url}/services/sabaq/api/v1/", timeout=60) as http:
        started = time.monotonic()
        students = [student(http, course, login, token, release, random.Random(f"{SEED}-{login}"), fired, sent, seen,
                            troubles)
                    for login, token in tokens.items()]
        await asyncio.gather(killer(up, rng, fired, kills), *students)
    return started, time.monotonic(), kills, sent, seen, Counter(troubles)


def test_nothing_acknowledged_is_lost_when_each_process_is_killed(sabaq):
    deadline = Deadline(sabaq.url, sabaq.admin_password())
    course, tokens = deadline.prepare(STUDENTS)
    first = next(iter(tokens.values()))
    release = unpack(httpx.get(f"{sabaq.url}/services/sabaq/api/v1/courses/{course}/assignments/{ASSIGNMENT}/download",
                               headers={"Authorization": f"token {first}"}, timeout=60).content)[NOTEBOOK]

    started, ended, kills, sent, seen, troubles = asyncio.run(deadline_with_kills(sabaq, course, tokens, release))

    assert [name for name, _, _ in kills] == list(VICTIMS)
    assert all(started < at < ended for _, _, at in kills), "a process was killed outside the uploads"
    errors = [o.error for o in seen if o.submission_id is None]
    assert errors == [], errors  # every student got all four received in the end
    assert len(sent) == STUDENTS * ATTEMPTS

    engine = make_engine(sabaq.database_url)
    sessions = make_sessionmaker(engine)
    try:
        graded = wait_graded(sessions, set(sent), timeout=300)
        assert graded == set(sent), f"not graded: {sorted(set(sent) - graded)[:20]}\n{sabaq.log_tail()}"
        with sessions() as db:
            files = {}
            for sid, path, digest in db.execute(select(SubmissionFile.submission_id, SubmissionFile.path,
                                                       SubmissionFile.sha256)):
                files.setdefault(sid, {})[path] = digest
            for sid, expected in sent.items():
                assert files.get(sid) == expected, f"submission {sid} is not what its student sent"
            def per_submission(*where) -> dict[int, int]:
                rows = db.execute(select(GradeResult.submission_id, func.count())
                                  .where(GradeResult.submission_id.in_(sent), *where).group_by(GradeResult.submission_id))
                return {sid: n for sid, n in rows}

            assert per_submission() == {sid: 1 for sid in sent}  # graded exactly once
            assert per_submission(GradeResult.current.is_(True)) == {sid: 1 for sid in sent}
            grade_jobs = set(db.scalars(select(Job.payload["submission_id"].as_integer()).where(
                Job.kind == "grade", Job.state == JobState.done)))
            assert set(sent) <= grade_jobs
            # more than acknowledged only if one was stored and its answer lost with a dying process
            stored = db.scalar(select(func.count(Submission.id)))
    finally:
        engine.dispose()
    print(f"{len(sent)} acknowledged, {stored} stored; kills at "
          + ", ".join(f"{name} {at - started:.1f} s" for name, _, at in kills)
          + f"; pressed Submit again after: {dict(troubles)}")


def wait_graded(sessions, ids: set[int], timeout: float) -> set[int]:
    """The ids among `ids` that have a current grade, once all have or at the timeout."""
    deadline = time.monotonic() + timeout
    done: set[int] = set()
    while time.monotonic() < deadline:
        with sessions() as db:
            done = set(db.scalars(select(GradeResult.submission_id).where(
                GradeResult.submission_id.in_(ids), GradeResult.current.is_(True))))
        if done == ids:
            break
        time.sleep(1)
    return done
