"""`sabaq grade batch` and `sabaq bench grading` from the command line."""

from __future__ import annotations

import csv
import os
import pty
import re
import subprocess
import sys

import pytest

from sabaq.devtools.corpus import ASSIGNMENT, QUICK, build_course

pytestmark = pytest.mark.grading


def test_grade_batch_writes_csv_and_shows_progress_on_a_terminal(tmp_path):
    course = build_course(tmp_path / "course", kinds=QUICK)
    out = tmp_path / "scores.csv"
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sabaq", "grade", "batch", "--course", str(course), "--assignment", ASSIGNMENT,
         "--workers", "2", "--out", str(out), "--data", str(tmp_path / "data")],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=secondary,
    )
    os.close(secondary)
    terminal = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:
            break
        if not chunk:
            break
        terminal += chunk
    stdout, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, terminal.decode(errors="replace")
    screen = terminal.decode(errors="replace")
    assert "grading" in screen and "17/17" in screen and "<" in screen  # bar, count, ETA
    assert b"Graded 17 notebooks" in stdout
    rows = list(csv.DictReader(open(out, encoding="utf-8")))
    assert list(rows[0]) == ["student", "notebook", "grade_id", "score", "max_score"]
    keys = [(r["student"], r["notebook"], r["grade_id"]) for r in rows]
    assert keys == sorted(keys) and len(keys) == len(set(keys))
    assert {r["max_score"] for r in rows if r["grade_id"] == "test_mean"} == {"3.0"}
    by_key = {(r["student"], r["notebook"], r["grade_id"]): float(r["score"]) for r in rows}
    assert by_key[("correct", "problems", "test_square")] == 2.0
    assert by_key[("partial", "problems", "test_mean")] == 2.0
    assert by_key[("wrong", "problems", "test_square")] == 0.0


def test_grade_batch_explains_a_missing_assignment(tmp_path):
    course = build_course(tmp_path / "course", kinds=("correct",))
    out = subprocess.run([sys.executable, "-m", "sabaq", "grade", "batch", "--course", str(course),
                          "--assignment", "nosuch", "--out", str(tmp_path / "x.csv"), "--data", str(tmp_path / "d")],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "nbgrader generate_assignment nosuch" in out.stderr
    assert "has no assignment 'nosuch'" in out.stderr
    kazakh = subprocess.run([sys.executable, "-m", "sabaq", "grade", "batch", "--course", str(course),
                             "--assignment", "nosuch", "--out", str(tmp_path / "x.csv"), "--data", str(tmp_path / "d")],
                            capture_output=True, text=True, env=dict(os.environ, SABAQ_LANG="kk"))
    assert kazakh.returncode == 2 and "nbgrader generate_assignment nosuch" in kazakh.stderr
    assert "has no assignment" not in kazakh.stderr and "тапсырма" in kazakh.stderr  # the teacher's language


def test_bench_grading_refuses_no_repeats(tmp_path):
    out = subprocess.run([sys.executable, "-m", "sabaq", "bench", "grading", "--repeats", "0", "--data", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "0 is not a whole number of at least 1" in out.stderr


def test_bench_grading_compares_with_nbgrader(tmp_path):
    out = subprocess.run([sys.executable, "-m", "sabaq", "bench", "grading", "--copies", "1", "--repeats", "2",
                          "--data", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "notebooks/s" in out.stdout and "scores equal: yes" in out.stdout
    assert "x nbgrader's throughput" in out.stdout
    times = re.search(r"median of ([0-9.]+), ([0-9.]+) s", out.stdout)
    assert times and all(float(t) > 0 for t in times.groups())  # sabaq graded two fresh copies
