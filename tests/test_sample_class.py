"""The sample class (coursekit.classes.sample), built from the real notebooks without nbgrader.

Whether the built students score as declared is checked by the pipeline run
in tests/test_instructor.py (the errata student there submits every notebook).
"""

from __future__ import annotations

import ast
import importlib
import os
import sys

import nbformat
import pytest

from coursekit import release as rel
from coursekit import course as ck
from coursekit.classes import attacks
from coursekit.classes import edits
from coursekit.answers import tables
from coursekit.classes import sample as sc

NOTEBOOKS = rel.notebook_names(ck.SOURCE_DIR)
RELEASED = {n: nbformat.read(ck.RELEASE_DIR / n, as_version=4) for n in NOTEBOOKS}
SOURCES = {n: nbformat.read(ck.SOURCE_DIR / n, as_version=4) for n in NOTEBOOKS}
BY_ID = {s.id: s for s in sc.SAMPLE_CLASS}

pytestmark = pytest.mark.skipif(not NOTEBOOKS, reason="no notebooks in source/synapses")


def _meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def _gid(cell):
    return _meta(cell).get("grade_id")


def _tests(nb):
    return {_gid(c) for c in nb.cells if edits._is_test(c)}


def _answer_ids():
    return {_gid(c) for nb in SOURCES.values() for c in nb.cells if edits._is_answer(c)}


@pytest.fixture(scope="module")
def built():
    return {s.id: sc.build_student(s, RELEASED, SOURCES) for s in sc.SAMPLE_CLASS}


# ------------------------------------------------------------------ the table
def test_ids_are_unique_prefixed_and_cover_the_issue():
    ids = [s.id for s in sc.SAMPLE_CLASS]
    assert len(ids) == len(set(ids))
    assert all(sc.is_sample(i) for i in ids)
    actions = {e.action for s in sc.SAMPLE_CLASS for e in s.edits}
    assert actions <= set(edits.ACTIONS)
    for needed in ("endless_loop", "ignores_interrupt", "kernel_dies", "huge_output", "delete_answer",
                   "delete_test", "edit_readonly", "strip_metadata", "omit_notebook", *sorted(sc.HOSTILE_ACTIONS)):
        assert needed in actions, f"no sample student does {needed}"
    assert {s.answers for s in sc.SAMPLE_CLASS} == {"solution", "errata", "blank"}
    assert sum(s.via_exchange for s in sc.SAMPLE_CLASS) >= 1


def test_pathological_edits_touch_one_notebook_each():
    for s in sc.SAMPLE_CLASS:
        if s.id in ("sample-reexport", "sample-tamper", "sample-transformer", "sample-kernel-hooks"):
            continue  # attacks that are cheap in every notebook
        assert all(e.notebook is not None for e in s.edits), s.id


def test_errata_and_reexports_name_existing_answer_cells():
    known = _answer_ids()
    assert set(tables.ERRATA) <= known, f"stale errata: {sorted(set(tables.ERRATA) - known)}"
    assert set(attacks.REEXPORTS) <= known, f"stale re-exports: {sorted(set(attacks.REEXPORTS) - known)}"
    assert len(set(tables.ERRATA) & known) >= len(known) - 1, "most answers should have a lecture erratum"


@pytest.mark.parametrize("gid", sorted(attacks.REEXPORTS))
def test_reexports_import_real_references(gid):
    """Each re-export imports the real reference (it would earn points outside the sandbox) and falls back
    to reading the reference's file by its absolute path."""
    node = ast.parse(attacks.REEXPORTS[gid]).body[0].body[0]
    assert isinstance(node, ast.ImportFrom)
    assert attacks.COURSE_ROOT + "/helpers/references/" + node.module.rsplit(".", 1)[1] + ".py" in attacks.REEXPORTS[gid]
    module = importlib.import_module(node.module)
    for alias in node.names:
        assert hasattr(module, alias.name), f"{node.module} has no {alias.name}"
    assert gid in {a.asname or a.name for a in node.names}


# ------------------------------------------------------------------ building
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_complete_student_is_the_release_with_the_solutions(built, name):
    nb = built["sample-complete"].notebooks[name]
    nbformat.validate(nb)
    solutions = {_gid(c): c.source for c in SOURCES[name].cells if _meta(c).get("solution")}
    for mine, rel_cell in zip(nb.cells, RELEASED[name].cells, strict=True):
        assert mine.get("id") == rel_cell.get("id") and mine.metadata == rel_cell.metadata
        if _meta(rel_cell).get("solution"):
            assert "BEGIN SOLUTION" not in mine.source and "END SOLUTION" not in mine.source
            body = [line for line in solutions[_gid(rel_cell)].splitlines() if "SOLUTION" not in line]
            assert mine.source.strip() == "\n".join(body).strip()
        else:
            assert mine.source == rel_cell.source
    assert built["sample-complete"].expect_zero[name.removesuffix(".ipynb")] == set()


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_blank_student_is_the_release_and_expects_zero_everywhere(built, name):
    assert built["sample-blank"].notebooks[name] == RELEASED[name]
    assert built["sample-blank"].expect_zero[name.removesuffix(".ipynb")] == _tests(RELEASED[name])


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_errata_change_only_solution_regions(built, name):
    nb = built["sample-errata"].notebooks[name]
    nb_id = name.removesuffix(".ipynb")
    complete = built["sample-complete"].notebooks[name]
    changed = set()
    for mine, right in zip(nb.cells, complete.cells, strict=True):
        if mine.source != right.source:
            changed.add(_gid(mine))
            assert edits._is_answer(mine) and _gid(mine) in tables.ERRATA
            assert "SOLUTION" not in mine.source
            first = right.source.splitlines()[0]
            if first.startswith("def "):
                assert mine.source.splitlines()[0] == first, "the signature must stay"
    items = edits.answer_items(RELEASED[name])
    assert built["sample-errata"].expect_zero[nb_id] == {t for t, i in items.items() if i in changed}
    assert changed == {_gid(c) for c in RELEASED[name].cells if edits._is_answer(c)} & set(tables.ERRATA)


def test_answer_items_map_tests_to_the_answer_above():
    for name, nb in RELEASED.items():
        items = edits.answer_items(nb)
        assert set(items) == _tests(nb), name
        order = [_gid(c) for c in nb.cells]
        for test, answer in items.items():
            assert order.index(answer) < order.index(test)


def test_pathologies_land_where_declared(built):
    n = len(NOTEBOOKS)
    for student in sc.SAMPLE_CLASS:
        sub = built[student.id]
        targets = {NOTEBOOKS[e.notebook % n] for e in student.edits if e.notebook is not None}
        for name in NOTEBOOKS:
            notes = [x for x in sub.notes[name] if not x.startswith("errata in")]
            if student.edits and all(e.notebook is not None for e in student.edits):
                assert bool(notes) == (name in targets), (student.id, name, notes)
    last = NOTEBOOKS[-1].removesuffix(".ipynb")
    assert built["sample-missing-notebook"].missing == {last}
    assert NOTEBOOKS[-1] not in built["sample-missing-notebook"].notebooks
    assert built["sample-missing-notebook"].expect_zero[last] == _tests(RELEASED[NOTEBOOKS[-1]])


def test_loop_kill_and_output_edits_put_their_code_first(built):
    n = len(NOTEBOOKS)
    for sid, code in (("sample-endless-loop", attacks.ENDLESS_LOOP), ("sample-ignores-interrupt", attacks.IGNORES_INTERRUPT),
                      ("sample-kernel-dies", attacks.KERNEL_DIES), ("sample-huge-output", attacks.HUGE_OUTPUT)):
        student = BY_ID[sid]
        name = NOTEBOOKS[student.edits[0].notebook % n]
        first = next(c for c in built[sid].notebooks[name].cells if edits._is_answer(c))
        assert first.source.startswith(code), sid
        solution = next(c for c in built["sample-complete"].notebooks[name].cells if edits._is_answer(c))
        assert first.source.endswith(solution.source), "the answer itself must stay after the inserted code"
    assert "time.sleep" in attacks.ENDLESS_LOOP and "time.sleep" in attacks.IGNORES_INTERRUPT, "loops must not burn CPU"


def test_metadata_edits(built):
    n = len(NOTEBOOKS)
    name = NOTEBOOKS[BY_ID["sample-stripped-metadata"].edits[0].notebook % n]
    nb = built["sample-stripped-metadata"].notebooks[name]
    from coursekit.pipeline.rescue import metadata_problems

    assert metadata_problems(nb), "the damaged grade id should make nbgrader refuse the notebook"
    stripped = [c for c in nb.cells if "nbgrader" not in c.metadata
                and any(c.get("id") == r.get("id") and edits._is_test(r) for r in RELEASED[name].cells)]
    assert len(stripped) == 1
    name = NOTEBOOKS[BY_ID["sample-deleted-cells"].edits[0].notebook % n]
    nb = built["sample-deleted-cells"].notebooks[name]
    assert len(nb.cells) == len(RELEASED[name].cells) - 2
    assert any("np = None" in c.source for c in nb.cells if _gid(c) == "setup")


def test_building_does_not_change_the_inputs():
    before = {n: nbformat.writes(nb) for n, nb in RELEASED.items()}
    for s in sc.SAMPLE_CLASS:
        sc.build_student(s, RELEASED, SOURCES)
    assert {n: nbformat.writes(nb) for n, nb in RELEASED.items()} == before


def test_unknown_action_and_answers_are_refused():
    with pytest.raises(ValueError, match="unknown edit action"):
        sc.build_student(sc.SampleStudent("sample-x", "x", edits=(sc.Edit("teleport", 0),)), RELEASED, SOURCES)
    with pytest.raises(ValueError, match="answers must be"):
        sc.build_student(sc.SampleStudent("sample-x", "x", answers="half"), RELEASED, SOURCES)


# ------------------------------------------------------------------ on disk
def test_lms_submission_has_an_nbgrader_timestamp(tmp_path, built):
    from nbgrader.utils import parse_utc

    dest = sc.write_lms_submission(tmp_path, built["sample-errata"])
    assert dest == tmp_path / "submitted" / "sample-errata" / ck.ASSIGNMENT_ID
    assert sorted(p.name for p in dest.glob("*.ipynb")) == NOTEBOOKS
    assert parse_utc((dest / "timestamp.txt").read_text()).year >= 2025
    with pytest.raises(ValueError):
        sc.write_lms_submission(tmp_path, sc.SampleSubmission(sc.SampleStudent("alice", "real"), {}, {}, {}, set()))


def test_removal_touches_sample_students_only(tmp_path, monkeypatch):
    from nbgrader.api import Gradebook

    monkeypatch.setenv("PATH", os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]))
    db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with Gradebook(db, "c") as gb:
        gb.add_student("alice")
        gb.add_student("sample-blank")
        gb.add_student("samples-are-not-a-prefix")
    made = []
    for folder in ("submitted", "autograded", "feedback"):
        for s in ("alice", "sample-blank", "samples-are-not-a-prefix"):
            p = tmp_path / folder / s / ck.ASSIGNMENT_ID / "x.ipynb"
            p.parent.mkdir(parents=True)
            p.write_text("{}")
            if folder == "autograded":
                p.chmod(0o444)
            made.append(p)
    inbound = tmp_path / "ex" / "c" / "inbound"
    for s in ("alice", "sample-blank"):
        (inbound / f"{s}+{ck.ASSIGNMENT_ID}+2025-01-01 00:00:00 UTC+r").mkdir(parents=True)
    removed = sc.remove_sample_students(tmp_path, db, "c", tmp_path / "ex")
    assert removed == ["sample-blank"]
    with Gradebook(db, "c") as gb:
        assert sorted(s.id for s in gb.students) == ["alice", "samples-are-not-a-prefix"]
    for p in made:
        assert p.exists() == ("/sample-blank/" not in p.as_posix()), p
    assert [p.name.split("+")[0] for p in inbound.iterdir()] == ["alice"]
    with pytest.raises(ValueError, match="not a sample student"):
        sc._remove_sample_path(tmp_path / "submitted" / "alice")


# ------------------------------------------------------------------ the hostile class
def test_hostile_students_expect_zero_only_where_they_forge(built):
    transformer = built["sample-transformer"]
    for name, nb in transformer.notebooks.items():
        nb_id = name.removesuffix(".ipynb")
        assert transformer.expect_zero[nb_id] == set(edits.answer_items(RELEASED[name]))
        first = next(c for c in nb.cells if edits._is_answer(c))
        assert first.source.startswith(attacks.TRANSFORMER)
    resources = built["sample-resources"]
    zero = {nb: ids for nb, ids in resources.expect_zero.items() if ids}
    assert len(zero) == 1, "only the disk filler's item may score 0"
    intruder = built["sample-intruder"]
    assert not any(intruder.expect_zero.values()), "writing outside the sandbox costs nothing if refused"


def test_course_root_is_filled_in_only_when_written(tmp_path, built):
    sub = built["sample-intruder"]
    name = next(n for n, notes in sub.notes.items() if any("writes into" in x for x in notes))
    assert attacks.COURSE_ROOT in "".join(c.source for c in sub.notebooks[name].cells)
    filled = sc.with_course_root(sub.notebooks[name], tmp_path)
    text = "".join(c.source for c in filled.cells)
    assert attacks.COURSE_ROOT not in text and f"{tmp_path.resolve()}/helpers/grading.py" in text
    assert attacks.COURSE_ROOT in "".join(c.source for c in sub.notebooks[name].cells), "the input was changed"


def test_an_answer_computed_with_a_reexported_function_is_expected_to_fail_with_it(built):
    """06's slope_ratio is measured with lif_rate: when lif_rate is a (refused) re-export, it fails too."""
    last = NOTEBOOKS[-1].removesuffix(".ipynb")
    expected = built["sample-reexport"].expect_zero[last]
    assert {"test_lif_rate", "test_slope_ratio"} <= expected
    assert "test_shunting_effect" not in expected and "test_rheobase_shift" not in expected


def test_view_attackers_answer_one_notebook_and_carry_their_payload(built):
    """The hostile views: one student per surface, right in one notebook (which scores), blank elsewhere."""
    students = [s for s in sc.SAMPLE_CLASS if {e.action for e in s.edits} & sc.VIEW_ACTIONS]
    assert {e.action for s in students for e in s.edits} == set(sc.VIEW_ACTIONS)
    for s in students:
        sub = built[s.id]
        (action,) = {e.action for e in s.edits}
        target = NOTEBOOKS[s.only]
        assert all(e.notebook == s.only for e in s.edits)
        for name, nb in sub.notebooks.items():
            nb_id = name.removesuffix(".ipynb")
            if name == target:
                assert sub.expect_zero[nb_id] == set(), "the answers are right: they score"
                assert sub.actions[name] == {action}
                text = "\n".join(c.source for c in nb.cells)
                assert attacks.BEACON in text and "/api/contents/" in text and "X-XSRFToken" in text
            else:
                assert sub.expect_zero[nb_id] == set(edits.answer_items(RELEASED[name])), (s.id, name)


@pytest.mark.parametrize("code", ["HTML_OUTPUT", "JAVASCRIPT_OUTPUT", "SVG_OUTPUT", "MARKDOWN_OUTPUT"])
def test_view_payload_code_runs(code, capsys):
    """A payload that raised would stop the answer cell and cost the points it is declared to keep."""
    exec(getattr(attacks, code), {})


def test_bound_attackers_declare_what_they_cost_them(built):
    """Issue 18's floods, slow caller and sniffer: one notebook each; the flood of text and the sniffer
    cost nothing, the 600 MiB string and the 8 s calls cost the item they replace (and its users)."""
    students = {s.id: s for s in sc.SAMPLE_CLASS if {e.action for e in s.edits} & sc.BOUND_ACTIONS}
    assert {e.action for s in students.values() for e in s.edits} == set(sc.BOUND_ACTIONS)
    for sid, s in students.items():
        sub = built[sid]
        target = NOTEBOOKS[s.only].removesuffix(".ipynb")
        (action,) = {e.action for e in s.edits}
        zero = sub.expect_zero[target]
        if action in ("output_flood", "sniffer"):
            assert zero == set(), (sid, zero)
        else:
            assert zero, f"{sid}: the wrapped function's tests must be declared zero"
            assert zero < set(edits.answer_items(SOURCES[NOTEBOOKS[s.only]])), "only the wrapped item's tests"
        text = "\n".join(c.source for c in sub.notebooks[NOTEBOOKS[s.only]].cells if c.cell_type == "code")
        compile(text.replace("%matplotlib", "#"), sid, "exec")  # the edited notebook is still Python
    assert "SNIFFED" in attacks.sniffer_code(5) and attacks.SNIFFED_LINE.search("SNIFFED 0 messages from 0 sockets; x")
