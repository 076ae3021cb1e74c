"""A sandbox for running untrusted student code (a grading kernel, a Brian2 grader).

Student code is treated as hostile. :func:`apply` confines the *calling
process* irrevocably, and everything it later becomes or starts inherits the
confinement: every thread it creates, every program it ``execve``\\ s, every
child it may be allowed to create. The usual way in is the launcher::

    python -m coursekit.grading.sandbox --policy '<Policy JSON>' -- python -m ipykernel_launcher -f conn.json

which :func:`command` builds. The launcher runs *before* the sandbox exists
(it may import anything), calls :func:`os.setsid` (so the caller can
``os.killpg`` everything it started), :func:`apply`, and then ``execvp``\\ s the
command. Only Linux on x86_64 and aarch64 is supported, with ctypes and the
standard library; nothing is compiled.

Layers, in the order :func:`apply` sets them up
-----------------------------------------------
1. **Resource limits** (``setrlimit``, soft = hard, so they cannot be raised
   again once capabilities are gone):

   * ``RLIMIT_AS`` (:attr:`Policy.memory`): a memory hog gets ``MemoryError``
     (``ENOMEM``), not the OOM killer;
   * ``RLIMIT_FSIZE`` (:attr:`Policy.file_size`), with ``SIGXFSZ`` ignored (an
     ignored disposition survives ``execve``), so an oversized write fails with
     ``EFBIG`` instead of killing the process;
   * ``RLIMIT_NOFILE`` (:attr:`Policy.open_files`): ``EMFILE``;
   * ``RLIMIT_CPU`` (:attr:`Policy.cpu_seconds`, optional): ``SIGXCPU`` at the
     limit, ``SIGKILL`` one second later;
   * ``RLIMIT_NPROC`` when children are allowed (:attr:`Policy.processes` > 0)
     and the real uid is not 0: the tasks (processes and threads) this uid
     already runs plus ``processes``. The kernel never enforces
     ``RLIMIT_NPROC`` for real uid 0, so **as root a positive**
     ``processes`` **is not a bound** (only ``processes == 0`` is enforced,
     by seccomp, for everybody).

2. **No new privileges** (``PR_SET_NO_NEW_PRIVS``): ``execve`` of a set-uid,
   set-gid or file-capability program grants nothing. Required by layers 4-5.

3. **Capabilities** (when the process has any, e.g. as root): the securebits
   ``SECBIT_NOROOT``, ``SECBIT_NO_SETUID_FIXUP``, ``SECBIT_NO_CAP_AMBIENT_RAISE``
   are set and, like ``SECBIT_KEEP_CAPS`` (left off), locked; every capability
   up to ``/proc/sys/kernel/cap_last_cap`` is dropped from the bounding set;
   the ambient set is cleared; ``capset`` empties the effective, permitted and
   inheritable sets. The process keeps uid 0 (it has to: the interpreter lives
   under ``/root``), but uid 0 without capabilities is an ordinary user that
   happens to own root's files -- which is why layer 4 matters as root, where
   ``/etc/shadow`` is readable by its owner.

4. **Landlock** (``landlock_create_ruleset`` / ``add_rule`` / ``restrict_self``):

   * filesystem: every access right the running ABI knows is *handled* (so
     denied unless granted): execute, read/write files, read directories,
     create/remove files, directories, sockets, fifos, devices and symlinks,
     ``REFER`` (ABI 2, rename/link across directories), ``TRUNCATE`` (ABI 3),
     ``IOCTL_DEV`` (ABI 5). :attr:`Policy.read` paths get read + execute
     beneath them; :attr:`Policy.write` paths get every handled right. Nothing
     else is readable: not the course repository, not ``/etc/shadow``, not
     another student's folder. Note ``/dev/null`` in ``read`` is read-only;
     name it in ``write`` to allow writing to it;
   * network (ABI >= 4) unless :attr:`Policy.network`: TCP ``bind`` and
     ``connect`` are handled and no port is allowed, which also covers TCP
     sockets inherited from the parent (seccomp, below, only stops *new* ones);
   * scopes (ABI >= 6): ``LANDLOCK_SCOPE_SIGNAL`` (no signal to any process
     outside the sandbox, e.g. the grader) and
     ``LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET`` (no connecting to abstract unix
     sockets bound outside it, e.g. an X server or D-Bus). Landlock also stops
     ``ptrace`` (and ptrace-guarded ``/proc/<pid>`` files such as ``environ``
     or ``mem``) of processes outside the sandbox.

5. **seccomp-BPF** (``PR_SET_SECCOMP``, ``SECCOMP_MODE_FILTER``). The filter
   kills the process for a syscall made with a foreign audit architecture
   (e.g. ``int 0x80`` on x86_64) or an x32 syscall number, and returns:

   * ``EPERM`` for ``socket``/``socketpair`` with a family other than
     ``AF_UNIX`` (unless :attr:`Policy.network`): no TCP, UDP, raw or packet
     sockets. ``socket(AF_NETLINK, ...)`` gets ``EINVAL`` instead ("protocol
     family not available"): libzmq, which ipykernel uses, aborts the process
     on any other errno from ``getifaddrs()``'s netlink socket;
   * when :attr:`Policy.processes` is 0: ``EPERM`` for ``fork``, ``vfork`` and
     ``clone`` without ``CLONE_THREAD`` (so threads work, processes do not)
     and ``ENOSYS`` for ``clone3`` (its flags are out of the filter's reach;
     glibc then falls back to ``clone``);
   * ``EPERM`` for ``ptrace``, ``process_vm_readv``/``writev``, ``kexec_load``,
     ``kexec_file_load``, ``init_module``, ``finit_module``, ``delete_module``,
     ``mount``, ``umount2``, ``pivot_root``, ``chroot``, the new mount API
     (``open_tree``, ``move_mount``, ``fsopen``, ``fsconfig``, ``fsmount``,
     ``fspick``, ``mount_setattr``), ``unshare``, ``setns``, ``bpf``,
     ``perf_event_open``, ``keyctl``, ``add_key``, ``request_key``,
     ``userfaultfd``, ``open_by_handle_at``, ``io_uring_setup``/``enter``/
     ``register`` (io_uring can create sockets without ``socket()``), the
     ``set*uid``/``set*gid``/``setgroups`` family (the sandboxed process keeps
     its identity) and ``ioctl(TIOCSTI)``/``ioctl(TIOCLINUX)`` (typing into a
     terminal).

Isolation from other sandboxes (optional, both on in grading)
------------------------------------------------------------
* :attr:`Policy.private_proc`: the ``/proc`` read rule becomes the process's own
  ``/proc/<pid>`` entries (no ``net``, ``task``, ``ns``, magic links) and
  :data:`PROC_SHARED`; no other process's ``cmdline``, no listing of ``/proc``,
  no socket table. Works for any user.
* :attr:`Policy.separate`, as root only (set up before the capabilities go):
  a network namespace of its own (``unshare(CLONE_NEWNET)``), a group of its
  own (:func:`separate_id`, no supplementary groups) and every :attr:`Policy.write`
  directory ``0770`` owned by that id. Another sandbox, uid 0 without
  capabilities in another group, cannot resolve any path beneath it, so a
  unix socket there cannot be connected to even when its name is known
  (Landlock ABI 7 does not govern ``connect`` to pathname sockets). The uid
  stays 0: the interpreter may live where only root reads (``/root/.pyenv``).
  Without root this layer is skipped: names then stay unknown (no ``/proc``,
  no directory listing outside the sandbox, random scratch names) but a
  leaked socket path could be connected to.

Everything is per process or inherited, but no-new-privs, capabilities,
Landlock and the ``prctl`` seccomp filter are per *thread* when they are set:
:func:`apply` therefore refuses to run in a process with more than one thread.
If :func:`apply` raises half-way, the process is partially sandboxed and
should exit (the launcher does, with status 70).

A Jupyter kernel in the sandbox
-------------------------------
With ``network=False`` the kernel's channels cannot be TCP: write the
connection file with ``transport="ipc"`` and ``ip`` a path prefix inside a
:attr:`Policy.write` directory (the channels become unix sockets there).
ipykernel then warns that its IOPub pipe for forked subprocesses cannot bind
``tcp://127.0.0.1`` (there are no subprocesses anyway), and shell escapes
(``!cmd``, ``%%bash``) fail because they need a child process.

Testing the refusal path: with ``SYNAPSES_SANDBOX_FAKE_ABI=0`` in the
environment, :func:`landlock_abi` reports 0, as on a kernel without Landlock.
Only ``0`` is honoured: the variable can make the sandbox refuse, never weaken it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import errno
import json
import os
import platform
import resource
import signal
import site
import stat
import struct
import sys
import sysconfig

__all__ = [
    "SandboxUnavailable",
    "Policy",
    "landlock_abi",
    "unavailable_reason",
    "runtime_read_paths",
    "apply",
    "seccomp_program",
    "command",
    "main",
    "private_proc_paths",
    "separate_id",
]

#: Exit status of the launcher when the sandbox cannot be applied (``EX_SOFTWARE``).
EXIT_UNAVAILABLE = 70
#: Exit status of the launcher for a malformed command line (``EX_USAGE``).
EXIT_USAGE = 64
#: Landlock ABI from which every layer described above is available (scopes).
FULL_ABI = 6
#: Environment variable read by :func:`landlock_abi`; only the value ``0`` is honoured.
FAKE_ABI_ENV = "SYNAPSES_SANDBOX_FAKE_ABI"

# --- Landlock (include/uapi/linux/landlock.h) --------------------------------
SYS_landlock_create_ruleset = 444  # same number on x86_64 and aarch64
SYS_landlock_add_rule = 445
SYS_landlock_restrict_self = 446

LANDLOCK_CREATE_RULESET_VERSION = 1 << 0
LANDLOCK_RULE_PATH_BENEATH = 1
LANDLOCK_RULE_NET_PORT = 2

LANDLOCK_ACCESS_FS_EXECUTE = 1 << 0
LANDLOCK_ACCESS_FS_WRITE_FILE = 1 << 1
LANDLOCK_ACCESS_FS_READ_FILE = 1 << 2
LANDLOCK_ACCESS_FS_READ_DIR = 1 << 3
LANDLOCK_ACCESS_FS_REMOVE_DIR = 1 << 4
LANDLOCK_ACCESS_FS_REMOVE_FILE = 1 << 5
LANDLOCK_ACCESS_FS_MAKE_CHAR = 1 << 6
LANDLOCK_ACCESS_FS_MAKE_DIR = 1 << 7
LANDLOCK_ACCESS_FS_MAKE_REG = 1 << 8
LANDLOCK_ACCESS_FS_MAKE_SOCK = 1 << 9
LANDLOCK_ACCESS_FS_MAKE_FIFO = 1 << 10
LANDLOCK_ACCESS_FS_MAKE_BLOCK = 1 << 11
LANDLOCK_ACCESS_FS_MAKE_SYM = 1 << 12
LANDLOCK_ACCESS_FS_REFER = 1 << 13  # ABI 2
LANDLOCK_ACCESS_FS_TRUNCATE = 1 << 14  # ABI 3
LANDLOCK_ACCESS_FS_IOCTL_DEV = 1 << 15  # ABI 5

LANDLOCK_ACCESS_NET_BIND_TCP = 1 << 0  # ABI 4
LANDLOCK_ACCESS_NET_CONNECT_TCP = 1 << 1  # ABI 4

LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
LANDLOCK_SCOPE_SIGNAL = 1 << 1  # ABI 6

#: Filesystem rights handled at each ABI (ABI 4, 6 and 7 added no filesystem right).
_FS_ACCESS_V1 = (1 << 13) - 1  # EXECUTE .. MAKE_SYM
_FS_ACCESS_BY_ABI = {
    1: _FS_ACCESS_V1,
    2: _FS_ACCESS_V1 | LANDLOCK_ACCESS_FS_REFER,
    3: _FS_ACCESS_V1 | LANDLOCK_ACCESS_FS_REFER | LANDLOCK_ACCESS_FS_TRUNCATE,
    5: _FS_ACCESS_V1 | LANDLOCK_ACCESS_FS_REFER | LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV,
}
#: The rights a rule on a regular file (not a directory) may carry.
_FS_ACCESS_FILE = (
    LANDLOCK_ACCESS_FS_EXECUTE
    | LANDLOCK_ACCESS_FS_WRITE_FILE
    | LANDLOCK_ACCESS_FS_READ_FILE
    | LANDLOCK_ACCESS_FS_TRUNCATE
    | LANDLOCK_ACCESS_FS_IOCTL_DEV
)
#: Every filesystem right of ABI 7 (what :attr:`Policy.write` grants, masked by the running ABI).
_FS_ACCESS_ALL = _FS_ACCESS_V1 | LANDLOCK_ACCESS_FS_REFER | LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV
#: What :attr:`Policy.read` grants.
_FS_ACCESS_READ = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR


class _RulesetAttr(ctypes.Structure):
    """``struct landlock_ruleset_attr`` (``scoped`` since ABI 6, ``handled_access_net`` since ABI 4)."""

    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    """``struct landlock_path_beneath_attr`` (packed)."""

    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


# --- prctl, capabilities, securebits (linux/prctl.h, linux/capability.h, linux/securebits.h)
PR_SET_SECCOMP = 22
PR_CAPBSET_DROP = 24
PR_SET_SECUREBITS = 28
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4

SECBIT_NOROOT = 1 << 0
SECBIT_NOROOT_LOCKED = 1 << 1
SECBIT_NO_SETUID_FIXUP = 1 << 2
SECBIT_NO_SETUID_FIXUP_LOCKED = 1 << 3
SECBIT_KEEP_CAPS = 1 << 4
SECBIT_KEEP_CAPS_LOCKED = 1 << 5
SECBIT_NO_CAP_AMBIENT_RAISE = 1 << 6
SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED = 1 << 7

_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _CapUserHeader(ctypes.Structure):
    """``struct __user_cap_header_struct``."""

    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapUserData(ctypes.Structure):
    """``struct __user_cap_data_struct`` (two of them for version 3)."""

    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


# --- seccomp and classic BPF (linux/seccomp.h, linux/filter.h, linux/audit.h)
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000

BPF_LD, BPF_W, BPF_ABS = 0x00, 0x00, 0x20
BPF_JMP, BPF_JEQ, BPF_JGE, BPF_JSET, BPF_K = 0x05, 0x10, 0x30, 0x40, 0x00
BPF_RET = 0x06

AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_AARCH64 = 0xC00000B7
__X32_SYSCALL_BIT = 0x40000000

# offsets in struct seccomp_data {int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6];}
_SECCOMP_DATA_NR = 0
_SECCOMP_DATA_ARCH = 4
_SECCOMP_DATA_ARG0_LO = 16  # little endian: low 32 bits of args[0]
_SECCOMP_DATA_ARG1_LO = 24

AF_UNIX = 1
AF_NETLINK = 16
CLONE_THREAD = 0x00010000
TIOCSTI = 0x5412
TIOCLINUX = 0x541C


class _SockFilter(ctypes.Structure):
    """``struct sock_filter``: one classic BPF instruction."""

    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    """``struct sock_fprog``."""

    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


#: Syscall numbers per machine: (audit arch, {name: number}). aarch64 uses the
#: generic table (asm-generic/unistd.h), which has no fork or vfork.
_SYSCALLS = {
    "x86_64": (AUDIT_ARCH_X86_64, {
        "socket": 41, "socketpair": 53, "clone": 56, "fork": 57, "vfork": 58, "ioctl": 16,
        "ptrace": 101, "setuid": 105, "setgid": 106, "setreuid": 113, "setregid": 114,
        "setgroups": 116, "setresuid": 117, "setresgid": 119, "setfsuid": 122, "setfsgid": 123,
        "pivot_root": 155, "chroot": 161, "mount": 165, "umount2": 166,
        "init_module": 175, "delete_module": 176, "kexec_load": 246, "add_key": 248,
        "request_key": 249, "keyctl": 250, "unshare": 272, "perf_event_open": 298,
        "open_by_handle_at": 304, "setns": 308, "process_vm_readv": 310, "process_vm_writev": 311,
        "finit_module": 313, "kexec_file_load": 320, "bpf": 321, "userfaultfd": 323,
        "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
        "fspick": 433, "clone3": 435, "mount_setattr": 442,
    }),
    "aarch64": (AUDIT_ARCH_AARCH64, {
        "socket": 198, "socketpair": 199, "clone": 220, "ioctl": 29,
        "ptrace": 117, "setuid": 146, "setgid": 144, "setreuid": 145, "setregid": 143,
        "setgroups": 159, "setresuid": 147, "setresgid": 149, "setfsuid": 151, "setfsgid": 152,
        "pivot_root": 41, "chroot": 51, "mount": 40, "umount2": 39,
        "init_module": 105, "delete_module": 106, "kexec_load": 104, "add_key": 217,
        "request_key": 218, "keyctl": 219, "unshare": 97, "perf_event_open": 241,
        "open_by_handle_at": 265, "setns": 268, "process_vm_readv": 270, "process_vm_writev": 271,
        "finit_module": 273, "kexec_file_load": 294, "bpf": 280, "userfaultfd": 282,
        "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
        "fspick": 433, "clone3": 435, "mount_setattr": 442,
    }),
}
_SYSCALLS["arm64"] = _SYSCALLS["aarch64"]

#: Syscalls refused with EPERM whatever the policy.
_ALWAYS_DENIED = (
    "ptrace", "process_vm_readv", "process_vm_writev",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns",
    "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "bpf", "perf_event_open", "keyctl", "add_key", "request_key",
    "userfaultfd", "open_by_handle_at", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setfsuid", "setfsgid",
    "setgroups",
)


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot be applied here; the message is one sentence saying why."""


# ---------------------------------------------------------------------------
# Policy
# ---------------------------------------------------------------------------


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
    memory: int = 4 << 30
    file_size: int = 256 << 20
    open_files: int = 256
    processes: int = 0
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


# ---------------------------------------------------------------------------
# What is available here
# ---------------------------------------------------------------------------

_libc = None


def _get_libc():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        _libc.syscall.restype = ctypes.c_long
        _libc.prctl.restype = ctypes.c_int
        _libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    return _libc


def _oserror(what: str) -> OSError:
    err = ctypes.get_errno()
    return OSError(err, f"{what}: {os.strerror(err)}")


def landlock_abi() -> int:
    """The Landlock ABI version of the running kernel.

    Returns
    -------
    int
        0 when Landlock is not built in, not enabled (``lsm=``), the platform
        is not Linux, or ``SYNAPSES_SANDBOX_FAKE_ABI=0`` is set (for tests).
    """
    if os.environ.get(FAKE_ABI_ENV) == "0" or not sys.platform.startswith("linux"):
        return 0
    libc = _get_libc()
    abi = libc.syscall(
        ctypes.c_long(SYS_landlock_create_ruleset), None, ctypes.c_size_t(0),
        ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION),
    )
    return max(int(abi), 0)


def _machine() -> str:
    return platform.machine().lower()


def unavailable_reason() -> str | None:
    """Why :func:`apply` cannot fully work here, or None if it can.

    "Fully" means every layer of the module docstring; :func:`apply` itself
    only refuses when Landlock is missing altogether (or the machine is not
    supported), and then silently does without the layers a Landlock ABI
    older than 6 lacks (TCP rules before 4, signal and abstract-socket scopes
    before 6).

    Returns
    -------
    str or None
        One sentence.
    """
    reason = _refusal_reason()
    if reason is not None:
        return reason
    abi = landlock_abi()
    if abi < FULL_ABI:
        return (f"Landlock ABI {abi} is older than {FULL_ABI}: signals and abstract unix sockets "
                "to processes outside the sandbox would not be refused.")
    return None


def _refusal_reason() -> str | None:
    """Why :func:`apply` refuses to run here at all, or None."""
    if not sys.platform.startswith("linux"):
        return f"the sandbox needs Linux, not {sys.platform}."
    if _machine() not in _SYSCALLS or struct.calcsize("P") != 8:
        return (f"the sandbox supports 64-bit x86_64 and aarch64 processes, "
                f"not {platform.machine()} ({struct.calcsize('P') * 8}-bit).")
    if not os.path.isdir("/proc/self/task"):
        return "/proc is not mounted, so the sandbox cannot check that the process is single-threaded."
    if landlock_abi() < 1:
        return "Landlock is not available in this kernel (not built in, or not enabled in the lsm= boot parameter)."
    if "Seccomp_filters:" not in _read("/proc/self/status"):
        return "seccomp filters are not available in this kernel."
    return None


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


# ---------------------------------------------------------------------------
# What the runtime needs to read
# ---------------------------------------------------------------------------

#: Files of /etc that libc, Python's ssl/socket/time and the scientific stack read.
#: Not /etc as a whole: /etc/shadow is readable by its owner, uid 0.
_ETC_FILES = (
    "/etc/ld.so.cache", "/etc/ld.so.preload", "/etc/localtime", "/etc/timezone",
    "/etc/nsswitch.conf", "/etc/passwd", "/etc/group", "/etc/hosts", "/etc/host.conf",
    "/etc/resolv.conf", "/etc/gai.conf", "/etc/services", "/etc/protocols", "/etc/mime.types",
    "/etc/ssl/certs", "/etc/ssl/openssl.cnf", "/etc/pki/tls/certs", "/etc/ca-certificates",
)
_SYSTEM_DIRS = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin")
_DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")
#: /proc (ptrace-guarded files of outside processes stay refused by Landlock) and
#: the CPU topology glibc's sysconf and OpenBLAS read (cpu/possible, cpu/online).
_KERNEL = ("/proc", "/sys/devices/system/cpu")


def runtime_read_paths() -> tuple[str, ...]:
    """The paths a Python process of this environment needs to read.

    Enough for numpy, scipy, matplotlib (Agg), brian2 (numpy target) and
    ipykernel: the interpreter's prefixes (venv and base, resolved through
    symlinks such as ``.venv/bin/python``), its stdlib and site-packages,
    ``/usr`` and the other system library directories, a short list of
    ``/etc`` files, ``/dev/{null,zero,urandom,random}``, ``/proc`` and
    ``/sys/devices/system/cpu``. Never the course repository nor an
    editable-install source tree (their files are imported only if the caller
    adds them to :attr:`Policy.read`).

    Returns
    -------
    tuple of str
        Real paths that exist, none beneath another one, in a stable order.
    """
    candidates = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, sys.executable]
    candidates += [p for p in sys.path if p.endswith(".zip")]  # pythonXY.zip
    paths = sysconfig.get_paths()
    candidates += [paths.get(key, "") for key in ("stdlib", "platstdlib", "purelib", "platlib")]
    candidates += site.getsitepackages()
    if site.ENABLE_USER_SITE:
        candidates.append(site.getusersitepackages())
    candidates += [*_SYSTEM_DIRS, *_ETC_FILES, *_DEVICES, *_KERNEL]

    real = []
    for path in candidates:
        if not path or not os.path.exists(path):
            continue
        path = os.path.realpath(path)
        if path not in real:
            real.append(path)
    return tuple(p for p in real if not any(q != p and _beneath(p, q) for q in real))


def _beneath(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


# ---------------------------------------------------------------------------
# apply()
# ---------------------------------------------------------------------------


def _open_path(path: str) -> tuple[int, bool]:
    """An ``O_PATH`` descriptor of ``path`` (symlinks followed) and whether it is a directory."""
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError as exc:
        raise SandboxUnavailable(f"policy path {path!r} cannot be opened ({exc.strerror}).") from None
    return fd, stat.S_ISDIR(os.fstat(fd).st_mode)


def _set_limit(which: int, value: int) -> None:
    soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY and value > hard and os.geteuid() != 0:
        value = hard  # cannot raise a hard limit without CAP_SYS_RESOURCE; keep the lower one
    resource.setrlimit(which, (value, value))


def _tasks_of_uid(uid: int) -> int:
    """Tasks (processes and threads) whose real uid is ``uid``: what ``RLIMIT_NPROC`` counts."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        status = _read(f"/proc/{entry}/status")
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        try:
            if int(fields["Uid"].split()[0]) == uid:
                total += int(fields["Threads"])
        except (KeyError, ValueError, IndexError):
            continue
    return total


def _apply_limits(policy: Policy) -> None:
    _set_limit(resource.RLIMIT_AS, policy.memory)
    _set_limit(resource.RLIMIT_FSIZE, policy.file_size)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death; survives execve
    _set_limit(resource.RLIMIT_NOFILE, policy.open_files)
    if policy.cpu_seconds is not None:
        resource.setrlimit(resource.RLIMIT_CPU, (policy.cpu_seconds, policy.cpu_seconds + 1))
    if policy.processes > 0 and os.getuid() != 0:
        _set_limit(resource.RLIMIT_NPROC, _tasks_of_uid(os.getuid()) + policy.processes)


def _prctl(option: int, arg2: int = 0, arg3: int = 0, what: str = "prctl") -> None:
    if _get_libc().prctl(option, arg2, arg3, 0, 0) != 0:
        raise _oserror(what)


def _has_capabilities() -> bool:
    fields = dict(line.split(":", 1) for line in _read("/proc/self/status").splitlines() if ":" in line)
    return any(int(fields.get(key, "0").strip() or "0", 16) for key in ("CapEff", "CapPrm", "CapAmb"))


def _drop_capabilities() -> None:
    """Securebits locked, bounding and ambient sets emptied, then every capability set emptied."""
    libc = _get_libc()
    if os.geteuid() == 0 or _has_capabilities():
        _prctl(PR_SET_SECUREBITS,
               SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED
               | SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
               what="prctl(PR_SET_SECUREBITS)")
        last = int(_read("/proc/sys/kernel/cap_last_cap").strip() or "63")
        for cap in range(last + 1):
            _prctl(PR_CAPBSET_DROP, cap, what=f"prctl(PR_CAPBSET_DROP, {cap})")
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, what="prctl(PR_CAP_AMBIENT_CLEAR_ALL)")
    header = _CapUserHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapUserData * 2)()
    if libc.capset(ctypes.byref(header), data) != 0:
        raise _oserror("capset")


def _landlock_ruleset(policy: Policy, abi: int, fds: list[tuple[int, bool, int]]) -> int:
    """Create the ruleset and add the path rules held in ``fds``; return the ruleset's descriptor.

    Built before the rlimits: a policy may hold more paths than :attr:`Policy.open_files` (the
    read paths of a non-editable install list site-packages entry by entry, without
    ``helpers/references``), and every path is an open descriptor until its rule is added.
    """
    libc = _get_libc()
    handled_fs = _FS_ACCESS_BY_ABI[max(k for k in _FS_ACCESS_BY_ABI if k <= abi)]
    attr = _RulesetAttr(handled_fs, 0, 0)
    size = 8
    if abi >= 4:
        size = 16
        if not policy.network:
            attr.handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP | LANDLOCK_ACCESS_NET_CONNECT_TCP
    if abi >= 6:
        size = 24
        attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL
    ruleset = libc.syscall(ctypes.c_long(SYS_landlock_create_ruleset), ctypes.byref(attr),
                           ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        raise _oserror("landlock_create_ruleset")
    try:
        for fd, is_dir, access in fds:
            access &= handled_fs if is_dir else handled_fs & _FS_ACCESS_FILE
            rule = _PathBeneathAttr(access, fd)
            if libc.syscall(ctypes.c_long(SYS_landlock_add_rule), ctypes.c_int(ruleset),
                            ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH), ctypes.byref(rule), ctypes.c_uint32(0)) != 0:
                raise _oserror("landlock_add_rule")
    except BaseException:
        os.close(ruleset)
        raise
    return ruleset


def _landlock_restrict(ruleset: int) -> None:
    """Restrict this thread to the ruleset (irrevocable)."""
    if _get_libc().syscall(ctypes.c_long(SYS_landlock_restrict_self), ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
        raise _oserror("landlock_restrict_self")


def _bpf_stmt(code: int, k: int) -> tuple[int, int, int, int]:
    return (code, 0, 0, k)


def _bpf_jump(code: int, k: int, jt: int, jf: int) -> tuple[int, int, int, int]:
    return (code, jt, jf, k)


def seccomp_program(policy: Policy, machine: str | None = None) -> list[tuple[int, int, int, int]]:
    """The classic-BPF seccomp filter :func:`apply` installs, as ``(code, jt, jf, k)`` tuples.

    Parameters
    ----------
    policy : Policy
        ``network`` and ``processes`` decide whether sockets and fork/clone are filtered.
    machine : str, optional
        ``"x86_64"`` or ``"aarch64"``; default: this machine.

    Returns
    -------
    list of tuple
        Every check is self-contained: a ``JEQ nr`` that skips its block when
        the number differs, so the accumulator still holds ``nr`` afterwards.
    """
    arch, nrs = _SYSCALLS[machine or _machine()]
    ld = BPF_LD | BPF_W | BPF_ABS
    jeq = BPF_JMP | BPF_JEQ | BPF_K
    ret = BPF_RET | BPF_K
    eperm = SECCOMP_RET_ERRNO | errno.EPERM
    prog = [
        _bpf_stmt(ld, _SECCOMP_DATA_ARCH),
        _bpf_jump(jeq, arch, 1, 0),
        _bpf_stmt(ret, SECCOMP_RET_KILL_PROCESS),  # foreign ABI (int 0x80, compat): numbers differ
        _bpf_stmt(ld, _SECCOMP_DATA_NR),
    ]
    if arch == AUDIT_ARCH_X86_64:  # x32 syscalls share the arch but not the numbers
        prog += [_bpf_jump(BPF_JMP | BPF_JGE | BPF_K, __X32_SYSCALL_BIT, 0, 1), _bpf_stmt(ret, SECCOMP_RET_KILL_PROCESS)]

    def refuse(name: str, value: int = eperm) -> None:
        if name in nrs:
            prog.extend([_bpf_jump(jeq, nrs[name], 0, 1), _bpf_stmt(ret, value)])

    def refuse_unless(name: str, offset: int, test: int, k: int) -> None:
        """Allow ``name`` if the low 32 bits at ``offset`` pass ``test`` (JEQ/JSET) with ``k``, else EPERM."""
        prog.extend([
            _bpf_jump(jeq, nrs[name], 0, 4),
            _bpf_stmt(ld, offset),
            _bpf_jump(BPF_JMP | test | BPF_K, k, 0, 1),
            _bpf_stmt(ret, SECCOMP_RET_ALLOW),
            _bpf_stmt(ret, eperm),
        ])

    def refuse_if(name: str, offset: int, k: int, value: int = eperm) -> None:
        """``value`` for ``name`` if the low 32 bits at ``offset`` equal ``k``; the accumulator is reloaded."""
        prog.extend([
            _bpf_jump(jeq, nrs[name], 0, 4),
            _bpf_stmt(ld, offset),
            _bpf_jump(jeq, k, 0, 1),
            _bpf_stmt(ret, value),
            _bpf_stmt(ld, _SECCOMP_DATA_NR),
        ])

    for name in _ALWAYS_DENIED:
        refuse(name)
    refuse_if("ioctl", _SECCOMP_DATA_ARG1_LO, TIOCSTI)
    refuse_if("ioctl", _SECCOMP_DATA_ARG1_LO, TIOCLINUX)
    if not policy.network:
        # EINVAL ("protocol family not available", socket(2)) rather than EPERM for netlink:
        # libzmq resolves every TCP address with getifaddrs() and aborts the process on
        # any other errno from its netlink socket (ipykernel binds tcp://127.0.0.1 at start-up).
        refuse_if("socket", _SECCOMP_DATA_ARG0_LO, AF_NETLINK, SECCOMP_RET_ERRNO | errno.EINVAL)
        refuse_unless("socket", _SECCOMP_DATA_ARG0_LO, BPF_JEQ, AF_UNIX)
        refuse_unless("socketpair", _SECCOMP_DATA_ARG0_LO, BPF_JEQ, AF_UNIX)
    if policy.processes == 0:
        refuse("fork")
        refuse("vfork")
        refuse("clone3", SECCOMP_RET_ERRNO | errno.ENOSYS)
        refuse_unless("clone", _SECCOMP_DATA_ARG0_LO, BPF_JSET, CLONE_THREAD)
    prog.append(_bpf_stmt(ret, SECCOMP_RET_ALLOW))
    return prog


def _install_seccomp(policy: Policy) -> None:
    prog = seccomp_program(policy)
    filters = (_SockFilter * len(prog))(*[_SockFilter(code, jt, jf, k) for code, jt, jf, k in prog])
    fprog = _SockFprog(len(prog), filters)
    if _get_libc().prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0) != 0:
        raise _oserror("prctl(PR_SET_SECCOMP)")


# ---------------------------------------------------------------------------
# Isolation from other sandboxes (Policy.private_proc, Policy.separate)
# ---------------------------------------------------------------------------

#: Machine-wide files of /proc a sandbox with ``private_proc`` may still read (CPU count and
#: features, memory size: numpy, OpenBLAS, glibc's sysconf); nothing names another process.
PROC_SHARED = ("/proc/cpuinfo", "/proc/meminfo", "/proc/stat", "/proc/filesystems",
               "/proc/sys/vm/overcommit_memory")
#: Entries of ``/proc/<pid>`` a sandbox with ``private_proc`` does not get even for itself:
#: ``net`` lists every socket of the network namespace, ``task/<tid>/net`` too; ``ns``,
#: ``map_files`` and the magic links (``root``, ``cwd``, ``exe``) resolve outside ``/proc``;
#: ``mem`` and ``pagemap`` are raw memory.
PROC_PRIVATE_EXCLUDED = frozenset({"net", "task", "ns", "map_files", "mem", "pagemap", "root", "cwd", "exe"})
#: :func:`separate_id` is this plus the pid: above every uid and gid a distribution hands out
#: (and below 2**31, the largest id some tools accept), distinct for every live process.
SEPARATE_ID_BASE = 1_800_000_000
CLONE_NEWNET = 0x40000000


def separate_id(pid: int) -> int:
    """The group (and owner of its write directories) of a ``separate`` sandbox whose launcher has ``pid``.

    >>> separate_id(1234) - separate_id(1233)
    1
    """
    return SEPARATE_ID_BASE + pid


def private_proc_paths(pid: int | None = None) -> tuple[str, ...]:
    """What ``private_proc`` leaves of ``/proc`` for process ``pid`` (default: this one).

    Its own ``/proc/<pid>`` entries except :data:`PROC_PRIVATE_EXCLUDED` and
    symbolic links, then :data:`PROC_SHARED`. The rules hold the inodes of
    *this* process's entries, which an ``execve`` keeps (same pid).
    """
    base = f"/proc/{os.getpid() if pid is None else pid}"
    out = []
    for name in sorted(os.listdir(base)):
        path = f"{base}/{name}"
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            continue
        if name in PROC_PRIVATE_EXCLUDED or stat.S_ISLNK(mode):
            continue
        if stat.S_ISDIR(mode) or stat.S_ISREG(mode):
            out.append(path)
    return tuple(out) + tuple(p for p in PROC_SHARED if os.path.exists(p))


def _policy_read_paths(policy: Policy) -> tuple[str, ...]:
    """:attr:`Policy.read` with ``/proc`` narrowed when :attr:`Policy.private_proc`."""
    if not policy.private_proc:
        return policy.read
    read = tuple(p for p in policy.read if os.path.realpath(p) != "/proc")
    return read + private_proc_paths() if len(read) != len(policy.read) else read


def _separate(policy: Policy) -> None:
    """:attr:`Policy.separate` as root: own network namespace, own group, write directories ``0770`` for it.

    Skipped without root (an unprivileged process can do none of it); the
    uid stays 0 because the interpreter may live where only root may read
    (``/root/.pyenv``), and uid 0 without capabilities reads only what its
    owner bits allow -- never a directory owned by another sandbox's id.
    """
    if not policy.separate or os.geteuid() != 0:
        return
    libc = _get_libc()
    if libc.unshare(CLONE_NEWNET) != 0:
        raise _oserror("unshare(CLONE_NEWNET)")
    ident = separate_id(os.getpid())
    for path in policy.write:
        real = os.path.realpath(path)
        if not os.path.isdir(real) or real == "/" or real.split("/")[1] in ("dev", "proc", "sys"):
            continue
        os.chown(real, ident, ident)
        os.chmod(real, 0o770)
    os.setgroups([])
    os.setresgid(ident, ident, ident)



def apply(policy: Policy) -> None:
    """Sandbox the calling process irrevocably (see the module docstring for the layers).

    Order: open the policy paths and build the Landlock ruleset from them
    (their descriptors are closed then, so a policy may hold more paths than
    ``open_files``), rlimits (and ``SIGXFSZ`` ignored),
    ``PR_SET_NO_NEW_PRIVS``, capabilities dropped, Landlock enforced (filesystem,
    TCP unless ``policy.network``, scopes), seccomp. There is no way back.

    Parameters
    ----------
    policy : Policy

    Raises
    ------
    SandboxUnavailable
        Landlock is unavailable, the machine is unsupported, the process has
        more than one thread, a policy path cannot be opened, or a step failed
        (then the process is partially sandboxed and should exit).
    """
    reason = _refusal_reason()
    if reason is not None:
        raise SandboxUnavailable(reason)
    abi = landlock_abi()
    threads = len(os.listdir("/proc/self/task"))
    if threads != 1:
        raise SandboxUnavailable(f"apply() must run in a single-threaded process, and this one has {threads} threads.")

    fds = []
    ruleset = None
    try:
        for paths, access in ((_policy_read_paths(policy), _FS_ACCESS_READ), (policy.write, _FS_ACCESS_ALL),
                              (policy.list, LANDLOCK_ACCESS_FS_READ_DIR)):
            for path in paths:
                fd, is_dir = _open_path(path)
                fds.append((fd, is_dir, access))
        try:
            # the ruleset holds the rules; the path descriptors are closed before the open-files limit
            ruleset = _landlock_ruleset(policy, abi, fds)
            for fd, _, _ in fds:
                os.close(fd)
            fds = []
            _separate(policy)
            _apply_limits(policy)
            _prctl(PR_SET_NO_NEW_PRIVS, 1, what="prctl(PR_SET_NO_NEW_PRIVS)")
            _drop_capabilities()
            _landlock_restrict(ruleset)
            _install_seccomp(policy)
        except (OSError, ValueError) as exc:
            raise SandboxUnavailable(f"the sandbox could not be applied: {exc}.") from None
    finally:
        for fd, _, _ in fds:
            os.close(fd)
        if ruleset is not None:
            os.close(ruleset)


# ---------------------------------------------------------------------------
# Launcher
# ---------------------------------------------------------------------------


def command(cmd: list[str], policy: Policy) -> list[str]:
    """The argv that runs ``cmd`` under ``policy`` through the launcher (:func:`main`).

    Parameters
    ----------
    cmd : list of str
        Program and arguments; ``cmd[0]`` is looked up in ``PATH`` after the
        sandbox is applied (it must be executable under ``policy.read``).
    policy : Policy

    Returns
    -------
    list of str
        ``[sys.executable, "-m", "coursekit.grading.sandbox", "--policy", policy.to_json(), "--", *cmd]``
    """
    return [sys.executable, "-m", "coursekit.grading.sandbox", "--policy", policy.to_json(), "--", *cmd]


def main(argv: list[str] | None = None) -> int:
    """The launcher: ``python -m coursekit.grading.sandbox --policy JSON -- cmd ...``.

    Starts a new session (its own process group, no controlling terminal;
    skipped if it already leads a process group), applies the policy and
    ``execvp``\\ s ``cmd``. It does not return on success.

    Returns
    -------
    int
        70 (``EX_SOFTWARE``) and one line on stderr when the policy is invalid
        or cannot be applied (``cmd`` is not run); 64 for a malformed command
        line; 127 when ``cmd`` cannot be executed in the sandbox.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    prog = "coursekit.grading.sandbox"
    if len(argv) < 4 or argv[0] != "--policy" or argv[2] != "--":
        print(f"{prog}: usage: python -m {prog} --policy JSON -- command [args...]", file=sys.stderr)
        return EXIT_USAGE
    cmd = argv[3:]
    try:
        policy = Policy.from_json(argv[1])
    except (ValueError, TypeError) as exc:
        print(f"{prog}: invalid policy: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    try:
        os.setsid()
    except PermissionError:
        pass  # already a process-group leader: killpg(pid) still reaches everything
    try:
        apply(policy)
    except SandboxUnavailable as exc:
        print(f"{prog}: sandbox unavailable: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvp(cmd[0], cmd)
    except OSError as exc:
        print(f"{prog}: cannot execute {cmd[0]!r} in the sandbox: {exc.strerror}", file=sys.stderr)
        return 127
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main())
