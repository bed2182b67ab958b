"""Creating a built-in course (the demo) from its folder under courses/.

A course folder holds ``course.toml`` (id, title, language, assignments),
``roster.csv`` (people, in the roster import format) and ``source/<name>/``
(nbgrader source assignments), ``[[tasks]]`` (olympiad task packages) and
``[[lessons]]`` (lesson folders), paths relative to the course folder. Seeding imports the roster, adds an
administrator, releases the assignments, publishes the tasks and lessons and
returns the new logins.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

from sqlalchemy.orm import Session

from sabaq.courses import course_dir
from sabaq.hub.domain import accounts, assignments, authoring, courses, rosters
from sabaq.hub.store.models import utcnow


def seed_course(db: Session, name: str, min_password_length: int = 8) -> list[dict]:
    """Create the course; return [{login, full_name, role, password}] of new accounts."""
    folder = course_dir(name)
    meta = tomllib.loads((folder / "course.toml").read_text(encoding="utf-8"))
    course = courses.create_course(db, meta["id"], meta.get("title", meta["id"]), meta.get("language", "kk"))
    logins: list[dict] = []
    if accounts.find_user(db, "admin") is None:
        password = accounts.new_password()
        accounts.create_user(db, "admin", full_name="Administrator", password=password, is_admin=True)
        logins.append({"login": "admin", "full_name": "Administrator", "role": "admin", "password": password})
    roster = folder / "roster.csv"
    if roster.exists():
        report = rosters.import_roster(db, course, roster.read_bytes(), min_password_length, by=None)
        if not report.ok:
            raise RuntimeError(f"the roster of built-in course {name} is broken: {report.errors}")
        logins += report.created
    for item in meta.get("assignments", []):
        source = folder / "source" / item["name"]
        due = utcnow() + dt.timedelta(days=item["due_in_days"]) if "due_in_days" in item else None
        assignments.release(
            db, course, item["name"],
            authoring.generate_release(source, item["name"], course.slug),
            authoring.source_files(source),
            due_at=due, title=item.get("title", ""),
        )
    if meta.get("tasks"):
        from sabaq.hub.domain.olympiad import publish, set_order

        published = [publish(db, course, folder / item["path"], name=item.get("name"), title=item.get("title"),
                             share_checker=item.get("share_interactor", False)) for item in meta["tasks"]]
        set_order(db, course, [a.name for a in published])  # the contest's order is the file's
    for item in meta.get("lessons", []):
        from sabaq.hub.domain import lessons

        lessons.publish(db, course, folder / item["path"])
    return logins


def format_logins(logins: list[dict]) -> str:
    width = max((len(x["login"]) for x in logins), default=5)
    lines = [f"  {x['login']:<{width}}  {x['password']}  ({x['role']}: {x['full_name']})" for x in logins]
    return "\n".join(lines)


def write_logins(path: Path, logins: list[dict]) -> None:
    import os

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("# Demo accounts created on the first start (login, password, role)\n")
        fh.write(format_logins(logins) + "\n")
