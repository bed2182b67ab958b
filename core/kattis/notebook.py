"""The student's side of a task: a notebook per language with the statement,
the samples, a marked solution cell and cells to test and submit.

A task is solved either by a whole program reading stdin, or, when the
package has a grader ``include/python/main.py``, by a function that the grader
imports from ``solution.py`` (the stub ``include/python/solution.py`` fills the
cell). The statement comes from the package (``problem.<lang>.tex`` turned into
Markdown that JupyterLab renders with MathJax, or ``problem.<lang>.md`` as it
is). The solution cell is tagged ``solution`` and starts with ``%%writefile
solution.py``: running it saves the program that sample checks and the judge
run. Nothing secret leaves the package: only statements and data/sample.
"""

from __future__ import annotations

import json

import nbformat

from sabaq.i18n import LANGUAGES, translator
from sabaq.kattis.package import Package
from sabaq.kattis.statement import statement_markdown, tex_to_markdown

__all__ = ["build_notebook", "release_files", "solution_from", "statement_markdown", "tex_to_markdown"]

SOLUTION_FILE = "solution.py"
SOLUTION_TAG = "solution"
WRITEFILE = f"%%writefile {SOLUTION_FILE}"

def samples(package: Package) -> list[tuple[str, bytes, bytes]]:
    group = next((g for g in package.groups if g.sample), None)
    return [(t.input.stem, t.input.read_bytes(), t.answer.read_bytes()) for t in group.tests] if group else []


def build_notebook(package: Package, lang: str, course: str, assignment: str,
                   course_language: str = "en") -> nbformat.NotebookNode:
    """The task's notebook for a reader of ``lang``: the statement in that language when the
    package has it, else in the course's."""
    _ = translator(lang)
    statement, _used = statement_markdown(package, lang, fallback=course_language)
    limits = _("Time limit: {seconds} s per test. Memory: {memory} MB.").format(
        seconds=f"{package.time_limit:g}", memory=package.memory_mb)
    cells = [nbformat.v4.new_markdown_cell(statement + "\n*" + limits + "*")]
    sample_md = []
    title, input_word, output_word = _("Sample {number}"), _("Input"), _("Output")
    for i, (name, given, wanted) in enumerate(samples(package), start=1):
        sample_md.append(f"### {title.format(number=i)}\n\n{input_word}:\n```\n"
                         f"{given.decode('utf-8', 'replace').rstrip()}\n```\n{output_word}:\n```\n"
                         f"{wanted.decode('utf-8', 'replace').rstrip()}\n```")
    if sample_md:
        cells.append(nbformat.v4.new_markdown_cell("\n\n".join(sample_md)))
    stub = function_stub(package)
    if stub is None and package.interactive:
        how = _("This task is interactive: your program talks with the judge's program. Print each question "
                "and send it at once with print(..., flush=True), then read the reply with input(). "
                "Keep the first line: running the cell saves your program to solution.py.")
        body = _("# ask with print(..., flush=True), read each reply with input()") + "\n"
    elif stub is None:
        how = _("Write a whole program in the next cell: read the input with input() and print the answer. "
                "Keep the first line: running the cell saves your program to solution.py.")
        body = _("# read the input, print the answer") + "\n"
    else:
        how = _("Complete the function in the next cell; the task's grader reads the input, calls your "
                "function and prints what it returns. Keep the first line: running the cell saves it to solution.py.")
        body = stub
    cells.append(nbformat.v4.new_markdown_cell("## " + _("Your solution") + "\n\n" + how))
    solution = nbformat.v4.new_code_cell(WRITEFILE + "\n" + body)
    solution.metadata["tags"] = [SOLUTION_TAG]
    cells.append(solution)
    cells.append(nbformat.v4.new_markdown_cell(
        _("Run the next cell to test your program on the samples here, then the last one to submit it "
          "to the judge. Your best score counts.")))
    cells.append(nbformat.v4.new_code_cell("from sabaq.lessons.olympiad import check_samples\ncheck_samples()"))
    cells.append(nbformat.v4.new_code_cell("from sabaq.lessons.olympiad import submit\nsubmit()"))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["sabaq"] = {"task": package.name, "course": course, "assignment": assignment, "language": lang}
    return nb


def function_stub(package: Package) -> str | None:
    """For a task solved by writing a function: the stub students complete (None: a whole program)."""
    files = {p.name: p for p in package.include_files("python")}
    if "main.py" not in files:
        return None
    stub = files.get(SOLUTION_FILE)
    return stub.read_text(encoding="utf-8") if stub else ""


def release_files(package: Package, course: str, assignment: str, *, course_language: str = "en",
                  share_checker: bool = False) -> dict[str, bytes]:
    """What students fetch: a notebook per language (``i18n/<lang>/``), the samples, task.json,
    and, when the coach shares it (``share_checker``), a Python interactor to try the samples
    with: it shows how the task is judged, so it stays with the judge unless the coach says."""
    files: dict[str, bytes] = {}
    for lang in LANGUAGES:
        nb = build_notebook(package, lang, course, assignment, course_language)
        files[f"i18n/{lang}/{assignment}.ipynb"] = nbformat.writes(nb).encode("utf-8")
    for name, given, wanted in samples(package):
        files[f"samples/{name}.in"] = given
        files[f"samples/{name}.ans"] = wanted
    for path in package.include_files("python"):  # the grader, so samples run here as in the judge
        if path.name != SOLUTION_FILE:
            files[path.name] = path.read_bytes()
    interactor = package.output_validator if package.interactive and share_checker else None
    if interactor is not None and all(p.suffix == ".py" for p in interactor.sources):
        for path in interactor.sources:  # an interactive task's samples run here against it, with the student's Python
            files[f"interactor/{path.name}"] = path.read_bytes()
    files["task.json"] = json.dumps({
        "course": course, "assignment": assignment, "task": package.name,
        "time_limit": package.time_limit, "memory_mb": package.memory_mb,
        "validator_flags": package.validator_flags, "custom_checker": package.output_validator is not None,
        "entry": "main.py" if function_stub(package) is not None else SOLUTION_FILE,
        "interactive": package.interactive,
    }, indent=1).encode()
    return files


def solution_from(files: dict[str, bytes]) -> bytes | None:
    """The submitted program: solution.py, else the tagged cell of the notebook (minus %%writefile)."""
    if SOLUTION_FILE in files:
        return files[SOLUTION_FILE]
    for path, content in sorted(files.items()):
        if not path.endswith(".ipynb"):
            continue
        try:
            nb = nbformat.reads(content.decode("utf-8"), as_version=4)
        except Exception:  # noqa: BLE001 - a broken notebook simply has no solution
            continue
        for cell in nb.cells:
            if cell.cell_type == "code" and SOLUTION_TAG in cell.metadata.get("tags", []):
                lines = cell.source.splitlines()
                if lines and lines[0].startswith("%%writefile"):
                    lines = lines[1:]
                return ("\n".join(lines) + "\n").encode("utf-8")
    return None
