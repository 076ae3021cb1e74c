"""Bounded resources of trusted grading: the instructor's process under a student's floods (issue 18).

Each case grades the small notebook of ``tests/test_trusted.py`` with
:class:`coursekit.grading.execute.TrustedExecute` (the step ``nbgrader autograde`` runs)
in a fresh Python process, which reports its peak resident memory (``VmHWM``)
and the grading time:

* ``honest``: the right answers (the baseline of the ratios);
* ``string``: a right ``double`` and a ``verdict`` of 600 MiB;
* ``print``: a right ``double`` whose cell prints 1 GiB (1 MiB writes);
* ``print_bypass``: the same past the kernel's courtesy cap (``OutStream.write`` called directly), so
  only the grader's own bounds stand;
* ``slow``: a right ``double`` that sleeps 8 s per call, a test cell deadline of 20 s.

Figures: ``<case>_rss_ratio`` (peak RSS over the honest student's, measured in
this run), ``slow_time_over_deadline`` (the slow caller's grading time over its
test cell's deadline) and the verdicts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEADLINE = 20

CHILD = r"""
import json, sys, tempfile, threading, time
from pathlib import Path
sys.path.insert(0, sys.argv[2])
import nbformat, test_trusted as tt
from trusted_grading import verdict
case, deadline = sys.argv[1], int(sys.argv[3])
floods = {
    "honest": {},
    "string": {"verdict": "verdict = 'x' * (600 << 20)\n"},
    "print": {"before": "import sys\nfor _ in range(1024):\n    sys.stdout.write('y' * (1 << 20))\n"},
    "print_bypass": {"before": "import sys\nfor _ in range(1024):\n    type(sys.stdout).write(sys.stdout, 'y' * (1 << 20))\n"},
    "slow": {"double": "import time\ndef double(x):\n    time.sleep(8)\n    return 2 * np.asarray(x, dtype=float)\n"},
}
work = Path(tempfile.mkdtemp(prefix="bench-floods-"))
src = work / "src.ipynb"
nbformat.write(tt.instructor_notebook(), src)
start = time.monotonic()
cells = tt.grade(src, tt.submission(**floods[case]), work, timeout=deadline, call_timeout=30)
elapsed = time.monotonic() - start
hwm = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")][0] / 1024
size = len(json.dumps([c.get("outputs", []) for c in cells.values()]))
print("RESULT " + json.dumps({"rss_mib": hwm, "seconds": elapsed, "output_bytes": size,
                              "verdicts": {k: verdict(c)[:80] for k, c in cells.items() if k.startswith("test")}}))
"""


def _case(case: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, case, str(REPO / "tests"), str(DEADLINE)],
                          capture_output=True, text=True, timeout=900, cwd=REPO)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    if not lines:
        raise SystemExit(f"bench_floods: the {case} case did not finish (status {proc.returncode}): "
                         f"{proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(lines[-1][len("RESULT "):])


def run() -> dict:
    results = {case: _case(case) for case in ("honest", "string", "print", "print_bypass", "slow")}
    base = results["honest"]["rss_mib"]
    figures = {}
    for case, r in results.items():
        figures[f"{case}_rss_mib"] = r["rss_mib"]
        figures[f"{case}_rss_ratio"] = r["rss_mib"] / base
        figures[f"{case}_seconds"] = r["seconds"]
        figures[f"{case}_output_bytes"] = r["output_bytes"]
        figures[f"{case}_verdicts"] = r["verdicts"]
    figures["slow_time_over_deadline"] = results["slow"]["seconds"] / DEADLINE
    return figures


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
