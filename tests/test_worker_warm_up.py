"""A worker's warm-up, for real: the sandbox starts and the worker's own notebook goes through
nbgrader's whole pipeline in it (generated, released, graded), before any job; the first job
then uses that same sandbox."""

from __future__ import annotations

import pytest

from sabaq.autograders.jobs.grade import GradeHandler, warm_up_bundle
from sabaq.settings import Settings

pytestmark = pytest.mark.grading


def test_the_warm_up_grades_its_untouched_notebook_zero_and_keeps_the_sandbox(tmp_path):
    settings = Settings.load(data_dir=tmp_path / "data", environ={})
    handler = GradeHandler(settings.grading, cache_root=tmp_path / "cache")
    try:
        result = handler.warm_up()
        assert (result.status, result.score, result.max_score) == ("graded", 0.0, 1.0)
        test = result.details.notebooks["warm-up"].cells["test"]
        assert (test.auto_score, test.needs_manual_grade) == (0.0, False)
        sandbox = handler.executor
        assert sandbox is not None and sandbox.started

        # a student who solved it, graded next: full marks, in the warm sandbox
        bundle = warm_up_bundle()
        released = (tmp_path / "cache" / "sabaq-warm-up--warm-up--v1" / "release" / "warm-up" / "warm-up.ipynb")
        solved = released.read_text().replace("# YOUR CODE HERE\\n", "").replace(
            "raise NotImplementedError()", "return x * x")
        outcome = handler.grade([bundle._replace(meta=bundle.meta.model_copy(update={"student": "solver"}),
                                                 submitted={"warm-up.ipynb": solved.encode()})])[0]
        assert not isinstance(outcome, Exception), outcome
        assert outcome.score == 1.0
        assert handler.executor is sandbox
    finally:
        handler.close()
