"""The worker's `grade` jobs: submissions through the sandboxed nbgrader pipeline.

The worker rebuilds the assignment's nbgrader context from the teacher's
source (``nbgrader generate_assignment`` once per assignment version, kept in
a cache), puts the submissions it claimed together into a scratch course folder
(one student each, dated with the time the service recorded), grades them with
one ``grade_course`` and reads each one's scores back from the gradebook.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
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
    SubmittedAssignment,
    SubmittedNotebook,
)
from nbgrader.utils import parse_utc
from sqlalchemy import literal_column

from sabaq.archive import write_tree
from sabaq.autograders.jobs.bundle import GradingBundle, grading_bundle
from sabaq.autograders.notebook.batch import grade_course
from sabaq.autograders.notebook.generate import generate_assignment
from sabaq.autograders.notebook.gradebook import shared_engines
from sabaq.autograders.sandbox.executor import Executor
from sabaq.client import ServiceClient
from sabaq.contracts import CellScore, GradeDetails, GradeResult, GradingMeta, Note, NotebookProblem, NotebookScore
from sabaq.i18n import N_, translator
from sabaq.processes import own_temp_folder, remove_left_folders

log = logging.getLogger("sabaq.worker")
FETCHES_AT_ONCE = 4  # bundles fetched side by side: the service answers each in a thread of its own


class AssignmentCache:
    """Generated nbgrader course folders, one per assignment version.

    Each is generated in the same folder (``.generating``) and then moved to its own name: the
    gradebook's URL is then the same for every generation, so one database engine, and the
    statements SQLAlchemy compiled for it (about half of a generation's CPU), serve them all
    (see ``gradebook.shared_engines``)."""

    def __init__(self, root: Path):
        self.root = root
        self.lock = threading.Lock()
        self.engines: dict = {}

    def prepare(self, meta: GradingMeta, source: dict[str, bytes]) -> Path:
        name = f"{meta.course}--{meta.assignment}--v{meta.version}"
        folder = self.root / name
        with self.lock:
            if (folder / "gradebook.db").exists():
                return folder
            shutil.rmtree(folder, ignore_errors=True)
            generating = self.root / ".generating"
            shutil.rmtree(generating, ignore_errors=True)
            write_tree(generating / "source" / meta.assignment, source)
            (generating / "nbgrader_config.py").write_text(
                "c = get_config()  # noqa\n"
                f"c.CourseDirectory.course_id = {meta.course!r}\n"
            )
            try:
                # a cache of this process: a crash leaves it to be made again, so the gradebook's
                # commits need not reach the disk (about 30 of them, each a wait for it); the
                # engine's connections are closed when the block ends, before the folder moves
                with shared_engines(self.engines, scratch=True):
                    generate_assignment(generating, meta.assignment)
                generating.rename(folder)
            except Exception:
                shutil.rmtree(generating, ignore_errors=True)
                raise
            return folder


# the note on a submission whose own timestamp.txt is not the time the service recorded
TIME_UNREADABLE = N_("The submission's timestamp.txt could not be read as a time. It was graded as submitted at "
                     "{recorded}, when sabaq received it.")
TIME_DIFFERENT = N_("The submission's timestamp.txt says {found}. It was graded as submitted at {recorded}, when "
                    "sabaq received it.")


def stage_submission(course: Path, meta: GradingMeta, submitted: dict[str, bytes]) -> list[Note]:
    """Put a submission where nbgrader looks for it, with a timestamp.txt holding the time
    the service recorded (``meta.timestamp``): a student's own one (garbage, which stops
    nbgrader, or another time, which dates it wrongly) is replaced, and a note says so."""
    files = dict(submitted)
    own = files.pop("timestamp.txt", None)
    notes = []
    if meta.timestamp is None:  # a service that sends no time: the files as they are
        files.update({"timestamp.txt": own} if own is not None else {})
    else:
        files["timestamp.txt"] = meta.timestamp.encode()
        if own is not None:
            found = _time_of(own)
            if found is None:
                notes.append(Note(message=TIME_UNREADABLE, params={"recorded": meta.timestamp}))
            elif found != parse_utc(meta.timestamp):
                notes.append(Note(message=TIME_DIFFERENT, params={
                    "found": own.decode().strip()[:64], "recorded": meta.timestamp}))
    write_tree(course / "submitted" / meta.student / meta.assignment, files)
    return notes


def _time_of(timestamp: bytes) -> dt.datetime | None:
    """The time a timestamp.txt holds, as nbgrader reads it (None: not a time)."""
    try:
        return parse_utc(timestamp.decode("utf-8").strip()) if timestamp.strip() else None
    except (UnicodeDecodeError, ValueError, OverflowError):
        return None


NOT_GRADED = N_("nbgrader could not grade this submission: {error}. Its notebooks may be damaged: the student can "
               "fetch the assignment again, copy the answers into it and submit again.")


class NbgraderErrors(logging.Handler):
    """What nbgrader's pipeline logged about the submissions it could not grade: it names
    the submission's folder, then logs the traceback, whose last line says what broke."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def of(self, student: str, assignment: str) -> str | None:
        folder = f"{os.sep}{student}{os.sep}{assignment}{os.sep}"
        for message, following in zip(self.messages, self.messages[1:]):
            if message.startswith("There was an error") and folder in message + os.sep:
                lines = [line for line in following.splitlines() if line.strip()]
                return lines[-1].strip() if lines else None
        return None

    @contextlib.contextmanager
    def listening(self):
        logger = logging.getLogger("traitlets")  # nbgrader's converters log there outside an application
        logger.addHandler(self)
        try:
            yield self
        finally:
            logger.removeHandler(self)


def summarize(course: Path, meta: GradingMeta, summary: dict, notes: list[Note] = (),
              errors: NbgraderErrors | None = None) -> GradeResult:
    """Scores of one student's submission in a graded course folder, as the service keeps
    them. nbgrader removes the graded folder of a submission it could not grade: that one
    failed, with what nbgrader logged about it (else the run's error)."""
    details = GradeDetails(problems=[NotebookProblem(notebook=n, status=s, reason=r)
                                     for student, n, s, r in summary["failures"] if student == meta.student],
                           notes=list(notes))
    graded = course / "autograded" / meta.student / meta.assignment
    failed = bool(summary["error"]) and not graded.is_dir()
    notebooks = submitted_scores(course, meta)
    if notebooks is None and not failed:
        raise MissingEntry(f"No such submission: {meta.assignment} by {meta.student}")
    details.notebooks.update(notebooks or {})
    scores = details.notebooks.values()
    penalty = sum(nb.late_penalty for nb in scores)
    return GradeResult(
        status="failed" if failed else "graded",
        score=sum(nb.score for nb in scores) - penalty, max_score=sum(nb.max_score for nb in scores),
        late_penalty=penalty,
        needs_manual_grade=any(cell.needs_manual_grade for nb in scores for cell in nb.cells.values()),
        details=details,
        error=_failure(meta, summary, errors) if failed else "",
        notebooks={p.stem: p.read_text(encoding="utf-8") for p in sorted(graded.glob("*.ipynb"))},
    )


def submitted_scores(course: Path, meta: GradingMeta) -> dict[str, NotebookScore] | None:
    """The scores nbgrader's gradebook holds for one student's submission, by notebook (None:
    nbgrader did not record it). Two queries: walking nbgrader's objects loaded every
    notebook's and every grade's scores one query each (a tenth of a worker's time)."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", meta.course) as gb:
        submission = (gb.db.query(SubmittedAssignment.id)
                      .join(Assignment, SubmittedAssignment.assignment_id == Assignment.id)
                      .join(Student, SubmittedAssignment.student_id == Student.id)
                      .filter(Assignment.name == meta.assignment, Assignment.course_id == gb.course_id,
                              Student.id == meta.student)
                      .scalar())
        if submission is None:
            return None
        rows = (gb.db.query(SubmittedNotebook.id, Notebook.name, SubmittedNotebook.score,
                            SubmittedNotebook.max_score, SubmittedNotebook.late_submission_penalty,
                            BaseCell.name, Grade.score, Grade.auto_score, Grade.max_score, Grade.needs_manual_grade)
                .select_from(SubmittedNotebook)
                .join(Notebook, SubmittedNotebook.notebook_id == Notebook.id)
                .outerjoin(Grade, Grade.notebook_id == SubmittedNotebook.id)
                .outerjoin(BaseCell, Grade.cell_id == BaseCell.id)
                .filter(SubmittedNotebook.assignment_id == submission)
                # the order nbgrader's objects list them in: the order they were stored
                .order_by(literal_column("submitted_notebook.rowid"), literal_column("grade.rowid"))
                .all())
    notebooks: dict[str, NotebookScore] = {}
    for _, name, score, max_score, penalty, cell, cell_score, auto_score, cell_max, manual in rows:
        if name not in notebooks:
            notebooks[name] = NotebookScore(score=score, max_score=max_score, late_penalty=penalty or 0.0, cells={})
        if cell is not None:
            notebooks[name].cells[cell] = CellScore(score=cell_score, auto_score=auto_score, max_score=cell_max,
                                                    needs_manual_grade=manual)
    return notebooks


def _failure(meta: GradingMeta, summary: dict, errors: NbgraderErrors | None) -> str:
    error = errors.of(meta.student, meta.assignment) if errors is not None else None
    if error is None:
        return summary["error"] or ""
    return translator(meta.language)(NOT_GRADED).format(error=error)


def together(bundles: list[GradingBundle]) -> list[list[int]]:
    """Which bundles one run of nbgrader's pipeline grades: the same assignment version,
    due date and language (of the messages put into stopped cells), each student once
    (a second submission of the same student goes to the next run)."""
    runs: list[tuple[tuple, set[str], list[int]]] = []
    for index, (meta, _, _) in enumerate(bundles):
        key = (meta.course, meta.assignment, meta.version, meta.due_at, meta.language)
        run = next((r for r in runs if r[0] == key and meta.student not in r[1]), None)
        if run is None:
            run = (key, set(), [])
            runs.append(run)
        run[1].add(meta.student)
        run[2].append(index)
    return [indices for _, _, indices in runs]


@functools.cache
def warm_up_bundle() -> GradingBundle:
    """What a worker grades once when it starts (see ``GradeHandler.warm_up``): the teacher's
    notebook has one answer and one test; the submission, the released notebook, is made when
    the assignment is generated."""
    answer = nbformat.v4.new_code_cell("def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION")
    test = nbformat.v4.new_code_cell("assert square(3) == 9")
    for cell, meta in ((answer, {"grade_id": "answer", "solution": True, "grade": False, "locked": False}),
                       (test, {"grade_id": "test", "solution": False, "grade": True, "locked": True, "points": 1})):
        cell.metadata["nbgrader"] = {**meta, "schema_version": 3, "task": False}
    nb = nbformat.v4.new_notebook(cells=[answer, test], metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}})
    meta = GradingMeta(course="sabaq-warm-up", assignment="warm-up", student="warm-up", version=1,
                       timestamp="2026-01-01 00:00:00.000000 UTC")
    return GradingBundle(meta, {"warm-up.ipynb": nbformat.writes(nb).encode()}, {})


CACHE_FOLDER = "sabaq-assignments-"  # a worker's generated assignments (sabaq.processes.own_temp_folder)
SCRATCH_FOLDER = "sabaq-grade-"  # a worker's course folder of one run


class GradeHandler:
    """Grades submissions for a worker; keeps one sandbox for all its jobs."""

    def __init__(self, grading, cache_root: Path | None = None):
        self.grading = grading
        self.executor: Executor | None = None
        self._starting = threading.Lock()
        self._grading = threading.RLock()
        for prefix in (CACHE_FOLDER, SCRATCH_FOLDER):  # a killed worker's, with its students' notebooks
            remove_left_folders(prefix)
        self.cache = AssignmentCache(cache_root or own_temp_folder(CACHE_FOLDER))
        # every run's course folder is this one, emptied: one gradebook path, so one database
        # engine and its compiled statements serve every run (see gradebook.shared_engines)
        self.scratch = own_temp_folder(SCRATCH_FOLDER)
        self.engines: dict = {}

    def __call__(self, client: ServiceClient, payload: dict) -> GradeResult:
        outcome = self.run_many(client, [payload])[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def run_many(self, client: ServiceClient, payloads: list[dict]) -> list[GradeResult | Exception]:
        """Grade several submissions, those of one assignment in one run of nbgrader's
        pipeline (as `sabaq grade batch` grades a class); for each, in order, its result
        or what stopped it alone."""
        bundles = fetch_bundles(client, [payload["submission_id"] for payload in payloads])
        outcomes: list[GradeResult | Exception] = list(bundles)
        fetched = [i for i, b in enumerate(bundles) if not isinstance(b, Exception)]
        for run in together([bundles[i] for i in fetched]):
            indices = [fetched[i] for i in run]
            for index, outcome in zip(indices, self.grade([bundles[i] for i in indices]), strict=True):
                outcomes[index] = outcome
        return outcomes

    def grade(self, bundles: list[GradingBundle]) -> list[GradeResult | Exception]:
        """One run of nbgrader's pipeline over submissions of one assignment version. If the
        run itself breaks (not one submission, which nbgrader keeps apart), each submission
        is graded again alone, so that whatever broke it fails only its own job."""
        try:
            return self._grade(bundles)
        except Exception as e:  # noqa: BLE001 - given back with the job(s) it stopped
            if len(bundles) == 1:
                return [e]
            log.warning("grading %d submissions together failed (%s); grading each alone", len(bundles), e)
            return [self.grade([bundle])[0] for bundle in bundles]

    def warm_up(self) -> GradeResult:
        """Start the sandbox now rather than at the first job, and grade a notebook of our own
        once: the sandbox's warm process imports IPython, numpy and matplotlib (about 2 s of
        CPU), nbgrader's first run its validators and statements (about 0.3 s), which would
        otherwise land on the first deadline after a start, while the uploads come in.
        Returns that grade (an untouched notebook's zero)."""
        self.sandbox()
        bundle = warm_up_bundle()
        with self._grading:  # generating patches nbgrader's gradebook for this process (shared_engines)
            released = self.cache.prepare(bundle.meta, bundle.source) / "release" / bundle.meta.assignment
            submitted = {path.name: path.read_bytes() for path in released.glob("*.ipynb")}
            outcome = self.grade([bundle._replace(submitted=submitted)])[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def sandbox(self) -> Executor:
        """The started sandbox, started here if need be (a job waits for a warm-up under way).
        One that fails to start is closed (its uids go back) and tried again at the next job."""
        with self._starting:
            if self.executor is None:
                executor = Executor(self.grading)
                try:
                    executor.start()
                except BaseException:
                    executor.close()
                    raise
                self.executor = executor
            return self.executor

    def _grade(self, bundles: list[GradingBundle]) -> list[GradeResult | Exception]:
        # one run at a time: in the scratch folder, and inside shared_engines, which patches
        # nbgrader's gradebook for the whole process (a warm-up may be under way)
        with self._grading:
            return self._grade_here(bundles)

    def _grade_here(self, bundles: list[GradingBundle]) -> list[GradeResult | Exception]:
        executor = self.sandbox()
        meta = bundles[0].meta
        template = self.cache.prepare(meta, bundles[0].source)
        course = self.scratch / "course"
        shutil.rmtree(course, ignore_errors=True)
        shutil.copytree(template, course)
        try:
            with shared_engines(self.engines, scratch=True):
                notes = [stage_submission(course, b.meta, b.submitted) for b in bundles]
                if meta.due_at:
                    due = dt.datetime.fromisoformat(meta.due_at).astimezone(dt.timezone.utc).replace(tzinfo=None)
                    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", meta.course) as gb:
                        gb.update_or_create_assignment(meta.assignment, duedate=due)
                with NbgraderErrors().listening() as errors:
                    summary = grade_course(course, meta.assignment, self.grading, executor=executor,
                                           progress=False, language=meta.language)
                outcomes: list[GradeResult | Exception] = []
                for bundle, its_notes in zip(bundles, notes, strict=True):
                    try:
                        outcomes.append(summarize(course, bundle.meta, summary, its_notes, errors))
                    except Exception as e:  # noqa: BLE001 - this submission's own problem
                        outcomes.append(e)
                return outcomes
        finally:
            shutil.rmtree(course, ignore_errors=True)

    def close(self) -> None:
        with self._starting:  # after a warm-up under way: its sandbox is closed too
            if self.executor is not None:
                self.executor.close()
        for engine in [*self.engines.values(), *self.cache.engines.values()]:
            engine.dispose()
        shutil.rmtree(self.cache.root, ignore_errors=True)
        shutil.rmtree(self.scratch, ignore_errors=True)


def fetch_bundles(client: ServiceClient, submission_ids: list[int]) -> list[GradingBundle | Exception]:
    """The grading bundles of several submissions, fetched side by side; a failed fetch is
    that submission's outcome."""
    def fetch(submission_id: int) -> GradingBundle | Exception:
        try:
            return grading_bundle(client, submission_id)
        except Exception as e:  # noqa: BLE001 - given back with its own job
            return e

    if len(submission_ids) == 1:
        return [fetch(submission_ids[0])]
    with ThreadPoolExecutor(max_workers=min(len(submission_ids), FETCHES_AT_ONCE)) as pool:
        return list(pool.map(fetch, submission_ids))
