"""`sabaq bench deadline`: a class of N students submits within a minute, as at a deadline.

It starts its own `sabaq up` (a temporary data folder, free ports on 127.0.0.1; SQLite,
or a fresh PostgreSQL database with --postgres), makes a course with N accounts and
the demo assignment, and gives each student a hub API token, as their server holds.
Then each student, at a moment of their own within the window, does what nbgrader's
exchange does from their server: fetches the assignment, answers it, asks what to
submit and submits, retrying as `sabaq.client` does (a submission only when the service
surely stored nothing). At most ``concurrency`` students are in the middle of it at
once, as real servers are few per core. Printed: submits per second, the submit's
latency as a student waits for it (p50, p99, retries included), errors, and how long
until the last submission is graded. Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import nbformat

from sabaq.archive import unpack
from sabaq.client import NOT_ACTED_ON, REPEATABLE, RETRY_STATUSES
from sabaq.devtools.ports import local_up_environment
from sabaq.devtools.rehearsal import ANSWERS, Rehearsal, admin_password
from sabaq.hub.jupyterhub.rundir import RunDir
from sabaq.hub.service.timing import service_seconds

ASSIGNMENT = "ps1"
NOTEBOOK = "motion.ipynb"
DONE = ("graded", "failed")
# What the service tells in Server-Timing (sabaq.timings), in the order a submission meets them:
# asking the hub about the token, waiting for a database session, the checks (a thread's read
# transaction), reading the files, storing (a thread's write transaction, in it the write lock)
WAIT_NAMES = {"hub": "the hub", "queue": "a database session", "check": "the checks", "upload": "reading the files",
              "store": "storing", "lock": "of which the write lock"}
WAITS = tuple(WAIT_NAMES)
RETRIES = 2  # as sabaq.client.ServiceClient's default, which the exchange uses
RETRY_WAIT = 1.0


@dataclass
class Outcome:
    """What one student saw."""

    login: str
    submission_id: int | None = None  # acknowledged (201) as this id
    latency: float | None = None  # seconds from the first try of the submit to its final answer
    service_time: float | None = None  # of that, the service's own (its Server-Timing) in the final answer
    waits: dict[str, float] = field(default_factory=dict)  # of that, each phase's (WAITS)
    retries: int = 0
    error: str = ""


@dataclass
class Figures:
    students: int
    acknowledged: int
    errors: dict[str, int]
    submits_per_second: float
    p50: float
    p99: float
    service_p50: float
    service_p99: float
    waits_p99: dict[str, float]
    slowest: dict[str, float]  # the slowest 1 % of answers (by service time): their mean service time and phases
    retries: int
    graded: int
    failed: int
    last_grade_seconds: float | None
    stored: int
    outcomes: list[Outcome] = field(default_factory=list, repr=False)



class LocalSabaq:
    """`sabaq up` on a temporary data folder and free loopback ports; stopped with SIGTERM."""

    def __init__(self, database_url: str = "", workers: int | None = None, env: dict | None = None):
        self.root = Path(tempfile.mkdtemp(prefix="sabaq-bench-deadline-"))
        self.data = self.root / "data"
        self.homes = self.root / "homes"
        self.homes.mkdir(mode=0o755, parents=True)
        self.env = local_up_environment(
            self.homes, "b" + secrets.token_hex(2) + "-",
            **({"SABAQ_DATABASE_URL": database_url} if database_url else {}),
            **({"SABAQ_WORKER_COUNT": str(workers)} if workers else {}),
            **(env or {}),
        )
        self.port = int(self.env["SABAQ_HUB_PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        # where students' servers reach the service (the spawner's SABAQ_SERVICE_URL): not the proxy
        self.service_url = f"http://127.0.0.1:{self.env['SABAQ_SERVICE_PORT']}/services/sabaq"
        self.database_url = database_url or f"sqlite:///{self.data / 'sabaq.sqlite'}"
        self.log = self.root / "sabaq-up.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 240) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "sabaq", "up", "--data", str(self.data)], env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sabaq up exited with {self.proc.returncode}:\n{self.log_tail()}")
            if b"sabaq is running" in self.log.read_bytes():
                return
            time.sleep(0.5)
        raise RuntimeError(f"sabaq up did not start within {timeout:g} s:\n{self.log_tail()}")

    def admin_password(self) -> str:
        password = admin_password(str(self.data))
        if not password:
            raise RuntimeError(f"no administrator's password in {self.data}")
        return password

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM, as a service manager stops it: a bench or test run started in a script's
        background cannot send Ctrl-C (its SIGINT is ignored, and sabaq up keeps it so). If it
        does not stop, it is killed and so is every process its run recorded (those it restarted
        run in sessions of their own, outside its process group)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            RunDir(self.data).stop_what_is_left()
        self.proc = None

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class Deadline:
    """A course of ``students`` on a running sabaq, each with a hub token; then the deadline."""

    def __init__(self, url: str, admin_password: str, out=print, service_url: str | None = None):
        self.url = url.rstrip("/")
        # the students' calls go where their servers' exchange sends them (the service itself);
        # without it, through the hub's public address
        self.service_url = (service_url or f"{self.url}/services/sabaq").rstrip("/")
        self.rehearsal = Rehearsal(self.url, admin_password, out=lambda *_: None, language="en")
        self.admin_token = self.rehearsal.login("admin", admin_password)
        self.out = out

    def api(self, token: str, **kwargs) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=f"{self.url}/services/sabaq/api/v1/",
                                 headers={"Authorization": f"token {token}", "Accept-Language": "en"}, **kwargs)

    def prepare(self, students: int) -> tuple[str, dict[str, str]]:
        """A new course with the demo assignment and ``students`` accounts; {login: hub token}."""
        with self.rehearsal.api(self.admin_token) as admin:
            course = self.rehearsal.new_course(admin, "deadline", "Deadline", "en")
            self.rehearsal.release(admin, course)
        logins = [f"d{course[-6:]}-{i:04d}" for i in range(students)]
        return course, asyncio.run(self._accounts(course, logins))

    async def _accounts(self, course: str, logins: list[str]) -> dict[str, str]:
        """Accounts without passwords (hashing 1,000 of them would take minutes) and the tokens
        the hub's administrator makes for them, as a student's server is given one."""
        hub = httpx.AsyncClient(base_url=f"{self.url}/hub/api/", timeout=120,
                                headers={"Authorization": f"token {self.admin_token}"})
        limit = asyncio.Semaphore(16)
        async with self.api(self.admin_token, timeout=120) as admin, hub:
            async def account(login: str) -> None:
                async with limit:
                    r = await admin.post("users", json={"login": login, "full_name": login})
                    r.raise_for_status()
                    r = await admin.put(f"courses/{course}/members/{login}", json={"role": "student", "section": "D"})
                    r.raise_for_status()

            await asyncio.gather(*(account(login) for login in logins))
            r = await hub.post("users", json={"usernames": logins})  # the hub's sync may have made some already
            if r.status_code not in (201, 409):
                r.raise_for_status()

            async def token(login: str) -> str:
                async with limit:
                    r = await hub.post(f"users/{login}/tokens", json={"note": "sabaq bench deadline"})
                    r.raise_for_status()
                    return r.json()["token"]

            tokens = dict(zip(logins, await asyncio.gather(*(token(login) for login in logins))))
            await self._synced(hub, f"nbgrader-{course}", set(logins))
            return tokens

    async def _synced(self, hub: httpx.AsyncClient, group: str, members: set[str], timeout: float = 300) -> None:
        """Waits until the hub's group of the course has every student, as a real roster is
        synced long before its deadline (else the sync's adds would run during the deadline)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = await hub.get(f"groups/{group}")
            if r.status_code == 200 and members <= set(r.json().get("users", [])):
                return
            await asyncio.sleep(1)
        raise AssertionError(f"the hub's group {group} did not get the course's {len(members)} students "
                             f"within {timeout:.0f} s")

    def run(self, course: str, tokens: dict[str, str], window: float = 60, concurrency: int = 64,
            timeout: float = 900, seed: int = 19) -> Figures:
        return asyncio.run(self._run(course, tokens, window, concurrency, timeout, seed))

    async def _run(self, course: str, tokens: dict[str, str], window: float, concurrency: int, timeout: float,
                   seed: int) -> Figures:
        rng = random.Random(seed)
        starts = {login: rng.uniform(0, window) for login in tokens}
        slots = asyncio.Semaphore(concurrency)
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(base_url=f"{self.service_url}/api/v1/", timeout=120, limits=limits) as http:
            began = time.monotonic()

            async def one(i: int, login: str) -> Outcome:
                await asyncio.sleep(starts[login])
                async with slots:
                    return await student(http, course, login, tokens[login], ANSWERS[i % len(ANSWERS)])

            outcomes = await asyncio.gather(*(one(i, login) for i, login in enumerate(tokens)))
            submitted = time.monotonic() - began
            acknowledged = {o.submission_id for o in outcomes if o.submission_id}
            graded, stored, last = await self._wait_graded(course, acknowledged, began, timeout)
        latencies = sorted(o.latency for o in outcomes if o.latency is not None)
        service_times = sorted(o.service_time for o in outcomes if o.service_time is not None)
        errors: dict[str, int] = {}
        for o in outcomes:
            if o.error:
                errors[o.error] = errors.get(o.error, 0) + 1
        return Figures(
            students=len(tokens), acknowledged=len(acknowledged), errors=errors,
            submits_per_second=len(acknowledged) / submitted if submitted else 0.0,
            p50=percentile(latencies, 0.5), p99=percentile(latencies, 0.99),
            service_p50=percentile(service_times, 0.5), service_p99=percentile(service_times, 0.99),
            waits_p99={w: percentile(sorted(o.waits.get(w, 0.0) for o in outcomes if o.service_time is not None), 0.99)
                       for w in WAITS},
            slowest=where_the_slowest_went(outcomes),
            retries=sum(o.retries for o in outcomes),
            graded=sum(1 for s in graded.values() if s == "graded"),
            failed=sum(1 for s in graded.values() if s == "failed"),
            last_grade_seconds=last, stored=stored, outcomes=list(outcomes),
        )

    async def _wait_graded(self, course: str, acknowledged: set[int], began: float,
                           timeout: float) -> tuple[dict[int, str], int, float | None]:
        """({submission id: its grade's status} of the acknowledged ones once all are done or at the
        timeout, how many submissions the service holds, seconds from the start to the last grade)."""
        deadline = time.monotonic() + timeout
        done: dict[int, str] = {}
        stored = 0
        last = None
        async with self.api(self.admin_token, timeout=120) as admin:
            while time.monotonic() < deadline:
                r = await admin.get(f"courses/{course}/assignments/{ASSIGNMENT}/submissions")
                r.raise_for_status()
                subs = r.json()
                stored = len(subs)
                done = {s["id"]: s["grade"]["status"] for s in subs
                        if s["id"] in acknowledged and s["grade"] and s["grade"]["status"] in DONE}
                if len(done) == len(acknowledged):
                    last = time.monotonic() - began
                    break
                await asyncio.sleep(1)
        return done, stored, last


async def student(http: httpx.AsyncClient, course: str, login: str, token: str, answer: str) -> Outcome:
    """Fetch, answer, submit: the exchange's calls from a student's server."""
    outcome = Outcome(login)
    headers = {"Authorization": f"token {token}", "Accept-Language": "en"}
    base = f"courses/{course}/assignments/{ASSIGNMENT}"
    try:
        r = await call(http, "GET", f"{base}/download", outcome, headers=headers)
        files = unpack(r.content)
        nb = nbformat.reads(files[NOTEBOOK].decode(), as_version=4)
        nb.cells[1].source = answer
        files[NOTEBOOK] = nbformat.writes(nb).encode()
        await call(http, "GET", base, outcome, headers=headers)  # which notebooks to submit
        outcome.retries = 0
        upload = [("files", (rel, content, "application/octet-stream")) for rel, content in files.items()]
        start = time.monotonic()
        try:
            r = await call(http, "POST", f"{base}/submissions", outcome, headers=headers, files=upload)
        finally:
            outcome.latency = time.monotonic() - start
        outcome.submission_id = r.json()["id"]
        outcome.service_time = service_seconds(r.headers.get("server-timing"))
        outcome.waits = {w: t for w in WAITS if (t := service_seconds(r.headers.get("server-timing"), w)) is not None}
    except CallFailed as e:
        outcome.error = str(e)
    return outcome


def percentile(ordered: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of the (sorted) values lie; 0 for none."""
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


class CallFailed(Exception):
    pass


async def call(http: httpx.AsyncClient, method: str, path: str, outcome: Outcome, **kwargs) -> httpx.Response:
    """One call with sabaq.client's retries: a POST is repeated only when the service surely did not act on it."""
    repeatable = method in REPEATABLE
    for attempt in range(RETRIES + 1):
        last = attempt == RETRIES
        try:
            r = await http.request(method, path, **kwargs)
        except httpx.TransportError as e:
            never_arrived = isinstance(e, (httpx.ConnectError, httpx.ConnectTimeout))
            if last or not (never_arrived or repeatable):
                raise CallFailed(f"{method} {path.rsplit('/', 1)[-1]}: {type(e).__name__}") from None
        else:
            if r.is_success:
                return r
            if last or r.status_code not in RETRY_STATUSES or not (r.status_code in NOT_ACTED_ON or repeatable):
                raise CallFailed(f"{method} {path.rsplit('/', 1)[-1]}: HTTP {r.status_code} {r.text[:120]}")
        outcome.retries += 1
        await asyncio.sleep(RETRY_WAIT * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


def where_the_slowest_went(outcomes: list[Outcome], share: float = 0.01) -> dict[str, float]:
    """The mean service time ("app") of the slowest ``share`` of the answers and of each phase
    in them: the p99 of each phase alone does not say which of them made the slow answers slow."""
    timed = sorted((o for o in outcomes if o.service_time is not None), key=lambda o: o.service_time)
    slowest = timed[-max(1, round(share * len(timed))):] if timed else []
    if not slowest:
        return {}
    mean = {"app": sum(o.service_time for o in slowest) / len(slowest)}
    mean.update({w: sum(o.waits.get(w, 0.0) for o in slowest) / len(slowest) for w in WAITS})
    return mean


def report(figures: Figures, label: str, out=print) -> None:
    f = figures
    out(f"{label}: {f.students} students, {f.acknowledged} submissions acknowledged, "
        f"{f.submits_per_second:.1f} submits/s")
    out(f"  submit latency p50 {1000 * f.p50:.0f} ms, p99 {1000 * f.p99:.0f} ms; retries {f.retries}; "
        f"errors {sum(f.errors.values())}")
    out(f"  of which the service's own time (its Server-Timing) p50 {1000 * f.service_p50:.0f} ms, "
        f"p99 {1000 * f.service_p99:.0f} ms (p99 waiting for a database session "
        f"{1000 * f.waits_p99['queue']:.0f} ms, for the write lock {1000 * f.waits_p99['lock']:.0f} ms); "
        f"the rest is the proxy, the connection and the students' side")
    if f.slowest:
        phases = ", ".join(f"{WAIT_NAMES[w]} {1000 * f.slowest[w]:.0f} ms" for w in WAITS)
        out(f"  the slowest 1 % of the service's answers: {1000 * f.slowest['app']:.0f} ms on average; {phases}")
    for error, n in sorted(f.errors.items(), key=lambda item: -item[1])[:10]:
        out(f"    {n} x {error}")
    last = f"{f.last_grade_seconds:.1f} s after the first student began" if f.last_grade_seconds else "NOT all graded"
    out(f"  graded {f.graded} (failed {f.failed}) of {f.acknowledged}; last grade {last}; "
        f"the service holds {f.stored} submissions")
    met = not f.errors and f.p99 <= 1.0 and f.graded == f.acknowledged == f.students
    out(f"  target (0 errors, p99 <= 1 s, every submission graded): {'met' if met else 'NOT met'}")


def bench_deadline(students: int, postgres_url: str | None = None, window: float = 60, concurrency: int = 64,
                   timeout: float = 900, keep: bool = False, out=print) -> Figures:
    """Start sabaq, run the deadline, stop sabaq; the figures."""
    database_url = ""
    if postgres_url:
        from sabaq.devtools.bench_gradebook import _fresh_postgres

        database_url = _fresh_postgres(postgres_url)
    sabaq = LocalSabaq(database_url)
    label = "PostgreSQL" if postgres_url else "SQLite"
    try:
        out(f"starting sabaq up ({label}) in {sabaq.root} ...")
        sabaq.start()
        deadline = Deadline(sabaq.url, sabaq.admin_password(), out=out, service_url=sabaq.service_url)
        start = time.monotonic()
        course, tokens = deadline.prepare(students)
        out(f"course {course}: {students} students with tokens in {time.monotonic() - start:.0f} s; "
            f"{os.cpu_count()} CPU cores; at most {concurrency} at once within {window:g} s")
        figures = deadline.run(course, tokens, window=window, concurrency=concurrency, timeout=timeout)
        report(figures, label, out)
        return figures
    finally:
        sabaq.stop()
        if database_url:
            _drop_postgres(postgres_url, database_url)
        if keep:
            out(f"kept {sabaq.root}")
        else:
            sabaq.cleanup()


def _drop_postgres(admin_url: str, url: str) -> None:
    from sqlalchemy import create_engine, text

    name = url.partition("?")[0].rsplit("/", 1)[1]
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
