"""The lesson format's cell roles (sabaq:setup, sabaq:student) and what `sabaq lesson check`
says about them; the lessons extension that runs set-up cells is installed with the package."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import nbformat
import pytest

from sabaq.lessons.cells import SETUP, STUDENT, check_cells, code_hidden, mark, role, setup_cells
from sabaq.lessons.check import check

ROOT = Path(__file__).resolve().parents[2]
LESSONS = ROOT / "courses" / "lessons"
PROJECTILE = LESSONS / "physics" / "projectile-motion"


def _lesson_notebook():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A lesson"),
                nbformat.v4.new_code_cell("from sabaq.lessons import Lesson\nlesson = Lesson()"),
                nbformat.v4.new_code_cell("lesson.check('q1')"),
                nbformat.v4.new_code_cell("2 + 2")]
    mark(nb.cells[1], SETUP)
    mark(nb.cells[2], SETUP)
    mark(nb.cells[3], STUDENT)
    return nb


def test_marking_a_cell_sets_its_one_role_and_collapses_only_setup_code():
    nb = _lesson_notebook()
    assert [role(c) for c in nb.cells[1:]] == [SETUP, SETUP, STUDENT]
    assert code_hidden(nb.cells[1]) and not code_hidden(nb.cells[3])
    assert setup_cells(nb) == [1, 2]
    mark(nb.cells[2], STUDENT)  # a new role replaces the old one and shows the code
    assert nb.cells[2].metadata.tags == [STUDENT] and not code_hidden(nb.cells[2])
    assert setup_cells(nb) == [1]
    assert check_cells(_lesson_notebook(), "x.en.ipynb") == []


@pytest.mark.parametrize("spoil, expected", [
    (lambda nb: nb.cells[2].metadata.pop("tags"), "x.en.ipynb, cell 3: tag every code cell either sabaq:setup"),
    (lambda nb: nb.cells[2].metadata.tags.append(STUDENT), "x.en.ipynb, cell 3: tag every code cell either"),
    (lambda nb: nb.cells[2].metadata.pop("jupyter"), "x.en.ipynb, cell 3: the code of a set-up cell is collapsed"),
    (lambda nb: mark(nb.cells[1], STUDENT), "x.en.ipynb, cell 2: the first code cell creates the lesson"),
    (lambda nb: setattr(nb.cells[0], "source", "Run the cells (shift+Enter)."), "x.en.ipynb, cell 1: a phone has no Shift + Enter"),
])
def test_a_lesson_that_cannot_start_by_itself_is_reported(spoil, expected):
    nb = _lesson_notebook()
    spoil(nb)
    problems = [p.translated("en") for p in check_cells(nb, "x.en.ipynb")]
    assert len(problems) == 1 and problems[0].startswith(expected), problems


def test_every_built_in_lesson_is_tagged_the_same_in_every_language():
    report = check(LESSONS, execute=False)
    assert report.ok, "\n".join(report.problems())
    for lesson in report.lessons:
        for notebook in sorted(lesson.folder.glob("*.ipynb")):
            nb = nbformat.read(notebook, as_version=4)
            assert setup_cells(nb), notebook.name  # something runs when it opens
            assert not any("Shift + Enter" in c.source for c in nb.cells)


def test_check_reports_a_language_whose_tags_differ(tmp_path):
    folder = tmp_path / "projectile-motion"
    shutil.copytree(PROJECTILE, folder)
    ru = folder / "projectile-motion.ru.ipynb"
    nb = nbformat.read(ru, as_version=4)
    student = next(i for i, c in enumerate(nb.cells) if role(c) == STUDENT)
    mark(nb.cells[student], SETUP)
    nbformat.write(nb, ru)
    report = check(tmp_path, execute=False)
    problems = "\n".join(report.problems())
    assert not report.ok
    assert "projectile-motion.ru.ipynb and projectile-motion.kk.ipynb tag their code cells differently" in problems


def test_the_lessons_extension_is_a_complete_package_that_installs_with_sabaq():
    folder = ROOT / "lessons" / "labextension"
    package = json.loads((folder / "package.json").read_text(encoding="utf-8"))
    assert package["name"] == "sabaq-lessons"
    entry = folder / package["jupyterlab"]["_build"]["load"]
    script = entry.read_text(encoding="utf-8")
    assert 'window._JUPYTERLAB["sabaq-lessons"]' in script  # the container JupyterLab looks up
    assert f'"{SETUP}"' in script  # the tag it runs is the format's
    data_files = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["data-files"]
    extension_files = {t: fs for t, fs in data_files.items() if t.startswith("share/jupyter/labextensions/")}
    installed = {f for files in extension_files.values() for f in files}
    shipped = {p.relative_to(ROOT).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert shipped == installed
    for target, files in extension_files.items():  # each file where JupyterLab looks for it
        for f in files:
            assert Path(target) == Path("share/jupyter/labextensions/sabaq-lessons") / \
                Path(f).parent.relative_to("lessons/labextension")
