"""A hostile class graded in one batch: every attack scores exactly what its honest twin
scores, everyone else is graded normally, the batch ends in bounded time, and no answer
cell ever shows a hidden test.

The cases are in ``tests/hostile`` (``process_cases``: the grading process, its pipes,
limits and processes; ``shell_cases``, when present: IPython's shell, builtins and modules;
``traceback_cases``: code run while a test's error is shown, the grader's caches, closures and
recorder).
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from collections import defaultdict

import nbformat
import pytest
from hostile import hostile_class, process_cases

from sabaq.autograders.notebook.batch import grade_course
from sabaq.autograders.notebook.engine import is_test_cell
from sabaq.devtools.corpus import ASSIGNMENT, build_course, students

pytestmark = pytest.mark.grading

HIDDEN = "square(-2)"  # the hidden test of test_square
HONEST = ("correct", "partial", "wrong")
LIMITS = {
    "SABAQ_GRADING_CELL_TIMEOUT": "2", "SABAQ_GRADING_MEMORY_MB": "512", "SABAQ_GRADING_PROCESSES": "32",
    "SABAQ_GRADING_OUTPUT_MB": "1", "SABAQ_GRADING_NOTEBOOK_SECONDS": "40", "SABAQ_GRADING_DISK_MB": "100",
    "SABAQ_GRADING_FILE_MB": "50", "SABAQ_GRADING_PARALLEL": "2",
}
BOUND_SECONDS = 900  # an attack that held a worker would hold it for 100000 s
UNREADABLE_TIME = "garbage_timestamp"  # a correct student whose timestamp.txt holds no time


def all_cases() -> list:
    cases = list(process_cases.CASES)
    if importlib.util.find_spec("hostile.shell_cases") is not None:
        from hostile import shell_cases

        cases += shell_cases.CASES
    if importlib.util.find_spec("hostile.traceback_cases") is not None:
        from hostile import traceback_cases

        cases += traceback_cases.CASES
    return cases


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from sabaq.settings import Settings

    assert os.geteuid() == 0, "the hostile class is graded as root: every notebook under a uid of its own"
    base = tmp_path_factory.mktemp("hostile")
    cases = all_cases()
    corpus = students()
    class_ = {**hostile_class(cases), **{name: corpus[name] for name in HONEST}}
    class_[UNREADABLE_TIME] = corpus["correct"]
    course = build_course(base / "course", cell_timeout=2, class_=class_)
    (course / "submitted" / UNREADABLE_TIME / ASSIGNMENT / "timestamp.txt").write_bytes(b"\xff soon, honestly")
    settings = Settings.load(data_dir=base / "data", environ=LIMITS)
    done: dict = {}

    def grade():
        done["summary"] = grade_course(course, ASSIGNMENT, settings.grading, workers=2, progress=False)

    started = time.monotonic()
    worker = threading.Thread(target=grade, daemon=True)
    worker.start()
    worker.join(BOUND_SECONDS)
    assert not worker.is_alive(), f"the batch did not finish in {BOUND_SECONDS} s"
    scores = defaultdict(dict)
    for row in done["summary"]["rows"]:
        scores[row["student"]][(row["notebook"], row["grade_id"])] = row["score"]
    return course, cases, scores, time.monotonic() - started, done["summary"]


def test_every_attack_scores_what_its_honest_twin_scores(graded):
    _, cases, scores, _, _ = graded
    differences = {case.name: (scores[case.name], scores[f"{case.name}__honest"]) for case in cases
                   if scores[case.name] != scores[f"{case.name}__honest"]}
    assert differences == {}
    for case in cases:
        assert scores[f"{case.name}__honest"], f"{case.name}: nothing graded"


def test_the_rest_of_the_class_is_graded_normally(graded):
    _, _, scores, _, _ = graded
    assert sum(scores["correct"].values()) == 8.0  # every auto point (the written answer waits for a teacher)
    assert scores["partial"][("problems", "test_mean")] == 2.0
    assert sum(v for (notebook, _), v in scores["wrong"].items() if notebook == "problems") == 0.0
    assert scores["wrong"][("extra", "test_fib")] == 2.0  # its fib is right
    honest_correct = [case for case in process_cases.CASES if case.name in ("kill_parent", "forge_then_correct")]
    for case in honest_correct:  # attacks that failed cost a correct answer nothing
        assert scores[case.name][("problems", "test_square")] == 2.0


def test_a_timestamp_that_is_no_time_is_a_note_and_the_submission_is_graded(graded):
    """nbgrader stops at a timestamp.txt it cannot read; the batch grades the submission as
    having no time (as nbgrader grades an empty one) and says so for that student."""
    _, _, scores, _, summary = graded
    assert sum(scores[UNREADABLE_TIME].values()) == 8.0
    assert summary["error"] is None
    notes = [n for n in summary["notes"] if n["student"] == UNREADABLE_TIME]
    assert len(notes) == 1 and "soon, honestly" in notes[0]["params"]["found"]
    assert "timestamp.txt does not hold a time" in notes[0]["message"].format(**notes[0]["params"])
    assert [n["student"] for n in summary["notes"]] == [UNREADABLE_TIME]


def test_no_answer_cell_shows_a_hidden_test(graded):
    course, cases, _, _, _ = graded
    shown = 0
    for case in cases:
        for name in ("problems.ipynb", "extra.ipynb"):
            path = course / "autograded" / case.name / ASSIGNMENT / name
            if not path.exists():
                continue
            nb = nbformat.read(path, as_version=4)
            for cell in nb.cells:
                if cell.cell_type != "code" or is_test_cell(cell):
                    continue
                text = nbformat.writes(nbformat.v4.new_notebook(cells=[cell]))
                assert HIDDEN not in text, (case.name, cell.source[:200])
                shown += len(cell.outputs)
    assert shown > 0  # the attacks did print what they found


def answer_outputs(course, student: str, grade_id: str) -> str:
    notebook = "extra.ipynb" if grade_id == "fib" else "problems.ipynb"
    nb = nbformat.read(course / "autograded" / student / ASSIGNMENT / notebook, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    return "".join(o.get("text", "") or o.get("evalue", "") for o in cell.outputs)


def test_attacks_that_read_memory_found_no_test_source(graded):
    """The child's whole memory, read raw before any test ran, holds no test source (the
    zygote sends a cell only when it is to run; as root the child cannot read its memory at
    all); walking the garbage collector is refused."""
    course, _, _, _, _ = graded
    for grade_id in ("square", "fib"):
        printed = answer_outputs(course, "raw_memory", grade_id)
        assert printed.startswith("memory [") or "Permission denied: '/proc/self/mem'" in printed, printed
        assert "square(-2)" not in printed and "assert fib(10)" not in printed and "mean([5])" not in printed
    walked = answer_outputs(course, "gc_rewrite_pending", "square")
    assert "gc.get_objects is not available" in walked or walked.startswith("found [")
    assert "assert square" not in walked and "score = 0" not in walked


def test_raw_memory_was_out_of_reach(graded):
    """No process of the sandbox has ctypes (its stand-in has sizes only) and the child's
    memory is not its uid's to open: every raw-memory attack was refused before it wrote,
    each in its own words."""
    from hostile.shell_cases import RAW_MEMORY

    course, _, _, _, _ = graded
    shown = [case for case in RAW_MEMORY if "print('refused:'" in next(iter(case.attacks.values()))]
    assert len(shown) == len(RAW_MEMORY) - 1  # ctypes_union_py_object's runs inside the test (scored only)
    for case in shown:
        (grade_id,) = case.attacks
        printed = answer_outputs(course, case.name, grade_id)
        if case.name == "proc_self_mem_write":
            assert "refused: PermissionError" in printed and "/proc/self/mem" in printed, printed
        elif case.name == "dumpable_again":
            assert "refused: PermissionError the dumpable flag is set once" in printed, printed
        else:
            assert "refused:" in printed and "is not available while a notebook is graded" in printed, printed


def test_numpy_made_no_array_over_memory_it_does_not_own(graded):
    """numpy's array interface, as_strided, object arrays over bytes and the methods that free
    memory under views were each refused as numpy met them (sandbox/arrays.py), in the
    refusal's own words; numpy's test modules are refused on import."""
    from hostile.shell_cases import NUMPY_MEMORY

    course, _, _, _, _ = graded
    for case in NUMPY_MEMORY:
        (grade_id,) = case.attacks
        printed = answer_outputs(course, case.name, grade_id)
        if case.name == "numpy_array_struct":  # not taken as an array: a plain object, 0-d
            assert "struct: object ()" in printed and "refused: IndexError" in printed, printed
        elif case.name == "numpy_ndarray_subclass_interface":  # an array's own data, never the property's
            assert "refused" not in printed, printed
        elif case.name == "numpy_test_module":
            assert "refused:" in printed and "is not available while a notebook is graded" in printed, printed
        elif grade_id == "fib":
            assert "refused: RuntimeError numpy refused" in printed, (case.name, printed)
