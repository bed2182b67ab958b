"""End to end: the real hub, proxy, service and worker, driven as users and servers would."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange import ExchangeFactory
from sqlalchemy import func, select
from traitlets.config import Config

from sabaq.archive import unpack
from sabaq.hub.store.models import Assignment, Job, JobState, StudentRule, Submission, User
from sabaq.paths import with_venv_path

pytestmark = pytest.mark.e2e
DEMO_SOURCE = Path(__file__).resolve().parents[1] / "courses" / "demo" / "source" / "ps1"


def wait_for(check, timeout=30, interval=0.3):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def test_demo_course_is_seeded_and_mirrored_into_hub_groups(stack):
    assert set(stack.logins) == {"admin", "teacher", "assistant", "aliya", "timur", "sofia", "parent"}
    hub = stack.hub_api(stack.token("admin"))
    members = stack.api("teacher").get("/courses/demo/members").json()
    students = {m["login"] for m in members if m["role"] == "student"}
    staff = {m["login"] for m in members if m["role"] != "student"}
    assert {"aliya", "timur", "sofia"} <= students and staff == {"teacher", "assistant"}

    def groups():
        found = {g["name"]: set(g["users"]) for g in hub.get("/groups").json()}
        return found if found.get("nbgrader-demo") == students else None

    found = wait_for(groups)
    assert found, stack.log_tail()
    assert found["formgrade-demo"] == staff
    assert "parent" in found["sabaq-parents"] and not found["sabaq-parents"] & students
    assert "admin" in found["sabaq-admins"]
    assert hub.get("/users/admin").json()["admin"] is True


def test_wrong_password_is_refused(stack):
    with pytest.raises(AssertionError):
        stack.browser("aliya", password="wrong-password")


def test_user_created_through_hub_api_is_known_to_sabaq(stack):
    hub = stack.hub_api(stack.token("admin"))
    assert hub.post("/users/newkid").status_code == 201
    r = hub.post("/users/newkid/tokens", json={"note": "test"})
    token = r.json()["token"]
    me = stack.api(token=token).get("/me")
    assert me.status_code == 200, me.text
    assert me.json()["name"] == "newkid" and me.json()["courses"] == []
    with stack.sessions()() as db:
        assert db.scalar(select(User).where(User.name == "newkid")) is not None


def exchange(monkeypatch, stack, who: str, root: Path, course: str = "demo", **coursedir):
    """nbgrader's exchange as a user's server builds it: config, env token and service URL."""
    monkeypatch.setenv("SABAQ_SERVICE_URL", stack.service_url)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", stack.token(who))
    monkeypatch.setenv("SABAQ_LANG", "en")
    config = Config()
    names = {"exchange": "SabaqExchange", "fetch_assignment": "SabaqFetchAssignment",
             "fetch_feedback": "SabaqFetchFeedback", "release_assignment": "SabaqReleaseAssignment",
             "release_feedback": "SabaqReleaseFeedback", "list": "SabaqList", "submit": "SabaqSubmit",
             "collect": "SabaqCollect"}
    for trait, cls in names.items():
        setattr(config.ExchangeFactory, trait, f"sabaq.hub.exchange.{cls}")
    config.Exchange.assignment_dir = str(root)
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.course_id = course
    for key, value in coursedir.items():
        setattr(config.CourseDirectory, key, value)
    factory = ExchangeFactory(config=config)

    def make(kind, **traits):
        cd = CourseDirectory(config=config)
        obj = getattr(factory, kind)(coursedir=cd, authenticator=Authenticator(config=config), config=config)
        for k, v in traits.items():
            setattr(obj, k, v)
        return obj

    return make


def generate(course_dir: Path, name: str) -> None:
    (course_dir / "source" / name).mkdir(parents=True, exist_ok=True)
    for nb in DEMO_SOURCE.glob("*.ipynb"):
        (course_dir / "source" / name / nb.name).write_bytes(nb.read_bytes())
    (course_dir / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.course_id = 'demo'\nc.CourseDirectory.root = {str(course_dir)!r}\n")
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", name, "--force"],
                   cwd=course_dir, check=True, capture_output=True,
                   env=dict(os.environ, PATH=with_venv_path(os.environ["PATH"])))


def submissions(stack, student: str, assignment: str) -> list[Submission]:
    with stack.sessions()() as db:
        q = (select(Submission).join(User, User.id == Submission.student_id)
             .where(User.name == student).order_by(Submission.attempt))
        return [s for s in db.scalars(q) if s.assignment.name == assignment]


def test_class_cycle_through_the_exchange_plugin(stack, tmp_path, monkeypatch):
    teacher_dir, student_dir = tmp_path / "teacher", tmp_path / "aliya"
    student_dir.mkdir()
    generate(teacher_dir, "ps2")

    # teacher releases with nbgrader's ReleaseAssignment through the plugin
    teacher = exchange(monkeypatch, stack, "teacher", teacher_dir, assignment_id="ps2")
    teacher("ReleaseAssignment").start()
    with pytest.raises(Exception, match="already released"):
        teacher("ReleaseAssignment").start()

    # the student lists and fetches; the release has no solutions or hidden tests
    student = exchange(monkeypatch, stack, "aliya", student_dir, course="")
    listed = student("List").start()
    ps2 = [a for a in listed if a["assignment_id"] == "ps2"][0]
    assert ps2["status"] == "released" and ps2["course_id"] == "demo"
    student = exchange(monkeypatch, stack, "aliya", student_dir, assignment_id="ps2")
    student("FetchAssignment").start()
    fetched = student_dir / "demo" / "ps2" / "motion.ipynb"
    text = fetched.read_text()
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text and "speed(0, 5)" not in text
    assert student("List").start()[0]["status"] == "fetched"

    # two attempts, both kept
    nb = nbformat.read(fetched, as_version=4)
    nb.cells[1].source = "def speed(s, t):\n    return s / t"
    nbformat.write(nb, fetched)
    student("Submit").start()
    nb.cells[1].source = "def speed(s, t):\n    if t <= 0:\n        raise ValueError\n    return s / t"
    nbformat.write(nb, fetched)
    student("Submit").start()
    subs = submissions(stack, "aliya", "ps2")
    assert [s.attempt for s in subs] == [1, 2]
    # each upload carried its own key, which a repeat of it would carry again
    assert len({s.request_key for s in subs}) == 2 and all(len(s.request_key) == 32 for s in subs)
    cached = student("List", cached=True).start()
    assert [len(a["submissions"]) for a in cached if a["assignment_id"] == "ps2"] == [2]

    # the worker checks each submission
    def checked():
        with stack.sessions()() as db:
            return db.scalar(select(func.count()).select_from(Job).where(
                Job.state == JobState.done, Job.key.in_([f"check:{s.id}" for s in subs]))) == 2
    assert wait_for(checked, timeout=60), stack.log_tail()
    assert submissions(stack, "aliya", "ps2")[1].check["warnings"] == []

    # the teacher collects the newest attempt
    teacher = exchange(monkeypatch, stack, "teacher", teacher_dir, assignment_id="ps2")
    teacher("Collect", update=True).start()
    collected = teacher_dir / "submitted" / "aliya" / "ps2"
    assert "raise ValueError" in (collected / "motion.ipynb").read_text()
    stamp = (collected / "timestamp.txt").read_text()
    assert stamp == cached[-1]["submissions"][-1]["timestamp"] if cached else True

    # feedback goes back to exactly that submission
    feedback = teacher_dir / "feedback" / "aliya" / "ps2"
    feedback.mkdir(parents=True)
    (feedback / "motion.html").write_text("<p>Жақсы! 4/4</p>", encoding="utf-8")
    (feedback / "timestamp.txt").write_text(stamp)
    teacher("ReleaseFeedback").start()
    student = exchange(monkeypatch, stack, "aliya", student_dir, assignment_id="ps2")
    student("FetchFeedback").start()
    fetched_feedback = student_dir / "demo" / "ps2" / "feedback" / stamp / "motion.html"
    assert fetched_feedback.read_text(encoding="utf-8") == "<p>Жақсы! 4/4</p>"
    cached = [a for a in student("List", cached=True).start() if a["assignment_id"] == "ps2"][0]
    assert cached["submissions"][-1]["has_local_feedback"] is True
    assert cached["submissions"][0]["has_exchange_feedback"] is False

    # the student can never get the source
    assert stack.api("aliya").get("/courses/demo/assignments/ps2/source").status_code == 403
    source = stack.api("teacher").get("/courses/demo/assignments/ps2/source")
    assert source.status_code == 200 and b"HIDDEN TESTS" in unpack(source.content)["motion.ipynb"]


def test_a_timed_assignment_is_fetched_once_the_student_starts_it_on_its_page(stack, tmp_path, monkeypatch):
    """nbgrader's Assignments panel cannot ask "start the clock now?": its fetch of a timed
    assignment fails with a message that says what starting means and where the Start
    button is; the student presses it on sabaq's page (a form with the session's CSRF
    token), and the same fetch then works. A fetch alone never starts the clock (issue 14)."""
    teacher = stack.api("teacher")
    nb = (DEMO_SOURCE / "motion.ipynb").read_bytes()
    r = teacher.put("/courses/demo/assignments/timed", files=[("release", ("motion.ipynb", nb, "x"))],
                    data={"due": "2099-05-01 18:00"})
    assert r.status_code == 200, r.text
    assert teacher.patch("/courses/demo/assignments/timed", json={"timed_minutes": 45}).status_code == 200
    page = stack.service_url + "courses/demo/assignments/timed"

    student_dir = tmp_path / "aliya"
    student_dir.mkdir()
    student = exchange(monkeypatch, stack, "aliya", student_dir, assignment_id="timed")
    with pytest.raises(Exception) as refused:
        student("FetchAssignment").start()
    message = str(refused.value)
    assert "45 minutes" in message and page in message and "press Start" in message, message
    assert not (student_dir / "demo" / "timed").exists()
    with stack.sessions()() as db:
        assert db.scalar(select(func.count()).select_from(StudentRule).where(StudentRule.opened_at.is_not(None))
                         .join(User, User.id == StudentRule.student_id).where(User.name == "aliya")
                         .join(Assignment, Assignment.id == StudentRule.assignment_id)
                         .where(Assignment.name == "timed")) == 0

    # the page the message names, in aliya's browser: the Start button, then the time left
    browser = stack.browser("aliya")
    shown = browser.get(page, headers={"accept": "text/html"})
    assert shown.status_code == 200 and 'id="start"' in shown.text, shown.text[-2000:]
    csrf = re.search(r'name="_csrf" value="([^"]+)"', shown.text).group(1)
    started = browser.post(page + "/start", data={"_csrf": csrf}, headers={"accept": "text/html"})
    assert started.status_code == 200 and 'id="start"' not in started.text and 'class="remaining"' in started.text

    student("FetchAssignment").start()
    assert (student_dir / "demo" / "timed" / "motion.ipynb").exists()
    again = stack.api("aliya").post("/courses/demo/assignments/timed/start").json()
    assert again["minutes"] == 45 and again["ends_at"] > again["started_at"]


def test_release_from_the_command_line(stack, tmp_path):
    src = tmp_path / "lab3"
    src.mkdir()
    (src / "motion.ipynb").write_bytes((DEMO_SOURCE / "motion.ipynb").read_bytes())
    out = subprocess.run(
        [sys.executable, "-m", "sabaq", "assignment", "release", "demo", str(src),
         "--due", "2030-05-01 18:00", "--data", str(stack.data_dir)],
        capture_output=True, text=True, env=stack.env,
    )
    assert out.returncode == 0, out.stderr
    items = {a["name"]: a for a in stack.api("timur").get("/courses/demo/assignments").json()}
    assert items["lab3"]["due_at"].startswith("2030-05-01T13:00")  # 18:00 in Almaty
    bad = subprocess.run(
        [sys.executable, "-m", "sabaq", "assignment", "release", "nosuch", str(src), "--data", str(stack.data_dir)],
        capture_output=True, text=True, env={**stack.env, "SABAQ_LANG": "ru"},
    )
    assert bad.returncode == 2 and "Курса «nosuch» нет" in bad.stderr


def _count_submissions(stack) -> int:
    with stack.sessions()() as db:
        return db.scalar(select(func.count()).select_from(Submission))


def _ps1_files(content: bytes = None) -> list:
    nb = content or (Path(__file__).resolve().parents[1] / "courses/demo/source/ps1/motion.ipynb").read_bytes()
    return [("files", ("motion.ipynb", nb, "application/x-ipynb+json"))]


def test_bad_input_gets_a_clear_message_in_the_users_language_and_changes_nothing(stack):
    timur = stack.api("timur")
    assert timur.patch("/me", json={"language": "ru"}).json()["language"] == "ru"
    before = _count_submissions(stack)

    r = timur.post("/courses/demo/assignments/ps1/submissions", files=_ps1_files(b'{"cells": [1, 2'))
    assert r.status_code == 422 and r.json()["error"] == "bad_notebook"
    assert "Блокнот «motion.ipynb» повреждён" in r.json()["message"]

    r = timur.post("/courses/demo/assignments/ps1/submissions",
                   files=_ps1_files() + [("files", ("big.bin", b"0" * (3 * 1024 * 1024), "application/octet-stream"))])
    assert r.status_code == 413 and "предел — 2 МБ" in r.json()["message"]

    r = timur.post("/courses/nosuch/assignments/ps1/submissions", files=_ps1_files())
    assert r.status_code == 404 and "Курса «nosuch» нет" in r.json()["message"]

    r = timur.post("/courses/demo/assignments/nosuch/submissions", files=_ps1_files())
    assert r.status_code == 404 and "нет задания «nosuch»" in r.json()["message"]

    r = timur.post("/courses/demo/assignments/ps1/submissions", files=[("files", ("../../x.ipynb", b"{}", "x"))])
    assert r.status_code == 422

    # an assignment that has closed refuses submissions; Kazakh for a Kazakh profile
    teacher = stack.api("teacher")
    r = teacher.put("/courses/demo/assignments/closed1",
                    files=[("release", ("motion.ipynb", _ps1_files()[0][1][1], "x"))],
                    data={"due": "2020-01-01 10:00", "closes": "2020-01-02 10:00"})
    assert r.status_code == 200, r.text
    sofia = stack.api("sofia")
    sofia.patch("/me", json={"language": "kk"})
    r = sofia.post("/courses/demo/assignments/closed1/submissions", files=_ps1_files())
    assert r.status_code == 403 and r.json()["error"] == "closed"
    assert "тапсырмасы" in r.json()["message"] and "жабылды" in r.json()["message"]

    # a token that has expired, and one that never existed
    short = stack.token("timur", expires_in=1)
    time.sleep(2.5)
    r = stack.api(token=short).post("/courses/demo/assignments/ps1/submissions", files=_ps1_files())
    assert r.status_code == 401 and r.json()["error"] == "expired"
    r = stack.api(token="not-a-token").get("/me")
    assert r.status_code == 401

    assert _count_submissions(stack) == before
    # and a good submission still goes through, acknowledged only once stored
    r = timur.post("/courses/demo/assignments/ps1/submissions", files=_ps1_files())
    assert r.status_code == 201
    assert _count_submissions(stack) == before + 1
    with stack.sessions()() as db:
        stored = db.get(Submission, r.json()["id"])
        assert stored.student.name == "timur" and [f.path for f in stored.files] == ["motion.ipynb"]


def test_students_code_cannot_read_other_students_or_sabaq(stack):
    for name in ("timur", "aliya"):
        stack.start_server(name)
    timur_home = Path(stack.homes) / stack.system_user("timur")
    secret_file = timur_home / "secret-answers.txt"
    secret_file.write_text("42")
    pw = __import__("pwd").getpwnam(stack.system_user("timur"))
    os.chown(secret_file, pw.pw_uid, pw.pw_gid)
    targets = {
        "other_home_file": str(secret_file),
        "other_home_dir": str(timur_home),
        "database": str(stack.data_dir / "sabaq.sqlite"),
        "secrets": str(stack.data_dir / "secrets.json"),
        "hub_database": str(stack.data_dir / "hub" / "jupyterhub.sqlite"),
        "shadow": "/etc/shadow",
    }
    for path in targets.values():
        assert Path(path).exists(), path
    secrets_values = [v for table in json.loads((stack.data_dir / "secrets.json").read_text()).values()
                      for v in table.values()]
    code = f"""
import json, os, pwd
targets = {targets!r}
out = {{"uid": os.getuid(), "user": pwd.getpwuid(os.getuid()).pw_name, "home": os.path.expanduser("~")}}
for key, path in targets.items():
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            open(path, "rb").read(1)
        out[key] = "READ"
    except PermissionError:
        out[key] = "denied"
out["env"] = dict(os.environ)
print(json.dumps(out))
"""
    printed = stack.run_code("aliya", code)
    result = json.loads(printed.strip().splitlines()[-1])
    assert result["uid"] != 0
    assert result["user"] == stack.system_user("aliya")
    assert result["home"] == str(Path(stack.homes) / stack.system_user("aliya"))
    for key in targets:
        assert result[key] == "denied", (key, result[key])
    env_text = json.dumps(result["env"])
    for value in secrets_values:
        assert value not in env_text
    assert result["env"]["SABAQ_SERVICE_URL"].endswith("/services/sabaq/")
    # her own home is private to her
    assert (Path(stack.homes) / stack.system_user("aliya")).stat().st_mode & 0o777 == 0o700


def test_teacher_releases_from_the_formgrader_in_their_own_server(stack):
    """The teacher's JupyterLab has the course folder with the demo source; nbgrader's
    formgrader generates and releases through the plugin, with its due date."""
    stack.start_server("teacher")
    token = stack.token("teacher")
    lab = stack.hub_api(token)
    lab.base_url = f"{stack.url}/user/teacher"
    listing = lab.get("/api/contents/demo/source/ps1").json()
    assert [f["name"] for f in listing["content"]] == ["motion.ipynb"]
    r = lab.put("/formgrader/api/assignment/hw7",
                json={"duedate_notimezone": "2031-03-04T09:00", "duedate_timezone": "+0500"})
    assert r.status_code == 200, r.text
    nb = json.loads((DEMO_SOURCE / "motion.ipynb").read_text())
    r = lab.put("/api/contents/demo/source/hw7/motion.ipynb", json={"type": "notebook", "format": "json", "content": nb})
    assert r.status_code == 201, r.text
    r = lab.post("/formgrader/api/assignment/hw7/assign")
    assert r.json()["success"], r.text
    r = lab.post("/formgrader/api/assignment/hw7/release")
    assert r.json()["success"], r.text
    hw7 = stack.api("aliya").get("/courses/demo/assignments/hw7").json()
    assert hw7["due_at"].startswith("2031-03-04T04:00") and hw7["notebooks"] == ["motion.ipynb"]
    # a student's server has no formgrader at all
    stack.start_server("aliya")
    student_lab = stack.hub_api(stack.token("aliya"))
    student_lab.base_url = f"{stack.url}/user/aliya"
    assert student_lab.get("/formgrader/api/assignments").status_code == 404


def test_openapi_document_describes_the_api(stack):
    doc = stack.api().get(stack.service_url + "api/openapi.json").json()
    paths = doc["paths"]
    assert "/services/sabaq/api/v1/courses/{course_id}/assignments/{name}/submissions" in paths
    assert "/services/sabaq/api/v1/worker/claim" in paths
    assert doc["info"]["title"] == "sabaq"


def test_links_planted_in_a_home_do_not_let_the_spawner_overwrite_other_files(stack, tmp_path):
    """The hub writes each user's Jupyter settings as root at every start: a student who
    replaces them with links to other files must not get those files overwritten."""
    victim = Path("/tmp") / f"sabaq-victim-{os.getpid()}"
    victim.write_text("untouched")
    home = Path(stack.homes) / stack.system_user("timur")
    try:
        stack.start_server("timur")
        stack.run_code("timur", f"""
import os
for name in ("nbgrader_config.py", "jupyter_server_config.json"):
    path = os.path.expanduser("~/.jupyter/" + name)
    os.remove(path)
    os.symlink({str(victim)!r}, path)
""")
        hub = stack.hub_api(stack.token("timur"))
        assert hub.delete("/users/timur/server").status_code in (202, 204)
        assert wait_for(lambda: not hub.get("/users/timur").json()["servers"], timeout=60)
        stack.start_server("timur")
        assert victim.read_text() == "untouched"
        assert (home / ".jupyter" / "nbgrader_config.py").is_symlink()  # left alone, not followed
    finally:
        victim.unlink()
        for name in ("nbgrader_config.py", "jupyter_server_config.json"):
            link = home / ".jupyter" / name
            if link.is_symlink():
                link.unlink()
