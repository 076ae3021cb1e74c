"""The launcher: ``python -m coursekit.grading.sandbox --policy JSON -- cmd ...`` (:func:`command` builds it)."""

from __future__ import annotations

import os
import sys

from coursekit.grading.sandbox.confine import apply
from coursekit.grading.sandbox.policy import Policy, SandboxUnavailable

#: Exit status of the launcher when the sandbox cannot be applied (``EX_SOFTWARE``).
EXIT_UNAVAILABLE = 70
#: Exit status of the launcher for a malformed command line (``EX_USAGE``).
EXIT_USAGE = 64


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
