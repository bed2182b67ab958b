"""`sabaq bench storm`: N students start their JupyterLab at the same moment, as at 08:30.

First against its own `sabaq up` (a temporary data folder, free ports on 127.0.0.1, students'
servers as system accounts, started warm unless the hub says otherwise), then against stock
JupyterHub with its LocalProcessSpawner on the same machine (its own proxy, its own system
accounts, JupyterHub's defaults), one after the other in the same run. Each student asks the
hub for her server (POST /hub/api/users/<name>/server) and is counted ready once her server's
/api/status answers 200 through the proxy. Printed for each: how many were ready, p50/p95/max
seconds to ready, the hub's refusals (429) and failures, and the memory of an idle server as
PSS (shared pages divided among the processes sharing them; for sabaq the fork server's share
included) and the CPU time each server's process used until then, then the ratios. Needs root (system accounts). Speed is measured here, never
asserted in tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from sabaq.devtools.bench_deadline import Deadline, LocalSabaq
from sabaq.devtools.ports import free_port
from sabaq.hub.jupyterhub.hubconfig import find_proxy
from sabaq.hub.jupyterhub.spawner import system_username
from sabaq.settings import Settings

IDLE_SECONDS = 5.0  # after the last start, before memory is read
POLL = 0.5


@dataclass
class Storm:
    """What one hub did with the storm."""

    hub: str
    students: int
    times: list[float] = field(default_factory=list)  # seconds to ready, of those ready
    refused: int = 0  # the hub's 429 (too many starting at once)
    failed: dict[str, int] = field(default_factory=dict)  # other outcomes, counted
    pss_mb: float | None = None  # per idle server
    cpu_s: float | None = None  # CPU time a server used until idle (its own process, user + system)

    @property
    def ready(self) -> int:
        return len(self.times)

    def percentile(self, q: float) -> float | None:
        if not self.times:
            return None
        ordered = sorted(self.times)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]

    def line(self) -> str:
        def s(v):
            return "-" if v is None else f"{v:.1f} s"

        mem = "-" if self.pss_mb is None else f"{self.pss_mb:.0f} MB"
        cpu = "-" if self.cpu_s is None else f"{self.cpu_s:.1f} s"
        failed = ", ".join(f"{k}: {v}" for k, v in sorted(self.failed.items())) or "none"
        return (f"{self.hub:>16}: ready {self.ready}/{self.students}, p50 {s(self.percentile(0.5))}, "
                f"p95 {s(self.percentile(0.95))}, max {s(max(self.times) if self.times else None)}, "
                f"429s {self.refused}, other failures {failed}; PSS per idle server {mem}, CPU per server {cpu}")


async def storm(hub_url: str, tokens: dict[str, str], timeout: float, spawn_token: str | None = None) -> Storm:
    """Every student asks for her server at once; each waits until /api/status answers."""
    result = Storm(hub="", students=len(tokens))
    start = asyncio.Event()

    async def one(name: str, token: str) -> None:
        async with httpx.AsyncClient(base_url=hub_url, timeout=30,
                                     headers={"Authorization": f"token {spawn_token or token}"}) as client:
            await start.wait()
            began = time.monotonic()
            try:
                r = await client.post(f"/hub/api/users/{name}/server")
            except httpx.HTTPError as e:
                result.failed[type(e).__name__] = result.failed.get(type(e).__name__, 0) + 1
                return
            if r.status_code == 429:
                result.refused += 1
                return
            if r.status_code not in (201, 202):
                result.failed[f"HTTP {r.status_code}"] = result.failed.get(f"HTTP {r.status_code}", 0) + 1
                return
            while time.monotonic() - began < timeout:
                with contextlib.suppress(httpx.HTTPError):
                    status = await client.get(f"/user/{name}/api/status")
                    if status.status_code == 200 and "started" in status.text:
                        result.times.append(time.monotonic() - began)
                        return
                    model = (await client.get(f"/hub/api/users/{name}")).json()
                    if not model.get("servers", {}).get("") and not model.get("pending") \
                            and time.monotonic() - began > 5:
                        result.failed["start failed"] = result.failed.get("start failed", 0) + 1
                        return
                await asyncio.sleep(POLL)
            result.failed["timeout"] = result.failed.get("timeout", 0) + 1

    tasks = [asyncio.create_task(one(n, t)) for n, t in tokens.items()]
    await asyncio.sleep(0.5)  # every client connected and waiting: then all at once
    start.set()
    await asyncio.gather(*tasks)
    return result


def pss_kib(pid: int) -> int:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def pids_of(account: str) -> list[int]:
    out = subprocess.run(["pgrep", "-u", account], capture_output=True, text=True, check=False)
    return [int(p) for p in out.stdout.split()]


def cpu_seconds(accounts: list[str]) -> float | None:
    """CPU time (user + system) the accounts' processes used, per account that has any."""
    ticks, running = 0, 0
    for account in accounts:
        pids = pids_of(account)
        running += bool(pids)
        for pid in pids:
            with contextlib.suppress(OSError, IndexError, ValueError), open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK") / running if running else None


def parent_of(pid: int) -> int | None:
    with contextlib.suppress(OSError, IndexError, ValueError), open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])
    return None


def idle_pss_mb(accounts: list[str], with_parents: bool = False) -> float | None:
    """PSS of the accounts' processes per account that has any; with_parents: plus their
    parents that are not theirs (sabaq's fork server), shared out among them."""
    pids = {a: pids_of(a) for a in accounts}
    running = [a for a in accounts if pids[a]]
    if not running:
        return None
    total = sum(pss_kib(p) for a in running for p in pids[a])
    if with_parents:
        mine = {p for a in running for p in pids[a]}
        parents = {parent_of(p) for p in mine} - mine - {None, 1}
        total += sum(pss_kib(p) for p in parents)
    return total / len(running) / 1024


def remove_accounts(prefix: str) -> None:
    """The system accounts a run made (and their processes), and their homes."""
    for entry in pwd.getpwall():
        if entry.pw_name.startswith(prefix):
            subprocess.run(["pkill", "-KILL", "-u", entry.pw_name], capture_output=True, check=False)
            subprocess.run(["userdel", "--force", "--remove", entry.pw_name], capture_output=True, check=False)


def run_sabaq(students: int, timeout: float, out) -> Storm:
    sabaq = LocalSabaq()
    os.chmod(sabaq.root, 0o755)  # the students' homes are below it (its data folder stays 0700)
    prefix = sabaq.env["SABAQ_SPAWNER_USER_PREFIX"]
    try:
        out(f"sabaq: starting its own sabaq up ({sabaq.root})…")
        sabaq.start()
        deadline = Deadline(sabaq.url, sabaq.admin_password())
        _course, tokens = deadline.prepare(students)
        out(f"sabaq: {students} students ask for their servers at once…")
        result = asyncio.run(storm(sabaq.url, tokens, timeout))
        time.sleep(IDLE_SECONDS)
        accounts = [system_username(prefix, n) for n in tokens]
        result.pss_mb = idle_pss_mb(accounts, with_parents=True)
        result.cpu_s = cpu_seconds(accounts)
        result.hub = "sabaq"
        return result
    finally:
        sabaq.stop()
        remove_accounts(prefix)
        sabaq.cleanup()


STOCK_CONFIG = """\
c = get_config()  # noqa
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub_port}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_port}"
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.JupyterHub.db_url = "sqlite:///{folder}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{folder}/cookie_secret"
c.JupyterHub.spawner_class = "jupyterhub.spawner.LocalProcessSpawner"
c.Spawner.cmd = [{singleuser!r}]
c.Authenticator.allow_all = True
c.JupyterHub.services = [{{"name": "bench", "api_token": {token!r}}}]
c.JupyterHub.load_roles = [{{"name": "bench", "services": ["bench"],
    "scopes": ["admin:users", "admin:servers", "access:servers", "list:users"]}}]
"""


def run_stock(students: int, timeout: float, out) -> Storm:
    """Stock JupyterHub on this machine: LocalProcessSpawner, system accounts made for it."""
    folder = Path(tempfile.mkdtemp(prefix="sabaq-bench-storm-stock-"))
    homes = folder / "homes"
    homes.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    prefix = "s" + secrets.token_hex(2) + "-"
    names = [f"{prefix}{i:04d}" for i in range(students)]
    token = secrets.token_hex(32)
    port = free_port()
    (folder / "jupyterhub_config.py").write_text(STOCK_CONFIG.format(
        port=port, hub_port=free_port(), proxy_port=free_port(), proxy=find_proxy(Settings.load(data_dir=folder, environ={})),
        folder=folder, singleuser=str(Path(sys.prefix) / "bin" / "jupyterhub-singleuser"), token=token))
    hub = None
    try:
        for name in names:
            subprocess.run(["useradd", "--create-home", "--home-dir", str(homes / name), "--user-group",
                            "--shell", "/bin/bash", name], capture_output=True, check=True)
        out(f"stock JupyterHub: starting it ({folder})…")
        env = dict(os.environ, PATH=f"{Path(sys.prefix) / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
        with open(folder / "jupyterhub.log", "ab") as log:
            hub = subprocess.Popen([str(Path(sys.prefix) / "bin" / "jupyterhub"), "-f", "jupyterhub_config.py"],
                                   cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        api = httpx.Client(base_url=f"{url}/hub/api", headers={"Authorization": f"token {token}"}, timeout=30)
        wait_until(lambda: api.get("/").status_code == 200, 120, "stock JupyterHub did not start")
        api.post("/users", json={"usernames": names}).raise_for_status()
        out(f"stock JupyterHub: {students} students ask for their servers at once…")
        result = asyncio.run(storm(url, dict.fromkeys(names, token), timeout, spawn_token=token))
        time.sleep(IDLE_SECONDS)
        result.pss_mb = idle_pss_mb(names)
        result.cpu_s = cpu_seconds(names)
        result.hub = "stock JupyterHub"
        return result
    finally:
        if hub is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(hub.pid, signal.SIGTERM)  # it stops its servers and its proxy
            try:
                hub.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(hub.pid, signal.SIGKILL)
                hub.wait()
        remove_accounts(prefix)
        shutil.rmtree(folder, ignore_errors=True)


def wait_until(check, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if check():
                return
        time.sleep(0.5)
    raise RuntimeError(message)


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.1f}x" if a and b else "-"


def bench_storm(students: int, timeout: float = 180, stock: bool = True, out=print) -> list[Storm]:
    results = [run_sabaq(students, timeout, out)]
    if stock:
        results.append(run_stock(students, timeout, out))
    out("")
    out(f"{students} students at once, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}:")
    for r in results:
        out(r.line())
    if stock:
        ours, theirs = results
        out(f"ratios (stock / sabaq): p50 {ratio(theirs.percentile(0.5), ours.percentile(0.5))}, "
            f"p95 {ratio(theirs.percentile(0.95), ours.percentile(0.95))}, "
            f"max {ratio(max(theirs.times, default=None), max(ours.times, default=None))}, "
            f"PSS per idle server {ratio(theirs.pss_mb, ours.pss_mb)}, CPU per server {ratio(theirs.cpu_s, ours.cpu_s)}; ready {ours.ready} (sabaq) "
            f"and {theirs.ready} (stock) of {students}")
    return results

