"""The gradebook through the running service: grading by hand, feedback to the student,
what parents see, exports, charts, printing, time rules."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import nbformat
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.grading]
SOURCE = Path(__file__).resolve().parents[1] / "courses" / "demo" / "source" / "ps1" / "motion.ipynb"
CORRECT = "def speed(s, t):\n    if t <= 0:\n        raise ValueError\n    return s / t"


def wait_for(check, timeout=180, interval=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    return None


def graded_submission(stack, student: str) -> int:
    nb = nbformat.read(SOURCE, as_version=4)
    nb.cells[1].source = CORRECT
    r = stack.api(student).post("/courses/demo/assignments/ps1/submissions",
                                files=[("files", ("motion.ipynb", nbformat.writes(nb).encode(), "x"))])
    assert r.status_code == 201, r.text
    sid = r.json()["id"]

    def graded():
        for s in stack.api("teacher").get("/courses/demo/assignments/ps1/submissions").json():
            if s["id"] == sid and s["grade"]:
                return s["grade"]
    assert wait_for(graded), stack.log_tail()
    return sid


@pytest.fixture(scope="module")
def submission(stack):
    return graded_submission(stack, "aliya")


def test_teacher_grades_by_hand_and_releases_feedback(stack, submission):
    teacher = stack.api("teacher")
    book = teacher.get("/courses/demo/gradebook").json()
    mark = next(m for r in book["rows"] if r["student"] == "aliya" for m in r["marks"] if m["assignment"] == "ps1")
    assert mark["status"] == "needs_manual" and mark["score"] == 3.0
    assert teacher.put(f"/submissions/{submission}/grades",
                       json={"notebook": "motion", "grade_id": "why_zero", "score": 1}).status_code == 200
    bad = teacher.put(f"/submissions/{submission}/grades", json={"notebook": "motion", "grade_id": "why_zero", "score": 7})
    assert bad.status_code == 422
    teacher.put(f"/submissions/{submission}/comments",
                json={"notebook": "motion", "grade_id": "test_speed", "text": "Жарайсың! Тексеріс дұрыс."})
    teacher.put(f"/submissions/{submission}/comments", json={"text": "Өте жақсы жұмыс."})
    # a student sees no score before the feedback is released
    before = stack.api("aliya").get("/students/aliya/grades").json()
    ps1 = next(i for c in before["courses"] for i in c["assignments"] if i["assignment"] == "ps1")
    assert ps1["score"] is None and ps1["feedback"] == []
    assert stack.api("aliya").post(f"/submissions/{submission}/release-feedback").status_code == 403
    released = teacher.post(f"/submissions/{submission}/release-feedback")
    assert released.status_code == 200 and released.json()["notebooks"] == ["motion"]

    after = stack.api("aliya").get("/students/aliya/grades").json()
    ps1 = next(i for c in after["courses"] for i in c["assignments"] if i["assignment"] == "ps1")
    assert ps1["score"] == 4.0 and ps1["max_score"] == 4.0 and ps1["feedback"] == ["motion"]
    page = stack.api("aliya").get(f"/submissions/{submission}/feedback/motion.html")
    assert page.status_code == 200
    text = page.text
    assert "Жарайсың! Тексеріс дұрыс." in text and "Өте жақсы жұмыс." in text
    assert "speed(0, 5)" not in text and "HIDDEN" not in text  # hidden tests never shown
    assert "default-src 'none'" in page.headers["content-security-policy"]
    # her parent sees the same; a stranger parent and another student do not
    parent = stack.api("parent").get("/students/aliya/grades").json()
    assert next(i for c in parent["courses"] for i in c["assignments"] if i["assignment"] == "ps1")["score"] == 4.0
    assert stack.api("timur").get("/students/aliya/grades").status_code == 403
    assert stack.api("timur").get(f"/submissions/{submission}/feedback/motion.html").status_code == 403


def test_exports_charts_and_printing_are_for_staff(stack, submission):
    teacher, aliya = stack.api("teacher"), stack.api("aliya")
    csv = teacher.get("/courses/demo/export.csv")
    assert csv.status_code == 200 and csv.content.startswith("\ufeff".encode())
    assert "Әлия Нұрланқызы" in csv.content.decode("utf-8-sig")
    xlsx = teacher.get("/courses/demo/export.xlsx")
    from openpyxl import load_workbook

    rows = [[c.value for c in r] for r in load_workbook(io.BytesIO(xlsx.content)).active.iter_rows()]
    assert any(r[1] == "Әлия Нұрланқызы" for r in rows)
    assert aliya.get("/courses/demo/export.csv").status_code == 403
    base = stack.service_url + "courses/demo/assignments/ps1/"
    for picture in ("distribution.png", "questions.png"):
        r = teacher.get(base + picture)
        assert r.status_code == 200 and r.content.startswith(b"\x89PNG")
        assert aliya.get(base + picture).status_code == 403
    pdf = teacher.get(base + "print.pdf", timeout=120)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert b"speed(0, 5)" not in pdf.content


def a_minute_passes(stack, student: str, assignment: str) -> None:
    """As if a minute and a second had passed since she started her clock: its start moved back in
    the database (the service compares it with the time of each request) instead of a test's sleep."""
    import datetime as dt

    from sqlalchemy import select

    from sabaq.hub.store.models import Assignment, Course, StudentRule, User

    with stack.sessions()() as db:
        rule = db.scalars(select(StudentRule).join(Assignment, Assignment.id == StudentRule.assignment_id)
                          .join(Course, Course.id == Assignment.course_id)
                          .join(User, User.id == StudentRule.student_id)
                          .where(User.name == student, Assignment.name == assignment, Course.slug == "demo")).one()
        rule.opened_at -= dt.timedelta(seconds=61)
        db.commit()


def test_time_rules_through_the_api(stack):
    teacher = stack.api("teacher")
    nb = SOURCE.read_bytes()
    assert teacher.patch("/courses/demo", json={"min_notice_hours": 12, "daily_load_minutes": 30}).status_code == 200
    soon = teacher.put("/courses/demo/assignments/quick", files=[("release", ("motion.ipynb", nb, "x"))],
                       data={"due": "2000-01-01 10:00"})
    assert soon.status_code == 422 and "12" in soon.json()["message"]
    ok = teacher.put("/courses/demo/assignments/quiz", files=[("release", ("motion.ipynb", nb, "x")),
                                                               ("source", ("motion.ipynb", nb, "x"))],
                     data={"due": "2099-05-01 18:00"})
    assert ok.status_code == 200, ok.text
    r = teacher.patch("/courses/demo/assignments/quiz", json={"timed_minutes": 1, "estimated_minutes": 40,
                                                              "category": "unit_summative"})
    assert r.status_code == 200 and r.json()["warnings"] and "2099-05-01" in r.json()["warnings"][0]
    teacher.patch("/courses/demo", json={"min_notice_hours": 0, "daily_load_minutes": 0})
    # a student's clock starts when she starts it (a POST), never at a fetch (issue 14: the first
    # fetch used to start it), and the service enforces it
    sofia = stack.api("sofia")
    unstarted = sofia.get("/courses/demo/assignments/quiz/download")
    assert unstarted.status_code == 409 and unstarted.json()["error"] == "not_started"
    assert sofia.post("/courses/demo/assignments/quiz/start").status_code == 200
    assert sofia.get("/courses/demo/assignments/quiz/download").status_code == 200
    grades = sofia.get("/students/sofia/grades").json()
    quiz = next(i for c in grades["courses"] for i in c["assignments"] if i["assignment"] == "quiz")
    assert quiz["timed_minutes"] == 1 and 0 < quiz["remaining_seconds"] <= 60
    a_minute_passes(stack, "sofia", "quiz")
    late = sofia.post("/courses/demo/assignments/quiz/submissions", files=[("files", ("motion.ipynb", nb, "x"))])
    assert late.status_code == 403 and late.json()["error"] == "time_up"


def test_demo_class_rehearses_a_whole_cycle(stack):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "sabaq", "demo", "class", "--students", "4",
                          "--data", str(stack.data_dir), "--timeout", "240"],
                         capture_output=True, text=True, env=stack.env, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "submitted: 4" in out.stdout and "graded: 4" in out.stdout
    assert "feedback files fetched: 4" in out.stdout and "every submission was stored and graded" in out.stdout
    scores = [line.split()[-3] for line in out.stdout.splitlines() if "/ 4" in line]
    assert sorted(scores) == ["0", "0", "2", "3"]  # the four kinds of answers


def test_bench_service_grades_a_deadline_like_nbgrader(stack):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "sabaq", "bench", "service", "--copies", "1",
                          "--data", str(stack.data_dir), "--timeout", "240"],
                         capture_output=True, text=True, env=stack.env, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("class: 15 notebooks from 8 students")
    assert any(line.startswith("nbgrader autograde:") and "notebooks/s" in line for line in lines)
    assert any(line.startswith("sabaq service:") and "notebooks/s" in line for line in lines)
    ratio = next(line for line in lines if line.startswith("ratio:"))
    assert ratio.endswith("scores equal: yes") and float(ratio.split()[1].rstrip("x")) > 0
    checks = next(line for line in lines if line.startswith("checks ("))  # handed out after the grades, done too
    assert float(checks.split("poll ")[1].split()[0]) >= 0
    # its students only uploaded: nobody's server was started for them
    admin = stack.hub_api(stack.token("admin"))
    users = [u for u in admin.get("/users").json() if re.fullmatch(r"b\d{10}-[a-z]+", u["name"])]
    assert len(users) == 8 and not any(u["servers"] for u in users), users
