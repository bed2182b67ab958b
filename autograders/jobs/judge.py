"""The worker's `judge` job: one olympiad submission on every test of its package.

The bundle is the grading bundle every job gets: the package as the
teacher's source and the student's files. The program is ``solution.py`` (or
the notebook's solution cell); the score is the judge's IOI-style sum.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from sabaq.archive import write_tree

from sabaq.autograders.worker import grading_bundle
from sabaq.autograders.olympiad.judge import Judge
from sabaq.kattis.notebook import solution_from
from sabaq.kattis.package import Program, load


def judge_files(package_files: dict[str, bytes], submitted: dict[str, bytes]) -> dict:
    """The result the service records for one submission."""
    with tempfile.TemporaryDirectory(prefix="sabaq-judge-job-") as tmp:
        root = Path(tmp) / "package"
        write_tree(root, package_files)
        package = load(root)
        source = solution_from(submitted)
        if source is None:
            return {"status": "graded", "score": 0.0, "max_score": package.max_score,
                    "details": {"judge": {"verdict": "CE", "score": 0.0, "max_score": package.max_score,
                                          "groups": [], "time": 0.0,
                                          "compile_message": "no solution: the solution cell is missing"}}}
        program_dir = Path(tmp) / "program"
        program_dir.mkdir()
        (program_dir / "solution.py").write_bytes(source)
        with Judge(package) as judge:
            result = judge.judge(Program(program_dir / "solution.py", "python"))
        return {"status": "graded", "score": result.score, "max_score": result.max_score,
                "details": {"judge": result.as_dict()}}


def handle_judge(client, payload: dict) -> dict:
    _meta, package_files, submitted = grading_bundle(client, payload["submission_id"])
    return judge_files(package_files, submitted)
