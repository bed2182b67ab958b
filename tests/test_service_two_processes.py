"""[service] processes: `sabaq service` with SABAQ_SERVICE_PROCESSES=2 runs two service processes
(uvicorn's workers) that answer on one port and stop together with it (issue 19). Starts the
real command and its three interpreters: not in the quick tier (tests/unit/test_service_processes.py
holds the settings' and the log's checks)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from sabaq.devtools.ports import free_port
from sabaq.hub.store.database import upgrade
from sabaq.settings import Settings, ensure_secrets


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def test_two_service_processes_answer_on_one_port_and_stop_together(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    ensure_secrets(data)
    upgrade(Settings.load(data_dir=data, environ={}).database_url)
    port = free_port()
    env = dict(os.environ, SABAQ_SERVICE_PORT=str(port), SABAQ_SERVICE_PROCESSES="2",
               SABAQ_HUB_API_PORT="9")  # no hub: its sync only retries
    log = tmp_path / "service.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "sabaq", "service", "--data", str(data)], env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        answered = set()
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/services/sabaq/live", timeout=10)
                answered.add(r.status_code)
                if r.status_code == 200 and log.read_text().count("Application startup complete") == 2:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        assert answered == {200}, log.read_text()[-3000:]
        started = [line for line in log.read_text().splitlines() if "Started server process" in line]
        assert len(started) == 2, log.read_text()[-3000:]
        workers = [c for c in children(proc.pid) if f"[{c}]" in "".join(started)]
        assert len(workers) == 2
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)
    for pid in workers:
        for _ in range(100):
            if not Path(f"/proc/{pid}").exists():
                break
            time.sleep(0.1)
        assert not Path(f"/proc/{pid}").exists()
