"""Interactive problems: the contestant's program and the task's interactor, talking through pipes.

A package is interactive (``Package.interactive``) when problem.yaml says ``type: interactive``
or, in the legacy format, ``validation: custom interactive``. Its interactor is its output validator (``output_validators/`` or ``output_validator/``),
called as Kattis calls it: ``interactor input answer feedback_dir/ [flags]``, reading what
the contestant writes and writing what the contestant reads. Two pipes join them and
nothing else: each runs in a box of its own (its own uid, its own 0700 folder, its own
sandbox), so the contestant never sees the test's input, its answer or the interactor's
files, and neither holds a descriptor but its two pipe ends and stderr.

Each has its own limits: the contestant the task's time and memory limits, the interactor
generous ones. The verdict is problemtools' (``judge/execute.py``):

- the interactor neither accepts (exit 42) nor rejects (43): the judge fails (an error
  for the task's author, not a verdict on the contestant);
- it rejected and exited first: WA, whatever the contestant did after its input closed;
- the contestant passed its time limit: TLE; its memory limit: MLE; it crashed: RTE;
- else the interactor's: AC or WA, its message from ``judgemessage.txt`` and a score
  from ``score.txt``.

When the contestant's run ends by a limit, the interactor is killed at once (its verdict
no longer matters); when the interactor rejects first, the contestant is killed at once.
"""

from __future__ import annotations

import os
import select
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from sabaq.autograders.olympiad import ends
from sabaq.autograders.olympiad import run as runner
from sabaq.autograders.olympiad.validate import ACCEPTED, WRONG, CustomValidator
from sabaq.autograders.sandbox.confine import processes_of
from sabaq.contracts import Note
from sabaq.errors import SabaqError
from sabaq.i18n import N_
from sabaq.kattis.compare import wrong_answer

INTERACTOR_MEMORY_MB = 2048
INTERACTOR_OUTPUT_MB = 64


class InteractorFailed(SabaqError):
    """The interactor crashed or answered neither 42 nor 43: the task is broken, not the program."""

    status = 500
    code = "interactor_failed"


@dataclass
class Outcome:
    """One test of an interactive problem, judged."""

    verdict: str  # AC, WA, TLE, MLE, RTE
    time: float  # the contestant's CPU seconds
    message: str = ""
    score: float | None = None
    contestant: runner.RunResult | None = None
    interactor: runner.RunResult | None = None
    note: Note | None = None  # sabaq's own reason, translated when shown


class Interactor(CustomValidator):
    """The task's interactor, built once in a box of its own and run beside each test's run
    of the contestant."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def interact(self, contestant: runner.Box, command: list[str], input_path: Path, answer_path: Path,
                 time_limit: float, memory_mb: int, output_mb: int) -> Outcome:
        """``command`` (prepared in ``contestant``) against the interactor on one test."""
        with self.called(input_path, answer_path) as (interactor_cmd, report):
            contestant_cmd = contestant.command(command, tmp_mb=memory_mb)
            wall = runner.wall_time(time_limit)
            runs = _Pair(
                contestant=lambda stdin, stdout, started: contestant.execute(
                    contestant_cmd, stdin, stdout, runner._limits(time_limit, memory_mb, output_mb), wall, started),
                interactor=lambda stdin, stdout, started: self.box.execute(
                    interactor_cmd, stdin, stdout,
                    runner._limits(max(10.0, 2 * wall), INTERACTOR_MEMORY_MB, INTERACTOR_OUTPUT_MB), wall + 10, started),
                contestant_uid=contestant.uid, interactor_uid=self.box.uid,
            ).run()
        return verdict(runs, time_limit, report["message"], report["score"], input_path)


@dataclass
class _Runs:
    contestant: runner.RunResult
    interactor: runner.RunResult
    interactor_first: bool  # the interactor's run was seen ending before the contestant's
    interactor_stopped: bool  # killed: the contestant's run was over by a limit
    contestant_stopped: bool  # killed: the interactor had rejected it


class _Pair:
    """Two runs joined by two pipes, each watched in a thread of its own."""

    def __init__(self, contestant, interactor, contestant_uid, interactor_uid):
        self.start = {"contestant": contestant, "interactor": interactor}
        self.uids = {"contestant": contestant_uid, "interactor": interactor_uid}
        self.pids: dict[str, int] = {}
        self.results: dict[str, runner.RunResult | BaseException] = {}
        self.ended: dict[str, float] = {}  # when each run was seen over (its whole sandbox gone)
        self.exited: dict[str, float] = {}  # when each judged program itself ended, as its pidfd said
        self.lineages: dict[str, list[int]] = {}  # each run's bubblewrap, its sandbox's init and the program
        self.stopped: set[str] = set()
        self.lock = threading.Lock()
        self.ends: ends.Ends | None = None  # the kernel's order of the programs' ends, where it tells it
        self.finders: list[threading.Thread] = []  # each looks for a run's program (then watches it)

    def run(self) -> _Runs:
        to_contestant = os.pipe()  # the interactor writes, the contestant reads
        from_contestant = os.pipe()  # the contestant writes, the interactor reads
        pipes = {"contestant": (to_contestant[0], from_contestant[1]),
                 "interactor": (from_contestant[0], to_contestant[1])}
        threads = [threading.Thread(target=self._one, args=(name, *pipes[name]), daemon=True)
                   for name in ("interactor", "contestant")]
        self.ends = ends.listen()
        try:
            for thread in threads:
                thread.start()
        finally:
            for thread in threads:
                thread.join()
            for finder in self.finders:  # started by the runs, all before they ended
                finder.join()
            if self.ends is not None:
                self.ends.close()
        for result in self.results.values():
            if isinstance(result, BaseException):
                raise result
        interactor_first = self._kernels_order()
        if interactor_first is None:  # the kernel did not tell: the programs' ends as seen, else their runs'
            seen = self.exited if len(self.exited) == 2 else self.ended
            return _Runs(self.results["contestant"], self.results["interactor"],
                         seen["interactor"] < seen["contestant"], "interactor" in self.stopped,
                         "contestant" in self.stopped)
        # a run killed after its program had ended by itself was not stopped by the other's end
        return _Runs(self.results["contestant"], self.results["interactor"], interactor_first,
                     "interactor" in self.stopped and not interactor_first,
                     "contestant" in self.stopped and interactor_first)

    def _kernels_order(self) -> bool | None:
        """Whether the interactor's program ended before the contestant's, as the kernel
        recorded their ends (``ends.py``); None when it did not tell."""
        if self.ends is None:
            return None
        interactor, contestant = self._program("interactor"), self._program("contestant")
        first = self.ends.first(interactor, contestant) if interactor and contestant else None
        return None if first is None else first == interactor

    def _program(self, name: str) -> int | None:
        """The run's program: as seen running, else the first child heard ending of each
        generation the judge did not see (on a busy machine a short program may end first)."""
        lineage = self.lineages.get(name, [])
        pid = self.pids.get(name)  # the run's reaper
        for generation in range(3):  # bubblewrap, its sandbox's init, the program
            pid = lineage[generation] if generation < len(lineage) else (
                self.ends.first_child(pid) if pid is not None else None)
        return pid

    def _one(self, name: str, stdin: int, stdout: int) -> None:
        closed = []

        def started(pid: int) -> None:  # the child holds its ends now: ours must go, or no EOF ever comes
            self.pids[name] = pid
            for fd in (stdin, stdout):
                os.close(fd)
            closed.append(True)
            finder = threading.Thread(target=self._note_exit, args=(name, pid), daemon=True)
            self.finders.append(finder)
            finder.start()

        try:
            self.results[name] = result = self.start[name](stdin, stdout, started)
        except BaseException as e:  # noqa: BLE001 (handed to the caller's thread)
            self.results[name] = e
            result = None
        finally:
            if not closed:
                for fd in (stdin, stdout):
                    os.close(fd)
            self.ended[name] = time.monotonic()
        other = "interactor" if name == "contestant" else "contestant"
        over = result is None or (name == "contestant" and result.status in ("tle", "mle")) or (
            name == "interactor" and result.exit_code == WRONG)
        if over:
            self._stop(other)

    def _note_exit(self, name: str, reaper: int) -> None:
        """Which process is the judged program itself: its sandbox's teardown and the watching
        loop's pace would blur which of the two ended first, the one thing problemtools' rule
        asks. The program is the reaper's great-grandchild (reaper, bubblewrap, the sandbox's
        init). Where the kernel does not tell the order of ends, when its pidfd says it ended."""
        self.lineages[name] = lineage = _lineage(reaper)
        if self.ends is not None or len(lineage) < 3:
            return  # the kernel tells the order of the ends; or it has ended already: the runs' ends decide
        pid = lineage[-1]
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            return
        try:
            while not select.select([fd], [], [], 1.0)[0]:  # readable once it has ended
                if self.pids.get(name) is None or name in self.ended:
                    return
            self.exited[name] = time.monotonic()
        finally:
            os.close(fd)

    def _stop(self, name: str) -> None:
        """End the other run: its verdict no longer matters (or cannot come). A run whose
        processes had all ended on their own (its end not seen yet) is not counted as stopped."""
        with self.lock:
            if name in self.ended or name not in self.pids:
                return
            uid = self.uids[name]
            if uid is None or _alive(uid):
                self.stopped.add(name)
            runner._stop(self.pids[name], uid)


def _lineage(reaper: int, timeout: float = 10.0) -> list[int]:
    """The host pids of the processes a run's reaper started, one per generation: bubblewrap,
    the sandbox's init and the program, once it exists; fewer when the run ended first."""
    deadline = time.monotonic() + timeout
    found: list[int] = []
    while time.monotonic() < deadline:
        pid, lineage = reaper, []
        for _ in range(3):
            try:
                with open(f"/proc/{pid}/task/{pid}/children") as f:
                    children = f.read().split()
            except OSError:
                return found  # gone: the run is over
            if not children:
                break
            pid = int(children[0])
            lineage.append(pid)
        found = max(found, lineage, key=len)
        if len(found) == 3:
            return found
        time.sleep(0.001)
    return found


def _alive(uid: int) -> bool:
    return any(not p.zombie for p in processes_of(uid))


def verdict(runs: _Runs, time_limit: float, message: str, score_text: str | None, input_path: Path) -> Outcome:
    """problemtools' rules (see the module's docstring), in their order."""
    contestant, interactor = runs.contestant, runs.interactor
    cpu = contestant.cpu
    if contestant.status == "ok" and cpu > time_limit:
        contestant.status = "tle"
    judged = interactor.exit_code in (ACCEPTED, WRONG) and interactor.signal is None
    if runs.interactor_stopped and contestant.status != "ok":
        return Outcome(runner.RUN_VERDICTS[contestant.status], cpu, _last_line(contestant.stderr), None, contestant, interactor)
    if not judged:
        ending = (f"signal {interactor.signal}" if interactor.signal else f"exit {interactor.exit_code}"
                  if interactor.status in ("ok", "rte") else interactor.status.upper())
        raise InteractorFailed(N_("The interactor failed on test {test} ({ending}): {detail}. "
                                  "It must exit with 42 (accepted) or 43 (wrong answer): fix the task's interactor."),
                               test=input_path.stem, ending=ending, detail=interactor.stderr.strip()[-300:] or "-")
    score = float(score_text.strip()) if score_text is not None and score_text.strip() else None
    # the interactor rejected first: it was killed for that, or ended on its own after the
    # rejection (a run that reached its limit first would have had the interactor killed)
    # (a contestant that died of a broken pipe wrote after the interactor had closed its end)
    first = runs.interactor_first or contestant.signal == signal.SIGPIPE
    rejected_first = runs.contestant_stopped or (first and contestant.status not in ("tle", "mle"))
    if interactor.exit_code == WRONG and rejected_first:
        return _rejected(min(cpu, time_limit), message, score, contestant, interactor)
    if contestant.status != "ok":
        return Outcome(runner.RUN_VERDICTS[contestant.status], cpu, _last_line(contestant.stderr), None, contestant, interactor)
    if interactor.exit_code == ACCEPTED:
        return Outcome("AC", cpu, message, score, contestant, interactor)
    return _rejected(cpu, message, score, contestant, interactor)


def _rejected(cpu: float, message: str, score: float | None, contestant, interactor) -> Outcome:
    judgement = wrong_answer(message, score)
    return Outcome("WA", cpu, judgement.message, score, contestant, interactor, judgement.note)


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1][:300] if lines else ""
