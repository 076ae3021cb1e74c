"""Why a cell could not be graded: the one vocabulary, defined once.

The grading machinery marks a cell it could not grade with an error output
whose ``ename`` is one of the names below. A cell with such an error scored 0
because of the machinery or a limit, not because its answer was wrong. The
printed report (:mod:`coursekit.pipeline.report`) and the class report
(:mod:`coursekit.insight.class_report`) both read them from here.

>>> is_ungradable(GRADER_TIMEOUT), is_ungradable("AssertionError")
(True, False)
>>> reason(KERNEL_DIED, "out of memory", None)
'kernel died in this cell: out of memory'
>>> reason(CELL_TIMEOUT, "", 60)
'cell timed out (no reply within 60 s; the grader interrupted it)'
"""

from __future__ import annotations

__all__ = [
    "CELL_TIMEOUT",
    "DEAD_KERNEL",
    "NOTEBOOK_OVERTIME",
    "GRADER_TIMEOUT",
    "GRADER_STOPPED",
    "KERNEL_DIED",
    "KERNEL_STUCK",
    "KERNEL_GAVE_UP",
    "MEANINGS",
    "is_ungradable",
    "reason",
]

#: nbclient's: the cell sent no reply within the cell time limit and was interrupted.
CELL_TIMEOUT = "CellTimeoutError"
#: nbclient's: the kernel died while it ran the cell.
DEAD_KERNEL = "DeadKernelError"
#: The cells not run after :attr:`TrustedExecute.notebook_timeout` was used up.
NOTEBOOK_OVERTIME = "NotebookTimeout"
#: A test cell whose grading ran past its deadline.
GRADER_TIMEOUT = "GraderTimeout"
#: A test cell during which the grader's process stopped (out of memory, killed).
GRADER_STOPPED = "GraderStopped"
#: A cell during which the kernel died (rescue mode).
KERNEL_DIED = "KernelDied"
#: A cell that ignored the interrupt (rescue mode).
KERNEL_STUCK = "KernelUnresponsive"
#: Cells not run because the kernel kept failing (rescue mode).
KERNEL_GAVE_UP = "NotRun"

#: Each cause, in a few words (the class report's column).
MEANINGS = {
    CELL_TIMEOUT: "the cell ran over the time limit",
    DEAD_KERNEL: "the student's kernel died",
    NOTEBOOK_OVERTIME: "the notebook ran over its time limit",
    GRADER_TIMEOUT: "the grader ran over its time limit",
    GRADER_STOPPED: "the grader's process stopped",
    KERNEL_DIED: "the student's kernel died",
    KERNEL_STUCK: "the kernel ignored the interrupt",
    KERNEL_GAVE_UP: "not run: the kernel failed too often",
}


def is_ungradable(ename: str | None) -> bool:
    """True if an error named ``ename`` means "could not be graded", not "wrong"."""
    return ename in MEANINGS


def reason(ename: str, evalue: str, cell_timeout: float | None) -> str:
    """The printed report's line for a cell whose last error is ``ename: evalue``.

    Parameters
    ----------
    ename, evalue : str
        The error output's name and value.
    cell_timeout : float or None
        The cell time limit (s), quoted for a timed-out cell.
    """
    if ename == CELL_TIMEOUT:
        limit = f" within {cell_timeout:g} s" if cell_timeout else ""
        return f"cell timed out (no reply{limit}; the grader interrupted it)"
    if ename == KERNEL_DIED:
        return "kernel died in this cell: " + evalue
    if ename == KERNEL_STUCK:
        return "this cell hung the kernel: " + evalue
    if ename == KERNEL_GAVE_UP:
        return evalue
    if ename == "GradingError" or ename.endswith(".GradingError"):
        return evalue or ename
    return f"{ename}: {evalue}" if evalue else ename
