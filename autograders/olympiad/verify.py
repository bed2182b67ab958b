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
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sabaq.autograders.olympiad import run as runner
from sabaq.autograders.olympiad.judge import Judge
from sabaq.contracts import Verdict
from sabaq.i18n import environment_language
from sabaq.kattis.package import Package

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
    time_limit_problem: str = ""

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


def verify(package: Package, out=print) -> Report:
    report = Report(invalid_inputs=validate_inputs(package))
    fixed = package.fixed_time_limit if package.format != "legacy" else None
    first_limit = fixed * package.time_limit_to_tle if fixed else UNKNOWN_LIMIT
    results: dict[tuple[str, str], Verdict] = {}
    lang = environment_language()  # of the notes on programs it cannot build (a language it cannot run, and why)
    with Judge(package, time_limit=first_limit, lang=lang) as patient:
        for program in package.submissions.get("accepted", []):
            results[("accepted", program.name)] = patient.judge(program)
    slowest_ok = max((r.time for r in results.values()), default=0.0)
    time_limit = package.time_limit_from(slowest_ok)
    report.suggested_time_limit = time_limit
    if fixed and slowest_ok * package.ac_to_time_limit > fixed:
        report.time_limit_problem = (f"the fixed time limit {fixed:g} s is tighter than the slowest accepted "
                                     f"solution ({slowest_ok:.2f} s) times {package.ac_to_time_limit:g}")
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
    out(table(package, report, time_limit))
    return report


def table(package: Package, report: Report, time_limit: float | None = None) -> str:
    groups = [g.name for g in package.groups]
    width = max([len(name) for name, _, _ in report.rows] + [10])
    head = f"{'submission':<{width}}  " + "  ".join(f"{g:<16}" for g in groups) + "  score       expected"
    lines = [f"{package.name}: time limit {time_limit or package.time_limit:g} s, memory {package.memory_mb} MB",
             head, "-" * len(head)]
    for name, result, ok in report.rows:
        cells = []
        by_name = {g.name: g for g in result.groups}
        for g in groups:
            r = by_name.get(g)
            if r is None:
                cells.append(f"{'-':<16}")
            else:
                cells.append(f"{r.verdict} {r.time:.2f}s {r.points:g}".ljust(16))
        lines.append(f"{name:<{width}}  " + "  ".join(cells)
                     + f"  {result.score:g}/{result.max_score:g}".ljust(12) + ("  ok" if ok else "  MISMATCH"))
        if result.compile_message:
            lines.append(f"    compile error: {result.compile_message.splitlines()[0][:120]}")
    if report.invalid_inputs:
        lines.append("inputs rejected by the input validators: " + ", ".join(report.invalid_inputs))
    if report.suggested_time_limit:
        lines.append(f"suggested time limit: {report.suggested_time_limit:g} s (problemtools' rule)")
        if package.fixed_time_limit and abs(package.fixed_time_limit - report.suggested_time_limit) > 1e-9:
            lines.append(f"note: the package's time limit is {package.fixed_time_limit:g} s")
    if report.time_limit_problem:
        lines.append("time limit problem: " + report.time_limit_problem)
    lines.append("all submissions as expected" if report.ok else "VERIFICATION FAILED")
    return "\n".join(lines)
