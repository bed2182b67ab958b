"""Every user's server gets sabaq's nbgrader configuration, on one machine and on Kubernetes
(issue 15, item 7): the exchange plugin and nbgrader's own autograde switched off.

On one machine the spawner writes it into ~/.jupyter (here). On Kubernetes nothing writes into a
pod's home, so the users' image installs the same text in its environment's etc/jupyter: checked
in tests/test_pod_image_config.py, which starts nbgrader and Jupyter servers in a stand-in for
the image (a few seconds each, too slow for this quick tier).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from sabaq.hub.jupyterhub.serverconfig import nbgrader_config
from sabaq.hub.jupyterhub.spawner import SabaqSpawner


def spawner_written(tmp_path: Path, groups: list[str]) -> str:
    """The ~/.jupyter/nbgrader_config.py the local spawner writes for someone of these groups."""
    spawner = SabaqSpawner(isolate=False, home_root=str(tmp_path / "homes"))
    spawner.user = SimpleNamespace(name="aliya", groups=[SimpleNamespace(name=g) for g in groups])
    home = Path(spawner._prepare_home())
    return (home / ".jupyter" / "nbgrader_config.py").read_text()


def test_the_spawner_writes_the_shared_text(tmp_path):
    assert spawner_written(tmp_path / "student", ["nbgrader-demo"]) == nbgrader_config()
    teacher = spawner_written(tmp_path / "teacher", ["formgrade-demo"])
    assert teacher == nbgrader_config("demo", str(tmp_path / "teacher" / "homes" / "aliya" / "demo"))
    assert teacher.startswith(nbgrader_config())
