"""nbgrader's two passes over each notebook, as the grader runs them.

The exporter leaves out nbconvert's validation after a preprocessor that only reads the
notebook, and only there: a notebook a preprocessor made invalid is still refused where
nbconvert refuses it, a subclass of a read-only step is still checked after, and the read-only
steps' checks are the ones left out. A run's preprocessors are made once when all are of the
kinds that keep nothing between notebooks, and anew for every notebook otherwise."""

import copy
import json

import nbformat
import pytest
from nbconvert.preprocessors import ClearOutputPreprocessor, Preprocessor
from nbgrader.preprocessors import CheckCellMetadata

from sabaq.autograders.notebook import engine
from sabaq.autograders.notebook.engine import NotebookExporterSkippingNeedlessChecks, SabaqAutograde


class BreaksTheNotebook(Preprocessor):
    def preprocess(self, nb, resources):
        nb.cells[0]["outputs"] = [{"output_type": "no such type"}]
        return nb, resources


class CheckThatBreaks(CheckCellMetadata):
    def preprocess(self, nb, resources):
        return BreaksTheNotebook().preprocess(nb, resources)


def _export(*preprocessors):
    exporter = NotebookExporterSkippingNeedlessChecks(default_preprocessors=[])  # as nbgrader makes it
    for preprocessor in preprocessors:
        exporter.register_preprocessor(preprocessor, enabled=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    return exporter.from_notebook_node(nb, resources={})


@pytest.fixture
def validations(monkeypatch):
    seen = []
    real = nbformat.validate

    def validate(nb, *args, **kwargs):
        if kwargs.get("relax_add_props"):  # the check after a preprocessor (nbformat checks on its own too)
            seen.append(nb)
        return real(nb, *args, **kwargs)

    monkeypatch.setattr(nbformat, "validate", validate)
    return seen


def test_the_graders_exporter_is_this_one():
    assert SabaqAutograde().exporter_class is NotebookExporterSkippingNeedlessChecks


def test_read_only_steps_are_not_checked_again_and_others_are(validations):
    _export(CheckCellMetadata())
    assert validations == []
    _export(ClearOutputPreprocessor(), CheckCellMetadata())
    assert len(validations) == 1


def test_a_notebook_made_invalid_is_refused(validations):
    with pytest.raises(nbformat.ValidationError):
        _export(BreaksTheNotebook(), CheckCellMetadata())


def test_a_changed_read_only_step_is_checked(validations):
    with pytest.raises(nbformat.ValidationError):
        _export(CheckThatBreaks())
    assert CheckThatBreaks not in engine.NotebookExporterSkippingNeedlessChecks.READ_ONLY


class KeepsState(CheckCellMetadata):
    """A teacher's own step that counts the notebooks it saw."""

    seen = 0

    def preprocess(self, nb, resources):
        self.seen += 1
        return nb, resources


def _converter(**kwargs):
    converter = SabaqAutograde(**kwargs)
    converter.exporter = converter.exporter_class(parent=converter, config=converter.config)  # as start() makes it
    return converter


def _made(converter, sanitizing):
    converter._sanitizing = sanitizing
    converter._init_preprocessors()
    return list(converter.exporter._preprocessors)


def test_a_runs_preprocessors_are_made_once_per_pass():
    converter = _converter()
    sanitize, autograde = _made(converter, True), _made(converter, False)
    assert [type(p) for p in sanitize] == converter.sanitize_preprocessors
    assert [type(p) for p in autograde] == converter.autograde_preprocessors
    assert _made(converter, True) == sanitize and _made(converter, False) == autograde
    assert all(a is b for a, b in zip(_made(converter, True), sanitize, strict=True))
    assert converter.exporter._preprocessors is not sanitize  # a pass's list is its own


def test_a_teachers_own_step_is_made_anew_for_every_notebook():
    converter = _converter(autograde_preprocessors=[*SabaqAutograde().autograde_preprocessors, KeepsState])
    first, second = _made(converter, False), _made(converter, False)
    assert isinstance(first[-1], KeepsState) and isinstance(second[-1], KeepsState)
    assert first[-1] is not second[-1]


def _odd_notebook():
    """A notebook with what the write and read back change or keep: a v4.4 notebook without cell
    ids, sources and outputs as lists of lines, metadata that writing strips (``trusted``,
    ``orig_nbformat``), JSON and image outputs, text outside ASCII, floats and nested lists."""
    nb = nbformat.v4.new_notebook()
    nb.nbformat_minor = 4
    nb.metadata.orig_nbformat = 3
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Питон 3", "language": "python"}
    code = nbformat.v4.new_code_cell(["x = 1\n", "print('сәлем')\n"], execution_count=3)
    code.metadata.trusted = True
    code.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=["a\n", "b\n"]),
        nbformat.v4.new_output("display_data", data={"application/json": {"b": [1, 2.5, {"z": None}], "a": "ä"},
                                                     "image/png": "iVBORw0KGgo=\n", "text/plain": ["1\n", "2"]}),
        nbformat.v4.new_output("error", ename="ValueError", evalue="ü", traceback=["line 1", "line 2"]),
    ]
    cells = [code, nbformat.v4.new_markdown_cell("# Тақырып\n\n$x^2$"), nbformat.v4.new_raw_cell("raw\n")]
    for c in cells:
        c.pop("id", None)
    nb.cells = cells
    return nbformat.from_dict(nbformat.reads(nbformat.writes(nb, version=4), as_version=4))


def test_the_handed_over_notebook_is_the_one_nbgrader_reads_back_from_its_file():
    exporter = NotebookExporterSkippingNeedlessChecks(default_preprocessors=[])
    exporter.register_preprocessor(ClearOutputPreprocessor(enabled=False), enabled=False)
    nb = _odd_notebook()
    text, _ = exporter.from_notebook_node(copy.deepcopy(nb), resources={})
    exporter.hand_over = True
    handed, _ = exporter.from_notebook_node(copy.deepcopy(nb), resources={})
    read_back = nbformat.reads(text, as_version=4)  # what nbgrader's second pass reads
    assert handed == read_back
    assert json.dumps(handed, sort_keys=False) == json.dumps(read_back, sort_keys=False)  # the keys' order too
    assert "trusted" not in handed.cells[0].metadata and "orig_nbformat" not in handed.metadata
    assert handed.cells[0].source == "x = 1\nprint('сәлем')\n"
    assert isinstance(handed, nbformat.NotebookNode) and isinstance(handed.cells[0], nbformat.NotebookNode)


def test_one_students_notebook_leaves_nothing_in_the_shared_steps_for_the_next():
    """The attack on steps made once per run: a student whose notebook carries the grade ids of
    the test cells (so DeduplicateIds remembers them) must not make the next student's test
    cells lose their nbgrader metadata (which would leave them ungraded)."""
    from nbgrader.preprocessors import DeduplicateIds

    converter = _converter()
    sanitize = _made(converter, True)
    dedupe = next(step for step in sanitize if type(step) is DeduplicateIds)

    def notebook():
        test = {"grade": True, "grade_id": "test_1", "points": 1, "solution": False, "locked": True,
                "schema_version": 3}
        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("assert True", metadata={"nbgrader": test})])

    dedupe.preprocess(notebook(), {})  # the first student's
    assert _made(converter, True)[sanitize.index(dedupe)] is dedupe  # the same step serves the next
    theirs, _ = dedupe.preprocess(notebook(), {})
    assert theirs.cells[0].metadata.nbgrader["grade_id"] == "test_1"


def test_a_notebook_nbgraders_file_cannot_hold_fails_the_handed_over_pass_too():
    """A lone surrogate in a cell (valid JSON, not UTF-8) stops nbgrader when it writes the
    sanitized notebook to its file, before anything is graded: it must stop the in-memory pass
    at the same point, not later, after grades were saved."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = '\ud800'")])
    exporter = NotebookExporterSkippingNeedlessChecks(default_preprocessors=[])
    text, _ = exporter.from_notebook_node(copy.deepcopy(nb), resources={})
    with pytest.raises(UnicodeEncodeError):
        text.encode("utf-8")  # what the file write does with nbgrader's text
    exporter.hand_over = True
    with pytest.raises(UnicodeEncodeError):
        exporter.from_notebook_node(copy.deepcopy(nb), resources={})
