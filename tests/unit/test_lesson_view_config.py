"""The lesson view's decision (sabaq.lessons.lessonview): on Notebook 7's page of a notebook in
~/lessons/ only the extensions a lesson uses are loaded; every other page keeps them all."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest
from jupyterlab.labapp import LabApp
from jupyterlab_server.config import get_federated_extensions
from notebook.app import NotebookHandler, TreeHandler
from traitlets.config import Config

from sabaq.lessons import lessonview
from sabaq.lessons.lessonview import LessonView, lesson_page_config, without_extensions

# name: (package.json's dependencies, its jupyterlab._build)
INSTALLED = {
    "@jupyter-widgets/jupyterlab-manager": ({"@jupyter-widgets/base": "^6"}, {"extension": "./extension"}),
    "sabaq-lessons": ({}, {"extension": "./extension"}),
    "@jupyter/nbgrader": ({"@jupyterlab/application": "^4"}, {"extension": "./extension", "style": "./style"}),
    "sabaq-lab": ({"@jupyterlab/mainmenu": "^4"}, {"extension": "./extension", "style": "./style"}),
    "@jupyter-lsp/jupyterlab-lsp": ({"@jupyterlab/lsp": "^4"}, {"extension": "./extension"}),
    "jupyter-matplotlib": ({"@jupyter-widgets/base": "^6"}, {"extension": "./extension"}),  # a widget library
    "jupyterlab-plotly": ({}, {"mimeExtension": "./mimeExtension"}),  # renders an output
}
UNUSED = {"@jupyter/nbgrader", "sabaq-lab", "@jupyter-lsp/jupyterlab-lsp"}


@pytest.fixture
def labextensions(tmp_path) -> Path:
    """A labextensions folder with INSTALLED in it, as `jupyter labextension` lays them out."""
    for name, (dependencies, build) in INSTALLED.items():
        folder = tmp_path / name
        folder.mkdir(parents=True)
        (folder / "package.json").write_text(json.dumps({
            "name": name, "version": "1.0.0", "dependencies": dependencies,
            "jupyterlab": {"_build": {"load": "static/remoteEntry.js", **build}}}))
    return tmp_path


def page_config(folder: Path) -> dict:
    """What Notebook 7's handler puts on a page (the part the lesson view changes)."""
    extensions = get_federated_extensions([str(folder)])
    return {"federated_extensions": [{"name": n, **e["jupyterlab"]["_build"]} for n, e in extensions.items()],
            "disabledExtensions": ["@jupyterlab/apputils-extension:announcements"], "token": "t"}


def handler(kind, path: str, folder: Path):
    """A handler of Notebook 7's, as tornado gives it to the page config hook for a request of path."""
    made = kind.__new__(kind)
    app = SimpleNamespace(extra_labextensions_path=[], labextensions_path=[str(folder)])
    made.application = SimpleNamespace(settings={"notebook": app})
    made.name = "notebook"
    made.path_args = [path]
    return made


def loaded(config: dict) -> set[str]:
    return {e["name"] for e in config["federated_extensions"]}


@pytest.mark.parametrize("path,lesson", [
    ("/lessons/demo/projectile-motion/projectile-motion.kk.ipynb", True),
    ("lessons/physics/x.ipynb", True),
    ("/assignments/hw1/hw1.ipynb", False),
    ("/lessons.ipynb", False),  # a notebook named like the folder, beside it
    ("/lessons/../assignments/hw1.ipynb", False),  # leaves the folder
    ("/other/lessons/x.ipynb", False),
    ("", False),
])
def test_a_lesson_is_a_notebook_in_the_lessons_folder(path, lesson):
    assert LessonView().is_lesson(path) is lesson


def test_a_lesson_uses_the_widget_manager_sabaq_lessons_widget_libraries_and_output_renderers(labextensions):
    used = LessonView().used(get_federated_extensions([str(labextensions)]))
    assert used == set(INSTALLED) - UNUSED


def test_the_kept_extensions_are_a_setting():
    config = Config({"LessonView": {"kept_extensions": ["sabaq-lab"], "lessons_folder": "darister"}})
    view = LessonView(config=config)
    assert view.used({"sabaq-lab": {}, "sabaq-lessons": {}}) == {"sabaq-lab"}
    assert view.is_lesson("/darister/x.ipynb") and not view.is_lesson("/lessons/x.ipynb")


def test_unused_extensions_are_neither_loaded_nor_enabled(labextensions):
    before = page_config(labextensions)
    after = without_extensions(before, UNUSED)
    assert loaded(after) == set(INSTALLED) - UNUSED
    assert set(after["disabledExtensions"]) == UNUSED | {"@jupyterlab/apputils-extension:announcements"}
    assert after["token"] == "t" and loaded(before) == set(INSTALLED)  # the rest as it was, the original untouched


def test_the_lesson_view_page_loads_only_what_a_lesson_uses(labextensions):
    lesson = handler(NotebookHandler, "/lessons/demo/projectile-motion/projectile-motion.en.ipynb", labextensions)
    config = lesson_page_config(LessonView(), lesson, page_config(labextensions))
    assert loaded(config) == set(INSTALLED) - UNUSED
    assert UNUSED <= set(config["disabledExtensions"])


@pytest.mark.parametrize("kind,path", [
    (NotebookHandler, "/assignments/hw1/hw1.ipynb"),  # an assignment in Notebook 7: nbgrader's Validate
    (TreeHandler, "/lessons/demo"),  # the file browser, in the lessons folder too
])
def test_other_pages_keep_every_extension(labextensions, kind, path):
    before = page_config(labextensions)
    assert lesson_page_config(LessonView(), handler(kind, path, labextensions), before) == before


def test_jupyterlab_keeps_every_extension(labextensions):
    lab = LabApp.__new__(LabApp)  # JupyterLab's page handler is none of Notebook 7's
    lab_handler = SimpleNamespace(path_args=["/lessons/demo/x.ipynb"], extensionapp=lab)
    before = page_config(labextensions)
    assert lesson_page_config(LessonView(), lab_handler, before) == before


def test_the_server_extension_runs_after_the_hook_already_there(labextensions):
    """JupyterHub's hook (the user, the token) still runs first on every page."""
    calls = []

    def hubs_hook(handler, config):
        calls.append(handler.path_args[0])
        return {**config, "hubUser": "aliya"}

    settings = {"page_config_hook": hubs_hook}
    serverapp = SimpleNamespace(web_app=SimpleNamespace(settings=settings), config=Config())
    lessonview._load_jupyter_server_extension(serverapp)
    path = "/lessons/demo/x.ipynb"
    config = settings["page_config_hook"](handler(NotebookHandler, path, labextensions), page_config(labextensions))
    assert calls == [path] and config["hubUser"] == "aliya"
    assert loaded(config) == set(INSTALLED) - UNUSED
    assert lessonview._jupyter_server_extension_points() == [{"module": "sabaq.lessons.lessonview"}]


def test_every_server_of_the_environment_runs_the_lesson_view():
    """The switch installs with sabaq (pyproject's data files) where Jupyter reads every server's
    configuration, a pod's too; an editable install links it (scripts/install.sh)."""
    root = Path(__file__).resolve().parents[2]
    data_files = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["data-files"]
    switch = "lessons/jupyter_server_config.d/sabaq-lessons.json"
    assert switch in data_files["etc/jupyter/jupyter_server_config.d"]
    config = json.loads((root / switch).read_text(encoding="utf-8"))
    assert config == {"ServerApp": {"jpserver_extensions": {"sabaq.lessons.lessonview": True,
                                                            "sabaq.lessons.lessonlink": True}}}
    assert switch in (root / "scripts" / "install.sh").read_text(encoding="utf-8")
