"""What an instructor hands to students: ``make student-env`` (``python -m coursekit student-env``).

The folder it writes (default ``dist/student-env/``) holds, and holds only:

``notebooks/synapses/``
    everything in ``release/synapses/`` (made by ``make release``): the
    notebooks and the files released with them;
``wheels/synapses_helpers-<version>-py3-none-any.whl``
    the student package: ``helpers`` without ``helpers/references`` (the
    reference answers). ``coursekit`` (the instructor's tooling) is a package
    of its own and is never in it;
``requirements.txt``
    the pins of the students' run-time and of JupyterLab with nbgrader's
    student extensions (Validate, the Assignments tab), from the course's lock
    file, plus the wheel;
``environment-student.yml``
    the same for conda users (conda-forge, the wheel through pip);
``docs/student-api.md``
    the names students write, with their arguments and units;
``README.md``
    how to install it and open the notebooks.

No source notebook, no hidden test, no reference answer and no instructor
code: ``tests/test_student_env.py`` searches the built folder (inside the
wheel too) for every hidden-test line and every solution line of
``source/``, and installs it into a fresh virtual environment outside the
repository to run every release notebook with the model answers pasted in.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from coursekit import course as ck
__all__ = ["DIST_NAME", "StudentEnv", "build", "student_pins", "wheel_pyproject"]

#: Distribution name of the student package (it installs the import package ``helpers``).
DIST_NAME = "synapses-helpers"
#: Parts of ``helpers`` that students never get.
PRIVATE = ("references",)
#: PyPI name -> conda-forge name, where they differ.
CONDA_NAME = {"matplotlib": "matplotlib-base"}


@dataclass
class StudentEnv:
    """The built folder and its parts."""

    root: Path
    wheel: Path
    requirements: Path
    environment: Path
    notebooks: list[Path]  # every released file copied


def _project(course_root: Path) -> dict:
    return tomllib.loads((course_root / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def student_pins(course_root: Path = ck.REPO_ROOT) -> list[str]:
    """The pins students install: the run-time dependencies and the ``lab`` extra of ``pyproject.toml``.

    Returns
    -------
    list of str
        ``name==version`` specifiers, run-time first, without duplicates.
    """
    project = _project(course_root)
    out: list[str] = []
    for spec in [*project["dependencies"], *project["optional-dependencies"]["lab"]]:
        if spec not in out:
            out.append(spec)
    return out


def wheel_pyproject(course_root: Path, version: str) -> str:
    """``pyproject.toml`` of the student wheel: ``helpers`` with the run-time dependencies only."""
    project = _project(course_root)
    deps = ",\n".join(f"    {spec!r}" for spec in project["dependencies"]).replace("'", '"')
    return f'''[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{DIST_NAME}"
version = "{version}"
description = "Run-time helpers of the synapses course notebooks (students' package: no answers)"
requires-python = "{project["requires-python"]}"
dependencies = [
{deps},
]

[tool.setuptools.packages.find]
include = ["helpers*"]

[tool.setuptools.package-data]
helpers = ["data/*.npz"]
'''


def _stage_helpers(dest: Path) -> Path:
    import helpers

    source = Path(helpers.__file__).resolve().parent
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")

    def skip(directory: str, names: list[str]) -> set[str]:
        skipped = set(ignore(directory, names))
        if Path(directory).resolve() == source:
            skipped |= set(PRIVATE)
        return skipped

    shutil.copytree(source, dest / "helpers", ignore=skip)
    return dest / "helpers"


def _build_wheel(course_root: Path, out: Path, say: Callable[[str], None]) -> Path:
    import helpers

    with tempfile.TemporaryDirectory(prefix="synapses-student-wheel-") as tmp:
        stage = Path(tmp) / "src"
        stage.mkdir()
        _stage_helpers(stage)
        (stage / "pyproject.toml").write_text(wheel_pyproject(course_root, helpers.__version__), encoding="utf-8")
        say(f"building the {DIST_NAME} wheel (helpers without {', '.join(PRIVATE)}) ...")
        proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out),
                               str(stage)], capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"pip wheel failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    wheels = sorted(out.glob("synapses_helpers-*.whl"))
    if len(wheels) != 1:
        raise RuntimeError(f"expected one wheel in {out}, found {[w.name for w in wheels]}")
    return wheels[0]


def _environment_yml(pins: list[str], wheel: str) -> str:
    lines = ["# Conda environment for students of the synapses course (conda-forge).",
             "#   conda env create -f environment-student.yml && conda activate synapses-student",
             "# Run it in this folder: the last line installs the course's wheel from wheels/.",
             "name: synapses-student", "channels:", "  - conda-forge", "  - nodefaults", "dependencies:",
             "  - python=3.11", "  - pip"]
    for spec in pins:
        name, version = spec.split("==")
        lines.append(f"  - {CONDA_NAME.get(name, name)}=={version}")
    lines += ["  - pip:", f"      - ./{wheel}"]
    return "\n".join(lines) + "\n"


README = """# The synapses course: student environment

Six Jupyter notebooks on conductance-based synapses, with the small `helpers` package they import.

## Install (Python 3.11)

```bash
cd {folder}
python3.11 -m venv .venv
.venv/bin/pip install -r requirements.txt
.venv/bin/jupyter lab notebooks/synapses
```

Conda: `conda env create -f environment-student.yml`, then `conda activate synapses-student` and
`jupyter lab notebooks/synapses`.

Work through the notebooks in order. In each, replace every `raise NotImplementedError(...)` with your
code, write your answers where it says `YOUR ANSWER HERE`, and run the check cell under each exercise:
it tells you in one sentence what is off. Press *Validate* before you submit. `docs/student-api.md` lists
the names you write, with their arguments and units.
"""


def build(out: Path | str, course_root: Path | str = ck.REPO_ROOT,
          say: Callable[[str], None] = lambda line: None) -> StudentEnv:
    """Build the student environment into ``out`` (its previous content is removed).

    Parameters
    ----------
    out : path
        Folder to (re)create. Must not be, or lie inside, ``source/``.
    course_root : path, optional
        The course repository (default: this checkout).
    say : callable, optional
        Progress lines.

    Returns
    -------
    StudentEnv

    Raises
    ------
    FileNotFoundError
        If ``release/synapses/`` has no notebooks (run ``make release``).
    """
    course_root, out = Path(course_root).resolve(), Path(out).resolve()
    release_dir = course_root / "release" / ck.ASSIGNMENT_ID
    notebooks = sorted(release_dir.glob("*.ipynb"))
    released = sorted(p for p in release_dir.rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts)
    if not notebooks:
        raise FileNotFoundError(f"no release notebooks in {release_dir}; run `make release` first")
    source = course_root / "source"
    if out == course_root or source == out or source in out.parents or out in source.parents:
        raise ValueError(f"refusing to write the student environment to {out}")
    if out.exists():
        shutil.rmtree(out)
    (out / "notebooks" / ck.ASSIGNMENT_ID).mkdir(parents=True)
    copied = []
    for path in released:  # the notebooks and what is released with them (e.g. errata.md)
        target = out / "notebooks" / ck.ASSIGNMENT_ID / path.relative_to(release_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        copied.append(Path(shutil.copy2(path, target)))
    say(f"{len(copied)} released files copied ({len(notebooks)} notebooks)")
    wheel = _build_wheel(course_root, out / "wheels", say)
    pins = student_pins(course_root)
    wheel_rel = wheel.relative_to(out).as_posix()
    requirements = out / "requirements.txt"
    requirements.write_text(
        "# Students' environment of the synapses course: install from this folder with\n"
        "#   pip install -r requirements.txt\n" + "\n".join(pins) + f"\n./{wheel_rel}\n", encoding="utf-8")
    environment = out / "environment-student.yml"
    environment.write_text(_environment_yml(pins, wheel_rel), encoding="utf-8")
    (out / "README.md").write_text(README.format(folder=out.name), encoding="utf-8")
    api = course_root / "docs" / "student-api.md"
    if api.is_file():
        (out / "docs").mkdir()
        shutil.copy2(api, out / "docs" / api.name)
    say(f"wheel {wheel.name}; {len(pins)} pinned requirements")
    return StudentEnv(out, wheel, requirements, environment, copied)
