"""Notebook 06 (Carandini-Heeger rate against the LIF f-I curve): wrong answers, and right ones written another way.

``WRONG`` rows are ``(item, label, source, words[, caught_by_visible])``: a wrong answer, the words one
of which its failure message must contain, and whether the visible checks catch it; ``RIGHT`` rows
are ``(item, label, source)``. The mutation tests (``tests/test_mutations_06.py``) run them, the
synthetic and planted classes (:mod:`coursekit.classes`) draw from them, and :data:`MISCONCEPTIONS`
names what the grader must report for each WRONG row. :data:`ERRATA` and :data:`REFERENCE_OF` are
the sample class's wrong and re-exported answers for this notebook. Plain data
(:mod:`coursekit.answers.tables` reads every such module).
"""

from __future__ import annotations

import textwrap

from coursekit.answers.writing import answer_writer

#: The notebook (``source/synapses/<NOTEBOOK>.ipynb``).
NOTEBOOK = "06_carandini_heeger"
SIGNATURES = {
    "lif_rate": "def lif_rate(I_e, C_m, g_l, u_rest, u_th, u_reset, t_ref=0.0):",
    "lif_rate_linear": "def lif_rate_linear(I_e, C_m, g_l, u_rest, u_th, u_reset):",
    "ch_rate": "def ch_rate(g_e, g_i, E_e, g_m, m=1.0):",
}
#: Answers that are values (a string), not functions.
VALUES = ("shunting_effect", "lif_model", "rheobase_shift", "slope_ratio")
answer = answer_writer(SIGNATURES)


def model(equations: str) -> str:
    """A lif_model answer cell."""
    return 'lif_model = """\n' + textwrap.dedent(equations).strip("\n") + '\n"""\n'


_SILENT = "np.where(u_inf > u_th, u_inf, u_th + 1.0)"

# ---------------------------------------------------------------------------- mutants
# (item, label, source, words one of which the failure message must contain)
WRONG = [
    # lif_rate
    ("lif_rate", "rate in kHz (1/interval in ms)", answer("lif_rate", f"""
        u_inf = u_rest + np.asarray(I_e, dtype=float) / g_l
        u = {_SILENT}
        return np.where(u_inf > u_th, 1.0 / (t_ref + C_m / g_l * np.log((u - u_reset) / (u - u_th))), 0.0)
        """), ["kHz", "1000 / (t_ref"]),
    ("lif_rate", "logarithm upside down", answer("lif_rate", f"""
        u_inf = u_rest + np.asarray(I_e, dtype=float) / g_l
        u = {_SILENT}
        return np.where(u_inf > u_th, 1000.0 / (t_ref + C_m / g_l * np.log((u - u_th) / (u - u_reset))), 0.0)
        """), ["expected 72.13 Hz", "ln((u_inf - u_reset)/(u_inf - u_th))"]),
    ("lif_rate", "refractory period ignored", answer("lif_rate", f"""
        u_inf = u_rest + np.asarray(I_e, dtype=float) / g_l
        u = {_SILENT}
        return np.where(u_inf > u_th, 1000.0 / (C_m / g_l * np.log((u - u_reset) / (u - u_th))), 0.0)
        """), ["t_ref"]),
    ("lif_rate", "u_rest in place of u_reset", answer("lif_rate", f"""
        u_inf = u_rest + np.asarray(I_e, dtype=float) / g_l
        u = {_SILENT}
        return np.where(u_inf > u_th, 1000.0 / (t_ref + C_m / g_l * np.log((u - u_rest) / (u - u_th))), 0.0)
        """), ["u_reset"]),
    ("lif_rate", "NaN below the rheobase", answer("lif_rate", """
        u_inf = u_rest + np.asarray(I_e, dtype=float) / g_l
        with np.errstate(all="ignore"):
            return 1000.0 / (t_ref + C_m / g_l * np.log((u_inf - u_reset) / (u_inf - u_th)))
        """), ["NaN", "rheobase"]),
    ("lif_rate", "tau_m = g_l / C_m", answer("lif_rate", f"""
        u_inf = u_rest + np.asarray(I_e, dtype=float) / g_l
        u = {_SILENT}
        return np.where(u_inf > u_th, 1000.0 / (t_ref + g_l / C_m * np.log((u - u_reset) / (u - u_th))), 0.0)
        """), ["expected 72.13 Hz", "tau_m = C_m/g_l"]),
    # lif_rate_linear
    ("lif_rate_linear", "not rectified", answer("lif_rate_linear", """
        u_inf = u_rest + np.asarray(I_e, dtype=float) / g_l
        return 1000.0 * (u_inf - u_th) / (C_m / g_l * (u_th - u_reset))
        """), ["return 0 there", "0 where that is negative"]),
    ("lif_rate_linear", "asymptote with the 1/(2 tau) offset", answer("lif_rate_linear", """
        tau = C_m / g_l
        u_inf = u_rest + np.asarray(I_e, dtype=float) / g_l
        return np.maximum(1000.0 * ((u_inf - u_th) / (tau * (u_th - u_reset)) + 0.5 / tau), 0.0)
        """), ["expected 50 Hz", "(u_inf - u_th)"]),
    ("lif_rate_linear", "depolarisation from rest, not from threshold", answer("lif_rate_linear", """
        u_inf = u_rest + np.asarray(I_e, dtype=float) / g_l
        return np.maximum(1000.0 * (u_inf - u_rest) / (C_m / g_l * (u_th - u_reset)), 0.0)
        """), ["expected 50 Hz", "(u_inf - u_th)"]),
    ("lif_rate_linear", "slope from g_l instead of C_m", answer("lif_rate_linear", """
        return np.maximum(1000.0 * (np.asarray(I_e, dtype=float) - g_l * (u_th - u_rest)) / (g_l * (u_th - u_reset)), 0.0)
        """), ["expected 50 Hz", "tau_m (u_th - u_reset)"]),
    # shunting_effect
    ("shunting_effect", "divisive", 'shunting_effect = "divisive"\n', ["rheobase"]),
    ("shunting_effect", "not one of the answers", 'shunting_effect = "shift"\n', ["choose one of"]),
    # lif_model
    ("lif_model", "shunt with the wrong sign", model("""
        du/dt = (g_l*(u_rest - u) + g_i*(u - E_i) + I) / C_m : volt (unless refractory)
        I : amp
        g_i : siemens
        """), ["simulated rate", "grows without bound"]),
    ("lif_model", "lecture's E_i = -70 mV written in", model("""
        du/dt = (g_l*(u_rest - u) + g_i*(-70*mV - u) + I) / C_m : volt (unless refractory)
        I : amp
        g_i : siemens
        """), ["simulated rate"]),
    ("lif_model", "E_i replaced by u_rest", model("""
        du/dt = (g_l*(u_rest - u) + g_i*(u_rest - u) + I) / C_m : volt (unless refractory)
        I : amp
        g_i : siemens
        """), ["E_i = -80 mV"]),
    ("lif_model", "shunt as a current g_i (E_i - u_rest), not a conductance", model("""
        du/dt = (g_l*(u_rest - u) + g_i*(E_i - u_rest) + I) / C_m : volt (unless refractory)
        I : amp
        g_i : siemens
        """), ["simulated rate"]),
    ("lif_model", "input divided by the conductance", model("""
        du/dt = (g_l*(u_rest - u) + I*g_l/(g_l + g_i)) / C_m : volt (unless refractory)
        I : amp
        g_i : siemens
        """), ["simulated rate"]),
    ("lif_model", "missing C_m (units)", model("""
        du/dt = g_l*(u_rest - u) + g_i*(E_i - u) + I : volt
        I : amp
        g_i : siemens
        """), ["units"]),
    ("lif_model", "one current for all neurons", model("""
        du/dt = (g_l*(u_rest - u) + g_i*(E_i - u) + I) / C_m : volt
        I : amp (shared)
        g_i : siemens
        """), ["per neuron"]),
    # ch_rate
    ("ch_rate", "squared without rectification", answer("ch_rate", """
        V = np.asarray(g_e, dtype=float) * E_e / (np.asarray(g_e, dtype=float) + g_i + g_m)
        return m * V ** 2
        """), ["rectify", "]_+^2"]),
    ("ch_rate", "not squared", answer("ch_rate", """
        V = np.asarray(g_e, dtype=float) * E_e / (np.asarray(g_e, dtype=float) + g_i + g_m)
        return m * np.maximum(V, 0.0)
        """), ["expected (650/20)^2", "]_+^2"]),
    ("ch_rate", "shunt subtracted instead of in the denominator", answer("ch_rate", """
        g_e = np.asarray(g_e, dtype=float)
        V = (g_e * E_e - g_i * 10.0) / (g_e + g_m)
        return m * np.maximum(V, 0.0) ** 2
        """), ["denominator", "(g_e + g_i + g_m)"]),
    ("ch_rate", "g_e missing from the denominator", answer("ch_rate", """
        V = np.asarray(g_e, dtype=float) * E_e / (g_i + g_m)
        return m * np.maximum(V, 0.0) ** 2
        """), ["expected (650/20)^2", "(g_e + g_i + g_m)"]),
]

# the numbers of c): the rheobase shift of a 10 nS shunt (pA) and the ratio of the large-current slopes
WRONG += [
    ("rheobase_shift", "the new rheobase, not its shift", "rheobase_shift = (g_l + 10.0) * (u_th - u_rest)\n",
     ["the whole rheobase with the shunt"], False),
    ("rheobase_shift", "no shift: 'the shunt injects no current'", "rheobase_shift = 0.0\n",
     ["drains", "g_i (u_th - u_rest)"], False),
    ("rheobase_shift", "in nA", "rheobase_shift = 10.0 * (u_th - u_rest) / 1000.0\n", ["in nA"], False),
    ("rheobase_shift", "driving force from 0 mV, not from rest", "rheobase_shift = 10.0 * (0.0 - u_rest)\n",
     ["distance from rest to threshold"], False),
    ("rheobase_shift", "a string", 'rheobase_shift = "150 pA"\n', ["is a string"]),
    ("slope_ratio", "divisive guess g_l / (g_l + g_i)", "slope_ratio = g_l / (g_l + 30.0)\n",
     ["smaller slope", "charge per spike"], False),
    ("slope_ratio", "Carandini-Heeger factor (g_l / (g_l + g_i))^2", "slope_ratio = (g_l / (g_l + 30.0)) ** 2\n",
     ["charge per spike"], False),
    ("slope_ratio", "ratio of the rheobases", "slope_ratio = (g_l + 30.0) / g_l\n", ["larger slope"], False),
    ("slope_ratio", "slopes of the exact curves at 160 and 660 pA, just above the rheobases",
     "_a = (lif_rate(170.0, C_m, g_l, u_rest, u_th, u_reset) - lif_rate(160.0, C_m, g_l, u_rest, u_th, u_reset))\n"
     "_b = (lif_rate(670.0, C_m, g_l + 30.0, u_rest, u_th, u_reset) - lif_rate(660.0, C_m, g_l + 30.0, u_rest, u_th, u_reset))\n"
     "slope_ratio = _b / _a\n", ["charge per spike"], False),
    # a bool is no number: np.isclose's np.True_ once crossed to the grader as a 0-d array and earned the point
    ("slope_ratio", "a bool: np.isclose(a, a)", "_a = 1.0\nslope_ratio = np.isclose(_a, _a)\n", ["a bool"]),
]

RIGHT = [
    ("lif_rate", "log1p of a safe ratio", answer("lif_rate", """
        I_e = np.asarray(I_e, dtype=float)
        excess = u_rest + I_e / g_l - u_th                  # u_inf - u_th
        z = np.divide(u_th - u_reset, excess, out=np.full(np.shape(excess), np.inf), where=excess > 0)
        T = t_ref + C_m / g_l * np.log1p(z)
        return np.divide(1000.0, T, out=np.zeros(np.shape(T)), where=excess > 0)
        """)),
    ("lif_rate", "np.vectorize over a scalar formula", "import math\n" + answer("lif_rate", """
        def one(I):
            u_inf = u_rest + I / g_l
            if u_inf <= u_th:
                return 0.0
            return 1000.0 / (t_ref + C_m / g_l * math.log((u_inf - u_reset) / (u_inf - u_th)))
        return np.vectorize(one, otypes=[float])(I_e)
        """)),
    ("lif_rate_linear", "in currents, with np.clip", answer("lif_rate_linear", """
        I_rh = g_l * (u_th - u_rest)
        return np.clip(1000.0 * (np.asarray(I_e, dtype=float) - I_rh) / (C_m * (u_th - u_reset)), 0.0, None)
        """)),
    ("shunting_effect", "capitals and spaces", 'shunting_effect = " Subtractive "\n'),
    ("rheobase_shift", "numerically: first current that fires, 0.01 pA grid", """
_I = np.arange(0.0, 1000.0, 0.01)
_first = lambda g: _I[lif_rate(_I, C_m, g, u_rest, u_th, u_reset) > 0][0]
rheobase_shift = _first(g_l + 10.0) - _first(g_l)
"""),
    ("rheobase_shift", "an integer numpy scalar", "rheobase_shift = np.int64(150)\n"),
    ("slope_ratio", "from the large-current lines", """
_s = [lif_rate_linear(2000.0, C_m, g_l + g, u_rest, u_th, u_reset) - lif_rate_linear(1900.0, C_m, g_l + g, u_rest, u_th, u_reset)
      for g in (30.0, 0.0)]
slope_ratio = _s[0] / _s[1]
"""),
    ("slope_ratio", "by reasoning: a one-element array", "slope_ratio = np.array([1.0])\n"),
    ("lif_model", "time constant as a subexpression, no refractory flag", model("""
        du/dt = -(u - u_rest)/tau_m - g_i*(u - E_i)/C_m + I/C_m : volt
        tau_m = C_m/g_l : second
        I : amp
        g_i : siemens
        """)),
    ("lif_model", "total conductance and weighted reversal", model("""
        du/dt = (g_l*u_rest + g_i*E_i + I - (g_l + g_i)*u) / C_m : volt (unless refractory)
        g_i : siemens
        I : amp
        """)),
    ("ch_rate", "np.where and explicit product", answer("ch_rate", """
        g_e, g_i = np.broadcast_arrays(np.asarray(g_e, dtype=float), np.asarray(g_i, dtype=float))
        V = g_e * E_e / (g_e + g_i + g_m)
        return np.where(V > 0, m * V * V, 0.0)
        """)),
]

# ---------------------------------------------------------------------------- the full range of valid input
# Rows that only the probes far below the rheobase (with t_ref), of every kind of scalar and of an array g_i
# with a scalar g_e catch (False: the visible checks pass them), and right answers computed in float32 (judged
# within physical tolerances) or with another formula.
WRONG += [
    ("lif_rate", "rate kept where the formula is positive: fires far below the rheobase with t_ref", answer("lif_rate", """
        u_inf = u_rest + np.asarray(I_e, dtype=float) / g_l
        with np.errstate(all="ignore"):
            r = 1000.0 / (t_ref + C_m / g_l * np.log((u_inf - u_reset) / (u_inf - u_th)))
        return np.where(r > 0, r, 0.0)
        """), ["must be exactly 0"], False),
    ("lif_rate", "ndmin=1 unless a Python float: a 1-element array for an int", answer("lif_rate", """
        scalar = isinstance(I_e, float)
        u_inf = u_rest + np.array(I_e, dtype=float, ndmin=1) / g_l
        fires = u_inf > u_th
        u = np.where(fires, u_inf, u_th + 1.0)
        r = np.where(fires, 1000.0 / (t_ref + C_m / g_l * np.log((u - u_reset) / (u - u_th))), 0.0)
        return r[0] if scalar else r
        """), ["for a scalar input"], False),
    ("ch_rate", "early return 0.0 for g_e == 0 ignores an array g_i", answer("ch_rate", """
        if np.ndim(g_e) == 0 and g_e == 0:
            return 0.0
        V = np.asarray(g_e, dtype=float) * E_e / (np.asarray(g_e, dtype=float) + g_i + g_m)
        return m * np.maximum(V, 0.0) ** 2
        """), ["for an input of shape (5,)"], False),
]

RIGHT += [
    ("lif_rate", "float32", answer("lif_rate", """
        f = np.float32
        C_m, g_l, u_rest, u_th, u_reset, t_ref = (f(x) for x in (C_m, g_l, u_rest, u_th, u_reset, t_ref))
        u_inf = u_rest + np.asarray(I_e, dtype=f) / g_l
        fires = u_inf > u_th
        u = np.where(fires, u_inf, u_th + f(1.0))
        return np.where(fires, f(1000.0) / (t_ref + C_m / g_l * np.log((u - u_reset) / (u - u_th))), f(0.0))
        """)),
    ("lif_rate", "fires where the log's argument exceeds 1", answer("lif_rate", """
        u_inf = u_rest + np.asarray(I_e, dtype=float) / g_l
        with np.errstate(all="ignore"):
            x = (u_inf - u_reset) / (u_inf - u_th)       # > 1 exactly where u_reset < u_th < u_inf
            return np.where(x > 1, 1000.0 / (t_ref + C_m / g_l * np.log(np.where(x > 1, x, 2.0))), 0.0)
        """)),
    ("lif_rate_linear", "float32", answer("lif_rate_linear", """
        f = np.float32
        C_m, g_l, u_rest, u_th, u_reset = (f(x) for x in (C_m, g_l, u_rest, u_th, u_reset))
        u_inf = u_rest + np.asarray(I_e, dtype=f) / g_l
        return np.maximum(f(1000.0) * (u_inf - u_th) / (C_m / g_l * (u_th - u_reset)), f(0.0))
        """)),
    ("ch_rate", "float32", answer("ch_rate", """
        g_e, g_i, E_e, g_m, m = (np.asarray(x, dtype=np.float32) for x in (g_e, g_i, E_e, g_m, m))
        V = g_e * E_e / (g_e + g_i + g_m)
        return m * np.maximum(V, np.float32(0.0)) ** 2
        """)),
]


# ---------------------------------------------------------------------------- the sample class
#: grade id -> code that replaces the ``### BEGIN/END SOLUTION`` region of that answer cell
#: (indented like the marker): the lecture's mistake or the typical one the notebook warns about
#: (the sample class's ``errata`` students, :mod:`coursekit.classes.sample`).
ERRATA: dict[str, str] = {
    "lif_rate": """
        tau_m = C_m / g_l
        u_inf = u_rest + np.asarray(I_e, dtype=float) / g_l
        fires = u_inf > u_th
        u_safe = np.where(fires, u_inf, u_th + 1.0)
        return np.where(fires, 1.0 / (t_ref + tau_m * np.log((u_safe - u_reset) / (u_safe - u_th))), 0.0)  # kHz
        """,
    "lif_rate_linear": """
        tau_m = C_m / g_l
        u_inf = u_rest + np.asarray(I_e, dtype=float) / g_l
        return 1000.0 * (u_inf - u_th) / (tau_m * (u_th - u_reset))  # not rectified
        """,
    "shunting_effect": """
        shunting_effect = "divisive"  # the lecture's claim
        """,
    "rheobase_shift": """
        rheobase_shift = 0.0  # "a shunt injects no current at rest", so no shift
        """,
    "slope_ratio": """
        slope_ratio = g_l / (g_l + 30.0)  # the lecture's division carried over to the slope
        """,
    "lif_model": """
        lif_model = '''
        du/dt = (g_l*(u_rest - u) - g_i*(E_i - u) + I) / C_m : volt (unless refractory)
        I : amp
        g_i : siemens
        '''
        """,
    "ch_rate": """
        V = np.asarray(g_e, dtype=float) * E_e / (np.asarray(g_e, dtype=float) + g_i + g_m)
        return m * V ** 2  # not rectified
        """,
}

#: grade id -> (module of ``helpers/references``, names it defines): an answer cell that only
#: re-exports the reference (the sample class's ``reexport`` edit; the sandbox must make it fail).
REFERENCE_OF: dict[str, tuple[str, str]] = {
    "lif_rate": ("lif_rate", "lif_rate"),
    "lif_rate_linear": ("lif_rate", "lif_rate_linear"),
    "ch_rate": ("lif_rate", "ch_rate"),
    "lif_model": ("brian_reference", "LIF_MODEL as lif_model"),
}


#: (item, label) of a WRONG row -> the misconception the grader must report it with
#: (:mod:`coursekit.answers.misconceptions`; rows whose mistake has no name of its own: ``other``).
MISCONCEPTIONS: dict[tuple[str, str], str] = {
    ('lif_rate', 'rate in kHz (1/interval in ms)'): 'rate-khz',
    ('lif_rate', 'logarithm upside down'): 'lif-rate-formula',
    ('lif_rate', 'refractory period ignored'): 'refractory-ignored',
    ('lif_rate', 'u_rest in place of u_reset'): 'lif-rate-formula',
    ('lif_rate', 'NaN below the rheobase'): 'fires-below-rheobase',
    ('lif_rate', 'tau_m = g_l / C_m'): 'lif-rate-formula',
    ('lif_rate_linear', 'not rectified'): 'not-rectified',
    ('lif_rate_linear', 'asymptote with the 1/(2 tau) offset'): 'lif-asymptote',
    ('lif_rate_linear', 'depolarisation from rest, not from threshold'): 'lif-asymptote',
    ('lif_rate_linear', 'slope from g_l instead of C_m'): 'lif-asymptote',
    ('shunting_effect', 'divisive'): 'shunting-divisive',
    ('shunting_effect', 'not one of the answers'): 'not-a-choice',
    ('lif_model', 'shunt with the wrong sign'): 'simulation-diverges',
    ('lif_model', "lecture's E_i = -70 mV written in"): 'lif-model-equation',
    ('lif_model', 'E_i replaced by u_rest'): 'lif-model-equation',
    ('lif_model', 'shunt as a current g_i (E_i - u_rest), not a conductance'): 'lif-model-equation',
    ('lif_model', 'input divided by the conductance'): 'lif-model-equation',
    ('lif_model', 'missing C_m (units)'): 'units-inconsistent',
    ('lif_model', 'one current for all neurons'): 'shared-input',
    ('ch_rate', 'squared without rectification'): 'not-rectified',
    ('ch_rate', 'not squared'): 'ch-rate-formula',
    ('ch_rate', 'shunt subtracted instead of in the denominator'): 'shunt-subtracted',
    ('ch_rate', 'g_e missing from the denominator'): 'ch-rate-formula',
    ('lif_rate', 'rate kept where the formula is positive: fires far below the rheobase with t_ref'): 'fires-below-rheobase',
    ('lif_rate', 'ndmin=1 unless a Python float: a 1-element array for an int'): 'shape-of-result',
    ('ch_rate', 'early return 0.0 for g_e == 0 ignores an array g_i'): 'shape-of-result',
    ('rheobase_shift', 'the new rheobase, not its shift'): 'rheobase-not-shift',
    ('rheobase_shift', "no shift: 'the shunt injects no current'"): 'shunt-injects-no-current',
    ('rheobase_shift', 'in nA'): 'current-na',
    ('rheobase_shift', 'driving force from 0 mV, not from rest'): 'driving-force-from-zero',
    ('rheobase_shift', 'a string'): 'not-a-number',
    ('slope_ratio', 'divisive guess g_l / (g_l + g_i)'): 'shunt-divides-slope',
    ('slope_ratio', 'Carandini-Heeger factor (g_l / (g_l + g_i))^2'): 'shunt-divides-slope',
    ('slope_ratio', 'ratio of the rheobases'): 'slope-changed-by-shunt',
    ('slope_ratio', 'slopes of the exact curves at 160 and 660 pA, just above the rheobases'): 'shunt-divides-slope',
    ('slope_ratio', 'a bool: np.isclose(a, a)'): 'bool-not-number',
}
