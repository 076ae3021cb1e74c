"""The explorers of notebooks 04 (saturation) and 05 (shunting), built headlessly.

Each test sets slider values as a student (or the browser test) would and checks
that the plotted data and the readout numbers equal the ``helpers.references.membrane``
references computed here independently, and that the explorer edits its one
figure in place instead of making new ones. The explorers draw the functions they
are given (the student's in the notebooks); here they get the references, and
one test gives them a wrong function to show that it is the one drawn.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers.references import membrane  # noqa: E402
from helpers.explorers import saturation, shunting  # noqa: E402

#: The reference functions, as the notebooks pass the student's.
SAT_FNS = (membrane.input_conductance, membrane.effective_time_constant, membrane.steady_state_potential)
SHUNT_FNS = (membrane.membrane_steady_state, membrane.membrane_time_constant)

# ipympl 0.10's toolbar passes an argument traitlets deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Passing unrecognized arguments:DeprecationWarning")

# The readout prints two decimals.
READOUT_ATOL = 0.005 + 1e-9


def _y_after_step(line, t):
    """y data of ``line`` at t >= 0 and the matching times."""
    x, y = (np.asarray(a, dtype=float) for a in line.get_data())
    np.testing.assert_array_equal(x, t)
    return t[t >= 0], y[t >= 0], y[t < 0]


def _n_artists(fig):
    return sum(len(ax.lines) + len(ax.texts) + len(ax.collections) for ax in fig.axes)


# ----------------------------------------------------------------------------- 04 saturation
SAT_PARAMS = [
    dict(),  # notebook defaults: E_syn 0, g_m 10 nS, C_m 200 pF, u_rest -65 mV
    dict(E_syn=-75.0, g_m=20.0, C_m=100.0, u_rest=-60.0),  # an inhibitory synapse, other membrane
]


@pytest.mark.parametrize("params", SAT_PARAMS)
def test_saturation_explorer_matches_reference(params):
    E_syn = params.get("E_syn", saturation.E_SYN)
    g_m = params.get("g_m", membrane.G_L)
    C_m = params.get("C_m", membrane.C_M)
    u_rest = params.get("u_rest", membrane.U_REST)
    figs_before = plt.get_fignums()
    ex = saturation.saturation_explorer(*SAT_FNS, g_e=3.0, **params)
    fig, n_artists = ex.fig, _n_artists(ex.fig)
    t = ex.t
    for g_e in (0.0, 1.0, 10.0, 57.5, ex.controls["g_e"].max):
        ex.controls["g_e"].value = g_e
        u_inf = membrane.steady_state_potential(g_e, E_syn, g_m, u_rest)
        tau = membrane.effective_time_constant(C_m, g_e, g_m)

        ts, y, before = _y_after_step(ex.artists["u"], t)
        np.testing.assert_allclose(y, membrane.relaxation(ts, u_rest, u_inf, tau), atol=1e-9)
        np.testing.assert_allclose(before, u_rest)
        # current-based synapse of equal small-signal strength: I = g (E - u_rest), tau_m
        I_syn = membrane.synaptic_current(u_rest, g_e, E_syn)
        ts, y, _ = _y_after_step(ex.artists["u_current"], t)
        np.testing.assert_allclose(y, membrane.relaxation(ts, u_rest, u_rest + I_syn / g_m, C_m / g_m),
                                   atol=1e-9)
        np.testing.assert_allclose(ex.artists["u_inf"].get_ydata(), [u_inf, u_inf])
        (x_tau,), (y_tau,) = ex.artists["tau_point"].get_data()
        assert x_tau == pytest.approx(tau)
        # 63 % of the way to u_inf at t = tau'
        assert y_tau == pytest.approx(u_rest + (1 - np.exp(-1)) * (u_inf - u_rest))
        (x_m,), (y_m,) = ex.artists["marker"].get_data()
        assert (x_m, y_m) == pytest.approx((g_e, u_inf - u_rest))
        (_,), (y_i,) = ex.artists["marker_current"].get_data()
        assert y_i == pytest.approx(g_e * (E_syn - u_rest) / g_m)

        got = saturation.read_readout(ex.readout.value)
        expected = {"g_e": g_e, "g_in": membrane.input_conductance(g_e, g_m), "tau_eff": tau,
                    "u_inf": u_inf, "depolarisation": u_inf - u_rest,
                    "current_depolarisation": g_e * (E_syn - u_rest) / g_m}
        for key, value in expected.items():
            assert got[key] == pytest.approx(float(value), abs=READOUT_ATOL), key
    # one figure, edited in place
    assert ex.fig is fig and _n_artists(ex.fig) == n_artists
    assert plt.get_fignums() == figs_before


def test_saturation_readout_states_the_key_numbers():
    ex = saturation.saturation_explorer(*SAT_FNS, g_e=10.0)
    text = ex.readout.value
    for label in ("tau' = 10.00 ms", "u_inf = -32.50 mV", "g_in = 20.00 nS",
                  "u_inf - u_rest = 32.50 mV", "current-based u_inf - u_rest = 65.00 mV"):
        assert label in text
    assert "course-readout" in ex.readout._dom_classes


def test_saturation_saturates_and_speeds_up():
    # physics of the explorer's data, independent of the formulas: large g pins u to E_syn
    ex = saturation.saturation_explorer(*SAT_FNS, g_e=100.0)
    n = saturation.read_readout(ex.readout.value)
    assert 0.85 * 65 < n["depolarisation"] < 65.0 < n["current_depolarisation"]
    assert n["tau_eff"] < membrane.TAU_M / 10


def test_read_readout_rejects_incomplete_text():
    with pytest.raises(ValueError, match="lacks"):
        saturation.read_readout("g_e = 1.00 nS; tau' = 2.00 ms")
    with pytest.raises(ValueError, match="lacks"):
        shunting.read_readout("u_inf = -60.00 mV")


# ----------------------------------------------------------------------------- 05 shunting
SHUNT_PARAMS = [
    dict(),
    dict(E_e=10.0, g_m=5.0, C_m=150.0, u_rest=-70.0, E_i_hyperpolarising=-85.0),
]


@pytest.mark.parametrize("params", SHUNT_PARAMS)
def test_shunting_explorer_matches_reference(params):
    E_e = params.get("E_e", shunting.E_E)
    g_m = params.get("g_m", membrane.G_L)
    C_m = params.get("C_m", membrane.C_M)
    u_rest = params.get("u_rest", membrane.U_REST)
    E_hyp = params.get("E_i_hyperpolarising", shunting.E_I_HYPERPOLARISING)
    figs_before = plt.get_fignums()
    ex = shunting.shunting_explorer(*SHUNT_FNS, **params)
    fig, n_artists = ex.fig, _n_artists(ex.fig)
    t, ge_axis = ex.t, ex.g_e_axis
    assert [v for _, v in ex.controls["E_i"].options] == [u_rest, E_hyp]

    for E_i in (E_hyp, u_rest):
        ex.controls["E_i"].value = E_i
        for g_e, g_i in ((0.0, 0.0), (5.0, 0.0), (0.0, 20.0), (5.0, 10.0), (12.5, 50.0), (50.0, 100.0)):
            ex.controls["g_e"].value = g_e
            ex.controls["g_i"].value = g_i
            u_inf = membrane.membrane_steady_state(g_e, g_i, E_e, E_i, g_m, u_rest)
            tau = membrane.membrane_time_constant(C_m, g_e, g_i, g_m)

            for name, (ge, gi) in {"both": (g_e, g_i), "excitation": (g_e, 0.0),
                                   "inhibition": (0.0, g_i)}.items():
                ts, y, before = _y_after_step(ex.artists[name], t)
                ref = membrane.relaxation(ts, u_rest,
                                          membrane.membrane_steady_state(ge, gi, E_e, E_i, g_m, u_rest),
                                          membrane.membrane_time_constant(C_m, ge, gi, g_m))
                np.testing.assert_allclose(y, ref, atol=1e-9, err_msg=name)
                np.testing.assert_allclose(before, u_rest)
            np.testing.assert_allclose(ex.artists["u_inf"].get_ydata(), [u_inf, u_inf])

            for name, e_i in (("epsp_shunting", u_rest), ("epsp_hyperpolarising", E_hyp)):
                x, y = ex.artists[name].get_data()
                np.testing.assert_array_equal(x, ge_axis)
                np.testing.assert_allclose(
                    y, membrane.membrane_steady_state(ge_axis, g_i, E_e, e_i, g_m, u_rest) - u_rest,
                    atol=1e-9, err_msg=name)
                # the chosen kind of inhibition is the highlighted curve
                assert (ex.artists[name].get_linewidth() > 2) == (e_i == E_i)
            (x_m,), (y_m,) = ex.artists["marker"].get_data()
            assert (x_m, y_m) == pytest.approx((g_e, u_inf - u_rest))

            got = shunting.read_readout(ex.readout.value)
            expected = {
                "u_inf": u_inf, "tau_eff": tau, "epsp": u_inf - u_rest,
                "epsp_no_inhibition": membrane.membrane_steady_state(g_e, 0, E_e, E_i, g_m, u_rest) - u_rest,
                "ipsp": membrane.membrane_steady_state(0, g_i, E_e, E_i, g_m, u_rest) - u_rest,
                "g_e": g_e, "g_i": g_i, "E_i": E_i,
            }
            for key, value in expected.items():
                assert got[key] == pytest.approx(float(value), abs=READOUT_ATOL), (key, E_i, g_e, g_i)
    assert ex.fig is fig and _n_artists(ex.fig) == n_artists
    assert plt.get_fignums() == figs_before


def test_shunting_divides_hyperpolarising_subtracts():
    """The explorer's numbers show the physics the notebook teaches (E_i = u_rest: no IPSP, division)."""
    ex = shunting.shunting_explorer(*SHUNT_FNS, g_e=5.0, g_i=10.0)  # shunting by default
    n = shunting.read_readout(ex.readout.value)
    g_m = membrane.G_L
    assert n["ipsp"] == 0.0
    assert n["epsp"] == pytest.approx(n["epsp_no_inhibition"] * (g_m + 5.0) / (g_m + 5.0 + 10.0),
                                      abs=2 * READOUT_ATOL)
    ex.controls["E_i"].value = shunting.E_I_HYPERPOLARISING
    h = shunting.read_readout(ex.readout.value)
    assert h["ipsp"] < 0 and h["epsp"] < n["epsp"]
    # subtraction plus division: with the same conductances, hyperpolarising inhibition lowers
    # u_inf - u_rest below the shunting value by exactly g_i (E_i - u_rest) / g_tot
    g_tot = g_m + 5.0 + 10.0
    assert h["epsp"] - n["epsp"] == pytest.approx(10.0 * (shunting.E_I_HYPERPOLARISING - membrane.U_REST)
                                                  / g_tot, abs=2 * READOUT_ATOL)
    assert h["tau_eff"] == n["tau_eff"]  # both kinds shorten tau' equally


def test_shunting_readout_states_the_key_numbers():
    ex = shunting.shunting_explorer(*SHUNT_FNS, g_e=10.0, g_i=30.0, E_i=-75.0)
    text = ex.readout.value
    for label in ("u_inf = -58.00 mV", "tau' = 4.00 ms", "EPSP amplitude u_inf - u_rest = 7.00 mV"):
        assert label in text


def test_shunting_explorer_rejects_other_reversal_potentials():
    with pytest.raises(ValueError, match="E_i must be"):
        shunting.shunting_explorer(*SHUNT_FNS, E_i=-80.0)


def test_shunting_legend_follows_the_inhibition_colour():
    """The thick trace turns red for hyperpolarising inhibition; so must its legend entry."""
    from matplotlib.colors import to_hex

    from helpers.explorers.shunting import shunting_explorer

    explorer = shunting_explorer(*SHUNT_FNS)
    try:
        legend = explorer.fig.axes[0].get_legend()
        handles = {text.get_text(): handle for text, handle in zip(legend.get_texts(), legend.legend_handles)}
        dropdown = explorer.controls["E_i"]
        seen = set()
        for value in [option[1] if isinstance(option, tuple) else option for option in dropdown.options]:
            dropdown.value = value
            trace = next(line for line in explorer.fig.axes[0].lines
                         if line.get_label() == "excitation + inhibition")
            assert to_hex(handles["excitation + inhibition"].get_color()) == to_hex(trace.get_color())
            assert to_hex(handles[r"$u_\infty$"].get_color()) == to_hex(trace.get_color())
            seen.add(to_hex(trace.get_color()))
        assert len(seen) == 2  # shunting and hyperpolarising are drawn in different colours
    finally:
        import matplotlib.pyplot as plt
        plt.close(explorer.fig)


def test_explorers_draw_the_functions_they_are_given():
    """A wrong steady state (no saturation: the current-based formula) is what the explorers show."""
    def unsaturated(g_syn, E_syn, g_m, u_rest=0.0, I_e=0.0):
        return u_rest + (g_syn * (E_syn - u_rest) + I_e) / g_m

    ex = saturation.saturation_explorer(membrane.input_conductance, membrane.effective_time_constant,
                                        unsaturated, g_e=100.0)
    try:
        n = saturation.read_readout(ex.readout.value)
        assert n["depolarisation"] == pytest.approx(650.0, abs=READOUT_ATOL)  # no saturation at E_syn
    finally:
        plt.close(ex.fig)

    def no_shunt(g_e, g_i, E_e, E_i, g_m, u_rest):
        return (g_m * u_rest + g_e * E_e) / (g_m + g_e)  # ignores g_i

    ex = shunting.shunting_explorer(no_shunt, membrane.membrane_time_constant, g_e=10.0, g_i=30.0)
    try:
        n = shunting.read_readout(ex.readout.value)
        assert n["epsp"] == pytest.approx(n["epsp_no_inhibition"], abs=READOUT_ATOL)
    finally:
        plt.close(ex.fig)

    def stub(*args, **kwargs):
        raise NotImplementedError("return the steady state")

    figs_before = plt.get_fignums()
    with pytest.raises(NotImplementedError):
        saturation.saturation_explorer(membrane.input_conductance, membrane.effective_time_constant, stub)
    with pytest.raises(NotImplementedError):
        shunting.shunting_explorer(stub, membrane.membrane_time_constant)
    assert plt.get_fignums() == figs_before
