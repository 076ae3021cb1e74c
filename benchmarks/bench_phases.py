"""Where one honest student's grading time goes: a per-phase breakdown, measured in one run.

One student (the model solutions: the source notebooks) is autograded with the real
``nbgrader autograde synapses --student complete --force`` in a throw-away course, with the
log at DEBUG level and a timestamp on every line. The phases come from three records of that
one run, none of them an estimate:

* the autograded notebooks' ``metadata.execution`` (nbclient's ``record_timing`` for the
  cells the student's kernel ran; the trusted grader stamps the test cells it ran the same
  way): **the set-up cells** (the course's locked cells: imports, figures, demos),
  **the student's cells** and **the grader's test cells** (their wall time, which includes
  the calls the grader makes into the student's kernel);
* ``TrustedExecute``'s debug line per notebook ("N calls to the student's kernel in X s;
  notebook Y s"): **the grader's calls** into the kernel and each notebook's whole
  execution;
* the wall time of the command: what is left is **nbgrader's own work** (its start-up,
  sanitizing, restoring hidden tests, the gradebook).

**Start-up** (kernel and grader processes started, sandboxed, imports done, up to the first
cell) is each notebook's execution minus its cells. Beside the run, the same imports the
kernel and the grader pay (``numpy, scipy.integrate, matplotlib.pyplot, brian2, ipykernel``)
are timed in a fresh interpreter, wall and CPU, so the start-up can be read against them.

The one ratio is the start-up share of the whole run (``startup_over_total_ratio``): the part
that a warm pool of pre-imported processes would remove.

Usage: ``python benchmarks/bench_phases.py [--notebooks 04,05]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import nbformat  # noqa: E402

from coursekit import course as ck
from bench_autograde import ASSIGNMENT, TIMEOUT, _course, _notebooks, _submit  # noqa: E402

IMPORTS = "import numpy, scipy.integrate, matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot, brian2, ipykernel"
#: TrustedExecute's debug line, one per notebook
NOTEBOOK_LINE = re.compile(r"Trusted grading: (\d+) calls to the student's kernel in ([\d.]+) s; notebook ([\d.]+) s")


def _stamp(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def cell_times(nb: nbformat.NotebookNode) -> dict[str, float]:
    """Seconds in one autograded notebook's cells: the kernel's locked set-up and demo cells (the
    imports are in the first), the student's own cells, and the grader's test cells."""
    times = {"setup_cells_s": 0.0, "student_cells_s": 0.0, "grader_cells_s": 0.0}
    for cell in nb.cells:
        ex = cell.get("metadata", {}).get("execution", {})
        start, end = ex.get("iopub.execute_input"), ex.get("shell.execute_reply")
        if not (start and end):
            continue
        seconds = (_stamp(end) - _stamp(start)).total_seconds()
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            times["grader_cells_s"] += seconds
        elif meta.get("locked") and not meta.get("solution"):  # the course's set-up and demo cells
            times["setup_cells_s"] += seconds
        else:
            times["student_cells_s"] += seconds
    return times


def time_imports() -> dict[str, float]:
    """Wall and CPU seconds of the kernel's and the grader's imports in a fresh interpreter."""
    code = ("import resource, time; t = time.perf_counter(); " + IMPORTS + "; "
            "r = resource.getrusage(resource.RUSAGE_SELF); "
            "print(time.perf_counter() - t, r.ru_utime + r.ru_stime)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "MPLBACKEND": "Agg"}, timeout=300).stdout.split()
    return {"imports_wall_s": float(out[0]), "imports_cpu_s": float(out[1])}


def run(notebooks: list[str] | None = None) -> dict:
    """The breakdown of one honest student's autograding (times in s)."""
    names = _notebooks(notebooks)
    figures: dict = {"cpu_count": os.cpu_count(), "loadavg_1min_start": os.getloadavg()[0], "notebooks": len(names)}
    figures.update(time_imports())
    with tempfile.TemporaryDirectory(prefix="bench-phases-") as tmp_name:
        root = _course(Path(tmp_name), names)
        _submit(root, "complete", root / "source" / ASSIGNMENT, names)
        start = time.monotonic()
        proc = ck.run_nbgrader(["autograde", ASSIGNMENT, "--student", "complete", "--force",
                                 "--log-level=DEBUG"], root, timeout=TIMEOUT)
        total = time.monotonic() - start
        log = (proc.stdout or "") + (proc.stderr or "")
        per_nb = [tuple(map(float, m.groups())) for m in NOTEBOOK_LINE.finditer(log)]
        if len(per_nb) != len(names):
            raise RuntimeError(f"expected {len(names)} 'Trusted grading' lines, found {len(per_nb)}:\n{log[-3000:]}")
        cells = {"setup_cells_s": 0.0, "student_cells_s": 0.0, "grader_cells_s": 0.0}
        per_notebook = {}
        for name, (_, _, whole) in zip(names, per_nb):
            nb = nbformat.read(root / "autograded" / "complete" / ASSIGNMENT / name, as_version=4)
            times = cell_times(nb)
            per_notebook[name] = {"executed_s": whole, **times}
            for key in cells:
                cells[key] += times[key]
    executed = sum(n for _, _, n in per_nb)
    calls = sum(c for c, _, _ in per_nb)
    rpc = sum(r for _, r, _ in per_nb)
    startup = executed - sum(cells.values())
    figures.update({
        "total_s": total,
        "startup_s": startup,
        "startup_per_notebook_s": startup / len(names),
        "setup_cells_s": cells["setup_cells_s"],
        "student_cells_s": cells["student_cells_s"],
        "grader_test_cells_s": cells["grader_cells_s"],
        "grader_calls_into_kernel": calls,
        "grader_calls_into_kernel_s": rpc,
        "nbgrader_own_s": total - executed,
        "startup_over_total_ratio": startup / total,
        "loadavg_1min_end": os.getloadavg()[0],
        "per_notebook": per_notebook,
    })
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebooks", default="", help="comma-separated notebook prefixes, e.g. 04,05")
    args = parser.parse_args(argv)
    figures = run([p for p in args.notebooks.split(",") if p] or None)
    print(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
