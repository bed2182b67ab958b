"""Every API route, called by everyone who must not use it: denied, and nothing changes.

Callers: anonymous, a student of the course (not the owner), a student of another
course, a teacher of another course, a parent of another child; the owner (or the
staff the route is for) must succeed, so a denial is never a broken route.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import text

pytestmark = pytest.mark.e2e
NOTEBOOK = (Path(__file__).resolve().parents[1] / "courses/demo/source/ps1/motion.ipynb").read_bytes()
TABLES = ("users", "courses", "memberships", "guardians", "assignments", "assignment_files",
          "submission_files", "feedback", "student_rules", "manual_grades", "comments")  # blobs: the worker adds graded notebooks


def snapshot(stack) -> dict:
    """Digests of every row that a call could change, per table."""
    out = {}
    with stack.sessions()() as db:
        for table in TABLES:
            digest = hashlib.sha256()
            for row in db.execute(text(f"SELECT * FROM {table} ORDER BY 1")):
                digest.update(repr(tuple(row)).encode())
            out[table] = digest.hexdigest()
        digest = hashlib.sha256()
        # the worker fills in checks and job states on its own time; those may change
        for row in db.execute(text(
            "SELECT id, assignment_id, student_id, attempt, submitted_at, late, secret FROM submissions ORDER BY id"
        )):
            digest.update(repr(tuple(row)).encode())
        for row in db.execute(text("SELECT id, key FROM jobs ORDER BY id")):
            digest.update(repr(tuple(row)).encode())
        out["submissions, jobs"] = digest.hexdigest()
    return out


@pytest.fixture(scope="module")
def people(stack):
    """A second course with its own teacher, student and parent; an assignment and
    a submission of aliya's (the owner) in the demo course."""
    admin = stack.api("admin")
    assert admin.post("/courses", json={"id": "other", "title": "Other"}).status_code == 201
    for login in ("teacher2", "student2", "parent2"):
        r = admin.post("/users", json={"login": login, "full_name": login, "password": "pass-" + login})
        assert r.status_code == 201, r.text
    assert admin.put("/courses/other/members/teacher2", json={"role": "teacher"}).status_code == 200
    assert admin.put("/courses/other/members/student2", json={"role": "student"}).status_code == 200
    assert admin.post("/users/parent2/children", json={"child": "student2"}).status_code == 201
    tokens = {name: stack.token(name) for name in ("aliya", "timur", "teacher", "assistant", "parent", "admin")}
    tokens.update({name: stack.token(name, password="pass-" + name) for name in ("teacher2", "student2", "parent2")})
    r = stack.api(token=tokens["aliya"]).post(
        "/courses/demo/assignments/ps1/submissions", files=[("files", ("motion.ipynb", NOTEBOOK, "x"))])
    assert r.status_code == 201, r.text
    return tokens, r.json()["id"]


OUTSIDERS = ["anonymous", "student2", "teacher2", "parent2"]


def routes(sub: int):
    """(method, path, kwargs, allowed callers, denied callers)."""
    release = {"files": [("release", ("motion.ipynb", NOTEBOOK, "x"))]}
    submit = {"files": [("files", ("motion.ipynb", NOTEBOOK, "x"))]}
    roster = {"files": [("file", ("r.csv", "full_name\nЖаңа Оқушы\n".encode(), "text/csv"))]}
    feedback = {"files": [("files", ("motion.html", b"<p>ok</p>", "text/html"))]}
    return [
        ("GET", "/me", {}, ["aliya", "parent2"], ["anonymous"]),
        ("GET", "/courses/demo", {}, ["aliya", "teacher"], OUTSIDERS + ["parent"]),
        ("GET", "/courses/demo/members", {}, ["teacher", "assistant"], OUTSIDERS + ["aliya", "parent"]),
        ("PUT", "/courses/demo/members/student2", {"json": {"role": "student"}}, ["teacher"],
         OUTSIDERS + ["aliya", "assistant", "parent"]),
        ("DELETE", "/courses/demo/members/student2", {}, ["teacher"], OUTSIDERS + ["aliya", "assistant", "parent"]),
        ("POST", "/courses/demo/roster", roster, ["teacher"], OUTSIDERS + ["aliya", "assistant", "parent"]),
        ("GET", "/courses/demo/assignments", {}, ["aliya", "teacher"], OUTSIDERS + ["parent"]),
        ("PUT", "/courses/demo/assignments/authz", release, ["teacher"], OUTSIDERS + ["aliya", "assistant", "parent"]),
        ("DELETE", "/courses/demo/assignments/authz/release", {}, ["teacher"],
         OUTSIDERS + ["aliya", "assistant", "parent"]),
        ("GET", "/courses/demo/assignments/ps1", {}, ["aliya", "teacher"], OUTSIDERS + ["parent"]),
        ("GET", "/courses/demo/assignments/ps1/download", {}, ["aliya", "teacher"], OUTSIDERS + ["parent"]),
        ("GET", "/courses/demo/assignments/ps1/source", {}, ["teacher", "assistant"],
         OUTSIDERS + ["aliya", "timur", "parent"]),
        ("POST", "/courses/demo/assignments/ps1/submissions", submit, ["timur"],
         OUTSIDERS + ["teacher", "assistant", "parent"]),
        ("GET", "/courses/demo/assignments/ps1/submissions", {}, ["aliya", "teacher"], OUTSIDERS + ["parent"]),
        ("GET", f"/submissions/{sub}", {}, ["aliya", "parent", "teacher", "assistant"], OUTSIDERS + ["timur"]),
        ("GET", f"/submissions/{sub}/download", {}, ["aliya", "parent", "teacher"], OUTSIDERS + ["timur"]),
        ("PUT", f"/submissions/{sub}/feedback", feedback, ["teacher", "assistant"],
         OUTSIDERS + ["aliya", "timur", "parent"]),
        ("GET", f"/submissions/{sub}/feedback", {}, ["aliya", "parent", "teacher"], OUTSIDERS + ["timur"]),
        ("GET", "/students/aliya/submissions", {}, ["aliya", "parent", "teacher"], OUTSIDERS + ["timur"]),
        ("GET", "/users", {}, ["admin"], OUTSIDERS + ["aliya", "teacher", "parent"]),
        ("POST", "/users", {"json": {"login": "intruder", "password": "long-enough-1"}}, [],
         OUTSIDERS + ["aliya", "teacher", "parent"]),
        ("POST", "/users/parent2/children", {"json": {"child": "aliya"}}, [],
         OUTSIDERS + ["aliya", "teacher", "parent", "parent2"]),
        ("POST", "/courses", {"json": {"id": "rogue", "title": "Rogue"}}, [],
         OUTSIDERS + ["aliya", "teacher", "parent"]),
        ("PATCH", "/me", {"json": {"language": "ru"}}, [], ["anonymous"]),
        ("POST", "/courses/demo/assignments/ps1/regrade", {}, ["teacher", "assistant"],
         OUTSIDERS + ["aliya", "parent"]),
        ("PATCH", "/courses/demo", {"json": {"daily_load_minutes": 0}}, ["teacher"],
         OUTSIDERS + ["aliya", "assistant", "parent"]),
        ("PATCH", "/courses/demo/assignments/ps1", {"json": {"category": "formative"}}, ["teacher"],
         OUTSIDERS + ["aliya", "assistant", "parent"]),
        ("GET", "/courses/demo/gradebook", {}, ["teacher", "assistant"], OUTSIDERS + ["aliya", "parent"]),
        ("GET", "/courses/demo/export.csv", {}, ["teacher"], OUTSIDERS + ["aliya", "parent"]),
        ("GET", "/courses/demo/export.xlsx", {}, ["assistant"], OUTSIDERS + ["aliya", "parent"]),
        ("PUT", "/courses/demo/assignments/ps1/students/aliya", {"json": {"extension_minutes": 0}},
         ["teacher"], OUTSIDERS + ["aliya", "timur", "parent"]),
        ("PUT", f"/submissions/{sub}/grades", {"json": {"notebook": "motion", "grade_id": "why_zero", "score": 1}},
         [], OUTSIDERS + ["aliya", "timur", "parent"]),
        ("PUT", f"/submissions/{sub}/comments", {"json": {"text": "ok"}}, ["teacher", "assistant"],
         OUTSIDERS + ["aliya", "timur", "parent"]),
        ("POST", "/courses/demo/assignments/ps1/paper", {"json": {"student": "timur", "score": 1}}, [],
         OUTSIDERS + ["aliya", "timur", "parent"]),
        ("POST", f"/submissions/{sub}/release-feedback", {}, [], OUTSIDERS + ["aliya", "timur", "parent"]),
        ("POST", "/courses/demo/assignments/ps1/release-feedback", {}, [], OUTSIDERS + ["aliya", "parent"]),
        ("GET", "/students/aliya/grades", {}, ["aliya", "parent", "teacher"], OUTSIDERS + ["timur"]),
        ("GET", f"/submissions/{sub}/feedback/motion.html", {}, [], OUTSIDERS + ["timur"]),
        ("GET", f"/submissions/{sub}/verdict", {}, [], OUTSIDERS + ["timur"]),  # ps1 is no task: 422 for owners
        ("GET", "/courses/demo/contest", {}, ["teacher", "assistant"], OUTSIDERS + ["aliya", "parent"]),
        ("PUT", "/courses/demo/tasks/authz-task", {"files": [("files", ("problem.yaml", b"name: x", "x"))]}, [],
         OUTSIDERS + ["aliya", "assistant", "parent"]),
        ("PUT", "/courses/demo/lessons/authz-lesson", {"files": [("files", ("lesson.toml", b"id = 1", "x"))]}, [],
         OUTSIDERS + ["aliya", "assistant", "parent"]),
        ("GET", "/courses/demo/lessons", {}, ["aliya", "teacher"], OUTSIDERS + ["parent"]),
        ("GET", "/me/lessons.zip", {}, ["aliya", "parent2"], ["anonymous"]),
        ("GET", "/me/lessons/demo/projectile-motion.zip", {}, ["aliya", "teacher"], OUTSIDERS + ["parent"]),
        ("POST", "/lessons/attempts", {"json": {"course": "demo", "lesson": "projectile-motion", "exercise": "q1",
                                                "correct": False}}, ["aliya"], OUTSIDERS + ["teacher", "parent"]),
        ("GET", "/courses/demo/lessons/projectile-motion/stats", {}, ["teacher", "assistant"],
         OUTSIDERS + ["aliya", "parent"]),
        ("POST", "/worker/claim", {"json": {}}, [], OUTSIDERS + ["aliya", "teacher", "admin"]),
        ("POST", "/worker/jobs/1/renew", {"json": {}}, [], OUTSIDERS + ["aliya", "teacher", "admin"]),
        ("POST", "/worker/complete-many", {"json": {"reports": [{"job_id": 1, "result": {}}]}}, [],
         OUTSIDERS + ["aliya", "teacher", "admin"]),
        ("GET", f"/worker/grading/{sub}", {}, [], OUTSIDERS + ["aliya", "teacher", "admin"]),
        ("GET", f"/worker/submissions/{sub}", {}, [], OUTSIDERS + ["aliya", "teacher", "admin"]),
    ]


def call(stack, tokens, who, method, path, kwargs):
    client = stack.api(token=tokens[who]) if who != "anonymous" else stack.api()
    return client.request(method, path, **kwargs)


def test_every_route_denies_everyone_it_is_not_for(stack, people):
    tokens, sub = people
    for method, path, kwargs, allowed, denied in routes(sub):
        for who in denied:
            before = snapshot(stack)
            r = call(stack, tokens, who, method, path, kwargs)
            assert r.status_code in (401, 403, 404), (method, path, who, r.status_code, r.text)
            assert r.json().get("message"), (method, path, who)
            after = snapshot(stack)
            changed = [t for t in before if before[t] != after[t]]
            assert not changed, (method, path, who, "changed", changed)
        for who in allowed:
            r = call(stack, tokens, who, method, path, kwargs)
            assert 200 <= r.status_code < 300, (method, path, who, r.status_code, r.text)


def test_lists_show_only_ones_own(stack, people):
    tokens, sub = people
    aliya = stack.api(token=tokens["aliya"])
    mine = aliya.get("/courses/demo/assignments/ps1/submissions").json()
    assert mine and {s["student"] for s in mine} == {"aliya"}
    assert [c["id"] for c in stack.api(token=tokens["student2"]).get("/courses").json()] == ["other"]
    parent = stack.api(token=tokens["parent"]).get("/me").json()
    assert parent["children"] == ["aliya"] and parent["courses"] == []
    # a teacher of another course sees nothing of aliya even by id
    assert stack.api(token=tokens["teacher2"]).get("/students/aliya/submissions").status_code == 403
    # staff see everyone's
    everyone = stack.api(token=tokens["teacher"]).get("/courses/demo/assignments/ps1/submissions").json()
    assert "aliya" in {s["student"] for s in everyone}


def test_pages_refuse_outsiders(stack, people):
    tokens, _ = people
    page = stack.api(token=tokens["student2"])
    r = page.get(stack.service_url + "courses/demo", headers={"accept": "text/html"})
    assert r.status_code == 403 and "Ask its teacher to add you" in r.text
    r = stack.api(token=tokens["parent2"]).get(stack.service_url + "students/aliya", headers={"accept": "text/html"})
    assert r.status_code == 403
    r = stack.api(token=tokens["parent"]).get(stack.service_url + "students/aliya", headers={"accept": "text/html"})
    assert r.status_code == 200 and "Әлия Нұрланқызы" in r.text


def test_a_teacher_of_another_course_cannot_take_over_accounts_through_a_roster_import(stack, people):
    """The confirmed exploit of issue 14: teacher2 imports into her own course a roster with
    rows for the admin (a new password, name and email), aliya (another course's student)
    and herself and a new account as aliya's parents. The import answers, but reports each
    row as not applied and changes nothing."""
    tokens, _ = people
    attack = "Attack-pass-9"
    roster = (
        "login,full_name,email,password,role,parent_of\n"
        f"admin,Hacked,evil@example.com,{attack},student,\n"
        f"aliya,Hacked,evil@example.com,{attack},student,\n"
        "teacher2,teacher2,,,parent,aliya\n"
        f"spy,Spy,,{attack},parent,aliya\n"
    ).encode()
    before = snapshot(stack)
    r = stack.api(token=tokens["teacher2"]).post(
        "/courses/other/roster", files=[("file", ("r.csv", roster, "text/csv"))])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["created"] == [] and body["updated"] == [], body
    assert len(body["warnings"]) == 5 and all(w["message"] for w in body["warnings"]), body["warnings"]
    after = snapshot(stack)
    assert [t for t in before if before[t] != after[t]] == []
    # the admin's password still works and the attacker's does not; the same for aliya
    stack.browser("admin").close()
    stack.browser("aliya").close()
    for who in ("admin", "aliya", "spy"):
        with pytest.raises(AssertionError, match="login of"):
            stack.browser(who, attack)
    me = stack.api(token=tokens["admin"]).get("/me").json()
    assert me["admin"] and me["full_name"] != "Hacked"
    assert stack.api(token=tokens["teacher2"]).get("/students/aliya/submissions").status_code == 403
    assert stack.api(token=tokens["teacher2"]).get("/me").json()["children"] == []
