"""How the pipeline calls nbgrader: the run tag, one tagged command, and the autograde preprocessor lists.

Every process a ``make grade`` run starts carries :data:`RUN_TAG` in its
environment, so the run can find and kill what outlives it
(:func:`coursekit.processes.kill_tagged`). The preprocessor lists of the
three kinds of autograde run (a parallel worker, the replay into the
gradebook, the rescue) are all made by :func:`autograde_preprocessors` from
the course's configured list.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from coursekit import course as ck

__all__ = ["RUN_TAG", "COMMAND_TIMEOUT", "ROLES", "nbgrader", "autograde_preprocessors"]

#: Environment variable carried by every process of one ``make grade`` run (value: the run's id).
RUN_TAG = "SYNAPSES_AUTOGRADE_RUN"
#: Seconds one nbgrader command other than autograde may take.
COMMAND_TIMEOUT = 900.0
#: The kinds of autograde run :func:`autograde_preprocessors` makes a list for.
ROLES = ("worker", "replay", "rescue")


def nbgrader(args: list[str], cwd: Path, tag: str, timeout: float = COMMAND_TIMEOUT,
             check: bool = True) -> subprocess.CompletedProcess:
    """``nbgrader <args>`` in ``cwd`` (:func:`coursekit.course.run_nbgrader`), its processes tagged ``tag``."""
    return ck.run_nbgrader(args, cwd, timeout=timeout, env=ck.nbgrader_env({RUN_TAG: tag}), check=check)


def _dotted(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def autograde_preprocessors(configured: list[dict[str, Any]], role: str) -> list[str]:
    """The autograde preprocessor list of a worker, of the replay or of the rescue run.

    Parameters
    ----------
    configured : list of dict
        ``{"name": "module.Class", "execute": bool}`` per configured
        preprocessor, in order (``execute`` marks subclasses of nbconvert's
        ``ExecutePreprocessor``): :attr:`coursekit.settings.CourseSettings.autograde_preprocessors`.
    role : {"worker", "replay", "rescue"}
        ``"worker"``: the configured list with ``StashExecuted`` right after
        the execute preprocessor. ``"replay"``: the execute preprocessor
        replaced by ``ReplayExecute``. ``"rescue"``: the execute preprocessor
        made ``TrustedExecute`` (the rescue run puts it in its rescue mode, so
        it must be the step that runs the notebook even if the course names
        nbgrader's own ``Execute``).

    Returns
    -------
    list of str
        Import names, for ``--Autograde.autograde_preprocessors``.

    Raises
    ------
    ValueError
        Unless exactly one execute preprocessor is configured, or for another ``role``.
    """
    from coursekit.grading.execute import TrustedExecute
    from coursekit.preprocessors.replay import ReplayExecute, StashExecuted

    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(map(repr, ROLES))}, not {role!r}")
    executes = [p["name"] for p in configured if p["execute"]]
    if len(executes) != 1:
        raise ValueError(f"expected one Execute preprocessor in Autograde.autograde_preprocessors, found {executes}")
    instead = {"worker": None, "replay": _dotted(ReplayExecute), "rescue": _dotted(TrustedExecute)}[role]
    out = []
    for p in configured:
        if not p["execute"]:
            out.append(p["name"])
        elif role == "worker":
            out += [p["name"], _dotted(StashExecuted)]
        else:
            out.append(instead)
    return out
