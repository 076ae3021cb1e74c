"""helpers.zoo: the synapse table and the conductance-based integrator against an independent solve_ivp.

helpers.zoo has no functions of its own: the tests pass the references
(helpers.references.zoo: ``simulate``, ``simulate_ivp`` and ``psp_amplitude`` are
helpers.zoo's functions with the reference functions filled in, any of which a
test may replace), as notebook 01 passes the student's.
"""

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from helpers import zoo
from helpers.references.lif_rate import lif_isi
from helpers.references.waveforms import alpha_conductance, dual_exp_conductance, exp_conductance
from helpers.references.zoo import CONDUCTANCE_FNS, REFERENCE_FNS, psp_amplitude
from helpers.references.zoo import simulate_zoo as simulate
from helpers.references.zoo import simulate_zoo_ivp as simulate_ivp

ACCURACY = 0.01  # mV, required agreement with the high-precision reference at dt = 0.1 ms

# The table of the course contract (COURSE.md): waveform, tau_rise, tau_decay (ms), E_syn (mV), Mg block
CONTRACT = {
    "GABA_A": ("alpha", None, 1.0, -75.0, False),
    "GABA_B": ("dual_exp", 40.0, 200.0, -90.0, False),
    "AMPA": ("exp", None, 2.0, 0.0, False),
    "NMDA": ("dual_exp", 8.0, 60.0, 0.0, True),
}


# ---- an independent reference: closed-form conductances and a rtol = 1e-10 solve_ivp ----------


def closed_form_g(syn, lag):
    """Summed conductance (nS) of one synapse for lags t - t_k (ms), written out from the formulas."""
    lag = np.asarray(lag, dtype=float)
    L = np.where(lag >= 0, lag, 0.0)
    g, td = syn.g_peak, syn.tau_decay
    if syn.waveform == "exp":
        v = g * np.exp(-L / td)
    elif syn.waveform == "alpha":
        v = g * L / td * np.exp(1 - L / td)
    else:
        tr = syn.tau_rise
        tp = tr * td / (td - tr) * math.log(td / tr)
        v = g * (np.exp(-L / td) - np.exp(-L / tr)) / (math.exp(-tp / td) - math.exp(-tp / tr))
    return float(np.sum(np.where(lag >= 0, v, 0.0)))


def reference(
    spike_times,
    synapses=zoo.ZOO,
    duration=1000.0,
    dt=0.1,
    I_e=None,
    breakpoints=(),
    u_th=None,
    u_reset=-65.0,
    t_ref=0.0,
    g_l=10.0,
    C_m=200.0,
    u_rest=-65.0,
    mg=1.2,
):
    """u on the grid and spike times of C du/dt = g_l (u_rest - u) + sum g B (E - u) + I_e.

    Restarts the solver at every presynaptic spike and breakpoint; threshold crossings are events.
    """
    trains = [(syn, np.asarray(spike_times.get(name, []), dtype=float)) for name, syn in synapses.items()]

    def rhs(t, y):
        u = y[0]
        total = g_l * (u_rest - u) + (I_e(t) if I_e is not None else 0.0)
        for syn, spikes in trains:
            g = closed_form_g(syn, t - spikes)
            if syn.mg_block:
                g /= 1.0 + mg / 3.57 * math.exp(-0.062 * u)
            total += g * (syn.E_syn - u)
        return [total / C_m]

    def hit(_, y):
        return y[0] - u_th

    hit.terminal, hit.direction = True, 1
    cuts = sorted({0.0, duration, *[s for _, sp in trains for s in sp if 0 < s < duration], *breakpoints})
    pieces, spikes = [], []
    t, u = 0.0, u_rest
    while t < duration:
        nxt = min(c for c in cuts if c > t)
        sol = solve_ivp(
            rhs, (t, nxt), [u], method="DOP853", rtol=1e-10, atol=1e-10, max_step=1.0,
            dense_output=True, events=hit if u_th is not None else None,
        )
        assert sol.success
        if sol.status == 1:
            te = float(sol.t_events[0][0])
            spikes.append(te)
            pieces.append((t, te, sol.sol))
            end = min(te + t_ref, duration)
            pieces.append((te, end, lambda x: np.full((1, np.size(x)), u_reset)))
            t, u = end, u_reset
            if end == duration:
                pieces.append((end, end, lambda x: np.full((1, np.size(x)), u_reset)))
        else:
            pieces.append((t, nxt, sol.sol))
            t, u = nxt, float(sol.y[0, -1])
    tg = np.arange(int(round(duration / dt)) + 1) * dt
    ug = np.full(tg.shape, np.nan)
    for a, b, f in pieces:
        m = (tg >= a) & (tg < b)
        if m.any():
            ug[m] = f(tg[m])[0]
    a, b, f = pieces[-1]
    ug[-1] = f(np.array([duration]))[0][0]
    assert not np.isnan(ug).any()
    return tg, ug, np.asarray(spikes)


@pytest.fixture(scope="module")
def lecture_reference():
    return reference(zoo.LECTURE_SPIKES)


# ---- the table ---------------------------------------------------------------------------


def test_zoo_matches_the_course_table():
    assert set(zoo.ZOO) == set(CONTRACT)
    for name, (waveform, tr, td, E, blocked) in CONTRACT.items():
        syn = zoo.ZOO[name]
        assert (syn.name, syn.waveform, syn.tau_rise, syn.tau_decay, syn.E_syn, syn.mg_block) == (
            name, waveform, tr, td, E, blocked,
        )
        assert syn.g_peak > 0
    assert zoo.LECTURE_SPIKES == {"GABA_A": [10.0], "GABA_B": [100.0], "AMPA": [500.0], "NMDA": [700.0]}
    assert (zoo.U_TH, zoo.U_RESET, zoo.G_L, zoo.C_M, zoo.U_REST, zoo.MG) == (-50.0, -65.0, 10.0, 200.0, -65.0, 1.2)


def test_zoo_is_read_only():
    import dataclasses

    with pytest.raises(TypeError):
        zoo.ZOO["AMPA"] = None
    with pytest.raises(dataclasses.FrozenInstanceError):
        zoo.ZOO["AMPA"].g_peak = 1.0
    variant = {**zoo.ZOO, "AMPA": dataclasses.replace(zoo.ZOO["AMPA"], g_peak=10.0)}
    amplitude, _ = psp_amplitude(variant["AMPA"])
    assert amplitude > 1.8 * psp_amplitude("AMPA")[0]


def test_synapse_validation():
    with pytest.raises(ValueError, match="waveform"):
        zoo.Synapse("X", "gauss", None, 1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="tau_rise"):
        zoo.Synapse("X", "dual_exp", None, 1.0, 0.0, 1.0)
    assert zoo.ZOO["AMPA"].tau == 2.0
    assert zoo.ZOO["NMDA"].waveform_args() == (10.0, 8.0, 60.0)


# Documented in the helpers.zoo docstring: (PSP peak in mV, time of the peak after the spike in ms)
PSP = {"GABA_A": (-1.98, 4.6), "GABA_B": (-2.21, 104.6), "AMPA": (2.46, 5.1), "NMDA": (2.73, 44.5)}


@pytest.mark.parametrize("name", list(PSP))
def test_documented_psp_amplitudes(name):
    amplitude, t_peak = psp_amplitude(name)
    assert abs(amplitude - PSP[name][0]) < 0.005
    assert abs(t_peak - PSP[name][1]) < 0.05
    assert 1.5 < abs(amplitude) < 5.0  # clearly visible, still small
    assert f"{PSP[name][0]:+.2f} mV" in zoo.__doc__
    # sign follows the driving force at rest
    assert np.sign(amplitude) == np.sign(zoo.ZOO[name].E_syn - zoo.U_REST)


def test_psp_amplitude_against_reference():
    tg, ug, _ = reference({"AMPA": [0.0]}, synapses={"AMPA": zoo.ZOO["AMPA"]}, duration=100.0)
    amplitude, t_peak = psp_amplitude("AMPA", duration=100.0)
    i = np.argmax(ug)
    assert abs(amplitude - (ug[i] + 65.0)) < 1e-3 and t_peak == tg[i]


# ---- conductances ------------------------------------------------------------------------


def test_synapse_conductance_sums_the_waveforms():
    t = np.linspace(-10, 300, 3101)
    spikes = [5.0, 17.3, 40.0]
    for name, syn in zoo.ZOO.items():
        g = zoo.synapse_conductance(syn, t, spikes, CONDUCTANCE_FNS)
        expected = [closed_form_g(syn, x - np.array(spikes)) for x in t]
        np.testing.assert_allclose(g, expected, rtol=1e-9, atol=1e-12)
    assert zoo.synapse_conductance(zoo.ZOO["AMPA"], t, [], CONDUCTANCE_FNS).shape == t.shape
    np.testing.assert_array_equal(zoo.synapse_conductance(zoo.ZOO["AMPA"], t, [], CONDUCTANCE_FNS), 0.0)
    out = zoo.synapse_conductance(zoo.ZOO["AMPA"], 6.0, spikes, CONDUCTANCE_FNS)
    assert np.shape(out) == ()
    np.testing.assert_allclose(out, 5.0 * math.exp(-0.5))


def test_synapse_conductance_chunks_many_spikes(monkeypatch):
    t = np.linspace(0, 200, 2001)
    spikes = np.linspace(0, 190, 57)
    full = zoo.synapse_conductance(zoo.ZOO["NMDA"], t, spikes, CONDUCTANCE_FNS)
    monkeypatch.setattr(zoo, "_CHUNK_ELEMENTS", 5000)
    np.testing.assert_allclose(zoo.synapse_conductance(zoo.ZOO["NMDA"], t, spikes, CONDUCTANCE_FNS), full, rtol=1e-12)


def test_conductances_are_vectorised_over_spikes():
    calls = {"n": 0}

    def counting(t, g_peak, tau):
        calls["n"] += 1
        return exp_conductance(t, g_peak, tau)

    spikes = {"AMPA": list(np.arange(1.0, 100.0, 1.0))}  # 99 spikes
    simulate(spikes, duration=100.0, conductance_fns={"exp": counting})
    assert calls["n"] == 1  # one call on the (spikes x time grid) array


def test_bad_student_conductance_shape_is_reported():
    with pytest.raises(ValueError, match="shape"):
        simulate(duration=50.0, conductance_fns={"alpha": lambda t, g, tau: 0.0})


# ---- the integrator against the reference --------------------------------------------------


def test_lecture_simulation_matches_reference(lecture_reference):
    tg, ug, _ = lecture_reference
    res = simulate()
    np.testing.assert_array_equal(res.t, tg)
    err = np.max(np.abs(res.u - ug))
    assert err < ACCURACY
    assert err < 2e-3  # in fact about 0.001 mV (during the 1 ms GABA_A conductance)
    assert res.spikes.size == 0
    # every PSP is visible in the lecture run
    for t_spike, sign in [(10.0, -1), (100.0, -1), (500.0, 1), (700.0, 1)]:
        window = (res.t > t_spike) & (res.t < t_spike + 60)
        assert np.max(sign * (res.u[window] - res.u[res.t == t_spike])) > 0.5


def test_integrator_is_second_order(lecture_reference):
    _, ug, _ = lecture_reference
    e1 = np.max(np.abs(simulate().u - ug))
    e2 = np.max(np.abs(simulate(dt=0.2).u - ug[::2]))
    assert 3.0 < e2 / e1 < 5.0


def test_simulate_zoo_ivp_matches_reference(lecture_reference):
    _, ug, _ = lecture_reference
    res = simulate_ivp()
    assert np.max(np.abs(res.u - ug)) < 1e-6


def step_current(t):
    return 40.0 if 100.0 <= t < 300.0 else 0.0


def test_nmda_offgrid_spikes_and_current_match_reference():
    spikes = {"NMDA": [50.0, 63.37, 80.0, 230.0], "AMPA": [20.05, 120.013, 240.0], "GABA_B": [150.0], "GABA_A": [260.42]}
    tg, ug, _ = reference(spikes, duration=400.0, I_e=step_current, breakpoints=(100.0, 300.0))
    res = simulate(spikes, duration=400.0, I_e=step_current)
    assert np.max(np.abs(res.u - ug)) < ACCURACY
    assert np.max(res.u) > -58.0  # the current and NMDA depolarise well beyond rest: the block matters
    assert np.ptp(res.B) > 0.02


SPIKING_CASES = [
    # I_e (pA), t_ref (ms), presynaptic spikes; the rheobase is 150 pA
    (145.0, 0.0, {"AMPA": [30.0, 30.5, 31.0, 95.17, 140.0], "NMDA": [60.0, 61.0], "GABA_A": [150.0]}),
    (200.0, 2.0, {"AMPA": [30.0, 30.5, 31.0, 95.17], "NMDA": [60.0, 61.0], "GABA_A": [150.0], "GABA_B": [100.0]}),
    (100.0, 0.0, {"AMPA": [30.0, 30.5, 31.0, 31.5, 95.17, 95.5, 96.0, 96.3], "NMDA": [60.0, 61.0, 62.0, 63.0]}),
]


@pytest.mark.parametrize("I_e, t_ref, spikes", SPIKING_CASES)
def test_spiking_matches_reference(I_e, t_ref, spikes):
    kw = dict(duration=300.0, I_e=lambda t: I_e, u_th=-50.0, u_reset=-65.0, t_ref=t_ref)
    _, ug, ref_spikes = reference(spikes, **kw)
    res = simulate(spikes, **kw)
    assert ref_spikes.size >= 5
    assert res.spikes.size == ref_spikes.size
    assert np.max(np.abs(res.spikes - ref_spikes)) < 0.1  # within one dt
    assert np.max(np.abs(res.spikes - ref_spikes)) < 0.02  # in fact closer: crossings are solved within a step
    away = np.min(np.abs(res.t[:, None] - ref_spikes[None, :]), axis=1) > t_ref + 0.2
    # between spikes u agrees to ~0.01 mV; a spike-time offset shifts the trajectory a little
    assert np.max(np.abs(res.u - ug)[away]) < 2 * ACCURACY
    assert np.all(res.u < -50.0)


def test_regular_firing_matches_the_lif_isi():
    res = simulate({}, duration=500.0, I_e=300.0, u_th=-50.0, u_reset=-65.0, t_ref=2.0)
    isi = lif_isi(300.0, 200.0, 10.0, -65.0, -50.0, -65.0, 2.0)
    np.testing.assert_allclose(np.diff(res.spikes), isi, atol=1e-9)  # exact: no synapses, frozen coefficients
    np.testing.assert_allclose(res.spikes[0], isi - 2.0, atol=1e-9)
    assert res.spikes.size == int((500.0 + 2.0) // isi)
    assert np.all(res.u < -50.0)


# ---- inputs, outputs and student functions ---------------------------------------------------


def test_rest_without_input():
    res = simulate({}, duration=50.0)
    np.testing.assert_array_equal(res.u, -65.0)
    assert set(res.g) == set(res.I) == set(zoo.ZOO)


def test_injected_current_forms_agree():
    t_grid = np.arange(2001) * 0.1

    def not_vectorised(t):
        if t >= 50.0:
            return 80.0
        return 20.0

    base = simulate(zoo.LECTURE_SPIKES, duration=200.0, I_e=lambda t: np.where(t >= 50.0, 80.0, 20.0))
    other = simulate(zoo.LECTURE_SPIKES, duration=200.0, I_e=not_vectorised)
    np.testing.assert_allclose(other.u, base.u, rtol=0, atol=1e-12)
    const = simulate({}, duration=200.0, I_e=100.0)
    array = simulate({}, duration=200.0, I_e=np.full(t_grid.shape, 100.0))
    np.testing.assert_allclose(array.u, const.u, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(const.I_e, 100.0)
    # exact relaxation to u_rest + I_e/g_l = -55 mV with tau_m = 20 ms
    np.testing.assert_allclose(const.u, -55.0 - 10.0 * np.exp(-t_grid / 20.0), rtol=0, atol=1e-10)
    with pytest.raises(ValueError, match="grid"):
        simulate({}, duration=200.0, I_e=np.zeros(10))


def test_currents_are_evaluated_at_the_simulated_potential():
    res = simulate()
    B = 1.0 / (1.0 + 1.2 / 3.57 * np.exp(-0.062 * res.u))
    np.testing.assert_allclose(res.B, B, rtol=1e-12)
    for name, syn in zoo.ZOO.items():
        g = res.g[name] * (B if syn.mg_block else 1.0)
        np.testing.assert_allclose(res.I[name], g * (syn.E_syn - res.u), rtol=1e-12, atol=1e-12)
    # the lecture evaluated them at u_rest: for NMDA that is off by more than 5 % at its peak
    i = np.argmax(res.g["NMDA"])
    at_rest = res.g["NMDA"][i] * (1.0 / (1.0 + 1.2 / 3.57 * np.exp(0.062 * 65.0))) * 65.0
    assert abs(res.I["NMDA"][i] - at_rest) > 0.05 * at_rest
    # in pA: AMPA at its peak is about 5 nS x 65 mV
    assert 300.0 < np.max(res.I["AMPA"]) < 330.0


def test_student_functions_are_used():
    ref = simulate()
    wrapped = zoo.simulate_zoo(
        conductance_fns={
            "exp": lambda t, g, tau: exp_conductance(t, g, tau),
            "alpha": lambda t, g, tau: alpha_conductance(t, g, tau),
            "dual_exp": lambda t, g, tr, td: dual_exp_conductance(t, g, tr, td),
        },
        mg_block_fn=lambda u, mg: 1.0 / (1.0 + mg / 3.57 * np.exp(-0.062 * u)),
        current_fn=lambda u, g, E: g * (E - u),
    )
    np.testing.assert_allclose(wrapped.u, ref.u, rtol=0, atol=1e-12)
    for name in zoo.ZOO:
        np.testing.assert_allclose(wrapped.I[name], ref.I[name], rtol=1e-12, atol=1e-12)
    # the lecture's alpha (peak g/e) gives a GABA_A IPSP about e times smaller
    def lecture_alpha(t, g, tau):
        return np.where(t >= 0, g * t / tau * np.exp(-np.abs(t) / tau), 0.0)

    # (only the waveform of the synapse that receives spikes is needed)
    lecture = zoo.simulate_zoo({"GABA_A": [10.0]}, duration=100.0, conductance_fns={"alpha": lecture_alpha})
    ours = simulate({"GABA_A": [10.0]}, duration=100.0)
    ratio = (lecture.u.min() + 65.0) / (ours.u.min() + 65.0)
    assert 0.3 < ratio < 0.45
    # no magnesium block: a much larger NMDA EPSP
    unblocked = simulate({"NMDA": [10.0]}, duration=200.0, mg_block_fn=lambda u, mg: np.ones_like(u))
    assert unblocked.u.max() + 65.0 > 5 * (psp_amplitude("NMDA")[0])
    # the reported currents come from current_fn
    flipped = simulate(current_fn=lambda u, g, E: -g * (E - u))
    np.testing.assert_allclose(flipped.I["AMPA"], -ref.I["AMPA"], atol=1e-12)


def test_mg_concentration_is_used():
    low = simulate({"NMDA": [10.0]}, duration=200.0, mg=0.0)
    assert low.u.max() + 65.0 > 5 * psp_amplitude("NMDA")[0]
    np.testing.assert_array_equal(low.B, 1.0)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="unknown synapses"):
        simulate({"AMPAR": [1.0]})
    with pytest.raises(ValueError, match="whole number"):
        simulate(duration=100.05)
    with pytest.raises(ValueError, match="u_reset"):
        simulate(u_th=-60.0, u_reset=-50.0)


# --- runaway input (a student's growing waveform) stops with one sentence, not an endless loop ---

def _growing_exp(limit):
    def exp_conductance(t, g_peak, tau):  # the lecture's sign error: exp(+t/tau)
        t = np.asarray(t, dtype=float)
        return np.where(t >= 0, g_peak * np.exp(np.minimum(t, limit) / tau), 0.0)
    return exp_conductance


def test_absurd_conductance_is_refused_with_a_sentence():
    fns = dict(CONDUCTANCE_FNS, exp=_growing_exp(700.0))
    with pytest.raises(ValueError, match=r"AMPA conductance \(exp waveform\) is .* nS at t = .*does the waveform decay"):
        simulate(conductance_fns=fns, u_th=-50.0)


def test_firing_without_pause_stops_instead_of_looping():
    # large but finite conductance: with t_ref = 0 the crossing time underflows to zero
    fns = dict(CONDUCTANCE_FNS, exp=_growing_exp(20.0))
    with pytest.raises(ValueError, match="fires without pause"):
        simulate(conductance_fns=fns, u_th=-50.0, t_ref=0.0)


# --- no built-in answers: the caller passes the functions -------------------------------------------

def test_the_integrator_has_no_functions_of_its_own():
    with pytest.raises(ValueError, match="no conductance function for the 'exp' waveform"):
        zoo.simulate_zoo({"AMPA": [1.0]}, duration=10.0)
    with pytest.raises(ValueError, match="no conductance function for the 'alpha' waveform"):
        zoo.simulate_zoo({"GABA_A": [1.0]}, duration=10.0, conductance_fns={"exp": exp_conductance})
    with pytest.raises(ValueError, match="mg_block_fn"):
        zoo.simulate_zoo({"NMDA": [1.0]}, duration=10.0, conductance_fns=CONDUCTANCE_FNS)
    with pytest.raises(ValueError, match="mg_block_fn"):
        zoo.simulate_zoo_ivp({"NMDA": [1.0]}, duration=10.0, conductance_fns=CONDUCTANCE_FNS)
    # without spikes nothing is needed; without current_fn no currents are reported
    res = zoo.simulate_zoo({}, duration=10.0)
    np.testing.assert_array_equal(res.u, -65.0)
    np.testing.assert_array_equal(res.B, 1.0)
    assert res.I == {}
    with pytest.raises(ValueError, match="no conductance function"):
        zoo.psp_amplitude("AMPA")
    assert not hasattr(zoo, "REFERENCE_FNS")


def test_reference_bundle_block_fast_path_is_the_reference():
    from helpers.references import nmda
    from helpers.references.zoo import mg_block

    u = np.linspace(-120.0, 60.0, 181)
    for mg in (0.0, 1.2, 3.0):
        assert [mg_block(float(x), mg) for x in u] == pytest.approx(nmda.mg_block(u, mg), rel=1e-14, abs=0)
        np.testing.assert_array_equal(mg_block(u, mg), nmda.mg_block(u, mg))
    assert REFERENCE_FNS["mg_block_fn"] is mg_block
