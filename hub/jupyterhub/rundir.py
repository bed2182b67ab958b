"""What `sabaq up` started, written down in ``<data>/run/`` so that the next start after a
crash, and `sabaq status`, can find it.

``sabaq-up.pid`` is the supervisor's pid and ``<name>.pid`` each process's (hub, proxy,
service, worker-1 ...), one number per file; ``processes.json`` adds what tells a process of
ours from a stranger given the same pid later (its start time, in clock ticks since boot),
its restarts and the run's id. Every process of a run carries ``SABAQ_RUN=<id>`` in its
environment, and so do the users' servers and their kernels: those are found by it.
``sabaq-up.lock`` is held (flock) while a supervisor runs, and released by the kernel when it
dies, however it dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sabaq.processes import is_running

RUN_ENV = "SABAQ_RUN"
SUPERVISOR = "sabaq-up"
STATE_FILE = "processes.json"


def members_of(run: str) -> list[int]:
    """Every process whose environment names this run, except this one."""
    marker = f"{RUN_ENV}={run}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def signal_group(pid: int, sig: int) -> None:
    """The process's group (it leads one: started in a session of its own), or the process."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def signal_all(pids, sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


@dataclass
class Record:
    """One process `sabaq up` runs, as `sabaq status` shows it."""

    name: str
    pid: int = 0
    started: int | None = None  # start time in clock ticks (see start_time)
    since: float = 0.0  # wall-clock time of the current start
    restarts: int = 0
    state: str = "starting"  # running, restarting, stopped
    last_exit: str = ""


@dataclass
class RunState:
    run: str
    supervisor: Record
    processes: list[Record] = field(default_factory=list)


class RunDir:
    """The run folder of one data directory."""

    def __init__(self, data_dir: str | Path):
        self.path = Path(data_dir) / "run"
        self._lock_fd: int | None = None

    def lock(self) -> bool:
        """Become the data directory's one supervisor; False if another one runs."""
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path / f"{SUPERVISOR}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def locked_by_other(self) -> bool:
        """A supervisor runs on this data directory (asked without taking its place)."""
        path = self.path / f"{SUPERVISOR}.lock"
        if not path.exists():
            return False
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(fd)

    def stop_what_is_left(self) -> list[Record] | None:
        """Stop what the recorded run left running (``stop_leftovers``): the recorded processes
        still running, or None when no run is recorded here."""
        state = self.read()
        return None if state is None else stop_leftovers(state)

    def pid_of(self, name: str) -> int | None:
        try:
            return int((self.path / f"{name}.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def write(self, state: RunState) -> None:
        """The state file and one pid file per running process, each replaced whole."""
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._replace(STATE_FILE, json.dumps(asdict(state), indent=1))
        for record in [state.supervisor, *state.processes]:
            if record.state == "running" and record.pid:
                self._replace(f"{record.name}.pid", f"{record.pid}\n")
            else:
                with contextlib.suppress(FileNotFoundError):
                    (self.path / f"{record.name}.pid").unlink()

    def read(self) -> RunState | None:
        try:
            raw = json.loads((self.path / STATE_FILE).read_text())
            return RunState(run=raw["run"], supervisor=Record(**raw["supervisor"]),
                            processes=[Record(**p) for p in raw["processes"]])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def clear(self) -> None:
        """Forget the run: its state and pid files (the lock file stays, unlocked)."""
        for path in self.path.glob("*.pid"):
            path.unlink(missing_ok=True)
        (self.path / STATE_FILE).unlink(missing_ok=True)

    def _replace(self, name: str, text: str) -> None:
        tmp = self.path / f".{name}.tmp"
        tmp.write_text(text)
        os.replace(tmp, self.path / name)


def stop_leftovers(state: RunState, grace: float = 3.0) -> list[Record]:
    """Stop what a run that did not stop cleanly left running: its recorded processes
    (their groups, if each is still the process that was recorded) and every process of
    its run id. Returns the recorded ones that were still running."""
    alive = [r for r in state.processes if r.pid and is_running(r.pid, r.started)]
    for record in alive:
        signal_group(record.pid, signal.SIGTERM)
    signal_all(members_of(state.run), signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not any(is_running(r.pid, r.started) for r in alive) and not members_of(state.run):
            return alive
        time.sleep(0.1)
    for record in alive:
        if is_running(record.pid, record.started):
            signal_group(record.pid, signal.SIGKILL)
    signal_all(members_of(state.run), signal.SIGKILL)
    return alive
