"""Tests of helpers.grading: exact one-sentence messages, acceptance of correct
answers written differently, student functions represented by proxies (as in the
trusted grader process), exceptions whose class only has the student's
exception's name, and the one-line GradingError in a real kernel.

The references here are local closed forms (independent of the course's
waveforms reference); one test checks that the course reference agrees with them
through check_waveform.
"""

import math
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest

from helpers import grading as G

from helpers.references import waveforms as ref

ARGS = {"g_peak": 2.0, "tau": 3.0}  # nS, ms
EXP = "exp_conductance with g_peak = 2 nS and tau = 3 ms: "
ALPHA = "alpha_conductance with g_peak = 2 nS and tau = 3 ms: "


# --- local closed-form references (plain numbers: ms, nS) -------------------
def ref_exp(t, g_peak, tau):
    t = np.asarray(t, dtype=float)
    return np.where(t >= 0, g_peak * np.exp(-np.maximum(t, 0.0) / tau), 0.0)


def ref_alpha(t, g_peak, tau):
    t = np.asarray(t, dtype=float)
    tp = np.maximum(t, 0.0)
    return np.where(t >= 0, g_peak * tp / tau * np.exp(1.0 - tp / tau), 0.0)


def ref_dual(t, g_peak, tau_rise, tau_decay):
    t = np.asarray(t, dtype=float)
    tp = np.maximum(t, 0.0)
    t_star = tau_rise * tau_decay / (tau_decay - tau_rise) * np.log(tau_decay / tau_rise)
    norm = np.exp(-t_star / tau_decay) - np.exp(-t_star / tau_rise)
    return np.where(t >= 0, g_peak * (np.exp(-tp / tau_decay) - np.exp(-tp / tau_rise)) / norm, 0.0)


def message(fn, *args, **kwargs):
    """The GradingError sentence that fn(*args, **kwargs) raises."""
    with pytest.raises(G.GradingError) as info:
        fn(*args, **kwargs)
    assert type(info.value) is G.GradingError
    text = str(info.value)
    assert "\n" not in text
    return text


def waveform_message(student, reference=ref_exp, args=ARGS, function="exp_conductance", **kw):
    return message(G.check_waveform, student, reference, args, function=function, **kw)


# --- number formatting -------------------------------------------------------
@pytest.mark.parametrize("x, text", [
    (0.37, "0.370"), (1.0, "1.00"), (5.0, "5.00"), (-65.0, "-65.0"), (0.0, "0"), (-0.0, "0"),
    (0.0999999, "0.100"), (12345.6, "12346"), (123456.0, "1.23e05"), (1.234e-5, "1.23e-05"),
    (float("nan"), "NaN"), (float("inf"), "inf"), (2.0 / np.e, "0.736"),
])
def test_fmt_three_significant_digits(x, text):
    assert G.fmt(x) == text


def test_close_values_get_more_digits_until_they_differ():
    assert message(G.check_values, -64.99, -65.0, "u", "mV", hidden=False) == (
        "u is -64.99 mV; expected -65.00 mV")


# --- check_waveform: acceptance of correct answers written differently -------
def exp_where(t, g_peak, tau):
    t = np.asarray(t, dtype=float)
    return np.where(t >= 0, g_peak * np.exp(-t / tau), 0.0)  # overflows quietly for t << 0


def exp_mask(t, g_peak, tau):
    t = np.asarray(t, dtype=float)
    g = np.zeros_like(t)
    spiked = t >= 0
    g[spiked] = g_peak * np.exp(-t[spiked] / tau)
    return g


exp_math = np.vectorize(lambda t, g_peak, tau: g_peak * math.exp(-t / tau) if t >= 0 else 0.0,
                        otypes=[float])


def exp_heaviside(t, g_peak, tau):
    return g_peak * np.exp(-np.asarray(t, dtype=float) / tau) * np.heaviside(t, 1.0)


def exp_loop(t, g_peak, tau):
    values = [g_peak * math.exp(-x / tau) if x >= 0 else 0.0 for x in np.ravel(t)]
    return np.reshape(values, np.shape(t))


def alpha_mask(t, g_peak, tau):
    t = np.array(t, dtype=float)
    g = np.asarray(g_peak * t / tau * np.exp(1 - t / tau))  # a 0-d array for scalar t
    g[t < 0] = 0.0
    return g


def dual_other_algebra(t, g_peak, tau_rise, tau_decay):
    # exp(-t*/tau_decay) and exp(-t*/tau_rise) as powers of tau_rise/tau_decay
    r = tau_rise / tau_decay
    norm = r ** (tau_rise / (tau_decay - tau_rise)) - r ** (tau_decay / (tau_decay - tau_rise))
    t = np.asarray(t, dtype=float)
    return np.where(t < 0, 0.0, g_peak * (np.exp(-t / tau_decay) - np.exp(-t / tau_rise)) / norm)


@pytest.mark.parametrize("student", [exp_where, exp_mask, exp_math, exp_heaviside, exp_loop])
@pytest.mark.parametrize("hidden", [True, False])
def test_correct_exp_written_differently_passes(student, hidden):
    for args in (ARGS, {"g_peak": 12.0, "tau": 0.4}, {"g_peak": 0.0, "tau": 5.0}):
        G.check_waveform(student, ref_exp, args, hidden=hidden, function="exp_conductance")


def test_correct_alpha_and_dual_written_differently_pass():
    G.check_waveform(alpha_mask, ref_alpha, {"g_peak": 1.3, "tau": 0.6})
    G.check_waveform(exp_mask, ref_exp, {"g_peak": 1.0, "tau": 1e-3})  # scales far from 1 ms
    G.check_waveform(exp_mask, ref_exp, {"g_peak": 1e4, "tau": 5e3})
    for args in ({"g_peak": 1.0, "tau_rise": 40.0, "tau_decay": 200.0},
                 {"g_peak": 3.2, "tau_rise": 0.5, "tau_decay": 4.0},
                 {"g_peak": 0.8, "tau_rise": 9.0, "tau_decay": 11.0}):
        G.check_waveform(dual_other_algebra, ref_dual, args)


def test_course_waveforms_agree_with_the_closed_forms():
    G.check_waveform(ref.exp_conductance, ref_exp, ARGS)
    G.check_waveform(ref.alpha_conductance, ref_alpha, {"g_peak": 25.0, "tau": 4.0})
    G.check_waveform(ref.dual_exp_conductance, ref_dual,
                     {"g_peak": 2.0, "tau_rise": 8.0, "tau_decay": 60.0})
    # and a student's own code passes against the course reference
    G.check_waveform(exp_mask, ref.exp_conductance, ARGS)


# --- check_waveform: one sentence per failure kind ---------------------------
def test_waveform_shape_messages():
    assert waveform_message(lambda t, g, tau: ref_exp(t, g, tau)[..., :-1] if np.ndim(t) else
                            ref_exp(t, g, tau)) == (
        "exp_conductance returned shape (3,) for an input of shape (4,)")
    assert waveform_message(lambda t, g, tau: np.atleast_1d(ref_exp(t, g, tau))) == (
        "exp_conductance returned shape (1,) for a scalar input")
    assert waveform_message(lambda t, g, tau: float(np.sum(ref_exp(t, g, tau)))) == (
        "exp_conductance returned a scalar for an input of shape (4,)")


def test_waveform_bad_return_types():
    assert waveform_message(lambda t, g, tau: None) == (
        "exp_conductance returned None (is a return statement missing?)")
    assert waveform_message(lambda t, g, tau: "g") == (
        "exp_conductance returned the text 'g', not a number")
    assert waveform_message(lambda t, g, tau: ref_exp(t, g, tau) + 0j) == (
        "exp_conductance returned a complex value")


def test_waveform_scalar_path_crashes():
    def array_only(t, g_peak, tau):  # a classic: masking that needs an array
        g = g_peak * np.exp(-np.asarray(t, dtype=float) / tau)
        g[np.asarray(t) < 0] = 0.0
        return g
    assert waveform_message(array_only) == (
        "exp_conductance raised TypeError for a scalar t = 3 ms: "
        "'numpy.float64' object does not support item assignment")


def test_waveform_nan_inf_messages():
    def nan_at_zero(t, g_peak, tau):
        t = np.asarray(t, dtype=float)
        return np.where(t == 0, np.nan, ref_exp(t, g_peak, tau))
    assert waveform_message(nan_at_zero) == EXP + "g contains NaN at t = 0 ms"

    def inf_at_zero(t, g_peak, tau):
        t = np.asarray(t, dtype=float)
        return np.where(t == 0, np.inf, ref_exp(t, g_peak, tau))
    assert waveform_message(inf_at_zero) == EXP + "g is infinite at t = 0 ms"


def test_waveform_nonzero_before_spike_and_negative():
    ungated = lambda t, g_peak, tau: g_peak * np.exp(-np.asarray(t, dtype=float) / tau)  # noqa: E731
    assert waveform_message(ungated) == (
        EXP + "g is non-zero before the spike (5.44 nS at t = -3.00 ms)")
    flipped = lambda t, g_peak, tau: -ref_exp(t, g_peak, tau)  # noqa: E731
    assert waveform_message(flipped) == (
        EXP + "g is negative (-2.00 nS at t = 0 ms); a conductance cannot be negative")


def test_peak_messages_visible_state_expected_values():
    lecture_alpha = lambda t, g, tau: ref_alpha(t, g / np.e, tau)  # noqa: E731  peaks at g/e
    assert waveform_message(lecture_alpha, ref_alpha, function="alpha_conductance", hidden=False) == (
        ALPHA + "peak of g is 0.736 nS at t = 3.00 ms; expected 2.00 nS at t = 3.00 ms")
    late = lambda t, g, tau: ref_exp(np.asarray(t) - 1.0, g, tau)  # noqa: E731
    assert waveform_message(late, hidden=False) == (
        EXP + "peak of g is 2.00 nS at t = 1.00 ms; expected 2.00 nS at t = 0 ms")


def test_peak_messages_hidden_state_the_rule_not_the_reference():
    lecture_alpha = lambda t, g, tau: ref_alpha(t, g / np.e, tau)  # noqa: E731
    assert waveform_message(lecture_alpha, ref_alpha, function="alpha_conductance") == (
        ALPHA + "the peak of g is 0.736 nS at t = 3.00 ms; it should equal g_peak")
    exp_as_alpha = lambda t, g, tau: ref_exp(t, g, tau)  # noqa: E731
    assert waveform_message(exp_as_alpha, ref_alpha, function="alpha_conductance") == (
        ALPHA + "the peak of g is 2.00 nS at t = 0 ms; it should be at t = tau")
    slow_small = lambda t, g, tau: ref_alpha(t, g / 2, 2 * tau)  # noqa: E731
    assert waveform_message(slow_small, ref_alpha, function="alpha_conductance") == (
        ALPHA + "the peak of g is 1.00 nS at t = 6.00 ms; it should equal g_peak and be at t = tau")
    late = lambda t, g, tau: ref_exp(np.asarray(t) - 1.0, g, tau)  # noqa: E731
    assert waveform_message(late) == (
        EXP + "the peak of g is 2.00 nS at t = 1.00 ms; it should be at the spike (t = 0)")
    # a dual exponential whose peak time is no input: the direction only
    slow_rise = lambda t, g, tr, td: ref_dual(t, g, 1.5 * tr, td)  # noqa: E731
    args = {"g_peak": 2.0, "tau_rise": 8.0, "tau_decay": 60.0}
    text = waveform_message(slow_rise, ref_dual, args, function="dual_exp_conductance")
    assert text == ("dual_exp_conductance with g_peak = 2 nS, tau_rise = 8 ms and tau_decay = 60 ms: "
                    "the peak of g is 2.00 nS at t = 24.1 ms; it comes too late")
    assert "18.6" not in text  # the reference peak time is not revealed
    # the peak of the dual exponential falls between grid points: still "equal g_peak"
    small = lambda t, g, tr, td: ref_dual(t, 0.5 * g, tr, td)  # noqa: E731
    assert waveform_message(small, ref_dual, args, function="dual_exp_conductance") == (
        "dual_exp_conductance with g_peak = 2 nS, tau_rise = 8 ms and tau_decay = 60 ms: "
        "the peak of g is 1.00 nS at t = 18.6 ms; it should equal g_peak")


def test_curve_messages_visible_and_hidden():
    slow = lambda t, g, tau: ref_exp(t, g, 1.1 * tau)  # noqa: E731
    assert waveform_message(slow, hidden=False) == EXP + "g is 0.771 nS at t = 3.15 ms; expected 0.701 nS"
    hidden = waveform_message(slow)
    assert hidden == EXP + "g is 0.771 nS at t = 3.15 ms; that is too large"
    assert "0.701" not in hidden


WRONG_ANSWERS = {  # name: (student, reference, args)
    "lecture alpha (peak g/e)": (lambda t, g, tau: ref_alpha(t, g / np.e, tau), ref_alpha, ARGS),
    "exp(+t/tau)": (lambda t, g, tau: np.where(np.asarray(t) >= 0, g * np.exp(np.asarray(t) / tau), 0.0),
                    ref_exp, {"g_peak": 1.7, "tau": 4.0}),
    "tau in the wrong place": (lambda t, g, tau: ref_exp(t, g, 1.0 / tau), ref_exp, {"g_peak": 1.7, "tau": 4.0}),
    "lecture dual prefactor": (
        lambda t, g, tr, td: np.where(np.asarray(t) >= 0, g / (1 / tr - 1 / td) * (
            np.exp(-np.maximum(t, 0) / td) - np.exp(-np.maximum(t, 0) / tr)), 0.0),
        ref_dual, {"g_peak": 2.0, "tau_rise": 8.0, "tau_decay": 60.0}),
    "lecture dual peak time": (
        lambda t, g, tr, td: ref_dual(t, g, tr, td) * (
            (np.exp(-18.6 / td) - np.exp(-18.6 / tr)) / (np.exp(-tr * np.log(td / tr) / td)
                                                          - np.exp(-np.log(td / tr)))),
        ref_dual, {"g_peak": 2.0, "tau_rise": 8.0, "tau_decay": 60.0}),
}


@pytest.mark.parametrize("label", list(WRONG_ANSWERS))
def test_hidden_messages_do_not_reveal_reference_values(label):
    student, reference, args = WRONG_ANSWERS[label]
    hidden = waveform_message(student, reference, args, function="f")
    visible = waveform_message(student, reference, args, function="f", hidden=False)
    assert "expected" in visible and "expected" not in hidden
    # every number the visible message adds is a reference value: none may be in the hidden one
    numbers = lambda text: set(re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", text))  # noqa: E731
    revealed = numbers(visible.split("expected", 1)[1]) - numbers(visible.split("expected", 1)[0])
    inputs = {G._fmt_in(v) for v in args.values()} | {"0"}  # inputs and the spike time are no secret
    assert revealed and not (numbers(hidden) & (revealed - inputs)), (hidden, visible)


def test_input_array_modified_in_place():
    def clips_input(t, g_peak, tau):
        if np.ndim(t):
            np.maximum(t, 0.0, out=t)
        return ref_exp(t, g_peak, tau)
    assert waveform_message(clips_input) == (
        "exp_conductance changed the array t that was passed in; compute on a copy "
        "(e.g. t = np.array(t, dtype=float)) instead of assigning into t")


def test_scalar_result_disagrees_with_array_result():
    odd = lambda t, g, tau: ref_exp(t, g, tau) if np.ndim(t) else np.float64(1.0)  # noqa: E731
    assert waveform_message(odd, hidden=False) == (
        EXP + "for a scalar t = 3 ms g is 1.00 nS; expected 0.736 nS")
    assert waveform_message(odd) == (
        EXP + "for a scalar t = 3 ms g is 1.00 nS, not the value the function gives "
        "for the same t inside an array")


def test_function_name_comes_from_checking():
    with pytest.raises(G.GradingError, match=r"^exp_conductance returned None"):
        with G.checking("exp_conductance"):
            G.check_waveform(lambda t, g, tau: None, ref_exp, ARGS)


def test_broken_reference_is_a_course_error_not_the_students_fault():
    def broken(t, g_peak, tau):
        raise ValueError("bug in the reference")
    with pytest.raises(G.CourseError, match="the reference for exp_conductance raised ValueError"):
        with G.checking("exp_conductance"):
            G.check_waveform(exp_where, broken, ARGS)


# --- check_values, check_trace and the simple checks -------------------------
def test_check_values_messages():
    inputs = {"g_syn": 5.0, "g_m": 10.0}
    assert message(G.check_values, -43.3, -21.7, "steady_state_potential", "mV", inputs=inputs,
                   hidden=False) == (
        "steady_state_potential with g_syn = 5 nS and g_m = 10 nS is -43.3 mV; expected -21.7 mV")
    assert message(G.check_values, -43.3, -21.7, "steady_state_potential", "mV", inputs=inputs) == (
        "steady_state_potential with g_syn = 5 nS and g_m = 10 nS is -43.3 mV; that is too small")
    assert message(G.check_values, -43.3, -21.7, "u_inf", "mV", inputs=inputs,
                   function="steady_state_potential",
                   rule="(g_m u_rest + g_syn E_syn)/(g_m + g_syn)") == (
        "steady_state_potential with g_syn = 5 nS and g_m = 10 nS: u_inf is -43.3 mV; "
        "it should be (g_m u_rest + g_syn E_syn)/(g_m + g_syn)")
    u = np.linspace(-120.0, 60.0, 181)
    B = 1.0 / (1.0 + 1.2 / 3.57 * np.exp(-0.062 * u))
    wrong = B.copy()
    wrong[100] = 0.9
    assert message(G.check_values, wrong, B, "B", "", rtol=1e-3, inputs={"mg": 1.2, "u": u},
                   function="mg_block", x=u, x_name="u", x_unit="mV") == (
        "mg_block with mg = 1.2 mM and u = from -120 to 60 mV (181 values): B is 0.900 at u = -20.0 mV; "
        "that is too large")
    assert message(G.check_values, [1.0, 2.0], [1.0, 3.0], "g", "nS", hidden=False) == (
        "g is 2.00 nS at element 1; expected 3.00 nS")
    assert message(G.check_values, [1.0, np.nan], [1.0, 3.0], "g", "nS") == "g is NaN at element 1"
    assert message(G.check_values, [1.0, 2.0, 3.0], [1.0, 3.0], "g", "nS") == (
        "g has shape (3,); expected shape (2,)")
    G.check_values([1.0, 2.0 + 1e-9], [1.0, 2.0], "g", "nS")  # within rtol = 1e-6
    G.check_values(np.float64(3.0), 3, "I", "pA", rtol=0.0)
    G.check_values([np.inf, np.nan], [np.inf, np.nan], "x", "")


def test_check_values_converts_brian_quantities():
    b2 = pytest.importorskip("brian2")
    ms, mV = b2.ms, b2.mV
    assert G.check_values(5 * ms, 5 * ms, "tau", "ms") == 5.0
    assert message(G.check_values, 5 * mV, 5 * ms, "tau", "ms") == "tau is a quantity in volt; expected ms"
    assert message(G.check_values, 5.0, 5 * ms, "t_peak", "ms") == (
        "t_peak is a plain number; expected a Brian2 quantity in ms")
    assert message(G.check_values, 5 * ms, 5.0, "t_peak", "ms") == (
        "t_peak is a Brian2 quantity (in second); this exercise uses plain numbers in ms")
    assert message(G.check_values, 20 * ms, 18.6 * ms, "dual_exp_peak_time", "ms", hidden=False,
                   inputs={"tau_rise": 8 * ms, "tau_decay": 60 * ms}) == (
        "dual_exp_peak_time with tau_rise = 8 ms and tau_decay = 60 ms is 20.0 ms; expected 18.6 ms")
    # dimensionless quantities (a monitor's G_mg, w) are plain numbers
    dimensionless = b2.Quantity([0.05, 0.5])
    G.check_values(dimensionless, [0.05, 0.5], "G_mg", "")
    G.check_trace([0.0, 0.1] * ms, dimensionless, np.array([0.05, 0.5]), "G_mg", "", 1e-9)
    assert message(G.check_values, 5 * mV, 0.5, "G_mg", "") == (
        "G_mg is a Brian2 quantity (in volt); this exercise uses plain numbers")
    t = np.arange(3) * 0.1 * ms
    assert message(G.check_trace, t, [-65.0, -64.0, -63.0] * mV, [-65.0, -64.5, -63.0] * mV, "u", "mV", 0.01,
                   inputs={"g_max": 2 * b2.nS, "Mg": 1.2 * b2.mM}) == (
        "u with g_max = 2 nS and Mg = 1.2 mM departs from the correct trace by up to 0.500 mV "
        "(at t = 0.100 ms; tolerance 0.01 mV)")


def test_check_trace_messages():
    t = np.arange(200) * 0.1  # ms
    ref = -65.0 + np.exp(-t / 20.0)
    bad = ref.copy()
    bad[123] += 0.52
    inputs = {"g_max": 2.0, "Mg": 1.2}
    assert message(G.check_trace, t, bad, ref, "u", "mV", 0.01, inputs=inputs) == (
        "u with g_max = 2 nS and Mg = 1.2 mM departs from the correct trace by up to 0.520 mV "
        "(at t = 12.3 ms; tolerance 0.01 mV)")
    assert message(G.check_trace, t, bad, ref, "u", "mV", 0.01, hidden=False) == (
        "u is -63.9 mV at t = 12.3 ms; expected -64.5 mV (difference 0.520 mV, tolerance 0.01 mV)")
    bad[50] = np.nan
    assert message(G.check_trace, t, bad, ref, "u", "mV", 0.01) == "u becomes NaN at t = 5.00 ms"
    assert message(G.check_trace, t, bad[:-1], ref, "u", "mV", 0.01) == (
        "u has 199 samples; expected 200 (same duration and dt)")
    two = np.vstack([ref, ref])
    two_bad = two.copy()
    two_bad[1, 7] += 1.0
    assert message(G.check_trace, t, two_bad, two, "u", "mV", 0.01) == (
        "u departs from the correct trace by up to 1.00 mV (at t = 0.700 ms in neuron 1; tolerance 0.01 mV)")
    G.check_trace(t, ref + 0.005, ref, "u", "mV", 0.01)


def test_simple_checks():
    assert message(G.check_callable, 3.0, "exp_conductance") == (
        "exp_conductance is not a function (it is a float); define it with def")
    assert message(G.check_string, ["dg/dt = -g/tau : 1"], "alpha_model") == (
        "alpha_model is not a string (it is a list)")
    assert message(G.check_string, "  \n", "alpha_model") == "alpha_model is an empty string"
    assert G.check_string("x += w", "alpha_on_pre") == "x += w"
    choices = ("subtractive", "divisive")
    assert G.check_choice(" Subtractive ", "shunting_effect", choices) == "subtractive"
    assert message(G.check_choice, "multiplicative", "shunting_effect", choices) == (
        "shunting_effect is 'multiplicative'; choose one of 'subtractive' or 'divisive'")
    assert message(G.check_choice, "divisive", "shunting_effect", choices, expected="subtractive") == (
        "shunting_effect is 'divisive', which is not the right answer")
    assert message(G.check_choice, "divisive", "shunting_effect", choices, expected="subtractive",
                   hidden=False) == "shunting_effect is 'divisive'; expected 'subtractive'"
    assert message(G.check_shape, np.zeros(3), (4,), "mg_block", input_shape=(4,)) == (
        "mg_block returned shape (3,) for an input of shape (4,)")
    assert message(G.check_shape, np.zeros(3), (4,), "B") == "B has shape (3,); expected shape (4,)"
    assert message(G.check_finite, [1.0, np.nan], "g") == "g contains NaN at element 1"
    assert message(G.check_finite, [1.0, np.nan], "B", x=[-80.0, -65.0], x_name="u", x_unit="mV",
                   inputs={"mg": 1.2}, function="mg_block") == (
        "mg_block with mg = 1.2 mM: B contains NaN at u = -65.0 mV")


# --- checking() and call() ---------------------------------------------------
def test_checking_turns_student_exceptions_into_one_sentence():
    def stub(t, g_peak, tau):
        raise NotImplementedError()

    def stub_with_message(t, g_peak, tau):
        raise NotImplementedError("write exp_conductance")

    def uses_undefined(t, g_peak, tau):
        return g_peak * np.exp(-t / tau_m)  # noqa: F821

    def long_message(t, g_peak, tau):
        raise ValueError("first line " + "x" * 300 + "\nsecond line")

    def two_args(t, g_peak):
        return t

    cases = [
        (lambda: stub(1.0, 2.0, 3.0), "exp_conductance raised NotImplementedError "
         "(replace the `raise NotImplementedError()` line with your solution)"),
        (lambda: stub_with_message(1.0, 2.0, 3.0),
         "exp_conductance raised NotImplementedError: write exp_conductance"),
        (lambda: uses_undefined(1.0, 2.0, 3.0),
         "exp_conductance raised NameError: name 'tau_m' is not defined"),
        (lambda: 1.0 / 0.0, "exp_conductance raised ZeroDivisionError: float division by zero"),
    ]
    for block, expected in cases:
        with pytest.raises(G.GradingError) as info:
            with G.checking("exp_conductance"):
                block()
        assert str(info.value) == expected
        assert info.value.__suppress_context__
    with pytest.raises(G.GradingError) as info:
        with G.checking("exp_conductance"):
            long_message(1.0, 2.0, 3.0)
    assert str(info.value) == "exp_conductance raised ValueError: first line " + "x" * 186 + "..."
    with pytest.raises(G.GradingError) as info:
        with G.checking("exp_conductance"):
            two_args(1.0, 2.0, 3.0)
    assert str(info.value) == ("exp_conductance raised TypeError: test_checking_turns_student_exceptions_"
                               "into_one_sentence.<locals>.two_args() takes 2 positional arguments but 3 "
                               "were given")


def test_checking_undefined_name_and_plain_asserts():
    with pytest.raises(G.GradingError) as info:
        with G.checking("exp_conductance"):
            exp_conductance_not_defined_anywhere(1.0, 2.0, 3.0)  # noqa: F821
    assert str(info.value) == (
        "exp_conductance_not_defined_anywhere is not defined; run the cell that defines it")
    with pytest.raises(G.GradingError) as info:
        with G.checking("undefined_exp_conductance"):
            [undefined_exp_conductance(t, 2.0, 3.0) for t in (0.0, 1.0)]  # noqa: F821
    assert str(info.value) == "undefined_exp_conductance is not defined; run the cell that defines it"
    with pytest.raises(G.GradingError) as info:
        with G.checking("exp_conductance"):
            assert ref_exp(0.0, 2.0, 3.0) == 1.0, "at the spike (t = 0) g should be g_peak = 2 nS"
    assert str(info.value) == (
        "exp_conductance failed a check: at the spike (t = 0) g should be g_peak = 2 nS")


def test_checking_lets_grading_and_course_errors_through():
    original = G.GradingError("peak of g is wrong")
    with pytest.raises(G.GradingError) as info:
        with G.checking("exp_conductance"):
            raise original
    assert info.value is original
    with pytest.raises(G.CourseError):
        with G.checking("exp_conductance"):
            raise G.CourseError("test bug")


def test_grader_bugs_keep_their_traceback(monkeypatch):
    def broken(a, e):
        raise RuntimeError("bug inside the grader")
    monkeypatch.setattr(G, "_direction", broken)
    with pytest.raises(RuntimeError, match="bug inside the grader"):
        with G.checking("steady_state_potential"):
            G.check_values(1.0, 2.0, "u_inf", "mV")


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit])
def test_interrupts_propagate(exc):
    def interrupted(t, g_peak, tau):
        raise exc()
    with pytest.raises(exc):
        with G.checking("exp_conductance"):
            interrupted(1.0, 2.0, 3.0)
    with pytest.raises(exc):
        G.call(interrupted, 1.0, 2.0, 3.0, name="exp_conductance")
    with pytest.raises(exc):
        with G.checking("exp_conductance"):
            G.check_waveform(interrupted, ref_exp, ARGS)
    assert G._NAMES == []


def test_checking_silences_warnings_and_restores_state():
    before = np.geterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with G.checking("exp_conductance"):
            np.exp(np.array([1000.0]))
            warnings.warn("student warning")
            assert np.geterr()["over"] == "ignore"
        # check functions are quiet on their own too (np.where evaluates exp(+20/0.01))
        G.check_waveform(exp_where, ref_exp, {"g_peak": 1.0, "tau": 0.01}, function="exp_conductance",
                         t=np.linspace(-20.0, 1.0, 2101))
        assert caught == []
    assert np.geterr() == before


def student_global_function(t, g_peak, tau):
    return ref_exp(t, g_peak, tau)


def test_call():
    assert G.call(student_global_function, 0.0, 2.0, 3.0) == 2.0
    assert G.call("student_global_function", 0.0, 2.0, 3.0) == 2.0
    assert message(G.call, "exp_conductance_missing", 0.0) == (
        "exp_conductance_missing is not defined; run the cell that defines it")
    assert message(G.call, 3.0, name="exp_conductance") == (
        "exp_conductance is not a function (it is a float); define it with def")
    assert message(G.call, lambda t: 1 / 0, 0.0, name="exp_conductance") == (
        "exp_conductance raised ZeroDivisionError: division by zero")
    assert message(G.call, lambda t: t, 1.0, 2.0, name="exp_conductance") == (
        "exp_conductance raised TypeError: test_call.<locals>.<lambda>() takes 1 positional argument "
        "but 2 were given")


# --- student functions as proxies (the trusted grader process) -------------
class Proxy:
    """Stands for a student function in the grader process: callable, sends plain
    data (copies) and returns plain numbers/arrays; an exception comes back as an
    instance of a class created with the name of the student's exception. It has
    no code, module or globals to inspect: any attribute look-up fails loudly."""

    __slots__ = ("_fn",)

    def __init__(self, fn):
        object.__setattr__(self, "_fn", fn)

    def __call__(self, *args):
        args = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]
        try:
            out = object.__getattribute__(self, "_fn")(*args)
        except Exception as exc:
            raise type(type(exc).__name__, (Exception,), {})(str(exc)) from None
        if isinstance(out, (np.ndarray, np.generic)):
            return np.array(out, dtype=float)
        return out

    def __getattr__(self, name):
        raise RuntimeError("a proxy has no attribute " + name)


def test_proxy_passes_check_waveform_and_check_values_when_right():
    assert G.check_callable(Proxy(exp_mask), "exp_conductance") is not None
    for student in (exp_where, exp_mask, exp_loop):
        G.check_waveform(Proxy(student), ref_exp, ARGS, function="exp_conductance")
        G.check_waveform(Proxy(student), ref.exp_conductance, ARGS, function="exp_conductance")
    with G.checking("alpha_conductance"):
        G.check_waveform(Proxy(alpha_mask), ref_alpha, {"g_peak": 1.3, "tau": 0.6})
        G.check_values(Proxy(alpha_mask)(3.0, 2.0, 3.0), 2.0, "g", "nS")
    t = np.linspace(-3.0, 30.0, 34)
    G.check_values(Proxy(exp_mask)(t, 2.0, 3.0), ref_exp(t, 2.0, 3.0), "g", "nS", x=t)
    assert G.call(Proxy(exp_mask), 0.0, 2.0, 3.0, name="exp_conductance") == 2.0


def test_proxy_fails_with_the_usual_sentence_when_wrong():
    slow = Proxy(lambda t, g, tau: ref_exp(t, g, 1.1 * tau))
    assert waveform_message(slow) == EXP + "g is 0.771 nS at t = 3.15 ms; that is too large"
    assert waveform_message(slow, hidden=False) == EXP + "g is 0.771 nS at t = 3.15 ms; expected 0.701 nS"
    with pytest.raises(G.GradingError) as info:  # the name comes from checking, not the proxy
        with G.checking("exp_conductance"):
            G.check_waveform(slow, ref_exp, ARGS)
    assert str(info.value) == EXP + "g is 0.771 nS at t = 3.15 ms; that is too large"
    # without a name anywhere the proxy is not asked for one
    assert message(G.check_waveform, Proxy(lambda t, g, tau: None), ref_exp, ARGS) == (
        "the function returned None (is a return statement missing?)")
    assert message(G.check_values, Proxy(ref_exp)(3.0, 2.0, 3.3), ref_exp(3.0, 2.0, 3.0), "g", "nS",
                   inputs=ARGS, function="exp_conductance") == (
        EXP + "g is 0.806 nS; that is too large")
    t = np.array([0.0, 3.0])
    assert message(G.check_values, Proxy(ref_exp)(t, 2.0, 3.3), ref_exp(t, 2.0, 3.0), "g", "nS",
                   x=t, hidden=False) == "g is 0.806 nS at t = 3.00 ms; expected 0.736 nS"


def test_proxy_exceptions_are_named_like_the_students():
    def bad_scalar(t, g_peak, tau):
        if np.ndim(t) == 0:
            raise ValueError("t must be an array")
        return ref_exp(t, g_peak, tau)
    assert waveform_message(Proxy(bad_scalar)) == (
        "exp_conductance raised ValueError for a scalar t = 3 ms: t must be an array")

    def stub(t, g_peak, tau):
        raise NotImplementedError("Compute g(t) for a single exponential.")
    assert waveform_message(Proxy(stub)) == (
        "exp_conductance raised NotImplementedError: Compute g(t) for a single exponential.")
    with pytest.raises(G.GradingError) as info:
        with G.checking("exp_conductance"):
            Proxy(stub)(0.0, 2.0, 3.0)
    assert str(info.value) == (
        "exp_conductance raised NotImplementedError: Compute g(t) for a single exponential.")
    assert message(G.call, Proxy(lambda: 1 / 0), name="f") == "f raised ZeroDivisionError: division by zero"


def test_proxy_grading_error_passes_unchanged():
    def times_out(*args):
        raise G.GradingError("exp_conductance did not return within 10 s")
    assert waveform_message(times_out) == "exp_conductance did not return within 10 s"
    with pytest.raises(G.GradingError) as info:
        with G.checking("exp_conductance"):
            times_out(0.0, 2.0, 3.0)
    assert str(info.value) == "exp_conductance did not return within 10 s"


def test_proxy_of_a_missing_function():
    def missing(*args):
        raise NameError("name 'exp_conductance' is not defined", name="exp_conductance")
    assert waveform_message(missing) == "exp_conductance is not defined; run the cell that defines it"
    with pytest.raises(G.GradingError) as info:
        with G.checking("exp_conductance"):
            missing(0.0, 2.0, 3.0)
    assert str(info.value) == "exp_conductance is not defined; run the cell that defines it"
    # a NameError inside the student's own code still names what is missing there
    assert waveform_message(Proxy(lambda t, g, tau: g * np.exp(-t / tau_m))) == (  # noqa: F821
        "exp_conductance raised NameError for a scalar t = 3 ms: name 'tau_m' is not defined")


def test_exception_class_created_with_the_students_name():
    StudentValueError = type("ValueError", (Exception,), {})

    def student(x):
        raise StudentValueError("x must be positive")
    with pytest.raises(G.GradingError) as info:
        with G.checking("f"):
            student(1.0)
    assert str(info.value) == "f raised ValueError: x must be positive"
    with pytest.raises(G.GradingError) as info:
        with G.checking("f"):
            raise StudentValueError("x must be positive")  # raised in the test's own line
    assert str(info.value) == "f raised ValueError: x must be positive"
    # a created NameError or AssertionError is the student's, not the test's
    StudentNameError = type("NameError", (Exception,), {})
    with pytest.raises(G.GradingError) as info:
        with G.checking("f"):
            raise StudentNameError("name 'tau_m' is not defined")
    assert str(info.value) == "f raised NameError: name 'tau_m' is not defined"
    StudentAssertionError = type("AssertionError", (Exception,), {})
    with pytest.raises(G.GradingError) as info:
        with G.checking("f"):
            raise StudentAssertionError("t must be sorted")
    assert str(info.value) == "f raised AssertionError: t must be sorted"


@pytest.mark.parametrize("cls", [NotImplementedError, type("NotImplementedError", (Exception,), {})])
def test_stub_instruction_is_the_sentence(cls):
    instruction = "Return g_peak * exp(-t / tau) for t >= 0 and 0 before the spike."

    def stub(t, g_peak, tau):
        raise cls(instruction)
    with pytest.raises(G.GradingError) as info:
        with G.checking("f"):
            stub(1.0, 2.0, 3.0)
    assert str(info.value) == "f raised NotImplementedError: " + instruction

    def bare(t, g_peak, tau):
        raise cls()
    with pytest.raises(G.GradingError) as info:
        with G.checking("f"):
            bare(1.0, 2.0, 3.0)
    assert str(info.value) == ("f raised NotImplementedError (replace the `raise NotImplementedError()` "
                               "line with your solution)")


def test_checks_never_inspect_the_students_function():
    """Nothing in helpers.grading reads a function's code, module or globals."""
    import inspect
    source = inspect.getsource(G)
    for attribute in ("__code__", "__globals__", "__closure__", "__defaults__"):
        assert attribute not in source.replace("_raised_by_grader.__code__", ""), attribute
    assert "import inspect" not in source and "import dis" not in source


def test_import_is_light():
    code = ("import sys, helpers.grading; "
            "print(sorted(m for m in ('IPython', 'brian2', 'scipy', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- the IPython handler in a real kernel --------------------------------------
def test_kernel_shows_one_line_and_scores_zero(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    from nbgrader.utils import determine_grade

    cells = [
        "from helpers import grading\nimport numpy as np",
        # 1: a hidden test that fails: only the sentence may reach the student
        "SECRET_REFERENCE = 0.7357588823428847\n"
        "def exp_conductance(t, g_peak, tau):\n    return 0.5 * g_peak\n"
        "with grading.checking('exp_conductance'):\n"
        "    grading.check_values(exp_conductance(3.0, 2.0, 3.0), SECRET_REFERENCE, 'g', 'nS',\n"
        "                         inputs={'g_peak': 2.0, 'tau': 3.0}, function='exp_conductance')",
        # 2: a stub
        "def alpha_conductance(t, g_peak, tau):\n    raise NotImplementedError()\n"
        "with grading.checking('alpha_conductance'):\n"
        "    alpha_conductance(1.0, 2.0, 3.0)  # HIDDEN-LINE",
        # 3: the student removed the handler; the next check re-installs it
        "get_ipython().set_custom_exc((), None)\n"
        "with grading.checking('exp_conductance'):\n"
        "    undefined_student_function(1.0)  # HIDDEN-LINE-2",
        # 4, 5: errors that grading does not wrap keep their normal tracebacks
        "assert 1 == 2, 'plain assert'  # VISIBLE-ASSERT",
        "x = 1 / 0  # VISIBLE-DIVISION",
        # 6: a passing hidden test whose student code overflows: no stderr, full points
        "def quiet(t, g_peak, tau):\n"
        "    t = np.asarray(t, dtype=float)\n"
        "    return np.where(t >= 0, g_peak * np.exp(-t / tau), 0.0)\n"
        "from helpers.references import waveforms\n"
        "with grading.checking('exp_conductance'):\n"
        "    grading.check_waveform(quiet, waveforms.exp_conductance, {'g_peak': 1.0, 'tau': 0.01},\n"
        "                           t=np.linspace(-20.0, 1.0, 2101))\n"
        "print('passed')",
        # 7, 8: another tool's custom handler keeps its classes; GradingError stays one line
        "get_ipython().set_custom_exc((KeyError,), lambda shell, etype, value, tb, tb_offset=None:\n"
        "                             print('FOREIGN HANDLER', value))\n"
        "with grading.checking('exp_conductance'):\n"
        "    raise KeyError('k')",
        "with grading.checking('exp_conductance'):\n"
        "    pass\n"
        "raise KeyError('k')",
        # 9: a GradingError raised by a test itself after the handler was removed
        "get_ipython().set_custom_exc((), None)\n"
        "raise grading.GradingError('B must grow with u')  # HIDDEN-LINE-3",
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    for i, cell in enumerate(nb.cells):
        cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True,
                                     "points": 1, "grade_id": f"c{i}", "schema_version": 3}
    status = {}
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", allow_errors=True, timeout=60,
        resources={"metadata": {"path": str(tmp_path)}},
        on_cell_executed=lambda cell, cell_index, execute_reply:
            status.__setitem__(cell_index, execute_reply["content"]["status"]))
    client.execute()

    def error(i):
        errors = [o for o in nb.cells[i].outputs if o.output_type == "error"]
        assert len(errors) == 1, nb.cells[i].outputs
        return errors[0]

    expected = {
        1: "exp_conductance with g_peak = 2 nS and tau = 3 ms: g is 1.00 nS; that is too large",
        2: "alpha_conductance raised NotImplementedError (replace the `raise NotImplementedError()` "
           "line with your solution)",
        3: "undefined_student_function is not defined; run the cell that defines it",
        9: "B must grow with u",
    }
    for i, sentence in expected.items():
        out = error(i)
        assert out.ename == "GradingError" and out.evalue == sentence
        assert out.traceback == ["GradingError: " + sentence]
        text = " ".join(out.traceback)
        assert "SECRET" not in text and "0.73" not in text and "HIDDEN-LINE" not in text
        assert status[i] == "error"
        assert determine_grade(nb.cells[i]) == (0, 1)
    assert "VISIBLE-ASSERT" in "".join(error(4).traceback) and error(4).ename == "AssertionError"
    assert "VISIBLE-DIVISION" in "".join(error(5).traceback) and error(5).ename == "ZeroDivisionError"
    assert status[4] == status[5] == "error"
    assert status[6] == "ok"
    assert [o.get("name") for o in nb.cells[6].outputs] == ["stdout"]
    assert determine_grade(nb.cells[6]) == (1, 1)
    assert error(7).traceback == ["GradingError: exp_conductance raised KeyError: 'k'"]
    assert [o.text for o in nb.cells[8].outputs if o.output_type == "stream"] == ["FOREIGN HANDLER 'k'\n"]


@pytest.mark.parametrize("value, said", [
    (True, "slope_ratio is True (a bool)"), (np.True_, "slope_ratio is True (a bool)"),
    (np.isclose(1.0, 1.0), "slope_ratio is True (a bool)"), (np.array(False), "slope_ratio is False (a bool)"),
    (np.array([True]), "slope_ratio is True (a bool)"), (np.array([True, False]), "slope_ratio is an array of bools"),
    ([False], "slope_ratio is False (a bool)"),
])
def test_check_number_refuses_bools_in_every_form(value, said):
    with pytest.raises(G.GradingError) as info:
        G.check_number(value, "slope_ratio", "")
    assert str(info.value).startswith(said + ", the answer to a yes/no question"), str(info.value)
    assert info.value.misconception == "bool-not-number"
    assert G.check_number(np.float64(1.0), "slope_ratio", "") == 1.0
    assert G.check_number(np.array(1), "slope_ratio", "") == 1.0
