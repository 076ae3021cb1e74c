"""Run selected cells of a course notebook in one live kernel (for mutation tests).

A mutation test swaps a student's answer cell for a wrong (or a differently
written correct) answer and checks that the item's test cell fails (or passes).
Executing the whole notebook per mutant would be slow, so one kernel per
notebook runs the set-up once and then, per mutant, only the answer and its
test cell; the original answer is restored afterwards.

Usage::

    with NotebookKernel("source/synapses/01_synapse_zoo.ipynb") as nb:
        nb.run_setup()                      # every cell before the first answer
        ok, err = nb.try_answer("exp_conductance", MUTANT_SOURCE)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager

ROOT = Path(__file__).resolve().parents[1]


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


class NotebookKernel:
    """One ipykernel (the venv's Python) with a notebook's cells at hand."""

    def __init__(self, path, timeout: float = 120.0, env: dict | None = None):
        self.path = Path(path)
        self.nb = nbformat.read(self.path, as_version=4)
        self.timeout = timeout
        kernel_env = dict(os.environ)
        # Keep widgets and long demos out, as nbgrader does when it grades.
        kernel_env["NBGRADER_EXECUTION"] = "autograde"
        kernel_env.setdefault("MPLBACKEND", "Agg")
        kernel_env.update(env or {})
        self._km = KernelManager(kernel_cmd=[sys.executable, "-m", "ipykernel_launcher",
                                             "-f", "{connection_file}"])
        self._km.start_kernel(cwd=str(self.path.parent), env=kernel_env)
        self._kc = self._km.client()
        self._kc.start_channels()
        self._kc.wait_for_ready(timeout=60)

    # -- cells ---------------------------------------------------------------
    def cell(self, grade_id: str):
        """The cell whose nbgrader grade_id is ``grade_id``."""
        for cell in self.nb.cells:
            if _nbgrader(cell).get("grade_id") == grade_id:
                return cell
        raise KeyError(f"{self.path.name} has no cell with grade_id {grade_id!r}")

    def test_cell_for(self, answer_id: str):
        """The first autograded test cell after the answer cell ``answer_id``."""
        cells = self.nb.cells
        start = cells.index(self.cell(answer_id))
        for cell in cells[start + 1:]:
            meta = _nbgrader(cell)
            if meta.get("grade") and not meta.get("solution") and cell.cell_type == "code":
                return cell
        raise KeyError(f"no test cell follows {answer_id!r} in {self.path.name}")

    # -- execution -----------------------------------------------------------
    def run(self, code: str) -> tuple[bool, str]:
        """Execute ``code``; return (ok, "ename: evalue" or "")."""
        outputs = []

        def hook(msg):
            if msg["msg_type"] == "error":
                outputs.append(f"{msg['content']['ename']}: {msg['content']['evalue']}")

        reply = self._kc.execute_interactive(code, timeout=self.timeout, output_hook=hook,
                                             store_history=False, allow_stdin=False)
        ok = reply["content"]["status"] == "ok"
        if not ok and not outputs:
            outputs.append(f"{reply['content'].get('ename')}: {reply['content'].get('evalue')}")
        return ok, "\n".join(outputs)

    def run_setup(self) -> None:
        """Run every code cell before the first solution cell; fail loudly on error."""
        for cell in self.nb.cells:
            if cell.cell_type != "code":
                continue
            if _nbgrader(cell).get("solution"):
                break
            ok, err = self.run(cell.source)
            if not ok:
                raise RuntimeError(f"set-up cell of {self.path.name} failed: {err}")

    def run_cells(self, grade_ids) -> None:
        """Run the named cells as stored (e.g. earlier answers an item needs)."""
        for grade_id in grade_ids:
            ok, err = self.run(self.cell(grade_id).source)
            if not ok:
                raise RuntimeError(f"cell {grade_id} of {self.path.name} failed: {err}")

    def try_answer(self, answer_id: str, source: str) -> tuple[bool, str]:
        """Run ``source`` in place of answer ``answer_id``, then its test cell.

        Returns (passed, error text). The stored answer is re-run afterwards so
        later items see the correct definitions.
        """
        ok, err = self.run(source)
        if ok:
            ok, err = self.run(self.test_cell_for(answer_id).source)
        restored, rerr = self.run(self.cell(answer_id).source)
        if not restored:
            raise RuntimeError(f"could not restore {answer_id}: {rerr}")
        return ok, err

    def close(self) -> None:
        try:
            self._kc.stop_channels()
        finally:
            self._km.shutdown_kernel(now=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
