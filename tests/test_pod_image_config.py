"""Every user's server gets sabaq's nbgrader configuration, on one machine and on Kubernetes
(issue 15, item 7): the exchange plugin and nbgrader's own autograde switched off.

On one machine the spawner writes it into ~/.jupyter (tests/unit/test_server_nbgrader_config.py);
on Kubernetes nothing writes into a pod's home, so the users' image installs the same text in
its environment's etc/jupyter. Checked without Docker: the Dockerfile's own command is run in a stand-in for the image's
environment (a Python environment of its own, whose prefix plays ${CONDA_DIR}), and
nbgrader started there, with an empty home as a new pod has, refuses to autograde a hostile
submission and names sabaq's exchange. Each test starts nbgrader or a Jupyter server in a
fresh interpreter (a few seconds each): not in the quick tier.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from sabaq.hub.jupyterhub.serverconfig import nbgrader_config

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "images" / "singleuser" / "Dockerfile"
DEMO = ROOT / "courses" / "demo" / "source" / "ps1" / "motion.ipynb"


def instructions(text: str) -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments left out."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    return [line.strip() for line in joined.splitlines() if line.strip()]


def the_images_config_command() -> str:
    found = [i for i in instructions(DOCKERFILE.read_text()) if i.startswith("RUN ") and "serverconfig" in i]
    assert len(found) == 1, found
    return found[0][len("RUN "):]


@pytest.fixture
def image_env(tmp_path) -> Path:
    """A Python environment standing in for the image's ${CONDA_DIR}: its own prefix (so
    Jupyter's environment config folder is its etc/jupyter), with this checkout's packages."""
    env = tmp_path / "image" / "conda"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, capture_output=True)
    site = next((env / "lib").glob("python3*/site-packages"))
    (site / "sabaq-checkout.pth").write_text(f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    return env


def run_in_image(env: Path, args: list[str], cwd: Path, home: Path, **extra) -> subprocess.CompletedProcess:
    """A command in the stand-in image, as in a new pod: an empty home, no config of the user's."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "SABAQ_"))}
    environ.update(PATH=f"{env / 'bin'}{os.pathsep}{os.environ['PATH']}", HOME=str(home), CONDA_DIR=str(env),
                   **extra)
    return subprocess.run(args, cwd=cwd, env=environ, capture_output=True, text=True, timeout=300)


POD_TEACHER = """\
import json
from jupyter_core.paths import jupyter_config_path
from nbgrader.apps import AutogradeApp
print(json.dumps(jupyter_config_path()))
app = AutogradeApp()  # what `nbgrader autograde ps1` in her terminal runs
app.initialize(["ps1"])
print(json.dumps([app.config.ExchangeFactory.collect, app.config.Autograde.exporter_class]))
app.start()
"""


def test_a_pods_nbgrader_reads_the_images_config_and_refuses_a_hostile_submission(image_env, tmp_path):
    """The image's command installs the spawner's text where Jupyter looks in that environment
    (`jupyter --paths`); then the attack on Kubernetes: a teacher runs nbgrader's autograde in
    her pod on a submission whose answer writes a file with her token. Refused; nothing ran."""
    home, course = tmp_path / "home", tmp_path / "home" / "demo"
    home.mkdir()
    built = run_in_image(image_env, ["sh", "-ec", the_images_config_command()], tmp_path, home)
    assert built.returncode == 0, built.stderr
    installed = image_env / "etc" / "jupyter" / "nbgrader_config.py"
    assert installed.read_text() == nbgrader_config()  # the spawner's text, not a copy of it

    marker = tmp_path / "pwned"
    nb = json.loads(DEMO.read_text(encoding="utf-8"))
    answer = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "speed")
    answer["source"] = ("import os, pathlib\n"
                        f"pathlib.Path({str(marker)!r}).write_text(os.environ['JUPYTERHUB_API_TOKEN'])\n"
                        "def speed(s, t):\n    return s / t\n")
    (course / "source" / "ps1").mkdir(parents=True)
    (course / "source" / "ps1" / "motion.ipynb").write_bytes(DEMO.read_bytes())
    submitted = course / "submitted" / "aliya" / "ps1"
    submitted.mkdir(parents=True)
    (submitted / "motion.ipynb").write_text(json.dumps(nb))
    (submitted / "timestamp.txt").write_text("2026-12-05 09:00:00.000000 UTC")
    (course / "nbgrader_config.py").write_text("c = get_config()  # noqa\nc.CourseDirectory.course_id = 'demo'\n")

    pod = run_in_image(image_env, ["python", "-c", POD_TEACHER], course, home,
                       JUPYTERHUB_API_TOKEN="the-teachers-token", SABAQ_LANG="en", JUPYTERHUB_BASE_URL="/")
    paths, loaded = (json.loads(line) for line in pod.stdout.splitlines()[:2])
    assert str(installed.parent) in paths
    assert loaded == ["sabaq.hub.exchange.SabaqCollect", "sabaq.hub.exchange.autograde.RefuseAutograde"]
    assert pod.returncode == 1, pod.stderr
    assert "nbgrader's autograde does not run in your server" in pod.stderr
    assert "/services/sabaq/courses/demo/assignments/ps1" in pod.stderr
    assert not marker.exists() and not (course / "autograded").exists()


POD_LAB_LANGUAGE = """\
from jupyter_server.serverapp import ServerApp
app = ServerApp()
app.load_config_file()
print(app.config.LabServerApp.app_settings_dir)
"""


@pytest.mark.parametrize("language, locale", [("ru", "ru_RU"), ("kk", "kk_KZ")])
def test_a_pods_jupyterlab_starts_in_the_language_the_hub_names(image_env, tmp_path, language, locale):
    """The image's command also installs the server config that reads SABAQ_LANG (set per user
    by the hub's pre-spawn hook): a pod's Jupyter server finds it where it looks."""
    home = tmp_path / "home"
    home.mkdir()
    built = run_in_image(image_env, ["sh", "-ec", the_images_config_command()], tmp_path, home)
    assert built.returncode == 0, built.stderr
    seen = run_in_image(image_env, [str(image_env / "bin" / "python"), "-c", POD_LAB_LANGUAGE], tmp_path, home,
                        SABAQ_LANG=language)
    assert seen.returncode == 0, seen.stderr
    assert seen.stdout.strip().endswith(f"lab-settings/{locale}"), seen.stdout


POD_EXTENSIONS = """\
import json
from jupyter_server.serverapp import ServerApp
from jupyterlab_server.config import get_page_config

app = ServerApp()
app.initialize(["--ServerApp.ip=127.0.0.1", "--ServerApp.port=0", "--ServerApp.open_browser=False"])


def patterns(router):
    for rule in router.rules:
        if hasattr(rule.target, "rules"):
            yield from patterns(rule.target)
        elif hasattr(rule.matcher, "regex"):
            yield rule.matcher.regex.pattern


print(json.dumps({
    "enabled": sorted(name for name, extension in app.extension_manager.extensions.items() if extension.enabled),
    "routes": sorted(p for p in patterns(app.web_app.default_router) if "formgrader" in p),
    "disabled": get_page_config([])["disabledExtensions"],  # as JupyterLab's and Notebook 7's pages get it
}))
"""


@pytest.mark.parametrize("role", ["staff", "student"])
def test_a_pods_server_runs_the_extensions_of_the_role_the_hub_names(image_env, tmp_path, role):
    """A Jupyter server in the stand-in image, with what pip and the Dockerfile put in its
    etc/jupyter (nbgrader's own file enables its formgrader for everyone) and share/jupyter, started with the
    SABAQ_ROLE the hub's pre-spawn hook sets: a teacher's loads sabaq's formgrader and
    nbgrader's (their pages are routed), a student's neither, and her JupyterLab hides the
    plugins only staff use."""
    home = tmp_path / "home"
    home.mkdir()
    installed = image_env / "etc" / "jupyter" / "jupyter_server_config.d"
    installed.mkdir(parents=True)
    for source in Path(sys.prefix, "etc", "jupyter", "jupyter_server_config.d").glob("*.json"):
        (installed / source.name).write_bytes(source.read_bytes())  # pip's (nbgrader.json ...) and sabaq-lab.json
    assert json.loads((installed / "nbgrader.json").read_text())["ServerApp"]["jpserver_extensions"][
        "nbgrader.server_extensions.formgrader"] is True
    (image_env / "share").mkdir()  # and pip's share/jupyter: nbconvert's templates the formgrader renders with
    (image_env / "share" / "jupyter").symlink_to(Path(sys.prefix, "share", "jupyter"))
    built = run_in_image(image_env, ["sh", "-ec", the_images_config_command()], tmp_path, home)
    assert built.returncode == 0, built.stderr
    pod = run_in_image(image_env, [str(image_env / "bin" / "python"), "-c", POD_EXTENSIONS], tmp_path, home,
                       SABAQ_ROLE=role, SABAQ_LANG="kk")
    assert pod.returncode == 0, pod.stderr
    seen = json.loads(pod.stdout.splitlines()[-1])
    staff_only = {"nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list",
                  "sabaq.hub.exchange.formgrader"}
    everyone = {"sabaq.hub.exchange.status", "nbgrader.server_extensions.assignment_list", "jupyterlab", "notebook"}
    assert everyone <= set(seen["enabled"])
    nbgrader_page, sabaq_links = "/formgrader/?$", "/formgrader/static/js/utils.js"
    staff_plugins = {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                     "@jupyter/nbgrader:course-list"}
    if role == "staff":
        assert staff_only <= set(seen["enabled"])
        assert nbgrader_page in seen["routes"] and any(r.startswith(sabaq_links) for r in seen["routes"])
        assert not staff_plugins & set(seen["disabled"])
    else:
        assert not staff_only & set(seen["enabled"])
        assert seen["routes"] == []
        assert staff_plugins <= set(seen["disabled"])
    assert "@jupyterlab/apputils-extension:announcements" in seen["disabled"]
