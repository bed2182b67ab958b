"""A worker killed mid-job (the OOM killer, a power cut of its process, kill -9) leaves its
temporary folders: generated assignments with their solutions and hidden tests, students'
notebooks. Each is named after its process (sabaq.processes.own_temp_folder), and the next
worker or sandbox of its kind removes those whose process is gone, never a living one's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from sabaq.autograders.jobs.grade import CACHE_FOLDER, SCRATCH_FOLDER, GradeHandler
from sabaq.autograders.sandbox.executor import SCRATCH_FOLDER as SANDBOX_FOLDER, Executor
from sabaq.processes import own_temp_folder, remove_left_folders, start_time
from sabaq.settings import Settings


def a_gone_process() -> int:
    """The pid of a process that has ended."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_a_folder_is_named_after_its_process_and_kept_while_it_runs(tmp_path):
    folder = own_temp_folder("sabaq-test-own-")
    try:
        pid, started, _ = folder.name[len("sabaq-test-own-"):].split("-")
        assert (int(pid), int(started)) == (os.getpid(), start_time(os.getpid()))
        assert folder.parent == Path(tempfile.gettempdir()) and folder.stat().st_mode & 0o777 == 0o700
        assert remove_left_folders("sabaq-test-own-") == [] and folder.is_dir()
    finally:
        folder.rmdir()


def test_only_folders_of_gone_processes_are_removed(tmp_path):
    prefix = "sabaq-test-left-"
    me, gone = os.getpid(), a_gone_process()
    mine = tmp_path / f"{prefix}{me}-{start_time(me)}-abc"
    dead = tmp_path / f"{prefix}{gone}-12345-def"
    recycled = tmp_path / f"{prefix}{me}-{start_time(me) - 1}-ghi"  # its pid now another process's
    other = tmp_path / f"{prefix}notes"  # no process in its name: someone else's
    for folder in (mine, dead, recycled, other):
        folder.mkdir()
        (folder / "answers.ipynb").write_text("{}")
    target = tmp_path / "kept"
    target.mkdir()
    (target / "secret").write_text("root's")
    link = tmp_path / f"{prefix}{gone}-1-jkl"
    link.symlink_to(target)
    (dead / "into").symlink_to(target)  # a student's folder named like a gone worker's, linking elsewhere

    assert sorted(remove_left_folders(prefix, tmp_path)) == sorted([dead, recycled])
    assert mine.is_dir() and other.is_dir() and not dead.exists() and not recycled.exists()
    assert link.is_symlink() and (target / "secret").is_file()  # a link is nobody's folder; nothing is followed


LEAVE_FOLDERS = """
import sys
from sabaq.autograders.jobs.grade import GradeHandler
from sabaq.autograders.sandbox.executor import Executor
from sabaq.settings import Settings
grading = Settings.load(sys.argv[1], environ={}).grading
handler = GradeHandler(grading)
executor = Executor(grading, parallel=1)
print(handler.cache.root, handler.scratch, executor.scratch, flush=True)
sys.stdin.read()
"""


def test_a_killed_workers_folders_are_removed_by_the_next_one(tmp_path):
    worker = subprocess.Popen([sys.executable, "-c", LEAVE_FOLDERS, str(tmp_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    left = [Path(p) for p in worker.stdout.readline().split()]
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    assert [p.name.startswith(prefix) for p, prefix in zip(left, (CACHE_FOLDER, SCRATCH_FOLDER, SANDBOX_FOLDER),
                                                           strict=True)] == [True] * 3
    assert all(p.is_dir() for p in left)

    handler = GradeHandler(Settings.load(tmp_path, environ={}).grading)
    try:
        assert not any(p.exists() for p in left[:2])  # the next worker's handler removed the generated assignments, the course
        assert handler.cache.root.is_dir() and handler.scratch.is_dir()
        executor = Executor(handler.grading, parallel=1)
        try:
            assert not left[2].exists() and executor.scratch.is_dir()  # and the next sandbox the notebooks' copies
        finally:
            executor.close()
    finally:
        handler.close()
    assert not handler.cache.root.exists() and not handler.scratch.exists()
