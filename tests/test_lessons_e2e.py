"""End to end: a published lesson reaches a student's server in her language, her
self-checks reach the teacher's success rates, and an update keeps her edits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
LESSON = Path(__file__).resolve().parents[1] / "courses" / "lessons" / "physics" / "projectile-motion"

STUDENT_CODE = """
import json, os, subprocess
folder = os.path.expanduser("~/lessons/demo/projectile-motion")
out = {"files": sorted(os.listdir(folder)), "owner": os.stat(folder).st_uid == os.getuid()}
from sabaq.lessons import Lesson
lesson = Lesson(folder=folder)
out["lang"] = lesson.lang
w = lesson.check("q2")
for answer in ("3 s", "1,5 s"):
    w.input.value = answer
    w.button.click()
out["feedback"] = w.feedback.value
out["attempts"] = w.attempts
out["sent"] = lesson.reporter.flush(10)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def lena(stack):
    """A student of her own (other tests change the demo students' languages): she reads Russian."""
    admin = stack.api("admin")
    assert admin.post("/users", json={"login": "lena", "full_name": "Лена", "password": "pass-lena-1",
                                      "language": "ru"}).status_code == 201
    assert admin.put("/courses/demo/members/lena", json={"role": "student"}).status_code == 200
    stack.token("lena", password="pass-lena-1")  # logging in starts her server
    stack.start_server("lena")
    return "lena"


def test_lesson_reaches_the_student_and_her_checks_reach_the_teacher(stack, lena):
    out = json.loads(stack.run_code(lena, STUDENT_CODE).strip().splitlines()[-1])
    # her language and nothing in clear: answers are encoded
    lang = "ru"
    notebooks = [f for f in out["files"] if f.endswith(".ipynb")]
    assert notebooks == [f"projectile-motion.{lang}.ipynb"]
    assert "exercises.dat" in out["files"] and "exercises.toml" not in out["files"]
    assert out["owner"] and out["lang"] == lang and out["attempts"] == 2 and out["sent"]
    assert {"kk": "Дұрыс", "ru": "Верно", "en": "Correct"}[lang] in out["feedback"]

    stats = stack.api("teacher").get("/courses/demo/lessons/projectile-motion/stats").json()
    q2 = next(r for r in stats["exercises"] if r["exercise"] == "q2")
    assert q2["tried"] >= 1 and q2["solved"] >= 1 and q2["attempts"] >= 2
    page = stack.api("teacher").get(stack.service_url + "courses/demo/lessons/projectile-motion",
                                    headers={"accept": "text/html"})
    assert page.status_code == 200 and 'data-exercise="q2"' in page.text
    # attempts cannot be made up for a lesson or course one is not in
    bad = stack.api(lena).post("/lessons/attempts", json={"course": "demo", "lesson": "projectile-motion",
                                                              "exercise": "nosuch", "correct": True})
    assert bad.status_code == 422 and bad.json()["message"]
    assert stack.api("teacher").post("/lessons/attempts", json={
        "course": "demo", "lesson": "projectile-motion", "exercise": "q1", "correct": True}).status_code == 403


def test_teacher_updates_a_lesson_and_the_students_edits_stay(stack, lena):
    home = "os.path.expanduser('~/lessons/demo/projectile-motion')"
    notebook = "projectile-motion.ru.ipynb"
    stack.run_code(lena, f"import os\nopen(os.path.join({home}, {notebook!r}), 'a').write(' ')\n")
    files = [("files", (str(p.relative_to(LESSON)), p.read_bytes(), "application/octet-stream"))
             for p in sorted(LESSON.rglob("*")) if p.is_file()]
    toml = next(i for i, f in enumerate(files) if f[1][0] == "lesson.toml")
    name, content, kind = files[toml][1]
    files[toml] = ("files", (name, content + b"\n# updated by the teacher\n", kind))
    r = stack.api("teacher").put("/courses/demo/lessons/projectile-motion", files=files)
    assert r.status_code == 200, r.text
    assert r.json()["version"] >= 2
    pulled = stack.run_code(lena, f"""
import os, subprocess, sys
r = subprocess.run([sys.executable, "-m", "sabaq", "lesson", "pull"], capture_output=True, text=True)
print(r.returncode, r.stdout.strip(), r.stderr.strip()[-300:])
print(open(os.path.join({home}, "lesson.toml")).read().endswith("# updated by the teacher\\n"))
print(open(os.path.join({home}, {notebook!r})).read().endswith(" "))
""")
    lines = pulled.strip().splitlines()
    assert lines[0].startswith("0 ") and "ваши правки сохранены в 1" in lines[0], pulled  # in her Russian
    assert lines[1:] == ["True", "True"], pulled
