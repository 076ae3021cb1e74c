"""Run selected cells of a course notebook in one live kernel (for mutation tests).

A mutation test swaps a student's answer cell for a wrong (or a differently
written correct) answer and checks that the item's test cell fails (or passes).
Executing the whole notebook per mutant would be slow, so one kernel per
notebook runs the set-up once and then, per mutant, only the answer and its
test cell; the original answer is restored afterwards.

Usage::

    with NotebookKernel("source/synapses/01_synapse_zoo.ipynb") as nb:
        nb.run_setup()                      # every cell before the first answer
        nb.run_answers()                    # the stored answers (and locked set-up cells among them)
        ok, err = nb.try_answer("exp_conductance", MUTANT_SOURCE)
        with nb.replaced("exp_conductance", MUTANT_SOURCE):
            ok, err = nb.run(nb.hidden_tests("exp_conductance"))   # the hidden tests alone
        with nb.sandbox():                  # undo whatever a cheat patches (numpy, helpers, names)
            ok, err = nb.try_answer("exp_conductance", CHEAT_SOURCE)

The standard mutation tests built on this are in tests/mutation_suite.py.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager

ROOT = Path(__file__).resolve().parents[1]


#: The line that starts the hidden part of a test cell (nbgrader's marker).
HIDDEN_MARKER = "### BEGIN HIDDEN TESTS"

# Kernel-side code of NotebookKernel.sandbox(). Modules whose attributes a cheat may
# patch (numpy and its submodules, helpers and its submodules, builtins) and the user
# namespace are copied (shallow); the restore puts every saved binding back, deletes
# the names added to the user namespace, and forgets helpers modules first imported
# meanwhile (they could have been patched), so the next import is fresh. The two
# helper functions delete themselves and are never part of a snapshot.
_SNAPSHOT = """
def _nbkernel_snapshot():
    import sys
    watched = {name: (module, dict(vars(module))) for name, module in list(sys.modules.items())
               if module is not None and (name in ("builtins", "numpy", "helpers")
                                          or name.startswith(("numpy.", "helpers.")))}
    user = {key: value for key, value in get_ipython().user_ns.items() if not key.startswith("_nbkernel_")}
    sys.__dict__.setdefault("_nbkernel_snapshots", []).append((watched, user))
_nbkernel_snapshot()
del _nbkernel_snapshot
"""

_RESTORE = """
def _nbkernel_restore():
    import sys
    watched, user = sys._nbkernel_snapshots.pop()
    for name, (module, saved) in watched.items():
        sys.modules[name] = module
        namespace = vars(module)
        for key, value in saved.items():
            if key not in namespace or namespace[key] is not value:
                namespace[key] = value
    for name in [name for name in sys.modules
                 if (name == "helpers" or name.startswith("helpers.")) and name not in watched]:
        module = sys.modules.pop(name)
        parent, _, child = name.rpartition(".")
        if parent in sys.modules and getattr(sys.modules[parent], child, None) is module:
            delattr(sys.modules[parent], child)
    ns = get_ipython().user_ns
    for key in [key for key in ns if key not in user and not key.startswith("_nbkernel_")]:
        del ns[key]
    for key, value in user.items():
        if key not in ns or ns[key] is not value:
            ns[key] = value
_nbkernel_restore()
del _nbkernel_restore
"""


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
        # the python3 kernel of this environment (jupyter_client 8 has no kernel_cmd any more)
        self._km = KernelManager(kernel_name="python3")
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

    def answer_ids(self) -> list[str]:
        """The grade_ids of the answer code cells (nbgrader solution cells), in notebook order."""
        return answer_ids(self.nb)

    def visible_tests(self, answer_id: str) -> str:
        """The part of ``answer_id``'s test cell that students see (before the hidden marker)."""
        source = self.test_cell_for(answer_id).source
        return source[:self._hidden_start(answer_id, source)]

    def hidden_tests(self, answer_id: str) -> str:
        """The hidden part of ``answer_id``'s test cell, from its marker to the end."""
        source = self.test_cell_for(answer_id).source
        return source[self._hidden_start(answer_id, source):]

    def _hidden_start(self, answer_id, source):
        if HIDDEN_MARKER not in source:
            raise KeyError(f"the test cell of {answer_id!r} in {self.path.name} has no hidden tests")
        return source.index(HIDDEN_MARKER)

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

    def run_answers(self) -> None:
        """Run, in notebook order, every stored answer cell and every locked set-up cell
        that sits among them (a read-only code cell with a grade_id but no points, such
        as a Brian2 set-up before a later answer); fail loudly on error.

        Afterwards every item sees correct definitions of the items before it.
        """
        started = False
        for cell in self.nb.cells:
            meta = _nbgrader(cell)
            started = started or bool(meta.get("solution"))
            if not started or cell.cell_type != "code":
                continue
            if meta.get("solution") or (meta.get("locked") and meta.get("grade_id") and not meta.get("grade")):
                ok, err = self.run(cell.source)
                if not ok:
                    raise RuntimeError(f"cell {meta.get('grade_id')} of {self.path.name} failed: {err}")

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
        self.restore(answer_id)
        return ok, err

    def restore(self, answer_id: str) -> None:
        """Re-run the stored answer ``answer_id``; fail loudly if it does not run."""
        restored, rerr = self.run(self.cell(answer_id).source)
        if not restored:
            raise RuntimeError(f"could not restore {answer_id}: {rerr}")

    @contextmanager
    def replaced(self, answer_id: str, source: str):
        """Run ``source`` in place of answer ``answer_id`` (it must run), then the block;
        the stored answer is re-run on exit, also when the block fails."""
        try:
            ok, err = self.run(source)
            assert ok, f"the replacement of {answer_id} does not run: {err}"
            yield
        finally:
            self.restore(answer_id)

    @contextmanager
    def sandbox(self):
        """Undo, on exit, what the block's code did to the kernel: names it added to or
        rebound in the user namespace, attributes it patched in numpy, helpers (and
        their submodules) or builtins, helpers modules it imported. For cheats that
        patch what the checks use, and for stubs that delete answers."""
        ok, err = self.run(_SNAPSHOT)
        if not ok:
            raise RuntimeError(f"could not snapshot the kernel: {err}")
        try:
            yield
        finally:
            ok, err = self.run(_RESTORE)
            if not ok:
                raise RuntimeError(f"could not restore the kernel: {err}")

    def close(self) -> None:
        try:
            self._kc.stop_channels()
        finally:
            self._km.shutdown_kernel(now=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def answer_ids(nb) -> list[str]:
    """The grade_ids of a notebook's answer code cells (nbgrader solution cells), in order."""
    return [_nbgrader(cell)["grade_id"] for cell in nb.cells
            if cell.cell_type == "code" and _nbgrader(cell).get("solution")]
