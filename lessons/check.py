"""``sabaq lesson check [PATH]``: every lesson, every language, run and compared.

Three language versions stay one lesson only if something checks it: the
notebooks must have the same cells, identical code and the same exercises in
the same order, every exercise must be used and have hints in every language,
and every notebook must run from top to bottom without a browser. After the
last cell a self-test moves every slider (the picture must change) and gives
every exercise its own answer (it must be accepted), so a typo in
exercises.toml is found here and not by a class. Where Chromium and Playwright are
installed, every notebook that ran is also opened in a phone's view (``--phone``,
:mod:`sabaq.lessons.phone`): it must start by itself and fit the screen's width.

Run as ``python -m sabaq.lessons.check PATH``; exits 1 on any problem.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from sabaq.i18n import LANGUAGES, N_, environment_language, translator
from sabaq.lessons.cells import check_cells, same_roles
from sabaq.lessons.exercises import read_exercises
from sabaq.lessons.meta import LessonError, lesson_folders, read_meta

MIN_EXERCISES = 3
SELFTEST = "from sabaq.lessons.widgets import _selftest\n_selftest()"
_CHECK_CALL = re.compile(r"""\.check\(\s*["']([^"']+)["']\s*\)""")
_LANG_ARG = re.compile(r"""\blang\s*=\s*["'][a-z]{2}["']""")
_SIMULATION = re.compile(r"\.plot\(|\binteract(ive)?\(|ipywidgets")
_DOWNLOAD = re.compile(r"https?://|urlopen|urllib|\brequests\.|\bwget\b|pip install")


@dataclass
class LessonReport:
    folder: Path
    name: str
    languages: list[str] = field(default_factory=list)
    problems: list[LessonError] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # lang -> run time of a clean run
    failed: set[str] = field(default_factory=set)  # languages whose run failed
    phone: set[str] = field(default_factory=set)  # notebooks opened in the phone view

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class CheckReport:
    lessons: list[LessonReport]

    @property
    def ok(self) -> bool:
        return bool(self.lessons) and all(lesson.ok for lesson in self.lessons)

    def problems(self, lang: str | None = "en") -> list[str]:
        return [f"{lesson.name}: {p.translated(lang)}" for lesson in self.lessons for p in lesson.problems]


def default_root() -> Path:
    import sabaq.courses

    return Path(sabaq.courses.ROOT)


def _code(cell) -> str:
    return _LANG_ARG.sub("lang=...", cell.source.strip())


def check_structure(folder: Path, report: LessonReport):
    """Static checks; returns the metadata (None if unusable) and the notebooks read."""
    import nbformat

    problems = report.problems
    meta, found = read_meta(folder)
    problems.extend(found)
    if meta is None:
        return None, {}
    report.languages = list(meta.languages)
    problems.extend(read_exercises(folder, meta.languages)[1])
    notebooks = {}
    for lang in meta.languages:
        path = meta.notebook(lang)
        if not path.is_file():
            problems.append(LessonError(N_("{notebook} is missing."), notebook=path.name))
            continue
        try:
            notebooks[lang] = nbformat.read(path, as_version=4)
            nbformat.validate(notebooks[lang])
        except Exception as exc:
            problems.append(LessonError(N_("{notebook} is not a valid notebook: {error}"),
                                        notebook=path.name, error=str(exc).splitlines()[0][:200]))
            notebooks.pop(lang, None)
    expected = {meta.notebook(lang).name for lang in meta.languages}
    for path in sorted(folder.glob("*.ipynb")):
        if path.name not in expected:
            problems.append(LessonError(N_("{notebook}: a lesson's notebooks are named {id}.LANG.ipynb for the languages in lesson.toml."),
                                        notebook=path.name, id=meta.id))
    for lang, nb in notebooks.items():
        name = meta.notebook(lang).name
        if any(c.cell_type == "code" and (c.get("outputs") or c.get("execution_count")) for c in nb.cells):
            problems.append(LessonError(N_("{notebook} is saved with outputs: clear all outputs and save it again."),
                                        notebook=name))
        problems.extend(check_cells(nb, name))
        for index, cell in enumerate(nb.cells, start=1):
            if cell.cell_type == "code" and _DOWNLOAD.search(cell.source):
                problems.append(LessonError(N_("{notebook}, cell {cell}: lessons work offline; put the data in data/ instead of downloading it."),
                                            notebook=name, cell=index))
    if not notebooks:
        return meta, notebooks
    ref_lang = next(iter(notebooks))
    ref, ref_name = notebooks[ref_lang], meta.notebook(ref_lang).name
    for lang, nb in notebooks.items():
        if lang == ref_lang:
            continue
        name = meta.notebook(lang).name
        if [c.cell_type for c in nb.cells] != [c.cell_type for c in ref.cells]:
            problems.append(LessonError(N_("{notebook} and {reference} have different cells: the same cells, in the same order, are needed in every language."),
                                        notebook=name, reference=ref_name))
            continue
        if not same_roles(nb, ref):
            problems.append(LessonError(N_("{notebook} and {reference} tag their code cells differently: a cell's sabaq:setup or sabaq:student tag is the same in every language."),
                                        notebook=name, reference=ref_name))
        for index, (cell, other) in enumerate(zip(nb.cells, ref.cells), start=1):
            if cell.cell_type == "code" and _code(cell) != _code(other):
                problems.append(LessonError(N_("{notebook}, cell {cell}: the code differs from {reference}; code cells must be identical (words go through lesson.t)."),
                                            notebook=name, cell=index, reference=ref_name))
    used = [m.group(1) for c in ref.cells if c.cell_type == "code" for m in _CHECK_CALL.finditer(c.source)]
    for lang, nb in notebooks.items():
        mine = [m.group(1) for c in nb.cells if c.cell_type == "code" for m in _CHECK_CALL.finditer(c.source)]
        if mine != used:
            problems.append(LessonError(N_("{notebook}: the exercises differ from {reference}."),
                                        notebook=meta.notebook(lang).name, reference=ref_name))
    for ex_id in sorted({e for e in used if used.count(e) > 1}):
        problems.append(LessonError(N_("Exercise {exercise} is shown more than once."), exercise=ex_id))
    raw_ids = _raw_ids(folder)
    for ex_id in dict.fromkeys(used):
        if ex_id not in raw_ids:
            problems.append(LessonError(N_("The notebooks use exercise {exercise}, which exercises.toml does not define."),
                                        exercise=ex_id))
    for ex_id in raw_ids:
        if ex_id not in used:
            problems.append(LessonError(N_("Exercise {exercise} is in exercises.toml but no notebook uses it."),
                                        exercise=ex_id))
    if len(set(used)) < MIN_EXERCISES:
        problems.append(LessonError(N_("A lesson needs at least {count} self-checks (lesson.check); this one has {found}."),
                                    count=MIN_EXERCISES, found=len(set(used))))
    code = "\n".join(c.source for c in ref.cells if c.cell_type == "code")
    if "Lesson(" not in next((c.source for c in ref.cells if c.cell_type == "code"), ""):
        problems.append(LessonError(N_("The first code cell must create the lesson: lesson = Lesson().")))
    if not _SIMULATION.search(code):
        problems.append(LessonError(N_("A lesson needs a simulation or a picture driven by widgets (lesson.plot).")))
    return meta, notebooks


def _raw_ids(folder: Path) -> list[str]:
    from sabaq.lessons.exercises import read_raw

    try:
        return list(read_raw(folder))
    except LessonError:
        return []


def _kernel_env(notebook: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("SABAQ_SERVICE_URL", "JUPYTERHUB_API_TOKEN")}
    env.update(JPY_SESSION_NAME=str(notebook), SABAQ_LESSON_STRICT="1", MPLBACKEND="Agg",
               PYDEVD_DISABLE_FILE_VALIDATION="1")
    return env


async def run_notebook(nb, notebook: Path, timeout: float) -> list[LessonError]:
    """Execute a copy of ``nb`` in the lesson folder, then the self-test; the problems found."""
    import nbformat
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient

    nb = nbformat.from_dict(nb)
    nb.cells.append(nbformat.v4.new_code_cell(SELFTEST))
    with tempfile.TemporaryDirectory(prefix="sabaq-lesson-check-") as sockets:
        # Unix sockets in a private folder: no TCP ports, no warning about plain-text TCP
        km = AsyncKernelManager(kernel_name="python3", transport="ipc", ip=os.path.join(sockets, "kernel"))
        client = NotebookClient(nb, km=km, timeout=timeout, allow_errors=True,
                                resources={"metadata": {"path": str(notebook.parent)}})
        try:
            await client.async_execute(env=_kernel_env(notebook))
        except Exception as exc:  # a timeout, a dead kernel, a kernel that does not start
            detail = str(exc).strip().splitlines()
            return [LessonError(N_("{notebook} did not run: {error}"), notebook=notebook.name,
                                error=f"{type(exc).__name__}: {detail[-1][:200] if detail else ''}")]
        finally:  # nbclient leaves a kernel manager it was given running
            if km.has_kernel:
                await km.shutdown_kernel(now=True)
    problems = []
    last = len(nb.cells)
    for index, cell in enumerate(nb.cells, start=1):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                params = dict(notebook=notebook.name, error=f"{output.ename}: {output.evalue}"[:300])
                if index == last:
                    problems.append(LessonError(N_("{notebook}, self-test: {error}"), **params))
                else:
                    problems.append(LessonError(N_("{notebook}, cell {cell}: {error}"), cell=index, **params))
                return problems
            if output.output_type == "stream" and output.name == "stderr":
                text = output.text.strip().splitlines()
                problems.append(LessonError(N_("{notebook}, cell {cell} writes to stderr: {text}"),
                                            notebook=notebook.name, cell=index, text=(text[-1] if text else "")[:200]))
    return problems


async def _run_all(jobs, timeout: float, parallel: int):
    gate = asyncio.Semaphore(parallel)

    async def one(report, lang, nb, path):
        async with gate:
            start = time.monotonic()
            found = await run_notebook(nb, path, timeout)
            if found:
                report.problems.extend(found)
                report.failed.add(lang)
            else:
                report.seconds[lang] = time.monotonic() - start

    await asyncio.gather(*(one(*job) for job in jobs))


def check(path: Path | str | None = None, execute: bool = True, timeout: float = 120,
          parallel: int | None = None, phone: bool = False) -> CheckReport:
    """Check every lesson under ``path`` (default: the built-in courses) and run its notebooks;
    with ``phone``, also open each notebook that ran in a phone's view (:mod:`.phone`)."""
    root = Path(path) if path is not None else default_root()
    reports, jobs = [], []
    for folder in lesson_folders(root):
        try:
            name = str(folder.relative_to(root)) if folder != root else folder.name
        except ValueError:
            name = folder.name
        report = LessonReport(folder, name)
        reports.append(report)
        meta, notebooks = check_structure(folder, report)
        if execute and meta is not None:
            jobs.extend((report, lang, nb, meta.notebook(lang)) for lang, nb in notebooks.items())
    if jobs:
        parallel = parallel or max(1, min(4, (os.cpu_count() or 2)))
        asyncio.run(_run_all(jobs, timeout, parallel))
    if phone:
        _check_phone(jobs if execute else [], timeout)
    return CheckReport(reports)


def _check_phone(jobs, timeout: float) -> None:
    """The phone view of every notebook that ran cleanly; its problems join its lesson's."""
    from sabaq.lessons.phone import available, check_phone

    ran = [(report, path) for report, lang, _nb, path in jobs if lang in report.seconds]
    if not ran:
        return
    if not available():
        ran[0][0].problems.append(LessonError(N_("The phone check needs Chromium and Playwright: install them, or leave out --phone.")))
        return
    try:
        found = check_phone([path for _report, path in ran], timeout)
    except LessonError as exc:
        ran[0][0].problems.append(exc)
        return
    for report, path in ran:
        report.problems.extend(found.get(path, []))
        report.phone.add(path.name)


def format_report(report: CheckReport, lang: str | None = "en") -> str:
    _ = translator(lang)
    width = max([len(_("Lesson"))] + [len(r.name) for r in report.lessons]) + 2
    lines = [_("Lesson").ljust(width) + "".join(code.ljust(16) for code in LANGUAGES)]
    for r in report.lessons:
        cells = []
        for code in LANGUAGES:
            if code not in r.languages:
                cells.append("-")
            elif code in r.failed:
                cells.append(_("failed"))
            elif code in r.seconds:
                cells.append(_("ok") + f" {r.seconds[code]:.1f}s")
            else:
                cells.append(_("not run"))
        lines.append(r.name.ljust(width) + "".join(c.ljust(16) for c in cells))
        lines.extend(f"  - {p.translated(lang)}" for p in r.problems)
    if not report.lessons:
        lines.append(_("No lessons found (a lesson is a folder with a lesson.toml)."))
    elif report.ok and any(r.phone for r in report.lessons):
        lines.append(_("Every lesson is fine in every language, on a phone's screen too."))
    elif report.ok and any(r.seconds for r in report.lessons):
        lines.append(_("Every lesson is fine in every language."))
    elif report.ok:
        lines.append(_("The files of every lesson agree (the notebooks were not run)."))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    lang = environment_language()
    _ = translator(lang)
    parser = argparse.ArgumentParser(prog="sabaq lesson check",
                                     description=_("Run every lesson in every language and compare the versions."))
    parser.add_argument("path", nargs="?", help=_("a lesson folder or a folder of lessons (default: the built-in courses)"))
    parser.add_argument("--no-execute", action="store_true", help=_("only compare the files, do not run the notebooks"))
    parser.add_argument("--timeout", type=float, default=120, help=_("seconds a cell may run"))
    parser.add_argument("--phone", action=argparse.BooleanOptionalAction, default=None,
                        help=_("open every notebook in a phone's view in Chromium (default: when Chromium and Playwright are installed)"))
    args = parser.parse_args(argv)
    return run(args.path, execute=not args.no_execute, timeout=args.timeout, lang=lang, phone=args.phone)


def run(path=None, execute: bool = True, timeout: float = 120, lang: str | None = None,
        phone: bool | None = None) -> int:
    """Check, print the table, and return the exit status (for ``sabaq lesson check``);
    ``phone`` None: the phone check runs where it can."""
    if phone is None:
        from sabaq.lessons.phone import available

        phone = execute and available()
    report = check(path, execute=execute, timeout=timeout, phone=phone)
    print(format_report(report, lang or environment_language()))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
