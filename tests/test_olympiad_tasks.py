"""Olympiad tasks: packages made by sabaq pass Kattis's verifyproblem, the sample
practice set verifies, and hostile programs get TLE/MLE/RTE without seeing answers."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sabaq.autograders.jobs.judge import judge_files
from sabaq.autograders.olympiad.judge import Judge
from sabaq.autograders.olympiad.scaffold import generate, new
from sabaq.autograders.olympiad.verify import verify
from sabaq.hub.domain.assignments import localize
from sabaq.hub.domain.olympiad import package_files
from sabaq.kattis.notebook import build_notebook, solution_from, tex_to_markdown
from sabaq.kattis.package import Program, load

pytestmark = pytest.mark.grading
PRACTICE = Path(__file__).resolve().parents[1] / "courses" / "olympiad" / "tasks"
SABAQ = [sys.executable, "-m", "sabaq"]
HAS_LATEX = shutil.which("lualatex") is not None and (Path(sys.executable).parent / "problem2pdf").exists()


@pytest.fixture(scope="module")
def sum2(tmp_path_factory):
    root = new("sum2", tmp_path_factory.mktemp("tasks"))
    generate(root, out=lambda *_: None)
    return root


def write(folder: Path, name: str, text: str) -> Program:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return Program(path, "cpp" if name.endswith(".cpp") else "python")


def start_verifyproblem(root: Path, tmp_path: Path) -> subprocess.Popen:
    """problemtools' own checker on config, data, validators and submissions, and on the
    statements where scripts/install.sh's LuaLaTeX is installed (problem2pdf and plasTeX's
    problem2html in every language), started in the background (so that sabaq's verification
    runs meanwhile)."""
    config = tmp_path / "xdg" / "problemtools"
    config.mkdir(parents=True, exist_ok=True)
    # problemtools runs Python with PyPy by default, this machine has CPython; its javac is 17 (problemtools asks -source 21)
    (config / "languages.yaml").write_text(
        "python3:\n  name: 'Python 3'\n  compile: '/usr/bin/python3 -m py_compile {files}'\n"
        "  run: '/usr/bin/python3 \"{mainfile}\"'\n"
        "java:\n  compile: 'javac -encoding UTF-8 -sourcepath {path} -d {path} {files}'\n")
    verifyproblem = Path(sys.executable).parent / "verifyproblem"
    parts = ["config", "data", "submissions", "validators", *(["statement"] if HAS_LATEX else [])]
    return subprocess.Popen([str(verifyproblem), "-p", *parts, "--", str(root)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
                            env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg")})


TIME_LIMIT_LINE = re.compile(r"Slowest AC runtime: ([0-9.]+), setting timelim to ([0-9.]+) secs, "
                             r"safety margin to ([0-9.]+) secs")
PROBLEMTOOLS_LINE = re.compile(r"^[ \t]*(?:ERROR )?(\S+/\S+) \([^)]*\) (OK: |OK with extra time: |got )(\w+)",
                               re.MULTILINE)


def problemtools_verdicts(proc: subprocess.Popen) -> tuple[str, dict[str, tuple[bool, str]]]:
    """verifyproblem's output and, per submission, whether it was as expected and its verdict."""
    output, _ = proc.communicate(timeout=900)
    return output, {m[1]: (m[2] != "got ", m[3]) for m in PROBLEMTOOLS_LINE.finditer(output)}


def assert_same_verdicts(root: Path, tmp_path: Path) -> str:
    """problemtools' verifyproblem passes the package, and sabaq's verify agrees on every submission; its output."""
    proc = start_verifyproblem(root, tmp_path)
    lines = []
    report = verify(load(root), out=lines.append)
    output, theirs = problemtools_verdicts(proc)
    summary = output.strip().splitlines()[-1]
    assert "tested: 0 errors" in summary, output[-3000:]
    assert report.ok, lines[0]
    ours = {name: (ok, "RTE" if result.verdict == "MLE" else result.verdict) for name, result, ok in report.rows}
    assert ours == theirs, (lines[0], output[-3000:])
    # problemtools' time limit from its own slowest accepted run is the one sabaq's rule gives
    # from that run (each tool measures its own runs: only the rule is compared)
    limit = TIME_LIMIT_LINE.search(output)
    assert limit, output[-3000:]
    slowest, their_limit, their_high = (float(x) for x in limit.groups())
    package = load(root)
    ours = {package.time_limit_from(max(0.0, slowest + d)) for d in (-0.0005, 0, 0.0005)}  # printed to 3 decimals
    assert their_limit in ours and math.isclose(their_limit * package.time_limit_to_tle, their_high, abs_tol=1e-3), \
        (limit[0], ours)
    return output


def test_new_package_passes_kattis_verifyproblem(sum2, tmp_path):
    """Its statement check needs LuaLaTeX (scripts/install.sh installs it): where it is
    installed, the statements are checked too."""
    output = assert_same_verdicts(sum2, tmp_path)
    if HAS_LATEX:
        assert "Checking problem statements" in output and "tested: 0 errors" in output


def test_generate_is_deterministic_and_verify_reports_a_mismatch(sum2, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(sum2, copy)
    generate(copy, out=lambda *_: None)
    for a in sorted((sum2 / "data" / "secret").glob("*.in")):
        assert (copy / "data" / "secret" / a.name).read_bytes() == a.read_bytes()
    lines = []
    assert verify(load(sum2), out=lines.append, lang="en").ok
    assert "all submissions as expected" in lines[0] and "suggested time limit" in lines[0]
    # a "wrong" solution that is in fact right breaks verification, and the exit code says so
    (copy / "submissions" / "wrong_answer" / "solution.py").write_text(
        (copy / "submissions" / "accepted" / "solution.py").read_text())
    proc = subprocess.run(SABAQ + ["task", "verify", str(copy)], capture_output=True, text=True,
                          env={**os.environ, "SABAQ_LANG": "en"})
    assert proc.returncode == 1 and "MISMATCH" in proc.stdout and "VERIFICATION FAILED" in proc.stdout
    assert "the rows marked MISMATCH (wrong_answer/solution.py)" in proc.stdout
    # and in the coach's language (tests/unit/test_olympiad_verify_language.py has every line)
    russian = subprocess.run(SABAQ + ["task", "verify", str(copy)], capture_output=True, text=True,
                             env={**os.environ, "SABAQ_LANG": "", "LANG": "ru_RU.UTF-8"})
    assert russian.returncode == 1 and "НЕСОВПАДЕНИЕ" in russian.stdout and "MISMATCH" not in russian.stdout
    assert "ПРОВЕРКА НЕ ПРОЙДЕНА. Что исправить:" in russian.stdout


def test_input_validator_rejects_a_bad_test(sum2, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(sum2, copy)
    (copy / "generators" / "generators.yaml").write_text("huge: [secret, --max, '99999999999', --seed, '5']\n")
    proc = subprocess.run(SABAQ + ["task", "generate", str(copy)], capture_output=True, text=True)
    assert proc.returncode == 2 and "input validators reject" in proc.stderr and "secret/huge" in proc.stderr
    kazakh = subprocess.run(SABAQ + ["task", "generate", str(copy)], capture_output=True, text=True,
                            env=dict(os.environ, SABAQ_LANG="kk"))
    assert kazakh.returncode == 2 and "Кіріс валидаторлары" in kazakh.stderr and "secret/huge" in kazakh.stderr


@pytest.mark.skipif(shutil.which("g++") is None, reason="C++ needs g++")
def test_cpp_solutions_are_compiled_and_judged(sum2, tmp_path):
    right = write(tmp_path / "cpp", "sum.cpp",
                  "#include <cstdio>\nint main(){long long a,b;scanf(\"%lld %lld\",&a,&b);printf(\"%lld\\n\",a+b);}\n")
    broken = write(tmp_path / "cpp2", "sum.cpp", "int main( {\n")
    with Judge(load(sum2)) as judge:
        assert judge.judge(right).verdict == "AC"
        result = judge.judge(broken)
    assert result.verdict == "CE" and "error" in result.compile_message


def test_hostile_programs_are_contained_and_never_see_the_answers(sum2, tmp_path):
    package = load(sum2)
    secret = next(g for g in package.groups if not g.sample).tests[0]
    answer = secret.answer.read_text().strip()
    hostile = {
        "loop.py": ("while True:\n    pass\n", "TLE"),
        "alloc.py": ("x = bytearray(4 * 1024 ** 3)\nprint(len(x))\n", "MLE"),
        "forkbomb.py": ("import os\nwhile True:\n    os.fork()\n", "RTE"),
        "peek.py": (f"""
import glob, os
found = []
for pattern in ["{sum2}/data/secret/*.ans", "{sum2.parent}/**/*.ans", "/tmp/**/*.ans", "/*/*.ans",
                "/*/*/*.ans", "/proc/*/cwd/*.ans", "/proc/*/root/tmp/**/*.ans"]:
    for path in glob.glob(pattern, recursive=True):
        try:
            found.append(open(path).read().strip())
        except OSError:
            pass
a, b = map(int, input().split())
print(found[0] if found else "nothing")
""", "WA"),
    }
    with Judge(package) as judge:
        for name, (code, verdict) in hostile.items():
            result = judge.judge(write(tmp_path / name.split(".")[0], name, code))
            assert result.verdict == verdict, (name, result.verdict, result.groups)
            assert result.score == 0
        # the judge still works normally afterwards
        good = judge.judge(Program(sum2 / "submissions" / "accepted" / "solution.py", "python"))
        assert good.verdict == "AC" and good.score == 100
    assert answer  # the peeking program saw no answer file: it printed "nothing" and got WA


def test_the_worker_judges_a_notebook_submission(sum2):
    files = package_files(sum2)
    assert "problem.yaml" in files and not any(p.startswith(("submissions/", "generators/")) for p in files)
    nb = build_notebook(load(sum2), "ru", "demo", "sum2")
    solution_cell = next(c for c in nb.cells if "solution" in c.metadata.get("tags", []))
    solution_cell.source += "a, b = map(int, input().split())\nprint(a + b)\n"
    import nbformat

    notebook = nbformat.writes(nb).encode()
    assert b"print(a + b)" in solution_from({"sum2.ipynb": notebook})
    assert b"%%writefile" not in solution_from({"sum2.ipynb": notebook})
    accepted = judge_files(files, {"sum2.ipynb": notebook})
    assert accepted["score"] == 100 and accepted["details"]["judge"]["verdict"] == "AC"
    # solution.py, when sent, is what counts
    wrong = judge_files(files, {"sum2.ipynb": notebook, "solution.py": b"print(0)\n"})
    assert wrong["score"] == 0 and wrong["details"]["judge"]["verdict"] == "WA"
    missing = judge_files(files, {"notes.txt": b"hello"})
    assert missing["details"]["judge"]["verdict"] == "CE"


def test_student_notebook_is_in_the_students_language():
    assert tex_to_markdown("\\problemname{Сумма}\n\\section*{Входные данные}\nЧисла~$a$ и $b$ --- целые.") == \
        "# Сумма\n## Входные данные\nЧисла $a$ и $b$ — целые.\n"
    files = {"i18n/kk/t.ipynb": b"kk", "i18n/ru/t.ipynb": b"ru", "i18n/en/t.ipynb": b"en", "samples/1.in": b"1"}
    assert localize(files, "ru") == {"t.ipynb": b"ru", "samples/1.in": b"1"}
    assert localize(files, None, fallback="kk")["t.ipynb"] == b"kk"
    assert localize({"i18n/en/t.ipynb": b"en"}, "kk") == {"t.ipynb": b"en"}
    assert localize({"a.ipynb": b"x"}, "kk") == {"a.ipynb": b"x"}


PRACTICE_TASKS = sorted(p.name for p in PRACTICE.iterdir() if (p / "problem.yaml").exists()) \
    if PRACTICE.exists() else []


def test_the_practice_set_has_six_tasks_in_three_languages():
    import tomllib

    course = tomllib.loads((PRACTICE.parent / "course.toml").read_text(encoding="utf-8"))
    listed = [Path(t["path"]).name for t in course["tasks"]]
    assert len(listed) >= 6 and sorted(listed) == PRACTICE_TASKS
    with_groups = custom = 0
    for name in PRACTICE_TASKS:
        root = PRACTICE / name
        for lang in ("kk", "ru", "en"):
            assert (root / "problem_statement" / f"problem.{lang}.tex").exists(), (name, lang)
        groups = [p for p in (root / "data" / "secret").iterdir() if p.is_dir()]
        with_groups += len(groups) >= 2
        custom += (root / "output_validators").is_dir()
    assert with_groups >= 2 and custom >= 1


def test_the_practice_tasks_have_valid_short_names_their_titles_and_two_new_kinds():
    """problemtools' rule for a short name ([a-z0-9]+, which tea-time broke); the six first tasks
    keep their titles; one new task is interactive, one has an output checker in C++."""
    import yaml

    assert all(re.fullmatch(r"[a-z0-9]+", name) for name in PRACTICE_TASKS), PRACTICE_TASKS
    titles = {name: yaml.safe_load((PRACTICE / name / "problem.yaml").read_text(encoding="utf-8"))["name"]
              for name in PRACTICE_TASKS}
    assert {"Bazaar pairs", "Camel caravan", "Maximum harvest", "Steppe road", "Tea time", "Tenge coins"} \
        <= set(titles.values())
    packages = [load(PRACTICE / name, require_tests=False) for name in PRACTICE_TASKS]
    assert [p.short_name for p in packages if p.interactive] == ["guess"]
    checkers = [p.short_name for p in packages if p.output_validator and not p.interactive
                and p.output_validator.language == "cpp"]
    assert checkers == ["share"]


@pytest.mark.parametrize("name", PRACTICE_TASKS)
def test_practice_task_verifies(name, tmp_path):
    root = tmp_path / name
    shutil.copytree(PRACTICE / name, root)
    if (root / "generators").is_dir():  # an interactive task (guess) ships its tests
        generate(root, out=lambda *_: None)
    assert_same_verdicts(root, tmp_path)


FORMATS = Path(__file__).resolve().parent / "olympiad_packages"


@pytest.mark.parametrize("name", sorted(p.name for p in FORMATS.iterdir()))
def test_packages_in_problemtools_formats_verify_identically(name, tmp_path):
    """doubling: subtasks in the 2023-07-draft format (Markdown statements, a fixed time limit);
    circle: a legacy pass-fail problem with float_tolerance, and a submission that runs out of
    memory filed under run_time_error, as problemtools files it; higher: an interactive guessing
    game in the 2023-07-draft format (``type: [pass-fail, interactive]``, the interactor in
    output_validator/). The legacy interactive game is the practice task guess."""
    root = tmp_path / name
    shutil.copytree(FORMATS / name, root)
    assert_same_verdicts(root, tmp_path)
    package = load(root)
    with Judge(package) as judge:
        if name == "doubling":
            assert package.format == "2023-07-draft" and package.time_limit == 2 and package.max_score == 100
            partial = judge.judge(Program(root / "submissions" / "partially_accepted" / "small_only.py", "python"))
            assert (partial.verdict, partial.score) == ("AC", 40)
        elif name == "higher":
            assert package.format == "2023-07-draft" and package.interactive and not package.scoring
            assert package.output_validator.path.name == "interactor.py"
            found = judge.judge(Program(root / "submissions" / "accepted" / "halves.py", "python"))
            assert (found.verdict, found.score) == ("AC", 1)
        else:
            assert package.validator_flags == ["float_tolerance", "1e-6"] and not package.scoring
            hoard = judge.judge(Program(root / "submissions" / "run_time_error" / "hoards_memory.py", "python"))
            assert hoard.verdict in ("MLE", "RTE") and hoard.score == 0


def test_statements_render_in_every_language_of_the_package(tmp_path):
    """`sabaq task statement`: HTML always; a PDF through problemtools' problem2pdf where
    scripts/install.sh's LuaLaTeX is installed, and else a message saying what is missing."""
    root = PRACTICE / "teatime"
    has_latex = HAS_LATEX
    proc = subprocess.run(SABAQ + ["task", "statement", str(root), "--out", str(tmp_path / "out"), "--pdf"],
                          capture_output=True, text=True, timeout=900)
    if not has_latex:
        assert proc.returncode != 0 and "LuaLaTeX" in proc.stderr
        proc = subprocess.run(SABAQ + ["task", "statement", str(root), "--out", str(tmp_path / "out")],
                              capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for lang, title in (("kk", "Шай уақыты"), ("ru", "Время чая"), ("en", "Tea Time")):
        page = (tmp_path / "out" / f"problem.{lang}.html").read_text(encoding="utf-8")
        assert f"<h1>{title}</h1>" in page and "<math" in page and f'lang="{lang}"' in page
        if has_latex:
            pdf = (tmp_path / "out" / f"problem.{lang}.pdf").read_bytes()
            assert pdf.startswith(b"%PDF")
            # headings, the title and samples in faces with Cyrillic letters: problemtools' class
            # left them in Latin Modern, which has none, and Kazakh and Russian headings came out empty
            fonts = set(re.findall(rb"/BaseFont\s*/(?:[A-Z]{6}\+)?([A-Za-z0-9-]+)", pdf))
            assert b"CMUSansSerif-Bold" in fonts and not {f for f in fonts if f.startswith((b"LMSans", b"LMMono"))}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_practice_contest_is_seeded_as_a_course(sessions):
    from sqlalchemy import select

    from sabaq.hub.domain import assignments
    from sabaq.hub.domain.seed import seed_course
    from sabaq.hub.store.models import Assignment, FileKind

    with sessions() as db:
        logins = seed_course(db, "olympiad")
        db.commit()
        assert {x["login"] for x in logins} >= {"teacher", "aliya"}
        tasks = list(db.scalars(select(Assignment).where(Assignment.category == "olympiad")))
        assert sorted(t.name for t in tasks) == PRACTICE_TASKS
        for task in tasks:
            assert task.max_score == 100, task.name
            released = assignments.files_of(db, task, FileKind.release)
            assert {f"i18n/{lang}/{task.name}.ipynb" for lang in ("kk", "ru", "en")} <= set(released)
            assert not any(p.startswith("data/") for p in released)
            assert any(p.startswith("data/secret/") for p in assignments.files_of(db, task, FileKind.source))


def test_a_task_solved_by_writing_a_function(sum2, tmp_path):
    """Kattis's include/: the package's grader imports the student's function from solution.py."""
    import nbformat

    root = tmp_path / "add"
    shutil.copytree(sum2, root)
    include = root / "include" / "python3"
    include.mkdir(parents=True)
    (include / "main.py").write_text("from solution import add\na, b = map(int, input().split())\nprint(add(a, b))\n")
    (include / "solution.py").write_text("def add(a, b):\n    # return the sum of a and b\n    ...\n")
    (root / "submissions" / "accepted" / "solution.py").write_text("def add(a, b):\n    return a + b\n")
    (root / "submissions" / "wrong_answer" / "solution.py").write_text("def add(a, b):\n    return a - b\n")
    generate(root, out=lambda *_: None)
    package = load(root)
    lines = []
    assert verify(package, out=lines.append).ok, lines[0]

    nb = build_notebook(package, "kk", "demo", "add")
    cell = next(c for c in nb.cells if "solution" in c.metadata.get("tags", []))
    assert cell.source.startswith("%%writefile solution.py\ndef add(a, b):")
    files = package_files(root)
    assert "include/python3/main.py" in files
    stub_only = judge_files(files, {"add.ipynb": nbformat.writes(nb).encode()})
    assert stub_only["score"] == 0  # the stub returns nothing
    cell.source = cell.source.replace("...", "return a + b")  # the student completes the function
    solved = judge_files(files, {"add.ipynb": nbformat.writes(nb).encode()})
    assert solved["score"] == 100 and solved["details"]["judge"]["verdict"] == "AC"

    from sabaq.kattis.notebook import release_files

    released = release_files(package, "demo", "add")
    assert "main.py" in released and "solution.py" not in released
    assert json.loads(released["task.json"])["entry"] == "main.py"
    from sabaq.archive import write_tree
    from sabaq.lessons.olympiad import check_samples

    fetched = tmp_path / "fetched"
    write_tree(fetched, released)
    (fetched / "solution.py").write_text("def add(a, b):\n    return a + b\n")
    assert [r["verdict"] for r in check_samples(fetched, show=False)] == ["AC"]
    (fetched / "solution.py").write_text("def add(a, b):\n    return a * b\n")
    assert [r["verdict"] for r in check_samples(fetched, show=False)] == ["WA"]


def test_generators_run_in_the_sandbox(sum2, tmp_path):
    """A package's generator is its author's code: it runs sandboxed, never as the service."""
    root = tmp_path / "gen"
    shutil.copytree(sum2, root)
    (root / "generators" / "generators.yaml").write_text("probe: [secret, --seed, '1']\n")
    (root / "generators" / "gen.py").write_text(
        "import os, socket\n"
        "print(1, 2)\n"
        "print(os.getuid() != 0, os.path.exists(os.path.expanduser('~root/.bashrc')), file=open('/tmp/x', 'w'))\n"
        "open('/etc/shadow').read()\n")
    proc = subprocess.run(SABAQ + ["task", "generate", str(root)], capture_output=True, text=True)
    assert proc.returncode == 2 and "generator failed for probe" in proc.stderr
    assert "FileNotFoundError" in proc.stderr or "PermissionError" in proc.stderr  # /etc is not even there
    assert not (root / "data" / "secret" / "probe.in").exists()
    (root / "generators" / "gen.py").write_text("import os\nprint(os.getuid() % 7 + 1, 0 if os.getuid() else 99)\n")
    generate(root, out=lambda *_: None)
    a, b = map(int, (root / "data" / "secret" / "probe.in").read_text().split())
    assert b == 0  # not root
