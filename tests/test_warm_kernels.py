"""Warm kernels (``sabaq.hub.jupyterhub.kernelfork`` and its provisioner, ``warmkernels``) are as
isolated as cold ones. A student's "server" here is tests/kernel_probe.py run as her account
(``nobody``): it starts kernels through jupyter_client's managers, as jupyter_server does, with
sabaq's provisioner or jupyter_client's own, and reports what each kernel is. The real hub's
students' kernels are looked at in tests/test_warm_start.py.

Needs root (other accounts), as CI runs it."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
from processes import alive, memory_of, wait_for

from sabaq.hub.jupyterhub.kernelfork import MAX_PENDING, SINGLE_THREADED, KernelForkServer, can_start_warm
from sabaq.hub.jupyterhub.warmstart import ROOM_VARIABLE, WarmStartUnavailable

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: kernels of other accounts (CI is root)")
PROBE = str(Path(__file__).with_name("kernel_probe.py"))
STUDENT = pwd.getpwnam("nobody")
TOKEN = "student-token-" + "7" * 24
PROBE_TIMEOUT = 300


@pytest.fixture(scope="module")
def fork_server():
    server = KernelForkServer(start_timeout=120)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture(scope="module")
def homes():
    """The student's home (hers, 0700) and another account's, with a secret she must not read."""
    root = Path(tempfile.mkdtemp(prefix="sabaq-warm-kernels-"))
    root.chmod(0o755)
    mine, other = root / "student", root / "other"
    mine.mkdir()
    os.chown(mine, STUDENT.pw_uid, STUDENT.pw_gid)
    mine.chmod(0o700)
    other.mkdir(mode=0o700)
    (other / "answers.txt").write_text("the other student's answers")
    try:
        yield mine, other / "answers.txt"
    finally:
        shutil.rmtree(root, ignore_errors=True)


def as_student(args: list[str], home: Path, secret: Path, timeout: float = PROBE_TIMEOUT) -> subprocess.CompletedProcess:
    """Run a program as the student, as her server runs: her uid, gid and groups, her home, her token."""
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8", "JUPYTERHUB_API_TOKEN": TOKEN,
           "TMPDIR": str(home), "TZ": "Asia/Almaty",
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "PROBE_SECRET": str(secret)}
    return subprocess.run([sys.executable, *args], user=STUDENT.pw_uid, group=STUDENT.pw_gid,
                          extra_groups=os.getgrouplist(STUDENT.pw_name, STUDENT.pw_gid), cwd=home, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def probe(socket_path: str, home: Path, secret: Path, *actions: str) -> dict:
    out = as_student([PROBE, socket_path, *actions], home, secret)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    seen["log"], seen["output"] = out.stderr, out.stdout
    return seen


@pytest.fixture(scope="module")
def kernels(fork_server, homes):
    """A warm kernel looked at, interrupted, restarted and killed; a second warm one; a cold one."""
    home, secret = homes
    return {"warm": probe(fork_server.socket_path, home, secret, "look", "interrupt", "restart", "kill"),
            "second": probe(fork_server.socket_path, home, secret, "look"),
            "cold": probe("", home, secret, "look", "interrupt", "restart", "kill")}


def test_a_warm_kernel_is_forked_and_runs_as_its_student(kernels, fork_server, homes):
    warm, cold = kernels["warm"], kernels["cold"]
    assert warm["provisioner"] == "WarmKernelProvisioner" and cold["provisioner"] == "LocalProvisioner"
    assert warm["parent"] == fork_server.proc.pid and cold["parent"] == cold["server"]
    look = warm["look"]
    groups = sorted(os.getgrouplist(STUDENT.pw_name, STUDENT.pw_gid))
    assert look["uid"] == [STUDENT.pw_uid] * 3 and look["gid"] == [STUDENT.pw_gid] * 3 and look["groups"] == groups
    assert look["cwd"] == str(homes[0]) == cold["look"]["cwd"]
    assert look["sid"] == look["pid"] == look["pgid"] == warm["pid"]  # its own session and group, as a cold one
    assert look["path0"] == cold["look"]["path0"]
    assert warm["cmdline"][:3] == cold["cmdline"][:3] == [sys.executable, "-m", "ipykernel_launcher"]


def test_a_warm_kernel_cannot_read_another_students_files(kernels):
    assert kernels["warm"]["look"]["secret"] == "PermissionError" == kernels["cold"]["look"]["secret"]


def test_a_warm_kernel_has_the_environment_a_cold_one_has_and_nothing_of_the_fork_servers(kernels):
    warm, cold = kernels["warm"]["look"]["env"], kernels["cold"]["look"]["env"]
    assert warm["JPY_PARENT_PID"] == str(kernels["warm"]["server"])  # its own server's, as the launcher sets
    assert {**warm, "JPY_PARENT_PID": ""} == {**cold, "JPY_PARENT_PID": ""}
    assert warm["JUPYTERHUB_API_TOKEN"] == TOKEN
    assert ROOM_VARIABLE not in warm and not set(SINGLE_THREADED) & set(warm)


def test_a_warm_kernel_has_the_descriptors_a_cold_one_has(kernels, fork_server):
    warm, cold = kernels["warm"]["fds"], kernels["cold"]["fds"]
    assert warm[:3] == cold[:3] == ["0:pipe", "1:pipe", "2:pipe"]
    # the kernel's own (its sockets, pipes, files), in the order its threads opened them
    assert Counter(fd.split(":", 1)[1] for fd in warm) == Counter(fd.split(":", 1)[1] for fd in cold)
    # and none is the fork server's (its control socket, its listening socket, its stdout and stderr)
    server = fork_server.proc.pid
    server_fds = {os.readlink(f"/proc/{server}/fd/{fd}") for fd in os.listdir(f"/proc/{server}/fd")}
    assert sum(fd.startswith("socket:") for fd in server_fds) >= 2
    assert not server_fds & set(kernels["warm"]["fd_targets"])


def test_a_warm_kernel_is_interrupted_restarted_and_killed_through_the_kernel_manager(kernels, fork_server):
    warm = kernels["warm"]
    assert warm["interrupt"] == "KeyboardInterrupt" and warm["after_interrupt"] == 42
    assert warm["restarted_pid"] != warm["pid"] and warm["restarted_parent"] == fork_server.proc.pid
    assert not warm["old_alive_after_restart"] and warm["after_restart"] == 42
    assert warm["killed_alive"] is False and warm["killed_gone"] and not warm["has_process"]
    assert kernels["cold"]["interrupt"] == "KeyboardInterrupt"  # the same steps, cold, as a check of the probe


def test_a_warm_kernel_has_the_threads_a_cold_one_has(kernels):
    """numpy's BLAS was imported single-threaded by the fork server; the kernel gets a cold one's threads."""
    assert kernels["warm"]["look"]["threads"] == kernels["cold"]["look"]["threads"]


def test_widgets_register_with_a_warm_kernel_as_with_a_cold_one(kernels):
    """ipywidgets registers its comm targets with the running kernel as it is imported; the fork
    server imported it before there was one."""
    assert "jupyter.widget" in kernels["cold"]["look"]["comm_targets"]
    assert kernels["warm"]["look"]["comm_targets"] == kernels["cold"]["look"]["comm_targets"]


def test_warm_and_cold_kernels_send_their_shell_replies_through_the_stream(kernels):
    """ipykernel 7.3 would leave a request unread (sabaq.hub.jupyterhub.kernelreplies): both load the fix."""
    fixed = ["sabaq.hub.jupyterhub.kernelreplies", True]
    assert kernels["warm"]["look"]["replies"] == fixed == kernels["cold"]["look"]["replies"]


def test_a_warm_kernel_takes_her_folders_and_time_zone_from_her_environment(kernels, homes):
    """jedi and parso (IPython's completion) work their cache folders out when imported, Python its
    time zone when it starts."""
    caches = kernels["warm"]["look"]["caches"]
    assert caches == kernels["cold"]["look"]["caches"] and all(c.startswith(str(homes[0])) for c in caches)
    assert kernels["warm"]["look"]["tempdir"] == str(homes[0]) == kernels["cold"]["look"]["tempdir"]  # her TMPDIR
    assert kernels["warm"]["look"]["tzname"] == kernels["cold"]["look"]["tzname"] != list(time.tzname)  # her TZ


def test_warm_kernels_do_not_share_random_numbers(kernels):
    first, second = kernels["warm"]["look"], kernels["second"]["look"]
    assert first["numpy_random"] != second["numpy_random"] and first["random"] != second["random"]


def test_the_fork_server_never_holds_a_kernels_token(kernels, fork_server):
    assert TOKEN.encode() not in memory_of(fork_server.proc.pid)


def test_a_warm_kernel_knows_it_has_a_parent_server_as_a_cold_one(kernels):
    """Without one, ipykernel prints how to connect to it (as `ipython kernel` does)."""
    assert "--existing" not in kernels["warm"]["output"] and "--existing" not in kernels["cold"]["output"]


def test_a_warm_kernel_ends_when_its_server_dies(fork_server, homes):
    seen = probe(fork_server.socket_path, *homes, "leave")  # the probe exits, its kernel left running
    assert seen["parent"] == fork_server.proc.pid
    wait_for("the kernel gone after its server", lambda: not alive(seen["pid"]), timeout=30)


def test_without_a_fork_server_the_kernel_starts_cold_and_says_so(homes, tmp_path):
    seen = probe(str(tmp_path / "no-such.sock"), *homes, "look")
    assert seen["provisioner"] == "WarmKernelProvisioner" and seen["parent"] == seen["server"]
    assert seen["look"]["uid"] == [STUDENT.pw_uid] * 3
    assert "starts cold" in seen["log"]


ATTACK = """
import json, os, socket, sys
from sabaq.hub.jupyterhub.warmstart import frame, read_frame
conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
conn.connect(sys.argv[1])
argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "/tmp/none.json"]
request = {"argv": argv, "env": {"HOME": "/root"}, "cwd": "/", "uid": int(sys.argv[2])}
r, w = os.pipe()
socket.send_fds(conn, [frame(request)], [r, 1, 2])
print(json.dumps(read_frame(conn)))
"""


@pytest.mark.parametrize("victim", ["root", "daemon"])
def test_a_student_asking_the_fork_server_for_another_uid_is_refused(fork_server, homes, victim):
    before = children_of(fork_server.proc.pid)
    out = as_student(["-c", ATTACK, fork_server.socket_path, str(pwd.getpwnam(victim).pw_uid)], *homes, timeout=60)
    assert out.returncode == 0, out.stderr
    reply = json.loads(out.stdout.strip().splitlines()[-1])
    assert "pid" not in reply and "refused" in reply["error"], reply
    wait_for("the refused child gone", lambda: children_of(fork_server.proc.pid) <= before, timeout=30)


def children_of(pid: int) -> set[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return {int(p) for p in out.stdout.split()}


def test_only_the_stock_python3_kernel_of_this_python_starts_warm():
    stock = [sys.executable, "-m", "ipykernel_launcher", "-f", "/tmp/k.json"]
    assert can_start_warm(stock, {"HOME": "/home/x"})
    assert not can_start_warm(["/usr/bin/python3", *stock[1:]], {})  # another Python
    assert not can_start_warm([sys.executable, "-m", "other_kernel", "-f", "k.json"], {})
    assert not can_start_warm(["/usr/bin/R", "--slave", "-e", "IRkernel::main()"], {})
    assert not can_start_warm(stock, {"PYTHONHASHSEED": "0"})  # read as a Python starts
    assert not can_start_warm(stock, {"JUPYTER_ALLOW_INSECURE_WRITES": "1"})  # read by jupyter_core at import


HUGE = """
import socket, struct, sys
conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
conn.connect(sys.argv[1])
r, w = __import__("os").pipe()
socket.send_fds(conn, [struct.pack("!Q", 1 << 40)], [r, 1, 2])  # announces a terabyte
print(conn.recv(4096)[8:].decode())
"""


def test_a_request_announcing_more_than_a_request_holds_is_refused(fork_server, homes):
    out = as_student(["-c", HUGE, fork_server.socket_path], *homes, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "more than" in json.loads(out.stdout.strip())["error"]


def test_the_kernel_fork_server_leaves_nothing_when_the_hub_goes_or_stops_it_and_starts_again(tmp_path):
    server = KernelForkServer(modules=("json",), start_timeout=60)
    try:
        server.start()
        assert os.path.exists(server.socket_path)
        process = server.proc
        server._close()  # the hub's end of the control socket: closed as when the hub dies
        process.wait(timeout=30)
        assert not os.path.exists(server.folder)  # nothing left in /tmp
        server.start()
        assert os.stat(server.socket_path).st_mode & 0o777 == 0o666
        server.proc.terminate()  # as `sabaq up` stops the hub's process group
        server.proc.wait(timeout=30)
        assert not os.path.exists(server.folder)
    finally:
        server.stop()
    assert not os.path.exists(server.folder)


def test_the_kernel_fork_server_will_not_listen_in_a_folder_a_student_could_change(tmp_path):
    planted = tmp_path / "sabaq-kernels-planted"
    planted.mkdir(mode=0o755)
    os.chown(planted, STUDENT.pw_uid, STUDENT.pw_gid)  # made by a student after the hub's went
    server = KernelForkServer(folder=str(planted), modules=("json",), start_timeout=60)
    try:
        with pytest.raises(WarmStartUnavailable):
            server.start()
        assert server.proc is None
    finally:
        server.stop()
    assert planted.is_dir()  # and the student's folder is not removed either


FLOOD = """
import json, socket, sys
def connect():
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(sys.argv[1])
    conn.settimeout(3)
    return conn
def closed(conn):
    try:
        return conn.recv(1) == b""
    except TimeoutError:
        return False
silent = [connect() for _ in range(int(sys.argv[2]))]
extra = connect()
print(json.dumps({"extra_closed": closed(extra), "first_closed": closed(silent[0])}))
"""


def test_a_student_who_opens_connections_and_says_nothing_gets_no_more_forks(fork_server, homes):
    """Each connection costs the fork server a process: one student may keep a few waiting, no more."""
    before = children_of(fork_server.proc.pid)
    out = as_student(["-c", FLOOD, fork_server.socket_path, str(MAX_PENDING)], *homes, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"extra_closed": True, "first_closed": False}
    wait_for("her waiting children gone with her connections", lambda: children_of(fork_server.proc.pid) <= before,
             timeout=30)
    seen = probe(fork_server.socket_path, *homes, "look")  # and she gets warm kernels again
    assert seen["parent"] == fork_server.proc.pid
