"""A real sabaq on loopback for end-to-end tests: `sabaq up` with its hub, proxy,
service and worker, on free ports, with its own data directory and home root."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from sabaq.devtools.ports import local_up_environment
from sabaq.hub.jupyterhub.rundir import RunDir
from sabaq.hub.jupyterhub.spawner import system_username
from sabaq.hub.store.database import make_engine, make_sessionmaker


# One TLS context for every client the tests make: httpx builds a new one (loading the system's
# certificates) for each Client it is not given one, about 50 ms each on a busy machine, and the
# tests make thousands (each stack.api() call, each denied route of test_authorization: 25 of
# its 32 s). The same default context: verification as before (the stacks answer on http://).
TLS = httpx.create_ssl_context()


def _hear_ctrl_c() -> None:
    """A test run started in the background of a script (as CI simulations are) inherits an
    ignored SIGINT, and `sabaq up` keeps an ignored SIGINT ignored (as under nohup): its stop
    would then time out and leave orphans. A person's Ctrl-C reaches a foreground `sabaq up`."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _ignore_ctrl_c() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class Stack:
    """``host``: `sabaq up --host` (e.g. "localhost"): users' servers at <login>.<host>, which
    Chromium sends to this machine; Python cannot resolve such names, so requests for a
    server go to 127.0.0.1 naming the server's host (``server``)."""

    def __init__(self, data_dir: Path, extra_env: dict | None = None, host: str | None = None):
        self.data_dir = Path(data_dir)
        self.homes = Path(tempfile.mkdtemp(prefix="sabaq-homes-", dir="/tmp"))
        os.chmod(self.homes, 0o755)
        self.prefix = "t" + secrets.token_hex(2) + "-"
        self.env = local_up_environment(self.homes, self.prefix, **{
            "SABAQ_WORKER_POLL_SECONDS": "0.2",
            "SABAQ_WORKER_LEASE_SECONDS": "6",
            "SABAQ_SERVICE_SYNC_INTERVAL": "3",
            "SABAQ_SERVICE_MAX_UPLOAD_MB": "2",
            "SABAQ_SABAQ_DEFAULT_LANGUAGE": "en",
            **({"SABAQ_HUB_HOST": host} if host else {}),
            **(extra_env or {}),
        })
        self.port = int(self.env["SABAQ_HUB_PORT"])
        self.host = host
        self.url = f"http://{host or '127.0.0.1'}:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.output = self.data_dir.parent / f"sabaq-up-{uuid.uuid4().hex[:6]}.log"
        self._tokens: dict[str, str] = {}
        self._engine = None

    # --- lifecycle -----------------------------------------------------------

    def start(self, timeout: float = 180, deaf_to_ctrl_c: bool = False) -> None:
        """deaf_to_ctrl_c: started as a script's background job is, with SIGINT ignored."""
        self._log = open(self.output, "ab")
        offset = self.output.stat().st_size
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sabaq", "up", "--data", str(self.data_dir)],
            env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_ignore_ctrl_c if deaf_to_ctrl_c else _hear_ctrl_c,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sabaq up exited with {self.proc.returncode}:\n{self.log_tail()}")
            with open(self.output, "rb") as fh:
                fh.seek(offset)
                if b"sabaq is running" in fh.read():
                    return
            time.sleep(0.3)
        raise RuntimeError(f"sabaq up did not become ready:\n{self.log_tail()}")

    def stop(self, timeout: float = 90) -> int:
        """Ctrl-C, as a person would; returns the exit code."""
        if self.proc is None:
            return 0
        try:
            os.killpg(self.proc.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            code = self.proc.wait()
            RunDir(self.data_dir).stop_what_is_left()  # what it restarted runs outside its group
        self.proc = None
        self._log.close()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        self._tokens.clear()
        return code

    def cleanup(self) -> None:
        for entry in pwd.getpwall():
            if entry.pw_name.startswith(self.prefix):
                subprocess.run(["pkill", "-KILL", "-u", entry.pw_name], capture_output=True)
                subprocess.run(["userdel", "--force", entry.pw_name], capture_output=True)
        shutil.rmtree(self.homes, ignore_errors=True)

    def log_tail(self, n: int = 80) -> str:
        return "\n".join(self.output.read_text(errors="replace").splitlines()[-n:])

    # --- people ----------------------------------------------------------------

    @property
    def logins(self) -> dict[str, str]:
        text = (self.data_dir / "demo-logins.txt").read_text(encoding="utf-8")
        return {ln.split()[0]: ln.split()[1] for ln in text.splitlines() if ln.strip() and not ln.startswith("#")}

    def browser(self, name: str, password: str | None = None) -> httpx.Client:
        """A client logged in to the hub with a password, like a person's browser.

        The redirect after the form is not followed: it would start the user's server
        (a JupyterLab costs ~7 s of CPU here); tests that need one call start_server."""
        client = httpx.Client(base_url=self.url, follow_redirects=True, timeout=120, verify=TLS)
        client.get("/hub/login")
        r = client.post("/hub/login", data={
            "username": name, "password": password or self.logins[name], "_xsrf": client.cookies.get("_xsrf"),
        }, follow_redirects=False)
        if not r.is_redirect or "/hub/login" in r.headers.get("location", ""):
            raise AssertionError(f"login of {name} failed")
        return client

    def token(self, name: str, password: str | None = None, **body) -> str:
        """A hub API token of this user (what their server holds)."""
        if name in self._tokens and not body:
            return self._tokens[name]
        if self.host:
            # with a host name the hub's session cookie is set for the whole domain (Domain=localhost),
            # which Python's cookie jar does not send back, and the XSRF check fails without it:
            # the hub's other way, the password in the request's body. That way gives a token only
            # to a user the hub already knows: log in first, as the person would have (otherwise
            # it races the service's hub sync, which adds the roster's users a moment after start)
            self.browser(name, password).close()
            r = httpx.post(f"{self.url}/hub/api/users/{name}/tokens", timeout=120, verify=TLS, json={
                "auth": {"username": name, "password": password or self.logins[name]}, "note": "test", **body})
        else:
            client = self.browser(name, password)
            r = client.post(f"/hub/api/users/{name}/tokens", json={"note": "test", **body},
                            headers={"X-XSRFToken": client.cookies.get("_xsrf", path="/hub/")})
        r.raise_for_status()
        token = r.json()["token"]
        if not body:
            self._tokens[name] = token
        return token

    def hub_api(self, token: str) -> httpx.Client:
        return httpx.Client(base_url=self.url + "/hub/api", headers={"Authorization": f"token {token}"}, timeout=60,
                            verify=TLS)

    def api(self, name: str | None = None, token: str | None = None) -> httpx.Client:
        headers = {}
        if name or token:
            headers["Authorization"] = f"token {token or self.token(name)}"
        return httpx.Client(base_url=self.url + "/services/sabaq/api/v1", headers=headers, timeout=60, verify=TLS)

    @property
    def service_url(self) -> str:
        return self.url + "/services/sabaq/"

    def server(self, name: str) -> tuple[str, dict]:
        """(URL of the user's server, headers to send): <login>.<host> with subdomains."""
        if not self.host:
            return f"{self.url}/user/{name}", {}
        from jupyterhub.utils import subdomain_hook_idna

        return (f"http://127.0.0.1:{self.port}/user/{name}",
                {"Host": f"{subdomain_hook_idna(name, self.host, 'user')}:{self.port}"})

    def system_user(self, name: str) -> str:
        return system_username(self.prefix, name)

    def sessions(self):
        if self._engine is None:
            self._engine = make_engine(f"sqlite:///{self.data_dir / 'sabaq.sqlite'}")
        return make_sessionmaker(self._engine)

    # --- servers -----------------------------------------------------------------

    def start_server(self, name: str, timeout: float = 180) -> None:
        hub = self.hub_api(self.token(name))
        r = hub.post(f"/users/{name}/server")
        if r.status_code not in (201, 202, 400):
            raise AssertionError(f"spawn of {name}: {r.status_code} {r.text}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = hub.get(f"/users/{name}").json()
            server = model.get("servers", {}).get("")
            if server and server.get("ready"):
                return
            time.sleep(0.5)
        raise AssertionError(f"server of {name} did not start:\n{self.log_tail()}")

    def stop_server(self, name: str, timeout: float = 120) -> None:
        """Stopped (if it ran): her next start reads her settings, her language among them, anew."""
        hub = self.hub_api(self.token(name))
        r = hub.delete(f"/users/{name}/server")
        if r.status_code not in (202, 204, 400):
            raise AssertionError(f"stop of {name}: {r.status_code} {r.text}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not hub.get(f"/users/{name}").json().get("servers"):
                return
            time.sleep(0.5)
        raise AssertionError(f"server of {name} did not stop:\n{self.log_tail()}")

    def run_code(self, name: str, code: str, timeout: float = 120) -> str:
        """Run code in a fresh kernel of the user's server; return what it printed."""
        return asyncio.run(self._run_code(name, code, timeout))

    @staticmethod
    def _message(name: str, msg_id: str, msg_type: str, content: dict) -> str:
        return json.dumps({
            "header": {"msg_id": msg_id, "msg_type": msg_type, "username": name,
                       "session": uuid.uuid4().hex, "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell", "content": content,
        })

    async def _kernel_ready(self, ws, name: str, deadline: float) -> None:
        """Ask for kernel_info until the kernel answers, as nbclient does: a request sent
        before the kernel's channels are connected can be lost, and its answer never come."""
        while time.monotonic() < deadline:
            msg_id = uuid.uuid4().hex
            await ws.write_message(self._message(name, msg_id, "kernel_info_request", {}))
            try:
                while True:
                    raw = await asyncio.wait_for(ws.read_message(), 2)
                    if raw is None:
                        raise AssertionError(f"the kernel's websocket of {name} closed")
                    if json.loads(raw).get("parent_header", {}).get("msg_id") == msg_id:
                        return
            except asyncio.TimeoutError:
                continue
        raise AssertionError(f"the kernel of {name} did not answer")

    async def _run_code(self, name: str, code: str, timeout: float) -> str:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        server, host = self.server(name)
        headers = {"Authorization": f"token {self.token(name)}", **host}
        base = f"{server}/api"
        async with httpx.AsyncClient(headers=headers, timeout=60) as client:
            r = await client.post(f"{base}/kernels", json={"name": "python3"})
            r.raise_for_status()
            kernel = r.json()["id"]
            try:
                ws = await websocket_connect(HTTPRequest(
                    f"ws://127.0.0.1:{self.port}/user/{name}/api/kernels/{kernel}/channels",
                    headers=headers,
                ))
                deadline = time.monotonic() + timeout
                await self._kernel_ready(ws, name, deadline)
                msg_id = uuid.uuid4().hex
                await ws.write_message(self._message(name, msg_id, "execute_request", {
                    "code": code, "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}))
                out = []
                while time.monotonic() < deadline:
                    raw = await asyncio.wait_for(ws.read_message(), timeout)
                    if raw is None:
                        break
                    msg = json.loads(raw)
                    if msg.get("parent_header", {}).get("msg_id") != msg_id:
                        continue
                    kind = msg["header"]["msg_type"]
                    if kind == "stream":
                        out.append(msg["content"]["text"])
                    elif kind == "error":
                        out.append("\n".join(msg["content"]["traceback"]))
                    elif kind == "status" and msg["content"]["execution_state"] == "idle":
                        break
                ws.close()
                return "".join(out)
            finally:
                await client.delete(f"{base}/kernels/{kernel}")


@contextlib.contextmanager
def running_stack(data, **options):
    """sabaq up, for real, on loopback, stopped and cleaned up afterwards."""
    s = Stack(data, **options)
    try:
        s.start()
        yield s
    finally:
        s.stop()
        s.cleanup()
