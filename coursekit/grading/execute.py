"""Trusted grading: nbgrader's Execute step with the hidden tests outside the student's interpreter.

:class:`TrustedExecute` replaces nbgrader's ``Execute`` in
``Autograde.autograde_preprocessors`` (``nbgrader_config.py``), so plain
``nbgrader autograde``, ``make grade``, its parallel workers and its rescue all
grade this way::

    nbgrader autograde (instructor; the only process that writes the gradebook)
     |-- TrustedExecute ---------- plain data only ---------+
     |     |                                                |
     |   student kernel (sandbox)                     grader (sandbox)
     |     runs every cell of the submission           runs the locked set-up cells and
     |     except the autograded test cells;           every autograded test cell, taking
     |     answers "lookup"/"call" requests             their source from the gradebook;
     |     with plain data                              student names are proxies
     +-- SaveAutoGrades etc. score the grader's outputs

* The kernel and the grader each run under :mod:`coursekit.grading.sandbox`
  (Landlock, seccomp, rlimits; capabilities dropped when run as root): they
  can read the Python environment and write their own scratch folder, nothing
  else; a watchdog kills a kernel whose scratch folder grows past
  :attr:`TrustedExecute.disk_quota`. The kernel gets a copy of the run-time
  ``helpers`` (no ``helpers.references``, no ``coursekit``) and talks
  ZeroMQ over IPC sockets in its scratch folder; no TCP, no network.
* A graded test cell never runs in the kernel. Its outputs (what nbgrader
  scores) are exactly what the grader returned: its printed text and, if it
  failed, one error with a one-line traceback.
* What crosses between kernel and grader is JSON of numbers, strings, lists
  and dicts (:mod:`coursekit.grading.plaindata`), as Jupyter comm messages
  to a comm target installed in the kernel once; each kernel call has a time
  limit (:attr:`TrustedExecute.call_timeout`) after which the kernel is
  interrupted (and restarted, with its cells replayed, if that does not help).
* Isolation between students (:attr:`TrustedExecute.isolate`): each sandbox
  sees only its own ``/proc`` entries and, as root, has a network namespace
  and a group of its own, its scratch folder ``0770`` for that group only.
* Bounded resources on this side: every message from the kernel is refused by
  libzmq past :data:`~coursekit.grading.kernel.MAX_KERNEL_MESSAGE` (``ZMQ_MAXMSGSIZE``, before Python
  sees a byte; at most :data:`~coursekit.grading.kernel.KERNEL_RECEIVE_QUEUE` wait per socket); a cell
  keeps at most :attr:`TrustedExecute.max_cell_output` bytes of output and a
  notebook :attr:`TrustedExecute.max_notebook_output`, the rest dropped as it
  arrives with one line saying how much; a test cell has one deadline for all
  its calls (``Execute.timeout``) and a notebook :attr:`TrustedExecute.notebook_timeout`.

Where Landlock is missing, grading refuses with one sentence unless
``--TrustedExecute.allow_unsandboxed=True``; the trusted tests then still decide
the grades, but student code runs with the grader's rights.

The pieces are modules of their own: :mod:`coursekit.grading.kernel` (the
sandboxed kernel, its scratch folder, its disk quota),
:mod:`coursekit.grading.grader_process` (the grader's process, the trusted
sources), :mod:`coursekit.grading.comm` (requests to the kernel) and
:mod:`coursekit.grading.outputs` (what is written into the cells); the limits'
defaults are :mod:`coursekit.grading.sandbox.policy`'s.
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode, from_dict
from nbgrader import utils as nbgrader_utils
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer, Unicode

from coursekit.grading import comm, layout, preflight, sandbox
from coursekit.grading.causes import GRADER_STOPPED, GRADER_TIMEOUT, KERNEL_DIED, KERNEL_GAVE_UP, KERNEL_STUCK, NOTEBOOK_OVERTIME
from coursekit.grading.grader import ChannelClosed
from coursekit.grading.grader_process import GraderProcess, _remove_orphaned_scratch, trusted_sources
from coursekit.grading.kernel import SandboxedKernelManager, listing_paths_without, read_paths_without, watch_disk
from coursekit.grading.sandbox.policy import FILE_SIZE, GRADER_MEMORY, KERNEL_MEMORY, OPEN_FILES, PROCESSES
from coursekit.grading.preflight import SandboxRefused
from coursekit.grading.outputs import (DIED_MESSAGE, _clean_outputs, _content_size, _error, _utc_now, dropped_notice,
                                       late_output_notice, source_digest, stuck_message)

__all__ = ["TrustedExecute", "SandboxRefused", "autograde_hook"]


class TrustedExecute(Execute):
    """nbgrader's ``Execute`` with graded test cells run by a trusted grader (module docstring)."""

    sandbox = Bool(True, help="Run the student's kernel and the grader in the sandbox "
                              "(coursekit.grading.sandbox).").tag(config=True)
    allow_unsandboxed = Bool(False, help="Grade even where the sandbox cannot be applied (no Landlock): student "
                                         "code then runs with the grader's rights; grades are still decided by the "
                                         "trusted grader.").tag(config=True)
    call_timeout = Integer(30, help="Seconds one call of a student function from a test may take.").tag(config=True)
    # the sandbox's limits: defaults defined once, in coursekit.grading.sandbox.policy (also Policy's defaults)
    kernel_memory = Integer(KERNEL_MEMORY, help="Address-space limit (RLIMIT_AS, bytes) of the student's kernel; a "
                                                "larger allocation gets MemoryError.").tag(config=True)
    grader_memory = Integer(GRADER_MEMORY, help="Address-space limit (RLIMIT_AS, bytes) of the grader, which "
                                                "simulates the student's Brian2 strings.").tag(config=True)
    file_size = Integer(FILE_SIZE, help="Largest file (RLIMIT_FSIZE, bytes) the kernel or the grader may write; a "
                                        "larger write fails with EFBIG.").tag(config=True)
    open_files = Integer(OPEN_FILES, help="Most open files (RLIMIT_NOFILE) of the kernel or the grader.").tag(
        config=True)
    processes = Integer(PROCESSES, help="Child processes the kernel or the grader may start: 0 refuses every one "
                                        "(threads still work); as root a positive number is no bound "
                                        "(coursekit.grading.sandbox.Policy.processes).").tag(config=True)
    disk_quota = Integer(1 << 30, help="Most bytes the kernel's scratch folder may hold; a kernel that writes "
                                       "more is killed and its files removed.").tag(config=True)
    max_cell_output = Integer(2 << 20, help="Most bytes of output one cell of the kernel may keep; the rest is "
                                            "dropped as it arrives, and one line says how much.").tag(config=True)
    max_notebook_output = Integer(16 << 20, help="Most bytes of output all the cells of one notebook may keep "
                                                 "(as max_cell_output).").tag(config=True)
    notebook_timeout = Integer(1800, help="Seconds one notebook may take in all, its kernel cells and every call "
                                          "of its tests; cells after that are not run and earn nothing.").tag(
        config=True)
    isolate = Bool(True, help="Keep the kernel and the grader away from every other process: /proc narrowed to "
                              "their own entries and, as root, a network namespace and a group of their own "
                              "(coursekit.grading.sandbox.Policy.private_proc, .separate). False only to show, in a test, "
                              "what a submission could do without it.").tag(config=True)
    max_restarts = Integer(3, help="Kernel restarts per notebook before the remaining cells are skipped.").tag(
        config=True)
    source_path = Unicode("", help="Instructor notebook to take the locked cells from when not run by "
                                   "nbgrader autograde (tests, benchmarks).").tag(config=True)
    scratch_dir = Unicode("", help="Where the scratch folders of kernels and graders go (default: the system "
                                   "temporary folder).").tag(config=True)
    rescue = Bool(False, help="Survive a dead or unresponsive kernel: the cell gets a KernelDied or "
                              "KernelUnresponsive error output, the kernel is restarted, the cells before are "
                              "run again, and grading goes on (nbgrader fails the whole submission "
                              "otherwise). coursekit.pipeline.phases's rescue run sets it.").tag(config=True)
    skip_digests = Unicode("", help="With rescue: comma-separated SHA-1 of stripped cell sources not to run, "
                                    "because they hung the kernel in an earlier run (coursekit.pipeline.rescue."
                                    "source_digest); they get the KernelUnresponsive output at once.").tag(config=True)

    # -- set-up -----------------------------------------------------------------
    def _policies(self) -> tuple[sandbox.Policy | None, sandbox.Policy | None]:
        """The kernel's and the grader's policies, or (None, None) where the instructor opted out of the sandbox."""
        reason = sandbox.unavailable_reason() if self.sandbox else "TrustedExecute.sandbox is False"
        if reason:
            if not self.allow_unsandboxed:
                raise SandboxRefused(f"refusing to run student code without a sandbox: {reason}; pass "
                                     "--TrustedExecute.allow_unsandboxed=True to grade anyway")
            self.log.warning("Grading WITHOUT a sandbox (%s): student code runs with your rights", reason)
            return None, None
        return self.kernel_policy(self._root), self.grader_policy(self._root)

    def kernel_policy(self, root: Path) -> sandbox.Policy:
        """The kernel's sandbox: the Python environment without the private packages; `root`/kernel to write."""
        base = sandbox.runtime_read_paths()
        # the packages where the grader really imports them, and the answers out of the kernel's reach
        # wherever either side finds them (coursekit.grading.layout: editable elsewhere, wheel, conda)
        private = layout.private_paths()
        return sandbox.Policy(read=read_paths_without(base, private), list=listing_paths_without(base, private),
                              write=(str(Path(root) / "kernel"),), **self._limits(self.kernel_memory))

    def grader_policy(self, root: Path) -> sandbox.Policy:
        """The grader's sandbox: the Python environment, helpers and coursekit; `root`/grader to write."""
        return sandbox.Policy(read=tuple(sandbox.runtime_read_paths()) + layout.grader_read_paths(),
                              write=(str(Path(root) / "grader"),), **self._limits(self.grader_memory))

    def _limits(self, memory: int) -> dict[str, Any]:
        """The Policy fields from the traits: `memory`, the limits both share, no network, :attr:`isolate`."""
        return {"memory": memory, "file_size": self.file_size, "open_files": self.open_files,
                "processes": self.processes, "network": False, "private_proc": self.isolate, "separate": self.isolate}

    def preprocess(self, nb: NotebookNode, resources: dict | None = None, km: Any = None):  # noqa: D401
        resources = resources if resources is not None else {}
        self._trusted = trusted_sources(resources, self.source_path)
        if self.scratch_dir:
            os.makedirs(self.scratch_dir, exist_ok=True)
        parent = self.scratch_dir or tempfile.gettempdir()
        _remove_orphaned_scratch(Path(parent))
        self._root = Path(tempfile.mkdtemp(prefix=f"synapses-grading-{os.getpid()}-", dir=parent))
        self._grader: GraderProcess | None = None
        self._setup_sources: list[str] = []
        self._kernel_cells: list[int] = []
        self._restarts = 0
        self._given_up = False
        self._rpc_stats = [0, 0.0]
        self._comm_id: str | None = None  # None: not opened yet; "": the kernel would not open it
        self._request_id = 0
        self._output_bytes: dict[int, int] = {}
        self._notebook_output = 0
        self._cut: dict[int, list] = {}
        self._notebook_deadline = time.monotonic() + self.notebook_timeout
        self._cell_deadline = float("inf")
        _t0 = time.perf_counter()
        try:
            self._kernel_policy, self._grader_policy = self._policies()
            preflight.check(self)  # a grader that cannot run stops the run; never a student's zero
            self._grader = GraderProcess(self._root / "grader" / "g0", self._grader_policy)  # starts with the kernel
            self.kernel_manager_class = SandboxedKernelManager.bound(str(self._root / "kernel"),
                                                                     self._kernel_policy)
            stop = threading.Event()
            watchdog = threading.Thread(target=self._watch_disk, args=(stop,), daemon=True)
            watchdog.start()
            try:  # (a kernel manager passed in is ignored: the student's kernel is always the sandboxed one)
                return super().preprocess(nb, resources)
            finally:
                stop.set()
                watchdog.join(5)
        finally:
            if self._grader is not None:
                self._grader.kill()
            shutil.rmtree(self._root, ignore_errors=True)
            self.log.debug("Trusted grading: %d calls to the student's kernel in %.2f s; notebook %.2f s",
                           self._rpc_stats[0], self._rpc_stats[1], time.perf_counter() - _t0)

    def _watch_disk(self, stop: threading.Event) -> None:
        """Kill the kernel (and remove its files) once its scratch folder holds more than :attr:`disk_quota`."""
        watch_disk(self._root / "kernel", self.disk_quota,
                   lambda: getattr(getattr(self.km, "provisioner", None), "pgid", None), stop, self.log)

    # -- cells ------------------------------------------------------------------
    def preprocess_cell(self, cell, resources, index):  # noqa: D401 (nbconvert API)
        if cell.cell_type == "code" and cell.source.strip() and time.monotonic() >= self._notebook_deadline:
            cell.outputs = [_error(NOTEBOOK_OVERTIME, f"not run: this notebook had used up its "
                                                      f"{self.notebook_timeout} s")]
            cell.execution_count = None
            return cell, self.resources
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        trusted = self._trusted.get(grade_id) if cell.cell_type == "code" and grade_id else None
        if trusted is None:
            result = self._run_in_kernel(cell, resources, index)
            return result
        if nbgrader_utils.is_grade(cell) and not nbgrader_utils.is_solution(cell):
            started = _utc_now()
            cell.outputs = self._run_in_grader(trusted, "test")
            cell.execution_count = None
            # when the grader ran it, as nbclient records the kernel's cells (the class report's run times)
            cell.setdefault("metadata", {})["execution"] = {"iopub.execute_input": started,
                                                            "shell.execute_reply": _utc_now()}
            return cell, self.resources
        cell.source = trusted
        self._send_setup(trusted)  # the grader runs it while the kernel does
        return self._run_in_kernel(cell, resources, index)

    def _run_in_kernel(self, cell, resources, index):
        if self.rescue and cell.cell_type == "code" and cell.source.strip():
            return self._rescue_in_kernel(cell, resources, index)
        result = self._execute_kernel_cell(cell, resources, index)
        if cell.cell_type == "code" and cell.source.strip():
            self._kernel_cells.append(index)
        return result

    def _get_timeout(self, cell):  # noqa: D401 (nbclient API)
        """nbclient's per-cell timeout, never past the notebook's deadline."""
        timeout = super()._get_timeout(cell)
        deadline = getattr(self, "_notebook_deadline", None)
        if deadline is None:
            return timeout
        left = max(1, int(deadline - time.monotonic()) + 1)
        return left if timeout is None else min(timeout, left)

    def _execute_kernel_cell(self, cell, resources, index):
        """nbconvert's cell execution, where output that does not end after the cell's reply is cut.

        nbclient raises "Timeout waiting for IOPub output" only once the kernel has replied that the
        cell finished: its output went on (a thread printing forever) or its end was lost (messages over
        :data:`MAX_KERNEL_MESSAGE` are dropped, and a status message can be lost with them). That is
        the student's cell, not a failure of grading: one line says so and grading goes on.
        """
        self._interrupted_cell = False
        try:
            return super().preprocess_cell(cell, resources, index)
        except CellTimeoutError as exc:
            # after an interrupt the reply is nbclient's own; no end of output then means the kernel is
            # still busy: it ignored the interrupt (a failure of the notebook, for nbgrader or the rescue)
            if "Timeout waiting for IOPub output" not in str(exc) or self._interrupted_cell:
                raise
        self.log.warning("Cell %s: its output did not end within %s s of its reply; cut", index, self.iopub_timeout)
        target = self.nb.cells[index] if index < len(self.nb.cells) else cell
        target.outputs = list(target.get("outputs", [])) + [late_output_notice(self.iopub_timeout)]
        return target, self.resources

    async def _async_handle_timeout(self, timeout, cell=None):  # noqa: D401 (nbclient API)
        """nbclient's interrupt on a cell over its time, remembered for :meth:`_execute_kernel_cell`."""
        self._interrupted_cell = True
        return await super()._async_handle_timeout(timeout, cell)

    # -- bounded outputs -----------------------------------------------------------
    def output(self, outs, msg, display_id, cell_index):  # noqa: D401 (nbclient API)
        """Keep an output only while the cell and the notebook are under their caps; count what is dropped."""
        size = _content_size(msg.get("content"))
        used = self._output_bytes.get(cell_index, 0)
        if (cell_index in self._cut or used + size > self.max_cell_output
                or self._notebook_output + size > self.max_notebook_output):
            self._drop_output(outs, cell_index, size)
            return None
        self._output_bytes[cell_index] = used + size
        self._notebook_output += size
        return super().output(outs, msg, display_id, cell_index)

    def _drop_output(self, outs, cell_index: int, size: int) -> None:
        """One line at the end of the cell's outputs, updated as outputs are dropped."""
        if cell_index not in self._cut:
            notice = from_dict({"output_type": "stream", "name": "stdout", "text": ""})
            outs.append(notice)
            self._cut[cell_index] = [notice, 0, 0]
        entry = self._cut[cell_index]
        entry[1] += 1
        entry[2] += size
        entry[0].text = dropped_notice(self._output_bytes.get(cell_index, 0) + size > self.max_cell_output,
                                       self.max_cell_output, self.max_notebook_output, entry[1], entry[2])

    # -- rescue mode --------------------------------------------------------------
    def _rescue_in_kernel(self, cell, resources, index):
        """Run a kernel cell; a dead or stuck kernel costs this cell only (:attr:`rescue`)."""
        if self._given_up:
            cell.outputs = [_error(KERNEL_GAVE_UP, f"not run: the kernel failed {self._restarts - 1} times "
                                                   "in this notebook, so the grader stopped running cells")]
            cell.execution_count = None
            return cell, self.resources
        if source_digest(cell.source) in {d.strip() for d in self.skip_digests.split(",") if d.strip()}:
            self.log.warning("Not running cell %s again: it hung the kernel in the first autograde run", index)
            cell.outputs = [_error(KERNEL_STUCK, stuck_message(self.timeout))]
            cell.execution_count = None
            return cell, self.resources
        try:
            result = self._execute_kernel_cell(cell, resources, index)
        except DeadKernelError:
            self.log.warning("The kernel died in cell %s; restarting it", index)
            self._record_failure(cell, index, KERNEL_DIED, DIED_MESSAGE)
            return cell, self.resources
        except CellTimeoutError:
            self.log.warning("The kernel ignored the interrupt in cell %s; restarting it", index)
            self._record_failure(cell, index, KERNEL_STUCK, stuck_message(self.timeout))
            return cell, self.resources
        self._kernel_cells.append(index)
        return result

    def _record_failure(self, cell, index, ename, evalue) -> None:
        cell = self.nb.cells[index] if index < len(self.nb.cells) else cell
        cell.outputs = list(cell.get("outputs", [])) + [_error(ename, evalue)]
        self._restart_and_replay()

    # -- the grader side ----------------------------------------------------------
    def _grader_budget(self) -> float:
        return float(self.timeout) if self.timeout else 600.0

    def _start_grader(self) -> GraderProcess:
        """A new grader that has run the set-up cells so far (after one stopped or ran over its time)."""
        self._grader = GraderProcess(self._root / "grader" / f"g{time.monotonic_ns()}", self._grader_policy)
        for source in self._setup_sources:
            self._grader.channel.send({"op": "run", "source": source, "kind": "setup"})
            self._grader.pending += 1
        return self._grader

    def _send_setup(self, source: str) -> None:
        """Have the grader run a locked set-up cell without waiting for it (see :meth:`_collect_setup`)."""
        self._setup_sources.append(source)
        grader = self._grader
        if grader is None or grader.proc.poll() is not None:
            return  # a new grader runs every set-up cell when it starts
        try:
            grader.channel.send({"op": "run", "source": source, "kind": "setup"})
            grader.pending += 1
        except OSError:
            self._kill_grader()

    def _collect_setup(self, grader: GraderProcess) -> None:
        """Wait for the set-up cells sent to the grader; a failing one is the course's bug, logged."""
        grader.wait_ready(self.startup_timeout)
        while grader.pending:
            message = grader.channel.receive(timeout=self._grader_budget())
            if message.get("op") != "done":
                raise ChannelClosed(f"unexpected message {message.get('op')!r} from the grader during set-up")
            grader.pending -= 1
            errors = [o for o in _clean_outputs(message.get("outputs")) if o.output_type == "error"]
            if errors:
                self.log.error("The grader could not run a set-up cell: %s: %s\n%s", errors[0].ename,
                               errors[0].evalue, message.get("log", ""))

    def _run_in_grader(self, source: str, kind: str) -> list[NotebookNode]:
        """Outputs of one trusted cell, run by the grader; a grader that fails is replaced."""
        grader = self._grader
        try:
            if grader is None or grader.proc.poll() is not None:
                if grader is not None:
                    grader.kill()
                grader = self._start_grader()
            self._collect_setup(grader)
            self._cell_deadline = min(time.monotonic() + self._grader_budget(), self._notebook_deadline)
            outputs, log = self._grader_exchange(grader, source, kind)
        except TimeoutError:
            self.log.warning("The grader ran over its deadline; killed it")
            self._kill_grader()
            if time.monotonic() >= self._notebook_deadline:
                return [_error(GRADER_TIMEOUT, f"this notebook had used up its {self.notebook_timeout} s while "
                                               "this cell was graded (student functions that run too long?)")]
            return [_error(GRADER_TIMEOUT, f"grading this cell took longer than {self._grader_budget():g} s "
                                           "(a student string or function that runs too long?)")]
        except (ChannelClosed, OSError, ValueError) as exc:
            if grader is not None and not grader.ready:  # it never started: the machinery's failure, not the student's
                raise preflight.GraderUnavailable(preflight.cause(grader, self._grader_policy, str(exc))) from None
            tail = grader.log_tail() if grader is not None else ""
            self.log.error("The grader stopped (%s); its log ends:\n%s", exc, tail)
            self._kill_grader()
            return [_error(GRADER_STOPPED, "the grader's process stopped while it checked this cell (out of "
                                            "memory or a crash in a simulation of your strings?)")]
        finally:
            self._cell_deadline = float("inf")
        if log.strip():
            self.log.debug("Grader log for a %s cell:\n%s", kind, log)
        return outputs

    def _time_left(self) -> float:
        """Seconds until the test cell's deadline (its whole budget, all its calls) or the notebook's."""
        return min(self._cell_deadline, self._notebook_deadline) - time.monotonic()

    def _kill_grader(self) -> None:
        if self._grader is not None:
            self._grader.kill()
        self._grader = None

    def _grader_exchange(self, grader: GraderProcess, source: str, kind: str) -> tuple[list[NotebookNode], str]:
        grader.channel.send({"op": "run", "source": source, "kind": kind})
        while True:
            left = self._time_left()
            if left <= 0:
                raise TimeoutError("the test cell ran past its deadline")
            message = grader.channel.receive(timeout=left)
            op = message.get("op")
            if op == "done":
                return _clean_outputs(message.get("outputs")), str(message.get("log", ""))
            if op in ("lookup", "call"):
                grader.channel.send(self._kernel_request(message))
            else:
                raise ChannelClosed(f"unexpected message {op!r} from the grader")

    # -- the kernel side ----------------------------------------------------------
    def _kernel_request(self, message: dict) -> dict:
        """Answer a grader's lookup or call with the kernel's plain-data reply."""
        request = comm.kernel_request(message)
        if self._given_up:
            return {"status": "failed", "message": "not run: the kernel failed too often in this notebook"}
        if request["op"] == "lookup" and not request["names"]:
            return {"status": "ok", "names": {}}
        _t = time.perf_counter()
        limit = min(float(self.call_timeout), self._time_left())
        if limit <= 0:
            return {"status": "failed", "message": "not run: the test cell had used up its time"}
        reply, state = run_sync(self._async_kernel_request)(request, limit)
        self._rpc_stats[0] += 1
        self._rpc_stats[1] += time.perf_counter() - _t
        if state not in ("ok", "interrupted"):
            self._restart_and_replay()  # died, or stuck past the interrupt
        return comm.grader_reply(reply, state, self.call_timeout)

    async def _async_kernel_request(self, request: dict, timeout: float) -> tuple[Any, str]:
        """Send one request over the grader's comm (:func:`coursekit.grading.comm.send_request`).

        Returns (the kernel's reply or None, what happened): "ok", "interrupted", "stuck" or "died".
        """
        assert self.kc is not None and self.km is not None
        if self._comm_id is None:
            self._comm_id = await comm.open_comm(self.kc, self.km, timeout)
        if not self._comm_id:
            return None, "ok"  # the kernel would not open the channel: no answer
        self._request_id += 1
        reply, state = await comm.send_request(self.kc, self.km, self._comm_id, self._request_id, request, timeout)
        if state == "closed":
            self._comm_id = ""  # the notebook closed it: no more answers
            return None, "ok"
        return reply, state

    def _restart_and_replay(self) -> None:
        """Restart a dead or stuck kernel and run the kernel's cells so far again (outputs discarded)."""
        self._restarts += 1
        if self._restarts > self.max_restarts:
            self._given_up = True
            return
        self._comm_id = None
        try:
            run_sync(self.km.restart_kernel)(now=True)
            run_sync(self.kc.wait_for_ready)(timeout=self.startup_timeout)
            originals = list(self.nb.cells)
            saved = [copy.deepcopy(c.get("outputs")) for c in originals]
            try:
                for i in self._kernel_cells:
                    self.execute_cell(copy.deepcopy(originals[i]), i, store_history=False)
            finally:
                self.nb.cells[:] = originals
                for c, outputs in zip(originals, saved):
                    if outputs is not None:
                        c.outputs = outputs
        except Exception as exc:  # noqa: BLE001 (the replay itself failed: stop running cells)
            self.log.error("Could not restore the kernel after a failure (%s); the remaining cells are not run", exc)
            self._given_up = True


def autograde_hook(**kwargs: Any) -> None:
    """``Autograde.pre_convert_hook``: the preflight with the running nbgrader's own TrustedExecute config."""
    from traitlets.config import Application

    config = Application.instance().config if Application.initialized() else None
    preflight.check(TrustedExecute(config=config) if config is not None else TrustedExecute())
