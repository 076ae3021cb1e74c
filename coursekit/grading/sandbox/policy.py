"""What a sandboxed process may do (:class:`Policy`), and the limits of grading, defined once.

The limits below are :class:`Policy`'s defaults and the defaults of the
``TrustedExecute`` traits of the same meaning (:mod:`coursekit.grading.execute`:
``kernel_memory``, ``grader_memory``, ``file_size``, ``open_files``,
``processes``), which build the policies of the student's kernel and of the
grader. To change a limit for every run, change it here; for one course, set the
trait in ``nbgrader_config.py`` (``c.TrustedExecute.kernel_memory = ...``).
"""

from __future__ import annotations

import dataclasses
import json

#: Address space (``RLIMIT_AS``, bytes) of the student's kernel; :attr:`Policy.memory`'s default.
KERNEL_MEMORY = 4 << 30
#: Address space (bytes) of the grader, which simulates the student's Brian2 strings.
GRADER_MEMORY = 6 << 30
#: Largest file (``RLIMIT_FSIZE``, bytes) the kernel or the grader may write.
FILE_SIZE = 64 << 20
#: Open file descriptors (``RLIMIT_NOFILE``) of the kernel or the grader.
OPEN_FILES = 256
#: Child processes the kernel or the grader may start (0: none; see :attr:`Policy.processes`).
PROCESSES = 0


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot be applied here; the message is one sentence saying why."""


@dataclasses.dataclass(frozen=True)
class Policy:
    """What a sandboxed process may do.

    Attributes
    ----------
    read : tuple of str
        Files or directories readable (and executable) beneath them. Usually
        ``runtime_read_paths() + (...)``.
    write : tuple of str
        Directories fully usable beneath them: read, create, remove, truncate
        and rename files and directories, make unix sockets. A file named here
        is readable and writable (e.g. ``/dev/null``).
    memory : int
        ``RLIMIT_AS`` in bytes (address space, so it counts reservations too).
    file_size : int
        ``RLIMIT_FSIZE`` in bytes; a larger write fails with ``EFBIG``.
    open_files : int
        ``RLIMIT_NOFILE``.
    processes : int
        0: no child processes at all (threads are fine). ``n > 0``: children
        allowed; for a user other than root at most ``n`` more tasks than the
        uid runs already (``RLIMIT_NPROC`` counts threads too). Not bounded as
        root (see the module docstring).
    network : bool
        False: only ``AF_UNIX`` sockets may be created and TCP bind/connect are
        refused by Landlock. True: no network restriction at all.
    cpu_seconds : int or None
        ``RLIMIT_CPU`` in seconds, if set.
    list : tuple of str
        Directories whose entries may be listed (beneath them too), but whose
        files may not be read: the folders on the way to one cut out of
        ``read`` (``site-packages`` above ``helpers/references`` in a wheel
        install), which Python must list to import what is next to it.
    private_proc : bool
        True: a ``"/proc"`` in :attr:`read` is narrowed to this process's own
        entries (``/proc/<pid>`` without ``net``, ``task``, ``ns``, the magic
        links and the memory files) and a few machine-wide files
        (:data:`PROC_SHARED`): no other process's ``cmdline`` or ``environ``, no
        ``/proc/net/unix`` listing of every socket on the machine.
    separate : bool
        True, and only as root (skipped otherwise): the process gets a network
        namespace of its own (empty ``/proc/net``, no loopback) and a group of
        its own, :func:`separate_id` ``(pid)``, with no supplementary groups;
        each directory of :attr:`write` becomes ``0770``, owned by that id, so
        no other sandbox (uid 0 without capabilities, another group) can even
        resolve a path beneath it (its unix sockets included).
    """

    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()
    memory: int = KERNEL_MEMORY
    file_size: int = FILE_SIZE
    open_files: int = OPEN_FILES
    processes: int = PROCESSES
    network: bool = False
    cpu_seconds: int | None = None
    list: tuple[str, ...] = ()
    private_proc: bool = False
    separate: bool = False

    def __post_init__(self):
        for name in ("read", "write", "list"):
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not all(isinstance(p, str) for p in value):
                raise ValueError(f"Policy.{name} must be a sequence of path strings, not {value!r}.")
            object.__setattr__(self, name, tuple(value))
        for name in ("memory", "file_size", "open_files", "processes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "processes" else 1):
                raise ValueError(f"Policy.{name} must be a {'non-negative' if name == 'processes' else 'positive'} integer, not {value!r}.")
        for name in ("network", "private_proc", "separate"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"Policy.{name} must be a bool, not {getattr(self, name)!r}.")
        if self.cpu_seconds is not None and (
            isinstance(self.cpu_seconds, bool) or not isinstance(self.cpu_seconds, int) or self.cpu_seconds < 1
        ):
            raise ValueError(f"Policy.cpu_seconds must be None or a positive integer, not {self.cpu_seconds!r}.")

    def to_json(self) -> str:
        """The policy as a JSON object (one line), for :meth:`from_json` and the launcher."""
        return json.dumps(dataclasses.asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "Policy":
        """Parse :meth:`to_json`'s output.

        Raises
        ------
        ValueError
            Not a JSON object, an unknown key, or a value of the wrong type.
        """
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("a sandbox policy must be a JSON object.")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown sandbox policy keys: {', '.join(unknown)}.")
        for name in ("read", "write", "list"):
            if name in data and not isinstance(data[name], list):
                raise ValueError(f"Policy.{name} must be a JSON list of paths.")
        return cls(**data)
