"""Kattis problem packages: reading one into what the judge needs.

Both layouts problemtools reads: the legacy format and ``problem_format_version:
2023-07-draft`` (a ``type`` list, ``limits.time_limit`` and ``limits.time_multipliers``,
``name`` per language, ``statement/`` with Markdown or LaTeX)::

    problem.yaml                 name, type (pass-fail or scoring), limits, validation
    .timelimit                   seconds (DOMjudge's convention; problemtools accepts it)
    problem_statement/problem.<lang>.tex   (or statement/, .tex or .md) one per language
    data/sample/*.in, *.ans
    data/secret/[group/]*.in, *.ans, testdata.yaml (accept_score, grader_flags)
    input_validators/<name>/ or <name>.py
    output_validators/<name>/ or <name>.py      exit 42 accepted, 43 wrong answer
    submissions/accepted|wrong_answer|time_limit_exceeded|run_time_error|partially_accepted/
    include/<language>/          files joined to every submission (Kattis's include/): a task where
                                 students write a function ships a grader main.py that imports it
                                 from solution.py, and a stub solution.py for the notebook
    generators/                  sabaq's addition for `sabaq task generate` (see scaffold.py)

Verdicts and scores follow problemtools' grading of the data tree (see grading.py): a
group's points are what its grader flags make of its tests' ``accept_score``; IOI-style
subtasks are groups with ``grader_flags: min`` under a ``secret/`` that sums them.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from sabaq.errors import SabaqError
from sabaq.i18n import N_
from sabaq.kattis.grading import Node, TestCase, best_score, grade, load_tree
from sabaq.kattis.statement import statement_files

VERDICT_FOLDERS = {
    "accepted": "AC",
    "wrong_answer": "WA",
    "time_limit_exceeded": "TLE",
    "run_time_error": "RTE",
    "memory_limit_exceeded": "MLE",
    "partially_accepted": "PAC",
}
# a program's language by its files' extensions, for its include/ folder; the judge decides the
# language it builds (Python 2 or 3 included) by problemtools' rules (autograders/olympiad/languages.py)
LANGUAGES = {".py": "python", ".py3": "python", ".py2": "python", ".cpp": "cpp", ".cc": "cpp", ".cxx": "cpp",
             ".c++": "cpp", ".C": "cpp", ".c": "c", ".java": "java", ".pas": "pascal"}
INCLUDE_FOLDERS = {"python": ("python3", "python"), "cpp": ("cpp", "c++"), "c": ("c",), "java": ("java",),
                   "pascal": ("pascal",)}  # Kattis's language ids


class PackageError(SabaqError):
    """The package is not a usable problem package; the message says what is missing."""

    status = 422
    code = "bad_package"


Test = TestCase
LEGACY, DRAFT_2023_07 = "legacy", "2023-07-draft"
# problemtools' defaults: the time limit is the slowest accepted run times ac_to_time_limit
# (rounded up to time_resolution); a too-slow submission must stay too slow at time_limit_to_tle times it
MULTIPLIERS = {LEGACY: (5.0, 2.0), DRAFT_2023_07: (2.0, 1.5)}


@dataclass
class Group:
    """A group that holds tests, as the judge runs it."""

    name: str  # sample, secret, secret/g1 ...
    tests: list[Test]
    points: float  # what the group scores when all of its tests pass
    sample: bool = False
    on_reject: str = "break"  # "continue": the group's other tests run after a failure


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
    tree: Node | None = None
    format: str = LEGACY
    fixed_time_limit: float | None = None  # limits.time_limit (2023-07) or .timelimit
    ac_to_time_limit: float = 5.0
    time_limit_to_tle: float = 2.0
    time_resolution: float = 1.0
    input_validators: list[Program] = field(default_factory=list)
    output_validator: Program | None = None
    submissions: dict[str, list[Program]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        name = self.config.get("name")
        if isinstance(name, dict):  # 2023-07: one per language
            name = name.get("en") or next(iter(name.values()), None)
        return name or self.root.name

    @property
    def short_name(self) -> str:
        return self.root.name

    @property
    def max_score(self) -> float:
        if not self.scoring:
            return 1.0
        return best_score(self.tree)

    @property
    def interactive(self) -> bool:
        kinds = self.config.get("type", "")
        kinds = kinds if isinstance(kinds, list) else str(kinds).split()
        return "interactive" in kinds or "interactive" in str(self.config.get("validation", "")).split()

    def outcome(self, test_result):
        """problemtools' verdict and score from the tests' (verdict, validator score); see grading.py."""
        result = grade(self.tree, test_result)
        if not self.scoring:
            result.score = 1.0 if result.verdict == "AC" else 0.0
        return result

    def time_limit_from(self, slowest_accepted: float) -> float:
        """The time limit problemtools gives: the slowest accepted run times ac_to_time_limit,
        rounded up to the time resolution (the fixed limit instead, when the package has one)."""
        if self.format == DRAFT_2023_07 and self.fixed_time_limit is not None:
            return self.fixed_time_limit
        steps = max(1, math.ceil(slowest_accepted * self.ac_to_time_limit / self.time_resolution - 1e-9))
        return steps * self.time_resolution

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
        return self.statements().get(lang)

    def statements(self) -> dict[str, Path]:
        """The statement of every language the package has (see ``statement.statement_files``)."""
        names = [f"{d}/{p.name}" for d in ("statement", "problem_statement") if (self.root / d).is_dir()
                 for p in (self.root / d).iterdir()]
        return {lang: self.root / name for lang, name in statement_files(names).items()}


def program(path: Path) -> Program | None:
    """A submission or validator: one source file, or a folder of sources."""
    files = source_files(path)
    kinds = {LANGUAGES[p.suffix] for p in files if p.suffix in LANGUAGES}
    if len(kinds) != 1:
        return None
    return Program(path, kinds.pop())


def _groups(tree: Node, scoring: bool) -> list[Group]:
    """The groups that hold tests, in the order problemtools judges them (in a pass-fail
    problem each is worth 1: passed or not)."""
    groups = []
    for node in tree.walk():
        if node.tests:
            points = grade(Node(node.name, node.config, node.tests), lambda test: ("AC", None)).score \
                if scoring else 1.0
            sample = node.name == "sample" or node.name.startswith("sample/")
            groups.append(Group(node.name, node.tests, 0.0 if sample else points, sample=sample,
                                on_reject=node.config["on_reject"]))
    return groups


def load(root: str | Path, require_tests: bool = True) -> Package:
    root = Path(root).resolve()
    config_file = root / "problem.yaml"
    if not config_file.exists():
        raise PackageError(N_("{folder} has no problem.yaml: it is not a problem package."), folder=root)
    timelimit_file = root / ".timelimit"
    try:  # what a teacher uploads: YAML that does not parse, a list for a mapping, "fast" for seconds ...
        config = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
        version = str(config.get("problem_format_version", LEGACY))
        kinds = config.get("type", "pass-fail")
        scoring = "scoring" in (kinds if isinstance(kinds, list) else str(kinds).split())
        limits = config.get("limits", {}) or {}
        memory_mb, output_mb = int(limits.get("memory", 1024)), int(limits.get("output", 8))
        fixed = limits.get("time_limit") if version == DRAFT_2023_07 else None
        if fixed is None and timelimit_file.exists():
            fixed = timelimit_file.read_text().strip()
        fixed = float(fixed) if fixed is not None else None
        ac_to_tl, tl_to_tle = MULTIPLIERS.get(version, MULTIPLIERS[LEGACY])
        if version == DRAFT_2023_07:
            multipliers = limits.get("time_multipliers", {}) or {}
            ac_to_tl = float(multipliers.get("ac_to_time_limit", ac_to_tl))
            tl_to_tle = float(multipliers.get("time_limit_to_tle", tl_to_tle))
        else:
            ac_to_tl = float(limits.get("time_multiplier", ac_to_tl))
            tl_to_tle = float(limits.get("time_safety_margin", tl_to_tle))
        resolution = float(limits.get("time_resolution", 1.0))
        tree = load_tree(root / "data", config.get("grading") if version == LEGACY else None, scoring)
        groups = _groups(tree, scoring)
    except (yaml.YAMLError, UnicodeDecodeError, ValueError, TypeError, AttributeError) as e:
        raise PackageError(N_("{folder}: problem.yaml, .timelimit or a testdata.yaml cannot be read ({error}). "
                              "Fix the file and publish again."), folder=root.name, error=str(e)[:200]) from None
    if require_tests and not any(not g.sample and g.tests for g in groups):
        raise PackageError(N_("{folder} has no secret tests (data/secret/*.in with .ans)."), folder=root)
    package = Package(root=root, config=config, groups=groups, time_limit=fixed or 1.0,
                      memory_mb=memory_mb, output_mb=output_mb, scoring=scoring, tree=tree, format=version,
                      fixed_time_limit=fixed, ac_to_time_limit=ac_to_tl, time_limit_to_tle=tl_to_tle,
                      time_resolution=resolution)
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
                # every one the package ships: one in no known language is judged CE with a note that says so
                package.submissions[folder.name] = [program(c) or Program(c, "") for c in sorted(folder.iterdir())
                                                    if source_files(c) and not c.name.startswith((".", "__"))]
    return package
