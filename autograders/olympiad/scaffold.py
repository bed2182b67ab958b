"""`sabaq task new` and `sabaq task generate`: a package skeleton, and its test data.

Test data is built by the package's generator, deterministically: every line
of ``generators/generators.yaml`` names a test, its group and the generator's
arguments (a seed among them). Answers come from the first accepted solution,
run in the sandbox; every input is then checked by the input validators.
"""

from __future__ import annotations

import getpass
import os
import shlex
import shutil
import tempfile
import uuid
from pathlib import Path

import yaml

from sabaq.archive import (
    create_file,
    opened_dir,
    read_file,
    remove_file,
    safe_name,
    safe_relpath,
    subfolder,
    write_file,
)
from sabaq.autograders.olympiad import run as runner
from sabaq.i18n import N_, terminal_text
from sabaq.kattis.package import PackageError, load

STATEMENT = {
    "en": ("Sum of two numbers", "Read two integers $a$ and $b$ and print their sum.",
           "Input", "One line with $a$ and $b$ ($-10^9 \\le a, b \\le 10^9$).", "Output", "One integer, $a + b$."),
    "ru": ("Сумма двух чисел", "Даны два целых числа $a$ и $b$. Выведите их сумму.",
           "Входные данные", "Одна строка с числами $a$ и $b$ ($-10^9 \\le a, b \\le 10^9$).",
           "Выходные данные", "Одно целое число $a + b$."),
    "kk": ("Екі санның қосындысы", "Екі бүтін сан $a$ мен $b$ берілген. Олардың қосындысын шығарыңыз.",
           "Кіріс деректері", "Бір жолда $a$ мен $b$ ($-10^9 \\le a, b \\le 10^9$).",
           "Шығыс деректері", "Бір бүтін сан, $a + b$."),
}

GENERATOR = '''#!/usr/bin/env python3
"""Prints one test input. Arguments: --max M --seed S (the same arguments give the same test)."""
import argparse
import random

parser = argparse.ArgumentParser()
parser.add_argument("--max", type=int, default=10**9)
parser.add_argument("--seed", type=int, default=1)
args = parser.parse_args()
rng = random.Random(args.seed)
print(rng.randint(-args.max, args.max), rng.randint(-args.max, args.max))
'''

VALIDATOR = '''#!/usr/bin/env python3
"""Input validator: exit 42 if the input on stdin is well formed, 43 otherwise."""
import re
import sys

data = sys.stdin.read()
ok = re.fullmatch(r"-?\\d+ -?\\d+\\n", data) is not None
if ok:
    a, b = map(int, data.split())
    ok = all(-10**9 <= v <= 10**9 for v in (a, b))
sys.exit(42 if ok else 43)
'''

SOLUTION = '''#!/usr/bin/env python3
a, b = map(int, input().split())
print(a + b)
'''

WRONG = '''#!/usr/bin/env python3
a, b = map(int, input().split())
print(a - b)
'''


def new(name: str, parent: str | Path = ".") -> Path:
    root = Path(parent) / safe_name(name)
    if root.exists():
        raise PackageError(N_("{folder} exists already; choose another name or remove it."), folder=root)
    (root / "problem_statement").mkdir(parents=True)
    (root / "problem.yaml").write_text(yaml.safe_dump({
        "name": name, "type": "scoring", "uuid": str(uuid.uuid4()),
        "author": os.environ.get("JUPYTERHUB_USER") or getpass.getuser(), "license": "cc by-sa",
        "limits": {"memory": 256},
    }, allow_unicode=True, sort_keys=False), encoding="utf-8")
    (root / ".timelimit").write_text("1\n")
    for lang, (title, legend, input_h, input_t, output_h, output_t) in STATEMENT.items():
        (root / "problem_statement" / f"problem.{lang}.tex").write_text(
            f"\\problemname{{{title}}}\n\n{legend}\n\n\\section*{{{input_h}}}\n{input_t}\n\n"
            f"\\section*{{{output_h}}}\n{output_t}\n", encoding="utf-8")
    (root / "data" / "sample").mkdir(parents=True)
    (root / "data" / "sample" / "1.in").write_text("2 3\n")
    (root / "data" / "sample" / "1.ans").write_text("5\n")
    (root / "data" / "sample" / "testdata.yaml").write_text("accept_score: 0\nrange: 0 0\n")  # samples give no points
    (root / "data" / "secret").mkdir()
    (root / "data" / "secret" / "testdata.yaml").write_text(
        "accept_score: 100\ngrader_flags: min\non_reject: break\nrange: 0 100\n")
    (root / "data" / "testdata.yaml").write_text("grader_flags: sum\nrange: 0 100\n")
    (root / "generators").mkdir()
    (root / "generators" / "gen.py").write_text(GENERATOR)
    (root / "generators" / "generators.yaml").write_text(
        "# test name: [group, generator arguments]\n"
        "small-1: [secret, --max, '10', --seed, '1']\n"
        "small-2: [secret, --max, '10', --seed, '2']\n"
        "large-1: [secret, --seed, '3']\n"
        "large-2: [secret, --seed, '4']\n")
    (root / "input_validators").mkdir()
    (root / "input_validators" / "validate.py").write_text(VALIDATOR)
    for folder, text in (("accepted", SOLUTION), ("wrong_answer", WRONG)):
        (root / "submissions" / folder).mkdir(parents=True)
        (root / "submissions" / folder / "solution.py").write_text(text)
    return root


def _tests(text: str) -> dict[str, tuple[str, str, list[str]]]:
    """{group/name: (group, name, generator arguments)} of generators.yaml. Each name and
    group becomes a path, so each passes sabaq.archive's allow-list (no '..', no links)."""
    spec = yaml.safe_load(text) or {}
    malformed = PackageError(N_("generators/generators.yaml maps each test's name to its group and the "
                                "generator's arguments, like: small-1: [secret, --seed, '1']"))
    if not isinstance(spec, dict):
        raise malformed
    tests = {}
    for name, entry in spec.items():
        if not isinstance(entry, list) or not entry:
            raise malformed
        name, group = safe_name(str(name)), safe_relpath(str(entry[0]))
        tests[f"{group}/{name}"] = (group, name, [str(a) for a in entry[1:]])
    return tests


def _generated(text: str) -> set[str]:
    """The tests (group/name) the last run wrote, from generators/generated.txt; every line
    is checked like the names in generators.yaml, since tests dropped from it are deleted."""
    out = set()
    for line in text.splitlines():
        if line.strip():
            test = safe_relpath(line.strip())
            if "/" not in test:
                raise PackageError(N_("generators/generated.txt: '{line}' is not a test (group/name)."), line=test)
            out.add(test)
    return out


def _links(folder: str, names: list[str]) -> list[str]:
    """shutil.copytree's ignore: links are not copied (nor is what they point to)."""
    return [n for n in names if os.path.islink(os.path.join(folder, n))]


def _copy_generators(source: Path, box_folder: Path) -> None:
    """The package's generators into a box's folder (its uid's only): links left out,
    everything readable by that uid."""
    shutil.copytree(source, box_folder, ignore=_links, dirs_exist_ok=True)
    for path in box_folder.rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)


def generate(path: str | Path, out=print) -> int:
    """(Re)build data/secret from the generators; return how many tests were written.

    The package is someone else's folder: its names pass sabaq.archive's allow-list and
    every file is written, or deleted, through folder descriptors that follow no link, so
    nothing outside the package is touched, whoever runs this."""
    root = Path(path).resolve()
    with opened_dir(root) as top:
        try:
            with subfolder(top, ["generators"]) as folder:
                text = read_file(folder, "generators.yaml").decode("utf-8", errors="replace")
                try:
                    previous = _generated(read_file(folder, "generated.txt").decode("utf-8", errors="replace"))
                except FileNotFoundError:
                    previous = set()  # what the last run wrote: tests dropped from the spec go
        except FileNotFoundError:
            raise PackageError(N_("{folder} has no generators/generators.yaml to build tests from."),
                               folder=root) from None
        count = _generate(root, top, _tests(text), previous)
    from sabaq.autograders.olympiad.verify import validate_inputs

    package = load(root)
    bad = validate_inputs(package)
    if bad:
        raise PackageError(N_("The input validators reject: {tests}"), tests=", ".join(bad))
    out(terminal_text(N_("{name}: {count} tests generated and validated"), name=package.name, count=count))
    return count


def _generate(root: Path, top: int, tests: dict[str, tuple[str, str, list[str]]], previous: set[str]) -> int:
    """Delete the tests no longer wanted, write each test's input (the generator's output)
    and answer (the accepted solution's); every file through the package's folder fd ``top``."""
    for stale in sorted(previous - set(tests)):
        group, _, name = stale.rpartition("/")
        try:
            with subfolder(top, ["data", *group.split("/")]) as folder:
                for ext in (".in", ".ans"):
                    remove_file(folder, f"{name}{ext}")
        except FileNotFoundError:
            pass
    generator = root / "generators" / "gen.py"
    with tempfile.TemporaryDirectory(prefix="sabaq-generators-") as tmp:
        # the generator is the package author's code: it runs sandboxed like every other program
        os.chmod(tmp, 0o711)
        with runner.Box(Path(tmp)) as box:
            _copy_generators(root / "generators", box.folder)
            for group, name, args in tests.values():
                with subfolder(top, ["data", *group.split("/")], create=True) as folder:
                    with os.fdopen(create_file(folder, f"{name}.in"), "wb") as sink:
                        result = box.execute(box.command([runner.PYTHON, f"{runner.SANDBOX}/{generator.name}", *args]),
                                             stdin=None, stdout=sink, limits=runner._limits(60, 2048, 256), wall=120)
                    if result.status != "ok":
                        remove_file(folder, f"{name}.in")
                        raise PackageError(N_("The generator failed for {test} ({command}): {detail}"), test=name,
                                           command=shlex.join(args), detail=result.stderr[-500:] or result.status)
    package = load(root, require_tests=False)
    reference = (package.submissions.get("accepted") or [None])[0]
    if reference is None:
        raise PackageError(N_("Answers come from an accepted solution: add one under submissions/accepted/."))
    # the tests' inputs and answers in a folder of root's only; the box in one its uid may cross
    with tempfile.TemporaryDirectory(prefix="sabaq-generate-") as tmp, \
            tempfile.TemporaryDirectory(prefix="sabaq-reference-") as boxes:
        base = Path(tmp)
        os.chmod(boxes, 0o711)
        with runner.Box(Path(boxes)) as box:
            command = box.prepare(package.with_includes(reference, base / "joined"))
            count = 0
            for group, name, _args in tests.values():
                with subfolder(top, ["data", *group.split("/")]) as folder:
                    test_in = base / "input"
                    test_in.write_bytes(read_file(folder, f"{name}.in"))
                    result = box.run(command, test_in, base / "answer", package.time_limit * 10,
                                     package.memory_mb, package.output_mb)
                    if result.status != "ok":
                        raise PackageError(N_("The accepted solution failed on {test}: {outcome} {detail}"), test=name,
                                           outcome=result.status, detail=result.stderr[-300:])
                    write_file(folder, f"{name}.ans", (base / "answer").read_bytes())
                count += 1
    with subfolder(top, ["generators"]) as folder:
        write_file(folder, "generated.txt", "".join(f"{test}\n" for test in sorted(tests)).encode())
    return count
