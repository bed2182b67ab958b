"""[service] processes: several service processes answer on one port (uvicorn's workers),
each with the settings the command read; a login made in one holds in the others, so
without a shared cookie secret there is only one (issue 19). The real `sabaq service` with two
processes on one port is started in tests/test_service_two_processes.py (three interpreters:
too slow for this quick tier)."""

from __future__ import annotations

import os
import sys

import pytest

from sabaq.hub.cli import service_processes, usable_cores
from sabaq.hub.store.database import upgrade
from sabaq.settings import Settings, ensure_secrets


@pytest.mark.parametrize("processes, secret, expected", [
    (1, True, 1), (3, True, 3), (0, True, min(2, usable_cores())), (3, False, 1),
])
def test_how_many_service_processes(tmp_path, processes, secret, expected):
    if secret:
        ensure_secrets(tmp_path)
    settings = Settings.load(data_dir=tmp_path, environ={"SABAQ_SERVICE_PROCESSES": str(processes)})
    assert service_processes(settings) == expected


@pytest.mark.parametrize("cpu_max, expected", [
    ("max 100000\n", os.cpu_count()), ("100000 100000\n", 1), ("150000 100000\n", min(2, os.cpu_count())),
    (None, os.cpu_count()),
])
def test_a_cgroups_cpu_limit_counts_as_fewer_cores(tmp_path, cpu_max, expected):
    path = tmp_path / "cpu.max"
    if cpu_max is not None:
        path.write_text(cpu_max)
    assert usable_cores(path) == expected


def test_a_service_process_hands_the_gil_over_quickly(tmp_path):
    """A thread holding SQLite's write turn gets the GIL back after each statement within
    SWITCH_SECONDS, not Python's 5 ms: a deadline's crowd waits behind shorter turns."""
    from sabaq.hub.cli import SWITCH_SECONDS, service_app

    ensure_secrets(tmp_path)
    settings = Settings.load(data_dir=tmp_path, environ={})
    upgrade(settings.database_url)
    before = sys.getswitchinterval()
    try:
        app = service_app(settings)
        assert SWITCH_SECONDS < before and sys.getswitchinterval() == pytest.approx(SWITCH_SECONDS)
        app.state.engine.dispose()
    finally:
        sys.setswitchinterval(before)


@pytest.mark.parametrize("line, kept", [
    ('127.0.0.1:1 - "POST /services/sabaq/api/v1/worker/claim-many HTTP/1.1" 200', False),
    ('127.0.0.1:1 - "POST /services/sabaq/api/v1/worker/claim HTTP/1.1" 204', False),
    ('127.0.0.1:1 - "POST /services/sabaq/api/v1/worker/claim-many HTTP/1.1" 401', True),
    ('127.0.0.1:1 - "POST /services/sabaq/api/v1/worker/claim-many HTTP/1.1" 503', True),
    ('127.0.0.1:1 - "POST /services/sabaq/api/v1/courses/demo/assignments/ps1/submissions HTTP/1.1" 201', True),
])
def test_idle_workers_polls_stay_out_of_the_access_log(line, kept):
    """Two idle workers asked every half second and their 200s buried the log an operator (or
    a failing test's message) reads; refused polls and everything else stay."""
    import logging

    from sabaq.hub.cli import _QuietPolls

    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, line, None, None)
    assert _QuietPolls().filter(record) is kept
