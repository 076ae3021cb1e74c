"""Mutation tests of notebook 01 (the synapse zoo).

One kernel runs the set-up cell once; per mutant only the answer cell (replaced
by the mutant) and that item's test cell run (tests/nbkernel.py). Wrong answers,
the lecture's own errors among them, must fail with a message about the
physics; correct answers written another way must pass; so must the stored
solution, and the released stub must fail with its instruction.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mutation_suite import SHORTCUT_WORDS, answer_writer, define_mutation_tests

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "source" / "synapses" / "01_synapse_zoo.ipynb"

pytestmark = pytest.mark.notebooks

SIGNATURES = {
    "exp_conductance": "def exp_conductance(t, g_peak, tau):",
    "alpha_conductance": "def alpha_conductance(t, g_peak, tau):",
    "dual_exp_conductance": "def dual_exp_conductance(t, g_peak, tau_rise, tau_decay):",
    "mg_block": "def mg_block(u, mg):",
    "synaptic_current": "def synaptic_current(u, g, E_syn):",
}
answer = answer_writer(SIGNATURES)


# ---------------------------------------------------------------------------- mutants
# (item, label, source, words one of which the failure message must contain)
WRONG = [
    # exp_conductance
    ("exp_conductance", "lecture exp(+t/tau)", answer("exp_conductance", """
        t = np.asarray(t, dtype=float)
        return np.where(t >= 0, g_peak * np.exp(np.maximum(t, 0) / tau), 0.0)
        """), ["peak", "exponent"]),
    ("exp_conductance", "no zero before the spike", answer("exp_conductance", """
        return g_peak * np.exp(-np.asarray(t, dtype=float) / tau)
        """), ["before the spike"]),
    ("exp_conductance", "t*tau instead of t/tau", answer("exp_conductance", """
        t = np.asarray(t, dtype=float)
        return np.where(t >= 0, g_peak * np.exp(-np.maximum(t, 0) * tau), 0.0)
        """), ["exponent", "too small"]),
    ("exp_conductance", "zero at the spike itself", answer("exp_conductance", """
        t = np.asarray(t, dtype=float)
        return np.where(t > 0, g_peak * np.exp(-np.maximum(t, 0) / tau), 0.0)
        """), ["t = 0"]),
    # alpha_conductance
    ("alpha_conductance", "lecture's alpha peaking at g/e", answer("alpha_conductance", """
        t = np.asarray(t, dtype=float)
        s = np.maximum(t, 0) / tau
        return np.where(t >= 0, g_peak * s * np.exp(-s), 0.0)
        """), ["peak"]),
    ("alpha_conductance", "no zero before the spike", answer("alpha_conductance", """
        t = np.asarray(t, dtype=float)
        return g_peak * t / tau * np.exp(1 - t / tau)
        """), ["before the spike"]),
    ("alpha_conductance", "missing /tau in the prefactor", answer("alpha_conductance", """
        t = np.asarray(t, dtype=float)
        s = np.maximum(t, 0)
        return np.where(t >= 0, g_peak * s * np.exp(1 - s / tau), 0.0)
        """), ["peak"]),
    # dual_exp_conductance
    ("dual_exp_conductance", "lecture's prefactor 1/(1/tau_r - 1/tau_d)", answer("dual_exp_conductance", """
        t = np.asarray(t, dtype=float)
        s = np.maximum(t, 0)
        g = g_peak / (1 / tau_rise - 1 / tau_decay) * (np.exp(-s / tau_decay) - np.exp(-s / tau_rise))
        return np.where(t >= 0, g, 0.0)
        """), ["peak"]),
    ("dual_exp_conductance", "lecture's peak time tau_r ln(tau_d/tau_r)", answer("dual_exp_conductance", """
        t = np.asarray(t, dtype=float)
        t_peak = tau_rise * np.log(tau_decay / tau_rise)
        norm = np.exp(-t_peak / tau_decay) - np.exp(-t_peak / tau_rise)
        s = np.maximum(t, 0)
        return np.where(t >= 0, g_peak * (np.exp(-s / tau_decay) - np.exp(-s / tau_rise)) / norm, 0.0)
        """), ["peak"]),
    ("dual_exp_conductance", "not normalised", answer("dual_exp_conductance", """
        t = np.asarray(t, dtype=float)
        s = np.maximum(t, 0)
        return np.where(t >= 0, g_peak * (np.exp(-s / tau_decay) - np.exp(-s / tau_rise)), 0.0)
        """), ["peak"]),
    ("dual_exp_conductance", "no zero before the spike", answer("dual_exp_conductance", """
        t = np.asarray(t, dtype=float)
        t_peak = tau_rise * tau_decay / (tau_decay - tau_rise) * np.log(tau_decay / tau_rise)
        norm = np.exp(-t_peak / tau_decay) - np.exp(-t_peak / tau_rise)
        return g_peak * (np.exp(-t / tau_decay) - np.exp(-t / tau_rise)) / norm
        """), ["before the spike"]),
    # mg_block
    ("mg_block", "lecture's 16.3 mV voltage scale", answer("mg_block", """
        return 1.0 / (1.0 + mg / 3.57 * np.exp(-np.asarray(u, dtype=float) / 16.3))
        """), ["conduct", "Jahr"]),
    ("mg_block", "sign of the exponent", answer("mg_block", """
        return 1.0 / (1.0 + mg / 3.57 * np.exp(0.062 * np.asarray(u, dtype=float)))
        """), ["conduct", "depolaris"]),
    ("mg_block", "[Mg] hard-coded to 1.2 mM", answer("mg_block", """
        return 1.0 / (1.0 + 1.2 / 3.57 * np.exp(-0.062 * np.asarray(u, dtype=float)))
        """), ["half", "Jahr"]),
    ("mg_block", "3.57/mg instead of mg/3.57", answer("mg_block", """
        return 1.0 / (1.0 + 3.57 / mg * np.exp(-0.062 * np.asarray(u, dtype=float)))
        """), ["conduct", "Jahr"]),
    # synaptic_current
    ("synaptic_current", "outward sign g (u - E)", answer("synaptic_current", """
        return np.asarray(g, dtype=float) * (np.asarray(u, dtype=float) - E_syn)
        """), ["inward"]),
    ("synaptic_current", "lecture's nA", answer("synaptic_current", """
        return np.asarray(g, dtype=float) * (E_syn - np.asarray(u, dtype=float)) / 1000.0
        """), ["pA"]),
    ("synaptic_current", "lecture's current at u_rest", answer("synaptic_current", """
        return np.asarray(g, dtype=float) * (E_syn - (-65.0)) + 0.0 * np.asarray(u, dtype=float)
        """), ["reversal", "E_syn - u"]),
]

# Correct answers written differently.
RIGHT = [
    ("exp_conductance", "heaviside and clip", answer("exp_conductance", """
        t = np.asarray(t, dtype=float)
        return np.heaviside(t, 1.0) * g_peak * np.exp(-np.clip(t, 0.0, None) / tau)
        """)),
    ("exp_conductance", "piecewise", answer("exp_conductance", """
        t = np.asarray(t, dtype=float)
        return np.piecewise(t, [t < 0, t >= 0], [0.0, lambda s: g_peak * np.exp(-s / tau)])
        """)),
    ("alpha_conductance", "factor e outside", answer("alpha_conductance", """
        t = np.clip(np.asarray(t, dtype=float), 0.0, None)
        return g_peak * np.e * (t / tau) * np.exp(-t / tau)
        """)),
    ("dual_exp_conductance", "closed-form normalisation", answer("dual_exp_conductance", """
        t = np.asarray(t, dtype=float)
        r = tau_rise / tau_decay
        norm = r ** (tau_rise / (tau_decay - tau_rise)) - r ** (tau_decay / (tau_decay - tau_rise))
        s = np.where(t > 0, t, 0.0)
        return g_peak * (np.exp(-s / tau_decay) - np.exp(-s / tau_rise)) / norm * (t > 0)
        """)),
    ("mg_block", "3.57/(3.57 + mg e^...)", answer("mg_block", """
        return 3.57 / (3.57 + mg * np.exp(-0.062 * np.asarray(u, dtype=float)))
        """)),
    ("mg_block", "voltage scale 16.13 mV", answer("mg_block", """
        return 1.0 / (1.0 + mg / 3.57 * np.exp(-np.asarray(u, dtype=float) / 16.13))
        """)),
    ("synaptic_current", "minus outward current", answer("synaptic_current", """
        return -np.multiply(g, np.subtract(u, E_syn))
        """)),
]

# Attempts to get the points without doing the work. The last three also patch what the
# visible checks use (np.isclose, helpers references, helpers.grading), so only the hidden
# tests stand between them and the points (False: the visible checks pass them). The grader
# uses none of the patched things, so two of them fail on their physics (words as in WRONG).
_PATCH_NUMPY = "np.isclose = lambda *args, **kwargs: True\nnp.allclose = lambda *args, **kwargs: True\n"
CHEATS = [
    ("exp_conductance", "re-exported reference", "from helpers.waveforms import exp_conductance\n"),
    ("alpha_conductance", "wrapper around the reference", answer("alpha_conductance", """
        return reference.alpha_conductance(t, g_peak, tau)
        """)),
    ("mg_block", "wrapper around helpers.nmda", answer("mg_block", """
        from helpers import nmda
        return nmda.mg_block(u, mg)
        """)),
    ("synaptic_current", "zeros behind a patched np.isclose", _PATCH_NUMPY + answer("synaptic_current", """
        return np.zeros(np.broadcast(u, g).shape)
        """), ["E_syn - u", "inward"], False),
    ("exp_conductance", "wrong function patched into helpers.waveforms", _PATCH_NUMPY + answer("exp_conductance", """
        t = np.asarray(t, dtype=float)
        return np.where(t >= 0, g_peak * np.exp(np.minimum(t, 50.0) / tau), 0.0)
        """) + "import helpers.waveforms\nhelpers.waveforms.exp_conductance = exp_conductance\n",
        ["g_peak exp(-t/tau)", "exponent"], False),
    ("alpha_conductance", "patched helpers.grading", _PATCH_NUMPY + answer("alpha_conductance", """
        t = np.asarray(t, dtype=float)
        return np.where(t >= 0, g_peak * t / tau * np.exp(-np.maximum(t, 0.0) / tau), 0.0)
        """) + "import helpers.grading as _hg\n_hg.check_waveform = _hg.check_values = _hg.check_own_work = "
        "lambda *a, **k: None\n", SHORTCUT_WORDS, False),
]

define_mutation_tests(globals(), NOTEBOOK, signatures=SIGNATURES, wrong=WRONG, right=RIGHT, cheats=CHEATS,
                      stub_must_not_contain=("np.where", "np.exp"))
