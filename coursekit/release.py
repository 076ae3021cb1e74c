"""Regenerate ``release/synapses/`` with nbgrader, and the course's nbgrader plumbing.

``make release`` runs ``python -m coursekit release`` (:func:`release`): it writes
``helpers/data/reference_curves.npz`` and copies ``source/synapses/``
and ``nbgrader_config.py`` into a throw-away nbgrader course directory, runs the
real ``nbgrader generate_assignment synapses --force`` there (with a throw-away
gradebook, so the repository's ``gradebook.db`` is never touched) and replaces
``release/synapses/`` with the result. Generation is deterministic: two runs give
byte-identical notebooks (``tests/test_release.py`` checks that the committed
release is exactly what generation produces today).

``python -m coursekit release --check`` (:func:`check_release`) regenerates into a temporary directory and
exits with status 1, naming the notebook and cell, if ``release/synapses/`` is
stale.

Nothing here is imported by the student notebooks; it needs nbgrader, which the
course environment provides.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any


from coursekit.course import (
    ASSIGNMENT_ID,
    CONFIG_FILE,
    RELEASE_DIR,
    SOURCE_DIR,
    NbgraderError,
    run_nbgrader,
)

__all__ = [
    "make_course",
    "generate_release",
    "notebook_names",
    "normalise_notebook",
    "diff_notebooks",
    "compare_release",
    "check_release",
    "release",
]

#: Seconds one ``generate_assignment`` may take before it is killed.
GENERATE_TIMEOUT = 300.0


def make_course(
    course_root: str | os.PathLike,
    source_dir: str | os.PathLike = SOURCE_DIR,
    config_file: str | os.PathLike = CONFIG_FILE,
) -> Path:
    """Lay out a throw-away nbgrader course directory.

    Copies ``config_file`` to ``<course_root>/nbgrader_config.py`` (the config
    takes its own directory as the course root, so this directory becomes a
    complete course) and ``source_dir`` to ``<course_root>/source/synapses``.

    Parameters
    ----------
    course_root : path
        Directory to fill; created if missing. Must not contain ``source/synapses``.
    source_dir : path, optional
        The assignment's source folder (default: the repository's).
    config_file : path, optional
        nbgrader configuration to use (default: the repository's).

    Returns
    -------
    pathlib.Path
        ``course_root`` as an absolute path.
    """
    root = Path(course_root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy2(config_file, root / "nbgrader_config.py")
    shutil.copytree(
        source_dir,
        root / "source" / ASSIGNMENT_ID,
        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc"),
    )
    return root


def generate_release(
    source_dir: str | os.PathLike = SOURCE_DIR,
    out_dir: str | os.PathLike = RELEASE_DIR,
    *,
    timeout: float = GENERATE_TIMEOUT,
) -> list[Path]:
    """Make the student version of ``source_dir`` in ``out_dir`` with nbgrader.

    Runs the real ``nbgrader generate_assignment synapses --force`` in a
    throw-away course directory (config copied from the repository, gradebook in
    that directory, so no gradebook outside it changes), then replaces
    ``out_dir`` with the generated ``release/synapses``. Deterministic: the same
    source gives byte-identical notebooks.

    Parameters
    ----------
    source_dir : path, optional
        Folder with the instructor notebooks (default ``source/synapses``).
    out_dir : path, optional
        Folder to (re)create with the student notebooks (default
        ``release/synapses``). Its previous content is removed.
    timeout : float, optional
        Seconds before nbgrader is killed (default 300).

    Returns
    -------
    list of pathlib.Path
        The files written to ``out_dir``, sorted.

    Raises
    ------
    NbgraderError
        If nbgrader fails (its log is in the message).
    """
    source_dir = Path(source_dir).resolve()
    out_dir = Path(out_dir).resolve()
    if not source_dir.is_dir():
        raise FileNotFoundError(f"no assignment source folder {source_dir}")
    if out_dir == source_dir or out_dir in source_dir.parents or source_dir in out_dir.parents:
        raise ValueError(f"out_dir {out_dir} overlaps source_dir {source_dir}")
    with tempfile.TemporaryDirectory(prefix="synapses-release-") as tmp:
        course = make_course(Path(tmp) / "course", source_dir)
        run_nbgrader(["generate_assignment", ASSIGNMENT_ID, "--force"], course, timeout=timeout)
        generated = course / "release" / ASSIGNMENT_ID
        if not generated.is_dir():
            raise NbgraderError(f"nbgrader wrote no {generated}")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(generated, out_dir)
    return sorted(p for p in out_dir.rglob("*") if p.is_file())


# --------------------------------------------------------------------- comparing releases
def notebook_names(folder: str | os.PathLike) -> list[str]:
    """File names of the notebooks directly in ``folder``, sorted."""
    return sorted(p.name for p in Path(folder).glob("*.ipynb"))


def normalise_notebook(path: str | os.PathLike) -> dict[str, Any]:
    """Notebook JSON as a plain dict, for comparisons that ignore formatting.

    Key order and indentation do not matter; contents (cell ids, sources,
    metadata, checksums) do.
    """
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def diff_notebooks(expected: dict[str, Any], actual: dict[str, Any], name: str = "") -> list[str]:
    """Human-readable differences between two notebook dicts.

    Parameters
    ----------
    expected, actual : dict
        Notebooks as returned by :func:`normalise_notebook`.
    name : str, optional
        Notebook name used in the messages.

    Returns
    -------
    list of str
        One line per difference (empty if equal), naming the cell by index and
        nbgrader ``grade_id`` (or cell id).
    """
    out: list[str] = []
    for key in sorted(set(expected) | set(actual)):
        if key != "cells" and expected.get(key) != actual.get(key):
            out.append(f"{name}: notebook field {key!r} differs")
    ecells, acells = expected.get("cells", []), actual.get("cells", [])
    if len(ecells) != len(acells):
        out.append(f"{name}: {len(acells)} cells, expected {len(ecells)}")
    for i, (e, a) in enumerate(zip(ecells, acells)):
        if e == a:
            continue
        label = (e.get("metadata", {}).get("nbgrader", {}).get("grade_id") or e.get("id") or "?")
        fields = sorted(k for k in set(e) | set(a) if e.get(k) != a.get(k))
        detail = ""
        if "source" in fields:
            el, al = _source(e).splitlines(), _source(a).splitlines()
            for j, (x, y) in enumerate(zip(el, al)):
                if x != y:
                    detail = f"; line {j + 1}: {y!r}, expected {x!r}"
                    break
            else:
                detail = f"; {len(al)} lines, expected {len(el)}"
        out.append(f"{name}: cell {i} ({label}) differs in {', '.join(fields)}{detail}")
    return out


def compare_release(expected_dir: str | os.PathLike, actual_dir: str | os.PathLike) -> list[str]:
    """Differences between two release folders (notebooks and other files).

    Parameters
    ----------
    expected_dir : path
        Freshly generated release folder.
    actual_dir : path
        Folder under test (e.g. the committed ``release/synapses``).

    Returns
    -------
    list of str
        One line per difference; empty when the folders agree.
    """
    expected_dir, actual_dir = Path(expected_dir), Path(actual_dir)
    files_e = {p.relative_to(expected_dir).as_posix() for p in expected_dir.rglob("*") if p.is_file()}
    files_a = (
        {p.relative_to(actual_dir).as_posix() for p in actual_dir.rglob("*") if p.is_file()}
        if actual_dir.is_dir() else set()
    )
    out = [f"{f}: missing" for f in sorted(files_e - files_a)]
    out += [f"{f}: not produced by generate_assignment (stale?)" for f in sorted(files_a - files_e)]
    for f in sorted(files_e & files_a):
        pe, pa = expected_dir / f, actual_dir / f
        if f.endswith(".ipynb"):
            try:
                out += diff_notebooks(normalise_notebook(pe), normalise_notebook(pa), f)
            except json.JSONDecodeError as err:
                out.append(f"{f}: not valid JSON ({err})")
        elif pe.read_bytes() != pa.read_bytes():
            out.append(f"{f}: content differs")
    return out


# --------------------------------------------------------------------- autograde plumbing
# --------------------------------------------------------------------- what `coursekit release` runs
def check_release(source_dir: str | os.PathLike = SOURCE_DIR, out_dir: str | os.PathLike = RELEASE_DIR) -> list[str]:
    """What differs between ``out_dir`` and a fresh generation from ``source_dir`` (empty: up to date).

    Also reports a stale ``helpers/data/reference_curves.npz``.
    """
    from helpers.references import curves

    problems = []
    if not curves.DATA_PATH.exists() or curves.DATA_PATH.read_bytes() != curves.to_bytes(curves.compute()):
        problems.append(f"{curves.DATA_PATH} differs from helpers.references.curves")
    with tempfile.TemporaryDirectory(prefix="synapses-check-") as tmp:
        fresh = Path(tmp) / ASSIGNMENT_ID
        generate_release(source_dir, fresh)
        problems += compare_release(fresh, out_dir)
    return problems


def release(source_dir: str | os.PathLike = SOURCE_DIR, out_dir: str | os.PathLike = RELEASE_DIR) -> list[Path]:
    """Write ``helpers/data/reference_curves.npz``, then regenerate ``out_dir`` from ``source_dir``.

    Returns
    -------
    list of pathlib.Path
        The curves file and the files of the release.
    """
    from helpers.references import curves

    return [curves.write(curves.DATA_PATH), *generate_release(source_dir, out_dir)]
