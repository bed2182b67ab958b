"""The one bubblewrap builder, as the notebook grader and the olympiad judge call it: no
network, none of the host's files but the ones asked for, the uids asked for. Only
the command lines are checked here; tests/test_grading_sandbox.py and
tests/test_olympiad_tasks.py run them (as root)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sabaq.autograders.olympiad import run
from sabaq.autograders.sandbox import bwrap, uids
from sabaq.autograders.sandbox.executor import zygote_command
from sabaq.paths import package_dirs

NAMESPACES = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]


@pytest.fixture(autouse=True)
def bubblewrap(monkeypatch):
    """The command line does not depend on bubblewrap being installed here."""
    monkeypatch.setattr(bwrap.shutil, "which", lambda name: f"/usr/bin/{name}")


def options(cmd: list[str]) -> list[str]:
    """bubblewrap's part of a command line (before ``--``)."""
    return cmd[:cmd.index("--")]


def mounts(cmd: list[str]) -> dict[str, tuple[str, str]]:
    """{target inside: (option, source outside)} for every folder of the host's."""
    opts = options(cmd)
    return {opts[i + 2]: (opt, opts[i + 1]) for i, opt in enumerate(opts)
            if opt in ("--bind", "--ro-bind", "--ro-bind-try", "--dev-bind")}


def assert_isolated(cmd: list[str]) -> None:
    """New namespaces (no network), an empty environment, and no host folder of people's
    (/home, /root), of the system's state (/var, /run) or a parent of those."""
    opts = options(cmd)
    assert all(flag in opts for flag in NAMESPACES) and "--share-net" not in opts
    assert "--clearenv" in opts and "--die-with-parent" in opts and "--new-session" in opts
    for target, (_, source) in mounts(cmd).items():
        for place in ("/home", "/root", "/var", "/run"):
            assert not place.startswith(source.rstrip("/") + "/") and source != place, (place, source)


def test_a_judged_program_runs_alone_without_network_or_home(tmp_path):
    workdir, data, out = tmp_path / "program", tmp_path / "tests", tmp_path / "build"
    cmd = run.sandbox_command(workdir, [run.PYTHON, "/sandbox/solution.py"], writable=[out], readonly=[data])
    assert cmd[-2:] == [run.PYTHON, "/sandbox/solution.py"]
    assert_isolated(cmd)
    assert mounts(cmd) == {"/usr": ("--ro-bind", "/usr"), "/sandbox": ("--ro-bind", str(workdir)),
                           "/data0": ("--ro-bind", str(data)), "/out0": ("--bind", str(out))}
    opts = options(cmd)
    # bubblewrap runs as the run's uid: a user namespace of that one uid, no capability, no nested namespace
    assert {"--unshare-user", "--disable-userns"} <= set(opts) and "--cap-add" not in opts
    assert opts[opts.index("--cap-drop") + 1] == "ALL"
    assert opts[opts.index("--chdir") + 1] == "/sandbox"
    env = {opts[i + 1]: opts[i + 2] for i, o in enumerate(opts) if o == "--setenv"}
    assert env == run.ENV and "/etc" not in {opts[i + 1] for i, o in enumerate(opts) if o == "--dir"}


@pytest.mark.parametrize("as_root", [True, False])
def test_a_notebook_sandbox_sees_only_the_scratch_folder_and_the_python_env(tmp_path, as_root):
    scratch, etc = tmp_path / "scratch", tmp_path / "scratch" / ".etc"
    cmd = zygote_command(["python3", "-m", "zygote"], {"PATH": "/usr/bin"}, scratch, etc, as_root)
    assert_isolated(cmd)
    seen = mounts(cmd)
    assert seen.pop(bwrap.SCRATCH) == ("--bind", str(scratch))  # the one folder it writes
    assert seen.pop("/etc/passwd") == ("--ro-bind", f"{etc}/passwd")
    assert seen.pop("/etc/group") == ("--ro-bind", f"{etc}/group")
    python = {str(Path(sys.prefix).resolve()), *(str(d.resolve()) for d in package_dirs())}
    assert str(Path(sys.prefix).resolve()) in seen  # the grading zygote's Python and sabaq's code, read-only
    for target, (option, source) in seen.items():
        assert option in ("--ro-bind", "--ro-bind-try") and source == target
        assert target in python or target == "/usr" or target.startswith("/etc/"), target
    opts = options(cmd)
    added = {opts[i + 1] for i, o in enumerate(opts) if o == "--cap-add"}
    if as_root:  # the zygote switches each notebook to its uid, reads its (undumpable) memory use, and no more
        assert added == {"CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_SYS_PTRACE"} and "--unshare-user" not in opts
    else:
        assert not added and "--unshare-user" in opts


def test_the_notebooks_uids_are_the_only_users_inside():
    passwd = bwrap.passwd_text([61001, 61002])
    users = [line.split(":") for line in passwd.splitlines()]
    assert [(u[0], u[2]) for u in users] == [("root", "0"), ("grader0", "61001"), ("grader1", "61002")]
    assert "61001" in bwrap.group_text([61001])


def test_a_judged_run_takes_a_uid_of_its_own_from_the_judges_pool(tmp_path, monkeypatch):
    monkeypatch.setattr(uids, "LOCKS", tmp_path / "locks")
    monkeypatch.setattr(os, "getuid", lambda: 0)
    with run.judge_uid() as first, run.judge_uid() as second:
        assert first in uids.JUDGE_UIDS and second in uids.JUDGE_UIDS and first != second
    monkeypatch.setattr(os, "getuid", lambda: 1000)
    with run.judge_uid() as none:
        assert none is None  # not root: bubblewrap's user namespace is the run's own


SAYS_WHO = ("import os, resource; print(os.getuid(), os.getgid(), os.getgroups(), "
            "resource.getrlimit(resource.RLIMIT_NPROC)[0], resource.getrlimit(resource.RLIMIT_CORE)[0])")


def test_a_judged_run_becomes_the_uid_it_was_given(tmp_path):
    """The run's first process (run.REAPER, a program of its own: nothing runs between fork
    and exec in the judge, whose threads judge other runs) gives the command the run's uid,
    no other group, and the run's limits."""
    if os.geteuid() != 0:
        pytest.skip("a uid of the judge's pool needs root")
    said = tmp_path / "said"
    with run.judge_uid() as uid, open(said, "wb") as stdout:
        status, _, timed_out, _ = run._execute([run.PYTHON, "-I", "-S", "-c", SAYS_WHO], None, stdout,
                                               subprocess.DEVNULL, run._limits(1, 256, 1, processes=8), uid, None, 60)
    assert (status, timed_out) == (0, False)
    assert said.read_text().split() == [str(uid), str(uid), "[]", "8", "0"]


def test_without_bubblewrap_nothing_runs(monkeypatch):
    monkeypatch.setattr(bwrap.shutil, "which", lambda name: None)
    with pytest.raises(bwrap.SandboxError, match="apt-get install bubblewrap"):
        run.sandbox_command(Path("/tmp"), ["true"])
