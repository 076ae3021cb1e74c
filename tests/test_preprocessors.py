"""The course's nbgrader preprocessors (coursekit/preprocessors/), on synthetic cells as in nbgrader's own tests.

* InstructiveClearSolutions: a released answer raises its own one-line instruction.
* OverwriteCellsKeepHiddenTests: an untouched released test cell gets its hidden tests back without
  nbgrader's false "checksum changed" warning; an edited one is still reported and overwritten.
* ShortenTestTracebacks: errors in test cells become one line in feedback, the student's own keep theirs.
(StashExecuted/ReplayExecute are tested in tests/test_parallel.py, next to their engine.)
"""

import logging
import os

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from nbgrader.api import Gradebook
from nbgrader.preprocessors import OverwriteCells, SaveCells
from nbgrader.utils import compute_checksum

from coursekit.course import interpreter_path
from coursekit.preprocessors.clear_solutions import InstructiveClearSolutions, stub_instruction
from coursekit.preprocessors.overwrite_cells import OverwriteCellsKeepHiddenTests, strip_hidden_tests
from coursekit.preprocessors.shorten_tracebacks import ShortenTestTracebacks

SOURCE = '''def exp_conductance(t, g_peak, tau):
    """Exponential conductance (nS)."""
    # TODO: return g_peak * exp(-t / tau) for t >= 0 and 0 before the spike.
    ### BEGIN SOLUTION
    import numpy as np
    t = np.asarray(t, dtype=float)
    return np.where(t >= 0, g_peak * np.exp(-np.clip(t, 0, None) / tau), 0.0)
    ### END SOLUTION
'''


def _solution_cell(source):
    cell = new_code_cell(source)
    cell.metadata["nbgrader"] = {"solution": True, "grade": False, "locked": False,
                                 "grade_id": "exp_conductance", "schema_version": 3}
    return cell


def _clear(source):
    nb = new_notebook(cells=[_solution_cell(source)])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nb, _ = InstructiveClearSolutions().preprocess(nb, {})
    return nb.cells[0].source


def test_instruction_is_read_from_the_todo_line():
    assert stub_instruction(SOURCE) == "return g_peak * exp(-t / tau) for t >= 0 and 0 before the spike."


def test_no_todo_line_gives_none():
    assert stub_instruction("x = 1\n### BEGIN SOLUTION\nx = 2\n### END SOLUTION\n") is None
    assert stub_instruction("### BEGIN SOLUTION\nx = 2\n### END SOLUTION\n") is None


def test_stub_raises_the_instruction_and_hides_the_solution():
    released = _clear(SOURCE)
    assert "np.where" not in released and "BEGIN SOLUTION" not in released
    namespace = {}
    exec(released, namespace)
    with pytest.raises(NotImplementedError, match=r"return g_peak \* exp\(-t / tau\)"):
        namespace["exp_conductance"](1.0, 1.0, 1.0)


def test_cell_without_todo_gets_the_generic_stub():
    released = _clear("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n")
    namespace = {}
    exec(released, namespace)
    with pytest.raises(NotImplementedError):
        namespace["f"]()
    # the configured default stub is restored after each cell
    assert InstructiveClearSolutions().code_stub["python"].startswith("# YOUR CODE HERE")


# ------------------------------------------------------------------ OverwriteCellsKeepHiddenTests
def test_strip_hidden_tests_matches_release_format():
    src = "a = 1\n### BEGIN HIDDEN TESTS\nassert a == 1\n### END HIDDEN TESTS\nb = 2"
    assert strip_hidden_tests(src) == "a = 1\nb = 2"
    assert strip_hidden_tests("x = 3") == "x = 3"


HIDDEN = "assert 1 + 1 == 2\n### BEGIN HIDDEN TESTS\nassert 2 + 2 == 4\n### END HIDDEN TESTS"


def _test_cell(source):
    cell = new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "task": False,
                                 "grade_id": "test_sum", "points": 1, "schema_version": 3}
    cell.metadata.nbgrader["checksum"] = compute_checksum(cell)
    return cell


@pytest.fixture
def stored(tmp_path, monkeypatch):
    """A gradebook holding the source test cell, as generate_assignment leaves it (SaveCells)."""
    monkeypatch.setenv("PATH", interpreter_path(os.environ.get("PATH", "")))  # nbgrader runs `alembic`
    db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with Gradebook(db) as gb:
        gb.add_assignment("ps0")
    resources = {"nbgrader": {"db_url": db, "assignment": "ps0", "notebook": "nb"}}
    SaveCells().preprocess(new_notebook(cells=[_test_cell(HIDDEN)]), resources)
    return resources


def _submitted(source):
    """The released cell (hidden tests removed, checksum of the source kept) with ``source``."""
    cell = _test_cell(HIDDEN)
    cell.source = source
    return new_notebook(cells=[cell])


def _overwrite(cls, nb, resources):
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    log = logging.getLogger(f"test-{cls.__name__}")
    log.addHandler(Keep())
    log.setLevel(logging.DEBUG)
    nb, _ = cls(log=log).preprocess(nb, resources)
    return nb.cells[0].source, [r for r in records if "has changed" in r]


def test_untouched_released_cell_gets_its_hidden_tests_back_quietly(stored):
    released = strip_hidden_tests(HIDDEN)
    assert released == "assert 1 + 1 == 2"
    source, warnings = _overwrite(OverwriteCellsKeepHiddenTests, _submitted(released), stored)
    assert source == HIDDEN and warnings == []
    # nbgrader's own OverwriteCells restores the same source but warns (nbgrader #1961)
    source, warnings = _overwrite(OverwriteCells, _submitted(released), stored)
    assert source == HIDDEN and any("checksum" in w for w in warnings)


def test_edited_test_cell_is_still_reported_and_overwritten(stored):
    edited = strip_hidden_tests(HIDDEN) + "\nprint('all tests pass')"
    source, warnings = _overwrite(OverwriteCellsKeepHiddenTests, _submitted(edited), stored)
    assert source == HIDDEN and any("source" in w or "checksum" in w for w in warnings)


# ------------------------------------------------------------------ ShortenTestTracebacks
def test_shorten_test_tracebacks_only_in_test_cells():
    tb = ["frame 1 with hidden code", "NotImplementedError: do it"]
    err = nbformat.v4.new_output("error", ename="NotImplementedError", evalue="do it", traceback=tb)
    test_cell = nbformat.v4.new_code_cell("x", outputs=[err], metadata={"nbgrader": {
        "grade": True, "solution": False, "locked": True, "grade_id": "t", "points": 1, "schema_version": 3}})
    student_cell = nbformat.v4.new_code_cell("y", outputs=[nbformat.from_dict(dict(err))], metadata={
        "nbgrader": {"grade": False, "solution": True, "locked": False, "grade_id": "s", "schema_version": 3}})
    nb = nbformat.v4.new_notebook(cells=[test_cell, student_cell])
    nb, _ = ShortenTestTracebacks().preprocess(nb, {})
    assert nb.cells[0].outputs[0].traceback == ["NotImplementedError: do it"]
    assert nb.cells[1].outputs[0].traceback == tb


# ------------------------------------------------------------------ pending manual grades (trial 3)
def _feedback_html(nb, resources):
    """nbgrader's feedback template, configured as GenerateFeedback configures it."""
    from pathlib import Path

    import nbgrader.converters.generate_feedback as gf
    from nbconvert.exporters import HTMLExporter
    from traitlets.config import Config

    formgrader = Path(gf.__file__).resolve().parents[1] / "server_extensions" / "formgrader"
    config = Config()
    config.HTMLExporter.template_name = "feedback"
    config.HTMLExporter.extra_template_basedirs = [str(formgrader / "templates")]
    config.HTMLExporter.extra_template_paths = [str(formgrader / "static" / "node_modules" / "bootstrap" / "dist"
                                                    / "css")]
    html, _ = HTMLExporter(config=config).from_notebook_node(nb, resources=resources)
    return html


@pytest.fixture
def written_submission(tmp_path, monkeypatch):
    """A submitted notebook with one hand-graded written answer, autograded (its grade waits for a grader)."""
    from nbgrader.preprocessors import SaveAutoGrades

    monkeypatch.setenv("PATH", interpreter_path(os.environ.get("PATH", "")))
    db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    meta = {"nbgrader": {"grade": True, "solution": True, "locked": False, "points": 2, "grade_id": "written",
                         "schema_version": 3, "task": False}}
    nb = new_notebook(cells=[nbformat.v4.new_markdown_cell("Shunting divides the EPSP.", metadata=meta)])
    with Gradebook(db) as gb:
        gb.add_assignment("ps0")
        gb.add_student("s1")
    resources = {"nbgrader": {"db_url": db, "assignment": "ps0", "notebook": "nb", "student": "s1"}}
    SaveCells().preprocess(nbformat.from_dict(nb), resources)
    with Gradebook(db) as gb:
        gb.add_submission("ps0", "s1")
    SaveAutoGrades().preprocess(nbformat.from_dict(nb), resources)
    return nb, resources, db


def test_pending_written_answer_reads_not_graded_yet(written_submission):
    from nbgrader.preprocessors import GetGrades

    from coursekit.preprocessors.pending_grades import GetGradesPending

    nb, resources, db = written_submission
    # nbgrader's own step: the student reads a zero (the control that makes this test able to fail)
    stock, res = GetGrades().preprocess(nbformat.from_dict(nb), dict(resources, nbgrader=dict(resources["nbgrader"])))
    assert "Written response</a> (Score: 0.0 / 2.0)" in _feedback_html(stock, res)
    # the course's step: not graded yet, no score of 0
    shown, res = GetGradesPending().preprocess(nbformat.from_dict(nb),
                                               dict(resources, nbgrader=dict(resources["nbgrader"])))
    html = _feedback_html(shown, res)
    assert "Not graded yet: this answer is marked by hand (2 points)" in html
    assert "0.0 / 2.0" not in html.replace("Score: 0.0 / 2.0)</h4>", "")  # the notebook total may be 0 / 2
    # once a grader has marked it, the score is shown as usual
    with Gradebook(db) as gb:
        grade = gb.find_grade("written", "nb", "ps0", "s1")
        grade.manual_score = 1.5
        gb.db.commit()
    shown, res = GetGradesPending().preprocess(nbformat.from_dict(nb),
                                               dict(resources, nbgrader=dict(resources["nbgrader"])))
    html = _feedback_html(shown, res)
    assert "Not graded yet" not in html and "Written response</a> (Score: 1.5 / 2.0)" in html

