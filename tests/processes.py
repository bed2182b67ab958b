"""Looking at the processes a test's `sabaq up` started, through /proc (Linux)."""

from __future__ import annotations

import os
import re
import subprocess
import time

import httpx


def read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def alive(pid: int) -> bool:
    """Running (a zombie is not)."""
    try:
        state = read(f"/proc/{pid}/stat").decode().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for(what: str, check, timeout: float = 60):
    """``check()``'s first true result; a check that cannot connect yet counts as false."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
        except (httpx.HTTPError, OSError):
            result = None
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s: {what}")


def cmdline_of(pid: int) -> bytes:
    try:
        return read(f"/proc/{pid}/cmdline")
    except FileNotFoundError:
        return b""


def descendants(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    children = [int(p) for p in out.stdout.split()]
    return children + [d for c in children for d in descendants(c)]


def processes_of(account: str) -> list[int]:
    """Every process of a system account (a student's server and kernels)."""
    out = subprocess.run(["pgrep", "-u", account], capture_output=True, text=True, check=False)
    return [int(p) for p in out.stdout.split()]


def forked(run) -> str:
    """What ``run()`` returns in a forked child, as its repr (an exception: its name and message),
    so that nothing it changes in the process (uid, flags, signals) sticks in the test's."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.write(w, repr(run()).encode())
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            os.write(w, f"{type(e).__name__}: {e}".encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        seen = f.read()
    os.waitpid(pid, 0)
    return seen


def memory_of(pid: int) -> bytes:
    """Every readable mapping of a process (as root)."""
    chunks = []
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) r", line)
            if not m or "[vsyscall]" in line:
                continue
            start, end = int(m[1], 16), int(m[2], 16)
            try:
                mem.seek(start)
                chunks.append(mem.read(end - start))
            except (OSError, ValueError, OverflowError):
                pass
    return b"".join(chunks)
