"""What this machine offers the sandbox, and what its Python runtime needs to read."""

from __future__ import annotations

import os
import platform
import site
import struct
import sys
import sysconfig

from coursekit.grading.sandbox import landlock, seccomp
from coursekit.grading.sandbox.libc import _read

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
    abi = landlock.landlock_abi()
    if abi < landlock.FULL_ABI:
        return (f"Landlock ABI {abi} is older than {landlock.FULL_ABI}: signals and abstract unix sockets "
                "to processes outside the sandbox would not be refused.")
    return None


def _refusal_reason() -> str | None:
    """Why :func:`apply` refuses to run here at all, or None."""
    if not sys.platform.startswith("linux"):
        return f"the sandbox needs Linux, not {sys.platform}."
    if seccomp._machine() not in seccomp._SYSCALLS or struct.calcsize("P") != 8:
        return (f"the sandbox supports 64-bit x86_64 and aarch64 processes, "
                f"not {platform.machine()} ({struct.calcsize('P') * 8}-bit).")
    if not os.path.isdir("/proc/self/task"):
        return "/proc is not mounted, so the sandbox cannot check that the process is single-threaded."
    if landlock.landlock_abi() < 1:
        return "Landlock is not available in this kernel (not built in, or not enabled in the lsm= boot parameter)."
    if "Seccomp_filters:" not in _read("/proc/self/status"):
        return "seccomp filters are not available in this kernel."
    return None


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
