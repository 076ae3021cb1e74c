"""Autograding cost: nbgrader against bare execution, and serial against 2 workers.

Two measurements, each in throw-away nbgrader courses made from ``source/``
(``coursekit.release.make_course`` + ``nbgrader generate_assignment``):

(a) **one student**, every notebook, the model solutions (the source
    notebooks): the real ``nbgrader autograde synapses --student complete
    --force`` against ``jupyter nbconvert --execute --to notebook`` of the same
    notebooks in one command (one kernel per notebook in both). The ratio is
    what nbgrader's own work (sanitizing, restoring hidden tests, writing the
    gradebook, process start-up) adds to running the code.
(b) **a small class** of four students, every notebook: ``complete`` (source
    notebooks), ``blank`` (release notebooks), ``typo`` (a NameError in the
    first answer of the last notebook) and ``halfway`` (the first half of the
    notebooks only), autograded with
    :func:`coursekit.pipeline.engine.autograde` serially (``workers=1``) and
    with 2 process workers, each in its own copy of the course. The two
    gradebooks must agree (an ``AssertionError`` otherwise); the ratio is
    serial time / parallel time (the speed-up).

The two sides of each ratio run one after the other, so they see the same
machine load; on a shared machine the figures move with the load, which
``run()`` records (``loadavg_1min_start``).

Usage: ``python benchmarks/bench_autograde.py [--notebooks 04,05] [--skip-single] [--skip-class]``
(``--notebooks`` picks notebooks by prefix, for a quick run).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

import nbformat  # noqa: E402

from coursekit import release as rel  # noqa: E402
from coursekit import course as ck
from coursekit.pipeline import engine as par  # noqa: E402

ASSIGNMENT = ck.ASSIGNMENT_ID
#: Seconds any one command may take.
TIMEOUT = 3600.0
CLASS = ("complete", "blank", "typo", "halfway")


def _notebooks(prefixes: list[str] | None) -> list[str]:
    names = rel.notebook_names(ck.SOURCE_DIR)
    if prefixes:
        names = [n for n in names if n.startswith(tuple(prefixes))]
    if not names:
        raise SystemExit(f"no notebooks in {ck.SOURCE_DIR} match {prefixes}")
    return names


def _course(tmp: Path, names: list[str]) -> Path:
    src = tmp / "src"
    src.mkdir(parents=True)
    for name in names:
        shutil.copy(ck.SOURCE_DIR / name, src / name)
    root = rel.make_course(tmp / "course", src)
    ck.run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"], root, timeout=600)
    return root


def _submit(root: Path, student: str, folder: Path, names: list[str], edit=None) -> None:
    dest = root / "submitted" / student / ASSIGNMENT
    dest.mkdir(parents=True)
    for name in names:
        nb = nbformat.read(folder / name, as_version=4)
        if edit is not None:
            edit(name, nb)
        nbformat.write(nb, dest / name)


def _typo(target: str):
    def edit(name, nb):
        if name == target:
            for cell in nb.cells:
                if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
                    cell.source = "undefined_name_typo\n" + cell.source
                    return
    return edit


def _nbconvert_env() -> dict[str, str]:
    """The environment nbgrader's kernels get: this venv's kernelspec first."""
    env = ck.nbgrader_env()
    share = os.path.join(sys.prefix, "share", "jupyter")
    env["JUPYTER_PATH"] = os.pathsep.join([share] + [p for p in env.get("JUPYTER_PATH", "").split(os.pathsep) if p])
    return env


def bench_single(names: list[str]) -> dict:
    """(a) One student: nbgrader autograde against nbconvert --execute."""
    with tempfile.TemporaryDirectory(prefix="bench-autograde-") as tmp_name:
        tmp = Path(tmp_name)
        root = _course(tmp, names)
        _submit(root, "complete", root / "source" / ASSIGNMENT, names)
        bare = tmp / "bare"
        shutil.copytree(root / "source" / ASSIGNMENT, bare)
        out_dir = tmp / "executed"
        cmd = [sys.executable, "-m", "jupyter", "nbconvert", "--execute", "--to", "notebook",
               "--output-dir", str(out_dir), "--ExecutePreprocessor.timeout=600",
               *[str(bare / n) for n in names]]
        start = time.monotonic()
        proc = subprocess.run(cmd, cwd=bare, env=_nbconvert_env(), capture_output=True, text=True,
                              timeout=TIMEOUT)
        nbconvert_s = time.monotonic() - start
        if proc.returncode != 0:
            raise RuntimeError(f"nbconvert failed:\n{proc.stderr[-3000:]}")
        ag = ck.run_nbgrader(["autograde", ASSIGNMENT, "--student", "complete", "--force"], root,
                              timeout=TIMEOUT)
        scores = par.gradebook_rows(root / "gradebook.db", ASSIGNMENT, ["complete"])["grades"]
        lost = [r[1:3] for r in scores if r[4] == 0]  # the model solution should lose nothing
    return {
        "single_notebooks": len(names),
        "single_nbconvert_s": nbconvert_s,
        "single_autograde_s": ag.elapsed,
        "autograde_over_nbconvert_ratio": ag.elapsed / nbconvert_s,
        "single_zero_scored_tests": len(lost),
    }


def bench_class(names: list[str], workers: int = 2) -> dict:
    """(b) Four students: serial against ``workers`` process workers; same gradebook."""
    with tempfile.TemporaryDirectory(prefix="bench-class-") as tmp_name:
        tmp = Path(tmp_name)
        base = _course(tmp / "base", names)
        source, released = base / "source" / ASSIGNMENT, base / "release" / ASSIGNMENT
        _submit(base, "complete", source, names)
        _submit(base, "blank", released, names)
        _submit(base, "typo", source, names, _typo(names[-1]))
        _submit(base, "halfway", source, names[: max(1, len(names) // 2)])
        serial_root = shutil.copytree(base, tmp / "serial")
        parallel_root = shutil.copytree(base, tmp / "parallel")
        start = time.monotonic()
        serial = par.autograde(serial_root, list(CLASS), workers=1, timeout=TIMEOUT)
        serial_s = time.monotonic() - start
        start = time.monotonic()
        parallel = par.autograde(parallel_root, list(CLASS), workers=workers, timeout=TIMEOUT)
        parallel_s = time.monotonic() - start
        failed = [s for s in CLASS if not (serial[s].ok and parallel[s].ok)]
        if failed:
            raise RuntimeError(f"autograde failed for {failed}:\n"
                               + "\n".join((serial[s].log_tail + parallel[s].log_tail)[-2000:] for s in failed))
        rows_serial = par.gradebook_rows(serial_root / "gradebook.db", ASSIGNMENT)
        rows_parallel = par.gradebook_rows(parallel_root / "gradebook.db", ASSIGNMENT)
        assert rows_serial == rows_parallel, "parallel autograde recorded different grades than the serial run"
        totals = {s: sum(r[4] or 0 for r in rows_serial["grades"] if r[0] == s) for s in CLASS}
    return {
        "class_students": len(CLASS),
        "class_notebooks": len(names),
        "class_workers": workers,
        "class_serial_s": serial_s,
        "class_parallel_s": parallel_s,
        "serial_over_parallel_ratio": serial_s / parallel_s,
        "class_parallel_execute_s_sum": sum(o.detail["worker_seconds"] for o in parallel.values()),
        "class_parallel_replay_s_sum": sum(o.detail["replay_seconds"] for o in parallel.values()),
        "class_same_gradebook": True,
        "class_total_scores": totals,
    }


def run(notebooks: list[str] | None = None, single: bool = True, klass: bool = True) -> dict:
    """Both measurements; returns the figures (times in s, ratios dimensionless)."""
    names = _notebooks(notebooks)
    figures = {"cpu_count": os.cpu_count(), "loadavg_1min_start": os.getloadavg()[0]}
    if single:
        figures.update(bench_single(names))
    if klass:
        figures.update(bench_class(names))
    figures["loadavg_1min_end"] = os.getloadavg()[0]
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebooks", default="", help="comma-separated notebook prefixes, e.g. 04,05")
    parser.add_argument("--skip-single", action="store_true", help="skip (a), one student")
    parser.add_argument("--skip-class", action="store_true", help="skip (b), the class")
    args = parser.parse_args(argv)
    prefixes = [p for p in args.notebooks.split(",") if p] or None
    figures = run(prefixes, single=not args.skip_single, klass=not args.skip_class)
    print(f"machine: {figures['cpu_count']} cores, load average {figures['loadavg_1min_start']:.1f} "
          f"-> {figures['loadavg_1min_end']:.1f}")
    if "single_autograde_s" in figures:
        print(f"(a) one student, {figures['single_notebooks']} notebooks: nbgrader autograde "
              f"{figures['single_autograde_s']:.1f} s, nbconvert --execute {figures['single_nbconvert_s']:.1f} s; "
              f"ratio {figures['autograde_over_nbconvert_ratio']:.2f}")
    if "class_serial_s" in figures:
        print(f"(b) {figures['class_students']} students x {figures['class_notebooks']} notebooks: serial "
              f"{figures['class_serial_s']:.1f} s, {figures['class_workers']} workers "
              f"{figures['class_parallel_s']:.1f} s; speed-up (serial / parallel) "
              f"{figures['serial_over_parallel_ratio']:.2f}; same gradebook: {figures['class_same_gradebook']}")
        print(f"    parallel: execution {figures['class_parallel_execute_s_sum']:.1f} s summed over workers, "
              f"replay {figures['class_parallel_replay_s_sum']:.1f} s summed (the single writer)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
