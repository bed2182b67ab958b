"""nbgrader's autograde, with the execution step sandboxed and run in parallel.

``SabaqAutograde`` is nbgrader's own ``Autograde`` converter. It keeps every
step of nbgrader's pipeline (creating the student and submission in the
gradebook, copying the teacher's files, the sanitizing pass that restores
locked and test cells, then IgnorePattern, ClearMetadata, LimitOutput,
SaveAutoGrades, AssignLatePenalties, CheckCellMetadata) and replaces only:

- ``Execute``: cells run in the sandbox (see ``executor``) and their outputs
  are put into the notebook by ``SandboxedExecute``;
- the schedule: while one notebook runs, the next is sanitized and handed to
  the sandbox, so up to ``parallel`` notebooks run at once; the gradebook is
  still written by this one process, in order.

A notebook that timed out, ran out of memory or died gets, in every cell that
did not run, an error output saying why: those cells score zero, and the
teacher and student can read the reason.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import traceback
from collections import defaultdict
from concurrent.futures import Future

import nbformat
from nbconvert.exporters import Exporter, NotebookExporter
from nbconvert.exporters.exporter import ResourcesDict
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.api import Gradebook
from nbgrader.converters import Autograde
from nbgrader.converters.base import BaseConverter, NbGraderException
from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearOutput,
    DeduplicateIds,
    IgnorePattern,
    LimitOutput,
    NbGraderPreprocessor,
    SaveAutoGrades,
)
from nbgrader.utils import find_all_files
from traitlets import Any, Bool, List, Type, Unicode

from sabaq.autograders.notebook.lookups import (
    AssignLatePenaltiesAtOnce,
    OverwriteCellsAtOnce,
    OverwriteKernelspecAtOnce,
    answer_grades_and_comments,
    forget_the_teachers,
)
from sabaq.autograders.notebook.schemacache import install as install_schema_cache
from sabaq.autograders.notebook.submissions import Prepared, prepare_submissions
from sabaq.i18n import N_, translator

install_schema_cache()  # same checks, one validator per schema (see schemacache)

# Results of sandboxed runs, waiting for SandboxedExecute: {(assignment, student, notebook): result}
RESULTS: dict[tuple[str, str, str], dict] = {}

REASONS = {
    "unresponsive": N_("The cell ran past the time limit and ignored the interrupt, so the notebook was stopped."),
    "wall-time": N_("The notebook ran past its total time limit and was stopped."),
    "cpu-time": N_("The notebook used more CPU time than allowed and was stopped."),
    "output-size": N_("The notebook printed more output than allowed and was stopped."),
    "file-size": N_("The notebook wrote a file larger than allowed and was stopped."),
    "memory": N_("The notebook's processes together used more memory than allowed, so the notebook was "
                 "stopped. Use less memory (smaller data, fewer processes) and submit again."),
    "disk": N_("The notebook's files together took more disk space than allowed, so the notebook was "
               "stopped. Write fewer or smaller files and submit again."),
    "grader-lost": N_("The grader stopped while running this notebook; ask the teacher to regrade it."),
    "unsupported-kernel": N_("This notebook's kernel is not Python, which the grader cannot run."),
}
DIED = N_("The notebook's process ended before this cell ran ({reason}).")


def reason_text(reason: str, language: str) -> str:
    _ = translator(language)
    if reason in REASONS:
        return _(REASONS[reason])
    return _(DIED).format(reason=reason)


def is_test_cell(cell) -> bool:
    """An nbgrader test cell (graded, not a solution): it runs with the shell put back as it
    was, and its source is forgotten after it ran (see ``sandbox.child``)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


def code_cells(nb) -> list[tuple[int, str, bool]]:
    """(index, source, is_test) of each code cell."""
    return [(i, cell.source, is_test_cell(cell)) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]


def submission_of(coursedir, folder: str) -> dict:
    """{assignment_id, student_id} of a submitted folder, matched as nbgrader's converters
    match it (the split into shares and each share's filter must agree)."""
    regexp = coursedir.format_path(coursedir.submitted_directory, "(?P<student_id>.*)", "(?P<assignment_id>.*)",
                                   escape=True)
    m = re.match(regexp, folder)
    if m is None:
        raise NbGraderException(f"Could not match '{folder}' with regexp '{regexp}'")
    return m.groupdict()


def traceback_to_keep(max_traceback: int) -> int | None:
    """How many entries at each end of a traceback the sandbox must send for nbgrader's
    LimitOutput to give the same text: it keeps the first and last halves of
    max_traceback. A RecursionError's thousand frames then need not travel through
    every process only to be cut. None (send all) without a limit, or with a limit
    under 3, where LimitOutput keeps everything (its ``tb[-0:]``)."""
    return max_traceback if max_traceback >= 3 else None


def apply_result(nb, result: dict, language: str) -> None:
    """Put sandbox outputs into the notebook as nbclient would have."""
    outputs = result.get("outputs", {})
    counts = result.get("execution_counts", {})
    stopped = result.get("status") != "ok"
    note = None
    if stopped:
        reason = result.get("status") if result.get("status") == "unresponsive" else result.get("reason", "died")
        note = reason_text(reason, language)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        key = str(index)
        if key in counts:
            cell.execution_count = counts[key]
            cell.outputs = [nbformat.from_dict(o) for o in outputs.get(key, [])]
        elif stopped and cell.source.strip():
            cell.outputs = [nbformat.from_dict({
                "output_type": "error", "ename": "SabaqGradingStopped", "evalue": note,
                "traceback": [f"\x1b[0;31mSabaqGradingStopped\x1b[0m: {note}"],
            })]


class SandboxedExecute(NbGraderPreprocessor):
    """nbgrader's Execute step; the cells already ran in the sandbox."""

    language = Unicode("en", help="Language of the messages put into stopped cells.").tag(config=True)

    def preprocess(self, nb, resources):
        meta = resources["nbgrader"]
        result = RESULTS.pop((meta["assignment"], meta["student"], meta["notebook"]))
        apply_result(nb, result, self.language)
        return nb, resources


class _OneCommit:
    """A gradebook session whose ``commit`` waits: what changed is flushed by the next query
    (autoflush) and committed together by ``commit_now``."""

    def __init__(self, session):
        self.session = session

    def commit(self) -> None:
        pass

    def commit_now(self) -> None:
        self.session.commit()

    def __getattr__(self, name):
        return getattr(self.session, name)


class SaveAutoGradesAtOnce(SaveAutoGrades):
    """nbgrader's SaveAutoGrades, committing once per notebook instead of after every grade
    and comment (a sixth of the worker's time per notebook went to those commits). The same
    rows get the same values: nothing reads them before the pass ends (the pass holds the
    gradebook's only session of this submission), and a pass stopped by an error commits
    what it had changed, as nbgrader's commit after each cell had left it."""

    def preprocess(self, nb, resources):
        self.notebook_id = resources["nbgrader"]["notebook"]
        self.assignment_id = resources["nbgrader"]["assignment"]
        self.student_id = resources["nbgrader"]["student"]
        self.db_url = resources["nbgrader"]["db_url"]
        self.gradebook = Gradebook(self.db_url)
        self.gradebook.db = _OneCommit(self.gradebook.db)
        with self.gradebook:
            answer_grades_and_comments(self.gradebook, self.notebook_id, self.assignment_id, self.student_id)
            try:
                nb, resources = super(SaveAutoGrades, self).preprocess(nb, resources)
            except Exception:
                with contextlib.suppress(Exception):  # the cell's own error is the one to report
                    self.gradebook.db.commit_now()
                raise
            self.gradebook.db.commit_now()
        return nb, resources


class NotebookExporterSkippingNeedlessChecks(NotebookExporter):
    """nbconvert's NotebookExporter, which validates the notebook after every preprocessor, minus
    the validations after the preprocessors that only read it (nbgrader's cell-metadata check,
    its grade and late-penalty saving): the notebook checked last is the notebook they were
    given, so those checks could only pass again. A subclass may change the notebook: checked.

    With ``hand_over`` (the sanitizing pass), the result is not the notebook's text but the
    notebook as the autograding pass would read it back from that text: nbgrader writes the
    sanitized notebook to a file with ``nbformat.writes`` and reads it again; here it goes
    through ``nbformat.writes`` and ``nbformat.reads`` in memory, the text without indentation
    (which the reading ignores), so with JSON's C encoder instead of the pure-Python indenting one."""

    READ_ONLY = (CheckCellMetadata, SaveAutoGradesAtOnce, AssignLatePenaltiesAtOnce)

    hand_over = Bool(False, help="Return the notebook read back, not its text (see the class's help).")

    def _validate_preprocessor(self, nbc, preprocessor):
        if type(preprocessor) not in self.READ_ONLY:
            super()._validate_preprocessor(nbc, preprocessor)

    def from_notebook_node(self, nb, resources=None, **kw):
        if not self.hand_over:
            return super().from_notebook_node(nb, resources, **kw)
        nb_copy, resources = Exporter.from_notebook_node(self, nb, resources, **kw)
        text = nbformat.writes(nb_copy, version=self.nbformat_version, indent=None)
        text.encode("utf-8")  # what nbgrader's file cannot hold (a lone surrogate) fails here, as its write fails
        return nbformat.reads(text, as_version=4), resources


class SabaqAutograde(Autograde):
    """``nbgrader autograde`` with sandboxed, parallel execution."""

    sanitize_preprocessors = List([
        ClearOutput,
        DeduplicateIds,
        OverwriteKernelspecAtOnce,
        OverwriteCellsAtOnce,
        CheckCellMetadata,
    ]).tag(config=True)
    autograde_preprocessors = List([
        SandboxedExecute,
        IgnorePattern,
        ClearMetadataPreprocessor,
        LimitOutput,
        SaveAutoGradesAtOnce,
        AssignLatePenaltiesAtOnce,
        CheckCellMetadata,
    ]).tag(config=True)

    exporter_class = Type(NotebookExporterSkippingNeedlessChecks, klass=NotebookExporter,
                          help="The exporter that runs the preprocessors of each pass.").tag(config=True)
    executor = Any(help="The Executor notebooks run in.")
    students = List(Unicode(), default_value=None, allow_none=True,
                    help="Grade only these students' submissions (all when None).")
    on_notebook = Any(None, allow_none=True, help="Called with (student, notebook, result) when one is done.")

    # preprocessors that keep nothing from one notebook to the next (each sets what it uses at
    # the start of its ``preprocess``), so one instance of each can serve a whole run
    STATELESS = (ClearOutput, DeduplicateIds, OverwriteKernelspecAtOnce, OverwriteCellsAtOnce, CheckCellMetadata,
                 SandboxedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGradesAtOnce,
                 AssignLatePenaltiesAtOnce)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._made_preprocessors: dict[tuple[bool, int], list] = {}  # by (sanitizing, exporter)
        self._prepared: dict[str, Prepared] = {}  # by assignment, for the run under way
        self._teachers: dict[str, list[tuple[str, str]]] = {}  # the teacher's other files, by assignment

    def _init_preprocessors(self) -> None:
        """nbgrader makes each pass's preprocessors anew for every notebook (about 1 ms of
        configuration each time); when all of a pass's are ``STATELESS`` (exact types: a
        teacher's own kind may keep state), the ones made for the first notebook serve the run."""
        key = (self._sanitizing, id(self.exporter))
        made = self._made_preprocessors
        if key in made:
            self.exporter._preprocessors = list(made[key])
            return
        super()._init_preprocessors()
        passes = self.sanitize_preprocessors if self._sanitizing else self.autograde_preprocessors
        if all(kind in self.STATELESS for kind in passes):
            made[key] = list(self.exporter._preprocessors)

    def init_notebooks(self) -> None:
        super().init_notebooks()
        if self.students is not None:
            wanted = set(self.students)
            self.assignments = {folder: found for folder, found in self.assignments.items()
                                if submission_of(self.coursedir, folder)["student_id"] in wanted}

    def _submission_files(self, assignment_id: str, student_id: str) -> dict[str, bytes]:
        """What the student's code may see: the graded folder without any notebook
        (sanitized notebooks hold the hidden tests), plus the student's own notebooks."""
        dest = self._format_dest(assignment_id, student_id)
        files: dict[str, bytes] = {}
        for dirpath, _, filenames in os.walk(dest):
            for name in filenames:
                if name.endswith(".ipynb"):
                    continue
                full = os.path.join(dirpath, name)
                with open(full, "rb") as fh:
                    files[os.path.relpath(full, dest)] = fh.read()
        for notebook in self.notebooks:
            with open(notebook, "rb") as fh:
                files[os.path.basename(notebook)] = fh.read()
        return files

    def convert_notebooks(self) -> None:
        forget_the_teachers()  # read again in each run: the next run may be another assignment's
        try:
            self._convert_notebooks()
        finally:
            forget_the_teachers()

    def _convert_notebooks(self) -> None:
        errors: list[tuple[str, str]] = []
        pending: list[tuple[Future, dict, str, int, object]] = []
        remaining: dict[tuple[str, str], int] = defaultdict(int)

        # As nbgrader does: when a notebook of a submission errs, the notebooks before it
        # stay graded, those after it are not graded, and the autograded folder goes.
        failed: dict[tuple[str, str], int] = {}

        def fail(key: tuple[str, str], position: int) -> None:
            errors.append(key)
            failed[key] = min(position, failed.get(key, position))

        def finish(future: Future, gd: dict, path: str, position: int, nb) -> None:
            key = (gd["assignment_id"], gd["student_id"])
            notebook_id = os.path.splitext(os.path.basename(path))[0]
            result = future.result()
            remaining[key] -= 1
            if key in failed and position >= failed[key]:
                return
            RESULTS[(gd["assignment_id"], gd["student_id"], notebook_id)] = result
            try:
                self._sanitizing = False
                self._init_preprocessors()
                with _autograde_env():
                    self._autograde(path, nb)
            except Exception:
                self.log.error("There was an error grading %s", path)
                self.log.error(traceback.format_exc())
                fail(key, position)
                return
            finally:
                self._sanitizing = True
                RESULTS.pop((gd["assignment_id"], gd["student_id"], notebook_id), None)
            if self.on_notebook is not None:
                self.on_notebook(gd["student_id"], notebook_id, result)
            if remaining[key] == 0:
                self.set_permissions(gd["assignment_id"], gd["student_id"])
                self.run_post_convert_hook()

        keep_traceback = traceback_to_keep(LimitOutput(parent=self).max_traceback)

        def drain(block: bool) -> None:
            while pending and (block or pending[0][0].done()):
                finish(*pending.pop(0))

        folders = self._destinations(fail)
        self._prepare_submissions(folders)
        for assignment, gd in folders:
            self.notebooks = sorted(self.assignments[assignment])
            position = 0
            try:
                self.run_pre_convert_hook()
                self.init_assignment(gd["assignment_id"], gd["student_id"])
                files = self._submission_files(gd["assignment_id"], gd["student_id"])
                for position, notebook_filename in enumerate(self.notebooks):
                    self._sanitizing = True
                    self._init_preprocessors()
                    path = os.path.join(self._format_dest(gd["assignment_id"], gd["student_id"]),
                                        os.path.basename(notebook_filename))
                    nb = self._sanitize(notebook_filename, path)
                    kernel = nb.metadata.get("kernelspec", {}).get("language", "python")
                    if kernel != "python":
                        future: Future = Future()
                        future.set_result({"status": "died", "reason": "unsupported-kernel"})
                    else:
                        future = self.executor.run(files, code_cells(nb), keep_traceback=keep_traceback)
                    pending.append((future, gd, path, position, nb))
                    remaining[(gd["assignment_id"], gd["student_id"])] += 1
            except Exception:
                self.log.error("There was an error processing assignment: %s", assignment)
                self.log.error(traceback.format_exc())
                fail((gd["assignment_id"], gd["student_id"]), position)
            drain(block=False)
        drain(block=True)
        for key in failed:
            shutil.rmtree(self._format_dest(*key), ignore_errors=True)
        if errors:
            for assignment_id, student_id in sorted(set(errors)):
                self.log.error("There was an error processing assignment '%s' for student '%s'",
                               assignment_id, student_id)
            _ = translator(SandboxedExecute(parent=self).language)
            raise NbGraderException(_(N_("Some submissions could not be graded; see the log above.")))

    @property
    def _hands_over(self) -> bool:
        """Whether the sanitized notebook goes to the autograding pass in memory (see
        ``NotebookExporterSkippingNeedlessChecks.hand_over``); a configured exporter of another
        kind goes through the file nbgrader writes and reads back."""
        return isinstance(self.exporter, NotebookExporterSkippingNeedlessChecks)

    def _sanitize(self, notebook_filename: str, path: str):
        """nbgrader's sanitizing pass over a submitted notebook (``convert_single_notebook`` with
        the sanitizing preprocessors): the sanitized notebook, as the autograding pass reads it
        from `path`."""
        if not self._hands_over:
            BaseConverter.convert_single_notebook(self, notebook_filename)
            return nbformat.read(path, as_version=4)
        self.log.info("Converting notebook %s", notebook_filename)
        resources = self.init_single_notebook_resources(notebook_filename)
        self.exporter.hand_over = True
        try:
            nb, _ = self.exporter.from_filename(notebook_filename, resources=resources)
        finally:
            self.exporter.hand_over = False
        return nb

    def _autograde(self, path: str, nb) -> None:
        """nbgrader's autograding pass over the sanitized notebook `nb` (read again from `path`
        without the hand-over, as nbgrader reads it), writing the graded notebook to `path`."""
        if not self._hands_over:
            BaseConverter.convert_single_notebook(self, path)
            return
        self.log.info("Converting notebook %s", path)
        resources = self.init_single_notebook_resources(path)
        # what nbconvert's from_filename notes of the file it reads (written just now)
        resources["metadata"] = ResourcesDict(name=os.path.splitext(os.path.basename(path))[0],
                                              path=os.path.dirname(path),
                                              modified_date=dt.datetime.now(dt.timezone.utc).strftime("%B %-d, %Y"))
        output, resources = self.exporter.from_notebook_node(nb, resources=resources)
        self.write_single_notebook(output, resources)

    def _destinations(self, fail) -> list[tuple[str, dict]]:
        """The submission folders to grade, each with its ids: nbgrader's ``init_destination``
        for each (it empties the graded folder or says to skip it), before any is graded."""
        folders = []
        for assignment in sorted(self.assignments.keys()):
            self.notebooks = sorted(self.assignments[assignment])
            gd = submission_of(self.coursedir, assignment)
            try:
                if self.init_destination(gd["assignment_id"], gd["student_id"]):
                    folders.append((assignment, gd))
            except Exception:
                self.log.error("There was an error processing assignment: %s", assignment)
                self.log.error(traceback.format_exc())
                fail((gd["assignment_id"], gd["student_id"]), 0)
        return folders

    def _prepare_submissions(self, folders: list[tuple[str, dict]]) -> None:
        """Make the gradebook ready for all `folders` at once (see ``submissions``), which
        ``init_assignment`` then relies on; should that fail, nbgrader's own ``init_assignment``
        does each. Not with a ``pre_convert_hook``: nbgrader runs it before it makes a student's
        rows, and a hook that fails (or ends the process) leaves that student without any."""
        self._prepared, self._teachers = {}, {}
        if self.pre_convert_hook:
            return
        timestamps: dict[str, dict] = defaultdict(dict)
        for _, gd in folders:
            timestamps[gd["assignment_id"]][gd["student_id"]] = self.coursedir.get_existing_timestamp(
                self._format_source(gd["assignment_id"], gd["student_id"]))
        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
            for assignment_id, its_students in timestamps.items():
                try:
                    prepared = prepare_submissions(gb, assignment_id, its_students, self.create_student)
                except Exception:  # noqa: BLE001 - nbgrader's steps then make them, or say what is wrong
                    gb.db.rollback()
                    self.log.debug("submissions of %s not made ready at once", assignment_id, exc_info=True)
                    continue
                if prepared is not None:
                    self._prepared[assignment_id] = prepared
                    self._teachers[assignment_id] = self._teachers_files(assignment_id)

    def _teachers_files(self, assignment_id: str) -> list[tuple[str, str]]:
        """(path, path relative to the source folder) of each file of the teacher's source
        folder that is copied over a student's, as nbgrader's ``init_assignment`` picks them."""
        source = self.coursedir.format_path(self.coursedir.source_directory, ".", assignment_id)
        found = set(find_all_files(source, self.coursedir.ignore + ["*.ipynb"]))
        found -= {os.path.join(source, name) for name in self.exclude_overwriting.get(assignment_id, [])}
        return [(path, os.path.relpath(path, source)) for path in found]

    def init_assignment(self, assignment_id: str, student_id: str) -> None:
        """nbgrader's ``Autograde.init_assignment``, for a student whose gradebook rows and
        timestamp ``_prepare_submissions`` made ready: the same files are copied, the same
        notebooks kept or skipped, missing notebooks scored zero, the same errors raised,
        without its gradebook questions per student (tested against nbgrader's)."""
        prepared = self._prepared.get(assignment_id)
        if prepared is None or student_id not in prepared.students:
            return super().init_assignment(assignment_id, student_id)
        BaseConverter.init_assignment(self, assignment_id, student_id)  # the student's other files
        if student_id in prepared.seconds_late:
            self.log.warning("%s's submission of %s is %s seconds late",
                             student_id, assignment_id, prepared.seconds_late[student_id])
        dest = self._format_dest(assignment_id, student_id)
        for path, relative in self._teachers[assignment_id]:
            target = os.path.join(dest, relative)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if os.path.exists(target):
                os.remove(target)
            shutil.copy(path, target)
        kept = []
        for notebook in self.notebooks:
            if os.path.splitext(os.path.basename(notebook))[0] in prepared.notebooks:
                kept.append(notebook)
            else:
                self.log.warning("Skipping unknown notebook: %s", notebook)
        self.notebooks = kept
        if not self.notebooks:
            msg = "No notebooks found, did you forget to run 'nbgrader generate_assignment'?"
            self.log.error(msg)
            raise NbGraderException(msg)
        submitted = self.coursedir.format_path(self.coursedir.submitted_directory, student_id, assignment_id)
        missing = [name for name in prepared.notebooks
                   if not os.path.exists(os.path.join(submitted, f"{name}.ipynb"))]
        if missing:
            with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
                for name in missing:  # a notebook not submitted scores zero, as nbgrader scores it
                    self.log.warning("No submitted file: %s", os.path.join(submitted, f"{name}.ipynb"))
                    for grade in gb.find_submission_notebook(name, assignment_id, student_id).grades:
                        grade.auto_score = 0
                        grade.needs_manual_grade = False
                    gb.db.commit()


class _autograde_env:
    """NBGRADER_EXECUTION=autograde while nbgrader's pass runs, as nbgrader sets it."""

    def __enter__(self):
        self.old = os.environ.get("NBGRADER_EXECUTION")
        os.environ["NBGRADER_EXECUTION"] = "autograde"

    def __exit__(self, *exc):
        if self.old is None:
            os.environ.pop("NBGRADER_EXECUTION", None)
        else:
            os.environ["NBGRADER_EXECUTION"] = self.old
