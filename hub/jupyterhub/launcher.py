"""`sabaq up`: prepare the data directory, then run JupyterHub, which runs the rest.

The hub starts the proxy, the sabaq service and the workers (as hub-managed
services, restarted if they exit) and the users' servers. Ctrl-C stops the
hub, which stops everything it started.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from sabaq.hub.domain.seed import format_logins, seed_course, write_logins
from sabaq.hub.store.database import make_engine, make_sessionmaker, session_scope, upgrade
from sabaq.i18n import N_, terminal_text
from sabaq.paths import with_venv_path
from sabaq.settings import SETTINGS_FILE, Settings, SettingsError, default_settings_text, ensure_secrets

HUB_CONFIG = Path(__file__).with_name("jupyterhub_config.py")
LOGINS_FILE = "demo-logins.txt"


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
    ports = (("[hub] port", settings.hub.port), ("[hub] api_port", settings.hub.api_port),
             ("[hub] proxy_api_port", settings.hub.proxy_api_port), ("[service] port", settings.service.port))
    for i, (name, port) in enumerate(ports):
        for other, same in ports[i + 1:]:
            if port == same:  # the proxy would take the hub's port and send its errors to itself
                raise SettingsError(N_("{name} and {other} are both {port}: each needs a port of its own. "
                                       "Change one of them in the settings file."), name=name, other=other, port=port)
    for name, port in ports:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                raise SettingsError(N_("Port {port} ({name}) is already in use. Stop whatever uses it, "
                                       "or choose another port in the settings file."), port=port, name=name) from None


def wait_ready(settings: Settings, proc: subprocess.Popen, timeout: float = 120) -> bool:
    """The hub and the service answer through the proxy. Asked on this machine's own port,
    naming the public host: the proxy routes by host name when users have subdomains, and
    the public name may lead through a TLS proxy this machine cannot reach."""
    local = "127.0.0.1" if settings.hub.ip in ("", "0.0.0.0") else settings.hub.ip
    url = f"http://{local}:{settings.hub.port}/"
    headers = {"Host": urlsplit(settings.public_url).netloc}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            ok_hub = httpx.get(url + "hub/api", headers=headers, timeout=2).status_code == 200
            ok_service = httpx.get(url + "services/sabaq/health", headers=headers, timeout=2).status_code == 200
            if ok_hub and ok_service:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


def up(settings: Settings) -> int:
    check_can_start(settings)
    new_logins = prepare(settings)
    env = dict(os.environ, SABAQ_DATA=settings.data_dir, PATH=with_venv_path(os.environ.get("PATH", "")))
    if settings.config_file:
        env["SABAQ_CONFIG"] = settings.config_file
    cmd = [str(Path(sys.prefix) / "bin" / "jupyterhub"), "-f", str(HUB_CONFIG)]
    proc = subprocess.Popen(cmd, env=env, cwd=Path(settings.data_dir) / "hub")
    try:
        if wait_ready(settings, proc):
            print(banner(settings, new_logins), flush=True)
        return proc.wait()
    except KeyboardInterrupt:
        print("\n" + terminal_text(N_("sabaq: stopping…")), flush=True)
        proc.send_signal(signal.SIGINT)
        try:
            return proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.terminate()
            return proc.wait()


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

