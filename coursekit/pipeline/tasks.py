"""The worker side of parallel autograde (step 1 of :mod:`coursekit.pipeline.engine`): one student in a private course.

Also the tagged nbgrader run both sides use, and the gradebook rows a worker sends back.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping


from coursekit import processes
from coursekit import course as ck
from coursekit.pipeline.steps import RUN_TAG



#: Environment variable carried by every process of one nbgrader run.
TASK_TAG = "SYNAPSES_AUTOGRADE_TASK"


#: Seconds between checks for a cancel request while nbgrader runs.
POLL_SECONDS = 0.5
# =============================================================================== worker side
_SIGINT_RECEIVED = False


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


def _sqlite_path(db_url: str, course_root: Path) -> Path:
    if not db_url:
        return course_root / "gradebook.db"
    if not db_url.startswith("sqlite:///"):
        raise NotImplementedError(f"parallel autograde supports sqlite gradebooks only, not {db_url}")
    return Path(db_url.removeprefix("sqlite:///"))


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
