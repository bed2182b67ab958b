"""nbgrader cells and a gradebook holding them as the teacher's, for tests of the worker's
nbgrader preprocessors (each compared with nbgrader's own)."""

import nbformat
from nbgrader.utils import compute_checksum


def cell(kind, grade_id, source, points=None, outputs=(), solution=False, task=False, locked=None, checksum=True):
    """A cell with nbgrader's metadata (schema 3) and (with ``checksum``) its checksum, as
    generate_assignment leaves it."""
    meta = {"grade": points is not None and not task, "grade_id": grade_id,
            "locked": (not solution) if locked is None else locked,
            "schema_version": 3, "solution": solution, "task": task}
    if points is not None:
        meta["points"] = points
    if kind == "code":
        made = nbformat.v4.new_code_cell(source, outputs=[nbformat.from_dict(o) for o in outputs])
    else:
        made = nbformat.v4.new_markdown_cell(source)
    made.metadata["nbgrader"] = meta
    if checksum:
        made.metadata.nbgrader["checksum"] = compute_checksum(made)
    return made


def add_teachers_cells(gb, nb, notebook: str, assignment: str, sources: bool = False) -> None:
    """The notebook's grade, solution and task cells (and with ``sources`` its source cells)
    into the gradebook, as generate_assignment records them."""
    for one in nb.cells:
        meta = one.metadata.nbgrader
        if sources:
            gb.add_source_cell(meta["grade_id"], notebook, assignment, cell_type=one.cell_type,
                               locked=meta["locked"], source=one.source, checksum=meta["checksum"])
        if meta.get("task"):
            gb.add_task_cell(meta["grade_id"], notebook, assignment, max_score=meta["points"],
                             cell_type=one.cell_type)
            continue
        if meta.get("solution"):
            gb.add_solution_cell(meta["grade_id"], notebook, assignment)
        if meta.get("grade"):
            gb.add_grade_cell(meta["grade_id"], notebook, assignment, max_score=meta["points"],
                              cell_type=one.cell_type)
