"""The synapse-zoo explorer (helpers/explorers/zoo.py): in-place updates, defaults, readout numbers.

The explorer simulates with the functions it is given (the student's in notebook 01; the
references here) and draws the stored reference (helpers/data/reference_curves.npz) for
the synapse's default settings as dashed lines.
"""

import numpy as np
import pytest

from helpers.explorers.zoo import (MAX_DURATION, SPIKE_TIME, explorer_duration, reference_traces, zoo_explorer,
                                   zoo_settings)
from helpers.references import nmda, waveforms
from helpers.references.zoo import REFERENCE_FNS, psp_amplitude
from helpers.zoo import ZOO

pytest.importorskip("ipympl")
pytest.importorskip("ipywidgets")


def _lines(ex):
    return [line for ax in ex.fig.axes for line in ax.get_lines()]


def _number_after(text, key, unit):
    """The number between ``key`` and ``unit`` in the readout."""
    start = text.index(key) + len(key)
    return float(text[start:text.index(unit, start)].strip())


def test_duration_covers_the_decay_and_stays_bounded():
    assert explorer_duration(2.0, 20.0) == 130.0  # 10 + 12 + 100 ms, rounded up to 10 ms
    assert explorer_duration(0.1, 1.0) == 100.0
    assert explorer_duration(200.0, 20.0) == 1310.0  # GABA_B: 10 + 1200 + 100 ms
    assert explorer_duration(400.0, 20.0) == MAX_DURATION
    assert explorer_duration(60.0, 20.0) >= SPIKE_TIME + 6 * 60.0


def test_settings_keep_the_rise_below_the_decay_for_dual_exponentials():
    syn, clamped = zoo_settings(ZOO["NMDA"], 3.0, 80.0, 60.0)
    assert clamped and syn.tau_rise == pytest.approx(57.0) and syn.tau_decay == 60.0
    assert syn.g_peak == 3.0 and syn.mg_block and syn.E_syn == 0.0
    syn, clamped = zoo_settings(ZOO["AMPA"], 7.0, 80.0, 4.0)
    assert not clamped and syn.tau_rise is None and syn.tau_decay == 4.0 and syn.g_peak == 7.0


@pytest.fixture(scope="module")
def explorer():
    ex = zoo_explorer(**REFERENCE_FNS)
    yield ex
    import matplotlib.pyplot as plt

    plt.close(ex.fig)


@pytest.mark.parametrize("name", list(ZOO))
def test_each_synapse_resets_the_sliders_and_reports_its_peak_and_psp(explorer, name):
    lines_before = _lines(explorer)
    explorer.controls["synapse"].value = name
    explorer.controls["u_rest"].value = -65.0
    syn = ZOO[name]
    assert explorer.controls["g_peak"].value == pytest.approx(syn.g_peak)
    assert explorer.controls["tau_decay"].value == pytest.approx(syn.tau_decay)
    assert explorer.controls["tau_rise"].disabled == (syn.waveform != "dual_exp")
    text = explorer.readout.value
    assert _number_after(text, "peak g =", "nS") == pytest.approx(syn.g_peak, rel=2e-3)
    # The PSP in the readout is the one of helpers.zoo.psp_amplitude with the references (spike at 0 there,
    # at 10 ms here).
    psp, _ = psp_amplitude(name)
    assert _number_after(text, "PSP =", "mV") == pytest.approx(psp, abs=0.011)
    assert (psp > 0) == (syn.E_syn > -65.0)
    # Same artists, new data: nothing is rebuilt per update.
    assert _lines(explorer) == lines_before
    own_u = explorer.fig.axes[2].get_lines()[1]
    assert own_u.get_xdata()[-1] == pytest.approx(explorer_duration(syn.tau_decay, 20.0))


def test_depolarisation_relieves_the_nmda_block(explorer):
    explorer.controls["synapse"].value = "NMDA"
    explorer.controls["u_rest"].value = -65.0
    at_rest = _number_after(explorer.readout.value, "peak I_syn =", "pA")
    explorer.controls["u_rest"].value = -30.0
    depolarised = _number_after(explorer.readout.value, "peak I_syn =", "pA")
    g = ZOO["NMDA"].g_peak
    # Roughly g B(u) (E - u) at the peak of g: 10 nS x 0.05 x 65 mV versus 10 nS x 0.31 x 30 mV.
    assert at_rest == pytest.approx(g * nmda.mg_block(-65.0) * 65.0, rel=0.15)
    assert depolarised > 2.5 * at_rest
    explorer.controls["u_rest"].value = -65.0


def test_gaba_a_current_reverses_below_its_reversal_potential(explorer):
    explorer.controls["synapse"].value = "GABA_A"
    explorer.controls["u_rest"].value = -85.0
    assert _number_after(explorer.readout.value, "peak I_syn =", "pA") > 0
    assert _number_after(explorer.readout.value, "PSP =", "mV") > 0
    explorer.controls["u_rest"].value = -65.0


def test_sliders_change_the_curves():
    ex = zoo_explorer(**REFERENCE_FNS, synapse="AMPA")
    g_line = ex.fig.axes[0].get_lines()[1]
    ex.controls["g_peak"].value = 8.0
    assert np.max(g_line.get_ydata()) == pytest.approx(8.0)
    ex.controls["tau_decay"].value = 10.0
    t, g = g_line.get_xdata(), g_line.get_ydata()
    i = np.searchsorted(t, SPIKE_TIME + 10.0)
    assert g[i] == pytest.approx(8.0 * np.exp(-(t[i] - SPIKE_TIME) / 10.0), rel=1e-9)


def test_wrong_student_function_shows_beside_the_reference():
    def lecture_alpha(t, g_peak, tau):
        t = np.asarray(t, dtype=float)
        return np.where(t >= 0, g_peak * t / tau * np.exp(-np.maximum(t, 0) / tau), 0.0)

    fns = dict(REFERENCE_FNS, conductance_fns=dict(REFERENCE_FNS["conductance_fns"], alpha=lecture_alpha))
    ex = zoo_explorer(**fns, synapse="GABA_A")
    own, ref = ex.fig.axes[0].get_lines()[1], ex.fig.axes[0].get_lines()[0]
    assert np.max(own.get_ydata()) == pytest.approx(ZOO["GABA_A"].g_peak / np.e, rel=1e-3)
    assert np.max(ref.get_ydata()) == pytest.approx(ZOO["GABA_A"].g_peak, rel=1e-3)
    assert _number_after(ex.readout.value, "peak g =", "nS") == pytest.approx(20.0 / np.e, rel=2e-3)


def test_unimplemented_functions_leave_the_reference_and_say_so():
    def stub(*args):
        raise NotImplementedError("return g_peak * exp(-t/tau)")

    ex = zoo_explorer(conductance_fns={"exp": stub, "alpha": stub, "dual_exp": stub},
                      mg_block_fn=nmda.mg_block, current_fn=REFERENCE_FNS["current_fn"], synapse="AMPA")
    own, ref = ex.fig.axes[0].get_lines()[1], ex.fig.axes[0].get_lines()[0]
    assert len(own.get_xdata()) == 0 and len(ref.get_xdata()) > 0
    assert "NotImplementedError" in ex.readout.value and "Reference only" in ex.readout.value
    # The reference curve is still right (stored as float32).
    t = ref.get_xdata()
    np.testing.assert_allclose(ref.get_ydata(), waveforms.exp_conductance(t - SPIKE_TIME, 5.0, 2.0),
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", list(ZOO))
def test_stored_reference_is_the_reference_simulation_at_the_default_settings(name):
    from helpers.references.zoo import simulate_zoo

    syn = ZOO[name]
    res = simulate_zoo({name: [SPIKE_TIME]}, duration=explorer_duration(syn.tau_decay, 20.0),
                       synapses={name: syn})
    stored = reference_traces(name)
    np.testing.assert_array_equal(stored["t"], res.t)
    for key, want in (("g", res.g[name]), ("I", res.I[name]), ("u", res.u)):
        np.testing.assert_allclose(stored[key], want, rtol=1e-6, atol=1e-5, err_msg=key)


def test_reference_lines_stay_at_the_defaults_while_the_students_move():
    ex = zoo_explorer(**REFERENCE_FNS, synapse="AMPA")
    ref_g, own_g = ex.fig.axes[0].get_lines()[:2]
    before = np.array(ref_g.get_ydata())
    ex.controls["g_peak"].value = 8.0
    np.testing.assert_array_equal(ref_g.get_ydata(), before)  # the stored default, 5 nS
    assert np.max(own_g.get_ydata()) == pytest.approx(8.0)
    assert "default settings" in ref_g.get_label()
