"""Mutation tests of notebook 03 (an NMDA synapse on a leaky neuron, Brian2), and its explorer.

One kernel runs the set-up cell once; per mutant only the answer cell (replaced
by the mutant) and that item's test cell run (tests/nbkernel.py). Wrong answers,
the lecture's own errors among them (the 16.3 mV typo in the Mg block), must
fail with a message about the physics, also when only the hidden tests run;
answers that hard-code the visible test's parameters (u_rest, g_max, Mg) must
fail the hidden tests, which change the namespace; correct answers written
another way must pass; so must the stored solution, and the released stub must
fail with its instruction.

The answers (WRONG, RIGHT) are the tables of :mod:`coursekit.answers.nb03`; the shortcut
attempts (CHEATS) and this notebook's own tests are here.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from mutation_suite import define_mutation_tests

from coursekit.answers import nb03 as answers
from coursekit.answers.nb03 import RIGHT, VALUES, WRONG

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "source" / "synapses" / f"{answers.NOTEBOOK}.ipynb"

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
