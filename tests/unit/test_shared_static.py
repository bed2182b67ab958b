"""JupyterLab's and Notebook 7's files at one shared, versioned address
(sabaq.hub.jupyterhub.sharedstatic): which files it serves, that nothing outside their folders
is reachable, that the version changes with the files, and that Notebook 7's pages are sent
there (sabaq.lessons.lessonview's page config hook)."""

from __future__ import annotations

import json
import os
import posixpath
from pathlib import Path

import pytest
from jupyter_server.utils import url_path_join

from sabaq.hub.jupyterhub import sharedstatic
from sabaq.hub.jupyterhub.sharedstatic import CACHE_CONTROL, EXTENSIONS, LAB, NOTEBOOK, find_file
from sabaq.lessons import lessonview
from sabaq.lessons.lessonview import NotebookFiles, notebook_page_config


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """A JupyterLab static folder, an environment's labextensions folder, Notebook 7's static
    folder, and a secret beside them."""
    lab = tmp_path / "lab" / "static"
    lab.mkdir(parents=True)
    (lab / "main.abc.js").write_text("main")
    notebook = tmp_path / "notebook" / "static"
    notebook.mkdir(parents=True)
    (notebook / "main.nb1.js").write_text("notebook's main")
    (notebook.parent / "app.py").write_text("# Notebook's server, beside its static folder")
    env = tmp_path / "env" / "labextensions"
    for name in ("plain", "@scope/scoped"):
        (env / name / "static").mkdir(parents=True)
        (env / name / "package.json").write_text(json.dumps({"name": name}))
        (env / name / "static" / "remoteEntry.1.js").write_text(name)
    secret = tmp_path / "home" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("a student's file")
    monkeypatch.setattr(sharedstatic, "lab_static_dir", lambda: lab)
    monkeypatch.setattr(sharedstatic, "labextension_folders", lambda: [env])
    monkeypatch.setattr(sharedstatic, "notebook_static_dir", lambda: notebook)
    monkeypatch.setattr(sharedstatic, "_known", {"version": "", "at": float("-inf")})
    return lab, env, secret


def test_it_serves_jupyterlabs_files_and_extensions_static_files(folders):
    lab, env, _ = folders
    assert find_file(LAB, "main.abc.js") == (lab / "main.abc.js").resolve()
    assert find_file(EXTENSIONS, "plain/static/remoteEntry.1.js") == (env / "plain/static/remoteEntry.1.js").resolve()
    assert find_file(EXTENSIONS, "@scope/scoped/static/remoteEntry.1.js").read_text() == "@scope/scoped"


def test_it_serves_notebook_7s_static_files(folders, tmp_path):
    assert find_file(NOTEBOOK, "main.nb1.js") == (tmp_path / "notebook/static/main.nb1.js").resolve()


def test_notebook_7s_static_folder_is_the_one_its_server_serves():
    from notebook.app import JupyterNotebookApp

    assert sharedstatic.notebook_static_dir() == Path(JupyterNotebookApp().static_dir)
    assert any(sharedstatic.notebook_static_dir().glob("main.*.js"))


@pytest.mark.parametrize("kind,path", [
    (LAB, "../../home/secret.txt"),
    (LAB, "./main.abc.js"),
    (LAB, ""),
    (LAB, "missing.js"),
    (EXTENSIONS, "plain/package.json"),  # only an extension's static folder
    (EXTENSIONS, "plain/static/../../../../home/secret.txt"),
    (EXTENSIONS, "unknown/static/remoteEntry.1.js"),
    ("home", "secret.txt"),
    (NOTEBOOK, "../app.py"),  # Notebook's other files: only its static folder
    (NOTEBOOK, "../../home/secret.txt"),
    (NOTEBOOK, "%2e%2e/app.py"),  # as sent, were it ever left encoded
    (NOTEBOOK, "/main.nb1.js"),
    (NOTEBOOK, ""),
    (NOTEBOOK, "missing.js"),
    (LAB, "../../notebook/static/main.nb1.js"),  # no crossing from one folder to another
    ("notebooks", "main.nb1.js"),
])
def test_a_path_outside_the_shared_folders_is_refused(folders, kind, path):
    assert find_file(kind, path) is None


def test_a_link_that_leads_out_of_a_shared_folder_is_refused(folders):
    lab, env, secret = folders
    os.symlink(secret, lab / "linked.js")
    os.symlink(secret.parent, env / "plain" / "static" / "home")
    assert find_file(LAB, "linked.js") is None
    assert find_file(EXTENSIONS, "plain/static/home/secret.txt") is None
    notebook = sharedstatic.notebook_static_dir()
    os.symlink(secret, notebook / "linked.js")
    os.symlink(secret.parent, notebook / "home")
    assert find_file(NOTEBOOK, "linked.js") is None
    assert find_file(NOTEBOOK, "home/secret.txt") is None


LABEXTENSION_FOLDERS = sharedstatic.labextension_folders


def test_an_extension_in_a_users_own_folder_is_not_served(folders, tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("JUPYTER_PATH", str(home / "jp"))
    for folder in (home / ".local" / "share" / "jupyter" / "labextensions", home / "jp" / "labextensions"):
        (folder / "mine" / "static").mkdir(parents=True)
        (folder / "mine" / "package.json").write_text("{}")
        (folder / "mine" / "static" / "x.js").write_text("x")
    assert not any(f.is_relative_to(home) for f in LABEXTENSION_FOLDERS())  # the environment's and root's only
    monkeypatch.setattr(sharedstatic, "labextension_folders", LABEXTENSION_FOLDERS)
    assert find_file(EXTENSIONS, "mine/static/x.js") is None


def test_the_version_changes_with_the_files_and_only_then(folders):
    lab, env, _ = folders
    first = sharedstatic.version_on_disk()
    assert first == sharedstatic.version_on_disk()
    (lab / "main.abc.js").write_text("a rebuilt main")
    second = sharedstatic.version_on_disk()
    assert second != first
    (env / "new" / "static").mkdir(parents=True)
    (env / "new" / "package.json").write_text("{}")
    (env / "new" / "static" / "remoteEntry.2.js").write_text("new")
    third = sharedstatic.version_on_disk()
    assert third not in (first, second)
    (sharedstatic.notebook_static_dir() / "main.nb1.js").write_text("an upgraded Notebook's main")
    assert sharedstatic.version_on_disk() not in (first, second, third)
    import jupyterlab

    assert first.startswith(jupyterlab.__version__ + "-")


def test_only_the_current_version_is_kept_for_a_year(folders):
    current = sharedstatic.current_version()
    assert sharedstatic.cache_control(current) == CACHE_CONTROL
    assert "immutable" not in sharedstatic.cache_control("4.0.0-000000000000")


def test_a_server_on_the_hubs_address_is_sent_to_the_shared_address(folders):
    args = dict(a.lstrip("-").split("=", 1) for a in sharedstatic.server_args())
    base = sharedstatic.base_path(sharedstatic.current_version())
    assert args["LabApp.override_static_url"] == base + "lab/"
    # jupyterlab_server puts a path after the server's base URL; the browser then leaves it
    joined = url_path_join("/user/aliya/", args["LabServerApp.labextensions_url"])
    assert posixpath.normpath(joined) + "/" == base + "ext/"
    assert args["ServerApp.tornado_settings"] == "compress_response=True"
    assert args["NotebookFiles.shared_url"] == base + "notebook"  # on the hub's origin, as Notebook's own


def test_jupyterlab_and_notebook_7_both_load_extensions_from_the_shared_address(folders):
    """Notebook 7's app is a LabServerApp, not a LabApp: a lesson opened in its view (the
    phone's) must get sabaq-lessons from the shared address too."""
    from jupyterlab.labapp import LabApp
    from notebook.app import JupyterNotebookApp
    from traitlets.config.loader import KVArgParseConfigLoader

    config = KVArgParseConfigLoader(sharedstatic.server_args()[1:]).load_config()
    extensions = dict(a.lstrip("-").split("=", 1) for a in sharedstatic.server_args())["LabServerApp.labextensions_url"]
    assert LabApp(config=config).labextensions_url == extensions
    assert JupyterNotebookApp(config=config).labextensions_url == extensions


def test_a_server_on_its_own_subdomain_names_the_hubs_host(folders):
    args = dict(a.lstrip("-").split("=", 1) for a in sharedstatic.server_args("https://school.kz"))
    base = "https://school.kz" + sharedstatic.base_path(sharedstatic.current_version())
    assert args["LabApp.override_static_url"] == base + "lab/"
    assert args["LabServerApp.labextensions_url"] == base + "ext/"
    assert args["NotebookFiles.shared_url"] == base + "notebook"


def test_the_server_extension_reads_the_shared_notebook_address_from_the_command_line(folders):
    from traitlets.config.loader import KVArgParseConfigLoader

    config = KVArgParseConfigLoader(sharedstatic.server_args("https://school.kz")).load_config()
    assert NotebookFiles(config=config).shared_url == (
        "https://school.kz" + sharedstatic.base_path(sharedstatic.current_version()) + "notebook")


SHARED_NOTEBOOK = "/services/sabaq/static-shared/4.6.6-abc/notebook"


def notebook_handler(kind):
    """One of Notebook 7's page handlers, as tornado gives it to the page config hook."""
    made = kind.__new__(kind)
    made.name = "notebook"
    made.path_args = ["/lessons/demo/x.ipynb"]
    return made


def own_page_config() -> dict:
    return {"fullStaticUrl": "/user/aliya/static/notebook", "baseUrl": "/user/aliya/", "token": "t"}


@pytest.mark.parametrize("page", ["NotebookHandler", "TreeHandler", "FileHandler", "ConsoleHandler", "TerminalHandler"])
def test_notebook_7s_pages_load_notebooks_build_from_the_shared_address(page):
    import notebook.app

    config = notebook_page_config(NotebookFiles(shared_url=SHARED_NOTEBOOK),
                                  notebook_handler(getattr(notebook.app, page)), own_page_config())
    assert config == {**own_page_config(), "fullStaticUrl": SHARED_NOTEBOOK}


def test_jupyterlabs_page_and_a_server_without_the_setting_are_untouched():
    from jupyterlab.labapp import LabApp
    from jupyterlab_server.handlers import LabHandler
    from notebook.app import NotebookHandler

    lab = LabHandler.__new__(LabHandler)  # JupyterLab's page: LabApp.override_static_url moves its files
    lab.name = LabApp.name
    assert notebook_page_config(NotebookFiles(shared_url=SHARED_NOTEBOOK), lab, own_page_config()) == own_page_config()
    unset = NotebookFiles()  # [hub] shared_static off
    assert notebook_page_config(unset, notebook_handler(NotebookHandler), own_page_config()) == own_page_config()


def test_another_extensions_handler_built_on_notebooks_keeps_its_own_address():
    """Its static folder is its own, not Notebook's."""
    from notebook.app import NotebookBaseHandler

    other = notebook_handler(NotebookBaseHandler)
    other.name = "someone-elses"
    shared = NotebookFiles(shared_url=SHARED_NOTEBOOK)
    assert notebook_page_config(shared, other, own_page_config()) == own_page_config()


def test_the_servers_hook_gives_a_lesson_page_the_shared_address_after_jupyterhubs_hook():
    from types import SimpleNamespace

    from notebook.app import NotebookHandler
    from traitlets.config import Config

    settings = {"page_config_hook": lambda handler, config: {**config, "hubUser": "aliya"}}
    config = Config({"NotebookFiles": {"shared_url": SHARED_NOTEBOOK}})
    serverapp = SimpleNamespace(web_app=SimpleNamespace(settings=settings), config=config)
    lessonview._load_jupyter_server_extension(serverapp)
    lesson = notebook_handler(NotebookHandler)
    lesson.application = SimpleNamespace(settings={"notebook": SimpleNamespace(extra_labextensions_path=[],
                                                                              labextensions_path=[])})
    page = settings["page_config_hook"](lesson, own_page_config())
    assert page["fullStaticUrl"] == SHARED_NOTEBOOK and page["hubUser"] == "aliya"


@pytest.mark.parametrize("shared", [True, False])
def test_without_the_setting_a_server_is_only_told_to_compress(folders, shared):
    """[hub] shared_static off: every server serves its own JupyterLab and Notebook files."""
    import asyncio
    from types import SimpleNamespace

    async def policy(spawner):
        spawner.policy_ran = True

    spawner = SimpleNamespace(args=["--before"])
    asyncio.run(sharedstatic.with_light_pages(policy, shared=shared)(spawner))
    assert spawner.policy_ran
    if shared:
        assert spawner.args == sharedstatic.server_args()
        assert any(a.startswith("--NotebookFiles.shared_url=") for a in spawner.args)
    else:
        assert spawner.args == [sharedstatic.COMPRESS]
