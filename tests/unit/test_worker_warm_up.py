"""A worker starts its grading sandbox when it starts, not at its first job, and grades a notebook
of its own once: the sandbox's warm process imports for seconds and nbgrader's first run builds
its validators, which would otherwise land on the first deadline after a start."""

from __future__ import annotations

import logging
import threading
from types import SimpleNamespace

import nbformat
import pytest

from sabaq.autograders import worker
from sabaq.autograders.jobs import grade
from sabaq.settings import Settings


class FakeExecutor:
    """Stands in for the sandbox: counts starts and closes; a start can be held or made to fail."""
    made: list[FakeExecutor] = []
    fail = False
    gate: threading.Event | None = None

    def __init__(self, grading):
        self.grading = grading
        self.started = False
        self.closed = False
        FakeExecutor.made.append(self)

    def start(self):
        if FakeExecutor.gate is not None:
            FakeExecutor.gate.wait(5)
        if FakeExecutor.fail:
            raise RuntimeError("the sandbox did not start")
        self.started = True
        return self

    def close(self):
        self.closed = True


@pytest.fixture
def handler(monkeypatch, tmp_path):
    FakeExecutor.made, FakeExecutor.fail, FakeExecutor.gate = [], False, None
    monkeypatch.setattr(grade, "Executor", FakeExecutor)
    h = grade.GradeHandler(Settings.load(tmp_path, environ={}).grading, cache_root=tmp_path / "cache")
    graded = []

    def grade_here(bundles):  # nbgrader's run with the fake sandbox: what it was given, and a result
        graded.extend(bundles)
        return [SimpleNamespace(status="graded")]

    monkeypatch.setattr(h, "_grade_here", grade_here)
    h.graded = graded
    yield h
    h.close()


def test_warm_up_starts_the_sandbox_that_the_jobs_then_use(handler):
    handler.warm_up()
    assert [e.started for e in FakeExecutor.made] == [True]
    assert handler.sandbox() is FakeExecutor.made[0]
    assert len(FakeExecutor.made) == 1  # the job did not start a second one


def test_warm_up_grades_the_released_warm_up_notebook_once(handler):
    result = handler.warm_up()
    assert result.status == "graded"
    [bundle] = handler.graded
    assert bundle.meta.course == "sabaq-warm-up" and list(bundle.submitted) == ["warm-up.ipynb"]
    released = nbformat.reads(bundle.submitted["warm-up.ipynb"].decode(), as_version=4)
    assert "NotImplementedError" in released.cells[0].source  # the solution was taken out
    assert "checksum" in released.cells[1].metadata.nbgrader  # as generate_assignment releases it


def test_a_job_during_the_warm_up_waits_for_its_sandbox_instead_of_starting_another(handler):
    FakeExecutor.gate = threading.Event()
    warming = threading.Thread(target=handler.warm_up)
    warming.start()
    got = []
    job = threading.Thread(target=lambda: got.append(handler.sandbox()))
    job.start()
    job.join(0.3)
    assert job.is_alive() and not got  # waits while the warm-up's start is under way
    FakeExecutor.gate.set()
    warming.join(5)
    job.join(5)
    assert len(FakeExecutor.made) == 1 and got == [FakeExecutor.made[0]]


def test_a_sandbox_that_fails_to_start_is_closed_and_tried_again_at_the_next_job(handler):
    FakeExecutor.fail = True
    with pytest.raises(RuntimeError):
        handler.warm_up()
    assert FakeExecutor.made[0].closed  # its uid lease goes back
    assert handler.executor is None
    FakeExecutor.fail = False
    assert handler.sandbox() is FakeExecutor.made[1] and FakeExecutor.made[1].started


def test_the_worker_warms_its_handlers_up_and_only_logs_a_failed_warm_up(caplog):
    warmed = []

    class Warm:
        def warm_up(self):
            warmed.append("grade")

    class Broken:
        def warm_up(self):
            raise RuntimeError("no sandbox here")

    def cold(client, payload):  # a handler with nothing to warm
        return None

    with caplog.at_level(logging.WARNING, logger="sabaq.worker"):
        worker.warm_up({"grade": Warm(), "judge": Broken(), "check": cold}).join(5)
    assert warmed == ["grade"]
    assert "could not warm up the judge handler" in caplog.text
