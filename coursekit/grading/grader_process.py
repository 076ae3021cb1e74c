"""The grader's process, seen from the instructor's side, and the trusted sources it runs.

:class:`GraderProcess` starts ``python -m coursekit.grading.grader`` under
:mod:`coursekit.grading.sandbox` in its own scratch folder and talks to it over a
socket pair (:class:`coursekit.grading.grader.Channel`); :func:`trusted_sources`
reads the locked cells it runs from the gradebook, never from the submission;
:func:`_remove_orphaned_scratch` removes what killed grading runs left behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

from nbgrader import utils as nbgrader_utils

from coursekit.grading import sandbox
from coursekit.grading.grader import Channel, ChannelClosed
from coursekit.grading.scratch import _scratch, sandbox_env


class GraderProcess:
    """The parent's handle of one sandboxed grader (:mod:`coursekit.grading.grader`)."""

    def __init__(self, root: Path, policy: sandbox.Policy | None):
        self.dirs = _scratch(root)
        parent, child = socket.socketpair()
        cmd = [sys.executable, "-m", "coursekit.grading.grader", str(child.fileno())]
        if policy is not None:
            cmd = sandbox.command(cmd, policy)
        self.log_path = root / "grader.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, pass_fds=[child.fileno()], env=sandbox_env(self.dirs),
                                         cwd=self.dirs["work"], stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        child.close()
        self.channel = Channel(parent)
        self.ready = False
        #: set-up cells sent whose "done" has not been read yet
        self.pending = 0

    def wait_ready(self, timeout: float) -> None:
        if not self.ready:
            message = self.channel.receive(timeout=timeout)
            if message.get("op") != "ready":
                raise ChannelClosed("the grader did not start")
            self.ready = True

    def log_tail(self, size: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-size:]
        except OSError:
            return ""

    def kill(self) -> None:
        try:
            self.channel.sock.close()
        except OSError:
            pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def _remove_orphaned_scratch(parent: Path) -> None:
    """Remove scratch folders left by grading processes that were killed (their pid is gone)."""
    for path in parent.glob("synapses-grading-*-*"):
        pid = path.name.split("-")[2]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:
            pass  # alive, someone else's


def trusted_sources(resources: dict | None, source_path: str = "") -> dict[str, str]:
    """Sources of the locked code cells, by grade id: from the gradebook, never from the submission.

    nbgrader's resources name the gradebook, notebook and assignment; outside
    nbgrader (tests, benchmarks) ``source_path`` names the instructor notebook.
    """
    nbg = (resources or {}).get("nbgrader") or {}
    if nbg.get("db_url") and nbg.get("notebook") and nbg.get("assignment"):
        from nbgrader.api import Gradebook
        with Gradebook(nbg["db_url"]) as gb:
            notebook = gb.find_notebook(nbg["notebook"], nbg["assignment"])
            return {c.name: c.source for c in notebook.source_cells if c.locked and c.cell_type == "code"}
    if source_path:
        import nbformat
        nb = nbformat.read(source_path, as_version=4)
        return {c.metadata.nbgrader["grade_id"]: c.source for c in nb.cells
                if c.cell_type == "code" and nbgrader_utils.is_locked(c) and "grade_id" in c.metadata.get("nbgrader", {})}
    raise ValueError("TrustedExecute needs nbgrader's gradebook (db_url, notebook, assignment) or "
                     "TrustedExecute.source_path to know which cells are the instructor's")
