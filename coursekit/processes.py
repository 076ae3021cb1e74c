"""Finding and killing the processes of one run by an environment tag (psutil).

Every nbgrader command the course starts carries a tag in its environment
(``SYNAPSES_NBGRADER_RUN``, ``SYNAPSES_AUTOGRADE_RUN``, ``SYNAPSES_AUTOGRADE_TASK``),
and so does every kernel it starts: kernels inherit the environment but run in
sessions of their own (jupyter_client uses ``start_new_session``), so the tag,
not the process tree, is how a run's leftovers are found.

>>> import os, subprocess, sys
>>> child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
...                          env={**os.environ, "DOCTEST_TAG": "x1"})
>>> import time; time.sleep(0.2)
>>> tagged("DOCTEST_TAG", "x1") == [child.pid]
True
>>> kill_tagged("DOCTEST_TAG", "x1") == [child.pid]
True
>>> child.wait()
-9
>>> tagged("DOCTEST_TAG", "x1")
[]
"""

from __future__ import annotations

import os
import signal
from typing import Iterable

import psutil

__all__ = ["tagged", "kill", "kill_tagged"]


def tagged(name: str, value: str) -> list[int]:
    """Ids of live processes (this one excluded) whose environment has ``name=value``.

    Processes of other users, and zombies, whose environment cannot be read are
    skipped.

    Parameters
    ----------
    name, value : str
        The environment variable and its value.

    Returns
    -------
    list of int
        Sorted process ids.
    """
    me = os.getpid()
    pids = []
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == me:
            continue
        try:
            if proc.environ().get(name) == value:
                pids.append(proc.pid)
        except (psutil.Error, OSError):
            continue
    return sorted(pids)


def kill(pids: Iterable[int]) -> list[int]:
    """SIGKILL each of ``pids``; those already gone or not ours are skipped.

    Returns
    -------
    list of int
        The ids that were signalled.
    """
    done = []
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue
        done.append(pid)
    return done


def kill_tagged(name: str, value: str, also: Iterable[int] = ()) -> list[int]:
    """Kill every process tagged ``name=value`` (and the ids in ``also``).

    Returns
    -------
    list of int
        The tagged ids found (those in ``also`` are not reported).
    """
    kill(also)
    pids = tagged(name, value)
    kill(pids)
    return pids
