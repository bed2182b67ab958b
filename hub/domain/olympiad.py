"""Olympiad tasks in a course: publishing a problem package, verdicts, the contest table.

A published task is an assignment of category ``olympiad``: students fetch a
notebook in their language with the statement and samples (see
``sabaq.kattis.notebook``); the teacher's side ("source") is the
package itself with its secret tests, which only workers and staff can read.
Each submission gets a ``judge`` job; the student's mark is the best score of
all their attempts, as at a practice olympiad.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sabaq.archive import safe_name
from sabaq.errors import Invalid, NotFound
from sabaq.hub.domain import assignments
from sabaq.hub.domain.kinds import OLYMPIAD
from sabaq.hub.store.models import Assignment, Course, GradeResult, Membership, Role, Submission, User
from sabaq.i18n import N_
from sabaq.kattis.notebook import release_files
from sabaq.kattis.package import PackageError, load

GENERATE_TIMEOUT = 900  # seconds for all of a package's generators
BUILDER = "sabaq-tasks"  # the account packages are built as when the service is root
# Runs a command and reaps every process it leaves behind. Each sandboxed run of a generator
# or a solution leaves bubblewrap's first process to whoever adopts orphans; until that one
# reaps it, it counts against the builder's limit of processes (RLIMIT_NPROC, per uid, which
# every run is held to), and all of a package's runs are one uid's. This process adopts them
# (a child subreaper) and reaps them at once; its exit code is the command's.
REAPER = """
import ctypes, os, subprocess, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
command, code = subprocess.Popen(sys.argv[1:]), 1
while True:
    try:
        pid, status = os.wait()
    except ChildProcessError:
        break
    if pid == command.pid:
        code = os.waitstatus_to_exitcode(status)
        command.returncode = code
sys.exit(code if code >= 0 else 128 - code)
"""
PACKAGE_PARTS = ("problem.yaml", ".timelimit", "data", "include", "input_validators", "output_validators",
                 "output_validator", "problem_statement", "statement")


def package_files(root: Path) -> dict[str, bytes]:
    """The parts of a package the judge needs (no submissions, no generators)."""
    files = {}
    for part in PACKAGE_PARTS:
        path = root / part
        if path.is_file():
            files[part] = path.read_bytes()
        elif path.is_dir():
            for p in sorted(path.rglob("*")):
                if p.is_file() and "__pycache__" not in p.parts:
                    files[str(p.relative_to(root))] = p.read_bytes()
    return files


def _with_tests(root: Path, scratch: Path) -> Path:
    """The package itself, or a copy with its tests generated when they are not built yet.
    As root, the copy is handed to the unprivileged builder account, which generates the
    tests in it: ``scratch`` becomes passable (0711), the copy's folder is the builder's (0700)."""
    try:
        load(root)
        return root
    except PackageError:
        if not (root / "generators" / "generators.yaml").exists():
            raise
    work = scratch / "package"  # the copy's own folder: its builder's alone (0700), whoever that is
    work.mkdir(mode=0o700)
    copy = work / root.name
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("__pycache__"))
    account = builder_account()
    if account is not None:
        scratch.chmod(0o711)
        for folder, dirs, files in os.walk(work, topdown=False):
            for name in dirs + files:
                os.lchown(os.path.join(folder, name), account.pw_uid, account.pw_gid)
        os.lchown(work, account.pw_uid, account.pw_gid)
    _generate_tests(copy, account)
    return copy


def builder_account() -> pwd.struct_passwd | None:
    """The unprivileged account that builds packages when the service runs as root (a
    system account made on first use, as the spawner makes people's); None when not root:
    the service's own account is unprivileged already."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(BUILDER)
    except KeyError:
        pass
    made = subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                           "--shell", "/usr/sbin/nologin", "--comment", "sabaq task builder", BUILDER],
                          check=False, capture_output=True, text=True)
    try:
        return pwd.getpwnam(BUILDER)
    except KeyError:
        raise PackageError(N_("The account {account} that builds task packages could not be made: {detail}"),
                           account=BUILDER, detail=made.stderr.strip() or made.returncode) from None


def _generate_tests(folder: Path, account: pwd.struct_passwd | None = None) -> None:
    """Build a package's tests with the workers' olympiad engine (``sabaq task generate``),
    in a process of its own: the service does not import the engine that runs the
    package author's generators. As root, that process runs as ``account`` (which owns
    ``folder``), with none of root's groups or environment, from / (a package folder named
    like a module must not be imported instead of sabaq's); under REAPER in both cases."""
    options: dict = {"env": {**os.environ, "SABAQ_LANG": "en"}}
    if account is not None:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(folder.parent),
               "SABAQ_LANG": "en"}
        if "PYTHONPATH" in os.environ:  # where this sabaq comes from, when not from its environment
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        options = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": [], "umask": 0o077, "cwd": "/",
                   "env": env}
    command = [sys.executable, "-P", "-m", "sabaq", "task", "generate", str(folder)]
    done = subprocess.run([sys.executable, "-P", "-c", REAPER, *command],
                          check=False, capture_output=True, text=True, timeout=GENERATE_TIMEOUT, **options)
    if done.returncode != 0:
        reason = done.stderr.strip().removeprefix("sabaq: ") or f"sabaq task generate: exit code {done.returncode}"
        raise PackageError("{reason}", reason=reason)


def publish(db: Session, course: Course, root: str | Path, name: str | None = None, title: str | None = None,
            share_checker: bool | None = None, **settings) -> Assignment:
    """Publish (or update) a task in a course; students' earlier submissions stay. With
    ``share_checker`` an interactive task's interactor is given to students to try the
    samples with (it shows how the task is judged); None keeps the task's setting (off at first)."""
    root = Path(root).resolve()
    name = safe_name(name or root.name)
    before = db.scalar(select(Assignment).where(Assignment.course_id == course.id, Assignment.name == name))
    if share_checker is None:
        share_checker = bool(before and before.share_checker)
    with tempfile.TemporaryDirectory(prefix="sabaq-publish-") as tmp:
        ready = _with_tests(root, Path(tmp))
        package = load(ready)
        released = release_files(package, course.slug, name, course_language=course.language,
                                 share_checker=share_checker)
        assignment = assignments.release(db, course, name, released, package_files(ready),
                                         title=title or package.name, category=OLYMPIAD.category, **settings)
    assignment.max_score = package.max_score
    assignment.share_checker = share_checker
    db.flush()
    return assignment


def public_verdict(details: dict, staff: bool) -> dict:
    """The judge's report as a student may see it: verdicts, times and points per
    group, the first failing test's name, and messages only for sample tests
    (a message about a secret test could give its answer away)."""
    judge = details.get("judge") or {}
    if staff or not judge:
        return judge
    groups = []
    for g in judge.get("groups", []):
        tests = [dict(t, message=t.get("message", ""), note=t.get("note")) if g.get("sample")
                 else dict(t, message="", note=None) for t in g.get("tests", [])]
        groups.append(dict(g, tests=tests))
    return dict(judge, groups=groups)


def best_scores(db: Session, assignment_ids: list[int], student_ids: list[int]) -> dict[tuple[int, int], float]:
    """{(assignment, student): the best current score over all attempts}."""
    if not assignment_ids or not student_ids:
        return {}
    rows = db.execute(
        select(Submission.assignment_id, Submission.student_id, func.max(GradeResult.score))
        .join(GradeResult, GradeResult.submission_id == Submission.id)
        .where(GradeResult.current.is_(True), GradeResult.status == "graded",
               Submission.assignment_id.in_(assignment_ids), Submission.student_id.in_(student_ids))
        .group_by(Submission.assignment_id, Submission.student_id))
    return {(a, s): score for a, s, score in rows}


def contest_tasks(db: Session, course: Course) -> list[Assignment]:
    """The course's olympiad tasks in the coach's order: the placed ones by their place, then
    the others (new ones, say) by name."""
    tasks = db.scalars(select(Assignment).where(Assignment.course_id == course.id,
                                                Assignment.category == OLYMPIAD.category))
    return sorted(tasks, key=lambda t: (t.position is None, t.position or 0, t.name))


def set_order(db: Session, course: Course, names: list[str]) -> list[Assignment]:
    """The coach's order of the contest's tasks, first to last; tasks not named follow them."""
    tasks = {t.name: t for t in contest_tasks(db, course)}
    for name in names:
        if name not in tasks:
            raise NotFound(N_("There is no olympiad task '{task}' in the course '{course}': name only the tasks "
                              "the contest page lists."), task=name, course=course.slug)
    if len(set(names)) != len(names):
        raise Invalid(N_("Each task may be named only once in the contest's order."))
    for task in tasks.values():
        task.position = None
    for place, name in enumerate(names, start=1):
        tasks[name].position = place
    db.flush()
    return contest_tasks(db, course)


def first_failure(details: dict | None) -> dict | None:
    """The newest verdict's first failing test: its group, name and what the judge said
    (a note to translate, or the checker's own words), for the coach's table."""
    for group in ((details or {}).get("judge") or {}).get("groups", []):
        name = group.get("first_failure")
        if name:
            test = next((t for t in group.get("tests", []) if t.get("name") == name), {})
            return {"group": group.get("name", ""), "test": name, "note": test.get("note"),
                    "message": test.get("message", "")}
    return None


def contest_table(db: Session, course: Course) -> dict:
    """Every student × every task, in the coach's order of tasks: best score, newest verdict
    and its first failure, attempts (for the coach)."""
    tasks = contest_tasks(db, course)
    students = list(db.scalars(select(User).join(Membership, Membership.user_id == User.id)
                               .where(Membership.course_id == course.id, Membership.role == Role.student)
                               .order_by(User.full_name, User.name)))
    ids = [t.id for t in tasks]
    best = best_scores(db, ids, [s.id for s in students])
    newest: dict[tuple[int, int], tuple[Submission, GradeResult | None]] = {}
    rows = db.execute(
        select(Submission, GradeResult)
        .outerjoin(GradeResult, (GradeResult.submission_id == Submission.id) & GradeResult.current.is_(True))
        .where(Submission.assignment_id.in_(ids)).order_by(Submission.attempt))
    for submission, result in rows:
        newest[(submission.assignment_id, submission.student_id)] = (submission, result)
    table = []
    for student in students:
        cells = []
        for task in tasks:
            submission, result = newest.get((task.id, student.id), (None, None))
            verdict, failure = None, None
            if submission is not None:
                graded = result is not None and result.status == "graded"
                verdict = ((result.details or {}).get("judge", {}).get("verdict") if graded
                           else ("failed" if result is not None else "queued"))
                failure = first_failure(result.details) if graded else None
            cells.append({"task": task.name, "best": best.get((task.id, student.id)), "max": task.max_score,
                          "verdict": verdict, "attempts": submission.attempt if submission else 0,
                          "submission_id": submission.id if submission else None, "failure": failure})
        total = sum(c["best"] or 0.0 for c in cells)
        table.append({"student": student, "cells": cells, "total": total})
    table.sort(key=lambda r: -r["total"])
    return {"tasks": tasks, "rows": table, "max_total": sum(t.max_score for t in tasks)}
