"""sabaq-lessons connects a lesson's kernel anew when its connection stays "connecting" (its
websocket never opened, seen on a loaded machine while the server had accepted it), and only
then: a kernel still starting keeps its socket pending for a while too. Driven in Node with
stand-ins for JupyterLab's objects and a clock of the test's own (tests/unit/js/lesson_reconnect.js)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXTENSION = ROOT / "lessons" / "labextension" / "static" / "remoteEntry.js"
DRIVER = Path(__file__).parent / "js" / "lesson_reconnect.js"


def stuck_for(seconds: int) -> dict:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed (scripts/install.sh installs it with the proxy)")
    out = subprocess.run([node, str(DRIVER), str(EXTENSION), str(seconds)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_connection_pending_for_long_is_opened_anew_until_the_lesson_starts():
    seen = stuck_for(95)
    assert seen["whileStuck"] == 3  # every 30 s of "connecting"
    assert seen["after"] == 3  # connected: no more
    assert seen["lesson"] == "started" and seen["watching"] == 0  # and the watch ended with the start


def test_a_kernel_that_connects_within_half_a_minute_is_left_alone():
    seen = stuck_for(25)
    assert seen["whileStuck"] == 0 and seen["after"] == 0 and seen["lesson"] == "started"
