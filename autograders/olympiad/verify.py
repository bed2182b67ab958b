"""`sabaq task verify`: every submission gets the verdict its folder promises.

accepted passes every test with full marks; wrong_answer fails somewhere with
WA; time_limit_exceeded exceeds the time limit; run_time_error crashes;
memory_limit_exceeded runs out of memory; partially_accepted scores more than
nothing and less than everything. Every input is also checked by the input
validators. The table shows submission × group with verdicts, times and scores,
and a time limit is suggested from the slowest accepted and the fastest
too-slow solution (at least twice the first, at most the second divided by 1.5).
"""

from __future__ import annotations

import contextlib
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sabaq.autograders.olympiad import run as runner
from sabaq.autograders.olympiad.judge import Judge
from sabaq.contracts import Verdict
from sabaq.kattis.package import Package

EXTENDED = 3.0  # too-slow solutions are timed up to this many time limits


def expected(folder: str, result: Verdict, package: Package) -> bool:
    full = result.score >= package.max_score - 1e-9
    return {
        "accepted": result.verdict == "AC" and full,
        "wrong_answer": result.verdict == "WA",
        "time_limit_exceeded": result.verdict == "TLE",
        "run_time_error": result.verdict == "RTE",
        "memory_limit_exceeded": result.verdict == "MLE",
        "partially_accepted": 0 < result.score < package.max_score,
    }.get(folder, True)


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
    slowest_ok, fastest_slow = 0.0, math.inf
    with Judge(package) as judge, Judge(package, time_limit=package.time_limit * EXTENDED) as patient:
        for folder, programs in package.submissions.items():
            for program in programs:
                if folder == "time_limit_exceeded":
                    # timed with room to spare, so that "how slow" is known, then judged by the real limit
                    result = patient.judge(program)
                    slowest = max((t.time for g in result.groups for t in g.tests), default=0.0)
                    if result.verdict == "TLE" or slowest > package.time_limit:
                        result.verdict = "TLE"
                        fastest_slow = min(fastest_slow, slowest)
                else:
                    result = judge.judge(program)
                    if folder == "accepted":
                        slowest_ok = max(slowest_ok, result.time)
                report.rows.append((f"{folder}/{program.name}", result, expected(folder, result, package)))
    if slowest_ok:
        suggestion = max(0.5, math.ceil(2 * slowest_ok * 10) / 10)
        report.suggested_time_limit = suggestion
        if fastest_slow < math.inf and suggestion > fastest_slow / 1.5:
            report.time_limit_problem = (f"no time limit separates them: the slowest accepted solution takes "
                                         f"{slowest_ok:.2f} s, the fastest too-slow one {fastest_slow:.2f} s")
    out(table(package, report))
    return report


def table(package: Package, report: Report) -> str:
    groups = [g.name for g in package.groups]
    width = max([len(name) for name, _, _ in report.rows] + [10])
    head = f"{'submission':<{width}}  " + "  ".join(f"{g:<16}" for g in groups) + "  score       expected"
    lines = [f"{package.name}: time limit {package.time_limit:g} s, memory {package.memory_mb} MB", head, "-" * len(head)]
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
        lines.append(f"suggested time limit: {report.suggested_time_limit:g} s")
    if report.time_limit_problem:
        lines.append("time limit problem: " + report.time_limit_problem)
    lines.append("all submissions as expected" if report.ok else "VERIFICATION FAILED")
    return "\n".join(lines)
