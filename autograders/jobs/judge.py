"""The worker's `judge` job: one olympiad submission on every test of its package.

The bundle is the grading bundle every job gets: the package as the
teacher's source and the student's files. The program is ``solution.py`` (or
the notebook's solution cell); the score is the judge's IOI-style sum.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from sabaq.archive import write_tree
from sabaq.autograders.jobs.bundle import grading_bundle
from sabaq.autograders.olympiad.judge import Judge
from sabaq.client import ServiceClient
from sabaq.contracts import JudgeDetails, JudgeResult, Verdict
from sabaq.kattis.notebook import solution_from
from sabaq.kattis.package import Program, load


def judge_files(package_files: dict[str, bytes], submitted: dict[str, bytes]) -> dict:
    """The result the service records for one submission, as JSON."""
    return judge_submission(package_files, submitted).to_json()


def judge_submission(package_files: dict[str, bytes], submitted: dict[str, bytes]) -> JudgeResult:
    with tempfile.TemporaryDirectory(prefix="sabaq-judge-job-") as tmp:
        root = Path(tmp) / "package"
        write_tree(root, package_files)
        package = load(root)
        source = solution_from(submitted)
        if source is None:
            verdict = Verdict(verdict="CE", score=0.0, max_score=package.max_score, groups=[], time=0.0,
                              compile_message="no solution: the solution cell is missing")
        else:
            program_dir = Path(tmp) / "program"
            program_dir.mkdir()
            (program_dir / "solution.py").write_bytes(source)
            with Judge(package) as judge:
                verdict = judge.judge(Program(program_dir / "solution.py", "python"))
        return JudgeResult(status="graded", score=verdict.score, max_score=verdict.max_score,
                           details=JudgeDetails(judge=verdict))


def handle_judge(client: ServiceClient, payload: dict) -> JudgeResult:
    _meta, package_files, submitted = grading_bundle(client, payload["submission_id"])
    return judge_submission(package_files, submitted)
