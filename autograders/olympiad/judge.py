"""Judging one submission on every test of a package, scored IOI style.

Groups run in order; inside a group the first failing test ends it unless the
group says ``on_reject: continue``. The verdict and score are problemtools' (see
``sabaq.kattis.grading``): for IOI-style subtasks a group earns its points only
when all its tests pass, and a submission that passes some groups is AC with those
points. Verdicts: AC, WA, TLE, MLE, RTE (also output limit), or CE when the program
does not build. An interactive problem's tests are run against its interactor
(``interactive.py``) instead of being compared.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from sabaq.autograders.olympiad import run as runner
from sabaq.autograders.olympiad.interactive import Interactor
from sabaq.autograders.olympiad.validate import CustomValidator
from sabaq.contracts import GroupVerdict, Note, TestVerdict, Verdict
from sabaq.i18n import N_
from sabaq.kattis.compare import default_validate
from sabaq.kattis.package import Package, PackageError, Program


class Judge:
    """Judges programs against one package; builds its output validator once."""

    def __init__(self, package: Package, time_limit: float | None = None, lang: str = "en"):
        self.package = package
        self.time_limit = time_limit or package.time_limit
        self.lang = lang  # of sabaq's own compile messages (a language it cannot run, and why)
        # root's, crossed (not listed) by the uids of the boxes in it
        self.scratch = Path(tempfile.mkdtemp(prefix="sabaq-judge-"))
        self.scratch.chmod(0o711)
        self.interactor = self.validator = None
        if package.interactive:
            if not package.output_validator:
                raise PackageError(N_("{task} is interactive but has no interactor: put it in output_validators/ "
                                      "(or output_validator/ in the 2023-07 format)."), task=package.name)
            self.interactor = Interactor(package.output_validator, package.validator_flags, self.scratch)
        elif package.output_validator:
            self.validator = CustomValidator(package.output_validator, package.validator_flags, self.scratch)

    def close(self) -> None:
        if self.interactor:
            self.interactor.close()
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
            command = box.prepare(program, self.package.memory_mb)
        except runner.CompileError as e:
            groups = [GroupVerdict(name=g.name, verdict="CE", points=0.0, max_points=g.points, time=0.0,
                                   sample=g.sample) for g in self.package.groups]
            return Verdict(verdict="CE", score=0.0, max_score=self.package.max_score, time=0.0, groups=groups,
                           compile_message=e.translated(self.lang)[:2000])
        groups, scores = [], {}
        for group in self.package.groups:
            if group.sample and not include_samples:
                continue
            groups.append(self._group(group, command, work, box, scores))
        ran = {t.name: t.verdict for g in groups for t in g.tests}
        outcome = self.package.outcome(lambda test: (ran[test.name], scores.get(test.name)) if test.name in ran
                                       else None)
        for g in groups:
            if g.sample:
                g.points = 0.0
            elif self.package.scoring:
                g.points = round(outcome.groups.get(g.name, ("", 0.0))[1], 6)
            else:
                g.points = g.max_points if g.verdict == "AC" else 0.0
        return Verdict(
            verdict=outcome.verdict,
            score=round(outcome.score, 6),
            max_score=self.package.max_score,
            time=max((g.time for g in groups), default=0.0),
            groups=groups,
        )

    def _group(self, group, command: list[str], work: Path, box: runner.Box, scores: dict) -> GroupVerdict:
        result = GroupVerdict(name=group.name, verdict="AC", points=0.0, max_points=group.points, time=0.0,
                              sample=group.sample)
        for test in group.tests:
            verdict, cpu, message, score, note = self._test(test, command, work, box)
            result.time = max(result.time, cpu)
            result.tests.append(TestVerdict(name=test.name, verdict=verdict, time=cpu, message=message[:300],
                                            note=note))
            if score is not None:
                scores[test.name] = score
            if result.tests[-1].verdict != "AC" and result.verdict == "AC":
                result.verdict = result.tests[-1].verdict
                result.first_failure = test.name
            if result.verdict != "AC" and group.on_reject == "break":
                break
        return result

    def _test(self, test, command: list[str], work: Path, box: runner.Box
              ) -> tuple[str, float, str, float | None, Note | None]:
        """(verdict, CPU seconds, message, score or None, sabaq's note or None) of one test: run
        and compared, or run against the interactor."""
        if self.interactor:
            outcome = self.interactor.interact(box, command, test.input, test.answer, self.time_limit,
                                               self.package.memory_mb, self.package.output_mb)
            return outcome.verdict, outcome.time, outcome.message, outcome.score, outcome.note
        out = work / "output"
        run = box.run(command, test.input, out, self.time_limit, self.package.memory_mb, self.package.output_mb)
        if run.status != "ok":
            lines = run.stderr.strip().splitlines()
            return runner.RUN_VERDICTS[run.status], run.cpu, lines[-1] if lines else "", None, None
        judgement = (self.validator(test.input, test.answer, out) if self.validator
                     else default_validate(out.read_bytes(), test.answer.read_bytes(), self.package.validator_flags))
        return ("AC" if judgement.accepted else "WA"), run.cpu, judgement.message, judgement.score, judgement.note
