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

# ---------------------------------------------------------------------------- the full range of valid input
# Rows that only the probes of the whole valid range catch (far tails, far before the spike, every kind of
# scalar, 2-D arrays): False = the visible checks pass them.
WRONG += [
    ("exp_conductance", "exp(-t/tau) * (t >= 0): 0 x inf long before the spike", answer("exp_conductance", """
        t = np.asarray(t, dtype=float)
        return g_peak * np.exp(-t / tau) * (t >= 0)
        """), ["long before the spike"], False),
    ("exp_conductance", "exp(+t/tau) exp(-2t/tau): NaN in the far tail", answer("exp_conductance", """
        t = np.asarray(t, dtype=float)
        s = np.maximum(t, 0.0)
        return np.where(t >= 0, g_peak * np.exp(s / tau) * np.exp(-2.0 * s / tau), 0.0)
        """), ["decay to 0"], False),
    ("exp_conductance", "scalar path for Python floats only: a 1-element array for an int", answer("exp_conductance", """
        import math
        if isinstance(t, float):
            return g_peak * math.exp(-t / tau) if t >= 0 else 0.0
        t = np.array(t, dtype=float, ndmin=1)
        return np.where(t >= 0, g_peak * np.exp(-np.maximum(t, 0.0) / tau), 0.0)
        """), ["for a scalar input"], False),
    ("alpha_conductance", "max(t, 0) factor only: 0 x inf long before the spike", answer("alpha_conductance", """
        t = np.asarray(t, dtype=float)
        return g_peak * np.maximum(t, 0.0) / tau * np.exp(1.0 - t / tau)
        """), ["long before the spike"], False),
    ("alpha_conductance", "loop over t.ravel(): a 2-D t comes back flat", answer("alpha_conductance", """
        import math
        t = np.asarray(t, dtype=float)
        out = np.array([g_peak * x / tau * math.exp(1.0 - x / tau) if x >= 0 else 0.0 for x in t.ravel()])
        return out if t.ndim else out[0]
        """), ["for an input of shape (2, 3)"], False),
    ("dual_exp_conductance", "exp(-t/tau_rise) factored out: 0 x inf in the far tail", answer("dual_exp_conductance", """
        t = np.asarray(t, dtype=float)
        t_peak = tau_rise * tau_decay / (tau_decay - tau_rise) * np.log(tau_decay / tau_rise)
        norm = np.exp(-t_peak / tau_decay) - np.exp(-t_peak / tau_rise)
        s = np.maximum(t, 0.0)
        bracket = np.exp(-s / tau_rise) * (np.exp(s / tau_rise - s / tau_decay) - 1.0)
        return np.where(t >= 0, g_peak * bracket / norm, 0.0)
        """), ["decay to 0"], False),
    ("dual_exp_conductance", "difference times (t >= 0): 0 x inf long before the spike", answer("dual_exp_conductance", """
        t = np.asarray(t, dtype=float)
        t_peak = tau_rise * tau_decay / (tau_decay - tau_rise) * np.log(tau_decay / tau_rise)
        norm = np.exp(-t_peak / tau_decay) - np.exp(-t_peak / tau_rise)
        return g_peak * (np.exp(-t / tau_decay) - np.exp(-t / tau_rise)) / norm * (t >= 0)
        """), ["long before the spike"], False),
    ("mg_block", "scalar path for Python floats only: a 1-element array for np.float32", answer("mg_block", """
        import math
        if isinstance(u, (int, float)):
            return 1.0 / (1.0 + mg / 3.57 * math.exp(-0.062 * u))
        u = np.array(u, dtype=float, ndmin=1)
        return 1.0 / (1.0 + mg / 3.57 * np.exp(-0.062 * u))
        """), ["for a scalar input"], False),
    ("synaptic_current", "column of u against a row of g: zip pairs them", answer("synaptic_current", """
        u, g = np.asarray(u, dtype=float), np.asarray(g, dtype=float)
        if u.ndim and g.ndim:  # two arrays: pair them element by element
            return np.array([gi * (E_syn - ui) for ui, gi in zip(u.ravel(), g.ravel())])
        return g * (E_syn - u)
        """), ["for an input of shape (3, 4)"], False),
]

# Right values, but the caller's t clipped in place (np.maximum(t, 0, out=t) on np.asarray(t), which is no copy
# for a float array): the checks see the change in the array they passed, also through the trusted grader,
# which copies what the kernel's call left in its arguments back into the grader's arrays.
_CLIP = """
        t = np.asarray(t, dtype=float)
        before = t < 0
        np.maximum(t, 0.0, out=t)  # clipped in place: the caller's t changes
        """
WRONG += [
    ("exp_conductance", "clips the caller's t in place", answer("exp_conductance", _CLIP + """
        return np.where(before, 0.0, g_peak * np.exp(-t / tau))
        """), ["changed the array t"]),
    ("alpha_conductance", "clips the caller's t in place", answer("alpha_conductance", _CLIP + """
        return np.where(before, 0.0, g_peak * t / tau * np.exp(1.0 - t / tau))
        """), ["changed the array t"]),
    ("dual_exp_conductance", "clips the caller's t in place", answer("dual_exp_conductance", _CLIP + """
        t_peak = tau_rise * tau_decay / (tau_decay - tau_rise) * np.log(tau_decay / tau_rise)
        norm = np.exp(-t_peak / tau_decay) - np.exp(-t_peak / tau_rise)
        return np.where(before, 0.0, g_peak * (np.exp(-t / tau_decay) - np.exp(-t / tau_rise)) / norm)
        """), ["changed the array t"]),
]

# Right answers computed in float32 (judged within the physical tolerances), or with other formulas.
RIGHT += [
    ("exp_conductance", "float32", answer("exp_conductance", """
        t = np.asarray(t, dtype=np.float32)
        decay = np.exp(-np.maximum(t, np.float32(0.0)) / np.float32(tau))
        return np.where(t >= 0, np.float32(g_peak) * decay, np.float32(0.0))
        """)),
    ("exp_conductance", "g_peak / exp(t/tau) (overflows to a harmless 0)", answer("exp_conductance", """
        t = np.asarray(t, dtype=float)
        return np.where(t >= 0, g_peak / np.exp(np.maximum(t, 0.0) / tau), 0.0)
        """)),
    ("alpha_conductance", "float32", answer("alpha_conductance", """
        t = np.asarray(t, dtype=np.float32)
        s = np.maximum(t, np.float32(0.0)) / np.float32(tau)
        return np.where(t >= 0, np.float32(g_peak) * s * np.exp(np.float32(1.0) - s), np.float32(0.0))
        """)),
    ("alpha_conductance", "exp(1 + ln(t/tau) - t/tau)", answer("alpha_conductance", """
        t = np.asarray(t, dtype=float)
        s = np.maximum(t, 0.0) / tau
        with np.errstate(divide="ignore"):
            return np.where(t > 0, g_peak * np.exp(1.0 + np.log(s) - s), 0.0)
        """)),
    ("dual_exp_conductance", "float32", answer("dual_exp_conductance", """
        t = np.asarray(t, dtype=np.float32)
        tr, td = np.float32(tau_rise), np.float32(tau_decay)
        t_peak = tr * td / (td - tr) * np.log(td / tr)
        norm = np.exp(-t_peak / td) - np.exp(-t_peak / tr)
        s = np.maximum(t, np.float32(0.0))
        return np.where(t >= 0, np.float32(g_peak) * (np.exp(-s / td) - np.exp(-s / tr)) / norm, np.float32(0.0))
        """)),
    ("dual_exp_conductance", "exp(-t/tau_decay) (-expm1(...)), normalised at the peak", answer("dual_exp_conductance", """
        t = np.asarray(t, dtype=float)
        k = 1.0 / tau_rise - 1.0 / tau_decay
        t_peak = np.log(tau_decay / tau_rise) / k
        shape = lambda s: np.exp(-s / tau_decay) * -np.expm1(-s * k)
        return np.where(t >= 0, g_peak * shape(np.maximum(t, 0.0)) / shape(t_peak), 0.0)
        """)),
    ("mg_block", "float32", answer("mg_block", """
        u = np.asarray(u, dtype=np.float32)
        return np.float32(1.0) / (np.float32(1.0) + np.float32(mg) / np.float32(3.57) * np.exp(np.float32(-0.062) * u))
        """)),
    ("synaptic_current", "float32", answer("synaptic_current", """
        return np.asarray(g, dtype=np.float32) * (np.float32(E_syn) - np.asarray(u, dtype=np.float32))
        """)),
]

define_mutation_tests(globals(), NOTEBOOK, signatures=SIGNATURES, wrong=WRONG, right=RIGHT, cheats=CHEATS,
                      stub_must_not_contain=("np.where", "np.exp"))
