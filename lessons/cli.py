"""The lessons' commands: check lessons headless, and pull published lessons into a server."""

from __future__ import annotations

import sys
from pathlib import Path

from sabaq.cli.common import say, server_env
from sabaq.i18n import N_


def lesson_pull(args) -> int:
    from sabaq.lessons.sync import pull

    server = server_env()
    if server is None:
        say(N_("sabaq: run this in a terminal of your sabaq server (SABAQ_SERVICE_URL is not set)"), file=sys.stderr)
        return 2
    report = pull(Path(args.root).expanduser(), *server)
    if report.kept:
        say(N_("{added} new files, {updated} updated; your edits kept in {kept}: {files}"), added=len(report.added),
            updated=len(report.updated), kept=len(report.kept), files=", ".join(report.kept))
    else:
        say(N_("{added} new files, {updated} updated; your edits kept in {kept}"), added=len(report.added),
            updated=len(report.updated), kept=0)
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
