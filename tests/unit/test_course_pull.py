"""A teacher's course folders in her server (issue 16): on Kubernetes `sabaq course pull`, run
as the pod starts, writes what the local spawner writes on one machine (one code path,
sabaq.coursefolders): `<course>/nbgrader_config.py` with the course id and time zone, and the
assignments' sources, asked of the service with the server's own token. A student's token
gets no sources, so her pull writes nothing (the attack). The time zone makes nbgrader's
formgrader take 18:00 typed in Almaty as 18:00 +05 (13:00 UTC), not +0000.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from service_app import USER_HEADER, Site, notebook

from sabaq.coursefolders import course_config, course_folder, first_course_config, pull
from sabaq.hub.jupyterhub.serverconfig import nbgrader_config
from sabaq.hub.jupyterhub.spawner import SabaqSpawner
from sabaq.hub.service.app import PREFIX

SERVICE_URL = f"http://sabaq{PREFIX}/"
TOKENS = {"token-of-aigul": "aigul", "token-of-bota": "bota", "token-of-aliya": "aliya"}


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def site(tmp_path, monkeypatch):
    """The service in-process: aigul teaches "alg8" (Asia/Almaty, "hw1" and "hw2") and assists in
    "geo8" (Asia/Aqtobe); bota teaches "phys8", which aigul has no part in; aliya is a student of
    alg8. Every httpx.Client reaches this service, as the person whose hub token it sends."""
    from sabaq.hub.domain import accounts, courses
    from sabaq.hub.domain import assignments as asg
    from sabaq.hub.store.models import Role, utcnow

    (tmp_path / "service").mkdir()
    s = Site(tmp_path / "service")
    with s.sessions() as db:
        aigul, bota, aliya = (accounts.create_user(db, login) for login in ("aigul", "bota", "aliya"))
        alg8 = courses.create_course(db, "alg8", "Алгебра 8")
        geo8 = courses.create_course(db, "geo8", "Геометрия 8")
        courses.change_settings(geo8, timezone="Asia/Aqtobe")
        phys8 = courses.create_course(db, "phys8", "Физика 8")
        courses.set_member(db, alg8, aigul, Role.teacher)
        courses.set_member(db, geo8, aigul, Role.assistant)
        courses.set_member(db, phys8, bota, Role.teacher)
        courses.set_member(db, alg8, aliya, Role.student)
        asg.release(db, alg8, "hw1", {"hw.ipynb": notebook()}, {"hw.ipynb": notebook(5), "data/x.csv": b"1,2\n"},
                    now=utcnow())
        asg.release(db, alg8, "hw2", {"hw.ipynb": notebook()}, {"hw.ipynb": notebook(7)}, now=utcnow())
        asg.release(db, geo8, "g1", {"g.ipynb": notebook()}, {"g.ipynb": notebook(2)}, now=utcnow())
        asg.release(db, phys8, "p1", {"p.ipynb": notebook()}, {"p.ipynb": notebook(9)}, now=utcnow())
        db.commit()

    def client(headers=None, **kwargs):
        """The hub's answer about the token, as the service's test double reads it."""
        login = TOKENS.get((headers or {}).get("Authorization", "").removeprefix("token "), "")
        return TestClient(s.app, base_url="http://sabaq", headers={**(headers or {}), USER_HEADER: login})

    monkeypatch.setattr("sabaq.client.httpx.Client", client)
    return s


def service_as(login: str):
    from sabaq.client import ServiceClient

    return ServiceClient(SERVICE_URL, f"token-of-{login}", retries=0)


def run_pull(home: Path, login: str, monkeypatch) -> int:
    """`sabaq course pull` in the login's server: the environment the pod gives it."""
    from sabaq.cli import main

    monkeypatch.setenv("SABAQ_SERVICE_URL", SERVICE_URL)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", f"token-of-{login}")
    monkeypatch.setenv("HOME", str(home))
    home.mkdir(parents=True, exist_ok=True)
    return main(["course", "pull"])


def test_a_teacher_gets_a_folder_for_each_course_she_teaches(site, tmp_path, monkeypatch):
    home = tmp_path / "aigul"
    assert run_pull(home, "aigul", monkeypatch) == 0
    files = tree(home)
    assert sorted(files) == [".jupyter/nbgrader_config.py", "alg8/nbgrader_config.py", "alg8/source/hw1/data/x.csv", "alg8/source/hw1/hw.ipynb",
                             "alg8/source/hw2/hw.ipynb", "geo8/nbgrader_config.py", "geo8/source/g1/g.ipynb"]
    assert files["alg8/source/hw1/hw.ipynb"] == notebook(5)  # the source, not the students' release
    assert files["alg8/source/hw1/data/x.csv"] == b"1,2\n"
    assert files["geo8/source/g1/g.ipynb"] == notebook(2)
    assert files["alg8/nbgrader_config.py"].decode() == course_config("alg8", "Asia/Almaty")
    assert files["geo8/nbgrader_config.py"].decode() == course_config("geo8", "Asia/Aqtobe")
    assert "c.CourseDirectory.course_id = 'alg8'" in files["alg8/nbgrader_config.py"].decode()
    assert "c.NbGraderAPI.timezone = 'Asia/Aqtobe'" in files["geo8/nbgrader_config.py"].decode()


def test_her_edits_of_a_source_stay_and_the_configuration_follows_the_course(site, tmp_path, monkeypatch):
    from sabaq.hub.domain import courses

    home = tmp_path / "aigul"
    run_pull(home, "aigul", monkeypatch)
    mine = home / "alg8" / "source" / "hw1" / "hw.ipynb"
    mine.write_bytes(b"her own version")
    with site.sessions() as db:
        courses.change_settings(courses.get_course(db, "alg8"), timezone="Asia/Aqtobe")
        db.commit()
    assert run_pull(home, "aigul", monkeypatch) == 0
    assert mine.read_bytes() == b"her own version"
    assert "c.NbGraderAPI.timezone = 'Asia/Aqtobe'" in (home / "alg8" / "nbgrader_config.py").read_text()


def test_the_pod_and_the_local_spawner_write_the_same_folders(site, tmp_path):
    """One code path: the spawner, reading sabaq's database, writes what the pod's pull writes."""
    pulled = tmp_path / "pulled"
    pulled.mkdir()
    with service_as("aigul") as client:
        pull(pulled, client)
    spawner = SabaqSpawner(isolate=False, home_root=str(tmp_path / "homes"),
                           sabaq_db_url=site.settings.database_url)
    spawner.user = SimpleNamespace(name="aigul", groups=[SimpleNamespace(name=g)
                                                         for g in ("formgrade-alg8", "formgrade-geo8")])
    home = Path(spawner._prepare_home())
    pod = tree(pulled)
    mine = pod.pop(".jupyter/nbgrader_config.py").decode()
    spawned = {path: content for path, content in tree(home).items() if path.startswith(("alg8/", "geo8/"))}
    assert spawned == pod
    assert spawned["alg8/nbgrader_config.py"].decode() == course_config("alg8", "Asia/Almaty")
    # the formgrader JupyterLab's menu opens (no ?path=) reads ~/.jupyter's: the first course, in its zone;
    # the pod's image has the rest of the spawner's text (the exchange) in etc/jupyter
    local = (home / ".jupyter" / "nbgrader_config.py").read_text()
    assert local == nbgrader_config("alg8", str(home / "alg8"), "Asia/Almaty")
    assert local.endswith(first_course_config("alg8", str(home / "alg8"), "Asia/Almaty"))
    assert mine.endswith(first_course_config("alg8", str(pulled / "alg8"), "Asia/Almaty"))
    assert "c.NbGraderAPI.timezone = 'Asia/Almaty'" in mine


def test_a_student_gets_no_course_folder(site, tmp_path, monkeypatch):
    """The attack: aliya runs `sabaq course pull` in her server (or asks for the sources
    herself, with her server's token). The sources route refuses her; nothing is written."""
    home = tmp_path / "aliya"
    assert run_pull(home, "aliya", monkeypatch) == 0
    assert tree(home) == {}
    with service_as("aliya") as client:
        refused = client.request("GET", "api/v1/courses/alg8/assignments/hw1/source", ok=(200, 403))
        assert refused.status_code == 403
        assert client.request("GET", "api/v1/courses/phys8/assignments/p1/source", ok=(200, 403, 404)).status_code in (
            403, 404)
    with service_as("aigul") as client:  # a teacher of one course gets no other's
        assert client.request("GET", "api/v1/courses/phys8/assignments/p1/source",
                              ok=(200, 403, 404)).status_code in (403, 404)
    # the control: the same call with her teacher's token is answered
    with service_as("aigul") as client:
        assert client.get("api/v1/courses/alg8/assignments/hw1/source").status_code == 200


def formgrader_api(course: Path):
    """nbgrader's API over a course folder with the configuration the formgrader loads when
    opened as `formgrader?path=<course>` (its config folder is the course's, no other)."""
    from nbgrader.apps import NbGrader, NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    app = NbGrader()
    app.load_cwd_config = False
    app.config_dir = str(course)
    app.load_config_file()
    config = app.config
    config.CourseDirectory.root = str(course)
    return NbGraderAPI(CourseDirectory(config=config), config=config)


def add_assignment(api, name: str, typed: str) -> dict:
    """The formgrader's *Add assignment*: the modal (manage_assignments.js) sends the typed
    datetime-local and the offset it offers, the one nbgrader's API gives; the formgrader's own
    handler (AssignmentHandler.put, its login and XSRF checks unwrapped) stores it."""
    from nbgrader.server_extensions.formgrader.apihandlers import AssignmentHandler

    offered = api.get_assignment(name)["duedate_timezone"]
    answered = []
    with api.gradebook as gb:
        handler = SimpleNamespace(
            get_json_body=lambda: {"duedate_notimezone": typed, "duedate_timezone": offered},
            gradebook=gb, coursedir=api.coursedir, api=api, write=answered.append)
        inspect.unwrap(AssignmentHandler.put)(handler, name)
    return json.loads(answered[0])


@pytest.fixture
def course_folder_at(tmp_path, monkeypatch):
    """A course folder as course_folder writes it, in the given time zone (none: "")."""
    from sabaq.autograders.notebook.gradebook import alembic_head

    # nbgrader runs `alembic heads` as a command for each gradebook it opens: the same answer, read once
    monkeypatch.setattr("nbgrader.api.get_alembic_version", alembic_head)

    def write(time_zone: str) -> Path:
        root = tmp_path / time_zone.replace("/", "-") / "alg8"
        for rel, content, _ in course_folder("alg8", time_zone, {"hw3/hw.ipynb": notebook()}):
            (root.parent / rel).parent.mkdir(parents=True, exist_ok=True)
            (root.parent / rel).write_bytes(content)
        return root

    return write


def test_a_due_date_typed_at_18_in_almaty_is_18_in_almaty(course_folder_at):
    api = formgrader_api(course_folder_at("Asia/Almaty"))
    assert api.course_id == "alg8"
    assert api.get_assignment("hw3")["duedate_timezone"] == "+0500"  # the modal's offer, not +0000
    shown = add_assignment(api, "hw3", "2026-12-10T18:00")
    with api.gradebook as gb:
        assert gb.find_assignment("hw3").duedate == dt.datetime(2026, 12, 10, 13, 0)  # nbgrader keeps UTC
    assert shown["duedate_notimezone"] == "2026-12-10T18:00:00"  # the teacher reads back what she typed
    assert shown["display_duedate"].startswith("2026-12-10 18:00:00")


def test_without_the_course_time_zone_nbgrader_takes_utc(course_folder_at):
    """The control: nbgrader's own default, the bug of issue 16 (18:00 stored as 18:00 UTC,
    23:00 in Almaty)."""
    api = formgrader_api(course_folder_at(""))
    assert api.get_assignment("hw3")["duedate_timezone"] == "+0000"
    add_assignment(api, "hw3", "2026-12-10T18:00")
    with api.gradebook as gb:
        assert gb.find_assignment("hw3").duedate == dt.datetime(2026, 12, 10, 18, 0)
