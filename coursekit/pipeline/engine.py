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
import json
import multiprocessing
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping


from coursekit import processes
from coursekit import settings as config
from coursekit.preprocessors.replay import (ReplayError, ReplayExecute, ReplayMismatch, StashExecuted,
                                            replay_differences)
from coursekit import course as ck
__all__ = [
    "AutogradeOutcome",
    "ReplayError",
    "ReplayMismatch",
    "StashExecuted",
    "ReplayExecute",
    "RUN_TAG",
    "TASK_TAG",
    "autograde",
    "autograde_preprocessors",
    "gradebook_rows",
    "replay_differences",
]

#: Environment variable carried by every process of one :func:`autograde` call.
RUN_TAG = "SYNAPSES_AUTOGRADE_RUN"
#: Environment variable carried by every process of one nbgrader run.
TASK_TAG = "SYNAPSES_AUTOGRADE_TASK"
#: Characters of the log kept in :attr:`AutogradeOutcome.log_tail`.
LOG_TAIL_CHARS = 3000
#: Seconds between checks for a cancel request while nbgrader runs.
POLL_SECONDS = 0.5
#: Import path of this module (workers import the preprocessors by name).
def _dotted(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


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


# =============================================================================== processes
@dataclass
class _Run:
    """Result of one tagged nbgrader run."""

    returncode: int | None
    log: str
    seconds: float
    timed_out: bool = False
    cancelled: bool = False
    leftover_pids: list[int] = field(default_factory=list)


def _run_nbgrader_tagged(
    args: list[str],
    cwd: Path,
    *,
    timeout: float,
    run_id: str,
    cancel: Any = None,
) -> _Run:
    """``coursekit.release.run_nbgrader`` with tags, cancellation and Ctrl-C cleanup.

    nbgrader runs in a helper thread; this thread polls ``cancel.is_set()``
    every :data:`POLL_SECONDS` and kills the run's processes (nbgrader and its
    kernels, found by their :data:`TASK_TAG`) when it is set. On any exception
    here (Ctrl-C) the processes are killed too and the exception propagates.
    """
    task_id = uuid.uuid4().hex
    env = ck.nbgrader_env({RUN_TAG: run_id, TASK_TAG: task_id})
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = ck.run_nbgrader(args, cwd, timeout=timeout, env=env, check=False)
        except BaseException as exc:  # noqa: BLE001 (reported to the caller below)
            box["error"] = exc

    start = time.monotonic()
    thread = threading.Thread(target=target, name=f"nbgrader-{task_id[:8]}", daemon=True)
    thread.start()
    cancelled = False
    try:
        while thread.is_alive():
            thread.join(POLL_SECONDS)
            if cancel is not None and thread.is_alive() and cancel.is_set():
                cancelled = True
                processes.kill_tagged(TASK_TAG, task_id)
    except BaseException:
        processes.kill_tagged(TASK_TAG, task_id)
        thread.join(30)
        processes.kill_tagged(TASK_TAG, task_id)
        raise
    seconds = time.monotonic() - start
    processes.kill_tagged(TASK_TAG, task_id)  # run_nbgrader already did; belt and braces
    error = box.get("error")
    if isinstance(error, subprocess.TimeoutExpired):
        log = error.stderr or ""
        if isinstance(log, bytes):
            log = log.decode(errors="replace")
        log += f"\n[parallel] nbgrader {' '.join(args[:2])} was killed after {timeout:.0f} s (timeout)\n"
        return _Run(None, log, seconds, timed_out=True, cancelled=cancelled)
    if error is not None:
        raise error
    result = box["result"]
    log = result.stderr
    if cancelled:
        log += "\n[parallel] cancelled: nbgrader and its kernels were killed\n"
    return _Run(result.returncode, log, seconds, cancelled=cancelled,
                leftover_pids=list(result.leftover_pids))


# =============================================================================== configuration
def autograde_preprocessors(configured: list[dict[str, Any]], role: str) -> list[str]:
    """The autograde preprocessor list for a worker or for the replay.

    Parameters
    ----------
    configured : list of dict
        ``{"name": "module.Class", "execute": bool}`` per configured
        preprocessor, in order (``execute`` marks subclasses of nbconvert's
        ``ExecutePreprocessor``).
    role : {"worker", "replay"}
        ``"worker"``: the configured list with :class:`StashExecuted` right
        after the execute preprocessor. ``"replay"``: the execute preprocessor
        replaced by :class:`ReplayExecute`.

    Returns
    -------
    list of str
        Import names, for ``--Autograde.autograde_preprocessors``.

    Raises
    ------
    ValueError
        Unless exactly one execute preprocessor is configured.
    """
    executes = [p["name"] for p in configured if p["execute"]]
    if len(executes) != 1:
        raise ValueError(f"expected one Execute preprocessor in Autograde.autograde_preprocessors, found {executes}")
    out = []
    for p in configured:
        if not p["execute"]:
            out.append(p["name"])
        elif role == "worker":
            out += [p["name"], _dotted(StashExecuted)]
        elif role == "replay":
            out.append(_dotted(ReplayExecute))
        else:
            raise ValueError(f"role must be 'worker' or 'replay', not {role!r}")
    return out


def _sqlite_path(db_url: str, course_root: Path) -> Path:
    if not db_url:
        return course_root / "gradebook.db"
    if not db_url.startswith("sqlite:///"):
        raise NotImplementedError(f"parallel autograde supports sqlite gradebooks only, not {db_url}")
    return Path(db_url.removeprefix("sqlite:///"))


# =============================================================================== gradebook
def gradebook_rows(db_path: str | os.PathLike, assignment: str = ck.ASSIGNMENT_ID,
                   students: Iterable[str] | None = None) -> dict[str, list[tuple]]:
    """Everything autograding records about students, as comparable rows.

    Opens the sqlite file read-only (nothing is written, unlike
    ``nbgrader.api.Gradebook``). Database ids are left out; cells and
    notebooks are named.

    Parameters
    ----------
    db_path : path
        The gradebook file.
    assignment : str, optional
        Assignment name.
    students : iterable of str, optional
        Only these students (default: all).

    Returns
    -------
    dict of str to list of tuple
        ``students`` (id, first, last, email, lms id), ``submissions``
        (student, timestamp, extension), ``notebooks`` (student, notebook,
        flagged, late_submission_penalty), ``grades`` (student, notebook,
        cell, cell type, auto_score, manual_score, extra_credit,
        needs_manual_grade), ``comments`` (student, notebook, cell,
        auto_comment, manual_comment); each list sorted.
    """
    wanted = None if students is None else set(students)
    uri = Path(db_path).resolve().as_uri() + "?mode=ro"
    queries = {
        "students": "SELECT id, first_name, last_name, email, lms_user_id FROM student",
        "submissions": """SELECT sa.student_id, sa.timestamp, sa.extension
            FROM submitted_assignment sa JOIN assignment a ON sa.assignment_id = a.id
            WHERE a.name = ?""",
        "notebooks": """SELECT sa.student_id, n.name, sn.flagged, sn.late_submission_penalty
            FROM submitted_notebook sn JOIN submitted_assignment sa ON sn.assignment_id = sa.id
            JOIN assignment a ON sa.assignment_id = a.id JOIN notebook n ON sn.notebook_id = n.id
            WHERE a.name = ?""",
        "grades": """SELECT sa.student_id, n.name, bc.name, bc.type, g.auto_score, g.manual_score,
                g.extra_credit, g.needs_manual_grade
            FROM grade g JOIN submitted_notebook sn ON g.notebook_id = sn.id
            JOIN submitted_assignment sa ON sn.assignment_id = sa.id
            JOIN assignment a ON sa.assignment_id = a.id JOIN notebook n ON sn.notebook_id = n.id
            JOIN base_cell bc ON g.cell_id = bc.id WHERE a.name = ?""",
        "comments": """SELECT sa.student_id, n.name, bc.name, c.auto_comment, c.manual_comment
            FROM comment c JOIN submitted_notebook sn ON c.notebook_id = sn.id
            JOIN submitted_assignment sa ON sn.assignment_id = sa.id
            JOIN assignment a ON sa.assignment_id = a.id JOIN notebook n ON sn.notebook_id = n.id
            JOIN base_cell bc ON c.cell_id = bc.id WHERE a.name = ?""",
    }
    out = {}
    con = sqlite3.connect(uri, uri=True)
    try:
        for key, sql in queries.items():
            rows = con.execute(sql, () if key == "students" else (assignment,)).fetchall()
            rows = [tuple(r) for r in rows if wanted is None or r[0] in wanted]
            out[key] = sorted(rows, key=repr)
    finally:
        con.close()
    return out


def _snapshot_gradebook(db_path: Path) -> bytes:
    """A consistent copy of the sqlite gradebook (sqlite's online backup API)."""
    with tempfile.TemporaryDirectory(prefix="synapses-gb-") as tmp:
        copy = Path(tmp) / "gradebook.db"
        src = sqlite3.connect(db_path.resolve().as_uri() + "?mode=ro", uri=True)
        dst = sqlite3.connect(str(copy))
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        return copy.read_bytes()


# =============================================================================== worker side
_SIGINT_RECEIVED = False


def _worker_init() -> None:
    """Process-pool initializer: Ctrl-C sets a flag instead of killing the worker.

    A Python-level handler (not ``SIG_IGN``) so that nbgrader and its kernels,
    started from this process, get the default SIGINT behaviour back on exec
    and ``Execute.interrupt_on_timeout`` still works.
    """

    def handler(signum, frame):  # noqa: ARG001
        global _SIGINT_RECEIVED
        _SIGINT_RECEIVED = True

    signal.signal(signal.SIGINT, handler)


@dataclass(frozen=True)
class _CancelFile:
    """Cancel signal on one machine: a file that the caller creates."""

    path: str

    def is_set(self) -> bool:
        return _SIGINT_RECEIVED or os.path.exists(self.path)


@dataclass(frozen=True)
class _CancelEvent:
    """Cancel signal across a Dask cluster: a named ``distributed.Event``."""

    name: str

    def is_set(self) -> bool:
        try:
            from distributed import Event

            return bool(Event(self.name).is_set())
        except Exception:  # noqa: BLE001 (no scheduler: cannot be cancelled remotely)
            return False


def _unpack(files: Mapping[str, bytes], root: Path) -> None:
    for rel_path, data in files.items():
        path = root / rel_path
        if root.resolve() not in path.resolve().parents:
            raise ValueError(f"refusing to write {rel_path!r} outside {root}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _grade_task(task: dict[str, Any]) -> dict[str, Any]:
    """Worker: real autograde of one student in a private copy of the course.

    ``task`` holds ``run_id``, ``student``, ``assignment``, ``files``
    (relative path -> bytes of the private course), ``preprocessors`` (import
    names), ``timeout`` (s) and ``cancel`` (an object with ``is_set()``).
    Returns a dict with the log, exit status, executed notebooks (name ->
    bytes), the private gradebook's rows for the student and bookkeeping.
    """
    student, assignment = task["student"], task["assignment"]
    host, pid = socket.gethostname(), os.getpid()
    started = time.time()
    tmp = Path(tempfile.mkdtemp(prefix=f"synapses-autograde-{student}-"))
    course = tmp / "course"
    out: dict[str, Any] = {
        "student": student, "host": host, "pid": pid, "course": str(course),
        "workdir": f"{host}:{course}", "started": started, "executed": {}, "grades": None,
        "submitted": [], "returncode": None, "log": "", "seconds": 0.0,
        "timed_out": False, "cancelled": False,
    }
    try:
        if task["cancel"].is_set():
            out.update(cancelled=True, log="[parallel] cancelled before it started\n")
            return out
        _unpack(task["files"], course)
        out["submitted"] = sorted(p.name for p in (course / "submitted").iterdir())
        stash = tmp / "executed"
        args = ["autograde", assignment, "--student", student, "--force",
                "--Autograde.autograde_preprocessors=" + json.dumps(task["preprocessors"]),
                f"--StashExecuted.stash_dir={stash}", *task.get("nbgrader_args", ())]
        run = _run_nbgrader_tagged(args, course, timeout=task["timeout"], run_id=task["run_id"],
                                   cancel=task["cancel"])
        out.update(returncode=run.returncode, log=run.log, seconds=run.seconds,
                   timed_out=run.timed_out, cancelled=run.cancelled)
        folder = stash / student
        if folder.is_dir():
            out["executed"] = {p.name: p.read_bytes() for p in sorted(folder.glob("*.ipynb"))}
        db = course / "gradebook.db"
        if db.is_file():
            out["grades"] = gradebook_rows(db, assignment, [student])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        out["finished"] = time.time()
    return out


# =============================================================================== the writer
def _writer_main() -> None:
    """The single writer: replay students into the course, one request at a time.

    Runs in a subprocess whose working directory is the course root. Reads one
    JSON line ``{"assignment", "nbgrader_args"}``, loads the course config,
    answers ``{"info": course_info}`` (or ``{"error": traceback}``), then for
    every request line ``{"student", "replay_dir"}`` runs nbgrader's own
    autograde converter through :class:`nbgrader.apps.NbGraderAPI` (what
    ``nbgrader autograde --student S --force`` runs, without a new Python
    start-up per student) with ``Execute`` replaced by :class:`ReplayExecute`,
    and answers ``{"success", "log", "error", "seconds"}``. Protocol lines go to
    the original stdout; anything else printed goes to stderr.
    """
    import copy
    import traceback

    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def send(obj: dict[str, Any]) -> None:
        proto.write(json.dumps(obj) + "\n")
        proto.flush()

    try:
        setup = json.loads(sys.stdin.readline())
        cfg = config.load_config(".", setup["nbgrader_args"])
        settings = config.settings_of(cfg, ".")
        info = {"preprocessors": settings.autograde_preprocessors, "db_url": settings.db_url}
        info["worker_preprocessors"] = autograde_preprocessors(info["preprocessors"], "worker")
        info["replay_preprocessors"] = autograde_preprocessors(info["preprocessors"], "replay")
        from nbgrader.apps import NbGraderAPI
        from traitlets.utils.importstring import import_item

        replay = [import_item(name) for name in info["replay_preprocessors"]]
    except BaseException:  # noqa: BLE001 (reported to the caller)
        send({"error": traceback.format_exc()})
        return
    send({"info": info})
    for line in sys.stdin:
        request = json.loads(line)
        start = time.monotonic()
        try:
            run_cfg = copy.deepcopy(cfg)
            run_cfg.Autograde.autograde_preprocessors = replay
            run_cfg.ReplayExecute.replay_dir = request["replay_dir"]
            api = NbGraderAPI(config=run_cfg)
            result = api.autograde(setup["assignment"], request["student"], force=True, create=True)
        except BaseException:  # noqa: BLE001 (reported to the caller)
            result = {"success": False, "error": traceback.format_exc()}
        send({"student": request["student"], "success": bool(result.get("success")),
              "log": result.get("log", "") or "", "error": result.get("error", "") or "",
              "seconds": time.monotonic() - start})


class _Writer:
    """Caller side of :func:`_writer_main`: one long-lived nbgrader process.

    Started in the course root with the nbgrader environment and both tags;
    restarted after a replay that times out. Every replay happens in this one
    process, one at a time, so the gradebook has a single writer.
    """

    def __init__(self, course_root: Path, assignment: str, nbgrader_args: list[str], run_id: str,
                 log_dir: Path):
        self.course_root, self.assignment, self.args = course_root, assignment, nbgrader_args
        self.run_id, self.log_dir = run_id, log_dir
        self.proc: subprocess.Popen | None = None
        self.lines: Any = None
        self.info: dict[str, Any] = {}
        self.count = 0

    def _start(self, timeout: float) -> None:
        import queue

        self.count += 1
        self.task_id = uuid.uuid4().hex
        self.stderr_path = self.log_dir / f"writer-{self.count}.log"
        env = ck.nbgrader_env({RUN_TAG: self.run_id, TASK_TAG: self.task_id})
        with open(self.stderr_path, "w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", "from coursekit.pipeline.engine import _writer_main; _writer_main()"],
                cwd=str(self.course_root), env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=err, text=True, start_new_session=True,
            )
        self.lines = queue.Queue()
        proc, lines = self.proc, self.lines

        def pump() -> None:
            for line in proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, name="writer-stdout", daemon=True).start()
        hello = self._ask({"assignment": self.assignment, "nbgrader_args": self.args}, timeout)
        if hello is None or "info" not in hello:
            detail = (hello or {}).get("error") or self._stderr_tail()
            self.close()
            raise ck.NbgraderError(f"the gradebook writer could not start in {self.course_root}:\n{detail}")
        self.info = hello["info"]

    def _stderr_tail(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def _ask(self, request: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        """Send one request; the answer, or None if the writer died or timed out."""
        import queue

        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
        except OSError:
            return None
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=min(POLL_SECONDS, max(deadline - time.monotonic(), 0.01)))
            except queue.Empty:
                if time.monotonic() >= deadline:
                    return None
                continue
            if line is None:
                return None
            return json.loads(line)

    def start(self, timeout: float = 300.0) -> dict[str, Any]:
        """Start the writer (if needed); the course info it read from the config."""
        if self.proc is None or self.proc.poll() is not None:
            self._start(timeout)
        return self.info

    def replay(self, student: str, replay_dir: Path, timeout: float) -> _Run:
        """Record one student; a :class:`_Run` like an nbgrader command's."""
        self.start()
        start = time.monotonic()
        answer = self._ask({"student": student, "replay_dir": str(replay_dir)}, timeout)
        seconds = time.monotonic() - start
        if answer is None:  # hung or died: kill it, a new one serves the next student
            tail = self._stderr_tail()
            self.close()
            return _Run(None, f"[parallel] the gradebook writer gave no answer within {timeout:.0f} s "
                              f"or died:\n{tail}", seconds, timed_out=True)
        log = answer["log"] + (("\n" + answer["error"]) if answer["error"] else "")
        return _Run(0 if answer["success"] else 1, log, seconds)

    def close(self) -> None:
        if self.proc is None:
            return
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        processes.kill_tagged(TASK_TAG, self.task_id)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc = None


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


def _course_files(course_root: Path, assignment: str) -> dict[str, bytes]:
    files = {"nbgrader_config.py": (course_root / "nbgrader_config.py").read_bytes()}
    source = course_root / "source" / assignment
    for path in sorted(source.rglob("*")):
        parts = path.relative_to(source).parts
        if path.is_file() and not any(p in (".ipynb_checkpoints", "__pycache__") for p in parts):
            files[(Path("source") / assignment / path.relative_to(source)).as_posix()] = path.read_bytes()
    return files


def _submission_files(course_root: Path, student: str, assignment: str) -> dict[str, bytes]:
    folder = course_root / "submitted" / student / assignment
    return {
        (Path("submitted") / student / assignment / p.relative_to(folder)).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


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


class _Pool:
    """The executor, its cancel signal, and how to shut both down."""

    def __init__(self, workers: int, scheduler: str | None, run_id: str, tmp: Path):
        self.client = None
        self.event = None
        if scheduler:
            from distributed import Client, Event

            self.client = Client(scheduler, set_as_default=False)
            self.executor = self.client.get_executor(pure=False)
            name = f"synapses-autograde-cancel-{run_id}"
            self.event = Event(name, client=self.client)
            self.cancel = _CancelEvent(name)
            self.kind = f"Dask scheduler {scheduler}"
        else:
            self.executor = cf.ProcessPoolExecutor(
                max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_init,
            )
            self.cancel = _CancelFile(str(tmp / "CANCEL"))
            self.kind = f"process pool of {workers}"

    def request_cancel(self) -> None:
        if self.event is not None:
            try:
                self.event.set()
            except Exception:  # noqa: BLE001 (scheduler gone: nothing left to cancel)
                pass
        else:
            Path(self.cancel.path).touch()

    def close(self) -> None:
        try:
            if self.client is None:
                self.executor.shutdown(wait=True, cancel_futures=True)
            else:
                self.executor.shutdown(wait=True)
        finally:
            if self.client is not None:
                self.client.close()


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
