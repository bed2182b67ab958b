"""No student code runs as a teacher (issue 15, item 7): with the nbgrader config the spawner
writes into every server, nbgrader's own autograde (the formgrader's API and the command)
refuses before it touches a submission, in the user's language, naming the assignment's page
in sabaq; a course folder's config that customises grading does not lose the refusal.

The attack: a collected submission whose answer cell writes a file and reads the token of
whoever runs it. tests/test_e2e.py does the same in a real teacher's server."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from nbgrader.apps import AutogradeApp, NbGraderAPI
from nbgrader.coursedir import CourseDirectory

from sabaq.errors import SabaqError
from sabaq.hub.exchange.autograde import REFUSAL, sabaq_page
from sabaq.hub.jupyterhub.serverconfig import nbgrader_config

DEMO = Path(__file__).resolve().parents[2] / "courses" / "demo" / "source" / "ps1" / "motion.ipynb"
COURSE_CONFIG = """\
c = get_config()  # noqa
c.CourseDirectory.course_id = "demo"
# what a course folder may customise, from nbgrader's documentation
c.Execute.timeout = 60
c.Autograde.autograde_preprocessors = [
    "nbgrader.preprocessors.Execute", "nbgrader.preprocessors.SaveAutoGrades"]
c.BaseConverter.exporter_class = "nbconvert.exporters.NotebookExporter"
"""


def hostile_submission(marker: Path) -> dict:
    """The demo notebook answered by code that writes `marker` with the runner's hub token."""
    nb = json.loads(DEMO.read_text(encoding="utf-8"))
    answer = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "speed")
    answer["source"] = (
        "import os, pathlib\n"
        f"pathlib.Path({str(marker)!r}).write_text(os.environ.get('JUPYTERHUB_API_TOKEN', 'none'))\n"
        "def speed(s, t):\n    return s / t\n"
    )
    return nb


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A teacher's home as the spawner leaves it, a collected hostile submission in the
    course folder, and the environment of the teacher's server (a token, her language)."""
    home, course = tmp_path / "home", tmp_path / "home" / "demo"
    (home / ".jupyter").mkdir(parents=True)
    (home / ".jupyter" / "nbgrader_config.py").write_text(nbgrader_config("demo", str(course)))
    (course / "source" / "ag1").mkdir(parents=True)
    (course / "source" / "ag1" / "motion.ipynb").write_bytes(DEMO.read_bytes())
    (course / "nbgrader_config.py").write_text(COURSE_CONFIG)
    submitted = course / "submitted" / "aliya" / "ag1"
    submitted.mkdir(parents=True)
    marker = tmp_path / "pwned"
    (submitted / "motion.ipynb").write_text(json.dumps(hostile_submission(marker)))
    (submitted / "timestamp.txt").write_text("2026-12-05 09:00:00.000000 UTC")
    for name in ("JUPYTER_CONFIG_PATH", "JUPYTER_PREFER_ENV_PATH", "JUPYTERHUB_HOST", "JUPYTERHUB_PUBLIC_HUB_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(home / ".jupyter"))
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "the-teachers-token")
    monkeypatch.setenv("JUPYTERHUB_BASE_URL", "/")
    monkeypatch.setenv("SABAQ_LANG", "ru")
    monkeypatch.chdir(course)
    return course, marker


def expected(lang: str, url: str) -> str:
    return SabaqError(REFUSAL, url=url).translated(lang)


def untouched(course: Path, marker: Path) -> None:
    """Nothing ran and nothing changed: no marker, no graded copy, no gradebook."""
    assert not marker.exists()
    assert not (course / "autograded").exists()
    assert not (course / "gradebook.db").exists()


def test_nbgrader_autograde_in_a_teachers_terminal_refuses(server, capsys):
    course, marker = server
    app = AutogradeApp()
    app.initialize(["ag1"])
    with pytest.raises(SystemExit) as stopped:
        app.start()
    assert stopped.value.code == 1
    printed = capsys.readouterr().err
    assert expected("ru", "/services/sabaq/courses/demo/assignments/ag1") in printed
    untouched(course, marker)


def test_the_formgraders_autograde_refuses_and_shows_why(server):
    """What the Autograde button calls: NbGraderAPI.autograde, in the server's process."""
    course, marker = server
    app = AutogradeApp()  # the formgrader's config: the same files, loaded by an nbgrader app
    app.initialize([])
    api = NbGraderAPI(CourseDirectory(parent=app), parent=app)
    api.log.setLevel(logging.INFO)
    result = api.autograde("ag1", "aliya")
    assert result["success"] is False
    assert expected("ru", "/services/sabaq/courses/demo/assignments/ag1") in result["log"]
    untouched(course, marker)


def test_the_page_is_at_the_hubs_address():
    """With subdomains the server is at <login>.<host> and sabaq at the hub's own address."""
    assert sabaq_page("demo", "ag1", {"JUPYTERHUB_HOST": "https://jupyter.school.kz", "JUPYTERHUB_BASE_URL": "/"}) \
        == "https://jupyter.school.kz/services/sabaq/courses/demo/assignments/ag1"
    assert sabaq_page("demo", "ag 1", {"JUPYTERHUB_PUBLIC_HUB_URL": "https://school.kz/jh/hub/",
                                       "JUPYTERHUB_BASE_URL": "/jh/"}) \
        == "https://school.kz/jh/services/sabaq/courses/demo/assignments/ag%201"
    # a glob names no one assignment (nbgrader autograde "*"): the course's page
    assert sabaq_page("demo", "*", {}) == "/services/sabaq/courses/demo"
    assert sabaq_page("", "", {}) == "/services/sabaq/"
