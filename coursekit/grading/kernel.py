"""The student's kernel: its sandboxed process, its scratch folder and what it may read.

* :class:`SandboxedKernelManager` starts ipykernel under :mod:`coursekit.grading.sandbox`
  in a scratch folder of its own (:mod:`coursekit.grading.scratch`), on IPC
  sockets, with a copy of the run-time ``helpers`` (:func:`runtime_package`: no
  references, no ``coursekit``) and :data:`KERNEL_STARTUP`;
* :class:`BoundedKernelClient` refuses, in libzmq, every message over
  :data:`MAX_KERNEL_MESSAGE`;
* :func:`read_paths_without` cuts the private packages out of what the kernel
  may read (Landlock can only allow);
* :func:`watch_disk` kills a kernel whose scratch folder grows past its quota.

The grader's process is :mod:`coursekit.grading.grader_process`; what uses both
is :class:`coursekit.grading.execute.TrustedExecute`.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Callable

import zmq
import zmq.asyncio
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from traitlets import DottedObjectName, Type, Unicode, default

import helpers

from coursekit.grading import layout
from coursekit.grading import sandbox
from coursekit.grading.scratch import _scratch, sandbox_env

#: The course's run-time package on this machine (all of it readable by the grader).
HELPERS_DIR = Path(helpers.__file__).resolve().parent
#: The instructor's package (this one): readable by the grader, never by the kernel.
COURSEKIT_DIR = Path(__file__).resolve().parents[1]
#: Sub-packages of helpers that the student's kernel never gets.
PRIVATE_PACKAGES = layout.PRIVATE_PACKAGES


# ---------------------------------------------------------------------------
# What the kernel may import and read
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
    client_class = DottedObjectName("coursekit.grading.kernel.BoundedKernelClient")
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
# The disk quota of its scratch folder
# ---------------------------------------------------------------------------
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


def watch_disk(root: Path, quota: int, pgid: Callable[[], int | None], stop: threading.Event,
               log: logging.Logger | Any) -> None:
    """Kill the kernel (process group ``pgid()``) and remove its files once `root` holds more than `quota` bytes.

    Runs until `stop` is set (a thread of :class:`coursekit.grading.execute.TrustedExecute`).
    """
    while not stop.wait(0.2):
        if _tree_size(root, quota) <= quota:
            continue
        log.warning("The kernel wrote more than %d MiB; killing it", quota >> 20)
        group = pgid()
        try:
            if group:
                os.killpg(group, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for sub in ("work", "tmp", "home"):
            for child in (root / sub).iterdir() if (root / sub).is_dir() else ():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
