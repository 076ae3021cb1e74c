"""Every notebook of the course has all its parts (issue 21: adding a notebook is discovered, not hard-coded).

For each notebook in ``source/synapses/``, :func:`coursekit.answers.tables.missing_parts`
lists what it lacks, one line each: the reference modules its hidden tests import
(``helpers/references/<module>.py``), its answer table (``coursekit/answers/nbNN.py``
declaring every answer cell), a misconception for every WRONG row (its
``MISCONCEPTIONS``, each an identifier of :mod:`coursekit.answers.misconceptions`), its
``## NN`` section of ``docs/student-api.md``, and the sample class's entries (an erratum
or a re-export for every answer). A notebook name made up here lacks all of them, so the
check can fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from coursekit.answers import tables

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.stem for p in (ROOT / "source" / "synapses").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_has_all_its_parts(notebook):
    assert tables.missing_parts(notebook, ROOT) == [], f"{notebook} is incomplete"


def test_every_answer_table_has_its_notebook():
    assert sorted(tables.TABLES) == NOTEBOOKS, "an answer table without a notebook in source/synapses/"


def test_a_made_up_notebook_lacks_every_part():
    missing = tables.missing_parts("99_made_up", ROOT)  # a number no notebook has
    assert [line.split(":")[0] for line in missing] == [
        "notebook", "reference modules", "answer table", "misconceptions", "student API", "sample class"], missing


def test_a_notebook_without_its_table_entries_is_reported(tmp_path, monkeypatch):
    """A real notebook whose table lost an erratum, a misconception and its student-API section."""
    module = tables.table(NOTEBOOKS[0])
    item, label = next(iter(module.MISCONCEPTIONS))
    monkeypatch.setattr(module, "MISCONCEPTIONS", {k: v for k, v in module.MISCONCEPTIONS.items() if k != (item, label)})
    monkeypatch.setattr(module, "ERRATA", {})
    monkeypatch.setattr(module, "REFERENCE_OF", {})
    for part in ("source/synapses", "helpers/references"):
        (tmp_path / part).mkdir(parents=True)
    (tmp_path / "source/synapses" / f"{NOTEBOOKS[0]}.ipynb").write_bytes(
        (ROOT / "source/synapses" / f"{NOTEBOOKS[0]}.ipynb").read_bytes())
    for ref in (ROOT / "helpers/references").glob("*.py"):
        (tmp_path / "helpers/references" / ref.name).write_bytes(ref.read_bytes())
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "student-api.md").write_text("# nothing yet\n")
    missing = tables.missing_parts(NOTEBOOKS[0], tmp_path)
    assert [line.split(":")[0] for line in missing] == ["misconceptions", "student API", "sample class"], missing
    assert repr(label) in missing[0]
