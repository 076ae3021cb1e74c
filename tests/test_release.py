"""Source notebooks are clean nbgrader notebooks, and release/ is what nbgrader makes of them.

For every notebook in ``source/synapses`` (parametrised, so the tests grow with
the course): no outputs or execution counts, nbformat 4.5 with cell ids (without
ids nbformat would invent random ones and the release would not be
reproducible), nbgrader schema-v3 metadata accepted by nbgrader's own
validator, unique grade ids, positive points on graded cells, an instruction
line above every code solution, hidden tests only in test cells.

Then ``nbgrader generate_assignment`` runs (the real command, in a throw-away
course directory) and its output must equal the committed ``release/synapses``
(normalised JSON; a mismatch names the notebook and cell: run ``make release``),
and two generations must be byte-identical.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from nbgrader.nbgraderformat import MetadataValidator, ValidationError

from coursekit import release as rel
from coursekit import course as ck
NOTEBOOKS = rel.notebook_names(ck.SOURCE_DIR)
NAME_RE = re.compile(r"^\d\d_[a-z0-9_]+\.ipynb$")
SOLUTION_BEGIN, SOLUTION_END = "BEGIN SOLUTION", "END SOLUTION"
HIDDEN_BEGIN, HIDDEN_END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"


def load(path: Path):
    return nbformat.read(path, as_version=nbformat.NO_CONVERT)


def meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def label(cell, index: int) -> str:
    return f"cell {index} ({meta(cell).get('grade_id') or cell.get('id', '?')})"


@pytest.fixture(params=NOTEBOOKS)
def source_nb(request):
    path = ck.SOURCE_DIR / request.param
    return request.param, load(path)


def test_there_are_source_notebooks():
    assert NOTEBOOKS, f"no notebooks in {ck.SOURCE_DIR}"
    for name in NOTEBOOKS:
        assert NAME_RE.match(name), f"{name}: source notebooks are named NN_name.ipynb"


# ------------------------------------------------------------------ source notebooks
def test_source_is_valid_nbformat_with_cell_ids(source_nb):
    name, nb = source_nb
    nbformat.validate(nb)
    assert (nb.nbformat, nb.nbformat_minor) >= (4, 5), \
        f"{name}: save as nbformat 4.5+ so cells keep stable ids"
    missing = [i for i, c in enumerate(nb.cells) if not c.get("id")]
    assert not missing, f"{name}: cells {missing} have no id (the release would get random ones)"
    ids = [c.id for c in nb.cells]
    assert len(ids) == len(set(ids)), f"{name}: duplicate cell ids"


def test_source_has_no_outputs(source_nb):
    name, nb = source_nb
    dirty = [label(c, i) for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, f"{name}: clear outputs and execution counts of {dirty}"


def test_source_kernel_is_python3(source_nb):
    name, nb = source_nb
    spec = nb.metadata.get("kernelspec", {})
    assert spec.get("name") == "python3" and spec.get("language") == "python", \
        f"{name}: kernelspec must be python3 (the course environment's ipykernel), got {spec}"


def test_source_nbgrader_metadata_is_valid_v3(source_nb):
    name, nb = source_nb
    try:
        MetadataValidator().validate_nb(nb)
    except ValidationError as err:
        pytest.fail(f"{name}: invalid nbgrader metadata: {err}")
    for i, cell in enumerate(nb.cells):
        m = meta(cell)
        if m:
            assert m.get("schema_version") == 3, f"{name}: {label(cell, i)} is not nbgrader schema v3"
            assert "checksum" not in m, f"{name}: {label(cell, i)} carries a release checksum"


def test_source_grade_ids_unique_and_points_positive(source_nb):
    name, nb = source_nb
    seen = {}
    graded = 0
    for i, cell in enumerate(nb.cells):
        m = meta(cell)
        if not m:
            continue
        gid = m.get("grade_id")
        if m.get("grade") or m.get("solution") or m.get("locked") or m.get("task"):
            assert gid, f"{name}: {label(cell, i)} has no grade_id"
            assert gid not in seen, f"{name}: grade_id {gid!r} used by cells {seen[gid]} and {i}"
            seen[gid] = i
        if m.get("grade") or m.get("task"):
            graded += 1
            assert m.get("points", 0) > 0, f"{name}: graded {label(cell, i)} has no positive points"
    autograded = [c for c in nb.cells
                  if c.cell_type == "code" and meta(c).get("grade") and not meta(c).get("solution")]
    assert autograded, f"{name}: no autograded test cell"
    assert graded >= len(autograded)


def _regions(source: str, begin: str, end: str) -> list[tuple[int, int]]:
    """(begin line, end line) pairs; raises AssertionError when unbalanced."""
    out, start = [], None
    for j, line in enumerate(source.splitlines()):
        if begin in line:
            assert start is None, f"nested {begin!r} at line {j + 1}"
            start = j
        elif end in line:
            assert start is not None, f"{end!r} without {begin!r} at line {j + 1}"
            out.append((start, j))
            start = None
    assert start is None, f"{begin!r} at line {start + 1} is never closed"
    return out


def test_source_markers_are_balanced_and_in_the_right_cells(source_nb):
    name, nb = source_nb
    for i, cell in enumerate(nb.cells):
        m = meta(cell)
        where = f"{name}: {label(cell, i)}"
        try:
            solutions = _regions(cell.source, SOLUTION_BEGIN, SOLUTION_END)
            hidden = _regions(cell.source, HIDDEN_BEGIN, HIDDEN_END)
        except AssertionError as err:
            pytest.fail(f"{where}: {err}")
        if solutions:
            assert m.get("solution"), f"{where} has a solution region but is not a solution cell"
        if hidden:
            assert m.get("grade") and not m.get("solution") and cell.cell_type == "code", \
                f"{where} has hidden tests but is not an autograded test cell"


def test_code_solutions_have_an_instruction_line_above(source_nb):
    """Each stub raises its cell's instruction: a '# TODO: ...' line must precede BEGIN SOLUTION."""
    from coursekit.preprocessors.clear_solutions import stub_instruction

    name, nb = source_nb
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not meta(cell).get("solution"):
            continue
        regions = _regions(cell.source, SOLUTION_BEGIN, SOLUTION_END)
        assert regions, (f"{name}: {label(cell, i)} is a code solution cell without "
                         f"### BEGIN SOLUTION / ### END SOLUTION (students would get a bare stub)")
        assert stub_instruction(cell.source), (
            f"{name}: {label(cell, i)}: put a one-line '# TODO: <instruction>' directly above "
            f"### BEGIN SOLUTION; the released stub raises that instruction")


# ------------------------------------------------------------------ committed release
@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory):
    """Release generated now by the real nbgrader, in a throw-away course."""
    out = tmp_path_factory.mktemp("fresh") / ck.ASSIGNMENT_ID
    rel.generate_release(ck.SOURCE_DIR, out)
    return out


@pytest.mark.pipeline
def test_release_has_exactly_the_generated_files(fresh_release):
    problems = [p for p in rel.compare_release(fresh_release, ck.RELEASE_DIR)
                if p.endswith("missing") or "stale" in p]
    assert not problems, "release/synapses is out of date; run `make release`:\n  " + "\n  ".join(problems)


@pytest.mark.pipeline
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_release_matches_generation(fresh_release, name):
    committed = ck.RELEASE_DIR / name
    assert committed.is_file(), f"release/synapses/{name} is missing; run `make release`"
    diffs = rel.diff_notebooks(rel.normalise_notebook(fresh_release / name),
                               rel.normalise_notebook(committed), name)
    assert not diffs, "release/synapses differs from generate_assignment; run `make release`:\n  " \
        + "\n  ".join(diffs)


@pytest.mark.pipeline
def test_generation_is_byte_identical(fresh_release, tmp_path):
    again = tmp_path / ck.ASSIGNMENT_ID
    rel.generate_release(ck.SOURCE_DIR, again)
    for name in NOTEBOOKS:
        assert (again / name).read_bytes() == (fresh_release / name).read_bytes(), \
            f"{name}: two generate_assignment runs differ (non-deterministic source?)"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_release_has_no_solutions_or_hidden_tests(name):
    path = ck.RELEASE_DIR / name
    if not path.is_file():
        pytest.skip(f"release/synapses/{name} not generated yet (see the release tests)")
    nb = load(path)
    stub = "raise NotImplementedError("
    for i, cell in enumerate(nb.cells):
        where = f"{name}: {label(cell, i)}"
        for marker in (SOLUTION_BEGIN, SOLUTION_END, HIDDEN_BEGIN, HIDDEN_END):
            assert marker not in cell.source, f"{where} still contains {marker!r}"
        m = meta(cell)
        if m.get("solution") and cell.cell_type == "code":
            assert stub in cell.source, f"{where} has no NotImplementedError stub"
        if m.get("grade") or m.get("solution") or m.get("locked"):
            assert len(m.get("checksum", "")) == 32, f"{where} has no checksum"


# ------------------------------------------------------------------ comparison helpers
def test_diff_notebooks_names_the_cell_and_line(tmp_path):
    a = {"cells": [{"cell_type": "code", "id": "c1", "source": "x = 1\ny = 2",
                    "metadata": {"nbgrader": {"grade_id": "answer_x"}}}], "metadata": {}}
    b = json.loads(json.dumps(a))
    b["cells"][0]["source"] = "x = 1\ny = 3"
    diffs = rel.diff_notebooks(a, b, "01_x.ipynb")
    assert len(diffs) == 1 and "answer_x" in diffs[0] and "line 2" in diffs[0]
    assert rel.diff_notebooks(a, a) == []


def test_generate_release_refuses_overlapping_folders(tmp_path):
    (tmp_path / "src").mkdir()
    with pytest.raises(ValueError):
        rel.generate_release(tmp_path / "src", tmp_path / "src" / "out")


def test_release_check_names_a_stale_notebook(tmp_path, capsys):
    """`python -m coursekit release --check` exits 1 and names the notebook when release/ is stale."""
    import shutil

    from coursekit.__main__ import main

    course = tmp_path / "course"
    shutil.copytree(ck.SOURCE_DIR, course / "source" / ck.ASSIGNMENT_ID)
    shutil.copytree(ck.RELEASE_DIR, course / "release" / ck.ASSIGNMENT_ID)
    shutil.copy2(ck.CONFIG_FILE, course / "nbgrader_config.py")
    stale = course / "release" / ck.ASSIGNMENT_ID / NOTEBOOKS[0]
    nb = nbformat.read(stale, as_version=4)
    nb.cells[0].source += "\n\nAn edit made by hand in release/."
    nbformat.write(nb, stale)
    assert main(["release", "--check", "--course", str(course)]) == 1
    err = capsys.readouterr().err
    assert "is stale; run `make release`" in err and NOTEBOOKS[0] in err
    assert nbformat.read(stale, as_version=4).cells[0].source.endswith("by hand in release/.")  # nothing written
