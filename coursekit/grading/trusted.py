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
  libzmq past :data:`MAX_KERNEL_MESSAGE` (``ZMQ_MAXMSGSIZE``, before Python
  sees a byte; at most :data:`KERNEL_RECEIVE_QUEUE` wait per socket); a cell
  keeps at most :attr:`TrustedExecute.max_cell_output` bytes of output and a
  notebook :attr:`TrustedExecute.max_notebook_output`, the rest dropped as it
  arrives with one line saying how much; a test cell has one deadline for all
  its calls (``Execute.timeout``) and a notebook :attr:`TrustedExecute.notebook_timeout`.

Where Landlock is missing, grading refuses with one sentence unless
``--TrustedExecute.allow_unsandboxed=True``; the trusted tests then still decide
the grades, but student code runs with the grader's rights.
"""

from __future__ import annotations

import copy
import glob
import hashlib
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from jupyter_core.utils import ensure_async, run_sync
from nbformat.notebooknode import NotebookNode, from_dict
from traitlets import Bool, DottedObjectName, Integer, Type, Unicode, default

import helpers
from nbgrader import utils as nbgrader_utils
from nbgrader.preprocessors import Execute

from coursekit.grading import layout
from coursekit.answers import misconceptions
from coursekit.grading import plaindata
from coursekit.grading import preflight
from coursekit.grading import sandbox
from coursekit.grading.causes import GRADER_STOPPED, GRADER_TIMEOUT, KERNEL_DIED, KERNEL_GAVE_UP, KERNEL_STUCK, NOTEBOOK_OVERTIME
from coursekit.grading.grader import Channel, ChannelClosed

__all__ = ["TrustedExecute", "SandboxedKernelManager", "GraderProcess", "SandboxRefused",
           "runtime_package", "trusted_sources", "HELPERS_DIR"]

#: The course's run-time package on this machine (all of it readable by the grader).
HELPERS_DIR = Path(helpers.__file__).resolve().parent
#: The instructor's package (this one): readable by the grader, never by the kernel.
COURSEKIT_DIR = Path(__file__).resolve().parents[1]
#: Sub-packages of helpers that the student's kernel never gets.
PRIVATE_PACKAGES = layout.PRIVATE_PACKAGES


class SandboxRefused(RuntimeError):
    """Grading refused: no sandbox here, and the instructor did not opt out."""


# ---------------------------------------------------------------------------
# Scratch folders and the environment of sandboxed processes
# ---------------------------------------------------------------------------
def runtime_package(dest: Path, source: Path | None = None) -> Path:
    """Copy the run-time part of ``helpers`` (no references, no instructor code) to ``dest/helpers``.

    `source` is the ``helpers`` folder to copy (default: the one the grader imports,
    :func:`coursekit.grading.layout.runtime_source`).
    """
    source = Path(source or layout.runtime_source()).resolve()
    target = Path(dest) / "helpers"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")

    def skip(directory: str, names: list[str]) -> set[str]:
        skipped = set(ignore(directory, names))
        if Path(directory).resolve() == source:
            skipped |= set(PRIVATE_PACKAGES)
        return skipped

    shutil.copytree(source, target, ignore=skip)
    return target


#: Bytes of printed text one kernel cell hands to ipykernel before the kernel itself drops the rest.
KERNEL_STREAM_LIMIT = 1 << 20
#: Module the sandboxed kernel imports at start (``IPKernelApp.exec_lines``); see :func:`kernel_startup`.
KERNEL_STARTUP_MODULE = "synapses_kernel_startup"
KERNEL_STARTUP = '''"""Run by the grader's sandboxed kernel at start: printed text per cell kept to {limit} bytes.

ipykernel sends everything a cell printed in one 0.2 s as one message; a cell printing a gigabyte makes
messages the grader refuses (and keeps the kernel's IOPub thread busy for a minute), so the cell's end,
and the answers of the cells after it, would be lost. This is a courtesy to a student who left a print in
a loop, not a defence: the grader bounds what it accepts by itself.
"""
import sys

def _install(limit={limit}):
    ip = get_ipython()
    state = {{"used": 0, "dropped": 0}}

    def capped(stream):
        write = stream.write

        def capped_write(text):
            size = len(text)
            if state["used"] + size > limit:
                if not state["dropped"]:
                    write("\\n[output cut by the kernel: this cell printed more than %d MiB]\\n" % (limit >> 20))
                state["dropped"] += size
                return size
            state["used"] += size
            return write(text)
        stream.write = capped_write

    def before_cell(*_):
        # IPython wraps the streams' write for each cell (its output history) and restores it after:
        # wrap the wrapper, so the text dropped here is not kept in the history either
        state["used"], state["dropped"] = 0, 0
        for stream in (sys.stdout, sys.stderr):
            capped(stream)
    ip.events.register("pre_run_cell", before_cell)

_install()
del _install
'''


def kernel_startup(dest: Path) -> list[str]:
    """Write :data:`KERNEL_STARTUP` into `dest` (on the kernel's path); the kernel arguments that run it."""
    (Path(dest) / f"{KERNEL_STARTUP_MODULE}.py").write_text(KERNEL_STARTUP.format(limit=KERNEL_STREAM_LIMIT))
    return [f"--IPKernelApp.exec_lines=import {KERNEL_STARTUP_MODULE}"]


def read_paths_without(paths: tuple[str, ...] | list[str], excluded: list[Path]) -> tuple[str, ...]:
    """`paths` with every `excluded` folder cut out (Landlock can only allow, never deny, below a rule).

    A path that holds an excluded folder is replaced by its entries, recursively along the way to the
    excluded folder, which is left out. This matters when ``helpers`` is installed into site-packages
    (not editable): the kernel may read the Python environment but not ``helpers/references`` in it.
    """
    return _cut(paths, excluded)[0]


def listing_paths_without(paths: tuple[str, ...] | list[str], excluded: list[Path]) -> tuple[str, ...]:
    """The folders :func:`read_paths_without` walked through to cut `excluded` out (for :attr:`sandbox.Policy.list`).

    Python must list a ``sys.path`` folder (``site-packages``) to import from it; these may be listed,
    their files not read.
    """
    return _cut(paths, excluded)[1]


def _cut(paths, excluded) -> tuple[tuple[str, ...], tuple[str, ...]]:
    excluded = [Path(e).resolve() for e in excluded]
    out: list[str] = []
    walked: list[str] = []

    def add(path: Path) -> None:
        if any(path == e or e in path.parents for e in excluded):
            return
        if path.is_symlink():  # Landlock follows it: a venv's lib64 -> lib would grant all of lib again
            real = path.resolve()
            if any(real == e or e in real.parents or real in e.parents for e in excluded):
                add(real)
                return
        inside = [e for e in excluded if path in e.parents]
        if not inside or not path.is_dir() or path.is_symlink():
            out.append(str(path))
            return
        walked.append(str(path))
        for child in sorted(path.iterdir()):
            add(child)

    for p in paths:
        add(Path(p))
    return tuple(dict.fromkeys(out)), tuple(dict.fromkeys(walked))


def _font_cache() -> list[str]:
    """matplotlib's font list of this user, so a sandbox does not rebuild it (1-2 s each)."""
    try:
        import matplotlib
        return glob.glob(os.path.join(matplotlib.get_cachedir(), "fontlist-*.json"))
    except Exception:  # noqa: BLE001
        return []


def _scratch(root: Path) -> dict[str, Path]:
    dirs = {name: root / name for name in ("work", "home", "tmp", "run", "mpl", "ipython", "jupyter", "pkgs")}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    for cache in _font_cache():
        shutil.copy2(cache, dirs["mpl"])
    return dirs


def sandbox_env(dirs: dict[str, Path], pythonpath: str | None = None) -> dict[str, str]:
    """The environment of a sandboxed process: its scratch folders, one BLAS thread, nothing of ours."""
    keep = ("PATH", "LANG", "LC_ALL", "TZ", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "NBGRADER_EXECUTION",
            "NBGRADER_VALIDATING")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    # the tags by which make grade finds (and kills) every process of its run
    env.update({k: v for k, v in os.environ.items() if k.startswith("SYNAPSES_AUTOGRADE_")})
    env.update(
        HOME=str(dirs["home"]), TMPDIR=str(dirs["tmp"]), MPLCONFIGDIR=str(dirs["mpl"]), MPLBACKEND="Agg",
        IPYTHONDIR=str(dirs["ipython"]), JUPYTER_RUNTIME_DIR=str(dirs["run"]),
        JUPYTER_CONFIG_DIR=str(dirs["jupyter"]), JUPYTER_DATA_DIR=str(dirs["jupyter"]),
        PYTHONDONTWRITEBYTECODE="1", PYTHONNOUSERSITE="1", PYTHONUNBUFFERED="1",
        OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
    )
    env.setdefault("NBGRADER_EXECUTION", "autograde")
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    # ipykernel's pipe for the output of forked processes needs TCP; there are neither here
    env["PYTHONWARNINGS"] = "ignore:Couldn't bind IOPub Pipe"
    return env


def trusted_sources(resources: dict | None, source_path: str = "") -> dict[str, str]:
    """Sources of the locked code cells, by grade id: from the gradebook, never from the submission.

    nbgrader's resources name the gradebook, notebook and assignment; outside
    nbgrader (tests, benchmarks) ``source_path`` names the instructor notebook.
    """
    nbg = (resources or {}).get("nbgrader") or {}
    if nbg.get("db_url") and nbg.get("notebook") and nbg.get("assignment"):
        from nbgrader.api import Gradebook
        with Gradebook(nbg["db_url"]) as gb:
            notebook = gb.find_notebook(nbg["notebook"], nbg["assignment"])
            return {c.name: c.source for c in notebook.source_cells if c.locked and c.cell_type == "code"}
    if source_path:
        import nbformat
        nb = nbformat.read(source_path, as_version=4)
        return {c.metadata.nbgrader["grade_id"]: c.source for c in nb.cells
                if c.cell_type == "code" and nbgrader_utils.is_locked(c) and "grade_id" in c.metadata.get("nbgrader", {})}
    raise ValueError("TrustedExecute needs nbgrader's gradebook (db_url, notebook, assignment) or "
                     "TrustedExecute.source_path to know which cells are the instructor's")


# ---------------------------------------------------------------------------
# The student's kernel
# ---------------------------------------------------------------------------
#: Largest ZeroMQ message (bytes) the instructor's process accepts from a student's kernel.
MAX_KERNEL_MESSAGE = 16 << 20
#: Messages of a kernel that ZeroMQ queues for the instructor's process per socket, at most.
KERNEL_RECEIVE_QUEUE = 16


class BoundedKernelClient(AsyncKernelClient):
    """A kernel client whose sockets refuse any message larger than :data:`MAX_KERNEL_MESSAGE`.

    ``ZMQ_MAXMSGSIZE`` is checked by libzmq while the message arrives, before
    any of it is handed to Python (the kernel's connection is dropped and
    re-established, the message lost); ``ZMQ_RCVHWM`` bounds how many messages
    wait. A kernel can then make this process hold at most about
    ``MAX_KERNEL_MESSAGE * KERNEL_RECEIVE_QUEUE`` bytes per socket.
    """

    @default("context")
    def _bounded_context(self) -> zmq.asyncio.Context:
        self._created_context = True  # destroyed with the client, as jupyter_client's own
        context = zmq.asyncio.Context()
        context.setsockopt(zmq.MAXMSGSIZE, MAX_KERNEL_MESSAGE)  # defaults of every socket it creates
        context.setsockopt(zmq.RCVHWM, KERNEL_RECEIVE_QUEUE)
        return context


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel that runs sandboxed in its own scratch folder, on IPC sockets.

    Set :attr:`scratch_root` (a fresh folder) before starting it; `policy`
    None runs it unsandboxed (the instructor opted out).
    """

    scratch_root = Unicode("", help="Folder of this kernel's scratch space (created by the caller).")
    client_class = DottedObjectName("coursekit.grading.trusted.BoundedKernelClient")
    client_factory = Type(klass=AsyncKernelClient, default_value=BoundedKernelClient)
    #: Sandbox policy of the kernel; None runs it unsandboxed (the instructor opted out).
    policy: sandbox.Policy | None = None

    @classmethod
    def bound(cls, scratch_root: str, policy: sandbox.Policy | None) -> type:
        """A subclass with its scratch folder and policy fixed, for ``kernel_manager_class``.

        nbclient then creates, owns and shuts down the kernel as usual.
        """
        return type("BoundSandboxedKernelManager", (cls,), {"_bound_root": scratch_root, "policy": policy})

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("scratch_root", getattr(self, "_bound_root", ""))
        super().__init__(*args, **kwargs)
        self.dirs = _scratch(Path(self.scratch_root))
        runtime_package(self.dirs["pkgs"])
        self._startup_args = kernel_startup(self.dirs["pkgs"])
        self.transport = "ipc"
        self.connection_file = str(self.dirs["run"] / "kernel.json")
        self.ip = str(self.dirs["run"] / "kernel-ipc")

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments) + self._startup_args
        if cmd and os.path.basename(cmd[0]).startswith("python"):
            cmd[0] = sys.executable
        return sandbox.command(cmd, self.policy) if self.policy is not None else cmd

    async def _async_start_kernel(self, **kw: Any) -> None:
        kw["env"] = sandbox_env(self.dirs, pythonpath=str(self.dirs["pkgs"]))
        kw["cwd"] = str(self.dirs["work"])
        await super()._async_start_kernel(**kw)

    start_kernel = _async_start_kernel


# ---------------------------------------------------------------------------
# The grader
# ---------------------------------------------------------------------------
class GraderProcess:
    """The parent's handle of one sandboxed grader (:mod:`coursekit.grading.grader`)."""

    def __init__(self, root: Path, policy: sandbox.Policy | None):
        self.dirs = _scratch(root)
        parent, child = socket.socketpair()
        cmd = [sys.executable, "-m", "coursekit.grading.grader", str(child.fileno())]
        if policy is not None:
            cmd = sandbox.command(cmd, policy)
        self.log_path = root / "grader.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, pass_fds=[child.fileno()], env=sandbox_env(self.dirs),
                                         cwd=self.dirs["work"], stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        child.close()
        self.channel = Channel(parent)
        self.ready = False
        #: set-up cells sent whose "done" has not been read yet
        self.pending = 0

    def wait_ready(self, timeout: float) -> None:
        if not self.ready:
            message = self.channel.receive(timeout=timeout)
            if message.get("op") != "ready":
                raise ChannelClosed("the grader did not start")
            self.ready = True

    def log_tail(self, size: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-size:]
        except OSError:
            return ""

    def kill(self) -> None:
        try:
            self.channel.sock.close()
        except OSError:
            pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def _remove_orphaned_scratch(parent: Path) -> None:
    """Remove scratch folders left by grading processes that were killed (their pid is gone)."""
    for path in parent.glob("synapses-grading-*-*"):
        pid = path.name.split("-")[2]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:
            pass  # alive, someone else's


def _tree_size(root: Path, limit: int) -> int:
    """Bytes of the files below `root` (not following links); stops counting once past `limit`."""
    total, stack = 0, [str(root)]
    while stack and total <= limit:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        else:
                            total += entry.stat(follow_symlinks=False).st_blocks * 512
                    except OSError:
                        continue
        except OSError:
            continue
    return total




def source_digest(source: str) -> str:
    """SHA-1 (hex) of a cell source, stripped of surrounding whitespace.

    >>> source_digest("  x = 1  ") == source_digest("x = 1")
    True
    """
    return hashlib.sha1(source.strip().encode("utf-8")).hexdigest()


def _error(ename: str, evalue: str) -> NotebookNode:
    return from_dict({"output_type": "error", "ename": ename, "evalue": evalue, "traceback": [f"{ename}: {evalue}"]})


def _utc_now() -> str:
    """The time now as nbclient writes it in ``metadata.execution`` (ISO 8601, UTC, ``Z``)."""
    import datetime
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def _content_size(content: Any) -> int:
    """Characters of the strings in a message's content (what an output would hold)."""
    if isinstance(content, str):
        return len(content)
    if isinstance(content, dict):
        return sum(_content_size(v) for v in content.values())
    if isinstance(content, list):
        return sum(_content_size(v) for v in content)
    return 8


def _clean_outputs(outputs: Any) -> list[NotebookNode]:
    """The grader's outputs as nbformat outputs: only stdout streams, misconception markers and one-line errors."""
    clean = []
    for out in outputs if isinstance(outputs, list) else []:
        if not isinstance(out, dict):
            continue
        if out.get("output_type") == "stream" and out.get("name") == "stdout":
            clean.append(from_dict({"output_type": "stream", "name": "stdout", "text": str(out.get("text", ""))}))
        elif misconceptions.is_marker(out):
            value = out["data"][misconceptions.MIME_TYPE]
            value = value if isinstance(value, dict) else {}
            clean.append(from_dict(misconceptions.marker_output(str(value.get("id", "")),
                                                                str(value.get("from", ""))[:20])))
        elif out.get("output_type") == "error":
            clean.append(_error(str(out.get("ename", "Error")), str(out.get("evalue", ""))))
    return clean


# ---------------------------------------------------------------------------
# The preprocessor
# ---------------------------------------------------------------------------
class TrustedExecute(Execute):
    """nbgrader's ``Execute`` with graded test cells run by a trusted grader (module docstring)."""

    sandbox = Bool(True, help="Run the student's kernel and the grader in the sandbox "
                              "(coursekit.grading.sandbox).").tag(config=True)
    allow_unsandboxed = Bool(False, help="Grade even where the sandbox cannot be applied (no Landlock): student "
                                         "code then runs with the grader's rights; grades are still decided by the "
                                         "trusted grader.").tag(config=True)
    call_timeout = Integer(30, help="Seconds one call of a student function from a test may take.").tag(config=True)
    kernel_memory = Integer(4 << 30, help="Address-space limit of the student's kernel (bytes).").tag(config=True)
    grader_memory = Integer(6 << 30, help="Address-space limit of the grader (bytes).").tag(config=True)
    file_size = Integer(64 << 20, help="Largest file the kernel may write (bytes).").tag(config=True)
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
        reason = sandbox.unavailable_reason() if self.sandbox else "TrustedExecute.sandbox is False"
        if reason:
            if not self.allow_unsandboxed:
                raise SandboxRefused(f"refusing to run student code without a sandbox: {reason}; pass "
                                     "--TrustedExecute.allow_unsandboxed=True to grade anyway")
            self.log.warning("Grading WITHOUT a sandbox (%s): student code runs with your rights", reason)
            return None, None
        base = sandbox.runtime_read_paths()
        # the packages where the grader really imports them, and the answers out of the kernel's reach
        # wherever either side finds them (coursekit.grading.layout: editable elsewhere, wheel, conda)
        private = layout.private_paths()
        kernel = sandbox.Policy(read=read_paths_without(base, private), list=listing_paths_without(base, private),
                                write=(str(self._root / "kernel"),),
                                memory=self.kernel_memory, file_size=self.file_size, open_files=256, processes=0,
                                network=False, **self._isolation())
        grader = sandbox.Policy(read=tuple(base) + layout.grader_read_paths(), write=(str(self._root / "grader"),),
                                memory=self.grader_memory, file_size=self.file_size, open_files=256,
                                processes=0, network=False, **self._isolation())
        return kernel, grader

    def _isolation(self) -> dict[str, bool]:
        """Policy fields that keep each sandbox away from every other one (:attr:`isolate`)."""
        return {"private_proc": self.isolate, "separate": self.isolate}

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
        root = self._root / "kernel"
        while not stop.wait(0.2):
            if _tree_size(root, self.disk_quota) <= self.disk_quota:
                continue
            self.log.warning("The kernel wrote more than %d MiB; killing it", self.disk_quota >> 20)
            pgid = getattr(getattr(self.km, "provisioner", None), "pgid", None)
            try:
                if pgid:
                    os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            for sub in ("work", "tmp", "home"):
                for child in (root / sub).iterdir() if (root / sub).is_dir() else ():
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child, ignore_errors=True)
                    else:
                        child.unlink(missing_ok=True)

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
        target.outputs = list(target.get("outputs", [])) + [from_dict({
            "output_type": "stream", "name": "stdout",
            "text": f"\n[output cut: this cell's output had not ended {self.iopub_timeout} s after the cell "
                    f"finished, or came in messages over the {MAX_KERNEL_MESSAGE >> 20} MiB limit; the rest was "
                    "dropped]\n"})]
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
        which = ("this cell's" if self._output_bytes.get(cell_index, 0) + size > self.max_cell_output
                 else "this notebook's")
        entry[0].text = (f"\n[output cut: {which} output limit ({self.max_cell_output >> 20} MiB per cell, "
                         f"{self.max_notebook_output >> 20} MiB per notebook) was reached; {entry[1]} more "
                         f"outputs ({entry[2]:,} bytes) were dropped]\n")

    # -- rescue mode --------------------------------------------------------------
    def _stuck_message(self) -> str:
        return (f"this cell was still running after the {self.timeout} s time limit and ignored the interrupt "
                "(is KeyboardInterrupt caught, or SIGINT ignored, in a loop?); the grader killed the kernel, "
                "restarted it and re-ran the cells above")

    @staticmethod
    def _died_message() -> str:
        return ("the kernel died while this cell ran (os._exit, a crash, running out of memory or writing more "
                "than the disk quota); the grader restarted it and re-ran the cells above")

    def _rescue_in_kernel(self, cell, resources, index):
        """Run a kernel cell; a dead or stuck kernel costs this cell only (:attr:`rescue`)."""
        if self._given_up:
            cell.outputs = [_error(KERNEL_GAVE_UP, f"not run: the kernel failed {self._restarts - 1} times "
                                                   "in this notebook, so the grader stopped running cells")]
            cell.execution_count = None
            return cell, self.resources
        if source_digest(cell.source) in {d.strip() for d in self.skip_digests.split(",") if d.strip()}:
            self.log.warning("Not running cell %s again: it hung the kernel in the first autograde run", index)
            cell.outputs = [_error(KERNEL_STUCK, self._stuck_message())]
            cell.execution_count = None
            return cell, self.resources
        try:
            result = self._execute_kernel_cell(cell, resources, index)
        except DeadKernelError:
            self.log.warning("The kernel died in cell %s; restarting it", index)
            self._record_failure(cell, index, KERNEL_DIED, self._died_message())
            return cell, self.resources
        except CellTimeoutError:
            self.log.warning("The kernel ignored the interrupt in cell %s; restarting it", index)
            self._record_failure(cell, index, KERNEL_STUCK, self._stuck_message())
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
        if message.get("op") == "lookup":
            names = [n for n in message.get("names", []) if isinstance(n, str) and n.isidentifier()][:200]
            request = {"op": "lookup", "names": names}
        else:
            request = {"op": "call", "name": str(message.get("name", "")), "args": message.get("args", []),
                       "kwargs": message.get("kwargs", {"__dict__": {}})}
        if self._given_up:
            return {"status": "failed", "message": "not run: the kernel failed too often in this notebook"}
        if request["op"] == "lookup" and not names:
            return {"status": "ok", "names": {}}
        _t = time.perf_counter()
        limit = min(float(self.call_timeout), self._time_left())
        if limit <= 0:
            return {"status": "failed", "message": "not run: the test cell had used up its time"}
        reply, state = run_sync(self._async_kernel_request)(request, limit)
        self._rpc_stats[0] += 1
        self._rpc_stats[1] += time.perf_counter() - _t
        if state == "ok":
            return reply if isinstance(reply, dict) else {"status": "failed", "message": "it gave no answer"}
        if state == "interrupted":
            return {"status": "failed", "message": f"did not return within {self.call_timeout} s (an endless "
                                                   "loop?); the grader interrupted it"}
        self._restart_and_replay()
        if state == "died":
            return {"status": "failed", "message": "the kernel died during this call (os._exit, a crash or out "
                                                   "of memory?); the grader restarted it"}
        return {"status": "failed", "message": f"did not return within {self.call_timeout} s and ignored the "
                                               "interrupt; the grader restarted the kernel"}

    async def _async_kernel_request(self, request: dict, timeout: float) -> tuple[Any, str]:
        """Send one request over the grader's comm; return (the kernel's reply or None, what happened).

        What happened is "ok", "interrupted" (over `timeout`, freed by an interrupt), "stuck" (the
        interrupt did not help) or "died".
        """
        assert self.kc is not None and self.km is not None
        if self._comm_id is None:
            self._comm_id = await self._async_open_comm(timeout)
        if not self._comm_id:
            return None, "ok"  # the kernel would not open the channel: no answer
        self._request_id += 1
        rid = self._request_id
        self.kc.shell_channel.send(self.kc.session.msg("comm_msg", {"comm_id": self._comm_id,
                                                                   "data": {**request, "id": rid}}))
        deadline = time.monotonic() + timeout
        interrupted = False
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if interrupted:
                    return None, "stuck"
                await ensure_async(self.km.interrupt_kernel())
                interrupted, deadline = True, time.monotonic() + 10.0
                continue
            try:
                msg = await ensure_async(self.kc.get_iopub_msg(timeout=min(remaining, 1.0)))
            except queue.Empty:
                if not await ensure_async(self.km.is_alive()):
                    return None, "died"
                continue
            content = msg.get("content", {})
            if content.get("comm_id") != self._comm_id:
                continue
            if msg.get("msg_type") == "comm_close":
                self._comm_id = ""  # the notebook closed it: no more answers
                return None, "ok"
            data = content.get("data")
            if msg.get("msg_type") == "comm_msg" and isinstance(data, dict) and data.get("id") == rid:
                return data, ("interrupted" if interrupted else "ok")

    async def _async_open_comm(self, timeout: float) -> str:
        """Install the grader's comm target in the kernel and open a comm to it; its id, or "" if refused."""
        msg_id = self.kc.execute(plaindata.kernel_code(), silent=True, store_history=False, allow_stdin=False,
                                 stop_on_error=False)
        if not await self._async_wait_idle(msg_id, timeout):
            return ""
        await self._drain_shell(msg_id)
        comm_id = uuid.uuid4().hex
        opening = self.kc.session.msg("comm_open", {"comm_id": comm_id, "target_name": plaindata.COMM_TARGET,
                                                    "data": {}})
        self.kc.shell_channel.send(opening)
        closed = []
        ok = await self._async_wait_idle(opening["header"]["msg_id"], timeout, on_message=lambda m: closed.append(
            m.get("msg_type") == "comm_close" and m.get("content", {}).get("comm_id") == comm_id))
        return comm_id if ok and not any(closed) else ""

    async def _async_wait_idle(self, msg_id: str, timeout: float, on_message=None) -> bool:
        """Wait until the kernel has handled message `msg_id` (idle status); False after `timeout` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = await ensure_async(self.kc.get_iopub_msg(timeout=min(1.0, deadline - time.monotonic())))
            except queue.Empty:
                if not await ensure_async(self.km.is_alive()):
                    return False
                continue
            if on_message is not None:
                on_message(msg)
            if (msg.get("parent_header", {}).get("msg_id") == msg_id and msg.get("msg_type") == "status"
                    and msg.get("content", {}).get("execution_state") == "idle"):
                return True
        return False

    async def _drain_shell(self, msg_id: str) -> None:
        end = time.monotonic() + 5.0
        while time.monotonic() < end:
            try:
                msg = await ensure_async(self.kc.get_shell_msg(timeout=max(0.05, end - time.monotonic())))
            except queue.Empty:
                return
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return

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
