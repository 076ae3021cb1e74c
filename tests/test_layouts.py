"""Grading works wherever Python resolves the course's packages, and the answers stay out of the kernel.

Each layout is built for real from a fresh ``git clone`` of this repository:

* **venv elsewhere**: ``nbgrader autograde`` (``python -m nbgrader``, so the
  parent process imports the clone's ``helpers`` and ``coursekit`` from its
  working folder) run in the clone, with this checkout's environment, whose
  editable install resolves the packages to *this* checkout. Before
  coursekit.grading.layout, the grader's policy granted the clone's folders while the
  grader imported this checkout's: every test cell scored 0 and autograde
  exited 0.
* **regular wheel**: a wheel built from the clone, installed (not editable)
  into a copy of this environment from which the editable install was removed;
  the course folder holds only ``nbgrader_config.py`` and ``source/``.

In each, the model solutions of 01 and 04 score full marks, and a cell the
"student" added finds neither ``helpers.references`` importable nor the
answers' files readable. Conda: there is none on this machine, so that layout
is not built here (coursekit.grading.layout resolves packages the same way there).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import autograde_course as ac

pytestmark = [pytest.mark.slow, pytest.mark.notebooks]

NOTEBOOKS = ["01_synapse_zoo.ipynb", "04_saturation.ipynb"]

#: A cell a student adds: can it reach the answers? It prints one JSON line.
PROBE = r'''
import json as _j, importlib.util as _u, sys as _s
_found = {}
try:
    import helpers.references.waveforms
    _found["import"] = "imported from " + helpers.references.waveforms.__file__
except Exception as _e:
    _found["import"] = "refused: " + type(_e).__name__
_found["reads"] = {}
for _p in %(paths)r:
    try:
        open(_p).read(1)
        _found["reads"][_p] = "read"
    except Exception as _e:
        _found["reads"][_p] = "refused: " + type(_e).__name__
import helpers
_found["helpers"] = helpers.__file__
print("@@PROBE@@" + _j.dumps(_found))
'''


def _grade(root: Path, python: str, answers: list[str]) -> tuple[subprocess.CompletedProcess, dict]:
    """Submit the model solutions (with the probe cell added to the first) and autograde them."""
    notebooks = {}
    for i, name in enumerate(NOTEBOOKS):
        nb = ac.model(name)
        if i == 0:
            nb.cells.append(nbformat.v4.new_code_cell(PROBE % {"paths": answers}))
        notebooks[name] = nb
    ac.submit(root, "model", notebooks)
    done = ac.autograde(root, python=python)
    probe = None
    for cell in ac.autograded(root, "model", NOTEBOOKS[0]).cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and "@@PROBE@@" in out.get("text", ""):
                probe = json.loads(out["text"].split("@@PROBE@@", 1)[1].splitlines()[0])
    return done, probe


def _assert_full_marks_and_no_answers(root: Path, done, probe) -> None:
    assert done.returncode == 0, done.stderr[-4000:]
    scores = ac.scores(root)
    assert {n for (_, n, _) in scores} == {n[:-6] for n in NOTEBOOKS}
    tests = {k: v for k, v in scores.items() if k[2].startswith("test")}  # the autograded test cells
    assert len(tests) >= 8, sorted(scores)
    short = {k: v for k, v in tests.items() if v[0] != v[1]}
    assert not short, (short, done.stderr[-3000:])
    # the written answers wait for the instructor, unscored
    assert all(v[0] is None for k, v in scores.items() if k not in tests), scores
    assert probe is not None, "the probe cell did not run"
    assert probe["import"].startswith("refused"), probe
    assert probe["reads"] and all(v.startswith("refused") for v in probe["reads"].values()), probe


def _answer_files(python: str, cwd: Path) -> list[str]:
    """The answers' files where `python` imports helpers from (outside the course folder) and in the course."""
    code = "import helpers, os; print(os.path.dirname(os.path.realpath(helpers.__file__)))"
    where = subprocess.run([python, "-c", code], cwd="/", capture_output=True, text=True, check=True,
                           env=ac.env_for(python)).stdout.strip()
    files = [os.path.join(where, "references", "waveforms.py"), os.path.join(where, "references", "__init__.py")]
    if (cwd / "helpers" / "references").is_dir():
        files.append(str(cwd / "helpers" / "references" / "waveforms.py"))
    return files


def test_venv_of_another_checkout_grades_a_clone(tmp_path):
    clone = ac.clone(tmp_path)
    python = sys.executable
    # grade two notebooks (the clone is throw-away): the others would count as not submitted
    for path in (clone / "source" / ac.ASSIGNMENT).glob("*.ipynb"):
        if path.name not in NOTEBOOKS:
            path.unlink()
    done = ac.nbgrader(["generate_assignment", ac.ASSIGNMENT, "--force"], clone, python=python)
    assert done.returncode == 0, done.stderr[-3000:]
    # the layout of the issue: the clone's packages next to the course, the environment's elsewhere
    here = subprocess.run([python, "-c", "import helpers; print(helpers.__file__)"], cwd="/", text=True,
                          capture_output=True, check=True, env=ac.env_for(python)).stdout.strip()
    assert not Path(here).resolve().is_relative_to(clone.resolve())
    done, probe = _grade(clone, python, _answer_files(python, clone))
    _assert_full_marks_and_no_answers(clone, done, probe)


def test_regular_wheel_in_site_packages(tmp_path):
    clone = ac.clone(tmp_path)
    python = ac.wheel_env(tmp_path, clone)
    where = subprocess.run([python, "-c", "import helpers, coursekit; print(helpers.__file__, coursekit.__file__)"],
                           cwd="/", capture_output=True, text=True, check=True, env=ac.env_for(python)).stdout
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd="/",
                          capture_output=True, text=True, check=True, env=ac.env_for(python)).stdout.strip()
    assert all(Path(p).resolve().is_relative_to(Path(site).resolve()) for p in where.split()), (where, site)
    root = ac.make(tmp_path / "course", NOTEBOOKS, repo=clone, python=python)
    assert not (root / "helpers").exists() and not (root / "coursekit").exists()
    done, probe = _grade(root, python, _answer_files(python, root))
    _assert_full_marks_and_no_answers(root, done, probe)
