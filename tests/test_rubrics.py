"""Rubrics reach the grader in Formgrader and never the student (coursekit/preprocessors/clear_rubrics.py).

Proof with nbgrader's own machinery on a throw-away course: the real
``nbgrader generate_assignment`` writes the gradebook and the release; the
course's autograde sanitizer (``OverwriteCellsKeepHiddenTests``, configured in
nbgrader_config.py) turns a released notebook into the autograded one that
Formgrader renders; the configured ``GenerateFeedback`` preprocessors turn that
into what the student gets back.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from coursekit import release as rel
from coursekit import course as ck
from coursekit.preprocessors.clear_rubrics import ClearRubrics
from coursekit.preprocessors.overwrite_cells import OverwriteCellsKeepHiddenTests

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "source" / ck.ASSIGNMENT_ID
RELEASE = ROOT / "release" / ck.ASSIGNMENT_ID
NOTEBOOKS = sorted(p.name for p in SOURCE.glob("*.ipynb"))
REGION = re.compile(r"<!-- BEGIN MARK SCHEME -->(.*?)<!-- END MARK SCHEME -->", re.S)


def meta(cell):
    return cell.metadata.get("nbgrader", {})


def rubric_texts(nb) -> dict[str, str]:
    """grade id -> the text inside the cell's mark-scheme region (source notebooks)."""
    out = {}
    for cell in nb.cells:
        found = REGION.findall(cell.source)
        if found:
            out[meta(cell)["grade_id"]] = "".join(found).strip()
    return out


def probe_lines(text: str) -> list[str]:
    """Distinctive lines of a rubric (long enough not to occur elsewhere by chance)."""
    return [line.strip() for line in text.splitlines() if len(line.strip()) > 40]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = rel.make_course(tmp_path_factory.mktemp("rubrics") / "course", SOURCE)
    ck.run_nbgrader(["generate_assignment", ck.ASSIGNMENT_ID, "--force"], root, timeout=300)
    return root


def _overwrite_logged(nb, resources):
    """The course's autograde sanitizer run on ``nb``, and the messages it logged."""
    overwrite = OverwriteCellsKeepHiddenTests()
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    overwrite.log.addHandler(handler)
    try:
        graded, _ = overwrite.preprocess(nb, resources)
    finally:
        overwrite.log.removeHandler(handler)
    return graded, [r.getMessage() for r in records]



def test_every_hand_graded_answer_is_followed_by_a_rubric():
    for name in NOTEBOOKS:
        nb = nbformat.read(SOURCE / name, as_version=4)
        for i, cell in enumerate(nb.cells):
            m = meta(cell)
            if cell.cell_type == "markdown" and m.get("solution") and m.get("grade"):
                nxt = nb.cells[i + 1]
                assert meta(nxt).get("locked") and REGION.search(nxt.source), \
                    f"{name}: the answer {m['grade_id']} has no rubric cell right after it"
                assert f"{m['points']:g} point" in nxt.source, \
                    f"{name}: the rubric after {m['grade_id']} does not state its {m['points']} points"


def test_rubric_regions_sit_in_locked_cells_with_a_grade_id():
    for name in NOTEBOOKS:
        for cell in nbformat.read(SOURCE / name, as_version=4).cells:
            if "MARK SCHEME" in cell.source:
                assert meta(cell).get("locked") and meta(cell).get("grade_id"), \
                    f"{name}: a mark-scheme region outside a locked cell with a grade id would be lost for graders"
                assert not meta(cell).get("points"), f"{name}: rubric cells must not change the points"


def test_clear_rubrics_refuses_a_region_graders_would_never_see():
    cell = nbformat.v4.new_markdown_cell("x\n<!-- BEGIN MARK SCHEME -->\nsecret\n<!-- END MARK SCHEME -->")
    nb = nbformat.v4.new_notebook(cells=[cell])
    with pytest.raises(RuntimeError, match="graders would never see it"):
        ClearRubrics().preprocess(nb, {})


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_rubric_is_stored_for_graders_and_absent_from_release_and_feedback(course, name):
    source = nbformat.read(SOURCE / name, as_version=4)
    rubrics = rubric_texts(source)
    if not rubrics:
        pytest.skip(f"{name} has no rubric")
    notebook_id = name[:-len(".ipynb")]

    # 1. the release (generated now, and the committed one) has none of it
    for released_path in (course / "release" / ck.ASSIGNMENT_ID / name, RELEASE / name):
        released_text = released_path.read_text()
        assert "MARK SCHEME" not in released_text
        for text in rubrics.values():
            for line in probe_lines(text):
                assert line not in released_text, f"{released_path}: rubric line leaked: {line[:60]}"

    # 2. the gradebook keeps each rubric cell's full source
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    with Gradebook(db_url) as gb:
        for gid, text in rubrics.items():
            stored = gb.find_source_cell(gid, notebook_id, ck.ASSIGNMENT_ID).source
            assert text in stored, f"{name}: the gradebook lost the rubric of {gid}"

    # 3. autograde's sanitizer restores it into the untouched released cell, without a false warning:
    #    this is the notebook Formgrader shows to the grader
    released = nbformat.read(course / "release" / ck.ASSIGNMENT_ID / name, as_version=4)
    resources = {"nbgrader": {"notebook": notebook_id, "assignment": ck.ASSIGNMENT_ID, "db_url": db_url}}
    graded, messages = _overwrite_logged(released, resources)
    warnings = [m for m in messages if "has changed" in m]
    assert not warnings, warnings
    graded_text = "\n".join(c.source for c in graded.cells)
    for gid, text in rubrics.items():
        assert text in graded_text, f"{name}: the autograded notebook (Formgrader) lacks the rubric of {gid}"

    # 4. the feedback preprocessors configured for the course remove it again
    from nbgrader.converters import GenerateFeedback  # noqa: F401  (config class)
    from traitlets.config.loader import PyFileConfigLoader

    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    feedback = [p for p in cfg.GenerateFeedback.preprocessors if p.__name__ in ("ClearRubrics", "ClearHiddenTests")]
    assert ClearRubrics in feedback
    shown = nbformat.from_dict(graded)
    for pre in feedback:
        shown, _ = pre().preprocess(shown, {})
    shown_text = "\n".join(c.source for c in shown.cells)
    assert "MARK SCHEME" not in shown_text
    for text in rubrics.values():
        for line in probe_lines(text):
            assert line not in shown_text, f"{name}: feedback shows the rubric line {line[:60]}"


def test_edited_rubric_cell_is_still_reported(course):
    """A student who edits a rubric cell is reported and overwritten, as for any locked cell."""
    name = "06_carandini_heeger.ipynb"
    released = nbformat.read(course / "release" / ck.ASSIGNMENT_ID / name, as_version=4)
    cell = next(c for c in released.cells if meta(c).get("grade_id") == "shunting_answer_rubric")
    cell.source += "\nI give myself full marks."
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    resources = {"nbgrader": {"notebook": name[:-6], "assignment": ck.ASSIGNMENT_ID, "db_url": db_url}}
    graded, messages = _overwrite_logged(released, resources)
    assert any("has changed" in m for m in messages)
    restored = next(c for c in graded.cells if meta(c).get("grade_id") == "shunting_answer_rubric")
    assert "full marks" not in restored.source and "BEGIN MARK SCHEME" in restored.source
