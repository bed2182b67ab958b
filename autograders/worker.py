"""A worker: claims jobs from the service over HTTP, runs them, reports back.

Workers hold only the worker token and talk only to the service, so they can
run anywhere (a process beside the hub, or a locked-down pod). A job whose
worker dies is handed out again when its lease lapses (see sabaq.hub.store.jobs).
Each job kind (``sabaq.contracts.JobKind``) has one handler in ``jobs``:
``check`` reads a submission's notebooks without running them and reports what
a teacher should know, ``grade`` autogrades them in the sandbox, ``judge`` runs
an olympiad program on its package's tests. A handler returns the kind's result
model; the worker sends its JSON.

A claim takes up to ``[worker] batch`` jobs of one kind (``sabaq.contracts.BATCHED_KINDS``),
each with its own lease: a deadline's submissions of one assignment are graded in one
run of nbgrader's pipeline, as `sabaq grade batch` grades a class, and each result is
still reported, retried or failed by itself.

An idle worker's claim waits at the service for a job (``[worker] claim_wait_seconds``, a long
poll): a job is handed out the moment it is stored, and an idle worker asks only that often.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from typing import Callable, Self

from sabaq.autograders.jobs.check import handle_check
from sabaq.autograders.jobs.grade import GradeHandler
from sabaq.autograders.jobs.judge import handle_judge
from sabaq.client import ServiceClient, ServiceError, ServiceUnreachable
from sabaq.contracts import MAX_BATCH, MAX_CLAIM_WAIT, WORKER_API, Contract, JobKind
from sabaq.settings import Settings

log = logging.getLogger("sabaq.worker")

Handler = Callable[[ServiceClient, dict], Contract]  # (client, the job's payload) -> the kind's result
# A handler may also take several jobs of its kind at once: ``handler.run_many(client, payloads)``
# returns, for each payload in order, its result or the exception that stopped that one alone.
Outcome = Contract | Exception

# A waiting claim's answer comes within its wait: a read timeout this much longer means the
# service is gone, not slow (the network, a busy service's queue for the database)
CLAIM_TIMEOUT_MARGIN = 30.0


class Stopped(BaseException):
    """Raised in a worker's wait for a job when it is told to stop: the wait is left at once."""


# How each job kind's handler is made from the settings: one entry per JobKind
JOBS: dict[JobKind, Callable[[Settings], Handler]] = {
    JobKind.check: lambda settings: handle_check,
    JobKind.grade: lambda settings: GradeHandler(settings.grading),
    JobKind.judge: lambda settings: handle_judge,
}


def handlers_for(settings: Settings) -> dict[JobKind, Handler]:
    return {kind: make(settings) for kind, make in JOBS.items()}


def connect(service_url: str, token: str, name: str) -> ServiceClient:
    """The project's service client, as this worker: the worker token and its name."""
    return ServiceClient(service_url, token, headers={"X-Sabaq-Worker": name})


class Leases:
    """Keeps renewing the leases of the jobs a worker holds, until they are reported (a batch's
    together)."""

    def __init__(self, worker: Worker, jobs: list[dict]):
        self.worker = worker
        self.held = sorted(job["id"] for job in jobs)
        self.done = threading.Event()
        self.keeper = threading.Thread(target=self._keep, daemon=True)

    def _keep(self) -> None:
        while not self.done.wait(self.worker.renew_seconds):
            for job_id in self.held:
                try:
                    self.worker.post(f"jobs/{job_id}/renew", {})
                except (ServiceError, ServiceUnreachable) as e:  # the next renewal may get through
                    log.warning("job %s: lease not renewed: %s", job_id, e)

    def __enter__(self) -> Self:
        self.keeper.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()


class Worker:
    def __init__(self, client: ServiceClient, handlers: dict[JobKind, Handler], poll_seconds: float = 1.0,
                 renew_seconds: float = 60.0, batch: int = 1, claim_wait: float = 0.0):
        self.client = client
        self.handlers = handlers
        self.poll_seconds = poll_seconds
        self.renew_seconds = renew_seconds
        self.batch = min(max(batch, 1), MAX_BATCH)
        self.claim_wait = min(max(claim_wait, 0.0), MAX_CLAIM_WAIT)
        self.stopping = False
        self.waiting = False  # in a claim that waits at the service (a stop may break it off)

    def stop(self) -> None:
        """Finish the jobs in hand and stop (a signal handler: runs in the main thread, between
        its steps). A claim waiting at the service is broken off at once: its jobs would be
        leased to a worker that is going."""
        self.stopping = True
        if self.waiting:
            self.waiting = False
            raise Stopped

    def post(self, path: str, body: dict, ok: tuple[int, ...] = (200, 409), **kwargs):
        """A call about a job; 409 means the lease was lost (the job is someone else's now)."""
        return self.client.post(WORKER_API + path, json=body, ok=ok, **kwargs)

    def claim(self) -> list[dict]:
        """The next jobs: up to ``batch`` of one kind (the service hands out one of a kind
        that is not batched), each leased on its own."""
        body = {"kinds": sorted(self.handlers), "max_jobs": self.batch}
        if not self.claim_wait:
            return self.post("claim-many", body, ok=(200,)).json()["jobs"]
        self.waiting = True  # before the look at stopping: a stop from here on breaks the wait off
        try:
            if self.stopping:
                return []
            r = self.post("claim-many", {**body, "wait_seconds": self.claim_wait}, ok=(200,),
                          timeout=self.claim_wait + CLAIM_TIMEOUT_MARGIN)
        finally:
            self.waiting = False
        return r.json()["jobs"]

    def run_one(self) -> bool:
        """Claim and run the next jobs; False if there was none."""
        jobs = self.claim()
        if not jobs:
            return False
        handler = self.handlers[JobKind(jobs[0]["kind"])]
        started = time.monotonic()
        with Leases(self, jobs):
            if len(jobs) > 1 and hasattr(handler, "run_many"):
                outcomes = self._run_many(handler, jobs)
            else:
                outcomes = [self._run(handler, job) for job in jobs]
            if len(jobs) > 1:
                self.report_many(jobs, outcomes)
            else:
                self.report(jobs[0], outcomes[0])
        log.info("%d %s job(s) in %.2f s", len(jobs), jobs[0]["kind"], time.monotonic() - started)
        return True

    def _run(self, handler: Handler, job: dict) -> Outcome:
        try:
            return handler(self.client, job["payload"])
        except Exception as e:
            log.exception("job %s (%s) failed", job["id"], job["kind"])
            return e

    def _run_many(self, handler, jobs: list[dict]) -> list[Outcome]:
        try:
            outcomes = handler.run_many(self.client, [job["payload"] for job in jobs])
        except Exception as e:  # the handler keeps jobs apart; this is its own bug, so all go back
            log.exception("jobs %s (%s) failed together", [job["id"] for job in jobs], jobs[0]["kind"])
            return [e] * len(jobs)
        for job, outcome in zip(jobs, outcomes, strict=True):
            if isinstance(outcome, Exception):
                log.error("job %s (%s) failed", job["id"], job["kind"], exc_info=outcome)
        return outcomes

    def report_many(self, jobs: list[dict], outcomes: list[Outcome]) -> None:
        """A batch's results in one call (one write at the service, where a deadline's
        submissions wait for each); errors given back one by one. Should the service refuse
        the batch (a malformed result), each is reported alone, and only that one given back."""
        done = [(job, outcome) for job, outcome in zip(jobs, outcomes, strict=True)
                if not isinstance(outcome, Exception)]
        for job, outcome in zip(jobs, outcomes, strict=True):
            if isinstance(outcome, Exception):
                self.report(job, outcome)
        if not done:
            return
        try:
            r = self.post("complete-many", {"reports": [{"job_id": job["id"], "result": outcome.to_json()}
                                                        for job, outcome in done]}, ok=(200,))
        except ServiceError as e:
            if e.status != 422:
                raise
            for job, outcome in done:
                self.report(job, outcome)
            return
        for job_id, state in r.json()["states"].items():
            if state == "lost":
                log.warning("job %s was taken over by another worker; result dropped", job_id)

    def report(self, job: dict, outcome: Outcome) -> None:
        """Send a job's result, or give it back after its error (to be tried again)."""
        if isinstance(outcome, Exception):
            self.post(f"jobs/{job['id']}/fail", {"error": f"{type(outcome).__name__}: {outcome}"})
            return
        try:
            r = self.post(f"jobs/{job['id']}/complete", {"result": outcome.to_json()})
        except ServiceError as e:
            if e.status != 422:
                raise
            # the service refused the result's shape: a bug, which another attempt would repeat
            log.error("job %s (%s): the service refused its result: %s", job["id"], job["kind"], e)
            self.post(f"jobs/{job['id']}/fail", {"error": str(e)})
            return
        if r.status_code == 409:
            log.warning("job %s was taken over by another worker; result dropped", job["id"])

    def run(self, max_claims: int | None = None) -> int:
        """Work until stopped (SIGTERM/SIGINT) or max_claims claims found work."""
        done = 0
        delay = self.poll_seconds
        while not self.stopping and (max_claims is None or done < max_claims):
            asked = time.monotonic()
            try:
                if self.run_one():
                    done += 1
                    delay = self.poll_seconds
                    continue
                if self.claim_wait and time.monotonic() - asked >= self.claim_wait / 2:
                    continue  # the service waited for a job: ask again at once
                # (not when it answered at once: a stopping service, or one that does not wait)
            except (ServiceError, ServiceUnreachable) as e:
                log.warning("service: %s", e)
                delay = min(delay * 2, 30)
            except Stopped:
                break
            time.sleep(delay)
        return done

    def close(self) -> None:
        for handler in self.handlers.values():
            if hasattr(handler, "close"):
                handler.close()
        self.client.close()


def warm_up(handlers: dict[JobKind, Handler]) -> threading.Thread:
    """Let the handlers that keep something warm (``handler.warm_up()``: the grading sandbox)
    start it beside the first claims, so that a start's cost is not a deadline's. A failed
    warm-up is only logged: the first job tries again and reports what went wrong."""
    def run() -> None:
        for kind, handler in handlers.items():
            if hasattr(handler, "warm_up"):
                started = time.monotonic()
                try:
                    handler.warm_up()
                    log.info("%s handler warmed up in %.1f s", kind, time.monotonic() - started)
                except Exception:  # noqa: BLE001 - the job that needs it fails with the reason
                    log.warning("could not warm up the %s handler; its first job will try again", kind,
                                exc_info=True)
    thread = threading.Thread(target=run, name="warm-up", daemon=True)
    thread.start()
    return thread


def lower_priority(nice: int) -> int:
    """Make this process (and so all it starts later) at least this nice; returns the niceness.
    Only ever lowers the priority: a worker started nicer than asked stays so."""
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if nice > current:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    return os.getpriority(os.PRIO_PROCESS, 0)


def main(settings: Settings) -> None:
    lower_priority(settings.worker.nice)  # before the sandbox's processes are started
    logging.basicConfig(level=logging.INFO, format="[%(levelname).1s %(asctime)s %(name)s] %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    name = os.environ.get("SABAQ_WORKER_NAME") or f"{socket.gethostname()}-{os.getpid()}"
    worker = Worker(connect(settings.service_url, settings.worker.token, name), handlers_for(settings),
                    settings.worker.poll_seconds, renew_seconds=max(1.0, settings.worker.lease_seconds / 3),
                    batch=settings.worker.batch, claim_wait=settings.worker.claim_wait_seconds)

    def stop(*_):
        worker.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("worker %s polling %s", name, settings.service_url)
    warm_up(worker.handlers)
    try:
        worker.run()
    finally:
        worker.close()
