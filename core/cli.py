"""The `sabaq` command: run the platform and manage it from the shell.

Management commands work on the database directly (as the administrator of
the machine); the hub picks up membership changes at the service's next sync.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import logging
import os
import sys
from pathlib import Path

from sabaq.i18n import LANGUAGES, N_, environment_language, terminal_text, translator
from sabaq.settings import Settings


def _lang() -> str:
    return environment_language()


def _say(message: str, *, file=None, **params) -> None:
    """Print a message (an N_() msgid) in the reader's language: $SABAQ_LANG, else $LANG."""
    print(terminal_text(message, **params), file=file)


def _at_least_one(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(terminal_text(N_("{value} is not a whole number of at least 1"), value=text))
    return value


def _settings(args) -> Settings:
    environ = dict(os.environ)
    if getattr(args, "port", None):
        environ["SABAQ_HUB_PORT"] = str(args.port)
        os.environ["SABAQ_HUB_PORT"] = str(args.port)  # children read the same value
    return Settings.load(data_dir=args.data, config_file=args.config, environ=environ)


@contextlib.contextmanager
def _db(settings: Settings):
    from sabaq.hub.database import make_engine, make_sessionmaker, session_scope, upgrade

    Path(settings.data_dir).mkdir(mode=0o700, parents=True, exist_ok=True)  # a new site's SQLite lives here
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as db:
            yield db
    finally:
        engine.dispose()


def cmd_up(args) -> int:
    from sabaq.hub.launcher import up

    return up(_settings(args))


def cmd_config_show(args) -> int:
    print(_settings(args).to_toml(mask_secrets=True), end="")
    return 0


def cmd_service(args) -> int:
    import uvicorn

    from sabaq.hub.service.app import create_app

    settings = _settings(args)
    app = create_app(settings)
    logging.getLogger("uvicorn.access").addFilter(_QuietPolls())
    uvicorn.run(app, host=settings.service.ip, port=settings.service.port, log_level="info",
                proxy_headers=True, forwarded_allow_ips="127.0.0.1")
    return 0


class _QuietPolls(logging.Filter):
    """Idle workers ask for jobs every second; keep those out of the log."""

    def filter(self, record):
        return not ("/worker/claim" in record.getMessage() and " 204" in record.getMessage())


def cmd_worker(args) -> int:
    from sabaq.autograders.worker import main as worker_main

    worker_main(_settings(args))
    return 0


def cmd_db_upgrade(args) -> int:
    from sabaq.hub.database import upgrade

    upgrade(_settings(args).database_url)
    _say(N_("database is up to date"))
    return 0


def cmd_release(args) -> int:
    from sabaq.hub import assignments, authoring, courses
    from sabaq.hub.dates import parse_when

    settings = _settings(args)
    source = Path(args.dir)
    name = args.name or source.name
    with _db(settings) as db:
        course = courses.get_course(db, args.course)
        release = authoring.generate_release(source, name, course.slug)
        tz = settings.general.timezone
        a = assignments.release(
            db, course, name, release, authoring.source_files(source),
            due_at=parse_when(args.due, tz), closes_at=parse_when(args.closes, tz), title=args.title,
        )
        files = len([f for f in a.files if f.kind.value == "release"])
        if a.due_at:
            _say(N_("released {course}/{name} (version {version}): {files} files for students, due {due}"),
                 course=course.slug, name=a.name, version=a.version, files=files, due=a.due_at.isoformat())
        else:
            _say(N_("released {course}/{name} (version {version}): {files} files for students"),
                 course=course.slug, name=a.name, version=a.version, files=files)
    return 0


def cmd_roster_import(args) -> int:
    from sabaq.hub import courses, rosters

    settings = _settings(args)
    data = Path(args.file).read_bytes()
    with _db(settings) as db:
        course = courses.get_course(db, args.course)
        report = rosters.import_roster(db, course, data, settings.auth.min_password_length)
        body = report.as_dict(translator(_lang()))
        for w in body["warnings"]:
            _say(N_("warning: {message}"), message=w["message"], file=sys.stderr)
        if not report.ok:
            db.rollback()
            for e in body["errors"]:
                if e["line"]:
                    _say(N_("line {line}: {message}"), line=e["line"], message=e["message"], file=sys.stderr)
                else:
                    print(e["message"], file=sys.stderr)
            print(rosters.roster_error(report).translated(_lang()), file=sys.stderr)
            return 2
        _ = translator(_lang())
        created, updated = _("created"), _("updated")
        for c in body["created"]:
            print(f"{created} {c['login']:<24} {c['password']:<16} {c['role']:<10} {c['full_name']}")
        for u in body["updated"]:
            print(f"{updated} {u['login']:<24} {'':<16} {u['role']:<10} {u['full_name']}")
    return 0


def cmd_course_create(args) -> int:
    from sabaq.hub import courses

    with _db(_settings(args)) as db:
        c = courses.create_course(db, args.id, args.title or args.id, args.language)
        _say(N_("created course {course}"), course=c.slug)
    return 0


def cmd_user_add(args) -> int:
    from sabaq.hub import accounts

    settings = _settings(args)
    password = args.password or accounts.new_password()
    accounts.check_password(password, settings.auth.min_password_length)
    with _db(settings) as db:
        accounts.create_user(db, args.login, full_name=args.name or "", password=password, is_admin=args.admin)
    _say(N_("created {login} with password {password}"), login=args.login, password=password)
    return 0


def cmd_user_password(args) -> int:
    from sabaq.hub import accounts

    settings = _settings(args)
    password = args.password or getpass.getpass("new password: ")
    accounts.check_password(password, settings.auth.min_password_length)
    with _db(settings) as db:
        accounts.get_user(db, args.login).password_hash = accounts.hash_password(password)
    _say(N_("password of {login} changed"), login=args.login)
    return 0


def cmd_grade_batch(args) -> int:
    """A sandbox that cannot start or a course that cannot be graded is a SabaqError: main()
    prints it in the reader's language."""
    from sabaq.autograders.executor import Executor

    settings = _settings(args)
    lang = _lang()
    # the sandbox imports the scientific stack while this process imports nbgrader
    executor = Executor(settings.grading, parallel=args.workers).launch()
    from sabaq.autograders.batch import grade_course, write_csv
    from sabaq.autograders.engine import reason_text

    summary = grade_course(args.course, args.assignment, settings.grading, workers=args.workers,
                           force=not args.keep, language=lang, executor=executor)
    write_csv(summary["rows"], Path(args.out))
    _ = translator(lang)
    for student, notebook, status, reason in summary["failures"]:
        print(f"{student}/{notebook}: {reason_text(reason or status, lang)}", file=sys.stderr)
    print(_("Graded {notebooks} notebooks; {scores} scores written to {out}.").format(
        notebooks=summary["notebooks"], scores=len(summary["rows"]), out=args.out))
    if summary["error"]:
        print(f"sabaq: {summary['error']}", file=sys.stderr)
    return _leave(args, 1 if summary["error"] else 0)


def _leave(args, code: int) -> int:
    """From the command line, leave at once: all is written, and Python's teardown of
    nbgrader's modules would take another 0.2 s of a grading run. In-process callers
    (main(argv)) get the code back."""
    if getattr(args, "command_line", False):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def cmd_grade_regrade(args) -> int:
    from sabaq.hub import assignments, courses, grading

    with _db(_settings(args)) as db:
        course = courses.get_course(db, args.course)
        count = grading.regrade(db, assignments.get_assignment(db, course, args.assignment))
    _say(N_("queued {count} submissions of {course}/{assignment} for grading"), count=count, course=args.course,
         assignment=args.assignment)
    return 0


def cmd_bench_grading(args) -> int:
    from sabaq.autograders.bench import bench_grading

    settings_args = [f"--{name}={getattr(args, name)}" for name in ("data", "config") if getattr(args, name)]
    result = bench_grading(settings_args, copies=args.copies, workers=args.workers, keep=args.keep,
                           repeats=args.repeats)
    return 0 if result["scores_equal"] else 1


def _running_sabaq(args) -> tuple[str, str] | None:
    """The address of a running sabaq and its administrator's password, for commands that drive it."""
    from sabaq.hub.rehearsal import admin_password

    settings = _settings(args)
    password = args.admin_password or admin_password(settings.data_dir)
    if not password:
        _say(N_("sabaq: the administrator's password is needed: --admin-password, or the demo logins in {folder}"),
             folder=settings.data_dir, file=sys.stderr)
        return None
    return args.url or settings.public_url, password


def cmd_bench_service(args) -> int:
    from sabaq.autograders.bench_service import bench_service

    target = _running_sabaq(args)
    if target is None:
        return 2
    result = bench_service(*target, copies=args.copies, timeout=args.timeout, keep=args.keep)
    return 0 if result["scores_equal"] else 1


def cmd_demo_class(args) -> int:
    from sabaq.hub.rehearsal import Rehearsal

    target = _running_sabaq(args)
    if target is None:
        return 2
    url, password = target
    try:
        return Rehearsal(url, password).run(args.students, timeout=args.timeout)
    except Exception as e:  # noqa: BLE001 - a rehearsal reports what broke and fails
        _say(N_("sabaq: the rehearsal failed: {error}"), error=e, file=sys.stderr)
        return 1


def cmd_bench_gradebook(args) -> int:
    from sabaq.hub.benchmarks import bench_gradebook

    bench_gradebook(args.students, args.assignments, args.postgres)
    return 0


def cmd_task_new(args) -> int:
    from sabaq.autograders.tasks.scaffold import new

    root = new(args.name, args.parent)
    _say(N_("created {folder}: write the statements, the generator, the validator and solutions, then "
            "`sabaq task generate {folder}` and `sabaq task verify {folder}`"), folder=root)
    return 0


def cmd_task_generate(args) -> int:
    from sabaq.autograders.tasks.scaffold import generate

    generate(args.path)
    return 0


def cmd_task_verify(args) -> int:
    from sabaq.autograders.tasks.package import load
    from sabaq.autograders.tasks.verify import verify

    return 0 if verify(load(args.path)).ok else 1


def cmd_task_judge(args) -> int:
    from sabaq.autograders.tasks.judge import Judge
    from sabaq.autograders.tasks.package import load, program

    package = load(args.path)
    submission = program(Path(args.submission))
    if submission is None:
        _say(N_("sabaq: {program} is not a Python or C++ program"), program=args.submission, file=sys.stderr)
        return 2
    with Judge(package) as judge:
        result = judge.judge(submission)
    for g in result.groups:
        where = f"  first failure: {g.first_failure}" if g.first_failure else ""
        print(f"{g.name:<20} {g.verdict:<4} {g.points:g}/{g.max_points:g}  {g.time:.2f}s{where}")
    if result.compile_message:
        print(result.compile_message)
    _say(N_("verdict {verdict}, score {score} of {max_score}"), verdict=result.verdict, score=f"{result.score:g}",
         max_score=f"{result.max_score:g}")
    return 0 if result.verdict == "AC" else 1


def _server_env() -> tuple[str, str] | None:
    """(service URL, hub token) when this runs in a sabaq user's server."""
    service, token = os.environ.get("SABAQ_SERVICE_URL"), os.environ.get("JUPYTERHUB_API_TOKEN")
    return (service, token) if service and token else None


def _in_a_server(args) -> tuple[str, str] | None:
    """The server's (URL, token) unless a data directory is named: publishing then goes
    through the API as that user (a teacher in JupyterLab)."""
    return None if args.data else _server_env()


def _upload(server: tuple[str, str], route: str, folder: Path, data: dict | None = None) -> dict:
    """PUT a folder's files to a service route; the service's message on failure."""
    import httpx

    from sabaq.errors import SabaqError

    service, token = server
    files = [("files", (p.relative_to(folder).as_posix(), p.read_bytes(), "application/octet-stream"))
             for p in sorted(folder.rglob("*")) if p.is_file() and "__pycache__" not in p.parts
             and ".ipynb_checkpoints" not in p.parts]
    r = httpx.put(service.rstrip("/") + "/api/v1/" + route, files=files, data=data or {},
                  headers={"Authorization": f"token {token}", "Accept-Language": _lang()}, timeout=600)
    if r.status_code != 200:
        message = r.json().get("message") if r.headers.get("content-type", "").startswith("application/json") else ""
        raise SabaqError("{reason}", reason=message or f"HTTP {r.status_code}")
    return r.json()


def cmd_task_publish(args) -> int:
    from sabaq.hub import courses, tasks

    server = _in_a_server(args)
    if server is not None:
        root = Path(args.path).resolve()
        name = args.name or root.name
        out = _upload(server, f"courses/{args.course}/tasks/{name}", root, {"title": args.title or ""})
        _say(N_("published {course}/{name} (version {version}); students fetch it from the Assignments panel"),
             course=out["course"], name=out["name"], version=out["version"])
        return 0
    with _db(_settings(args)) as db:
        course = courses.get_course(db, args.course)
        a = tasks.publish(db, course, args.path, name=args.name, title=args.title)
        _say(N_("published {course}/{name} (version {version}): {points} points; "
                "students fetch it from the Assignments panel"),
             course=course.slug, name=a.name, version=a.version, points=f"{a.max_score:g}")
    return 0


def cmd_lesson_publish(args) -> int:
    from sabaq.hub import courses, lessons
    from sabaq.lessons.meta import lesson_folders

    folders = [f for path in args.path for f in lesson_folders(path)]  # a lesson, or a unit of them
    if not folders:
        _say(N_("sabaq: no lesson (a folder with lesson.toml) in {paths}"), paths=" ".join(args.path),
             file=sys.stderr)
        return 2
    server = _in_a_server(args)
    if server is not None:
        for folder in folders:
            out = _upload(server, f"courses/{args.course}/lessons/{Path(folder).name}", Path(folder))
            _say(N_("published {course}/{name} (version {version}): {checks} self-checks; "
                    "students get it at their server's next start"),
                 course=out["course"], name=out["name"], version=out["version"], checks=len(out["exercises"]))
        return 0
    with _db(_settings(args)) as db:
        course = courses.get_course(db, args.course)
        for folder in folders:
            lesson = lessons.publish(db, course, folder)
            _say(N_("published {course}/{name} (version {version}): {checks} self-checks; "
                    "students get it at their server's next start"),
                 course=course.slug, name=lesson.name, version=lesson.version, checks=len(lesson.exercises))
    return 0


def cmd_lesson_pull(args) -> int:
    from sabaq.lessons.sync import pull

    server = _server_env()
    if server is None:
        _say(N_("sabaq: run this in a terminal of your sabaq server (SABAQ_SERVICE_URL is not set)"), file=sys.stderr)
        return 2
    report = pull(Path(args.root).expanduser(), *server)
    if report.kept:
        _say(N_("{added} new files, {updated} updated; your edits kept in {kept}: {files}"), added=len(report.added),
             updated=len(report.updated), kept=len(report.kept), files=", ".join(report.kept))
    else:
        _say(N_("{added} new files, {updated} updated; your edits kept in {kept}"), added=len(report.added),
             updated=len(report.updated), kept=0)
    return 0


def cmd_i18n_check(args) -> int:
    from sabaq.i18n.tools import problems

    found = [line for lang in ("kk", "ru") for line in problems(lang)]
    print("\n".join(found) if found else "every message is translated into kk and ru")
    return 1 if found else 0


def cmd_i18n_update(args) -> int:
    from sabaq.i18n.tools import update

    for lang in ("kk", "ru"):
        print(f"{lang}.po: {update(lang)} new messages to translate")
    return 0


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data", help="data directory (default ./sabaq-data or $SABAQ_DATA)")
    common.add_argument("--config", help="settings file (default <data>/sabaq.toml or $SABAQ_CONFIG)")

    parser = argparse.ArgumentParser(prog="sabaq", description="Jupyter teaching and assessment platform")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("up", parents=[common], help="run hub, proxy, service and workers")
    p.add_argument("--port", type=int, help="public port (default 8000)")
    p.set_defaults(func=cmd_up)

    config = sub.add_parser("config", help="settings").add_subparsers(dest="action", required=True)
    config.add_parser("show", parents=[common], help="print the effective settings, secrets masked") \
        .set_defaults(func=cmd_config_show)

    sub.add_parser("service", parents=[common], help="run the sabaq service (started by the hub)") \
        .set_defaults(func=cmd_service)
    sub.add_parser("worker", parents=[common], help="run one grading worker (started by the hub)") \
        .set_defaults(func=cmd_worker)
    db = sub.add_parser("db", help="database").add_subparsers(dest="action", required=True)
    db.add_parser("upgrade", parents=[common], help="apply migrations").set_defaults(func=cmd_db_upgrade)

    course = sub.add_parser("course", help="courses").add_subparsers(dest="action", required=True)
    p = course.add_parser("create", parents=[common], help="create a course")
    p.add_argument("id")
    p.add_argument("--title", default="")
    p.add_argument("--language", default="kk", choices=LANGUAGES)
    p.set_defaults(func=cmd_course_create)

    assignment = sub.add_parser("assignment", help="assignments").add_subparsers(dest="action", required=True)
    p = assignment.add_parser("release", parents=[common],
                              help="generate the student version of a source folder and release it")
    p.add_argument("course")
    p.add_argument("dir", help="nbgrader source assignment folder")
    p.add_argument("--name", help="assignment name (default: the folder's name)")
    p.add_argument("--due", help="due date, e.g. '2026-12-01 18:00' (site time zone)")
    p.add_argument("--closes", help="no submissions after this date")
    p.add_argument("--title", default="")
    p.set_defaults(func=cmd_release)

    roster = sub.add_parser("roster", help="class lists").add_subparsers(dest="action", required=True)
    p = roster.add_parser("import", parents=[common], help="import a CSV class list into a course")
    p.add_argument("course")
    p.add_argument("file")
    p.set_defaults(func=cmd_roster_import)

    user = sub.add_parser("user", help="accounts").add_subparsers(dest="action", required=True)
    p = user.add_parser("add", parents=[common], help="create an account")
    p.add_argument("login")
    p.add_argument("--name", default="")
    p.add_argument("--password")
    p.add_argument("--admin", action="store_true")
    p.set_defaults(func=cmd_user_add)
    p = user.add_parser("password", parents=[common], help="set a password")
    p.add_argument("login")
    p.add_argument("--password")
    p.set_defaults(func=cmd_user_password)
    grade = sub.add_parser("grade", help="grading").add_subparsers(dest="action", required=True)
    p = grade.add_parser("batch", parents=[common],
                         help="autograde an nbgrader course folder (sandboxed, in parallel)")
    p.add_argument("--course", required=True, help="the course folder (nbgrader layout)")
    p.add_argument("--assignment", required=True)
    p.add_argument("--workers", type=int, default=None, help="notebooks at once (default: CPU cores)")
    p.add_argument("--out", required=True, help="CSV file: student,notebook,grade_id,score,max_score")
    p.add_argument("--keep", action="store_true", help="skip submissions already autograded")
    p.set_defaults(func=cmd_grade_batch)
    p = grade.add_parser("regrade", parents=[common],
                         help="grade every student's newest submission again (the workers do it)")
    p.add_argument("course")
    p.add_argument("assignment")
    p.set_defaults(func=cmd_grade_regrade)

    running = argparse.ArgumentParser(add_help=False)  # commands that drive a running sabaq
    running.add_argument("--url", help="sabaq's address (default: from the settings)")
    running.add_argument("--admin-password", help="default: the demo logins in the data directory")

    bench = sub.add_parser("bench", help="benchmarks").add_subparsers(dest="action", required=True)
    p = bench.add_parser("grading", parents=[common], help="sabaq's grading against nbgrader autograde")
    p.add_argument("--copies", type=_at_least_one, default=4, help="copies of the 9-student class (default 4)")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--repeats", type=_at_least_one, default=3,
                   help="sabaq grades this many copies; the median time counts (default 3)")
    p.add_argument("--keep", help="keep the course folders here")
    p.set_defaults(func=cmd_bench_grading)
    p = bench.add_parser("gradebook", parents=[common], help="the gradebook page and export at school scale")
    p.add_argument("--students", type=int, default=1000)
    p.add_argument("--assignments", type=int, default=40)
    p.add_argument("--postgres", help="also on PostgreSQL: an admin URL, e.g. postgresql+psycopg:///postgres?host=/var/run/postgresql")
    p.set_defaults(func=cmd_bench_gradebook)
    p = bench.add_parser("service", parents=[common, running],
                         help="a deadline through a running `sabaq up` against nbgrader autograde")
    p.add_argument("--copies", type=_at_least_one, default=3,
                   help="copies of the 8-student class, one account each (default 3)")
    p.add_argument("--timeout", type=float, default=600, help="seconds to wait for grading")
    p.add_argument("--keep", help="keep nbgrader's course folder here")
    p.set_defaults(func=cmd_bench_service)

    demo = sub.add_parser("demo", help="rehearsals").add_subparsers(dest="action", required=True)
    p = demo.add_parser("class", parents=[common, running],
                        help="rehearse a whole class cycle against a running `sabaq up`")
    p.add_argument("--students", type=int, default=10)
    p.add_argument("--timeout", type=float, default=600, help="seconds to wait for grading")
    p.set_defaults(func=cmd_demo_class)

    task = sub.add_parser("task", help="olympiad tasks (Kattis problem packages)").add_subparsers(
        dest="action", required=True)
    p = task.add_parser("new", help="a package skeleton: statements in kk/ru/en, generator, validator, sample")
    p.add_argument("name")
    p.add_argument("--parent", default=".", help="folder to create it in")
    p.set_defaults(func=cmd_task_new)
    p = task.add_parser("generate", help="build the test data from the generators and validate it")
    p.add_argument("path")
    p.set_defaults(func=cmd_task_generate)
    p = task.add_parser("verify", help="every submission gets the verdict its folder promises")
    p.add_argument("path")
    p.set_defaults(func=cmd_task_verify)
    p = task.add_parser("judge", help="judge one submission on every test")
    p.add_argument("path")
    p.add_argument("submission")
    p.set_defaults(func=cmd_task_judge)
    p = task.add_parser("publish", parents=[common], help="publish a task to a course (tests are generated if needed)")
    p.add_argument("path")
    p.add_argument("--course", required=True)
    p.add_argument("--name", help="assignment name (default: the folder's name)")
    p.add_argument("--title", help="title shown to students (default: the package's name)")
    p.set_defaults(func=cmd_task_publish)

    lesson = sub.add_parser("lesson", help="interactive lessons").add_subparsers(dest="action", required=True)
    lesson.add_parser("check", help="run every lesson in every language headless; compare the versions "
                      "(sabaq lesson check --help)")
    p = lesson.add_parser("publish", parents=[common],
                          help="publish lessons to a course: lesson folders, or folders of them (a unit)")
    p.add_argument("course")
    p.add_argument("path", nargs="+")
    p.set_defaults(func=cmd_lesson_publish)
    p = lesson.add_parser("pull", help="in your server: bring your published lessons up to date (your edits stay)")
    p.add_argument("--root", default="~/lessons")
    p.set_defaults(func=cmd_lesson_pull)

    i18n = sub.add_parser("i18n", help="translations").add_subparsers(dest="action", required=True)
    i18n.add_parser("check", help="list messages kk.po or ru.po lack").set_defaults(func=cmd_i18n_check)
    i18n.add_parser("update", help="add new messages (untranslated) to kk.po and ru.po") \
        .set_defaults(func=cmd_i18n_update)
    return parser


def main(argv: list[str] | None = None) -> int:
    from sabaq.errors import SabaqError

    from sabaq.hub.paths import with_venv_path

    # nbgrader and JupyterHub call tools of sabaq's environment by name (`alembic` ...)
    os.environ["PATH"] = with_venv_path(os.environ.get("PATH", ""))
    command_line = argv is None
    argv = sys.argv[1:] if argv is None else argv
    if argv[:2] == ["lesson", "check"]:  # its own options (see sabaq.lessons.check)
        from sabaq.lessons.check import main as check_main

        return check_main(argv[2:])
    args = build_parser().parse_args(argv)
    args.command_line = command_line
    try:
        return args.func(args) or 0
    except SabaqError as e:  # settings, sandbox, batch, package problems ...
        print(f"sabaq: {e.translated(_lang())}", file=sys.stderr)
        return 2
