"""Running sabaq as a machine's service: the probes tell a hung service from a busy one, and
the systemd unit `sabaq install-service` writes is one systemd accepts and that stops cleanly."""

from __future__ import annotations

import asyncio
import configparser
import shutil
import sqlite3
import subprocess
import time

import httpx
import pytest
from sqlalchemy import event

from sabaq.cli import main
from sabaq.hub.service import health
from sabaq.hub.service.app import create_app
from sabaq.i18n import translator
from sabaq.settings import Settings, ensure_secrets

STUCK = "The sabaq service is stuck: its database did not answer within {seconds} s. It should be restarted."


def get(app, path: str, **headers) -> httpx.Response:
    async def go():  # the app itself, without its lifespan (no hub to sync with)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sabaq") as client:
            return await client.get(path, headers=headers)

    return asyncio.run(go())


def test_a_service_whose_database_hangs_is_not_live(tmp_path, monkeypatch):
    ensure_secrets(tmp_path)
    app = create_app(Settings.load(data_dir=tmp_path, environ={}))
    assert get(app, "/services/sabaq/live").status_code == 200
    assert get(app, "/services/sabaq/health").status_code == 200

    monkeypatch.setattr(health, "LIVE_SECONDS", 0.3)
    hang = {"seconds": 0.0}

    @event.listens_for(health.live_engine(app), "before_cursor_execute")
    def slow(*_):  # a database that takes its time (overloaded, its disk stuck, gone silent)
        time.sleep(hang["seconds"])

    hang["seconds"] = 1.5
    r = get(app, "/services/sabaq/live", **{"Accept-Language": "ru"})
    assert r.status_code == 503
    assert r.json() == {"error": "not_live", "message": translator("ru")(STUCK).format(seconds=0.3)}
    hang["seconds"] = 0.0
    monkeypatch.setattr(health, "LIVE_SECONDS", 5.0)
    assert get(app, "/services/sabaq/live").status_code == 200  # answers again: live again


def test_a_service_behind_a_busy_writer_is_live_and_ready(tmp_path):
    # a deadline's crowd: another writer holds SQLite's write lock; writing requests wait their
    # turn, but the service is not hung and must not be restarted, nor taken out of rotation, in
    # the middle of it: its checks only read, which SQLite (WAL) lets go on beside the writer
    ensure_secrets(tmp_path)
    app = create_app(Settings.load(data_dir=tmp_path, environ={}))

    @event.listens_for(app.state.engine, "connect")
    def wait_briefly(dbapi_connection, _record):  # after sabaq's 30 s: the test waits 0.2 s
        dbapi_connection.execute("PRAGMA busy_timeout=200")

    assert get(app, "/services/sabaq/health").status_code == 200
    holder = sqlite3.connect(tmp_path / "sabaq.sqlite", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        assert get(app, "/services/sabaq/health").status_code == 200
        assert get(app, "/services/sabaq/live").status_code == 200
    finally:
        holder.rollback()
        holder.close()


def test_install_service_writes_a_unit_that_stops_sabaq_cleanly(tmp_path):
    data = tmp_path / "school data"
    unit = tmp_path / "sabaq.service"
    assert main(["install-service", "--data", str(data), "--output", str(unit)]) == 0
    parsed = configparser.ConfigParser(interpolation=None)
    parsed.read_string(unit.read_text())
    service = parsed["Service"]
    assert service["ExecStart"].endswith(f"-m sabaq up --data '{data}'")  # quoted: the folder has a space
    assert service["Restart"] == "on-failure"
    assert service["KillMode"] == "mixed"  # SIGTERM to sabaq up alone; it stops the rest in order
    assert int(service["TimeoutStopSec"]) > 10  # sabaq up stops everything within 10 s
    assert parsed["Install"]["WantedBy"] == "multi-user.target"
    if shutil.which("systemd-analyze"):
        out = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr


def test_status_of_a_data_directory_where_nothing_runs_says_so_and_fails(tmp_path, capsys):
    assert main(["status", "--data", str(tmp_path)]) == 1
    assert f"sabaq is not running on {tmp_path}" in capsys.readouterr().out


@pytest.mark.parametrize("seconds, text", [(0, "0:00:00"), (3725, "1:02:05"), (2 * 86400 + 61, "2d 0:01:01")])
def test_durations_read_the_same_in_every_language(seconds, text):
    from sabaq.hub.jupyterhub.status import duration

    assert duration(seconds) == text
