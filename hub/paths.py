"""Where sabaq's own tools are."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def with_venv_path(path: str) -> str:
    """PATH with sabaq's Python environment first: servers and nbgrader call its tools
    by name (nbgrader runs `alembic`), even when `sabaq` was started by its full path."""
    venv_bin = str(Path(sys.prefix) / "bin")
    return os.pathsep.join([venv_bin, *[p for p in path.split(os.pathsep) if p and p != venv_bin]])
