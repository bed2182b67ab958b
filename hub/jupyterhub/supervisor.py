"""Keep a set of processes running: one that exits is started again at once, then with a
growing pause if it keeps dying; stop them all, whatever state they are in, in bounded time.

Each process runs in a session of its own, so a signal for `sabaq up` (Ctrl-C reaches the
terminal's whole group) is not also a signal for them: the supervisor decides, and stops
a process's whole group. Processes of the run it does not start itself (users' servers,
their kernels) are found by the run's id in their environment (``rundir.members_of``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sabaq.hub.jupyterhub import rundir
from sabaq.hub.jupyterhub.rundir import Record, RunDir, RunState
from sabaq.i18n import N_
from sabaq.processes import start_time

# a process that ran this long before exiting is restarted at once, not after a pause
STABLE_SECONDS = 30.0
MAX_PAUSE = 30.0
# how long a restarted process's after_restart may keep failing before restarts_with is used
MEND_SECONDS = 20.0


@dataclass
class Program:
    """How to run one process. ``can_start``: asked before each start (e.g. the proxy
    answers). After a restart, ``after_restart`` is asked each tick until it returns True
    (e.g. the hub has given a new proxy its routes); the programs named in ``restarts_with``
    are restarted if it has not within MEND_SECONDS (at once, without one)."""

    name: str
    cmd: list[str]
    env: dict[str, str]
    cwd: str | None = None
    can_start: Callable[[], bool] | None = None
    after_restart: Callable[[], bool] | None = None
    restarts_with: tuple[str, ...] = ()
    # asked every live_every seconds (from a thread of its own) once the process has run
    # live_after seconds; live_misses False answers in a row: it is hung, and restarted
    live: Callable[[], bool] | None = None
    live_every: float = 10.0
    live_after: float = 60.0
    live_misses: int = 3


@dataclass
class Child:
    program: Program
    record: Record
    proc: subprocess.Popen | None = None
    started_at: float = 0.0  # monotonic
    pause: float = 0.0
    quick_exits: int = 0  # exits in a row, each within STABLE_SECONDS of its start
    start_after: float = 0.0  # monotonic; when a restart is due
    kill_after: float | None = None  # monotonic; a requested restart escalates to SIGKILL then
    mend_until: float | None = None  # monotonic; after_restart is pending until then
    misses: int = 0  # live checks failed in a row
    hung: bool = False  # set by the live watch, acted on by tick


@dataclass
class Supervisor:
    programs: list[Program]
    run_dir: RunDir
    run: str
    say: Callable[..., None]  # say(N_(message), **params): a line for the operator
    children: dict[str, Child] = field(default_factory=dict)

    def __post_init__(self):
        for p in self.programs:
            self.children[p.name] = Child(p, Record(p.name))
        me = os.getpid()
        self.me = Record(rundir.SUPERVISOR, pid=me, started=start_time(me), since=time.time(), state="running")
        self.stopping = threading.Event()
        self._watch: threading.Thread | None = None

    # --- running ---------------------------------------------------------------

    def tick(self) -> None:
        """Notice exits, start what is due; called a few times a second."""
        if self._watch is None and any(p.live for p in self.programs):
            self._watch = threading.Thread(target=self._watch_live, name="live-watch", daemon=True)
            self._watch.start()
        now = time.monotonic()
        changed = False
        for child in self.children.values():
            if child.hung and child.proc is not None and child.kill_after is None:
                self.say(N_("sabaq: {name} (process {pid}) has not answered {count} checks in a row: "
                            "it is hung; starting it again"),
                         name=child.record.name, pid=child.proc.pid, count=child.program.live_misses)
                self.restart(child.record.name)
            if child.proc is not None and child.proc.poll() is not None:
                self._exited(child, now)
                changed = True
            elif child.proc is not None and child.kill_after is not None and now > child.kill_after:
                rundir.signal_group(child.proc.pid, signal.SIGKILL)
            if child.proc is None and now >= child.start_after:
                if child.program.can_start is None or child.program.can_start():
                    self._start(child)
                    changed = True
            elif child.proc is not None and child.mend_until is not None:
                self._mend(child, now)
        if changed:
            self.save()

    def restart(self, name: str, grace: float = 5.0) -> None:
        """Stop a process so that tick starts it again (SIGKILL after ``grace`` seconds)."""
        child = self.children[name]
        if child.proc is not None and child.proc.poll() is None:
            rundir.signal_group(child.proc.pid, signal.SIGTERM)
            child.kill_after = time.monotonic() + grace
            child.pause = 0.0

    def _watch_live(self) -> None:
        """Ask each running process that has a live check whether it is hung (a hung process
        keeps its port and its pid: only asking tells)."""
        watched = [c for c in self.children.values() if c.program.live]
        nexts = {c.record.name: 0.0 for c in watched}
        while not self.stopping.wait(0.5):
            for child in watched:
                proc, p = child.proc, child.program
                now = time.monotonic()
                if proc is None or child.hung or now < nexts[child.record.name] \
                        or now - child.started_at < p.live_after:
                    continue
                nexts[child.record.name] = now + p.live_every
                try:
                    ok = p.live()
                except Exception:
                    ok = False
                if proc is not child.proc:  # restarted meanwhile: the answer was about another
                    continue
                child.misses = 0 if ok else child.misses + 1
                child.hung = child.misses >= p.live_misses

    def _start(self, child: Child) -> None:
        p = child.program
        child.proc = subprocess.Popen(p.cmd, env={**p.env, rundir.RUN_ENV: self.run}, cwd=p.cwd,
                                      start_new_session=True, stdin=subprocess.DEVNULL)
        child.started_at = time.monotonic()
        child.kill_after = None
        child.misses, child.hung = 0, False
        r = child.record
        r.pid, r.started, r.since, r.state = child.proc.pid, start_time(child.proc.pid), time.time(), "running"

    def _exited(self, child: Child, now: float) -> None:
        proc = child.proc
        code = proc.returncode
        rundir.signal_group(proc.pid, signal.SIGKILL)  # what it left in its group
        requested = child.kill_after is not None
        child.proc = None
        r = child.record
        r.last_exit = f"signal {-code}" if code < 0 else f"exit {code}"
        r.restarts += 1
        r.state = "restarting"
        ran = now - child.started_at
        quick = ran < STABLE_SECONDS and not requested
        child.quick_exits = child.quick_exits + 1 if quick else 0
        child.pause = min(max(child.pause * 2, 1.0), MAX_PAUSE) if quick else 0.0
        child.start_after = now + child.pause
        if requested:
            self.say(N_("sabaq: restarting {name} (process {pid})"), name=r.name, pid=proc.pid)
        else:
            self.say(N_("sabaq: {name} (process {pid}) stopped ({how}) after {seconds} s; starting it again "
                        "in {pause} s (restart {count})"), name=r.name, pid=proc.pid, how=r.last_exit,
                     seconds=round(ran), pause=round(child.pause), count=r.restarts)
        if child.program.after_restart is not None:
            child.mend_until = child.start_after + MEND_SECONDS
        else:
            for other in child.program.restarts_with:
                self.restart(other)

    def _mend(self, child: Child, now: float) -> None:
        if child.program.after_restart():
            child.mend_until = None
        elif now > child.mend_until:
            child.mend_until = None
            for other in child.program.restarts_with:
                self.restart(other)

    def failing(self, times: int) -> str | None:
        """The name of a process that has exited ``times`` times in a row soon after starting."""
        return next((name for name, c in self.children.items() if c.quick_exits >= times), None)

    def save(self) -> None:
        self.run_dir.write(RunState(self.run, self.me, [c.record for c in self.children.values()]))

    # --- stopping --------------------------------------------------------------

    def stop_all(self, grace: float = 6.0, kill_wait: float = 2.0) -> None:
        """SIGTERM to every process of the run and its group, SIGKILL to what is left after
        ``grace`` seconds; returns once they are gone (or ``kill_wait`` more seconds passed)."""
        self.stopping.set()
        running = [c.proc for c in self.children.values() if c.proc is not None]
        for proc in running:
            rundir.signal_group(proc.pid, signal.SIGTERM)
        rundir.signal_all(rundir.members_of(self.run), signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(p.poll() is None for p in running):
            time.sleep(0.05)
        # users' servers and kernels are in sessions of their own: they are asked too, then killed
        while time.monotonic() < deadline and rundir.members_of(self.run):
            time.sleep(0.1)
        for proc in running:
            rundir.signal_group(proc.pid, signal.SIGKILL)
        deadline = time.monotonic() + kill_wait
        while True:
            left = rundir.members_of(self.run)
            rundir.signal_all(left, signal.SIGKILL)
            for proc in running:
                if proc.poll() is None:
                    left.append(proc.pid)
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        for child in self.children.values():
            child.proc = None
            child.record.state = "stopped"
        self.run_dir.clear()
