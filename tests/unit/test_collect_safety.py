"""Collecting a submission never brings a file Python could run as the teacher (issue 15, item 7).

The attack, as a student would make it: besides her notebook she submits an
``ipykernel_launcher.py`` (run instead of the real launcher when the teacher opens the
notebook, before she runs a cell), a ``jedi.py`` (imported at her first Tab), a package
``numpy/`` (at her first ``import numpy``) and a ``.pth`` file, each writing a marker with
the token of whoever runs it. The service accepts such a submission (helper modules are
legitimate; the sandbox runs them); Collect brings the teacher only the notebook and the
data, and tells her what it left out and where sabaq keeps it. The kernel test starts a
real kernel in the collected folder, as opening the notebook does, and in the folder as
Collect used to fill it, where the planted code does run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest
from jupyter_client.manager import start_new_kernel
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config

from sabaq.archive import pack, write_tree
from sabaq.errors import Phrase
from sabaq.hub.domain.uploads import check_upload
from sabaq.hub.exchange import SabaqCollect
from sabaq.hub.exchange.collect import LEFT_OUT, REMOVED, importable, split_importable

DEMO = Path(__file__).resolve().parents[2] / "courses" / "demo" / "source" / "ps1" / "motion.ipynb"
STAMP = "2026-12-05 09:00:00.000000 UTC"
TOKEN = "the-teachers-token"


def planted(marker: Path, what: str) -> bytes:
    """Code that records who ran it, and with which token."""
    return (f"import os, pathlib\npathlib.Path({str(marker)!r}, {what!r}).write_text("
            f"os.environ.get('JUPYTERHUB_API_TOKEN', 'none'))\n").encode()


def hostile_files(markers: Path) -> dict[str, bytes]:
    return {
        "motion.ipynb": DEMO.read_bytes(),
        "data.csv": b"t,s\n1,2\n",
        # still starts the kernel, so opening the notebook looks normal
        "ipykernel_launcher.py": planted(markers, "launcher")
        + b"from ipykernel import kernelapp\nkernelapp.launch_new_instance()\n",
        "jedi.py": planted(markers, "jedi"),
        "numpy/__init__.py": planted(markers, "numpy"),
        "zz-evil.pth": b"import os, pathlib; " + planted(markers, "pth").replace(b"\n", b"; "),
    }


@pytest.fixture
def markers(tmp_path) -> Path:
    folder = tmp_path / "markers"
    folder.mkdir()
    return folder


@pytest.fixture
def service(monkeypatch, markers):
    """The service's answers to Collect: aliya's newest submission (id 41), the hostile files
    (as the service accepts them) and timestamp.txt, as its /download zip brings them."""
    submitted = check_upload(hostile_files(markers), max_bytes=10**7, max_files=50)
    calls = []

    def api(self, method, path, **kwargs):
        calls.append((method, path))
        if path == "courses/demo/assignments/ps1/submissions":
            return httpx.Response(200, json=[{"id": 41, "student": "aliya", "timestamp": STAMP}])
        if path == "submissions/41/download":
            return httpx.Response(200, content=pack({**submitted, "timestamp.txt": STAMP.encode()}))
        raise AssertionError(path)

    monkeypatch.setattr(SabaqCollect, "api", api)
    monkeypatch.delenv("JUPYTERHUB_PUBLIC_HUB_URL", raising=False)
    monkeypatch.setenv("JUPYTERHUB_HOST", "https://jupyter.school.kz")
    monkeypatch.setenv("JUPYTERHUB_BASE_URL", "/")
    monkeypatch.setenv("SABAQ_LANG", "ru")
    return calls


def collect(course: Path) -> SabaqCollect:
    config = Config()
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.course_id = "demo"
    config.CourseDirectory.assignment_id = "ps1"
    step = SabaqCollect(coursedir=CourseDirectory(config=config), authenticator=Authenticator(config=config),
                        config=config)
    step.start()
    return step


def collected_files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_collect_brings_the_notebook_and_data_and_says_what_it_left_out(service, tmp_path, caplog):
    course = tmp_path / "course"
    with caplog.at_level("WARNING"):
        collect(course)
    folder = course / "submitted" / "aliya" / "ps1"
    assert collected_files(folder) == {"motion.ipynb", "data.csv", "timestamp.txt"}
    assert (folder / "data.csv").read_bytes() == b"t,s\n1,2\n"
    assert json.loads((folder / "motion.ipynb").read_text())["cells"]
    note = Phrase(LEFT_OUT, student="aliya", folder="submitted/aliya/ps1",
                  names="ipykernel_launcher.py, jedi.py, numpy/, zz-evil.pth",
                  files="https://jupyter.school.kz/services/sabaq/api/v1/submissions/41/download",
                  page="https://jupyter.school.kz/services/sabaq/submissions/41").translated("ru")
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [note]


def test_a_folder_collected_before_is_cleaned_when_collected_again(service, markers, tmp_path, caplog):
    """A folder an earlier Collect filled with everything: collecting the same submission again
    (nothing newer, so it stays) takes out what Collect now leaves out."""
    course = tmp_path / "course"
    folder = course / "submitted" / "aliya" / "ps1"
    write_tree(folder, {**hostile_files(markers), "timestamp.txt": STAMP.encode()})
    with caplog.at_level("WARNING"):
        collect(course)
    assert collected_files(folder) == {"motion.ipynb", "data.csv", "timestamp.txt"}
    assert service == [("GET", "courses/demo/assignments/ps1/submissions")]  # kept, not fetched again
    note = Phrase(REMOVED, student="aliya", folder="submitted/aliya/ps1",
                  names="ipykernel_launcher.py, jedi.py, numpy/, zz-evil.pth",
                  files="https://jupyter.school.kz/services/sabaq/api/v1/submissions/41/download",
                  page="https://jupyter.school.kz/services/sabaq/submissions/41").translated("ru")
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [note]


def test_the_formgraders_collect_button_shows_the_note(service, tmp_path):
    """What the Collect button calls (NbGraderAPI.collect, in the teacher's server): the log it
    shows her after collecting holds the note."""
    from nbgrader.apps import NbGraderAPI

    course = tmp_path / "course"
    config = Config()
    config.ExchangeFactory.collect = "sabaq.hub.exchange.SabaqCollect"
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.course_id = "demo"
    api = NbGraderAPI(CourseDirectory(config=config), config=config)
    result = api.collect("ps1")
    assert result["success"] is True, result
    assert "ipykernel_launcher.py, jedi.py, numpy/, zz-evil.pth" in result["log"]
    assert "https://jupyter.school.kz/services/sabaq/api/v1/submissions/41/download" in result["log"]
    assert collected_files(course / "submitted" / "aliya" / "ps1") == {"motion.ipynb", "data.csv", "timestamp.txt"}


def test_what_python_could_pick_up_from_a_folder():
    for name in ("a.py", "A.PY", "a.pyc", "a.pyo", "a.pyw", "a.so", "a.cpython-311-x86_64-linux-gnu.so",
                 "a.abi3.so", "a.pyd", "x.pth", "__pycache__/a.cpython-311.pyc", "__pycache__/notes.txt",
                 "sub/deep/b.py"):
        assert importable(name), name
    for name in ("motion.ipynb", "data.csv", "README.md", "py", "notes.py.txt", "image.png", "timestamp.txt"):
        assert not importable(name), name
    kept, left_out = split_importable({
        "nb.ipynb": b"", "data/points.csv": b"", "lib/readme.txt": b"", "lib/helpers/mod.py": b"",
        "part2/nb.ipynb": b"", "part2/__pycache__/x.txt": b"", "util.cpython-311-x86_64-linux-gnu.so": b""})
    # a folder holding an importable file anywhere is left out whole; a folder of data stays
    assert set(kept) == {"nb.ipynb", "data/points.csv"}
    assert left_out == ["lib/", "part2/", "util.cpython-311-x86_64-linux-gnu.so"]


def opened(folder: Path) -> None:
    """What opening a notebook in folder and working in it does: its kernel starts there
    (with the server's environment, the teacher's token in it), she presses Tab, imports numpy."""
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(folder), startup_timeout=120,
                                       env={**os.environ, "JUPYTERHUB_API_TOKEN": TOKEN})
    try:
        reply = client.complete("import jed", cursor_pos=len("import jed"), reply=True, timeout=60)
        assert reply["content"]["status"] == "ok"
        client.execute_interactive("try:\n    import numpy\nexcept Exception:\n    pass", timeout=60)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_opening_a_collected_notebook_runs_nothing_of_the_students(service, markers, tmp_path):
    course = tmp_path / "course"
    collect(course)
    opened(course / "submitted" / "aliya" / "ps1")
    assert sorted(p.name for p in markers.iterdir()) == []
    # the same files as Collect used to bring them: the planted code runs as the teacher, token and all
    before = tmp_path / "before"
    write_tree(before, hostile_files(markers))
    opened(before)
    ran = {p.name: p.read_text() for p in markers.iterdir()}
    assert ran == {"launcher": TOKEN, "jedi": TOKEN, "numpy": TOKEN}
