"""Limits and measures for a whole sandboxed run, taken from outside it.

A judged program may fork, call setsid, write to any descriptor it holds or kill
its parent: nothing it does may change what is measured, and no process of it may
outlive its run. Each run has a uid of its own (leased, see ``uids.py``), so "the
run" is every process of that uid. Where the kernel lets root make cgroups (v1's
cpuacct, memory and pids hierarchies), the run's processes share one group: memory
and the number of processes are limited for the group, CPU time and peak memory
are read from it, and whatever is in it can be found and killed. Otherwise a
watchdog samples every process of the uid from /proc, adds up their CPU time
(children they reaped included) and their memory, and stops the run when the sum
passes a limit; processes are then limited per uid by RLIMIT_NPROC. Either way the
run ends with every process of the uid killed, daemons that called setsid included.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

CGROUP_V1 = Path("/sys/fs/cgroup")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class TreeLimits:
    """Limits for all the processes of one run together."""

    cpu_seconds: float
    memory_bytes: int
    processes: int


@dataclass
class TreeUsage:
    """What the run's processes used together, as the kernel counted it."""

    cpu: float = 0.0  # seconds of CPU, every process of the run
    memory: int = 0  # peak bytes of memory
    out_of_memory: bool = False  # the memory limit was reached (a process was killed for it)
    over_cpu: bool = False  # stopped because CPU time passed the limit


@dataclass
class _Process:
    pid: int
    uid: int
    zombie: bool
    cpu: float  # seconds, its own and its reaped children's
    memory: int  # anonymous and shared-memory bytes resident
    reaped: float = 0.0  # seconds of its reaped children alone


def _process(pid: int) -> _Process | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
        with open(f"/proc/{pid}/status", "rb") as f:
            status = f.read().decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # the name may hold spaces and parentheses
    cpu = sum(int(v) for v in fields[11:15]) / CLOCK_TICKS  # utime stime cutime cstime
    reaped = sum(int(v) for v in fields[13:15]) / CLOCK_TICKS
    uid, memory = -1, 0
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key == "Uid":
            uid = int(value.split()[0])
        elif key in ("RssAnon", "RssShmem"):
            memory += int(value.split()[0]) * 1024
    return _Process(pid, uid, fields[0] in "ZX", cpu, memory, reaped)


def processes_of(uid: int) -> list[_Process]:
    """Every process whose real uid is ``uid`` (zombies included, flagged)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            proc = _process(int(name))
            if proc is not None and proc.uid == uid:
                found.append(proc)
    return found


def _signal(pid: int, uid: int) -> None:
    """SIGKILL to ``pid`` if it still is a process of ``uid``: the pidfd pins the process,
    so a pid reused by another user's process in between is never hit."""
    try:
        fd = os.pidfd_open(pid)
    except (ProcessLookupError, OSError):
        return
    try:
        proc = _process(pid)
        if proc is not None and proc.uid == uid:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
    except ProcessLookupError:
        pass
    finally:
        os.close(fd)


def kill_uid(uid: int, timeout: float = 10.0) -> list[int]:
    """Kill every process of ``uid`` and wait until none is alive (zombies are their
    parents' to reap); the pids still alive at the timeout, which should be none."""
    deadline = time.monotonic() + timeout
    pause = 0.001
    while True:
        alive = [p.pid for p in processes_of(uid) if not p.zombie]
        if not alive or time.monotonic() > deadline:
            return alive
        for pid in alive:
            _signal(pid, uid)
        if len(alive) > 1:
            # a fork loop may make new ones as fast as they die: one kill(-1) as that uid reaches all at once
            subprocess.run(["kill", "-KILL", "-1"], user=uid, group=uid, extra_groups=[], env={"PATH": "/usr/bin:/bin"},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


class Confinement:
    """The processes of one run, as a whole: ``join`` in the run's first process before it
    execs; ``check`` while it runs (True: stop it); ``usage`` at the end; ``close`` kills
    whatever is left of the uid and removes the group."""

    interval = 0.005  # seconds between checks

    def __init__(self, uid: int, limits: TreeLimits):
        self.uid = uid
        self.limits = limits
        self.over_cpu = False
        self.out_of_memory = False
        self.root_pid: int | None = None

    def join_files(self) -> list[str]:
        """The files the run's first process writes its pid to, as root, before it drops to
        the uid and execs (the judge's reaper, a program of its own, does it)."""
        return []

    def watch(self, root_pid: int) -> None:
        """The run's first process, started by the runner (it reaps all the others)."""
        self.root_pid = root_pid

    def check(self) -> bool:
        raise NotImplementedError

    def usage(self, reaped_cpu: float) -> TreeUsage:
        """``reaped_cpu``: what wait4 reports for the run's first process and all it reaped."""
        raise NotImplementedError

    def close(self) -> None:
        kill_uid(self.uid)


class CgroupV1(Confinement):
    """One group in each of the cpuacct, memory and pids hierarchies of cgroup v1, below
    the groups this process is in (so a container's own limits still hold)."""

    CONTROLLERS = ("cpuacct", "memory", "pids")

    def __init__(self, uid: int, limits: TreeLimits):
        super().__init__(uid, limits)
        own = _own_cgroups()
        name = f"sabaq-run-{uid}-{secrets.token_hex(4)}"
        self.dirs: dict[str, Path] = {}
        try:
            for controller in self.CONTROLLERS:
                parent = CGROUP_V1 / controller / own.get(controller, "/").lstrip("/")
                for stale in parent.glob(f"sabaq-run-{uid}-*"):  # left by a judge that died holding this uid
                    with contextlib.suppress(OSError):
                        stale.rmdir()
                folder = parent / name
                folder.mkdir()
                self.dirs[controller] = folder
            memory = self.dirs["memory"]
            _write(memory / "memory.limit_in_bytes", limits.memory_bytes)
            with contextlib.suppress(OSError):  # no swap accounting: nothing to set
                _write(memory / "memory.memsw.limit_in_bytes", limits.memory_bytes)
            _write(self.dirs["pids"] / "pids.max", limits.processes)
        except BaseException:
            self._remove()
            raise

    def join_files(self) -> list[str]:
        return [str(folder / "cgroup.procs") for folder in self.dirs.values()]

    def _cpu(self) -> float:
        return int(_read(self.dirs["cpuacct"] / "cpuacct.usage")) / 1e9

    def _oom_kills(self) -> int:
        for line in _read(self.dirs["memory"] / "memory.oom_control").splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def check(self) -> bool:
        if self._cpu() > self.limits.cpu_seconds:
            self.over_cpu = True
        if self._oom_kills() > 0:  # the kernel killed one of them for the group's memory: the run is over
            self.out_of_memory = True
        return self.over_cpu or self.out_of_memory

    def usage(self, reaped_cpu: float) -> TreeUsage:
        return TreeUsage(cpu=max(self._cpu(), reaped_cpu),
                         memory=int(_read(self.dirs["memory"] / "memory.max_usage_in_bytes")),
                         out_of_memory=self.out_of_memory or self._oom_kills() > 0, over_cpu=self.over_cpu)

    def close(self) -> None:
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                pids = {int(p) for folder in self.dirs.values() for p in _read(folder / "cgroup.procs").split()}
                if not pids:
                    break
                for pid in pids:
                    _signal(pid, self.uid)
                time.sleep(0.005)
            super().close()
        finally:
            self._remove()

    def _remove(self) -> None:
        for folder in self.dirs.values():
            for _ in range(200):  # the last processes leave the group as their parents reap them
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)


class UidWatchdog(Confinement):
    """Without cgroups: every process of the run, sampled from /proc. They all descend from
    the run's first process (the runner's reaper, root): an orphan in the sandbox goes to
    the sandbox's first process, the sandbox's first process to the reaper, and no process
    leaves its PID namespace; so the walk down from the reaper finds them all, and costs
    little next to a search of every process of the machine (that one ends each run).
    A process's sample counts its own CPU time and that of the children it reaped; what the
    reaper reaped is counted from its own sample, so the sum is every process of the run,
    the dead ones included, up to zombies in flight."""

    interval = 0.025

    def __init__(self, uid: int, limits: TreeLimits):
        super().__init__(uid, limits)
        self.cpu = 0.0
        self.peak = 0

    def check(self) -> bool:
        below = _descendants(self.root_pid) if self.root_pid else []
        if below is None:  # a kernel without /proc/<pid>/task/<tid>/children: every process, searched by uid
            procs = processes_of(self.uid)
        else:
            procs = [p for p in map(_process, below) if p is not None and p.uid == self.uid]
        procs = [p for p in procs if not p.zombie]
        reaper = _process(self.root_pid) if self.root_pid else None
        reaped = reaper.reaped if reaper is not None else 0.0  # not the reaper's own start: it is no program's
        self.cpu = max(self.cpu, reaped + sum(p.cpu for p in procs))
        self.peak = max(self.peak, sum(p.memory for p in procs))
        if self.peak > self.limits.memory_bytes:
            self.out_of_memory = True
        if self.cpu > self.limits.cpu_seconds:
            self.over_cpu = True
        return self.out_of_memory or self.over_cpu

    def usage(self, reaped_cpu: float) -> TreeUsage:
        return TreeUsage(cpu=max(reaped_cpu, self.cpu), memory=self.peak,
                         out_of_memory=self.out_of_memory, over_cpu=self.over_cpu)


def _descendants(root: int) -> list[int] | None:
    """The pids below ``root``, from each thread's list of children; None when the kernel
    does not keep those lists."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except FileNotFoundError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    children = [int(c) for c in f.read().split()]
            except FileNotFoundError:
                if not os.path.exists(f"/proc/{pid}/task/{tid}"):
                    continue  # the thread or the process has just ended
                return None
            found += children
            todo += children
    return found


def _own_cgroups() -> dict[str, str]:
    """{controller: path} of this process's cgroup v1 groups."""
    groups = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            if controller:
                groups[controller] = path
    return groups


def _write(path: Path, value) -> None:
    with open(path, "w") as f:
        f.write(str(value))


def _read(path: Path) -> str:
    with open(path) as f:
        return f.read()


def cgroups_usable() -> bool:
    """Root, and writable cgroup v1 cpuacct, memory and pids hierarchies."""
    return os.geteuid() == 0 and all(os.access(CGROUP_V1 / c / "cgroup.procs", os.W_OK) for c in CgroupV1.CONTROLLERS)


def confine(uid: int, limits: TreeLimits, use_cgroups: bool | None = None) -> Confinement:
    """A cgroup for the run when the kernel allows it, else a watchdog over its uid."""
    if use_cgroups is None:
        use_cgroups = cgroups_usable()
    if use_cgroups:
        try:
            return CgroupV1(uid, limits)
        except OSError:
            pass
    return UidWatchdog(uid, limits)
