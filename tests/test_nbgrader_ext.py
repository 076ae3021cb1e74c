"""The instructive stub: a released answer raises its own one-line instruction."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from coursekit.preprocessors.clear_solutions import InstructiveClearSolutions, stub_instruction

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
