"""`sabaq task verify`: every submission gets the verdict its folder promises, as
problemtools' ``verifyproblem`` judges it.

The verdicts and scores are problemtools' (``sabaq.kattis.grading``): accepted is AC
with full marks; partially_accepted is AC with less (IOI-style subtasks give AC to a
submission that passes some group); wrong_answer, time_limit_exceeded and
run_time_error get that verdict. sabaq tells a memory limit apart (MLE) where
problemtools says RTE, so MLE counts as RTE except in sabaq's own
memory_limit_exceeded folder. The time limit is problemtools': the slowest accepted
run times ``ac_to_time_limit`` rounded up to the time resolution (a 2023-07 package's
fixed ``limits.time_limit`` instead); a submission that misses its verdict there but
gets it at ``time_limit_to_tle`` times the limit is "OK with extra time", as in
problemtools. Every input is also checked by the input validators.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sabaq.autograders.olympiad import run as runner
from sabaq.autograders.olympiad.judge import Judge
from sabaq.contracts import Note, Verdict
from sabaq.i18n import N_, environment_language, translator
from sabaq.kattis.package import Package
from sabaq.kattis.statement import problem_name

UNKNOWN_LIMIT = 10.0  # seconds accepted submissions may take while the time limit is not known yet


def expected(folder: str, result: Verdict, package: Package) -> bool:
    """Whether a result is what its folder promises, by problemtools' rules."""
    verdict = "RTE" if result.verdict == "MLE" and folder != "memory_limit_exceeded" else result.verdict
    full = result.score >= package.max_score - 1e-9
    return {
        "accepted": verdict == "AC" and full,
        "partially_accepted": verdict == "AC" and not full,
        "wrong_answer": verdict == "WA",
        "time_limit_exceeded": verdict == "TLE",
        "run_time_error": verdict == "RTE",
        "memory_limit_exceeded": result.verdict == "MLE",
    }.get(folder, False)


@dataclass
class Report:
    rows: list[tuple[str, Verdict, bool]] = field(default_factory=list)
    invalid_inputs: list[str] = field(default_factory=list)
    suggested_time_limit: float | None = None
    time_limit_problem: Note | None = None  # the fixed limit is too tight; params["needed"] is the least that fits

    @property
    def ok(self) -> bool:
        return all(ok for _, _, ok in self.rows) and not self.invalid_inputs and not self.time_limit_problem


def validate_inputs(package: Package) -> list[str]:
    """Names of the test inputs some input validator rejects (exit code other than 42)."""
    bad = []
    if not package.input_validators:
        return bad
    with tempfile.TemporaryDirectory(prefix="sabaq-validate-") as tmp, contextlib.ExitStack() as boxes:
        base = Path(tmp)
        base.chmod(0o711)
        validators = []
        for validator in package.input_validators:
            box = boxes.enter_context(runner.Box(base))
            validators.append((box, box.prepare(validator)))
        flags = str(package.config.get("input_validator_flags", "")).split()
        for group in package.groups:
            for test in group.tests:
                for box, command in validators:
                    with open(test.input, "rb") as stdin:
                        result = box.execute(box.command(command + flags), stdin=stdin, stdout=None,
                                             limits=runner._limits(30, 1024, 8), wall=60)
                    if result.exit_code != 42:
                        bad.append(test.name)
                        break
    return bad


def verify(package: Package, out=print, lang: str | None = None) -> Report:
    """Judge every submission, print the report (in ``lang``, else the terminal's language)."""
    lang = lang or environment_language()  # of the report and of the notes on programs it cannot build
    report = Report(invalid_inputs=validate_inputs(package))
    fixed = package.fixed_time_limit if package.format != "legacy" else None
    first_limit = fixed * package.time_limit_to_tle if fixed else UNKNOWN_LIMIT
    results: dict[tuple[str, str], Verdict] = {}
    with Judge(package, time_limit=first_limit, lang=lang) as patient:
        for program in package.submissions.get("accepted", []):
            results[("accepted", program.name)] = patient.judge(program)
    slowest_ok = max((r.time for r in results.values()), default=0.0)
    time_limit = package.time_limit_from(slowest_ok)
    report.suggested_time_limit = time_limit
    if fixed and slowest_ok * package.ac_to_time_limit > fixed:
        report.time_limit_problem = Note(
            message=N_("the fixed time limit {limit} s is tighter than the slowest accepted solution ({slowest} s) "
                       "times {factor}"),
            params={"limit": f"{fixed:g}", "slowest": f"{slowest_ok:.2f}", "factor": f"{package.ac_to_time_limit:g}",
                    "needed": f"{math.ceil(slowest_ok * package.ac_to_time_limit * 100) / 100:g}"})
    high = time_limit * package.time_limit_to_tle
    with Judge(package, time_limit=time_limit, lang=lang) as judge, \
            Judge(package, time_limit=high, lang=lang) as generous:
        for folder, programs in package.submissions.items():
            for program in programs:
                result = results.get((folder, program.name)) or judge.judge(program)
                ok = expected(folder, result, package)
                if not ok and folder != "accepted":
                    slower = generous.judge(program)  # problemtools' "OK with extra time"
                    if expected(folder, slower, package) and not (
                            folder == "partially_accepted" and expected("accepted", slower, package)):
                        result, ok = slower, True
                report.rows.append((f"{folder}/{program.name}", result, ok))
    out(table(package, report, time_limit, lang))
    return report


def table(package: Package, report: Report, time_limit: float | None = None, lang: str | None = None) -> str:
    """The report as a coach reads it, in ``lang`` (the terminal's by default): the verdict codes
    (AC, WA, TLE, RTE, MLE, CE) stay the olympiad's own; every column is as wide as its widest word."""
    lang = lang or environment_language()
    _ = translator(lang)
    mismatch = _(N_("MISMATCH"))
    seconds = _(N_("{seconds}s"))  # a group's time in its cell
    groups = [g.name for g in package.groups]
    body = []
    for name, result, ok in report.rows:
        by_name = {g.name: g for g in result.groups}
        cells = [f"{r.verdict} {seconds.format(seconds=f'{r.time:.2f}')} {r.points:g}"
                 if (r := by_name.get(g)) else "-" for g in groups]
        body.append(([name, *cells, f"{result.score:g}/{result.max_score:g}", _(N_("yes")) if ok else mismatch],
                     result.compile_message))
    head = [_(N_("submission")), *groups, _(N_("score")), _(N_("as expected"))]
    widths = [max(len(cells[i]) for cells in [head, *(cells for cells, _message in body)]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()

    title = problem_name(package.config, lang) or package.name
    lines = [_(N_("{task}: time limit {seconds} s, memory {megabytes} MB")).format(
        task=title, seconds=f"{time_limit or package.time_limit:g}", megabytes=package.memory_mb),
        line(head), "-" * len(line(head))]
    for cells, message in body:
        lines.append(line(cells))
        if message:
            lines.append("    " + _(N_("compile error: {message}")).format(message=message.splitlines()[0][:120]))
    if report.invalid_inputs:
        lines.append(_(N_("inputs rejected by the input validators: {tests}")).format(
            tests=", ".join(report.invalid_inputs)))
    if report.suggested_time_limit:
        lines.append(_(N_("suggested time limit: {seconds} s (problemtools' rule)")).format(
            seconds=f"{report.suggested_time_limit:g}"))
        if package.fixed_time_limit and abs(package.fixed_time_limit - report.suggested_time_limit) > 1e-9:
            lines.append(_(N_("note: the package's time limit is {seconds} s")).format(
                seconds=f"{package.fixed_time_limit:g}"))
    if report.time_limit_problem:
        lines.append(_(N_("time limit problem: {problem}")).format(problem=report.time_limit_problem.text(lang)))
    if report.ok:
        lines.append(_(N_("all submissions as expected")))
        return "\n".join(lines)
    lines.append(_(N_("VERIFICATION FAILED. What to fix:")))
    wrong = [name for name, _result, ok in report.rows if not ok]
    if wrong:
        lines.append("  - " + _(N_("the rows marked {mismatch} ({submissions}): each submission must get the verdict "
                                   "its folder promises. Fix the program (or the tests), or move it into the folder "
                                   "of the verdict it should get.")).format(mismatch=mismatch,
                                                                            submissions=", ".join(wrong)))
    if report.invalid_inputs:
        lines.append("  - " + _(N_("the tests the input validators reject: fix those inputs, or fix the generator and "
                                   "run `sabaq task generate {folder}` again.")).format(folder=package.root))
    if report.time_limit_problem:
        lines.append("  - " + _(N_("the time limit: raise limits.time_limit in problem.yaml to at least {seconds} s, "
                                   "or make the accepted solutions faster.")).format(
            seconds=report.time_limit_problem.params["needed"]))
    return "\n".join(lines)
