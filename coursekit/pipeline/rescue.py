"""Grade what nbgrader 0.9.6 refuses to grade: a thin layer around ``nbgrader autograde``.

nbgrader fails a student's *whole* submission, and deletes the student's
``autograded/`` folder, when one notebook cannot be processed (nbgrader issue
#1682). In this course that happens for:

* a kernel that ignores the interrupt sent after the cell timeout
  (``signal.signal(SIGINT, SIG_IGN)``, or ``except KeyboardInterrupt`` inside a
  loop): nbclient raises ``CellTimeoutError`` ("Timeout waiting for IOPub
  output") and nbgrader gives up on the submission;
* a kernel that dies (``os._exit``, a segfault, the OOM killer):
  ``DeadKernelError``;
* damaged nbgrader cell metadata (a cell whose ``grade_id`` was deleted, a
  copy-pasted cell that duplicates a grade id): ``KeyError`` or
  ``ValidationError`` before anything runs.

And it silently leaves a test *ungraded* (``auto_score`` None, flagged for
manual grading) when a student deleted the test cell or stripped its nbgrader
metadata.

The pipeline (:mod:`coursekit.pipeline.phases`) first runs the ordinary
``nbgrader autograde`` for every student. For each notebook that nbgrader then
did not grade completely it runs, serially and in the course, the real command
once more for that one notebook::

    nbgrader autograde synapses --student S --notebook NB --force \\
        --CourseDirectory.submitted_directory=<staging copy> \\
        --TrustedExecute.rescue=True [--TrustedExecute.skip_digests=...] \\
        --OverwriteCells.add_missing_cells=True

with three changes, each of which only ever *adds* grading:

1. :func:`repair_notebook` writes a repaired copy of the submission to a
   staging folder (``submitted/`` itself is never written): nbgrader metadata
   that the student damaged or stripped is restored from the released
   notebook (matched by cell id, else by identical source); a repeated grade
   id keeps its first cell. Everything the student wrote stays as written.
2. nbgrader's own ``OverwriteCells.add_missing_cells`` puts deleted grade
   cells (tests, written answers) back, so they are graded (a deleted answer
   cell is not restored: its tests fail with "... is not defined").
3. The course's ``TrustedExecute`` runs in its rescue mode
   (``--TrustedExecute.rescue=True``; test cells still run only in the trusted
   grader): when a cell kills
   the kernel or hangs it beyond the interrupt, that cell gets an error
   output saying so, the kernel is restarted, the cells that ran before it
   are run again (outputs discarded) to restore the state, and grading goes
   on with the next cell. A cell that hung the kernel in the first run (found
   in that run's log) is not run again: it gets the error output at once, so
   the rescue does not wait for the timeout a second time.

The rest of nbgrader's configuration (sanitizing, ``LimitOutput``,
``SaveAutoGrades``, the course's ``OverwriteCellsKeepHiddenTests``, late
penalties) is unchanged, so nbgrader itself writes the gradebook and
``autograded/<student>/synapses/<notebook>.ipynb``.
"""

from __future__ import annotations

import copy
from typing import Any, Iterable

from nbclient.exceptions import CellTimeoutError

from nbgrader.nbgraderformat import MetadataValidator, ValidationError

from coursekit.grading.outputs import source_digest

__all__ = [
    "source_digest",
    "hung_cell_digests",
    "repair_notebook",
    "metadata_problems",
]

# ------------------------------------------------------------------------------ logs
def hung_cell_digests(log: str, cells: Iterable[Any]) -> list[str]:
    """Digests of the ``cells`` that nbclient reported as hung in ``log``.

    nbclient's ``CellTimeoutError`` message ("Timeout waiting for IOPub
    output") quotes a preview of the cell; this recomputes that preview for
    every code cell with nbclient's own formatter and keeps those it finds.

    Parameters
    ----------
    log : str
        nbgrader's log of the failed run.
    cells : iterable of notebook cells
        The cells as nbgrader may have executed them: the submission's, and
        the instructor's version of the locked cells (nbgrader runs those).

    Returns
    -------
    list of str
        :func:`source_digest` of each hung cell (usually zero or one).
    """
    if "Timeout waiting for IOPub output" not in log:
        return []

    def flat(text: str) -> str:  # nbgrader indents the traceback it logs
        return "\n".join(line.strip() for line in text.splitlines() if line.strip())

    log = flat(log)
    found = []
    for cell in cells:
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        message = str(CellTimeoutError.error_from_timeout_and_cell("x", 1, cell))
        preview = message.split("Here is a preview of the cell contents:", 1)[-1].strip()
        preview = flat(preview.strip().strip("-"))
        if preview and preview in log and source_digest(cell.source) not in found:
            found.append(source_digest(cell.source))
    return found


# ------------------------------------------------------------------------------ metadata
def _grade_id(cell: Any) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def metadata_problems(nb: Any) -> list[str]:
    """Why nbgrader would refuse this notebook's nbgrader metadata (empty if it would not).

    Runs nbgrader's own :class:`~nbgrader.nbgraderformat.MetadataValidator`
    cell by cell and looks for repeated grade ids.
    """
    problems = []
    validator = MetadataValidator()
    seen: set[str] = set()
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta is None:
            continue
        try:
            validator.validate_cell(copy.deepcopy(cell))
        except (ValidationError, KeyError, TypeError, ValueError) as exc:
            why = str(exc).split(": ", 1)[0] if cell.source.strip() and cell.source.strip()[:30] in str(exc) \
                else str(exc)
            where = f"cell {i}" + (f" (id {cell['id']})" if cell.get("id") else "")
            problems.append(f"{where}: invalid nbgrader metadata ({type(exc).__name__}: {why})")
            continue
        gid = meta.get("grade_id")
        if gid:
            if gid in seen:
                problems.append(f"cell {i}: repeats grade id {gid}")
            seen.add(gid)
    return problems


def repair_notebook(submitted: Any, released: Any) -> tuple[Any, list[str]]:
    """A copy of ``submitted`` whose nbgrader metadata nbgrader can grade.

    Cell sources and outputs are kept as the student left them; only
    ``metadata.nbgrader`` changes:

    * a cell whose nbgrader metadata is invalid (e.g. its ``grade_id`` was
      deleted) gets the metadata of the released cell with the same cell id
      (or the same source), or loses its nbgrader metadata if there is none;
    * a cell without nbgrader metadata that is the released grade, solution or
      read-only cell with the same cell id (or identical source), while that
      grade id is nowhere else in the notebook, gets its metadata back;
    * of several cells with the same grade id, the first keeps it and the
      others lose their nbgrader metadata (they stay as plain cells).

    Deleted cells are not re-created here; nbgrader's
    ``OverwriteCells.add_missing_cells`` does that during the rescue.

    Parameters
    ----------
    submitted : nbformat.NotebookNode
        The student's notebook (not modified).
    released : nbformat.NotebookNode
        The released version of the same notebook.

    Returns
    -------
    (nbformat.NotebookNode, list of str)
        The repaired copy and one sentence per change (empty if none).
    """
    nb = copy.deepcopy(submitted)
    by_id = {c.get("id"): c for c in released.cells if c.get("id") and "nbgrader" in c.get("metadata", {})}
    by_source = {}
    for c in released.cells:
        if "nbgrader" in c.get("metadata", {}) and c.source.strip():
            by_source.setdefault(c.source.strip(), c)
    validator = MetadataValidator()
    notes: list[str] = []

    def released_twin(cell):
        twin = by_id.get(cell.get("id"))
        if twin is None:
            twin = by_source.get(cell.source.strip())
        return twin

    def valid(cell) -> bool:
        try:
            validator.validate_cell(copy.deepcopy(cell))
        except (ValidationError, KeyError, TypeError, ValueError):
            return False
        return True

    # 1. invalid metadata -> released metadata
    for i, cell in enumerate(nb.cells):
        if "nbgrader" in cell.metadata and not valid(cell):
            twin = released_twin(cell)
            if twin is not None:
                cell.metadata["nbgrader"] = copy.deepcopy(twin.metadata["nbgrader"])
                notes.append(f"restored the damaged nbgrader metadata of cell {_grade_id(twin)}")
            else:
                del cell.metadata["nbgrader"]
                notes.append(f"removed damaged nbgrader metadata from cell {i} (no released twin)")
    # 2. repeated grade ids -> first one wins
    seen: set[str] = set()
    for i, cell in enumerate(nb.cells):
        gid = _grade_id(cell)
        if gid is None:
            continue
        if gid in seen:
            del cell.metadata["nbgrader"]
            notes.append(f"cell {i} repeated grade id {gid}; the copy is graded as a plain cell")
        seen.add(gid)
    # 3. stripped metadata -> released metadata, where the grade id is missing
    for cell in nb.cells:
        if "nbgrader" in cell.metadata:
            continue
        twin = released_twin(cell)
        if twin is None:
            continue
        gid = _grade_id(twin)
        if gid and gid not in seen and twin.cell_type == cell.cell_type:
            cell.metadata["nbgrader"] = copy.deepcopy(twin.metadata["nbgrader"])
            seen.add(gid)
            notes.append(f"restored the stripped nbgrader metadata of cell {gid}")
    return nb, notes


def missing_grade_cells(submitted: Any, released: Any) -> list[str]:
    """Grade ids of the released notebook's grade cells that ``submitted`` lacks."""
    present = {_grade_id(c) for c in submitted.cells}
    return [gid for gid in (_grade_id(c) for c in released.cells
                            if c.get("metadata", {}).get("nbgrader", {}).get("grade"))
            if gid and gid not in present]
