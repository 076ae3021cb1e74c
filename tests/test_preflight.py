"""coursekit.grading.preflight: a grader that cannot run stops the run; it is never a student's zero.

The slow test breaks the grader on purpose in a throw-away layout (the course
installed from a wheel into a copy of this environment, one module of the
answers made unreadable) and runs plain ``nbgrader autograde``: it exits
non-zero, with one line naming the file, the policy and what to do, and the
gradebook has no row for the student (sqlite). Before the preflight, every
test cell of every student scored 0 and autograde exited 0.
"""

from __future__ import annotations

import glob
import os
import stat
import subprocess

import pytest

import autograde_course as ac
from coursekit.grading import preflight
from coursekit.grading import sandbox
from coursekit.grading.execute import TrustedExecute

needs_sandbox = pytest.mark.skipif(sandbox.unavailable_reason() is not None,
                                   reason=f"no sandbox here: {sandbox.unavailable_reason()}")


@needs_sandbox
def test_a_working_grader_passes_once_per_process(monkeypatch):
    te = TrustedExecute()
    preflight._checked.clear()
    preflight.check(te)  # this checkout, this environment: the grader starts and imports everything
    assert preflight._checked == {preflight._key(te): None}
    monkeypatch.setattr(preflight, "_probe", lambda te: pytest.fail("probed twice"))
    preflight.check(TrustedExecute())  # cached


def test_a_failed_preflight_is_a_system_exit_with_one_line(monkeypatch):
    te = TrustedExecute()
    monkeypatch.setitem(preflight._checked, preflight._key(te), "the trusted grader did not start: x")
    with pytest.raises(SystemExit) as info:
        preflight.check(te)
    assert not isinstance(info.value, Exception)  # nbgrader's per-student `except Exception` lets it through
    assert str(info.value.code) == preflight.PREFIX + "the trusted grader did not start: x"
    assert "\n" not in str(info.value.code)


def test_the_cause_names_the_path_and_the_policy(tmp_path):
    class Grader:
        ready, log_path = False, tmp_path / "grader.log"
        proc = type("P", (), {"poll": lambda self: 1})()

        def log_tail(self):
            return ("Traceback (most recent call last):\n  ...\n"
                    "PermissionError: [Errno 13] Permission denied: '/opt/course/coursekit/__init__.py'\n")

    outside = type("Policy", (), {"read": ("/usr", "/venv")})()
    inside = type("Policy", (), {"read": ("/usr", "/opt/course/coursekit")})()
    line = preflight.cause(Grader(), outside, "the grader did not start")
    assert "did not start: PermissionError: [Errno 13] Permission denied: '/opt/course/coursekit/__init__.py'" in line
    assert "read policy does not grant /opt/course/coursekit/__init__.py" in line
    assert "pip install -e ." in line and "\n" not in line
    line = preflight.cause(Grader(), inside, "the grader did not start")
    assert "inside the grader's sandbox read policy (/opt/course/coursekit)" in line and "chmod" in line


@needs_sandbox
@pytest.mark.slow
@pytest.mark.notebooks
def test_an_unreadable_answer_module_stops_autograde_before_any_row(tmp_path):
    clone = ac.clone(tmp_path)
    python = ac.wheel_env(tmp_path, clone)
    root = ac.make(tmp_path / "course", ["04_saturation.ipynb"], repo=clone, python=python)
    ac.submit(root, "model", {"04_saturation.ipynb": ac.model("04_saturation.ipynb", repo=clone)})
    code = "import helpers, os; print(os.path.join(os.path.dirname(helpers.__file__), 'references', 'membrane.py'))"
    module = subprocess.run([python, "-c", code], cwd="/", capture_output=True, text=True, check=True,
                            env=ac.env_for(python)).stdout.strip()
    # the module and its compiled copies (pip compiles on install; Python reads the .pyc, not the .py)
    broken = [module] + glob.glob(os.path.join(os.path.dirname(module), "__pycache__", "membrane.*.pyc"))
    assert all(os.stat(p).st_nlink == 1 for p in broken)  # installed from the wheel: shared with nothing
    for path in broken:
        os.chmod(path, 0)
    try:
        done = ac.autograde(root, python=python)
    finally:
        for path in broken:
            os.chmod(path, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
    assert done.returncode != 0, done.stderr[-3000:]
    lines = [ln for ln in (done.stdout + done.stderr).splitlines() if ln.startswith(preflight.PREFIX)]
    assert len(lines) == 1, done.stderr[-3000:]
    assert module in lines[0] and "PermissionError" in lines[0] and "read policy" in lines[0], lines[0]
    counts = ac.row_counts(root)
    assert counts["submitted_assignment"] == 0 and counts["grade"] == 0, counts
    assert not (root / "autograded" / "model" / ac.ASSIGNMENT / "04_saturation.ipynb").exists()


@needs_sandbox
def test_a_grader_that_never_starts_mid_run_stops_it_instead_of_zeroing_the_cell(tmp_path, monkeypatch):
    """After the preflight passed, a grader that cannot start (not one that died checking a cell) stops the run."""
    import nbformat

    import trusted_grading
    from coursekit.grading import grader_process
    from coursekit.grading.grader import ChannelClosed
    from test_trusted import instructor_notebook, submission

    source = tmp_path / "nb.ipynb"
    nbformat.write(instructor_notebook(), source)

    def never_ready(self, timeout):
        raise ChannelClosed("the other side closed the channel")

    monkeypatch.setattr(preflight, "check", lambda te: None)  # the preflight passed; then the grader breaks
    monkeypatch.setattr(grader_process.GraderProcess, "wait_ready", never_ready)
    with pytest.raises(preflight.GraderUnavailable) as info:
        trusted_grading.grade(source, submission(), tmp_path, call_timeout=5)
    assert str(info.value.code).startswith(preflight.PREFIX + "the trusted grader")
    assert "\n" not in str(info.value.code)
