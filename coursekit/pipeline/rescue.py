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
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import nbformat

from nbclient.exceptions import CellTimeoutError

from nbgrader.nbgraderformat import MetadataValidator, ValidationError

from coursekit import course as ck
from coursekit.grading.outputs import source_digest
from coursekit.pipeline.steps import COMMAND_TIMEOUT, autograde_preprocessors, nbgrader
from coursekit.settings import CourseSettings

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


@dataclass
class Rescue:
    """One rescue run: notebooks of one student graded again.

    Attributes
    ----------
    student : str
    notebooks : list of str
        Notebook ids graded in this run.
    why : dict of str to str
        Notebook id -> what nbgrader left undone.
    repairs : dict of str to list of str
        Notebook id -> changes to the staging copy and cells not run again.
    ok : bool
        nbgrader exited 0 and wrote every autograded notebook.
    seconds : float
    log_tail : str
    """

    student: str
    notebooks: list[str]
    why: dict[str, str]
    repairs: dict[str, list[str]] = field(default_factory=dict)
    ok: bool = False
    seconds: float = 0.0
    log_tail: str = ""


def rescue(settings: CourseSettings, student: str, why: Mapping[str, str], *, first_log: str = "",
           tag: str, whole: bool = False, assignment: str = ck.ASSIGNMENT_ID,
           timeout: float = COMMAND_TIMEOUT) -> Rescue:
    """Grade notebooks of one student again, so that every gradable cell gets a score.

    A staging copy of the student's submitted folder (all files, so nbgrader
    does not zero the other notebooks as missing) gets each notebook in
    ``why`` repaired with :func:`coursekit.pipeline.rescue.repair_notebook`;
    then the real command runs in the course::

        nbgrader autograde <assignment> --student S [--notebook N] --force
            --CourseDirectory.submitted_directory=<staging>
            --Autograde.autograde_preprocessors=[... TrustedExecute ...] --TrustedExecute.rescue=True
            --OverwriteCells.add_missing_cells=True
            [--TrustedExecute.skip_digests=<cells that hung the kernel in first_log>]

    once for the whole student (``whole=True``: nbgrader failed the whole
    submission, so every notebook is graded again) or once per notebook.
    ``submitted/`` is only read.

    Parameters
    ----------
    settings : CourseSettings
    student : str
    why : mapping of str to str
        Notebook id -> what nbgrader left undone (the notebooks to grade).
    first_log : str, optional
        nbgrader's log of the first run (to find cells that hung the kernel).
    tag : str
        Value of :data:`RUN_TAG` for the processes started.
    whole : bool, optional
        Grade all notebooks of ``why`` in one nbgrader run (without
        ``--notebook``); they must be all the student's submitted notebooks.
    assignment : str, optional
    timeout : float, optional
        Seconds per nbgrader run.

    Returns
    -------
    Rescue
    """
    root = settings.root
    nb_ids = list(why)
    result = Rescue(student, nb_ids, dict(why))
    src_folder = root / "submitted" / student / assignment
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="synapses-rescue-") as tmp:
        stage = Path(tmp) / "submitted"
        shutil.copytree(src_folder, stage / student / assignment)
        for p in (stage / student / assignment).rglob("*"):
            os.chmod(p, 0o700 if p.is_dir() else 0o600)
        digests: list[str] = []
        for nb_id in nb_ids:
            name = f"{nb_id}.ipynb"
            notes = result.repairs.setdefault(nb_id, [])
            submitted = nbformat.read(src_folder / name, as_version=4)
            released = nbformat.read(root / "release" / assignment / name, as_version=4)
            source_nb = nbformat.read(root / "source" / assignment / name, as_version=4)
            repaired, fixed = repair_notebook(submitted, released)
            notes += fixed
            hung = hung_cell_digests(first_log, list(submitted.cells) + list(source_nb.cells))
            if hung:
                notes.append("the cell that hung the kernel in the first run is not run again")
                digests += hung
            missing = missing_grade_cells(repaired, released)
            if missing:
                notes.append("nbgrader re-adds the deleted grade cells " + ", ".join(missing))
            nbformat.write(repaired, stage / student / assignment / name)
        base = ["autograde", assignment, "--student", student, "--force", *settings.execute_args,
                f"--CourseDirectory.submitted_directory={stage}",
                "--Autograde.autograde_preprocessors=" + json.dumps(autograde_preprocessors(
                    settings.autograde_preprocessors, "rescue")),
                "--TrustedExecute.rescue=True", "--OverwriteCells.add_missing_cells=True"]
        if digests:
            base.append("--TrustedExecute.skip_digests=" + ",".join(digests))
        runs = [[]] if whole else [["--notebook", nb_id] for nb_id in nb_ids]
        ok, logs = True, []
        for extra in runs:
            try:
                proc = nbgrader(base + extra, root, tag, timeout=timeout, check=False)
                ok = ok and proc.returncode == 0
                logs.append(proc.stderr)
            except subprocess.TimeoutExpired as exc:
                ok = False
                logs.append(f"killed after {timeout:.0f} s\n" + str(exc.stderr or ""))
    result.seconds = time.monotonic() - start
    result.log_tail = "\n".join(logs)[-3000:]
    result.ok = ok and all((root / "autograded" / student / assignment / f"{nb}.ipynb").is_file() for nb in nb_ids)
    return result


def zero_ungraded(settings: CourseSettings, student: str, nb_id: str, grade_ids: Sequence[str],
                   assignment: str, flag: bool = True) -> None:
    """Last resort: score 0 (and, if ``flag``, flag for manual grading) the cells nbgrader never graded."""
    from nbgrader.api import Gradebook

    with Gradebook(settings.db_url, settings.course_id) as gb:
        for gid in grade_ids:
            g = gb.find_grade(gid, nb_id, assignment, student)
            if g.auto_score is None and g.manual_score is None:
                g.auto_score = 0.0
                g.needs_manual_grade = flag
        gb.db.commit()


def needs_rescue(results, student: str, nb_id: str, root: Path, assignment: str) -> str:
    """Why nbgrader's own run of this notebook is not enough ("" if it is).

    Besides a missing autograded notebook and test cells without a score,
    grade cells missing from the submission (deleted, or their nbgrader
    metadata stripped) count: nbgrader leaves their gradebook rows as they
    were, so a score from an earlier run of the same student could hide them.
    """
    r = results[student][nb_id]
    if not r.submitted:
        return ""
    if not r.graded:
        return "nbgrader wrote no autograded notebook (it failed the submission)"
    if r.ungraded:
        return "test cells without a score: " + ", ".join(r.ungraded)
    name = f"{nb_id}.ipynb"
    try:
        gone = missing_grade_cells(nbformat.read(root / "submitted" / student / assignment / name, as_version=4),
                                       nbformat.read(root / "release" / assignment / name, as_version=4))
    except Exception:  # noqa: BLE001 (unreadable: nbgrader has already said so)
        gone = []
    if gone:
        return "grade cells missing from the submission: " + ", ".join(gone)
    return ""
