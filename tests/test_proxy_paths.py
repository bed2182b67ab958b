"""The proxy passes on a path that is not UTF-8 once decoded, for the service to refuse it
in the reader's language, instead of answering a bare 500 itself (issue 19)."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sabaq.devtools.ports import free_port
from sabaq.hub.jupyterhub.hubconfig import find_proxy, proxy_command
from sabaq.settings import Settings

pytestmark = pytest.mark.e2e



class Target(BaseHTTPRequestHandler):
    """Stands for the service: says which raw path reached it."""

    seen: list[str] = []

    def do_GET(self):
        Target.seen.append(self.path)
        body = b"refused by the service"
        self.send_response(400)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def target():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Target)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def run_proxy(command: list[str], target_port: int):
    port, api_port = free_port(), free_port()
    proc = subprocess.Popen([*command, "--ip", "127.0.0.1", "--port", str(port), "--api-ip", "127.0.0.1",
                             "--api-port", str(api_port), "--default-target", f"http://127.0.0.1:{target_port}"],
                            env=dict(os.environ, CONFIGPROXY_AUTH_TOKEN="t"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("the proxy did not start")


def get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, response.read()


BAD = "/services/sabaq/api/v1/submissions/%FF%FE/download"


def test_a_path_that_is_not_utf8_reaches_the_service_unchanged(target, tmp_path):
    settings = Settings.load(data_dir=str(tmp_path))
    proc, port = run_proxy(proxy_command(settings), target)
    try:
        Target.seen.clear()
        assert get(port, BAD) == (400, b"refused by the service")
        assert get(port, "/services/sabaq/%C3%A6") == (400, b"refused by the service")  # ordinary paths too
        assert Target.seen == [BAD, "/services/sabaq/%C3%A6"]
    finally:
        proc.kill()
        proc.wait()


def test_the_plain_proxy_answers_such_a_path_with_its_own_500(target, tmp_path):
    """The control: what proxy.mjs changes."""
    proc, port = run_proxy([find_proxy(Settings.load(data_dir=str(tmp_path)))], target)
    try:
        Target.seen.clear()
        status, _ = get(port, BAD)
        assert status == 500 and Target.seen == []
    finally:
        proc.kill()
        proc.wait()
