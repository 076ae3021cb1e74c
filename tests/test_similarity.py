"""Similarity of submissions (coursekit.insight.similarity, copydetect) and the planted class (coursekit.classes.planted).

Nothing here runs student code: the notebooks are read as JSON and their
solution cells tokenised by copydetect (pygments).
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import nbformat
import pytest

from coursekit.answers import tables
from coursekit.classes import planted as pc
from coursekit.insight import similarity as sm

ROOT = Path(__file__).resolve().parents[1]
A = "synapses"


def _nb(*cells):
    """A notebook from (kind, source) pairs: kind "answer" (solution cell), "locked" or "plain"."""
    out = []
    for k, (kind, src) in enumerate(cells):
        meta = {}
        if kind == "answer":
            meta = {"nbgrader": {"grade_id": f"a{k}", "solution": True, "grade": False, "locked": False}}
        elif kind == "locked":
            meta = {"nbgrader": {"grade_id": f"t{k}", "solution": False, "grade": True, "locked": True, "points": 1}}
        out.append(nbformat.v4.new_code_cell(src, metadata=meta))
    return nbformat.v4.new_notebook(cells=out)


@pytest.fixture(scope="module")
def released():
    return {p.stem: json.loads(p.read_text()) for p in sorted((ROOT / "release" / A).glob("*.ipynb"))}


@pytest.fixture(scope="module")
def planted():
    return pc.build(ROOT, 40)


def test_own_code_is_the_solution_cells_only():
    nb = _nb(("plain", "import numpy as np"), ("answer", "def f(x):\n    return x + 1"),
             ("locked", "assert f(1) == 2"), ("answer", "y = 3"))
    assert sm.own_code(nb) == "def f(x):\n    return x + 1\n\ny = 3\n"
    huge = _nb(("answer", "x = 1\n" * 1_000_000))  # 6 MB: cut, the report stays fast
    assert len(sm.own_code(huge)) == sm.MAX_CHARS


def test_starter_code_is_not_counted_as_shared(released):
    """Two students who hand in the released notebook untouched share only the starter code: no score."""
    nb = released["01_synapse_zoo"]
    assert len(sm.own_code(nb)) > 2000  # signatures and docstrings: plenty to match
    scores, flagged, short, _ = sm.compare_class({"a": sm.own_code(nb), "b": sm.own_code(nb)}, sm.own_code(nb))
    assert flagged == [] and short == ["a", "b"] and scores == []
    scores, flagged, short, _ = sm.compare_class({"a": sm.own_code(nb), "b": sm.own_code(nb)})  # without boilerplate
    assert scores == [1.0] and len(flagged) == 1


@pytest.mark.parametrize("how", pc.DISGUISES)
def test_each_disguise_keeps_a_copy_similar(how, planted, released):
    """A student's notebook 01 and its copy disguised one way score above the threshold; the disguise changed the
    text (the test would pass on an unchanged copy otherwise)."""
    student = planted.students[0]
    nb = planted.as_json()[student]["01_synapse_zoo"]
    cells = [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]
    disguised = pc.disguise([c.source for c in cells], how, random.Random(1))
    assert disguised != [c.source for c in cells]
    copy = nbformat.from_dict(nb)
    answers = [c for c in copy.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]
    for cell, src in zip(answers, disguised):
        cell.source = src
    starter = sm.own_code(released["01_synapse_zoo"])
    scores, flagged, _, _ = sm.compare_class({"orig": sm.own_code(nb), "copy": sm.own_code(copy)}, starter)
    assert scores and scores[0] >= sm.THRESHOLD, (how, scores)
    pair = flagged[0]
    assert (pair.a, pair.b) == ("copy", "orig") and any(hit for _, hit in pair.pieces_a)
    assert "".join(t for t, _ in pair.pieces_a) == sm.own_code(copy)  # the pieces are the whole code
    assert "".join(t for t, _ in pair.pieces_b) == sm.own_code(nb)


def test_short_obvious_formula_is_not_flagged(released):
    """Ten students write the same one-line synaptic current and nothing else: too short to tell, no pair listed.
    Ten who share that line but write the other answers their own way (rows of the mutation table) are not listed
    over the notebook either."""
    line = "def synaptic_current(u, g, E_syn):\n    return g * (E_syn - u)\n"
    starter = sm.own_code(released["01_synapse_zoo"])
    scores, flagged, short, _ = sm.compare_class({f"s{k}": line for k in range(10)}, starter)
    assert short == sorted(f"s{k}" for k in range(10)) and flagged == [] and scores == []

    rows = tables.answer_rows()["01_synapse_zoo"]
    others = ["exp_conductance", "alpha_conductance", "dual_exp_conductance", "mg_block"]
    codes = {}
    for k in range(6):  # student k writes row k of each other item (distinct hands), and the same formula
        codes[f"s{k}"] = "\n\n".join(rows[item][k % len(rows[item])][1] for item in others) + "\n\n" + line
    scores, flagged, short, _ = sm.compare_class(codes, starter)
    print("shared formula, independent rest: scores", sorted(round(s, 2) for s in scores))
    assert not short and len(scores) == 15 and flagged == [], [(p.a, p.b, p.score) for p in flagged]


def test_planted_class_copies_found_independents_not(planted, released):
    """>= 7 of the 8 disguised copies flagged over the whole assignment, <= 2 independent pairs (no grading run)."""
    assert len(planted.students) >= 40 and len(planted.copies) == 8
    assert sorted(how for _, how in planted.copies.values()) == sorted(pc.DISGUISES * 2)
    result = sm.class_similarity(planted.as_json(), released, keep_pieces=False)
    flagged = result.flagged_pairs(sm.ALL)
    truth = planted.copied_pairs()
    hits = len(flagged & truth)
    false = len(flagged - truth)
    precision = hits / len(flagged) if flagged else 0.0
    recall = hits / len(truth)
    print(f"planted class of {len(planted.students)}: {len(flagged)} pairs flagged, {hits} of {len(truth)} copies, "
          f"{false} independent pairs; precision {precision:.2f}, recall {recall:.2f}")
    for copier, (original, how) in sorted(planted.copies.items()):
        score = next(r[3] for r in result.rows if r[0] == sm.ALL and {r[1], r[2]} == {copier, original})
        print(f"  {copier} copy of {original} ({how}): {score:.2f}")
    assert hits >= 7 and false <= 2
    n = len(planted.students)
    assert len([r for r in result.rows if r[0] == sm.ALL]) == n * (n - 1) // 2


def test_csv_has_every_scored_pair(tmp_path, planted, released):
    few = {s: planted.as_json()[s] for s in planted.students[:5]}
    result = sm.class_similarity(few, released, keep_pieces=False)
    path = sm.write_csv(result, tmp_path / "synapses-similarity.csv")
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["notebook", "student_a", "student_b", "score"]
    assert {r[0] for r in rows[1:]} <= set(result.notebooks) and sm.ALL in {r[0] for r in rows[1:]}
    whole = [r for r in rows[1:] if r[0] == sm.ALL]
    assert len(whole) == 10 and all(0.0 <= float(r[3]) <= 1.0 for r in whole)


def test_planted_class_written_for_grading(tmp_path, monkeypatch):
    """``grade --planted N`` writes N valid submissions into submitted/ (answer cells replaced, nbgrader metadata
    kept), replacing an earlier planted class; the argument is checked before anything is written."""
    import os
    import sys

    from coursekit import release as rel
    from coursekit.__main__ import main

    monkeypatch.setenv("PATH", os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]))
    import shutil

    root = rel.make_course(tmp_path / "course")
    assert main(["grade", "--planted", "8", "--course", str(root)]) == 2
    assert not (root / "submitted").exists()
    with pytest.raises(FileNotFoundError, match="make release"):  # no release/: refused, not empty students
        pc.prepare_for_grading(root, 16, say=None)
    shutil.copytree(ROOT / "release", root / "release")
    ids = pc.prepare_for_grading(root, 16, say=None)
    assert ids == [f"planted-{k:03d}" for k in range(1, 17)]
    released = sorted(p.name for p in (root / "release" / A).glob("*.ipynb"))
    assert len(released) == 6
    for sid in ids:
        folder = root / "submitted" / sid / A
        assert sorted(p.name for p in folder.glob("*.ipynb")) == released and (folder / "timestamp.txt").is_file()
        for path in folder.glob("*.ipynb"):
            nbformat.validate(nbformat.read(path, as_version=4))
    assert pc.prepare_for_grading(root, 16, say=None) == ids  # again: the earlier class is replaced, not added to
