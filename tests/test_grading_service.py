"""Grading through the service: submit, a worker grades in the sandbox, the teacher
sees the score; a worker killed mid-job loses nothing; regrading is one call."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import nbformat
import pytest
from sqlalchemy import select

from sabaq.hub.store.models import GradeResult, Job, JobState

pytestmark = [pytest.mark.e2e, pytest.mark.grading]
SOURCE = Path(__file__).resolve().parents[1] / "courses" / "demo" / "source" / "ps1" / "motion.ipynb"


def wait_for(check, timeout=120, interval=0.3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    return None


def submit(stack, student: str, solution: str) -> int:
    nb = nbformat.read(SOURCE, as_version=4)
    nb.cells[1].source = solution
    r = stack.api(student).post("/courses/demo/assignments/ps1/submissions",
                                files=[("files", ("motion.ipynb", nbformat.writes(nb).encode(), "x"))])
    assert r.status_code == 201, r.text
    return r.json()["id"]


def grade_of(stack, submission_id: int):
    subs = stack.api("teacher").get("/courses/demo/assignments/ps1/submissions").json()
    return next((s["grade"] for s in subs if s["id"] == submission_id), None)


def results(stack, submission_id: int) -> list[GradeResult]:
    with stack.sessions()() as db:
        return list(db.scalars(select(GradeResult).where(GradeResult.submission_id == submission_id)
                               .order_by(GradeResult.id)))


def test_submission_is_graded_in_the_sandbox_and_the_teacher_sees_the_score(stack):
    good = submit(stack, "aliya", "def speed(s, t):\n    if t <= 0:\n        raise ValueError\n    return s / t")
    bad = submit(stack, "sofia", "def speed(s, t):\n    return s * t")
    grade = wait_for(lambda: grade_of(stack, good), timeout=180)
    assert grade, stack.log_tail()
    assert grade["status"] == "graded"
    assert grade["score"] == 3.0 and grade["max_score"] == 4.0 and grade["needs_manual_grade"] is True
    cells = grade["details"]["notebooks"]["motion"]["cells"]
    assert cells["test_speed"]["score"] == 2.0 and cells["test_zero_time"]["score"] == 1.0
    poor = wait_for(lambda: grade_of(stack, bad), timeout=120)
    assert poor["score"] == 0.0
    # students do not see autograde scores through the API (the teacher releases feedback)
    mine = stack.api("aliya").get("/courses/demo/assignments/ps1/submissions").json()
    assert all(s["grade"] is None for s in mine)
    page = stack.api("teacher").get(stack.service_url + "courses/demo/assignments/ps1",
                                    headers={"accept": "text/html"}).text
    assert "3 / 4" in page


def _worker_pids(stack) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = open(f"/proc/{entry}/cmdline", "rb").read().split(b"\0")
            environ = open(f"/proc/{entry}/environ", "rb").read()
        except OSError:
            continue
        if b"worker" in cmdline and b"sabaq" in b" ".join(cmdline) and \
                f"SABAQ_DATA={stack.data_dir}".encode() in environ:
            pids.append(int(entry))
    return pids


def test_worker_killed_mid_job_loses_nothing(stack):
    sid = submit(stack, "timur", "import time\ntime.sleep(6)\ndef speed(s, t):\n    if t <= 0:\n"
                                 "        raise ValueError\n    return s / t")

    def running():
        with stack.sessions()() as db:
            job = db.scalar(select(Job).where(Job.key == f"grade:{sid}"))
            return job if job is not None and job.state == JobState.running else None

    assert wait_for(running, timeout=120)
    pids = _worker_pids(stack)
    assert pids
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    grade = wait_for(lambda: grade_of(stack, sid), timeout=180)  # the hub restarts the worker
    assert grade and grade["score"] == 3.0, stack.log_tail()
    with stack.sessions()() as db:
        job = db.scalar(select(Job).where(Job.key == f"grade:{sid}"))
        assert job.state == JobState.done and job.attempts >= 2
    assert [r.current for r in results(stack, sid)] == [True]


def test_regrade_makes_a_new_current_result_and_keeps_the_old(stack):
    sid = submit(stack, "timur", "def speed(s, t):\n    return s / t")
    first = wait_for(lambda: grade_of(stack, sid), timeout=180)
    assert first["score"] == 2.0  # no ValueError check
    r = stack.api("teacher").post("/courses/demo/assignments/ps1/regrade")
    assert r.status_code == 200 and r.json()["queued"] >= 1
    assert stack.api("aliya").post("/courses/demo/assignments/ps1/regrade").status_code == 403
    assert wait_for(lambda: len(results(stack, sid)) == 2, timeout=180), stack.log_tail()
    kept = results(stack, sid)
    assert [r.current for r in kept] == [False, True]
    assert kept[1].score == kept[0].score == 2.0
