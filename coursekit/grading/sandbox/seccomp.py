"""seccomp-BPF, layer 5 of the sandbox: the syscalls refused (see :mod:`coursekit.grading.sandbox`)."""

from __future__ import annotations

import ctypes
import errno
import platform

from coursekit.grading.sandbox.libc import PR_SET_SECCOMP, _get_libc, _oserror
from coursekit.grading.sandbox.policy import Policy

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


def _machine() -> str:
    return platform.machine().lower()


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
