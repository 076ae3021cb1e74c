"""The instructor pipeline behind ``make grade``: release, sample class, autograde, rescue, feedback, export.

:func:`grade` runs, in the course root (the repository root by default), with
the real nbgrader commands:

1. **release**: ``nbgrader generate_assignment synapses --force`` (writes
   ``release/synapses``, identical to the committed one when that is up to
   date, and fills the course gradebook with the assignment's cells); sample
   students' gradebook rows are removed first, so a changed set of notebooks
   can be regenerated;
2. **sample class**: :mod:`coursekit.classes.sample` builds the
   students from ``source/`` and ``release/``; one goes through the exchange
   (``release_assignment``, ``fetch_assignment``, ``submit``, ``collect``), the
   others are written to ``submitted/`` as an LMS download would be. Only
   ``sample-...`` folders, rows and exchange submissions are ever removed or
   replaced;
3. **autograde**: :func:`coursekit.pipeline.engine.autograde` (one
   ``nbgrader autograde synapses --student S --force`` per student; serial
   for one worker, concurrent otherwise);
4. **rescue**: every notebook that nbgrader did not grade completely (it
   failed the whole student, or left a test cell without a score) is graded
   once more on its own with :mod:`coursekit.pipeline.rescue` (the real
   ``nbgrader autograde --student S --notebook N --force`` with a repaired
   staging copy, ``TrustedExecute`` in rescue mode and ``OverwriteCells.add_missing_cells``);
   a test cell that still has no score is set to 0 and flagged for manual
   grading, with the reason in the report;
5. **feedback**: ``nbgrader generate_feedback synapses --force`` for the
   graded students (the course config strips hidden tests and shortens test
   tracebacks to the one-line message);
6. **export**: ``nbgrader export`` -> ``grades.csv`` in the course root;
7. **report**: a student x notebook table (autograded score/max), one line
   per zero-scored test with its reason, per-notebook notes, where the feedback
   and ``grades.csv`` are, the checks below and a short summary.

Checks after every run: ``submitted/`` is byte-identical before and after
grading (SHA-256 of every file); no process started by the run (nbgrader or
a kernel, recognised by an environment tag) is still alive; every autograded
test cell of every graded student has a score in the gradebook; and for the
sample class, every student scored exactly as declared (full marks except
the test cells their edits break).

How the nbgrader walls are handled
----------------------------------
* #174 (no parallel autograde): ``--workers N`` / ``--scheduler ADDR`` are
  passed to :func:`coursekit.pipeline.engine.autograde`.
* #917 (hidden tests in feedback): ``nbgrader_config.py`` adds
  ``ClearHiddenTests`` and ``ShortenTestTracebacks`` to ``GenerateFeedback``;
  ``tests/test_instructor.py`` greps the feedback HTML for every hidden-test
  line and every long numeric literal of the hidden tests.
* #1004 (30 s cell timeout): the course config sets ``Execute.timeout``
  (180 s; ``SYNAPSES_CELL_TIMEOUT``); the pipeline passes
  ``--Execute.timeout`` explicitly to every autograde run, capped at 60 s for
  the sample class (the model solutions' slowest cell takes about 3 s) so its
  endless loops cost a minute each, not three; ``--cell-timeout`` overrides.
* #1682 (a Ctrl-C-proof hang fails the student and deletes the autograded
  folder): the rescue grades that student's notebooks one by one; the hung
  cell (found in nbgrader's log with nbclient's own preview formatter) is not
  run again but marked, the kernel is restarted for the cells after it. The
  same covers a dying kernel and damaged cell metadata.
* #1961 (false "checksum changed" warnings): ``OverwriteCellsKeepHiddenTests``
  in ``nbgrader_config.py``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import nbformat

from coursekit import processes
from coursekit.settings import CourseSettings, read_settings
from coursekit import release as rel
from coursekit import course as ck
from coursekit.pipeline import report as rep
from coursekit.pipeline import rescue as rsc
from coursekit.classes import sample as sc

__all__ = [
    "CourseSettings",
    "hash_tree",
    "Progress",
    "Rescue",
    "GradeRun",
    "trusted_preprocessors",
    "rescue",
    "grade",
    "RUN_TAG",
]

#: Environment tag carried by every process a :func:`grade` run starts
#: (the same variable :mod:`coursekit.pipeline.engine` uses).
RUN_TAG = "SYNAPSES_AUTOGRADE_RUN"
#: Seconds of silence after which the progress printer says what is going on.
HEARTBEAT_SECONDS = 30.0
#: Seconds one nbgrader command other than autograde may take.
COMMAND_TIMEOUT = 900.0
#: Cell time limit (s) for the sample class unless ``cell_timeout`` is given: the
#: slowest cell of the model solutions takes about 3 s, and the sample class's
#: endless loops would otherwise wait the course's full limit (180 s) each.
SAMPLE_CELL_TIMEOUT = 60.0


#: Folders and files of the course root that grading writes (not part of the repository).
GRADING_OUTPUTS = ("submitted", "autograded", "feedback", "exchange", "release", "reports", "gradebook.db",
                   "grades.csv", ".venv", ".git", ".pytest_cache", ".hypothesis", "artifacts")


def repository_digest(root: Path) -> dict[str, str]:
    """SHA-256 of every file of the course repository and of the installed ``helpers`` package.

    Everything below the course root except what grading writes
    (:data:`GRADING_OUTPUTS`; ``release/`` is checked on its own) and caches,
    plus the ``helpers`` package that is imported (it may be installed
    elsewhere). A submission that wrote anywhere in it changes this.
    """
    from coursekit.grading.kernel import COURSEKIT_DIR, HELPERS_DIR

    out: dict[str, str] = {}
    for base, label in ((Path(root), "course"), (HELPERS_DIR, "helpers"), (COURSEKIT_DIR, "coursekit")):
        for dirpath, dirnames, filenames in os.walk(base):
            rel_dir = Path(dirpath).relative_to(base)
            if rel_dir == Path("."):
                dirnames[:] = [d for d in dirnames if d not in GRADING_OUTPUTS]
            dirnames[:] = [d for d in dirnames if d != "__pycache__" and not d.endswith(".egg-info")]
            for name in filenames:
                if rel_dir == Path(".") and name in GRADING_OUTPUTS:
                    continue
                path = Path(dirpath) / name
                if path.is_file() and not path.is_symlink():
                    out[f"{label}:{(rel_dir / name).as_posix()}"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def hash_tree(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (relative POSIX path -> hex digest)."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# =============================================================================== progress
class Progress:
    """Prints ``[mm:ss] message`` lines and a heartbeat while a long step is silent.

    Everything ``make grade`` prints goes through here, student data included (error messages, stderr,
    cell ids): terminal controls are shown escaped (:func:`coursekit.pipeline.report.terminal_safe`).

    Parameters
    ----------
    out : callable
        Receives each line (default :func:`print` with flush).
    """

    def __init__(self, out: Callable[[str], None] | None = None):
        self.start = time.monotonic()
        self._out = out or (lambda line: print(line, flush=True))
        self._last = self.start
        self._lock = threading.Lock()
        self.status = ""

    def elapsed(self) -> str:
        """Time since the start, ``m:ss``."""
        s = int(time.monotonic() - self.start)
        return f"{s // 60:d}:{s % 60:02d}"

    def __call__(self, message: str) -> None:
        with self._lock:
            self._last = time.monotonic()
            self._out(rep.terminal_safe(f"[{self.elapsed():>5}] {message}"))

    def plain(self, text: str) -> None:
        """Print ``text`` without a time stamp."""
        with self._lock:
            self._last = time.monotonic()
            self._out(rep.terminal_safe(text))

    def heartbeat(self, every: float = HEARTBEAT_SECONDS):
        """Context manager: while it is open, say ``self.status`` after ``every`` s of silence."""
        progress = self

        class _Beat:
            def __enter__(self):
                self.stop = threading.Event()
                self.thread = threading.Thread(target=self.run, daemon=True, name="progress-heartbeat")
                self.thread.start()
                return self

            def run(self):
                while not self.stop.wait(1.0):
                    if time.monotonic() - progress._last >= every and progress.status:
                        progress(f"... {progress.status}")

            def __exit__(self, *exc):
                self.stop.set()
                self.thread.join(5)
                return False

        return _Beat()


# =============================================================================== rescue
def trusted_preprocessors(configured: list[dict[str, Any]]) -> list[str]:
    """Dotted names of the course's autograde preprocessors, the Execute step made ``TrustedExecute``.

    ``configured`` is :attr:`coursekit.settings.CourseSettings.autograde_preprocessors`. The rescue run puts
    ``TrustedExecute`` in its rescue mode; this makes sure it is the step that runs the notebook even if
    the course configuration names nbgrader's own ``Execute``.
    """
    from coursekit.grading.execute import TrustedExecute

    trusted = f"{TrustedExecute.__module__}.{TrustedExecute.__qualname__}"
    out = [trusted if p["execute"] else p["name"] for p in configured]
    if trusted not in out:
        raise ValueError(f"no Execute preprocessor among {out}")
    return out


@dataclass
class Rescue:
    """One rescue run: notebooks of one student graded again.

    Attributes
    ----------
    student : str
    notebooks : list of str
        Notebook ids graded in this run.
    why : dict of str to str
        Notebook id -> what nbgrader left undone.
    repairs : dict of str to list of str
        Notebook id -> changes to the staging copy and cells not run again.
    ok : bool
        nbgrader exited 0 and wrote every autograded notebook.
    seconds : float
    log_tail : str
    """

    student: str
    notebooks: list[str]
    why: dict[str, str]
    repairs: dict[str, list[str]] = field(default_factory=dict)
    ok: bool = False
    seconds: float = 0.0
    log_tail: str = ""


def _nbgrader(args: list[str], cwd: Path, tag: str, timeout: float = COMMAND_TIMEOUT,
              check: bool = True) -> subprocess.CompletedProcess:
    return ck.run_nbgrader(args, cwd, timeout=timeout, env=ck.nbgrader_env({RUN_TAG: tag}), check=check)


def rescue(settings: CourseSettings, student: str, why: Mapping[str, str], *, first_log: str = "",
           tag: str, whole: bool = False, assignment: str = ck.ASSIGNMENT_ID,
           timeout: float = COMMAND_TIMEOUT) -> Rescue:
    """Grade notebooks of one student again, so that every gradable cell gets a score.

    A staging copy of the student's submitted folder (all files, so nbgrader
    does not zero the other notebooks as missing) gets each notebook in
    ``why`` repaired with :func:`coursekit.pipeline.rescue.repair_notebook`;
    then the real command runs in the course::

        nbgrader autograde <assignment> --student S [--notebook N] --force
            --CourseDirectory.submitted_directory=<staging>
            --Autograde.autograde_preprocessors=[... TrustedExecute ...] --TrustedExecute.rescue=True
            --OverwriteCells.add_missing_cells=True
            [--TrustedExecute.skip_digests=<cells that hung the kernel in first_log>]

    once for the whole student (``whole=True``: nbgrader failed the whole
    submission, so every notebook is graded again) or once per notebook.
    ``submitted/`` is only read.

    Parameters
    ----------
    settings : CourseSettings
    student : str
    why : mapping of str to str
        Notebook id -> what nbgrader left undone (the notebooks to grade).
    first_log : str, optional
        nbgrader's log of the first run (to find cells that hung the kernel).
    tag : str
        Value of :data:`RUN_TAG` for the processes started.
    whole : bool, optional
        Grade all notebooks of ``why`` in one nbgrader run (without
        ``--notebook``); they must be all the student's submitted notebooks.
    assignment : str, optional
    timeout : float, optional
        Seconds per nbgrader run.

    Returns
    -------
    Rescue
    """
    root = settings.root
    nb_ids = list(why)
    result = Rescue(student, nb_ids, dict(why))
    src_folder = root / "submitted" / student / assignment
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="synapses-rescue-") as tmp:
        stage = Path(tmp) / "submitted"
        shutil.copytree(src_folder, stage / student / assignment)
        for p in (stage / student / assignment).rglob("*"):
            os.chmod(p, 0o700 if p.is_dir() else 0o600)
        digests: list[str] = []
        for nb_id in nb_ids:
            name = f"{nb_id}.ipynb"
            notes = result.repairs.setdefault(nb_id, [])
            submitted = nbformat.read(src_folder / name, as_version=4)
            released = nbformat.read(root / "release" / assignment / name, as_version=4)
            source_nb = nbformat.read(root / "source" / assignment / name, as_version=4)
            repaired, fixed = rsc.repair_notebook(submitted, released)
            notes += fixed
            hung = rsc.hung_cell_digests(first_log, list(submitted.cells) + list(source_nb.cells))
            if hung:
                notes.append("the cell that hung the kernel in the first run is not run again")
                digests += hung
            missing = rsc.missing_grade_cells(repaired, released)
            if missing:
                notes.append("nbgrader re-adds the deleted grade cells " + ", ".join(missing))
            nbformat.write(repaired, stage / student / assignment / name)
        base = ["autograde", assignment, "--student", student, "--force", *settings.execute_args,
                f"--CourseDirectory.submitted_directory={stage}",
                "--Autograde.autograde_preprocessors=" + json.dumps(trusted_preprocessors(
                    settings.autograde_preprocessors)),
                "--TrustedExecute.rescue=True", "--OverwriteCells.add_missing_cells=True"]
        if digests:
            base.append("--TrustedExecute.skip_digests=" + ",".join(digests))
        runs = [[]] if whole else [["--notebook", nb_id] for nb_id in nb_ids]
        ok, logs = True, []
        for extra in runs:
            try:
                proc = _nbgrader(base + extra, root, tag, timeout=timeout, check=False)
                ok = ok and proc.returncode == 0
                logs.append(proc.stderr)
            except subprocess.TimeoutExpired as exc:
                ok = False
                logs.append(f"killed after {timeout:.0f} s\n" + str(exc.stderr or ""))
    result.seconds = time.monotonic() - start
    result.log_tail = "\n".join(logs)[-3000:]
    result.ok = ok and all((root / "autograded" / student / assignment / f"{nb}.ipynb").is_file() for nb in nb_ids)
    return result


def _zero_ungraded(settings: CourseSettings, student: str, nb_id: str, grade_ids: Sequence[str],
                   assignment: str, flag: bool = True) -> None:
    """Last resort: score 0 (and, if ``flag``, flag for manual grading) the cells nbgrader never graded."""
    from nbgrader.api import Gradebook

    with Gradebook(settings.db_url, settings.course_id) as gb:
        for gid in grade_ids:
            g = gb.find_grade(gid, nb_id, assignment, student)
            if g.auto_score is None and g.manual_score is None:
                g.auto_score = 0.0
                g.needs_manual_grade = flag
        gb.db.commit()


# =============================================================================== autograde
def _autograde(settings: CourseSettings, students: list[str], workers: int, scheduler: str | None,
               say: Callable[[str], None], tag: str, assignment: str) -> dict[str, Any]:
    """:func:`coursekit.pipeline.engine.autograde` of ``students`` with the run's tag and the course's options."""
    from coursekit.pipeline.engine import autograde

    return autograde(settings.root, students, workers=workers, scheduler=scheduler, progress=say,
                     assignment=assignment, run_tag=tag, nbgrader_args=settings.execute_args)


# =============================================================================== the run
@dataclass
class GradeRun:
    """Everything a :func:`grade` run found (also what the tests inspect).

    Attributes
    ----------
    root : pathlib.Path
    students : list of str
    notebooks : list of str
        Notebook ids (without ``.ipynb``).
    results : dict
        student -> notebook id -> :class:`coursekit.pipeline.report.NotebookResult`.
    outcomes : dict
        student -> the autograde outcome (``ok``, ``seconds``, ``log_tail``).
    rescues : list of Rescue
    zeroed : list of str
        "student/notebook/cell" set to 0 for manual review as a last resort.
    sample : list of SampleSubmission
        The sample class as built (empty when grading given students).
    mismatches : list of str
        Sample students not scored as declared.
    submitted_before, submitted_after : dict
        :func:`hash_tree` of ``submitted/`` before autograde and at the end.
    repository_before, repository_after : dict
        :func:`repository_digest` of the course and the ``helpers`` package, likewise.
    leftover_pids : list of int
        Processes of the run alive at the end (killed, and reported).
    feedback : list of pathlib.Path
    grades_csv : pathlib.Path or None
    release_changed : bool
    problems : list of str
        Failed checks (empty when all is well).
    seconds : float
    notes : dict
        (student, notebook id) -> lines shown under the table.
    tag : str
        Value of :data:`RUN_TAG` carried by every process of the run.
    warnings : list of str
        Course checks that do not fail the run (a sample notebook that hung
        where no hang was planted).
    """

    root: Path
    students: list[str] = field(default_factory=list)
    notebooks: list[str] = field(default_factory=list)
    results: dict = field(default_factory=dict)
    outcomes: dict = field(default_factory=dict)
    rescues: list[Rescue] = field(default_factory=list)
    zeroed: list[str] = field(default_factory=list)
    sample: list = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    submitted_before: dict = field(default_factory=dict)
    submitted_after: dict = field(default_factory=dict)
    repository_before: dict = field(default_factory=dict)
    repository_after: dict = field(default_factory=dict)
    leftover_pids: list[int] = field(default_factory=list)
    feedback: list[Path] = field(default_factory=list)
    grades_csv: Path | None = None
    release_changed: bool = False
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    notes: dict = field(default_factory=dict)
    tag: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No failed check and no sample student scored other than declared."""
        return not self.problems and not self.mismatches


def _needs_rescue(results, student: str, nb_id: str, root: Path, assignment: str) -> str:
    """Why nbgrader's own run of this notebook is not enough ("" if it is).

    Besides a missing autograded notebook and test cells without a score,
    grade cells missing from the submission (deleted, or their nbgrader
    metadata stripped) count: nbgrader leaves their gradebook rows as they
    were, so a score from an earlier run of the same student could hide them.
    """
    r = results[student][nb_id]
    if not r.submitted:
        return ""
    if not r.graded:
        return "nbgrader wrote no autograded notebook (it failed the submission)"
    if r.ungraded:
        return "test cells without a score: " + ", ".join(r.ungraded)
    name = f"{nb_id}.ipynb"
    try:
        gone = rsc.missing_grade_cells(nbformat.read(root / "submitted" / student / assignment / name, as_version=4),
                                       nbformat.read(root / "release" / assignment / name, as_version=4))
    except Exception:  # noqa: BLE001 (unreadable: nbgrader has already said so)
        gone = []
    if gone:
        return "grade cells missing from the submission: " + ", ".join(gone)
    return ""


def _check_expectations(run: GradeRun) -> list[str]:
    out = []
    for sub in run.sample:
        s = sub.student.id
        for nb_id in run.notebooks:
            r = run.results[s][nb_id]
            zero = sub.expect_zero.get(nb_id, set())
            for c in r.tests:
                if c.max_score <= 0:
                    continue
                if c.grade_id in zero and c.score:
                    out.append(f"{s} {nb_id} {c.grade_id}: expected 0, got {c.score:g}/{c.max_score:g} "
                               "(does the hidden test catch this mistake?)")
                elif c.grade_id not in zero and c.score != c.max_score:
                    got = "no score" if c.score is None else f"{c.score:g}/{c.max_score:g}"
                    out.append(f"{s} {nb_id} {c.grade_id}: expected full marks, got {got}: {c.reason}")
    return out


def grade(course_root: Path | str = ck.REPO_ROOT, *, workers: int = 2, scheduler: str | None = None,
          students: Sequence[str] | None = None, sample_class: Sequence[sc.SampleStudent] = sc.SAMPLE_CLASS,
          regenerate: bool = True, out: Callable[[str], None] | None = None,
          assignment: str = ck.ASSIGNMENT_ID, cell_timeout: float | None = None,
          allow_unsandboxed: bool = False) -> GradeRun:
    """Run the instructor pipeline (see the module docstring) and print the report.

    Parameters
    ----------
    course_root : path, optional
        nbgrader course root (default: the repository root).
    workers : int, optional
        Students autograded at once (default 2; 1 = plain serial nbgrader).
    scheduler : str, optional
        Dask scheduler address for :func:`coursekit.pipeline.engine.autograde`.
    students : sequence of str, optional
        Grade these existing submissions (``submitted/<id>/``) instead of the
        sample class; nothing is assembled or removed.
    sample_class : sequence of SampleStudent, optional
        The sample class to assemble (default :data:`sample_class.SAMPLE_CLASS`).
    regenerate : bool, optional
        Run ``nbgrader generate_assignment --force`` first (default True).
    out : callable, optional
        Receives every printed line (default: print).
    assignment : str, optional
    cell_timeout : float, optional
        Seconds a cell may run (``--Execute.timeout`` of every autograde run).
        Default: the course's ``Execute.timeout``, capped at
        :data:`SAMPLE_CELL_TIMEOUT` for the sample class.
    allow_unsandboxed : bool, optional
        Grade even where the sandbox cannot be applied (no Landlock): student
        code then runs with your rights (the trusted grader still decides).

    Returns
    -------
    GradeRun

    Raises
    ------
    coursekit.grading.execute.SandboxRefused
        No sandbox here and `allow_unsandboxed` is False (nothing was run).
    """
    from coursekit.grading import sandbox
    from coursekit.grading.execute import SandboxRefused

    reason = sandbox.unavailable_reason()
    if reason and not allow_unsandboxed:
        raise SandboxRefused(f"refusing to grade: student code would run without a sandbox ({reason}); "
                             "pass --allow-unsandboxed to grade anyway")
    progress = Progress(out)
    if reason:
        progress(f"WARNING: grading without a sandbox ({reason}): student code runs with your rights")
    tag = f"grade-{uuid.uuid4().hex}"
    # the sandboxes' scratch folders of this run (kernels, graders and what students wrote there), removed
    # at the end even when a killed nbgrader could not remove its own
    scratch = tempfile.mkdtemp(prefix="synapses-run-")
    try:
        return _grade(progress, tag, Path(course_root).resolve(), workers, scheduler, students, sample_class,
                      regenerate, assignment, cell_timeout, allow_unsandboxed, scratch)
    except KeyboardInterrupt:
        killed = processes.kill_tagged(RUN_TAG, tag)
        progress(f"interrupted: {len(killed)} nbgrader/kernel processes of this run killed; "
                 "re-run `make grade` to start over (the sample class is rebuilt)")
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@dataclass
class _Job:
    """What the phases of one :func:`grade` run share."""

    progress: Progress
    tag: str
    settings: CourseSettings
    assignment: str
    run: GradeRun
    use_sample: bool

    @property
    def root(self) -> Path:
        return self.run.root

    def results(self) -> dict:
        """Scores and reasons of every student and notebook, read again from the gradebook."""
        s = self.settings
        return rep.collect_results(self.root, s.db_url, s.course_id, self.run.students, self.run.notebooks,
                                   self.assignment, s.cell_timeout)


def _grade(progress: Progress, tag: str, root: Path, workers: int, scheduler: str | None,
           students: Sequence[str] | None, sample_class: Sequence[sc.SampleStudent], regenerate: bool,
           assignment: str, cell_timeout: float | None, allow_unsandboxed: bool = False,
           scratch: str = "") -> GradeRun:
    """The phases of :func:`grade`, in order (the module docstring describes each)."""
    job = _setup(progress, tag, root, students is None, assignment, cell_timeout, allow_unsandboxed, scratch)
    _release_phase(job, regenerate)
    _class_phase(job, students, sample_class)
    _autograde_phase(job, workers, scheduler)
    _rescue_phase(job)
    _feedback_phase(job)
    _export_phase(job)
    _check_phase(job)
    job.run.seconds = time.monotonic() - progress.start
    _print_report(job.run, progress, workers, scheduler, assignment)
    _class_report(root, assignment, progress)  # reports/<assignment>.html, its path printed last
    return job.run


def _setup(progress: Progress, tag: str, root: Path, use_sample: bool, assignment: str,
           cell_timeout: float | None, allow_unsandboxed: bool, scratch: str) -> _Job:
    """Read the course settings and fix this run's cell time limit and sandbox options."""
    # the Gradebook this process opens runs `alembic` from PATH when it creates a database
    os.environ["PATH"] = ck.interpreter_path(os.environ.get("PATH", ""))
    run = GradeRun(root, tag=tag)
    settings = read_settings(root)
    names = rel.notebook_names(root / "source" / assignment)
    run.notebooks = [n.removesuffix(".ipynb") for n in names]
    progress(f"course {root}: {len(names)} notebooks in source/{assignment}; gradebook {settings.db_url}")
    course_limit = settings.cell_timeout
    if cell_timeout is None and use_sample and course_limit:
        cell_timeout = min(course_limit, SAMPLE_CELL_TIMEOUT)
    if cell_timeout is not None:
        settings = dataclasses.replace(settings, cell_timeout=float(cell_timeout))
    settings = dataclasses.replace(settings, allow_unsandboxed=allow_unsandboxed, scratch_dir=scratch)
    if settings.cell_timeout != course_limit:
        progress(f"cell time limit {settings.cell_timeout:g} s for this run (the course's nbgrader_config.py: "
                 f"{course_limit:g} s; --cell-timeout to change)")
    return _Job(progress, tag, settings, assignment, run, use_sample)


def _release_phase(job: _Job, regenerate: bool) -> None:
    """1. Remove the previous sample class; regenerate ``release/<assignment>``."""
    s, a = job.settings, job.assignment
    if job.use_sample and Path(s.db_url.removeprefix("sqlite:///")).exists():
        removed = sc.remove_sample_students(job.root, s.db_url, s.course_id, s.exchange_root, a)
        if removed:
            job.progress(f"removed the previous sample class ({len(removed)} students)")
    if regenerate:
        before = hash_tree(job.root / "release" / a)
        _nbgrader(["generate_assignment", a, "--force"], job.root, job.tag)
        job.run.release_changed = bool(before) and hash_tree(job.root / "release" / a) != before
        state = "created" if not before else "CHANGED: review and commit it" if job.run.release_changed \
            else "unchanged"
        job.progress(f"release: nbgrader generate_assignment {a} --force (release/{a} {state})")


def _class_phase(job: _Job, students: Sequence[str] | None, sample_class: Sequence[sc.SampleStudent]) -> None:
    """2. Assemble the sample class, or check that the given submissions exist; fingerprint the files."""
    run, s, a = job.run, job.settings, job.assignment
    if job.use_sample:
        job.progress(f"sample class: {len(sample_class)} students")
        run.sample = sc.assemble(job.root, s.db_url, s.course_id, s.exchange_root, students=sample_class,
                                 assignment=a, say=lambda m: job.progress("  " + m))
        run.students = [sub.student.id for sub in run.sample]
    else:
        run.students = list(students)
        missing = [st for st in run.students if not (job.root / "submitted" / st / a).is_dir()]
        if missing:
            raise FileNotFoundError("no submission folder for " + ", ".join(
                f"submitted/{st}/{a}" for st in missing))
    run.submitted_before = hash_tree(job.root / "submitted")
    run.repository_before = repository_digest(job.root)


def _autograde_phase(job: _Job, workers: int, scheduler: str | None) -> None:
    """3. ``nbgrader autograde`` every student (in parallel), with progress lines."""
    run, progress = job.run, job.progress
    n = len(run.students)
    mode = f"{workers} workers" if workers > 1 or scheduler else "serial"
    progress(f"autograde: {n} students x {len(run.notebooks)} notebooks ({mode}"
             + (f", Dask scheduler {scheduler}" if scheduler else "") + ")")
    finished: list[str] = []

    def on_student(line: str) -> None:
        finished.append(line)
        progress.status = f"autograde: {len(finished)}/{n} students done"
        progress("  " + line)

    _preflight(job)
    progress.status = f"autograde: 0/{n} students done"
    with progress.heartbeat():
        run.outcomes = _autograde(job.settings, run.students, workers, scheduler, on_student, job.tag,
                                  job.assignment)
    progress.status = ""
    _stop_if_the_grader_failed(job)
    failed = [st for st, o in run.outcomes.items() if not o.ok]
    if failed:
        progress("nbgrader failed " + ", ".join(failed) + " as a whole (nbgrader #1682); rescuing them")


def _preflight(job: _Job) -> None:
    """Before any student: the grader starts, imports the checks and answers, and answers (coursekit.grading.preflight).

    Every autograde worker checks again in its own process; this one stops the run before the first of
    them, with the one line of :class:`coursekit.grading.preflight.GraderUnavailable` (exit status 1).
    """
    from coursekit.grading import preflight
    from coursekit.grading.execute import TrustedExecute

    s = job.settings
    preflight.check(TrustedExecute(allow_unsandboxed=s.allow_unsandboxed, scratch_dir=s.scratch_dir))
    job.progress("preflight: the trusted grader starts, imports the checks and answers, and answers")


def grader_failures(outcomes: dict) -> dict[str, str]:
    """Students whose autograde stopped because the grader could not run (not because of their work): the line.

    Such a run wrote no score for the student (:mod:`coursekit.grading.preflight`); these are told apart from
    nbgrader failing a submission, which the rescue grades again.
    """
    from coursekit.grading import preflight

    out = {}
    for student, outcome in outcomes.items():
        for line in (getattr(outcome, "log", "") or getattr(outcome, "log_tail", "") or "").splitlines():
            if preflight.PREFIX in line:
                out[student] = line[line.index(preflight.PREFIX) + len(preflight.PREFIX):].strip()
    return out


def _stop_if_the_grader_failed(job: _Job) -> None:
    """Stop the run (no rescue, no feedback) if a worker's grader could not run: it is never a student's zero."""
    from coursekit.grading import preflight

    broken = grader_failures(job.run.outcomes)
    if broken:
        job.progress(f"autograde: the grader failed, not the submission, for {len(broken)} students "
                     f"({', '.join(sorted(broken))}): nothing of theirs is scored; the others are graded")
        raise preflight.GraderUnavailable(next(iter(broken.values())))


def _rescue_phase(job: _Job) -> None:
    """4. Grade again what nbgrader could not; zero (and flag) what still is ungraded."""
    run, progress = job.run, job.progress
    results = job.results()
    todo: dict[str, dict[str, str]] = {}
    for st in run.students:
        for nb in run.notebooks:
            why = _needs_rescue(results, st, nb, job.root, job.assignment)
            if why:
                todo.setdefault(st, {})[nb] = why
    for k, (st, why) in enumerate(todo.items(), 1):
        submitted_nbs = [nb for nb in run.notebooks if results[st][nb].submitted]
        whole = sorted(why) == sorted(submitted_nbs) and all(not results[st][nb].graded for nb in submitted_nbs)
        progress.status = f"rescue {k}/{len(todo)}: {st} ({', '.join(why)})"
        outcome = run.outcomes.get(st)
        log = getattr(outcome, "log", "") or getattr(outcome, "log_tail", "") or ""
        with progress.heartbeat():
            r = rescue(job.settings, st, why, first_log=log, tag=job.tag, whole=whole, assignment=job.assignment)
            if whole and not r.ok:  # one notebook still breaks nbgrader: the others must still score
                progress(f"  rescue of {st} as a whole failed; grading its notebooks one by one")
                r = rescue(job.settings, st, why, first_log=log, tag=job.tag, whole=False,
                           assignment=job.assignment)
        run.rescues.append(r)
        progress(f"  rescue [{k}/{len(todo)}] {st}: {len(why)} notebook(s) "
                 f"{'graded' if r.ok else 'NOT graded'} in {r.seconds:.0f} s"
                 + (" (nbgrader had failed the whole submission)" if whole else ""))
        for nb in r.notebooks:
            if whole and not r.repairs.get(nb):
                continue
            progress(f"      {nb}: " + "; ".join(([] if whole else [r.why[nb]]) + r.repairs.get(nb, [])))
    progress.status = ""
    if todo:
        results = job.results()
    for st in run.students:
        for nb in run.notebooks:
            r = results[st][nb]
            if r.ungraded:
                # not submitted: a plain 0 (what nbgrader itself records for a missing notebook);
                # submitted but still ungraded: 0 and flagged for a human
                _zero_ungraded(job.settings, st, nb, r.ungraded, job.assignment, flag=r.submitted)
                if r.submitted:
                    run.zeroed += [f"{st}/{nb}/{g}" for g in r.ungraded]
    if any(r.ungraded for row in results.values() for r in row.values()):
        results = job.results()
    if run.zeroed:
        progress("could not grade " + ", ".join(run.zeroed) + ": set to 0 and flagged for manual grading")
        for item in run.zeroed:
            st, nb, gid = item.split("/")
            for c in results[st][nb].tests:
                if c.grade_id == gid:
                    c.reason = "nbgrader could not grade this cell; set to 0 and flagged for manual grading"
    run.results = results


def _feedback_phase(job: _Job) -> None:
    """5. ``nbgrader generate_feedback`` for the graded students."""
    run, a = job.run, job.assignment
    job.progress.status = "generate_feedback"
    with job.progress.heartbeat():
        if job.use_sample:
            _nbgrader(["generate_feedback", a, "--force", f"--student={sc.PREFIX}*"], job.root, job.tag)
        else:
            for st in run.students:
                _nbgrader(["generate_feedback", a, "--force", f"--student={st}"], job.root, job.tag)
    run.feedback = sorted(p for st in run.students for p in (job.root / "feedback" / st / a).glob("*.html"))
    job.progress(f"feedback: nbgrader generate_feedback {a} -> {len(run.feedback)} HTML pages")


def _export_phase(job: _Job) -> None:
    """6. ``nbgrader export`` to ``grades.csv``."""
    _nbgrader(["export"], job.root, job.tag)
    job.run.grades_csv = job.root / "grades.csv" if (job.root / "grades.csv").is_file() else None
    job.progress("grades: nbgrader export -> " + (str(job.run.grades_csv) if job.run.grades_csv else "NO grades.csv"))
    job.progress.status = ""


def _check_phase(job: _Job) -> None:
    """7. Nothing written where it must not be, no process left, every sample student scored as declared."""
    run = job.run
    run.submitted_after = hash_tree(job.root / "submitted")
    run.repository_after = repository_digest(job.root)
    run.leftover_pids = processes.kill_tagged(RUN_TAG, job.tag)
    run.problems = _problems(run)
    if run.sample:
        run.mismatches = _check_expectations(run)
    _collect_notes(run, job.assignment)
    if run.sample:
        run.warnings = _course_warnings(run)


def _class_report(root: Path, assignment: str, progress: Progress) -> Path | None:
    """Write the class report (coursekit.insight.class_report), print its summary and path; never fails the run."""
    try:
        from coursekit.insight.class_report import build_report
        path = build_report(root, assignment, say=progress.plain)
    except Exception as exc:  # noqa: BLE001 (the grades are in; a broken report must not hide them)
        progress(f"class report NOT written: {type(exc).__name__}: {exc}")
        return None
    progress(f"class report: {path}")
    return path


def _collect_notes(run: GradeRun, assignment: str) -> None:
    """Per-notebook lines for the report: what the submission changed, what the student did, the rescue."""
    for s in run.students:
        for nb in run.notebooks:
            sub_path = run.root / "submitted" / s / assignment / f"{nb}.ipynb"
            rel_path = run.root / "release" / assignment / f"{nb}.ipynb"
            if sub_path.is_file() and rel_path.is_file():
                try:
                    found = rep.inspect_submission(nbformat.read(sub_path, as_version=4),
                                                   nbformat.read(rel_path, as_version=4))
                except Exception as exc:  # noqa: BLE001 (an unreadable submission is itself the news)
                    found = [f"could not read the submission: {type(exc).__name__}: {exc}"]
                run.notes.setdefault((s, nb), []).extend("submission: " + x for x in found)
    for sub in run.sample:
        for name, lines in sub.behaviour.items():
            run.notes.setdefault((sub.student.id, name.removesuffix(".ipynb")), []).extend(
                "student: " + x for x in lines)
    for r in run.rescues:
        whole = len(r.notebooks) > 1 and all(r.why[nb].startswith("nbgrader wrote no") for nb in r.notebooks)
        if whole:
            run.notes.setdefault((r.student, None), []).append(
                f"nbgrader failed the whole submission (nbgrader #1682); the rescue graded all "
                f"{len(r.notebooks)} notebooks again" + ("" if r.ok else " (NOT all graded: see the log)"))
        for nb in r.notebooks:
            if whole and not r.repairs.get(nb):
                continue
            head = "rescue" if whole else f"graded by the rescue ({r.why[nb]})"
            run.notes.setdefault((r.student, nb), []).append(
                head + "".join(("; " if i or not whole else ": ") + x for i, x in enumerate(r.repairs.get(nb, []))))


def _course_warnings(run: GradeRun) -> list[str]:
    """Hangs and dead kernels in sample notebooks where no pathological edit put them.

    A wrong answer should fail its tests quickly; if it makes another cell of
    the notebook time out or kill the kernel, the notebook needs a guard.
    """
    out = []
    for sub in run.sample:
        s = sub.student.id
        for nb in run.notebooks:
            if sub.actions.get(f"{nb}.ipynb", set()) & sc.RUNTIME_ACTIONS:
                continue
            for event in run.results[s][nb].events:
                if "timed out" in event or "kernel" in event or "not run" in event:
                    out.append(f"{s} {nb}: {event} although nothing was planted there "
                               "(a wrong answer makes this cell slow or fatal: guard it in the notebook)")
    return out


def _problems(run: GradeRun) -> list[str]:
    out = []
    if run.submitted_before != run.submitted_after:
        changed = sorted(set(run.submitted_before.items()) ^ set(run.submitted_after.items()))
        out.append("submitted/ changed during grading: " + ", ".join(sorted({k for k, _ in changed})[:5]))
    if run.repository_before != run.repository_after:
        changed = sorted(set(run.repository_before.items()) ^ set(run.repository_after.items()))
        out.append("the course repository or the helpers package changed during grading: "
                   + ", ".join(sorted({k for k, _ in changed})[:5]))
    if run.leftover_pids:
        out.append(f"processes of the run were still alive at the end (killed): {run.leftover_pids}")
    for s in run.students:
        if s not in run.results:
            out.append(f"{s}: no row")
            continue
        for nb in run.notebooks:
            r = run.results[s][nb]
            if r.submitted and r.ungraded:
                out.append(f"{s} {nb}: test cells without a score: {', '.join(r.ungraded)}")
    failed_rescues = [f"{r.student} ({', '.join(r.notebooks)})" for r in run.rescues if not r.ok]
    if failed_rescues:
        out.append("the rescue could not grade: " + ", ".join(failed_rescues))
    if run.grades_csv is None:
        out.append("nbgrader export wrote no grades.csv")
    return out


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _print_report(run: GradeRun, progress: Progress, workers: int, scheduler: str | None,
                  assignment: str = ck.ASSIGNMENT_ID) -> None:
    p = progress.plain
    labels = {sub.student.id: "exchange" for sub in run.sample if sub.student.via_exchange}
    p("")
    p("=" * 100)
    p(f"Autograded points ({len(run.students)} students x {len(run.notebooks)} notebooks)")
    p(rep.format_table(run.results, run.notebooks, labels))
    p("")
    p("Why points were lost (one line per test that scored 0) and what happened per notebook")
    p(rep.format_reasons(run.results, run.notebooks, run.notes))
    p("")
    p("Where things are")
    p(f"  feedback HTML : {_rel(run.root / 'feedback', run.root)}/<student>/{assignment}/<notebook>.html "
      f"({len(run.feedback)} pages)")
    p(f"  grades        : {_rel(run.grades_csv, run.root) if run.grades_csv else '(none)'} (nbgrader export)")
    p(f"  autograded    : {_rel(run.root / 'autograded', run.root)}/<student>/{assignment}/")
    p(f"  gradebook     : {read_settings(run.root).db_url}")
    p("")
    p("Summary")
    top = sum(r.max_score for r in (run.results[run.students[0]].values() if run.students else []))
    mode = f"{workers} workers" if workers > 1 or scheduler else "serially"
    p(f"  - graded {len(run.students)} students x {len(run.notebooks)} notebooks ({top:g} autograded points "
      f"each) in {run.seconds / 60:.1f} min, {mode}")
    failed = [s for s, o in run.outcomes.items() if not o.ok]
    if failed:
        p(f"  - nbgrader failed {len(failed)} submission(s) as a whole ({', '.join(failed)}); "
          f"the rescue graded {sum(len(r.notebooks) for r in run.rescues if r.ok)}/"
          f"{sum(len(r.notebooks) for r in run.rescues)} notebook(s) again")
    pending = sum(len(r.manual_pending) for row in run.results.values() for r in row.values())
    if pending:
        p(f"  - {pending} written answers wait for manual grading: open the Formgrader "
          "(`make lab`, then Nbgrader > Formgrader), then re-run `nbgrader export`")
    if run.zeroed:
        p(f"  - {len(run.zeroed)} test cells could not be graded: set to 0 and flagged for manual review")
    if run.release_changed:
        p(f"  - release/{assignment} changed when it was regenerated: review and commit it")
    same = run.submitted_before == run.submitted_after
    p(f"  - submitted/: {len(run.submitted_after)} files, "
      + ("unchanged by grading (SHA-256)" if same else "CHANGED during grading (see problems)"))
    same = run.repository_before == run.repository_after
    p(f"  - course repository and helpers: {len(run.repository_after)} files, "
      + ("unchanged by grading (SHA-256)" if same else "CHANGED during grading (see problems)"))
    p("  - no nbgrader process or kernel left running" if not run.leftover_pids
      else f"  - {len(run.leftover_pids)} leftover processes were killed")
    if run.sample:
        if run.mismatches:
            p(f"  - sample class: {len(run.mismatches)} test(s) did not score as declared; "
              "the tests or the grading need a look:")
            for line in run.mismatches:
                p("      " + rep.short(line))
        else:
            p(f"  - sample class: all {len(run.sample)} students scored as declared (full marks except where "
              "their edits break an answer)")
    for warning in run.warnings:
        p("  - WARNING: " + rep.short(warning, 300))
    for problem in run.problems:
        p("  - PROBLEM: " + problem)
    p(f"  - next: hand the feedback back with `nbgrader release_feedback {assignment}` (exchange) or your LMS")
