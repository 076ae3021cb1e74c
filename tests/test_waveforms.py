"""helpers.references.waveforms against closed forms, limits, ODE solutions and the lecture's errata."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad, solve_ivp
from scipy.optimize import brentq

from helpers.references import waveforms as wf

RTOL = 1e-9
T = np.linspace(0.0, 400.0, 4001)
DUAL_CASES = [(1.0, 40.0, 200.0), (2.0, 8.0, 60.0), (0.3, 0.5, 3.0), (5.0, 2.0, 2.5)]


# ---- closed forms written out independently -------------------------------------------------


def exp_closed(t, g, tau):
    return g * np.exp(-t / tau)


def alpha_closed(t, g, tau):
    return g * (t / tau) * np.exp(1.0 - t / tau)


def bracket(t, tr, td):
    return np.exp(-t / td) - np.exp(-t / tr)


def dual_peak_closed(tr, td):
    return tr * td / (td - tr) * math.log(td / tr)


def dual_closed(t, g, tr, td):
    return g * bracket(t, tr, td) / bracket(dual_peak_closed(tr, td), tr, td)


def assert_rel(actual, expected, rtol=RTOL):
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=0.0)


# ---- values against the closed forms ---------------------------------------------------------


@pytest.mark.parametrize("g, tau", [(1.0, 2.0), (0.5, 1.0), (3.0, 25.0)])
def test_exp_matches_closed_form(g, tau):
    assert_rel(wf.exp_conductance(T, g, tau), exp_closed(T, g, tau))


@pytest.mark.parametrize("g, tau", [(1.0, 2.0), (20.0, 1.0), (3.0, 25.0)])
def test_alpha_matches_closed_form(g, tau):
    assert_rel(wf.alpha_conductance(T[1:], g, tau), alpha_closed(T[1:], g, tau))


@pytest.mark.parametrize("g, tr, td", DUAL_CASES)
def test_dual_exp_matches_closed_form(g, tr, td):
    t = T[1:]
    expected = dual_closed(t, g, tr, td)
    keep = expected > 1e-200  # the far tail underflows differently in the two forms
    assert_rel(wf.dual_exp_conductance(t, g, tr, td)[keep], expected[keep])


def test_values_at_and_before_the_spike():
    t = np.array([-1e6, -1.0, -1e-12, 0.0])
    np.testing.assert_array_equal(wf.exp_conductance(t, 2.0, 3.0), [0, 0, 0, 2.0])
    np.testing.assert_array_equal(wf.alpha_conductance(t, 2.0, 3.0), [0, 0, 0, 0])
    np.testing.assert_array_equal(wf.dual_exp_conductance(t, 2.0, 3.0, 9.0), [0, 0, 0, 0])


def test_no_overflow_warning_far_before_or_after_the_spike():
    t = np.array([-1e300, -1e6, -800.0, 1e6, 1e300, np.inf])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for g in (
            wf.exp_conductance(t, 1.0, 0.1),
            wf.alpha_conductance(t, 1.0, 0.1),
            wf.dual_exp_conductance(t, 1.0, 0.1, 0.2),
            wf.dual_exp_conductance(t, 1.0, 0.2, 0.2),
        ):
            np.testing.assert_array_equal(g, 0.0)


def test_nan_time_propagates():
    assert np.isnan(wf.exp_conductance(np.nan, 1.0, 1.0))
    assert np.isnan(wf.dual_exp_conductance(np.nan, 1.0, 1.0, 2.0))


def test_broadcasting_and_scalars():
    g = wf.dual_exp_conductance(np.linspace(0, 50, 7)[:, None], np.array([1.0, 2.0]), 8.0, 60.0)
    assert g.shape == (7, 2)
    assert_rel(g[:, 1], 2 * g[:, 0])
    for fn, args in [
        (wf.exp_conductance, (1.0, 2.0)),
        (wf.alpha_conductance, (1.0, 2.0)),
        (wf.dual_exp_conductance, (1.0, 2.0, 3.0)),
    ]:
        out = fn(1.5, *args)
        assert np.shape(out) == () and isinstance(out, np.floating)
        assert fn([1.5], *args).shape == (1,)
        assert fn(np.ones((2, 3)), *args).shape == (2, 3)
    taus = np.array([1.0, 2.0, 4.0])
    assert wf.alpha_conductance(1.0, 1.0, taus).shape == (3,)
    assert wf.dual_exp_peak_time(np.array([1.0, 2.0]), 5.0).shape == (2,)


# ---- peaks -------------------------------------------------------------------------------


@pytest.mark.parametrize("g, tau", [(1.0, 2.0), (0.7, 13.0)])
def test_exp_and_alpha_peaks(g, tau):
    assert wf.exp_conductance(0.0, g, tau) == g
    assert wf.exp_conductance(1e-9, g, tau) < g  # decays right away
    assert_rel(wf.alpha_conductance(tau, g, tau), g, 1e-15)
    # the derivative of t exp(-t/tau) vanishes only at t = tau: neighbours are lower
    assert wf.alpha_conductance(tau * (1 - 1e-4), g, tau) < g
    assert wf.alpha_conductance(tau * (1 + 1e-4), g, tau) < g
    assert wf.peak_time("exp", tau_decay=tau) == 0.0
    assert wf.peak_time("alpha", tau_decay=tau) == tau


@pytest.mark.parametrize("g, tr, td", DUAL_CASES)
def test_dual_exp_peak_time_and_value(g, tr, td):
    # independent: the root of d/dt (exp(-t/td) - exp(-t/tr)) = exp(-t/tr)/tr - exp(-t/td)/td
    root = brentq(lambda t: math.exp(-t / tr) / tr - math.exp(-t / td) / td, 1e-9, 50 * td, xtol=1e-14, rtol=1e-15)
    t_star = wf.dual_exp_peak_time(tr, td)
    assert_rel(t_star, root)
    assert_rel(t_star, dual_peak_closed(tr, td))
    assert wf.peak_time("dual_exp", tr, td) == t_star
    assert_rel(wf.dual_exp_conductance(t_star, g, tr, td), g, 1e-12)
    t = np.linspace(0, 20 * td, 20001)
    assert np.max(wf.dual_exp_conductance(t, g, tr, td)) <= g * (1 + 1e-12)


def test_textbook_peak_time_formula_is_wrong():
    # tau_rise ln(tau_decay/tau_rise) is what some texts print; the true peak is later
    for tr, td in [(40.0, 200.0), (8.0, 60.0)]:
        wrong = tr * math.log(td / tr)
        assert wrong < 0.9 * wf.dual_exp_peak_time(tr, td)
        # at that time the conductance is still rising
        assert wf.dual_exp_conductance(wrong * 1.001, 1.0, tr, td) > wf.dual_exp_conductance(wrong, 1.0, tr, td)


def test_zoo_peak_times():
    assert_rel(wf.dual_exp_peak_time(40.0, 200.0), 50.0 * math.log(5.0))  # 80.47 ms
    assert round(float(wf.dual_exp_peak_time(40.0, 200.0)), 1) == 80.5
    assert round(float(wf.dual_exp_peak_time(8.0, 60.0)), 1) == 18.6


# ---- integrals ---------------------------------------------------------------------------


def _quad(fn, *args, peak=0.0):
    a, _ = quad(lambda t: float(fn(t, *args)), 0.0, peak, epsabs=0, epsrel=1e-13, limit=200)
    b, _ = quad(lambda t: float(fn(t, *args)), peak, np.inf, epsabs=0, epsrel=1e-13, limit=200)
    return a + b


@pytest.mark.parametrize("g, tau", [(1.0, 2.0), (3.0, 25.0)])
def test_exp_and_alpha_integrals(g, tau):
    assert_rel(_quad(wf.exp_conductance, g, tau), g * tau)
    assert_rel(wf.exp_integral(g, tau), g * tau, 1e-15)
    assert_rel(_quad(wf.alpha_conductance, g, tau, peak=tau), g * math.e * tau)
    assert_rel(wf.alpha_integral(g, tau), g * math.e * tau, 1e-15)


@pytest.mark.parametrize("g, tr, td", DUAL_CASES)
def test_dual_exp_integral(g, tr, td):
    # analytic: g (td - tr) / bracket(t*)
    analytic = g * (td - tr) / bracket(dual_peak_closed(tr, td), tr, td)
    assert_rel(wf.dual_exp_integral(g, tr, td), analytic)
    assert_rel(_quad(wf.dual_exp_conductance, g, tr, td, peak=dual_peak_closed(tr, td)), analytic)


# ---- limits ------------------------------------------------------------------------------


def test_equal_time_constants_give_the_alpha_function():
    t = np.linspace(0, 50, 501)
    assert_rel(wf.dual_exp_conductance(t[1:], 2.0, 5.0, 5.0), wf.alpha_conductance(t[1:], 2.0, 5.0), 1e-14)
    assert wf.dual_exp_peak_time(5.0, 5.0) == 5.0
    assert_rel(wf.dual_exp_ode_factor(5.0, 5.0), math.e, 1e-15)
    assert_rel(wf.dual_exp_integral(2.0, 5.0, 5.0), wf.alpha_integral(2.0, 5.0), 1e-15)


def test_rise_approaching_decay_converges_to_alpha():
    t = np.linspace(0.1, 50, 500)
    alpha = wf.alpha_conductance(t, 1.0, 5.0)
    errors = []
    for eps in [1e-2, 1e-4, 1e-6, 1e-8]:
        dual = wf.dual_exp_conductance(t, 1.0, 5.0 * (1 - eps), 5.0)
        errors.append(np.max(np.abs(dual - alpha)))
        assert abs(wf.dual_exp_peak_time(5.0 * (1 - eps), 5.0) - 5.0) < 5.0 * eps
        assert abs(wf.dual_exp_ode_factor(5.0 * (1 - eps), 5.0) - math.e) < 10 * eps
    errors = np.array(errors)
    assert errors[-1] < 1e-8  # no cancellation blow-up for nearly equal constants
    np.testing.assert_allclose(errors[1:3] / errors[:2], 1e-2, rtol=0.05)  # first order in eps


def test_dual_exp_is_symmetric_in_the_time_constants():
    t = np.linspace(0, 100, 101)
    assert_rel(wf.dual_exp_conductance(t, 1.0, 8.0, 60.0), wf.dual_exp_conductance(t, 1.0, 60.0, 8.0), 1e-15)


def test_dual_exp_approaches_exp_for_vanishing_rise():
    t = np.linspace(1.0, 50.0, 50)
    assert_rel(wf.dual_exp_conductance(t, 1.0, 1e-6, 5.0), wf.exp_conductance(t, 1.0, 5.0), 1e-5)


# ---- ODE forms ---------------------------------------------------------------------------


def _solve_pair(k, tau_g, tau_x, x0, t):
    sol = solve_ivp(
        lambda _, y: [(k * y[1] - y[0]) / tau_g, -y[1] / tau_x],
        (0, t[-1]), [0.0, x0], t_eval=t, rtol=1e-12, atol=1e-14, method="DOP853",
    )
    return sol.y[0]


@pytest.mark.parametrize("tr, td", [(8.0, 60.0), (40.0, 200.0), (1.0, 1.5)])
def test_dual_exp_ode_factor_gives_peak_w(tr, td):
    k = wf.dual_exp_ode_factor(tr, td)
    assert_rel(k, (td / tr) ** (tr / (td - tr)))
    w = 0.7
    t = np.linspace(0, 5 * td, 2001)
    g = _solve_pair(k, tr, td, w, t)
    np.testing.assert_allclose(g, wf.dual_exp_conductance(t, w, tr, td), rtol=0, atol=1e-10)


def test_alpha_ode_needs_factor_e():
    tau, w = 3.0, 0.4
    t = np.linspace(0, 40, 2001)
    plain = _solve_pair(1.0, tau, tau, w, t)  # x += w
    assert abs(plain.max() - w / math.e) < 1e-6  # peaks at w/e ...
    assert abs(t[np.argmax(plain)] - tau) <= t[1]  # ... at t = tau
    scaled = _solve_pair(1.0, tau, tau, wf.ALPHA_ODE_FACTOR * w, t)  # x += e w
    np.testing.assert_allclose(scaled, wf.alpha_conductance(t, w, tau), rtol=0, atol=1e-10)


# ---- the lecture's errata ----------------------------------------------------------------


def lecture_dual_exp(t, g_bar, tr, td):
    """The lecture's form: prefactor 1/(1/tr - 1/td) = tr td/(td - tr) instead of a peak normalisation."""
    return g_bar * tr * td / (td - tr) * bracket(t, tr, td)


@pytest.mark.parametrize(
    "g_bar, tr, td, peak, t_peak",
    [(0.05, 40.0, 200.0, 1.34, 80.5), (2.0, 8.0, 60.0, 11.7, 18.6)],  # GABA_B, NMDA (COURSE.md)
)
def test_lecture_dual_exp_prefactor_reproduces_measured_peaks(g_bar, tr, td, peak, t_peak):
    t_star = dual_peak_closed(tr, td)
    assert round(lecture_dual_exp(t_star, g_bar, tr, td), 2 if peak < 10 else 1) == peak
    assert round(t_star, 1) == t_peak
    # other plausible prefactors do not reproduce the measured peaks
    for pref in [1.0, 1 / (td - tr), td / (td - tr), tr / (td - tr)]:
        assert abs(g_bar * pref * bracket(t_star, tr, td) - peak) > 0.05 * peak
    # ours peaks at exactly g_peak, at the same time
    assert_rel(wf.dual_exp_conductance(t_star, g_bar, tr, td), g_bar, 1e-12)


def test_lecture_alpha_peaks_at_g_over_e():
    tau, g = 2.0, 1.0
    lecture = g * (tau / tau) * math.exp(-tau / tau)
    assert_rel(lecture, g / math.e, 1e-15)
    assert_rel(wf.alpha_conductance(tau, g, tau), g, 1e-15)


# ---- property-based ----------------------------------------------------------------------

G = st.floats(1e-3, 1e3)
TAU = st.floats(0.05, 1e3)
TIME = st.floats(-1e4, 1e4)
PROP = settings(max_examples=60, deadline=None)


@PROP
@given(t=st.floats(-1e6, 0.0, exclude_max=True), g=G, tr=TAU, td=TAU)
def test_prop_zero_before_spike(t, g, tr, td):
    assert wf.exp_conductance(t, g, td) == 0.0
    assert wf.alpha_conductance(t, g, td) == 0.0
    assert wf.dual_exp_conductance(t, g, tr, td) == 0.0


@PROP
@given(t=TIME, g=G, tr=TAU, td=TAU)
def test_prop_non_negative_and_bounded_by_peak(t, g, tr, td):
    for value in (wf.exp_conductance(t, g, td), wf.alpha_conductance(t, g, td), wf.dual_exp_conductance(t, g, tr, td)):
        assert np.isfinite(value)
        assert 0.0 <= value <= g * (1 + 1e-12)


@PROP
@given(g=G, tr=TAU, td=TAU)
def test_prop_peak_is_g_peak_at_stated_time(g, tr, td):
    assert wf.exp_conductance(0.0, g, td) == g
    assert math.isclose(wf.alpha_conductance(td, g, td), g, rel_tol=1e-12)
    t_star = wf.dual_exp_peak_time(tr, td)
    assert min(tr, td) <= t_star <= max(tr, td)  # the peak lies between the two time constants
    assert math.isclose(wf.dual_exp_conductance(t_star, g, tr, td), g, rel_tol=1e-12)
    for f in (1 - 1e-3, 1 + 1e-3):  # and is a maximum
        assert wf.dual_exp_conductance(t_star * f, g, tr, td) <= g * (1 + 1e-12)
        assert wf.alpha_conductance(td * f, g, td) <= g * (1 + 1e-12)
