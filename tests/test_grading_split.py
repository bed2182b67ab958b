"""A batch split over processes: uids leased apart, the gradebook shared, a dead share reported."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time

import pytest
from nbgrader.api import Gradebook
from sqlalchemy import text

from sabaq.autograders.notebook.batch import grade_course, submission_students
from sabaq.autograders.notebook.gradebook import filesystem_of, shared_engines, write_ahead_log
from sabaq.autograders.notebook.split import shares
from sabaq.autograders.sandbox import uids
from sabaq.autograders.sandbox.executor import UIDS_PER_SLOT, Executor
from sabaq.devtools.corpus import ASSIGNMENT, build_course
from sabaq.settings import Settings

pytestmark = pytest.mark.grading

POOL = range(64900, 64904)  # a pool of its own, so that graders running beside the tests do not matter


def test_uid_leases_never_overlap_and_end_with_their_process():
    first = uids.lease(POOL, 2)
    second = uids.lease(POOL, 2)
    assert not set(first.uids) & set(second.uids)
    with pytest.raises(uids.UidsBusy):
        uids.lease(POOL, 1)
    second.release()
    uids.lease(POOL, 2).release()

    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom sabaq.autograders.sandbox import uids\n"
        f"held = uids.lease(range({POOL.start}, {POOL.stop}), 2)\nprint('held', flush=True)\ntime.sleep(60)\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(uids.UidsBusy):
            uids.lease(POOL, 1)  # first holds two, the killed-to-be process the other two
    finally:
        holder.kill()
        holder.wait()
    uids.lease(POOL, 2).release()  # a killed holder's uids are free again
    first.release()


def test_two_executors_run_notebooks_under_uids_of_their_own(tmp_path):
    grading = Settings.load(data_dir=tmp_path, environ={}).grading
    with Executor(grading, parallel=2) as a, Executor(grading, parallel=2) as b:
        # two uids a slot: one settles while the other runs
        assert len(set(a.uids)) == 2 * UIDS_PER_SLOT and not set(a.uids) & set(b.uids)
        seen = {}
        for name, executor in (("a", a), ("b", b)):
            result = executor.run({}, [(0, "import os\nprint(os.getuid())")]).result(timeout=120)
            seen[name] = int(result["outputs"]["0"][0]["text"])
        assert seen["a"] in a.uids and seen["b"] in b.uids


def uid_of(result: dict) -> int:
    return int(result["outputs"]["0"][0]["text"])


def test_notebooks_at_once_never_share_a_uid_and_the_longest_idle_uid_runs_next(tmp_path):
    grading = Settings.load(data_dir=tmp_path, environ={}).grading
    with Executor(grading, parallel=2) as executor:
        cells = [(0, "import os, time\nprint(os.getuid())\ntime.sleep(1)")]
        together = [executor.run({}, cells) for _ in range(4)]
        uids_seen = [uid_of(f.result(timeout=120)) for f in together]
        # whichever two ran side by side, no uid served two notebooks at once
        assert len(set(uids_seen)) == 4 and set(uids_seen) == set(executor.uids)
        one_by_one = [uid_of(executor.run({}, [(0, "import os\nprint(os.getuid())")]).result(timeout=120))
                      for _ in range(2 * UIDS_PER_SLOT)]
        assert sorted(one_by_one) == sorted(executor.uids)  # each in turn: none reused while another idled


def test_students_are_shared_round_robin(tmp_path, monkeypatch):
    grading = Settings.load(data_dir=tmp_path, environ={"SABAQ_GRADING_BATCH_PROCESSES": "2"}).grading

    class Launched:
        started = False

    class Started:
        started = True

    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert shares(["a", "b", "c", "d", "e"], grading, Launched()) == [["a", "c", "e"], ["b", "d"]]
    assert shares(["a"], grading, Launched()) == [["a"]]
    assert shares(["a", "b"], grading, Started()) == [["a", "b"]]  # a running service worker never forks
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert shares(["a", "b"], grading, Launched()) == [["a", "b"]]  # without root: the user's one uid


def test_a_share_that_dies_is_reported_and_the_others_are_graded(tmp_path):
    course = build_course(tmp_path / "course", kinds=("correct", "exception", "partial"))
    with open(course / "nbgrader_config.py", "a") as fh:
        fh.write("def die_for_exception(assignment, student, notebooks):\n"
                 "    import os\n"
                 "    if any(os.sep + 'exception' + os.sep in n for n in notebooks):\n"
                 "        os._exit(3)\n"
                 "c.Autograde.pre_convert_hook = die_for_exception\n")
    grading = Settings.load(data_dir=tmp_path / "data", environ={"SABAQ_GRADING_BATCH_PROCESSES": "2"}).grading

    class Launched:
        started = False

    # correct and partial in one process, exception (whose process dies) in the other
    assert shares(["correct", "exception", "partial"], grading, Launched()) == [["correct", "partial"], ["exception"]]
    started = time.monotonic()
    summary = grade_course(course, ASSIGNMENT, grading, progress=False)
    assert time.monotonic() - started < 300
    assert "A grading process stopped (exit code 3)" in summary["error"]
    graded = {(row["student"], row["grade_id"]): row["score"] for row in summary["rows"]}
    assert graded[("correct", "test_square")] == 2 and graded[("partial", "test_mean")] == 2
    assert not [student for student, _ in graded if student == "exception"]


def test_a_workers_jobs_share_one_engine_and_each_reads_its_own_gradebook(tmp_path):
    """A worker grades every job in one course path: the kept engine (and its compiled
    statements) serves the next job, and reads the new gradebook, not the deleted one."""
    import shutil

    from nbgrader.api import Gradebook
    from sqlalchemy import text

    template = tmp_path / "template.db"
    with Gradebook(f"sqlite:///{template}", "phys9") as gb:
        gb.add_student("first")
    url = f"sqlite:///{tmp_path / 'course' / 'gradebook.db'}"
    kept: dict = {}
    seen = []
    for student in ("aliya", "timur"):
        shutil.rmtree(tmp_path / "course", ignore_errors=True)
        (tmp_path / "course").mkdir()
        shutil.copy(template, tmp_path / "course" / "gradebook.db")
        with shared_engines(kept, scratch=True):
            with shared_engines():  # a batch's own context inside the job's is the same one
                with Gradebook(url, "phys9") as gb:
                    gb.add_student(student)
                    seen.append(sorted(s.id for s in gb.students))
                    engine = gb.engine
                    # a throwaway copy: its commits need not reach the disk
                    assert gb.db.execute(text("PRAGMA synchronous")).scalar() == 0
                    assert gb.db.execute(text("PRAGMA journal_mode")).scalar() == "memory"
        assert kept[url] is engine
    assert seen == [["aliya", "first"], ["first", "timur"]]  # each job its own file
    assert len(kept) == 1
    with shared_engines(), Gradebook(f"sqlite:///{template}", "phys9") as gb:  # a teacher's gradebook
        assert gb.db.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL, SQLite's default
        assert gb.db.execute(text("PRAGMA journal_mode")).scalar() == "delete"


def test_a_share_keeps_what_it_inherited_out_of_garbage_collection():
    """A share's full collections walked the ~140,000 objects it inherited (0.1 s each);
    a share freezes them, the splitting process keeps its own as they were."""
    import gc

    from sabaq.autograders.notebook.split import grade_in_processes

    class Idle:
        def start(self):
            return self

        def detach(self):
            pass

    frozen_here = gc.get_freeze_count()
    error = grade_in_processes([["a"]], Idle(), lambda *a: None,
                               lambda students, report, executor: f"frozen {gc.get_freeze_count()}")
    assert int(error.split()[1]) > 10000
    assert gc.get_freeze_count() == frozen_here


def test_submission_students_follow_the_course_layout(tmp_path):
    course = build_course(tmp_path / "course", kinds=("correct", "late"))
    from nbgrader.coursedir import CourseDirectory

    from sabaq.autograders.notebook.batch import course_config, submitted_notebooks

    coursedir = CourseDirectory(config=course_config(course, ASSIGNMENT))
    notebooks = submitted_notebooks(course, coursedir, ASSIGNMENT)
    assert submission_students(coursedir, notebooks) == ["correct", "late"]


def test_the_gradebook_uses_a_write_ahead_log_while_shared_and_is_put_back(tmp_path, monkeypatch):
    path = tmp_path / "gradebook.db"
    for db in (path, tmp_path / "other.db"):
        sqlite3.connect(db).execute("CREATE TABLE t (x)").connection.close()

    def mode():
        connection = sqlite3.connect(path)
        try:
            return connection.execute("PRAGMA journal_mode").fetchone()[0]
        finally:
            connection.close()

    assert filesystem_of(str(tmp_path)) and filesystem_of("/proc/self") == "proc"
    with write_ahead_log(f"sqlite:///{path}"):
        assert mode() == "wal"
    assert mode() == "delete"
    # nbgrader's connections in a share: commits wait for the disk without the log only
    with shared_engines(), Gradebook(f"sqlite:///{path}") as gb:
        assert gb.db.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    with write_ahead_log(f"sqlite:///{path}"), shared_engines():
        with Gradebook(f"sqlite:///{tmp_path / 'other.db'}") as gb:
            assert gb.db.execute(text("PRAGMA synchronous")).scalar() == 2
        with Gradebook(f"sqlite:///{path}") as gb:
            assert gb.db.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    assert mode() == "delete"
    monkeypatch.setattr("sabaq.autograders.notebook.gradebook.filesystem_of", lambda path: "nfs4")
    with write_ahead_log(f"sqlite:///{path}"):
        assert mode() == "delete"  # a network filesystem cannot share the log's memory


def test_uid_leases_never_trust_a_lock_folder_others_can_write(tmp_path, monkeypatch):
    """Anyone may create folders in /run/lock or /tmp: a planted lock folder must not be trusted,
    nor stop grading (issue 14: it is moved aside and made anew, where it used to refuse every lease)."""
    planted = tmp_path / "sabaq-uids"
    planted.mkdir(mode=0o777)
    os.chmod(planted, 0o777)
    monkeypatch.setattr(uids, "LOCKS", planted)
    with uids.lease(POOL, 1) as held:
        assert held.uids[0] in POOL
    info = os.lstat(planted)
    assert info.st_mode & 0o777 == 0o700 and info.st_uid == os.geteuid()
    assert [p.name.split("-")[0] for p in tmp_path.glob("sabaq-uids.untrusted-*")] == ["sabaq"]
