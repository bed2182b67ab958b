"""Turning a teacher's source assignment into the version students get.

Runs nbgrader's own ``generate_assignment`` (in a scratch course directory,
in a child process: ``sabaq.autograders.notebook.generate``) so solutions and hidden
tests are stripped exactly as nbgrader strips them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from sabaq.archive import read_tree, write_tree
from sabaq.errors import Invalid
from sabaq.i18n import N_

SKIP = {".ipynb_checkpoints", "__pycache__", "gradebook.db"}


def _skip(rel: str, is_dir: bool) -> bool:
    return rel.rsplit("/", 1)[-1] in SKIP or rel.endswith(".pyc")


def source_files(source_dir: str | os.PathLike) -> dict[str, bytes]:
    return read_tree(source_dir, _skip)


def generate_release(source_dir: str | os.PathLike, name: str, course_id: str) -> dict[str, bytes]:
    """{path: content} of the student version of the assignment in source_dir."""
    source_dir = Path(source_dir)
    if not source_dir.is_dir() or not any(source_dir.glob("*.ipynb")):
        raise Invalid(N_("The folder '{path}' holds no notebook to release."), path=str(source_dir))
    with tempfile.TemporaryDirectory(prefix="sabaq-generate-") as tmp:
        shutil.copytree(source_dir, Path(tmp, "source", name), ignore=shutil.ignore_patterns(*SKIP))
        Path(tmp, "nbgrader_config.py").write_text(
            "c = get_config()  # noqa\n"
            f"c.CourseDirectory.course_id = {course_id!r}\n"
            f"c.CourseDirectory.root = {tmp!r}\n"
        )
        proc = subprocess.run(
            [sys.executable, "-m", "sabaq.autograders.notebook.generate", name],
            cwd=tmp, capture_output=True, text=True, timeout=600,
        )
        release = Path(tmp, "release", name)
        if proc.returncode != 0 or not release.is_dir():
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            detail = lines[-1].strip() if lines else "?"  # nbgrader's reason, or the child's own error
            raise Invalid(
                N_("nbgrader could not generate the assignment '{assignment}': {detail}"),
                assignment=name, detail=detail,
            )
        return read_tree(release, _skip)


def generate_release_of(source: dict[str, bytes], name: str, course_id: str) -> dict[str, bytes]:
    """``generate_release`` of uploaded source files ({path: content}, names already checked)."""
    with tempfile.TemporaryDirectory(prefix="sabaq-upload-") as tmp:
        write_tree(tmp, source)
        return generate_release(tmp, name, course_id)
