"""The hostile shell cases (tests/hostile/shell_cases.py) in a grading shell with the
integrity defences, without the sandbox: each hostile notebook must score what its honest
twin scores, read as nbgrader reads a test cell (an error: 0; a number shown: that partial
credit; otherwise full points), and a test cell during which the grader was patched
(``Pristine.tampered``) scores 0. Test cells are bound (``StrictComparisons(bound=True)``,
``bind`` in run_code). A few minutes on a busy machine: not in the fast tier.
tests/test_hostile_grading.py grades the same cases through the whole engine, as root.
"""

from __future__ import annotations

from hostile import hostile_class
from hostile.shell_cases import CASES
from integrity_runner import run_scenarios as run


def notebook_scenarios(answers: dict[str, str]) -> list[dict]:
    """The corpus assignment's notebooks as runner scenarios: answer cells with these
    answers, test cells as written (hidden tests included), with their points."""
    from sabaq.devtools.corpus import source_notebooks

    scenarios = []
    for nb in source_notebooks().values():
        cells, points = [], []
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type != "code":
                continue
            if meta.get("solution"):
                cells.append(["answer", answers[meta["grade_id"]]])
                points.append(None)
            elif meta.get("grade"):
                cells.append(["test", cell.source])
                points.append(float(meta["points"]))
        scenarios.append({"cells": cells, "points": points})
    return scenarios


def score(result: list[dict], points: list) -> list[float]:
    """What nbgrader gives each test cell from these outputs (an error: 0; a number shown:
    that partial credit; otherwise full points), the value read as the grader reads it."""
    scores = []
    for cell, maximum in zip(result, points):
        if maximum is None:
            continue
        if not cell["ok"] or cell["tampered"]:
            scores.append(0.0)
            continue
        shown = [o for o in cell["outputs"] if o["output_type"] == "execute_result"]
        text = cell["partial"] or (shown[0]["data"].get("text/plain") if shown else None)
        try:
            scores.append(min(float(text), maximum) if text is not None else maximum)
        except ValueError:
            scores.append(maximum)
    return scores


# Closed by the sandbox's audit hook, which this runner does not install (expected_value_mutated:
# notebook code gets no frame, so inspect.stack() fails; numpy_test_module: its import is refused):
# tests/test_hostile_grading.py grades them with the hook.
NEEDS_THE_AUDIT_HOOK = {"expected_value_mutated", "numpy_test_module"}
# Closed by the grading child's uid: as root it is not dumpable (and cannot be made so again), so its /proc/self/mem is
# root's; this runner's children are the test's own uid and may write their memory there.
NEEDS_THE_SANDBOX = {"proc_self_mem_write", "dumpable_again"}
CASES_WITHOUT_THE_HOOK = [case for case in CASES if case.name not in NEEDS_THE_AUDIT_HOOK | NEEDS_THE_SANDBOX]


def test_every_hostile_shell_case_scores_what_its_honest_twin_scores():
    students = hostile_class(CASES_WITHOUT_THE_HOOK)
    names = list(students)
    scenarios, owners = [], []
    for name in names:
        for scenario in notebook_scenarios(students[name]["answers"]):
            scenarios.append(scenario)
            owners.append(name)
    results = run([{"cells": s["cells"]} for s in scenarios], bound=True, ctypes_stand_in=True,
                  arrays_guard=True)  # as the zygote
    totals: dict[str, list[float]] = {}
    for name, scenario, result in zip(owners, scenarios, results):
        totals.setdefault(name, []).extend(score(result, scenario["points"]))
    unfair = {case.name: (totals[case.name], totals[f"{case.name}__honest"]) for case in CASES_WITHOUT_THE_HOOK
              if totals[case.name] != totals[f"{case.name}__honest"]}
    assert not unfair, unfair
    assert totals["always_equal__honest"] == [0.0, 0.0, 0.0, 0.0]

