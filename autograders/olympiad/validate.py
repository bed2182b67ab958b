"""Deciding whether an output is right: Kattis's default validator
(``sabaq.kattis.compare``), or the task's own.

A custom output validator is called as Kattis calls
it, ``validator input answer feedback_dir < output``, and answers with exit
code 42 (accepted) or 43 (wrong answer); it may write a score to
``feedback_dir/score.txt`` and a message to ``judgemessage.txt``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from sabaq.autograders.olympiad import run as runner
from sabaq.kattis.compare import Judgement

ACCEPTED, WRONG = 42, 43


class CustomValidator:
    """A task's output validator, built once and run (sandboxed) for each test."""

    def __init__(self, program, flags: list[str], scratch: Path):
        self.scratch = scratch
        self.workdir = scratch / "validator"
        self.command = runner.prepare(program, self.workdir)
        self.flags = flags

    def __call__(self, input_path: Path, answer_path: Path, output_path: Path) -> Judgement:
        feedback = Path(tempfile.mkdtemp(prefix="feedback-", dir=self.scratch))
        os.chmod(feedback, 0o777)
        data = Path(tempfile.mkdtemp(prefix="vdata-", dir=self.scratch))
        os.chmod(data, 0o755)
        for name, src in (("input", input_path), ("answer", answer_path)):
            (data / name).write_bytes(src.read_bytes())
            os.chmod(data / name, 0o644)
        cmd = runner.sandbox_command(self.workdir, self.command + ["/data0/input", "/data0/answer", "/out0/", *self.flags],
                                     writable=[feedback], readonly=[data])
        with open(output_path, "rb") as stdin:
            result = runner._run_raw(cmd, stdin=stdin, stdout=None, limits=runner._limits(60, 2048, 8), wall=120)
        message = (feedback / "judgemessage.txt").read_text(errors="replace")[:500] \
            if (feedback / "judgemessage.txt").exists() else ""
        score_file = feedback / "score.txt"
        score = float(score_file.read_text().strip()) if score_file.exists() else None
        if result.exit_code == ACCEPTED:
            return Judgement(True, message, score)
        if result.exit_code == WRONG:
            return Judgement(False, message or "wrong answer", score)
        raise RuntimeError(f"the output validator failed (exit {result.exit_code}): {result.stderr[-500:]}")
