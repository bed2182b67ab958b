"""Which cells of a lesson are set-up and which are the student's (cell tags).

A phone has no Shift + Enter and little room, so a lesson says what each code cell is for:

- ``sabaq:setup``: run as soon as the lesson opens (sabaq's lessons extension for
  JupyterLab and Notebook 7) and shown with its code collapsed (``jupyter.source_hidden``):
  the lesson's own machinery, its simulations and its self-checks;
- ``sabaq:student``: code the student reads, changes and runs (a calculator cell), shown
  open and never run for them.

Every code cell has exactly one of the two tags, the same in every language.
"""

from __future__ import annotations

import re

from sabaq.i18n import N_
from sabaq.lessons.meta import LessonError

SETUP = "sabaq:setup"
STUDENT = "sabaq:student"
ROLES = (SETUP, STUDENT)
_SHIFT_ENTER = re.compile(r"shift\s*\+\s*enter", re.IGNORECASE)


def role(cell) -> str | None:
    """SETUP, STUDENT, or None for a cell that has neither tag (or both)."""
    tags = [t for t in cell.get("metadata", {}).get("tags", []) if t in ROLES]
    return tags[0] if len(tags) == 1 else None


def code_hidden(cell) -> bool:
    return bool(cell.get("metadata", {}).get("jupyter", {}).get("source_hidden"))


def mark(cell, cell_role: str) -> None:
    """Give a code cell its role: set-up cells get their code collapsed, the student's shown."""
    metadata = cell.setdefault("metadata", {})
    metadata["tags"] = [t for t in metadata.get("tags", []) if t not in ROLES] + [cell_role]
    jupyter = metadata.setdefault("jupyter", {})
    if cell_role == SETUP:
        jupyter["source_hidden"] = True
    else:
        jupyter.pop("source_hidden", None)
    if not jupyter:
        del metadata["jupyter"]


def setup_cells(nb) -> list[int]:
    """The indexes of the cells that run when the lesson opens, in order."""
    return [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and role(cell) == SETUP]


def check_cells(nb, notebook: str) -> list[LessonError]:
    """What keeps a lesson from starting by itself on a phone."""
    problems = []
    first_code = True
    for index, cell in enumerate(nb.cells, start=1):
        if cell.cell_type == "markdown" and _SHIFT_ENTER.search(cell.source):
            problems.append(LessonError(N_("{notebook}, cell {cell}: a phone has no Shift + Enter; the set-up cells run by themselves when the lesson opens, so say that instead."),
                                        notebook=notebook, cell=index))
        if cell.cell_type != "code":
            continue
        found = role(cell)
        if found is None:
            problems.append(LessonError(N_("{notebook}, cell {cell}: tag every code cell either sabaq:setup (it runs when the lesson opens) or sabaq:student (the student runs it)."),
                                        notebook=notebook, cell=index))
        elif found == SETUP and not code_hidden(cell):
            problems.append(LessonError(N_("{notebook}, cell {cell}: the code of a set-up cell is collapsed (metadata jupyter.source_hidden = true)."),
                                        notebook=notebook, cell=index))
        elif first_code and found != SETUP:
            problems.append(LessonError(N_("{notebook}, cell {cell}: the first code cell creates the lesson and must be tagged sabaq:setup."),
                                        notebook=notebook, cell=index))
        first_code = False
    return problems


def same_roles(nb, reference) -> bool:
    """True if the two language versions give their code cells the same roles."""
    return [role(c) for c in nb.cells if c.cell_type == "code"] == \
        [role(c) for c in reference.cells if c.cell_type == "code"]
