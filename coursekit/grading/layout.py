"""Where the packages that grading imports really are: as the sandboxed processes resolve them.

The course can be laid out in many ways: the repository with its editable
install (``make venv``), a second checkout graded with the first one's
environment (``git clone`` of the course, autograde run in the clone), a
regular wheel in a venv's or a conda environment's site-packages. The parent
process (``nbgrader autograde``, started in the course folder) may import
``helpers`` and ``coursekit`` from the course folder, while the grader, started
in its scratch folder, imports them from wherever its environment resolves
them. So the sandbox policies are built from what a process with the
grader's environment actually resolves (:func:`resolved`, found once per
process by a short probe run with that environment), never from the folder
next to the course:

* the grader may read the real folders of ``helpers`` and ``coursekit``
  (:func:`grader_read_paths`);
* the kernel gets a copy of the run-time part of that same ``helpers``
  (:func:`runtime_source`) and may read neither ``helpers/references`` nor
  ``coursekit`` in any of the places either process finds them
  (:func:`private_paths`).
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from coursekit.grading.scratch import _scratch, sandbox_env

__all__ = ["Packages", "LayoutError", "resolved", "grader_read_paths", "private_paths", "runtime_source"]

#: Sub-packages of helpers that the student's kernel never gets.
PRIVATE_PACKAGES = ("references",)

_PROBE = r"""
import importlib.util, json, os, sys
out = {}
for name in ("helpers", "coursekit"):  # (top-level: found without importing them)
    try:
        spec = importlib.util.find_spec(name)
    except Exception as exc:
        out[name] = {"error": "%s: %s" % (type(exc).__name__, exc)}
        continue
    if spec is None:
        out[name] = {"error": "not found on sys.path %s" % sys.path}
        continue
    out[name] = {"dirs": [os.path.realpath(p) for p in (spec.submodule_search_locations or [])]}
print(json.dumps(out))
"""


class LayoutError(RuntimeError):
    """The packages that grading needs cannot be found as the grader would import them (one sentence)."""


@dataclass(frozen=True)
class Packages:
    """Real folders of the course's packages as a sandboxed process of this environment imports them."""

    helpers: tuple[Path, ...]
    coursekit: tuple[Path, ...]
    references: tuple[Path, ...]


def _here(name: str) -> tuple[Path, ...]:
    module = sys.modules[name]
    return tuple(Path(p).resolve() for p in getattr(module, "__path__", []))


@functools.cache
def resolved() -> Packages:
    """Where a process with the grader's environment (scratch folder as cwd) finds the packages; cached.

    Raises
    ------
    LayoutError
        The probe could not run, or a package is not importable there.
    """
    with tempfile.TemporaryDirectory(prefix="synapses-layout-") as tmp:
        dirs = _scratch(Path(tmp))
        try:
            done = subprocess.run([sys.executable, "-c", _PROBE], env=sandbox_env(dirs), cwd=dirs["work"],
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
            found = json.loads(done.stdout.strip().splitlines()[-1])
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
            raise LayoutError(f"could not ask {sys.executable} where helpers and coursekit are "
                              f"({' '.join(done.stderr.split())[-300:] if 'done' in locals() else 'it did not run'})"
                              ) from None
    out = {}
    for name, key in (("helpers", "helpers"), ("coursekit", "coursekit")):
        entry = found.get(name) or {}
        if entry.get("error") or not entry.get("dirs"):
            raise LayoutError(f"{name} cannot be imported by {sys.executable} outside the course folder "
                              f"({entry.get('error', 'no folder')[:200]}); install the course into this "
                              "environment (pip install -e . in the course, or make venv)")
        out[key] = tuple(Path(p) for p in entry["dirs"])
    out["references"] = tuple(h / name for h in out["helpers"] for name in PRIVATE_PACKAGES)
    return Packages(**out)


def grader_read_paths() -> tuple[str, ...]:
    """The folders of ``helpers`` and ``coursekit`` that the grader imports (real paths)."""
    packages = resolved()
    return tuple(dict.fromkeys(str(p) for p in packages.helpers + packages.coursekit))


def private_paths() -> list[Path]:
    """What the kernel must never read: the answers and the instructor's package, wherever either side finds them."""
    packages = resolved()
    here_helpers = _here("helpers")
    mine = [h / name for h in here_helpers for name in PRIVATE_PACKAGES] + list(_here("coursekit"))
    theirs = [h / name for h in packages.helpers for name in PRIVATE_PACKAGES]
    return list(dict.fromkeys(mine + theirs + list(packages.references) + list(packages.coursekit)))


def runtime_source() -> Path:
    """The ``helpers`` folder whose run-time part the kernel gets a copy of: the one the grader imports."""
    return resolved().helpers[0]
