"""Each user's server runs the Jupyter server extensions and JupyterLab plugins of her role
(issue 16, on Kubernetes as on one machine): staff get sabaq's formgrader and nbgrader's,
students neither, nor the plugins only staff use.

The role is decided by the hub's pre-spawn hook from sabaq's database (SABAQ_ROLE), never by
what the user controls; the singleuser image's server config and the local spawner apply
the same decision (sabaq.hub.jupyterhub.serverroles). The last test is the attack: a student
who switches the formgrader on in her own server still gets nothing of anyone else's from
the service.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from test_origins import fake_spawner, settings_for
from traitlets.config import Config

from sabaq.hub.jupyterhub.hubconfig import ParentHasNoServer, spawn_policy
from sabaq.hub.jupyterhub.labsettings import SERVER_CONFIG
from sabaq.hub.jupyterhub.serverroles import STAFF, STUDENT, hidden_lab_plugins, server_extensions
from sabaq.hub.jupyterhub.spawner import SabaqSpawner

FORMGRADERS = {"nbgrader.server_extensions.formgrader", "sabaq.hub.exchange.formgrader"}
STAFF_PLUGINS = {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                 "@jupyter/nbgrader:course-list"}
ANNOUNCEMENTS = "@jupyterlab/apputils-extension:announcements"


@pytest.fixture
def school(db_url):
    """A physics teacher, an olympiad coach, an assistant, a student, a student who assists in
    another course, a parent, an administrator in no course."""
    from sabaq.hub.domain import accounts, courses
    from sabaq.hub.store.database import make_engine, make_sessionmaker, session_scope
    from sabaq.hub.store.models import Role

    engine = make_engine(db_url)
    with session_scope(make_sessionmaker(engine)) as db:
        physics = courses.create_course(db, "phys9", "Physics 9")
        olympiad = courses.create_course(db, "olymp", "Olympiad")
        child = accounts.create_user(db, "aliya")
        courses.set_member(db, physics, child, Role.student)
        courses.set_member(db, physics, accounts.create_user(db, "aigul"), Role.teacher)
        courses.set_member(db, olympiad, accounts.create_user(db, "coach"), Role.teacher)
        courses.set_member(db, physics, accounts.create_user(db, "helper"), Role.assistant)
        senior = accounts.create_user(db, "timur")
        courses.set_member(db, physics, senior, Role.student)
        courses.set_member(db, olympiad, senior, Role.assistant)
        courses.link_guardian(db, accounts.create_user(db, "nurlan"), child)
        accounts.create_user(db, "director", is_admin=True)
    engine.dispose()
    return db_url


def role_given(hook, name: str, groups=(), environment=None) -> str | None:
    spawner = fake_spawner(name, groups=groups)
    if environment is not None:
        spawner.environment = environment
    asyncio.run(hook(spawner))
    return spawner.environment.get("SABAQ_ROLE")


def test_the_hook_names_each_users_role_from_sabaqs_database(school, tmp_path):
    hook = spawn_policy(settings_for(tmp_path, database_url=school), owner_only=False)
    assert role_given(hook, "aigul") == STAFF  # a teacher
    assert role_given(hook, "coach") == STAFF  # an olympiad course's teacher
    assert role_given(hook, "helper") == STAFF  # an assistant
    assert role_given(hook, "timur") == STAFF  # a student here, an assistant there: staff somewhere
    assert role_given(hook, "aliya") == STUDENT
    assert role_given(hook, "director") == STUDENT  # an administrator teaches nothing
    assert role_given(hook, "someone-new") == STUDENT
    # the hub's groups, or a role already in the environment (the chart's, a profile's), do not decide
    assert role_given(hook, "aliya", groups=["formgrade-phys9"], environment={"SABAQ_ROLE": STAFF}) == STUDENT
    with pytest.raises(ParentHasNoServer):  # a parent gets no server at all
        role_given(hook, "nurlan")


def test_without_sabaqs_database_the_hubs_groups_name_the_role(tmp_path):
    hook = spawn_policy(settings_for(tmp_path, database_url=f"sqlite:///{tmp_path}/missing/x.sqlite"),
                        owner_only=False)
    assert role_given(hook, "aigul", groups=["formgrade-phys9", "sabaq-teachers"]) == STAFF
    assert role_given(hook, "aliya", groups=["nbgrader-phys9", "sabaq-students"]) == STUDENT


def test_the_decision_per_role():
    assert server_extensions(STAFF) == dict.fromkeys([*FORMGRADERS, "nbgrader.server_extensions.course_list"], True)
    assert server_extensions(STUDENT) == dict.fromkeys([*FORMGRADERS, "nbgrader.server_extensions.course_list"],
                                                       False)
    assert set(hidden_lab_plugins(STAFF)) == {ANNOUNCEMENTS}
    assert set(hidden_lab_plugins(STUDENT)) == {ANNOUNCEMENTS, *STAFF_PLUGINS}
    for unknown in ("", "admin", "Staff", "teacher"):  # anything but the hub's word is a student's
        assert server_extensions(unknown) == server_extensions(STUDENT)
        assert hidden_lab_plugins(unknown) == hidden_lab_plugins(STUDENT)


def local_home(tmp_path: Path, groups: list[str]) -> Path:
    """The ~/.jupyter the local spawner writes for someone of these hub groups."""
    spawner = SabaqSpawner(isolate=False, home_root=str(tmp_path / "homes"))
    spawner.user = SimpleNamespace(name="aigul", groups=[SimpleNamespace(name=g) for g in groups])
    return Path(spawner._prepare_home()) / ".jupyter"


def pod_config(home: Path, monkeypatch, **environ) -> Config:
    """What the image's jupyter_server_config.py (as printed for the Dockerfile) sets in a pod."""
    printed = subprocess.run([sys.executable, "-m", "sabaq.hub.jupyterhub.labsettings"], capture_output=True,
                             text=True, check=True).stdout
    assert printed == SERVER_CONFIG
    home.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SABAQ_ROLE", raising=False)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    c = Config()
    exec(compile(printed, "jupyter_server_config.py", "exec"), {"c": c})  # noqa: S102
    return c


@pytest.mark.parametrize("role, groups", [(STAFF, ["formgrade-phys9"]), (STUDENT, ["nbgrader-phys9"])])
def test_a_pod_and_the_local_spawner_give_the_same_extensions(tmp_path, monkeypatch, role, groups):
    """One decision, two ways of applying it: the local spawner's files in the home, and the
    image's config read in a pod with SABAQ_ROLE (its page config written in the pod's home)."""
    local = local_home(tmp_path / "local", groups)
    written = json.loads((local / "jupyter_server_config.json").read_text())["ServerApp"]["jpserver_extensions"]
    assert written == server_extensions(role)
    c = pod_config(tmp_path / "pod", monkeypatch, SABAQ_ROLE=role)
    assert c.ServerApp.jpserver_extensions.get_value({}) == server_extensions(role)
    enabled = {name for name, on in server_extensions(role).items() if on}
    assert enabled == (FORMGRADERS | {"nbgrader.server_extensions.course_list"} if role == STAFF else set())
    pod_page = tmp_path / "pod" / ".jupyter" / "labconfig" / "page_config.json"
    assert pod_page.read_bytes() == (local / "labconfig" / "page_config.json").read_bytes()
    hidden = set(json.loads(pod_page.read_text())["disabledExtensions"])
    assert (STAFF_PLUGINS <= hidden) is (role == STUDENT) and ANNOUNCEMENTS in hidden


def test_a_pod_without_a_role_is_a_students(tmp_path, monkeypatch):
    """No SABAQ_ROLE (a hub of an older sabaq, a pod started by hand): the least."""
    c = pod_config(tmp_path / "pod", monkeypatch)
    assert c.ServerApp.jpserver_extensions.get_value({}) == server_extensions(STUDENT)


# --- the attack --------------------------------------------------------------------------------


@pytest.fixture
def site(tmp_path):
    """The service in-process: course "alg8" (teacher "teacher"), students "aliya" and "timur",
    "hw1" released, and a submission of each."""
    from service_app import Site, notebook

    from sabaq.hub.domain import accounts, courses
    from sabaq.hub.domain import assignments as asg
    from sabaq.hub.store.models import Role, utcnow

    (tmp_path / "service").mkdir()
    s = Site(tmp_path / "service")
    with s.sessions() as db:
        course = courses.create_course(db, "alg8", "Алгебра 8")
        courses.set_member(db, course, accounts.create_user(db, "teacher"), Role.teacher)
        for login in ("aliya", "timur"):
            courses.set_member(db, course, accounts.create_user(db, login), Role.student)
        a = asg.release(db, course, "hw1", {"hw.ipynb": notebook()}, {"hw.ipynb": notebook()}, now=utcnow())
        asg.submit(db, a, accounts.get_user(db, "aliya"), {"hw.ipynb": notebook()})
        s.timur_submission = asg.submit(db, a, accounts.get_user(db, "timur"), {"hw.ipynb": notebook()}).id
        db.commit()
    return s


def test_a_student_who_turns_the_formgrader_on_gets_nothing_of_others(site, tmp_path, monkeypatch):
    """aliya sets SABAQ_ROLE=staff in her own server (she controls its process): its config now
    enables the formgrader. She presses its Collect (nbgrader's API, sabaq's exchange, with her
    server's credentials, which are hers): the service answers as to a student. Nothing of
    timur's arrives; his files, the sources and releasing are refused."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from sabaq.client import error_of
    from sabaq.hub.exchange.exchange import SabaqExchange

    c = pod_config(tmp_path / "aliya", monkeypatch, SABAQ_ROLE=STAFF)
    assert c.ServerApp.jpserver_extensions.get_value({})["nbgrader.server_extensions.formgrader"] is True
    calls = []

    def as_aliya(self, method, path, ok=(200, 201, 204), **kwargs):
        """Her server's exchange calls the service as her (the hub's answer about her token)."""
        response = site.call(method, f"/api/v1/{path}", user="aliya", **kwargs)
        calls.append((method, path, response.status_code))
        if response.status_code not in ok:
            raise error_of(response)
        return response

    monkeypatch.setattr(SabaqExchange, "api", as_aliya)
    config = Config()
    config.ExchangeFactory.collect = "sabaq.hub.exchange.SabaqCollect"
    config.CourseDirectory.root = str(tmp_path / "aliya" / "alg8")
    config.CourseDirectory.course_id = "alg8"
    api = NbGraderAPI(CourseDirectory(config=config), config=config)
    api.collect("hw1")
    submitted = tmp_path / "aliya" / "alg8" / "submitted"
    assert sorted(p.name for p in submitted.iterdir()) == ["aliya"]  # her own, and only hers
    assert calls[0] == ("GET", "courses/alg8/assignments/hw1/submissions", 200)
    assert site.call("GET", f"/api/v1/submissions/{site.timur_submission}/download", user="aliya").status_code in (
        403, 404)
    assert site.call("GET", "/api/v1/courses/alg8/assignments/hw1/source", user="aliya").status_code == 403
    release = site.call("PUT", "/api/v1/courses/alg8/assignments/hw2",
                        files=[("release", ("hw.ipynb", b"{}", "application/x-ipynb+json"))], user="aliya")
    assert release.status_code == 403
    # the control: the same calls as the teacher do reach timur's work
    assert [s["student"] for s in site.call("GET", "/api/v1/courses/alg8/assignments/hw1/submissions",
                                            user="teacher").json()] == ["aliya", "timur"]
    assert site.call("GET", f"/api/v1/submissions/{site.timur_submission}/download",
                     user="teacher").status_code == 200
    assert httpx.codes.is_success(site.call("GET", "/api/v1/courses/alg8/assignments/hw1/source",
                                            user="teacher").status_code)
