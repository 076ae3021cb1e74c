"""Isolation between students: a kernel cannot sniff a classmate's kernel graded at the same time.

The attack of issue 18, as a submission (:data:`SNIFFER`): for a while it reads
``/proc/net/unix`` and every ``/proc/<pid>/cmdline``, looks for kernel sockets
and connection files under the grading scratch folders (and lists their parent
folder), and subscribes to every IPC socket it finds with pyzmq. It prints how
many messages it received from other kernels. The classmate (:data:`VICTIM`)
prints a line every 0.1 s meanwhile.

Both students are graded at once by ``nbgrader autograde`` through the course's
:class:`coursekit.grading.execute.TrustedExecute`:

* with the parallel engine of ``make grade`` (:func:`coursekit.pipeline.engine.autograde`, 2 workers);
* as two plain ``nbgrader autograde --student`` commands run concurrently;
* and, as the positive controls that show the sniffer works, the same two
  commands with the sniffer's isolation off (``--TrustedExecute.isolate=False``,
  the sandbox as it was when issue 18 was filed) and with no sandbox at all.

The isolated runs must receive 0 messages, the controls more than 0.
"""

from __future__ import annotations

import datetime
import re
import shutil
import textwrap
import threading
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from coursekit.pipeline import engine as par
from coursekit import release as rel
from coursekit import course as ck
from coursekit.grading import sandbox
from coursekit.classes import attacks

pytestmark = [pytest.mark.pipeline, pytest.mark.slow, pytest.mark.timeout(1200),
              pytest.mark.skipif(sandbox.unavailable_reason() is not None,
                                 reason=f"no sandbox here: {sandbox.unavailable_reason()}")]

ASSIGNMENT = ck.ASSIGNMENT_ID
NOTEBOOK = "01_spy.ipynb"
#: Seconds the sniffer listens and the victim talks (the victim a little longer).
WINDOW = 20

#: The sample class's sniffer (:func:`coursekit.classes.attacks.sniffer_code`), then a right answer.
SNIFFER = attacks.sniffer_code(WINDOW) + "answer = 42\n"

VICTIM = textwrap.dedent(f"""\
    import time
    answer = 42
    for i in range({(WINDOW + 25) * 10}):
        print("the classmate's secret line", i, flush=True)
        time.sleep(0.1)
    """)


def _meta(grade_id, **kw):
    return {"nbgrader": {"grade_id": grade_id, "schema_version": 3, "grade": False, "solution": False,
                         "locked": False, "task": False, **kw}}


def _instructor_notebook(answer: str = "answer = 42\n") -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        new_code_cell("import numpy as np\n", metadata=_meta("setup", locked=True)),
        new_code_cell(answer, metadata=_meta("answer", solution=True)),
        new_code_cell("assert answer == 42, 'answer should be 42'\n",
                      metadata=_meta("test_answer", grade=True, locked=True, points=1)),
    ]
    return nb


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A one-notebook course with the two submissions, generated and in the gradebook."""
    from nbgrader.api import Gradebook

    tmp = tmp_path_factory.mktemp("isolation")
    src = tmp / "src"
    src.mkdir()
    nbformat.write(_instructor_notebook(), src / NOTEBOOK)
    root = rel.make_course(tmp / "base", src)
    ck.run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"], root, timeout=300)
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", "synapses-course") as gb:
        gb.update_or_create_assignment(ASSIGNMENT, duedate=datetime.datetime(2030, 3, 1, 12, 0))
    for student, answer in (("sniffer", SNIFFER), ("victim", VICTIM)):
        dest = root / "submitted" / student / ASSIGNMENT
        dest.mkdir(parents=True)
        nbformat.write(_instructor_notebook(answer), dest / NOTEBOOK)
    return root


def _copy(course: Path, dest: Path) -> Path:
    shutil.copytree(course, dest)
    return dest


def _sniffed(root: Path) -> tuple[int, str]:
    """What the sniffer's autograded notebook says it received: (messages, its line)."""
    nb = nbformat.read(root / "autograded" / "sniffer" / ASSIGNMENT / NOTEBOOK, as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    match = re.search(r"SNIFFED (\d+) messages.*", text)
    assert match, f"the sniffer did not report (its outputs: {text[-2000:]!r})"
    return int(match.group(1)), match.group(0)


def _concurrently(root_a: Path, root_b: Path, args_a=(), args_b=()) -> None:
    """``nbgrader autograde`` of the sniffer (in ``root_a``) and the victim (``root_b``) at the same time."""
    errors = []

    def run(root, student, extra):
        try:
            ck.run_nbgrader(["autograde", ASSIGNMENT, "--student", student, "--force", *extra], root, timeout=600)
        except Exception as exc:  # noqa: BLE001 (re-raised below, in the test's thread)
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(root_a, "sniffer", args_a)),
               threading.Thread(target=run, args=(root_b, "victim", args_b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_the_parallel_engine_keeps_the_sniffer_out(course, tmp_path):
    root = _copy(course, tmp_path / "course")
    outcomes = par.autograde(root, ["sniffer", "victim"], workers=2, timeout=600)
    assert all(o.ok for o in outcomes.values()), outcomes
    count, line = _sniffed(root)
    print(f"make grade's parallel engine, 2 workers: {line}")
    assert count == 0, line


def test_two_concurrent_nbgrader_autogrades_keep_the_sniffer_out(course, tmp_path):
    a, b = _copy(course, tmp_path / "a"), _copy(course, tmp_path / "b")
    _concurrently(a, b)
    count, line = _sniffed(a)
    print(f"two plain nbgrader autograde at once: {line}")
    assert count == 0, line


NO_ISOLATION = ("--TrustedExecute.isolate=False",)
NO_SANDBOX = ("--TrustedExecute.sandbox=False", "--TrustedExecute.allow_unsandboxed=True")


@pytest.mark.parametrize("sniffer_args, victim_args", [
    pytest.param(NO_ISOLATION, NO_ISOLATION, id="sandbox-without-isolation"),
    pytest.param(NO_SANDBOX, (), id="no-sandbox"),
])
def test_positive_control_the_sniffer_works_without_isolation(course, tmp_path, sniffer_args, victim_args):
    """The same submission receives the classmate's messages once its own confinement is taken away.

    The victim keeps its isolation in the no-sandbox control (root bypasses it);
    without isolation on both sides is the state of the sandbox when issue 18 was filed.
    """
    a, b = _copy(course, tmp_path / "a"), _copy(course, tmp_path / "b")
    _concurrently(a, b, sniffer_args, victim_args)
    count, line = _sniffed(a)
    print(f"control {sniffer_args}: {line}")
    assert count > 0, line
