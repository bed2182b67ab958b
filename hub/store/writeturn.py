"""Writers to an SQLite database take turns promptly.

SQLite lets one transaction write at a time. A writer that finds the lock taken sleeps and
tries again, sleeping longer each time, up to 100 ms between tries, and is not woken when
the lock is freed: at a deadline, with dozens of submissions waiting, the lock lay idle
between writers for much of the time and the slowest student waited seconds. So before
``BEGIN IMMEDIATE`` a writer takes its turn here: in its process behind a lock that wakes the
next thread at once, then across processes (the service's, the hub's, a command's) by a
file lock next to the database, tried every few milliseconds. The turn ends when the
transaction's COMMIT or ROLLBACK has returned. SQLite's own lock stays what guarantees
safety; the turn only makes the queue short and fair."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time

WAIT_SECONDS = 30.0  # as the busy timeout: then "database is locked", as SQLite would say
POLL_SECONDS = (0.001, 0.002, 0.005)  # between tries of the file lock (then the last, again)


class WriteTurn:
    """The turns of one database in this process."""

    def __init__(self, lock_path: str | None):
        self.lock_path = lock_path
        self._threads = threading.Lock()
        self._fd: int | None = None

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
        self._threads.release()

    def _take_file(self, deadline: float) -> None:
        if self.lock_path is None:
            return  # a database in memory has no other process
        if self._fd is None:
            self._fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        tries = 0
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise sqlite3.OperationalError("database is locked") from None
                time.sleep(POLL_SECONDS[min(tries, len(POLL_SECONDS) - 1)])
                tries += 1


class TurnTakingConnection(sqlite3.Connection):
    """An SQLite connection whose write transactions end their turn when they end."""

    write_turn: WriteTurn | None = None  # set by the engine when the connection is made
    holds_turn = False

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
