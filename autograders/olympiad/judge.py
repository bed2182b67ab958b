"""Judging one submission on every test of a package, scored IOI style.

Groups run in order; inside a group the first failing test ends it (Kattis's
``on_reject: break``). A group earns its points only when all its tests pass
(or, with a validator that reports scores, the smallest test score). The
verdict is the first failure's: AC, WA, TLE, MLE, RTE (also output limit), or
CE when the program does not build.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from sabaq.autograders.olympiad import run as runner
from sabaq.autograders.olympiad.validate import CustomValidator
from sabaq.contracts import GroupVerdict, TestVerdict, Verdict
from sabaq.kattis.compare import default_validate
from sabaq.kattis.package import Package, Program

RUN_VERDICTS = {"tle": "TLE", "mle": "MLE", "ole": "RTE", "rte": "RTE"}


class Judge:
    """Judges programs against one package; builds its output validator once."""

    def __init__(self, package: Package, time_limit: float | None = None):
        self.package = package
        self.time_limit = time_limit or package.time_limit
        # root's, crossed (not listed) by the uids of the boxes in it
        self.scratch = Path(tempfile.mkdtemp(prefix="sabaq-judge-"))
        self.scratch.chmod(0o711)
        self.validator = (CustomValidator(package.output_validator, package.validator_flags, self.scratch)
                          if package.output_validator else None)

    def close(self) -> None:
        if self.validator:
            self.validator.close()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def judge(self, program: Program, include_samples: bool = True) -> Verdict:
        work = Path(tempfile.mkdtemp(prefix="run-", dir=self.scratch))  # root's only: sources joined, outputs
        try:
            with runner.Box(self.scratch) as box:  # the contestant's folder and uid, for all its tests
                return self._judge(program, include_samples, work, box)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _judge(self, program: Program, include_samples: bool, work: Path, box: runner.Box) -> Verdict:
        try:
            program = self.package.with_includes(program, work / "joined")
            command = box.prepare(program)
        except runner.CompileError as e:
            groups = [GroupVerdict(name=g.name, verdict="CE", points=0.0, max_points=g.points, time=0.0,
                                   sample=g.sample) for g in self.package.groups]
            return Verdict(verdict="CE", score=0.0, max_score=self.package.max_score, time=0.0, groups=groups,
                           compile_message=str(e)[:2000])
        groups = []
        for group in self.package.groups:
            if group.sample and not include_samples:
                continue
            groups.append(self._group(group, command, work, box))
        counted = [g for g in groups if not g.sample]
        failed = next((g for g in groups if g.verdict != "AC"), None)
        return Verdict(
            verdict=failed.verdict if failed else "AC",
            score=round(sum(g.points for g in counted), 6),
            max_score=self.package.max_score,
            time=max((g.time for g in groups), default=0.0),
            groups=groups,
        )

    def _group(self, group, command: list[str], work: Path, box: runner.Box) -> GroupVerdict:
        result = GroupVerdict(name=group.name, verdict="AC", points=0.0, max_points=group.points, time=0.0,
                              sample=group.sample)
        scores = []
        for test in group.tests:
            out = work / "output"
            run = box.run(command, test.input, out, self.time_limit, self.package.memory_mb, self.package.output_mb)
            result.time = max(result.time, run.cpu)
            if run.status != "ok":
                verdict, message = RUN_VERDICTS[run.status], run.stderr.strip().splitlines()[-1:] or [""]
                result.tests.append(TestVerdict(name=test.name, verdict=verdict, time=run.cpu,
                                                message=message[0][:300]))
            else:
                judgement = (self.validator(test.input, test.answer, out) if self.validator
                             else default_validate(out.read_bytes(), test.answer.read_bytes(), self.package.validator_flags))
                verdict = "AC" if judgement.accepted else "WA"
                result.tests.append(TestVerdict(name=test.name, verdict=verdict, time=run.cpu,
                                                message=judgement.message))
                if judgement.accepted:
                    scores.append(group.points if judgement.score is None else judgement.score)
            if result.tests[-1].verdict != "AC":
                result.verdict = result.tests[-1].verdict
                result.first_failure = test.name
                break
        if result.verdict == "AC" and not group.sample:
            result.points = min(scores) if scores else group.points
        return result
