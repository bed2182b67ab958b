"""The worker's side of the contract: a handler for every job kind, results sent as the
contract's JSON through the project's service client, failures given back."""

from __future__ import annotations

import os
import threading

import httpx
import pytest

from sabaq.autograders import worker
from sabaq.client import ServiceClient, ServiceError
from sabaq.contracts import CheckResult, CheckWarning, JobKind
from sabaq.settings import Settings


def test_every_job_kind_has_a_handler(tmp_path):
    assert set(worker.JOBS) == set(JobKind)
    handlers = worker.handlers_for(Settings.load(data_dir=tmp_path, environ={}))
    try:
        assert set(handlers) == set(JobKind) and all(callable(h) for h in handlers.values())
    finally:
        for handler in handlers.values():
            if hasattr(handler, "close"):
                handler.close()


def test_the_worker_talks_through_the_projects_client_as_itself():
    client = worker.connect("http://service:8000/services/sabaq/", "secret", "pod-7")
    try:
        assert isinstance(client, ServiceClient)
        assert client.http.headers["X-Sabaq-Worker"] == "pod-7"
        assert client.http.headers["Authorization"] == "token secret"
        assert client.url("api/v1/worker/claim") == "http://service:8000/services/sabaq/api/v1/worker/claim"
    finally:
        client.close()


class Service:
    """Stands in for the service's worker API: jobs to hand out, every call recorded."""

    def __init__(self, *jobs: dict | None, complete: int = 200, lost: tuple[int, ...] = ()):
        self.jobs = [job for job in jobs if job]
        self.complete = complete  # the answer to a report (one, or a batch)
        self.lost = lost  # jobs a batch's report finds taken over
        self.calls: list[tuple[str, dict]] = []

    def post(self, path: str, *, json: dict, ok: tuple[int, ...]) -> httpx.Response:
        self.calls.append((path.removeprefix("api/v1/worker/"), json))
        if path.endswith("claim-many"):
            taken, self.jobs = self.jobs[:json["max_jobs"]], self.jobs[json["max_jobs"]:]
            assert 200 in ok
            return httpx.Response(200, json={"jobs": taken})
        if path.endswith("complete-many") and self.complete == 200:
            return httpx.Response(200, json={"states": {str(r["job_id"]): "lost" if r["job_id"] in self.lost else "done"
                                                        for r in json["reports"]}})
        status = self.complete if path.endswith(("complete", "complete-many")) else 200
        if status not in ok:
            raise ServiceError("{reason}", status=status, code="malformed", reason="The GradeResult is malformed")
        return httpx.Response(status, json={})

    def close(self) -> None:
        pass


CHECKED = CheckResult(warnings=[CheckWarning(message="The notebook '{notebook}' was not submitted.",
                                             params={"notebook": "hw.ipynb"})])


def run_one(service: Service, handler, batch: int = 1) -> bool:
    return worker.Worker(service, {JobKind.check: handler}, renew_seconds=60, batch=batch).run_one()


def test_a_result_is_sent_as_the_contracts_json():
    service = Service({"id": 5, "kind": "check", "payload": {"submission_id": 9}, "attempts": 1})
    seen = []
    assert run_one(service, lambda client, payload: seen.append(payload) or CHECKED)
    assert seen == [{"submission_id": 9}]
    assert service.calls == [("claim-many", {"kinds": ["check"], "max_jobs": 1}),
                             ("jobs/5/complete", {"result": CHECKED.to_json()})]


def test_no_job_is_no_work():
    service = Service(None)
    assert not run_one(service, lambda client, payload: pytest.fail("no job to run"))
    assert service.calls == [("claim-many", {"kinds": ["check"], "max_jobs": 1})]


def test_a_handlers_error_gives_the_job_back():
    service = Service({"id": 5, "kind": "check", "payload": {}, "attempts": 1})

    def broken(client, payload):
        raise ValueError("no notebooks")

    assert run_one(service, broken)
    assert service.calls[-1] == ("jobs/5/fail", {"error": "ValueError: no notebooks"})


def test_a_result_the_service_refuses_gives_the_job_back():
    service = Service({"id": 5, "kind": "check", "payload": {}, "attempts": 1}, complete=422)
    assert run_one(service, lambda client, payload: CHECKED)
    assert [path for path, _ in service.calls] == ["claim-many", "jobs/5/complete", "jobs/5/fail"]
    assert "malformed" in service.calls[-1][1]["error"]


def test_a_lost_lease_drops_the_result_quietly():
    service = Service({"id": 5, "kind": "check", "payload": {}, "attempts": 1}, complete=409)
    assert run_one(service, lambda client, payload: CHECKED)
    assert [path for path, _ in service.calls] == ["claim-many", "jobs/5/complete"]


def job(job_id: int) -> dict:
    return {"id": job_id, "kind": "check", "payload": {"submission_id": job_id * 10}, "attempts": 1}


def test_a_claim_takes_up_to_the_batch_and_its_results_are_reported_in_one_call():
    service = Service(job(1), job(2), job(3))
    assert run_one(service, lambda client, payload: CHECKED, batch=2)
    assert service.calls == [("claim-many", {"kinds": ["check"], "max_jobs": 2}),
                             ("complete-many", {"reports": [{"job_id": 1, "result": CHECKED.to_json()},
                                                            {"job_id": 2, "result": CHECKED.to_json()}]})]
    assert [j["id"] for j in service.jobs] == [3]  # left for the next claim


def test_a_batch_the_service_refuses_is_reported_job_by_job():
    """A malformed result refuses the whole batch (422): each is then reported alone, and the
    one the service refuses again is given back."""
    service = Service(job(1), job(2), complete=422)
    assert run_one(service, lambda client, payload: CHECKED, batch=2)
    assert [path for path, _ in service.calls] == ["claim-many", "complete-many", "jobs/1/complete", "jobs/1/fail",
                                                  "jobs/2/complete", "jobs/2/fail"]


def test_a_batch_with_a_lost_lease_keeps_the_others(caplog):
    service = Service(job(1), job(2), lost=(2,))
    assert run_one(service, lambda client, payload: CHECKED, batch=2)
    assert [path for path, _ in service.calls] == ["claim-many", "complete-many"]
    assert "job 2 was taken over" in caplog.text and "job 1 " not in caplog.text


class Together:
    """A handler that takes several jobs at once, as the grade handler does."""

    def __init__(self, outcomes):
        self.outcomes = outcomes
        self.runs: list[list[dict]] = []

    def __call__(self, client, payload):
        pytest.fail("several jobs are run together")

    def run_many(self, client, payloads):
        self.runs.append(payloads)
        return self.outcomes


def test_a_batch_is_run_together_and_one_failure_gives_back_only_its_own_job():
    service = Service(job(1), job(2), job(3))
    handler = Together([CHECKED, ValueError("broken notebook"), CHECKED])
    assert run_one(service, handler, batch=8)
    assert handler.runs == [[{"submission_id": 10}, {"submission_id": 20}, {"submission_id": 30}]]
    assert service.calls[1:] == [("jobs/2/fail", {"error": "ValueError: broken notebook"}),
                                 ("complete-many", {"reports": [{"job_id": 1, "result": CHECKED.to_json()},
                                                                {"job_id": 3, "result": CHECKED.to_json()}]})]


def test_a_batch_whose_handler_breaks_gives_every_job_back():
    service = Service(job(1), job(2))

    class Broken(Together):
        def run_many(self, client, payloads):
            raise RuntimeError("no sandbox")

    assert run_one(service, Broken([]), batch=8)
    assert service.calls[1:] == [("jobs/1/fail", {"error": "RuntimeError: no sandbox"}),
                                 ("jobs/2/fail", {"error": "RuntimeError: no sandbox"})]


def test_the_lease_of_every_job_of_a_batch_is_renewed_while_it_runs():
    service = Service(job(1), job(2))
    renewed = threading.Event()

    class Slow(Together):
        def run_many(self, client, payloads):
            assert renewed.wait(10)
            return [CHECKED, CHECKED]

    calls = service.calls
    original = service.post

    def post(path, *, json, ok):
        if path.endswith("renew") and {"jobs/1/renew", "jobs/2/renew"} <= {c[0] for c in calls}:
            renewed.set()
        return original(path, json=json, ok=ok)

    service.post = post
    assert worker.Worker(service, {JobKind.check: Slow([])}, renew_seconds=0.01, batch=2).run_one()
    paths = [c[0] for c in calls]
    assert {"jobs/1/renew", "jobs/2/renew"} <= set(paths)
    assert paths[-1] == "complete-many" and [r["job_id"] for r in calls[-1][1]["reports"]] == [1, 2]


def _priority_in_a_child(start_at: int, ask: int) -> tuple[int, int]:
    """(what lower_priority returned, the niceness a process started after it has), in a fork."""
    import multiprocessing
    import subprocess

    from sabaq.autograders.worker import lower_priority

    def child(pipe):
        os.setpriority(os.PRIO_PROCESS, 0, start_at)
        got = lower_priority(ask)
        later = int(subprocess.run(["sh", "-c", "cut -d' ' -f19 /proc/$$/stat"], capture_output=True,
                                   text=True).stdout)
        pipe.send((got, later))

    parent, end = multiprocessing.get_context("fork").Pipe()
    proc = multiprocessing.get_context("fork").Process(target=child, args=(end,))
    proc.start()
    result = parent.recv()
    proc.join()
    return result


def test_a_worker_and_what_it_starts_run_at_the_configured_niceness():
    assert _priority_in_a_child(0, 10) == (10, 10)


def test_a_worker_started_nicer_stays_so():
    assert _priority_in_a_child(15, 10) == (15, 15)


def test_workers_are_nice_by_default_and_it_can_be_set(tmp_path):
    assert Settings.load(data_dir=tmp_path, environ={}).worker.nice == 10
    assert Settings.load(data_dir=tmp_path, environ={"SABAQ_WORKER_NICE": "0"}).worker.nice == 0
