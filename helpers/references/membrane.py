"""Passive membrane with synaptic conductances (plain numbers).

Units: time ms, potential mV, conductance nS, capacitance pF, current pA
(nS x mV = pA, pF / nS = ms).

The membrane equation with leak ``g_m``, excitatory ``g_e`` and inhibitory
``g_i`` conductances and an injected current ``I_e``:

    C_m du/dt = g_m (u_rest - u) + g_e (E_e - u) + g_i (E_i - u) + I_e.

With constant conductances ``u`` relaxes exponentially to the steady state
``u_inf = (g_m u_rest + g_e E_e + g_i E_i + I_e) / g_tot`` with the effective
time constant ``tau = C_m / g_tot``, ``g_tot = g_m + g_e + g_i`` (the input
conductance). Shunting inhibition is the case ``E_i = u_rest``.

Physiological defaults (not the lecture's g_l = 10 uS, which makes
tau_m = 0.02 ms): g_l = 10 nS, C_m = 200 pF, tau_m = 20 ms.
"""

import numpy as np

from ._arrays import broadcast, finish

__all__ = [
    "G_L",
    "C_M",
    "U_REST",
    "TAU_M",
    "U_TH",
    "U_RESET",
    "synaptic_current",
    "input_conductance",
    "effective_time_constant",
    "steady_state_potential",
    "membrane_steady_state",
    "membrane_time_constant",
    "relaxation",
]

# The neuron defaults are run-time constants (helpers.constants); re-exported here.
from helpers.constants import C_M, G_L, TAU_M, U_RESET, U_REST, U_TH  # noqa: E402


def synaptic_current(u, g, E_syn):
    """Synaptic current ``g (E_syn - u)`` (pA); positive = inward, depolarising.

    Parameters
    ----------
    u : float or array_like
        Membrane potential (mV).
    g : float or array_like
        Synaptic conductance (nS).
    E_syn : float or array_like
        Synaptic reversal potential (mV).

    Returns
    -------
    I : numpy.ndarray or numpy.float64
        Current (pA; nS x mV = pA, not nA).
    """
    u, g, E_syn = broadcast(u, g, E_syn)
    return finish(g * (E_syn - u))


def input_conductance(g_syn, g_m):
    """Input (total) conductance ``g_syn + g_m`` (nS).

    Parameters
    ----------
    g_syn : float or array_like
        Synaptic conductance (nS).
    g_m : float or array_like
        Membrane leak conductance (nS).

    Returns
    -------
    g_in : numpy.ndarray or numpy.float64
        Input conductance (nS); its inverse is the input resistance (1/nS = GOhm).
    """
    g_syn, g_m = broadcast(g_syn, g_m)
    return finish(g_syn + g_m)


def effective_time_constant(C_m, g_syn, g_m):
    """Effective membrane time constant ``C_m / (g_syn + g_m)`` (ms).

    Parameters
    ----------
    C_m : float or array_like
        Membrane capacitance (pF).
    g_syn : float or array_like
        Synaptic conductance (nS); it shortens the time constant.
    g_m : float or array_like
        Leak conductance (nS).

    Returns
    -------
    tau : numpy.ndarray or numpy.float64
        Time constant (ms; pF / nS = ms).
    """
    C_m, g_syn, g_m = broadcast(C_m, g_syn, g_m)
    return finish(C_m / (g_syn + g_m))


def steady_state_potential(g_syn, E_syn, g_m, u_rest=0.0, I_e=0.0):
    """Steady-state potential ``(g_m u_rest + g_syn E_syn + I_e) / (g_m + g_syn)`` (mV).

    It saturates at ``E_syn`` as ``g_syn`` grows, whereas a current input adds
    ``I_e / (g_m + g_syn)`` without bound.

    Parameters
    ----------
    g_syn : float or array_like
        Constant synaptic conductance (nS).
    E_syn : float or array_like
        Synaptic reversal potential (mV).
    g_m : float or array_like
        Leak conductance (nS).
    u_rest : float or array_like, optional
        Resting potential (mV). Default 0 (potentials relative to rest).
    I_e : float or array_like, optional
        Injected current (pA). Default 0.

    Returns
    -------
    u_inf : numpy.ndarray or numpy.float64
        Steady-state potential (mV).
    """
    g_syn, E_syn, g_m, u_rest, I_e = broadcast(g_syn, E_syn, g_m, u_rest, I_e)
    return finish((g_m * u_rest + g_syn * E_syn + I_e) / (g_m + g_syn))


def membrane_steady_state(g_e, g_i, E_e, E_i, g_m, u_rest):
    """Steady state with excitation and inhibition (mV).

    ``u_inf = (g_m u_rest + g_e E_e + g_i E_i) / (g_m + g_e + g_i)``. With
    ``E_i = u_rest`` (shunting) inhibition does not move the potential on its
    own but scales the excitatory deflection ``u_inf - u_rest`` down by
    ``(g_m + g_e) / (g_m + g_e + g_i)``.

    Parameters
    ----------
    g_e, g_i : float or array_like
        Excitatory and inhibitory conductances (nS).
    E_e, E_i : float or array_like
        Their reversal potentials (mV).
    g_m : float or array_like
        Leak conductance (nS).
    u_rest : float or array_like
        Resting potential (mV).

    Returns
    -------
    u_inf : numpy.ndarray or numpy.float64
        Steady-state potential (mV).
    """
    g_e, g_i, E_e, E_i, g_m, u_rest = broadcast(g_e, g_i, E_e, E_i, g_m, u_rest)
    return finish((g_m * u_rest + g_e * E_e + g_i * E_i) / (g_m + g_e + g_i))


def membrane_time_constant(C_m, g_e, g_i, g_m):
    """Effective time constant ``C_m / (g_m + g_e + g_i)`` (ms).

    Parameters
    ----------
    C_m : float or array_like
        Membrane capacitance (pF).
    g_e, g_i : float or array_like
        Excitatory and inhibitory conductances (nS).
    g_m : float or array_like
        Leak conductance (nS).

    Returns
    -------
    tau : numpy.ndarray or numpy.float64
        Time constant (ms).
    """
    C_m, g_e, g_i, g_m = broadcast(C_m, g_e, g_i, g_m)
    return finish(C_m / (g_m + g_e + g_i))


def relaxation(t, u0, u_inf, tau):
    """Exponential relaxation ``u_inf + (u0 - u_inf) exp(-t/tau)`` (mV), for plotting.

    The exact solution of the membrane equation after constant conductances
    are switched on at ``t = 0``.

    Parameters
    ----------
    t : float or array_like
        Time since the switch (ms), >= 0.
    u0 : float or array_like
        Potential at ``t = 0`` (mV).
    u_inf : float or array_like
        Steady state (mV), e.g. :func:`membrane_steady_state`.
    tau : float or array_like
        Effective time constant (ms), e.g. :func:`membrane_time_constant`.

    Returns
    -------
    u : numpy.ndarray or numpy.float64
        Potential (mV).
    """
    t, u0, u_inf, tau = broadcast(t, u0, u_inf, tau)
    return finish(u_inf + (u0 - u_inf) * np.exp(-t / tau))
