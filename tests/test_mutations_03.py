"""Mutation tests of notebook 03 (an NMDA synapse on a leaky neuron, Brian2), and its explorer.

One kernel runs the set-up cell once; per mutant only the answer cell (replaced
by the mutant) and that item's test cell run (tests/nbkernel.py). Wrong answers,
the lecture's own errors among them (the 16.3 mV typo in the Mg block), must
fail with a message about the physics, also when only the hidden tests run;
answers that hard-code the visible test's parameters (u_rest, g_max, Mg) must
fail the hidden tests, which change the namespace; correct answers written
another way must pass; so must the stored solution, and the released stub must
fail with its instruction.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mutation_suite import define_mutation_tests

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "source" / "synapses" / "03_nmda_brian2.ipynb"

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

CHEATS = [
    ("neuron_eqs", "re-exported reference string",
     "from helpers.references.brian_reference import NMDA_NEURON_EQS as neuron_eqs\n"),
    ("synapse_model", "re-exported reference strings",
     "from helpers.references import brian_reference as _r\n"
     "synapse_model, synapse_on_pre = _r.NMDA_SYNAPSE_MODEL, _r.NMDA_SYNAPSE_ON_PRE\n"),
]


define_mutation_tests(globals(), NOTEBOOK, values=VALUES, wrong=WRONG, right=RIGHT, cheats=CHEATS,
                      marks=[pytest.mark.brian],
                      # two autograded items (3 + 3 points) and one written answer (2 points)
                      points={"test_neuron_eqs": 3, "test_synapse_model": 3, "coincidence_answer": 2})


@pytest.mark.notebooks
@pytest.mark.brian
def test_hidden_message_names_the_rule_not_the_reference_value(kernel):
    """The 16.3 mV typo: the hidden message gives the student's G_mg and the Jahr-Stevens rule."""
    source = next(case[2] for case in WRONG if case[1].startswith("lecture typo: 16.3 mV"))
    with kernel.replaced("neuron_eqs", source):
        ok, err = kernel.run(kernel.hidden_tests("neuron_eqs"))
    assert not ok
    # first hidden case: Mg = 0 (no block either way); second: u_rest = -40 mV, Mg = 2 mM
    assert "G_mg at u = u_rest" in err and "u_rest = -40 mV" in err and "Mg = 2 mM" in err, err
    assert "it should be 1/(1 + Mg/3.57 mM exp(-0.062 u/mV))" in err, err
    from helpers.references.nmda import mg_block

    assert f"{mg_block(-40.0, 2.0):.3f}" not in err, err  # the reference value stays hidden


# ---------------------------------------------------------------------------- explorer
@pytest.fixture(scope="module")
def explorer():
    pytest.importorskip("ipympl")
    from helpers.explorers.nmda import nmda_explorer
    from helpers.references import brian_reference as ref

    # the notebook passes the student's strings; here the reference ones
    ex = nmda_explorer(ref.nmda_namespace(),
                       (ref.NMDA_NEURON_EQS, ref.NMDA_SYNAPSE_MODEL, ref.NMDA_SYNAPSE_ON_PRE))
    yield ex
    import matplotlib.pyplot as plt

    plt.close(ex.fig)


def _number_after(text, key, unit):
    start = text.index(key) + len(key)
    return float(text[start:text.index(unit, start)].strip())


@pytest.mark.brian
def test_explorer_reports_the_reference_epsps_and_blocks(explorer):
    """Given the reference strings, the explorer's EPSPs and G_mg are the reference values."""
    from helpers.references.nmda import mg_block

    text = explorer.readout.value
    assert _number_after(text, "[Mg] =", "mM") == pytest.approx(1.2)
    # 0.505 mV at rest: the figure measured against scipy's Radau solver (helpers.references.brian_reference)
    assert _number_after(text, "EPSP at rest =", "mV") == pytest.approx(0.505, abs=1e-3)
    assert _number_after(text, "depolarised =", "mV") == pytest.approx(1.243, abs=1e-3)
    assert _number_after(text, "B(-65 mV) =", ",") == pytest.approx(mg_block(-65.0, 1.2), abs=1e-3)
    assert float(re.search(r"B\(-40 mV\) = ([0-9.]+)", text).group(1)) == pytest.approx(
        mg_block(-40.0, 1.2), abs=1e-3)


@pytest.mark.brian
def test_explorer_updates_lines_in_place(explorer):
    from helpers.references.nmda import mg_block

    lines_before = [line for ax in explorer.fig.axes for line in ax.get_lines()]
    rest_line = explorer.fig.axes[0].get_lines()[0]
    peak_before = float(np.max(rest_line.get_ydata()))
    explorer.controls["Mg"].value = 0.0
    lines_after = [line for ax in explorer.fig.axes for line in ax.get_lines()]
    assert lines_after == lines_before  # same artists, new data
    peak_free = float(np.max(rest_line.get_ydata()))
    assert peak_free > 10 * peak_before  # without Mg the EPSP at rest is 17 times larger
    block = explorer.fig.axes[1].get_lines()[0]
    assert np.allclose(block.get_ydata(), 1.0)
    assert _number_after(explorer.readout.value, "EPSP at rest =", "mV") == pytest.approx(peak_free, abs=1e-3)
    explorer.controls["g_max"].value = 4.0
    peak_double = float(np.max(rest_line.get_ydata()))
    assert 1.5 * peak_free < peak_double < 2.0 * peak_free  # sublinear: the driving force shrinks
    explorer.controls["Mg"].value = 1.2
    explorer.controls["g_max"].value = 2.0
    assert float(np.max(rest_line.get_ydata())) == pytest.approx(peak_before, abs=1e-9)  # cached result
    assert np.allclose(block.get_ydata(), mg_block(np.asarray(block.get_xdata()), 1.2))
