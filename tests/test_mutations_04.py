"""Mutation tests of notebook 04 (synaptic saturation).

One kernel runs the set-up cell once; per mutant only the answer cell (replaced
by the mutant) and that item's test cell run (tests/nbkernel.py). Wrong answers
must fail with a one-sentence message about the physics (the classic one here:
treating the conductance as a current, which never saturates); correct answers
written another way must pass; so must the stored solution, and the released
stub must fail with its instruction.

The answers (WRONG, RIGHT) are the tables of :mod:`coursekit.answers.nb04`; the shortcut
attempts (CHEATS) and this notebook's own tests are here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mutation_suite import define_mutation_tests

from coursekit.answers import nb04 as answers
from coursekit.answers.nb04 import RIGHT, SIGNATURES, WRONG, answer

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "source" / "synapses" / f"{answers.NOTEBOOK}.ipynb"

pytestmark = pytest.mark.notebooks

# Attempts to get the points without doing the work. The patched numpy comparisons would fool
# visible checks run in the kernel (False), but the grader runs them itself: that row fails on its physics.
CHEATS = [
    ("input_conductance", "re-exported reference", "from helpers.references.membrane import input_conductance\n"),
    ("effective_time_constant", "wrapper around the reference", answer("effective_time_constant", """
        from helpers.references import membrane
        return membrane.effective_time_constant(C_m, g_syn, g_m)
        """)),
    ("steady_state_potential", "patched numpy comparisons", answer("steady_state_potential", """
        return np.zeros_like(np.asarray(g_syn, dtype=float) + E_syn + g_m + u_rest + I_e)
        """) + "np.isclose = lambda *a, **k: np.True_\nnp.allclose = lambda *a, **k: True\n"
             "abs = lambda x: 0.0\n", ["saturat", "stays at u_rest"], False),
]


define_mutation_tests(globals(), NOTEBOOK, signatures=SIGNATURES, wrong=WRONG, right=RIGHT, cheats=CHEATS)
