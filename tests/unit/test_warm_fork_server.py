"""The fork server of ``sabaq.hub.jupyterhub.warmstart``, with a small program in place of
JupyterLab (``entry``): what a forked child is, what it is not given, and what the fork
server never holds. Credentials need root (CI is root)."""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from processes import memory_of

from sabaq.hub.jupyterhub.spawner import SabaqSpawner
from sabaq.hub.jupyterhub.warmstart import ROOM_VARIABLE, ForkServer, Spawn

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the child takes another uid (CI is root)")
PROBE = '''
import json, os, random, sys, time
def main():
    info = {"resuid": os.getresuid(), "resgid": os.getresgid(), "groups": sorted(os.getgroups()),
            "cwd": os.getcwd(), "fds": sorted(int(f) for f in os.listdir("/proc/self/fd")),
            "env": dict(os.environ), "argv": sys.argv, "session_leader": os.getsid(0) == os.getpid(),
            "random": random.random()}
    path = os.environ["PROBE_OUT"]
    with open(path + ".tmp", "w") as f:
        json.dump(info, f)
    os.rename(path + ".tmp", path)
    time.sleep(float(os.environ.get("PROBE_SLEEP", "0")))
    return 3
'''


@pytest.fixture
def fork_server():
    server = ForkServer(modules=("json",), start_timeout=60)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def probe():
    """A folder the child (nobody) can enter and write its report in, with the probe program."""
    folder = Path(tempfile.mkdtemp(prefix="sabaq-warm-", dir="/tmp"))
    folder.chmod(0o777)
    (folder / "probe_target.py").write_text(PROBE)
    (folder / "probe_target.py").chmod(0o644)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def request(probe: Path, name: str, **changes) -> Spawn:
    nobody = pwd.getpwnam("nobody")
    env = {"PROBE_OUT": str(probe / f"{name}.json"), "PYTHONPATH": str(probe), "HOME": str(probe),
           "JUPYTERHUB_API_TOKEN": "tok-" + secrets.token_hex(16)}
    fields = dict(argv=["/venv/bin/jupyterhub-singleuser", f"--name={name}"], env=env, cwd=str(probe),
                  uid=nobody.pw_uid, gid=nobody.pw_gid, groups=[nobody.pw_gid], entry="probe_target:main")
    fields.update(changes)
    return Spawn(**fields)


def report(probe: Path, name: str) -> dict:
    path = probe / f"{name}.json"
    deadline = time.monotonic() + 30
    while not path.exists():
        assert time.monotonic() < deadline, "the child wrote no report"
        time.sleep(0.05)
    return json.loads(path.read_text())


def alive(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def proc_strings(pid: int, what: str) -> list[str]:
    return [s.decode() for s in open(f"/proc/{pid}/{what}", "rb").read().split(b"\0") if s]


@root_only
def test_a_child_is_the_user_with_only_the_spawners_environment_and_stdio(fork_server, probe):
    spawn = request(probe, "one", env={**request(probe, "one").env, "PROBE_SLEEP": "30"})
    pid = fork_server.spawn(spawn)
    got = report(probe, "one")
    nobody = pwd.getpwnam("nobody")
    assert got["resuid"] == [nobody.pw_uid] * 3 and got["resgid"] == [nobody.pw_gid] * 3
    assert got["groups"] == [nobody.pw_gid]
    assert got["cwd"] == str(probe) and got["session_leader"]
    assert got["env"] == spawn.env  # os.environ: exactly the spawner's, no ROOM_VARIABLE, no PATH of ours
    assert got["argv"] == spawn.argv
    assert got["fds"] == [0, 1, 2, 3]  # stdio, and the listing's own descriptor
    # what ps, pgrep and `sabaq up` (SABAQ_RUN) read from /proc: the server's, not the fork server's
    assert proc_strings(pid, "environ") == [f"{k}={v}" for k, v in spawn.env.items()]
    assert proc_strings(pid, "cmdline") == spawn.argv
    assert ROOM_VARIABLE in "".join(proc_strings(fork_server.proc.pid, "environ"))
    # as after an exec: the user's own process again (her /proc entries are hers)
    assert os.stat(f"/proc/{pid}").st_uid == nobody.pw_uid
    fds = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    server_fds = {os.readlink(f"/proc/{fork_server.proc.pid}/fd/{fd}")
                  for fd in os.listdir(f"/proc/{fork_server.proc.pid}/fd")}
    assert not (fds & server_fds) - {os.readlink("/proc/self/fd/1"), os.readlink("/proc/self/fd/2")}
    assert os.readlink(f"/proc/{pid}/fd/0") == "/dev/null"
    os.kill(pid, 9)


@root_only
def test_the_fork_server_never_holds_a_childs_token(fork_server, probe):
    spawn = request(probe, "two", env={**request(probe, "two").env, "PROBE_SLEEP": "30"})
    child = fork_server.spawn(spawn)
    report(probe, "two")
    token = spawn.env["JUPYTERHUB_API_TOKEN"].encode()
    assert token in memory_of(child)  # the search finds it where it is
    assert token not in memory_of(fork_server.proc.pid)
    os.kill(child, 9)


@root_only
def test_children_get_their_own_random_state(fork_server, probe):
    fork_server.spawn(request(probe, "a"))
    fork_server.spawn(request(probe, "b"))
    assert report(probe, "a")["random"] != report(probe, "b")["random"]


@root_only
def test_a_child_that_cannot_start_says_why(fork_server, probe):
    with pytest.raises(RuntimeError, match="FileNotFoundError"):
        fork_server.spawn(request(probe, "lost", cwd=str(probe / "no-such-home")))
    assert fork_server.running()  # the fork server itself goes on
    fork_server.spawn(request(probe, "next"))
    assert report(probe, "next")["cwd"] == str(probe)


@root_only
def test_the_fork_server_stops_when_the_hub_goes_and_its_children_run_on(fork_server, probe):
    spawn = request(probe, "long", env={**request(probe, "long").env, "PROBE_SLEEP": "30"})
    child = fork_server.spawn(spawn)
    report(probe, "long")
    server = fork_server.proc
    fork_server._close()  # the hub's end of the control socket: closed as when the hub dies
    server.wait(timeout=30)
    assert alive(child)
    os.kill(child, 9)


def test_a_dead_fork_server_is_started_again(fork_server, probe):
    fork_server.start()
    first = fork_server.proc.pid
    os.kill(first, 9)
    fork_server.proc.wait()
    same_user = Spawn(argv=["x"], env={"PROBE_OUT": str(probe / "again.json"), "PYTHONPATH": str(probe)},
                      cwd=str(probe), entry="probe_target:main")
    fork_server.spawn(same_user)
    assert fork_server.proc.pid != first
    assert report(probe, "again")["resuid"] == list(os.getresuid())


def spawner(**traits) -> SabaqSpawner:
    return SabaqSpawner(user=SimpleNamespace(name="aliya", groups=[]), **traits)


def test_the_spawner_starts_warm_only_what_the_fork_server_can_run():
    s = spawner(cmd=["/opt/sabaq/venv/bin/jupyterhub-singleuser"])
    assert s.warm_start and s._can_start_warm({})
    assert not s._can_start_warm({"JUPYTERHUB_SINGLEUSER_APP": "notebook"})  # chosen at import time
    assert not s._can_start_warm({"JUPYTER_ALLOW_INSECURE_WRITES": "1"})  # read by jupyter_core at import
    assert not spawner(cmd=["/usr/bin/other-server"])._can_start_warm({})
    assert not spawner(cmd=["jupyterhub-singleuser"], shell_cmd=["bash", "-c"])._can_start_warm({})


def test_a_same_user_warm_start_keeps_the_hubs_credentials_and_enters_the_home(tmp_path):
    s = spawner(isolate=False)
    s._home_dir = str(tmp_path)
    spawn = s._warm_request(["jupyterhub-singleuser"], {"HOME": str(tmp_path)})
    assert spawn.uid is None and spawn.cwd == str(tmp_path)


def test_the_spawner_names_the_warm_kernel_provisioner_only_with_a_kernel_fork_server(tmp_path):
    def kernel_args(**traits) -> list[str]:
        s = spawner(isolate=False, **traits)
        s._home_dir = str(tmp_path)
        return [a for a in s.get_args() if "Provisioner" in a]

    assert kernel_args(kernel_fork_socket="/tmp/sabaq-kernels-x/kernels.sock") == [
        "--KernelProvisionerFactory.default_provisioner_name=sabaq-warm-kernel",
        "--WarmKernelProvisioner.fork_server_socket=/tmp/sabaq-kernels-x/kernels.sock"]
    assert kernel_args() == []  # the hub started no kernel fork server: jupyter_client's own provisioner
    assert kernel_args(kernel_fork_socket="/tmp/sabaq-kernels-x/kernels.sock", warm_kernels=False) == []


def test_warm_kernels_are_a_setting_on_by_default(tmp_path):
    from traitlets.config import Config

    from sabaq.hub.jupyterhub.hubconfig import configure
    from sabaq.settings import Settings

    for environ, expected in (({}, True), ({"SABAQ_SPAWNER_WARM_KERNELS": "false"}, False)):
        settings = Settings.load(tmp_path / str(expected), environ={"SABAQ_HUB_PROXY_COMMAND": "/bin/true", **environ})
        settings.hub.cookie_secret = "00" * 32
        c = Config()
        configure(c, settings)
        assert c.SabaqSpawner.warm_kernels is expected
