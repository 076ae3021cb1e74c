"""Mutation tests of notebook 01 (the synapse zoo).

One kernel runs the set-up cell once; per mutant only the answer cell (replaced
by the mutant) and that item's test cell run (tests/nbkernel.py). Wrong answers,
the lecture's own errors among them, must fail with a message about the
physics; correct answers written another way must pass; so must the stored
solution, and the released stub must fail with its instruction.

The answers (WRONG, RIGHT) are the tables of :mod:`coursekit.answers.nb01`; the shortcut
attempts (CHEATS) and this notebook's own tests are here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mutation_suite import define_mutation_tests

from coursekit.answers import nb01 as answers
from coursekit.answers.nb01 import RIGHT, SIGNATURES, WRONG, answer

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "source" / "synapses" / f"{answers.NOTEBOOK}.ipynb"

pytestmark = pytest.mark.notebooks

# Attempts to get the points without doing the work. The last three also patch what the
# visible checks use (np.isclose, helpers references, helpers.grading), so only the hidden
# tests stand between them and the points (False: the visible checks pass them). The grader
# uses none of the patched things, so two of them fail on their physics (words as in WRONG).
_PATCH_NUMPY = "np.isclose = lambda *args, **kwargs: True\nnp.allclose = lambda *args, **kwargs: True\n"
CHEATS = [
    ("exp_conductance", "re-exported reference", "from helpers.references.waveforms import exp_conductance\n"),
    ("alpha_conductance", "wrapper around the reference", answer("alpha_conductance", """
        return reference.alpha_conductance(t, g_peak, tau)
        """)),
    ("mg_block", "wrapper around helpers.nmda", answer("mg_block", """
        from helpers.references import nmda
        return nmda.mg_block(u, mg)
        """)),
    ("synaptic_current", "zeros behind a patched np.isclose", _PATCH_NUMPY + answer("synaptic_current", """
        return np.zeros(np.broadcast(u, g).shape)
        """), ["E_syn - u", "inward"], False),
    ("exp_conductance", "wrong function patched into helpers.waveforms", _PATCH_NUMPY + answer("exp_conductance", """
        t = np.asarray(t, dtype=float)
        return np.where(t >= 0, g_peak * np.exp(np.minimum(t, 50.0) / tau), 0.0)
        """) + "import helpers.references.waveforms\nhelpers.references.waveforms.exp_conductance = exp_conductance\n",
        ["g_peak exp(-t/tau)", "exponent"], False),
    ("alpha_conductance", "patched helpers.grading", _PATCH_NUMPY + answer("alpha_conductance", """
        t = np.asarray(t, dtype=float)
        return np.where(t >= 0, g_peak * t / tau * np.exp(-np.maximum(t, 0.0) / tau), 0.0)
        """) + "import helpers.grading as _hg\n_hg.check_waveform = _hg.check_values = _hg.check_own_work = "
        "lambda *a, **k: None\n", ["peak"], False),
]

define_mutation_tests(globals(), NOTEBOOK, signatures=SIGNATURES, wrong=WRONG, right=RIGHT, cheats=CHEATS,
                      stub_must_not_contain=("np.where", "np.exp"))
