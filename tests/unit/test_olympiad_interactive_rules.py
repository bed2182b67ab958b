"""An interactive test's verdict, from how the contestant's run and the interactor's ended,
by problemtools' rules (judge/execute.py ``_run_interactive``). The runs themselves, in the
sandbox, are in tests/test_olympiad_interactive.py."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from sabaq.autograders.olympiad.interactive import InteractorFailed, _Pair, _Runs, verdict
from sabaq.autograders.olympiad.run import RunResult

TEST = Path("/nowhere/secret/07.in")


def ran(status="ok", code=0, sig=None, cpu=0.1, stderr="") -> RunResult:
    return RunResult(status, code, sig, cpu, cpu, stderr)


def judged(contestant: RunResult, interactor: RunResult, *, first=False, interactor_stopped=False,
           contestant_stopped=False, time_limit=1.0, message="", score=None):
    runs = _Runs(contestant, interactor, first, interactor_stopped, contestant_stopped)
    return verdict(runs, time_limit, message, score, TEST)


def test_the_interactors_exit_code_decides_when_the_contestant_ran_well():
    ok = judged(ran(), ran("rte", 42), message="found in 12 questions\n", score="7")
    assert (ok.verdict, ok.message, ok.score) == ("AC", "found in 12 questions\n", 7.0)
    assert judged(ran(), ran("rte", 43)).verdict == "WA"


def test_a_rejection_that_came_first_is_wa_whatever_the_contestant_did_after():
    # it wrote to the closed pipe: SIGPIPE, a crash caused by the rejection
    assert judged(ran("rte", None, signal.SIGPIPE), ran("rte", 43)).verdict == "WA"
    # the interactor ended while the contestant still ran; then it crashed on its closed input
    assert judged(ran("rte", 1, stderr="EOFError"), ran("rte", 43), first=True).verdict == "WA"
    # killed by the judge because the interactor had rejected it
    assert judged(ran("rte", None, signal.SIGKILL), ran("rte", 43), contestant_stopped=True).verdict == "WA"


def test_the_contestants_own_failure_comes_before_the_interactors_verdict():
    crash = judged(ran("rte", 1, stderr="Traceback\nZeroDivisionError: division by zero"), ran("rte", 43))
    assert (crash.verdict, crash.message) == ("RTE", "ZeroDivisionError: division by zero")
    assert judged(ran("mle", None, signal.SIGKILL), ran("rte", 43)).verdict == "MLE"
    # an accepting interactor does not excuse a crash after it (problemtools: RTE)
    assert judged(ran("rte", 1), ran("rte", 42), first=True).verdict == "RTE"
    # over the time limit by CPU even though it ended by itself
    assert judged(ran(cpu=1.5), ran("rte", 42), time_limit=1.0).verdict == "TLE"


def test_a_contestant_out_of_time_is_tle_even_when_the_interactor_seems_first():
    """Out of time, it is killed; the interactor, reading EOF, may be seen ending first: still TLE."""
    assert judged(ran("tle", None, signal.SIGKILL), ran("rte", 43), first=True).verdict == "TLE"
    assert judged(ran("tle", None, signal.SIGKILL), ran("rte", None, signal.SIGKILL),
                  interactor_stopped=True).verdict == "TLE"


def test_an_interactor_that_neither_accepts_nor_rejects_is_the_tasks_fault():
    for interactor in (ran("rte", 1, stderr="IndexError: list index out of range"), ran("ok", 0),
                       ran("rte", None, signal.SIGSEGV)):
        with pytest.raises(InteractorFailed) as failed:
            judged(ran(), interactor)
        assert "07" in str(failed.value) and "fix the task's interactor" in str(failed.value)


class _HeardEnds:
    """The kernel's order of ends (ends.Ends), as heard: pids in order, each with its parent."""

    def __init__(self, *ended: tuple[int, int]):
        self.order = [pid for pid, _ in ended]
        self.parents = dict(ended)

    def first(self, a, b):
        return min(a, b, key=self.order.index) if a in self.order and b in self.order else None

    def first_child(self, parent):
        return next((pid for pid in self.order if self.parents[pid] == parent), None)


def test_the_order_of_ends_is_the_programs_even_those_the_judge_did_not_see_start():
    """The contestant's program (reaper 10, bubblewrap 11, init 12, program 13) crashed and
    ended before the interactor's (reaper 20 ... program 23), whose run the judge saw end
    first; the judge saw the contestant's run only down to bubblewrap."""
    pair = _Pair(None, None, None, None)
    pair.pids = {"contestant": 10, "interactor": 20}
    pair.lineages = {"contestant": [11], "interactor": [21, 22, 23]}
    pair.ended = {"interactor": 1.0, "contestant": 2.0}
    pair.ends = _HeardEnds((13, 12), (23, 22), (22, 21), (21, 20), (12, 11), (11, 10))
    assert pair._program("contestant") == 13 and pair._program("interactor") == 23
    assert pair._kernels_order() is False  # the contestant's program ended first
    pair.ends = _HeardEnds((23, 22), (13, 12), (12, 11), (11, 10), (22, 21), (21, 20))
    assert pair._kernels_order() is True
    pair.ends = _HeardEnds((23, 22), (22, 21), (21, 20))  # the contestant's program not heard
    assert pair._kernels_order() is None
