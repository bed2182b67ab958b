"""Students' servers started warm (forked from the hub's fork server, ``sabaq.hub.jupyterhub.
warmstart``) are as isolated as cold-started ones: each runs as its student's account, with her
groups and home, with exactly the environment the spawner gives (no variable of the fork
server's) and none of the fork server's descriptors; so are their Python kernels, forked from the
hub's kernel fork server (``sabaq.hub.jupyterhub.kernelfork``); one student's kernel cannot read
another's files; the fork server dies with the hub (her server runs on) and with `sabaq up`.

Needs root (system accounts), as CI runs it."""

from __future__ import annotations

import json
import os
import pwd
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from processes import alive, cmdline_of, processes_of, read, wait_for
from stack import Stack

from sabaq.hub.jupyterhub.warmstart import ROOM_VARIABLE

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root: system accounts (CI is root)")]
FORK_SERVER = b"sabaq.hub.jupyterhub.warmstart"
KERNEL_FORK_SERVER = b"sabaq.hub.jupyterhub.kernelfork"


def server_pid(stack: Stack, name: str) -> int:
    """The student's JupyterLab server: the process of her account running jupyterhub-singleuser."""
    pids = processes_of(stack.system_user(name))
    servers = [p for p in pids if b"jupyterhub-singleuser" in cmdline_of(p)]
    assert len(servers) == 1, (name, pids)
    return servers[0]


def parent_of(pid: int) -> int:
    return int(read(f"/proc/{pid}/stat").decode().rsplit(")", 1)[1].split()[1])


def status(pid: int) -> dict[str, list[str]]:
    return {k: v.split() for k, _, v in (ln.partition(":") for ln in read(f"/proc/{pid}/status").decode().splitlines())}


def environ(pid: int) -> dict[str, str]:
    entries = [e for e in read(f"/proc/{pid}/environ").split(b"\0") if e]
    return dict(e.decode().split("=", 1) for e in entries)


def descriptors(pid: int) -> dict[int, str]:
    """fd -> what it is (a file's path, socket:[inode], pipe:[inode] ...)."""
    out = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out[int(fd)] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            pass
    return out


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("warm") / "data")
    try:
        s.start()
        yield s
    finally:
        s.stop()
        s.cleanup()


def test_a_warm_server_runs_as_its_student_with_only_what_the_spawner_gives(stack):
    stack.start_server("aliya")
    pid = server_pid(stack, "aliya")
    fork_server = parent_of(pid)
    assert FORK_SERVER in read(f"/proc/{fork_server}/cmdline")  # started warm
    assert os.stat(f"/proc/{fork_server}").st_uid == 0

    account = pwd.getpwnam(stack.system_user("aliya"))
    st = status(pid)
    assert st["Uid"] == [str(account.pw_uid)] * 4 and st["Gid"] == [str(account.pw_gid)] * 4
    assert sorted(map(int, st["Groups"])) == sorted(os.getgrouplist(account.pw_name, account.pw_gid))
    assert st["CapEff"] == ["0000000000000000"] and st["CapPrm"] == ["0000000000000000"]
    assert os.readlink(f"/proc/{pid}/cwd") == account.pw_dir
    assert os.getsid(pid) == pid  # a session of its own: a signal for the hub's group misses it

    env = environ(pid)
    assert env["HOME"] == account.pw_dir and env["USER"] == account.pw_name and env["SABAQ_USER"] == "aliya"
    assert env["JUPYTERHUB_API_TOKEN"] and env["JUPYTERHUB_USER"] == "aliya"
    server_env = environ(fork_server)
    assert env["JUPYTERHUB_API_TOKEN"] not in read(f"/proc/{fork_server}/environ").decode()
    assert ROOM_VARIABLE in server_env and ROOM_VARIABLE not in env
    # what the server's own Python sees (and gives its kernels) is the same environment
    seen = stack.run_code("aliya", "import os, json; print(json.dumps(dict(os.environ)))")
    kernel_env = json.loads(seen.strip().splitlines()[-1])
    assert ROOM_VARIABLE not in kernel_env and kernel_env["HOME"] == account.pw_dir
    assert kernel_env["JUPYTERHUB_API_TOKEN"] == env["JUPYTERHUB_API_TOKEN"]

    mine, theirs = descriptors(pid), descriptors(fork_server)
    assert theirs[0].startswith("socket:")  # the fork server's control socket from the hub
    assert theirs[0] not in mine.values()
    stdio = {mine.get(fd) for fd in (0, 1, 2)}
    assert set(mine.values()) & set(theirs.values()) <= stdio, (mine, theirs)


LOOK = """
import json, os
fds = {}
for fd in os.listdir("/proc/self/fd"):
    try:
        fds[fd] = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        pass
print(json.dumps({"pid": os.getpid(), "parent": os.getppid(), "sid": os.getsid(0), "uid": os.getresuid(),
                  "gid": os.getresgid(), "groups": sorted(os.getgroups()), "env": dict(os.environ), "fds": fds}))
"""


def test_a_students_kernel_is_forked_warm_as_her_with_her_servers_environment(stack):
    stack.start_server("aliya")
    server = server_pid(stack, "aliya")
    seen = json.loads(stack.run_code("aliya", LOOK).strip().splitlines()[-1])
    kernel_fork_server = seen["parent"]
    assert KERNEL_FORK_SERVER in read(f"/proc/{kernel_fork_server}/cmdline")  # started warm
    assert os.stat(f"/proc/{kernel_fork_server}").st_uid == 0

    account = pwd.getpwnam(stack.system_user("aliya"))
    assert seen["uid"] == [account.pw_uid] * 3 and seen["gid"] == [account.pw_gid] * 3
    assert seen["groups"] == sorted(os.getgrouplist(account.pw_name, account.pw_gid))
    assert seen["sid"] == seen["pid"]
    env, server_env = seen["env"], environ(server)
    assert env["JPY_PARENT_PID"] == str(server)  # as the launcher gives a cold kernel
    assert env["JUPYTERHUB_API_TOKEN"] == server_env["JUPYTERHUB_API_TOKEN"] and env["HOME"] == account.pw_dir
    assert env["JUPYTERHUB_API_TOKEN"] not in read(f"/proc/{kernel_fork_server}/environ").decode()
    # exactly her server's, with what the launcher and ipykernel add to a cold kernel's
    added = {"JPY_PARENT_PID", "JPY_SESSION_NAME", "PYDEVD_USE_FRAME_EVAL", "TERM", "CLICOLOR", "FORCE_COLOR",
             "CLICOLOR_FORCE", "PAGER", "GIT_PAGER", "MPLBACKEND"}
    assert {k: v for k, v in env.items() if k not in added} == {k: v for k, v in server_env.items() if k not in added}
    assert ROOM_VARIABLE not in env and "OPENBLAS_NUM_THREADS" not in env

    theirs, servers = descriptors(kernel_fork_server), descriptors(server)
    # only what her server gives it too: stdout and stderr, the hub's log (ipykernel keeps a copy of each)
    assert set(seen["fds"].values()) & set(theirs.values()) <= {servers[1], servers[2]}, (seen["fds"], theirs)
    assert theirs[0].startswith("socket:") and theirs[0] not in seen["fds"].values()  # its control socket


def test_without_the_kernel_fork_server_kernels_start_cold_and_the_next_server_start_brings_it_back(stack):
    stack.start_server("timur")
    server = server_pid(stack, "timur")
    kernel_fork_server = parent_of(open_kernel(stack, "timur"))
    assert KERNEL_FORK_SERVER in read(f"/proc/{kernel_fork_server}/cmdline")
    os.kill(kernel_fork_server, signal.SIGKILL)
    wait_for("the kernel fork server gone", lambda: not alive(kernel_fork_server))
    assert parent_of(open_kernel(stack, "timur")) == server  # cold, from her own server, and it runs

    stack.stop_server("timur")
    stack.start_server("timur")  # the spawner starts the hub's kernel fork server again

    def warm_again():
        kernel = open_kernel(stack, "timur")
        return KERNEL_FORK_SERVER in read(f"/proc/{parent_of(kernel)}/cmdline")

    wait_for("a warm kernel again", warm_again, timeout=120)


def test_a_warm_server_keeps_the_students_layout_and_settings_in_her_home(stack):
    """JupyterLab works out these folders when imported, which the fork server did as root."""
    stack.start_server("aliya")
    account = pwd.getpwnam(stack.system_user("aliya"))
    url, headers = stack.server("aliya")
    headers = {**headers, "Authorization": f"token {stack.token('aliya')}"}
    layout = {"data": {"layout-restorer:data": {}}, "metadata": {"id": "sabaq-layout"}}
    r = httpx.put(f"{url}/lab/api/workspaces/sabaq-layout", json=layout, headers=headers, timeout=30)
    assert r.status_code == 204, r.text
    saved = list(Path(account.pw_dir, ".jupyter", "lab", "workspaces").glob("sabaq-layout*"))
    assert saved and os.stat(saved[0]).st_uid == account.pw_uid
    r = httpx.put(f"{url}/lab/api/settings/@jupyterlab/notebook-extension:tracker",
                  json={"raw": '{"recordTiming": true}'}, headers=headers, timeout=30)
    assert r.status_code == 204, r.text
    assert Path(account.pw_dir, ".jupyter", "lab", "user-settings", "@jupyterlab", "notebook-extension",
                "tracker.jupyterlab-settings").exists()


def test_one_students_warm_kernel_cannot_read_anothers_files(stack):
    stack.start_server("aliya")
    stack.start_server("timur")
    timur = pwd.getpwnam(stack.system_user("timur"))
    secret = os.path.join(timur.pw_dir, "answers.txt")
    stack.run_code("timur", f"open({secret!r}, 'w').write('timur-secret-answers')")
    assert read(secret) == b"timur-secret-answers"  # written by his own kernel
    assert os.stat(secret).st_uid == timur.pw_uid
    assert parent_of(server_pid(stack, "aliya")) == parent_of(server_pid(stack, "timur"))  # one fork server

    attack = f"""
import os
for path in ({secret!r}, {timur.pw_dir!r}, "/proc/{server_pid(stack, 'timur')}/environ"):
    try:
        print(path, "READ", open(path).read()[:40] if os.path.isfile(path) else os.listdir(path))
    except OSError as e:
        print(path, "DENIED", type(e).__name__)
"""
    out = stack.run_code("aliya", attack + "print(open(f'/proc/{os.getppid()}/cmdline').read())")
    assert KERNEL_FORK_SERVER.decode() in out  # her kernel is a warm one
    assert "timur-secret-answers" not in out and "READ" not in out, out
    assert out.count("DENIED PermissionError") == 3, out


def test_the_fork_servers_die_with_the_hub_the_server_and_kernel_run_on_and_the_next_hub_serves_her(stack):
    stack.start_server("aliya")
    server = server_pid(stack, "aliya")
    fork_server = parent_of(server)
    kernel = open_kernel(stack, "aliya")
    kernel_fork_server = parent_of(kernel)
    hub = int((stack.data_dir / "run" / "hub.pid").read_text())
    os.kill(hub, signal.SIGKILL)
    wait_for("the fork server gone with its hub", lambda: not alive(fork_server))
    wait_for("the kernel fork server gone with its hub", lambda: not alive(kernel_fork_server))
    assert alive(server) and alive(kernel)  # her work goes on, as with cold starts

    def warm_again():  # sabaq up starts the hub again; its kernel fork server listens where her server asks
        parent = parent_of(open_kernel(stack, "aliya"))
        return parent != kernel_fork_server and KERNEL_FORK_SERVER in read(f"/proc/{parent}/cmdline")

    wait_for("her server's kernels warm again from the new hub's kernel fork server", warm_again, timeout=180)
    assert server_pid(stack, "aliya") == server


def test_sabaq_up_stops_the_fork_server_and_warm_servers(tmp_path):
    stack = Stack(tmp_path / "data")
    try:
        stack.start()
        stack.start_server("sofia")
        server = server_pid(stack, "sofia")
        fork_server = parent_of(server)
        assert FORK_SERVER in read(f"/proc/{fork_server}/cmdline")
        kernel = open_kernel(stack, "sofia")
        kernel_fork_server = parent_of(kernel)
        assert KERNEL_FORK_SERVER in read(f"/proc/{kernel_fork_server}/cmdline")
        assert stack.stop() == 0
        assert not alive(server) and not alive(fork_server)
        assert not alive(kernel) and not alive(kernel_fork_server)
    finally:
        stack.stop()
        stack.cleanup()


def open_kernel(stack: Stack, name: str) -> int:
    """A kernel started in the student's server (and left running): its pid."""
    url, headers = stack.server(name)
    headers = {**headers, "Authorization": f"token {stack.token(name)}"}
    before = set(processes_of(stack.system_user(name)))
    r = httpx.post(f"{url}/api/kernels", json={"name": "python3"}, headers=headers, timeout=60)
    assert r.status_code == 201, r.text

    def started():
        new = [p for p in set(processes_of(stack.system_user(name))) - before if b"ipykernel_launcher" in cmdline_of(p)]
        return new[0] if new else None

    return wait_for("the student's kernel", started)


def test_bench_storm_measures_sabaq_and_stock_jupyterhub_and_leaves_nothing():
    """`sabaq bench storm` with 3 students: its own sabaq up, then stock JupyterHub, each
    reported (readiness, times, memory) with the ratios; both folders removed afterwards."""
    out = subprocess.run([sys.executable, "-m", "sabaq", "bench", "storm", "--students", "3"],
                         capture_output=True, text=True, timeout=1200, check=False, env={**os.environ, "SABAQ_LANG": "en"})
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    sabaq = next(ln for ln in lines if ln.strip().startswith("sabaq: ready"))
    assert "ready 3/3" in sabaq and "429s 0" in sabaq, sabaq
    pss = re.search(r"PSS per idle server (\d+) MB", sabaq)
    assert pss and int(pss[1]) > 0, sabaq
    assert any(ln.strip().startswith("stock JupyterHub: ready ") for ln in lines), lines
    assert any(ln.startswith("ratios (stock / sabaq): p50 ") for ln in lines), lines
    for folder in re.findall(r"\((/tmp/sabaq-bench-[^)]+)\)", out.stdout):
        assert not os.path.exists(folder), folder
