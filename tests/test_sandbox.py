"""The grading sandbox (coursekit.grading.sandbox) against hostile student code.

Every test below except the first few is an *attack*: a ``python -c`` snippet
run through the launcher (``command([...], policy)``, a real subprocess that
applies the sandbox and then execs Python), which tries something a student
must not be able to do and prints what happened as one JSON line. The default
policy is ``Policy(read=runtime_read_paths(), write=(scratch,))`` with HOME,
TMPDIR and MPLCONFIGDIR in the scratch directory. ``apply()`` is never called
in the pytest process itself.

The sandbox must be available on this machine (Linux with Landlock ABI >= 6):
``test_sandbox_is_available_here`` fails otherwise, and only then do the
attack tests skip (they cannot run without it).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from coursekit.grading import sandbox
from coursekit.grading.sandbox import Policy, command, runtime_read_paths, unavailable_reason

REPO = Path(__file__).resolve().parents[1]

needs_sandbox = pytest.mark.skipif(
    unavailable_reason() is not None,
    reason=f"sandbox unavailable: {unavailable_reason()} (test_sandbox_is_available_here fails)",
)
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="checks what dropping root's capabilities leaves")

# Prepended to every snippet: attempt(fn) runs fn and reports "ok" or the
# exception's class and errno; report(**kw) prints the one JSON result line.
PRELUDE = """
import json, os, sys
def attempt(fn, *args, **kwargs):
    try:
        value = fn(*args, **kwargs)
    except BaseException as exc:
        return f"{type(exc).__name__}:{getattr(exc, 'errno', None)}"
    return "ok" if value is None or value is True else f"ok:{value!r}"[:200]
def report(**kw):
    print("RESULT " + json.dumps(kw), flush=True)
"""

PERMISSION = "PermissionError:1"  # EPERM (seccomp, capabilities)
ACCESS = "PermissionError:13"  # EACCES (Landlock)


@pytest.fixture
def scratch(tmp_path):
    """The sandbox's only writable directory (a subdirectory of tmp_path)."""
    path = tmp_path / "scratch"
    path.mkdir()
    return path


def run_sandboxed(snippet: str, scratch: Path, *, policy: Policy | None = None, timeout: float = 180,
                  pass_fds=(), env: dict | None = None, expect_result: bool = True):
    """Run ``python -c PRELUDE+snippet`` under the launcher; return (result dict, CompletedProcess)."""
    if policy is None:
        policy = Policy(read=runtime_read_paths(), write=(str(scratch),))
    full_env = dict(os.environ, HOME=str(scratch), TMPDIR=str(scratch), MPLCONFIGDIR=str(scratch / "mpl"),
                    MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
    full_env.pop("PYTHONPATH", None)
    full_env.update(env or {})
    proc = subprocess.run(
        command([sys.executable, "-c", PRELUDE + textwrap.dedent(snippet)], policy),
        cwd=scratch, env=full_env, capture_output=True, text=True, timeout=timeout, pass_fds=pass_fds,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if not expect_result:
        return None, proc
    assert lines, f"no result (rc={proc.returncode})\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return json.loads(lines[-1][len("RESULT "):]), proc


# --- availability, policy, launcher ------------------------------------------


def test_sandbox_is_available_here():
    """This machine (and CI) has Landlock ABI >= 6 and seccomp: nothing may be skipped silently."""
    assert sandbox.landlock_abi() >= sandbox.FULL_ABI
    assert unavailable_reason() is None


def test_unavailable_reason_logic(monkeypatch):
    monkeypatch.setattr(sandbox.landlock, "landlock_abi", lambda: 0)
    reason = sandbox.unavailable_reason()
    assert reason is not None and "Landlock is not available" in reason and reason.count(".") == 1
    monkeypatch.setattr(sandbox.landlock, "landlock_abi", lambda: 3)
    assert "ABI 3" in sandbox.unavailable_reason()
    monkeypatch.setattr(sandbox.landlock, "landlock_abi", lambda: 7)
    monkeypatch.setattr(sandbox.seccomp, "_machine", lambda: "riscv64")
    assert "x86_64 and aarch64" in sandbox.unavailable_reason()


def test_fake_abi_env_only_refuses(monkeypatch):
    monkeypatch.delenv(sandbox.FAKE_ABI_ENV, raising=False)
    real = sandbox.landlock_abi()
    monkeypatch.setenv(sandbox.FAKE_ABI_ENV, "0")
    assert sandbox.landlock_abi() == 0
    assert "Landlock is not available" in unavailable_reason()
    for value in ("1", "7", "99", ""):  # anything else is ignored: the variable can never weaken the sandbox
        monkeypatch.setenv(sandbox.FAKE_ABI_ENV, value)
        assert sandbox.landlock_abi() == real


def test_policy_json_round_trip_and_validation():
    policy = Policy(read=("/usr",), write=("/tmp",), memory=1 << 30, processes=2, network=True, cpu_seconds=5)
    assert Policy.from_json(policy.to_json()) == policy
    assert Policy.from_json(Policy().to_json()) == Policy()
    assert "\n" not in policy.to_json()
    with pytest.raises(ValueError):
        Policy.from_json('{"read": [], "bogus": 1}')
    with pytest.raises(ValueError):
        Policy.from_json('{"read": "/usr"}')
    with pytest.raises(ValueError):
        Policy(memory=0)
    with pytest.raises(ValueError):
        Policy(processes=-1)
    with pytest.raises(ValueError):
        Policy(read="/usr")


def test_command_argv():
    policy = Policy(read=("/usr",))
    argv = command(["python", "-c", "pass"], policy)
    assert argv == [sys.executable, "-m", "coursekit.grading.sandbox", "--policy", policy.to_json(),
                    "--", "python", "-c", "pass"]


def test_runtime_read_paths():
    paths = runtime_read_paths()
    assert all(os.path.exists(p) and os.path.realpath(p) == p for p in paths)
    assert os.path.realpath(sys.base_prefix) in paths and "/usr" in paths and "/proc" in paths
    assert "/etc" not in paths and "/etc/shadow" not in paths and "/" not in paths
    # the repository itself and its editable install are not readable (only the venv inside it)
    for p in paths:
        assert not (p == str(REPO) or str(REPO).startswith(p + "/") or p == "/")
        if p.startswith(str(REPO) + "/"):
            assert p == os.path.realpath(sys.prefix)
    assert all(not (p != q and q.startswith(p + "/")) for p in paths for q in paths)  # none beneath another


def test_seccomp_program_builds_for_both_machines():
    for machine in ("x86_64", "aarch64"):
        for policy in (Policy(), Policy(network=True, processes=3)):
            prog = sandbox.seccomp_program(policy, machine)
            assert 10 < len(prog) < 4096
            assert prog[-1] == (sandbox.BPF_RET | sandbox.BPF_K, 0, 0, sandbox.SECCOMP_RET_ALLOW)
            jumps = [(i, jt, jf) for i, (code, jt, jf, _) in enumerate(prog) if code & 0x07 == sandbox.BPF_JMP]
            assert jumps and all(i + 1 + max(jt, jf) < len(prog) for i, jt, jf in jumps)  # every target exists


@needs_sandbox
def test_more_policy_paths_than_open_files(scratch, tmp_path):
    """A non-editable install lists site-packages entry by entry (hubctl's instructor environment):
    a policy with more paths than ``open_files`` must still apply (each path is an open descriptor
    until its rule is in the ruleset), and the paths stay readable, nothing else."""
    many = tmp_path / "many"
    many.mkdir()
    paths = []
    for i in range(400):
        (many / f"f{i}.txt").write_text(str(i))
        paths.append(str(many / f"f{i}.txt"))
    (tmp_path / "outside.txt").write_text("no")
    policy = Policy(read=runtime_read_paths() + tuple(paths), write=(str(scratch),), open_files=64)
    result, proc = run_sandboxed(f"""
        report(inside=attempt(lambda: open({paths[399]!r}).read()),
               outside=attempt(lambda: open({str(tmp_path / 'outside.txt')!r}).read()))
    """, scratch, policy=policy)
    assert result == {"inside": "ok:'399'", "outside": ACCESS}, proc.stderr


@needs_sandbox
def test_launcher_runs_true(scratch):
    proc = subprocess.run(command(["true"], Policy(read=runtime_read_paths(), write=(str(scratch),))),
                          cwd=scratch, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def _launch_expecting_refusal(scratch, policy_json: str, env=None):
    marker = scratch / "ran"
    argv = [sys.executable, "-m", "coursekit.grading.sandbox", "--policy", policy_json, "--",
            sys.executable, "-c", f"open({str(marker)!r}, 'w').close()"]
    proc = subprocess.run(argv, cwd=scratch, capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, **(env or {})))
    assert proc.returncode == sandbox.EXIT_UNAVAILABLE, (proc.returncode, proc.stderr)
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not marker.exists()
    return proc.stderr


def test_launcher_refuses_without_landlock(scratch):
    policy = Policy(read=runtime_read_paths(), write=(str(scratch),))
    err = _launch_expecting_refusal(scratch, policy.to_json(), env={sandbox.FAKE_ABI_ENV: "0"})
    assert "Landlock is not available" in err


def test_launcher_refuses_impossible_policies(scratch):
    err = _launch_expecting_refusal(scratch, Policy(read=runtime_read_paths(), write=("/nonexistent/dir",)).to_json())
    assert "/nonexistent/dir" in err
    err = _launch_expecting_refusal(scratch, '{"read": [], "memory": -5}')
    assert "memory" in err
    err = _launch_expecting_refusal(scratch, "{not json")
    assert "invalid policy" in err
    err = _launch_expecting_refusal(scratch, '{"read": [], "net": true}')
    assert "net" in err


def test_launcher_usage_error():
    proc = subprocess.run([sys.executable, "-m", "coursekit.grading.sandbox", "true"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == sandbox.EXIT_USAGE and "usage" in proc.stderr


@needs_sandbox
def test_apply_refuses_a_multithreaded_process(scratch):
    code = textwrap.dedent(f"""
        import threading, time, sys
        from coursekit.grading import sandbox
        threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
        try:
            sandbox.apply(sandbox.Policy(read=sandbox.runtime_read_paths(), write=({str(scratch)!r},)))
        except sandbox.SandboxUnavailable as exc:
            print("refused:", exc)
            sys.exit(0)
        print("applied")
        sys.exit(1)
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=scratch, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "single-threaded" in proc.stdout, proc.stdout + proc.stderr


# --- filesystem ----------------------------------------------------------------


@pytest.fixture
def course(tmp_path):
    """A stand-in for the course directory, outside the sandbox: a gradebook and another student's work."""
    path = tmp_path / "course"
    (path / "submitted" / "bob").mkdir(parents=True)
    (path / "gradebook.db").write_text("SECRET GRADES")
    (path / "submitted" / "bob" / "answer.py").write_text("bob's answer")
    return path


@needs_sandbox
def test_filesystem_confinement(scratch, course):
    evil = REPO / "helpers" / f"_sandbox_evil_{uuid.uuid4().hex}.py"
    snippet = f"""
        course, evil, scratch = {str(course)!r}, {str(evil)!r}, {str(scratch)!r}
        def write(path, text="x"):
            with open(path, "w") as f:
                f.write(text)
        def read(path):
            with open(path) as f:
                return f.read()[:0] or None
        def via_symlink():
            os.symlink(course + "/gradebook.db", scratch + "/link")
            return read(scratch + "/link")
        report(
            scratch_write=attempt(write, scratch + "/notes.txt"),
            scratch_read_back=attempt(lambda: open(scratch + "/notes.txt").read() == "x"),
            scratch_mkdir=attempt(lambda: os.makedirs(scratch + "/a/b")),
            scratch_rename=attempt(os.rename, scratch + "/notes.txt", scratch + "/a/notes.txt"),
            course_write=attempt(write, course + "/injected.txt"),
            course_read=attempt(read, course + "/gradebook.db"),
            course_other_student=attempt(read, course + "/submitted/bob/answer.py"),
            course_list=attempt(os.listdir, course),
            course_truncate=attempt(os.truncate, course + "/gradebook.db", 0),
            course_unlink=attempt(os.unlink, course + "/gradebook.db"),
            course_rename_in=attempt(os.rename, scratch + "/a/notes.txt", course + "/notes.txt"),
            course_link_out=attempt(os.link, course + "/gradebook.db", scratch + "/hardlink"),
            course_symlink_read=attempt(via_symlink),
            repo_helpers_write=attempt(write, evil),
            repo_list=attempt(os.listdir, {str(REPO)!r}),
            repo_read=attempt(read, {str(REPO / "helpers" / "grading.py")!r}),
            shadow=attempt(read, "/etc/shadow"),
            etc_list=attempt(os.listdir, "/etc"),
            root_home=attempt(os.listdir, os.path.expanduser("~root")),
            usr_write=attempt(write, "/usr/local/evil"),
            tmp_write=attempt(write, "/tmp/evil-" + str(os.getpid())),
        )
    """
    try:
        result, _ = run_sandboxed(snippet, scratch)
    finally:
        evil.unlink(missing_ok=True)
    assert result["scratch_write"] == "ok"
    assert result["scratch_read_back"] == "ok"
    assert result["scratch_mkdir"] == "ok" and result["scratch_rename"] == "ok"
    for key in ("course_write", "course_read", "course_other_student", "course_list", "course_truncate",
                "course_unlink", "course_rename_in", "course_symlink_read", "repo_helpers_write", "repo_list",
                "repo_read", "shadow", "etc_list", "root_home", "usr_write", "tmp_write"):
        assert result[key] == ACCESS, (key, result[key])
    assert result["course_link_out"] == "OSError:18"  # EXDEV: Landlock's REFER right
    assert (course / "gradebook.db").read_text() == "SECRET GRADES"
    assert not (course / "injected.txt").exists() and not (course / "notes.txt").exists()
    assert not evil.exists()
    assert (scratch / "a" / "notes.txt").read_text() == "x"


@needs_sandbox
def test_proc_of_outside_processes_is_guarded(scratch):
    """/proc is readable, but ptrace-guarded files of processes outside the sandbox are not."""
    snippet = f"""
        report(
            own_status=attempt(lambda: "CapEff" in open("/proc/self/status").read()),
            runner_environ=attempt(lambda: open("/proc/{os.getpid()}/environ", "rb").read()),
            runner_mem=attempt(lambda: open("/proc/{os.getpid()}/mem", "rb").read(1)),
            runner_cwd=attempt(os.listdir, "/proc/{os.getpid()}/cwd"),
            oom_score_adj=attempt(lambda: open("/proc/self/oom_score_adj", "w").write("1000")),
        )
    """
    result, _ = run_sandboxed(snippet, scratch)
    assert result["own_status"] == "ok"
    for key in ("runner_environ", "runner_mem", "runner_cwd", "oom_score_adj"):
        assert result[key] == ACCESS, (key, result[key])


@needs_sandbox
def test_devices_are_read_only_unless_in_write(scratch):
    snippet = """
        def write_null():
            with open(os.devnull, "w") as f:
                f.write("x")
        report(read_urandom=attempt(lambda: len(open("/dev/urandom", "rb").read(8)) == 8),
               write_null=attempt(write_null))
    """
    result, _ = run_sandboxed(snippet, scratch)
    assert result == {"read_urandom": "ok", "write_null": ACCESS}
    policy = Policy(read=runtime_read_paths(), write=(str(scratch), "/dev/null"))  # a file in write: read + write
    result, _ = run_sandboxed(snippet, scratch, policy=policy)
    assert result == {"read_urandom": "ok", "write_null": "ok"}


# --- the scientific stack works inside -------------------------------------------


@needs_sandbox
def test_scientific_stack_runs_inside(scratch):
    """numpy, scipy, matplotlib (Agg) and brian2 (numpy target) need nothing beyond runtime_read_paths()."""
    snippet = """
        import numpy as np, scipy.linalg, scipy.integrate
        a = np.random.default_rng(0).random((200, 200))
        inv_ok = bool(np.allclose(a @ np.linalg.inv(a), np.eye(200), atol=1e-6))
        eig = float(scipy.linalg.eigvalsh(a + a.T).max())
        ode = scipy.integrate.solve_ivp(lambda t, y: -y, (0, 1), [1.0]).y[0, -1]
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots()
        ax.plot([0, 1, 2], [0, 1, 4]); ax.set_title("g_syn")
        fig.savefig(os.environ["HOME"] + "/fig.png")
        import brian2 as b2
        b2.prefs.codegen.target = "numpy"
        G = b2.NeuronGroup(5, "dv/dt = -v / (10*ms) : 1", method="exact")
        G.v = 1
        b2.run(10 * b2.ms)
        report(inv_ok=inv_ok, eig=eig > 0, ode=round(float(ode), 2), png=os.path.getsize(os.environ["HOME"] + "/fig.png") > 1000,
               v=round(float(G.v[0]), 3), backend=matplotlib.get_backend().lower())
    """
    result, proc = run_sandboxed(snippet, scratch, timeout=300)
    assert result == {"inv_ok": True, "eig": True, "ode": 0.37, "png": True, "v": 0.368, "backend": "agg"}, proc.stderr


@needs_sandbox
def test_ipykernel_runs_inside_over_ipc(scratch):
    """A Jupyter kernel works in the sandbox when its connection uses unix sockets (transport "ipc") in scratch."""
    jupyter_client = pytest.importorskip("jupyter_client")
    from jupyter_client.connect import write_connection_file

    conn_file, _ = write_connection_file(str(scratch / "kernel.json"), transport="ipc", ip=str(scratch / "k"))
    policy = Policy(read=runtime_read_paths(), write=(str(scratch),))
    env = dict(os.environ, HOME=str(scratch), TMPDIR=str(scratch), MPLCONFIGDIR=str(scratch / "mpl"),
               JUPYTER_RUNTIME_DIR=str(scratch / "rt"), IPYTHONDIR=str(scratch / "ipython"))
    kernel = subprocess.Popen(command([sys.executable, "-m", "ipykernel_launcher", "-f", conn_file], policy),
                              cwd=scratch, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    client = jupyter_client.BlockingKernelClient(connection_file=conn_file)
    client.load_connection_file()
    client.start_channels()
    outputs = []
    try:
        client.wait_for_ready(timeout=120)
        code = ("import numpy, os, socket\n"
                "print(numpy.arange(4).sum())\n"
                "try:\n    socket.socket()\nexcept PermissionError:\n    print('no-tcp')\n"
                "try:\n    os.listdir(%r)\nexcept PermissionError:\n    print('no-repo')\n" % str(REPO))
        reply = client.execute_interactive(
            code, timeout=120,
            output_hook=lambda msg: outputs.append(msg["content"].get("text", "")) if msg["msg_type"] == "stream" else None)
        assert reply["content"]["status"] == "ok"
        # a shell escape needs a child process: refused, the kernel survives
        client.execute_interactive(f"!touch {scratch}/shell_ran", timeout=60, output_hook=lambda msg: None)
        reply = client.execute_interactive("1 + 1", timeout=60, output_hook=lambda msg: None)
        assert reply["content"]["status"] == "ok"
    finally:
        client.stop_channels()
        try:
            os.killpg(kernel.pid, signal.SIGKILL)  # the launcher made the kernel a process-group leader
        except ProcessLookupError:
            pass
        log = kernel.communicate(timeout=30)[0].decode(errors="replace")
    assert "".join(outputs).split() == ["6", "no-tcp", "no-repo"], log
    assert not (scratch / "shell_ran").exists()


# --- network ------------------------------------------------------------------


@pytest.fixture
def tcp_listener():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    yield server
    server.close()


@needs_sandbox
def test_network_is_refused(scratch, tcp_listener):
    port = tcp_listener.getsockname()[1]
    snippet = f"""
        import socket
        def pair():
            a, b = socket.socketpair()
            a.sendall(b"hi")
            return b.recv(2) == b"hi"
        def unix_path():
            path = {str(scratch)!r} + "/ipc.sock"
            srv = socket.socket(socket.AF_UNIX); srv.bind(path); srv.listen(1)
            cli = socket.socket(socket.AF_UNIX); cli.connect(path)
            return True
        def bind_tcp():
            socket.socket(socket.AF_INET, socket.SOCK_STREAM).bind(("127.0.0.1", 0))
        report(
            tcp_connect=attempt(socket.create_connection, ("127.0.0.1", {port}), timeout=5),
            tcp6=attempt(socket.socket, socket.AF_INET6, socket.SOCK_STREAM),
            udp=attempt(socket.socket, socket.AF_INET, socket.SOCK_DGRAM),
            tcp_bind=attempt(bind_tcp),
            raw=attempt(socket.socket, socket.AF_PACKET, socket.SOCK_RAW),
            netlink=attempt(socket.socket, socket.AF_NETLINK, socket.SOCK_RAW, 0),
            socketpair=attempt(pair),
            unix_path=attempt(unix_path),
        )
    """
    result, _ = run_sandboxed(snippet, scratch)
    for key in ("tcp_connect", "tcp6", "udp", "tcp_bind", "raw"):
        assert result[key] == PERMISSION, (key, result[key])
    assert result["netlink"] == "OSError:22"  # EINVAL: what libzmq's getifaddrs() survives (see the module)
    assert result["socketpair"] == "ok" and result["unix_path"] == "ok"


@needs_sandbox
def test_inherited_tcp_socket_is_refused_by_landlock(scratch, tcp_listener):
    """A TCP socket created outside and inherited: seccomp cannot see it, Landlock refuses connect and bind."""
    port = tcp_listener.getsockname()[1]
    connect_sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    bind_sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        snippet = f"""
            import socket
            c = socket.socket(fileno={connect_sock.fileno()})
            b = socket.socket(fileno={bind_sock.fileno()})
            report(connect=attempt(c.connect, ("127.0.0.1", {port})), bind=attempt(b.bind, ("127.0.0.1", 0)))
        """
        result, _ = run_sandboxed(snippet, scratch, pass_fds=(connect_sock.fileno(), bind_sock.fileno()))
    finally:
        connect_sock.close()
        bind_sock.close()
    assert result == {"connect": ACCESS, "bind": ACCESS}


@needs_sandbox
def test_network_true_allows_tcp(scratch, tcp_listener):
    port = tcp_listener.getsockname()[1]
    policy = Policy(read=runtime_read_paths(), write=(str(scratch),), network=True)
    result, _ = run_sandboxed(f"""
        import socket
        report(tcp=attempt(lambda: socket.create_connection(("127.0.0.1", {port}), timeout=5).close()))
    """, scratch, policy=policy)
    assert result == {"tcp": "ok"}


@needs_sandbox
def test_abstract_unix_socket_outside_is_refused(scratch):
    name = f"\0synapses-sandbox-test-{uuid.uuid4().hex}"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(name)
    listener.listen(1)
    try:
        probe = socket.socket(socket.AF_UNIX)  # reachable from outside the sandbox
        probe.connect(name)
        probe.close()
        result, _ = run_sandboxed(f"""
            import socket
            s = socket.socket(socket.AF_UNIX)
            report(connect=attempt(s.connect, {name!r}))
        """, scratch)
    finally:
        listener.close()
    assert result == {"connect": PERMISSION}


# --- processes, signals, privileges ---------------------------------------------------


@needs_sandbox
def test_no_child_processes_but_threads(scratch):
    snippet = """
        import subprocess, threading
        def thread():
            box = []
            t = threading.Thread(target=box.append, args=(42,)); t.start(); t.join()
            return box == [42]
        def fork():
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
        import multiprocessing
        def mp():
            p = multiprocessing.get_context("fork").Process(target=print); p.start(); p.join()
        report(
            fork=attempt(fork),
            subprocess=attempt(subprocess.run, ["true"]),
            system=attempt(lambda: os.system("true") == 0),
            spawn=attempt(os.posix_spawn, "/usr/bin/true", ["true"], {}),
            multiprocessing=attempt(mp),
            thread=attempt(thread),
        )
    """
    result, _ = run_sandboxed(snippet, scratch)
    for key in ("fork", "subprocess", "spawn", "multiprocessing"):
        assert result[key].split(":")[0] in ("PermissionError", "BlockingIOError"), (key, result[key])
    assert result["system"] != "ok"  # os.system cannot fork: it returns -1, never runs the shell
    assert result["thread"] == "ok"


@needs_sandbox
def test_processes_allowed_when_asked(scratch):
    policy = Policy(read=runtime_read_paths(), write=(str(scratch),), processes=4)
    result, _ = run_sandboxed("""
        import subprocess
        report(run=attempt(lambda: subprocess.run(["true"]).returncode == 0))
    """, scratch, policy=policy)
    assert result == {"run": "ok"}


@pytest.fixture
def victim():
    """A process outside the sandbox, owned by the same user, for signal and ptrace attacks."""
    proc = subprocess.Popen(["sleep", "120"])
    yield proc
    proc.kill()
    proc.wait()


@needs_sandbox
def test_signals_outside_are_refused(scratch, victim):
    # signal 0 (existence check) for the test runner, its parent and init: nothing is sent even if it were allowed
    result, _ = run_sandboxed(f"""
        import signal
        report(
            runner=attempt(os.kill, {os.getpid()}, 0),
            parent=attempt(os.kill, os.getppid(), 0),
            init=attempt(os.kill, 1, 0),
            victim=attempt(os.kill, {victim.pid}, signal.SIGKILL),
            own_group=attempt(os.killpg, os.getpgrp(), 0),
        )
    """, scratch)
    time.sleep(0.2)
    assert victim.poll() is None, "the victim was killed from inside the sandbox"
    for key in ("runner", "parent", "init", "victim"):
        assert result[key] == PERMISSION, (key, result[key])
    assert result["own_group"] == "ok"


@needs_sandbox
def test_ptrace_and_kernel_interfaces_are_refused(scratch, victim):
    target = scratch / "mnt"
    target.mkdir()
    snippet = f"""
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        def call(name, *args):
            if getattr(libc, name)(*args) == -1:
                err = ctypes.get_errno()
                raise OSError(err, os.strerror(err))
        syscall = lambda nr, *args: call("syscall", nr, *args)
        PTRACE_ATTACH = 16
        local = (ctypes.c_char * 8)()
        iov = (ctypes.c_void_p * 2)(ctypes.cast(local, ctypes.c_void_p), 8)
        report(
            ptrace_attach=attempt(call, "ptrace", PTRACE_ATTACH, {victim.pid}, None, None),
            process_vm_readv=attempt(call, "process_vm_readv", {victim.pid}, iov, 1, iov, 1, 0),
            unshare=attempt(call, "unshare", 0x10000000),  # CLONE_NEWUSER
            mount=attempt(call, "mount", b"none", {str(target).encode()!r}, b"tmpfs", 0, None),
            bpf=attempt(syscall, 321, 0, None, 0),
            io_uring=attempt(syscall, 425, 8, ctypes.create_string_buffer(120)),
            keyctl=attempt(syscall, 250, 0, -3, 0),
        )
    """
    result, _ = run_sandboxed(snippet, scratch)
    for key, value in result.items():
        assert value == PERMISSION, (key, value)
    assert victim.poll() is None


@needs_sandbox
@as_root
def test_root_keeps_no_capabilities(scratch):
    snippet = """
        status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
        report(
            uid=os.getuid(),
            caps={k: status[k].strip() for k in ("CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb")},
            no_new_privs=status["NoNewPrivs"].strip(),
            seccomp=status["Seccomp"].strip(),
            setuid0=attempt(os.setuid, 0),
            setuid_nobody=attempt(os.setuid, 65534),
            setgroups=attempt(os.setgroups, [0]),
            chroot=attempt(os.chroot, "/"),
            chown=attempt(os.chown, os.environ["HOME"], 65534, 65534),
            mknod=attempt(os.mknod, os.environ["HOME"] + "/mem", 0o600 | 0o020000, os.makedev(1, 1)),
        )
    """
    result, _ = run_sandboxed(snippet, scratch)
    assert result["uid"] == 0
    assert set(result["caps"].values()) == {"0000000000000000"}, result["caps"]
    assert result["no_new_privs"] == "1" and result["seccomp"] == "2"
    for key in ("setuid0", "setuid_nobody", "setgroups", "chroot", "chown", "mknod"):
        assert result[key] == PERMISSION, (key, result[key])


# --- resource limits ------------------------------------------------------------


@needs_sandbox
def test_memory_hog_gets_memory_error(scratch):
    policy = Policy(read=runtime_read_paths(), write=(str(scratch),), memory=1 << 30)
    result, _ = run_sandboxed("""
        report(hog=attempt(bytearray, 8 << 30), small=attempt(lambda: len(bytearray(64 << 20)) > 0))
    """, scratch, policy=policy)
    assert result == {"hog": "MemoryError:None", "small": "ok"}


@needs_sandbox
def test_file_size_limit_gives_efbig(scratch):
    policy = Policy(read=runtime_read_paths(), write=(str(scratch),), file_size=1 << 20)
    result, proc = run_sandboxed(f"""
        import signal
        def big():
            with open({str(scratch)!r} + "/big.bin", "wb") as f:
                f.write(b"x" * (2 << 20))
        report(write=attempt(big), survived=True, sigxfsz_ignored=signal.getsignal(signal.SIGXFSZ) == signal.SIG_IGN)
    """, scratch, policy=policy)
    assert result == {"write": "OSError:27", "survived": True, "sigxfsz_ignored": True}  # EFBIG
    assert proc.returncode == 0
    assert (scratch / "big.bin").stat().st_size <= 1 << 20


@needs_sandbox
def test_open_files_limit_gives_emfile(scratch):
    policy = Policy(read=runtime_read_paths(), write=(str(scratch),), open_files=64)
    result, _ = run_sandboxed(f"""
        def many():
            files = [open({str(scratch)!r} + f"/f{{i}}", "w") for i in range(300)]
        report(many=attempt(many))
    """, scratch, policy=policy)
    assert result == {"many": "OSError:24"}  # EMFILE


@needs_sandbox
def test_cpu_limit_kills_a_busy_loop(scratch):
    policy = Policy(read=runtime_read_paths(), write=(str(scratch),), cpu_seconds=1)
    started = time.monotonic()
    _, proc = run_sandboxed("while True:\n    pass\n", scratch, policy=policy, timeout=60, expect_result=False)
    assert proc.returncode in (-signal.SIGXCPU, -signal.SIGKILL)
    assert time.monotonic() - started < 30


def test_a_listing_path_lists_but_does_not_read(tmp_path):
    """Policy.list: Python may list a folder (to import from it) whose files the process may not read."""
    import subprocess
    import sys

    from coursekit.grading import sandbox
    if sandbox.unavailable_reason():
        pytest.skip(sandbox.unavailable_reason())
    folder = tmp_path / "listed"
    folder.mkdir()
    (folder / "answer.py").write_text("secret = 1\n")
    policy = sandbox.Policy(read=sandbox.runtime_read_paths(), list=(str(folder),), write=(str(tmp_path / "w"),),
                            processes=0)
    (tmp_path / "w").mkdir()
    code = (f"import os\nprint(os.listdir({str(folder)!r}))\n"
            f"try:\n    open({str(folder / 'answer.py')!r}).read()\n    print('read')\n"
            "except PermissionError:\n    print('refused')\n")
    done = subprocess.run(sandbox.command([sys.executable, "-c", code], policy), capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.split("\n")[:2] == ["['answer.py']", "refused"], (done.stdout, done.stderr)
    assert sandbox.Policy.from_json(policy.to_json()) == policy


# --- isolation from other sandboxes (Policy.private_proc, Policy.separate) -------------


def test_policy_isolation_fields_round_trip_and_validation():
    policy = Policy(read=("/proc",), private_proc=True, separate=True)
    assert Policy.from_json(policy.to_json()) == policy
    with pytest.raises(ValueError):
        Policy(private_proc=1)
    with pytest.raises(ValueError):
        Policy(separate="yes")


def test_private_proc_paths_are_this_processes_own_entries():
    paths = sandbox.private_proc_paths()
    own = f"/proc/{os.getpid()}/"
    assert f"{own}status" in paths and f"{own}cmdline" in paths
    assert not any(p.startswith(own) and p[len(own):] in sandbox.PROC_PRIVATE_EXCLUDED for p in paths)
    assert all(p.startswith(own) or p in sandbox.PROC_SHARED for p in paths), paths
    assert not any(os.path.islink(p) for p in paths)


@needs_sandbox
@pytest.mark.parametrize("separate", [False, True], ids=["private-proc", "private-proc-and-separate"])
def test_private_proc_hides_other_processes_and_every_socket(scratch, separate):
    """Only the sandbox's own /proc entries: no other cmdline, no /proc listing, no socket table.

    ``separate`` is skipped without root: ``private-proc`` is what an instructor who is not root gets.
    """
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(scratch.parent / "outside.sock"))  # a pathname socket the table would list
    try:
        snippet = f"""
            report(
                own_status=attempt(lambda: "CapEff" in open("/proc/self/status").read()),
                own_cmdline=attempt(lambda: len(open("/proc/self/cmdline").read()) > 0),
                cpuinfo=attempt(lambda: len(open("/proc/cpuinfo").read()) > 0),
                runner_cmdline=attempt(lambda: open("/proc/{os.getpid()}/cmdline", "rb").read()),
                init_cmdline=attempt(lambda: open("/proc/1/cmdline", "rb").read()),
                proc_listing=attempt(os.listdir, "/proc"),
                net_unix=attempt(lambda: open("/proc/net/unix").read()),
                self_net_unix=attempt(lambda: open("/proc/self/net/unix").read()),
                task_net_unix=attempt(lambda: open(f"/proc/self/task/{{os.getpid()}}/net/unix").read()),
                self_root=attempt(os.listdir, "/proc/self/root/"),
                numpy=attempt(lambda: bool(__import__("numpy").ones(3).sum() == 3)),
            )
        """
        policy = Policy(read=runtime_read_paths(), write=(str(scratch),), private_proc=True, separate=separate)
        result, _ = run_sandboxed(snippet, scratch, policy=policy)
    finally:
        listener.close()
    for key in ("own_status", "own_cmdline", "cpuinfo", "numpy"):
        assert result[key] == "ok", (key, result[key])
    for key in ("runner_cmdline", "init_cmdline", "proc_listing", "net_unix", "self_net_unix", "task_net_unix",
                "self_root"):
        assert result[key] == ACCESS, (key, result[key])
    # the control: without private_proc the same process reads the socket table and another's cmdline
    result, _ = run_sandboxed(snippet, scratch)
    assert result["net_unix"].startswith("ok") and result["runner_cmdline"].startswith("ok"), result


LISTENER = """
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(5)
print("READY", flush=True)
s.settimeout(60)
try:
    while True:
        s.accept()[0].close()
except OSError:
    pass
"""


def _listening_sandbox(scratch: Path, policy: Policy, path: Path) -> subprocess.Popen:
    proc = subprocess.Popen(command([sys.executable, "-c", LISTENER, str(path)], policy), cwd=scratch,
                            env=dict(os.environ, HOME=str(scratch)), stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "READY"
    return proc


@needs_sandbox
@as_root
@pytest.mark.parametrize("separate", [True, False], ids=["separate", "same-group"])
def test_separate_sandboxes_cannot_connect_to_each_others_sockets(tmp_path, separate):
    """A classmate's socket path is known (say it leaked): with ``separate`` it still cannot be reached.

    Each ``separate`` sandbox has a group of its own and its write directory ``0770`` owned by it, so
    another sandbox (uid 0 without capabilities) cannot resolve a path beneath it. Without ``separate``
    (an instructor who is not root) the path would connect: the names must stay secret there.
    """
    victim_dir, sniffer_dir = tmp_path / "victim", tmp_path / "sniffer"
    victim_dir.mkdir()
    sniffer_dir.mkdir()
    path = victim_dir / "kernel-ipc-1"
    victim = _listening_sandbox(victim_dir, Policy(read=runtime_read_paths(), write=(str(victim_dir),),
                                                   private_proc=True, separate=separate), path)
    try:
        probe = socket.socket(socket.AF_UNIX)  # the socket is live: the (root) parent reaches it
        probe.connect(str(path))
        probe.close()
        result, _ = run_sandboxed(f"""
            import socket
            s = socket.socket(socket.AF_UNIX)
            report(connect=attempt(s.connect, {str(path)!r}), listdir=attempt(os.listdir, {str(victim_dir)!r}),
                   gid=os.getgid())
        """, sniffer_dir, policy=Policy(read=runtime_read_paths(), write=(str(sniffer_dir),), private_proc=True,
                                        separate=separate))
    finally:
        victim.kill()
        victim.wait()
    assert result["listdir"] == ACCESS
    if separate:
        assert result["gid"] == sandbox.separate_id(result["gid"] - sandbox.SEPARATE_ID_BASE) != 0
        assert result["connect"] == ACCESS, result
        assert oct(victim_dir.stat().st_mode & 0o777) == "0o770"
    else:
        assert result["connect"] == "ok", result
