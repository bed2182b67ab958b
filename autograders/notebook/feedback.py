"""Feedback without secrets: hidden tests never reach a student.

nbgrader puts the hidden tests back into a notebook to grade it, and its
feedback shows that notebook, hidden tests included (nbgrader #917). Before
feedback is made, ``HideHiddenTests`` removes the hidden regions from the
source, as nbgrader's own ClearHiddenTests does when it releases an assignment,
and, in those cells, cuts error tracebacks (which quote the failing line of
the test) down to the error's name and message. Scores, outputs of other
cells and teachers' comments stay.

The teacher's formgrader uses it through nbgrader's plug-in point
``GenerateFeedback.preprocessors`` (sabaq configures every teacher's server).
"""

from __future__ import annotations

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import ClearHiddenTests, GetGrades

FEEDBACK_PREPROCESSORS = [
    "sabaq.autograders.notebook.feedback.HideHiddenTests",
    GetGrades,
    CSSHTMLHeaderPreprocessor,
]


class HideHiddenTests(ClearHiddenTests):
    """ClearHiddenTests for graded notebooks: the hidden source and its tracebacks go."""

    enforce_metadata = False  # graded notebooks keep their metadata; nothing to enforce here

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and self._remove_hidden_test_region(cell):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        elif cell.cell_type != "code":
            self._remove_hidden_test_region(cell)
        return cell, resources
