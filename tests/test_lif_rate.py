"""helpers.references.lif_rate: LIF f-I curve against simulated interspike intervals; shunting; Carandini-Heeger."""

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from helpers.references import lif_rate as lr

C_M, G_L, U_REST, U_TH, U_RESET = 200.0, 10.0, -65.0, -50.0, -65.0
TAU = C_M / G_L
RHEO = (U_TH - U_REST) * G_L  # 150 pA


def simulated_isi(I_e, t_ref=0.0, g_i=0.0, C_m=C_M, g_l=G_L, u_rest=U_REST, u_th=U_TH, u_reset=U_RESET):
    """Time from reset to threshold of C du/dt = -(g_l + g_i)(u - u_rest) + I_e, found by an event."""

    def rhs(_, y):
        return [(-(g_l + g_i) * (y[0] - u_rest) + I_e) / C_m]

    def hit(_, y):
        return y[0] - u_th

    hit.terminal, hit.direction = True, 1
    sol = solve_ivp(rhs, (0, 1e5), [u_reset], events=hit, rtol=1e-12, atol=1e-12, method="DOP853")
    return t_ref + sol.t_events[0][0] if sol.t_events[0].size else math.inf


def rate(I_e, **kw):
    return lr.lif_rate(I_e, C_M, G_L, U_REST, U_TH, U_RESET, **kw)


def linear(I_e, **kw):
    return lr.lif_rate_linear(I_e, C_M, G_L, U_REST, U_TH, U_RESET, **kw)


def test_closed_form():
    I = np.linspace(151.0, 2000.0, 50)
    u_inf = U_REST + I / G_L
    expected = 1000.0 / (2.0 + TAU * np.log((u_inf - U_RESET) / (u_inf - U_TH)))
    np.testing.assert_allclose(rate(I, t_ref=2.0), expected, rtol=1e-12)
    expected_lin = 1000.0 * (u_inf - U_TH) / (TAU * (U_TH - U_RESET))
    np.testing.assert_allclose(linear(I), expected_lin, rtol=1e-12)


@pytest.mark.parametrize("I_e, t_ref, g_i", [(160.0, 0.0, 0.0), (300.0, 0.0, 0.0), (1000.0, 2.0, 0.0), (600.0, 1.0, 15.0)])
def test_rate_against_simulated_isi(I_e, t_ref, g_i):
    isi = simulated_isi(I_e, t_ref, g_i)
    np.testing.assert_allclose(rate(I_e, t_ref=t_ref, g_i=g_i), 1000.0 / isi, rtol=1e-9)
    np.testing.assert_allclose(lr.lif_isi(I_e, C_M, G_L, U_REST, U_TH, U_RESET, t_ref, g_i), isi, rtol=1e-9)


def test_rate_with_other_parameters_against_simulation():
    kw = dict(C_m=100.0, g_l=5.0, u_rest=-70.0, u_th=-55.0, u_reset=-75.0)
    isi = simulated_isi(200.0, **kw)
    np.testing.assert_allclose(lr.lif_rate(200.0, 100.0, 5.0, -70.0, -55.0, -75.0), 1000.0 / isi, rtol=1e-9)


def test_zero_at_and_below_rheobase():
    assert lr.rheobase(G_L, U_REST, U_TH) == RHEO
    I = np.array([-100.0, 0.0, 100.0, RHEO])
    np.testing.assert_array_equal(rate(I), 0.0)
    np.testing.assert_array_equal(linear(I), 0.0)
    assert simulated_isi(RHEO - 1.0) == math.inf
    assert 0 < rate(RHEO + 1e-6) < 5.0  # continuous at the rheobase
    assert np.all(np.diff(rate(np.linspace(RHEO, 3000, 100))) > 0)


def test_large_input_line_has_the_slope_but_stays_1_over_2tau_below():
    I = np.array([1e4, 1e5, 1e6])
    ratio = rate(I) / linear(I)
    assert np.all(np.diff(np.abs(ratio - 1)) < 0)
    assert abs(ratio[-1] - 1) < 1e-4
    # the difference tends to 1000/(2 tau) Hz, the next term of 1/ln(1 + z)
    np.testing.assert_allclose(rate(1e7) - linear(1e7), 1000.0 / (2 * TAU), rtol=1e-3)
    # the line is below the curve everywhere above rheobase (1/ln(1+z) > 1/z)
    J = np.linspace(RHEO + 1, 5000, 200)
    assert np.all(rate(J) > linear(J))


def test_refractory_period_caps_the_rate():
    r = rate(np.array([1e4, 1e6, 1e8]), t_ref=2.0)
    assert np.all(r < 500.0) and r[-1] > 499.0


def test_shunting_keeps_the_linear_slope_and_shifts_the_rheobase():
    I = np.linspace(1000, 3000, 21)
    for g_i in [5.0, 10.0, 40.0]:
        slope0 = np.diff(linear(I)) / np.diff(I)
        slope = np.diff(linear(I, g_i=g_i)) / np.diff(I)
        np.testing.assert_allclose(slope, slope0, rtol=1e-9)  # d(rate)/dI_e unchanged
        np.testing.assert_allclose(slope, 1000.0 / (C_M * (U_TH - U_RESET)), rtol=1e-9)
        shift = g_i * (U_TH - U_REST)
        assert lr.rheobase(G_L, U_REST, U_TH, g_i) == RHEO + shift
        np.testing.assert_allclose(linear(I + shift, g_i=g_i), linear(I), rtol=1e-12)  # subtractive
        # the exact curve is shifted too, and its slope at large input tends to the same value
        assert rate(lr.rheobase(G_L, U_REST, U_TH, g_i) - 1e-9, g_i=g_i) == 0.0
        big = np.array([1e6, 1e6 + 100])
        np.testing.assert_allclose(np.diff(rate(big, g_i=g_i)) / 100, slope0[0], rtol=1e-3)
        # not divisive: the ratio of the curves is not constant
        r = rate(I, g_i=g_i) / rate(I)
        assert np.ptp(r) > 0.01


def test_ch_rate_closed_form_and_divisive():
    g_e = np.linspace(0.0, 50.0, 51)
    E_e, g_m, m = 65.0, 10.0, 0.02
    np.testing.assert_allclose(lr.ch_rate(g_e, 7.0, E_e, g_m, m), m * (g_e * E_e / (g_e + 7.0 + g_m)) ** 2, rtol=1e-14)
    r0 = lr.ch_rate(g_e, 0.0, E_e, g_m)
    for g_i in [5.0, 20.0]:
        r = lr.ch_rate(g_e, g_i, E_e, g_m)
        # divided by a factor, never shifted: any excitation still gives a positive rate
        np.testing.assert_allclose(r[1:] / r0[1:], ((g_e[1:] + g_m) / (g_e[1:] + g_i + g_m)) ** 2, rtol=1e-13)
        assert np.all(r[1:] > 0) and r[0] == 0
    assert lr.ch_rate(10.0, 0.0, -10.0, 10.0) == 0.0  # rectified
    assert lr.ch_rate(10.0, 0.0, 20.0, 10.0, m=2.0) == 200.0


def test_invalid_parameters_rejected():
    with pytest.raises(ValueError, match="u_reset"):
        lr.lif_rate(200.0, C_M, G_L, U_REST, -50.0, -40.0)
    with pytest.raises(ValueError, match="t_ref"):
        lr.lif_rate(200.0, C_M, G_L, U_REST, U_TH, U_RESET, t_ref=-1.0)


def test_broadcasting_and_scalars():
    I = np.linspace(0, 1000, 7)
    g_i = np.array([0.0, 10.0])
    assert rate(I[:, None], g_i=g_i).shape == (7, 2)
    assert linear(I[:, None], g_i=g_i).shape == (7, 2)
    assert lr.rheobase(G_L, U_REST, U_TH, g_i).shape == (2,)
    assert lr.ch_rate(I, 1.0, 65.0, 10.0).shape == (7,)
    out = rate(300.0)
    assert np.shape(out) == () and isinstance(out, np.floating)
