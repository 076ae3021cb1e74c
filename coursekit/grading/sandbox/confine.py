"""apply(): every layer of the sandbox, in order, on the calling process (see :mod:`coursekit.grading.sandbox`)."""

from __future__ import annotations

import os

from coursekit.grading.sandbox import host, landlock
from coursekit.grading.sandbox.landlock import (LANDLOCK_ACCESS_FS_READ_DIR, _FS_ACCESS_ALL, _FS_ACCESS_READ,
                                                _landlock_restrict, _landlock_ruleset, _open_path)
from coursekit.grading.sandbox.libc import PR_SET_NO_NEW_PRIVS, _prctl
from coursekit.grading.sandbox.policy import Policy, SandboxUnavailable
from coursekit.grading.sandbox.process import _apply_limits, _drop_capabilities, _policy_read_paths, _separate
from coursekit.grading.sandbox.seccomp import _install_seccomp

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
    reason = host._refusal_reason()
    if reason is not None:
        raise SandboxUnavailable(reason)
    abi = landlock.landlock_abi()
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
