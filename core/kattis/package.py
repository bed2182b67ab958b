"""Kattis problem packages: reading one into what the judge needs.

The layout is Kattis's legacy problem format, which problemtools, DOMjudge and
Kattis read::

    problem.yaml                 name, type (pass-fail or scoring), limits, validation
    .timelimit                   seconds (DOMjudge's convention; problemtools accepts it)
    problem_statement/problem.<lang>.tex   (or statement/ with .md) one per language
    data/sample/*.in, *.ans
    data/secret/[group/]*.in, *.ans, testdata.yaml (accept_score, grader_flags)
    input_validators/<name>/ or <name>.py
    output_validators/<name>/ or <name>.py      exit 42 accepted, 43 wrong answer
    submissions/accepted|wrong_answer|time_limit_exceeded|run_time_error|partially_accepted/
    include/<language>/          files joined to every submission (Kattis's include/): a task where
                                 students write a function ships a grader main.py that imports it
                                 from solution.py, and a stub solution.py for the notebook
    generators/                  sabaq's addition for `sabaq task generate` (see scaffold.py)

A group's points are its ``accept_score`` when all of its tests pass (the
``grader_flags: min`` of IOI-style subtasks); the task's score is the sum.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from sabaq.errors import SabaqError
from sabaq.i18n import N_

VERDICT_FOLDERS = {
    "accepted": "AC",
    "wrong_answer": "WA",
    "time_limit_exceeded": "TLE",
    "run_time_error": "RTE",
    "memory_limit_exceeded": "MLE",
    "partially_accepted": "PAC",
}
LANGUAGES = {".py": "python", ".cpp": "cpp", ".cc": "cpp", ".cxx": "cpp"}
INCLUDE_FOLDERS = {"python": ("python3", "python"), "cpp": ("cpp", "c++")}  # Kattis's language ids


class PackageError(SabaqError):
    """The package is not a usable problem package; the message says what is missing."""

    status = 422
    code = "bad_package"


@dataclass
class Test:
    name: str  # path below data/ without the extension, e.g. secret/g1/03
    input: Path
    answer: Path


@dataclass
class Group:
    name: str  # sample, secret, secret/g1 ...
    tests: list[Test]
    points: float  # accept_score of the whole group (0 for samples)
    sample: bool = False


@dataclass
class Program:
    path: Path  # a file or a folder
    language: str

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def sources(self) -> list[Path]:
        return source_files(self.path)


def source_files(path: Path) -> list[Path]:
    """A program's files: the one file, or the files of its folder."""
    if path.is_file():
        return [path]
    return sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else []


@dataclass
class Package:
    root: Path
    config: dict
    groups: list[Group]
    time_limit: float
    memory_mb: int
    output_mb: int
    scoring: bool
    input_validators: list[Program] = field(default_factory=list)
    output_validator: Program | None = None
    submissions: dict[str, list[Program]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.config.get("name") or self.root.name

    @property
    def max_score(self) -> float:
        return sum(g.points for g in self.groups if not g.sample)

    @property
    def validator_flags(self) -> list[str]:
        return str(self.config.get("validator_flags", "")).split()

    def include_files(self, language: str) -> list[Path]:
        """Files Kattis joins to every submission in this language (``include/<language>/``)."""
        for name in INCLUDE_FOLDERS.get(language, ()):
            folder = self.root / "include" / name
            if folder.is_dir():
                return sorted(p for p in folder.iterdir() if p.is_file())
        return []

    def with_includes(self, program: Program, folder: Path) -> Program:
        """The program joined with the package's include files (its own files win)."""
        extra = self.include_files(program.language)
        if not extra:
            return program
        folder.mkdir(parents=True, exist_ok=True)
        for src in extra:
            shutil.copy(src, folder / src.name)
        for src in program.sources:
            shutil.copy(src, folder / ("solution.py" if program.path.is_file() and program.language == "python"
                                       and (folder / "main.py").exists() else src.name))
        return Program(folder, program.language)

    def statement(self, lang: str) -> Path | None:
        for folder in ("problem_statement", "statement"):
            for ext in ("md", "tex"):
                path = self.root / folder / f"problem.{lang}.{ext}"
                if path.exists():
                    return path
        return None


def program(path: Path) -> Program | None:
    """A submission or validator: one source file, or a folder of sources."""
    files = source_files(path)
    kinds = {LANGUAGES[p.suffix] for p in files if p.suffix in LANGUAGES}
    if len(kinds) != 1:
        return None
    return Program(path, kinds.pop())


def _groups(data: Path, scoring: bool) -> list[Group]:
    groups = []

    def tests_in(folder: Path) -> list[Test]:
        return [Test(str(p.relative_to(data).with_suffix("")), p, p.with_suffix(".ans"))
                for p in sorted(folder.glob("*.in")) if p.with_suffix(".ans").exists()]

    def score(folder: Path, default: float) -> float:
        meta = folder / "testdata.yaml"
        if meta.exists():
            return float((yaml.safe_load(meta.read_text()) or {}).get("accept_score", default))
        return default

    if (data / "sample").is_dir():
        groups.append(Group("sample", tests_in(data / "sample"), 0.0, sample=True))
    secret = data / "secret"
    if secret.is_dir():
        subgroups = sorted(p for p in secret.iterdir() if p.is_dir())
        if subgroups and scoring:
            for sub in subgroups:
                groups.append(Group(f"secret/{sub.name}", tests_in(sub), score(sub, 1.0)))
        else:
            tests = tests_in(secret) + [t for sub in subgroups for t in tests_in(sub)]
            groups.append(Group("secret", tests, score(secret, 100.0) if scoring else 1.0))
    return groups


def load(root: str | Path, require_tests: bool = True) -> Package:
    root = Path(root).resolve()
    config_file = root / "problem.yaml"
    if not config_file.exists():
        raise PackageError(N_("{folder} has no problem.yaml: it is not a problem package."), folder=root)
    timelimit_file = root / ".timelimit"
    try:  # what a teacher uploads: YAML that does not parse, a list for a mapping, "fast" for seconds ...
        config = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
        scoring = config.get("type", "pass-fail") == "scoring"
        limits = config.get("limits", {}) or {}
        memory_mb, output_mb = int(limits.get("memory", 1024)), int(limits.get("output", 8))
        time_limit = float(timelimit_file.read_text().strip()) if timelimit_file.exists() else 1.0
        groups = _groups(root / "data", scoring)
    except (yaml.YAMLError, UnicodeDecodeError, ValueError, TypeError, AttributeError) as e:
        raise PackageError(N_("{folder}: problem.yaml, .timelimit or a testdata.yaml cannot be read ({error}). "
                              "Fix the file and publish again."), folder=root.name, error=str(e)[:200]) from None
    if require_tests and not any(not g.sample and g.tests for g in groups):
        raise PackageError(N_("{folder} has no secret tests (data/secret/*.in with .ans)."), folder=root)
    package = Package(root=root, config=config, groups=groups, time_limit=time_limit,
                      memory_mb=memory_mb, output_mb=output_mb, scoring=scoring)
    for folder in ("input_validators",):
        base = root / folder
        if base.is_dir():
            package.input_validators = [p for c in sorted(base.iterdir()) if (p := program(c))]
    for folder in ("output_validators", "output_validator"):
        base = root / folder
        if base.is_dir():
            found = [p for c in sorted(base.iterdir()) if (p := program(c))] or (
                [p] if (p := program(base)) else [])
            if found:
                package.output_validator = found[0]
    subs = root / "submissions"
    if subs.is_dir():
        for folder in sorted(subs.iterdir()):
            if folder.is_dir():
                package.submissions[folder.name] = [p for c in sorted(folder.iterdir()) if (p := program(c))]
    return package
