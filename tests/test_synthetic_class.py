"""The synthetic class (coursekit.classes.synthetic): drawn from the mutation tables, built at run time."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

from coursekit.insight import class_report as cr
from coursekit import release as rel
from coursekit.answers import tables
from coursekit.classes import edits
from coursekit.classes import synthetic as syn

ROOT = Path(__file__).resolve().parents[1]
# nbgrader's own add_submission trips SQLAlchemy's autoflush warning; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")


@pytest.fixture(scope="module")
def rows():
    return tables.wrong_rows()


@pytest.fixture(autouse=True)
def _alembic_on_path(monkeypatch):
    monkeypatch.setenv("PATH", os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]))


def test_rows_cover_the_six_notebooks(rows):
    assert sorted(rows) == sorted(p.stem for p in (ROOT / "source" / "synapses").glob("*.ipynb"))
    assert sum(len(v) for v in rows.values()) >= 100


def test_draw_is_reproducible_and_plausible(rows):
    a, b = syn.draw_class(60, rows, seed=1), syn.draw_class(60, rows, seed=1)
    assert [(s.id, s.wrong, s.blank, s.omitted, s.submits) for s in a] == \
           [(s.id, s.wrong, s.blank, s.omitted, s.submits) for s in b]
    assert [s.id for s in a if not s.submits] == ["synth-030", "synth-060"]
    wrong = [len(v) for s in a for v in s.wrong.values()]
    assert 30 < sum(wrong) < 400  # some wrong answers, not a class of failures
    labels = {label for s in a for v in s.wrong.values() for label in v.values()}
    assert any("lecture" in label for label in labels)
    for s in a:  # every drawn label is a WRONG row of that item
        for nb, items in s.wrong.items():
            for item, label in items.items():
                assert (item, label) in {(i, lab) for i, lab, _ in rows[nb]}


def test_build_notebooks_puts_the_wrong_rows_in_the_answer_cells(rows):
    student = syn.SyntheticStudent("synth-900", 0.5, wrong={"01_synapse_zoo": {"mg_block": "sign of the exponent"}},
                                   blank={"04_saturation"}, omitted={"05_shunting"})
    built = syn.build_notebooks(student, ROOT, rows)
    assert "05_shunting.ipynb" not in built and len(built) == 5
    zoo = {edits._gid(c): c.source for c in built["01_synapse_zoo.ipynb"].cells}
    wrong = next(src for item, label, src in rows["01_synapse_zoo"] if label == "sign of the exponent")
    assert zoo["mg_block"] == wrong
    assert "BEGIN SOLUTION" not in zoo["exp_conductance"] and "NotImplementedError" not in zoo["exp_conductance"]
    released = nbformat.read(ROOT / "release" / "synapses" / "04_saturation.ipynb", as_version=4)
    assert [c.source for c in built["04_saturation.ipynb"].cells] == [c.source for c in released.cells]


def test_prepare_for_grading_writes_submissions_and_absent_students(tmp_path):
    from nbgrader.api import Gradebook

    root = rel.make_course(tmp_path / "course")
    shutil.copytree(ROOT / "release" / "synapses", root / "release" / "synapses")
    url = f"sqlite:///{root / 'gradebook.db'}"
    ids = syn.prepare_for_grading(root, 31, db_url=url, course_id="c", say=None)
    assert len(ids) == 30 and "synth-030" not in ids
    assert all((root / "submitted" / s / "synapses" / "timestamp.txt").is_file() for s in ids)
    with Gradebook(url, "c") as gb:
        assert [s.id for s in gb.students] == ["synth-030"]
    again = syn.prepare_for_grading(root, 2, db_url=url, course_id="c", say=None)  # replaces the earlier class
    assert again == ["synth-001", "synth-002"]
    assert sorted(p.name for p in (root / "submitted").iterdir()) == ["synth-001", "synth-002"]


@pytest.mark.slow
def test_simulated_class_of_60_gives_a_synthetic_report(tmp_path):
    root = rel.make_course(tmp_path / "course")
    url = f"sqlite:///{root / 'gradebook.db'}"
    syn.simulate(root, 60, db_url=url, course_id="c")
    data = cr.collect(root, "synapses", db_url=url, course_id="c")
    assert data.synthetic and len(data.students) == 58 and data.missing == ["synth-030", "synth-060"]
    assert data.misconceptions and all(h.count <= 58 for h in data.misconceptions)
    assert "SYNTHETIC CLASS" in cr.render(data)
