"""``make student-env``: what students get holds no answer, and works on its own.

* The built folder (and the wheel inside it) contains no source notebook, no
  line of a hidden test or of a model answer from ``source/``, no definition of
  a function that students implement, no ``helpers.references`` and no
  ``coursekit``.
* Installed into a fresh virtual environment outside the repository, it imports
  ``helpers`` without nbgrader, dask or pytest, cannot import the references,
  and runs every release notebook with the model answers pasted in from
  ``source/``: every visible check passes and every explorer draws with the
  student's own functions (the only ones that exist there).
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import nbformat
import pytest

from coursekit import course as ck
from coursekit.classes import edits
from coursekit import student_env

ROOT = ck.REPO_ROOT
SOURCES = sorted(ck.SOURCE_DIR.glob("*.ipynb"))
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", re.S)
SOLUTION = re.compile(r"### BEGIN SOLUTION(.*?)### END SOLUTION", re.S)
#: Lines shorter than this are too generic to be evidence (``return g``, ``pass``).
MIN_LINE = 16
#: Boilerplate that answers and run-time code share without giving anything away.
GENERIC = re.compile(r"(\w+) = np\.asarray\(\1(, dtype=float)?\)")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return student_env.build(tmp_path_factory.mktemp("student") / "student-env")


def _texts(env: student_env.StudentEnv) -> dict[str, str]:
    """Every text in the built folder, the wheel's members included, by name."""
    out = {}
    for path in sorted(env.root.rglob("*")):
        if not path.is_file():
            continue
        name = path.relative_to(env.root).as_posix()
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as wheel:
                for member in wheel.namelist():
                    data = wheel.read(member)
                    out[f"{name}!{member}"] = data.decode("utf-8", "replace") if not member.endswith(".npz") else ""
        else:
            out[name] = path.read_bytes().decode("utf-8", "replace")
    return out


def _region_lines(pattern: re.Pattern) -> dict[str, str]:
    """Distinctive lines inside the regions of ``pattern`` in source/, with where they come from."""
    released = "\n".join(p.read_text(encoding="utf-8") for p in sorted(ck.RELEASE_DIR.glob("*.ipynb")))
    lines = {}
    for path in SOURCES:
        for cell in nbformat.read(path, as_version=4).cells:
            for region in pattern.findall(cell.source):
                for line in region.splitlines():
                    line = line.strip()
                    # a line the release shows anyway (outside the region) is no evidence of a leak
                    if len(line) >= MIN_LINE and not GENERIC.fullmatch(line) \
                            and json.dumps(line)[1:-1] not in released:
                        lines.setdefault(line, f"{path.name} {cell.metadata.get('nbgrader', {}).get('grade_id')}")
    return lines


def _answer_functions() -> set[str]:
    """Names of the functions students write (defined in a solution cell of source/)."""
    names = set()
    for path in SOURCES:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
                try:
                    tree = ast.parse(re.sub(r"^\s*[%!].*$", "", cell.source, flags=re.M))
                except SyntaxError:
                    continue
                names |= {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    return names


def test_the_folder_holds_the_release_notebooks_a_wheel_and_pins(built):
    names = sorted(p.relative_to(built.root).as_posix() for p in built.root.rglob("*") if p.is_file())
    assert names == sorted(["README.md", "docs/student-api.md", "environment-student.yml", "requirements.txt",
                            built.wheel.relative_to(
        built.root).as_posix(), *(f"notebooks/synapses/{p.relative_to(ck.RELEASE_DIR).as_posix()}"
                                  for p in ck.RELEASE_DIR.rglob("*") if p.is_file())])
    assert {p.name for p in built.notebooks} >= {p.name for p in ck.RELEASE_DIR.glob("*.ipynb")}
    for nb in built.notebooks:
        assert nb.read_bytes() == (ck.RELEASE_DIR / nb.name).read_bytes()
    lines = [line for line in built.requirements.read_text().splitlines() if line and not line.startswith("#")]
    assert lines == [*student_env.student_pins(), "./" + built.wheel.relative_to(built.root).as_posix()]
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[^=\s]+", line) for line in lines[:-1])
    with zipfile.ZipFile(built.wheel) as wheel:
        members = wheel.namelist()
        metadata = wheel.read(next(m for m in members if m.endswith(".dist-info/METADATA"))).decode()
    assert {m.split("/")[0] for m in members} == {"helpers", "synapses_helpers-0.1.0.dist-info"}
    assert "helpers/data/reference_curves.npz" in members
    requires = re.findall(r"^Requires-Dist: (\S+)", metadata, re.M)
    assert requires and not {r.split("==")[0] for r in requires} & {"nbgrader", "dask", "pytest", "psutil"}


def test_no_source_hidden_test_answer_or_instructor_code(built):
    texts = _texts(built)
    assert not [n for n in texts if "references" in n or "coursekit" in n or "source/" in n]
    hidden, solutions = _region_lines(HIDDEN), _region_lines(SOLUTION)
    assert len(hidden) > 100 and len(solutions) > 30, "the search found too few lines to be a search"
    for kind, lines in (("hidden-test", hidden), ("solution", solutions)):
        leaks = [(line, where, name) for line, where in lines.items() for name, text in texts.items()
                 if line in text or json.dumps(line)[1:-1] in text]
        assert not leaks, f"{kind} lines of source/ in the student environment: {leaks[:5]}"
    answers = _answer_functions()
    assert {"alpha_conductance", "mg_block", "ch_rate"} <= answers
    for name, text in texts.items():
        if name.endswith(".py"):
            tree = ast.parse(text)
            defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
            assert not defined & answers, f"{name} defines the answer function(s) {sorted(defined & answers)}"
            imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names} | {
                n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
            assert not {m for m in imported if m.startswith(("helpers.references", "coursekit", "nbgrader"))}, name


def test_the_searches_would_find_a_leak(built, tmp_path):
    """The same searches flag a wheel that carries a solution line or an answer function."""
    line = next(iter(_region_lines(SOLUTION)))
    assert line in f"x = 1\n    {line}\n"
    text = "def alpha_conductance(t, g_peak, tau):\n    return 0\n"
    assert {n.name for n in ast.walk(ast.parse(text)) if isinstance(n, ast.FunctionDef)} & _answer_functions()


RUNNER = textwrap.dedent("""\
    import json, sys
    from pathlib import Path
    import nbformat
    from nbclient import NotebookClient
    folder, out = Path(sys.argv[1]), Path(sys.argv[2])
    for path in sorted(folder.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, kernel_name="python3", timeout=600, allow_errors=True,
                       resources={"metadata": {"path": str(folder)}}).execute()
        nbformat.write(nb, out / path.name)
        print(path.name, flush=True)
""")

PROBE = ("import sys, helpers, helpers.grading, helpers.widgets, helpers.zoo, helpers.brian_harness; "
         "import importlib.util as u; "
         "print(sorted(m for m in sys.modules if m.startswith(('nbgrader', 'dask', 'pytest')))); "
         "print(u.find_spec('helpers.references'), u.find_spec('coursekit')); print(helpers.__file__)")


@pytest.mark.slow
@pytest.mark.notebooks
def test_students_install_it_and_run_every_notebook(built, tmp_path):
    venv = tmp_path / "venv"
    assert ROOT not in venv.parents
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "JUPYTER_PATH", "JUPYTER_CONFIG_DIR", "PYTHONHOME")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", MPLBACKEND="Agg", HOME=str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    subprocess.run([sys.base_prefix + "/bin/python3.11" if Path(sys.base_prefix, "bin/python3.11").exists()
                    else sys.executable, "-m", "venv", str(venv)], check=True, env=env, timeout=300)
    python = venv / "bin" / "python"
    pip = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-r", "requirements.txt"],
                         cwd=built.root, env=env, capture_output=True, text=True, timeout=1500)
    assert pip.returncode == 0, pip.stderr[-3000:]
    probe = subprocess.run([str(python), "-c", PROBE], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=300)
    assert probe.returncode == 0, probe.stderr[-3000:]
    modules, specs, location = probe.stdout.splitlines()
    assert modules == "[]" and specs == "None None" and str(venv) in location, probe.stdout

    work, done = tmp_path / "work", tmp_path / "done"
    work.mkdir(), done.mkdir()
    for path in sorted(ck.RELEASE_DIR.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        edits._fill_answers(nb, nbformat.read(ck.SOURCE_DIR / path.name, as_version=4), "solution", [])
        nbformat.write(nb, work / path.name)
    (tmp_path / "run.py").write_text(RUNNER)
    run = subprocess.run([str(python), str(tmp_path / "run.py"), str(work), str(done)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=2400)
    assert run.returncode == 0, run.stderr[-3000:]

    explorers = 0
    for path in sorted(done.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            errors = [f"{o.ename}: {o.evalue}" for o in cell.get("outputs", []) if o.output_type == "error"]
            assert not errors, f"{path.name} cell {i}: {errors}"
            text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.output_type == "stream")
            assert "first" not in text.lower() or "implement" not in text.lower(), f"{path.name} cell {i}: {text}"
            if "widgets_enabled()" in cell.source and "display(" in cell.source and "explorer(" in cell.source:
                views = [o for o in cell.outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
                assert views, f"{path.name} cell {i}: the explorer drew nothing ({cell.outputs})"
                explorers += 1
    assert explorers == 5
