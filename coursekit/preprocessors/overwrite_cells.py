"""``OverwriteCellsKeepHiddenTests``: nbgrader's OverwriteCells without the false checksum warning.

Hidden tests and rubrics (:mod:`coursekit.preprocessors.clear_rubrics`) are both
stored in the gradebook and cleared from the release; an untouched released
cell gets them back quietly.

``nbgrader_config.py`` puts it in ``Autograde.sanitize_preprocessors`` in place
of nbgrader's ``OverwriteCells`` (nbgrader issue #1961, open in 0.9.6).
"""

from __future__ import annotations

from typing import Any

from nbformat.notebooknode import NotebookNode
from nbgrader import utils as nbgrader_utils
from nbgrader.api import MissingEntry
from nbgrader.preprocessors import ClearHiddenTests, OverwriteCells

from coursekit.preprocessors.clear_rubrics import strip_rubrics

__all__ = ["OverwriteCellsKeepHiddenTests", "strip_hidden_tests"]


def strip_hidden_tests(source: str, parent: Any = None) -> str:
    """Cell source with its hidden-test regions removed, exactly as released.

    Uses nbgrader's own :class:`~nbgrader.preprocessors.ClearHiddenTests` (with
    the delimiters configured on ``parent``, default ``BEGIN HIDDEN TESTS`` /
    ``END HIDDEN TESTS``), so the result equals what ``generate_assignment``
    writes to the release.

    Parameters
    ----------
    source : str
        Source of a test cell.
    parent : traitlets.config.Configurable, optional
        Object whose config supplies the delimiters.

    Returns
    -------
    str
        The source without the hidden-test lines and their markers.
    """
    clearer = ClearHiddenTests(parent=parent) if parent is not None else ClearHiddenTests()
    cell = NotebookNode(cell_type="code", source=source, metadata=NotebookNode())
    clearer._remove_hidden_test_region(cell)
    return cell.source


class OverwriteCellsKeepHiddenTests(OverwriteCells):
    """nbgrader's ``OverwriteCells`` without the false "checksum changed" warning.

    ``nbgrader generate_assignment`` stores each locked cell's source and
    checksum in the gradebook before ``ClearHiddenTests`` runs, so for every
    test cell with hidden tests the released (student) cell differs from the
    stored one. ``OverwriteCells`` therefore logs ``Attribute 'checksum' for
    cell ... has changed!`` for every untouched submission and then restores the
    stored source (nbgrader issue #1961, open in 0.9.6).

    This subclass first restores the stored source when the submitted source is
    exactly the released one (stored source minus its hidden-test and rubric
    regions) -- the
    same restoration ``OverwriteCells`` performs -- and then runs the stock
    checks. A cell that a student really edited still differs, so it is still
    reported and overwritten.
    """

    def preprocess_cell(self, cell, resources, cell_index):  # noqa: D401 (nbconvert API)
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id is not None and nbgrader_utils.is_locked(cell):
            try:
                stored = self.gradebook.find_source_cell(grade_id, self.notebook_id, self.assignment_id)
            except MissingEntry:
                stored = None
            if (
                stored is not None
                and stored.locked
                and stored.cell_type == cell.cell_type
                and cell.source != stored.source
                and cell.source == strip_rubrics(strip_hidden_tests(stored.source, parent=self), parent=self)
            ):
                self.log.debug("Restoring the hidden tests or rubric of cell %s", grade_id)
                cell.source = stored.source
        return super().preprocess_cell(cell, resources, cell_index)
