"""Importing a class list (CSV) into a course.

A roster is checked whole before anything is written: if any row is wrong,
nothing changes and the report lists every bad row with what to fix. Files
saved by Excel are accepted as they come: UTF-8 with or without BOM, ``;`` or
``,`` separators, and Windows-1251 as a last resort (with a warning, because
Kazakh letters do not survive that encoding).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from sabaq.errors import Invalid, SabaqError
from sabaq.hub.domain.accounts import (
    LOGIN_RE,
    check_password,
    create_user,
    find_user,
    hash_password,
    login_from_name,
    new_password,
)
from sabaq.hub.domain.courses import link_guardian, set_member
from sabaq.hub.store.models import Course, Role
from sabaq.i18n import N_

COLUMN_ALIASES = {
    "login": "login", "username": "login", "логин": "login", "пайдаланушы": "login",
    "full_name": "full_name", "name": "full_name", "фио": "full_name", "имя": "full_name",
    "аты-жөні": "full_name", "аты": "full_name",
    "role": "role", "роль": "role", "рөлі": "role", "рөл": "role",
    "class": "section", "section": "section", "класс": "section", "сынып": "section",
    "email": "email", "e-mail": "email", "почта": "email",
    "password": "password", "пароль": "password", "құпиясөз": "password",
    "parent_of": "parent_of", "child": "parent_of", "ребенок": "parent_of",
    "ребёнок": "parent_of", "баласы": "parent_of",
}
ROLE_ALIASES = {
    "student": "student", "ученик": "student", "ученица": "student", "оқушы": "student",
    "teacher": "teacher", "учитель": "teacher", "мұғалім": "teacher",
    "assistant": "assistant", "ассистент": "assistant", "көмекші": "assistant",
    "parent": "parent", "родитель": "parent", "ата-ана": "parent",
}
MAX_ROWS = 5000


@dataclass
class RosterRow:
    line: int
    login: str
    full_name: str
    role: str
    section: str = ""
    email: str = ""
    password: str = ""
    parent_of: list[str] = field(default_factory=list)


@dataclass
class RosterReport:
    """What an import did (or, with errors, would not do)."""

    created: list[dict] = field(default_factory=list)  # login, full_name, role, password
    updated: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)  # line, message (msgid), params
    warnings: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self, translate) -> dict:
        def tr(items):
            return [
                {"line": e.get("line"), "message": translate(e["message"]).format(**e.get("params", {}))}
                for e in items
            ]

        return {
            "ok": self.ok,
            "created": self.created,
            "updated": self.updated,
            "errors": tr(self.errors),
            "warnings": tr(self.warnings),
        }


def decode(data: bytes, report: RosterReport) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        report.warnings.append({
            "line": None,
            "message": N_("The file is not UTF-8, so it was read as Windows-1251; Kazakh letters may be lost. In Excel, save it as 'CSV UTF-8'."),
        })
        return data.decode("cp1251", errors="replace")


def parse(data: bytes, report: RosterReport) -> list[RosterRow]:
    text = decode(data, report)
    if not text.strip():
        report.errors.append({"line": None, "message": N_("The roster file is empty.")})
        return []
    first = text.splitlines()[0]
    delimiter = max(",;\t", key=first.count)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = next(reader)
    columns = []
    for name in header:
        key = COLUMN_ALIASES.get(name.strip().lower())
        if key is None and name.strip():
            report.errors.append({
                "line": 1,
                "message": N_("Unknown column '{column}'. Known columns: login, full_name, role, class, email, password, parent_of."),
                "params": {"column": name.strip()},
            })
        columns.append(key)
    if "full_name" not in columns and "login" not in columns:
        report.errors.append({
            "line": 1,
            "message": N_("The first line must name the columns, with at least 'full_name' or 'login'."),
        })
    if report.errors:
        return []
    rows = []
    for number, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        if len(rows) >= MAX_ROWS:
            report.errors.append({"line": number, "message": N_("A roster may have at most {n} rows; split the file."), "params": {"n": MAX_ROWS}})
            break
        record = {}
        for key, value in zip(columns, values):
            if key:
                record[key] = value.strip()
        role = ROLE_ALIASES.get(record.get("role", "").lower() or "student")
        if role is None:
            report.errors.append({
                "line": number,
                "message": N_("Unknown role '{role}': use student, teacher, assistant or parent."),
                "params": {"role": record.get("role", "")},
            })
            continue
        rows.append(RosterRow(
            line=number,
            login=record.get("login", "").lower(),
            full_name=" ".join(record.get("full_name", "").split()),
            role=role,
            section=record.get("section", ""),
            email=record.get("email", ""),
            password=record.get("password", ""),
            parent_of=[c.lower() for c in record.get("parent_of", "").replace(";", " ").split()],
        ))
    return rows


def _resolve_logins(db: Session, rows: list[RosterRow], report: RosterReport) -> None:
    taken: dict[str, int] = {}
    names: dict[str, int] = {}
    for row in rows:
        if not row.full_name and not row.login:
            report.errors.append({"line": row.line, "message": N_("The row has neither a login nor a name.")})
            continue
        if not row.login:
            if row.full_name in names:
                report.errors.append({
                    "line": row.line,
                    "message": N_("The name '{name}' appears twice (lines {first} and {line}). If these are two people, give each a login."),
                    "params": {"name": row.full_name, "first": names[row.full_name], "line": row.line},
                })
                continue
            names[row.full_name] = row.line
            base = login_from_name(row.full_name)
            if not base:
                report.errors.append({
                    "line": row.line,
                    "message": N_("Cannot make a login from the name '{name}'; add a 'login' column."),
                    "params": {"name": row.full_name},
                })
                continue
            login, n = base, 1
            # A generated login that belongs to someone with another name gets a number.
            while login in taken or (
                (existing := find_user(db, login)) is not None and existing.full_name != row.full_name
            ):
                n += 1
                login = f"{base[:28]}{n}"
            row.login = login
        elif not LOGIN_RE.match(row.login):
            report.errors.append({
                "line": row.line,
                "message": N_("Login '{login}' is not allowed: use 1 to 30 lowercase Latin letters, digits, dots, dashes or underscores, starting with a letter."),
                "params": {"login": row.login},
            })
            continue
        if row.login in taken:
            report.errors.append({
                "line": row.line,
                "message": N_("The login '{login}' appears twice (lines {first} and {line})."),
                "params": {"login": row.login, "first": taken[row.login], "line": row.line},
            })
            continue
        taken[row.login] = row.line


def import_roster(db: Session, course: Course, data: bytes, min_password_length: int = 8) -> RosterReport:
    """Check the whole file, then create or update accounts and memberships."""
    report = RosterReport()
    rows = parse(data, report)  # rows with an unknown role are reported and left out
    _resolve_logins(db, rows, report)
    logins = {r.login for r in rows}
    for row in rows:
        if row.password:
            try:
                check_password(row.password, min_password_length)
            except SabaqError as e:
                report.errors.append({"line": row.line, "message": e.message, "params": e.params})
        if row.role == "parent":
            if not row.parent_of:
                report.errors.append({"line": row.line, "message": N_("A parent row needs 'parent_of': the login of their child.")})
            for child in row.parent_of:
                if child not in logins and find_user(db, child) is None:
                    report.errors.append({
                        "line": row.line,
                        "message": N_("The child '{child}' is neither in this file nor in sabaq."),
                        "params": {"child": child},
                    })
        elif row.parent_of:
            report.errors.append({"line": row.line, "message": N_("Only a parent row may have 'parent_of'.")})
    if report.errors:
        return report

    for row in rows:
        user = find_user(db, row.login)
        entry = {"login": row.login, "full_name": row.full_name, "role": row.role}
        if user is None:
            password = row.password or new_password()
            user = create_user(db, row.login, full_name=row.full_name, password=password, email=row.email)
            entry["password"] = password
            report.created.append(entry)
        else:
            if row.full_name:
                user.full_name = row.full_name
            if row.email:
                user.email = row.email
            if row.password:
                user.password_hash = hash_password(row.password)
            report.updated.append(entry)
        if row.role != "parent":
            set_member(db, course, user, Role(row.role), row.section)
    db.flush()
    for row in rows:
        if row.role == "parent":
            parent = find_user(db, row.login)
            for child in row.parent_of:
                link_guardian(db, parent, find_user(db, child))
    db.flush()
    return report


def roster_error(report: RosterReport) -> Invalid:
    return Invalid(N_("The roster was not imported: {n} rows need fixing."), n=len(report.errors))
