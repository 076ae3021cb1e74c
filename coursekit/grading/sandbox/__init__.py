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

Modules of this package
-----------------------
* :mod:`.policy`: :class:`Policy` (what a sandboxed process may do), the limits
  of grading defined once (its defaults and ``TrustedExecute``'s), :class:`SandboxUnavailable`;
* :mod:`.host`: what this machine offers (:func:`unavailable_reason`) and what
  its Python runtime needs to read (:func:`runtime_read_paths`);
* :mod:`.landlock`, :mod:`.seccomp`: layers 4 and 5; :mod:`.process`: layers 1
  and 3 (rlimits, capabilities) and the isolation from other sandboxes;
* :mod:`.confine`: :func:`apply`, every layer in order; :mod:`.launcher`:
  :func:`command` and :func:`main` (``python -m coursekit.grading.sandbox``);
* :mod:`.libc`: the ctypes calls they share.
"""

from coursekit.grading.sandbox.confine import apply
from coursekit.grading.sandbox.host import runtime_read_paths, unavailable_reason
from coursekit.grading.sandbox.landlock import FAKE_ABI_ENV, FULL_ABI, landlock_abi
from coursekit.grading.sandbox.launcher import EXIT_UNAVAILABLE, EXIT_USAGE, command, main
from coursekit.grading.sandbox.policy import Policy, SandboxUnavailable
from coursekit.grading.sandbox.process import (PROC_PRIVATE_EXCLUDED, PROC_SHARED, SEPARATE_ID_BASE,
                                               private_proc_paths, separate_id)
from coursekit.grading.sandbox.seccomp import BPF_JMP, BPF_K, BPF_RET, SECCOMP_RET_ALLOW, seccomp_program

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
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "FAKE_ABI_ENV",
    "FULL_ABI",
    "PROC_PRIVATE_EXCLUDED",
    "PROC_SHARED",
    "SEPARATE_ID_BASE",
    "BPF_JMP",
    "BPF_K",
    "BPF_RET",
    "SECCOMP_RET_ALLOW",
]
