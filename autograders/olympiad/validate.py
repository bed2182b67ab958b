"""Deciding whether an output is right: Kattis's default validator
(``sabaq.kattis.compare``), or the task's own.

A custom output validator is called as Kattis calls
it, ``validator input answer feedback_dir < output``, and answers with exit
code 42 (accepted) or 43 (wrong answer); it may write a score to
``feedback_dir/score.txt`` and a message to ``judgemessage.txt``.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

from sabaq.archive import opened_dir, read_file, write_file
from sabaq.autograders.olympiad import run as runner
from sabaq.kattis.compare import Judgement, wrong_answer

ACCEPTED, WRONG = 42, 43


class CustomValidator:
    """A task's output validator, built once and run (sandboxed, in a box and under a uid
    of its own, apart from the contestants') for each test."""

    def __init__(self, program, flags: list[str], scratch: Path):
        self.box = runner.Box(scratch)
        try:
            self.command = self.box.prepare(program)
        except BaseException:
            self.box.close()
            raise
        self.flags = flags

    def close(self) -> None:
        self.box.close()

    @contextlib.contextmanager
    def called(self, input_path: Path, answer_path: Path) -> Iterator[tuple[list[str], dict[str, str | None]]]:
        """The validator's command for one test, as Kattis calls it (the input and the answer
        in a folder it may only read, a feedback folder it may write), and, once the block
        is over, what it wrote there: ``report["message"]`` and ``report["score"]``."""
        feedback = self.box.private("feedback-")
        data = self.box.private("vdata-")
        report: dict[str, str | None] = {}
        try:
            with opened_dir(data) as folder:
                for name, src in (("input", input_path), ("answer", answer_path)):
                    write_file(folder, name, src.read_bytes())
            yield self.box.command(self.command + ["/data0/input", "/data0/answer", "/out0/", *self.flags],
                                   writable=[feedback], readonly=[data]), report
            # the validator's uid wrote these: read them without following a link, and only so much
            with opened_dir(feedback) as folder:
                report["message"] = (_feedback(folder, "judgemessage.txt") or "")[:500]
                report["score"] = _feedback(folder, "score.txt")
        finally:
            shutil.rmtree(feedback, ignore_errors=True)
            shutil.rmtree(data, ignore_errors=True)

    def __call__(self, input_path: Path, answer_path: Path, output_path: Path) -> Judgement:
        with self.called(input_path, answer_path) as (cmd, report), open(output_path, "rb") as stdin:
            result = self.box.execute(cmd, stdin=stdin, stdout=None, limits=runner._limits(60, 2048, 8), wall=120)
        message, score_text = report["message"], report["score"]
        score = float(score_text.strip()) if score_text is not None else None
        if result.exit_code == ACCEPTED:
            return Judgement(True, message, score)
        if result.exit_code == WRONG:
            return wrong_answer(message, score)
        raise RuntimeError(f"the output validator failed (exit {result.exit_code}): {result.stderr[-500:]}")


def _feedback(folder: int, name: str) -> str | None:
    try:
        return read_file(folder, name).decode(errors="replace")
    except FileNotFoundError:
        return None
