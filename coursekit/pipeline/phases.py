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
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence


from coursekit import processes
from coursekit.settings import CourseSettings, read_settings
from coursekit import release as rel
from coursekit import course as ck
from coursekit.pipeline import report as rep
from coursekit.classes import sample as sc
from coursekit.insight.class_report import build_report
from coursekit.pipeline import summary
from coursekit.pipeline.checks import preflight_grader, stop_if_the_grader_failed
from coursekit.pipeline.checks import (check_expectations, collect_notes, course_warnings, run_problems, hash_tree,
                                       repository_digest)
from coursekit.pipeline.progress import Progress
from coursekit.pipeline.rescue import Rescue, needs_rescue, zero_ungraded, rescue
from coursekit.pipeline.steps import RUN_TAG, nbgrader

__all__ = [
    "GradeRun",
    "grade",
]

#: Cell time limit (s) for the sample class unless ``cell_timeout`` is given: the
#: slowest cell of the model solutions takes about 3 s, and the sample class's
#: endless loops would otherwise wait the course's full limit (180 s) each.
SAMPLE_CELL_TIMEOUT = 60.0


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
    summary.print_report(job.run, job.settings, progress, workers, scheduler, assignment)
    _class_report(job)  # reports/<assignment>.html, its path printed last
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
        nbgrader(["generate_assignment", a, "--force"], job.root, job.tag)
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

    preflight_grader(job)
    progress.status = f"autograde: 0/{n} students done"
    with progress.heartbeat():
        run.outcomes = _autograde(job.settings, run.students, workers, scheduler, on_student, job.tag,
                                  job.assignment)
    progress.status = ""
    stop_if_the_grader_failed(job)
    failed = [st for st, o in run.outcomes.items() if not o.ok]
    if failed:
        progress("nbgrader failed " + ", ".join(failed) + " as a whole (nbgrader #1682); rescuing them")


def _rescue_phase(job: _Job) -> None:
    """4. Grade again what nbgrader could not; zero (and flag) what still is ungraded."""
    run, progress = job.run, job.progress
    results = job.results()
    todo: dict[str, dict[str, str]] = {}
    for st in run.students:
        for nb in run.notebooks:
            why = needs_rescue(results, st, nb, job.root, job.assignment)
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
                zero_ungraded(job.settings, st, nb, r.ungraded, job.assignment, flag=r.submitted)
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
            nbgrader(["generate_feedback", a, "--force", f"--student={sc.PREFIX}*"], job.root, job.tag)
        else:
            for st in run.students:
                nbgrader(["generate_feedback", a, "--force", f"--student={st}"], job.root, job.tag)
    run.feedback = sorted(p for st in run.students for p in (job.root / "feedback" / st / a).glob("*.html"))
    job.progress(f"feedback: nbgrader generate_feedback {a} -> {len(run.feedback)} HTML pages")


def _export_phase(job: _Job) -> None:
    """6. ``nbgrader export`` to ``grades.csv``."""
    nbgrader(["export"], job.root, job.tag)
    job.run.grades_csv = job.root / "grades.csv" if (job.root / "grades.csv").is_file() else None
    job.progress("grades: nbgrader export -> " + (str(job.run.grades_csv) if job.run.grades_csv else "NO grades.csv"))
    job.progress.status = ""


def _check_phase(job: _Job) -> None:
    """7. Nothing written where it must not be, no process left, every sample student scored as declared."""
    run = job.run
    run.submitted_after = hash_tree(job.root / "submitted")
    run.repository_after = repository_digest(job.root)
    run.leftover_pids = processes.kill_tagged(RUN_TAG, job.tag)
    run.problems = run_problems(run)
    if run.sample:
        run.mismatches = check_expectations(run)
    collect_notes(run, job.assignment)
    if run.sample:
        run.warnings = course_warnings(run)


def _class_report(job: _Job) -> Path | None:
    """Write the class report (coursekit.insight.class_report), print its summary and path; never fails the run."""
    progress, s = job.progress, job.settings
    try:
        path = build_report(job.root, job.assignment, db_url=s.db_url, course_id=s.course_id, say=progress.plain)
    except Exception as exc:  # noqa: BLE001 (the grades are in; a broken report must not hide them)
        progress(f"class report NOT written: {type(exc).__name__}: {exc}")
        return None
    progress(f"class report: {path}")
    return path


