"""The hub's commands: run the platform, and manage courses, people and content
on the database directly (as the administrator of the machine); the hub picks up
membership changes at the service's next sync."""

from __future__ import annotations

import argparse

import contextlib
import getpass
import logging
import os
import sys
from pathlib import Path

from sabaq.cli.common import lang, say, server_env, settings_of
from sabaq.i18n import LANGUAGES, N_, translator
from sabaq.settings import Settings


@contextlib.contextmanager
def open_db(settings: Settings):
    from sabaq.hub.store.database import make_engine, make_sessionmaker, session_scope, upgrade

    Path(settings.data_dir).mkdir(mode=0o700, parents=True, exist_ok=True)  # a new site's SQLite lives here
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as db:
            yield db
    finally:
        engine.dispose()


def up(args) -> int:
    from sabaq.hub.jupyterhub.launcher import up as launch

    return launch(settings_of(args))


def status(args) -> int:
    from sabaq.hub.jupyterhub.status import report

    lines, all_up = report(settings_of(args))
    print("\n".join(lines))
    return 0 if all_up else 1


def install_service(args) -> int:
    from sabaq.hub.jupyterhub.systemd import unit_text

    text = unit_text(settings_of(args))
    if args.output == "-":
        print(text, end="")
        return 0
    Path(args.output).write_text(text, encoding="utf-8")
    say(N_("wrote {path}; start sabaq with it now and at every boot: "
           "systemctl daemon-reload && systemctl enable --now {unit}"), path=args.output, unit=Path(args.output).name)
    return 0


# Seconds an idle keep-alive connection to the service stays open. configurable-http-proxy keeps
# its idle connections to the service without a limit and reuses them; uvicorn's default (5 s)
# closed them under it, and a request the proxy sent on one just as it closed failed ("socket
# hang up", a 503 for the student: one of Notebook 7's chunks from the shared address, so the
# lesson never opened). Tornado, behind the same proxy (hub, servers), keeps them an hour.
KEEP_ALIVE_SECONDS = 3600


def service(args) -> int:
    import uvicorn

    settings = settings_of(args)
    processes = service_processes(settings)
    options = {"host": settings.service.ip, "port": settings.service.port, "log_level": "info",
               "proxy_headers": True, "forwarded_allow_ips": "127.0.0.1",
               "timeout_keep_alive": KEEP_ALIVE_SECONDS}
    if processes == 1:
        uvicorn.run(service_app(settings), **options)
        return 0
    # uvicorn's workers: processes of their own that load the app by name, with the settings this
    # one read (the same data folder and settings file, through the environment they inherit)
    os.environ["SABAQ_DATA"] = settings.data_dir
    if settings.config_file:
        os.environ["SABAQ_CONFIG"] = settings.config_file
    uvicorn.run("sabaq.hub.cli:service_app", factory=True, workers=processes, **options)
    return 0


def service_processes(settings: Settings) -> int:
    """[service] processes (0: two, one on a single core). One, whatever it says, without a cookie
    secret: each process would sign sessions with a key of its own, and a login would hold only
    where it was made."""
    wanted = settings.service.processes or min(2, usable_cores())
    if wanted > 1 and not settings.service.cookie_secret:
        logging.getLogger("sabaq.service").warning(
            "[service] processes = %d needs [service] cookie_secret; running one process", wanted)
        return 1
    return wanted


def usable_cores(cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """The machine's cores, or fewer where a cgroup limits the CPU (a pod's limit: the node's
    cores are what os.cpu_count says there)."""
    cores = os.cpu_count() or 1
    with contextlib.suppress(OSError, ValueError):
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, -(-int(quota) // int(period))))
    return cores


# A thread that holds SQLite's write turn gives up the GIL at every query and must get it back
# from whichever thread is busy (a download being zipped, an upload being parsed): by default
# after up to 5 ms each time, so a submission's twenty statements held the turn for 100 ms
# while the crowd behind it waited. Handing the GIL over sooner keeps the turn short.
SWITCH_SECONDS = 0.0005


def service_app(settings: Settings | None = None):
    """The service's app, for uvicorn; in a worker process its settings come from the environment."""
    from sabaq.hub.service.app import create_app

    sys.setswitchinterval(SWITCH_SECONDS)
    logging.getLogger("uvicorn.access").addFilter(_QuietPolls())
    return create_app(settings or Settings.load())


class _QuietPolls(logging.Filter):
    """Idle workers ask for jobs every second: keep their answered polls out of the log (a claimed
    job is logged by the worker that runs it); a refused or failed poll stays."""

    def filter(self, record):
        message = record.getMessage()
        return not ("/worker/claim" in message and (" 200" in message or " 204" in message))


def db_upgrade(args) -> int:
    from sabaq.hub.store.database import upgrade

    upgrade(settings_of(args).database_url)
    say(N_("database is up to date"))
    return 0


def release(args) -> int:
    from sabaq.hub.domain import assignments, authoring, courses
    from sabaq.hub.domain.dates import parse_when

    settings = settings_of(args)
    source = Path(args.dir)
    name = args.name or source.name
    with open_db(settings) as db:
        course = courses.get_course(db, args.course)
        release = authoring.generate_release(source, name, course.slug)
        tz = settings.general.timezone
        a = assignments.release(
            db, course, name, release, authoring.source_files(source),
            due_at=parse_when(args.due, tz), closes_at=parse_when(args.closes, tz), title=args.title,
        )
        files = len([f for f in a.files if f.kind.value == "release"])
        if a.due_at:
            say(N_("released {course}/{name} (version {version}): {files} files for students, due {due}"),
                course=course.slug, name=a.name, version=a.version, files=files, due=a.due_at.isoformat())
        else:
            say(N_("released {course}/{name} (version {version}): {files} files for students"),
                course=course.slug, name=a.name, version=a.version, files=files)
    return 0


def roster_import(args) -> int:
    from sabaq.hub.domain import courses, rosters

    settings = settings_of(args)
    data = Path(args.file).read_bytes()
    with open_db(settings) as db:
        course = courses.get_course(db, args.course)
        report = rosters.import_roster(db, course, data, settings.auth.min_password_length, by=None)  # the machine's admin
        body = report.as_dict(translator(lang()))
        for w in body["warnings"]:
            say(N_("warning: {message}"), message=w["message"], file=sys.stderr)
        if not report.ok:
            db.rollback()
            for e in body["errors"]:
                if e["line"]:
                    say(N_("line {line}: {message}"), line=e["line"], message=e["message"], file=sys.stderr)
                else:
                    print(e["message"], file=sys.stderr)
            print(rosters.roster_error(report).translated(lang()), file=sys.stderr)
            return 2
        _ = translator(lang())
        created, updated = _("created"), _("updated")
        for c in body["created"]:
            print(f"{created} {c['login']:<24} {c['password']:<16} {c['role']:<10} {c['full_name']}")
        for u in body["updated"]:
            print(f"{updated} {u['login']:<24} {'':<16} {u['role']:<10} {u['full_name']}")
    return 0


def course_create(args) -> int:
    from sabaq.hub.domain import courses

    with open_db(settings_of(args)) as db:
        c = courses.create_course(db, args.id, args.title or args.id, args.language)
        say(N_("created course {course}"), course=c.slug)
    return 0


def user_add(args) -> int:
    from sabaq.hub.domain import accounts

    settings = settings_of(args)
    password = args.password or accounts.new_password()
    accounts.check_password(password, settings.auth.min_password_length)
    with open_db(settings) as db:
        accounts.create_user(db, args.login, full_name=args.name or "", password=password, is_admin=args.admin)
    say(N_("created {login} with password {password}"), login=args.login, password=password)
    return 0


def user_password(args) -> int:
    from sabaq.hub.domain import accounts

    settings = settings_of(args)
    password = args.password or getpass.getpass("new password: ")
    accounts.check_password(password, settings.auth.min_password_length)
    with open_db(settings) as db:
        accounts.get_user(db, args.login).password_hash = accounts.hash_password(password)
    say(N_("password of {login} changed"), login=args.login)
    return 0


def grade_regrade(args) -> int:
    from sabaq.hub.domain import assignments, courses, grading

    with open_db(settings_of(args)) as db:
        course = courses.get_course(db, args.course)
        count = grading.regrade(db, assignments.get_assignment(db, course, args.assignment))
    say(N_("queued {count} submissions of {course}/{assignment} for grading"), count=count, course=args.course,
        assignment=args.assignment)
    return 0


def _in_a_server(args) -> tuple[str, str] | None:
    """The server's (URL, token) unless a data directory is named: publishing then goes
    through the API as that user (a teacher in JupyterLab)."""
    return None if args.data else server_env()


def _upload(server: tuple[str, str], route: str, folder: Path, data: dict | None = None) -> dict:
    """PUT a folder's files to a service route; the service's message on failure."""
    from sabaq.client import ServiceClient

    files = [(p.relative_to(folder).as_posix(), p.read_bytes())
             for p in sorted(folder.rglob("*")) if p.is_file() and "__pycache__" not in p.parts
             and ".ipynb_checkpoints" not in p.parts]
    with ServiceClient(*server, language=lang(), timeout=600) as client:
        return client.put_files("api/v1/" + route, files, data=data)


def task_publish(args) -> int:
    from sabaq.hub.domain import courses, olympiad

    server = _in_a_server(args)
    if server is not None:
        root = Path(args.path).resolve()
        name = args.name or root.name
        form = {"title": args.title or ""}
        if args.share_interactor is not None:
            form["share_checker"] = "true" if args.share_interactor else "false"
        out = _upload(server, f"courses/{args.course}/tasks/{name}", root, form)
        say(N_("published {course}/{name} (version {version}); students fetch it from the Assignments panel"),
            course=out["course"], name=out["name"], version=out["version"])
        return 0
    with open_db(settings_of(args)) as db:
        course = courses.get_course(db, args.course)
        a = olympiad.publish(db, course, args.path, name=args.name, title=args.title,
                             share_checker=args.share_interactor)
        say(N_("published {course}/{name} (version {version}): {points} points; "
               "students fetch it from the Assignments panel"),
            course=course.slug, name=a.name, version=a.version, points=f"{a.max_score:g}")
    return 0


def lesson_publish(args) -> int:
    from sabaq.hub.domain import courses, lessons
    from sabaq.lessons.meta import lesson_folders

    folders = [f for path in args.path for f in lesson_folders(path)]  # a lesson, or a unit of them
    if not folders:
        say(N_("sabaq: no lesson (a folder with lesson.toml) in {paths}"), paths=" ".join(args.path),
            file=sys.stderr)
        return 2
    server = _in_a_server(args)
    if server is not None:
        for folder in folders:
            out = _upload(server, f"courses/{args.course}/lessons/{Path(folder).name}", Path(folder))
            say(N_("published {course}/{name} (version {version}): {checks} self-checks; "
                   "students get it at their server's next start"),
                course=out["course"], name=out["name"], version=out["version"], checks=len(out["exercises"]))
        return 0
    with open_db(settings_of(args)) as db:
        course = courses.get_course(db, args.course)
        for folder in folders:
            lesson = lessons.publish(db, course, folder)
            say(N_("published {course}/{name} (version {version}): {checks} self-checks; "
                   "students get it at their server's next start"),
                course=course.slug, name=lesson.name, version=lesson.version, checks=len(lesson.exercises))
    return 0


def add_commands(commands) -> None:
    p = commands.command("up", "run hub, proxy, service and workers", up)
    p.add_argument("--port", type=int, help="public port (default 8000)")
    p.add_argument("--host", help="host name, e.g. sabaq.school.kz: every user's server at its own address "
                   "<login>.sabaq.school.kz (needs wildcard DNS and TLS); localhost tries it here ([hub] host)")
    commands.command("status", "what sabaq up runs: each process, its uptime and restarts; the grading queue "
                     "(exit 1 if something is down)", status)
    p = commands.command("install-service", "write a systemd unit that runs sabaq up at boot", install_service)
    p.add_argument("--output", default="/etc/systemd/system/sabaq.service",
                   help="where to write the unit (- prints it)")
    commands.command("service", "run the sabaq service (started by sabaq up)", service)
    commands.action("db", "database", "upgrade", "apply migrations", db_upgrade)

    p = commands.action("course", "courses", "create", "create a course", course_create)
    p.add_argument("id")
    p.add_argument("--title", default="")
    p.add_argument("--language", default="kk", choices=LANGUAGES)

    p = commands.action("assignment", "assignments", "release",
                        "generate the student version of a source folder and release it", release)
    p.add_argument("course")
    p.add_argument("dir", help="nbgrader source assignment folder")
    p.add_argument("--name", help="assignment name (default: the folder's name)")
    p.add_argument("--due", help="due date, e.g. '2026-12-01 18:00' (site time zone)")
    p.add_argument("--closes", help="no submissions after this date")
    p.add_argument("--title", default="")

    p = commands.action("roster", "class lists", "import", "import a CSV class list into a course", roster_import)
    p.add_argument("course")
    p.add_argument("file")

    p = commands.action("user", "accounts", "add", "create an account", user_add)
    p.add_argument("login")
    p.add_argument("--name", default="")
    p.add_argument("--password")
    p.add_argument("--admin", action="store_true")
    p = commands.action("user", "accounts", "password", "set a password", user_password)
    p.add_argument("login")
    p.add_argument("--password")

    p = commands.action("grade", "grading", "regrade",
                        "grade every student's newest submission again (the workers do it)", grade_regrade)
    p.add_argument("course")
    p.add_argument("assignment")

    p = commands.action("task", "olympiad tasks (Kattis problem packages)", "publish",
                        "publish a task to a course (tests are generated if needed)", task_publish)
    p.add_argument("path")
    p.add_argument("--course", required=True)
    p.add_argument("--name", help="assignment name (default: the folder's name)")
    p.add_argument("--title", help="title shown to students (default: the package's name)")
    p.add_argument("--share-interactor", action=argparse.BooleanOptionalAction, default=None,
                   help="give an interactive task's interactor to students to try the samples with (it shows how "
                        "the task is judged); default: the task's setting stays (off at first)")

    p = commands.action("lesson", "interactive lessons", "publish",
                        "publish lessons to a course: lesson folders, or folders of them (a unit)", lesson_publish)
    p.add_argument("course")
    p.add_argument("path", nargs="+")
