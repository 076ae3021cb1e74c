"""The two install routes agree, and the installed environment is the pinned one.

``requirements.txt`` is the one pin file (pip, the Makefile, CI and
``pyproject.toml``); ``environment.yml`` is the conda-forge route. Every pin must
appear in ``environment.yml`` with the same version (under its conda-forge
name), nothing else may be pinned there, and ``helpers`` must be installed
editable from this repository.
"""

from __future__ import annotations

import importlib.metadata
import re
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
#: PyPI name -> conda-forge name, where they differ.
CONDA_NAME = {"matplotlib": "matplotlib-base", "dask": "dask-core"}
#: conda-only entries that are not Python requirements of the course.
CONDA_ONLY = {"python", "pip"}


def canon(name: str) -> str:
    """PEP 503 normalised package name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_requirements(path: Path) -> dict[str, str]:
    pins = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*==\s*([^\s;]+)", line)
        assert m, f"requirements.txt: {raw!r} is not an exact `name==version` pin"
        pins[canon(m.group(1))] = m.group(2)
    return pins


def parse_conda_spec(spec: str) -> tuple[str, str | None, str]:
    """(name, version, operator) of a conda match spec like ``numpy==2.3.5``."""
    m = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*(==|=)?\s*([^\s=]+)?", spec.strip())
    assert m, f"environment.yml: cannot parse {spec!r}"
    return canon(m.group(1)), m.group(3), m.group(2) or ""


@pytest.fixture(scope="module")
def requirements():
    return parse_requirements(REPO / "requirements.txt")


@pytest.fixture(scope="module")
def environment():
    return yaml.safe_load((REPO / "environment.yml").read_text(encoding="utf-8"))


def conda_and_pip(environment):
    conda, pip = [], []
    for dep in environment["dependencies"]:
        if isinstance(dep, dict):
            assert set(dep) == {"pip"}, f"environment.yml: unexpected section {dep}"
            pip.extend(dep["pip"])
        else:
            conda.append(dep)
    return conda, pip


def test_environment_uses_conda_forge_and_python_311(environment):
    assert environment["channels"][0] == "conda-forge"
    assert "defaults" not in environment["channels"]
    conda, _ = conda_and_pip(environment)
    python = [parse_conda_spec(d) for d in conda if parse_conda_spec(d)[0] == "python"]
    assert python and python[0][1] == "3.11", f"python must be 3.11, got {python}"
    assert any(parse_conda_spec(d)[0] == "pip" for d in conda), "pip is needed for the pip: section"


def test_environment_pins_match_requirements(requirements, environment):
    conda, pip = conda_and_pip(environment)
    pinned = {}
    for dep in conda:
        name, version, op = parse_conda_spec(dep)
        if name in CONDA_ONLY:
            continue
        assert op == "==" and version, f"environment.yml: {dep!r} must be an exact `name==version` pin"
        pinned[name] = version
    for dep in pip:
        if dep.startswith("-e"):
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", dep.strip())
        assert m, f"environment.yml pip: {dep!r} must be an exact `name==version` pin"
        pinned[canon(m.group(1))] = m.group(2)
    expected = {canon(CONDA_NAME.get(name, name)): version for name, version in requirements.items()}
    missing = sorted(set(expected) - set(pinned))
    extra = sorted(set(pinned) - set(expected))
    wrong = sorted(f"{n}: environment.yml {pinned[n]} != requirements.txt {expected[n]}"
                   for n in set(expected) & set(pinned) if pinned[n] != expected[n])
    assert not missing, f"pins missing from environment.yml: {missing}"
    assert not extra, f"environment.yml pins packages that requirements.txt does not: {extra}"
    assert not wrong, "versions disagree:\n" + "\n".join(wrong)


def test_environment_installs_the_course_package_editable(environment):
    _, pip = conda_and_pip(environment)
    assert any(re.fullmatch(r"-e\s+\.", d.strip()) for d in pip), "pip: section must contain `-e .`"


def test_requirements_keep_numpy_below_2_4(requirements):
    version = tuple(int(x) for x in requirements["numpy"].split(".")[:2])
    assert version < (2, 4), "brian2 2.9.0 uses ndarray.ptp, which numpy 2.4 removed"


def test_helpers_imports_from_this_repository():
    import helpers

    assert Path(helpers.__file__).resolve().parent == REPO / "helpers", \
        f"`helpers` comes from {helpers.__file__}, not this repository (reinstall with pip install -e .)"
    assert helpers.__version__


@pytest.mark.parametrize("name", sorted(parse_requirements(REPO / "requirements.txt")))
def test_installed_versions_are_the_pins(name, requirements):
    try:
        installed = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(f"{name} is pinned in requirements.txt but not installed (run make venv)")
    assert installed == requirements[name], \
        f"{name} {installed} is installed, requirements.txt pins {requirements[name]} (run make venv)"


def test_course_kernelspec_is_installed_with_the_environment():
    """nbgrader runs notebooks on kernelspec "python3"; it must exist next to this Python."""
    spec = Path(sys.prefix) / "share" / "jupyter" / "kernels" / "python3" / "kernel.json"
    assert spec.is_file(), f"no {spec}: ipykernel is not installed in this environment"


def _pyproject_pins() -> dict[str, dict[str, str]]:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    groups = {"runtime": project["dependencies"], **project["optional-dependencies"]}
    out = {}
    for group, specs in groups.items():
        out[group] = {}
        for spec in specs:
            m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", spec)
            assert m, f"pyproject.toml [{group}]: {spec!r} is not an exact pin"
            out[group][canon(m.group(1))] = m.group(2)
    return out


def test_pyproject_audiences_pin_exactly_the_lock_file(requirements):
    """requirements.txt (the lock file) = students' run-time + lab + instructor + dev + hub, same versions."""
    groups = _pyproject_pins()
    assert set(groups) == {"runtime", "lab", "instructor", "dev", "hub"}
    union: dict[str, str] = {}
    for group, pins in groups.items():
        for name, version in pins.items():
            assert union.setdefault(name, version) == version, f"{name} pinned twice differently"
    assert union == requirements


def test_students_get_no_instructor_or_test_dependency():
    runtime = set(_pyproject_pins()["runtime"]) | set(_pyproject_pins()["lab"])
    assert not runtime & {"dask", "distributed", "pytest", "hypothesis", "playwright", "psutil", "sqlalchemy"}
