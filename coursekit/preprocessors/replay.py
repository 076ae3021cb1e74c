"""``StashExecuted`` and ``ReplayExecute``: execute in a worker, record in the course.

The pair behind parallel autograding (:mod:`coursekit.pipeline.engine`): a worker's
``nbgrader autograde`` runs ``StashExecuted`` right after the Execute step and
saves each notebook as the kernel left it; the course's one writer then runs
nbgrader's autograde converter with ``ReplayExecute`` in place of the Execute
step, which copies those outputs in after checking that the worker executed
exactly the notebook being graded. ``ReplayExecute`` runs no code, so
``TrustedExecute`` stays the one step that executes a submission.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

__all__ = ["ReplayError", "ReplayMismatch", "StashExecuted", "ReplayExecute", "replay_differences"]


class ReplayError(RuntimeError):
    """The replay could not reproduce the worker's execution of a notebook."""


class ReplayMismatch(ReplayError):
    """The notebook the worker executed is not the one nbgrader is grading."""


#: Cell fields that executing a notebook changes (everything else must agree).
_EXECUTION_CELL_KEYS = ("outputs", "execution_count")
#: Cell metadata that nbclient writes (execution timestamps).
_EXECUTION_CELL_METADATA = ("execution",)
#: Notebook metadata that nbclient writes.
_EXECUTION_NB_METADATA = ("language_info", "widgets")


def _label(cell: Mapping[str, Any], index: int) -> str:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return f"cell {index} ({meta.get('grade_id') or cell.get('id') or '?'})"


def _without(mapping: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k not in keys}


def _static_cell(cell: Mapping[str, Any]) -> dict[str, Any]:
    out = _without(cell, _EXECUTION_CELL_KEYS)
    out["metadata"] = _without(cell.get("metadata", {}), _EXECUTION_CELL_METADATA)
    return out


def replay_differences(graded: Mapping[str, Any], executed: Mapping[str, Any]) -> list[str]:
    """Why ``executed`` is not an execution of ``graded`` (empty list if it is).

    Two notebooks match when they have the same format version, the same
    notebook metadata apart from what execution writes (``language_info``,
    ``widgets``), and the same cells in the same order with equal type, id,
    source, attachments and metadata apart from ``metadata.execution``
    (timestamps). Outputs and execution counts are what execution changes and
    are not compared.

    Parameters
    ----------
    graded : mapping
        The sanitized notebook nbgrader is about to grade.
    executed : mapping
        The worker's notebook right after its ``Execute`` preprocessor.

    Returns
    -------
    list of str
        One line per difference, naming the cell by index and grade id.
    """
    problems = []
    for key in ("nbformat", "nbformat_minor"):
        if graded.get(key) != executed.get(key):
            problems.append(f"notebook {key} {executed.get(key)!r}, expected {graded.get(key)!r}")
    if _without(graded.get("metadata", {}), _EXECUTION_NB_METADATA) != _without(
        executed.get("metadata", {}), _EXECUTION_NB_METADATA
    ):
        problems.append("notebook metadata differs")
    gcells, ecells = graded.get("cells", []), executed.get("cells", [])
    if len(gcells) != len(ecells):
        problems.append(f"{len(ecells)} cells, expected {len(gcells)}")
    for i, (g, e) in enumerate(zip(gcells, ecells)):
        sg, se = _static_cell(g), _static_cell(e)
        if sg != se:
            fields = sorted(k for k in set(sg) | set(se) if sg.get(k) != se.get(k))
            problems.append(f"{_label(g, i)} differs in {', '.join(fields)}")
    return problems


class StashExecuted(NbGraderPreprocessor):
    """Save each notebook exactly as ``Execute`` left it (worker side, passive).

    Inserted right after the ``Execute`` preprocessor in a worker's autograde
    run; writes ``<stash_dir>/<student>/<notebook>.ipynb`` and passes the
    notebook on unchanged.
    """

    stash_dir = Unicode("", help="Folder for the executed notebooks.").tag(config=True)

    def preprocess(self, nb, resources):  # noqa: D401 (nbconvert API)
        if not self.stash_dir:
            raise ReplayError("StashExecuted.stash_dir is not set")
        info = resources["nbgrader"]
        folder = Path(self.stash_dir) / info["student"]
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(folder / f"{info['notebook']}.ipynb"))
        return nb, resources


class ReplayExecute(NbGraderPreprocessor):
    """Stand-in for ``Execute``: take outputs from a worker's executed notebook.

    Reads ``<replay_dir>/<student>/<notebook>.ipynb`` (written by
    :class:`StashExecuted` in a worker), checks with
    :func:`replay_differences` that it is an execution of exactly the notebook
    being graded, and copies each cell's outputs, execution count and
    ``metadata.execution``, and the notebook's ``language_info`` and widget
    state, into it. No kernel is started.

    Raises
    ------
    ReplayError
        If there is no executed copy (the worker's kernel died or hung on this
        notebook), so nbgrader fails the student as the serial run would.
    ReplayMismatch
        If the executed copy is of a different notebook.
    """

    replay_dir = Unicode("", help="Folder with <student>/<notebook>.ipynb executed by the workers.").tag(config=True)

    def preprocess(self, nb, resources):  # noqa: D401 (nbconvert API)
        info = resources["nbgrader"]
        path = Path(self.replay_dir) / info["student"] / f"{info['notebook']}.ipynb"
        if not self.replay_dir or not path.is_file():
            raise ReplayError(
                f"no executed copy of {info['notebook']}.ipynb for student {info['student']}: "
                "its execution failed in the worker (see the worker's log)"
            )
        executed = nbformat.read(str(path), as_version=4)
        problems = replay_differences(nb, executed)
        if problems:
            raise ReplayMismatch(
                f"ReplayMismatch: the worker executed a different {info['notebook']}.ipynb: "
                + "; ".join(problems[:5])
            )
        for cell, done in zip(nb.cells, executed.cells):
            if cell.cell_type != "code":
                continue
            cell.outputs = done.get("outputs", [])
            cell.execution_count = done.get("execution_count")
            for key in _EXECUTION_CELL_METADATA:
                if key in done.metadata:
                    cell.metadata[key] = done.metadata[key]
                else:
                    cell.metadata.pop(key, None)
        for key in _EXECUTION_NB_METADATA:
            if key in executed.metadata:
                nb.metadata[key] = executed.metadata[key]
            else:
                nb.metadata.pop(key, None)
        return nb, resources
