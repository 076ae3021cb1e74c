"""Before the first student: prove that the grader can start, import what it needs and answer.

A grader that cannot run is the grading machinery's failure, never a
student's zero. So every run that grades (plain ``nbgrader autograde``,
``make grade``, each of its parallel or Dask workers, which are ``nbgrader
autograde`` processes too) first starts one grader with exactly the sandbox
policy that grading uses (:class:`coursekit.grading.execute.TrustedExecute`), has it
import the course's checks and answers (:data:`CELL`) and waits for its answer.
The result is cached once per process.

If that fails the run stops before any score is written, with one line that
names the cause (which path, which policy, what to do), and a non-zero exit
status: :class:`GraderUnavailable` is a ``SystemExit``. That is how it gets
through nbgrader 0.9.6: ``BaseConverter.convert_notebooks`` catches every
``Exception`` of a student's conversion, logs it, removes that student's
output and goes on to the next student (so a broken grader would fail the
whole class one by one), and ``run_pre_convert_hook`` logs and swallows any
``Exception`` of the hook; a ``SystemExit`` passes both and ends the command.
The hook (:func:`coursekit.grading.execute.autograde_hook`, ``Autograde.pre_convert_hook`` in
``nbgrader_config.py``) runs before ``Autograde.init_assignment``, which is
what first writes the student's submission to the gradebook, so a failed
preflight leaves no row behind.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["GraderUnavailable", "SandboxRefused", "PREFIX", "CELL", "check", "cause"]

#: How the one line of a stopped run starts (``make grade`` looks for it in a worker's log).
PREFIX = "synapses: grading stopped before any score was written: "

#: What the grader must be able to do: import the checks, every answer module and the plain-data code.
CELL = """
import importlib, pkgutil
import numpy
import helpers.grading, helpers.reference_data, helpers.references
for _m in pkgutil.iter_modules(helpers.references.__path__):
    importlib.import_module("helpers.references." + _m.name)
import coursekit.grading.plaindata, coursekit.answers.misconceptions
print("preflight ok")
"""

_checked: dict[tuple, str | None] = {}


class SandboxRefused(RuntimeError):
    """Grading refused: no sandbox here, and the instructor did not opt out."""


class GraderUnavailable(SystemExit):
    """The grader cannot grade here; the run stops (a ``SystemExit``: nbgrader does not catch it)."""

    def __init__(self, reason: str):
        self.reason = " ".join(str(reason).split())
        super().__init__(PREFIX + self.reason)


def _key(te: Any) -> tuple:
    return (sys.executable, bool(te.sandbox), bool(te.allow_unsandboxed), int(te.grader_memory),
            int(te.file_size), int(te.open_files), int(te.processes), bool(te.isolate), te.scratch_dir)


def check(te: Any) -> None:
    """Start one grader as `te` would, have it run :data:`CELL`; raise :class:`GraderUnavailable` if it cannot.

    `te` is a :class:`coursekit.grading.execute.TrustedExecute` (its sandbox traits
    decide the policy). Once per process and set of traits.
    """
    key = _key(te)
    if key not in _checked:
        _checked[key] = _probe(te)
    if _checked[key]:
        raise GraderUnavailable(_checked[key])


def _probe(te: Any) -> str | None:
    from coursekit.grading import layout
    from coursekit.grading.grader import ChannelClosed
    from coursekit.grading.grader_process import GraderProcess
    from coursekit.grading.outputs import _clean_outputs

    parent = te.scratch_dir or tempfile.gettempdir()
    os.makedirs(parent, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix=f"synapses-grading-{os.getpid()}-", dir=parent))
    saved = getattr(te, "_root", None)
    te._root = root
    grader = None
    try:
        try:
            _, policy = te._policies()
        except (SandboxRefused, layout.LayoutError) as exc:
            return str(exc)
        grader = GraderProcess(root / "grader" / "preflight", policy)
        try:
            grader.wait_ready(float(te.startup_timeout or 60))
            grader.channel.send({"op": "run", "source": CELL, "kind": "setup"})
            reply = grader.channel.receive(timeout=300)
        except (ChannelClosed, TimeoutError, OSError, ValueError) as exc:
            return cause(grader, policy, str(exc))
        errors = [o for o in _clean_outputs(reply.get("outputs")) if o.output_type == "error"]
        if errors or "preflight ok" not in "".join(o.get("text", "") for o in reply.get("outputs") or []
                                                   if isinstance(o, dict)):
            text = f"{errors[0].ename}: {errors[0].evalue}" if errors else "it printed nothing"
            return cause(grader, policy, text, log=str(reply.get("log", "")))
        return None
    finally:
        if grader is not None:
            grader.kill()
        te._root = saved
        shutil.rmtree(root, ignore_errors=True)


_PATH = re.compile(r"""['"](/[^'"]+)['"]""")


def cause(grader: Any, policy: Any, what: str, log: str = "") -> str:
    """One line: what the grader could not do, which path, what the sandbox policy grants, what to do."""
    text = (log or "") + "\n" + (grader.log_tail() if grader is not None else "")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if re.match(r"^[A-Za-z_][\w.]*(Error|Exception)\b", ln)]
    last = errors[-1] if errors else (" ".join(what.split()) or "it stopped")
    found = _PATH.findall(last)
    if grader is not None and grader.proc.poll() is not None and not grader.ready:
        head = f"the trusted grader ({sys.executable} -m coursekit.grading.grader) did not start: {last}"
    else:
        head = f"the trusted grader cannot import the course's checks and answers: {last}"
    if not found:
        return (f"{head}; see {grader.log_path if grader is not None else 'its log'}; check that this environment "
                "imports helpers and coursekit (python -c 'import helpers.grading, coursekit.grading.grader')")
    path = found[-1]
    read = tuple(getattr(policy, "read", ()) or ())
    granted = [p for p in read if path == p or path.startswith(p.rstrip("/") + "/")]
    if policy is None:
        where = "grading runs unsandboxed, so the file itself is unreadable or missing"
    elif granted:
        where = (f"{path} is inside the grader's sandbox read policy ({granted[0]}), so the file itself is "
                 "unreadable or missing for this user (the sandbox drops root's right to read it)")
    else:
        where = (f"the grader's sandbox read policy does not grant {path} (it grants the Python environment and "
                 "the helpers and coursekit that the environment resolves)")
    return (f"{head}; {where}; fix the file's permissions (chmod -R a+rX on the package) or reinstall the course "
            "into this environment (pip install -e . in the course folder), then run again")
