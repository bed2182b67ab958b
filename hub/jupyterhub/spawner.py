"""Start each person's JupyterLab as their own unprivileged system account.

JupyterHub's LocalProcessSpawner already drops privileges to a system user;
this subclass creates that user on demand (``sq-<login>``, home 0700), so
students cannot read each other's files or sabaq's data, and writes the
per-user Jupyter configuration: nbgrader's (``sabaq.hub.jupyterhub.serverconfig``:
the exchange plugin, and nbgrader's autograde switched off) for everyone, and
for teachers a course directory with the assignments' sources; and it brings
everyone's published lessons into ~/lessons (``sabaq.lessons.sync``). With ``warm_start``
a server is forked from a process that has already imported JupyterLab
(``sabaq.hub.jupyterhub.warmstart``) instead of started as a new program, and with ``warm_kernels``
its Python kernels from one that has imported ipykernel (``sabaq.hub.jupyterhub.warmkernels``). Starts wait their
turn in one queue (``sabaq.hub.jupyterhub.startqueue``), ``starts_at_once`` at a time, each
student shown her place on the hub's "starting" page.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import pwd
import re
import subprocess
import sys
import time
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner, SpawnException, set_user_setuid
from jupyterhub.utils import maybe_future, random_port
from traitlets import Bool, Float, Integer, Unicode, default

from sabaq.coursefolders import course_folder
from sabaq.hub.jupyterhub.homefiles import HomeFile, encode, write_files
from sabaq.hub.jupyterhub.kernelfork import PROVISIONER, shared_kernel_fork_server
from sabaq.hub.jupyterhub.labsettings import lab_language_args
from sabaq.hub.jupyterhub.lightstart import language_servers_installed, light_start_args
from sabaq.hub.jupyterhub.serverconfig import nbgrader_config
from sabaq.hub.jupyterhub.serverroles import home_files, role_of
from sabaq.hub.jupyterhub.startqueue import StartQueue
from sabaq.hub.jupyterhub.warmstart import IMPORT_TIME_VARIABLES, Spawn, WarmStartUnavailable, shared_fork_server
from sabaq.i18n import N_, translator

_SAFE = re.compile(r"^[a-z][a-z0-9._-]*$")
QUEUE_PLACE = N_("You are number {place} in the queue; about {seconds} s. Keep this page open.")
QUEUE_TURN = N_("Your turn: your server is starting.")
QUEUE_LEFT = N_("You left the queue for servers: this page was closed. Open it again to start your server.")


def closed_route_args() -> list[str]:
    """Command-line settings that keep a server from serving its user's own files without a login.

    JupyterLab serves /lab/extensions/ and /lab/api/themes/ to anyone (no login: the page needs
    them before it has one) from every labextensions folder, ~/.local/share/jupyter/labextensions
    included, which the user writes. Only the environment's and the system's folders stay; they
    are root's. (/files, /view, /kernelspecs, /nbconvert and the APIs ask for a login; /static
    serves only the packages' own files.) On the command line, they outrank the user's config files
    for these settings."""
    from jupyter_core.paths import ENV_JUPYTER_PATH, SYSTEM_JUPYTER_PATH

    folders = dict.fromkeys(os.path.join(p, "labextensions") for p in [*ENV_JUPYTER_PATH, *SYSTEM_JUPYTER_PATH])
    return [f"--LabServerApp.labextensions_path={folder}" for folder in folders]


def system_username(prefix: str, name: str) -> str:
    """sq-<login>; logins that are not valid system names get a stable hash suffix."""
    if _SAFE.match(name) and len(prefix) + len(name) <= 32:
        return prefix + name
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:16] or "user"
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{prefix}{slug}-{digest}"[:32]


def lab_folder_args(home: str) -> list[str]:
    """JupyterLab's user settings and workspaces in the user's own home. JupyterLab works their
    defaults out when it is imported: for a warm start that was in the fork server, as root,
    and a student's layout could not be saved ('/root/.jupyter/lab/workspaces')."""
    lab = os.path.join(home, ".jupyter", "lab")
    return [f"--LabServerApp.user_settings_dir={os.path.join(lab, 'user-settings')}",
            f"--LabServerApp.workspaces_dir={os.path.join(lab, 'workspaces')}"]


class SabaqSpawner(LocalProcessSpawner):
    """LocalProcessSpawner with on-demand system accounts and sabaq's Jupyter setup."""

    isolate = Bool(
        True,
        help="Run each server as its own system user (needs root). False runs every "
        "server as the hub's user: only for development, students can read each other's files.",
    ).tag(config=True)
    home_root = Unicode("/home", help="Where the system users' homes are created.").tag(config=True)
    user_prefix = Unicode("sq-", help="Prefix of system account names.").tag(config=True)
    service_url = Unicode(help="URL of the sabaq service, given to the exchange plugin.").tag(config=True)
    sabaq_db_url = Unicode(
        help="sabaq's database: teachers' assignment sources and each user's language."
    ).tag(config=True)
    default_language = Unicode("kk", help="Language when the user and their courses name none.").tag(
        config=True
    )
    warm_start = Bool(
        True,
        help="Fork each server from a process that has already imported JupyterLab (a start costs "
        "milliseconds of CPU instead of seconds of imports: a class can log in at once). The server "
        "runs as the same user, in the same home, with the same environment and no other descriptor "
        "than a cold start's. False starts each server as a new program, as JupyterHub does.",
    ).tag(config=True)
    warm_kernels = Bool(
        True,
        help="Start students' Python kernels (the stock python3 kernel) from the hub's kernel fork server, "
        "which has already imported ipykernel, IPython, numpy and ipywidgets (sabaq.hub.jupyterhub."
        "kernelfork): a lesson's kernel answers in a fraction of a second. Each kernel runs as its server's "
        "user, with the environment and descriptors a cold one gets; another kernel, or a fork server "
        "that does not answer, starts cold. False starts every kernel as a new program.",
    ).tag(config=True)
    kernel_fork_socket = Unicode(
        "",
        help="The unix socket of the hub's kernel fork server, set by sabaq's hub configuration when it "
        "starts one. Empty: kernels start cold.",
    ).tag(config=True)

    starts_at_once = Integer(
        help="Servers the machine starts at once; more students wait in a queue, in the order they "
        "came, each shown her place and the time it should take. Default: two per CPU core.",
    ).tag(config=True)
    queue_page_grace = Float(
        30.0,
        help="Seconds a queued student's 'starting' page may stay closed (a reload, a lost connection) "
        "before she leaves the queue. A start asked for without that page (the API) keeps its place.",
    ).tag(config=True)
    queue_page_refresh = Float(
        15.0,
        help="Seconds between two messages to a queued student whose place has not changed (the hub "
        "notices a closed page only when it writes to it).",
    ).tag(config=True)

    _start_queue: StartQueue | None = None  # one per hub, shared by every spawner

    @default("starts_at_once")
    def _two_per_core(self) -> int:
        return 2 * (os.cpu_count() or 1)

    def start_queue(self) -> StartQueue:
        if SabaqSpawner._start_queue is None:
            SabaqSpawner._start_queue = StartQueue(self.starts_at_once)
        return SabaqSpawner._start_queue

    @property
    def system_username(self) -> str:
        return system_username(self.user_prefix, self.user.name)

    @property
    def staff_courses(self) -> list[str]:
        return sorted(
            g.name[len("formgrade-"):] for g in self.user.groups if g.name.startswith("formgrade-")
        )

    # --- accounts and homes ----------------------------------------------

    def _ensure_system_user(self) -> pwd.struct_passwd:
        name = self.system_username
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
        Path(self.home_root).mkdir(mode=0o755, parents=True, exist_ok=True)
        home = os.path.join(self.home_root, name)
        cmd = ["useradd", "--create-home", "--home-dir", home, "--shell", "/bin/bash",
               "--user-group", "--comment", f"sabaq user {self.user.name}", name]
        for attempt in range(20):
            proc = subprocess.run(cmd, capture_output=True, text=True)
            # /etc/passwd is locked while another program (another hub, a grader) adds a user
            if proc.returncode in (0, 9) or "lock" not in proc.stderr:  # 9: created meanwhile by another start
                break
            time.sleep(0.1 + 0.05 * attempt)
        if proc.returncode not in (0, 9):
            raise RuntimeError(f"could not create system user {name}: {proc.stderr.strip()}")
        return pwd.getpwnam(name)

    def _home(self) -> tuple[str, int | None, int | None]:
        if not self.isolate:
            home = os.path.join(self.home_root, self.user.name)
            os.makedirs(home, mode=0o700, exist_ok=True)
            return home, None, None
        pw = self._ensure_system_user()
        os.makedirs(pw.pw_dir, exist_ok=True)
        os.chown(pw.pw_dir, pw.pw_uid, pw.pw_gid)
        os.chmod(pw.pw_dir, 0o700)
        return pw.pw_dir, pw.pw_uid, pw.pw_gid

    def _write_home(self, home: str, files: list[HomeFile], uid, gid) -> None:
        """Write files into a home as its owner (a process of their uid and gid, no other
        group), so a link they plant, or swap in while this runs, leads only where they
        could write anyway; each file also goes through folder descriptors that follow no
        link (``sabaq.hub.jupyterhub.homefiles``). Links are left alone, with a warning."""
        if uid is None or os.geteuid() != 0:  # the hub's own account, writing in its own folders
            write_files(home, files, lambda path, e: self.log.warning("not writing %s in %s: %s", path, home, e))
            return
        proc = subprocess.run(
            [sys.executable, "-I", "-m", "sabaq.hub.jupyterhub.homefiles", home], input=encode(files),
            capture_output=True, cwd="/", timeout=120, check=False, user=uid, group=gid, extra_groups=[],
            umask=0o022, env={"PATH": os.environ.get("PATH", ""), "HOME": home, "LANG": "C.UTF-8"},
        )
        for line in proc.stderr.decode(errors="replace").splitlines()[-20:]:
            self.log.warning("%s's home: %s", self.user.name, line)
        if proc.returncode != 0:
            self.log.warning("the files of %s's home were not all written (exit code %s)", self.user.name,
                             proc.returncode)

    def _prepare_home(self) -> str:
        home, uid, gid = self._home()
        self._home_dir = home
        files: list[HomeFile] = []
        staff = self.staff_courses
        courses = {slug: self._course_of(slug) for slug in staff}
        # the formgrader JupyterLab's menu opens: the first course, in its time zone
        config = nbgrader_config(staff[0], os.path.join(home, staff[0]), courses[staff[0]][0]) if staff \
            else nbgrader_config()
        for slug, (time_zone, sources) in courses.items():  # the same folders a pod's `sabaq course pull` writes
            files += course_folder(slug, time_zone, sources)
        files += home_files(role_of(bool(staff)))  # the server extensions and JupyterLab plugins of her role
        files.append((".jupyter/nbgrader_config.py", config.encode(), True))
        self._write_home(home, files, uid, gid)
        self._deliver_lessons(home, uid, gid)
        return home

    def _deliver_lessons(self, home: str, uid, gid) -> None:
        """Merge the person's published lessons into ~/lessons, as the person (their edits win)."""
        from sabaq.archive import pack
        from sabaq.hub.domain.lessons import bundle_for

        def read(db):
            from sabaq.hub.domain.accounts import find_user

            user = find_user(db, self.user.name)
            return bundle_for(db, user) if user is not None else {}

        bundle = self._read_sabaq(read)
        if not bundle:
            return
        proc = subprocess.run(
            [sys.executable, "-m", "sabaq.lessons.sync", os.path.join(home, "lessons")],
            input=pack(bundle), capture_output=True, cwd=home, timeout=120,
            preexec_fn=set_user_setuid(self.system_username) if uid is not None else None,
            env={"PATH": os.environ.get("PATH", ""), "HOME": home, "LANG": "C.UTF-8"},
        )
        if proc.returncode != 0:
            self.log.warning("lessons of %s not delivered: %s", self.user.name,
                             proc.stderr.decode(errors="replace")[-500:])

    def _read_sabaq(self, read):
        """Run read(db) on sabaq's database; None when it is not configured."""
        if not self.sabaq_db_url:
            return None
        from sabaq.hub.store.database import make_engine, make_sessionmaker, session_scope

        engine = make_engine(self.sabaq_db_url)
        try:
            with session_scope(make_sessionmaker(engine)) as db:
                return read(db)
        finally:
            engine.dispose()

    def _course_of(self, slug: str) -> tuple[str, dict[str, bytes]]:
        """A course's time zone and {assignment/path: content} of its sources, for its
        teachers; ("", {}) when sabaq's database is not configured."""
        from sqlalchemy import select

        from sabaq.hub.domain.assignments import files_of
        from sabaq.hub.store.models import Assignment, Course, FileKind

        def read(db):
            course = db.scalar(select(Course).where(Course.slug == slug))
            if course is None:
                return "", {}
            sources = {}
            for a in db.scalars(select(Assignment).where(Assignment.course_id == course.id)):
                for rel, content in files_of(db, a, FileKind.source).items():
                    sources[f"{a.name}/{rel}"] = content
            return course.timezone, sources

        return self._read_sabaq(read) or ("", {})

    def _language(self) -> str:
        """The user's chosen language, else their first course's, else the site's."""
        from sabaq.hub.domain.accounts import find_user
        from sabaq.hub.domain.courses import language_of

        def read(db):
            user = find_user(db, self.user.name)
            return language_of(db, user) if user is not None else None

        return self._read_sabaq(read) or self.default_language

    # --- the start queue ------------------------------------------------

    async def run_pre_spawn_hook(self):
        """The policy first (a parent waits in no line), then the student's turn in the start queue.

        The hub counts start_timeout from start(), which comes after this: the time in line is
        not counted, nor is it when the start is cancelled or the student leaves the line."""
        await maybe_future(super().run_pre_spawn_hook())
        self._lang = await asyncio.to_thread(self._language)
        queue = self.start_queue()
        await queue.turn(self)
        finished = getattr(self, "_spawn_future", None)
        if finished is not None:  # the hub's whole start: the server answered, or the start failed
            finished.add_done_callback(lambda _: queue.release(self))

    async def progress(self):
        """The student's place in the queue while she waits, then her turn (in her language)."""
        queue = self.start_queue()
        self._page_opened()
        try:
            shown = 0
            while not queue.holds(self):
                change = queue.change_event()
                place = queue.place(self)
                if place and place != shown:
                    message = self._say(QUEUE_PLACE).format(place=place, seconds=queue.estimate(place))
                    yield {"progress": 10, "message": message}
                    shown = place
                try:
                    await asyncio.wait_for(change.wait(), self.queue_page_refresh)
                except asyncio.TimeoutError:  # said again: a fresh estimate, and a closed page is noticed
                    shown = 0
            yield {"progress": 50, "message": self._say(QUEUE_TURN)}
        finally:
            self._page_closed()

    def _say(self, message: str) -> str:
        """A message in the student's language (read as her start began)."""
        return translator(getattr(self, "_lang", None) or self.default_language)(message)

    def _page_opened(self) -> None:
        self._pages = getattr(self, "_pages", 0) + 1
        if (timer := getattr(self, "_leave_timer", None)) is not None:
            timer.cancel()
            self._leave_timer = None

    def _page_closed(self) -> None:
        self._pages -= 1
        if self._pages == 0 and self.start_queue().place(self):
            self._leave_timer = asyncio.get_running_loop().call_later(self.queue_page_grace, self._leave_if_gone)

    def _leave_if_gone(self) -> None:
        self._leave_timer = None
        if self._pages == 0:
            left = SpawnException(self._say(QUEUE_LEFT), reason="left-queue",
                                  log_message=f"{self.user.name} left the start queue: the page was closed")
            left.jupyterhub_message = left.message  # what the hub's pages show
            self.start_queue().leave(self, left)

    async def stop(self, now=False):
        self.start_queue().release(self)  # a start stopped before its server answered
        return await super().stop(now=now)

    # --- LocalProcessSpawner hooks ---------------------------------------

    async def start(self):
        self._home_dir = await asyncio.to_thread(self._prepare_home)
        await asyncio.to_thread(language_servers_installed)  # searched once, off the hub's loop
        if not getattr(self, "_lang", None):
            self._lang = await asyncio.to_thread(self._language)
        if not self.isolate and os.getuid() == 0 and "--allow-root" not in self.args:
            self.args = [*self.args, "--allow-root"]
        if self.warm_kernels and self.kernel_fork_socket and not (kernels := shared_kernel_fork_server()).running():
            kernels.start_in_background()  # it died: her kernels start cold meanwhile
        if self.warm_start and self._can_start_warm(self.get_env()):
            try:
                return await self._start_warm()
            except WarmStartUnavailable as e:
                self.log.warning("%s's server starts cold: %s", self.user.name, e)
        return await super().start()

    def _can_start_warm(self, env: dict[str, str]) -> bool:
        """The fork server runs jupyterhub-singleuser's main, as it was imported: another command,
        a shell around it, or a mode chosen by the environment at import time starts cold."""
        return (not self.shell_cmd and len(self.cmd) == 1
                and os.path.basename(self.cmd[0]) == "jupyterhub-singleuser"
                and not any(env.get(name) for name in IMPORT_TIME_VARIABLES))

    def _warm_request(self, argv: list[str], env: dict[str, str]) -> Spawn:
        """What the cold start's preexec function (set_user_setuid) and Popen would do."""
        if not self.isolate:
            return Spawn(argv=argv, env=env, cwd=self._home_dir)
        pw = pwd.getpwnam(self.system_username)
        groups = os.getgrouplist(pw.pw_name, pw.pw_gid)
        return Spawn(argv=argv, env=env, cwd=pw.pw_dir, uid=pw.pw_uid, gid=pw.pw_gid, groups=groups)

    async def _start_warm(self):
        if self.port == 0:
            self.port = random_port()
        argv = [*self.cmd, *self.get_args()]
        request = self._warm_request(argv, self.get_env())
        self.log.info("Spawning %s (warm start)", " ".join(argv))
        self.proc = None
        self.pid = await asyncio.to_thread(shared_fork_server().spawn, request)
        return (self.ip or "127.0.0.1", self.port)

    def get_args(self):
        home = self._users_home()
        return [*super().get_args(), *closed_route_args(), *light_start_args(),
                *lab_language_args(getattr(self, "_lang", self.default_language)),
                *(lab_folder_args(home) if home else []), *self._kernel_args()]

    def _kernel_args(self) -> list[str]:
        """The server's kernels through sabaq's provisioner: the stock python3 one forked warm."""
        if not (self.warm_kernels and self.kernel_fork_socket):
            return []
        return [f"--KernelProvisionerFactory.default_provisioner_name={PROVISIONER}",
                f"--WarmKernelProvisioner.fork_server_socket={self.kernel_fork_socket}"]

    def _users_home(self) -> str | None:
        """The home her server runs in (None before a user is known)."""
        if self.user is None:
            return None
        return pwd.getpwnam(self.system_username).pw_dir if self.isolate else getattr(self, "_home_dir", None)

    def make_preexec_fn(self, name):
        if not self.isolate:
            home = self._home_dir

            def preexec():
                os.chdir(home)

            return preexec
        return set_user_setuid(self.system_username)

    def user_env(self, env):
        if not self.isolate:
            env["USER"] = self.user.name
            env["HOME"] = self._home_dir
            return env
        pw = pwd.getpwnam(self.system_username)
        env["USER"] = pw.pw_name
        env["HOME"] = pw.pw_dir
        env["SHELL"] = pw.pw_shell
        return env

    def get_env(self):
        env = super().get_env()
        env["SABAQ_SERVICE_URL"] = self.service_url
        env["SABAQ_USER"] = self.user.name
        env["SABAQ_LANG"] = getattr(self, "_lang", self.default_language)
        return env
