"""helpers.references.membrane: steady states and time constants against solutions of the membrane ODE."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from helpers.references import membrane as mb


def solve_membrane(C_m, g_m, u_rest, conductances, I_e=0.0, u0=None, t_end=None, t_eval=None):
    """Integrate C_m du/dt = g_m (u_rest - u) + sum g (E - u) + I_e with a high-precision solver."""

    def rhs(_, y):
        u = y[0]
        return [(g_m * (u_rest - u) + sum(g * (E - u) for g, E in conductances) + I_e) / C_m]

    u0 = u_rest if u0 is None else u0
    sol = solve_ivp(rhs, (0.0, t_end), [u0], t_eval=t_eval, rtol=1e-12, atol=1e-12, method="DOP853")
    return sol.t, sol.y[0]


def test_defaults():
    assert (mb.G_L, mb.C_M, mb.U_REST, mb.TAU_M) == (10.0, 200.0, -65.0, 20.0)
    assert mb.U_TH < 0 and mb.U_RESET < mb.U_TH


def test_synaptic_current():
    u = np.linspace(-90, 20, 12)
    np.testing.assert_allclose(mb.synaptic_current(u, 2.0, -75.0), 2.0 * (-75.0 - u), rtol=1e-15)
    assert mb.synaptic_current(-65.0, 0.0, 0.0) == 0.0
    assert mb.synaptic_current(-65.0, 5.0, 0.0) == 325.0  # pA: 5 nS x 65 mV
    assert mb.synaptic_current(-75.0, 5.0, -75.0) == 0.0


def test_input_conductance_and_time_constant():
    assert mb.input_conductance(5.0, 10.0) == 15.0
    assert mb.effective_time_constant(200.0, 0.0, 10.0) == 20.0
    assert mb.effective_time_constant(200.0, 10.0, 10.0) == 10.0
    np.testing.assert_allclose(mb.membrane_time_constant(200.0, 5.0, 5.0, 10.0), 10.0, rtol=1e-15)


@pytest.mark.parametrize("g_syn, E_syn, I_e", [(5.0, 0.0, 0.0), (20.0, -75.0, 0.0), (2.0, 0.0, 50.0), (0.0, 0.0, -30.0)])
def test_steady_state_and_time_constant_against_ode(g_syn, E_syn, I_e):
    C_m, g_m, u_rest = 200.0, 10.0, -65.0
    u_inf = mb.steady_state_potential(g_syn, E_syn, g_m, u_rest, I_e)
    tau = mb.effective_time_constant(C_m, g_syn, g_m)
    # run 40 time constants: the solution is at steady state
    _, u = solve_membrane(C_m, g_m, u_rest, [(g_syn, E_syn)], I_e, t_end=40 * tau)
    np.testing.assert_allclose(u[-1], u_inf, rtol=1e-9)
    # after one time constant the distance to steady state has shrunk by e
    _, u = solve_membrane(C_m, g_m, u_rest, [(g_syn, E_syn)], I_e, t_end=tau, t_eval=[0.0, tau])
    if u_inf != u_rest:
        np.testing.assert_allclose((u[1] - u_inf) / (u[0] - u_inf), np.exp(-1.0), rtol=1e-9)
    # relaxation is that solution
    t = np.linspace(0, 3 * tau, 31)
    _, u = solve_membrane(C_m, g_m, u_rest, [(g_syn, E_syn)], I_e, t_end=3 * tau, t_eval=t)
    np.testing.assert_allclose(mb.relaxation(t, u_rest, u_inf, tau), u, rtol=1e-9)


def test_steady_state_saturates_at_reversal_potential():
    g = np.logspace(-2, 6, 9)
    u = mb.steady_state_potential(g, 0.0, 10.0, -65.0)
    assert np.all(np.diff(u) > 0) and np.all(u < 0.0)
    assert abs(u[-1]) < 1e-3  # approaches E_syn = 0 mV, never passes it
    # a current keeps adding: no saturation
    assert mb.steady_state_potential(0.0, 0.0, 10.0, -65.0, I_e=1e4) == 935.0


def test_steady_state_relative_to_rest_by_default():
    assert mb.steady_state_potential(10.0, 70.0, 10.0) == 35.0


@pytest.mark.parametrize("g_e, g_i, E_i", [(5.0, 0.0, -65.0), (5.0, 20.0, -65.0), (5.0, 20.0, -75.0), (0.0, 10.0, -80.0)])
def test_membrane_steady_state_against_ode(g_e, g_i, E_i):
    C_m, g_m, u_rest, E_e = 200.0, 10.0, -65.0, 0.0
    u_inf = mb.membrane_steady_state(g_e, g_i, E_e, E_i, g_m, u_rest)
    tau = mb.membrane_time_constant(C_m, g_e, g_i, g_m)
    _, u = solve_membrane(C_m, g_m, u_rest, [(g_e, E_e), (g_i, E_i)], t_end=40 * tau)
    np.testing.assert_allclose(u[-1], u_inf, rtol=1e-9)
    _, u = solve_membrane(C_m, g_m, u_rest, [(g_e, E_e), (g_i, E_i)], u0=-30.0, t_end=tau, t_eval=[0.0, tau])
    np.testing.assert_allclose((u[1] - u_inf) / (u[0] - u_inf), np.exp(-1.0), rtol=1e-9)


def test_shunting_equation_of_the_course():
    # with E_i = u_rest = 0: tau_m du/dt = -R_m g_i u + R_m g_e (E_e - u) - u (minus sign on the shunt)
    C_m, g_m, E_e, g_e, g_i = 200.0, 10.0, 65.0, 5.0, 15.0
    tau_m, R_m = C_m / g_m, 1.0 / g_m
    sol = solve_ivp(
        lambda _, y: [(-R_m * g_i * y[0] + R_m * g_e * (E_e - y[0]) - y[0]) / tau_m],
        (0, 400.0), [0.0], rtol=1e-12, atol=1e-12, method="DOP853",
    )
    np.testing.assert_allclose(sol.y[0, -1], mb.membrane_steady_state(g_e, g_i, E_e, 0.0, g_m, 0.0), rtol=1e-9)


def test_shunting_inhibition_scales_the_deflection():
    g_m, u_rest, E_e = 10.0, -65.0, 0.0
    # alone it does not move the potential
    assert mb.membrane_steady_state(0.0, 30.0, E_e, u_rest, g_m, u_rest) == u_rest
    g_e = np.linspace(0.5, 30, 12)
    for g_i in [5.0, 20.0]:
        dev = mb.membrane_steady_state(g_e, g_i, E_e, u_rest, g_m, u_rest) - u_rest
        dev0 = mb.membrane_steady_state(g_e, 0.0, E_e, u_rest, g_m, u_rest) - u_rest
        np.testing.assert_allclose(dev / dev0, (g_m + g_e) / (g_m + g_e + g_i), rtol=1e-13)
    # hyperpolarising inhibition (E_i < u_rest) does move it
    assert mb.membrane_steady_state(0.0, 30.0, E_e, -75.0, g_m, u_rest) < u_rest


def test_consistency_between_one_and_two_conductances():
    g = np.linspace(0, 40, 9)
    np.testing.assert_allclose(
        mb.steady_state_potential(g, -75.0, 10.0, -65.0),
        mb.membrane_steady_state(g, 0.0, -75.0, 123.0, 10.0, -65.0),
        rtol=1e-15,
    )
    np.testing.assert_allclose(
        mb.effective_time_constant(200.0, g, 10.0), mb.membrane_time_constant(200.0, g, 0.0, 10.0), rtol=1e-15
    )
    np.testing.assert_allclose(mb.input_conductance(g, 10.0), 200.0 / mb.effective_time_constant(200.0, g, 10.0))


def test_broadcasting_and_scalars():
    g = np.linspace(0, 10, 5)
    for out in (
        mb.synaptic_current(-65.0, g, 0.0),
        mb.input_conductance(g, 10.0),
        mb.effective_time_constant(200.0, g, 10.0),
        mb.steady_state_potential(g, 0.0, 10.0),
        mb.membrane_steady_state(g, 1.0, 0.0, -65.0, 10.0, -65.0),
        mb.membrane_time_constant(200.0, g, 1.0, 10.0),
        mb.relaxation(g, -65.0, -60.0, 20.0),
    ):
        assert out.shape == (5,)
    assert mb.membrane_steady_state(g[:, None], g[None, :], 0.0, -65.0, 10.0, -65.0).shape == (5, 5)
    scalar = mb.steady_state_potential(1.0, 0.0, 10.0, -65.0)
    assert np.shape(scalar) == () and isinstance(scalar, np.floating)
