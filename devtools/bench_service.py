"""`sabaq bench service`: a deadline through a running sabaq, against `nbgrader autograde`.

The class of `sabaq bench grading` (its synthetic submissions, without the late
one: the service dates a submission itself) becomes a new course on a running
sabaq, one account per student. Every student uploads at once, as at a deadline,
and the time from the first upload to the last grade (the workers' whole path:
claim, bundle, nbgrader's pipeline in the sandbox, report; the end is the time the
service recorded the last grade, as a poll sees it late) is compared with
`nbgrader autograde` on the same notebooks in the same run. The scores must be
equal cell by cell. Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from math import inf
from pathlib import Path

from sabaq.client import ServiceClient
from sabaq.devtools.bench_grading import gradebook_scores, time_nbgrader_autograde
from sabaq.devtools.corpus import ASSIGNMENT, QUICK, SABAQS_CELL_TIMEOUT, build_course
from sabaq.devtools.rehearsal import Rehearsal

KINDS = tuple(kind for kind in QUICK if kind != "late")
DONE = ("graded", "failed")


def _service_scores(submission: dict, student: str) -> dict:
    """The service's grade of one submission, keyed as `gradebook_scores` keys nbgrader's gradebook."""
    out = {}
    for notebook, nb in submission["grade"]["details"]["notebooks"].items():
        out[(student, notebook, "penalty")] = nb["late_penalty"] or 0.0
        for grade_id, cell in nb["cells"].items():
            out[(student, notebook, grade_id)] = (cell["auto_score"], cell["needs_manual_grade"])
    return out


def bench_service(url: str, admin_password: str, copies: int = 3, timeout: float = 600,
                  keep: str | None = None, out=print) -> dict:
    base = Path(keep or tempfile.mkdtemp(prefix="sabaq-bench-service-"))
    opened = ExitStack()  # the service clients, closed at the end
    try:
        reference = build_course(base / "nbgrader", copies=copies, kinds=KINDS, cell_timeout=SABAQS_CELL_TIMEOUT)
        uploads = {folder.parent.name: {p.name: p.read_bytes() for p in sorted(folder.glob("*.ipynb"))}
                   for folder in sorted((reference / "submitted").glob(f"*/{ASSIGNMENT}"))}
        notebooks = sum(len(files) for files in uploads.values())
        out(f"class: {notebooks} notebooks from {len(uploads)} students; {os.cpu_count()} CPU cores; sabaq at {url}")

        nbgrader_seconds = time_nbgrader_autograde(reference)
        expected = {key: (value or 0.0) if key[2] == "penalty" else value
                    for key, value in gradebook_scores(reference).items()}

        rehearsal = Rehearsal(url, admin_password, out=lambda *_: None)
        admin = opened.enter_context(rehearsal.api(rehearsal.login("admin", admin_password)))
        course = rehearsal.new_course(admin, "bench", "Benchmark", "en")
        rehearsal.release(admin, course, reference / "source" / ASSIGNMENT)
        clients = {}
        for student in uploads:  # accounts and logins are set up before the clock starts
            login = f"b{course[-10:]}-{student}"
            password = rehearsal.add_student(admin, course, login, student, "B")
            clients[login] = (student, opened.enter_context(rehearsal.api(rehearsal.login(login, password))))

        def upload(login: str) -> None:
            student, client = clients[login]
            files = [("files", (name, body, "application/x-ipynb+json")) for name, body in uploads[student].items()]
            client.post(f"api/v1/courses/{course}/assignments/{ASSIGNMENT}/submissions", files=files)

        start = time.time()  # the clock the service dates grades with: the same machine's
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(upload, clients))
        uploaded = time.time() - start
        graded = _wait_graded(admin, course, set(clients), time.monotonic() + timeout)
        # the last grade's own time, not when a poll saw it: polling often enough for that
        # would take the service's time from the workers it measures
        sabaq_seconds = max(_seconds(s["grade"]["graded_at"]) for s in graded.values()) - start if graded else inf
        # the checks (the teacher's warnings) are handed out after the grades: seen by a poll
        checked = _wait_checked(admin, course, set(clients), time.monotonic() + timeout) - start

        ours = {}
        for submission in graded.values():
            ours.update(_service_scores(submission, clients[submission["student"]][0]))
        equal = len(graded) == len(clients) and ours == expected
        result = {
            "notebooks": notebooks,
            "graded": len(graded),
            "nbgrader_per_second": notebooks / nbgrader_seconds,
            "sabaq_per_second": notebooks / sabaq_seconds,
            "ratio": nbgrader_seconds / sabaq_seconds,
            "scores_equal": equal,
            "checks_seconds": checked,
        }
        out(f"nbgrader autograde: {nbgrader_seconds:7.2f} s  {result['nbgrader_per_second']:7.2f} notebooks/s")
        out(f"sabaq service:      {sabaq_seconds:7.2f} s  {result['sabaq_per_second']:7.2f} notebooks/s"
            f"  (first upload to last grade; the uploads took {uploaded:.2f} s)")
        out(f"checks (a teacher's warnings, handed out after the grades): all seen by a poll {checked:.1f} s "
            "after the first upload")
        if len(graded) < len(clients):
            out(f"NOT GRADED within {timeout:g} s: {len(clients) - len(graded)} of {len(clients)} submissions")
        out(f"ratio: {result['ratio']:.1f}x nbgrader's throughput; scores equal: {'yes' if equal else 'NO'}")
        for key in sorted(set(ours) | set(expected), key=str)[:200]:
            if ours.get(key) != expected.get(key):
                out(f"  {' '.join(map(str, key))}: nbgrader {expected.get(key)}, sabaq {ours.get(key)}")
        return result
    finally:
        opened.close()
        if keep is None:
            shutil.rmtree(base, ignore_errors=True)


def _seconds(when: str) -> float:
    """Seconds since the epoch of the service's ISO time (UTC when it names no offset)."""
    moment = dt.datetime.fromisoformat(when)
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp()


def _latest(admin: ServiceClient, course: str) -> list[dict]:
    return admin.json("GET", f"api/v1/courses/{course}/assignments/{ASSIGNMENT}/submissions",
                      params={"latest": "true"})


def _wait_checked(admin: ServiceClient, course: str, logins: set[str], deadline: float) -> float:
    """The time (since the epoch) a poll first saw every submission's check (inf: not by the deadline)."""
    while time.monotonic() < deadline:
        if {s["student"] for s in _latest(admin, course) if s["check"] is not None} >= logins:
            return time.time()
        time.sleep(0.5)
    return inf


def _wait_graded(admin: ServiceClient, course: str, logins: set[str], deadline: float) -> dict[str, dict]:
    """login -> the newest submission with its grade, once every one is graded (or at the deadline)."""
    graded: dict[str, dict] = {}
    while time.monotonic() < deadline:
        graded = {s["student"]: s for s in _latest(admin, course) if s["grade"] and s["grade"]["status"] in DONE}
        if set(graded) >= logins:
            break
        time.sleep(1.0)  # a light poll: the service shares the cores with the workers
    return graded
