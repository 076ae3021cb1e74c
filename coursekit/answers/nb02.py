"""Notebook 02 (ODE synapses in Brian2): wrong answers, and right ones written another way.

``WRONG`` rows are ``(item, label, source, words[, caught_by_visible])``: a wrong answer, the words one
of which its failure message must contain, and whether the visible checks catch it; ``RIGHT`` rows
are ``(item, label, source)``. The mutation tests (``tests/test_mutations_02.py``) run them, the
synthetic and planted classes (:mod:`coursekit.classes`) draw from them, and :data:`MISCONCEPTIONS`
names what the grader must report for each WRONG row. :data:`ERRATA` and :data:`REFERENCE_OF` are
the sample class's wrong and re-exported answers for this notebook. Plain data
(:mod:`coursekit.answers.tables` reads every such module).
"""

from __future__ import annotations

import textwrap

from coursekit.answers.writing import function_answer

#: The notebook (``source/synapses/<NOTEBOOK>.ipynb``).
NOTEBOOK = "02_ode_synapses"
SIGNATURES = {"dual_exp_peak_time": "def dual_exp_peak_time(tau_rise, tau_decay):"}
#: Answers that are values (Brian2 model strings and on_pre statements), not functions.
VALUES = ("alpha_model", "dual_exp_model")


def strings(model: str, on_pre: str, prefix: str) -> str:
    """An answer cell defining ``<prefix>_model`` and ``<prefix>_on_pre``."""
    model = textwrap.dedent(model).strip("\n")
    return f"{prefix}_model = '''\n{model}\n'''\n{prefix}_on_pre = {on_pre!r}\n"


def peak_time(body: str) -> str:
    return function_answer(SIGNATURES["dual_exp_peak_time"], body)


ALPHA_ODES = """
dg/dt = (x - g) / tau : 1 (clock-driven)
dx/dt = -x / tau : 1 (clock-driven)
"""
DUAL_ODES_NO_K = """
dg/dt = (x - g) / tau_rise : 1 (clock-driven)
dx/dt = -x / tau_decay : 1 (clock-driven)
"""

# ---------------------------------------------------------------------------- mutants
# (item, label, source, words one of which the failure message must contain,
#  whether the visible checks already catch it)
WRONG = [
    # alpha_model / alpha_on_pre
    ("alpha_model", "lecture: x += w peaks at w/e", strings(ALPHA_ODES, "x += w", "alpha"),
     ["w/e", "should be w"], True),
    ("alpha_model", "x decays twice as slowly", strings("""
        dg/dt = (x - g) / tau : 1 (clock-driven)
        dx/dt = -x / (2 * tau) : 1 (clock-driven)
        """, "x += e * w", "alpha"), ["peak", "departs", "expected"], True),
    ("alpha_model", "x grows: dx/dt = +x/tau", strings("""
        dg/dt = (x - g) / tau : 1 (clock-driven)
        dx/dt = x / tau : 1 (clock-driven)
        """, "x += e * w", "alpha"), ["peak", "departs", "expected", "too large"], True),
    ("alpha_model", "tau hard-coded as 5 ms (visible test passes)", strings("""
        dg/dt = (x - g) / (5 * ms) : 1 (clock-driven)
        dx/dt = -x / (5 * ms) : 1 (clock-driven)
        """, "x += e * w", "alpha"), ["t_s + tau", "departs"], False),
    ("alpha_model", "w hard-coded as 1 (visible test passes)", strings(ALPHA_ODES, "x += e", "alpha"),
     ["should be w", "departs"], False),
    ("alpha_model", "missing (clock-driven)", strings("""
        dg/dt = (x - g) / tau : 1
        dx/dt = -x / tau : 1
        """, "x += e * w", "alpha"), ["clock-driven"], True),
    # dual_exp_peak_time
    ("dual_exp_peak_time", "lecture: tau_rise ln(tau_decay/tau_rise)", peak_time("""
        return tau_rise * np.log(tau_decay / tau_rise)
        """), ["tau_rise tau_decay / (tau_decay - tau_rise)", "misses the factor"], True),
    ("dual_exp_peak_time", "ln(tau_rise/tau_decay): negative time", peak_time("""
        return tau_rise * tau_decay / (tau_decay - tau_rise) * np.log(tau_rise / tau_decay)
        """), ["tau_rise tau_decay / (tau_decay - tau_rise)", "expected"], True),
    ("dual_exp_peak_time", "returns a plain number in ms for Brian2 input", peak_time("""
        t = tau_rise * tau_decay / (tau_decay - tau_rise) * np.log(tau_decay / tau_rise)
        return float(t / ms) if hasattr(t, "dim") else t
        """), ["plain number", "Brian2 quantity"], True),
    ("dual_exp_peak_time", "log missing", peak_time("""
        return tau_rise * tau_decay / (tau_decay - tau_rise)
        """), ["tau_rise tau_decay / (tau_decay - tau_rise)", "expected"], True),
    # dual_exp_model / dual_exp_on_pre
    ("dual_exp_model", "no normalisation k: peaks at w/k", strings(DUAL_ODES_NO_K, "x += w", "dual_exp"),
     ["w/k", "should be w"], True),
    ("dual_exp_model", "factor e of the alpha synapse instead of k", strings(
        DUAL_ODES_NO_K, "x += e * w", "dual_exp"), ["should be w", "expected"], True),
    ("dual_exp_model", "k inverted", strings("""
        dg/dt = (k * x - g) / tau_rise : 1 (clock-driven)
        dx/dt = -x / tau_decay : 1 (clock-driven)
        k = (tau_rise / tau_decay) ** (tau_rise / (tau_decay - tau_rise)) : 1
        """, "x += w", "dual_exp"), ["should be w", "expected"], True),
    ("dual_exp_model", "time constants swapped", strings("""
        dg/dt = (k * x - g) / tau_decay : 1 (clock-driven)
        dx/dt = -x / tau_rise : 1 (clock-driven)
        k = (tau_decay / tau_rise) ** (tau_rise / (tau_decay - tau_rise)) : 1
        """, "x += w", "dual_exp"), ["should be w", "expected"], True),
    ("dual_exp_model", "k hard-coded for 8 ms / 60 ms (visible test passes)", strings("""
        dg/dt = (7.5 ** (8.0 / 52.0) * x - g) / tau_rise : 1 (clock-driven)
        dx/dt = -x / tau_decay : 1 (clock-driven)
        """, "x += w", "dual_exp"), ["should be w", "departs"], False),
]

RIGHT = [
    ("alpha_model", "factor e inside the equation, x += w", strings("""
        dg/dt = (e * x - g) / tau : 1 (clock-driven)
        dx/dt = -x / tau : 1 (clock-driven)
        """, "x += w", "alpha")),
    ("alpha_model", "x = x + e*w and a written-out rate", strings("""
        dx/dt = -x * (1 / tau) : 1 (clock-driven)
        dg/dt = -(g - x) / tau : 1 (clock-driven)
        """, "x = x + e * w", "alpha")),
    ("dual_exp_peak_time", "ln(td/tr) / (1/tr - 1/td)", peak_time("""
        return np.log(tau_decay / tau_rise) / (1 / tau_rise - 1 / tau_decay)
        """)),
    ("dual_exp_peak_time", "tau_rise / (1 - tau_rise/tau_decay) ln(...)", peak_time("""
        ratio = tau_decay / tau_rise
        return tau_rise / (1 - 1 / ratio) * np.log(ratio)
        """)),
    ("dual_exp_model", "k in the jump", strings("""
        dg/dt = (x - g) / tau_rise : 1 (clock-driven)
        dx/dt = -x / tau_decay : 1 (clock-driven)
        """, "x += w * (tau_decay / tau_rise) ** (tau_rise / (tau_decay - tau_rise))", "dual_exp")),
    ("dual_exp_model", "difference of two decaying exponentials", strings("""
        da/dt = -a / tau_decay : 1 (clock-driven)
        db/dt = -b / tau_rise : 1 (clock-driven)
        t_peak = tau_rise * tau_decay / (tau_decay - tau_rise) * log(tau_decay / tau_rise) : second
        norm = exp(-t_peak / tau_decay) - exp(-t_peak / tau_rise) : 1
        g = (a - b) / norm : 1
        """, "a += w\nb += w", "dual_exp")),
]


# ---------------------------------------------------------------------------- the full range of valid input
# Rows that only the probes of every kind of scalar and of an array in one argument catch (False: the
# visible checks pass them), and right answers computed in float32 or with another formula.
WRONG += [
    ("dual_exp_peak_time", "ndmin=1 unless a Python float or a quantity: a 1-element array for an int", peak_time("""
        if isinstance(tau_rise, float) or hasattr(tau_rise, "dim"):
            return tau_rise * tau_decay / (tau_decay - tau_rise) * np.log(tau_decay / tau_rise)
        tr = np.array(tau_rise, dtype=float, ndmin=1)
        td = np.array(tau_decay, dtype=float, ndmin=1)
        return tr * td / (td - tr) * np.log(td / tr)
        """), ["a scalar input"], False),
    ("dual_exp_peak_time", "zip over the pairs: an array with a scalar keeps one value", peak_time("""
        if np.ndim(tau_rise) == 0 and np.ndim(tau_decay) == 0:
            return tau_rise * tau_decay / (tau_decay - tau_rise) * np.log(tau_decay / tau_rise)
        pairs = zip(np.ravel(np.asarray(tau_rise)), np.ravel(np.asarray(tau_decay)))
        return np.array([tr * td / (td - tr) * np.log(td / tr) for tr, td in pairs])
        """), ["has shape (1,); expected shape (4,)"], False),
]

RIGHT += [
    ("dual_exp_peak_time", "float32 ratio, unit from tau_rise", peak_time("""
        ratio = np.asarray(tau_decay / tau_rise, dtype=np.float32)
        return tau_rise * (ratio / (ratio - np.float32(1.0)) * np.log(ratio))
        """)),
    ("dual_exp_peak_time", "float32 throughout for plain numbers", peak_time("""
        if hasattr(tau_rise, "dim"):  # Brian2: the same formula in float32 on the values in ms
            return dual_exp_peak_time(np.asarray(tau_rise / ms), np.asarray(tau_decay / ms)) * ms
        tr, td = np.asarray(tau_rise, dtype=np.float32), np.asarray(tau_decay, dtype=np.float32)
        return tr * td / (td - tr) * np.log(td / tr)
        """)),
    ("dual_exp_peak_time", "ln(td/tr) / (1/tr - 1/td) with log1p", peak_time("""
        return np.log1p(tau_decay / tau_rise - 1) / (1 / tau_rise - 1 / tau_decay)
        """)),
]


# ---------------------------------------------------------------------------- the sample class
#: grade id -> code that replaces the ``### BEGIN/END SOLUTION`` region of that answer cell
#: (indented like the marker): the lecture's mistake or the typical one the notebook warns about
#: (the sample class's ``errata`` students, :mod:`coursekit.classes.sample`).
ERRATA: dict[str, str] = {
    "alpha_model": """
        alpha_model = '''
        dg/dt = (x - g) / tau : 1 (clock-driven)
        dx/dt = -x / tau : 1 (clock-driven)
        '''
        alpha_on_pre = 'x += w'  # lecture: g then peaks at w/e
        """,
    "dual_exp_peak_time": """
        return tau_rise * np.log(tau_decay / tau_rise)  # lecture's t*
        """,
    "dual_exp_model": """
        dual_exp_model = '''
        dg/dt = (x - g) / tau_rise : 1 (clock-driven)
        dx/dt = -x / tau_decay : 1 (clock-driven)
        '''
        dual_exp_on_pre = 'x += w'  # no normalisation: peaks below w
        """,
}

#: grade id -> (module of ``helpers/references``, names it defines): an answer cell that only
#: re-exports the reference (the sample class's ``reexport`` edit; the sandbox must make it fail).
REFERENCE_OF: dict[str, tuple[str, str]] = {
    "alpha_model": ("brian_reference", "ALPHA_MODEL as alpha_model, ALPHA_ON_PRE as alpha_on_pre"),
    "dual_exp_peak_time": ("waveforms", "dual_exp_peak_time"),
    "dual_exp_model": ("brian_reference", "DUAL_EXP_MODEL as dual_exp_model, DUAL_EXP_ON_PRE as dual_exp_on_pre"),
}


#: (item, label) of a WRONG row -> the misconception the grader must report it with
#: (:mod:`coursekit.answers.misconceptions`; rows whose mistake has no name of its own: ``other``).
MISCONCEPTIONS: dict[tuple[str, str], str] = {
    ('alpha_model', 'lecture: x += w peaks at w/e'): 'alpha-jump-w-not-ew',
    ('alpha_model', 'x decays twice as slowly'): 'alpha-ode',
    ('alpha_model', 'x grows: dx/dt = +x/tau'): 'alpha-ode',
    ('alpha_model', 'tau hard-coded as 5 ms (visible test passes)'): 'alpha-peak-time',
    ('alpha_model', 'w hard-coded as 1 (visible test passes)'): 'peak-not-w',
    ('alpha_model', 'missing (clock-driven)'): 'missing-clock-driven',
    ('dual_exp_peak_time', 'lecture: tau_rise ln(tau_decay/tau_rise)'): 'lecture-peak-time',
    ('dual_exp_peak_time', 'ln(tau_rise/tau_decay): negative time'): 'sign-flipped',
    ('dual_exp_peak_time', 'returns a plain number in ms for Brian2 input'): 'brian-units-missing',
    ('dual_exp_peak_time', 'log missing'): 'peak-time-formula',
    ('dual_exp_model', 'no normalisation k: peaks at w/k'): 'dual-exp-missing-k',
    ('dual_exp_model', 'factor e of the alpha synapse instead of k'): 'peak-not-w',
    ('dual_exp_model', 'k inverted'): 'peak-not-w',
    ('dual_exp_model', 'time constants swapped'): 'peak-not-w',
    ('dual_exp_model', 'k hard-coded for 8 ms / 60 ms (visible test passes)'): 'peak-not-w',
    ('dual_exp_peak_time', 'ndmin=1 unless a Python float or a quantity: a 1-element array for an int'): 'shape-of-result',
    ('dual_exp_peak_time', 'zip over the pairs: an array with a scalar keeps one value'): 'shape-of-result',
}
