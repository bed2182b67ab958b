"""nbgrader's generate_assignment as sabaq runs it (inside a worker for its assignment cache,
as `python -m sabaq.autograders.notebook.generate` for a teacher's release) makes the release and
gradebook the `nbgrader generate_assignment` command makes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from sabaq.archive import read_tree, write_tree
from sabaq.autograders.jobs.grade import AssignmentCache
from sabaq.autograders.notebook.gradebook import alembic_head, nbgrader_get_alembic_version
from sabaq.contracts import GradingMeta
from sabaq.errors import Invalid
from sabaq.hub.domain.authoring import generate_release
from sabaq.paths import with_venv_path

pytestmark = pytest.mark.grading
SOURCE = Path(__file__).resolve().parents[1] / "courses" / "demo" / "source" / "ps1"
META = GradingMeta(course="demo", assignment="ps1", student="aliya", version=3)


def _with_nbgrader_command(folder: Path, source: dict[str, bytes]) -> Path:
    write_tree(folder / "source" / "ps1", source)
    (folder / "nbgrader_config.py").write_text("c = get_config()  # noqa\nc.CourseDirectory.course_id = 'demo'\n")
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", "ps1", "--force"], cwd=folder,
                   check=True, capture_output=True, env=dict(os.environ, PATH=with_venv_path(os.environ["PATH"])))
    return folder


def _gradebook(folder: Path) -> dict:
    """Every table of the gradebook but the ids (random uuids), as sorted rows."""
    with sqlite3.connect(folder / "gradebook.db") as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        out = {}
        for table in tables:
            columns = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
            keep = [c for c in columns if c != "id" and not c.endswith("_id")]
            rows = db.execute(f"SELECT {', '.join(keep)} FROM {table}").fetchall() if keep else []
            out[table] = sorted(map(repr, rows))
    return out


def test_generated_in_the_worker_as_by_the_nbgrader_command(tmp_path):
    source = read_tree(SOURCE)
    ours = AssignmentCache(tmp_path / "cache").prepare(META, source)
    reference = _with_nbgrader_command(tmp_path / "reference", source)

    released = sorted(p.name for p in (reference / "release" / "ps1").iterdir())
    assert released and sorted(p.name for p in (ours / "release" / "ps1").iterdir()) == released
    for name in released:
        assert (json.loads((ours / "release" / "ps1" / name).read_text(encoding="utf-8"))
                == json.loads((reference / "release" / "ps1" / name).read_text(encoding="utf-8")))
    book = _gradebook(ours)
    assert book["grade_cells"] and book["alembic_version"] == [repr((alembic_head(),))]
    assert book == _gradebook(reference)


def test_the_schema_version_is_the_one_alembic_reports(monkeypatch):
    monkeypatch.setenv("PATH", with_venv_path(os.environ["PATH"]))
    assert alembic_head() == nbgrader_get_alembic_version()


def test_a_version_is_generated_once_and_a_new_version_again(tmp_path):
    cache = AssignmentCache(tmp_path / "cache")
    first = cache.prepare(META, read_tree(SOURCE))
    stamp = (first / "gradebook.db").stat().st_mtime_ns
    assert cache.prepare(META, read_tree(SOURCE)) == first and (first / "gradebook.db").stat().st_mtime_ns == stamp
    assert cache.prepare(META.model_copy(update={"version": 4}), read_tree(SOURCE)) != first


def _one_grade_id_twice() -> bytes:
    test = {"grade": True, "grade_id": "same", "points": 1, "solution": False, "locked": True, "schema_version": 3}
    nb = new_notebook(cells=[new_code_cell("assert True", metadata={"nbgrader": test}),
                             new_code_cell("assert True", metadata={"nbgrader": test})])
    return nbformat.writes(nb).encode()


def test_a_source_nbgrader_refuses_is_explained_and_leaves_nothing(tmp_path):
    cache = AssignmentCache(tmp_path / "cache")
    with pytest.raises(RuntimeError, match="nbgrader could not generate the assignment: .*Duplicate grade id: same"):
        cache.prepare(META, {"twice.ipynb": _one_grade_id_twice()})
    assert not any((tmp_path / "cache").iterdir())


def test_a_teachers_release_is_the_nbgrader_commands(tmp_path):
    reference = _with_nbgrader_command(tmp_path / "reference", read_tree(SOURCE))
    released = generate_release(SOURCE, "ps1", "demo")
    assert released.keys() == {p.name for p in (reference / "release" / "ps1").iterdir()}
    for name, content in released.items():
        assert json.loads(content) == json.loads((reference / "release" / "ps1" / name).read_text(encoding="utf-8"))
    bad = tmp_path / "bad" / "ps2"
    write_tree(bad, {"twice.ipynb": _one_grade_id_twice()})
    with pytest.raises(Invalid) as refused:
        generate_release(bad, "ps2", "demo")
    assert str(refused.value).endswith("'ps2': ValidationError: Duplicate grade id: same")


def test_versions_are_generated_through_one_database_engine_each_into_a_folder_of_its_own(tmp_path):
    """Every generation runs in the same folder, so one engine (and SQLAlchemy's statements
    compiled for it) serves all; each result is moved to its own folder, whole and untouched
    by the next generation, even one of another course."""
    cache = AssignmentCache(tmp_path / "cache")
    first = cache.prepare(META, read_tree(SOURCE))
    before = _gradebook(first)
    engines = list(cache.engines.values())
    other = cache.prepare(META.model_copy(update={"course": "other", "version": 4}), read_tree(SOURCE))
    assert len(engines) == 1 and list(cache.engines.values()) == engines
    assert other != first and _gradebook(first) == before
    for folder, course, not_this in ((first, "demo", "other"), (other, "other", "demo")):
        with sqlite3.connect(folder / "gradebook.db") as db:
            courses = {row[0] for row in db.execute("SELECT id FROM course")}
        assert course in courses and not_this not in courses
        assert sorted(p.name for p in (folder / "release" / "ps1").iterdir())
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted([first.name, other.name])
