"""A throw-away course graded by plain ``nbgrader autograde``, for tests that need the real thing.

:func:`make` lays out a course with some of the notebooks (``nbgrader
generate_assignment``), :func:`submit` puts a student's notebooks in
``submitted/``, :func:`autograde` runs ``<python> -m nbgrader autograde`` (any
interpreter, any course folder: the layouts of tests/test_layouts.py) and
:func:`scores` / :func:`row_counts` read what landed in the gradebook.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "source" / "synapses"
ASSIGNMENT = "synapses"


def env_for(python: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of an nbgrader command run with `python`: only the course's config, its bin on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNAPSES_", "PYTHON", "VIRTUAL_ENV"))}
    bindir = os.path.dirname(python)
    env.update(JUPYTER_NO_CONFIG="1", MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1",
               PATH=os.pathsep.join([bindir] + [p for p in env.get("PATH", "").split(os.pathsep) if p != bindir]))
    env.pop("JUPYTER_PATH", None)
    env.update(extra or {})
    return env


def nbgrader(args: list[str], root: Path, *, python: str = sys.executable, timeout: float = 900,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m nbgrader <args>`` in `root`; never raises for its exit status."""
    return subprocess.run([python, "-m", "nbgrader", *args], cwd=root, env=env or env_for(python),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)


def make(root: Path, notebooks: list[str], *, repo: Path = ROOT, python: str = sys.executable) -> Path:
    """A course in `root` (config of `repo`) with these notebooks of `repo`, generated."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy2(repo / "nbgrader_config.py", root / "nbgrader_config.py")
    source = root / "source" / ASSIGNMENT
    source.mkdir(parents=True, exist_ok=True)
    for name in notebooks:
        shutil.copy2(repo / "source" / ASSIGNMENT / name, source / name)
    done = nbgrader(["generate_assignment", ASSIGNMENT, "--force"], root, python=python)
    assert done.returncode == 0, done.stderr[-4000:]
    return root


def model(name: str, repo: Path = ROOT) -> nbformat.NotebookNode:
    """The instructor notebook `name` as a submission: every answer is the model solution."""
    return nbformat.read(repo / "source" / ASSIGNMENT / name, as_version=4)


def with_answer(nb: nbformat.NotebookNode, grade_id: str, source: str) -> nbformat.NotebookNode:
    """A copy of `nb` whose answer cell `grade_id` holds `source`."""
    nb = nbformat.from_dict(nb)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    cell.source = source
    return nb


def submit(root: Path, student: str, notebooks: dict[str, nbformat.NotebookNode]) -> None:
    dest = root / "submitted" / student / ASSIGNMENT
    dest.mkdir(parents=True, exist_ok=True)
    for name, nb in notebooks.items():
        nbformat.write(nb, dest / name)


def autograde(root: Path, *extra: str, python: str = sys.executable, timeout: float = 1200,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return nbgrader(["autograde", ASSIGNMENT, "--create", *extra], root, python=python, timeout=timeout, env=env)


def scores(root: Path) -> dict[tuple[str, str, str], tuple[float | None, float]]:
    """(auto score, max score) by (student, notebook, grade id), from the gradebook (sqlite)."""
    with sqlite3.connect(root / "gradebook.db") as db:
        rows = db.execute("""
            SELECT sa.student_id, nb.name, bc.name, g.auto_score, gc.max_score
            FROM grade g JOIN grade_cells gc ON g.cell_id = gc.id JOIN base_cell bc ON bc.id = gc.id
                         JOIN submitted_notebook sn ON g.notebook_id = sn.id
                         JOIN notebook nb ON sn.notebook_id = nb.id
                         JOIN submitted_assignment sa ON sn.assignment_id = sa.id""").fetchall()
    return {(s, n, c): (a, m) for s, n, c, a, m in rows}


def row_counts(root: Path) -> dict[str, int]:
    """Rows of the gradebook's per-student tables (sqlite)."""
    path = root / "gradebook.db"
    if not path.exists():
        return {}
    with sqlite3.connect(path) as db:
        return {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]  # noqa: S608 (fixed names)
                for t in ("student", "submitted_assignment", "submitted_notebook", "grade")}


def autograded(root: Path, student: str, name: str) -> nbformat.NotebookNode:
    return nbformat.read(root / "autograded" / student / ASSIGNMENT / name, as_version=4)


def cell_errors(nb: nbformat.NotebookNode) -> dict[str, str]:
    """``ename: evalue`` of the last error of each graded cell that failed, by grade id."""
    out = {}
    for cell in nb.cells:
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid and errors:
            out[gid] = f"{errors[-1]['ename']}: {errors[-1]['evalue']}"
    return out


def clone(tmp: Path) -> Path:
    """A fresh ``git clone`` of this repository in `tmp`/clone (its committed state)."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    clone = tmp / "clone"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)], check=True,
                   capture_output=True, timeout=300)
    return clone


def wheel_env(tmp: Path, clone: Path) -> str:
    """A copy of this environment with the course installed from a regular wheel (not editable)."""
    dist = tmp / "dist"
    # (build isolation: pyproject.toml's setuptools>=68, from pip's cache; the environment's own is older)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist),
                            str(clone)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = next(dist.glob("synapses_course-*.whl"))
    env_dir = tmp / "wheelenv"
    try:  # hard links: instant, and pip only adds and removes files
        subprocess.run(["cp", "-al", sys.prefix, str(env_dir)], check=True, capture_output=True, timeout=600)
    except subprocess.CalledProcessError:
        shutil.rmtree(env_dir, ignore_errors=True)
        shutil.copytree(sys.prefix, env_dir, symlinks=True)
    python = str(env_dir / "bin" / "python")
    for args in (["uninstall", "--yes", "--quiet", "synapses-course"],
                 ["install", "--quiet", "--no-deps", "--no-index", str(wheel)]):
        done = subprocess.run([python, "-m", "pip", *args], capture_output=True, text=True, timeout=600,
                              env=env_for(python))
        assert done.returncode == 0, done.stderr[-3000:]
    return python
