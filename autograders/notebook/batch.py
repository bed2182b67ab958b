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

import nbformat
from nbgrader.api import (
    Assignment,
    BaseCell,
    Grade,
    Gradebook,
    MissingEntry,
    Notebook,
    Student,
)
from nbgrader.converters.base import NbGraderException
from nbgrader.coursedir import CourseDirectory
from nbgrader.utils import parse_utc
from sqlalchemy.exc import SAWarning
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from sabaq.autograders.notebook.engine import SabaqAutograde, submission_of
from sabaq.autograders.notebook.gradebook import shared_engines, write_ahead_log
from sabaq.autograders.notebook.lookups import with_its_cell_and_student
from sabaq.autograders.notebook.split import grade_in_processes, shares
from sabaq.autograders.sandbox.executor import Executor
from sabaq.errors import SabaqError
from sabaq.i18n import N_

CSV_FIELDS = ("student", "notebook", "grade_id", "score", "max_score")


# a submission graded although its timestamp.txt holds no time (nbgrader stopped at it)
UNREADABLE_TIME = N_("{student}: the submission's timestamp.txt does not hold a time ({found}), so it was graded "
                     "as submitted at no particular time (never late), as nbgrader grades an empty one. To count "
                     "lateness, write the time it was submitted into it (for example 2026-12-05 14:00:00 UTC) and "
                     "grade again.")


def time_in(path: str) -> tuple[bool, object]:
    """(whether ``path`` holds a time or nothing, the time or None), read as nbgrader reads a
    timestamp.txt."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read().strip()
        return True, parse_utc(text) if text else None
    except (OSError, UnicodeDecodeError, ValueError, OverflowError, TypeError):
        return False, None


class BatchCourseDirectory(CourseDirectory):
    """nbgrader's course folder, but a timestamp.txt that holds no time counts as none, as
    nbgrader counts an empty one, instead of stopping that student's grading (nbgrader
    calls a ``fail`` its CourseDirectory does not have); ``unreadable_times`` tells which."""

    def get_existing_timestamp(self, dest_path: str):
        path = os.path.join(dest_path, "timestamp.txt")
        if os.path.exists(path) and not time_in(path)[0]:
            return None
        return super().get_existing_timestamp(dest_path)


def unreadable_times(coursedir: CourseDirectory, notebooks: list[str]) -> list[dict]:
    """A note for each submission whose timestamp.txt holds no time (graded as having none)."""
    notes = []
    for folder in sorted({os.path.dirname(nb) for nb in notebooks}):
        path = os.path.join(folder, "timestamp.txt")
        if os.path.exists(path) and not time_in(path)[0]:
            try:
                with open(path, "rb") as fh:
                    found = fh.read(64).decode("utf-8", "replace").strip()
            except OSError as e:
                found = e.strerror or type(e).__name__
            student = submission_of(coursedir, folder)["student_id"]
            notes.append({"student": student, "message": UNREADABLE_TIME,
                          "params": {"student": student, "found": repr(found)}})
    return notes


class BatchError(SabaqError):
    """The course folder cannot be graded as asked; the message says why and what to do."""

    code = "batch_error"


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
    """One row per student, notebook and grade cell, in that order: one query (walking
    nbgrader's objects took a query per submission, notebook and grade)."""
    coursedir = BatchCourseDirectory(config=config)
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        query = (with_its_cell_and_student(gb.db.query(Student.id, Notebook.name, BaseCell.name, Grade.score,
                                                        Grade.max_score).select_from(Grade), Grade)
                 .filter(Assignment.name == assignment, Assignment.course_id == gb.course_id)
                 .order_by(Student.id, Notebook.name, BaseCell.name))
        return [dict(zip(CSV_FIELDS, row)) for row in query]


def write_csv(rows: list[dict], out: Path) -> None:
    with open(out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def grade_course(course_dir: str | os.PathLike, assignment: str, grading, workers: int | None = None,
                 force: bool = True, progress: bool | None = None, language: str = "en",
                 executor: Executor | None = None) -> dict:
    """Autograde every submission of `assignment`; return a summary.

    The students are split over ``[grading] batch_processes`` processes (see ``split``)
    unless the executor given is already started (a service worker's, whose threads
    must not be forked): then they are graded here with it. An executor only launched
    (``Executor.launch``, its zygote importing while this process does) is handed
    over: closed at the end.
    """
    close_executor = executor is None or not executor.started
    executor = executor or Executor(grading, parallel=workers).launch()
    try:
        return _grade_course(Path(course_dir).resolve(), assignment, grading, force, progress, language, executor)
    finally:
        if close_executor:
            executor.close()


def _grade_course(course_dir: Path, assignment: str, grading, force: bool, progress: bool | None, language: str,
                  executor: Executor) -> dict:
    if not course_dir.is_dir():
        raise BatchError(N_("There is no course folder {folder}."), folder=course_dir)
    config = course_config(course_dir, assignment)
    config.SandboxedExecute.language = language
    config.Autograde.force = force
    coursedir = BatchCourseDirectory(config=config)
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:  # also adds the course, once, before any split
        try:
            gb.find_assignment(assignment)
        except MissingEntry:
            raise BatchError(N_("The gradebook of {folder} has no assignment '{assignment}'. "
                                "Run `nbgrader generate_assignment {assignment}` in that folder first."),
                             folder=course_dir, assignment=assignment) from None
    notebooks = submitted_notebooks(course_dir, coursedir, assignment)
    notes = unreadable_times(coursedir, notebooks)
    bar = _progress(len(notebooks), progress)
    failures = []

    def on_notebook(student, notebook, result):
        if result.get("status") != "ok":
            failures.append((student, notebook, result.get("status"), result.get("reason", "")))
        bar.update(1)

    try:
        groups = shares(submission_students(coursedir, notebooks), grading, executor)
        if len(groups) <= 1:
            error = grade_share(config, None, on_notebook, executor if executor.started else executor.start())
        else:
            _warm_up_validators(notebooks[0])
            with write_ahead_log(coursedir.db_url):
                error = grade_in_processes(groups, executor, on_notebook, lambda students, report, remote:
                                           grade_share(config, students, report, remote), language)
    finally:
        bar.close()
    return {"notebooks": len(notebooks), "failures": failures, "error": error, "notes": notes,
            "rows": scores(course_dir, config, assignment)}


def _warm_up_validators(notebook: str) -> None:
    """Compile nbformat's validators (fastjsonschema, 0.1 s each) once, before the split,
    instead of once in every share: as nbformat.read checks a notebook, and as nbconvert
    checks it after each preprocessor."""
    try:
        nb = nbformat.read(notebook, as_version=nbformat.NO_CONVERT)
        nbformat.validate(nb, relax_add_props=True)
    except Exception:  # noqa: BLE001 - a broken notebook is the pipeline's to report, not this
        pass


def submission_students(coursedir: CourseDirectory, notebooks: list[str]) -> list[str]:
    return sorted({submission_of(coursedir, os.path.dirname(nb))["student_id"] for nb in notebooks})


def grade_share(config: Config, students: list[str] | None, on_notebook, executor) -> str | None:
    """Run nbgrader's pipeline for `students` (None: all); return its error, if any."""
    converter = SabaqAutograde(coursedir=BatchCourseDirectory(config=config), config=config)
    converter.executor = executor
    converter.on_notebook = on_notebook
    converter.students = students
    converter.log.setLevel(logging.WARNING)
    try:
        with shared_engines(), warnings.catch_warnings():
            # nbgrader's gradebook code trips SQLAlchemy's autoflush warnings; they are not ours to fix
            warnings.filterwarnings("ignore", category=SAWarning)
            converter.start()
    except NbGraderException as e:
        return str(e)
    return None


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
