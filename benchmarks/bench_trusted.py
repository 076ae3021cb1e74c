"""Trusted grading: what the sandbox and the out-of-kernel hidden tests cost.

Two ratios, each measured in one run with the two sides interleaved (so both
see the same machine load):

(a) **autograde of one complete student**, every notebook (the model
    solutions): the real ``nbgrader autograde synapses --student complete
    --force`` with the course's configuration (``TrustedExecute``: sandboxed
    kernel, sandboxed grader running the test cells) against the same command
    with nbgrader's own ``Execute`` (today's engine before this change: every
    cell, hidden tests included, in an unsandboxed kernel). Goal: at most 1.15.
(b) **kernel start-up**: a sandboxed kernel (the launcher, Landlock, seccomp,
    rlimits, IPC sockets, its scratch folder and run-time copy of ``helpers``)
    from ``start_kernel`` to its first ``kernel_info`` reply, against a plain
    ``AsyncKernelManager`` kernel on TCP.

Usage: ``python benchmarks/bench_trusted.py [--notebooks 04,05] [--repeat 2]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
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
ASSIGNMENT = ck.ASSIGNMENT_ID
#: Today's engine: nbgrader's default autograde preprocessors, Execute included.
PLAIN = ("--Autograde.autograde_preprocessors=['nbgrader.preprocessors.Execute',"
         "'nbgrader.preprocessors.IgnorePattern','nbconvert.preprocessors.ClearMetadataPreprocessor',"
         "'nbgrader.preprocessors.LimitOutput','nbgrader.preprocessors.SaveAutoGrades',"
         "'nbgrader.preprocessors.AssignLatePenalties','nbgrader.preprocessors.CheckCellMetadata']")


def _course(base: Path, prefixes: list[str] | None) -> Path:
    from nbgrader.api import Gradebook
    root = rel.make_course(base / "course")
    source = root / "source" / ASSIGNMENT
    if prefixes:
        for nb in source.glob("*.ipynb"):
            if not any(nb.name.startswith(p) for p in prefixes):
                nb.unlink()
    ck.run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"], root, timeout=600)
    dest = root / "submitted" / "complete" / ASSIGNMENT
    dest.mkdir(parents=True)
    for nb in sorted(source.glob("*.ipynb")):
        nbformat.write(nbformat.read(nb, as_version=4), dest / nb.name)
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        gb.add_student("complete")
    return root


def _autograde(root: Path, extra: tuple[str, ...]) -> float:
    start = time.perf_counter()
    ck.run_nbgrader(["autograde", ASSIGNMENT, "--student", "complete", "--force", *extra], root, timeout=1800)
    return time.perf_counter() - start


def _scores(root: Path) -> dict:
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return {nb.name: nb.score for nb in gb.find_submission(ASSIGNMENT, "complete").notebooks}


async def _start(km) -> float:
    start = time.perf_counter()
    await km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=120)
        return time.perf_counter() - start
    finally:
        kc.stop_channels()
        await km.shutdown_kernel(now=True)


def kernel_startup(repeat: int) -> tuple[list[float], list[float]]:
    from jupyter_client.manager import AsyncKernelManager

    from coursekit.grading import sandbox
    from coursekit.grading.kernel import SandboxedKernelManager

    plain, boxed = [], []
    for _ in range(repeat):
        plain.append(asyncio.run(_start(AsyncKernelManager(kernel_name="python3"))))
        with tempfile.TemporaryDirectory(prefix="bench-kernel-") as scratch:
            policy = sandbox.Policy(read=sandbox.runtime_read_paths(), write=(scratch,))
            km = SandboxedKernelManager.bound(scratch, policy)(kernel_name="python3")
            boxed.append(asyncio.run(_start(km)))
    return plain, boxed


def run(notebooks: str = "", repeat: int = 2) -> dict:
    prefixes = [p for p in notebooks.split(",") if p] or None
    figures: dict = {"loadavg_1min_start": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="bench-trusted-") as tmp:
        root = _course(Path(tmp), prefixes)
        trusted, plain = [], []
        for _ in range(repeat):
            plain.append(_autograde(root, (PLAIN,)))
            plain_scores = _scores(root)
            trusted.append(_autograde(root, ()))
            trusted_scores = _scores(root)
            if plain_scores != trusted_scores:
                raise AssertionError(f"the engines disagree: {plain_scores} vs {trusted_scores}")
        figures.update(notebooks=len(plain_scores), autograde_plain_s=statistics.median(plain),
                       autograde_trusted_s=statistics.median(trusted))
        figures["autograde_trusted_over_plain_ratio"] = figures["autograde_trusted_s"] / figures["autograde_plain_s"]
        figures["autograde_goal_met"] = figures["autograde_trusted_over_plain_ratio"] <= 1.15
    plain_k, boxed_k = kernel_startup(max(3, repeat * 2))
    figures.update(kernel_start_plain_s=statistics.median(plain_k), kernel_start_sandboxed_s=statistics.median(boxed_k))
    figures["kernel_start_sandboxed_over_plain_ratio"] = (figures["kernel_start_sandboxed_s"]
                                                          / figures["kernel_start_plain_s"])
    figures["loadavg_1min_end"] = os.getloadavg()[0]
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", default="", help="comma-separated prefixes, e.g. 04,05")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    for key, value in run(args.notebooks, args.repeat).items():
        print(f"{key}: {value:.3g}" if isinstance(value, float) else f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
