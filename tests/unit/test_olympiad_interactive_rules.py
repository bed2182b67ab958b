"""An interactive test's verdict, from how the contestant's run and the interactor's ended,
by problemtools' rules (judge/execute.py ``_run_interactive``). The runs themselves, in the
sandbox, are in tests/test_olympiad_interactive.py."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from sabaq.autograders.olympiad.interactive import InteractorFailed, _Runs, verdict
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
