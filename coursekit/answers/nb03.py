"""Notebook 03 (an NMDA synapse on a leaky neuron, Brian2): wrong answers, and right ones written another way.

``WRONG`` rows are ``(item, label, source, words[, caught_by_visible])``: a wrong answer, the words one
of which its failure message must contain, and whether the visible checks catch it; ``RIGHT`` rows
are ``(item, label, source)``. The mutation tests (``tests/test_mutations_03.py``) run them, the
synthetic and planted classes (:mod:`coursekit.classes`) draw from them, and :data:`MISCONCEPTIONS`
names what the grader must report for each WRONG row. :data:`ERRATA` and :data:`REFERENCE_OF` are
the sample class's wrong and re-exported answers for this notebook. Plain data
(:mod:`coursekit.answers.tables` reads every such module).
"""

from __future__ import annotations

import textwrap

#: The notebook (``source/synapses/<NOTEBOOK>.ipynb``).
NOTEBOOK = "03_nmda_brian2"
#: Answers that are values (Brian2 equation strings and an on_pre statement), not functions.
VALUES = ("neuron_eqs", "synapse_model")


def neuron(eqs: str) -> str:
    """An answer cell defining ``neuron_eqs``."""
    return f"neuron_eqs = '''\n{textwrap.dedent(eqs).strip()}\n'''\n"


def synapse(model: str, on_pre: str) -> str:
    """An answer cell defining ``synapse_model`` and ``synapse_on_pre``."""
    return f"synapse_model = '''\n{textwrap.dedent(model).strip()}\n'''\nsynapse_on_pre = {on_pre!r}\n"


MEMBRANE = "du/dt = (g_l * (u_rest - u) + g_syn * G_mg * (E_nmda - u)) / C_m : volt"
PARAMETER = "g_syn : siemens"
BLOCK = "G_mg = 1 / (1 + Mg / (3.57 * mM) * exp(-0.062 * u / mV)) : 1"
K = "k = (tau_decay / tau_rise) ** (tau_rise / (tau_decay - tau_rise)) : 1"
SUMMED = "g_syn_post = g : siemens (summed)"
G_ODE = "dg/dt = (k * x - g) / tau_rise : siemens (clock-driven)"
X_ODE = "dx/dt = -x / tau_decay : siemens (clock-driven)"


def lines(*parts: str) -> str:
    return "\n".join(parts)


# ---------------------------------------------------------------------------- mutants
# (item, label, source, words one of which the failure message must contain,
#  whether the visible checks already catch it)
WRONG = [
    # neuron_eqs
    ("neuron_eqs", "lecture typo: 16.3 mV instead of 1/0.062 = 16.13 mV", neuron(lines(
        MEMBRANE, "G_mg = 1 / (1 + Mg / (3.57 * mM) * exp(-u / (16.3 * mV))) : 1", PARAMETER)),
     ["G_mg"], True),
    ("neuron_eqs", "no magnesium block", neuron(lines(MEMBRANE, "G_mg = 1 : 1", PARAMETER)),
     ["G_mg"], True),
    ("neuron_eqs", "block grows with depolarisation: exp(+0.062 u)", neuron(lines(
        MEMBRANE, "G_mg = 1 / (1 + Mg / (3.57 * mM) * exp(0.062 * u / mV)) : 1", PARAMETER)),
     ["G_mg"], True),
    ("neuron_eqs", "Mg hard-coded as 1.2 mM", neuron(lines(
        MEMBRANE, "G_mg = 1 / (1 + 1.2 / 3.57 * exp(-0.062 * u / mV)) : 1", PARAMETER)),
     ["G_mg"], True),
    ("neuron_eqs", "u_rest hard-coded as -65 mV (visible test passes)", neuron(lines(
        "du/dt = (g_l * (-65 * mV - u) + g_syn * G_mg * (E_nmda - u)) / C_m : volt", BLOCK, PARAMETER)),
     ["u departs"], False),
    ("neuron_eqs", "E_nmda hard-coded as 0 mV (visible test passes)", neuron(lines(
        "du/dt = (g_l * (u_rest - u) - g_syn * G_mg * u) / C_m : volt", BLOCK, PARAMETER)),
     ["u departs"], False),
    ("neuron_eqs", "driving force with the wrong sign", neuron(lines(
        "du/dt = (g_l * (u_rest - u) + g_syn * G_mg * (u - E_nmda)) / C_m : volt", BLOCK, PARAMETER)),
     ["EPSP", "u departs"], True),
    ("neuron_eqs", "missing division by C_m", neuron(lines(
        "du/dt = g_l * (u_rest - u) + g_syn * G_mg * (E_nmda - u) : volt", BLOCK, PARAMETER)),
     ["units"], True),
    ("neuron_eqs", "block evaluated at u_rest instead of u", neuron(lines(
        MEMBRANE, "G_mg = 1 / (1 + Mg / (3.57 * mM) * exp(-0.062 * u_rest / mV)) : 1", PARAMETER)),
     ["not at u_rest"], True),
    # trial 3: a unit error arrived cut off; the whole Brian2 sentence names the term
    ("neuron_eqs", "3.57 without mM: Mg / 3.57 has a unit", neuron(lines(
        MEMBRANE, "G_mg = 1 / (1 + Mg / 3.57 * exp(-0.062 * u / mV)) : 1", PARAMETER)),
     ["has inconsistent units", "combines different units"], True),
    ("neuron_eqs", "block applied to the leak as well", neuron(lines(
        "du/dt = G_mg * (g_l * (u_rest - u) + g_syn * (E_nmda - u)) / C_m : volt", BLOCK, PARAMETER)),
     ["EPSP", "u departs"], True),
    # synapse_model / synapse_on_pre
    ("synapse_model", "no normalisation k: peak g_max/k", synapse(lines(
        "dg/dt = (x - g) / tau_rise : siemens (clock-driven)", X_ODE, SUMMED), "x += g_max"),
     ["g_max/k", "should be g_max"], True),
    ("synapse_model", "missing (summed)", synapse(lines(G_ODE, X_ODE, K, "g_syn_post = g : siemens"),
                                                   "x += g_max"), ["summed"], True),
    ("synapse_model", "spike jumps g instead of x", synapse(lines(G_ODE, X_ODE, K, SUMMED), "g += g_max"),
     ["g_syn", "peak"], True),
    ("synapse_model", "time constants swapped", synapse(lines(
        "dg/dt = (k * x - g) / tau_decay : siemens (clock-driven)",
        "dx/dt = -x / tau_rise : siemens (clock-driven)", K, SUMMED), "x += g_max"),
     ["g_syn", "peak"], True),
    ("synapse_model", "g_max hard-coded as 2 nS", synapse(lines(G_ODE, X_ODE, K, SUMMED), "x += 2 * nS"),
     ["departs", "should be g_max"], True),
    ("synapse_model", "k hard-coded for 8 ms / 60 ms", synapse(lines(
        "dg/dt = (7.5 ** (8.0 / 52.0) * x - g) / tau_rise : siemens (clock-driven)", X_ODE, SUMMED),
        "x += g_max"), ["compute k from tau_rise and tau_decay"], True),
    # trial 3: k pasted into the string as a number
    ("synapse_model", "k pasted as 1.3634", synapse(lines(
        "dg/dt = (1.3634047720949702 * x - g) / tau_rise : siemens (clock-driven)", X_ODE, SUMMED),
        "x += g_max"), ["compute k from tau_rise and tau_decay"], True),
    # trial 3: the block in the neuron and again in the synapse: the EPSP is B(u_rest) = 0.05 times too small
    ("synapse_model", "block applied twice: g_syn_post = g * G_mg_post", synapse(lines(
        G_ODE, X_ODE, K, "g_syn_post = g * G_mg_post : siemens (summed)"), "x += g_max"),
     ["applies the block as well"], True),
    # trial 3: errata item 3 says "dividing by N"; Brian2 reserves N (the number of neurons)
    ("synapse_model", "normaliser named N", synapse(lines(
        "dg/dt = (x / N - g) / tau_rise : siemens (clock-driven)", X_ODE,
        "N = (tau_rise / tau_decay) ** (tau_rise / (tau_decay - tau_rise)) : 1", SUMMED), "x += g_max"),
     ["'N' has a special meaning"], True),
]

RIGHT = [
    ("neuron_eqs", "membrane time constant and a current subexpression", neuron("""
        du/dt = (u_rest - u) / tau_m + I_nmda / C_m : volt
        tau_m = C_m / g_l : second
        I_nmda = g_syn * G_mg * (E_nmda - u) : amp
        G_mg = 1 / (1 + (Mg / (3.57 * mM)) * exp(-u / (16.13 * mV))) : 1
        g_syn : siemens
        """)),
    ("neuron_eqs", "block evaluated once per step", neuron(lines(
        MEMBRANE, BLOCK + " (constant over dt)", PARAMETER))),
    ("synapse_model", "k in the jump", synapse(lines(
        "dg/dt = (x - g) / tau_rise : siemens (clock-driven)", X_ODE, SUMMED),
        "x += g_max * (tau_decay / tau_rise) ** (tau_rise / (tau_decay - tau_rise))")),
    ("synapse_model", "difference of two decaying exponentials", synapse("""
        da/dt = -a / tau_decay : siemens (clock-driven)
        db/dt = -b / tau_rise : siemens (clock-driven)
        t_peak = tau_rise * tau_decay / (tau_decay - tau_rise) * log(tau_decay / tau_rise) : second
        g_syn_post = (a - b) / (exp(-t_peak / tau_decay) - exp(-t_peak / tau_rise)) : siemens (summed)
        """, "a += g_max\nb += g_max")),
]


# ---------------------------------------------------------------------------- the sample class
#: grade id -> code that replaces the ``### BEGIN/END SOLUTION`` region of that answer cell
#: (indented like the marker): the lecture's mistake or the typical one the notebook warns about
#: (the sample class's ``errata`` students, :mod:`coursekit.classes.sample`).
ERRATA: dict[str, str] = {
    "neuron_eqs": """
        neuron_eqs = '''
        du/dt = (g_l * (u_rest - u) + g_syn * G_mg * (E_nmda - u)) / C_m : volt
        G_mg = 1 / (1 + Mg / (3.57 * mM) * exp(-u / (16.3 * mV))) : 1
        g_syn : siemens
        '''
        """,
    "synapse_model": """
        synapse_model = '''
        dg/dt = (x - g) / tau_rise : siemens (clock-driven)
        dx/dt = -x / tau_decay : siemens (clock-driven)
        g_syn_post = g : siemens (summed)
        '''
        synapse_on_pre = 'x += g_max'  # no normalisation k
        """,
}

#: grade id -> (module of ``helpers/references``, names it defines): an answer cell that only
#: re-exports the reference (the sample class's ``reexport`` edit; the sandbox must make it fail).
REFERENCE_OF: dict[str, tuple[str, str]] = {
    "neuron_eqs": ("brian_reference", "NMDA_NEURON_EQS as neuron_eqs"),
    "synapse_model": ("brian_reference", "NMDA_SYNAPSE_MODEL as synapse_model, NMDA_SYNAPSE_ON_PRE as synapse_on_pre"),
}


#: (item, label) of a WRONG row -> the misconception the grader must report it with
#: (:mod:`coursekit.answers.misconceptions`; rows whose mistake has no name of its own: ``other``).
MISCONCEPTIONS: dict[tuple[str, str], str] = {
    ('neuron_eqs', 'lecture typo: 16.3 mV instead of 1/0.062 = 16.13 mV'): 'mg-block-formula',
    ('neuron_eqs', 'no magnesium block'): 'mg-block-formula',
    ('neuron_eqs', 'block grows with depolarisation: exp(+0.062 u)'): 'mg-block-formula',
    ('neuron_eqs', 'Mg hard-coded as 1.2 mM'): 'mg-ignored',
    ('neuron_eqs', 'u_rest hard-coded as -65 mV (visible test passes)'): 'nmda-membrane-equation',
    ('neuron_eqs', 'E_nmda hard-coded as 0 mV (visible test passes)'): 'nmda-membrane-equation',
    ('neuron_eqs', 'driving force with the wrong sign'): 'nmda-membrane-equation',
    ('neuron_eqs', 'missing division by C_m'): 'units-inconsistent',
    ('neuron_eqs', 'block evaluated at u_rest instead of u'): 'mg-block-at-rest',
    ('neuron_eqs', 'block applied to the leak as well'): 'nmda-membrane-equation',
    ('neuron_eqs', '3.57 without mM: Mg / 3.57 has a unit'): 'units-inconsistent',
    ('synapse_model', 'no normalisation k: peak g_max/k'): 'dual-exp-missing-k',
    ('synapse_model', 'missing (summed)'): 'missing-summed',
    ('synapse_model', 'spike jumps g instead of x'): 'peak-not-w',
    ('synapse_model', 'time constants swapped'): 'peak-not-w',
    ('synapse_model', 'g_max hard-coded as 2 nS'): 'peak-not-w',
    ('synapse_model', 'k hard-coded for 8 ms / 60 ms'): 'k-hard-coded',
    ('synapse_model', 'k pasted as 1.3634'): 'k-hard-coded',
    ('synapse_model', 'block applied twice: g_syn_post = g * G_mg_post'): 'mg-block-twice',
    ('synapse_model', 'normaliser named N'): 'brian-reserved-name',
}
