"""The worker's `grade` job: one submission through the sandboxed nbgrader pipeline.

The worker rebuilds the assignment's nbgrader context from the teacher's
source (``nbgrader generate_assignment`` once per assignment version, kept in
a cache), puts the submission into a scratch course folder, grades it with
``grade_course`` and reports the scores read back from the gradebook.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import threading
from pathlib import Path

from nbgrader.api import Gradebook

from sabaq.archive import write_tree
from sabaq.autograders.jobs.bundle import grading_bundle
from sabaq.autograders.notebook.batch import grade_course
from sabaq.autograders.notebook.generate import generate_assignment
from sabaq.autograders.notebook.gradebook import shared_engines
from sabaq.autograders.sandbox.executor import Executor
from sabaq.client import ServiceClient
from sabaq.contracts import CellScore, GradeDetails, GradeResult, GradingMeta, NotebookProblem, NotebookScore


class AssignmentCache:
    """Generated nbgrader course folders, one per assignment version."""

    def __init__(self, root: Path):
        self.root = root
        self.lock = threading.Lock()

    def prepare(self, meta: GradingMeta, source: dict[str, bytes]) -> Path:
        name = f"{meta.course}--{meta.assignment}--v{meta.version}"
        folder = self.root / name
        with self.lock:
            if (folder / "gradebook.db").exists():
                return folder
            shutil.rmtree(folder, ignore_errors=True)
            write_tree(folder / "source" / meta.assignment, source)
            (folder / "nbgrader_config.py").write_text(
                "c = get_config()  # noqa\n"
                f"c.CourseDirectory.course_id = {meta.course!r}\n"
            )
            try:
                generate_assignment(folder, meta.assignment)
            except Exception:
                shutil.rmtree(folder, ignore_errors=True)
                raise
            return folder


def summarize(course: Path, meta: GradingMeta, summary: dict) -> GradeResult:
    """Scores of the one submission, as the service keeps them."""
    details = GradeDetails(problems=[NotebookProblem(notebook=n, status=s, reason=r)
                                     for _, n, s, r in summary["failures"]])
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", meta.course) as gb:
        submission = gb.find_submission(meta.assignment, meta.student)
        for nb in submission.notebooks:
            details.notebooks[nb.name] = NotebookScore(
                score=nb.score, max_score=nb.max_score, late_penalty=nb.late_submission_penalty or 0.0,
                cells={grade.name: CellScore(score=grade.score, auto_score=grade.auto_score,
                                             max_score=grade.max_score, needs_manual_grade=grade.needs_manual_grade)
                       for grade in nb.grades})
    scores = details.notebooks.values()
    penalty = sum(nb.late_penalty for nb in scores)
    graded = course / "autograded" / meta.student / meta.assignment
    return GradeResult(
        status="graded" if not summary["error"] else "failed",
        score=sum(nb.score for nb in scores) - penalty, max_score=sum(nb.max_score for nb in scores),
        late_penalty=penalty,
        needs_manual_grade=any(cell.needs_manual_grade for nb in scores for cell in nb.cells.values()),
        details=details,
        error=summary["error"] or "",
        notebooks={p.stem: p.read_text(encoding="utf-8") for p in sorted(graded.glob("*.ipynb"))},
    )


class GradeHandler:
    """Grades submissions for a worker; keeps one sandbox for all its jobs."""

    def __init__(self, grading, cache_root: Path | None = None):
        self.grading = grading
        self.executor: Executor | None = None
        self.cache = AssignmentCache(cache_root or Path(tempfile.mkdtemp(prefix="sabaq-assignments-")))
        # every job's course folder is this one, emptied: one gradebook path, so one database
        # engine and its compiled statements serve every job (see gradebook.shared_engines)
        self.scratch = Path(tempfile.mkdtemp(prefix="sabaq-grade-"))
        self.engines: dict = {}

    def __call__(self, client: ServiceClient, payload: dict) -> GradeResult:
        if self.executor is None:
            self.executor = Executor(self.grading).start()
        meta, source, submitted = grading_bundle(client, payload["submission_id"])
        template = self.cache.prepare(meta, source)
        course = self.scratch / "course"
        shutil.rmtree(course, ignore_errors=True)
        shutil.copytree(template, course)
        try:
            with shared_engines(self.engines, scratch=True):
                write_tree(course / "submitted" / meta.student / meta.assignment, submitted)
                if meta.due_at:
                    due = dt.datetime.fromisoformat(meta.due_at).astimezone(dt.timezone.utc).replace(tzinfo=None)
                    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", meta.course) as gb:
                        gb.update_or_create_assignment(meta.assignment, duedate=due)
                summary = grade_course(course, meta.assignment, self.grading, executor=self.executor,
                                       progress=False, language=meta.language)
                return summarize(course, meta, summary)
        finally:
            shutil.rmtree(course, ignore_errors=True)

    def close(self) -> None:
        if self.executor is not None:
            self.executor.close()
        for engine in self.engines.values():
            engine.dispose()
        shutil.rmtree(self.cache.root, ignore_errors=True)
        shutil.rmtree(self.scratch, ignore_errors=True)
