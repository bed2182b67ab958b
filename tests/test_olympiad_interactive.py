"""Interactive problems and every school language, judged for real (root, bubblewrap).

The practice task ``guess`` (an interactive guessing game) with three of its secret tests:
its shipped submissions get the verdicts their folders promise; each language (C, C++,
Java, Pascal, Python 3) is accepted, rejected and refused a build; a contestant that never
answers gets TLE and the interactor is killed with it; a contestant that goes looking for
the test's number (the interactor's files, the test data, other processes) finds nothing.
problemtools' verifyproblem, where installed, judges the task the same."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from sabaq.autograders.olympiad import languages
from sabaq.autograders.olympiad import run as runner
from sabaq.autograders.olympiad.interactive import Interactor
from sabaq.autograders.olympiad.judge import Judge
from sabaq.autograders.sandbox import confine
from sabaq.kattis.package import Program, load

pytestmark = [
    pytest.mark.grading,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("bwrap") is None, reason="needs root and bubblewrap"),
]
GUESS = Path(__file__).resolve().parents[1] / "courses" / "olympiad" / "tasks" / "guess"
SUBMISSIONS = GUESS / "submissions"


@pytest.fixture(scope="module")
def guess(tmp_path_factory):
    """The practice task with its samples and its first three secret tests (1, 10^9, 5*10^8)."""
    root = tmp_path_factory.mktemp("tasks") / "guess"
    shutil.copytree(GUESS, root)
    for extra in sorted((root / "data" / "secret").glob("*.in"))[3:]:
        extra.unlink()
        extra.with_suffix(".ans").unlink()
    return root


@pytest.fixture(scope="module")
def judge(guess):
    with Judge(load(guess)) as judge:
        yield judge


@pytest.fixture(scope="module")
def shipped(judge):
    """The judge's result for a shipped submission, each judged once for all of this module's
    tests that ask (the accepted ones per language, the folders, problemtools' comparison)."""
    results = {}

    def result(path: Path):
        if path not in results:
            results[path] = judge.judge(Program(path, ""))
        return results[path]

    return result


VERIFYPROBLEM = Path(sys.executable).parent / "verifyproblem"
PROBLEMTOOLS_TEST = "test_problemtools_judges_the_guess_task_as_sabaq_does"


@pytest.fixture(scope="module", autouse=True)
def problemtools_run(request, guess, tmp_path_factory):
    """problemtools' verifyproblem on the package, started in the background when the module
    starts (if its test is selected): its run is mostly waiting out its three TLE submissions'
    time (three runs of 4 s each), which the other tests' own runs now overlap instead of
    following. Its output goes to a file, read by its test once it has ended."""
    if not VERIFYPROBLEM.exists() or not any(item.name == PROBLEMTOOLS_TEST for item in request.session.items):
        yield None
        return
    folder = tmp_path_factory.mktemp("problemtools")
    config = folder / "xdg" / "problemtools"
    config.mkdir(parents=True)
    # this machine: CPython instead of PyPy, and javac 17 (problemtools asks for -source 21)
    (config / "languages.yaml").write_text(
        "python3:\n  compile: '/usr/bin/python3 -m py_compile {files}'\n  run: '/usr/bin/python3 \"{mainfile}\"'\n"
        "java:\n  compile: 'javac -encoding UTF-8 -sourcepath {path} -d {path} {files}'\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # buffering is part of the task
    with open(folder / "output.txt", "w") as output:
        proc = subprocess.Popen([str(VERIFYPROBLEM), "-p", "submissions", "--", str(guess)], stdout=output,
                                stderr=subprocess.STDOUT, text=True, cwd=folder,
                                env={**env, "XDG_CONFIG_HOME": str(folder / "xdg")})
    try:
        yield proc, folder / "output.txt"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


@pytest.fixture
def boxes():
    """A folder for boxes that their uids can cross (pytest's own is root's only)."""
    folder = Path(tempfile.mkdtemp(prefix="sabaq-test-boxes-"))
    folder.chmod(0o711)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def write(folder: Path, name: str, text: str) -> Program:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return Program(folder / name, "")


def installed(language: str) -> bool:
    return languages.LANGUAGES[language].missing() is None


# per language: the shipped accepted program, one that asks once and stops (WA), one that does not build
LANGUAGE_CASES = {
    "c": ("accepted/binary.c", "once.c",
          '#include <stdio.h>\nint main(void){printf("? 1\\n");fflush(stdout);return 0;}\n',
          "int main( {\n"),
    "cpp": ("accepted/binary.cpp", "once.cpp",
            '#include <iostream>\nint main(){std::cout << "? 1" << std::endl;}\n', "int main( {\n"),
    "java": ("accepted/Binary.java", "Once.java",
             'public class Once { public static void main(String[] a) { System.out.println("? 1"); } }\n',
             "public class Broken { void f( }\n"),
    "pascal": ("accepted/binary.pas", "once.pas",
               "program once;\nbegin\n  writeln('? 1');\n  Flush(Output);\nend.\n", "program broken;\nbegin\n  writeln(;\nend.\n"),
    "python3": ("accepted/binary.py", "once.py", 'print("? 1", flush=True)\n', "def f(:\n"),
}


@pytest.mark.parametrize("language", sorted(LANGUAGE_CASES))
def test_each_language_is_accepted_rejected_and_refused_a_build(judge, shipped, tmp_path, language):
    if not installed(language):
        pytest.skip(f"{language}'s compiler is not installed (scripts/install.sh installs it)")
    accepted, name, wrong, broken = LANGUAGE_CASES[language]
    right = shipped(SUBMISSIONS / accepted)
    assert (right.verdict, right.score) == ("AC", 100), right.groups
    once = judge.judge(write(tmp_path / "wrong", name, wrong))
    assert once.verdict == "WA" and once.score == 0
    first = once.groups[0].tests[0]  # it ended before or after reading the reply to its one question
    assert first.name == "sample/1" and first.verdict == "WA" and "question" in first.message
    ce = judge.judge(write(tmp_path / "broken", name.replace("Once", "Broken").replace("once", "broken"), broken))
    assert ce.verdict == "CE" and ce.compile_message.startswith("Compilation failed") and ce.score == 0


@pytest.mark.parametrize("folder", ["wrong_answer", "time_limit_exceeded"])
def test_the_shipped_submissions_get_the_verdict_of_their_folder(shipped, folder):
    """Python, C++ and Pascal each have a wrong or too slow program (never flushed, reads all its
    input first, too slow before its first question, asks too often, stuck on the top number)."""
    verdict = {"wrong_answer": "WA", "time_limit_exceeded": "TLE"}[folder]
    for path in sorted((SUBMISSIONS / folder).iterdir()):
        language = languages.detect([path]).id
        if not installed(language):
            continue
        result = shipped(path)
        assert result.verdict == verdict and result.score == 0, (path.name, result.groups)


def test_verify_runs_every_submission_and_says_which_language_it_could_not_run(guess, tmp_path, monkeypatch):
    """Nothing is skipped: a Python 2 program, a file of no known language and a language whose
    compiler is missing are each judged CE with a note saying why, and verification fails."""
    from sabaq.autograders.olympiad.verify import verify

    root = tmp_path / "guess"
    shutil.copytree(guess, root)
    shutil.rmtree(root / "submissions")
    accepted = root / "submissions" / "accepted"
    accepted.mkdir(parents=True)
    shutil.copy(SUBMISSIONS / "accepted" / "binary.py", accepted)
    shutil.copy(SUBMISSIONS / "accepted" / "binary.pas", accepted)
    (accepted / "old.py").write_text("#!/usr/bin/env python2\nprint '? 1'\n")
    (accepted / "solve.rb").write_text("puts '? 1'\n")
    monkeypatch.setattr(languages, "tool", lambda name: None if name == "ppcx64" else shutil.which(name))
    lines = []
    report = verify(load(root), out=lines.append)
    rows = {name: (result.verdict, result.compile_message, ok) for name, result, ok in report.rows}
    assert set(rows) == {"accepted/binary.py", "accepted/binary.pas", "accepted/old.py", "accepted/solve.rb"}
    assert rows["accepted/binary.py"][::2] == ("AC", True)
    assert rows["accepted/old.py"][0] == "CE" and "Python 2" in rows["accepted/old.py"][1]
    assert rows["accepted/solve.rb"][0] == "CE" and "cannot tell the language of solve.rb" in rows["accepted/solve.rb"][1]
    pascal = rows["accepted/binary.pas"][1]
    assert rows["accepted/binary.pas"][0] == "CE" and "ppcx64 is not installed" in pascal and "fp-compiler" in pascal
    assert not report.ok and "cannot tell the language of solve.rb" in lines[0]


def test_which_ended_first_decides_between_wa_and_rte(judge, tmp_path):
    """problemtools' rule, by when each program itself ended: a rejection by an interactor that
    ended first is WA, though the contestant then crashes on its closed input; a contestant that
    crashed while the interactor waited is RTE, though the interactor then rejects. Each end
    comes right after the other's: the order is the kernel's (ends.py), not the pace of the
    judge's watching, so it holds on a machine busy with other tests."""
    for attempt in range(3):
        rejected = judge.judge(write(tmp_path / "rejected", "rejected.py",
                                     "print('guess 5', flush=True)\ninput()\n"))  # EOFError on its closed input
        first = rejected.groups[0].tests[0]
        assert (rejected.verdict, first.verdict) == ("WA", "WA") and "is not '? x'" in first.message, attempt
        crashed = judge.judge(write(tmp_path / "crashed", "crashed.py",
                                    "print('? 500000000', flush=True)\ninput()\nraise SystemExit('gave up')\n"))
        first = crashed.groups[0].tests[0]
        assert (crashed.verdict, first.verdict, first.message) == ("RTE", "RTE", "gave up"), attempt


def test_a_contestant_that_never_answers_gets_tle_and_the_interactor_is_killed(guess, tmp_path, boxes):
    """The interactor here waits for a question forever and ignores its input's end: only the
    judge can stop it, at once when the contestant's time is up."""
    patient = write(tmp_path / "interactor", "wait.py", "import time\nwhile True:\n    time.sleep(1)\n")
    silent = write(tmp_path / "silent", "silent.py", "import sys\nsys.stdin.read()\n")  # waits for input that never comes
    package = load(guess)
    test = package.groups[0].tests[0]
    with Interactor(patient, [], boxes) as interactor, runner.Box(boxes) as box:
        command = box.prepare(silent)
        outcome = interactor.interact(box, command, test.input, test.answer, 1.0, 256, 8)
        assert outcome.verdict == "TLE"
        assert outcome.interactor.signal == signal.SIGKILL  # killed, not ended by itself or its own limits
        assert outcome.interactor.status == "rte" and outcome.contestant.status == "tle"
        assert not [p for p in confine.processes_of(interactor.box.uid) if not p.zombie]
        assert not [p for p in confine.processes_of(box.uid) if not p.zombie]


def test_a_contestant_cannot_read_the_interactors_files_or_the_test_data(guess, judge, tmp_path, boxes):
    """It looks where the interactor's copy of the test is (inside and outside the sandbox),
    in the package, in /tmp and through /proc; had it found the number it would ask for it
    and be accepted. It finds nothing and holds no descriptor but its two pipes and stderr."""
    interactor_home = judge.interactor.box.home
    peek = f"""
import glob, os, re, sys
found, tried = [], 0
patterns = ["/data0/*", "/out0/*", "{interactor_home}/*/*", "{guess}/data/*/*.in", "/tmp/**/*.in",
            "/proc/*/root/data0/*", "/proc/*/cwd/*", "/*/*.in", "/*/*/*.in"]
for pattern in patterns:
    for path in glob.glob(pattern, recursive=True):
        if path.startswith("/proc/self") or path.startswith("/proc/" + str(os.getpid())):
            continue
        tried += 1
        try:
            text = open(path).read(100)
        except OSError:
            continue
        if re.fullmatch(r"\\d+\\n?", text):
            found.append(int(text))
for name in ("{interactor_home}", "{guess}/data/sample/1.in"):
    try:
        os.listdir(name) if os.path.isdir(name) else open(name).read()
        found.append(-1)
    except OSError as e:
        print(type(e).__name__, name, file=sys.stderr)
print("fds", sorted(os.listdir("/proc/self/fd")), "pids", sorted(p for p in os.listdir("/proc") if p.isdigit()),
      file=sys.stderr)
print("?", found[0] if found else 1, flush=True)
"""
    program = write(tmp_path / "peek", "peek.py", peek)
    result = judge.judge(program)
    assert result.verdict == "WA"  # sample 1's number is 42: "? 1" and nothing found, so it stopped
    package = load(guess)
    test = package.groups[0].tests[0]
    with runner.Box(boxes) as box:
        command = box.prepare(program)
        outcome = judge.interactor.interact(box, command, test.input, test.answer, 1.0, 256, 8)
    stderr = outcome.contestant.stderr
    # it asked once and left: whether it was gone before the interactor wrote its reply (a
    # broken pipe) or after (the next question never came) depends on the machine's timing
    assert outcome.verdict == "WA" and any(said in outcome.message for said in (
        "ended after 1 questions", "ended before reading the reply to question 1")), outcome.message
    assert f"FileNotFoundError {interactor_home}" in stderr  # not even there in its sandbox
    assert f"FileNotFoundError {guess}/data/sample/1.in" in stderr
    # its stdin and stdout (the pipes), stderr, and the descriptor listing /proc/self/fd; only its own processes
    fds = stderr.split("fds ")[1].split(" pids")[0]
    assert fds == "['0', '1', '2', '3']", stderr
    assert stderr.split("pids ")[1].strip().count(",") <= 2, stderr  # bubblewrap's and its own, nobody else's


@pytest.mark.skipif(not VERIFYPROBLEM.exists(), reason="problemtools not installed")
def test_problemtools_judges_the_guess_task_as_sabaq_does(guess, shipped, problemtools_run):
    """problemtools' verifyproblem on the same package (its interactive runner, its rules) gives
    every shipped submission the verdict sabaq gives. (verifyproblem runs from the module's start:
    problemtools_run.)"""
    ours = {}
    for folder in ("accepted", "wrong_answer", "time_limit_exceeded"):
        for path in sorted((guess / "submissions" / folder).iterdir()):
            if installed(languages.detect([path]).id):
                ours[f"{folder}/{path.name}"] = shipped(SUBMISSIONS / folder / path.name).verdict
    proc, output = problemtools_run
    proc.wait(timeout=900)
    stdout = output.read_text()
    theirs = {}
    for line in stdout.splitlines():
        parts = line.replace("ERROR ", "").split()
        if len(parts) > 3 and "/" in parts[0] and parts[0].split("/")[0] in ("accepted", "wrong_answer",
                                                                              "time_limit_exceeded"):
            theirs[parts[0]] = parts[parts.index("OK:") + 1 if "OK:" in parts else parts.index("got") + 1]
    assert ours and {k: theirs.get(k) for k in ours} == ours, stdout[-3000:]


def test_each_program_has_its_own_limits(guess, tmp_path, boxes):
    """The contestant runs under the task's memory limit (256 MB), the interactor under its own:
    an interactor holding 400 MB still judges, a contestant taking 400 MB is MLE (and the
    interactor, which then sees its input end, does not make it WA)."""
    holding = write(tmp_path / "interactor", "holding.py",
                    "import os, sys\n"
                    "held = bytearray(400 << 20)\n"
                    "for i in range(0, len(held), 4096):\n    held[i] = 1\n"
                    "line = sys.stdin.readline()\n"
                    "with open(os.path.join(sys.argv[3], 'judgemessage.txt'), 'w') as f:\n"
                    "    f.write('asked ' + line)\n"
                    "sys.exit(42 if line.strip() == '? 42' else 43)\n")
    modest = write(tmp_path / "modest", "modest.py", "print('? 42', flush=True)\n")
    greedy = write(tmp_path / "greedy", "greedy.py",
                   "held = bytearray(400 << 20)\n"
                   "for i in range(0, len(held), 4096):\n    held[i] = 1\n"
                   "print('? 42', flush=True)\n")
    test = load(guess).groups[0].tests[0]  # sample 1: the number is 42
    assert test.input.read_text().split()[0] == "42"
    with Interactor(holding, [], boxes) as interactor:
        for program, verdict in ((modest, "AC"), (greedy, "MLE")):
            with runner.Box(boxes) as box:
                outcome = interactor.interact(box, box.prepare(program), test.input, test.answer, 2.0, 256, 8)
            assert outcome.verdict == verdict, (program.name, outcome.message, outcome.contestant, outcome.interactor)
            assert outcome.interactor.status != "mle", outcome.interactor


def test_the_worker_judges_a_notebook_submission_of_an_interactive_task(guess):
    """A notebook task can be interactive: the solution cell of the notebook students get,
    filled in, is judged against the interactor by the worker's judge job."""
    import nbformat

    from sabaq.autograders.jobs.judge import judge_files
    from sabaq.hub.domain.olympiad import package_files
    from sabaq.kattis.notebook import build_notebook

    files = package_files(guess)
    assert any(p.startswith("output_validators/interactor/") for p in files)
    nb = build_notebook(load(guess), "kk", "olympiad", "guess")
    cell = next(c for c in nb.cells if "solution" in c.metadata.get("tags", []))
    results = {}
    for name in ("accepted/binary.py", "wrong_answer/one_guess.py"):
        cell.source = (SUBMISSIONS / name).read_text()
        results[name] = judge_files(files, {"guess.ipynb": nbformat.writes(nb).encode()})
    accepted, wrong = results["accepted/binary.py"], results["wrong_answer/one_guess.py"]
    assert accepted["score"] == 100 and accepted["details"]["judge"]["verdict"] == "AC", accepted
    assert wrong["score"] == 0 and wrong["details"]["judge"]["verdict"] == "WA", wrong
