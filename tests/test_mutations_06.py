"""Mutation tests of notebook 06 (Carandini-Heeger rate against the LIF f-I curve).

One kernel runs the set-up cell once; per mutant only the answer cell (replaced
by the mutant) and that item's test cell run (tests/nbkernel.py). Wrong answers,
the lecture's own errors among them (E_i = -70 mV written into the model, the
shunt with the wrong sign, a current where a conductance belongs), must fail
with a message about the physics; correct answers written another way must
pass; so must the stored solution; shortcuts (re-exported references, patched
grading code) earn nothing, and the released stub fails with its instruction.

The answers (WRONG, RIGHT) are the tables of :mod:`coursekit.answers.nb06`; the shortcut
attempts (CHEATS) and this notebook's own tests are here.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from mutation_suite import define_mutation_tests

from coursekit.answers import nb06 as answers
from coursekit.answers.nb06 import RIGHT, SIGNATURES, VALUES, WRONG, answer

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "source" / "synapses" / f"{answers.NOTEBOOK}.ipynb"

pytestmark = [pytest.mark.notebooks, pytest.mark.brian]

# (False: the visible checks pass the patched row; only the hidden tests stand in its way)
CHEATS = [
    ("lif_rate", "re-exported reference", "from helpers.references.lif_rate import lif_rate\n"),
    ("ch_rate", "wrapper around the reference", answer("ch_rate", """
        from helpers.references import lif_rate as _h
        return _h.ch_rate(g_e, g_i, E_e, g_m, m)
        """)),
    ("lif_model", "reference string", "from helpers.references.brian_reference import LIF_MODEL as lif_model\n"),
    ("lif_rate_linear", "patched grading module", answer("lif_rate_linear", """
        return 0.0 * np.asarray(I_e, dtype=float)
        """) + "import helpers.grading as _hg\n_hg.check_values = _hg.check_own_work = lambda *a, **k: None\n"
        "import numpy\nnumpy.isclose = lambda *a, **k: True\n", ["rate", "large-current"], False),
]


define_mutation_tests(globals(), NOTEBOOK, signatures=SIGNATURES, values=VALUES, wrong=WRONG, right=RIGHT,
                      cheats=CHEATS, stub_must_not_contain=("np.log", "g_i*(E_i"))


def _wrong(name, label):
    return next(case[2] for case in WRONG if case[:2] == (name, label))


def test_hidden_messages_do_not_reveal_expected_values(kernel):
    """A wrong lif_rate gets the rule, not the reference's number."""
    source = _wrong("lif_rate", "u_rest in place of u_reset")  # only the hidden tests see it
    with kernel.replaced("lif_rate", source):
        ok, err = kernel.run(kernel.hidden_tests("lif_rate"))
    assert not ok and "it should be 1000 / (t_ref" in err and "expected" not in err, err


def test_written_answers_are_manually_graded_cells():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    written = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells
               if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("solution")}
    assert set(written) == {"shunting_answer", "poisson_answer"}
    for cell in written.values():
        meta = cell.metadata["nbgrader"]
        assert meta["grade"] and meta["points"] == 2 and not meta["locked"] and not meta["task"]
