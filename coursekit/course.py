"""The course's foundation: where it lives, its one assignment, and how nbgrader is run.

Everything else in :mod:`coursekit` that needs the repository root, the
assignment id or an nbgrader subprocess takes it from here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Sequence

from coursekit import processes

__all__ = [
    "REPO_ROOT",
    "ASSIGNMENT_ID",
    "CONFIG_FILE",
    "SOURCE_DIR",
    "RELEASE_DIR",
    "NbgraderError",
    "interpreter_path",
    "nbgrader_env",
    "run_nbgrader",
    "RUN_MARKER",
]

#: The course's one nbgrader assignment.
ASSIGNMENT_ID = "synapses"
#: Repository root, which is also the nbgrader course root.
REPO_ROOT = Path(__file__).resolve().parents[1]
#: The course's nbgrader configuration (its directory is the course root).
CONFIG_FILE = REPO_ROOT / "nbgrader_config.py"
#: Instructor notebooks (solutions and hidden tests).
SOURCE_DIR = REPO_ROOT / "source" / ASSIGNMENT_ID
#: Student notebooks made by ``nbgrader generate_assignment`` (committed).
RELEASE_DIR = REPO_ROOT / "release" / ASSIGNMENT_ID



class NbgraderError(RuntimeError):
    """An nbgrader command failed; the message carries its command and log."""


# --------------------------------------------------------------------- running nbgrader
def interpreter_path(path: str) -> str:
    """``path`` (a ``PATH`` value) with this interpreter's ``bin`` first, once.

    nbgrader creates a gradebook by running the ``alembic`` script it finds on
    ``PATH`` (``nbgrader.api.get_alembic_version``), and the course's venv need
    not be activated. (``nbgrader_config.py`` does the same for a bare
    ``nbgrader`` command, which may run without this package.)

    >>> import os, sys
    >>> interpreter_path("/usr/bin").split(os.pathsep) == [os.path.dirname(sys.executable), "/usr/bin"]
    True
    >>> interpreter_path(interpreter_path("/usr/bin")) == interpreter_path("/usr/bin")
    True
    """
    bindir = os.path.dirname(sys.executable)
    return os.pathsep.join([bindir] + [p for p in path.split(os.pathsep) if p and p != bindir])


def nbgrader_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for an nbgrader subprocess that sees only the course config.

    ``JUPYTER_NO_CONFIG=1`` hides user- and system-level ``nbgrader_config.py``
    files (``~/.jupyter`` and friends), so only the ``nbgrader_config.py`` in the
    working directory (the course root) applies and results do not depend on the
    machine. ``SYNAPSES_*`` variables inherited from the caller are dropped, so the
    config's defaults (relative to its own directory) apply unless ``extra`` sets
    them. This interpreter's ``bin`` goes first on ``PATH``: nbgrader runs the
    ``alembic`` script from ``PATH`` when it creates a gradebook, and the venv
    need not be activated.

    Parameters
    ----------
    extra : dict of str to str, optional
        Variables to add or override.

    Returns
    -------
    dict of str to str
        A copy of ``os.environ`` with these changes.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNAPSES_")}
    env["JUPYTER_NO_CONFIG"] = "1"
    env["PATH"] = interpreter_path(env.get("PATH", ""))
    env.setdefault("MPLBACKEND", "Agg")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if extra:
        env.update(extra)
    return env


#: Environment variable that tags every process of one :func:`run_nbgrader` call.
RUN_MARKER = "SYNAPSES_NBGRADER_RUN"


def run_nbgrader(
    args: Sequence[str],
    course_root: str | os.PathLike,
    *,
    timeout: float,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess:
    """Run ``nbgrader <args>`` in ``course_root`` with this interpreter.

    Every process of the run (nbgrader and the kernels it starts) carries a
    unique ``SYNAPSES_NBGRADER_RUN`` environment variable. Processes still alive
    after nbgrader exits (or is killed on timeout) are killed and their ids are
    reported in the result's ``leftover_pids`` attribute, so a stuck kernel can
    neither outlive the command nor go unnoticed.

    Parameters
    ----------
    args : sequence of str
        Arguments after ``nbgrader``, e.g. ``["autograde", "synapses"]``.
    course_root : path
        Working directory; its ``nbgrader_config.py`` makes it the course root.
    timeout : float
        Seconds before the command and its kernels are killed and
        :class:`subprocess.TimeoutExpired` is raised.
    env : dict, optional
        Environment; default :func:`nbgrader_env`.
    check : bool, optional
        Raise :class:`NbgraderError` with the log if the exit status is not 0
        or if nbgrader could not load ``nbgrader_config.py`` (it only logs that
        and goes on with its defaults).

    Returns
    -------
    subprocess.CompletedProcess
        With text ``stdout`` and ``stderr`` (nbgrader logs to stderr), plus
        ``elapsed`` (s) and ``leftover_pids`` (list of int).
    """
    cmd = [sys.executable, "-m", "nbgrader", *args]
    marker = uuid.uuid4().hex
    env = dict(nbgrader_env() if env is None else env)
    env[RUN_MARKER] = marker
    start = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        cwd=str(course_root),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        processes.kill_tagged(RUN_MARKER, marker, also=[proc.pid])
        out, err = proc.communicate()
        processes.kill_tagged(RUN_MARKER, marker)
        raise subprocess.TimeoutExpired(cmd, timeout, output=out, stderr=err) from None
    leftover = processes.kill_tagged(RUN_MARKER, marker)
    result = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    result.elapsed = time.monotonic() - start
    result.leftover_pids = leftover
    if check and "Exception while loading config file" in err:
        # nbgrader logs this and carries on without the course configuration
        raise NbgraderError(f"nbgrader could not load {course_root}/nbgrader_config.py:\n{err[-6000:]}")
    if check and proc.returncode != 0:
        raise NbgraderError(
            f"`nbgrader {' '.join(args)}` in {course_root} exited with status "
            f"{proc.returncode}:\n{err[-6000:]}"
        )
    return result
