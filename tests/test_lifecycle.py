"""`sabaq up` as an operator meets it: every process it starts is kept running (one that
dies is started again in seconds), Ctrl-C or SIGTERM stops everything, users' servers
included, a start after a crash cleans up what the crashed run left, and a restart keeps
all data. Processes are found as an operator finds them: <data>/run/<name>.pid."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys

import httpx
import pytest
from processes import alive, cmdline_of, descendants, processes_of, wait_for
from stack import Stack

pytestmark = pytest.mark.e2e

NAMES = ("proxy", "hub", "service", "worker-1", "worker-2")
RESTART_BOUND = 60  # seconds: generous for a busy machine; JupyterHub took 21-28 s to notice alone


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def pid_of(stack: Stack, name: str) -> int | None:
    try:
        return int((stack.data_dir / "run" / f"{name}.pid").read_text())
    except (OSError, ValueError):
        return None


def records(stack: Stack) -> dict[str, dict]:
    state = json.loads((stack.data_dir / "run" / "processes.json").read_text())
    return {r["name"]: r for r in state["processes"]}


def kill_and_wait_for_the_next(stack: Stack, name: str) -> tuple[int, int]:
    """kill -9 a process; (its pid, the pid of the one started in its place)."""
    old = pid_of(stack, name)
    assert old and alive(old)
    os.kill(old, signal.SIGKILL)
    new = wait_for(f"{name} started again", lambda: (p := pid_of(stack, name)) != old and p and alive(p) and p)
    return old, new


def public_ok(stack: Stack, path: str, **headers) -> bool:
    return httpx.get(stack.url + path, headers=headers, timeout=5).status_code == 200


def all_up(stack: Stack) -> bool:
    return (all(pid_of(stack, n) and alive(pid_of(stack, n)) for n in NAMES)
            and public_ok(stack, "/hub/api") and public_ok(stack, "/services/sabaq/health"))


def server_answers(stack: Stack, name: str) -> bool:
    url, headers = stack.server(name)
    r = httpx.get(f"{url}/api/status", headers={**headers, "Authorization": f"token {stack.token(name)}"}, timeout=10)
    return r.status_code == 200


def server_pids(stack: Stack, name: str) -> list[int]:
    """The user's server and kernels: the processes of her system account."""
    return processes_of(stack.system_user(name))


def ports(stack: Stack) -> list[int]:
    return [stack.port] + [int(stack.env[k]) for k in
                           ("SABAQ_HUB_API_PORT", "SABAQ_HUB_PROXY_API_PORT", "SABAQ_SERVICE_PORT")]


def crash(stack: Stack) -> None:
    """kill -9 of `sabaq up` itself: what it started is left running."""
    os.kill(stack.proc.pid, signal.SIGKILL)
    stack.proc.wait()
    stack.proc = None
    stack._log.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("supervised") / "data", extra_env={"SABAQ_WORKER_COUNT": "2"})
    try:
        s.start()
        yield s
    finally:
        s.stop()
        s.cleanup()


def test_a_killed_service_is_started_again_and_its_pages_answer(stack):
    wait_for("everything up", lambda: all_up(stack))
    old, new = kill_and_wait_for_the_next(stack, "service")
    wait_for("the service's pages through the proxy", lambda: public_ok(stack, "/services/sabaq/health"))
    assert stack.api("aliya").get("/courses").status_code == 200
    record = records(stack)["service"]
    assert record["pid"] == new and record["restarts"] >= 1 and record["last_exit"] == "signal 9"
    assert f"service (process {old}) stopped (signal 9)" in stack.output.read_text()


def test_a_killed_worker_is_replaced(stack):
    wait_for("everything up", lambda: all_up(stack))
    _, new = kill_and_wait_for_the_next(stack, "worker-1")
    assert b"SABAQ_WORKER_NAME=worker-1" in open(f"/proc/{new}/environ", "rb").read().split(b"\0")
    assert open(f"/proc/{new}/cmdline", "rb").read().split(b"\0")[-3:-1] == [b"sabaq", b"worker"]


@pytest.mark.parametrize("name", ["hub", "proxy", "service"])
def test_the_supervisors_live_checks_tell_a_stopped_process_from_a_running_one(stack, name):
    """What `sabaq up` asks each of them (a hung process keeps its pid and port); a stopped
    one (SIGSTOP) does not answer, and after live_misses such answers it is restarted
    (tests/unit/test_supervisor.py)."""
    from sabaq.hub.jupyterhub import launcher
    from sabaq.settings import Settings

    wait_for("everything up", lambda: all_up(stack))
    settings = Settings.load(data_dir=stack.data_dir, environ=stack.env)
    program = {p.name: p for p in launcher.programs(settings)}[name]
    assert program.live is not None and program.live()
    pid = pid_of(stack, name)
    os.killpg(pid, signal.SIGSTOP)  # the whole program: the service's processes too
    try:
        check = {"hub": launcher.hub_live, "proxy": launcher.proxy_live}.get(name)
        assert not (check(settings, timeout=2) if check else launcher.answers(settings.service_url + "live", 2))
    finally:
        os.killpg(pid, signal.SIGCONT)
    wait_for(f"{name} answers again", program.live)


def test_grading_runs_nicer_than_what_students_wait_for(stack):
    """When the machine is busy the service, hub and proxy get the CPU before grading."""
    wait_for("everything up", lambda: all_up(stack))
    for name in ("service", "hub", "proxy"):
        assert os.getpriority(os.PRIO_PROCESS, pid_of(stack, name)) == 0, name
    from test_server_origins import submit

    submit(stack, "aliya")  # a worker starts its sandbox for it, and keeps it
    workers = [pid_of(stack, "worker-1"), pid_of(stack, "worker-2")]
    wait_for("a worker's sandbox started", lambda: [d for w in workers for d in descendants(w)], timeout=180)
    for pid in [*workers, *(d for w in workers for d in descendants(w))]:
        try:
            assert os.getpriority(os.PRIO_PROCESS, pid) == 10, open(f"/proc/{pid}/cmdline", "rb").read()
        except ProcessLookupError:
            pass  # a short-lived child that ended meanwhile


def test_a_killed_hub_comes_back_and_a_students_server_keeps_running(stack):
    wait_for("everything up", lambda: all_up(stack))
    stack.start_server("aliya")
    # her server itself (other processes of her account may come and go meanwhile)
    before = [p for p in server_pids(stack, "aliya") if b"jupyterhub-singleuser" in cmdline_of(p)]
    assert before and server_answers(stack, "aliya")
    kill_and_wait_for_the_next(stack, "hub")
    wait_for("the hub's API through the proxy", lambda: public_ok(stack, "/hub/api"))
    assert all(alive(p) for p in before)  # the same server: not stopped, not started again
    wait_for("aliya's server through the proxy", lambda: server_answers(stack, "aliya"))
    model = stack.hub_api(stack.token("aliya")).get("/users/aliya").json()
    assert model["servers"][""]["ready"]  # the new hub took the running server over


def test_a_killed_proxy_comes_back_with_every_route(stack):
    wait_for("everything up", lambda: all_up(stack))
    stack.start_server("aliya")  # running already, or started
    wait_for("aliya's server", lambda: server_answers(stack, "aliya"))
    hub = pid_of(stack, "hub")
    kill_and_wait_for_the_next(stack, "proxy")
    # a new proxy knows no routes: the hub's, the service's and aliya's server's come back
    wait_for("the hub's route", lambda: public_ok(stack, "/hub/api"))
    wait_for("the service's route", lambda: public_ok(stack, "/services/sabaq/health"))
    wait_for("aliya's server's route", lambda: server_answers(stack, "aliya"))
    assert pid_of(stack, "hub") == hub  # given by the running hub, which was asked for them
    assert "the hub has given the new proxy every route" in stack.output.read_text()
    # the new proxy's API, like the first's, takes no route from a local process without its token
    # (a student's server runs on this machine): none to read, none to add
    api = f"http://127.0.0.1:{stack.env['SABAQ_HUB_PROXY_API_PORT']}/api/routes"
    assert httpx.get(api, timeout=10).status_code == 403
    hijack = httpx.post(f"{api}/hub", json={"target": "http://127.0.0.1:9"}, timeout=10)
    assert hijack.status_code == 403
    assert public_ok(stack, "/hub/api")


def test_status_lists_each_process_its_restarts_and_the_queue(stack):
    wait_for("everything up", lambda: all_up(stack))
    kill_and_wait_for_the_next(stack, "worker-2")
    wait_for("everything up", lambda: all_up(stack))
    out = subprocess.run([sys.executable, "-m", "sabaq", "status", "--data", str(stack.data_dir)],
                         env=stack.env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith(f"sabaq is running on {stack.data_dir}: process {stack.proc.pid}, up ")
    restarts = {name: r["restarts"] for name, r in records(stack).items()}
    assert restarts["worker-2"] >= 1
    for name in NAMES:
        assert any(ln.strip().startswith(f"{name}: process {pid_of(stack, name)}, up ")
                   and ln.endswith(f"restarts {restarts[name]}") for ln in lines), (name, lines)
    assert any(ln.startswith("Grading queue: ") for ln in lines), lines


def test_sigterm_stops_everything_users_servers_included(tmp_path):
    """Started as a script's background job is (Ctrl-C ignored, which sabaq up leaves ignored,
    as under nohup): it says how to stop it, and SIGTERM does."""
    stack = Stack(tmp_path / "data")
    try:
        stack.start(deaf_to_ctrl_c=True)
        assert f"stop it with `kill -TERM {stack.proc.pid}`" in stack.output.read_text()
        stack.start_server("aliya")
        started = [pid_of(stack, n) for n in ("sabaq-up", "proxy", "hub", "service", "worker-1")]
        servers = server_pids(stack, "aliya")
        assert all(started) and servers
        os.kill(stack.proc.pid, signal.SIGTERM)  # what a service manager sends
        assert stack.proc.wait(timeout=10) == 0  # everything it started is stopped before it exits
        assert not any(alive(p) for p in started + servers)
        assert not any(listening(p) for p in ports(stack))
        assert not list((stack.data_dir / "run").glob("*.pid"))
    finally:
        stack.stop()
        stack.cleanup()


def test_after_a_crash_the_next_up_stops_what_was_left_and_starts(tmp_path):
    stack = Stack(tmp_path / "data")
    try:
        stack.start()
        second = subprocess.run([sys.executable, "-m", "sabaq", "up", "--data", str(stack.data_dir)],
                                env={**stack.env, "SABAQ_LANG": "ru"}, capture_output=True, text=True, timeout=60)
        assert second.returncode == 2  # refused: one sabaq per data directory
        assert str(stack.data_dir) in second.stderr and str(stack.proc.pid) in second.stderr
        assert all_up(stack)  # and the running one was not disturbed

        left = {n: pid_of(stack, n) for n in NAMES[:4]}
        crash(stack)
        assert all(alive(p) for p in left.values())  # orphans, holding the ports
        stack.start()
        assert not any(alive(p) for p in left.values())
        assert "the last run did not stop cleanly" in stack.output.read_text()
        assert all(pid_of(stack, n) not in left.values() for n in left)
        assert stack.api("aliya").get("/courses").status_code == 200
    finally:
        stack.stop()
        stack.cleanup()


def test_ctrl_c_stops_everything_and_restart_keeps_data(tmp_path):
    stack = Stack(tmp_path / "data")
    try:
        stack.start()
        logins = (stack.data_dir / "demo-logins.txt").read_text()
        api = stack.api("aliya")
        notebook = api.get("/courses/demo/assignments/ps1/download")
        assert notebook.status_code == 200
        from sabaq.archive import unpack

        files = [("files", (p, c, "x")) for p, c in unpack(notebook.content).items()]
        first = api.post("/courses/demo/assignments/ps1/submissions", files=files)
        assert first.status_code == 201
        ports = [stack.port] + [int(stack.env[k]) for k in
                                ("SABAQ_HUB_API_PORT", "SABAQ_HUB_PROXY_API_PORT", "SABAQ_SERVICE_PORT")]
        assert all(listening(p) for p in ports)
        pids = [int(p.read_text()) for p in (stack.data_dir / "run").glob("*.pid")]
        assert len(pids) >= 5  # sabaq up, the proxy, the hub, the service, a worker

        assert stack.stop() == 0
        assert not any(alive(p) for p in pids)
        assert not any(listening(p) for p in ports)
        leftover = subprocess.run(["pgrep", "-f", str(stack.data_dir)], capture_output=True, text=True)
        assert leftover.stdout.strip() == ""

        stack.start()
        assert (stack.data_dir / "demo-logins.txt").read_text() == logins  # not seeded twice
        mine = stack.api("aliya").get("/courses/demo/assignments/ps1/submissions").json()
        assert [s["id"] for s in mine] == [first.json()["id"]]
        assert "Demo accounts" in stack.output.read_text()
    finally:
        stack.stop()
        stack.cleanup()


def test_a_process_that_never_starts_is_retried_then_given_up_with_nothing_left(tmp_path):
    stack = Stack(tmp_path / "data", extra_env={"SABAQ_HUB_PROXY_COMMAND": "/bin/false"})
    try:
        out = subprocess.run([sys.executable, "-m", "sabaq", "up", "--data", str(stack.data_dir)],
                             env=stack.env, capture_output=True, text=True, timeout=300)
    finally:
        stack.cleanup()
    assert out.returncode == 1
    pauses = re.findall(r"proxy \(process \d+\) stopped \(exit 1\) after \d+ s; starting it again in (\d+) s",
                        out.stdout)
    assert pauses == ["1", "2", "4", "8", "16"]
    assert "proxy stopped 5 times in a row before sabaq was ready" in out.stdout
    assert not list((stack.data_dir / "run").glob("*.pid"))
    assert not any(listening(p) for p in ports(stack))


def test_up_refuses_a_busy_port(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        stack = Stack(tmp_path / "data")
        env = {**stack.env, "SABAQ_SERVICE_PORT": str(port)}
        out = subprocess.run([sys.executable, "-m", "sabaq", "up", "--data", str(stack.data_dir)],
                             env=env, capture_output=True, text=True, timeout=60)
        stack.cleanup()
    assert out.returncode == 2
    assert f"Port {port} ([service] port) is already in use" in out.stderr


def test_up_refuses_one_port_for_two_things(tmp_path):
    stack = Stack(tmp_path / "data")
    env = {**stack.env, "SABAQ_HUB_API_PORT": stack.env["SABAQ_HUB_PORT"], "SABAQ_LANG": "ru"}
    out = subprocess.run([sys.executable, "-m", "sabaq", "up", "--data", str(stack.data_dir)],
                         env=env, capture_output=True, text=True, timeout=60)
    stack.cleanup()
    assert out.returncode == 2
    assert "[hub] port и [hub] api_port" in out.stderr and stack.env["SABAQ_HUB_PORT"] in out.stderr
