"""The worker's side of the contract: a handler for every job kind, results sent as the
contract's JSON through the project's service client, failures given back."""

from __future__ import annotations

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
    """Stands in for the service's worker API: one job to hand out, every call recorded."""

    def __init__(self, job: dict | None, complete: int = 200):
        self.job = job
        self.complete = complete
        self.calls: list[tuple[str, dict]] = []

    def post(self, path: str, *, json: dict, ok: tuple[int, ...]) -> httpx.Response:
        self.calls.append((path.removeprefix("api/v1/worker/"), json))
        if path.endswith("claim"):
            job, self.job = self.job, None
            status = 200 if job else 204
            assert status in ok
            return httpx.Response(status, json=job) if job else httpx.Response(status)
        status = self.complete if path.endswith("complete") else 200
        if status not in ok:
            raise ServiceError("{reason}", status=status, code="malformed", reason="The GradeResult is malformed")
        return httpx.Response(status, json={})

    def close(self) -> None:
        pass


CHECKED = CheckResult(warnings=[CheckWarning(message="The notebook '{notebook}' was not submitted.",
                                             params={"notebook": "hw.ipynb"})])


def run_one(service: Service, handler) -> bool:
    return worker.Worker(service, {JobKind.check: handler}, renew_seconds=60).run_one()


def test_a_result_is_sent_as_the_contracts_json():
    service = Service({"id": 5, "kind": "check", "payload": {"submission_id": 9}, "attempts": 1})
    seen = []
    assert run_one(service, lambda client, payload: seen.append(payload) or CHECKED)
    assert seen == [{"submission_id": 9}]
    assert service.calls == [("claim", {"kinds": ["check"]}), ("jobs/5/complete", {"result": CHECKED.to_json()})]


def test_no_job_is_no_work():
    service = Service(None)
    assert not run_one(service, lambda client, payload: pytest.fail("no job to run"))
    assert service.calls == [("claim", {"kinds": ["check"]})]


def test_a_handlers_error_gives_the_job_back():
    service = Service({"id": 5, "kind": "check", "payload": {}, "attempts": 1})

    def broken(client, payload):
        raise ValueError("no notebooks")

    assert run_one(service, broken)
    assert service.calls[-1] == ("jobs/5/fail", {"error": "ValueError: no notebooks"})


def test_a_result_the_service_refuses_gives_the_job_back():
    service = Service({"id": 5, "kind": "check", "payload": {}, "attempts": 1}, complete=422)
    assert run_one(service, lambda client, payload: CHECKED)
    assert [path for path, _ in service.calls] == ["claim", "jobs/5/complete", "jobs/5/fail"]
    assert "malformed" in service.calls[-1][1]["error"]


def test_a_lost_lease_drops_the_result_quietly():
    service = Service({"id": 5, "kind": "check", "payload": {}, "attempts": 1}, complete=409)
    assert run_one(service, lambda client, payload: CHECKED)
    assert [path for path, _ in service.calls] == ["claim", "jobs/5/complete"]
