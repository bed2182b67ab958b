"""Running notebooks in the sandbox, several at once.

An Executor keeps one sandboxed zygote (see ``zygote``) and hands it notebooks
up to ``parallel`` at a time, each in a scratch copy of its folder owned by its
own uid (leased for the executor's life, see ``uids``, so that no two executors
on the machine share one). As root it leases twice as many uids as notebooks run
at once and gives each notebook the uid that has been idle longest: what the last
notebook of a uid left has had a whole notebook's time to finish exiting, so the
zygote's check that nothing of the uid is left before reusing it seldom waits.
``run()`` returns a Future; if the zygote dies (a student cannot kill it, but
memory pressure can), the notebooks in flight fail with a reason and a fresh
zygote takes over.
"""

from __future__ import annotations

import collections
import itertools
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from pathlib import Path

from sabaq.autograders.sandbox.bwrap import (
    SAFE_ENV,
    SCRATCH,
    Bind,
    SandboxError,
    bwrap_command,
    check_bubblewrap,
    group_text,
    passwd_text,
)
from sabaq.autograders.sandbox.uids import grading_uids, lease
from sabaq.i18n import N_
from sabaq.processes import own_temp_folder, remove_left_folders

# What a notebook in flight gets when the zygote (or the process relaying to it) is gone
LOST = {"status": "died", "reason": "grader-lost", "outputs": {}, "execution_counts": {}}
SCRATCH_FOLDER = "sabaq-grading-"  # its notebooks' copies, named after the process (sabaq.processes.own_temp_folder)
UIDS_PER_SLOT = 2  # as root: one uid settles (its last processes exit) while another runs


def zygote_command(command: list[str], env: dict[str, str], scratch: Path, etc: Path, as_root: bool) -> list[str]:
    """The zygote in the sandbox: sabaq's Python environment, the scratch folder writable
    at SCRATCH, /etc/passwd listing the notebooks' uids (switched to inside, as root)."""
    return bwrap_command(command, env, binds=[Bind(str(scratch), SCRATCH, writable=True)], chdir=SCRATCH,
                         switch_uids=as_root, etc_dir=str(etc), python_env=True, dirs=["/tmp/matplotlib"])


class Executor:
    def __init__(self, grading, parallel: int | None = None):
        """grading: the [grading] settings section."""
        self.settings = grading
        self.sandboxed = grading.sandbox == "bubblewrap"
        self.root_mode = os.geteuid() == 0
        # Without root every notebook runs under the same uid: one at a time keeps them apart.
        self.parallel = (parallel or grading.parallel or os.cpu_count() or 1) if self.root_mode or not self.sandboxed else 1
        self._uid_lease = lease(grading_uids(grading), UIDS_PER_SLOT * self.parallel) if self.root_mode else None
        self.uids = self._uid_lease.uids if self._uid_lease else [grading.uid_base + i for i in range(self.parallel)]
        self._idle_uids = collections.deque(self.uids)  # longest idle first; a notebook's uid goes back last
        self._slots = list(range(self.parallel))
        self._slot_free = threading.Condition()
        self._pending: dict[str, tuple[Future, int, Path, int]] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.proc: subprocess.Popen | None = None
        remove_left_folders(SCRATCH_FOLDER)  # a killed sandbox's, with its notebooks
        self.scratch = own_temp_folder(SCRATCH_FOLDER)
        os.chmod(self.scratch, 0o711)
        self.etc = self.scratch / ".etc"
        self.etc.mkdir()
        (self.etc / "passwd").write_text(passwd_text(self.uids))
        (self.etc / "group").write_text(group_text(self.uids))
        os.chmod(self.etc, 0o755)
        self.restarts = 0
        self._queue: queue.Queue = queue.Queue()
        self._dispatcher = threading.Thread(target=self._dispatch, daemon=True)

    # --- the zygote ---------------------------------------------------------

    def launch(self) -> Executor:
        """Start the zygote process, without waiting for it or starting threads: it
        imports while this process goes on (and may still fork, see ``split``)."""
        if self.proc is None:
            if self.sandboxed:
                check_bubblewrap()
            self._spawn()
        return self

    @property
    def started(self) -> bool:
        return self._dispatcher.is_alive()

    def start(self) -> Executor:
        """Start the zygote (unless ``launch`` did) and the threads that feed it and read its
        answers; return once it is ready. The zygote is started, and started again should it
        die, by the reader thread, which lasts as long as this executor: bubblewrap's
        ``--die-with-parent`` ends a sandbox when the *thread* that started it ends, so a
        zygote started by a passing thread (a warm-up's) or by the reader of the zygote before
        it would die at once. (A ``launch`` is the caller's: its thread must outlast it.)"""
        if self.sandboxed and self.proc is None:
            check_bubblewrap()
        ready: Future = Future()
        self._reader = threading.Thread(target=self._keep, args=(ready,), name="sabaq-zygote", daemon=True)
        self._reader.start()
        ready.result()  # the first start's SandboxError, if it failed
        self._dispatcher.start()
        return self

    def detach(self) -> None:
        """In a process forked from this one: let go of the zygote's pipes and the uid
        leases, which stay the parent's (the zygote must see its input end)."""
        for stream in (self.proc.stdin, self.proc.stdout) if self.proc else ():
            stream.close()
        if self._uid_lease is not None:
            self._uid_lease.release()  # closes this process's copies only: the lock stays the parent's

    def _spawn(self) -> None:
        env = {**SAFE_ENV, "SABAQ_PRELOAD": self.settings.preload, "MPLCONFIGDIR": "/tmp/matplotlib"}
        command = [sys.executable, "-m", "sabaq.autograders.sandbox.zygote"]
        if self.sandboxed:
            command = zygote_command(command, env, self.scratch, self.etc, self.root_mode)
            popen_env = None
        else:
            env["MPLCONFIGDIR"] = str(self.scratch / ".matplotlib")
            popen_env = env
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=popen_env, cwd=str(self.scratch), start_new_session=True,
        )

    def _await_ready(self) -> None:
        line = self.proc.stdout.readline()
        if not line or not json.loads(line).get("ready"):
            code = self.proc.wait()
            raise SandboxError(N_("The grading sandbox did not start (exit code {exit_code})."), exit_code=code)

    def _keep(self, ready: Future) -> None:
        """The reader thread: start the zygote (unless launched) and read its answers; when it
        is gone, fail what was in flight and start another, here."""
        spawn = self.proc is None
        while True:
            try:
                if spawn:
                    self._spawn()
                self._await_ready()
            except Exception as e:  # noqa: BLE001 - the first start's caller gets it; later, the jobs fail
                if not ready.done():
                    ready.set_exception(e)
                return
            if not ready.done():
                ready.set_result(None)
            self._read_answers(self.proc)
            if self._closing:
                return
            self.restarts += 1
            spawn = True

    def _read_answers(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            try:
                answer = json.loads(line)
            except ValueError:
                continue
            self._resolve(answer["id"], answer)
        # the zygote is gone: fail what was in flight (the caller starts a new one)
        with self._lock:
            lost = list(self._pending)
        for job_id in lost:
            self._resolve(job_id, dict(LOST))

    _closing = False

    def _resolve(self, job_id: str, answer: dict) -> None:
        with self._lock:
            item = self._pending.pop(job_id, None)
        if item is None:
            return
        future, slot, folder, uid = item
        shutil.rmtree(folder, ignore_errors=True)
        with self._slot_free:
            self._slots.append(slot)
            self._idle_uids.append(uid)
            self._slot_free.notify()
        future.set_result(answer)

    # --- notebooks ----------------------------------------------------------------

    def run(self, files: dict[str, bytes], cells: list[tuple], timeout: float | None = None,
            keep_traceback: int | None = None) -> Future:
        """Queue code cells (index, source, is_test) to run with `files` as the working folder
        (is_test: an nbgrader test cell, run with the shell put back as it was; may be left out);
        of a traceback longer than twice `keep_traceback`, only that many entries at each
        end come back.

        Never blocks: notebooks wait in a queue until one of the `parallel` slots is free,
        so the caller can go on preparing and finishing other notebooks meanwhile.
        """
        future: Future = Future()
        self._queue.put((files, cells, timeout, keep_traceback, future))
        return future

    def _dispatch(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            with self._slot_free:
                while not self._slots:
                    self._slot_free.wait()
                slot = self._slots.pop(0)
                uid = self._idle_uids.popleft()  # never one in use: as many uids are out as slots
            self._send(slot, uid, *item)

    def _send(self, slot: int, leased_uid: int, files: dict[str, bytes], cells, timeout, keep_traceback,
              future: Future) -> None:
        job_id = f"{next(self._ids)}-{os.getpid()}"
        folder = self.scratch / f"job-{job_id}"
        uid = leased_uid if self.root_mode else None
        self._prepare(folder, files, uid)
        s = self.settings
        inside = f"{SCRATCH}/{folder.name}" if self.sandboxed else str(folder)
        request = {
            "id": job_id,
            "dir": inside,
            "cells": [[cell[0], cell[1], bool(cell[2]) if len(cell) > 2 else False] for cell in cells],
            "timeout": timeout if timeout is not None else s.cell_timeout,
            "keep_traceback": keep_traceback,
            "uid": uid,
            "gid": uid,
            # kill every process of the uid when the notebook ends (without root and a sandbox
            # that would be every process of the user's: then only the notebook's session)
            "kill_uid": self.sandboxed or self.root_mode,
            "env": {**SAFE_ENV, "HOME": inside, "TMPDIR": inside, "NBGRADER_EXECUTION": "autograde",
                    "MPLCONFIGDIR": "/tmp/matplotlib" if self.sandboxed else str(self.scratch / ".matplotlib")},
            "limits": {
                "memory_bytes": s.memory_mb << 20,
                "disk_bytes": s.disk_mb << 20,
                "cpu_seconds": s.cpu_seconds,
                "file_bytes": s.file_mb << 20,
                "processes": s.processes,
                "open_files": 256,
                "wall_seconds": s.notebook_seconds,
                "output_bytes": s.output_mb << 20,
            },
        }
        with self._lock:
            self._pending[job_id] = (future, slot, folder, leased_uid)
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self._resolve(job_id, dict(LOST))

    def _prepare(self, folder: Path, files: dict[str, bytes], uid: int | None) -> None:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(mode=0o700)
        for rel, content in files.items():
            target = folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        if uid is not None:
            for dirpath, dirnames, filenames in os.walk(folder):
                os.chown(dirpath, uid, uid)
                for name in filenames:
                    os.chown(os.path.join(dirpath, name), uid, uid)
        os.chmod(folder, 0o700)

    def close(self) -> None:
        self._closing = True
        self._queue.put(None)
        if self.proc is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            with self._lock:
                idle = not self._pending
            if idle:  # nothing to finish: no need to wait while the zygote tears its imports down
                self.proc.kill()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.scratch, ignore_errors=True)
        if self._uid_lease is not None:
            self._uid_lease.release()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


def wait_all(futures: list[Future], timeout: float | None = None) -> list[dict]:
    deadline = None if timeout is None else time.monotonic() + timeout
    return [f.result(None if deadline is None else max(0.0, deadline - time.monotonic())) for f in futures]
