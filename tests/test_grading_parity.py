"""sabaq's grading gives exactly nbgrader autograde's scores, and the same outputs.

The same course folder is graded twice: once by `nbgrader autograde`, once by
sabaq's sandboxed engine; gradebooks and autograded notebooks are compared.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from sabaq.autograders.notebook.batch import grade_course
from sabaq.devtools.corpus import ASSIGNMENT, build_course, students
from sabaq.paths import with_venv_path
from sabaq.settings import Settings

pytestmark = pytest.mark.grading
# the same cell limit on both sides: long enough for the endless recursion's traceback, which took
# nbgrader's kernel over 3 s on a loaded machine (then only its run failed that student), and short
# for the endless loop's
CELL_TIMEOUT = 6


def grade_both(base: Path, class_: dict | None = None):
    """The course graded by `nbgrader autograde` and, from a copy, by sabaq's engine."""
    nbgrader_course = build_course(base / "nbgrader", class_=class_, cell_timeout=CELL_TIMEOUT)
    sabaq_course = base / "sabaq"
    shutil.copytree(nbgrader_course, sabaq_course)
    env = dict(os.environ, PATH=with_venv_path(os.environ.get("PATH", "")))
    subprocess.run([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--force"],
                   cwd=nbgrader_course, capture_output=True, env=env)
    settings = Settings.load(data_dir=base / "data", environ={"SABAQ_GRADING_CELL_TIMEOUT": str(CELL_TIMEOUT)})
    summary = grade_course(sabaq_course, ASSIGNMENT, settings.grading, workers=2, progress=False)
    return nbgrader_course, sabaq_course, summary


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return grade_both(tmp_path_factory.mktemp("parity"))


def gradebook(course: Path) -> dict:
    out = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "parity") as gb:
        for submission in gb.find_assignment(ASSIGNMENT).submissions:
            for nb in submission.notebooks:
                out[(submission.student.id, nb.name, "late_penalty")] = nb.late_submission_penalty
                out[(submission.student.id, nb.name, "score")] = nb.score
                for grade in nb.grades:
                    out[(submission.student.id, nb.name, grade.name)] = (
                        grade.auto_score, grade.manual_score, grade.needs_manual_grade, grade.max_score)
            out[(submission.student.id, "total")] = submission.score
    return out


def test_scores_equal_nbgrader(graded):
    nbgrader_course, sabaq_course, summary = graded
    expected, actual = gradebook(nbgrader_course), gradebook(sabaq_course)
    assert expected, "nbgrader graded nothing"
    assert set(expected) == set(actual)
    differences = {k: (expected[k], actual[k]) for k in expected if expected[k] != actual[k]}
    assert differences == {}
    # the corpus is not trivial: full, zero, partial, late and missing all occur
    assert expected[("correct", "total")] == 8.0  # every auto point; the written answer waits for a teacher
    assert expected[("partial", "problems", "test_mean")][0] == 2.0
    assert expected[("wrong", "problems", "score")] == 0.0
    assert expected[("late", "problems", "late_penalty")] > 0
    assert expected[("missing", "extra", "test_fib")][0] == 0.0
    assert len(summary["rows"]) == sum(1 for k in expected if len(k) == 3 and k[2] not in ("late_penalty", "score"))


TIMING = re.compile(r"/tmp/ipykernel_\d+/\d+\.py|ipykernel_\d+")


def normalise(output: dict) -> tuple:
    kind = output["output_type"]
    if kind == "stream":
        return kind, output["name"], output["text"]
    if kind == "error":  # the traceback too: IPython names cells "In[N]", no temporary paths
        return kind, output["ename"], output["evalue"], output["traceback"]
    return kind, sorted(output.get("data", {})), output.get("data", {}).get("text/plain")


def test_outputs_equal_nbgrader(graded):
    nbgrader_course, sabaq_course, _ = graded
    compared = 0
    for student in students():
        for name in ("problems.ipynb", "extra.ipynb"):
            a = nbgrader_course / "autograded" / student / ASSIGNMENT / name
            b = sabaq_course / "autograded" / student / ASSIGNMENT / name
            if not a.exists():
                assert not b.exists()
                continue
            nb_a, nb_b = nbformat.read(a, as_version=4), nbformat.read(b, as_version=4)
            assert len(nb_a.cells) == len(nb_b.cells)
            for ca, cb in zip(nb_a.cells, nb_b.cells):
                assert ca.source == cb.source
                if ca.cell_type == "code":
                    assert ca.execution_count == cb.execution_count, (student, name, ca.source)
                    assert [normalise(o) for o in ca.outputs] == [normalise(o) for o in cb.outputs], \
                        (student, name, ca.source)
                    compared += 1
    assert compared > 50


def test_hidden_tests_are_restored_but_not_visible_to_students_code(graded):
    _, sabaq_course, _ = graded
    nb = nbformat.read(sabaq_course / "autograded" / "edited_test" / ASSIGNMENT / "problems.ipynb", as_version=4)
    test = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_square"][0]
    assert "assert square(-2) == 4" in test.source  # the teacher's version was graded
    assert any(o.output_type == "error" for o in test.outputs)


def test_feedback_shows_scores_and_outputs_but_never_hidden_tests(graded):
    """nbgrader's own feedback, with sabaq's HideHiddenTests plugged in."""
    nbgrader_course, sabaq_course, _ = graded
    env = dict(os.environ, PATH=with_venv_path(os.environ.get("PATH", "")))
    config = sabaq_course / "nbgrader_config.py"
    config.write_text(config.read_text() + "from sabaq.autograders.notebook.feedback import FEEDBACK_PREPROCESSORS\n"
                      "c.GenerateFeedback.preprocessors = FEEDBACK_PREPROCESSORS\n")
    for course in (nbgrader_course, sabaq_course):
        out = subprocess.run([sys.executable, "-m", "nbgrader", "generate_feedback", ASSIGNMENT, "--force",
                              "--student", "wrong"], cwd=course, capture_output=True, text=True, env=env)
        assert out.returncode == 0, out.stderr[-2000:]
    plain = text_of((nbgrader_course / "feedback" / "wrong" / ASSIGNMENT / "problems.html").read_text())
    ours = text_of((sabaq_course / "feedback" / "wrong" / ASSIGNMENT / "problems.html").read_text())
    assert "square(-2)" in plain  # nbgrader leaks the hidden test (nbgrader #917)
    assert "square(-2)" not in ours and "HIDDEN TESTS" not in ours
    assert "assert square(3) == 9" in ours  # the visible test stays
    assert "Score: 0.0 / 2.0" in ours and "AssertionError" in ours


def text_of(html: str) -> str:
    import html as html_lib

    return html_lib.unescape(re.sub(r"<[^>]+>", "", html))


# Answers in sympy's numbers: since sympy 1.13 an exact number (Integer, Rational) equals no
# float and a Float no exact number, so `square(3) == 9` fails for Float(9.0) under nbgrader
SYMPY_CLASS = {
    "sympy_float": {"answers": {"square": "import sympy\ndef square(x):\n    return sympy.Float(x * x)",
                                "mean": "import sympy\ndef mean(xs):\n    return sympy.Rational(sum(xs), len(xs))",
                                "fib": "import sympy\ndef fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n"
                                       "        a, b = b, a + b\n    return sympy.Integer(a)"}},
    "sympy_exact": {"answers": {"square": "import sympy\ndef square(x):\n    return sympy.Integer(x) ** 2",
                                "mean": "import sympy\ndef mean(xs):\n    return sympy.Float(sum(xs)) / len(xs)"}},
}


def test_sympy_numbers_score_as_under_nbgrader(tmp_path):
    """sympy's own equality (exact and inexact numbers never equal) decides, as it does in
    nbgrader's kernel: Float(9.0) == 9 fails, Integer(55) == 55 passes."""
    class_ = {name: {"answers": {**students()["correct"]["answers"], **spec["answers"]}}
              for name, spec in SYMPY_CLASS.items()}
    nbgrader_course, sabaq_course, _ = grade_both(tmp_path, class_)
    expected, actual = gradebook(nbgrader_course), gradebook(sabaq_course)
    assert expected and {k: (expected[k], actual.get(k)) for k in expected if expected[k] != actual.get(k)} == {}
    assert expected[("sympy_float", "problems", "test_square")][0] == 0.0  # Float(9.0) == 9 is False
    assert expected[("sympy_float", "extra", "test_fib")][0] == 2.0  # Integer(55) == 55
    assert expected[("sympy_exact", "problems", "test_square")][0] == 2.0


def test_an_exporter_of_another_kind_goes_through_nbgraders_file_and_scores_the_same(graded, tmp_path, monkeypatch):
    """A configured exporter that is not sabaq's gets no in-memory hand-over: nbgrader's own
    convert_single_notebook runs both passes through the sanitized notebook's file, with the
    same scores as nbgrader's."""
    from nbgrader.converters.base import BaseConverter

    from sabaq.autograders.sandbox.executor import Executor

    nbgrader_course = graded[0]
    course = build_course(tmp_path / "file", cell_timeout=CELL_TIMEOUT)
    with (course / "nbgrader_config.py").open("a") as fh:
        fh.write("\nc.SabaqAutograde.exporter_class = 'nbconvert.exporters.NotebookExporter'\n")
    through_files = []
    convert = BaseConverter.convert_single_notebook
    monkeypatch.setattr(BaseConverter, "convert_single_notebook",
                        lambda self, path: through_files.append(path) or convert(self, path))
    settings = Settings.load(data_dir=tmp_path / "data", environ={"SABAQ_GRADING_CELL_TIMEOUT": str(CELL_TIMEOUT)})
    with Executor(settings.grading) as executor:  # started: graded in this process, where the spy is
        grade_course(course, ASSIGNMENT, settings.grading, executor=executor, progress=False)
    assert any("/autograded/" in path for path in through_files)  # the second pass read the file
    assert gradebook(course) == gradebook(nbgrader_course)
