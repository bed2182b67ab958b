"""The workers' side of the API: claim jobs, fetch their inputs, report results.

Workers hold only the worker token; they never see the database, so a
worker pod needs nothing but a route to the service. What they report is
checked against the worker contract (``sabaq.contracts``) before anything of
it is kept: a malformed result is refused with a 422 and changes nothing.

An idle worker's claim may wait for a job (``wait_seconds``, a long poll): the service
answers it as soon as a job can be claimed, so a deadline's first submission is graded at
once and an idle worker asks only every twenty seconds or so (see ``Waiting``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import threading
import time

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from sabaq.contracts import (
    BATCHED_KINDS,
    MAX_BATCH,
    MAX_CLAIM_WAIT,
    WORKER_API,
    CheckResult,
    GradingMeta,
    JobKind,
    ScoredResult,
    result_from_json,
)
from sabaq.hub.domain import assignments as asg
from sabaq.hub.domain import grading, kinds
from sabaq.hub.service.api.files import ZIP, zip_response
from sabaq.hub.service.api.schemas import ERRORS, MAX_ID, Id
from sabaq.hub.service.deps import DB, WorkerCaller, current_worker
from sabaq.hub.store import jobs
from sabaq.hub.store.database import reading
from sabaq.hub.store.models import FileKind, Job, JobState, Submission

router = APIRouter(prefix="/" + WORKER_API.rstrip("/"), tags=["workers"], responses=ERRORS)


class ClaimIn(BaseModel):
    kinds: list[JobKind] | None = None


class JobOut(BaseModel):
    id: int
    kind: JobKind
    payload: dict
    attempts: int


class ClaimManyIn(ClaimIn):
    max_jobs: int = Field(1, ge=1, le=MAX_BATCH, description="The most jobs to take (all of one kind)")
    wait_seconds: float = Field(0, ge=0, le=MAX_CLAIM_WAIT,
                                description="With none to take, how long to wait for one before the empty answer")


class JobsOut(BaseModel):
    jobs: list[JobOut]


class ResultIn(BaseModel):
    result: dict  # the job kind's result model (sabaq.contracts.RESULTS), as JSON


class ReportIn(ResultIn):
    job_id: int = Field(..., ge=1, le=MAX_ID)


class ReportsIn(BaseModel):
    reports: list[ReportIn] = Field(..., min_length=1, max_length=MAX_BATCH,
                                    description="a batch's results, each for a job the worker holds")


class FailIn(BaseModel):
    error: str


def _anything_to_claim(db: Session, kinds: list[JobKind] | None) -> bool:
    """Asked in a transaction that only reads and ends here: an idle worker's poll writes nothing."""
    reading(db)
    try:
        return jobs.anything_to_claim(db, kinds)
    finally:
        db.commit()


@router.post("/claim", response_model=JobOut | None, summary="Claim the next job (204: none)")
def claim(request: Request, body: ClaimIn, worker: WorkerCaller = Depends(current_worker),
          db: Session = DB):
    if not _anything_to_claim(db, body.kinds):
        return Response(status_code=204)
    s = request.app.state.settings.worker
    job = jobs.claim(db, worker.name, s.lease_seconds, s.max_attempts, body.kinds)
    if job is None:
        return Response(status_code=204)
    out = JobOut(id=job.id, kind=job.kind, payload=job.payload, attempts=job.attempts)
    db.commit()
    return out


@router.post("/claim-many", response_model=JobsOut,
             summary="Claim up to max_jobs jobs of one kind, each with its own lease (none: an empty list, "
                     "after waiting up to wait_seconds for one)")
async def claim_many(request: Request, body: ClaimManyIn, worker: WorkerCaller = Depends(current_worker)):
    """Holds no database session while it waits: each look takes one of the database's slots
    and a session, in a thread, for as long as the look lasts."""
    app = request.app
    if not body.wait_seconds:
        return await _claim_now(app, worker.name, body)
    waiting: Waiting = app.state.claim_waits
    loop = asyncio.get_running_loop()
    rung = asyncio.Event()

    def ring() -> None:  # called by the thread whose commit stored a job
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(rung.set)

    jobs.QUEUED.listen(ring)
    try:
        until = loop.time() + body.wait_seconds
        look = True
        while True:
            rung.clear()  # before the look: a job stored during it rings again
            if look and (out := await _claim_now(app, worker.name, body)).jobs:
                waiting.busy()
                return out
            left = until - loop.time()
            if left <= 0 or waiting.stopping.is_set() or await request.is_disconnected():
                # a worker that hung up (it is stopping) must not be handed jobs it will never run
                return JobsOut(jobs=[])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(rung.wait(), min(waiting.interval(), left))
            if rung.is_set():
                waiting.busy()
            look = rung.is_set() or waiting.due(body.kinds)
    finally:
        jobs.QUEUED.forget(ring)


async def _claim_now(app, worker: str, body: ClaimManyIn) -> JobsOut:
    async with app.state.db_slots.held():
        return await run_in_threadpool(_claim, app, worker, body)


def _claim(app, worker: str, body: ClaimManyIn) -> JobsOut:
    with app.state.sessions() as db:
        if not _anything_to_claim(db, body.kinds):
            return JobsOut(jobs=[])
        s = app.state.settings.worker
        taken = jobs.claim_many(db, worker, s.lease_seconds, s.max_attempts, body.kinds, body.max_jobs,
                                batched=BATCHED_KINDS)
        out = JobsOut(jobs=[JobOut(id=job.id, kind=job.kind, payload=job.payload, attempts=job.attempts)
                            for job in taken])
        db.commit()
        return out


CHECK_SECONDS = 0.05  # how often waiting claims look at the database while there is work about
IDLE_CHECK_SECONDS = 0.5  # and when there has been none for BUSY_SECONDS
BUSY_SECONDS = 120.0


class Waiting:
    """What the claims waiting for a job in this service process share.

    A job stored by this process wakes them at once (``jobs.QUEUED``); one stored by another
    of the service's processes (or by a command) is found by looking at the database: one
    look per interval for all of this process's waiting claims (of the same kinds), not one
    each. The interval is ``check_seconds`` for ``busy_seconds`` after work was last seen (a
    deadline's stream of submissions), ``idle_check_seconds`` when there was none: looking
    twenty times a second all day cost an idle service more CPU than the workers' old polls
    once a second. A stopping service answers them at once (uvicorn waits for every open
    request before it stops)."""

    def __init__(self, check_seconds: float = CHECK_SECONDS, idle_check_seconds: float = IDLE_CHECK_SECONDS,
                 busy_seconds: float = BUSY_SECONDS):
        self.check_seconds = check_seconds
        self.idle_check_seconds = idle_check_seconds
        self.busy_seconds = busy_seconds
        self.stopping = threading.Event()
        self._looked: dict[tuple[str, ...], float] = {}  # kinds -> when a waiting claim last looked
        self._busy_at = float("-inf")  # when work was last seen

    def busy(self) -> None:
        """Work was seen (a job handed out or stored): look often for a while."""
        self._busy_at = time.monotonic()

    def interval(self) -> float:
        """How long a waiting claim sleeps between its looks (unless it is woken)."""
        if time.monotonic() - self._busy_at < self.busy_seconds:
            return self.check_seconds
        return self.idle_check_seconds

    def due(self, kinds: list[JobKind] | None) -> bool:
        """Whether it is this claim's turn to look at the database (and so nobody else's for a while)."""
        key = tuple(sorted(kinds or ()))
        now = time.monotonic()
        if now - self._looked.get(key, float("-inf")) < self.interval():
            return False
        self._looked[key] = now
        return True

    def start(self) -> None:
        """At the service's start: a stop signal (SIGTERM, Ctrl-C) ends the waits, then goes on to
        the server's own handler. Only the main thread may set handlers (a test's app runs elsewhere)."""
        self.stopping.clear()
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(sig)
            if callable(previous):
                signal.signal(sig, self._heard(previous))

    def _heard(self, previous):
        def heard(signum, frame):
            self.stop()
            previous(signum, frame)
        return heard

    def stop(self) -> None:
        self.stopping.set()
        jobs.QUEUED.ring()  # wakes the waiting claims, which see it and answer


@router.post("/jobs/{job_id}/complete", summary="Report a result (409: the lease was lost)")
def complete(job_id: Id, body: ResultIn, worker: WorkerCaller = Depends(current_worker),
             db: Session = DB):
    results = _parsed(db, {job_id: body.result})
    job = _keep(db, worker.name, results).get(job_id)
    if job is None:
        return Response(status_code=409)
    return {"id": job.id, "state": job.state.value}


@router.post("/complete-many", summary="Report a batch's results in one write (a job whose lease was lost: 'lost')")
def complete_many(body: ReportsIn, worker: WorkerCaller = Depends(current_worker), db: Session = DB):
    """A batch's results in one transaction: at a deadline every report is a turn at SQLite's
    write lock, which the students' submissions wait for. A malformed result is a 422 that keeps
    none of the batch (the worker then reports each alone, and gives the malformed one back)."""
    kept = _keep(db, worker.name, _parsed(db, {report.job_id: report.result for report in body.reports}))
    states, answered = {}, set()
    for report in body.reports:  # a job reported twice in the batch: its first report is kept, the second is 'lost'
        job = kept.get(report.job_id) if report.job_id not in answered else None
        answered.add(report.job_id)
        states[str(report.job_id)] = job.state.value if job is not None else "lost"
    return {"states": states}


def _parsed(db: Session, reported: dict[int, dict]) -> dict:
    """Each reported result parsed by its job's kind (422 when one is malformed), read and
    checked before the write turn is taken (on SQLite); a job that is gone is left out."""
    reading(db)
    kind_of = dict(db.execute(select(Job.id, Job.kind).where(Job.id.in_(list(reported)))).all())
    db.commit()
    return {job_id: result_from_json(kind_of[job_id], result) for job_id, result in reported.items()
            if job_id in kind_of}


def _keep(db: Session, worker: str, results: dict) -> dict[int, Job]:
    """The results kept as their jobs' and their submissions', a few statements for the batch
    (not a few per job); {job id: job} of those this worker still held (the others are lost)."""
    held = {job_id: job for job_id, job in jobs.complete_all(
        db, worker, {job_id: result.to_json() for job_id, result in results.items()}).items() if job is not None}
    checks = {job.payload["submission_id"]: results[job_id] for job_id, job in held.items()
              if isinstance(results[job_id], CheckResult)}
    if checks:
        for submission in db.scalars(select(Submission).where(Submission.id.in_(list(checks)))):
            submission.check = checks[submission.id].to_json()
        db.flush()
    grading.record_all(db, [(job, results[job_id]) for job_id, job in held.items()
                            if isinstance(results[job_id], ScoredResult)])
    return held


@router.post("/jobs/{job_id}/renew", summary="Keep the lease of a long job (409: it was lost)")
def renew(request: Request, job_id: Id, worker: WorkerCaller = Depends(current_worker), db: Session = DB):
    job = jobs.renew(db, job_id, worker.name, request.app.state.settings.worker.lease_seconds)
    if job is None:
        return Response(status_code=409)
    return {"id": job.id, "lease_until": job.lease_until.isoformat()}


@router.post("/jobs/{job_id}/fail", summary="Give a job back after an error")
def fail(request: Request, job_id: Id, body: FailIn, worker: WorkerCaller = Depends(current_worker),
         db: Session = DB):
    job = jobs.fail(db, job_id, worker.name, body.error, request.app.state.settings.worker.max_attempts)
    if job is None:
        return Response(status_code=409)
    if job.kind in kinds.RESULT_JOBS and job.state == JobState.failed:
        grading.record(db, job, ScoredResult.failed(body.error))
    return {"id": job.id, "state": job.state.value}


DEFLATE_FROM = 4 * 1024 * 1024  # a bundle's files are stored, not deflated, below this many bytes together


def _bundle(files: dict[str, bytes], filename: str) -> Response:
    """A bundle for a worker: a class's notebooks are a few kilobytes each, sent inside the
    cluster, where deflating them cost the service (and inflating them the worker) more CPU
    at a deadline than their bytes cost the network."""
    return zip_response(files, filename, deflate=sum(len(c) for c in files.values()) >= DEFLATE_FROM)


@router.get("/grading/{submission_id}", response_class=Response,
            responses={200: {"content": {ZIP: {}}}},
            summary="What grading one submission needs: the teacher's source and the submission")
def grading_bundle(submission_id: Id, worker: WorkerCaller = Depends(current_worker), db: Session = DB):
    facts, submitted, source = asg.bundle_inputs(db, submission_id, FileKind.source)
    name, student = facts.assignment, facts.student
    files = {f"source/{name}/{p}": c for p, c in source.items()}
    # the files as the student sent them: the time it is graded with is the service's (meta)
    files.update({f"submitted/{student}/{name}/{p}": c for p, c in submitted.items()})
    meta = GradingMeta(course=facts.course, assignment=name, student=student, version=facts.version,
                       due_at=facts.due_at.isoformat() if facts.due_at else None,
                       language=facts.student_language or facts.course_language,
                       timestamp=asg.nbgrader_timestamp(facts.submitted_at))
    files["meta.json"] = json.dumps(meta.to_json()).encode()
    return _bundle(files, f"grading-{submission_id}.zip")


@router.get("/submissions/{submission_id}", response_class=Response,
            responses={200: {"content": {ZIP: {}}}},
            summary="A submission and its assignment's released files, for checking")
def submission_bundle(submission_id: Id, worker: WorkerCaller = Depends(current_worker),
                      db: Session = DB):
    submitted, released = asg.check_inputs(db, submission_id)
    files = {f"submission/{p}": c for p, c in submitted.items()}
    files.update({f"release/{p}": c for p, c in released.items()})
    return _bundle(files, f"submission-{submission_id}.zip")
