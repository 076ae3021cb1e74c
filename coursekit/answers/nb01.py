"""Notebook 01 (the synapse zoo): wrong answers, and right ones written another way.

``WRONG`` rows are ``(item, label, source, words[, caught_by_visible])``: a wrong answer, the words one
of which its failure message must contain, and whether the visible checks catch it; ``RIGHT`` rows
are ``(item, label, source)``. The mutation tests (``tests/test_mutations_01.py``) run them, the
synthetic and planted classes (:mod:`coursekit.classes`) draw from them, and :data:`MISCONCEPTIONS`
names what the grader must report for each WRONG row. :data:`ERRATA` and :data:`REFERENCE_OF` are
the sample class's wrong and re-exported answers for this notebook. Plain data
(:mod:`coursekit.answers.tables` reads every such module).
"""

from __future__ import annotations

from coursekit.answers.writing import answer_writer

#: The notebook (``source/synapses/<NOTEBOOK>.ipynb``).
NOTEBOOK = "01_synapse_zoo"
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


# ---------------------------------------------------------------------------- the sample class
#: grade id -> code that replaces the ``### BEGIN/END SOLUTION`` region of that answer cell
#: (indented like the marker): the lecture's mistake or the typical one the notebook warns about
#: (the sample class's ``errata`` students, :mod:`coursekit.classes.sample`).
ERRATA: dict[str, str] = {
    "exp_conductance": """
        t = np.asarray(t, dtype=float)
        return np.where(t >= 0, g_peak * np.exp(np.maximum(t, 0.0) / tau), 0.0)  # lecture: exp(+t/tau)
        """,
    "alpha_conductance": """
        t = np.asarray(t, dtype=float)
        s = np.maximum(t, 0.0) / tau
        return np.where(t >= 0, g_peak * s * np.exp(-s), 0.0)  # lecture: peaks at g_peak/e
        """,
    "dual_exp_conductance": """
        t = np.asarray(t, dtype=float)
        t_peak = tau_rise * np.log(tau_decay / tau_rise)  # lecture's peak time
        norm = np.exp(-t_peak / tau_decay) - np.exp(-t_peak / tau_rise)
        s = np.maximum(t, 0.0)
        return np.where(t >= 0, g_peak * (np.exp(-s / tau_decay) - np.exp(-s / tau_rise)) / norm, 0.0)
        """,
    "mg_block": """
        u = np.asarray(u, dtype=float)
        return 1.0 / (1.0 + mg / 3.57 * np.exp(-u / 16.3))  # lecture's 16.3 mV
        """,
    "synaptic_current": """
        return np.asarray(g, dtype=float) * (E_syn - (-65.0)) + 0.0 * np.asarray(u, dtype=float)  # lecture: at u_rest
        """,
}

#: grade id -> (module of ``helpers/references``, names it defines): an answer cell that only
#: re-exports the reference (the sample class's ``reexport`` edit; the sandbox must make it fail).
REFERENCE_OF: dict[str, tuple[str, str]] = {
    "exp_conductance": ("waveforms", "exp_conductance"),
    "alpha_conductance": ("waveforms", "alpha_conductance"),
    "dual_exp_conductance": ("waveforms", "dual_exp_conductance"),
    "mg_block": ("nmda", "mg_block"),
    "synaptic_current": ("membrane", "synaptic_current"),
}


#: (item, label) of a WRONG row -> the misconception the grader must report it with
#: (:mod:`coursekit.answers.misconceptions`; rows whose mistake has no name of its own: ``other``).
MISCONCEPTIONS: dict[tuple[str, str], str] = {
    ('exp_conductance', 'lecture exp(+t/tau)'): 'exp-decay-exponent',
    ('exp_conductance', 'no zero before the spike'): 'nonzero-before-spike',
    ('exp_conductance', 't*tau instead of t/tau'): 'exp-decay-exponent',
    ('exp_conductance', 'zero at the spike itself'): 'zero-at-spike',
    ('alpha_conductance', "lecture's alpha peaking at g/e"): 'alpha-peak-g-over-e',
    ('alpha_conductance', 'no zero before the spike'): 'nonzero-before-spike',
    ('alpha_conductance', 'missing /tau in the prefactor'): 'alpha-peak-g-over-e',
    ('dual_exp_conductance', "lecture's prefactor 1/(1/tau_r - 1/tau_d)"): 'dual-exp-normalisation',
    ('dual_exp_conductance', "lecture's peak time tau_r ln(tau_d/tau_r)"): 'dual-exp-normalisation',
    ('dual_exp_conductance', 'not normalised'): 'dual-exp-normalisation',
    ('dual_exp_conductance', 'no zero before the spike'): 'nonzero-before-spike',
    ('mg_block', "lecture's 16.3 mV voltage scale"): 'mg-block-formula',
    ('mg_block', 'sign of the exponent'): 'mg-block-formula',
    ('mg_block', '[Mg] hard-coded to 1.2 mM'): 'mg-ignored',
    ('mg_block', '3.57/mg instead of mg/3.57'): 'mg-block-formula',
    ('synaptic_current', 'outward sign g (u - E)'): 'sign-flipped',
    ('synaptic_current', "lecture's nA"): 'current-na',
    ('synaptic_current', "lecture's current at u_rest"): 'current-at-rest',
    ('exp_conductance', 'exp(-t/tau) * (t >= 0): 0 x inf long before the spike'): 'exp-overflow',
    ('exp_conductance', 'exp(+t/tau) exp(-2t/tau): NaN in the far tail'): 'exp-overflow',
    ('exp_conductance', 'scalar path for Python floats only: a 1-element array for an int'): 'shape-of-result',
    ('alpha_conductance', 'max(t, 0) factor only: 0 x inf long before the spike'): 'exp-overflow',
    ('alpha_conductance', 'loop over t.ravel(): a 2-D t comes back flat'): 'shape-of-result',
    ('dual_exp_conductance', 'exp(-t/tau_rise) factored out: 0 x inf in the far tail'): 'exp-overflow',
    ('dual_exp_conductance', 'difference times (t >= 0): 0 x inf long before the spike'): 'exp-overflow',
    ('mg_block', 'scalar path for Python floats only: a 1-element array for np.float32'): 'shape-of-result',
    ('synaptic_current', 'column of u against a row of g: zip pairs them'): 'shape-of-result',
    ('exp_conductance', "clips the caller's t in place"): 'modifies-input',
    ('alpha_conductance', "clips the caller's t in place"): 'modifies-input',
    ('dual_exp_conductance', "clips the caller's t in place"): 'modifies-input',
}
