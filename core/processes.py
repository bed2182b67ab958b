"""Telling a process from a stranger given the same pid later: its start time after boot.

A pid written down (a run's processes, a worker's temporary folders) names that process only
while the start time read with it is still the one of the process under that pid."""

from __future__ import annotations

import glob
import os
import re
import shutil
import tempfile
from pathlib import Path


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks after boot (/proc/<pid>/stat field 22); None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # the name may hold spaces and parentheses
    if fields[0] == "Z":  # a zombie has finished: nothing left to stop
        return None
    return int(fields[19])


def is_running(pid: int, started: int | None) -> bool:
    """The process that had this pid is still the one running under it (not a recycled pid)."""
    return pid > 0 and started is not None and start_time(pid) == started


def own_temp_folder(prefix: str) -> Path:
    """A new temporary folder (mkdtemp, 0700) named after this process, ``<prefix><pid>-<start
    time>-…``: what a process killed before it could remove its folder left is found by that
    name and removed by the next one of its kind (:func:`remove_left_folders`)."""
    pid = os.getpid()
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{pid}-{start_time(pid)}-"))


def remove_left_folders(prefix: str, folder: Path | None = None) -> list[Path]:
    """Remove the folders :func:`own_temp_folder` made with this prefix (in ``folder``, the
    temporary one by default) whose process no longer runs; return them. A folder whose name
    says no process (another program's, an older sabaq's) is left alone."""
    removed = []
    for path in Path(folder or tempfile.gettempdir()).glob(f"{glob.escape(prefix)}*"):
        owner = re.fullmatch(r"(\d+)-(\d+)-[^-/]+", path.name[len(prefix):])
        if owner and path.is_dir() and not path.is_symlink() and not is_running(int(owner[1]), int(owner[2])):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
