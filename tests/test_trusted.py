"""coursekit.grading.execute (TrustedExecute): hidden tests outside the student's interpreter, kernel and grader sandboxed.

Each test grades a small notebook with :class:`TrustedExecute` directly (as
nbgrader's autograde does, without the gradebook: ``source_path`` names the
instructor notebook whose locked cells are trusted) and reads the outputs that
nbgrader would score. The submissions attack the grading from the student's
kernel; every attack must leave the grader's verdict standing.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

import trusted_grading
from trusted_grading import verdict

from coursekit.grading import sandbox
from coursekit.grading.execute import SandboxRefused
from coursekit.grading.grader_process import _remove_orphaned_scratch
from coursekit.grading.kernel import HELPERS_DIR, KERNEL_STREAM_LIMIT, read_paths_without

pytestmark = [pytest.mark.timeout(600)]

SETUP = textwrap.dedent("""\
    %matplotlib inline
    import numpy as np
    from helpers import grading
    """)
TEST = textwrap.dedent("""\
    with grading.checking("double"):
        assert np.allclose(double(np.array([1.0, 2.0])), [2.0, 4.0]), "double([1, 2]) should be [2, 4]"
    print("double passes the quick checks.")
    ### BEGIN HIDDEN TESTS
    from helpers.references import waveforms as _ref  # readable by the grader only
    with grading.checking("double"):
        grading.check_values(double(3.5), 7.0, "2x", hidden=True, function="double")
        grading.check_values(double(np.float32(1.5)), 3.0, "2x", hidden=True, function="double")
    ### END HIDDEN TESTS
    """)
TEST_STRING = textwrap.dedent("""\
    with grading.checking("verdict"):
        grading.check_choice(verdict, "verdict", ("subtractive", "divisive"), expected="subtractive")
    """)
RIGHT = "def double(x):\n    return 2 * np.asarray(x, dtype=float)\n"


def _meta(grade_id, **kw):
    return {"nbgrader": {"grade_id": grade_id, "schema_version": 3, "grade": False, "solution": False,
                         "locked": False, "task": False, **kw}}


def instructor_notebook() -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        new_code_cell(SETUP, metadata=_meta("setup", locked=True)),
        new_code_cell(RIGHT, metadata=_meta("double", solution=True)),
        new_code_cell(TEST, metadata=_meta("test_double", grade=True, locked=True, points=2)),
        new_code_cell("verdict = 'subtractive'\n", metadata=_meta("verdict", solution=True)),
        new_code_cell(TEST_STRING, metadata=_meta("test_verdict", grade=True, locked=True, points=1)),
    ]
    return nb


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("instructor") / "nb.ipynb"
    nbformat.write(instructor_notebook(), path)
    return path


def submission(*, double=RIGHT, verdict="verdict = 'subtractive'\n", before="", test=None):
    """The instructor notebook as a student hands it in: answers (and attacks) replaced."""
    nb = instructor_notebook()
    nb.cells[1].source = before + double
    nb.cells[3].source = verdict
    if test is not None:
        nb.cells[2].source = test
    return nb


def grade(source: Path, nb, tmp_path: Path, **traits):
    """The cells by grade id after TrustedExecute (5 s per call: these functions are instant)."""
    return trusted_grading.grade(source, nb, tmp_path, **{"call_timeout": 5, **traits})


needs_sandbox = pytest.mark.skipif(sandbox.unavailable_reason() is not None,
                                   reason=f"no sandbox here: {sandbox.unavailable_reason()}")


def test_this_machine_has_the_sandbox():
    assert sandbox.unavailable_reason() is None


@needs_sandbox
def test_right_answers_pass_and_test_cells_never_run_in_the_kernel(source, tmp_path):
    cells = grade(source, submission(), tmp_path)
    assert verdict(cells["test_double"]) == "pass"
    assert verdict(cells["test_verdict"]) == "pass"
    assert cells["test_double"].outputs[0].text == "double passes the quick checks.\n"
    assert cells["test_double"].execution_count is None  # never sent to the kernel
    assert cells["double"].execution_count is not None


@needs_sandbox
@pytest.mark.parametrize("double, words", [
    ("def double(x):\n    return 3 * np.asarray(x, dtype=float)\n", "double failed a check: double([1, 2])"),
    ("def double(x):\n    raise ValueError('no doubling today')\n", "double raised ValueError: no doubling today"),
    ("def double(x):\n    raise NotImplementedError('return 2 x')\n", "double raised NotImplementedError: return 2 x"),
    ("def double(x):\n    return (y for y in x)\n", "double returned a generator"),
    ("def double(x):\n    return object()\n", "double returned an object"),
    ("def double(x):\n    return np.array([x], dtype=object)\n", "array of object"),
    ("pass\n", "double is not defined"),
])
def test_wrong_answers_fail_with_one_sentence(source, tmp_path, double, words):
    cells = grade(source, submission(double=double), tmp_path)
    assert words in verdict(cells["test_double"])
    assert verdict(cells["test_verdict"]) == "pass"  # the other test still runs


HOOKS = {
    "input transformer": 'get_ipython().input_transformers_cleanup.append(lambda lines: ["pass\\n"])\n',
    "ast transformer": textwrap.dedent("""\
        import ast
        class _P(ast.NodeTransformer):
            def visit_Module(self, node):
                return ast.parse("print('double passes the quick checks.')")
        get_ipython().ast_transformers.append(_P())
        """),
    "exception handler": ("get_ipython().set_custom_exc((BaseException,), "
                          "lambda shell, etype, value, tb, tb_offset=None: None)\n"),
    "showtraceback": "get_ipython().showtraceback = lambda *a, **k: None\n",
    "settrace": "import sys\nsys.settrace(lambda *a: None)\n",
    "run_cell": "_rc = get_ipython().run_cell\nget_ipython().run_cell = lambda *a, **k: _rc('pass')\n",
    "fake output": "print('double passes the quick checks.')\n",
    "patched numpy and grading": textwrap.dedent("""\
        np.allclose = np.isclose = lambda *a, **k: True
        import helpers.grading as g
        g.check_values = lambda *a, **k: None
        g.checking = lambda *a, **k: __import__("contextlib").nullcontext()
        """),
}


@needs_sandbox
@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_kernel_hooks_cannot_forge_a_pass(source, tmp_path, hook):
    wrong = "def double(x):\n    return 3 * np.asarray(x, dtype=float)\n"
    cells = grade(source, submission(double=wrong, before=HOOKS[hook]), tmp_path)
    assert verdict(cells["test_double"]) != "pass"


@needs_sandbox
def test_an_emptied_test_cell_is_graded_from_the_instructors_source(source, tmp_path):
    wrong = "def double(x):\n    return 3 * np.asarray(x, dtype=float)\n"
    cells = grade(source, submission(double=wrong, test="pass\n"), tmp_path)
    assert "double failed a check" in verdict(cells["test_double"])


@needs_sandbox
def test_a_string_answer_crosses_as_data(source, tmp_path):
    cells = grade(source, submission(verdict="verdict = 'divisive'\n"), tmp_path)
    assert "verdict" in verdict(cells["test_verdict"]) and verdict(cells["test_verdict"]) != "pass"
    cells = grade(source, submission(verdict="class Sneaky(str):\n    def __eq__(self, o):\n        return True\n"
                                             "verdict = Sneaky('divisive')\n"), tmp_path)
    assert verdict(cells["test_verdict"]) != "pass"  # a str subclass arrives as an object, not as "equal"


@needs_sandbox
def test_an_endless_call_costs_its_test_only(source, tmp_path):
    loop = "def double(x):\n    while True:\n        pass\n"
    cells = grade(source, submission(double=loop), tmp_path, call_timeout=2)
    assert "did not return within 2 s" in verdict(cells["test_double"])
    assert verdict(cells["test_verdict"]) == "pass"


@needs_sandbox
def test_a_call_that_ignores_the_interrupt_restarts_the_kernel(source, tmp_path):
    stuck = ("import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
             "def double(x):\n    while True:\n        try:\n            time.sleep(0.05)\n"
             "        except BaseException:\n            pass\n")
    cells = grade(source, submission(double=stuck), tmp_path, call_timeout=2)
    assert "ignored the interrupt" in verdict(cells["test_double"])
    assert verdict(cells["test_verdict"]) == "pass"  # the kernel was restarted and the cells above replayed


@needs_sandbox
def test_a_call_that_kills_the_kernel_costs_its_test_only(source, tmp_path):
    dies = "def double(x):\n    import os\n    os._exit(3)\n"
    cells = grade(source, submission(double=dies), tmp_path)
    assert "kernel died" in verdict(cells["test_double"])
    assert verdict(cells["test_verdict"]) == "pass"


PROBE = textwrap.dedent("""\
    import json, os, socket
    found = {}
    def attempt(name, action):
        try:
            action()
            found[name] = "allowed"
        except BaseException as exc:
            found[name] = type(exc).__name__
    attempt("import references", lambda: __import__("helpers.references.waveforms"))
    attempt("read references", lambda: open(%(refs)r).read())
    attempt("read course", lambda: os.listdir(%(course)r))
    attempt("write helpers", lambda: open(%(helpers)r + "/intruder.py", "w").write("x"))
    attempt("write home", lambda: open(os.path.expanduser("~/note.txt"), "w").write("x"))
    attempt("tcp", lambda: socket.create_connection(("127.0.0.1", 22), timeout=1))
    attempt("fork", os.fork)
    attempt("big", lambda: bytearray(16 << 30))
    print("PROBE" + json.dumps(found))
    """)


@needs_sandbox
def test_the_kernel_is_sandboxed(source, tmp_path):
    probe = PROBE % {"refs": str(HELPERS_DIR / "references" / "waveforms.py"), "course": str(HELPERS_DIR.parent),
                     "helpers": str(HELPERS_DIR)}
    cells = grade(source, submission(before=probe), tmp_path)
    text = "".join(o.get("text", "") for o in cells["double"].outputs if o.output_type == "stream")
    found = json.loads(text.split("PROBE", 1)[1])
    assert found == {
        "import references": "ModuleNotFoundError", "read references": "PermissionError",
        "read course": "PermissionError", "write helpers": "PermissionError", "write home": "allowed",
        "tcp": "PermissionError", "fork": "PermissionError", "big": "MemoryError",
    }
    assert not (HELPERS_DIR / "intruder.py").exists()
    assert verdict(cells["test_double"]) == "pass"


def test_no_sandbox_means_no_grading_unless_the_instructor_opts_out(source, tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox, "unavailable_reason", lambda: "Landlock is not enabled in this kernel")
    with pytest.raises(SandboxRefused, match="Landlock is not enabled.*allow_unsandboxed"):
        grade(source, submission(), tmp_path)
    cells = grade(source, submission(), tmp_path, allow_unsandboxed=True)
    assert verdict(cells["test_double"]) == "pass"


def test_references_installed_in_site_packages_are_cut_out_of_the_kernels_read_paths(tmp_path):
    """A non-editable install puts helpers/references inside the readable Python environment."""
    env = tmp_path / "env"
    site = env / "lib" / "site-packages"
    for folder in (site / "numpy", site / "helpers" / "references", site / "helpers" / "explorers",
                   site / "helpers" / "instructor", env / "bin"):
        folder.mkdir(parents=True)
    (site / "helpers" / "grading.py").write_text("")
    got = set(read_paths_without([str(env), "/usr"], [site / "helpers" / "references",
                                                      site / "helpers" / "instructor"]))
    assert got == {"/usr", str(env / "bin"), str(site / "numpy"), str(site / "helpers" / "explorers"),
                   str(site / "helpers" / "grading.py")}
    assert read_paths_without(["/usr"], [HELPERS_DIR / "references"]) == ("/usr",)


def test_a_symlink_to_a_folder_with_the_answers_does_not_grant_them_again(tmp_path):
    """A venv's lib64 -> lib: Landlock follows the link, so granting lib64 granted all of lib, answers included."""
    env = tmp_path / "env"
    site = env / "lib" / "python3.11" / "site-packages"
    (site / "helpers" / "references").mkdir(parents=True)
    (site / "numpy").mkdir()
    (env / "lib64").symlink_to("lib")
    (env / "answers.py").symlink_to(site / "helpers" / "references")
    got = read_paths_without([str(env)], [site / "helpers" / "references"])
    assert str(env / "lib64") not in got and str(env / "answers.py") not in got
    assert not any(p == str(site / "helpers") or p.startswith(str(site / "helpers" / "references")) for p in got)
    assert str(site / "numpy") in got
    # the folders on the way may be listed (Python lists site-packages to import from it), not read
    from coursekit.grading.kernel import listing_paths_without
    assert listing_paths_without([str(env)], [site / "helpers" / "references"]) == (
        str(env), str(env / "lib"), str(env / "lib" / "python3.11"), str(site), str(site / "helpers"))


def test_scratch_of_a_killed_grading_process_is_removed_by_the_next(tmp_path):
    import os
    import subprocess
    dead = subprocess.Popen(["true"])
    dead.wait()
    orphan = tmp_path / f"synapses-grading-{dead.pid}-abc"
    mine = tmp_path / f"synapses-grading-{os.getpid()}-def"
    other = tmp_path / "synapses-grading-notapid-x"
    for folder in (orphan, mine, other):
        (folder / "kernel").mkdir(parents=True)
    _remove_orphaned_scratch(tmp_path)
    assert not orphan.exists() and mine.exists() and other.exists()


# --- bounded resources on the instructor's side (issue 18) -------------------------------
BYPASS = textwrap.dedent("""\
    import builtins
    _real_len = builtins.len  # blinds the kernel-side size check: only the instructor's side remains
    builtins.len = lambda x: 0 if type(x) is str and _real_len(x) > (30 << 20) else _real_len(x)
    verdict = 'x' * (40 << 20)
    """)


@needs_sandbox
@pytest.mark.parametrize("verdict_source, words", [
    ("verdict = 'x' * (40 << 20)\n", "verdict is not a string"),
    (BYPASS, ""),
], ids=["honest-kernel-refuses", "kernel-bypasses-its-check"])
def test_a_kernel_reply_over_the_size_limit_earns_nothing(source, tmp_path, verdict_source, words):
    """A 40 MB answer: the kernel's courtesy check says so; a kernel without it is cut off by ZeroMQ."""
    cells = grade(source, submission(verdict=verdict_source), tmp_path)
    assert verdict(cells["test_double"]) == "pass"
    assert verdict(cells["test_verdict"]) != "pass"
    assert words in verdict(cells["test_verdict"])


@needs_sandbox
def test_a_cells_output_is_cut_at_its_cap_with_one_line(source, tmp_path):
    """Past the kernel's courtesy cap (OutStream.write called directly), the grader's own cap holds."""
    flood = ("import sys, time\nfor _ in range(80):\n    type(sys.stdout).write(sys.stdout, 'y' * (64 << 10)); "
             "sys.stdout.flush()\n")
    cells = grade(source, submission(before=flood), tmp_path, max_cell_output=1 << 20)
    kept = "".join(o.get("text", "") for o in cells["double"].outputs)
    assert (1 << 20) - (64 << 10) <= len(kept.replace("y", "")) + kept.count("y") <= (1 << 20) + 1000
    assert kept.rstrip().endswith("bytes) were dropped]")
    assert "output cut: this cell's output limit" in kept
    assert verdict(cells["test_double"]) == "pass" and verdict(cells["test_verdict"]) == "pass"


@needs_sandbox
def test_a_gigabyte_printer_keeps_its_later_answers(source, tmp_path):
    """A debugging print in a loop (1 GiB in 1 MiB writes): the kernel keeps 1 MiB, says so, and grades on.

    Without the kernel's cap, ipykernel sent the gigabyte as messages over the grader's limit, the cell's
    end was lost and every later test of the notebook timed out (issue 18's benchmark).
    """
    import time
    flood = "import sys\nfor _ in range(1024):\n    sys.stdout.write('y' * (1 << 20))\n"
    start = time.monotonic()
    cells = grade(source, submission(before=flood), tmp_path, timeout=20)
    elapsed = time.monotonic() - start
    kept = "".join(o.get("text", "") for o in cells["double"].outputs)
    assert f"[output cut by the kernel: this cell printed more than {KERNEL_STREAM_LIMIT >> 20} MiB]" in kept
    assert kept.split("[output cut")[0].count("y") <= KERNEL_STREAM_LIMIT
    assert verdict(cells["test_double"]) == "pass" and verdict(cells["test_verdict"]) == "pass"
    assert elapsed < 60, f"grading took {elapsed:.0f} s"


@needs_sandbox
def test_the_notebooks_output_is_capped_across_cells(source, tmp_path):
    cells = grade(source, submission(before="print('a' * 600_000)\n", verdict="print('b' * 600_000)\n"
                                                                             "verdict = 'subtractive'\n"),
                  tmp_path, max_notebook_output=1_000_000)
    second = "".join(o.get("text", "") for o in cells["verdict"].outputs)
    assert "b" * 1000 not in second and "this notebook's output limit" in second
    assert verdict(cells["test_verdict"]) == "pass"


SLOW = "import time\ndef double(x):\n    time.sleep(1.5)\n    return 2 * np.asarray(x, dtype=float)\n"


@needs_sandbox
def test_a_slow_caller_runs_out_of_its_test_cells_deadline(source, tmp_path):
    """A right double that sleeps 1.5 s per call; its test cell (3 calls) has 2 s in all: it earns 0."""
    import time
    start = time.monotonic()
    cells = grade(source, submission(double=SLOW), tmp_path, timeout=2, call_timeout=5)
    elapsed = time.monotonic() - start
    assert verdict(cells["test_double"]).startswith("GraderTimeout: grading this cell took longer than 2 s")
    assert verdict(cells["test_verdict"]) == "pass"
    assert elapsed < 60


@needs_sandbox
def test_a_notebook_past_its_deadline_runs_no_more_cells(source, tmp_path):
    cells = grade(source, submission(double=SLOW, before="import time\ntime.sleep(4)\n"), tmp_path,
                  notebook_timeout=3)
    assert verdict(cells["test_double"]).startswith(("NotebookTimeout", "GraderTimeout"))
    assert verdict(cells["test_verdict"]).startswith("NotebookTimeout: not run")
