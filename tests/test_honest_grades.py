"""Through plain ``nbgrader autograde``: a bool is no number, and an in-place change of t is seen.

The mutation tables (coursekit/answers/nb01.py, nb06.py) hold these rows and
tests/test_mutations_01.py, _06.py check them in one kernel; here the same mutants go through what an instructor
runs, the sandboxed kernel and the trusted grader, where values cross as
plain data (coursekit.grading.plaindata) and used to lose the very thing the checks
look at: ``np.True_`` arrived as a 0-d array and scored as the number 1, and
the caller's t never saw the student's in-place clipping.
"""

from __future__ import annotations

import pytest

import autograde_course as ac
import trusted_grading
from coursekit.answers import misconceptions
from coursekit.answers.nb01 import WRONG as WRONG_01
from coursekit.answers.nb06 import WRONG as WRONG_06

pytestmark = [pytest.mark.slow, pytest.mark.notebooks]

ZOO, CH = "01_synapse_zoo.ipynb", "06_carandini_heeger.ipynb"
CLIPS = {case[0]: case[2] for case in WRONG_01 if case[1] == "clips the caller's t in place"}
BOOL = next(case[2] for case in WRONG_06 if case[1] == "a bool: np.isclose(a, a)")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = ac.make(tmp_path_factory.mktemp("honest") / "course", [ZOO, CH])
    zoo = ac.model(ZOO)
    for item, source in CLIPS.items():
        zoo = ac.with_answer(zoo, item, source)
    ac.submit(root, "clipper", {ZOO: zoo, CH: ac.with_answer(ac.model(CH), "slope_ratio", BOOL)})
    done = ac.autograde(root)
    assert done.returncode == 0, done.stderr[-4000:]
    return root


def _test_cells(root, name, answer):
    """The grade ids of the test cells of `answer` (below it, before the next answer)."""
    return trusted_grading.tests_of(ac.model(name), answer)


def test_a_bool_for_slope_ratio_scores_nothing_and_is_named(graded):
    nb = ac.autograded(graded, "clipper", CH)
    tests = _test_cells(graded, CH, "slope_ratio")
    scores = ac.scores(graded)
    for test in tests:
        assert scores[("clipper", CH[:-6], test)][0] == 0, test
        cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == test)
        assert misconceptions.cell_misconception(cell) == "bool-not-number"
        assert "slope_ratio is True (a bool)" in ac.cell_errors(nb)[test]


@pytest.mark.parametrize("item", sorted(CLIPS))
def test_clipping_the_callers_t_in_place_scores_nothing_and_is_named(graded, item):
    nb = ac.autograded(graded, "clipper", ZOO)
    scores = ac.scores(graded)
    for test in _test_cells(graded, ZOO, item):
        assert scores[("clipper", ZOO[:-6], test)][0] == 0, test
        cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == test)
        assert misconceptions.cell_misconception(cell) == "modifies-input"
        assert "changed the array t that was passed in" in ac.cell_errors(nb)[test]


def test_the_other_answers_of_the_same_student_keep_their_points(graded):
    scores = ac.scores(graded)
    full = [k for k, (score, most) in scores.items() if k[0] == "clipper" and score == most and most > 0]
    assert any(k[2].startswith("test_mg_block") or "mg_block" in k[2] for k in full), sorted(scores)
    assert any("lif_rate" in k[2] for k in full), sorted(scores)
