"""The hostile class: ``make grade`` with submissions that attack the grading itself.

Two runs of :func:`coursekit.pipeline.phases.grade` (2 workers, 10 s cells) on
throw-away copies of the course, restricted to the two fast notebooks (04, 05):

* **base**: ``sample-complete`` (right, through the exchange) and
  ``sample-errata``;
* **hostile**: the same two plus the hostile students of
  :data:`coursekit.classes.sample.SAMPLE_CLASS`, each pointed at the
  fast notebooks: the one-line input transformer, the other kernel hooks,
  writes into ``helpers/``, the course, the gradebook and a classmate's folder,
  reading a classmate's submission and the source notebooks, a fork bomb, a
  memory hog, a disk filler, network connections and a child process meant to
  outlive grading; and issue 18's sniffer of classmates' kernel sockets, a cell
  printing 1 GiB, a function returning 600 MiB and a right function that sleeps
  8 s per call.

Each hostile student must score exactly what it earned (0 for what it tried to
forge), the base students' gradebook rows must be identical in both runs, no
file of the course repository or of the ``helpers`` package may change, and no
process may be left.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from coursekit.pipeline import checks
from coursekit import processes
from coursekit import release as rel
from coursekit import course as ck
from coursekit.pipeline import phases as pl
from coursekit.classes import attacks
from coursekit.classes import sample as sc

NOTEBOOKS = rel.notebook_names(ck.SOURCE_DIR)
FAST = [n for n in ("04_saturation.ipynb", "05_shunting.ipynb") if n in NOTEBOOKS]
pytestmark = [pytest.mark.pipeline, pytest.mark.slow, pytest.mark.timeout(1800),
              pytest.mark.skipif(len(FAST) < 2, reason="needs notebooks 04 and 05")]


def _i(name: str) -> int:
    return NOTEBOOKS.index(name)


def _fast_only(*edits: sc.Edit) -> tuple[sc.Edit, ...]:
    return tuple(edits) + tuple(sc.Edit("omit_notebook", i) for i, n in enumerate(NOTEBOOKS) if n not in FAST)


def base_class() -> list[sc.SampleStudent]:
    return [
        sc.SampleStudent("sample-complete", "right, via the exchange", edits=_fast_only(), via_exchange=True),
        sc.SampleStudent("sample-errata", "the lecture's errata", answers="errata", edits=_fast_only()),
    ]


def hostile_class() -> list[sc.SampleStudent]:
    a, b = _i(FAST[0]), _i(FAST[1])
    return [
        sc.SampleStudent("sample-transformer", "input transformer", answers="blank",
                         edits=_fast_only(sc.Edit("transformer"))),
        sc.SampleStudent("sample-kernel-hooks", "kernel hooks", answers="errata",
                         edits=_fast_only(sc.Edit("kernel_hooks"))),
        sc.SampleStudent("sample-intruder", "writes outside", edits=_fast_only(sc.Edit("write_outside", a))),
        sc.SampleStudent("sample-copycat", "copies a classmate", answers="blank",
                         edits=_fast_only(sc.Edit("copy_classmate", a))),
        sc.SampleStudent("sample-reexport", "re-exports the references", edits=_fast_only(sc.Edit("reexport"))),
        sc.SampleStudent("sample-resources", "fork bomb, memory hog, network, child process, disk filler",
                         edits=_fast_only(sc.Edit("fork_bomb", b), sc.Edit("memory_hog", b), sc.Edit("network", b),
                                          sc.Edit("child_process", b), sc.Edit("disk_filler", a))),
        # issue 18: what the grader bounds, and the classmate it keeps out of reach
        sc.SampleStudent("sample-sniffer", "sniffs classmates' kernels", edits=_fast_only(sc.Edit("sniffer", a))),
        sc.SampleStudent("sample-output-flood", "prints 1 GiB", edits=_fast_only(sc.Edit("output_flood", b))),
        sc.SampleStudent("sample-string-flood", "a 600 MiB string", edits=_fast_only(sc.Edit("string_flood", b))),
        sc.SampleStudent("sample-slow-caller", "8 s per call", edits=_fast_only(sc.Edit("slow_caller", a))),
    ]


def _run(tmp_path_factory, name: str, students: list[sc.SampleStudent]):
    root = rel.make_course(tmp_path_factory.mktemp(name) / "course")
    lines: list[str] = []
    run = pl.grade(root, workers=2, sample_class=students, out=lines.append, cell_timeout=10)
    return SimpleNamespace(root=root, run=run, out="\n".join(lines))


def _rows(run, students) -> dict:
    """(student, notebook, test cell) -> (score, max) for the given students."""
    return {(s, nb, c.grade_id): (c.score, c.max_score)
            for s in students for nb, r in run.results[s].items() for c in r.tests}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    import time
    started = time.time()
    base = _run(tmp_path_factory, "base", base_class())
    hostile = _run(tmp_path_factory, "hostile", base_class() + hostile_class())
    return SimpleNamespace(base=base, hostile=hostile, started=started)


def test_hostile_students_score_what_they_earned(runs):
    run = runs.hostile.run
    assert run.mismatches == [], "\n".join(run.mismatches)
    assert not run.problems, run.problems
    for s in ("sample-transformer", "sample-copycat"):
        scores = [c.score for r in run.results[s].values() if r.submitted for c in r.tests]
        assert scores and all(score == 0 for score in scores), (s, scores)
    # the attacks that only try to break out of the sandbox cost nothing where the answers are right
    scores = [(c.score, c.max_score) for r in run.results["sample-intruder"].values() if r.submitted
              for c in r.tests]
    assert scores and all(score == top for score, top in scores), scores


def test_every_other_students_rows_are_those_of_a_run_without_them(runs):
    students = [s.id for s in base_class()]
    assert _rows(runs.hostile.run, students) == _rows(runs.base.run, students)


def test_nothing_of_the_course_or_the_helpers_package_changed(runs):
    run = runs.hostile.run
    assert run.repository_before and run.repository_before == run.repository_after
    assert checks.repository_digest(runs.hostile.root) == run.repository_before
    assert run.submitted_before == run.submitted_after
    assert not (runs.hostile.root / "intruder.txt").exists()


def test_the_attacks_were_refused_inside_the_sandbox(runs):
    """The autograded copies show what each attack met (the student's own printout)."""
    root = runs.hostile.root
    text = {(s, path.name): _outputs(root, s, path.name)
            for s in ("sample-intruder", "sample-copycat", "sample-resources")
            for path in (root / "autograded" / s / ck.ASSIGNMENT_ID).glob("*.ipynb")}
    intruder = text[("sample-intruder", FAST[0])]
    assert "wrote" not in intruder and intruder.count("refused:") == 5, intruder
    assert "copied" not in text[("sample-copycat", FAST[0])]
    resources = text[("sample-resources", FAST[1])]
    for words in ("fork refused: PermissionError", "64 GiB refused: MemoryError", "child refused: PermissionError"):
        assert words in resources, resources
    assert resources.count("network refused:") == 3 and "connected" not in resources, resources


def test_no_process_is_left(runs):
    for r in (runs.base.run, runs.hostile.run):
        assert r.leftover_pids == []
        assert processes.tagged(pl.RUN_TAG, r.tag) == []


def test_no_scratch_folder_is_left(runs):
    """The sandboxes' scratch folders (with the disk filler's files) are gone with the run."""
    import tempfile
    from pathlib import Path
    left = [p for p in Path(tempfile.gettempdir()).glob("synapses-run-*") if p.stat().st_mtime >= runs.started]
    assert left == []


def _outputs(root, student: str, notebook: str) -> str:
    """The printed text of a student's autograded notebook (what their attacks met)."""
    import nbformat
    nb = nbformat.read(root / "autograded" / student / ck.ASSIGNMENT_ID / notebook, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []) if o.output_type == "stream")


def test_the_sniffer_receives_nothing_from_any_other_kernel(runs):
    text = _outputs(runs.hostile.root, "sample-sniffer", FAST[0])
    match = attacks.SNIFFED_LINE.search(text)
    assert match, text[-2000:]
    print(f"sample-sniffer under make grade (2 workers): {match.group(0)}")
    assert match.group(1) == "0" and match.group(2) == "0", match.group(0)


def test_floods_and_the_slow_caller_are_bounded(runs):
    """1 GiB printed: 1 MiB kept and the answers graded; 600 MiB and 8 s per call: that item only."""
    root = runs.hostile.root
    flood = root / "autograded" / "sample-output-flood" / ck.ASSIGNMENT_ID / FAST[1]
    assert flood.stat().st_size < 4 << 20, f"{flood.stat().st_size:,} bytes"
    text = _outputs(root, "sample-output-flood", FAST[1])
    assert "[output cut by the kernel: this cell printed more than 1 MiB]" in text
    reasons = {(s, c.grade_id): c.reason for s in ("sample-string-flood", "sample-slow-caller")
               for r in runs.hostile.run.results[s].values() if r.submitted for c in r.tests if c.score == 0}
    print("bounded:", reasons)
    slow = [why for (s, _), why in reasons.items() if s == "sample-slow-caller"]
    assert slow and all("longer than" in why for why in slow), reasons
    assert any(s == "sample-string-flood" for s, _ in reasons), reasons
