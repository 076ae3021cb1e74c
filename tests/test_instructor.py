"""The instructor pipeline (``python -m coursekit grade``, ``make grade``).

Fast tests at the top check the reasons, the table, the metadata repair, the
hung-cell finder and the preprocessor list without running nbgrader.

The ``pipeline`` / ``slow`` tests run :func:`coursekit.pipeline.phases.grade`
once, with 2 workers, on a throw-away copy of the course (all notebooks of
``source/``, ``cell_timeout=10`` s) and a reduced sample class:

* ``sample-complete``: the two fast notebooks (04, 05), right, through the
  exchange;
* ``sample-errata``: every notebook, the lecture's errata (feedback with a
  failed test in every notebook);
* ``sample-ignores-interrupt``, ``sample-kernel-dies``,
  ``sample-deleted-cells``, ``sample-stripped-metadata``: one notebook each,
  the others not submitted.

A real student (``alice``, not ``sample-``) with a submission, a gradebook row
and an exchange submission is in the course before the run and must come out
untouched.
"""

from __future__ import annotations

import csv
import hashlib
import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from coursekit.pipeline import checks
from coursekit.grading import causes
from coursekit.pipeline import steps
from coursekit.settings import CourseSettings, read_settings
from coursekit import processes
from coursekit import release as rel
from coursekit import course as ck
from coursekit.pipeline import phases as pl
from coursekit.pipeline import report as rep
from coursekit.pipeline import rescue as rsc
from coursekit.classes import edits
from coursekit.classes import sample as sc
from test_pipeline import hidden_test_lines

ASSIGNMENT = ck.ASSIGNMENT_ID
NOTEBOOKS = rel.notebook_names(ck.SOURCE_DIR)
NB_IDS = [n.removesuffix(".ipynb") for n in NOTEBOOKS]
#: Cell time limit (s) of the test run: the Ctrl-C-proof loop costs this + nbclient's 10 s.
CELL_TIMEOUT = 10
HIDDEN_BEGIN, HIDDEN_END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"


def _meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def _test_cell(source="assert True", gid="t1", points=1):
    return nbformat.v4.new_code_cell(source, metadata={"nbgrader": {
        "grade": True, "solution": False, "locked": True, "grade_id": gid, "points": points,
        "schema_version": 3}})


def _answer_cell(source="x = 1", gid="a1"):
    return nbformat.v4.new_code_cell(source, metadata={"nbgrader": {
        "grade": False, "solution": True, "locked": False, "grade_id": gid, "schema_version": 3}})


def _error(ename, evalue, tb=None):
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=tb or [f"{ename}: {evalue}"])


# ============================================================================ fast: reasons
@pytest.mark.parametrize("output, expected", [
    (_error("GradingError", "peak of g is 0.37 nS at t = 5 ms; it should equal g_peak"),
     "peak of g is 0.37 nS at t = 5 ms; it should equal g_peak"),
    (_error("NotImplementedError", "return g_peak * exp(-t/tau)"), "NotImplementedError: return g_peak * exp(-t/tau)"),
    (_error("CellTimeoutError", ""), "cell timed out (no reply within 180 s; the grader interrupted it)"),
    (_error(causes.KERNEL_DIED, "the kernel died"), "kernel died in this cell: the kernel died"),
    (_error(causes.KERNEL_STUCK, "ignored it"), "this cell hung the kernel: ignored it"),
    (_error("NameError", "name 'x' is not defined"), "NameError: name 'x' is not defined"),
    (nbformat.v4.new_output("stream", name="stderr", text="RuntimeWarning: overflow\nmore"),
     "wrote to stderr (nbgrader scores that 0): RuntimeWarning: overflow"),
])
def test_cell_reason_is_one_readable_line(output, expected):
    cell = _test_cell()
    cell.outputs = [output]
    assert rep.cell_reason(cell, 180) == expected


def test_cell_reason_takes_the_last_error_and_fits_on_one_line():
    cell = _test_cell()
    cell.outputs = [_error("ValueError", "first"), _error("GradingError", "second sentence\nwith a break " + "x" * 400)]
    reason = rep.cell_reason(cell)
    assert reason.startswith("second sentence with a break")
    assert "\n" not in reason and len(reason) <= rep.REASON_WIDTH and reason.endswith("...")


def test_notebook_events_name_the_cell():
    loop, died, noisy = _answer_cell(gid="loop"), _answer_cell(gid="died"), _answer_cell(gid="noisy")
    loop.outputs = [_error("CellTimeoutError", "")]
    died.outputs = [_error(causes.KERNEL_DIED, "x")]
    noisy.outputs = [nbformat.v4.new_output("stream", name="stdout", text="a\n... Output truncated ...")]
    nb = nbformat.v4.new_notebook(cells=[loop, died, noisy])
    events = rep.notebook_events(nb, 30)
    assert events == ["cell loop timed out after 30 s and was interrupted",
                      "the kernel died in cell died; the grader restarted it",
                      "output of cell noisy truncated to nbgrader's 1000 lines"]


def test_inspect_submission_reports_what_the_student_changed():
    setup = nbformat.v4.new_code_cell("import numpy as np", metadata={"nbgrader": {
        "grade": False, "solution": False, "locked": True, "grade_id": "setup", "schema_version": 3}})
    released = nbformat.v4.new_notebook(cells=[setup, _answer_cell(gid="a1"), _test_cell(gid="t1"),
                                               _answer_cell(gid="a2"), _test_cell(gid="t2")])
    for i, c in enumerate(released.cells):
        c.id = f"c{i}"
    sub = nbformat.from_dict(nbformat.reads(nbformat.writes(released), as_version=4))
    sub.cells[0].source += "\nnp = None"
    del sub.cells[2].metadata["nbgrader"]          # stripped
    del sub.cells[3].metadata["nbgrader"]["grade_id"]  # damaged
    del sub.cells[4]                                # deleted
    notes = rep.inspect_submission(sub, released)
    assert "deleted cells: t2" in notes
    assert "nbgrader metadata stripped from: t1" in notes
    assert any(n.startswith("damaged nbgrader metadata, cell 3") for n in notes)
    assert "edited read-only cells (nbgrader restores them): setup" in notes


def test_format_table_shows_scores_missing_and_totals():
    def res(student, nb, score, submitted=True):
        r = rep.NotebookResult(student, nb, submitted, submitted)
        r.cells = [rep.CellResult("t", score, 2.0, False, False), rep.CellResult("w", None, 1.0, True, True)]
        return r
    results = {"ann": {"01_x": res("ann", "01_x", 2.0), "02_y": res("ann", "02_y", 0.0, submitted=False)}}
    table = rep.format_table(results, ["01_x", "02_y"])
    row = next(line for line in table.splitlines() if line.startswith("ann"))
    assert row.split() == ["ann", "2/2", "missing", "2/4", "+2", "written"]
    assert "01 = 01_x" in table


# ============================================================================ fast: rescue pieces
def _released_pair():
    released = nbformat.v4.new_notebook(cells=[_answer_cell(gid="a1"), _test_cell(gid="t1"),
                                               _answer_cell("y = 2", gid="a2"), _test_cell("assert y", gid="t2")])
    for i, c in enumerate(released.cells):
        c.id = f"c{i}"
    return released, nbformat.from_dict(nbformat.reads(nbformat.writes(released), as_version=4))


def test_repair_restores_damaged_and_stripped_metadata_and_keeps_sources():
    released, sub = _released_pair()
    sub.cells[0].source = "x = 41  # the student's answer"
    del sub.cells[0].metadata["nbgrader"]["grade_id"]
    del sub.cells[3].metadata["nbgrader"]
    repaired, notes = rsc.repair_notebook(sub, released)
    assert rsc.metadata_problems(sub) and not rsc.metadata_problems(repaired)
    assert [_meta(c) for c in repaired.cells] == [_meta(c) for c in released.cells]
    assert [c.source for c in repaired.cells] == [c.source for c in sub.cells]
    assert "grade_id" not in sub.cells[0].metadata["nbgrader"], "the submission itself must not change"
    assert len(notes) == 2


def test_repair_keeps_the_first_of_repeated_grade_ids():
    released, sub = _released_pair()
    copy_cell = nbformat.from_dict(dict(sub.cells[0]))
    copy_cell.id = "pasted"
    sub.cells.insert(1, copy_cell)
    assert any("repeats grade id a1" in p for p in rsc.metadata_problems(sub))
    repaired, _ = rsc.repair_notebook(sub, released)
    assert [_meta(c).get("grade_id") for c in repaired.cells] == ["a1", None, "t1", "a2", "t2"]
    assert not rsc.metadata_problems(repaired)


def test_missing_grade_cells_lists_deleted_tests():
    released, sub = _released_pair()
    del sub.cells[3]
    assert rsc.missing_grade_cells(sub, released) == ["t2"]


def test_hung_cell_digests_uses_nbclients_preview():
    from nbclient.exceptions import CellTimeoutError

    hung = _answer_cell("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass")
    other = _answer_cell("x = 1")
    long_cell = _answer_cell("\n".join(f"line_{i} = {i}" for i in range(30)))
    message = str(CellTimeoutError.error_from_timeout_and_cell("Timeout waiting for IOPub output", 10, hung))
    log = "[AutogradeApp | ERROR] Traceback\n" + "\n".join("    " + line for line in message.splitlines())
    assert rsc.hung_cell_digests(log, [other, hung, long_cell]) == [rsc.source_digest(hung.source)]
    assert rsc.hung_cell_digests(log.replace("IOPub", "reply"), [hung]) == []
    message = str(CellTimeoutError.error_from_timeout_and_cell("Timeout waiting for IOPub output", 10, long_cell))
    assert rsc.hung_cell_digests(message, [other, hung, long_cell]) == [rsc.source_digest(long_cell.source)]


def test_rescue_preprocessors_replace_only_execute():
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute

    from coursekit.settings import describe_preprocessors

    default = list(Autograde.class_traits()["autograde_preprocessors"].default())
    names = steps.autograde_preprocessors(describe_preprocessors(default), "rescue")
    assert names[default.index(Execute)] == "coursekit.grading.execute.TrustedExecute"
    assert [n for i, n in enumerate(names) if default[i] is not Execute] == \
        [f"{p.__module__}.{p.__qualname__}" for p in default if p is not Execute]
    assert steps.autograde_preprocessors(describe_preprocessors(names), "rescue") == names  # the course's list stays
    with pytest.raises(ValueError):
        steps.autograde_preprocessors(describe_preprocessors(default[1:]), "rescue")


def test_settings_come_from_the_course_config():
    s = read_settings(ck.REPO_ROOT)
    assert s.db_url == f"sqlite:///{ck.REPO_ROOT / 'gradebook.db'}"
    assert s.course_id == "synapses-course"
    assert s.exchange_root == ck.REPO_ROOT / "exchange"
    assert s.cell_timeout and s.cell_timeout >= 60


def test_generated_paths_are_ignored_by_git():
    paths = ["gradebook.db", "grades.csv", "submitted/sample-x/synapses/a.ipynb",
             "autograded/sample-x/synapses/a.ipynb", "feedback/sample-x/synapses/a.html",
             "exchange/synapses-course/inbound/x"]
    proc = subprocess.run(["git", "check-ignore", *paths], cwd=ck.REPO_ROOT, capture_output=True, text=True)
    assert sorted(proc.stdout.split()) == sorted(paths), proc.stderr


def test_cli_help_and_bad_workers():
    from coursekit.__main__ import main

    assert main(["grade", "--workers", "0"]) == 2
    proc = subprocess.run([sys.executable, "-m", "coursekit", "grade", "--help"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    for option in ("--workers", "--scheduler", "--student", "--cell-timeout", "--no-release", "--allow-unsandboxed"):
        assert option in proc.stdout


def test_grading_refuses_without_a_sandbox_unless_told(tmp_path, monkeypatch, capsys):
    from coursekit.grading import sandbox
    from coursekit.__main__ import main
    from coursekit.grading.execute import SandboxRefused

    monkeypatch.setattr(sandbox, "unavailable_reason", lambda: "Landlock is not enabled in this kernel")
    with pytest.raises(SandboxRefused, match="Landlock is not enabled in this kernel.*--allow-unsandboxed"):
        pl.grade(tmp_path, students=["ann"])
    assert main(["grade", "--course", str(tmp_path), "--student", "ann"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("refusing to grade"), err
    # with the opt-out it goes on (and stops later, for want of a course) ...
    with pytest.raises(Exception) as info:
        pl.grade(tmp_path, students=["ann"], allow_unsandboxed=True)
    assert not isinstance(info.value, SandboxRefused)
    # ... and every nbgrader command of the run carries it
    settings = CourseSettings(tmp_path, "sqlite://", "c", tmp_path, 60.0, [], allow_unsandboxed=True,
                                 scratch_dir="/tmp/run")
    assert settings.execute_args == ["--Execute.timeout=60", "--TrustedExecute.scratch_dir=/tmp/run",
                                     "--TrustedExecute.allow_unsandboxed=True"]


def test_grading_named_students_needs_their_folders(tmp_path):
    root = rel.make_course(tmp_path / "course")
    with pytest.raises(FileNotFoundError, match="submitted/nobody/synapses"):
        pl.grade(root, students=["nobody"], regenerate=False, out=lambda line: None)


# ============================================================================ the pipeline run
def _hidden_literals(nb, released) -> set[str]:
    """Long numeric literals of the hidden tests (expected values) not also in the released notebook."""
    text = "\n".join(c.source for c in nb.cells)
    hidden = "\n".join(re.findall(rf"{HIDDEN_BEGIN}(.*?){HIDDEN_END}", text, flags=re.S))
    shown = "\n".join(c.source for c in released.cells)
    found = set(re.findall(r"\d+\.\d{5,}(?:e-?\d+)?", hidden))
    return {x for x in found if x not in shown}


def _page_text(path: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


def _page_lines(path: Path) -> set[str]:
    gutter = re.compile(r"^(?:-*>\s*)?\d+\s+")
    out = set()
    for line in _page_text(path).splitlines():
        line = line.strip()
        out.add(line)
        out.add(gutter.sub("", line).strip())
    return out


def _cell_chunks(path: Path) -> dict[str, str]:
    """Cell id -> the text of that cell's block in an nbconvert HTML page."""
    raw = path.read_text(encoding="utf-8")
    marks = list(re.finditer(r'<div class="cell\b[^"]*" id="cell-id=([^"]+)"', raw))
    out = {}
    for m, nxt in zip(marks, marks[1:] + [None]):
        block = raw[m.start(): nxt.start() if nxt else len(raw)]
        out[m.group(1)] = html.unescape(re.sub(r"<[^>]+>", "", block))
    return out


def _index(name: str) -> int:
    return NOTEBOOKS.index(name)


def _only(name: str, *edits: sc.Edit) -> tuple[sc.Edit, ...]:
    """The edits plus: every notebook but ``name`` not submitted."""
    return tuple(edits) + tuple(sc.Edit("omit_notebook", i) for i in range(len(NOTEBOOKS)) if NOTEBOOKS[i] != name)


def _pick(*wanted: str) -> list[str]:
    present = [n for n in wanted if n in NOTEBOOKS]
    return present + [n for n in NOTEBOOKS if n not in present][: max(0, len(wanted) - len(present))]


FAST_A, FAST_B = _pick("04_saturation.ipynb", "05_shunting.ipynb")[:2] if len(NOTEBOOKS) >= 2 else (None, None)


def _reduced_class() -> list[sc.SampleStudent]:
    keep = {FAST_A, FAST_B}
    omit_others = tuple(sc.Edit("omit_notebook", i) for i, n in enumerate(NOTEBOOKS) if n not in keep)
    return [
        sc.SampleStudent("sample-complete", "right, via the exchange", edits=omit_others, via_exchange=True),
        sc.SampleStudent("sample-errata", "the lecture's errata", answers="errata"),
        sc.SampleStudent("sample-ignores-interrupt", "SIGINT ignored",
                         edits=_only(FAST_B, sc.Edit("ignores_interrupt", _index(FAST_B)))),
        sc.SampleStudent("sample-kernel-dies", "os._exit", edits=_only(FAST_A, sc.Edit("kernel_dies", _index(FAST_A)))),
        sc.SampleStudent("sample-deleted-cells", "deleted cells", edits=_only(
            FAST_A, sc.Edit("delete_answer", _index(FAST_A)), sc.Edit("delete_test", _index(FAST_A)),
            sc.Edit("edit_readonly", _index(FAST_A)))),
        sc.SampleStudent("sample-stripped-metadata", "stripped metadata", edits=_only(
            FAST_B, sc.Edit("strip_metadata", _index(FAST_B)), sc.Edit("damage_metadata", _index(FAST_B)))),
    ]


def _tree_digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One pipeline run on a throw-away course with a reduced class and a real student."""
    if len(NOTEBOOKS) < 2:
        pytest.skip("the pipeline tests need two notebooks")
    root = rel.make_course(tmp_path_factory.mktemp("instructor") / "course")
    # a real student, who must come out untouched
    ck.run_nbgrader(["db", "student", "add", "alice", "--first-name=Alice", "--last-name=Real"], root, timeout=120)
    alice = root / "submitted" / "alice" / ASSIGNMENT
    alice.mkdir(parents=True)
    shutil.copy(ck.RELEASE_DIR / FAST_A, alice / FAST_A)
    (alice / "timestamp.txt").write_text("2025-01-01 10:00:00.000000 UTC")
    inbound = root / "exchange" / "synapses-course" / "inbound" / f"alice+{ASSIGNMENT}+2025-01-01 10:00:00.000000 UTC+x"
    inbound.mkdir(parents=True)
    (inbound / FAST_A).write_text("{}")
    alice_before = _tree_digest(alice) | {"inbound": str(sorted(os.listdir(inbound)))}

    lines: list[str] = []
    run = pl.grade(root, workers=2, sample_class=_reduced_class(), out=lines.append, cell_timeout=CELL_TIMEOUT)
    alice_after = _tree_digest(alice) | {"inbound": str(sorted(os.listdir(inbound))) if inbound.is_dir() else "gone"}
    return SimpleNamespace(root=root, run=run, out="\n".join(lines), alice=(alice_before, alice_after))




@pytest.mark.pipeline
@pytest.mark.slow
def test_every_student_has_a_row_and_scored_as_declared(graded):
    run = graded.run
    assert run.students == [s.id for s in _reduced_class()]
    assert set(run.results) == set(run.students)
    for s in run.students:
        assert list(run.results[s]) == NB_IDS
    assert run.mismatches == [], "\n".join(run.mismatches)
    assert run.problems == [], run.problems
    assert run.ok
    complete = run.results["sample-complete"]
    for nb in (FAST_A, FAST_B):
        r = complete[nb.removesuffix(".ipynb")]
        assert r.max_score > 0 and r.score == r.max_score


@pytest.mark.pipeline
@pytest.mark.slow
def test_nbgrader_fails_these_students_and_the_rescue_grades_them(graded):
    """The nbgrader walls are real (first pass fails), and every notebook is graded after the rescue."""
    run = graded.run
    for s in ("sample-ignores-interrupt", "sample-kernel-dies", "sample-stripped-metadata"):
        assert not run.outcomes[s].ok, f"nbgrader graded {s} on its own: is the rescue still needed?"
    for s in ("sample-complete", "sample-errata", "sample-deleted-cells"):
        assert run.outcomes[s].ok, run.outcomes[s].log_tail
    rescued = {r.student: r for r in run.rescues}
    assert set(rescued) == {"sample-ignores-interrupt", "sample-kernel-dies", "sample-stripped-metadata",
                            "sample-deleted-cells"}
    assert all(r.ok for r in rescued.values()), [(r.student, r.log_tail[-1500:]) for r in rescued.values()]
    assert run.zeroed == []
    b = FAST_B.removesuffix(".ipynb")
    assert any("not run again" in x for x in rescued["sample-ignores-interrupt"].repairs[b]), \
        "the Ctrl-C-proof cell was run (and waited for) a second time"
    assert rescued["sample-ignores-interrupt"].seconds < CELL_TIMEOUT + 60
    # the cell time limit reached the autograde engine (the course config says 180 s)
    assert run.outcomes["sample-ignores-interrupt"].seconds < 150
    assert f"cell time limit {CELL_TIMEOUT:g} s for this run" in graded.out


@pytest.mark.pipeline
@pytest.mark.slow
def test_every_cell_that_can_be_graded_is_graded_in_the_gradebook(graded):
    from nbgrader.api import Gradebook

    run = graded.run
    settings = read_settings(graded.root)
    with Gradebook(settings.db_url, settings.course_id) as gb:
        for s in run.students:
            for nb_id in NB_IDS:
                nb = gb.find_notebook(nb_id, ASSIGNMENT)
                written = {c.name for c in nb.solution_cells}
                sub = gb.find_submission_notebook(nb_id, ASSIGNMENT, s)
                grades = {g.name: g for g in sub.grades}
                assert set(grades) == {c.name for c in nb.grade_cells}
                for name, g in grades.items():
                    if name not in written:
                        assert g.auto_score is not None, f"{s} {nb_id} {name} has no score"
                        assert not g.needs_manual_grade, f"{s} {nb_id} {name} was left for manual grading"


@pytest.mark.pipeline
@pytest.mark.slow
def test_broken_cells_score_zero_with_a_readable_reason(graded):
    res = graded.run.results
    a, b = FAST_A.removesuffix(".ipynb"), FAST_B.removesuffix(".ipynb")

    def zeros(s, nb):
        return {c.grade_id: c.reason for c in res[s][nb].tests if c.score == 0}

    for s, nb, event in (("sample-kernel-dies", a, "kernel died"),
                         ("sample-ignores-interrupt", b, "ignored the interrupt")):
        assert any(event in e for e in res[s][nb].events), res[s][nb].events
        z = zeros(s, nb)
        assert len(z) == 1 and all("is not defined" in reason for reason in z.values()), z
    missing = zeros("sample-kernel-dies", b)
    assert missing and all(reason == "notebook missing: not submitted" for reason in missing.values())
    for s in graded.run.students:
        for nb in NB_IDS:
            for c in res[s][nb].tests:
                if c.score == 0 and c.max_score > 0:
                    assert c.reason and "\n" not in c.reason, (s, nb, c)
    errata = zeros("sample-errata", a)
    assert errata and not any(r.startswith(("not graded", "scored 0 without")) for r in errata.values()), errata
    assert "Why points were lost" in graded.out and "sample-kernel-dies" in graded.out


@pytest.mark.pipeline
@pytest.mark.slow
def test_the_deleted_test_cell_is_graded_and_the_read_only_edit_undone(graded):
    a = FAST_A.removesuffix(".ipynb")
    nb = nbformat.read(graded.root / "autograded" / "sample-deleted-cells" / ASSIGNMENT / FAST_A, as_version=4)
    released = nbformat.read(graded.root / "release" / ASSIGNMENT / FAST_A, as_version=4)
    tests = [c for c in released.cells if edits._is_test(c)]
    deleted = _meta(tests[1])["grade_id"]
    assert deleted in {_meta(c).get("grade_id") for c in nb.cells}, "the deleted test cell was not re-added"
    setup = next(c for c in nb.cells if _meta(c).get("grade_id") == "setup")
    assert "np = None" not in setup.source
    scores = {c.grade_id: c.score for c in graded.run.results["sample-deleted-cells"][a].tests}
    assert scores[deleted] == next(c.max_score for c in graded.run.results["sample-deleted-cells"][a].tests
                                   if c.grade_id == deleted)


@pytest.mark.pipeline
@pytest.mark.slow
def test_submissions_are_untouched_and_real_students_left_alone(graded):
    run = graded.run
    assert run.submitted_before == run.submitted_after == checks.hash_tree(graded.root / "submitted")
    before, after = graded.alice
    assert before == after, "the real student's files changed"
    from nbgrader.api import Gradebook

    settings = read_settings(graded.root)
    with Gradebook(settings.db_url, settings.course_id) as gb:
        assert gb.find_student("alice").first_name == "Alice"
    # the pathology is still in the submission (the rescue graded a repaired copy elsewhere)
    sub = nbformat.read(graded.root / "submitted" / "sample-stripped-metadata" / ASSIGNMENT / FAST_B, as_version=4)
    assert rsc.metadata_problems(sub)
    sub = nbformat.read(graded.root / "submitted" / "sample-kernel-dies" / ASSIGNMENT / FAST_A, as_version=4)
    assert any("os._exit(1)" in c.source for c in sub.cells)


@pytest.mark.pipeline
@pytest.mark.slow
def test_no_process_of_the_run_is_left(graded):
    assert graded.run.leftover_pids == []
    assert processes.tagged(pl.RUN_TAG, graded.run.tag) == []


@pytest.mark.pipeline
@pytest.mark.slow
def test_exchange_student_and_grades_csv(graded):
    root = graded.root
    collected = root / "submitted" / "sample-complete" / ASSIGNMENT
    assert sorted(p.name for p in collected.glob("*.ipynb")) == sorted([FAST_A, FAST_B])
    assert (collected / "timestamp.txt").is_file()
    inbound = root / "exchange" / "synapses-course" / "inbound"
    assert any(p.name.startswith(f"sample-complete+{ASSIGNMENT}+") for p in inbound.iterdir())
    with open(root / "grades.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    ids = {r["student_id"] for r in rows}
    assert set(graded.run.students) | {"alice"} <= ids
    assert "grades.csv" in graded.out and "feedback" in graded.out


@pytest.mark.pipeline
@pytest.mark.slow
def test_feedback_for_every_graded_notebook(graded):
    run = graded.run
    for s in run.students:
        for nb in NB_IDS:
            page = graded.root / "feedback" / s / ASSIGNMENT / f"{nb}.html"
            assert page.is_file() == run.results[s][nb].submitted, page


@pytest.mark.pipeline
@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_feedback_hides_hidden_tests_and_expected_values(graded, name):
    source = nbformat.read(graded.root / "source" / ASSIGNMENT / name, as_version=4)
    released = nbformat.read(graded.root / "release" / ASSIGNMENT / name, as_version=4)
    hidden, literals = hidden_test_lines(source), _hidden_literals(source, released)
    assert hidden, f"{name} has no hidden tests?"
    pages = sorted((graded.root / "feedback").glob(f"*/{ASSIGNMENT}/{name.removesuffix('.ipynb')}.html"))
    assert pages
    test_ids = [c.get("id") for c in released.cells if edits._is_test(c)]
    for page in pages:
        shown, text = _page_lines(page), _page_text(page)
        leaked = sorted(hidden & shown)
        assert not leaked, f"{page}: hidden-test lines shown: {leaked[:3]}"
        values = sorted(x for x in literals if x in text)
        assert not values, f"{page}: expected values of hidden tests shown: {values[:3]}"
        chunks = _cell_chunks(page)
        for cid in test_ids:
            if cid in chunks:  # a test cell's output is its one-line message, never a traceback
                assert "Traceback (most recent call last)" not in chunks[cid], (page, cid)
                assert "helpers/grading.py" not in chunks[cid] and "Cell In[" not in chunks[cid], (page, cid)


@pytest.mark.pipeline
@pytest.mark.slow
def test_misconception_markers_reach_the_instructor_not_the_student(graded):
    """Failed test cells carry the grader's misconception marker; no feedback page shows it (issue 14)."""
    from coursekit.answers import misconceptions as mc
    marked = 0
    for page in sorted((graded.root / "feedback").glob(f"*/{ASSIGNMENT}/*.html")):
        student, nb_id = page.parts[-3], page.stem
        graded_nb = nbformat.read(graded.root / "autograded" / student / ASSIGNMENT / f"{nb_id}.ipynb", as_version=4)
        html = page.read_text()
        assert mc.MIME_TYPE not in html, page
        for cell in graded_nb.cells:
            ident = mc.cell_misconception(cell) if edits._is_test(cell) else None
            if ident and any(mc.is_marker(o) for o in cell.outputs):
                marked += 1
                if "-" in ident:  # "other" is an ordinary word
                    assert ident not in html, (page, ident)
    assert marked, "no failed test cell carries a misconception marker"


@pytest.mark.pipeline
@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_feedback_gives_the_one_sentence_message_per_failed_test(graded, name):
    nb_id = name.removesuffix(".ipynb")
    graded_nb = nbformat.read(graded.root / "autograded" / "sample-errata" / ASSIGNMENT / name, as_version=4)
    page = graded.root / "feedback" / "sample-errata" / ASSIGNMENT / f"{nb_id}.html"
    chunks = _cell_chunks(page)
    failed = 0
    for cell in graded_nb.cells:
        if not edits._is_test(cell):
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if not errors:
            continue
        failed += 1
        message = f"{errors[-1].ename}: {errors[-1].evalue}"
        assert errors[-1].ename == "GradingError", message
        assert "\n" not in errors[-1].evalue.strip()
        text = " ".join(chunks[cell.id].split())
        assert " ".join(message.split()) in text, f"{page} lacks {message!r} in cell {cell.id}"
    assert failed, f"the errata student failed no test in {name}"
