"""``ClearRubrics``: rubrics and source-only answers, visible to graders in Formgrader, never to students.

nbgrader 0.9.6 has one mechanism for text that graders see and students do not:
the mark-scheme region, ``BEGIN MARK SCHEME`` ... ``END MARK SCHEME`` (in the
notebooks written as HTML comments, ``<!-- BEGIN MARK SCHEME -->``, so that
the markers do not render). Its life cycle, read from nbgrader's source:

1. ``generate_assignment`` runs ``SaveCells`` *before* ``ClearMarkScheme``: the
   gradebook stores the full source of every locked cell, rubric included.
2. ``ClearMarkScheme`` then removes the region from the released notebook.
3. ``autograde`` (``OverwriteCells``) puts the stored source back into every
   locked cell whose checksum differs: the autograded notebook, which
   Formgrader shows to the grader, has the rubric again.
4. ``generate_feedback`` (course configuration) runs :class:`ClearRubrics`, so
   the student's feedback does not show it. nbgrader's default feedback
   preprocessors do not clear mark schemes: without this, feedback leaks them.

Stock ``ClearMarkScheme`` accepts the region only in "manually graded task"
cells, which must carry points. The course's rubrics sit in **read-only**
cells (locked, with a grade id, no points) right after each written answer, so
point totals do not change; :class:`ClearRubrics` checks exactly what the
mechanism needs (a locked cell with a grade id, so that the gradebook keeps its
source) instead of the task flag. The same kind of cell holds the answers to
the ungraded "Try:" prompts.

The course's ``OverwriteCellsKeepHiddenTests``
(:mod:`coursekit.preprocessors.overwrite_cells`) extends the fix for nbgrader
issue #1961 to these cells: an untouched released cell (stored source minus its
hidden-test and mark-scheme regions) gets its stored source back without a
false "checksum changed" warning.
"""

from __future__ import annotations

from typing import Any

from nbformat import NotebookNode
from nbgrader import utils as nbgrader_utils
from nbgrader.preprocessors import ClearMarkScheme

__all__ = ["ClearRubrics", "strip_rubrics"]


class ClearRubrics(ClearMarkScheme):
    """``ClearMarkScheme`` that accepts the region in a locked cell with a grade id.

    A region anywhere else is refused (RuntimeError), because only locked cells
    with a grade id are stored in the gradebook and restored for graders: a
    region elsewhere would be lost from the graders' view.
    """

    def preprocess_cell(self, cell, resources, cell_index):  # noqa: D401 (nbconvert API)
        meta = cell.metadata.get("nbgrader", {})
        kept = nbgrader_utils.is_task(cell) or (nbgrader_utils.is_locked(cell) and meta.get("grade_id"))
        removed = self._remove_mark_scheme_region(cell)
        if removed and not kept:
            raise RuntimeError(
                "Mark scheme region in a cell that is neither a task cell nor a locked cell with a grade id "
                f"(cell {cell_index}); graders would never see it")
        return cell, resources


def strip_rubrics(source: str, parent: Any = None) -> str:
    """Cell source without its mark-scheme regions, exactly as released."""
    clearer = ClearRubrics(parent=parent) if parent is not None else ClearRubrics()
    cell = NotebookNode(cell_type="markdown", source=source, metadata=NotebookNode())
    clearer._remove_mark_scheme_region(cell)
    return cell.source
