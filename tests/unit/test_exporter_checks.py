"""The grading passes' exporter leaves out nbconvert's validation after a preprocessor that only
reads the notebook, and only there: a notebook a preprocessor made invalid is still refused
where nbconvert refuses it, a subclass of a read-only step is still checked after, and the read-only
steps' checks are the ones left out."""

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
