"""A worker's warm-up, for real: the sandbox starts and the worker's own notebook goes through
nbgrader's whole pipeline in it (generated, released, graded), before any job; the first job
then uses that same sandbox, though the thread that started it has ended."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from sabaq.autograders.jobs.grade import GradeHandler, warm_up_bundle
from sabaq.autograders.sandbox.executor import Executor
from sabaq.settings import Settings

pytestmark = pytest.mark.grading


def test_the_warm_up_grades_its_untouched_notebook_zero_and_keeps_the_sandbox(tmp_path):
    settings = Settings.load(data_dir=tmp_path / "data", environ={})
    handler = GradeHandler(settings.grading, cache_root=tmp_path / "cache")
    try:
        result = handler.warm_up()
        assert (result.status, result.score, result.max_score) == ("graded", 0.0, 1.0)
        test = result.details.notebooks["warm-up"].cells["test"]
        assert (test.auto_score, test.needs_manual_grade) == (0.0, False)
        sandbox = handler.executor
        assert sandbox is not None and sandbox.started

        # a student who solved it, graded next: full marks, in the warm sandbox
        bundle = warm_up_bundle()
        released = (tmp_path / "cache" / "sabaq-warm-up--warm-up--v1" / "release" / "warm-up" / "warm-up.ipynb")
        solved = released.read_text().replace("# YOUR CODE HERE\\n", "").replace(
            "raise NotImplementedError()", "return x * x")
        outcome = handler.grade([bundle._replace(meta=bundle.meta.model_copy(update={"student": "solver"}),
                                                 submitted={"warm-up.ipynb": solved.encode()})])[0]
        assert not isinstance(outcome, Exception), outcome
        assert outcome.score == 1.0
        assert handler.executor is sandbox
    finally:
        handler.close()


def _run(executor, source):
    return executor.run({}, [(0, source, False)]).result(timeout=120)


def test_a_sandbox_started_by_a_passing_thread_outlives_it_and_a_killed_zygote_is_replaced(tmp_path):
    """bubblewrap's --die-with-parent follows the thread that started the sandbox: a warm-up
    thread's sandbox, and the one the reader starts after a zygote died, must not die with it."""
    settings = Settings.load(data_dir=tmp_path / "data", environ={})
    started = {}
    thread = threading.Thread(target=lambda: started.setdefault("executor", Executor(settings.grading).start()))
    thread.start()
    thread.join()
    executor = started["executor"]
    try:
        time.sleep(0.5)  # the thread is gone
        assert _run(executor, "print(6 * 7)")["status"] == "ok"
        os.killpg(os.getpgid(executor.proc.pid), signal.SIGKILL)  # the whole zygote, as the OOM killer might
        deadline = time.monotonic() + 60
        while executor.restarts == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert executor.restarts == 1
        time.sleep(0.5)  # the replacement outlives a moment of its own
        answer = _run(executor, "print(6 * 7)")
        assert answer["status"] == "ok", answer
        assert executor.restarts == 1
    finally:
        executor.close()
