"""What a user's server is spared at each start (sabaq.hub.jupyterhub.lightstart): a read-only
extension manager, no search for language servers when none is installed, and the role's own
server extensions still in force."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sabaq.hub.jupyterhub import lightstart
from sabaq.hub.jupyterhub.serverroles import STUDENT, home_files

PROBE = """
import json, sys
from jupyter_server.serverapp import ServerApp
app = ServerApp()
app.initialize(["--allow-root", "--port=0", "--ServerApp.open_browser=False", *sys.argv[1:]])
lab = next(a for a in app.extension_manager.extension_apps["jupyterlab"] if type(a).__name__ == "LabApp")
lsp = getattr(app, "language_server_manager", None)
print(json.dumps({
    "extensions": {k: bool(v) for k, v in app.jpserver_extensions.items()},
    "extension_manager": lab.extension_manager,
    "lsp_autodetect": None if lsp is None else lsp.autodetect,
}))
"""


@pytest.fixture
def no_language_servers(monkeypatch):
    monkeypatch.setattr(lightstart, "language_servers_installed", lambda: False)


def test_a_server_is_told_to_skip_what_nobody_uses(no_language_servers):
    args = lightstart.light_start_args()
    assert "--LabApp.extension_manager=readonly" in args
    assert "--LanguageServerManager.autodetect=False" in args


def test_an_installed_language_server_is_still_searched_for(monkeypatch):
    monkeypatch.setattr(lightstart, "language_servers_installed", lambda: True)
    args = lightstart.light_start_args()
    assert not any("LanguageServerManager" in a for a in args)
    assert "--LabApp.extension_manager=readonly" in args


def test_the_search_for_language_servers_runs_once_and_answers_a_yes_or_no():
    lightstart.language_servers_installed.cache_clear()
    first = lightstart.language_servers_installed()
    assert isinstance(first, bool)
    assert lightstart.language_servers_installed.cache_info().hits == 0
    assert lightstart.language_servers_installed() is first
    assert lightstart.language_servers_installed.cache_info().hits == 1


def test_a_students_server_keeps_her_roles_extensions_with_these_arguments(tmp_path, no_language_servers):
    """A dictionary on the command line would have replaced the role's: the formgrader came back."""
    home = tmp_path / "home"
    for path, data, _private in home_files(STUDENT):
        (home / path).parent.mkdir(parents=True, exist_ok=True)
        (home / path).write_bytes(data)
    env = {"HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / ".jupyter"), "PATH": "/usr/bin:/bin",
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    out = subprocess.run([sys.executable, "-c", PROBE, *lightstart.light_start_args()], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=180, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["extensions"]["nbgrader.server_extensions.formgrader"] is False
    assert seen["extensions"]["nbgrader.server_extensions.course_list"] is False
    assert seen["extensions"]["jupyterlab"] is True
    assert seen["extension_manager"] == "readonly"
    assert seen["lsp_autodetect"] is False
