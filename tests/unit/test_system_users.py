"""The spawner's system accounts: a start waits its turn when /etc/passwd is locked.

Two hubs on a machine (or a hub and the grader) may add users at once; shadow's useradd
then fails with "cannot lock /etc/passwd; try again later" instead of waiting. A student's
start must not fail for that."""

from __future__ import annotations

import pwd
import subprocess
from types import SimpleNamespace

import pytest

from sabaq.hub.jupyterhub import spawner as spawner_module
from sabaq.hub.jupyterhub.spawner import SabaqSpawner

LOCKED = "useradd: cannot lock /etc/passwd; try again later.\n"


def fake_useradd(monkeypatch, outcomes: list[tuple[int, str]]) -> list[list[str]]:
    calls: list[list[str]] = []
    created = {}

    def run(cmd, **_kw):
        calls.append(cmd)
        code, err = outcomes.pop(0)
        if code == 0:
            created[cmd[-1]] = True
        return subprocess.CompletedProcess(cmd, code, "", err)

    def getpwnam(name):
        if name in created:
            return pwd.struct_passwd((name, "x", 61000, 61000, "", f"/tmp/{name}", "/bin/bash"))
        raise KeyError(name)

    monkeypatch.setattr(spawner_module.subprocess, "run", run)
    monkeypatch.setattr(spawner_module.pwd, "getpwnam", getpwnam)
    monkeypatch.setattr(spawner_module.time, "sleep", lambda s: None)
    return calls


def a_spawner(tmp_path) -> SabaqSpawner:
    spawner = SabaqSpawner(home_root=str(tmp_path / "homes"))
    spawner.user = SimpleNamespace(name="aliya", groups=[])
    return spawner


def test_a_locked_password_file_is_waited_for(tmp_path, monkeypatch):
    calls = fake_useradd(monkeypatch, [(1, LOCKED), (1, LOCKED), (0, "")])
    account = a_spawner(tmp_path)._ensure_system_user()
    assert len(calls) == 3 and calls[0][0] == "useradd"
    assert account.pw_name == calls[0][-1]


def test_any_other_failure_is_reported_at_once(tmp_path, monkeypatch):
    calls = fake_useradd(monkeypatch, [(4, "useradd: UID 61000 is not unique\n"), (0, "")])
    with pytest.raises(RuntimeError, match="not unique"):
        a_spawner(tmp_path)._ensure_system_user()
    assert len(calls) == 1


def test_a_lock_that_never_ends_is_reported(tmp_path, monkeypatch):
    calls = fake_useradd(monkeypatch, [(1, LOCKED)] * 20)
    with pytest.raises(RuntimeError, match="cannot lock"):
        a_spawner(tmp_path)._ensure_system_user()
    assert len(calls) == 20
