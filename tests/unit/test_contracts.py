"""The worker contract: every result a worker reports survives the wire unchanged, and a
malformed one is refused with a 422 that names what is wrong, never filled in."""

from __future__ import annotations

import json

import pytest

from sabaq import contracts
from sabaq.contracts import JobKind, Malformed, result_from_json

CHECK = {
    "notebooks": {"hw.ipynb": {"cells": 7, "graded_cells": 2, "max_points": 5.0}},
    "warnings": [{"message": "The notebook '{notebook}' was not submitted.", "params": {"notebook": "extra.ipynb"}}],
}
GRADE = {
    "status": "graded", "score": 3.5, "max_score": 5.0, "late_penalty": 0.5, "needs_manual_grade": True,
    "error": "", "notebooks": {"hw": "{\"cells\": []}"},
    "details": {
        "notebooks": {"hw": {"score": 4.0, "max_score": 5.0, "late_penalty": 0.5, "cells": {
            "t0": {"score": 2.0, "auto_score": 2.0, "max_score": 2.0, "needs_manual_grade": False},
            "essay": {"score": 2.0, "auto_score": None, "max_score": 3.0, "needs_manual_grade": True}}}},
        "problems": [{"notebook": "hw.ipynb", "status": "timeout", "reason": "cell-timeout"}],
        "notes": [{"message": "It was graded as submitted at {recorded}.",
                   "params": {"recorded": "2026-12-05 09:00:00.000000 UTC"}}],
    },
}
JUDGE = {
    "status": "graded", "score": 40.0, "max_score": 100.0, "late_penalty": 0.0, "needs_manual_grade": False,
    "error": "", "notebooks": {},
    "details": {"judge": {
        "verdict": "WA", "score": 40.0, "max_score": 100.0, "time": 0.12, "compile_message": "",
        "groups": [
            {"name": "sample", "verdict": "AC", "points": 0.0, "max_points": 0.0, "time": 0.01,
             "first_failure": None, "sample": True,
             "tests": [{"name": "1", "verdict": "AC", "time": 0.01, "message": "", "note": None}]},
            {"name": "small", "verdict": "WA", "points": 0.0, "max_points": 60.0, "time": 0.12,
             "first_failure": "03", "sample": False,
             "tests": [{"name": "03", "verdict": "WA", "time": 0.12, "message": "Token 1: expected '3', got '4'.",
                        "note": {"message": "Token {number}: expected {expected}, got {got}.",
                                 "params": {"number": "1", "expected": "'3'", "got": "'4'"}}}]},
        ]}},
}


def test_job_kinds_are_the_strings_on_the_wire():
    assert {k.value for k in JobKind} == {"check", "grade", "judge"}
    assert JobKind("judge") is JobKind.judge and JobKind.grade == "grade" and f"{JobKind.grade}:7" == "grade:7"
    assert set(contracts.RESULTS) == set(JobKind)


@pytest.mark.parametrize(("kind", "wire"), [(JobKind.check, CHECK), (JobKind.grade, GRADE), (JobKind.judge, JUDGE)])
def test_a_result_round_trips_through_json_unchanged(kind, wire):
    result = result_from_json(kind, json.loads(json.dumps(wire)))
    assert isinstance(result, contracts.RESULTS[kind])
    assert result.to_json() == wire
    assert type(result).from_json(json.loads(json.dumps(result.to_json()))) == result


def test_fields_are_typed_not_dicts():
    grade = result_from_json("grade", GRADE)
    assert grade.details.notebooks["hw"].cells["essay"].auto_score is None
    assert grade.details.problems[0].reason == "cell-timeout"
    judge = result_from_json("judge", JUDGE)
    assert judge.details.judge.groups[1].first_failure == "03"
    check = result_from_json("check", CHECK)
    assert check.warnings[0].params == {"notebook": "extra.ipynb"}


def test_a_failure_needs_no_details_and_keeps_the_error():
    failed = contracts.GradeResult.failed("SandboxError: no bubblewrap")
    assert failed.status == "failed" and failed.details is None and failed.score == 0.0
    assert contracts.ScoredResult.failed("boom").to_json()["error"] == "boom"


def broken(wire: dict, path: str | tuple, value=None, drop: bool = False) -> dict:
    """A deep copy of ``wire`` with the field at ``path`` (dotted, or a tuple of keys) set or dropped."""
    data = json.loads(json.dumps(wire))
    *parents, last = path.split(".") if isinstance(path, str) else path
    node = data
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if drop:
        del node[last]
    else:
        node[last] = value
    return data


@pytest.mark.parametrize(("kind", "data", "named"), [
    ("grade", broken(GRADE, "status", drop=True), "status"),
    ("grade", broken(GRADE, "status", "done"), "status"),
    ("grade", broken(GRADE, "score", "lots"), "score"),
    ("grade", broken(GRADE, "details", None), "a graded result has details"),
    ("grade", broken(GRADE, "details.notebooks.hw.cells.t0.max_score", drop=True), "details.notebooks.hw.cells.t0.max_score"),
    ("grade", broken(GRADE, "scores", 3.0), "scores"),  # a misspelt field is not dropped quietly
    ("grade", JUDGE, "details.judge"),  # a judge's report for a grade job
    ("judge", broken(JUDGE, "details.judge.verdict", "OK"), "details.judge.verdict"),
    ("judge", broken(JUDGE, "details.judge.groups.1.tests", "none"), "details.judge.groups.1.tests"),
    ("check", broken(CHECK, "warnings.0.message", drop=True), "warnings.0.message"),
    ("check", broken(CHECK, ("notebooks", "hw.ipynb", "cells"), "many"), "notebooks.hw.ipynb.cells"),
    ("check", ["not", "an", "object"], "CheckResult"),
])
def test_a_malformed_result_is_refused_and_named(kind, data, named):
    with pytest.raises(Malformed) as caught:
        result_from_json(kind, data)
    assert caught.value.status == 422 and caught.value.code == "malformed"
    assert named in str(caught.value)


def test_an_unknown_job_kind_is_refused():
    with pytest.raises(Malformed, match="no job kind mark"):
        result_from_json("mark", GRADE)


def test_the_refusal_is_translated():
    with pytest.raises(Malformed) as caught:
        result_from_json("grade", {"status": "graded"})
    assert caught.value.translated("ru") != caught.value.translated("en")
    assert "GradeResult" in caught.value.translated("kk")


def test_the_grading_bundles_meta_is_typed():
    meta = contracts.GradingMeta.from_json({"course": "alg8", "assignment": "ps1", "student": "aliya", "version": 3,
                                            "due_at": None, "language": "kk"})
    assert meta.version == 3 and meta.due_at is None and meta.timestamp is None
    stamped = contracts.GradingMeta.from_json({**meta.to_json(), "timestamp": "2026-12-05 09:00:00.000000 UTC"})
    assert stamped.timestamp == "2026-12-05 09:00:00.000000 UTC"
    with pytest.raises(Malformed, match="version"):
        contracts.GradingMeta.from_json({"course": "alg8", "assignment": "ps1", "student": "aliya"})
