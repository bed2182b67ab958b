"""A judged run's first process is a program of its own (autograders/olympiad/reaper.py: no
``preexec_fn`` in the judge, whose threads judge other runs). Its start, a Python's, is no
part of the run: here a reaper that burns 1.5 s of CPU before it starts the command leaves
a run of /bin/true within a 1 s limit, by the cgroup's measure and by the watchdog's."""

from __future__ import annotations

import os
import shutil

import pytest

from sabaq.autograders.olympiad import run
from sabaq.autograders.sandbox import confine

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="a uid of the judge's pool needs root")
BURN = 1.5  # CPU seconds of the slow reaper's own start
SLOW_START = f"""
while sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) < {BURN}:
    pass  # a reaper slow to start: its own CPU seconds
"""


@pytest.fixture
def slow_reaper(tmp_path, monkeypatch):
    source = run.REAPER.read_text()
    main = source.index('\nif __name__ == "__main__":')
    slow = tmp_path / "reaper.py"
    slow.write_text(source[:main] + SLOW_START + source[main:])
    monkeypatch.setattr(run, "REAPER", slow)


@pytest.mark.parametrize("cgroups", [True, False], ids=["cgroups", "watchdog"])
def test_the_reapers_own_start_is_not_the_programs_time(slow_reaper, monkeypatch, cgroups):
    if cgroups and not confine.cgroups_usable():
        pytest.skip("no cgroup v1 hierarchies to write to")
    monkeypatch.setattr(run, "confine", lambda uid, tree: confine.confine(uid, tree, use_cgroups=cgroups))
    with run.judge_uid() as uid:
        result = run._run_as(uid, [shutil.which("true")], None, None, run._limits(1.0, 256, 1), wall=30)
    assert result.status == "ok", result
    assert result.cpu < 1.0 and result.wall < BURN, result  # the burn counted would be 1.5 s of each


def test_no_code_runs_between_fork_and_exec_in_the_judge():
    """A guard for 3c69c91: no subprocess call of the judge (autograders/olympiad, the sandbox it
    runs in) passes ``preexec_fn``, Python code run in the child between fork and exec, which
    may deadlock on a lock another of the judge's threads held at the fork (ruff PLW1509)."""
    import ast
    from pathlib import Path

    autograders = Path(__file__).resolve().parents[2] / "autograders"
    sources = [*(autograders / "olympiad").rglob("*.py"), *(autograders / "sandbox").rglob("*.py")]
    # the checkout's judge is read (installed or not): the reaper and the runner are among its files
    assert {run.REAPER.name, Path(run.__file__).name} <= {p.name for p in sources}
    found = [f"{path.relative_to(autograders)}:{node.lineno}" for path in sources
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
             if isinstance(node, ast.keyword) and node.arg == "preexec_fn"]
    assert found == []
