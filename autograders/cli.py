"""The workers' commands: a grading worker, batch grading of an nbgrader course
folder, and olympiad task packages (new, generate, verify, statement, judge)."""

from __future__ import annotations

import sys
from pathlib import Path

from sabaq.cli.common import lang, leave, say, settings_of
from sabaq.i18n import N_, translator


def worker(args) -> int:
    from sabaq.autograders.worker import main as worker_main

    worker_main(settings_of(args))
    return 0


def grade_batch(args) -> int:
    """A sandbox that cannot start or a course that cannot be graded is a SabaqError: main()
    prints it in the reader's language."""
    from sabaq.autograders.sandbox.executor import Executor

    settings = settings_of(args)
    language = lang()
    # the sandbox imports the scientific stack while this process imports nbgrader
    executor = Executor(settings.grading, parallel=args.workers).launch()
    from sabaq.autograders.notebook.batch import grade_course, write_csv
    from sabaq.autograders.notebook.engine import reason_text

    summary = grade_course(args.course, args.assignment, settings.grading, workers=args.workers,
                           force=not args.keep, language=language, executor=executor)
    write_csv(summary["rows"], Path(args.out))
    _ = translator(language)
    for student, notebook, status, reason in summary["failures"]:
        print(f"{student}/{notebook}: {reason_text(reason or status, language)}", file=sys.stderr)
    for note in summary.get("notes", []):  # graded, with something the teacher should know
        print(_(note["message"]).format(**note["params"]), file=sys.stderr)
    print(_("Graded {notebooks} notebooks; {scores} scores written to {out}.").format(
        notebooks=summary["notebooks"], scores=len(summary["rows"]), out=args.out))
    if summary["error"]:
        print(f"sabaq: {summary['error']}", file=sys.stderr)
    return leave(args, 1 if summary["error"] else 0)


def task_new(args) -> int:
    from sabaq.autograders.olympiad.scaffold import new

    root = new(args.name, args.parent)
    say(N_("created {folder}: write the statements, the generator, the validator and solutions, then "
           "`sabaq task generate {folder}` and `sabaq task verify {folder}`"), folder=root)
    return 0


def task_generate(args) -> int:
    from sabaq.autograders.olympiad.scaffold import generate

    generate(args.path)
    return 0


def task_verify(args) -> int:
    from sabaq.autograders.olympiad.verify import verify
    from sabaq.kattis.package import load

    return 0 if verify(load(args.path)).ok else 1


def task_statement(args) -> int:
    from sabaq.kattis.package import load
    from sabaq.kattis.statement import write_statements

    root = Path(args.path)
    for path in write_statements(load(root, require_tests=False), Path(args.out or root / "statement-out"),
                                 pdf=args.pdf):
        print(path)
    return 0


def task_judge(args) -> int:
    from sabaq.autograders.olympiad.judge import Judge
    from sabaq.kattis.package import load, program

    package = load(args.path)
    submission = program(Path(args.submission))
    if submission is None:
        say(N_("sabaq: {program} is not a Python or C++ program"), program=args.submission, file=sys.stderr)
        return 2
    with Judge(package) as judge:
        result = judge.judge(submission)
    _ = translator(lang())
    for g in result.groups:
        failed = next((t for t in g.tests if t.name == g.first_failure), None)
        where = "  " + _("first failure: {test} {note}").format(
            test=g.first_failure, note=failed.text(lang()) if failed else "") if g.first_failure else ""
        print(f"{g.name:<20} {g.verdict:<4} {g.points:g}/{g.max_points:g}  {g.time:.2f}s{where}")
    if result.compile_message:
        print(result.compile_message)
    say(N_("verdict {verdict}, score {score} of {max_score}"), verdict=result.verdict, score=f"{result.score:g}",
        max_score=f"{result.max_score:g}")
    return 0 if result.verdict == "AC" else 1


def add_commands(commands) -> None:
    commands.command("worker", "run one grading worker (started by the hub)", worker)

    p = commands.action("grade", "grading", "batch", "autograde an nbgrader course folder (sandboxed, in parallel)",
                        grade_batch)
    p.add_argument("--course", required=True, help="the course folder (nbgrader layout)")
    p.add_argument("--assignment", required=True)
    p.add_argument("--workers", type=int, default=None, help="notebooks at once (default: CPU cores)")
    p.add_argument("--out", required=True, help="CSV file: student,notebook,grade_id,score,max_score")
    p.add_argument("--keep", action="store_true", help="skip submissions already autograded")

    tasks = "olympiad tasks (Kattis problem packages)"
    p = commands.action("task", tasks, "new", "a package skeleton: statements in kk/ru/en, generator, validator, sample",
                        task_new, common=False)
    p.add_argument("name")
    p.add_argument("--parent", default=".", help="folder to create it in")
    p = commands.action("task", tasks, "generate", "build the test data from the generators and validate it",
                        task_generate, common=False)
    p.add_argument("path")
    p = commands.action("task", tasks, "verify", "every submission gets the verdict its folder promises",
                        task_verify, common=False)
    p.add_argument("path")
    p = commands.action("task", tasks, "statement", "the statement of every language as HTML (and PDF with --pdf)",
                        task_statement, common=False)
    p.add_argument("path")
    p.add_argument("--out", help="folder to write problem.<lang>.html/.pdf in (default: PATH/statement-out)")
    p.add_argument("--pdf", action="store_true", help="also a PDF, made by problemtools' problem2pdf (LuaLaTeX)")
    p = commands.action("task", tasks, "judge", "judge one submission on every test", task_judge, common=False)
    p.add_argument("path")
    p.add_argument("submission")
