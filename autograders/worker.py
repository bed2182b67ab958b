"""A worker: claims jobs from the service over HTTP, runs them, reports back.

Workers hold only the worker token and talk only to the service, so they can
run anywhere (a process beside the hub, or a locked-down pod). A job whose
worker dies is handed out again when its lease lapses (see sabaq.hub.store.jobs).
Each job kind has one handler: ``check`` reads a submission's notebooks,
without running them, and reports what a teacher should know; ``grade``
autogrades it in the sandbox (see ``service_grading``).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import time
from typing import Callable

import httpx

from sabaq.archive import unpack

from sabaq.autograders.jobs.check import check_submission

log = logging.getLogger("sabaq.worker")


def handle_check(client: "ServiceClient", payload: dict) -> dict:
    sid = payload["submission_id"]
    files = unpack(client.get(f"submissions/{sid}").content)
    submitted = {p[len("submission/"):]: c for p, c in files.items() if p.startswith("submission/")}
    released = {p[len("release/"):]: c for p, c in files.items() if p.startswith("release/")}
    return check_submission(released, submitted)


HANDLERS: dict[str, Callable[["ServiceClient", dict], dict]] = {"check": handle_check}


def grading_bundle(client: "ServiceClient", submission_id: int) -> tuple[dict, dict[str, bytes], dict[str, bytes]]:
    """What grading or judging one submission needs: (meta, the teacher's source, the
    submitted files), paths relative to the assignment's folder."""
    bundle = unpack(client.get(f"grading/{submission_id}").content)
    meta = json.loads(bundle.pop("meta.json"))

    def below(prefix: str) -> dict[str, bytes]:
        return {p[len(prefix):]: c for p, c in bundle.items() if p.startswith(prefix)}

    return (meta, below(f"source/{meta['assignment']}/"),
            below(f"submitted/{meta['student']}/{meta['assignment']}/"))


class ServiceClient:
    """The workers' side of /api/v1/worker."""

    def __init__(self, service_url: str, token: str, name: str):
        self.base = service_url.rstrip("/") + "/api/v1/worker/"
        self.http = httpx.Client(
            headers={"Authorization": f"token {token}", "X-Sabaq-Worker": name}, timeout=60
        )

    def get(self, path: str) -> httpx.Response:
        r = self.http.get(self.base + path)
        r.raise_for_status()
        return r

    def post(self, path: str, body: dict) -> httpx.Response:
        return self.http.post(self.base + path, json=body)

    def claim(self, kinds: list[str]) -> dict | None:
        r = self.post("claim", {"kinds": kinds})
        if r.status_code == 204:
            return None
        r.raise_for_status()
        return r.json()


class Worker:
    def __init__(self, client: ServiceClient, poll_seconds: float = 1.0, handlers=None,
                 renew_seconds: float = 60.0):
        self.client = client
        self.renew_seconds = renew_seconds
        self.poll_seconds = poll_seconds
        self.handlers = handlers or HANDLERS
        self.stopping = False

    def run_one(self) -> bool:
        """Claim and run one job; False if there was none."""
        job = self.client.claim(sorted(self.handlers))
        if job is None:
            return False
        handler = self.handlers[job["kind"]]
        done = threading.Event()

        def keep_lease():
            while not done.wait(self.renew_seconds):
                self.client.post(f"jobs/{job['id']}/renew", {})

        keeper = threading.Thread(target=keep_lease, daemon=True)
        keeper.start()
        try:
            result = handler(self.client, job["payload"])
        except Exception as e:
            log.exception("job %s (%s) failed", job["id"], job["kind"])
            self.client.post(f"jobs/{job['id']}/fail", {"error": f"{type(e).__name__}: {e}"})
            return True
        finally:
            done.set()
        r = self.client.post(f"jobs/{job['id']}/complete", {"result": result})
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
            except httpx.HTTPError as e:
                log.warning("service unreachable: %s", e)
                delay = min(delay * 2, 30)
            time.sleep(delay)
        return done


def handlers_for(settings) -> dict:
    from sabaq.autograders.jobs.grade import GradeHandler
    from sabaq.autograders.jobs.judge import handle_judge

    return {**HANDLERS, "grade": GradeHandler(settings.grading), "judge": handle_judge}


def main(settings) -> None:
    logging.basicConfig(level=logging.INFO, format="[%(levelname).1s %(asctime)s %(name)s] %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    name = os.environ.get("SABAQ_WORKER_NAME") or f"{socket.gethostname()}-{os.getpid()}"
    client = ServiceClient(settings.service_url, settings.worker.token, name)
    worker = Worker(client, settings.worker.poll_seconds, handlers_for(settings),
                    renew_seconds=max(1.0, settings.worker.lease_seconds / 3))

    def stop(*_):
        worker.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("worker %s polling %s", name, settings.service_url)
    try:
        worker.run()
    finally:
        grade = worker.handlers.get("grade")
        if hasattr(grade, "close"):
            grade.close()
