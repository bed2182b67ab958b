"""Leases of unprivileged uids, so that no two sandboxed runs on a machine share one.

The kernel counts processes per uid (RLIMIT_NPROC), and a uid may signal what
the same uid runs: a notebook or a judged program that forks until the limit
must use up only its own budget, never that of the run beside it, in this
process or in another worker. Every run as root takes its uids from a pool
here. A lease is an flock on one file per uid, so it ends with its process,
even a killed one.

The lock folder is sabaq's own: in /run, where only root may create anything (so no
student can plant it before the first grading after a reboot), else in a shared
folder (/run/lock, /tmp) where anyone may, and there a folder that is not this
user's, not 0700 or not a folder at all is moved aside and made anew: a planted
folder is never trusted and never stops grading.
"""

from __future__ import annotations

import fcntl
import os
import random
import stat
import tempfile
from pathlib import Path

from sabaq.autograders.sandbox.bwrap import SandboxError
from sabaq.i18n import N_

POOL_SIZE = 512
# Judged programs (olympiad runs) take theirs from here; notebooks from [grading] uid_base on
JUDGE_UIDS = range(61990, 61990 + POOL_SIZE)


def _locks_home() -> Path:
    """/run is the machine's (a service's private /tmp is not), so graders and judges of all
    units meet there, and only root writes in it; without it /run/lock or /tmp, which anyone may write."""
    for parent in (Path("/run"), Path("/run/lock")):
        if os.path.isdir(parent) and os.access(parent, os.W_OK):
            return parent
    return Path(tempfile.gettempdir())


LOCKS = _locks_home() / "sabaq-uids"


class UidsBusy(SandboxError):
    """Every uid of the pool is leased: a sandbox cannot be set up now (retried later)."""


class Lease:
    """Uids held until release() (or the end of the process)."""

    def __init__(self, uids: list[int], fds: list[int]):
        self.uids = uids
        self._fds = fds

    def release(self) -> None:
        for fd in self._fds:
            os.close(fd)  # releases the lock
        self._fds = []

    def __enter__(self) -> "Lease":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def grading_uids(grading) -> range:
    """The notebooks' pool: POOL_SIZE uids from the [grading] settings' uid_base on."""
    return range(grading.uid_base, grading.uid_base + POOL_SIZE)


def _trusted(info: os.stat_result) -> bool:
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o077


def _move_aside(folder: Path, seen: os.stat_result) -> None:
    """Rename an untrusted folder (or file, or link) out of the way; it is left for the
    administrator to look at, never opened, followed or deleted."""
    try:
        now = os.lstat(folder)
    except FileNotFoundError:
        return
    if (now.st_dev, now.st_ino) != (seen.st_dev, seen.st_ino):
        return  # someone else moved it already (and perhaps made a good one): look again
    aside = folder.with_name(f"{folder.name}.untrusted-{os.getpid()}-{random.randrange(1 << 30):x}")
    try:
        os.rename(folder, aside)
    except FileNotFoundError:
        return
    except OSError:  # e.g. another user's folder in a sticky /tmp, and we are not root
        raise UidsBusy(N_("{folder} was not made by sabaq and cannot be moved aside; remove it and retry."),
                       folder=folder) from None


def _lock_dir() -> int:
    """An open descriptor of the lock folder: this user's, 0700, a real folder (links not followed)."""
    for _ in range(10):
        try:
            os.mkdir(LOCKS, 0o700)
        except FileExistsError:
            pass
        try:
            fd = os.open(LOCKS, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            continue  # moved away in between: make it again
        except OSError:  # a link or a file in its place
            try:
                _move_aside(LOCKS, os.lstat(LOCKS))
            except FileNotFoundError:
                pass
            continue
        info = os.fstat(fd)
        if _trusted(info):
            return fd
        os.close(fd)
        _move_aside(LOCKS, info)
    raise UidsBusy(N_("{folder} keeps being replaced by a folder sabaq did not make; remove it and retry."),
                   folder=LOCKS)


def lease(pool: range, count: int) -> Lease:
    """`count` uids of `pool` that no other live lease holds."""
    folder = _lock_dir()
    uids: list[int] = []
    fds: list[int] = []
    try:
        start = random.randrange(len(pool))
        for i in range(len(pool)):
            if len(uids) == count:
                break
            uid = pool[(start + i) % len(pool)]
            fd = os.open(str(uid), os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=folder)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            uids.append(uid)
            fds.append(fd)
    finally:
        os.close(folder)
    if len(uids) < count:
        Lease(uids, fds).release()
        raise UidsBusy(N_("Only {free} of the {count} uids needed are free in {first}-{last}; "
                          "run fewer graders or judges at once."),
                       free=len(uids), count=count, first=pool.start, last=pool.stop - 1)
    return Lease(uids, fds)
