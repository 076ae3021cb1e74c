"""The gradebook writer of parallel autograde (step 2 of :mod:`coursekit.pipeline.engine`): one process replays each
student into the course gradebook with nbgrader's own autograde converter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any


from coursekit import processes
from coursekit import settings as config
from coursekit import course as ck
from coursekit.pipeline.steps import RUN_TAG, autograde_preprocessors
from coursekit.pipeline.tasks import POLL_SECONDS, TASK_TAG, _Run



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
                [sys.executable, "-c", "from coursekit.pipeline.writer import _writer_main; _writer_main()"],
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
