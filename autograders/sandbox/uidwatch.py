"""What a notebook's uid runs and holds, read from /proc: to kill all of it, and to limit
the notebook as a whole (its processes' memory together, its files together).

Resource limits (``setrlimit``) count per process: three forked children each got the
whole memory limit, eight files each the whole file limit. The kernel counts processes
per uid (RLIMIT_NPROC) but not memory or disk, so the zygote's watchdog sums them here.
As root every notebook has a uid of its own; without root all notebooks share the
sandbox's one uid and run one at a time, so "the notebook's processes" are every
process of the sandbox but the zygote's own (``spare``) and init.
"""

from __future__ import annotations

import os
import signal
import time

from sabaq.autograders.sandbox import _native

ALIVE_STATES = set("RSDTtWPI")  # not a zombie (Z) nor dead (X): still holding memory or files


def _owner_and_state(pid: str) -> tuple[int, str] | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            uid, state = None, ""
            for line in fh:
                if line.startswith("State:"):
                    state = line.split()[1]
                elif line.startswith("Uid:"):
                    uid = int(line.split()[1])
                    break
    except (OSError, ValueError, IndexError):
        return None
    return None if uid is None else (uid, state)


def processes(uid: int | None, spare: tuple[int, ...] = (), zombies: bool = False) -> list[int]:
    """Live processes of `uid` (None: of this process's uid, but this one, `spare` and init);
    with `zombies`, also those that ended and are not reaped yet (they still count against
    the uid's process limit)."""
    mine = os.getuid()
    skip = {os.getpid(), 1, *spare}
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in skip:
            continue
        seen = _owner_and_state(entry)
        if seen is None or (seen[1] not in ALIVE_STATES and not zombies):
            continue
        if seen[0] == (mine if uid is None else uid):
            found.append(int(entry))
    return found


def kill_all(uid: int | None, spare: tuple[int, ...] = (), rounds: int = 1000) -> bool:
    """SIGKILL every process of `uid`, whatever session or process group it moved to, scanning
    again until a scan finds none not yet killed (one forked between a scan and its kill shows
    in the next; a killed process cannot fork any more: the kernel fails a fork with a fatal
    signal pending). Does not wait for the killed to finish exiting. True when done."""
    killed: set[int] = set()
    for _ in range(rounds):
        found = [pid for pid in processes(uid, spare) if pid not in killed]
        if not found:
            return True
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        killed.update(found)
    return False


def settle(uid: int | None, spare: tuple[int, ...] = (), seconds: float = 5.0) -> bool:
    """Wait until nothing of `uid` is left, not even a process still exiting (killed at the
    end of the notebook before): each counts against the process limit of the next notebook
    of that uid, whose first thread could not start. Usually nothing is left. True if done."""
    deadline = time.monotonic() + seconds
    while processes(uid, spare, zombies=True):
        if time.monotonic() > deadline:
            return False
        kill_all(uid, spare)
        time.sleep(0.001)
    return True


def _proportional_bytes(pid: int) -> int | None:
    """The process's share of the memory it maps (Pss: a page shared by n processes counts
    1/n in each, so forked children that share their parent's pages are not counted n
    times); None when /proc does not let this process read it."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            return sum(int(line.split()[1]) * 1024 for line in fh if line.startswith(("Pss:", "SwapPss:")))
    except (OSError, ValueError, IndexError):
        return None


def _resident_bytes(pid: int) -> int:
    """Anonymous and shared-memory pages mapped (/proc/PID/status needs no rights; pages
    shared with the zygote count whole: more than the process's share, never less)."""
    total = 0
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(("RssAnon:", "RssShmem:", "VmSwap:")):
                    total += int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return 0
    return total


class _ReadAs:
    """Read files and /proc as `uid` (the file-system uid and gid, which the kernel checks
    for files and for reading another process's memory map), as root; else as oneself."""

    def __init__(self, uid: int | None):
        self.uid = uid if uid is not None and os.geteuid() == 0 else None

    def __enter__(self):
        if self.uid is not None:
            _native.set_fsgid(self.uid)
            _native.set_fsuid(self.uid)

    def __exit__(self, *exc):
        if self.uid is not None:
            _native.set_fsuid(0)
            _native.set_fsgid(0)


def memory_bytes(pids: list[int], uid: int | None) -> int:
    """Memory the processes hold together: each one's proportional share where readable (as
    root with CAP_SYS_PTRACE, given by bwrap, also of the undumpable grading child, see
    ``zygote``), else its anonymous pages whole."""
    with _ReadAs(uid):
        shares = [_proportional_bytes(pid) for pid in pids]
    return sum(_resident_bytes(pid) if share is None else share for pid, share in zip(pids, shares))


def disk_bytes(folders: list[str], uid: int | None, shared: list[str]) -> int:
    """Bytes on disk of every file under `folders`, and of the files `uid` owns under `shared`
    (the sandbox's /tmp, /dev/shm: all notebooks write there). Blocks, not sizes: a sparse
    file takes no room; a hard link to one file counts once."""
    with _ReadAs(uid):  # the notebook's folder is 0700, and the zygote has no DAC_OVERRIDE
        return _disk_bytes(folders, uid, shared)


def _may_write(info: os.stat_result, uid: int | None) -> bool:
    """Whether `uid` may have made files in this shared folder (else it is not walked: the
    zygote's own folders in /tmp need not be listed after every cell)."""
    if uid is None or info.st_uid == uid or info.st_mode & 0o002:
        return True
    return info.st_gid == uid and bool(info.st_mode & 0o020)


def _disk_bytes(folders: list[str], uid: int | None, shared: list[str]) -> int:
    seen: set[tuple[int, int]] = set()
    total = 0
    for top, owned_only in [(f, False) for f in folders] + [(s, True) for s in shared]:
        stack = [top]
        while stack:
            folder = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if entry.is_dir(follow_symlinks=False) and (not owned_only or _may_write(info, uid)):
                    stack.append(entry.path)
                if owned_only and uid is not None and info.st_uid != uid:
                    continue
                if (info.st_dev, info.st_ino) in seen:
                    continue
                seen.add((info.st_dev, info.st_ino))
                total += info.st_blocks * 512
    return total
