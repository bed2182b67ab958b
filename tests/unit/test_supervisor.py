"""The supervisor of `sabaq up`, on small stand-in processes: restarts and their pauses,
a stop that no process can hold up, and a clean-up after a crash that touches only what the
crashed run started (never a stranger given a recycled pid)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from sabaq.hub.jupyterhub import rundir, supervisor
from sabaq.hub.jupyterhub.rundir import Record, RunDir, RunState, stop_leftovers
from sabaq.hub.jupyterhub.supervisor import Program, Supervisor
from sabaq.processes import is_running, start_time
from sabaq.settings import Settings

ENV = {"PATH": os.environ["PATH"]}
SPEED = 10


@pytest.fixture(autouse=True)
def quick_clock(monkeypatch):
    """The supervisor's clock runs SPEED times as fast: its pauses (1, 2, 4 s), grace and mend
    periods pass in a tenth of the time, in the same order; the processes, their exits and
    signals stay real (and so do the live checks' own waits)."""
    real = time.monotonic
    start = real()
    monkeypatch.setattr(supervisor, "time", SimpleNamespace(
        monotonic=lambda: start + (real() - start) * SPEED, time=time.time, sleep=time.sleep))


def gone(pid: int) -> bool:
    return start_time(pid) is None


def run_until(supervisor: Supervisor, check, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        supervisor.tick()
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("not within the time allowed")


def make(tmp_path, *programs: Program) -> tuple[Supervisor, list]:
    said = []
    s = Supervisor(list(programs), RunDir(tmp_path), "test-" + os.urandom(4).hex(),
                   lambda message, **values: said.append(message.format(**values)))
    return s, said


def test_a_process_that_dies_is_started_again_counted_and_written_down(tmp_path):
    s, said = make(tmp_path, Program("sleeper", ["sleep", "60"], ENV))
    try:
        s.tick()
        first = s.children["sleeper"].proc.pid
        assert RunDir(tmp_path).pid_of("sleeper") == first
        os.kill(first, signal.SIGKILL)
        run_until(s, lambda: s.children["sleeper"].proc is not None and s.children["sleeper"].proc.pid != first)
        second = s.children["sleeper"].proc.pid
        state = RunDir(tmp_path).read()
        assert RunDir(tmp_path).pid_of("sleeper") == second
        [record] = state.processes
        assert (record.pid, record.restarts, record.last_exit) == (second, 1, "signal 9")
        assert is_running(second, record.started)
        assert any(f"sleeper (process {first}) stopped (signal 9)" in line for line in said)
    finally:
        s.stop_all(grace=1, kill_wait=1)


def test_after_a_restart_the_others_are_mended_or_else_restarted(tmp_path, monkeypatch):
    # the proxy's case: once a new one runs, the hub is asked for the routes; restarted if it cannot be
    monkeypatch.setattr(supervisor, "MEND_SECONDS", 5)  # 0.5 s at the quick clock
    answers = {"mended": False}
    asked = []

    def mend():
        asked.append(time.monotonic())
        return answers["mended"]

    s, _ = make(tmp_path, Program("front", ["sleep", "60"], ENV, after_restart=mend, restarts_with=("back",)),
                Program("back", ["sleep", "60"], ENV))
    try:
        s.tick()
        back = s.children["back"].proc.pid
        answers["mended"] = True
        os.kill(s.children["front"].proc.pid, signal.SIGKILL)
        run_until(s, lambda: asked and s.children["front"].mend_until is None)
        assert s.children["back"].proc.pid == back  # mended: not restarted

        answers["mended"] = False
        os.kill(s.children["front"].proc.pid, signal.SIGKILL)
        run_until(s, lambda: s.children["back"].record.restarts == 1)
        assert s.children["back"].record.last_exit == "signal 15"  # asked to stop, to start again
        assert len(asked) > 2
    finally:
        s.stop_all(grace=1, kill_wait=1)


def test_a_process_that_keeps_dying_waits_longer_each_time(tmp_path):
    s, said = make(tmp_path, Program("broken", ["sh", "-c", "exit 3"], ENV))
    try:
        run_until(s, lambda: s.children["broken"].record.restarts >= 3, timeout=60)
        assert s.failing(3) == "broken" and s.failing(4) is None
        pauses = [line.split("starting it again in ")[1].split(" s")[0] for line in said]
        assert pauses[:3] == ["1", "2", "4"]
        assert all("(exit 3)" in line for line in said)
    finally:
        s.stop_all(grace=1, kill_wait=1)


def test_stop_ends_processes_that_ignore_sigterm_and_those_in_sessions_of_their_own(tmp_path):
    # a child that ignores SIGTERM, and a grandchild in a session of its own (as a user's server
    # or a kernel is): found by the run's id in its environment
    script = "trap '' TERM; setsid sh -c \"trap '' TERM; sleep 300\" & sleep 300"
    s, _ = make(tmp_path, Program("stubborn", ["sh", "-c", script], ENV))
    s.tick()
    run_until(s, lambda: len(rundir.members_of(s.run)) >= 3)
    members = rundir.members_of(s.run)
    started = time.monotonic()
    s.stop_all(grace=1, kill_wait=2)
    assert time.monotonic() - started < 10
    assert all(gone(pid) for pid in members)
    assert not list((tmp_path / "run").glob("*.pid")) and RunDir(tmp_path).read() is None


def test_after_a_crash_only_the_recorded_processes_are_stopped(tmp_path):
    run = "crashed-" + os.urandom(4).hex()
    ours = subprocess.Popen(["sleep", "300"], env={**ENV, rundir.RUN_ENV: run}, start_new_session=True)
    stranger = subprocess.Popen(["sleep", "300"], env=ENV, start_new_session=True)
    try:
        ours_started, stranger_started = start_time(ours.pid), start_time(stranger.pid)
        state = RunState(run, Record("sabaq-up", pid=1), [
            Record("service", pid=ours.pid, started=ours_started, state="running"),
            # the hub's pid, since given by the system to another program: its start time differs
            Record("hub", pid=stranger.pid, started=stranger_started - 1, state="running"),
        ])
        stopped = stop_leftovers(state, grace=2)
        assert [r.name for r in stopped] == ["service"]
        assert ours.wait(timeout=5) == -signal.SIGTERM
        assert stranger.poll() is None  # not ours: untouched
    finally:
        stranger.kill()
        ours.kill()
        stranger.wait()
        ours.wait()


def test_a_run_dir_stops_what_its_recorded_run_left(tmp_path):
    """What a stop that timed out (a bench's, a test stack's) and the next start call: nothing
    recorded is None; a recorded run's processes are stopped."""
    assert RunDir(tmp_path).stop_what_is_left() is None
    run = "left-" + os.urandom(4).hex()
    ours = subprocess.Popen(["sleep", "300"], env={**ENV, rundir.RUN_ENV: run}, start_new_session=True)
    try:
        RunDir(tmp_path).write(RunState(run, Record("sabaq-up", pid=1), [
            Record("worker-1", pid=ours.pid, started=start_time(ours.pid), state="running")]))
        assert [r.name for r in RunDir(tmp_path).stop_what_is_left()] == ["worker-1"]
        assert ours.wait(timeout=5) == -signal.SIGTERM
    finally:
        ours.kill()
        ours.wait()


def test_one_supervisor_per_data_directory(tmp_path):
    first = RunDir(tmp_path)
    assert first.lock()
    try:
        assert not RunDir(tmp_path).lock()
        assert RunDir(tmp_path).locked_by_other()
        # the lock goes with the process that holds it, however it ends
        code = subprocess.run([sys.executable, "-c",
                               "import sys; from sabaq.hub.jupyterhub.rundir import RunDir; "
                               "sys.exit(0 if RunDir(sys.argv[1]).lock() else 1)", str(tmp_path)]).returncode
        assert code == 1
    finally:
        first.unlock()
    assert not RunDir(tmp_path).locked_by_other()
    assert RunDir(tmp_path).lock()


def test_a_new_run_tells_the_hub_that_no_users_server_runs(tmp_path):
    # the hub keeps users' servers across its own restarts; across sabaq up's, they were stopped:
    # left recorded, the new hub would take the pid, perhaps a stranger's by now, for her server
    from jupyterhub import orm

    from sabaq.hub.jupyterhub.launcher import forget_stopped_servers

    (tmp_path / "hub").mkdir()
    url = f"sqlite:///{tmp_path / 'hub' / 'jupyterhub.sqlite'}"
    db = orm.new_session_factory(url)()
    user = orm.User(name="aliya")
    db.add(user)
    db.commit()
    spawner = orm.Spawner(user_id=user.id, name="", server=orm.Server(port=45678), state={"pid": os.getpid()})
    service = orm.Service(name="sabaq", server=orm.Server(port=10101))
    db.add_all([spawner, service])
    db.commit()
    db.close()

    forget_stopped_servers(Settings.load(data_dir=tmp_path, environ={}))

    db = orm.new_session_factory(url)()
    spawner = db.query(orm.Spawner).one()
    assert spawner.server is None and spawner.state == {}
    assert [s.port for s in db.query(orm.Server)] == [10101]  # the service's address stays
    db.close()


def test_a_process_that_stops_answering_is_restarted(tmp_path):
    # hung: its pid and port are still there, only its check says so
    answers = {"ok": True}
    program = Program("service", ["sleep", "60"], ENV, live=lambda: answers["ok"],
                      live_every=0.1, live_after=0.0, live_misses=3)
    s, said = make(tmp_path, program)
    try:
        s.tick()
        first = s.children["service"].proc.pid
        time.sleep(0.8)
        s.tick()
        assert s.children["service"].proc.pid == first and s.children["service"].misses == 0
        answers["ok"] = False
        run_until(s, lambda: s.children["service"].record.restarts == 1)
        assert any(f"service (process {first}) has not answered 3 checks in a row" in line for line in said)
        answers["ok"] = True
        run_until(s, lambda: s.children["service"].proc is not None)
        assert s.children["service"].proc.pid != first
    finally:
        s.stop_all(grace=1, kill_wait=1)
