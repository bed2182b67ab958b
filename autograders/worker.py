"""A worker: claims jobs from the service over HTTP, runs them, reports back.

Workers hold only the worker token and talk only to the service, so they can
run anywhere (a process beside the hub, or a locked-down pod). A job whose
worker dies is handed out again when its lease lapses (see sabaq.hub.store.jobs).
Each job kind (``sabaq.contracts.JobKind``) has one handler in ``jobs``:
``check`` reads a submission's notebooks without running them and reports what
a teacher should know, ``grade`` autogrades them in the sandbox, ``judge`` runs
an olympiad program on its package's tests. A handler returns the kind's result
model; the worker sends its JSON.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from typing import Callable

from sabaq.autograders.jobs.check import handle_check
from sabaq.autograders.jobs.grade import GradeHandler
from sabaq.autograders.jobs.judge import handle_judge
from sabaq.client import ServiceClient, ServiceError, ServiceUnreachable
from sabaq.contracts import WORKER_API, Contract, JobKind
from sabaq.settings import Settings

log = logging.getLogger("sabaq.worker")

Handler = Callable[[ServiceClient, dict], Contract]  # (client, the job's payload) -> the kind's result

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


class Worker:
    def __init__(self, client: ServiceClient, handlers: dict[JobKind, Handler], poll_seconds: float = 1.0,
                 renew_seconds: float = 60.0):
        self.client = client
        self.handlers = handlers
        self.poll_seconds = poll_seconds
        self.renew_seconds = renew_seconds
        self.stopping = False

    def post(self, path: str, body: dict, ok: tuple[int, ...] = (200, 409)):
        """A call about a job; 409 means the lease was lost (the job is someone else's now)."""
        return self.client.post(WORKER_API + path, json=body, ok=ok)

    def claim(self) -> dict | None:
        r = self.post("claim", {"kinds": sorted(self.handlers)}, ok=(200, 204))
        return None if r.status_code == 204 else r.json()

    def run_one(self) -> bool:
        """Claim and run one job; False if there was none."""
        job = self.claim()
        if job is None:
            return False
        handler = self.handlers[JobKind(job["kind"])]
        done = threading.Event()

        def keep_lease():
            while not done.wait(self.renew_seconds):
                try:
                    self.post(f"jobs/{job['id']}/renew", {})
                except (ServiceError, ServiceUnreachable) as e:  # the next renewal may get through
                    log.warning("job %s: lease not renewed: %s", job["id"], e)

        keeper = threading.Thread(target=keep_lease, daemon=True)
        keeper.start()
        try:
            result = handler(self.client, job["payload"])
        except Exception as e:
            log.exception("job %s (%s) failed", job["id"], job["kind"])
            self.post(f"jobs/{job['id']}/fail", {"error": f"{type(e).__name__}: {e}"})
            return True
        finally:
            done.set()
        try:
            r = self.post(f"jobs/{job['id']}/complete", {"result": result.to_json()})
        except ServiceError as e:
            if e.status != 422:
                raise
            # the service refused the result's shape: a bug, which another attempt would repeat
            log.error("job %s (%s): the service refused its result: %s", job["id"], job["kind"], e)
            self.post(f"jobs/{job['id']}/fail", {"error": str(e)})
            return True
        if r.status_code == 409:
            log.warning("job %s was taken over by another worker; result dropped", job["id"])
        return True

    def run(self, max_jobs: int | None = None) -> int:
        """Work until stopped (SIGTERM/SIGINT) or max_jobs are done."""
        done = 0
        delay = self.poll_seconds
        while not self.stopping and (max_jobs is None or done < max_jobs):
            try:
                if self.run_one():
                    done += 1
                    delay = self.poll_seconds
                    continue
            except (ServiceError, ServiceUnreachable) as e:
                log.warning("service: %s", e)
                delay = min(delay * 2, 30)
            time.sleep(delay)
        return done

    def close(self) -> None:
        for handler in self.handlers.values():
            if hasattr(handler, "close"):
                handler.close()
        self.client.close()


def main(settings: Settings) -> None:
    logging.basicConfig(level=logging.INFO, format="[%(levelname).1s %(asctime)s %(name)s] %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    name = os.environ.get("SABAQ_WORKER_NAME") or f"{socket.gethostname()}-{os.getpid()}"
    worker = Worker(connect(settings.service_url, settings.worker.token, name), handlers_for(settings),
                    settings.worker.poll_seconds, renew_seconds=max(1.0, settings.worker.lease_seconds / 3))

    def stop(*_):
        worker.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("worker %s polling %s", name, settings.service_url)
    try:
        worker.run()
    finally:
        worker.close()
