"""Benchmarks and rehearsals: measure sabaq against nbgrader, rehearse a class."""

from __future__ import annotations

import sys

from sabaq.cli.common import at_least_one, say, settings_of
from sabaq.i18n import N_


def bench_grading(args) -> int:
    from sabaq.devtools.bench_grading import bench_grading as run

    settings_args = [f"--{name}={getattr(args, name)}" for name in ("data", "config") if getattr(args, name)]
    result = run(settings_args, copies=args.copies, workers=args.workers, keep=args.keep, repeats=args.repeats)
    return 0 if result["scores_equal"] else 1


def _running_sabaq(args) -> tuple[str, str] | None:
    """The address of a running sabaq and its administrator's password, for commands that drive it."""
    from sabaq.devtools.rehearsal import admin_password

    settings = settings_of(args)
    password = args.admin_password or admin_password(settings.data_dir)
    if not password:
        say(N_("sabaq: the administrator's password is needed: --admin-password, or the demo logins in {folder}"),
            folder=settings.data_dir, file=sys.stderr)
        return None
    return args.url or settings.public_url, password


def bench_service(args) -> int:
    from sabaq.devtools.bench_service import bench_service as run

    target = _running_sabaq(args)
    if target is None:
        return 2
    result = run(*target, copies=args.copies, timeout=args.timeout, keep=args.keep)
    return 0 if result["scores_equal"] else 1


def demo_class(args) -> int:
    from sabaq.devtools.rehearsal import Rehearsal

    target = _running_sabaq(args)
    if target is None:
        return 2
    url, password = target
    try:
        return Rehearsal(url, password).run(args.students, timeout=args.timeout)
    except Exception as e:  # noqa: BLE001 - a rehearsal reports what broke and fails
        say(N_("sabaq: the rehearsal failed: {error}"), error=e, file=sys.stderr)
        return 1


def bench_gradebook(args) -> int:
    from sabaq.devtools.bench_gradebook import bench_gradebook as run

    run(args.students, args.assignments, args.postgres)
    return 0


def bench_deadline(args) -> int:
    from sabaq.devtools.bench_deadline import bench_deadline as run

    figures = run(args.students, args.postgres, window=args.window, concurrency=args.concurrency,
                  timeout=args.timeout, keep=args.keep)
    return 0 if not figures.errors and figures.graded == figures.acknowledged == figures.students else 1


def bench_storm(args) -> int:
    import os

    if os.geteuid() != 0:
        say(N_("sabaq: bench storm makes a system account for every student: run it as root (sudo)."),
            file=sys.stderr)
        return 2
    from sabaq.devtools.bench_storm import bench_storm as run

    results = run(args.students, timeout=args.timeout, stock=not args.no_stock)
    return 0 if results[0].ready == args.students else 1


def bench_pageweight(args) -> int:
    from sabaq.devtools.bench_pageweight import bench_pageweight as run

    run(stock=not args.no_stock, slow=not args.fast_link, view=args.view, shared_static=not args.no_shared_static)
    return 0


def add_commands(commands) -> None:
    bench = "benchmarks"
    p = commands.action("bench", bench, "grading", "sabaq's grading against nbgrader autograde", bench_grading)
    p.add_argument("--copies", type=at_least_one, default=4, help="copies of the 9-student class (default 4)")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--repeats", type=at_least_one, default=3,
                   help="sabaq grades this many copies; the median time counts (default 3)")
    p.add_argument("--keep", help="keep the course folders here")
    p = commands.action("bench", bench, "gradebook", "the gradebook page and export at school scale", bench_gradebook)
    p.add_argument("--students", type=int, default=1000)
    p.add_argument("--assignments", type=int, default=40)
    p.add_argument("--postgres", help="also on PostgreSQL: an admin URL, "
                   "e.g. postgresql+psycopg:///postgres?host=/var/run/postgresql")
    p = commands.action("bench", bench, "service", "a deadline through a running `sabaq up` against nbgrader autograde",
                        bench_service, running=True)
    p.add_argument("--copies", type=at_least_one, default=3,
                   help="copies of the 8-student class, one account each (default 3)")
    p.add_argument("--timeout", type=float, default=600, help="seconds to wait for grading")
    p.add_argument("--keep", help="keep nbgrader's course folder here")

    p = commands.action("bench", bench, "deadline",
                        "a deadline of N students against its own `sabaq up` (submits/s, latency, errors, grading)",
                        bench_deadline)
    p.add_argument("--students", type=at_least_one, default=1000)
    p.add_argument("--postgres", help="on PostgreSQL instead of SQLite: an admin URL (a fresh database is made), "
                   "e.g. postgresql+psycopg:///postgres?host=/var/run/postgresql")
    p.add_argument("--window", type=float, default=60, help="seconds within which the students begin (default 60)")
    p.add_argument("--concurrency", type=at_least_one, default=64,
                   help="students in the middle of fetching and submitting at once (default 64)")
    p.add_argument("--timeout", type=float, default=900, help="seconds to wait for grading")
    p.add_argument("--keep", action="store_true", help="keep the temporary data folder and sabaq up's log")

    p = commands.action("bench", bench, "storm",
                        "N students start JupyterLab at once: its own `sabaq up`, then stock JupyterHub",
                        bench_storm)
    p.add_argument("--students", type=at_least_one, default=30)
    p.add_argument("--timeout", type=float, default=180, help="seconds a student waits for her server (default 180)")
    p.add_argument("--no-stock", action="store_true", help="only sabaq, not stock JupyterHub")

    p = commands.action("bench", bench, "pageweight",
                        "bytes, requests and time to a lesson's first widget, cold and warm: "
                        "its own `sabaq up`, then stock JupyterLab", bench_pageweight)
    p.add_argument("--view", choices=("lesson", "lab"), default="lesson",
                   help="the lesson view (Notebook 7's page sabaq's course page links; default) or JupyterLab")
    p.add_argument("--no-shared-static", action="store_true",
                   help="sabaq with [hub] shared_static off (each server serves JupyterLab's files itself)")
    p.add_argument("--no-stock", action="store_true", help="only sabaq, not stock JupyterLab")
    p.add_argument("--fast-link", action="store_true",
                   help="the loopback's own speed instead of the emulated 1.6 Mbit/s, 300 ms link")

    p = commands.action("demo", "rehearsals", "class", "rehearse a whole class cycle against a running `sabaq up`",
                        demo_class, running=True)
    p.add_argument("--students", type=int, default=10)
    p.add_argument("--timeout", type=float, default=600, help="seconds to wait for grading")
