"""A user's server started with sabaq's light-start arguments (sabaq.hub.jupyterhub.lightstart)
keeps her role's own server extensions, and is spared the extension manager and the search for
language servers. Starts a Jupyter server in a fresh interpreter (3-5 s): not in the quick tier
(tests/unit/test_light_start.py holds the arguments' own checks)."""

from __future__ import annotations

import json
import subprocess
import sys

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


def test_a_students_server_keeps_her_roles_extensions_with_these_arguments(tmp_path, monkeypatch):
    """A dictionary on the command line would have replaced the role's: the formgrader came back."""
    monkeypatch.setattr(lightstart, "language_servers_installed", lambda: False)
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
