"""``ShortenTestTracebacks``: feedback shows an error in a test cell as its one sentence.

``nbgrader_config.py`` adds it to ``GenerateFeedback.preprocessors`` after
nbgrader's ``ClearHiddenTests``.
"""

from __future__ import annotations

from nbgrader import utils as nbgrader_utils
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import List

__all__ = ["ShortenTestTracebacks"]


class ShortenTestTracebacks(NbGraderPreprocessor):
    """Feedback: reduce each error in a test cell to ``ename: evalue``.

    IPython tracebacks quote the source lines around the failing line, so an
    error in a test cell (for instance the ``NotImplementedError`` of an
    unanswered function, called from a hidden test) would print hidden-test
    code into the feedback even after ``ClearHiddenTests`` removed it from the
    cell. In autograded test cells (grade cells that are not solution cells)
    this keeps only the last line, which is the one-sentence message the
    course's checks produce. Errors in the student's own cells keep their full
    traceback; the instructor's autograded notebooks are not changed.
    """

    # HTMLExporter configures NbConvertBase.display_data_priority; declaring the
    # trait configurable (as nbgrader's GetGrades does) avoids a "not recognized" warning.
    display_data_priority = List(NbGraderPreprocessor.display_data_priority.default_value).tag(config=True)

    def preprocess_cell(self, cell, resources, cell_index):  # noqa: D401 (nbconvert API)
        if (
            cell.cell_type == "code"
            and nbgrader_utils.is_grade(cell)
            and not nbgrader_utils.is_solution(cell)
        ):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    ename, evalue = output.get("ename", "Error"), output.get("evalue", "")
                    output["traceback"] = [f"{ename}: {evalue}" if evalue else ename]
        return cell, resources
