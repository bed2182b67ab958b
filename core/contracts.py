"""What the service and the grading workers say to each other, typed.

The service hands out jobs of a few kinds; a worker reports one result per job,
whose shape depends on the kind. Both sides build and read these models, so a
field renamed on one side fails loudly on the other: the service refuses a
malformed report (``result_from_json`` raises :class:`Malformed`, a 422)
instead of filling in defaults for what is missing. ``to_json`` is what goes on
the wire and what the service keeps.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from sabaq.errors import Invalid
from sabaq.i18n import N_, translator


class JobKind(StrEnum):
    """What a job asks of a worker (stored as its value in the jobs table)."""

    check = "check"  # read a submission's notebooks without running them
    grade = "grade"  # autograde a submission's notebooks in the sandbox
    judge = "judge"  # run an olympiad program on every test of its package


WORKER_API = "api/v1/worker/"  # the workers' routes, relative to the service's address

# Kinds a worker may claim several jobs of at once: checks are quick, and grading jobs of one
# assignment go through nbgrader's pipeline together. A judge job runs alone, so that one
# long contest program does not hold others back on a busy worker.
BATCHED_KINDS = frozenset({JobKind.check, JobKind.grade})
# Kinds handed out only while no job of another kind waits: at a deadline students wait for
# their grades, while a check's warnings (for the teacher) can come a moment after them
AFTER_OTHERS = frozenset({JobKind.check})
MAX_BATCH = 32  # the most jobs one claim hands out
MAX_CLAIM_WAIT = 30  # the most seconds a claim waits for a job when there is none (a long poll)


class Malformed(Invalid):
    """A message does not have the shape the contract promises."""

    code = "malformed"


class Contract(BaseModel):
    """A model of the contract: unknown fields are refused, not dropped."""

    model_config = ConfigDict(extra="forbid")

    def to_json(self) -> dict:
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, data) -> Self:
        """The model of ``data`` (parsed JSON); Malformed says which fields are wrong."""
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or cls.__name__}: {err['msg']}"
                                 for err in e.errors())
            raise Malformed(N_("The {kind} is malformed: {problems}."), kind=cls.__name__, problems=problems) from None


# --- check: what a teacher should know about a submission at once --------------------


class Note(Contract):
    """A message for people: a msgid with {placeholders}, so each reader sees it in their
    own language."""

    message: str
    params: dict[str, str] = {}

    def text(self, lang: str | None) -> str:
        """The message in ``lang`` (kk, ru or en), its placeholders filled in."""
        return translator(lang)(self.message).format(**self.params)


class CheckWarning(Note):
    pass


class NotebookCheck(Contract):
    cells: int
    graded_cells: int
    max_points: float


class CheckResult(Contract):
    notebooks: dict[str, NotebookCheck] = {}  # by path, the released notebooks that were submitted
    warnings: list[CheckWarning] = []


# --- grade and judge: the submission's score, kept as its current result ------------


class ScoredResult(Contract):
    """What every grade or judge result has; ``details`` is each kind's own.

    A failed result needs no details (the service records one when a job runs out of
    attempts); a graded one must have them.
    """

    status: Literal["graded", "failed"]
    score: float = 0.0
    max_score: float = 0.0
    late_penalty: float = 0.0
    needs_manual_grade: bool = False
    error: str = ""
    notebooks: dict[str, str] = {}  # graded notebooks (name -> JSON text), kept for feedback
    details: Contract | None = None

    @model_validator(mode="after")
    def _graded_has_details(self) -> Self:
        if self.status == "graded" and self.details is None:
            raise ValueError("a graded result has details")
        return self

    @classmethod
    def failed(cls, error: str) -> Self:
        return cls(status="failed", error=error)


class CellScore(Contract):
    score: float
    auto_score: float | None
    max_score: float
    needs_manual_grade: bool


class NotebookScore(Contract):
    score: float = 0.0
    max_score: float = 0.0
    late_penalty: float = 0.0
    cells: dict[str, CellScore] = {}  # by grade_id


class NotebookProblem(Contract):
    """A notebook that did not run through (died, timed out ...): ``reason`` is a reason key."""

    notebook: str
    status: str | None
    reason: str | None = None


class GradeDetails(Contract):
    notebooks: dict[str, NotebookScore] = {}
    problems: list[NotebookProblem] = []
    notes: list[Note] = []  # what the teacher should know about how it was graded (e.g. its time)


class GradeResult(ScoredResult):
    details: GradeDetails | None = None


Outcome = Literal["AC", "WA", "TLE", "MLE", "RTE", "CE"]


class TestVerdict(Contract):
    __test__ = False  # not a pytest test class

    name: str
    verdict: Outcome
    time: float
    message: str = ""  # the validator's own words (untranslated), or the note's in English
    note: Note | None = None  # sabaq's own words about the test, shown in each reader's language

    def text(self, lang: str | None) -> str:
        """What to show a reader about this test: the note in their language, else the message."""
        return self.note.text(lang) if self.note else self.message


class GroupVerdict(Contract):
    name: str
    verdict: Outcome
    points: float
    max_points: float
    time: float
    first_failure: str | None = None
    tests: list[TestVerdict] = []
    sample: bool = False


class Verdict(Contract):
    """The judge's report on one program: the first failure's verdict, the IOI-style score."""

    verdict: Outcome
    score: float
    max_score: float
    time: float
    groups: list[GroupVerdict]
    compile_message: str = ""


class JudgeDetails(Contract):
    judge: Verdict


class JudgeResult(ScoredResult):
    details: JudgeDetails | None = None


RESULTS: dict[JobKind, type[Contract]] = {
    JobKind.check: CheckResult,
    JobKind.grade: GradeResult,
    JobKind.judge: JudgeResult,
}


def result_from_json(kind: str, data) -> Contract:
    """A worker's report on a job of ``kind``, checked against that kind's model."""
    try:
        model = RESULTS[JobKind(kind)]
    except ValueError:
        raise Malformed(N_("There is no job kind {kind}."), kind=kind) from None
    return model.from_json(data)


# --- the grading bundle: what a grade or judge job fetches -----------------------------


class GradingMeta(Contract):
    """``meta.json`` of the bundle: whose submission, of which assignment version."""

    course: str
    assignment: str
    student: str
    version: int
    due_at: str | None = None  # ISO 8601, with its offset
    language: str = "en"  # the student's (else the course's), for the feedback's words
    # when the service received the submission, as nbgrader's timestamp.txt text: the time it
    # is graded with, whatever the student's files hold
    timestamp: str | None = None
