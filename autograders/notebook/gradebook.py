"""One database engine for all of nbgrader's gradebook accesses in a grading run.

nbgrader opens a new ``Gradebook`` (a new SQLAlchemy engine, a table
inspection, ``create_all`` and a query and commit checking that the course
exists) about seven times per notebook, and SQLAlchemy compiles every
statement again for each new engine. That, not running the
students' code, is most of the time nbgrader spends per notebook. Inside
``shared_engines()`` the same engine serves every ``Gradebook`` of a URL: the
same SQL runs in the same transactions, only the set-up is not repeated. The
parity tests grade with this in place and compare every score with nbgrader's.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import threading

import nbgrader.api as api
from sqlalchemy import event
from sqlalchemy.engine import make_url

SQLITE_BUSY_SECONDS = 120


_active: dict | None = None  # the engines of the shared_engines() this process is inside


@functools.cache
def alembic_head() -> str:
    """The schema version nbgrader stamps into a new gradebook, read in this process.

    nbgrader's ``get_alembic_version`` runs ``alembic heads`` as a command for every new
    gradebook: a Python start and alembic's imports, about 2.5 s here, for a constant of
    the installed nbgrader. It is replaced by this (tested equal to it)."""
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    return ScriptDirectory(ALEMBIC_DIR).get_current_head()


nbgrader_get_alembic_version = api.get_alembic_version
api.get_alembic_version = alembic_head


@contextlib.contextmanager
def shared_engines(kept: dict | None = None, scratch: bool = False):
    """kept: a dict that outlives the context (a worker's, across its jobs): its engines
    stay, their connections close at the end. A job's gradebook is at the same path each
    time, so its engine, and the statements SQLAlchemy compiled for it (a quarter of a
    job's time when every job had a new engine), serve the next job too. Inside another
    shared_engines(), this one is that one.

    scratch: the SQLite gradebooks are throwaway copies (a worker's job reads its scores
    back and deletes the folder; a crash retries the job on a new copy), so their commits
    need not reach the disk (see ``_commits_without_the_disk``)."""
    global _active
    if _active is not None:
        yield
        return
    engines: dict[str, object] = kept if kept is not None else {}
    lock = threading.Lock()
    original_create_engine = api.create_engine
    original_close = api.Gradebook.close
    original_inspect = api.inspect
    original_create_all = api.Base.metadata.create_all
    original_check_course = api.Gradebook.check_course
    prepared: set[str] = set()
    courses: set[tuple[str, str]] = set()

    def create_engine(url, *args, **kwargs):
        key = str(url)
        if key.startswith("sqlite"):
            # grading processes of one batch share the file: a write waits for the other's
            kwargs.setdefault("connect_args", {"timeout": SQLITE_BUSY_SECONDS})
        with lock:
            if key not in engines:
                engines[key] = original_create_engine(url, *args, **kwargs)
                if key.startswith("sqlite"):
                    event.listen(engines[key], "connect", _commits_without_the_disk if scratch
                                 else _commits_in_the_log_without_waiting)
            return engines[key]

    def close(self):
        self.db.remove()  # the session goes; the shared engine stays for the next Gradebook

    class _Inspector:
        """Tables of an already prepared database are known; no need to ask again."""

        def __init__(self, engine):
            self.engine = engine

        def get_table_names(self):
            key = str(self.engine.url)
            if key in prepared:
                return ["prepared"]
            return original_inspect(self.engine).get_table_names()

    def create_all(bind=None, **kwargs):
        key = str(bind.url)
        if key not in prepared:
            original_create_all(bind=bind, **kwargs)
            prepared.add(key)

    def check_course(self, course_id="default_course", **kwargs):
        # nbgrader calls this from Gradebook.__init__ only, which ignores what it returns
        key = (str(self.engine.url), course_id)
        if kwargs or key not in courses:
            course = original_check_course(self, course_id=course_id, **kwargs)
            courses.add(key)
            return course
        return None

    api.create_engine = create_engine
    api.Gradebook.close = close
    api.Gradebook.check_course = check_course
    api.inspect = _Inspector
    api.Base.metadata.create_all = create_all
    _active = engines
    try:
        yield
    finally:
        _active = None
        api.create_engine = original_create_engine
        api.Gradebook.close = original_close
        api.Gradebook.check_course = original_check_course
        api.inspect = original_inspect
        api.Base.metadata.create_all = original_create_all
        for engine in engines.values():
            engine.dispose()


def _commits_in_the_log_without_waiting(connection, _record) -> None:
    """With a write-ahead log (see ``write_ahead_log``), a commit need not wait for the
    disk (synchronous=NORMAL, 5% of a batch's time): the database cannot be corrupted,
    only a power cut could undo the last commits, and grading again redoes them. The end
    of ``write_ahead_log`` writes everything back into the database file and syncs it."""
    if connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
        connection.execute("PRAGMA synchronous=NORMAL")


def _commits_without_the_disk(connection, _record) -> None:
    """A scratch gradebook's commits neither wait for the disk nor write a journal file:
    nbgrader commits once per cell, each an fsync and a journal created and deleted (about
    5% of a worker's job)."""
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("PRAGMA journal_mode=MEMORY")


# Where SQLite's write-ahead log is safe: it needs shared memory between the processes,
# which network filesystems (nfs, cifs, ...) do not give.
LOCAL_FILESYSTEMS = {"ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs", "jfs", "tmpfs", "zfs", "overlay"}


def filesystem_of(path: str) -> str:
    """The type of the filesystem `path` is on, from /proc/self/mountinfo ("" if unknown)."""
    best, kind = "", ""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as fh:
            for line in fh:
                left, _, right = line.partition(" - ")
                mount_point = left.split()[4].replace("\\040", " ")
                inside = path == mount_point or path.startswith(mount_point.rstrip("/") + "/")
                if inside and len(mount_point) >= len(best):
                    best, kind = mount_point, right.split()[0]
    except (OSError, IndexError):
        return ""
    return kind


@contextlib.contextmanager
def write_ahead_log(db_url: str):
    """While grading processes share an SQLite gradebook, readers and writers do not
    block each other (journal_mode=WAL); afterwards the file is as it was. Nothing
    changes for other databases or a gradebook on a network filesystem."""
    url = make_url(db_url)
    path = os.path.realpath(url.database or "") if url.get_backend_name() == "sqlite" else ""
    if not path or not os.path.exists(path) or filesystem_of(path) not in LOCAL_FILESYSTEMS:
        yield
        return
    connection = sqlite3.connect(path, timeout=SQLITE_BUSY_SECONDS)
    before = None
    try:
        before = connection.execute("PRAGMA journal_mode").fetchone()[0]
        connection.execute("PRAGMA journal_mode=WAL")
        yield
    finally:
        try:
            if before is not None:
                connection.execute("PRAGMA busy_timeout = 5000")  # someone else reading it keeps the log
                connection.execute(f"PRAGMA journal_mode={before}")
        except sqlite3.Error:
            pass  # still in use: a WAL gradebook is a valid gradebook
        connection.close()
