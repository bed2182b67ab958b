"""JupyterHub's configuration, derived from sabaq's one settings file.

``configure(c, settings)`` is the only place that turns sabaq settings into
hub traits; ``jupyterhub_config.py`` beside this module calls it for the
one-machine default, and the Kubernetes chart calls it from ``hub.extraFiles``.
"""

from __future__ import annotations

import asyncio
import html
import os
import shutil
import sys
from pathlib import Path

from jupyterhub.utils import subdomain_hook_idna
from tornado import web

from sabaq.hub.jupyterhub.hubdatabase import commit_quickly
from sabaq.hub.jupyterhub.hubpages import HUB_PAGE_TEXTS
from sabaq.hub.jupyterhub.rundir import RUN_ENV
from sabaq.hub.jupyterhub.serverroles import ROLE_VARIABLE, role_of
from sabaq.hub.jupyterhub.sharedstatic import with_light_pages
from sabaq.i18n import LANGUAGE_NAMES, LANGUAGES, N_, negotiate, translator
from sabaq.settings import Settings, SettingsError, keeps_secure_cookies

SERVICE_NAME = "sabaq"
# The service's OAuth callback: the hub does not start the service (`sabaq up` or Kubernetes
# does) and so cannot give it the URL: relative, the service's own default. It stays on the
# hub's address with or without users' subdomains (subdomain_hook).
SERVICE_CALLBACK = f"/services/{SERVICE_NAME}/oauth_callback"
HUB_TEMPLATES = Path(__file__).with_name("hub-templates")
LOGIN_TEXTS = (
    N_("Sign in"), N_("Login:"), N_("Password:"), N_("Invalid username or password"),
    N_("Your teacher gives you your login and password."),
    N_("This connection is not encrypted (HTTP). Ask the administrator to enable HTTPS."),
)
SERVICE_ACCESS = f"access:services!service={SERVICE_NAME}"
# Where servers share the hub's address, a server admits only its owner: admins hold
# access:servers to every server, and a page of a student's server opened with an admin's
# login would run at the hub's address. Everyone holds this scope for their own server only.
OWN_SERVER = "custom:sabaq:own-server"
CUSTOM_SCOPES = {OWN_SERVER: {"description": "Use one's own JupyterLab."}}
PARENT_TEXT = N_("A parent's account has no JupyterLab of its own: your child's work, marks and "
                 "feedback are on sabaq's pages.")
PARENT_LINK = N_("Open your child's page")


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
    raise SettingsError(N_("configurable-http-proxy was not found. Install it with "
                           "`npm install --prefix {prefix} configurable-http-proxy`, or set [hub] proxy_command."),
                        prefix=Path(sys.prefix).parent)


def proxy_command(settings: Settings) -> list[str]:
    """The proxy's command as sabaq runs it: configurable-http-proxy through ``proxy.mjs``,
    which routes a path that is not UTF-8 once decoded instead of answering a bare 500. A
    [hub] proxy_command of the operator's own runs as it is."""
    if settings.hub.proxy_command:
        return [settings.hub.proxy_command]
    node = shutil.which("node")
    if node is None:  # the command as it is: its first line finds node its own way
        return [find_proxy(settings)]
    return [node, str(Path(__file__).with_name("proxy.mjs")), find_proxy(settings)]


def login_page_texts(default_language: str) -> dict:
    """The words of the login page and the hub's other pages in every language, from sabaq's catalogs."""
    return {
        "texts": {lang: {msg: translator(lang)(msg) for msg in (*LOGIN_TEXTS, *HUB_PAGE_TEXTS)}
                  for lang in LANGUAGES},
        "names": LANGUAGE_NAMES,
        "default": default_language,
    }


def subdomain_hook(name: str, domain: str, kind: str) -> str:
    """Each user at <name>.<domain> (JupyterHub's own scheme); services stay on the hub's
    address, so /services/sabaq/ keeps its address, its links and its OAuth callback."""
    if kind == "service":
        return domain
    return subdomain_hook_idna(name, domain, kind)


def configure_origins(c, subdomain_host: str) -> None:
    """Users' servers on origins of their own when there is a host name; else on the hub's
    address, each admitting only its owner (see OWN_SERVER)."""
    c.JupyterHub.custom_scopes = CUSTOM_SCOPES
    if not subdomain_host:
        # what the server's OAuth client hands out: the scope for the user who logs in there
        # ("!user" is the one who authorizes), which only the server's owner's matches
        c.Spawner.oauth_client_allowed_scopes = [f"{OWN_SERVER}!user"]
        return
    c.JupyterHub.subdomain_host = subdomain_host
    c.JupyterHub.subdomain_hook = subdomain_hook
    # __Host- cookies cannot be set by another origin (a user's subdomain tossing its own login
    # cookie at the hub); they must be Secure: https only
    c.JupyterHub.cookie_host_prefix_enabled = keeps_secure_cookies(subdomain_host)


def own_server_scopes(spawner) -> list[str]:
    """What a server asks of whoever comes in: its owner's scope (set by the pre-spawn hook)."""
    return [f"{OWN_SERVER}!user={spawner.user.name}"]


class ParentHasNoServer(web.HTTPError):
    """Refuses a parent's spawn; the hub shows the message (and the link) in its error page."""

    def __init__(self, lang: str):
        super().__init__(403, "a parent's account has no server")
        _ = translator(lang)
        url = f"/services/{SERVICE_NAME}/"
        self.jupyterhub_message = f"{_(PARENT_TEXT)} {url}"
        self.jupyterhub_html_message = (f'<p>{html.escape(_(PARENT_TEXT))}</p>'
                                        f'<p><a class="btn btn-primary" href="{url}">{html.escape(_(PARENT_LINK))}</a></p>')


def spawn_policy(settings: Settings, *, owner_only: bool):
    """pre_spawn_hook: parents get no server; with servers on the hub's address, a server
    admits only its owner; every server is told its user's language and role (SABAQ_LANG,
    SABAQ_ROLE: on Kubernetes the image's server config reads them)."""
    engine = None

    def who(name: str) -> tuple[bool, str | None, bool]:
        """(only a parent, their language, staff of a course) from sabaq's accounts."""
        nonlocal engine
        from sabaq.hub.domain.accounts import find_user, only_a_parent
        from sabaq.hub.domain.courses import courses_of, language_of
        from sabaq.hub.store.database import make_engine, make_sessionmaker, session_scope
        from sabaq.hub.store.models import STAFF_ROLES

        if engine is None:
            engine = make_engine(settings.database_url)
        with session_scope(make_sessionmaker(engine)) as db:
            user = find_user(db, name)
            if user is None:
                return False, None, False
            staff = any(role in STAFF_ROLES for _, role in courses_of(db, user))
            return only_a_parent(db, user), language_of(db, user), staff

    async def hook(spawner) -> None:
        try:
            parent, language, staff = await asyncio.to_thread(who, spawner.user.name)
        except Exception:  # sabaq's database unreachable: the hub's groups (synced from it) decide
            spawner.log.exception("could not read %s's account from sabaq's database", spawner.user.name)
            parent, language, staff = parent_by_groups(spawner.user), None, staff_by_groups(spawner.user)
        if parent:
            handler = getattr(spawner, "handler", None)
            browser = handler.request.headers.get("Accept-Language") if handler is not None else None
            raise ParentHasNoServer(language or negotiate(browser, settings.general.default_language))
        if owner_only:
            spawner.oauth_access_scopes = own_server_scopes(spawner)
        if language:  # her server (on Kubernetes: its image's server config) starts in her language
            spawner.environment = {**spawner.environment, "SABAQ_LANG": language}
        # the server extensions and JupyterLab plugins of her role (serverroles), decided here, where
        # the user has no say: her own server only shapes her interface, the service guards the data
        spawner.environment = {**spawner.environment, ROLE_VARIABLE: role_of(staff)}

    return hook


def parent_by_groups(user) -> bool:
    groups = {g.name for g in getattr(user, "groups", [])} if user else set()
    return "sabaq-parents" in groups and not any(g.startswith(("nbgrader-", "formgrade-")) for g in groups)


def staff_by_groups(user) -> bool:
    """A course's teacher or assistant, by the groups sabaq syncs to the hub (formgrade-<course>)."""
    return any(g.name.startswith("formgrade-") for g in getattr(user, "groups", [])) if user else False


def default_url(handler) -> str:
    """Parents have no notebooks: send them to sabaq's pages; others to their server."""
    if parent_by_groups(handler.current_user):
        return f"/services/{SERVICE_NAME}/"
    return "/hub/spawn"


def configure(c, settings: Settings) -> None:
    hub_dir = Path(settings.data_dir) / "hub"
    c.JupyterHub.bind_url = f"http://{settings.hub.ip}:{settings.hub.port}"
    c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{settings.hub.api_port}"
    c.JupyterHub.db_url = f"sqlite:///{hub_dir / 'jupyterhub.sqlite'}"
    commit_quickly(hub_dir / "jupyterhub.sqlite")
    c.JupyterHub.cookie_secret = bytes.fromhex(settings.hub.cookie_secret)
    # the hub takes every start; sabaq's spawner queues them (a place in line, not a 429 page)
    c.JupyterHub.concurrent_spawn_limit = 0
    c.JupyterHub.default_url = default_url
    c.JupyterHub.template_paths = [str(HUB_TEMPLATES)]
    c.JupyterHub.template_vars = {"sabaq_login": login_page_texts(settings.general.default_language)}
    # light pages (issue 17): the hub's pages compress text for a slow link (users' servers too:
    # the pre-spawn hook's sharedstatic.server_args, with JupyterLab's files at a shared address)
    c.JupyterHub.tornado_settings.update({"compress_response": True})

    # `sabaq up` runs the proxy, the service and the workers beside the hub (launcher.programs):
    # a hub that dies and comes back takes none of them down, and users' servers keep running
    c.ConfigurableHTTPProxy.should_start = False
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings.hub.proxy_api_port}"
    c.ConfigurableHTTPProxy.auth_token = settings.hub.proxy_auth_token
    c.JupyterHub.cleanup_servers = False

    c.JupyterHub.spawner_class = "sabaq.hub.jupyterhub.spawner.SabaqSpawner"
    c.SabaqSpawner.isolate = settings.spawner.kind == "system-users"
    c.SabaqSpawner.home_root = settings.spawner.home_root
    c.SabaqSpawner.user_prefix = settings.spawner.user_prefix
    c.SabaqSpawner.service_url = settings.service_url
    c.SabaqSpawner.sabaq_db_url = settings.database_url
    c.SabaqSpawner.default_language = settings.general.default_language
    c.SabaqSpawner.starts_at_once = settings.hub.concurrent_spawn_limit
    c.SabaqSpawner.warm_start = settings.spawner.warm_start
    c.SabaqSpawner.warm_kernels = settings.spawner.warm_kernels
    c.Spawner.cmd = [str(Path(sys.prefix) / "bin" / "jupyterhub-singleuser")]
    c.Spawner.default_url = settings.spawner.default_url
    c.Spawner.start_timeout = settings.hub.start_timeout
    c.Spawner.http_timeout = settings.hub.http_timeout
    c.Spawner.server_token_scopes = ["users:activity!user", "access:servers!server", SERVICE_ACCESS]
    configure_origins(c, settings.subdomain_host)
    c.Spawner.pre_spawn_hook = with_light_pages(spawn_policy(settings, owner_only=not settings.subdomain_host),
                                                settings.subdomain_host, shared=settings.hub.shared_static)
    if os.environ.get(RUN_ENV):  # users' servers are of the run: `sabaq up` stops them with it
        c.Spawner.environment = {RUN_ENV: os.environ[RUN_ENV]}

    c.JupyterHub.services = [{
        "name": SERVICE_NAME,
        "display": True,
        "url": f"http://{settings.service.ip}:{settings.service.port}",
        "api_token": settings.service.api_token,
        "oauth_no_confirm": True,
        "oauth_redirect_uri": SERVICE_CALLBACK,
        "info": {"description": "courses, assignments, submissions, gradebook"},
    }]
    # the supervisor asks the hub, with the service's token, to give a new proxy its routes
    c.JupyterHub.load_roles = [*hub_roles(), {
        "name": "sabaq-proxy-sync", "description": "sabaq up has the hub sync a restarted proxy's routes",
        "scopes": ["proxy"], "services": [SERVICE_NAME]}]
    configure_authenticator(c, settings)


def hub_roles() -> list[dict]:
    return [
        {"name": "user", "scopes": ["self", SERVICE_ACCESS, f"{OWN_SERVER}!user"]},
        {
            "name": "sabaq-service",
            "description": "sabaq keeps users and groups in step with its courses",
            "scopes": ["admin:users", "admin:groups", "list:users", "read:users", "list:groups", "read:groups"],
            "services": [SERVICE_NAME],
        },
    ]


def _values(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def identity_hook(settings: Settings):
    """post_auth_hook: make sabaq's account and memberships agree with the provider's claims."""
    from sabaq.hub.jupyterhub.identity import apply_identity, from_lti13, from_oidc
    from sabaq.hub.store.database import make_engine, make_sessionmaker, session_scope

    sessions = make_sessionmaker(make_engine(settings.database_url))
    a = settings.auth

    def hook(authenticator, handler, authentication):
        state = authentication.get("auth_state") or {}
        if a.kind == "oidc":
            identity = from_oidc(
                state.get("oauth_user") or {}, username_claim=a.username_claim, roles_claim=a.roles_claim,
                teacher_values=_values(a.teacher_values), assistant_values=_values(a.assistant_values),
                student_values=_values(a.student_values), admin_values=_values(a.admin_values))
        else:
            identity = from_lti13(state, username_key=a.username_claim)
        identity.name = authentication["name"]  # the hub has already normalised the login
        with session_scope(sessions) as db:
            user = apply_identity(db, identity, create_courses=a.create_courses,
                                  language=settings.general.default_language)
            authentication["admin"] = True if user.is_admin else None
        return authentication

    return hook


def configure_authenticator(c, settings: Settings) -> None:
    a = settings.auth
    if a.kind == "local":
        c.JupyterHub.authenticator_class = "sabaq.hub.jupyterhub.authenticator.SabaqAuthenticator"
        c.SabaqAuthenticator.db_url = settings.database_url
        return
    if a.kind == "oidc":
        c.JupyterHub.authenticator_class = "generic-oauth"
        c.GenericOAuthenticator.client_id = a.client_id
        c.GenericOAuthenticator.client_secret = a.client_secret
        c.GenericOAuthenticator.authorize_url = a.authorize_url
        c.GenericOAuthenticator.token_url = a.token_url
        c.GenericOAuthenticator.userdata_url = a.userdata_url
        c.GenericOAuthenticator.scope = list(_values(a.scope))
        c.GenericOAuthenticator.username_claim = a.username_claim
        c.GenericOAuthenticator.allow_all = True  # the school's provider decides who may log in
        c.GenericOAuthenticator.enable_auth_state = True
    else:
        c.JupyterHub.authenticator_class = "ltiauthenticator.lti13.auth.LTI13Authenticator"
        c.LTI13Authenticator.issuer = a.issuer
        c.LTI13Authenticator.authorize_url = a.authorize_url
        c.LTI13Authenticator.jwks_endpoint = a.jwks_url
        c.LTI13Authenticator.client_id = [a.client_id]
        c.LTI13Authenticator.username_key = a.username_claim
        c.LTI13Authenticator.allow_all = True
        c.LTI13Authenticator.enable_auth_state = True
    c.Authenticator.post_auth_hook = identity_hook(settings)


def profile_list(profiles: list[dict]):
    """KubeSpawner profiles: everyone gets those of course "*", plus their own courses'."""

    def offer(spawner) -> list[dict]:
        groups = {g.name for g in spawner.user.groups}
        mine = []
        for p in profiles:
            course = p.get("course", "*")
            if course != "*" and f"nbgrader-{course}" not in groups and f"formgrade-{course}" not in groups:
                continue
            override = {k: p[k] for k in ("image", "cpu_limit", "mem_limit", "cpu_guarantee", "mem_guarantee")
                        if k in p}
            mine.append({
                "display_name": p.get("display_name") or course,
                "slug": p.get("slug") or course.replace("*", "default"),
                "description": p.get("description", ""),
                "default": bool(p.get("default")),
                "kubespawner_override": override,
            })
        return mine

    return offer


def configure_kubernetes(c, settings: Settings) -> None:
    """sabaq's part of a Zero to JupyterHub hub: loaded by the chart through hub.extraConfig."""
    chart_host = (c.JupyterHub.subdomain_host if "subdomain_host" in c.JupyterHub else "").rstrip("/")
    if chart_host and "://" not in chart_host:
        chart_host = "https://" + chart_host  # as JupyterHub reads it
    if chart_host and settings.subdomain_host and chart_host != settings.subdomain_host:
        raise SettingsError(N_("The chart's hub.config.JupyterHub.subdomain_host ({chart}) and sabaq's [hub] host "
                               "({host}) differ; they must name the same host."),
                            chart=chart_host, host=settings.subdomain_host)
    subdomain_host = settings.subdomain_host or chart_host
    configure_origins(c, subdomain_host)
    c.Spawner.pre_spawn_hook = spawn_policy(settings, owner_only=not subdomain_host)
    c.JupyterHub.services = [{
        "name": SERVICE_NAME,
        "url": settings.service.url or f"http://sabaq:{settings.service.port}",
        "api_token": settings.service.api_token,
        "oauth_no_confirm": True,
        "oauth_redirect_uri": SERVICE_CALLBACK,
        "display": True,
        "info": {"description": "courses, assignments, submissions, gradebook"},
    }]
    c.JupyterHub.load_roles = hub_roles()
    c.JupyterHub.default_url = default_url
    c.JupyterHub.template_paths = [str(HUB_TEMPLATES)]
    c.JupyterHub.template_vars = {"sabaq_login": login_page_texts(settings.general.default_language)}
    c.KubeSpawner.server_token_scopes = ["users:activity!user", "access:servers!server", SERVICE_ACCESS]
    c.KubeSpawner.environment = {"SABAQ_SERVICE_URL": settings.service_url,
                                 "SABAQ_LANG": settings.general.default_language}
    # published lessons, merged into ~/lessons with the student's edits kept, and a teacher's course
    # folders for nbgrader's formgrader (as SabaqSpawner writes them locally; a student's are none)
    c.KubeSpawner.lifecycle_hooks = {"postStart": {"exec": {"command": [
        "sh", "-c", ("sabaq lesson pull >/tmp/sabaq-lesson-pull.log 2>&1; "
                     "sabaq course pull >/tmp/sabaq-course-pull.log 2>&1; true")]}}}
    if settings.kubernetes.profiles:
        c.KubeSpawner.profile_list = profile_list(settings.kubernetes.profiles)
    if settings.kubernetes.materials_claim:
        c.KubeSpawner.volumes = [{"name": "materials",
                                  "persistentVolumeClaim": {"claimName": settings.kubernetes.materials_claim,
                                                            "readOnly": True}}]
        c.KubeSpawner.volume_mounts = [{"name": "materials", "mountPath": "/home/jovyan/materials",
                                        "readOnly": True}]
    configure_authenticator(c, settings)
