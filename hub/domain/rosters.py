"""Importing a class list (CSV) into a course.

A roster is checked whole before anything is written: if any row is wrong,
nothing changes and the report lists every bad row with what to fix. Files
saved by Excel are accepted as they come: UTF-8 with or without BOM, ``;`` or
``,`` separators, and Windows-1251 as a last resort (with a warning, because
Kazakh letters do not survive that encoding).

Who may change what (issue 14, "nobody exceeds their role"). ``by`` is the person
importing; ``None`` is the machine's administrator (``sabaq roster import``, the demo
seed). An admin's import creates and updates accounts as it always did: a row for an
existing login sets its name, email and password, and links parents to any child.

A teacher's import changes the memberships of its own course only:

- a new login becomes a new account (its password, given or generated, is in the
  report) and a member of this course, or a parent (below);
- an existing login that is already a student of this course may change its class
  (section) and its role in this course, nothing else: a name, email or password in
  the row that would change the account is not applied, each with a warning (only the
  admin changes an existing account; people change their own password). A student of
  two courses keeps one password that neither teacher can reset;
- any other existing login (an admin, a teacher or assistant of this or another
  course, a student of another course, a parent, an account in no course) is not
  applied at all, with a warning saying to ask the administrator. A teacher cannot even
  enrol another course's student: teachers' views of a student are filtered to their own
  courses, but which course a child is in is the school's decision, not one teacher's,
  and a name-only row that happens to match another course's pupil must not pull that
  account in. A name-only row whose generated login is such an account is skipped the
  same way (give the person a 'login' to make a new account instead);
- a parent row links the parent to each child under
  ``courses.require_guardian_link`` (the rule the API's parent route uses too): the
  child must be a student of a course the teacher teaches (after this import's
  memberships), and an existing parent account must be within the teacher's remit (no
  role in any course, not an admin, no children outside the teacher's courses); its
  name, email and password are not changed. A refused link is a warning; a new parent
  none of whose children could be linked is not created.

Errors stop the whole import (nothing changes); warnings leave the rest applied.
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
from sabaq.hub.domain.courses import is_parent, link_guardian, require_guardian_link, role_in, set_member
from sabaq.hub.store.models import Course, Role, User
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


def _kept(report: RosterReport, row: RosterRow, user: User) -> None:
    """Warn about what a teacher's row would have changed on an existing account."""
    if row.full_name and row.full_name != user.full_name:
        report.warnings.append({
            "line": row.line,
            "message": N_("The name of '{login}' was not changed to '{name}': a class list does not change "
                          "existing accounts. Ask the administrator to change it."),
            "params": {"login": row.login, "name": row.full_name},
        })
    if row.email and row.email != user.email:
        report.warnings.append({
            "line": row.line,
            "message": N_("The email of '{login}' was not changed to '{email}': a class list does not change "
                          "existing accounts. Ask the administrator to change it."),
            "params": {"login": row.login, "email": row.email},
        })
    if row.password:
        report.warnings.append({
            "line": row.line,
            "message": N_("The password of '{login}' was not changed: a class list does not change the "
                          "passwords of existing accounts, so the old password still works. To reset it, ask "
                          "the administrator."),
            "params": {"login": row.login},
        })


def _skipped(report: RosterReport, row: RosterRow) -> None:
    report.warnings.append({
        "line": row.line,
        "message": N_("The row for '{login}' was not applied: this login belongs to an existing account that "
                      "is not a student of this course, and a class list changes only this course's students. "
                      "The account was not added to the course and its password, name and email were not "
                      "changed. To add it, ask the administrator; if this is another person, give them a "
                      "different login."),
        "params": {"login": row.login},
    })


def import_roster(db: Session, course: Course, data: bytes, min_password_length: int = 8, *,
                  by: User | None) -> RosterReport:
    """Check the whole file, then create or update accounts and memberships as ``by`` may
    (None: the machine's administrator; see the module's docstring)."""
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
            if row.login in row.parent_of:
                report.errors.append({"line": row.line, "message": N_("A person cannot be their own parent.")})
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

    admin = by is None or by.is_admin
    # Members first, so that a parent's children are in the course when they are linked.
    for row in (r for r in rows if r.role != "parent"):
        user = find_user(db, row.login)
        entry = {"login": row.login, "full_name": row.full_name, "role": row.role}
        if user is None:
            password = row.password or new_password()
            user = create_user(db, row.login, full_name=row.full_name, password=password, email=row.email)
            entry["password"] = password
            report.created.append(entry)
        elif admin:
            _update(user, row)
            report.updated.append(entry)
        elif not user.is_admin and role_in(db, user, course) == Role.student:
            _kept(report, row, user)
            report.updated.append(entry | {"full_name": user.full_name})  # the name it keeps
        else:
            _skipped(report, row)
            continue
        set_member(db, course, user, Role(row.role), row.section)
    db.flush()
    parents = [r for r in rows if r.role == "parent"]
    new = {r.login for r in parents if find_user(db, r.login) is None}
    passwords = {}
    for row in parents:  # every account first: a child may be another row's parent
        if row.login in new:
            passwords[row.login] = row.password or new_password()
            create_user(db, row.login, full_name=row.full_name, password=passwords[row.login], email=row.email)
    for row in parents:
        parent = find_user(db, row.login)
        entry = {"login": row.login, "full_name": row.full_name, "role": row.role}
        linked = 0
        for login in row.parent_of:
            child = find_user(db, login)
            try:
                require_guardian_link(db, by, parent, child)
            except SabaqError as e:
                report.warnings.append({"line": row.line, "message": e.message, "params": e.params})
                continue
            link_guardian(db, parent, child)
            linked += 1
        if row.login in new:
            report.created.append(entry | {"password": passwords[row.login]})
        elif admin:
            _update(parent, row)
            report.updated.append(entry)
        elif linked:
            _kept(report, row, parent)
            report.updated.append(entry | {"full_name": parent.full_name})
    db.flush()
    if not admin:  # a new parent of nobody would only be a login the teacher knows
        for row in parents:
            parent = find_user(db, row.login)
            if row.login in new and not is_parent(db, parent):
                db.delete(parent)
                report.created = [e for e in report.created if e["login"] != row.login]
                report.warnings.append({
                    "line": row.line,
                    "message": N_("The parent '{login}' was not created, because none of their children could "
                                  "be linked."),
                    "params": {"login": row.login},
                })
        db.flush()
    return report


def _update(user: User, row: RosterRow) -> None:
    """An admin's row for an existing account: its name, email and password as given."""
    if row.full_name:
        user.full_name = row.full_name
    if row.email:
        user.email = row.email
    if row.password:
        user.password_hash = hash_password(row.password)


def roster_error(report: RosterReport) -> Invalid:
    return Invalid(N_("The roster was not imported: {n} rows need fixing."), n=len(report.errors))
