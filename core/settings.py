"""One settings file for the hub, the service and the workers.

The file is TOML; each ``[section]`` configures one traitlets class below, so
every key has a type, a default for one machine and a ``help=`` text. Values
come, later winning, from the defaults, the generated secrets file in the data
directory, the settings file, and ``SABAQ_<SECTION>_<KEY>`` environment
variables (how Kubernetes passes Secrets in).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

from traitlets import (
    Bool,
    Dict,
    Enum,
    Float,
    HasTraits,
    Instance,
    Integer,
    List,
    TraitError,
    Unicode,
    default,
)
from traitlets.config import Config, Configurable

from sabaq.errors import Phrase, SabaqError
from sabaq.i18n import N_

LANGUAGES = ("kk", "ru", "en")


class SettingsError(SabaqError):
    """A setting is unknown or has a value it cannot take."""

    code = "bad_setting"


class Section(Configurable):
    """Base of the settings sections; ``section`` is its TOML table name."""

    section = ""


class GeneralSettings(Section):
    section = "sabaq"

    public_url = Unicode(
        "",
        help="The address people type to reach sabaq, e.g. https://sabaq.school.kz. "
        "Empty: http://<hub.ip>:<hub.port>.",
    ).tag(config=True)
    default_language = Enum(
        list(LANGUAGES),
        default_value="kk",
        help="Language of pages and messages when neither the user's profile nor "
        "the browser names one of kk, ru, en.",
    ).tag(config=True)
    timezone = Unicode(
        "Asia/Almaty", help="Time zone in which due dates are shown and typed."
    ).tag(config=True)


class HubSettings(Section):
    section = "hub"

    ip = Unicode(
        "127.0.0.1",
        help="Address the public proxy listens on. Use 0.0.0.0 to serve a classroom "
        "network (put TLS in front of it).",
    ).tag(config=True)
    port = Integer(8000, min=1, max=65535, help="Public port of the proxy.").tag(config=True)
    api_port = Integer(
        8081, min=1, max=65535, help="Port of the hub's own API on 127.0.0.1."
    ).tag(config=True)
    proxy_api_port = Integer(
        8001, min=1, max=65535, help="Port of the proxy's REST API on 127.0.0.1."
    ).tag(config=True)
    concurrent_spawn_limit = Integer(
        min=1,
        max=10000,
        help="Servers the machine starts at once. More students logging in wait in a queue, in the "
        "order they came, each shown her place and about how long it takes (never a 'try again' page); "
        "the start timeout counts from when her start leaves the queue. Default: two per CPU core.",
    ).tag(config=True)
    shared_static = Bool(
        True,
        help="Students' JupyterLabs (and Notebook 7's views) load JupyterLab's files and its "
        "extensions from one shared, versioned address of sabaq's service, kept by browsers for a "
        "year, so a classroom PC downloads them once for every student. Off: each server serves "
        "its own copy under /user/<name>/.",
    ).tag(config=True)
    start_timeout = Integer(
        180, min=10, help="Seconds a student's server may take to start."
    ).tag(config=True)
    http_timeout = Integer(
        120, min=10, help="Seconds a started server may take to answer HTTP."
    ).tag(config=True)
    host = Unicode(
        "",
        help="The host name people type to reach sabaq, e.g. sabaq.school.kz. Set, it gives every "
        "person's JupyterLab an address of its own, https://<login>.sabaq.school.kz, so that nothing "
        "a student puts into her server can act with a teacher's login (it needs a DNS record "
        "*.sabaq.school.kz and a wildcard TLS certificate in front of sabaq). https is assumed; write "
        "http://... to serve without TLS. localhost tries it on this machine (browsers send any "
        "*.localhost name here). Empty: everything shares one address (see the README's security "
        "section for what that does not protect). `sabaq up --host NAME` sets it.",
    ).tag(config=True)
    proxy_command = Unicode(
        "",
        help="Path of configurable-http-proxy. Empty: found on PATH or in "
        "node_modules/.bin next to sabaq's Python environment.",
    ).tag(config=True)
    cookie_secret = Unicode(
        "", help="Hex secret that signs the hub's login cookies (generated)."
    ).tag(config=True, secret=True)
    proxy_auth_token = Unicode(
        "", help="Token the hub uses to talk to the proxy (generated)."
    ).tag(config=True, secret=True)

    @default("concurrent_spawn_limit")
    def _two_per_core(self) -> int:
        # a warm start is mostly CPU (a home written, a server forked): a few per core keep the machine busy
        return 2 * (os.cpu_count() or 1)


class ServiceSettings(Section):
    section = "service"

    ip = Unicode("127.0.0.1", help="Address the sabaq service listens on.").tag(config=True)
    port = Integer(10101, min=1, max=65535, help="Port of the sabaq service.").tag(config=True)
    url = Unicode(
        "",
        help="URL at which the hub and servers reach the service. "
        "Empty: http://<service.ip>:<service.port>.",
    ).tag(config=True)
    max_upload_mb = Integer(
        20, min=1, max=2048, help="Largest single file a user may upload, in MB."
    ).tag(config=True)
    max_files = Integer(
        200, min=1, max=100000, help="Most files in one release or submission."
    ).tag(config=True)
    max_request_mb = Integer(
        100, min=1, max=4096,
        help="Largest request anyone may send, all its files together, in MB (a release with its "
        "source, a task package, a submission). Refused by its Content-Length before it is read, or "
        "as soon as it grows past this while it arrives.",
    ).tag(config=True)
    max_submission_mb = Integer(
        50, min=1, max=4096,
        help="Largest submission, all its files together, in MB; checked before the files are read.",
    ).tag(config=True)
    max_student_mb = Integer(
        200, min=0, max=100000,
        help="Most MB one student's submissions of one assignment may take, all attempts together "
        "(0: no limit).",
    ).tag(config=True)
    max_attempts = Integer(
        20, min=0, max=100000,
        help="Most attempts one student may submit to one assignment or olympiad task (0: no limit); "
        "every attempt is kept, and the newest one is graded.",
    ).tag(config=True)
    api_token = Unicode(
        "", help="The service's hub API token and OAuth secret (generated)."
    ).tag(config=True, secret=True)
    cookie_secret = Unicode(
        "", help="Secret that signs the service's session cookies (generated)."
    ).tag(config=True, secret=True)
    processes = Integer(
        0, min=0, max=64,
        help="Service processes answering on the service's port (uvicorn's workers sharing one socket; "
        "0: two, or one on a single core or under a one-CPU limit). One process uses at most one core, and at a deadline the "
        "students' requests wait for it; a second halved the submit's latency on two cores. More help "
        "only where cores are left over from the hub, the proxy and the grading workers. Each keeps its "
        "own database connections and its own minute-long memory of the hub's answers about tokens.",
    ).tag(config=True)
    sync_interval = Integer(
        60,
        min=0,
        help="Seconds between full syncs of course membership into hub groups "
        "(0: only at start and on change).",
    ).tag(config=True)


class DatabaseSettings(Section):
    section = "database"

    url = Unicode(
        "",
        help="SQLAlchemy URL of sabaq's database, e.g. "
        "postgresql+psycopg://user:pw@host/sabaq. Empty: SQLite in the data directory.",
    ).tag(config=True, secret=True)


class SpawnerSettings(Section):
    section = "spawner"

    kind = Enum(
        ["system-users", "same-user"],
        default_value="system-users",
        help="system-users: every user's JupyterLab runs as their own unprivileged "
        "system user (needs root). same-user: everything runs as the user who "
        "started sabaq; UNSAFE, students can read each other's files (development only).",
    ).tag(config=True)
    home_root = Unicode(
        "/home", help="Folder holding one home directory per user's system account."
    ).tag(config=True)
    user_prefix = Unicode(
        "sq-", help="Prefix of the system accounts sabaq creates for its users."
    ).tag(config=True)
    default_url = Unicode("/lab", help="Page a user's server opens on.").tag(config=True)
    warm_start = Bool(
        True,
        help="Fork each user's JupyterLab from a process that has already imported it (about 0.3 s of CPU "
        "instead of seconds of imports: a class can log in at once). false starts each server as a new "
        "program, as JupyterHub does.",
    ).tag(config=True)
    warm_kernels = Bool(
        True,
        help="Fork students' Python kernels from a process that has already imported ipykernel, IPython, "
        "numpy and ipywidgets, as each student's own account (a lesson's kernel answers in a fraction of a "
        "second). false starts each kernel as a new program, as Jupyter does.",
    ).tag(config=True)


class WorkerSettings(Section):
    section = "worker"

    count = Integer(
        min=0, max=256,
        help="Grading worker processes `sabaq up` starts; each keeps a warm sandbox (100-150 MB). "
        "Default: one per CPU core, at most 4.",
    ).tag(config=True)
    batch = Integer(
        8, min=1, max=32,
        help="Submissions of one assignment a worker claims at once and grades in one run of nbgrader's "
        "pipeline, as `sabaq grade batch` grades a class (each is still reported, retried or failed on its "
        "own). 1: one at a time.",
    ).tag(config=True)
    claim_wait_seconds = Float(
        20.0, min=0, max=30,
        help="How long the service holds an idle worker's request for a job before answering that there "
        "is none (a long poll): a job stored meanwhile is handed out at once, and an idle worker asks "
        "only this often. 0: the worker asks every poll_seconds instead.",
    ).tag(config=True)
    poll_seconds = Float(
        1.0, min=0.05, max=60,
        help="The pause before an idle worker asks for a job again when claim_wait_seconds is 0, and "
        "the first pause after the service could not be reached or answered with an error (doubling "
        "while that lasts, up to 30 s).",
    ).tag(config=True)
    lease_seconds = Integer(
        300,
        min=5,
        help="A claimed job not finished in this time is given to another worker.",
    ).tag(config=True)
    max_attempts = Integer(
        3, min=1, max=100, help="Tries before a job is marked failed."
    ).tag(config=True)
    nice = Integer(
        10, min=0, max=19,
        help="Niceness of the workers and of everything they start (the grading sandbox, judged programs): "
        "when the machine is busy, students' pages, submissions and servers get the CPU first and grading "
        "takes what is left. 0: the same priority as everything else.",
    ).tag(config=True)
    token = Unicode(
        "", help="Token workers present to the service (generated)."
    ).tag(config=True, secret=True)

    @default("count")
    def _one_per_core(self) -> int:
        # a deadline's submissions are graded side by side, as many as the machine has cores
        return min(os.cpu_count() or 1, 4)


class GradingSettings(Section):
    section = "grading"

    sandbox = Enum(
        ["bubblewrap", "none-unsafe"],
        default_value="bubblewrap",
        help="bubblewrap: students' code runs in a bubblewrap sandbox (no network, no "
        "solutions, no other submissions, its own unprivileged uid); grading stops with "
        "an error if the sandbox cannot be set up. none-unsafe: no sandbox; students' "
        "code can read everything the grader can. Never use it with real students.",
    ).tag(config=True)
    parallel = Integer(
        0, min=0, max=1024, help="Notebooks graded at once per worker. 0: one per CPU core."
    ).tag(config=True)
    batch_processes = Integer(
        0, min=0, max=64,
        help="Processes `sabaq grade batch` splits a class over, each running nbgrader's pipeline for "
        "its share of the students with its own sandbox. 0: one per CPU core (as root; one without "
        "root, where all notebooks share the user's uid).",
    ).tag(config=True)
    cell_timeout = Integer(
        30, min=1, max=3600,
        help="Seconds a cell may run before it is interrupted (nbgrader's Execute.timeout).",
    ).tag(config=True)
    notebook_seconds = Integer(
        600, min=5, help="Wall-clock seconds one notebook may take in all."
    ).tag(config=True)
    cpu_seconds = Integer(300, min=1, help="CPU seconds one notebook may use.").tag(config=True)
    memory_mb = Integer(
        2048, min=64,
        help="Memory one notebook may use, in MB: the address space of each of its processes, and the "
        "memory of all its processes together (the notebook is stopped when they hold more).",
    ).tag(config=True)
    processes = Integer(
        64, min=4, max=100000, help="Processes one notebook may run at once (fork bombs stop here)."
    ).tag(config=True)
    file_mb = Integer(100, min=1, help="Largest file one notebook may write, in MB.").tag(config=True)
    disk_mb = Integer(
        200, min=1,
        help="Disk one notebook may fill with all its files together (its folder and its files in the "
        "sandbox's /tmp), in MB; the notebook is stopped when it writes more.",
    ).tag(config=True)
    output_mb = Integer(4, min=1, help="Output one notebook may print or display, in MB.").tag(config=True)
    uid_base = Integer(
        61000, min=1000, max=4000000000,
        help="First of the 512 unprivileged uids notebooks run as (one per notebook graded at once, "
        "leased so that no two graders on the machine share one).",
    ).tag(config=True)
    preload = Unicode(
        "numpy,matplotlib,matplotlib.pyplot,pandas,scipy",
        help="Modules imported once per worker before forking, comma-separated; "
        "notebooks importing them start faster.",
    ).tag(config=True)


class AuthSettings(Section):
    section = "auth"

    kind = Enum(
        ["local", "oidc", "lti13"],
        default_value="local",
        help="local: accounts and hashed passwords kept by sabaq. oidc: an OpenID Connect "
        "provider (GenericOAuthenticator). lti13: launches from an LMS such as Moodle or "
        "Canvas (LTI13Authenticator).",
    ).tag(config=True)
    min_password_length = Integer(
        8, min=4, max=128, help="Shortest password sabaq accepts."
    ).tag(config=True)
    client_id = Unicode("", help="oidc/lti13: the client id registered with the provider or LMS.").tag(config=True)
    client_secret = Unicode("", help="oidc: the client secret.").tag(config=True, secret=True)
    authorize_url = Unicode("", help="oidc/lti13: the provider's authorization endpoint.").tag(config=True)
    token_url = Unicode("", help="oidc: the token endpoint.").tag(config=True)
    userdata_url = Unicode("", help="oidc: the userinfo endpoint.").tag(config=True)
    scope = Unicode("openid,email,profile", help="oidc: scopes to ask for, comma-separated.").tag(config=True)
    username_claim = Unicode("email", help="oidc: the claim that becomes the login; lti13: the username key "
                             "(custom_<name> for a custom launch parameter).").tag(config=True)
    roles_claim = Unicode("groups", help="oidc: the claim listing roles and course:<id>:<role> entries.").tag(
        config=True)
    teacher_values = Unicode("teacher", help="oidc: values meaning teacher, comma-separated.").tag(config=True)
    assistant_values = Unicode("assistant", help="oidc: values meaning assistant, comma-separated.").tag(config=True)
    student_values = Unicode("student", help="oidc: values meaning student, comma-separated.").tag(config=True)
    admin_values = Unicode("admin", help="oidc: values meaning administrator, comma-separated.").tag(config=True)
    issuer = Unicode("", help="lti13: the LMS's issuer (iss).").tag(config=True)
    jwks_url = Unicode("", help="lti13: where the LMS publishes its signing keys.").tag(config=True)
    create_courses = Bool(True, help="oidc/lti13: make a course the first time a login names one.").tag(config=True)


class KubernetesSettings(Section):
    section = "kubernetes"

    profiles = List(
        Dict(),
        help="Server environments: tables with course (or \"*\" for everyone), display_name, image, "
        "cpu_limit, mem_limit, cpu_guarantee, mem_guarantee. A user is offered their courses' ones.",
    ).tag(config=True)
    materials_claim = Unicode(
        "", help="A PersistentVolumeClaim with course materials, mounted read-only at ~/materials."
    ).tag(config=True)


class DemoSettings(Section):
    section = "demo"

    seed = Bool(
        True,
        help="On the first start, create the demo course with a teacher, an "
        "assistant, three students and a parent.",
    ).tag(config=True)
    course = Unicode("demo", help="Folder under courses/ to seed from.").tag(config=True)
    also = List(
        Unicode(), ["olympiad"],
        help="More built-in courses to seed after it (the olympiad practice contest: its roster names "
        "the demo's teacher and students). Publishing its tasks builds their tests, a few seconds each.",
    ).tag(config=True)


SECTIONS: tuple[type[Section], ...] = (
    GeneralSettings,
    HubSettings,
    ServiceSettings,
    DatabaseSettings,
    SpawnerSettings,
    WorkerSettings,
    GradingSettings,
    AuthSettings,
    KubernetesSettings,
    DemoSettings,
)
SECRETS = {
    ("hub", "cookie_secret"): lambda: secrets.token_hex(32),
    ("hub", "proxy_auth_token"): lambda: secrets.token_hex(32),
    ("service", "api_token"): lambda: secrets.token_hex(32),
    ("service", "cookie_secret"): lambda: secrets.token_hex(32),
    ("worker", "token"): lambda: secrets.token_hex(32),
}
SECRETS_FILE = "secrets.json"
SETTINGS_FILE = "sabaq.toml"


def _by_section() -> dict[str, type[Section]]:
    return {cls.section: cls for cls in SECTIONS}


def _allowed(trait) -> Phrase | str:
    """Describe the values a trait accepts, for error messages."""
    if isinstance(trait, Enum):
        return Phrase(N_("one of {values}"), values=", ".join(repr(v) for v in trait.values))
    if isinstance(trait, (Integer, Float)):
        whole = isinstance(trait, Integer)
        lo, hi = getattr(trait, "min", None), getattr(trait, "max", None)
        if lo is not None and hi is not None:
            return Phrase(N_("a whole number from {low} to {high}") if whole else N_("a number from {low} to {high}"),
                          low=lo, high=hi)
        if lo is not None:
            return Phrase(N_("a whole number of at least {low}") if whole else N_("a number of at least {low}"), low=lo)
        return Phrase(N_("a whole number") if whole else N_("a number"))
    if isinstance(trait, Bool):
        return Phrase(N_("true or false"))
    if isinstance(trait, List):
        return Phrase(N_("a list"))
    if isinstance(trait, Dict):
        return Phrase(N_("a table"))
    if isinstance(trait, Unicode):
        return Phrase(N_("text"))
    return trait.info()


class Settings(HasTraits):
    """The effective settings: one attribute per section (``settings.hub.port``)."""

    data_dir = Unicode(help="Folder holding the database, secrets and settings.")
    config_file = Unicode("", help="The settings file that was read, if any.")

    general = Instance(GeneralSettings)
    hub = Instance(HubSettings)
    service = Instance(ServiceSettings)
    database = Instance(DatabaseSettings)
    spawner = Instance(SpawnerSettings)
    worker = Instance(WorkerSettings)
    grading = Instance(GradingSettings)
    auth = Instance(AuthSettings)
    kubernetes = Instance(KubernetesSettings)
    demo = Instance(DemoSettings)

    @classmethod
    def load(
        cls,
        data_dir: str | os.PathLike | None = None,
        config_file: str | os.PathLike | None = None,
        environ: dict | None = None,
    ) -> "Settings":
        """Read settings; raise SettingsError naming the bad key and allowed values."""
        environ = os.environ if environ is None else environ
        data_dir = Path(data_dir or environ.get("SABAQ_DATA") or "sabaq-data").absolute()
        if config_file is None:
            config_file = environ.get("SABAQ_CONFIG") or ""
            if not config_file and (data_dir / SETTINGS_FILE).exists():
                config_file = str(data_dir / SETTINGS_FILE)
        values: dict[str, dict] = {}
        _merge(values, _read_secrets(data_dir))
        if config_file:
            _merge(values, _read_toml(Path(config_file)))
        _merge(values, _read_environ(environ))
        self = cls(data_dir=str(data_dir), config_file=str(config_file or ""))
        self._apply(values)
        return self

    def _apply(self, values: dict[str, dict]) -> None:
        sections = _by_section()
        config = Config()
        for name, table in values.items():
            if name not in sections:
                raise SettingsError(N_("Unknown settings section [{section}]; known sections: {known}"),
                                    section=name, known=", ".join(f"[{s}]" for s in sections))
            klass = sections[name]
            traits = klass.class_traits(config=True)
            for key, value in table.items():
                if key not in traits:
                    raise SettingsError(N_("Unknown setting [{section}] {key}; known keys: {known}"),
                                        section=name, key=key, known=", ".join(sorted(traits)))
                try:
                    traits[key].validate(klass(), value)
                except TraitError:
                    raise SettingsError(N_("Invalid setting [{section}] {key} = {value}: allowed values are {allowed}."),
                                        section=name, key=key, value=repr(value), allowed=_allowed(traits[key])) from None
                config[klass.__name__][key] = value
        for attr, klass in zip(
            ("general", "hub", "service", "database", "spawner", "worker", "grading", "auth", "kubernetes", "demo"),
            SECTIONS,
        ):
            setattr(self, attr, klass(config=config))
        self._check_host()

    def _check_host(self) -> None:
        """[hub] host must be a name that can have names under it, and agree with public_url."""
        if not self.hub.host.strip():
            return
        scheme, name, _port = _split_host(self.hub.host)
        if scheme is None or not _HOST_NAME.match(name) or _is_address(name):
            raise SettingsError(N_("[hub] host = {value} is not a host name. Write the name people type, such as "
                                   "sabaq.school.kz (each person's server then gets an address like "
                                   "aliya.sabaq.school.kz), or localhost to try it on this machine; an IP address "
                                   "has no names under it."), value=repr(self.hub.host))
        if self.general.public_url:
            public = urlsplit(self.general.public_url)
            if (public.hostname or "").lower() != name:
                raise SettingsError(N_("[sabaq] public_url ({url}) and [hub] host ({host}) name different hosts. "
                                       "Set only [hub] host, or make them agree."),
                                    url=self.general.public_url, host=self.hub.host)

    # derived values -----------------------------------------------------

    def section(self, name: str) -> Section:
        for attr in self.trait_names():
            value = getattr(self, attr)
            if isinstance(value, Section) and value.section == name:
                return value
        raise KeyError(name)

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{Path(self.data_dir) / 'sabaq.sqlite'}"

    @property
    def service_url(self) -> str:
        """Base URL of the service, ending in the hub's service prefix."""
        base = self.service.url or f"http://{self.service.ip}:{self.service.port}"
        return base.rstrip("/") + "/services/sabaq/"

    @property
    def hub_api_url(self) -> str:
        return f"http://127.0.0.1:{self.hub.api_port}/hub/api"

    @property
    def subdomain_host(self) -> str:
        """JupyterHub's subdomain_host, scheme://name[:port], from [hub] host; "" without one.

        No scheme: https, or http for localhost (and *.localhost), which the proxy serves
        itself on [hub] port; a port is kept as written, or taken from public_url."""
        if not self.hub.host.strip():
            return ""
        scheme, name, port = _split_host(self.hub.host)
        public = urlsplit(self.general.public_url) if self.general.public_url else None
        if not scheme:
            scheme = public.scheme if public else ("http" if is_loopback_name(name) else "https")
        if port is None:
            if public and public.port:
                port = public.port
            elif is_loopback_name(name) and not public:
                port = self.hub.port
        default = {"http": 80, "https": 443}[scheme]
        return f"{scheme}://{name}" + (f":{port}" if port and port != default else "")

    @property
    def public_url(self) -> str:
        if self.general.public_url:
            return self.general.public_url.rstrip("/") + "/"
        if self.subdomain_host:
            return self.subdomain_host + "/"
        host = "127.0.0.1" if self.hub.ip in ("", "0.0.0.0") else self.hub.ip
        return f"http://{host}:{self.hub.port}/"

    def as_dict(self, mask_secrets: bool = True) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for cls in SECTIONS:
            obj = self.section(cls.section)
            table = {}
            for key, trait in sorted(cls.class_traits(config=True).items()):
                value = getattr(obj, key)
                if mask_secrets and trait.metadata.get("secret") and value:
                    value = "********"
                table[key] = value
            out[cls.section] = table
        return out

    def to_toml(self, mask_secrets: bool = True) -> str:
        lines = [f"# data directory: {self.data_dir}"]
        if self.config_file:
            lines.append(f"# settings file: {self.config_file}")
        for name, table in self.as_dict(mask_secrets).items():
            lines.append(f"\n[{name}]")
            for key, value in table.items():
                lines.append(f"{key} = {_toml_value(value)}")
        return "\n".join(lines) + "\n"


_HOST_NAME = re.compile(r"^(?=.{1,200}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def _split_host(value: str) -> tuple[str | None, str, int | None]:
    """(scheme or "" when none is written, lower-case name, port) of [hub] host; scheme None if unreadable."""
    text = value.strip().rstrip("/")
    scheme = ""
    if "://" in text:
        scheme, _, text = text.partition("://")
        scheme = scheme.lower()
        if scheme not in ("http", "https"):
            return None, text, None
    name, sep, port_text = text.rpartition(":") if ":" in text else (text, "", "")
    if sep and not port_text.isdigit():
        return None, text, None
    port = int(port_text) if sep else None
    if port is not None and not 0 < port < 65536:
        return None, text, None
    return scheme, name.lower(), port


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def is_loopback_name(name: str) -> bool:
    """localhost and *.localhost: browsers send them to this machine without asking DNS."""
    return name == "localhost" or name.endswith(".localhost")


def keeps_secure_cookies(url: str) -> bool:
    """Whether an address can have Secure (and so __Host-) cookies: https only. (Browsers also
    keep them from http://localhost, but JupyterHub 6.1 marks a server's OAuth state cookie
    Secure only under https, and a __Host- cookie without Secure is refused.)"""
    return urlsplit(url).scheme == "https"


def ensure_secrets(data_dir: str | os.PathLike) -> Path:
    """Create the secrets file once, readable by its owner only."""
    path = Path(data_dir) / SECRETS_FILE
    current = _read_secrets(Path(data_dir))
    changed = False
    for (section, key), make in SECRETS.items():
        if not current.get(section, {}).get(key):
            current.setdefault(section, {})[key] = make()
            changed = True
    if changed:
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(current, fh, indent=1)
        os.replace(tmp, path)
    return path


def default_settings_text() -> str:
    """A commented settings file listing every key with its help text."""
    lines = [
        "# sabaq settings. Uncomment a key to change it; `sabaq config show` prints",
        "# the effective values. Secrets are generated into secrets.json.",
    ]
    for cls in SECTIONS:
        lines.append(f"\n[{cls.section}]")
        defaults = cls()  # a default may depend on the machine (the number of cores)
        for key, trait in sorted(cls.class_traits(config=True).items()):
            if trait.metadata.get("secret"):
                continue
            lines.append(f"# {trait.help}")
            lines.append(f"# {key} = {_toml_value(getattr(defaults, key))}")
    return "\n".join(lines) + "\n"


def _toml_value(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


def _merge(into: dict, other: dict) -> None:
    for section, table in other.items():
        if not isinstance(table, dict):
            raise SettingsError(N_("Setting {key} must sit inside a [section]; known sections: {known}"),
                                key=repr(section), known=", ".join(f"[{s}]" for s in _by_section()))
        into.setdefault(section, {}).update(table)


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise SettingsError(N_("Settings file {path} does not exist."), path=path) from None
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(N_("Settings file {path} is not valid TOML: {error}"), path=path, error=e) from None


def _read_secrets(data_dir: Path) -> dict:
    path = data_dir / SECRETS_FILE
    try:
        with open(path) as fh:
            return json.load(fh)
    except FileNotFoundError:
        return {}
    except PermissionError:
        return {}


def _from_environment(trait, raw: str):
    """A setting's value from an environment variable: a list or table is JSON (a list of
    text may also be comma-separated: "olympiad, physics"); anything else as traitlets
    reads it. (traitlets' own List.from_string failed on any element.)"""
    if isinstance(trait, (List, Dict)):
        try:
            return json.loads(raw)
        except ValueError:
            if isinstance(trait, List) and isinstance(trait._trait, Unicode) and not raw.lstrip().startswith("["):
                return [item.strip() for item in raw.split(",") if item.strip()]
            raise
    return trait.from_string(raw)


def _read_environ(environ) -> dict:
    """SABAQ_<SECTION>_<KEY>=value, parsed by the key's type."""
    out: dict[str, dict] = {}
    for cls in SECTIONS:
        for key, trait in cls.class_traits(config=True).items():
            name = f"SABAQ_{cls.section}_{key}".upper()
            if name in environ:
                raw = environ[name]
                try:
                    value = _from_environment(trait, raw)
                except (TraitError, ValueError):
                    raise SettingsError(N_("Invalid setting {name}={value}: allowed values are {allowed}."),
                                        name=name, value=repr(raw), allowed=_allowed(trait)) from None
                out.setdefault(cls.section, {})[key] = value
    return out
