"""The lessons' commands: check lessons headless, and pull published lessons into a server;
and, beside it, a teacher's course folders (``sabaq course pull``, ``sabaq.coursefolders``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sabaq.cli.common import say, server_env
from sabaq.i18n import N_


def in_server() -> tuple[str, str] | None:
    """(service URL, hub token) of the user's server this runs in; else None, said why."""
    server = server_env()
    if server is None:
        say(N_("sabaq: run this in a terminal of your sabaq server (SABAQ_SERVICE_URL is not set)"), file=sys.stderr)
    return server


def lesson_pull(args) -> int:
    from sabaq.lessons.sync import pull

    server = in_server()
    if server is None:
        return 2
    report = pull(Path(args.root).expanduser(), *server)
    if report.kept:
        say(N_("{added} new files, {updated} updated; your edits kept in {kept}: {files}"), added=len(report.added),
            updated=len(report.updated), kept=len(report.kept), files=", ".join(report.kept))
    else:
        say(N_("{added} new files, {updated} updated; your edits kept in {kept}"), added=len(report.added),
            updated=len(report.updated), kept=0)
    return 0


def course_pull(args) -> int:
    """A teacher's course folders, as the pod starts (the hub's postStart hook) or by hand."""
    from sabaq.client import ServiceClient
    from sabaq.coursefolders import pull

    server = in_server()
    if server is None:
        return 2
    service_url, token = server
    with ServiceClient(service_url, token, language=os.environ.get("SABAQ_LANG"), timeout=120) as client:
        written = pull(Path(args.root).expanduser(), client)
    say(N_("Course folders for nbgrader's formgrader: {count} files written in {root}"), count=len(written),
        root=args.root)
    return 0


def lesson_check(argv: list[str]) -> int:
    from sabaq.lessons.check import main as check_main

    return check_main(argv)


def add_commands(commands) -> None:
    lessons = "interactive lessons"
    commands.group("lesson", lessons).add_parser(
        "check", help="run every lesson in every language headless; compare the versions (sabaq lesson check --help)")
    commands.passthrough[("lesson", "check")] = lesson_check  # its own options (see sabaq.lessons.check)
    p = commands.action("lesson", lessons, "pull",
                        "in your server: bring your published lessons up to date (your edits stay)", lesson_pull,
                        common=False)
    p.add_argument("--root", default="~/lessons")
    p = commands.action("course", "courses", "pull",
                        "in your server: the folders of the courses you teach, for nbgrader's formgrader "
                        "(their settings and the assignments' sources; your edits stay)", course_pull, common=False)
    p.add_argument("--root", default="~")
