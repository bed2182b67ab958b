"""End to end: a coach publishes an olympiad task, a student solves it in her own
server's kernel (samples, submit, verdict), the worker judges, the best score
reaches the gradebook and the coach's contest page."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sabaq.archive import unpack

pytestmark = pytest.mark.e2e

WRONG = "a, b = map(int, input().split())\nprint(a - b)\n"
RIGHT = "a, b = map(int, input().split())\nprint(a + b)\n"

# Runs in aliya's kernel, as her system user, with her server's token and service URL.
STUDENT_CODE = """
import io, json, os, tempfile, zipfile, httpx
from sabaq.lessons.olympiad import check_samples, submit
api = os.environ["SABAQ_SERVICE_URL"].rstrip("/") + "/api/v1/"
headers = {{"Authorization": "token " + os.environ["JUPYTERHUB_API_TOKEN"]}}
folder = tempfile.mkdtemp()
archive = httpx.get(api + "courses/demo/assignments/sum2/download", headers=headers).content
zipfile.ZipFile(io.BytesIO(archive)).extractall(folder)
out = {{"files": sorted(os.listdir(folder))}}
out["notebook"] = json.load(open(os.path.join(folder, "sum2.ipynb")))
results = []
for source in {sources!r}:
    open(os.path.join(folder, "solution.py"), "w").write(source)
    samples = check_samples(folder, show=False)
    verdict = submit(folder, wait_seconds=90, show=False)
    results.append({{"samples": samples, "verdict": verdict}})
out["results"] = results
print(json.dumps(out))
"""


def _publish(stack, tmp_path) -> None:
    env = stack.env
    made = subprocess.run([sys.executable, "-m", "sabaq", "task", "new", "sum2", "--parent", str(tmp_path)],
                          capture_output=True, text=True, env=env)
    assert made.returncode == 0, made.stderr
    published = subprocess.run([sys.executable, "-m", "sabaq", "task", "publish", str(tmp_path / "sum2"),
                                "--course", "demo", "--data", str(stack.data_dir)],
                               capture_output=True, text=True, env=env)
    assert published.returncode == 0, published.stderr
    assert "published demo/sum2" in published.stdout and "100 points" in published.stdout


def test_student_solves_a_task_in_her_notebook_and_the_coach_sees_the_contest(stack, tmp_path):
    _publish(stack, tmp_path)
    before = stack.api("aliya").get("/me").json()["language"]
    stack.api("aliya").patch("/me", json={"language": "kk"})
    try:
        stack.start_server("aliya")
        printed = stack.run_code("aliya", STUDENT_CODE.format(sources=[WRONG, RIGHT]), timeout=300)
    finally:
        stack.api("aliya").patch("/me", json={"language": before or "en"})
    out = json.loads(printed.strip().splitlines()[-1])

    # she fetched her language's notebook, the samples and nothing secret
    assert "sum2.ipynb" in out["files"] and "samples" in out["files"] and "task.json" in out["files"]
    assert "i18n" not in out["files"] and "data" not in out["files"]
    nb = out["notebook"]
    assert nb["metadata"]["sabaq"]["language"] == "kk"
    text = json.dumps(nb, ensure_ascii=False)
    assert "Екі санның қосындысы" in text
    assert any("solution" in c["metadata"].get("tags", []) for c in nb["cells"])

    wrong, right = out["results"]
    assert wrong["verdict"].get("status") == "graded", wrong
    assert [s["verdict"] for s in wrong["samples"]] == ["WA"]
    assert [s["verdict"] for s in right["samples"]] == ["AC"]
    assert wrong["verdict"]["status"] == "graded" and wrong["verdict"]["verdict"] == "WA"
    assert wrong["verdict"]["score"] == 0
    assert right["verdict"]["verdict"] == "AC" and right["verdict"]["score"] == 100
    assert right["verdict"]["best"] == 100
    # a message about a secret test could give its answer away: students see none
    for group in wrong["verdict"]["judge"]["groups"]:
        if not group["sample"]:
            assert all(t["message"] == "" for t in group["tests"])

    # the coach sees everything, the contest table and the gradebook count the best score
    subs = stack.api("teacher").get("/courses/demo/assignments/sum2/submissions").json()
    mine = [s for s in subs if s["student"] == "aliya"]
    assert [s["attempt"] for s in mine] == [1, 2]
    staff_view = stack.api("teacher").get(f"/submissions/{mine[0]['id']}/verdict").json()
    assert any(t["message"] for g in staff_view["judge"]["groups"] for t in g["tests"] if t["verdict"] == "WA")
    contest = stack.api("teacher").get("/courses/demo/contest").json()
    row = next(r for r in contest["rows"] if r["student"] == "aliya")
    cell = next(c for c in row["cells"] if c["task"] == "sum2")
    assert cell["best"] == 100 and cell["verdict"] == "AC" and cell["attempts"] == 2
    page = stack.api("teacher").get(stack.service_url + "courses/demo/contest", headers={"accept": "text/html"})
    assert page.status_code == 200 and 'data-student="aliya"' in page.text and ">AC<" in page.text
    refused = stack.api("aliya").get(stack.service_url + "courses/demo/contest", headers={"accept": "text/html"})
    assert refused.status_code == 403
    gradebook = stack.api("teacher").get("/courses/demo/gradebook").json()
    student_row = next(r for r in gradebook["rows"] if r["student"] == "aliya")
    assert next(m for m in student_row["marks"] if m["assignment"] == "sum2")["score"] == 100

    # her parent may read the verdict; another student, the source and the contest are closed to her
    assert stack.api("parent").get(f"/submissions/{mine[1]['id']}/verdict").status_code == 200
    assert stack.api("timur").get(f"/submissions/{mine[1]['id']}/verdict").status_code == 403
    assert stack.api("aliya").get("/courses/demo/assignments/sum2/source").status_code == 403
    assert stack.api("aliya").get("/courses/demo/contest").status_code == 403
    source = unpack(stack.api("teacher").get("/courses/demo/assignments/sum2/source").content)
    assert any(p.startswith("data/secret/") for p in source)


def test_coach_publishes_a_package_through_the_api(stack, tmp_path):
    made = subprocess.run([sys.executable, "-m", "sabaq", "task", "new", "sum3", "--parent", str(tmp_path)],
                          capture_output=True, text=True, env=stack.env)
    assert made.returncode == 0, made.stderr
    root = tmp_path / "sum3"
    files = [("files", (str(p.relative_to(root)), p.read_bytes(), "application/octet-stream"))
             for p in sorted(root.rglob("*")) if p.is_file()]
    teacher = stack.api("teacher")
    r = teacher.put("/courses/demo/tasks/sum3", files=files, data={"title": "Sum"})
    assert r.status_code == 200, r.text
    assert r.json()["notebooks"] == ["sum3.ipynb"] and r.json()["title"] == "Sum"
    source = unpack(teacher.get("/courses/demo/assignments/sum3/source").content)
    assert "problem.yaml" in source and len([p for p in source if p.startswith("data/secret/")]) >= 8
    assert not any(p.startswith("submissions/") for p in source)  # the coach's solutions stay with the coach

    broken = teacher.put("/courses/demo/tasks/sum4", files=[("files", ("problem.yaml", b"name: x\n", "x"))],
                         headers={"accept-language": "ru"})
    assert broken.status_code == 422 and "data/secret/*.in" in broken.json()["message"]
    assert "секретных тестов" in broken.json()["message"]  # the package's problem in the coach's language
    assert teacher.get("/courses/demo/assignments/sum4").status_code == 404


def test_a_teacher_publishes_from_a_terminal_in_her_own_server(stack):
    """In JupyterLab there is no database: `sabaq task publish` and `sabaq lesson publish` use the API."""
    # her language, Kazakh (the demo school's): another test on this stack may have changed it and
    # started her server in it
    assert stack.api("teacher").patch("/me", json={"language": "kk"}).status_code == 200
    stack.stop_server("teacher")
    stack.start_server("teacher")
    printed = stack.run_code("teacher", """
import os, shutil, subprocess, sys, tempfile
import sabaq.courses
work = tempfile.mkdtemp()
def run(*args):
    r = subprocess.run([sys.executable, "-m", "sabaq", *args], capture_output=True, text=True)
    print(r.returncode, (r.stdout + r.stderr).strip().replace("\\n", " | "))
run("task", "new", "sum5", "--parent", work)
run("task", "publish", os.path.join(work, "sum5"), "--course", "demo", "--title", "Sum five")
lesson = os.path.join(work, "ohms-law")
shutil.copytree(os.path.join(os.path.dirname(sabaq.courses.__file__), "lessons", "physics", "ohms-law"), lesson)
run("lesson", "publish", "demo", lesson)
run("task", "publish", os.path.join(work, "sum5"), "--course", "nosuch")
""", timeout=300)
    lines = printed.strip().splitlines()
    # her server speaks her language, the commands in it too
    assert lines[1].startswith("0 demo/sum5 жарияланды"), printed
    assert lines[2].startswith("0 demo/ohms-law жарияланды"), printed
    assert lines[3].startswith("2 sabaq: ") and "nosuch" in lines[3], printed
    task = stack.api("teacher").get("/courses/demo/assignments/sum5").json()
    assert task["title"] == "Sum five"
    assert "ohms-law" in [x["name"] for x in stack.api("teacher").get("/courses/demo/lessons").json()]


def test_the_coach_orders_the_contest_and_its_page_refreshes_from_staff_only_json(stack, tmp_path):
    """Two tasks published through the API: listed by name until the coach orders them, then in
    her order on the page and in the JSON the open page polls (with its no-script refresh link).
    The attack: a student of another course (and one of this course) asks for that JSON and the
    page, and tries to set the order: refused, and the order stays."""
    teacher, admin = stack.api("teacher"), stack.api("admin")
    for name in ("ordb", "orda"):
        made = subprocess.run([sys.executable, "-m", "sabaq", "task", "new", name, "--parent", str(tmp_path)],
                              capture_output=True, text=True, env=stack.env)
        assert made.returncode == 0, made.stderr
        root = tmp_path / name
        files = [("files", (str(p.relative_to(root)), p.read_bytes(), "application/octet-stream"))
                 for p in sorted(root.rglob("*")) if p.is_file()]
        assert teacher.put(f"/courses/demo/tasks/{name}", files=files).status_code == 200
    listed = teacher.get("/courses/demo/contest").json()["tasks"]
    assert listed.index("orda") < listed.index("ordb")
    ordered = teacher.put("/courses/demo/contest/order", json={"tasks": ["ordb", "orda"]})
    assert ordered.status_code == 200 and ordered.json()["tasks"][:2] == ["ordb", "orda"]
    assert teacher.get("/courses/demo/contest").json()["tasks"][:2] == ["ordb", "orda"]
    page = teacher.get(stack.service_url + "courses/demo/contest", headers={"accept": "text/html"}).text
    assert page.index('data-task="ordb"') < page.index('data-task="orda"')
    assert "/api/v1/courses/demo/contest" in page and 'id="contest-refresh"' in page

    assert admin.post("/courses", json={"id": "elsewhere", "title": "Elsewhere"}).status_code == 201
    assert admin.post("/users", json={"login": "outsider", "full_name": "Outsider",
                                      "password": "pass-outsider"}).status_code == 201
    assert admin.put("/courses/elsewhere/members/outsider", json={"role": "student"}).status_code == 200
    for student in (stack.api(token=stack.token("outsider", password="pass-outsider")), stack.api("aliya")):
        assert student.get("/courses/demo/contest").status_code in (403, 404)
        assert student.get(stack.service_url + "courses/demo/contest",
                           headers={"accept": "text/html"}).status_code in (403, 404)
        assert student.put("/courses/demo/contest/order", json={"tasks": ["orda"]}).status_code in (403, 404)
    assert teacher.get("/courses/demo/contest").json()["tasks"][:2] == ["ordb", "orda"]
