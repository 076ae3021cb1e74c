"""Parallel ``nbgrader autograde``: one student per worker, one writer for the gradebook.

:func:`autograde` grades a list of students of a course directory and returns
one :class:`AutogradeOutcome` per student. With ``workers=1`` (and no
``scheduler``) it runs the plain ``nbgrader autograde <assignment> --student S
--force`` for each student in turn, in the course root. Otherwise students are
graded concurrently on a :class:`concurrent.futures.Executor`:

* one machine (default): a :class:`~concurrent.futures.ProcessPoolExecutor`
  ("spawn" start method) with ``workers`` processes;
* a Dask cluster (``scheduler="tcp://host:8786"``):
  ``dask.distributed.Client(scheduler).get_executor()``; at most ``workers``
  students are in flight at a time.

Design: two phases per student, pipelined
------------------------------------------
1. **Execute (workers, concurrent).** A worker receives a task payload with
   the bytes of the course's ``nbgrader_config.py``, ``source/<assignment>/``,
   a consistent snapshot of the gradebook (taken once, before any grading,
   with sqlite's backup API) and that one student's
   ``submitted/<student>/<assignment>/``. It unpacks them into a private
   throw-away course directory (``tempfile.mkdtemp`` on the worker's machine)
   and runs the real ``nbgrader autograde <assignment> --student S --force``
   there, with one passive preprocessor, :class:`StashExecuted`, inserted
   right after the configured ``Execute`` preprocessor: it saves each
   notebook exactly as the kernel left it. The worker sends back those
   executed notebooks, its log and the grades its private gradebook received,
   and deletes its directory. Workers never see another student's folder and
   never open the course's gradebook.
2. **Record (one writer, serial).** One long-lived subprocess in the course
   root (:func:`_writer_main`, started before any worker) loads the course's
   ``nbgrader_config.py`` once, tells the caller the preprocessor lists and
   the gradebook path, and then, as each worker finishes, runs nbgrader's own
   autograde converter for that student (``NbGraderAPI.autograde(assignment,
   student, force=True)``, what ``nbgrader autograde --student S --force``
   runs) with ``Execute`` replaced by :class:`ReplayExecute`. nbgrader
   sanitizes the master copy of the submission as usual; ReplayExecute then
   checks that the worker executed exactly that notebook (every cell's type,
   id, metadata and source, and the notebook metadata, must agree) and copies
   the outputs, execution counts and ``language_info``/widget state across
   instead of starting a kernel. The rest of the configured pipeline
   (``LimitOutput``, ``SaveAutoGrades``, ``AssignLatePenalties``, ...) runs
   unchanged, so nbgrader itself writes the master gradebook and the
   ``autograded/`` folder, one student at a time, exactly as in a serial run.
   A notebook that the worker could not execute (dead or unresponsive kernel)
   has no stashed copy; ReplayExecute then raises and nbgrader fails that
   student just as the serial run does. If the master submission no longer
   matches what the worker executed (:class:`ReplayMismatch`, e.g. a
   resubmission during grading), the student is regraded the ordinary way
   (``nbgrader autograde --student S --force`` in the course). Finally the
   grades nbgrader recorded are compared with those of the worker's private
   gradebook; a difference marks the outcome as not ok. A writer that hangs
   for ``timeout`` seconds is killed and replaced.

Only step 1 starts kernels. A replay needs no kernel and, in the long-lived
writer, no Python start-up: 0.2-1 s per student, against 3-9 s for a fresh
``nbgrader`` process on a loaded 2-core machine. Workers are kept busy while
results are recorded (at most ``workers`` tasks exist at any time, so there
is never a queue to cancel).

Why a replay rather than merging gradebooks: nbgrader's ``SaveAutoGrades``,
``AssignLatePenalties`` and the sanitizers then write every row exactly as in a
serial run (scores, comments, flags, timestamps, late penalties; only the
random row ids differ), with no hand-written SQL, and sqlite sees only one
writing process at a time.

Where workers run
-----------------
Workers need the course's Python environment (this package, nbgrader, the
packages the notebooks import, the same versions) but **no shared
filesystem**: every file a task needs travels in its payload (a few hundred
kB plus the submission) and results come back as bytes. Only files under
``source/<assignment>/``, ``nbgrader_config.py`` and the student's submission
are shipped; anything else the configuration or notebooks need must be
installed in the environment. Preprocessors in ``Autograde.autograde_preprocessors``
must be importable by name (``module.Class``) on the workers. Files that a
student's code writes next to the notebook stay in the worker's copy (the
course's ``autograded/`` folder gets the notebooks and the source's extra files,
as nbgrader copies them). The process pool uses the "spawn" start method, so
a script that calls :func:`autograde` with ``workers > 1`` must guard its
entry point with ``if __name__ == "__main__":`` (as for any spawn pool).

Interrupts and leftovers
------------------------
Every nbgrader process started here, and every kernel it starts, carries two
environment variables: ``SYNAPSES_AUTOGRADE_RUN`` (one value per
:func:`autograde` call) and ``SYNAPSES_AUTOGRADE_TASK`` (one per nbgrader
run); :func:`coursekit.release.run_nbgrader` additionally kills its own
leftovers when nbgrader exits. On Ctrl-C (``KeyboardInterrupt``) in the
caller: no further student is submitted, queued tasks are cancelled, running
tasks are told to stop (a cancel file for the process pool, a Dask ``Event``
on a cluster; a worker then kills its tagged processes on its own machine),
every tagged process on this machine is killed, and the interrupt is
re-raised with the outcomes finished so far in its ``outcomes`` attribute.
Process-pool workers do not die on Ctrl-C (their SIGINT handler only sets a
flag), so they stop cleanly.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import shutil
import socket
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable


from coursekit import processes
from coursekit.preprocessors.replay import (ReplayError, ReplayExecute, ReplayMismatch, StashExecuted,
                                            replay_differences)
from coursekit.pipeline.steps import RUN_TAG
from coursekit.pipeline.tasks import (POLL_SECONDS, TASK_TAG, _course_files, _grade_task, _run_nbgrader_tagged, _submission_files,
                                      _snapshot_gradebook, _sqlite_path,
                                      gradebook_rows)
from coursekit.pipeline.tasks import _Pool
from coursekit.pipeline.writer import _Writer
__all__ = [
    "AutogradeOutcome",
    "ReplayError",
    "ReplayMismatch",
    "StashExecuted",
    "ReplayExecute",
    "TASK_TAG",
    "autograde",
    "gradebook_rows",
    "replay_differences",
]

#: Characters of the log kept in :attr:`AutogradeOutcome.log_tail`.
LOG_TAIL_CHARS = 3000


# =============================================================================== outcome
@dataclass
class AutogradeOutcome:
    """What happened when one student was autograded.

    Attributes
    ----------
    student : str
        Student id (folder name under ``submitted/``).
    ok : bool
        True if nbgrader graded every notebook of the student without error
        (exit status 0) and, in parallel mode, the recorded grades equal the
        worker's. A cell that raises does not make this False: nbgrader grades
        it (usually 0 points).
    seconds : float
        Wall-clock time (s) spent on this student: the nbgrader run, or in
        parallel mode the worker's run plus the replay in the course.
    log_tail : str
        Last part of nbgrader's log for this student (its real autograde run;
        in parallel mode the worker's, with the worker's private paths
        replaced by the course's, followed by the replay's log if that
        failed).
    returncode : int or None
        Exit status of the nbgrader run that decided ``ok`` (None if none ran).
    workdir : str
        ``host:path`` of the course directory where the notebooks were
        executed (the course root in serial mode; a private copy per student
        in parallel mode).
    worker : str
        ``host pid N`` of the process that ran the executing nbgrader.
    log : str
        The whole log that ``log_tail`` ends.
    detail : dict
        Extras: ``started``/``finished`` (epoch s, execution phase),
        ``worker_seconds``/``replay_seconds``, ``submitted`` (student folders
        present in the private copy), ``timed_out``, ``cancelled``,
        ``regraded_serially``.
    """

    student: str
    ok: bool
    seconds: float
    log_tail: str
    returncode: int | None = None
    workdir: str = ""
    worker: str = ""
    log: str = field(default="", repr=False)
    detail: dict[str, Any] = field(default_factory=dict, repr=False)


# =============================================================================== caller side
def _tail(text: str, n: int = LOG_TAIL_CHARS) -> str:
    return text[-n:]


def _check_students(students: Iterable[str]) -> list[str]:
    students = list(students)
    seen = set()
    for s in students:
        if not isinstance(s, str) or not s or s in (".", "..") or any(c in s for c in "*?[]/\\"):
            raise ValueError(f"invalid student id {s!r} (nbgrader treats it as a glob or path)")
        if s in seen:
            raise ValueError(f"student {s!r} listed twice")
        seen.add(s)
    return students


def _default_timeout(course_root: Path, assignment: str) -> float:
    n = len(list((course_root / "source" / assignment).glob("*.ipynb")))
    return 600.0 + 300.0 * max(n, 1)


def _progress_line(k: int, n: int, outcome: AutogradeOutcome) -> str:
    if outcome.ok:
        state = "done"
    elif outcome.detail.get("cancelled"):
        state = "CANCELLED after"
    elif outcome.detail.get("timed_out"):
        state = "TIMED OUT after"
    else:
        state = "FAILED"
    return f"[{k}/{n}] {outcome.student}: {state} in {outcome.seconds:.0f} s"


def autograde(
    course_root: Path,
    students: list[str],
    workers: int = 1,
    scheduler: str | None = None,
    progress: Callable[[str], None] | None = None,
    assignment: str = "synapses",
    *,
    timeout: float | None = None,
    run_tag: str | None = None,
    nbgrader_args: Iterable[str] = (),
) -> dict[str, AutogradeOutcome]:
    """Autograde ``students`` of the course at ``course_root`` with nbgrader.

    Parameters
    ----------
    course_root : path
        nbgrader course directory (holds ``nbgrader_config.py``, ``source/``,
        ``submitted/`` and the sqlite gradebook). Students must already have
        ``submitted/<student>/<assignment>/`` and the assignment must have been
        generated.
    students : list of str
        Student ids, each once.
    workers : int, optional
        1 (default, without ``scheduler``): serial, plain
        ``nbgrader autograde <assignment> --student S --force`` per student.
        More: that many students are executed concurrently (see the module
        docstring); the gradebook content is the same as in the serial run.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``); students
        are then executed on its workers, ``workers`` at a time (also when
        ``workers`` is 1).
    progress : callable, optional
        Called with one line per finished student, e.g.
        ``"[3/12] sample-typo: done in 41 s"`` (``FAILED``, ``TIMED OUT after``
        or ``CANCELLED after`` instead of ``done``).
    assignment : str, optional
        Assignment name (default ``"synapses"``).
    timeout : float, optional
        Seconds one student's nbgrader run may take before it and its kernels
        are killed (default 600 + 300 per notebook of the assignment).
    run_tag : str, optional
        Value of :data:`RUN_TAG` for every process started (default: random);
        lets a caller find leftovers with :func:`coursekit.processes.tagged`.
    nbgrader_args : iterable of str, optional
        Extra options for every ``nbgrader autograde`` run, e.g.
        ``["--Execute.timeout=10"]`` (also passed to the replays, where
        options of ``Execute`` have no effect).

    Returns
    -------
    dict of str to AutogradeOutcome
        One entry per student, in the order given.

    Raises
    ------
    ValueError
        For an invalid or repeated student id, or ``workers < 1``.
    KeyboardInterrupt
        Re-raised after cleanup (see the module docstring), with the outcomes
        finished so far in its ``outcomes`` attribute.
    """
    course_root = Path(course_root).resolve()
    students = _check_students(students)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    if timeout is None:
        timeout = _default_timeout(course_root, assignment)
    run_id = run_tag or uuid.uuid4().hex
    say = progress or (lambda line: None)
    extra = [str(a) for a in nbgrader_args]
    if workers == 1 and scheduler is None:
        return _autograde_serial(course_root, students, say, assignment, timeout, run_id, extra)
    return _autograde_parallel(course_root, students, workers, scheduler, say, assignment, timeout,
                               run_id, extra)


def _autograde_serial(course_root, students, say, assignment, timeout, run_id, extra):
    outcomes: dict[str, AutogradeOutcome] = {}
    host = socket.gethostname()
    try:
        for k, student in enumerate(students, 1):
            started = time.time()
            run = _run_nbgrader_tagged(["autograde", assignment, "--student", student, "--force", *extra],
                                       course_root, timeout=timeout, run_id=run_id)
            outcome = AutogradeOutcome(
                student=student, ok=run.returncode == 0 and not run.timed_out, seconds=run.seconds,
                log_tail=_tail(run.log), returncode=run.returncode, workdir=f"{host}:{course_root}",
                worker=f"{host} pid {os.getpid()}", log=run.log,
                detail={"started": started, "finished": time.time(), "timed_out": run.timed_out,
                        "cancelled": False, "worker_seconds": run.seconds, "replay_seconds": 0.0},
            )
            outcomes[student] = outcome
            say(_progress_line(k, len(students), outcome))
    except KeyboardInterrupt as exc:
        processes.kill_tagged(RUN_TAG, run_id)
        exc.outcomes = outcomes
        raise
    return outcomes


def _autograde_parallel(course_root, students, workers, scheduler, say, assignment, timeout, run_id, extra):
    outcomes: dict[str, AutogradeOutcome] = {}
    n = len(students)
    queue = []
    for student in students:
        if (course_root / "submitted" / student / assignment).is_dir():
            queue.append(student)
        else:
            msg = f"no submission folder submitted/{student}/{assignment}: nothing to grade\n"
            outcomes[student] = AutogradeOutcome(student, False, 0.0, msg, log=msg)
            say(_progress_line(len(outcomes), n, outcomes[student]))
    if not queue:
        return {s: outcomes[s] for s in students}

    with tempfile.TemporaryDirectory(prefix="synapses-replay-") as tmp_name:
        tmp = Path(tmp_name)
        writer = _Writer(course_root, assignment, extra, run_id, tmp)
        pool = None
        inflight: dict[cf.Future, str] = {}
        try:
            info = writer.start()
            db_path = _sqlite_path(info["db_url"], course_root)
            common = _course_files(course_root, assignment)
            common["gradebook.db"] = _snapshot_gradebook(db_path)
            pool = _Pool(workers, scheduler, run_id, tmp)

            def fill() -> None:
                # at most `workers` tasks exist at a time: nothing queued to cancel on Ctrl-C
                while queue and len(inflight) < workers:
                    student = queue.pop(0)
                    task = {
                        "run_id": run_id, "student": student, "assignment": assignment,
                        "files": {**common, **_submission_files(course_root, student, assignment)},
                        "preprocessors": info["worker_preprocessors"], "timeout": timeout,
                        "cancel": pool.cancel, "nbgrader_args": extra,
                    }
                    inflight[pool.executor.submit(_grade_task, task)] = student

            fill()
            while inflight:
                done, _ = cf.wait(list(inflight), return_when=cf.FIRST_COMPLETED)
                finished = sorted(((inflight.pop(f), f) for f in done), key=lambda sf: students.index(sf[0]))
                fill()  # keep the workers busy while the results are recorded
                for student, future in finished:
                    outcome = _record(course_root, student, assignment, future, writer, db_path,
                                      tmp, timeout, run_id, extra)
                    outcomes[student] = outcome
                    say(_progress_line(len(outcomes), n, outcome))
        except BaseException as exc:
            if pool is not None:
                pool.request_cancel()
            for future in inflight:
                future.cancel()
            deadline = time.monotonic() + 60
            while any(not f.done() for f in inflight) and time.monotonic() < deadline:
                processes.kill_tagged(RUN_TAG, run_id)
                cf.wait(list(inflight), timeout=POLL_SECONDS)
            processes.kill_tagged(RUN_TAG, run_id)
            if isinstance(exc, KeyboardInterrupt):
                exc.outcomes = outcomes
            raise
        finally:
            try:
                if pool is not None:
                    pool.close()
            finally:
                writer.close()
                processes.kill_tagged(RUN_TAG, run_id)
    return {s: outcomes[s] for s in students}


def _record(course_root, student, assignment, future, writer, db_path, tmp, timeout, run_id, extra):
    """The single writer: replay one worker's result into the real course."""
    try:
        res = future.result()
    except Exception as exc:  # noqa: BLE001 (a worker crashed: report, go on)
        msg = f"[parallel] the worker failed: {type(exc).__name__}: {exc}\n"
        return AutogradeOutcome(student, False, 0.0, msg, log=msg,
                                detail={"cancelled": isinstance(exc, cf.CancelledError)})
    # the worker's log, with its private paths shown as the course's
    log = res["log"].replace(res["course"], str(course_root))
    detail = {k: res[k] for k in ("started", "finished", "submitted", "timed_out", "cancelled")}
    detail.update(worker_seconds=res["seconds"], replay_seconds=0.0, regraded_serially=False)
    base = dict(student=student, workdir=res["workdir"], worker=f"{res['host']} pid {res['pid']}")
    if res["cancelled"] or res["grades"] is None:
        return AutogradeOutcome(ok=False, seconds=res["seconds"], log_tail=_tail(log), log=log,
                                returncode=res["returncode"], detail=detail, **base)

    folder = tmp / "replay"
    (folder / student).mkdir(parents=True, exist_ok=True)
    try:
        for name, data in res["executed"].items():
            (folder / student / name).write_bytes(data)
        replay = writer.replay(student, folder, timeout)
    finally:
        shutil.rmtree(folder / student, ignore_errors=True)
    detail["replay_seconds"] = replay.seconds
    seconds = res["seconds"] + replay.seconds
    if "ReplayMismatch" in replay.log:
        # the submission changed under us, or a preprocessor is not deterministic:
        # grade this student the ordinary way, in the course
        serial = _run_nbgrader_tagged(["autograde", assignment, "--student", student, "--force", *extra],
                                      course_root, timeout=timeout, run_id=run_id)
        detail["regraded_serially"] = True
        seconds += serial.seconds
        log = (serial.log + "\n[parallel] the replay was refused (ReplayMismatch); regraded serially:\n"
               + _tail(replay.log, 1500))
        host = socket.gethostname()
        return AutogradeOutcome(student=student, ok=serial.returncode == 0 and not serial.timed_out,
                                seconds=seconds, log_tail=_tail(log), log=log, returncode=serial.returncode,
                                workdir=f"{host}:{course_root}", worker=f"{host} pid {os.getpid()}",
                                detail=detail)
    notes = []
    ok = res["returncode"] == 0 and replay.returncode == 0 and not res["timed_out"]
    if (res["returncode"] == 0) != (replay.returncode == 0) or replay.timed_out:
        notes.append(f"[parallel] recording in the course {'timed out' if replay.timed_out else 'failed'} "
                     f"(worker exit status {res['returncode']}); its log:\n{_tail(replay.log, 1500)}")
        ok = False
    recorded = gradebook_rows(db_path, assignment, [student])
    if recorded != res["grades"]:
        keys = [k for k in recorded if recorded[k] != res["grades"].get(k)]
        notes.append(f"[parallel] the gradebook differs from the worker's in {', '.join(keys)}")
        ok = False
    if notes:
        log = log + "\n" + "\n".join(notes) + "\n"
    returncode = res["returncode"] if res["returncode"] != 0 else replay.returncode
    return AutogradeOutcome(ok=ok, seconds=seconds, log_tail=_tail(log), log=log,
                            returncode=returncode, detail=detail, **base)
