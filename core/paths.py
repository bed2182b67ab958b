"""Where sabaq's own tools and packages are."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path


def with_venv_path(path: str) -> str:
    """PATH with sabaq's Python environment first: servers and nbgrader call its tools
    by name (nbgrader runs `alembic`), even when `sabaq` was started by its full path."""
    venv_bin = str(Path(sys.prefix) / "bin")
    return os.pathsep.join([venv_bin, *[p for p in path.split(os.pathsep) if p and p != venv_bin]])


SABAQ_PACKAGES = ("sabaq", "sabaq.hub", "sabaq.autograders", "sabaq.lessons", "sabaq.devtools")


def package_dirs(names: tuple[str, ...] = SABAQ_PACKAGES) -> list[Path]:
    """The folders sabaq's packages are loaded from (one folder in site-packages, or the
    checkout's folders in an editable install), found without importing them."""
    dirs = []
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            dirs.append(Path(list(spec.submodule_search_locations)[0]))
    return dirs
