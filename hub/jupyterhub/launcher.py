"""`sabaq up`: prepare the data directory, then run the proxy, the hub, the service and the
workers, and keep them running.

Each is a process of its own under ``supervisor.Supervisor``: one that exits is started
again at once (the hub too: users' servers keep running while it is away, and the proxy
keeps routing to them). Every pid is written in ``<data>/run/`` (``rundir``), so a start
after a crash stops what the crashed run left, and a second `sabaq up` on the same data
directory refuses. Ctrl-C or SIGTERM stops everything, users' servers included, in seconds.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from sabaq.hub.domain.seed import format_logins, seed_course, write_logins
from sabaq.hub.jupyterhub.hubconfig import proxy_command
from sabaq.hub.jupyterhub.rundir import SUPERVISOR, RunDir
from sabaq.hub.jupyterhub.supervisor import Program, Supervisor
from sabaq.hub.store.database import make_engine, make_sessionmaker, session_scope, upgrade
from sabaq.i18n import N_, terminal_text
from sabaq.paths import with_venv_path
from sabaq.settings import SETTINGS_FILE, Settings, SettingsError, default_settings_text, ensure_secrets

HUB_CONFIG = Path(__file__).with_name("jupyterhub_config.py")
LOGINS_FILE = "demo-logins.txt"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# a process that keeps exiting before sabaq was ever ready is broken (its settings, most
# often): say so and stop, rather than retry for ever; once ready, everything is retried
GIVE_UP_BEFORE_READY = 5


def say(message: str, **values) -> None:
    print(terminal_text(message, **values), flush=True)


def prepare(settings: Settings) -> list[dict] | None:
    """Create folders, secrets and schema; seed the demo once. Returns new demo logins."""
    data = Path(settings.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    os.chmod(data, 0o700)
    (data / "hub").mkdir(mode=0o700, exist_ok=True)
    ensure_secrets(data)
    if not (data / SETTINGS_FILE).exists() and not settings.config_file:
        (data / SETTINGS_FILE).write_text(default_settings_text(), encoding="utf-8")
    upgrade(settings.database_url)
    marker = data / ".seeded"
    if not settings.demo.seed or marker.exists():
        return None
    engine = make_engine(settings.database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as db:
            print(terminal_text(N_("sabaq: first start: creating the demo course ({course})…"),
                                course=settings.demo.course), flush=True)
            logins = seed_course(db, settings.demo.course, settings.auth.min_password_length)
            for extra in settings.demo.also:
                print(terminal_text(N_("sabaq: creating the course {course} (building its tests takes a moment)…"),
                                    course=extra), flush=True)
                logins += seed_course(db, extra, settings.auth.min_password_length)
    finally:
        engine.dispose()
    write_logins(data / LOGINS_FILE, logins)
    marker.write_text("demo course seeded\n")
    return logins


def check_can_start(settings: Settings) -> None:
    if settings.spawner.kind == "system-users" and os.geteuid() != 0:
        raise SettingsError(N_(
            "sabaq must run as root to give every user their own system account "
            '([spawner] kind = "system-users"). Start it with sudo, or, for development '
            'only, set [spawner] kind = "same-user" (students could read each other\'s files).'
        ))
    ports = our_ports(settings)
    for i, (name, port) in enumerate(ports):
        for other, same in ports[i + 1:]:
            if port == same:  # the proxy would take the hub's port and send its errors to itself
                raise SettingsError(N_("{name} and {other} are both {port}: each needs a port of its own. "
                                       "Change one of them in the settings file."), name=name, other=other, port=port)
    for name, port in ports:
        if not port_free(port):
            raise SettingsError(N_("Port {port} ({name}) is already in use. Stop whatever uses it, "
                                   "or choose another port in the settings file."), port=port, name=name)


def our_ports(settings: Settings) -> tuple[tuple[str, int], ...]:
    return (("[hub] port", settings.hub.port), ("[hub] api_port", settings.hub.api_port),
            ("[hub] proxy_api_port", settings.hub.proxy_api_port), ("[service] port", settings.service.port))


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_ready(settings: Settings, running, timeout: float = 120) -> bool:
    """The hub and the service answer through the proxy. Asked on this machine's own port,
    naming the public host: the proxy routes by host name when users have subdomains, and
    the public name may lead through a TLS proxy this machine cannot reach."""
    local = "127.0.0.1" if settings.hub.ip in ("", "0.0.0.0") else settings.hub.ip
    url = f"http://{local}:{settings.hub.port}/"
    headers = {"Host": urlsplit(settings.public_url).netloc}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and running():
        try:
            ok_hub = httpx.get(url + "hub/api", headers=headers, timeout=2).status_code == 200
            ok_service = httpx.get(url + "services/sabaq/health", headers=headers, timeout=2).status_code == 200
            if ok_hub and ok_service:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


def routes_restored(settings: Settings) -> bool:
    """Ask the hub to give the proxy every route now (a new proxy knows none); the hub's
    own check runs only every few minutes. True once it has."""
    if not listening(settings.hub.proxy_api_port):
        return False
    try:
        r = httpx.post(f"{settings.hub_api_url}/proxy", timeout=3,
                       headers={"Authorization": f"token {settings.service.api_token}"})
    except httpx.HTTPError:
        return False
    if r.status_code != 200:
        return False
    say(N_("sabaq: the hub has given the new proxy every route"))
    return True


def answers(url: str, timeout: float = 10, **headers) -> bool:
    """A liveness check: the URL answers 200 within timeout seconds (a hung process keeps its port)."""
    try:
        return httpx.get(url, headers=headers, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def service_live(settings: Settings) -> bool:
    """The service's liveness check (the one Kubernetes asks, hub/service/health.py), waited
    for longer than its own deadline there (5 s), so a stuck database is its 503."""
    return answers(settings.service_url + "live")


def hub_live(settings: Settings, timeout: float = 10) -> bool:
    """The hub's API root (its version, no database): answers while the hub's loop turns."""
    return answers(settings.hub_api_url + "/", timeout)


def proxy_live(settings: Settings, timeout: float = 10) -> bool:
    """configurable-http-proxy's route table, from its own API."""
    return answers(f"http://127.0.0.1:{settings.hub.proxy_api_port}/api/routes", timeout,
                   Authorization=f"token {settings.hub.proxy_auth_token}")


def programs(settings: Settings) -> list[Program]:
    """The proxy first: the hub asks it for its routes as it starts, so it waits for it. A new
    proxy knows no routes: the hub is asked to add them, and restarted (it adds them all as
    it starts) if it cannot be asked."""
    env = dict(os.environ, SABAQ_DATA=settings.data_dir, PATH=with_venv_path(os.environ.get("PATH", "")))
    if settings.config_file:
        env["SABAQ_CONFIG"] = settings.config_file
    hub = settings.hub
    proxy = [*proxy_command(settings), "--ip", hub.ip, "--port", str(hub.port),
             "--api-ip", "127.0.0.1", "--api-port", str(hub.proxy_api_port),
             "--error-target", f"http://127.0.0.1:{hub.api_port}/hub/error", "--log-level", "info"]
    if settings.subdomain_host:
        proxy.append("--host-routing")
    sabaq = [sys.executable, "-m", "sabaq"]
    return [
        Program("proxy", proxy, {**env, "CONFIGPROXY_AUTH_TOKEN": hub.proxy_auth_token},
                after_restart=lambda: routes_restored(settings), restarts_with=("hub",),
                live=lambda: proxy_live(settings)),
        # a hub busy starting a class's servers may be slow to answer: hung only after a minute
        Program("hub", [str(Path(sys.prefix) / "bin" / "jupyterhub"), "-f", str(HUB_CONFIG)], env,
                cwd=str(Path(settings.data_dir) / "hub"), can_start=lambda: listening(hub.proxy_api_port),
                live=lambda: hub_live(settings), live_every=15.0, live_misses=4),
        Program("service", [*sabaq, "service"], env, live=lambda: service_live(settings)),
        *[Program(f"worker-{i}", [*sabaq, "worker"], {**env, "SABAQ_WORKER_NAME": f"worker-{i}"})
          for i in range(1, settings.worker.count + 1)],
    ]


def stop_what_a_crash_left(settings: Settings, run_dir: RunDir) -> None:
    """A run that ended without stopping its processes (its supervisor killed, the machine's
    power ...) left pid files: stop those that are still the processes recorded, then wait
    for their ports."""
    left = run_dir.stop_what_is_left()
    if left is None:
        return
    run_dir.clear()
    if left:
        say(N_("sabaq: the last run did not stop cleanly; stopped what it left running: {processes}"),
            processes=", ".join(f"{r.name} ({r.pid})" for r in left))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(port_free(p) for _, p in our_ports(settings)):
            time.sleep(0.2)


def forget_stopped_servers(settings: Settings) -> None:
    """Tell the hub's database that no user's server runs: the last run stopped them all (or
    the clean-up after its crash did). The hub keeps them across its own restarts
    (cleanup_servers False), so it would otherwise believe a recorded pid still its server,
    and, as the system may have given that pid to another program since, signal a stranger."""
    path = Path(settings.data_dir) / "hub" / "jupyterhub.sqlite"
    if not path.exists():
        return
    db = sqlite3.connect(path, timeout=30)
    try:
        with db:
            db.execute("DELETE FROM servers WHERE id IN (SELECT server_id FROM spawners)")
            db.execute("UPDATE spawners SET server_id = NULL, state = '{}' WHERE server_id IS NOT NULL")
    finally:
        db.close()


def up(settings: Settings) -> int:
    run_dir = RunDir(settings.data_dir)
    if not run_dir.lock():
        pid = run_dir.pid_of(SUPERVISOR) or "?"
        raise SettingsError(N_("sabaq is already running on the data directory {folder} (process {pid}). "
                               "Stop it first (Ctrl-C in its terminal, or `kill {pid}`), or give this one "
                               "another data directory with --data."), folder=settings.data_dir, pid=pid)
    try:
        stop_what_a_crash_left(settings, run_dir)
        check_can_start(settings)
        new_logins = prepare(settings)
        # read again, as every process started below reads them: on a first start prepare()
        # has just written the secrets (the proxy's and the service's tokens) and the settings file
        settings = Settings.load(data_dir=settings.data_dir, config_file=settings.config_file or None)
        forget_stopped_servers(settings)
        return supervise(settings, Supervisor(programs(settings), run_dir, uuid.uuid4().hex, say), new_logins)
    finally:
        run_dir.unlock()


def supervise(settings: Settings, supervisor: Supervisor, new_logins: list[dict] | None) -> int:
    """Run until Ctrl-C, SIGTERM or SIGHUP (unless ignored, as under nohup); then stop
    everything. A requested stop exits 0; giving up on a process that never started, 1."""
    stop, ready = threading.Event(), threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in STOP_SIGNALS
                if signal.getsignal(sig) is not signal.SIG_IGN}
    if signal.SIGINT not in previous:  # a script's `sabaq up &`: its shell made it deaf to Ctrl-C
        say(N_("sabaq: started with Ctrl-C ignored (in the background of a script); stop it with "
               "`kill -TERM {pid}`."), pid=os.getpid())

    def announce():
        if wait_ready(settings, running=lambda: not stop.is_set()):
            ready.set()
            print(banner(settings, new_logins), flush=True)

    try:
        supervisor.tick()
        threading.Thread(target=announce, daemon=True).start()
        while not stop.wait(0.2):
            supervisor.tick()
            broken = None if ready.is_set() else supervisor.failing(GIVE_UP_BEFORE_READY)
            if broken:
                say(N_("sabaq: {name} stopped {count} times in a row before sabaq was ready; stopping everything. "
                       "Its messages above say why (often a setting)."), name=broken, count=GIVE_UP_BEFORE_READY)
                return 1
        print(flush=True)
        say(N_("sabaq: stopping…"))
    finally:
        supervisor.stop_all()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def banner(settings: Settings, new_logins: list[dict] | None) -> str:
    logins_file = Path(settings.data_dir) / LOGINS_FILE
    lines = ["", "=" * 64, terminal_text(N_("sabaq is running: open {url}"), url=settings.public_url), ""]
    if new_logins:
        lines += [terminal_text(N_("Demo accounts (saved in {file}):"), file=logins_file), format_logins(new_logins)]
    elif logins_file.exists():
        saved = [ln for ln in logins_file.read_text(encoding="utf-8").splitlines() if not ln.startswith("#")]
        lines += [terminal_text(N_("Demo accounts (from {file}):"), file=logins_file), *saved]
    lines += ["", terminal_text(N_("Data: {folder}   Stop: Ctrl-C"), folder=settings.data_dir), "=" * 64, ""]
    return "\n".join(lines)

