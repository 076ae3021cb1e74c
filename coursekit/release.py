"""Regenerate ``release/synapses/`` with nbgrader, and the course's nbgrader plumbing.

``make release`` runs ``python -m coursekit.release``: it copies ``source/synapses/``
and ``nbgrader_config.py`` into a throw-away nbgrader course directory, runs the
real ``nbgrader generate_assignment synapses --force`` there (with a throw-away
gradebook, so the repository's ``gradebook.db`` is never touched) and replaces
``release/synapses/`` with the result. Generation is deterministic: two runs give
byte-identical notebooks (``tests/test_release.py`` checks that the committed
release is exactly what generation produces today).

``python -m coursekit.release --check`` regenerates into a temporary directory and
exits with status 1, naming the notebook and cell, if ``release/synapses/`` is
stale.

This module also holds :class:`OverwriteCellsKeepHiddenTests`, the autograde
preprocessor that ``nbgrader_config.py`` uses instead of nbgrader's
``OverwriteCells`` (see its docstring: nbgrader issue #1961).

Nothing here is imported by the student notebooks; it needs nbgrader, which the
course environment provides.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Iterable, Sequence

from nbformat.notebooknode import NotebookNode
from traitlets import List
from nbgrader import utils as nbgrader_utils
from nbgrader.api import MissingEntry
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor, OverwriteCells

__all__ = [
    "ASSIGNMENT_ID",
    "REPO_ROOT",
    "CONFIG_FILE",
    "SOURCE_DIR",
    "RELEASE_DIR",
    "NbgraderError",
    "nbgrader_env",
    "run_nbgrader",
    "processes_with_env",
    "processes_with_marker",
    "make_course",
    "generate_release",
    "notebook_names",
    "normalise_notebook",
    "diff_notebooks",
    "compare_release",
    "strip_hidden_tests",
    "OverwriteCellsKeepHiddenTests",
    "ShortenTestTracebacks",
    "main",
]

#: The course's one nbgrader assignment.
ASSIGNMENT_ID = "synapses"
#: Repository root, which is also the nbgrader course root.
REPO_ROOT = Path(__file__).resolve().parents[1]
#: The course's nbgrader configuration (its directory is the course root).
CONFIG_FILE = REPO_ROOT / "nbgrader_config.py"
#: Instructor notebooks (solutions and hidden tests).
SOURCE_DIR = REPO_ROOT / "source" / ASSIGNMENT_ID
#: Student notebooks made by ``nbgrader generate_assignment`` (committed).
RELEASE_DIR = REPO_ROOT / "release" / ASSIGNMENT_ID

#: Seconds one ``generate_assignment`` may take before it is killed.
GENERATE_TIMEOUT = 300.0


class NbgraderError(RuntimeError):
    """An nbgrader command failed; the message carries its command and log."""


# --------------------------------------------------------------------- running nbgrader
def nbgrader_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for an nbgrader subprocess that sees only the course config.

    ``JUPYTER_NO_CONFIG=1`` hides user- and system-level ``nbgrader_config.py``
    files (``~/.jupyter`` and friends), so only the ``nbgrader_config.py`` in the
    working directory (the course root) applies and results do not depend on the
    machine. ``SYNAPSES_*`` variables inherited from the caller are dropped, so the
    config's defaults (relative to its own directory) apply unless ``extra`` sets
    them. This interpreter's ``bin`` goes first on ``PATH``: nbgrader runs the
    ``alembic`` script from ``PATH`` when it creates a gradebook, and the venv
    need not be activated.

    Parameters
    ----------
    extra : dict of str to str, optional
        Variables to add or override.

    Returns
    -------
    dict of str to str
        A copy of ``os.environ`` with these changes.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNAPSES_")}
    env["JUPYTER_NO_CONFIG"] = "1"
    # nbgrader runs the `alembic` script from PATH when it creates a gradebook
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    env.setdefault("MPLBACKEND", "Agg")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if extra:
        env.update(extra)
    return env


#: Environment variable that tags every process of one :func:`run_nbgrader` call.
RUN_MARKER = "SYNAPSES_NBGRADER_RUN"


def processes_with_env(name: str, value: str) -> list[int]:
    """Ids of live processes (this one excluded) whose environment has ``name=value``.

    Kernels inherit nbgrader's environment but run in sessions of their own
    (jupyter_client starts them with ``start_new_session``), so an environment
    tag is how the kernels of one run are found. Linux only (reads ``/proc``);
    returns an empty list elsewhere.
    """
    needle = f"{name}={value}".encode()
    pids = []
    proc = Path("/proc")
    if not proc.is_dir():
        return pids
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            pids.append(int(entry.name))
    return sorted(pids)


def processes_with_marker(marker: str) -> list[int]:
    """Ids of live processes whose environment has ``RUN_MARKER=<marker>``."""
    return processes_with_env(RUN_MARKER, marker)


def _kill(pids: Iterable[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, 9)
        except (ProcessLookupError, PermissionError):
            pass


def run_nbgrader(
    args: Sequence[str],
    course_root: str | os.PathLike,
    *,
    timeout: float,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess:
    """Run ``nbgrader <args>`` in ``course_root`` with this interpreter.

    Every process of the run (nbgrader and the kernels it starts) carries a
    unique ``SYNAPSES_NBGRADER_RUN`` environment variable. Processes still alive
    after nbgrader exits (or is killed on timeout) are killed and their ids are
    reported in the result's ``leftover_pids`` attribute, so a stuck kernel can
    neither outlive the command nor go unnoticed.

    Parameters
    ----------
    args : sequence of str
        Arguments after ``nbgrader``, e.g. ``["autograde", "synapses"]``.
    course_root : path
        Working directory; its ``nbgrader_config.py`` makes it the course root.
    timeout : float
        Seconds before the command and its kernels are killed and
        :class:`subprocess.TimeoutExpired` is raised.
    env : dict, optional
        Environment; default :func:`nbgrader_env`.
    check : bool, optional
        Raise :class:`NbgraderError` with the log if the exit status is not 0
        or if nbgrader could not load ``nbgrader_config.py`` (it only logs that
        and goes on with its defaults).

    Returns
    -------
    subprocess.CompletedProcess
        With text ``stdout`` and ``stderr`` (nbgrader logs to stderr), plus
        ``elapsed`` (s) and ``leftover_pids`` (list of int).
    """
    cmd = [sys.executable, "-m", "nbgrader", *args]
    marker = uuid.uuid4().hex
    env = dict(nbgrader_env() if env is None else env)
    env[RUN_MARKER] = marker
    start = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        cwd=str(course_root),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill([proc.pid, *processes_with_marker(marker)])
        out, err = proc.communicate()
        _kill(processes_with_marker(marker))
        raise subprocess.TimeoutExpired(cmd, timeout, output=out, stderr=err) from None
    leftover = processes_with_marker(marker)
    _kill(leftover)
    result = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    result.elapsed = time.monotonic() - start
    result.leftover_pids = leftover
    if check and "Exception while loading config file" in err:
        # nbgrader logs this and carries on without the course configuration
        raise NbgraderError(f"nbgrader could not load {course_root}/nbgrader_config.py:\n{err[-6000:]}")
    if check and proc.returncode != 0:
        raise NbgraderError(
            f"`nbgrader {' '.join(args)}` in {course_root} exited with status "
            f"{proc.returncode}:\n{err[-6000:]}"
        )
    return result


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
def strip_hidden_tests(source: str, parent: Any = None) -> str:
    """Cell source with its hidden-test regions removed, exactly as released.

    Uses nbgrader's own :class:`~nbgrader.preprocessors.ClearHiddenTests` (with
    the delimiters configured on ``parent``, default ``BEGIN HIDDEN TESTS`` /
    ``END HIDDEN TESTS``), so the result equals what ``generate_assignment``
    writes to the release.

    Parameters
    ----------
    source : str
        Source of a test cell.
    parent : traitlets.config.Configurable, optional
        Object whose config supplies the delimiters.

    Returns
    -------
    str
        The source without the hidden-test lines and their markers.
    """
    clearer = ClearHiddenTests(parent=parent) if parent is not None else ClearHiddenTests()
    cell = NotebookNode(cell_type="code", source=source, metadata=NotebookNode())
    clearer._remove_hidden_test_region(cell)
    return cell.source


class OverwriteCellsKeepHiddenTests(OverwriteCells):
    """nbgrader's ``OverwriteCells`` without the false "checksum changed" warning.

    ``nbgrader generate_assignment`` stores each locked cell's source and
    checksum in the gradebook before ``ClearHiddenTests`` runs, so for every
    test cell with hidden tests the released (student) cell differs from the
    stored one. ``OverwriteCells`` therefore logs ``Attribute 'checksum' for
    cell ... has changed!`` for every untouched submission and then restores the
    stored source (nbgrader issue #1961, open in 0.9.6).

    This subclass first restores the stored source when the submitted source is
    exactly the released one (stored source minus its hidden-test regions) -- the
    same restoration ``OverwriteCells`` performs -- and then runs the stock
    checks. A cell that a student really edited still differs, so it is still
    reported and overwritten.
    """

    def preprocess_cell(self, cell, resources, cell_index):  # noqa: D401 (nbconvert API)
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id is not None and nbgrader_utils.is_locked(cell):
            try:
                stored = self.gradebook.find_source_cell(grade_id, self.notebook_id, self.assignment_id)
            except MissingEntry:
                stored = None
            if (
                stored is not None
                and stored.locked
                and stored.cell_type == cell.cell_type
                and cell.source != stored.source
                and cell.source == strip_hidden_tests(stored.source, parent=self)
            ):
                self.log.debug("Restoring hidden tests of cell %s", grade_id)
                cell.source = stored.source
        return super().preprocess_cell(cell, resources, cell_index)


class ShortenTestTracebacks(NbGraderPreprocessor):
    """Feedback: reduce each error in a test cell to ``ename: evalue``.

    IPython tracebacks quote the source lines around the failing line, so an
    error in a test cell (for instance the ``NotImplementedError`` of an
    unanswered function, called from a hidden test) would print hidden-test
    code into the feedback even after ``ClearHiddenTests`` removed it from the
    cell. In autograded test cells (grade cells that are not solution cells)
    this keeps only the last line, which is the one-sentence message the
    course's checks produce. Errors in the student's own cells keep their full
    traceback; the instructor's autograded notebooks are not changed.
    """

    # HTMLExporter configures NbConvertBase.display_data_priority; declaring the
    # trait configurable (as nbgrader's GetGrades does) avoids a "not recognized" warning.
    display_data_priority = List(NbGraderPreprocessor.display_data_priority.default_value).tag(config=True)

    def preprocess_cell(self, cell, resources, cell_index):  # noqa: D401 (nbconvert API)
        if (
            cell.cell_type == "code"
            and nbgrader_utils.is_grade(cell)
            and not nbgrader_utils.is_solution(cell)
        ):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    ename, evalue = output.get("ename", "Error"), output.get("evalue", "")
                    output["traceback"] = [f"{ename}: {evalue}" if evalue else ename]
        return cell, resources


# --------------------------------------------------------------------- command line
def main(argv: Iterable[str] | None = None) -> int:
    """``python -m coursekit.release [--check]``: regenerate or verify ``release/synapses``."""
    parser = argparse.ArgumentParser(prog="python -m coursekit.release", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if release/synapses differs from a fresh generation")
    parser.add_argument("--source", type=Path, default=SOURCE_DIR, help="assignment source folder")
    parser.add_argument("--out", type=Path, default=RELEASE_DIR, help="release folder to (re)create")
    args = parser.parse_args(None if argv is None else list(argv))
    if args.check:
        with tempfile.TemporaryDirectory(prefix="synapses-check-") as tmp:
            fresh = Path(tmp) / ASSIGNMENT_ID
            generate_release(args.source, fresh)
            problems = compare_release(fresh, args.out)
        if problems:
            print(f"{args.out} is stale; run `make release`:", *problems, sep="\n  ", file=sys.stderr)
            return 1
        print(f"{args.out} matches generate_assignment")
        return 0
    written = generate_release(args.source, args.out)
    for path in written:
        print(path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
