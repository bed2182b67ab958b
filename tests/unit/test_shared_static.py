"""JupyterLab's files at one shared, versioned address (sabaq.hub.jupyterhub.sharedstatic):
which files it serves, that nothing outside their folders is reachable, and that the
version changes with the files."""

from __future__ import annotations

import json
import os
import posixpath

import pytest
from jupyter_server.utils import url_path_join

from sabaq.hub.jupyterhub import sharedstatic
from sabaq.hub.jupyterhub.sharedstatic import CACHE_CONTROL, EXTENSIONS, LAB, find_file


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """A JupyterLab static folder, an environment's labextensions folder, and a secret beside them."""
    lab = tmp_path / "lab" / "static"
    lab.mkdir(parents=True)
    (lab / "main.abc.js").write_text("main")
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
    monkeypatch.setattr(sharedstatic, "_known", {"version": "", "at": float("-inf")})
    return lab, env, secret


def test_it_serves_jupyterlabs_files_and_extensions_static_files(folders):
    lab, env, _ = folders
    assert find_file(LAB, "main.abc.js") == (lab / "main.abc.js").resolve()
    assert find_file(EXTENSIONS, "plain/static/remoteEntry.1.js") == (env / "plain/static/remoteEntry.1.js").resolve()
    assert find_file(EXTENSIONS, "@scope/scoped/static/remoteEntry.1.js").read_text() == "@scope/scoped"


@pytest.mark.parametrize("kind,path", [
    (LAB, "../../home/secret.txt"),
    (LAB, "./main.abc.js"),
    (LAB, ""),
    (LAB, "missing.js"),
    (EXTENSIONS, "plain/package.json"),  # only an extension's static folder
    (EXTENSIONS, "plain/static/../../../../home/secret.txt"),
    (EXTENSIONS, "unknown/static/remoteEntry.1.js"),
    ("home", "secret.txt"),
])
def test_a_path_outside_the_shared_folders_is_refused(folders, kind, path):
    assert find_file(kind, path) is None


def test_a_link_that_leads_out_of_a_shared_folder_is_refused(folders):
    lab, env, secret = folders
    os.symlink(secret, lab / "linked.js")
    os.symlink(secret.parent, env / "plain" / "static" / "home")
    assert find_file(LAB, "linked.js") is None
    assert find_file(EXTENSIONS, "plain/static/home/secret.txt") is None


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
    assert sharedstatic.version_on_disk() not in (first, second)
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


def test_jupyterlab_and_notebook_7_both_load_extensions_from_the_shared_address(folders):
    """Notebook 7's app is a LabServerApp, not a LabApp: a lesson opened in its view (the
    phone's) must get sabaq-lessons from the shared address too."""
    from jupyterlab.labapp import LabApp
    from notebook.app import JupyterNotebookApp
    from traitlets.config.loader import KVArgParseConfigLoader

    config = KVArgParseConfigLoader(sharedstatic.server_args()[1:]).load_config()
    extensions = sharedstatic.server_args()[-1].split("=", 1)[1]
    assert LabApp(config=config).labextensions_url == extensions
    assert JupyterNotebookApp(config=config).labextensions_url == extensions


def test_a_server_on_its_own_subdomain_names_the_hubs_host(folders):
    args = dict(a.lstrip("-").split("=", 1) for a in sharedstatic.server_args("https://school.kz"))
    base = "https://school.kz" + sharedstatic.base_path(sharedstatic.current_version())
    assert args["LabApp.override_static_url"] == base + "lab/"
    assert args["LabServerApp.labextensions_url"] == base + "ext/"
