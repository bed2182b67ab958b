"""`sabaq bench grading`: sabaq's grading against `nbgrader autograde`, same submissions, same run.

Builds a class of synthetic submissions, grades one copy with nbgrader and
others with sabaq, checks that every score is equal, and prints notebooks per
second for both and their ratio. Both run as the commands a teacher types, so
each time includes starting Python and importing. Speed is measured here, never
asserted in tests.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nbgrader.api import Gradebook

from sabaq.devtools.corpus import ASSIGNMENT, QUICK, SABAQS_CELL_TIMEOUT, build_course
from sabaq.paths import with_venv_path


def gradebook_scores(course: Path) -> dict:
    """(student, notebook, grade id) -> (auto score, needs a human); (student, notebook, "penalty") -> penalty."""
    out = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "parity") as gb:
        for submission in gb.find_assignment(ASSIGNMENT).submissions:
            for nb in submission.notebooks:
                out[(submission.student.id, nb.name, "penalty")] = nb.late_submission_penalty
                for grade in nb.grades:
                    out[(submission.student.id, nb.name, grade.name)] = (grade.auto_score, grade.needs_manual_grade)
    return out


def _command_env() -> dict:
    """The environment the timed commands run in: the venv's commands on PATH, as after an install."""
    return dict(os.environ, PATH=with_venv_path(os.environ.get("PATH", "")))


def time_nbgrader_autograde(course: Path) -> float:
    """Seconds `nbgrader autograde` takes over the course folder, as a teacher would run it."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--force"],
                   cwd=course, capture_output=True, env=_command_env())
    return time.perf_counter() - start


def bench_grading(settings_args: list[str], copies: int, workers: int | None, keep: str | None = None,
                  out=print, repeats: int = 3) -> dict:
    """settings_args: what `sabaq grade batch` is told of the settings (--data, --config).

    sabaq grades `repeats` fresh copies of the class and its median time counts: one run
    of a few seconds lands wherever this machine's speed happens to be (it drifts by 15%
    and more within minutes), while nbgrader's one run of minutes averages that out."""
    base = Path(keep or tempfile.mkdtemp(prefix="sabaq-bench-"))
    try:
        reference = build_course(base / "nbgrader", copies=copies, kinds=QUICK, cell_timeout=SABAQS_CELL_TIMEOUT)
        pristine = base / "class"
        shutil.copytree(reference, pristine)
        notebooks = len(list((reference / "submitted").glob(f"*/{ASSIGNMENT}/*.ipynb")))
        out(f"class: {notebooks} notebooks from {copies * len(QUICK)} students; {os.cpu_count()} CPU cores")

        env = _command_env()
        nbgrader_seconds = time_nbgrader_autograde(reference)
        expected = gradebook_scores(reference)

        times, equal = [], bool(expected)
        for run in range(1, max(1, repeats) + 1):
            ours = base / f"sabaq-{run}"
            shutil.copytree(pristine, ours)
            command = [sys.executable, "-m", "sabaq", "grade", "batch", "--course", str(ours),
                       "--assignment", ASSIGNMENT, "--out", str(base / f"sabaq-{run}.csv"), *settings_args]
            if workers:
                command += ["--workers", str(workers)]
            start = time.perf_counter()
            graded = subprocess.run(command, capture_output=True, text=True, env=env)
            times.append(time.perf_counter() - start)
            if graded.returncode != 0:
                out(graded.stderr.strip())
            equal = equal and gradebook_scores(ours) == expected
        sabaq_seconds = statistics.median(times)
        result = {
            "notebooks": notebooks,
            "nbgrader_per_second": notebooks / nbgrader_seconds,
            "sabaq_per_second": notebooks / sabaq_seconds,
            "ratio": nbgrader_seconds / sabaq_seconds,
            "scores_equal": equal,
        }
        out(f"nbgrader autograde: {nbgrader_seconds:7.2f} s  {result['nbgrader_per_second']:7.2f} notebooks/s")
        out(f"sabaq grade batch:  {sabaq_seconds:7.2f} s  {result['sabaq_per_second']:7.2f} notebooks/s"
            + (f"  (median of {', '.join(f'{t:.2f}' for t in times)} s)" if len(times) > 1 else ""))
        out(f"ratio: {result['ratio']:.1f}x nbgrader's throughput; scores equal: {'yes' if equal else 'NO'}")
        return result
    finally:
        if keep is None:
            shutil.rmtree(base, ignore_errors=True)
