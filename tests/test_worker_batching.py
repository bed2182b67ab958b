"""A worker grades a deadline's submissions of one assignment in one run of nbgrader's
pipeline, as `sabaq grade batch` grades a class, yet each submission stays a job of its
own: reported by itself, failed by itself, retried by another worker when this one dies.
And a submission is graded with the time the service recorded, whatever its timestamp.txt.

The service runs in this process (uvicorn on loopback); workers are the real thing, with
the sandbox, talking to it over HTTP."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest
import uvicorn
from sqlalchemy import select

from sabaq.archive import read_tree
from sabaq.autograders.jobs import grade
from sabaq.autograders.worker import Worker, connect, handlers_for
from sabaq.devtools.ports import free_port
from sabaq.hub.domain import accounts, courses, gradebook, kinds
from sabaq.hub.domain import assignments as asg
from sabaq.hub.domain.authoring import generate_release
from sabaq.hub.service.app import create_app
from sabaq.hub.store.database import upgrade
from sabaq.hub.store.models import GradeResult, Job, JobState, Role, Submission, utcnow
from sabaq.settings import Settings, ensure_secrets

pytestmark = pytest.mark.grading
SOURCE = Path(__file__).resolve().parents[1] / "courses" / "demo" / "source" / "ps1"
RIGHT = "def speed(s, t):\n    if t <= 0:\n        raise ValueError\n    return s / t"  # 3 of 3 autograded points
WRONG = "def speed(s, t):\n    return s * t"
LEASE = 5


def answer(code: str) -> bytes:
    nb = nbformat.read(SOURCE / "motion.ipynb", as_version=4)
    nb.cells[1].source = code
    return nbformat.writes(nb).encode()


def unreadable_by_nbgrader() -> bytes:
    """A notebook nbgrader's pipeline stops on: a cell claiming an nbgrader schema from the future."""
    nb = nbformat.reads(answer(RIGHT).decode(), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": {
        "schema_version": 99, "grade": False, "solution": False, "locked": False, "grade_id": "mine"}}))
    return nbformat.writes(nb).encode()



class Service:
    """sabaq's service on loopback, one course with the demo's ps1 released."""

    def __init__(self, data: Path):
        data.mkdir(parents=True, exist_ok=True)
        ensure_secrets(data)
        self.environ = {"SABAQ_SERVICE_IP": "127.0.0.1", "SABAQ_SERVICE_PORT": str(free_port()),
                        "SABAQ_WORKER_LEASE_SECONDS": str(LEASE), "SABAQ_WORKER_POLL_SECONDS": "0.2"}
        self.data = data
        self.settings = Settings.load(data_dir=data, environ=self.environ)
        upgrade(self.settings.database_url)
        self.app = create_app(self.settings)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.settings.service.port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.05)
        with self.app.state.sessions() as db:
            course = courses.create_course(db, "phys9", "Physics 9")
            asg.release(db, course, "ps1", generate_release(SOURCE, "ps1", "phys9"), read_tree(SOURCE))
            db.commit()

    def submit(self, student: str, files: dict[str, bytes]) -> int:
        """A student's submission, stored and queued as the submissions route stores it."""
        with self.app.state.sessions() as db:
            course = courses.get_course(db, "phys9")
            user = accounts.create_user(db, student)
            courses.set_member(db, course, user, Role.student, "9A")
            submission = asg.submit(db, asg.get_assignment(db, course, "ps1"), user, files)
            kinds.enqueue_grading(db, submission)
            db.commit()
            return submission.id

    def job(self, submission_id: int) -> Job:
        with self.app.state.sessions() as db:
            return db.scalar(select(Job).where(Job.key == f"grade:{submission_id}"))

    def result(self, submission_id: int) -> GradeResult:
        with self.app.state.sessions() as db:
            return db.scalar(select(GradeResult).where(GradeResult.submission_id == submission_id,
                                                       GradeResult.current.is_(True)))

    def worker(self, name: str) -> Worker:
        return Worker(connect(self.settings.service_url, self.settings.worker.token, name),
                      handlers_for(self.settings), batch=8, renew_seconds=1)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.app.state.engine.dispose()


@pytest.fixture
def service(tmp_path):
    s = Service(tmp_path / "data")
    yield s
    s.stop()


@pytest.fixture
def runs(monkeypatch):
    """The students of each run of nbgrader's pipeline a worker makes."""
    seen: list[list[str]] = []
    original = grade.grade_course

    def grade_course(course, *args, **kwargs):
        seen.append(sorted(p.name for p in (Path(course) / "submitted").iterdir()))
        return original(course, *args, **kwargs)

    monkeypatch.setattr(grade, "grade_course", grade_course)
    return seen


def work_until_done(worker: Worker, service: Service, submissions: list[int], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not all(service.job(s).state == JobState.done for s in submissions):
        assert time.monotonic() < deadline, [(s, service.job(s).state) for s in submissions]
        if not worker.run_one():
            time.sleep(0.2)


def test_a_deadlines_submissions_are_graded_in_one_run_and_reported_each_alone(service, runs):
    right = service.submit("aliya", {"motion.ipynb": answer(RIGHT)})
    wrong = service.submit("bolat", {"motion.ipynb": answer(WRONG)})
    broken = service.submit("dana", {"motion.ipynb": unreadable_by_nbgrader()})
    also_right = service.submit("erlan", {"motion.ipynb": answer(RIGHT)})
    worker = service.worker("w1")
    try:
        work_until_done(worker, service, [right, wrong, broken, also_right])
    finally:
        worker.close()
    assert runs == [["aliya", "bolat", "dana", "erlan"]]  # one run of nbgrader's pipeline for the four
    scores = {s: (service.result(s).status, service.result(s).score) for s in (right, wrong, broken, also_right)}
    assert scores == {right: ("graded", 3.0), wrong: ("graded", 0.0), broken: ("failed", 0.0),
                      also_right: ("graded", 3.0)}
    # the one nbgrader could not grade failed alone, saying why; each job was reported by itself
    assert "SchemaTooNewError" in service.result(broken).error
    assert service.result(right).details["notebooks"]["motion"]["cells"]["test_speed"]["score"] == 2.0
    assert all(service.result(s).job_id == service.job(s).id for s in (right, wrong, broken, also_right))


def test_a_second_submission_of_one_student_waits_for_the_next_run(service, runs):
    first = service.submit("aliya", {"motion.ipynb": answer(WRONG)})
    with service.app.state.sessions() as db:
        course = courses.get_course(db, "phys9")
        user = db.scalar(select(Submission).where(Submission.id == first)).student
        second = asg.submit(db, asg.get_assignment(db, course, "ps1"), user, {"motion.ipynb": answer(RIGHT)})
        kinds.enqueue_grading(db, second)
        db.commit()
        second = second.id
    other = service.submit("bolat", {"motion.ipynb": answer(RIGHT)})
    worker = service.worker("w1")
    try:
        work_until_done(worker, service, [first, second, other])
    finally:
        worker.close()
    assert runs == [["aliya", "bolat"], ["aliya"]]
    assert (service.result(first).score, service.result(second).score, service.result(other).score) == (0.0, 3.0, 3.0)


def test_a_garbage_timestamp_is_graded_with_the_services_time_and_a_note(service):
    with service.app.state.sessions() as db:
        ps1 = asg.get_assignment(db, courses.get_course(db, "phys9"), "ps1")
        ps1.due_at = utcnow() - dt.timedelta(days=1)  # due yesterday: what comes now is late
        asg.configure(ps1, late_policy="zero")
        db.commit()
    garbage = service.submit("aliya", {"motion.ipynb": answer(RIGHT), "timestamp.txt": b"\xff\xfe\x00 not a time"})
    # a forged time before the due date changes nothing either: the service's time decides
    forged = service.submit("bolat", {"motion.ipynb": answer(RIGHT), "timestamp.txt": b"2020-01-01 09:00:00 UTC"})
    worker = service.worker("w1")
    try:
        work_until_done(worker, service, [garbage, forged])
    finally:
        worker.close()
    with service.app.state.sessions() as db:
        recorded = {s: asg.nbgrader_timestamp(db.get(Submission, s).submitted_at) for s in (garbage, forged)}
        book = gradebook.build(db, courses.get_course(db, "phys9"))
        marks = {row.student.name: row.marks[book.assignments[0].id] for row in book.rows}
    for submission in (garbage, forged):
        result = service.result(submission)
        assert (result.status, result.score) == ("graded", 3.0), result.error  # nbgrader no longer stops
    assert service.result(garbage).details["notes"] == [
        {"message": grade.TIME_UNREADABLE, "params": {"recorded": recorded[garbage]}}]
    assert service.result(forged).details["notes"] == [
        {"message": grade.TIME_DIFFERENT, "params": {"found": "2020-01-01 09:00:00 UTC",
                                                     "recorded": recorded[forged]}}]
    # late by the time the service recorded: the zero policy takes the three points
    assert [(m.late, m.late_penalty, m.score) for m in (marks["aliya"], marks["bolat"])] == [(True, 3.0, 0.0)] * 2


def test_a_killed_workers_batch_is_graded_by_another_worker(service, tmp_path):
    slow = answer("import time\ntime.sleep(4)\n" + RIGHT)  # keeps the batch running while the worker is killed
    submissions = [service.submit(name, {"motion.ipynb": body}) for name, body in
                   (("aliya", slow), ("bolat", answer(WRONG)), ("dana", answer(RIGHT)))]
    env = dict(os.environ, **service.environ, SABAQ_DATA=str(service.data), SABAQ_WORKER_NAME="doomed")
    with open(tmp_path / "doomed.log", "wb") as log:
        doomed = subprocess.Popen([sys.executable, "-m", "sabaq", "worker", "--data", str(service.data)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not all(service.job(s).state == JobState.running and service.job(s).worker == "doomed"
                      for s in submissions):
            assert time.monotonic() < deadline and doomed.poll() is None, (tmp_path / "doomed.log").read_text()
            time.sleep(0.1)
    finally:
        os.killpg(doomed.pid, signal.SIGKILL)  # the worker, its sandbox and the notebooks it was running
        doomed.wait(30)
    assert all(service.result(s) is None for s in submissions)  # it died before reporting any of them
    worker = service.worker("rescuer")
    try:
        work_until_done(worker, service, submissions)
    finally:
        worker.close()
    jobs = [service.job(s) for s in submissions]
    assert [(j.worker, j.attempts) for j in jobs] == [("rescuer", 2)] * 3
    assert [service.result(s).score for s in submissions] == [3.0, 0.0, 3.0]
