"""Courses, releases, submissions and the job queue, on SQLite and PostgreSQL."""

import datetime as dt
import threading

import nbformat
import pytest
from sqlalchemy import func, select

from sabaq.errors import Forbidden, Invalid, NotFound
from sabaq.hub.domain import accounts, courses
from sabaq.hub.domain import assignments as asg
from sabaq.hub.store import jobs
from sabaq.hub.store.models import Blob, FileKind, Job, JobState, Role, Submission, utcnow


def notebook(code="x = 1") -> bytes:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(code, id="cell-1"))
    return nbformat.writes(nb).encode()


@pytest.fixture
def world(db):
    course = courses.create_course(db, "phys9", "Физика 9")
    teacher = accounts.create_user(db, "teacher", password="x" * 10)
    aliya = accounts.create_user(db, "aliya", full_name="Әлия", password="y" * 10)
    courses.set_member(db, course, teacher, Role.teacher)
    courses.set_member(db, course, aliya, Role.student, "9A")
    db.commit()
    return course, teacher, aliya


def test_release_keeps_source_private_and_bumps_version(db, world):
    course, _, _ = world
    a = asg.release(db, course, "ps1", {"ps1.ipynb": notebook("pass")}, {"ps1.ipynb": notebook("secret = 42")})
    assert a.version == 1
    assert asg.files_of(db, a, FileKind.release) == {"ps1.ipynb": notebook("pass")}
    assert b"secret = 42" in asg.files_of(db, a, FileKind.source)["ps1.ipynb"]
    a = asg.release(db, course, "ps1", {"ps1.ipynb": notebook("pass # v2")}, {})
    assert a.version == 2 and asg.files_of(db, a, FileKind.source) == {}


def test_release_needs_a_notebook_and_a_valid_name(db, world):
    course, _, _ = world
    with pytest.raises(Invalid):
        asg.release(db, course, "ps1", {"readme.txt": b"hi"}, {})
    with pytest.raises(Invalid):
        asg.release(db, course, "../ps1", {"a.ipynb": notebook()}, {})


def test_every_attempt_is_kept_with_its_files_and_check_job(db, world):
    course, _, aliya = world
    a = asg.release(db, course, "ps1", {"ps1.ipynb": notebook()}, {})
    first = asg.submit(db, a, aliya, {"ps1.ipynb": notebook("x = 1")})
    second = asg.submit(db, a, aliya, {"ps1.ipynb": notebook("x = 2"), "data/input.txt": "ақ".encode()})
    db.commit()
    assert (first.attempt, second.attempt) == (1, 2)
    files = asg.submission_files(db, first)
    assert files["ps1.ipynb"] == notebook("x = 1")
    assert files["timestamp.txt"].decode().endswith(" UTC")
    assert asg.submission_files(db, second)["data/input.txt"] == "ақ".encode()
    assert [s.attempt for s in asg.latest_submissions(db, a)] == [2]
    keys = set(db.scalars(select(Job.key)))
    assert keys == {f"check:{first.id}", f"check:{second.id}"}


def test_identical_files_are_stored_once(db, world):
    course, _, aliya = world
    a = asg.release(db, course, "ps1", {"ps1.ipynb": notebook()}, {"ps1.ipynb": notebook()})
    asg.submit(db, a, aliya, {"ps1.ipynb": notebook()})
    db.commit()
    assert db.scalar(select(func.count()).select_from(Blob)) == 1


def test_late_and_closed(db, world):
    course, _, aliya = world
    now = utcnow()
    a = asg.release(db, course, "ps1", {"ps1.ipynb": notebook()}, {},
                    due_at=now - dt.timedelta(hours=1), closes_at=now + dt.timedelta(hours=1), now=now - dt.timedelta(days=1))
    assert asg.submit(db, a, aliya, {"ps1.ipynb": notebook()}, now=now).late is True
    with pytest.raises(Forbidden) as err:
        asg.submit(db, a, aliya, {"ps1.ipynb": notebook()}, now=now + dt.timedelta(hours=2))
    assert err.value.code == "closed"
    assert "Задание «ps1» закрыто" in err.value.translated("ru")


def test_unreleased_assignment_is_invisible_to_students(db, world):
    course, _, aliya = world
    a = asg.release(db, course, "ps1", {"ps1.ipynb": notebook()}, {})
    a.released_at = None
    db.flush()
    assert asg.get_assignment(db, course, "ps1", staff=True) is a
    with pytest.raises(NotFound):
        asg.get_assignment(db, course, "ps1", staff=False)
    with pytest.raises(NotFound):
        asg.submit(db, a, aliya, {"ps1.ipynb": notebook()})


def test_access_rules(db, world):
    course, teacher, aliya = world
    other = courses.create_course(db, "other", "Other")
    stranger_teacher = accounts.create_user(db, "t2")
    courses.set_member(db, other, stranger_teacher, Role.teacher)
    parent = accounts.create_user(db, "parent")
    courses.link_guardian(db, parent, aliya)
    assert courses.can_view_student(db, aliya, aliya)
    assert courses.can_view_student(db, teacher, aliya, course)
    assert courses.can_view_student(db, parent, aliya)
    assert not courses.can_view_student(db, stranger_teacher, aliya)
    assert not courses.can_view_student(db, aliya, parent)
    with pytest.raises(Forbidden):
        courses.require_staff(db, aliya, course)
    with pytest.raises(Forbidden):
        courses.require_member(db, stranger_teacher, course)
    courses.require_staff(db, teacher, course, teacher_only=True)


def test_job_lease_lapses_and_job_is_retried_then_failed(db, world):
    course, _, aliya = world
    jobs.enqueue(db, "check", "k1", {"n": 1})
    db.commit()
    t0 = utcnow()
    job = jobs.claim(db, "w1", lease_seconds=10, max_attempts=2, now=t0)
    assert job.worker == "w1" and job.attempts == 1
    assert jobs.claim(db, "w2", 10, 2, now=t0 + dt.timedelta(seconds=5)) is None
    # w1 dies: after the lease, w2 gets the same job
    again = jobs.claim(db, "w2", 10, 2, now=t0 + dt.timedelta(seconds=11))
    assert again.id == job.id and again.worker == "w2" and again.attempts == 2
    # w1 comes back late: its result is refused
    assert jobs.complete(db, job.id, "w1", {"stale": True}) is None
    # w2 dies too: no tries left, the job fails with a reason
    assert jobs.claim(db, "w3", 10, 2, now=t0 + dt.timedelta(seconds=30)) is None
    db.commit()
    failed = db.get(Job, job.id, populate_existing=True)
    assert failed.state == JobState.failed and "lease expired" in failed.error


def test_job_complete_and_fail_with_retry(db):
    jobs.enqueue(db, "check", "a", {})
    jobs.enqueue(db, "check", "a", {"dup": True})  # idempotent by key
    db.commit()
    assert db.scalar(select(func.count()).select_from(Job)) == 1
    job = jobs.claim(db, "w", 60, 3)
    assert jobs.fail(db, job.id, "w", "boom", max_attempts=3, retry_after=0).state == JobState.queued
    job = jobs.claim(db, "w", 60, 3, now=utcnow() + dt.timedelta(seconds=1))
    assert jobs.complete(db, job.id, "w", {"ok": 1}).state == JobState.done
    assert jobs.claim(db, "w", 60, 3) is None
    jobs.enqueue(db, "check", "a", {"again": True}, reset=True)  # e.g. regrade
    assert jobs.claim(db, "w", 60, 3).payload == {"again": True}


def test_parallel_claims_never_share_a_job(sessions):
    with sessions() as db:
        for i in range(40):
            jobs.enqueue(db, "check", f"job-{i}", {"i": i})
        db.commit()
    claimed: list[int] = []
    lock = threading.Lock()

    def worker(name):
        while True:
            with sessions() as db:
                job = jobs.claim(db, name, 60, 3)
                db.commit()
                if job is None:
                    return
                with lock:
                    claimed.append(job.id)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(claimed) == 40 and len(set(claimed)) == 40


def test_concurrent_submissions_of_one_student_get_distinct_attempts(sessions):
    with sessions() as db:
        course = courses.create_course(db, "c1", "C1")
        student = accounts.create_user(db, "s1")
        courses.set_member(db, course, student, Role.student)
        asg.release(db, course, "ps1", {"ps1.ipynb": notebook()}, {})
        db.commit()
    errors = []

    def submit(i):
        for _ in range(20):
            try:
                with sessions() as db:
                    course = courses.get_course(db, "c1")
                    a = asg.get_assignment(db, course, "ps1")
                    asg.submit(db, a, accounts.get_user(db, "s1"), {"ps1.ipynb": notebook(f"x = {i}")})
                    db.commit()
                    return
            except Invalid:
                continue  # the student is told to try again; nothing half-written
            except Exception as e:  # noqa: BLE001
                errors.append(e)
                return

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with sessions() as db:
        attempts = sorted(db.scalars(select(Submission.attempt)))
        assert attempts == [1, 2, 3, 4, 5]
