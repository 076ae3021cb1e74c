"""Mutation tests of notebook 05 (shunting inhibition).

One kernel runs the set-up cell once; per mutant only the answer cell (replaced
by the mutant) and that item's test cell run (tests/nbkernel.py). Wrong answers
must fail with a one-sentence message about the physics (among them the
lecture's own error, the missing minus sign on the shunt term); correct answers
written another way must pass; so must the stored solution, and the released
stub must fail with its instruction.

The answers (WRONG, RIGHT) are the tables of :mod:`coursekit.answers.nb05`; the shortcut
attempts (CHEATS) and this notebook's own tests are here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mutation_suite import define_mutation_tests

from coursekit.answers import nb05 as answers
from coursekit.answers.nb05 import RIGHT, SIGNATURES, WRONG, answer

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "source" / "synapses" / f"{answers.NOTEBOOK}.ipynb"

pytestmark = pytest.mark.notebooks

# Attempts to get the points without doing the work. The visible checks catch the patched
# numpy comparisons (True: their own sentence), and the hidden tests name the physics.
CHEATS = [
    ("membrane_steady_state", "re-exported reference", "from helpers.references.membrane import membrane_steady_state\n"),
    ("membrane_time_constant", "wrapper around the reference", answer("membrane_time_constant", """
        from helpers.references import membrane
        return membrane.membrane_time_constant(C_m, g_e, g_i, g_m)
        """)),
    ("membrane_steady_state", "patched numpy comparisons", answer("membrane_steady_state", """
        return 0.0 * (np.asarray(g_e, dtype=float) + g_i + E_e + E_i + g_m) + u_rest
        """) + "np.isclose = lambda *a, **k: np.True_\nnp.allclose = lambda *a, **k: True\n",
        ["weighted by their conductances", "half way from u_rest"], True),
]


define_mutation_tests(globals(), NOTEBOOK, signatures=SIGNATURES, wrong=WRONG, right=RIGHT, cheats=CHEATS)
