"""Writers to an SQLite database take turns promptly.

SQLite lets one transaction write at a time. A writer that finds the lock taken sleeps and
tries again, sleeping longer each time, up to 100 ms between tries, and is not woken when
the lock is freed: at a deadline, with dozens of submissions waiting, the lock lay idle
between writers for much of the time and the slowest student waited seconds. So before
``BEGIN IMMEDIATE`` a writer takes its turn here: in its process behind a lock that wakes the
next thread at once, then across processes (the service's, the hub's, a command's) by a
file lock next to the database, tried every few milliseconds. The turn ends when the
transaction's COMMIT or ROLLBACK has returned. SQLite's own lock stays what guarantees
safety; the turn only makes the queue short and fair.

Fair across processes too: a process whose writer found the file lock taken says so (a shared
lock on a second file, ``-waiting.lock``, while it tries), and a process that ends a turn while
another waits lets that one go first. Without this the process holding the turn handed it to
its own next thread within microseconds, every time, while the other process's writer, trying
every few milliseconds, waited until the first had no writer left: with the service's two
processes at a deadline, half the students' submissions waited behind the other half."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time

WAIT_SECONDS = 30.0  # as the busy timeout: then "database is locked", as SQLite would say
POLL_SECONDS = (0.001, 0.002, 0.005)  # between tries of the file lock (then the last, again)
WAITING_POLL_SECONDS = 0.0005  # between tries while another process has let this one go first
YIELD_SECONDS = 0.05  # the most a process lets a waiting one go first (one that died stops waiting)


class WriteTurn:
    """The turns of one database in this process."""

    def __init__(self, lock_path: str | None):
        self.lock_path = lock_path
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._waiting_fd: int | None = None  # the shared lock that says "a writer here waits"
        self._let_others_first = False  # another process waited when this one's last turn ended

    def take(self, wait: float = WAIT_SECONDS) -> None:
        deadline = time.monotonic() + wait
        if not self._threads.acquire(timeout=wait):
            raise sqlite3.OperationalError("database is locked")
        try:
            self._take_file(deadline)
        except BaseException:
            self._threads.release()
            raise

    def give_back(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            self._let_others_first = self._another_process_waits()
        self._threads.release()

    def _take_file(self, deadline: float) -> None:
        if self.lock_path is None:
            return  # a database in memory has no other process
        if self._fd is None:
            self._fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._waiting_fd = os.open(self.lock_path.removesuffix(".lock") + "-waiting.lock",
                                       os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        if self._let_others_first:
            self._let_others_first = False
            let_go_until = min(deadline, time.monotonic() + YIELD_SECONDS)
            while self._another_process_waits() and time.monotonic() < let_go_until:
                time.sleep(WAITING_POLL_SECONDS)  # it takes the turn, then stops waiting
        if self._try_file():
            return
        fcntl.flock(self._waiting_fd, fcntl.LOCK_SH)  # "a writer here waits"
        try:
            tries = 0
            while not self._try_file():
                if time.monotonic() >= deadline:
                    raise sqlite3.OperationalError("database is locked") from None
                time.sleep(POLL_SECONDS[min(tries, len(POLL_SECONDS) - 1)])
                tries += 1
        finally:
            fcntl.flock(self._waiting_fd, fcntl.LOCK_UN)

    def _try_file(self) -> bool:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def _another_process_waits(self) -> bool:
        """Whether a writer of another process waits (this process's own writers do not try
        the file while one of its threads holds or takes the turn)."""
        try:
            fcntl.flock(self._waiting_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(self._waiting_fd, fcntl.LOCK_UN)
        return False


class TurnTakingConnection(sqlite3.Connection):
    """An SQLite connection whose write transactions end their turn when they end."""

    write_turn: WriteTurn | None = None  # set by the engine when the connection is made
    holds_turn = False
    query_only = False  # SQLite's PRAGMA query_only as last set on this connection (a new one's is off)

    def begin_writing(self) -> None:
        """Take the turn (the caller then runs BEGIN IMMEDIATE)."""
        if self.write_turn is not None and not self.holds_turn:
            self.write_turn.take()
            self.holds_turn = True

    def end_turn(self) -> None:
        if self.holds_turn:
            self.holds_turn = False
            self.write_turn.give_back()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            if not self.in_transaction:
                self.end_turn()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.end_turn()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.end_turn()


def lock_path_for(database: str) -> str | None:
    """The turn's lock file beside a database file (None for a database in memory)."""
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return os.path.abspath(database) + "-writers.lock"
