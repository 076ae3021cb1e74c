"""Layers 1 and 3 of the sandbox (rlimits, capabilities) and its isolation from other sandboxes.

Isolation is :attr:`Policy.private_proc` (a ``/proc`` of its own entries only) and
:attr:`Policy.separate` (as root: a network namespace and a group of its own).
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import stat

from coursekit.grading.sandbox.libc import (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, PR_CAPBSET_DROP,
                                            PR_SET_SECUREBITS, _get_libc, _oserror, _prctl, _read)
from coursekit.grading.sandbox.policy import Policy

# --- capabilities and securebits (linux/capability.h, linux/securebits.h)
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


# ---------------------------------------------------------------------------
# Resource limits
# ---------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------
# Capabilities
# ---------------------------------------------------------------------------

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
