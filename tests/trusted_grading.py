"""Grade a notebook with the course's TrustedExecute in a test (no nbgrader, no gradebook).

``source_path`` names the instructor notebook whose locked cells (set-up and
tests) are trusted, as the gradebook does under ``nbgrader autograde``.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from coursekit.grading.execute import TrustedExecute


def grade(source_path: Path, nb, workdir: Path, **traits) -> dict:
    """Run ``nb`` through TrustedExecute; return its cells by grade id."""
    traits = {"timeout": 120, "call_timeout": 10, "source_path": str(source_path), "startup_timeout": 120,
              **traits}
    executed, _ = TrustedExecute(**traits).preprocess(nb, {"metadata": {"path": str(workdir)}})
    return {c.metadata["nbgrader"]["grade_id"]: c for c in executed.cells if "nbgrader" in c.metadata
            and "grade_id" in c.metadata["nbgrader"]}


def verdict(cell) -> str:
    """``"pass"``, or the one-line error that makes nbgrader score the cell 0."""
    errors = [o for o in cell.outputs if o.output_type == "error"]
    assert all(len(o.traceback) == 1 for o in errors), "a grader error must be one line"
    assert not any(o.output_type == "stream" and o.name == "stderr" for o in cell.outputs)
    return f"{errors[0].ename}: {errors[0].evalue}" if errors else "pass"


def with_answer(nb, grade_id: str, source: str):
    """A copy of ``nb`` whose answer cell ``grade_id`` holds ``source``."""
    nb = nbformat.from_dict(nb)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    cell.source = source
    return nb


def tests_of(nb, grade_id: str) -> list[str]:
    """Grade ids of the autograded test cells that check answer ``grade_id`` (those below it)."""
    out, current = [], None
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution"):
            current = meta.get("grade_id")
        elif cell.cell_type == "code" and meta.get("grade") and current == grade_id:
            out.append(meta["grade_id"])
    return out
