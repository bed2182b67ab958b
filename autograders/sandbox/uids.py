"""Leases of unprivileged uids, so that no two sandboxed runs on a machine share one.

The kernel counts processes per uid (RLIMIT_NPROC), and a uid may signal what
the same uid runs: a notebook or a judged program that forks until the limit
must use up only its own budget, never that of the run beside it, in this
process or in another worker. Every run as root takes its uids from a pool
here. A lease is an flock on one file per uid, so it ends with its process,
even a killed one.
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

# /run/lock is the machine's (a service's private /tmp is not): graders and judges of all units meet there
LOCKS = (Path("/run/lock") if os.path.isdir("/run/lock") else Path(tempfile.gettempdir())) / "sabaq-uids"


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


def _lock_dir() -> Path:
    LOCKS.mkdir(mode=0o700, exist_ok=True)
    info = os.lstat(LOCKS)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise UidsBusy(N_("{folder} must be a folder of this user's that only it can open; remove it and retry."),
                       folder=LOCKS)
    return LOCKS


def lease(pool: range, count: int) -> Lease:
    """`count` uids of `pool` that no other live lease holds."""
    folder = _lock_dir()
    uids: list[int] = []
    fds: list[int] = []
    start = random.randrange(len(pool))
    for i in range(len(pool)):
        if len(uids) == count:
            break
        uid = pool[(start + i) % len(pool)]
        fd = os.open(folder / str(uid), os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        uids.append(uid)
        fds.append(fd)
    if len(uids) < count:
        Lease(uids, fds).release()
        raise UidsBusy(N_("Only {free} of the {count} uids needed are free in {first}-{last}; "
                          "run fewer graders or judges at once."),
                       free=len(uids), count=count, first=pool.start, last=pool.stop - 1)
    return Lease(uids, fds)
