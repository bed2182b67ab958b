"""A batch's students split over processes that share one sandbox.

nbgrader's pipeline (the gradebook's SQL, sanitizing, writing notebooks) is
most of a grading run's work, and it runs in one thread: with one process, the
other cores mostly wait. So a class is split over processes, as a class is split
over teachers: each process runs the whole pipeline for its share of the students,
and they all send their notebooks to the one Executor (one warm zygote, one
set of leased uids) kept by the process that split them. They share the
course's gradebook, where a write waits for the other's (see ``gradebook``).
"""

from __future__ import annotations

import gc
import itertools
import multiprocessing
import os
import threading
from concurrent.futures import Future
from multiprocessing.connection import Connection, wait

from sabaq.autograders.sandbox.executor import LOST, Executor
from sabaq.i18n import N_, translator

STOPPED = N_("A grading process stopped (exit code {code}); grade again to finish.")


def shares(students: list[str], grading, executor: Executor) -> list[list[str]]:
    """The students each process takes, round robin so that each gets its part of the slow
    and the quick submissions. One share when the executor's threads already run (a
    service worker's: no fork then), or without root, where every notebook runs under
    the user's own uid."""
    count = grading.batch_processes or os.cpu_count() or 1
    if executor.started or (os.geteuid() != 0 and grading.sandbox == "bubblewrap"):
        count = 1
    count = max(1, min(count, len(students)))
    return [students[i::count] for i in range(count)]


class RemoteExecutor:
    """Executor.run() in a share's process, run by the Executor of the process that split the batch."""

    def __init__(self, connection: Connection):
        self.connection = connection
        self._futures: dict[int, Future] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        threading.Thread(target=self._read_results, daemon=True).start()

    def run(self, files: dict[str, bytes], cells: list[tuple[int, str]], timeout: float | None = None,
            keep_traceback: int | None = None) -> Future:
        future: Future = Future()
        with self._lock:
            job = next(self._ids)
            self._futures[job] = future
            self.connection.send(("run", job, files, cells, timeout, keep_traceback))
        return future

    def report(self, *message) -> None:
        with self._lock:
            self.connection.send(message)

    def _read_results(self) -> None:
        try:
            while True:
                _, job, result = self.connection.recv()
                with self._lock:
                    future = self._futures.pop(job)
                future.set_result(result)
        except (EOFError, OSError):  # the splitting process is gone: nothing more will run
            with self._lock:
                lost, self._futures = list(self._futures.values()), {}
            for future in lost:
                future.set_result(dict(LOST))


def grade_in_processes(groups: list[list[str]], executor: Executor, on_notebook, grade,
                       language: str = "en") -> str | None:
    """Run grade(students, report, executor) for each group in a forked process (imports
    done, the executor launched but no thread started yet); serve their notebooks with
    the executor, started after the fork. Returns the first error a share reported, or
    that one died."""
    context = multiprocessing.get_context("fork")
    connections: dict[Connection, threading.Lock] = {}
    processes = []
    for group in groups:
        here, there = context.Pipe()
        inherited = list(connections)  # a share keeps no other share's pipe open
        process = context.Process(target=_share, args=(grade, group, there, executor, inherited), daemon=True)
        process.start()
        there.close()
        connections[here] = threading.Lock()
        processes.append(process)
    errors: list[str | None] = []
    try:
        executor.start()
        while connections:
            for connection in wait(list(connections)):
                try:
                    message = connection.recv()
                except (EOFError, OSError):
                    del connections[connection]
                    continue
                if message[0] == "run":
                    _, job, files, cells, timeout, keep_traceback = message
                    future = executor.run(files, cells, timeout, keep_traceback)
                    future.add_done_callback(_sender(connection, connections[connection], job))
                elif message[0] == "notebook":
                    on_notebook(*message[1:])
                else:  # done
                    errors.append(message[1])
    except BaseException:
        for process in processes:
            process.kill()
        raise
    finally:
        for process in processes:
            process.join()
    for process in processes:
        if process.exitcode:
            errors.append(translator(language)(STOPPED).format(code=process.exitcode))
    return next((e for e in errors if e), None)


def _sender(connection: Connection, lock: threading.Lock, job: int):
    def send(future: Future) -> None:
        with lock:
            try:
                connection.send(("result", job, future.result()))
            except OSError:  # that share is gone
                pass
    return send


def _share(grade, students: list[str], connection: Connection, parents: Executor,
           inherited: list[Connection]) -> None:
    # What the share inherited (nbgrader, SQLAlchemy: ~140,000 objects) lives until it
    # ends; a full collection walked all of it (0.1 s) and copied every page it touched.
    gc.freeze()
    parents.detach()
    for other in inherited:
        other.close()
    executor = RemoteExecutor(connection)

    def report(student, notebook, result):
        executor.report("notebook", student, notebook, {k: result.get(k) for k in ("status", "reason")})

    try:
        error = grade(students, report, executor)
    except Exception as e:  # noqa: BLE001 - the splitting process reports it
        error = f"{type(e).__name__}: {e}"
    executor.report("done", error)
    connection.close()
