"""Reading a submission without running it: what a teacher should know at once.

Compares the submitted notebooks with the released ones using nbgrader's
cell metadata: missing or extra notebooks, deleted assignment cells, and
read-only cells the student changed. Warnings are msgids with parameters, so
each reader sees them in their own language.
"""

from __future__ import annotations

import nbformat

from sabaq.autograders.jobs.bundle import check_bundle
from sabaq.client import ServiceClient
from sabaq.contracts import CheckResult, CheckWarning, NotebookCheck
from sabaq.i18n import N_


def _nbgrader_cells(nb) -> dict[str, dict]:
    cells = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade_id"):
            cells[meta["grade_id"]] = {
                "source": cell.get("source", ""),
                "locked": bool(meta.get("locked")) and not meta.get("solution"),
                "points": meta.get("points", 0) if meta.get("grade") else 0,
            }
    return cells


def _read(content: bytes):
    return nbformat.reads(content.decode("utf-8"), as_version=4)


def check_submission(released: dict[str, bytes], submitted: dict[str, bytes]) -> CheckResult:
    warnings: list[CheckWarning] = []
    notebooks: dict[str, NotebookCheck] = {}

    def warn(message: str, **params: str) -> None:
        warnings.append(CheckWarning(message=message, params=params))

    released_nbs = sorted(p for p in released if p.endswith(".ipynb"))
    submitted_nbs = sorted(p for p in submitted if p.endswith(".ipynb"))
    for path in released_nbs:
        if path not in submitted:
            warn(N_("The notebook '{notebook}' was not submitted."), notebook=path)
            continue
        try:
            mine = _read(submitted[path])
        except Exception:
            warn(N_("The notebook '{notebook}' cannot be read."), notebook=path)
            continue
        original = _nbgrader_cells(_read(released[path]))
        current = _nbgrader_cells(mine)
        missing = sorted(set(original) - set(current))
        changed = sorted(
            gid for gid, cell in original.items()
            if cell["locked"] and gid in current and current[gid]["source"] != cell["source"]
        )
        if missing:
            warn(N_("In '{notebook}', these assignment cells were deleted: {cells}."),
                 notebook=path, cells=", ".join(missing))
        if changed:
            warn(N_("In '{notebook}', these read-only cells were changed: {cells}. The originals are used for grading."),
                 notebook=path, cells=", ".join(changed))
        notebooks[path] = NotebookCheck(
            cells=len(mine.cells),
            graded_cells=sum(1 for c in original.values() if c["points"]),
            max_points=sum(c["points"] for c in original.values()),
        )
    for path in submitted_nbs:
        if path not in released:
            warn(N_("The extra notebook '{notebook}' is not part of the assignment."), notebook=path)
    return CheckResult(notebooks=notebooks, warnings=warnings)


def handle_check(client: ServiceClient, payload: dict) -> CheckResult:
    released, submitted = check_bundle(client, payload["submission_id"])
    return check_submission(released, submitted)
