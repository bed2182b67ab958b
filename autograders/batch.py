"""`sabaq grade batch`: grade an nbgrader course folder, no service needed.

The folder is laid out as nbgrader lays it out (``source/``,
``submitted/STUDENT/ASSIGNMENT/``, ``nbgrader_config.py``, ``gradebook.db``); the
results go into the same gradebook and ``autograded/`` folders nbgrader
autograde writes, and into a CSV with one row per student, notebook and grade
cell: ``student,notebook,grade_id,score,max_score``.
"""

from __future__ import annotations

import csv
import glob
import logging
import os
import sys
import warnings
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy.exc import SAWarning
from nbgrader.converters.base import NbGraderException
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from .engine import SabaqAutograde
from .executor import Executor
from .gradebook import shared_engines

CSV_FIELDS = ("student", "notebook", "grade_id", "score", "max_score")


class BatchError(Exception):
    """The course folder cannot be graded as asked; the message says why and what to do."""


def course_config(course_dir: Path, assignment: str) -> Config:
    config = Config()
    config_file = course_dir / "nbgrader_config.py"
    if config_file.exists():
        config.merge(PyFileConfigLoader(config_file.name, path=str(course_dir)).load_config())
    config.CourseDirectory.root = str(course_dir)
    config.CourseDirectory.assignment_id = assignment
    return config


def submitted_notebooks(course_dir: Path, coursedir: CourseDirectory, assignment: str) -> list[str]:
    pattern = coursedir.format_path(coursedir.submitted_directory, "*", assignment)
    return sorted(glob.glob(os.path.join(pattern, "*.ipynb")))


def scores(course_dir: Path, config: Config, assignment: str) -> list[dict]:
    coursedir = CourseDirectory(config=config)
    rows = []
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        try:
            a = gb.find_assignment(assignment)
        except MissingEntry:
            return rows
        for submission in sorted(a.submissions, key=lambda s: s.student.id):
            for nb in sorted(submission.notebooks, key=lambda n: n.name):
                for grade in sorted(nb.grades, key=lambda g: g.cell.notebook.name + g.name):
                    rows.append({
                        "student": submission.student.id,
                        "notebook": nb.name,
                        "grade_id": grade.name,
                        "score": grade.score,
                        "max_score": grade.max_score,
                    })
    return rows


def write_csv(rows: list[dict], out: Path) -> None:
    with open(out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def grade_course(course_dir: str | os.PathLike, assignment: str, grading, workers: int | None = None,
                 force: bool = True, progress: bool | None = None, language: str = "en",
                 executor: Executor | None = None) -> dict:
    """Autograde every submission of `assignment`; return a summary."""
    course_dir = Path(course_dir).resolve()
    if not course_dir.is_dir():
        raise BatchError(f"There is no course folder {course_dir}.")
    config = course_config(course_dir, assignment)
    config.SandboxedExecute.language = language
    config.Autograde.force = force
    coursedir = CourseDirectory(config=config)
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        try:
            gb.find_assignment(assignment)
        except MissingEntry:
            raise BatchError(
                f"The gradebook of {course_dir} has no assignment '{assignment}'. "
                f"Run `nbgrader generate_assignment {assignment}` in that folder first."
            ) from None
    notebooks = submitted_notebooks(course_dir, coursedir, assignment)
    bar = _progress(len(notebooks), progress)
    own_executor = executor is None
    executor = executor or Executor(grading, parallel=workers).start()
    failures = []

    def on_notebook(student, notebook, result):
        if result.get("status") != "ok":
            failures.append((student, notebook, result.get("status"), result.get("reason", "")))
        bar.update(1)

    converter = SabaqAutograde(coursedir=coursedir, config=config)
    converter.executor = executor
    converter.on_notebook = on_notebook
    converter.log.setLevel(logging.WARNING)
    error = None
    try:
        with shared_engines(), warnings.catch_warnings():
            # nbgrader's gradebook code trips SQLAlchemy's autoflush warnings; they are not ours to fix
            warnings.filterwarnings("ignore", category=SAWarning)
            converter.start()
    except NbGraderException as e:
        error = str(e)
    finally:
        bar.close()
        if own_executor:
            executor.close()
    return {"notebooks": len(notebooks), "failures": failures, "error": error,
            "rows": scores(course_dir, config, assignment)}


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass


def _progress(total: int, show: bool | None):
    if show is None:
        show = sys.stderr.isatty()
    if not show:
        return _NoBar()
    import shutil

    from tqdm import tqdm

    # A terminal that reports no width still gets a bar; tqdm writes nothing to a
    # bare pseudo-terminal's sys.stderr, so it writes through a plain wrapper.
    return tqdm(total=total, unit="notebook", desc="grading", file=_Terminal(sys.stderr),
                ncols=shutil.get_terminal_size().columns, ascii=" #")


class _Terminal:
    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        self.stream.write(text)

    def flush(self):
        self.stream.flush()

    def isatty(self):
        return True
