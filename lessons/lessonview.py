"""The lesson view loads only what a lesson uses (issue 17): a server extension of users' servers.

Notebook 7's page downloads every installed JupyterLab extension (its remoteEntry.js, then its
plugins' chunks and styles), whatever ``disabledExtensions`` says: a disabled extension is still
fetched, only its plugins are not started. So on the lesson view (Notebook 7's page of a notebook
in ~/lessons/, where sabaq's course page links a lesson) the extensions a lesson does not use are
taken out of the page's ``federated_extensions`` (and named in ``disabledExtensions``, so nothing
on the page expects them): nbgrader's panels, sabaq-lab's menu (the course page that linked the
lesson already shows the grades), Notebook's JupyterLab switcher, the Pygments theme.

Kept: ``LessonView.kept_extensions`` (the widget manager, sabaq-lessons), every extension that
renders outputs (a ``mimeExtension``) and every widget library (it needs ``@jupyter-widgets/base``),
for a lesson's own outputs and widgets. The language pack is no extension of the page (JupyterLab
asks the server for its catalogue) and stays. JupyterLab (/lab), the file browser (/tree) and
every notebook outside ~/lessons keep everything.

This only makes a page lighter; it guards nothing: a student can open any notebook in /lab.

The same hook sends Notebook 7's pages to Notebook's build at sabaq's shared address
(``NotebookFiles.shared_url``, given by the hub with ``[hub] shared_static``), so that a classroom
PC downloads it once for every student, as it does JupyterLab's (``sabaq.hub.jupyterhub.sharedstatic``).
"""

from __future__ import annotations

import posixpath

from traitlets import List, Unicode
from traitlets.config import Configurable

WIDGET_BASE = "@jupyter-widgets/base"  # what every widget library builds on


class LessonView(Configurable):
    """Which pages are the lesson view and which extensions a lesson needs there
    (``c.LessonView.*`` in a server's Jupyter configuration)."""

    lessons_folder = Unicode(
        "lessons",
        help="The folder, relative to the server's root (the home), where sabaq delivers lessons: "
        "Notebook 7's page of a notebook below it is the lesson view.",
    ).tag(config=True)
    kept_extensions = List(
        Unicode(),
        ["@jupyter-widgets/jupyterlab-manager", "sabaq-lessons"],
        help="JupyterLab extensions the lesson view always loads (besides those that render outputs "
        "or widgets): ipywidgets' manager, and sabaq-lessons, which runs a lesson's set-up cells.",
    ).tag(config=True)

    def is_lesson(self, path: str) -> bool:
        """Whether a notebook's path (from the server's root, as /notebooks/<path> names it) is in
        the lessons folder ('lessons/../x.ipynb' is not)."""
        parts = posixpath.normpath("/" + path).strip("/").split("/")
        return len(parts) > 1 and parts[0] == self.lessons_folder

    def used(self, packages: dict[str, dict]) -> set[str]:
        """The extensions a lesson uses, of the installed ones ({name: its package.json's data})."""
        return {name for name, package in packages.items()
                if name in self.kept_extensions
                or "mimeExtension" in package.get("jupyterlab", {}).get("_build", {})
                or WIDGET_BASE in (package.get("dependencies") or {})}


def without_extensions(page_config: dict, unused: set[str]) -> dict:
    """The page's configuration with the unused extensions not loaded and disabled."""
    return {
        **page_config,
        "federated_extensions": [e for e in page_config.get("federated_extensions", []) if e["name"] not in unused],
        "disabledExtensions": sorted({*page_config.get("disabledExtensions", []), *unused}),
    }


def lesson_page_config(view: LessonView, handler, page_config: dict) -> dict:
    """Notebook 7's page of a lesson without the extensions a lesson does not use; any other
    page as it is."""
    from jupyterlab_server.config import get_federated_extensions
    from notebook.app import NotebookHandler

    if not isinstance(handler, NotebookHandler) or not view.is_lesson((handler.path_args or [""])[0]):
        return page_config
    app = handler.extensionapp
    packages = get_federated_extensions([*app.extra_labextensions_path, *app.labextensions_path])
    loaded = {e["name"] for e in page_config.get("federated_extensions", [])}
    return without_extensions(page_config, loaded - view.used({n: packages.get(n, {}) for n in loaded}))


class NotebookFiles(Configurable):
    """Where Notebook 7's pages load Notebook's own build from (``c.NotebookFiles.*``): Notebook
    has no setting for it, its pages name their server's ``/static/notebook``."""

    shared_url = Unicode(
        "",
        help="The address of Notebook 7's static folder shared by every user's server (sabaq's "
        "service, given on the command line by the hub with [hub] shared_static), without a "
        "trailing slash; its pages' scripts, styles and fonts load from there. Empty: the server's own.",
    ).tag(config=True)


def notebook_page_config(files: NotebookFiles, handler, page_config: dict) -> dict:
    """Notebook 7's pages (their main script and webpack's chunks follow ``fullStaticUrl``) with
    the shared address of Notebook's build, when there is one; JupyterLab's pages as they are
    (LabApp.override_static_url moves theirs)."""
    from notebook.app import JupyterNotebookApp, NotebookBaseHandler

    if not files.shared_url or not isinstance(handler, NotebookBaseHandler) or handler.name != JupyterNotebookApp.name:
        return page_config
    return {**page_config, "fullStaticUrl": files.shared_url}


def _jupyter_server_extension_points():
    return [{"module": "sabaq.lessons.lessonview"}]


def _load_jupyter_server_extension(serverapp) -> None:
    """Adds the lesson view's adjustment and the shared address of Notebook's build to the page
    configuration hook, after the one already there (JupyterHub's: the user and the token;
    extensions load in the order of their names)."""
    view = LessonView(config=serverapp.config)
    files = NotebookFiles(config=serverapp.config)
    settings = serverapp.web_app.settings
    before = settings.get("page_config_hook")

    def hook(handler, page_config):
        if before is not None:
            page_config = before(handler, page_config)
        return notebook_page_config(files, handler, lesson_page_config(view, handler, page_config))

    settings["page_config_hook"] = hook
