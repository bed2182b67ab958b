"""The languages school olympiads use: how a program's language is recognised, built and run.

Recognised as problemtools recognises it (its ``config/languages.yaml``): each language
claims the files its patterns match, the one claiming most files wins and a tie goes to
the higher priority; a ``.py`` file counts for Python 2 only when its first line names
python2 (``.py2`` always does). Python 2 is refused with a note, never run as Python 3.

Each compiler runs in the program's sandbox, as the program's uid, under compile limits
(CPU time, memory, the size of what it writes); it reads the sources at /sandbox and
writes to /out0, from where root copies what was built (regular files only, see
``run.py``). Tools are resolved on the host to their real paths: the sandbox has /usr but
not /etc, where Debian's alternatives links point. Every tool comes from a Debian package
that ``scripts/install.sh`` installs; a missing one is reported with that package's name.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sabaq.errors import SabaqError
from sabaq.i18n import N_

SANDBOX = "/sandbox"  # the program's folder, read-only, inside the sandbox
OUT = "/out0"  # the build's folder, writable, inside the sandbox
PYTHON = next((p for p in ("/usr/bin/python3", "/usr/local/bin/python3") if os.path.exists(p)), "/usr/bin/python3")
PYTHON2_SHEBANG = re.compile(r"^#!.*python2\b")
MAIN = re.compile(r"^main\.", re.IGNORECASE)  # problemtools' rule for a program's main file
JAVA_MAIN = re.compile(r"\bstatic\s+(public\s+)?void\s+main\s*\(")


class CompileError(SabaqError):
    """The program cannot be built or run here; the message says why and what to do."""

    status = 422
    code = "compile_error"


@dataclass(frozen=True)
class CompileLimits:
    """What a compiler may use: generous for a compiler, bounded for a hostile source."""

    cpu_seconds: float = 60
    memory_mb: int = 2048
    output_mb: int = 64
    processes: int = 64
    wall_seconds: float = 120


COMPILE_LIMITS = CompileLimits()


def tool(name: str) -> str | None:
    """A program on the host's PATH, by its real path (a link to /etc/alternatives would
    lead nowhere in the sandbox), or None when it is not installed."""
    found = shutil.which(name)
    return os.path.realpath(found) if found else None


@dataclass(frozen=True)
class Language:
    """One language: its Kattis id, how its files are recognised, how it is built and run."""

    id: str  # Kattis's language id
    name: str
    patterns: tuple[str, ...]
    priority: int  # problemtools' priority: a tie in the number of files goes to the higher
    package: str  # the Debian package that brings its tools
    tools: tuple[str, ...]  # the programs it needs, by name on PATH
    build: Callable[[Build], list[str]] | None = None  # the compile command
    built: str = "prog"  # what the build leaves in /out0 that the program needs (a glob)
    run: Callable[[Build], list[str]] = lambda b: [f"{SANDBOX}/prog"]
    etc: tuple[str, ...] = ()  # globs of /etc folders it reads (bound read-only at their place)
    address_space: bool = True  # RLIMIT_AS may be the memory limit (not for the JVM, which reserves far more)
    processes: int = 32  # processes and threads of a run (the JVM starts a dozen threads)
    refused: str | None = None  # a msgid: this language is recognised but not run, and why

    def claims(self, path: Path) -> bool:
        if not any(fnmatch.fnmatchcase(path.name, p) for p in self.patterns):
            return False
        if self.id == "python2" and path.suffix == ".py":
            return _first_line(path) is not None and PYTHON2_SHEBANG.search(_first_line(path)) is not None
        return True

    def missing(self) -> str | None:
        """The first tool it needs that is not installed here."""
        return next((name for name in self.tools if tool(name) is None), None)

    def etc_folders(self) -> list[str]:
        return sorted(p for pattern in self.etc for p in glob.glob(pattern) if os.path.isdir(p))


@dataclass
class Build:
    """A program's files (names inside /sandbox) and its main file, as its commands need them."""

    language: Language
    files: list[str]
    main: str
    memory_mb: int = 1024

    @property
    def sources(self) -> list[str]:
        return [f for f in self.files if any(fnmatch.fnmatchcase(f, p) for p in self.language.patterns)]

    @property
    def main_class(self) -> str:
        return Path(self.main).stem


def _first_line(path: Path) -> str | None:
    try:
        with open(path, "rb") as f:
            return f.readline(200).decode("utf-8", "replace")
    except OSError:
        return None


def _pascal_units() -> list[str]:
    """Free Pascal's unit folders for this machine, what Debian's /etc/fpc.cfg lists
    (the compiler runs with -n: /etc is not in the sandbox)."""
    compiler = tool("ppcx64") or tool("ppc386") or ""
    units = Path(compiler).parent / "units"
    targets = sorted(units.glob("*-linux")) if units.is_dir() else []
    return [f"-Fu{targets[0]}/rtl", f"-Fu{targets[0]}/*"] if targets else []


def _python_check(build: Build) -> list[str]:
    """Python has nothing to build: its sources are parsed, so a syntax error is CE."""
    return [PYTHON, "-c", "import sys, ast; [ast.parse(open(f, 'rb').read(), f) for f in sys.argv[1:]]",
            *build.sources]


LANGUAGES: dict[str, Language] = {lang.id: lang for lang in (
    Language("c", "C", ("*.c",), 950, "gcc", ("gcc",),
             build=lambda b: [tool("gcc"), "-O2", "-std=gnu17", "-o", f"{OUT}/prog", *b.sources, "-lm"]),
    Language("cpp", "C++", ("*.cc", "*.C", "*.cpp", "*.cxx", "*.c++"), 1000, "g++", ("g++",),
             build=lambda b: [tool("g++"), "-O2", "-std=gnu++20", "-o", f"{OUT}/prog", *b.sources]),
    Language("java", "Java", ("*.java",), 800, "default-jdk-headless", ("javac", "java"),
             build=lambda b: [tool("javac"), "-J-Xmx512m", "-J-XX:+UseSerialGC", "-encoding", "UTF-8",
                              "-d", OUT, *b.sources],
             built="*.class",
             run=lambda b: [tool("java"), "-Dfile.encoding=UTF-8", "-XX:+UseSerialGC", "-Xss64m",
                            f"-Xmx{b.memory_mb}m", "-XX:ReservedCodeCacheSize=64m", "-cp", SANDBOX, b.main_class],
             etc=("/etc/java-*",), address_space=False, processes=64),
    Language("pascal", "Pascal (Free Pascal)", ("*.pas",), 350, "fp-compiler", ("ppcx64",),
             build=lambda b: [tool("ppcx64"), "-n", "-O2", "-XS", "-Xt", "-viwn", *_pascal_units(),
                              f"-FE{OUT}", f"-o{OUT}/prog", b.main]),
    Language("python3", "Python 3", ("*.py", "*.py3"), 850, "python3", ("python3",),
             build=_python_check, built="", run=lambda b: [PYTHON, f"{SANDBOX}/{b.main}"]),
    Language("python2", "Python 2", ("*.py", "*.py2"), 860, "python2", (),
             refused=N_("{file} is a Python 2 program (its first line names python2, or it ends in .py2). "
                        "The judge runs Python 3 only, and Python 2 code can give wrong answers there: "
                        "rewrite it for Python 3 and remove the python2 line.")),
)}


def detect(files: list[Path]) -> Language | None:
    """The language of a program made of ``files``, by problemtools' rule (see above)."""
    best, count = None, 0
    for lang in LANGUAGES.values():
        claimed = sum(1 for f in files if lang.claims(f))
        if claimed and (claimed, lang.priority) > (count, best.priority if best else -1):
            best, count = lang, claimed
    return best


def main_file(lang: Language, files: list[str], read: Callable[[str], str]) -> str:
    """The file the program starts from: a file named main.* (problemtools' rule), for Java
    the class with a main method, else the first source."""
    sources = sorted(f for f in files if any(fnmatch.fnmatchcase(f, p) for p in lang.patterns))
    named = [f for f in sources if MAIN.match(f)]
    if named:
        return named[0]
    if lang.id == "java":
        with_main = [f for f in sources if JAVA_MAIN.search(read(f))]
        if with_main:
            return with_main[0]
    if lang.id == "python3":  # sabaq's own tasks: a grader main.py, or the student's solution.py
        for name in ("solution.py",):
            if name in sources:
                return name
    return sources[0] if sources else files[0]


def choose(files: list[Path]) -> Language:
    """The language to build ``files`` in, or a CompileError saying why they cannot run here."""
    lang = detect(files)
    names = ", ".join(f.name for f in files) or "-"
    if lang is None:
        raise CompileError(N_("The judge cannot tell the language of {files}. It runs C (.c), C++ (.cpp), "
                              "Java (.java), Pascal (.pas) and Python 3 (.py): name the file by its language."),
                           files=names)
    if lang.refused:
        claimed = next(f.name for f in files if lang.claims(f))
        raise CompileError(lang.refused, file=claimed)
    missing = lang.missing()
    if missing:
        raise CompileError(N_("{language} programs cannot be run on this server: {tool} is not installed. "
                              "Install the Debian package {package} (scripts/install.sh installs it)."),
                           language=lang.name, tool=missing, package=lang.package)
    return lang
