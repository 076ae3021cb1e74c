"""Landlock, layer 4 of the sandbox: what the process may read, write, connect to and signal.

See :mod:`coursekit.grading.sandbox` for the rights handled and what each grants.
"""

from __future__ import annotations

import ctypes
import os
import stat
import sys

from coursekit.grading.sandbox.libc import _get_libc, _oserror
from coursekit.grading.sandbox.policy import Policy, SandboxUnavailable

#: Landlock ABI from which every layer of :mod:`coursekit.grading.sandbox` is available (scopes).
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


def _open_path(path: str) -> tuple[int, bool]:
    """An ``O_PATH`` descriptor of ``path`` (symlinks followed) and whether it is a directory."""
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError as exc:
        raise SandboxUnavailable(f"policy path {path!r} cannot be opened ({exc.strerror}).") from None
    return fd, stat.S_ISDIR(os.fstat(fd).st_mode)


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
