"""Deciding whether an output is right: Kattis's default validator, or the task's own.

The default compares whitespace-separated tokens; with ``float_tolerance``,
``float_absolute_tolerance`` or ``float_relative_tolerance`` in the
``validator_flags`` numbers may differ by that much, and ``case_sensitive``
makes letters' case count. A custom output validator is called as Kattis calls
it, ``validator input answer feedback_dir < output``, and answers with exit
code 42 (accepted) or 43 (wrong answer); it may write a score to
``feedback_dir/score.txt`` and a message to ``judgemessage.txt``.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import run as runner

ACCEPTED, WRONG = 42, 43


@dataclass
class Judgement:
    accepted: bool
    message: str = ""
    score: float | None = None


def _flag(flags: list[str], name: str) -> float | None:
    if name in flags:
        i = flags.index(name)
        try:
            return float(flags[i + 1])
        except (IndexError, ValueError):
            return None
    return None


def default_validate(output: bytes, answer: bytes, flags: list[str]) -> Judgement:
    case = "case_sensitive" in flags
    tol = _flag(flags, "float_tolerance")
    abs_tol = _flag(flags, "float_absolute_tolerance") if tol is None else tol
    rel_tol = _flag(flags, "float_relative_tolerance") if tol is None else tol
    got = output.decode("utf-8", "replace").split()
    want = answer.decode("utf-8", "replace").split()
    for i, (g, w) in enumerate(zip(got, want), start=1):
        if g == w or (not case and g.lower() == w.lower()):
            continue
        if abs_tol is not None or rel_tol is not None:
            try:
                gv, wv = float(g), float(w)
            except ValueError:
                return Judgement(False, f"token {i}: expected {w!r}, got {g!r}")
            if math.isfinite(gv) and (abs(gv - wv) <= (abs_tol or 0.0) or abs(gv - wv) <= (rel_tol or 0.0) * abs(wv)):
                continue
        return Judgement(False, f"token {i}: expected {w[:40]!r}, got {g[:40]!r}")
    if len(got) != len(want):
        return Judgement(False, f"expected {len(want)} tokens, got {len(got)}")
    return Judgement(True)


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
