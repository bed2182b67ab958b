"""A course of synthetic submissions, for the parity tests and `sabaq bench grading`.

One assignment of two notebooks (plain tests, hidden tests, partial credit,
non-ASCII text, a manually graded answer) and a class of students whose
submissions cover what graders meet: correct, wrong, partial, syntax errors,
exceptions, infinite loops, deleted or edited test cells, changed grade ids, a
missing notebook and a late submission.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from sabaq.settings import GradingSettings

ASSIGNMENT = "ps1"
DUE = dt.datetime(2026, 9, 1, 12, 0, 0)
ON_TIME = "2026-09-01 10:00:00.000000 UTC"
LATE = "2026-09-02 10:00:00.000000 UTC"


def _meta(grade_id, **kw):
    m = {"grade": False, "grade_id": grade_id, "locked": False, "schema_version": 3, "solution": False,
         "task": False}
    m.update(kw)
    return {"nbgrader": m}


def source_notebooks() -> dict[str, nbformat.NotebookNode]:
    problems = new_notebook(cells=[
        new_markdown_cell("# Есептер · Задачи · Problems", metadata=_meta("intro", locked=True)),
        new_code_cell("def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION",
                      metadata=_meta("square", solution=True)),
        new_code_cell('"""square: 2 points"""\nassert square(3) == 9\n### BEGIN HIDDEN TESTS\nassert square(-2) == 4\n'
                      '### END HIDDEN TESTS', metadata=_meta("test_square", grade=True, locked=True, points=2)),
        new_code_cell("def mean(xs):\n    ### BEGIN SOLUTION\n    return sum(xs) / len(xs)\n    ### END SOLUTION",
                      metadata=_meta("mean", solution=True)),
        new_code_cell("score = 0\ntry:\n    if mean([1, 2, 3]) == 2:\n        score += 1\n    if mean([5]) == 5:\n"
                      "        score += 1\n    if abs(mean([0.1, 0.2]) - 0.15) < 1e-9:\n        score += 1\n"
                      "except Exception:\n    pass\nscore",
                      metadata=_meta("test_mean", grade=True, locked=True, points=3)),
        new_code_cell('def greet(name):\n    ### BEGIN SOLUTION\n    return f"Сәлем, {name}!"\n    ### END SOLUTION',
                      metadata=_meta("greet", solution=True)),
        new_code_cell('print(greet("Әлия"))\nassert greet("Әлия") == "Сәлем, Әлия!"',
                      metadata=_meta("test_greet", grade=True, locked=True, points=1)),
        new_markdown_cell("Why does `mean([])` fail?", metadata=_meta("why_q", locked=True)),
        new_markdown_cell("Division by zero.", metadata=_meta("why", solution=True, grade=True, points=1)),
    ])
    extra = new_notebook(cells=[
        new_code_cell("def fib(n):\n    ### BEGIN SOLUTION\n    a, b = 0, 1\n    for _ in range(n):\n"
                      "        a, b = b, a + b\n    return a\n    ### END SOLUTION",
                      metadata=_meta("fib", solution=True)),
        new_code_cell("assert fib(10) == 55\nassert fib(1) == 1", metadata=_meta("test_fib", grade=True, locked=True,
                                                                              points=2)),
    ])
    for nb in (problems, extra):
        nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
        nb.metadata["language_info"] = {"name": "python"}
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"cell-{i}"
    return {"problems.ipynb": problems, "extra.ipynb": extra}


def _set(nb, grade_id: str, source: str) -> None:
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = source
            return
    raise KeyError(grade_id)


CORRECT = {
    "square": "def square(x):\n    return x * x",
    "mean": "def mean(xs):\n    return sum(xs) / len(xs)",
    "greet": 'def greet(name):\n    return f"Сәлем, {name}!"',
    "fib": "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a",
    "why": "Because the list is empty and we divide by zero.",
}


def _answers(**changes) -> dict[str, str]:
    return {**CORRECT, **changes}


def students() -> dict[str, dict]:
    """student id -> {answers, edits (functions on notebooks), timestamp, missing}."""

    def delete_test(nbs):
        p = nbs["problems.ipynb"]
        p.cells = [c for c in p.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "test_square"]

    def edit_test(nbs):
        _set(nbs["problems.ipynb"], "test_square", "assert True")

    def change_id(nbs):
        for c in nbs["problems.ipynb"].cells:
            if c.metadata.get("nbgrader", {}).get("grade_id") == "test_square":
                c.metadata["nbgrader"]["grade_id"] = "hacked"

    def add_cells(nbs):
        p = nbs["problems.ipynb"]
        p.cells.insert(2, new_code_cell("print('Қазақ тілі: ' + 'ә' * 50)\nfor i in range(3):\n    print(i, 'Ғ')"))
        p.cells.insert(3, new_code_cell(""))

    return {
        "correct": {"answers": _answers()},
        "wrong": {"answers": _answers(square="def square(x):\n    return x + x",
                                      mean="def mean(xs):\n    return 0",
                                      greet="def greet(name):\n    return 'hi'")},
        "partial": {"answers": _answers(mean="def mean(xs):\n    return sum(xs) // len(xs)")},
        "syntax": {"answers": _answers(square="def square(x)\n    return x * x")},
        "exception": {"answers": _answers(square="def square(x):\n    raise RuntimeError('Қате')",
                                          fib="def fib(n):\n    return fib(n - 1)")},
        "loop": {"answers": _answers(square="while True:\n    pass")},
        "deleted_test": {"answers": _answers(square="def square(x):\n    return 0"), "edit": delete_test},
        "edited_test": {"answers": _answers(square="def square(x):\n    return 0"), "edit": edit_test},
        "changed_id": {"answers": _answers(square="def square(x):\n    return 0"), "edit": change_id},
        "missing": {"answers": _answers(), "missing": ["extra.ipynb"]},
        "late": {"answers": _answers(), "timestamp": LATE},
        "unicode": {"answers": _answers(), "edit": add_cells},
        "untouched": {"answers": None},
    }


# Submissions without infinite loops: for measuring throughput rather than timeouts.
QUICK = ("correct", "wrong", "partial", "syntax", "exception", "missing", "late", "unicode", "untouched")
# nbgrader's cell limit for a QUICK class, as sabaq's own default ([grading] cell_timeout): with
# no endless loop in it, the limit only decides whether the endless recursion's long traceback
# fits, which took nbgrader over 3 s on a loaded machine (then its run failed that student)
SABAQS_CELL_TIMEOUT = GradingSettings.cell_timeout.default_value


def build_course(root: str | os.PathLike, copies: int = 1, cell_timeout: int = 3,
                 kinds: tuple[str, ...] | None = None, class_: dict[str, dict] | None = None) -> Path:
    """Write the course folder, generate the release and gradebook with nbgrader.

    class_: the students to submit (as ``students()`` returns them; that class by default)."""
    from sabaq.paths import with_venv_path

    root = Path(root)
    source = root / "source" / ASSIGNMENT
    source.mkdir(parents=True, exist_ok=True)
    originals = source_notebooks()
    for name, nb in originals.items():
        nbformat.write(nb, source / name)
    (root / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa\n"
        "c.CourseDirectory.course_id = 'parity'\n"
        f"c.Execute.timeout = {cell_timeout}\n"
        "c.LateSubmissionPlugin.penalty_method = 'zero'\n"
    )
    env = dict(os.environ, PATH=with_venv_path(os.environ.get("PATH", "")))
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force"],
                   cwd=root, check=True, capture_output=True, env=env)
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", "parity") as gb:
        gb.update_or_create_assignment(ASSIGNMENT, duedate=DUE)
    released = {name: nbformat.read(root / "release" / ASSIGNMENT / name, as_version=4) for name in originals}
    for copy_index in range(copies):
        for student, spec in (class_ if class_ is not None else students()).items():
            if kinds is not None and student not in kinds:
                continue
            sid = student if copies == 1 else f"{student}{copy_index}"
            folder = root / "submitted" / sid / ASSIGNMENT
            folder.mkdir(parents=True, exist_ok=True)
            nbs = {name: copy.deepcopy(nb) for name, nb in released.items()}
            if spec.get("answers"):
                for name, nb in nbs.items():
                    for grade_id, text in spec["answers"].items():
                        try:
                            _set(nb, grade_id, text)
                        except KeyError:
                            pass
            if spec.get("edit"):
                spec["edit"](nbs)
            for name, nb in nbs.items():
                if name not in spec.get("missing", []):
                    nbformat.write(nb, folder / name)
            (folder / "timestamp.txt").write_text(spec.get("timestamp", ON_TIME))
    return root
