"""`sabaq bench gradebook` measures sabaq's gradebook against nbgrader's Gradebook API
and prints both (a command that builds two school-sized gradebooks: several seconds)."""

from __future__ import annotations


def test_bench_gradebook_prints_both_measurements(tmp_path):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "sabaq", "bench", "gradebook", "--students", "30", "--assignments", "4",
                          "--data", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "sabaq on SQLite: gradebook page of 100 students" in out.stdout
    assert "nbgrader Gradebook API" in out.stdout and "ratio on SQLite" in out.stdout
