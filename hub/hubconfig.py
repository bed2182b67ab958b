"""JupyterHub's configuration, derived from sabaq's one settings file.

``configure(c, settings)`` is the only place that turns sabaq settings into
hub traits; ``jupyterhub_config.py`` beside this module calls it for the
one-machine default, and the Kubernetes chart calls it from ``hub.extraFiles``.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from sabaq.i18n import LANGUAGE_NAMES, LANGUAGES, N_, translator
from sabaq.settings import Settings, SettingsError

SERVICE_NAME = "sabaq"
HUB_TEMPLATES = Path(__file__).with_name("hub-templates")
LOGIN_TEXTS = (
    N_("Sign in"), N_("Login:"), N_("Password:"), N_("Invalid username or password"),
    N_("Your teacher gives you your login and password."),
    N_("This connection is not encrypted (HTTP). Ask the administrator to enable HTTPS."),
)
SERVICE_ACCESS = f"access:services!service={SERVICE_NAME}"


def find_proxy(settings: Settings) -> str:
    if settings.hub.proxy_command:
        return settings.hub.proxy_command
    candidates = [
        shutil.which("configurable-http-proxy"),
        str(Path(sys.prefix).parent / "node_modules" / ".bin" / "configurable-http-proxy"),
        str(Path(sys.prefix) / "node_modules" / ".bin" / "configurable-http-proxy"),
    ]
    for path in candidates:
        if path and os.access(path, os.X_OK):
            return path
    raise SettingsError(
        "configurable-http-proxy was not found. Install it with "
        f"`npm install --prefix {Path(sys.prefix).parent} configurable-http-proxy`, "
        "or set [hub] proxy_command."
    )


def sabaq_environment(settings: Settings) -> dict[str, str]:
    """What sabaq's own processes need to find the same settings."""
    env = {"SABAQ_DATA": settings.data_dir}
    if settings.config_file:
        env["SABAQ_CONFIG"] = settings.config_file
    for key, value in os.environ.items():
        if key.startswith("SABAQ_"):
            env[key] = value
    env["PATH"] = os.environ.get("PATH", "")
    return env


def login_page_texts(default_language: str) -> dict:
    """The login page's words in every language, from sabaq's catalogs."""
    return {
        "texts": {lang: {msg: translator(lang)(msg) for msg in LOGIN_TEXTS} for lang in LANGUAGES},
        "names": LANGUAGE_NAMES,
        "default": default_language,
    }


def default_url(handler) -> str:
    """Parents have no notebooks: send them to sabaq's pages; others to their server."""
    user = handler.current_user
    groups = {g.name for g in getattr(user, "groups", [])} if user else set()
    if "sabaq-parents" in groups and not any(g.startswith(("nbgrader-", "formgrade-")) for g in groups):
        return f"/services/{SERVICE_NAME}/"
    return "/hub/spawn"


def configure(c, settings: Settings) -> None:
    hub_dir = Path(settings.data_dir) / "hub"
    c.JupyterHub.bind_url = f"http://{settings.hub.ip}:{settings.hub.port}"
    c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{settings.hub.api_port}"
    c.JupyterHub.db_url = f"sqlite:///{hub_dir / 'jupyterhub.sqlite'}"
    c.JupyterHub.pid_file = str(hub_dir / "jupyterhub.pid")
    c.JupyterHub.cookie_secret = bytes.fromhex(settings.hub.cookie_secret)
    c.JupyterHub.concurrent_spawn_limit = settings.hub.concurrent_spawn_limit
    c.JupyterHub.default_url = default_url
    c.JupyterHub.template_paths = [str(HUB_TEMPLATES)]
    c.JupyterHub.template_vars = {"sabaq_login": login_page_texts(settings.general.default_language)}

    c.ConfigurableHTTPProxy.command = [find_proxy(settings)]
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings.hub.proxy_api_port}"
    c.ConfigurableHTTPProxy.auth_token = settings.hub.proxy_auth_token
    c.ConfigurableHTTPProxy.pid_file = str(hub_dir / "proxy.pid")

    c.JupyterHub.authenticator_class = "sabaq.hub.authenticator.SabaqAuthenticator"
    c.SabaqAuthenticator.db_url = settings.database_url

    c.JupyterHub.spawner_class = "sabaq.hub.spawner.SabaqSpawner"
    c.SabaqSpawner.isolate = settings.spawner.kind == "system-users"
    c.SabaqSpawner.home_root = settings.spawner.home_root
    c.SabaqSpawner.user_prefix = settings.spawner.user_prefix
    c.SabaqSpawner.service_url = settings.service_url
    c.SabaqSpawner.sabaq_db_url = settings.database_url
    c.SabaqSpawner.default_language = settings.general.default_language
    c.Spawner.cmd = [str(Path(sys.prefix) / "bin" / "jupyterhub-singleuser")]
    c.Spawner.default_url = settings.spawner.default_url
    c.Spawner.start_timeout = settings.hub.start_timeout
    c.Spawner.http_timeout = settings.hub.http_timeout
    c.Spawner.server_token_scopes = ["users:activity!user", "access:servers!server", SERVICE_ACCESS]

    env = sabaq_environment(settings)
    services = [{
        "name": SERVICE_NAME,
        "display": True,
        "url": f"http://{settings.service.ip}:{settings.service.port}",
        "api_token": settings.service.api_token,
        "oauth_no_confirm": True,
        "command": [sys.executable, "-m", "sabaq", "service"],
        "environment": env,
        "info": {"description": "courses, assignments, submissions, gradebook"},
    }]
    for i in range(1, settings.worker.count + 1):
        services.append({
            "name": f"{SERVICE_NAME}-worker-{i}",
            "command": [sys.executable, "-m", "sabaq", "worker"],
            "environment": {**env, "SABAQ_WORKER_NAME": f"worker-{i}"},
        })
    c.JupyterHub.services = services
    c.JupyterHub.load_roles = [
        {"name": "user", "scopes": ["self", SERVICE_ACCESS]},
        {
            "name": "sabaq-service",
            "description": "sabaq keeps users, groups and admin flags in step with its courses",
            "scopes": ["admin:users", "admin:groups", "list:users", "read:users", "list:groups", "read:groups"],
            "services": [SERVICE_NAME],
        },
    ]
