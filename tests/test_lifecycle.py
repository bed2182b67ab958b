"""`sabaq up` as an operator meets it: Ctrl-C stops everything, a restart keeps all data."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from stack import Stack

pytestmark = pytest.mark.e2e


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


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

        assert stack.stop() == 0
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
    assert f"[hub] port и [hub] api_port" in out.stderr and stack.env["SABAQ_HUB_PORT"] in out.stderr
