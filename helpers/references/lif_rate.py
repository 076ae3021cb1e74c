"""Firing rates: leaky integrate-and-fire f-I curve and the Carandini-Heeger rate.

Units: time ms, potential mV, conductance nS, capacitance pF, current pA;
rates are returned in Hz (1000 / ms).

Leaky integrate-and-fire neuron with a constant shunting conductance ``g_i``
(``E_i = u_rest``) and a constant injected current ``I_e``:

    C_m du/dt = -g_l (u - u_rest) - g_i (u - u_rest) + I_e,
    spike and reset to u_reset when u reaches u_th, then t_ref refractory.

Its steady state is ``u_inf = u_rest + I_e / (g_l + g_i)`` and its time
constant ``tau = C_m / (g_l + g_i)``. The rate (Dayan and Abbott 2001, eq. 5.11)

    r = 1 / (t_ref + tau ln((u_inf - u_reset) / (u_inf - u_th)))  for u_inf > u_th, else 0.

For large input ``r`` grows along the line
``(u_inf - u_th) / (tau (u_th - u_reset)) = (I_e - I_rh) / (C_m (u_th - u_reset))``
(with ``I_rh`` the rheobase; from ln(1 + z) ~ z), whose slope ``1 / (C_m (u_th - u_reset))``
does not depend on ``g_i``: shunting shifts the f-I curve (subtractive, Holt and Koch
1997). The line is not an asymptote: the next order, ln(1 + z) ~ z - z**2/2, puts the
exact rate ``1 / (2 tau)`` above it (25 Hz for tau = 20 ms, with t_ref = 0). The rate of Carandini and Heeger (1994), a function of the steady-state
potential, is divided by shunting instead.
"""

import numpy as np

from ._arrays import broadcast, finish

__all__ = ["lif_rate", "lif_rate_linear", "lif_isi", "rheobase", "ch_rate"]

MS_PER_S = 1000.0  # ms per s: rate in Hz = MS_PER_S / (interval in ms)


def _check(u_th, u_reset, t_ref=0.0):
    if np.any(np.asarray(u_reset) >= np.asarray(u_th)):
        raise ValueError("the reset potential u_reset must lie below the threshold u_th")
    if np.any(np.asarray(t_ref) < 0):
        raise ValueError("the refractory period t_ref (ms) must be >= 0")


def lif_isi(I_e, C_m, g_l, u_rest, u_th, u_reset, t_ref=0.0, g_i=0.0):
    """Interspike interval of the LIF neuron under constant input (ms); ``inf`` below rheobase.

    ``T = t_ref + tau ln((u_inf - u_reset) / (u_inf - u_th))`` with
    ``u_inf = u_rest + I_e/(g_l + g_i)`` and ``tau = C_m/(g_l + g_i)``.

    Parameters are those of :func:`lif_rate`.

    Returns
    -------
    T : numpy.ndarray or numpy.float64
        Interspike interval (ms); ``inf`` where ``u_inf <= u_th``.
    """
    I_e, C_m, g_l, u_rest, u_th, u_reset, t_ref, g_i = broadcast(
        I_e, C_m, g_l, u_rest, u_th, u_reset, t_ref, g_i
    )
    _check(u_th, u_reset, t_ref)
    g_tot = g_l + g_i
    u_inf = u_rest + I_e / g_tot
    tau = C_m / g_tot
    above = u_inf > u_th
    excess = np.where(above, u_inf - u_th, 1.0)
    # ln((u_inf - u_reset)/(u_inf - u_th)) = log1p((u_th - u_reset)/(u_inf - u_th)): accurate for large input
    isi = t_ref + tau * np.log1p((u_th - u_reset) / excess)
    return finish(np.where(above, isi, np.inf))


def lif_rate(I_e, C_m, g_l, u_rest, u_th, u_reset, t_ref=0.0, g_i=0.0):
    """Firing rate of a leaky integrate-and-fire neuron under constant current (Hz).

    ``r = 1 / (t_ref + tau ln((u_inf - u_reset) / (u_inf - u_th)))`` for
    ``u_inf > u_th``, else 0 (Dayan and Abbott 2001, eq. 5.11).

    Parameters
    ----------
    I_e : float or array_like
        Injected current (pA).
    C_m : float or array_like
        Membrane capacitance (pF).
    g_l : float or array_like
        Leak conductance (nS).
    u_rest : float or array_like
        Resting potential (mV), also the reversal potential of ``g_i``.
    u_th : float or array_like
        Threshold (mV).
    u_reset : float or array_like
        Reset potential (mV), below ``u_th``.
    t_ref : float or array_like, optional
        Absolute refractory period (ms). Default 0.
    g_i : float or array_like, optional
        Constant shunting conductance (nS) with ``E_i = u_rest``. Default 0.

    Returns
    -------
    r : numpy.ndarray or numpy.float64
        Rate (Hz), 0 at and below the rheobase (:func:`rheobase`).

    Raises
    ------
    ValueError
        If ``u_reset >= u_th`` or ``t_ref < 0``.
    """
    isi = np.asarray(lif_isi(I_e, C_m, g_l, u_rest, u_th, u_reset, t_ref, g_i))
    return finish(MS_PER_S / isi)  # 1000/inf = 0 below rheobase


def lif_rate_linear(I_e, C_m, g_l, u_rest, u_th, u_reset, g_i=0.0):
    """Large-input line of the LIF f-I curve (Hz), 0 where negative.

    ``r_lin = (u_inf - u_th) / (tau (u_th - u_reset))
    = (I_e - (u_th - u_rest)(g_l + g_i)) / (C_m (u_th - u_reset))``,
    from ``ln(1 + z) ~ z`` (Dayan and Abbott 2001). Its slope in ``I_e``,
    ``1000 / (C_m (u_th - u_reset))`` Hz/pA, is independent of ``g_i`` and ``g_l``.

    The ratio ``lif_rate / lif_rate_linear`` tends to 1 for large input; the
    difference tends to ``1000 / (2 tau)`` Hz (next term of ``1/ln(1+z)``),
    for ``t_ref = 0``.

    Parameters
    ----------
    I_e : float or array_like
        Injected current (pA).
    C_m : float or array_like
        Membrane capacitance (pF).
    g_l : float or array_like
        Leak conductance (nS).
    u_rest, u_th, u_reset : float or array_like
        Resting, threshold and reset potentials (mV).
    g_i : float or array_like, optional
        Constant shunting conductance (nS), ``E_i = u_rest``. Default 0.

    Returns
    -------
    r : numpy.ndarray or numpy.float64
        Rate (Hz), rectified at 0.
    """
    I_e, C_m, g_l, u_rest, u_th, u_reset, g_i = broadcast(I_e, C_m, g_l, u_rest, u_th, u_reset, g_i)
    _check(u_th, u_reset)
    g_tot = g_l + g_i
    u_inf = u_rest + I_e / g_tot
    tau = C_m / g_tot
    r = MS_PER_S * (u_inf - u_th) / (tau * (u_th - u_reset))
    return finish(np.maximum(r, 0.0))


def rheobase(g_l, u_rest, u_th, g_i=0.0):
    """Rheobase current ``(u_th - u_rest)(g_l + g_i)`` (pA): the LIF fires for ``I_e`` above it.

    Parameters
    ----------
    g_l : float or array_like
        Leak conductance (nS).
    u_rest, u_th : float or array_like
        Resting potential and threshold (mV).
    g_i : float or array_like, optional
        Constant shunting conductance (nS), ``E_i = u_rest``. Default 0.

    Returns
    -------
    I_rh : numpy.ndarray or numpy.float64
        Current (pA); shunting raises it by ``g_i (u_th - u_rest)``.
    """
    g_l, u_rest, u_th, g_i = broadcast(g_l, u_rest, u_th, g_i)
    return finish((u_th - u_rest) * (g_l + g_i))


def ch_rate(g_e, g_i, E_e, g_m, m=1.0):
    """Carandini-Heeger rate ``m [g_e E_e / (g_e + g_i + g_m)]_+^2``.

    A rate that is a power of the rectified steady-state potential (relative to
    rest, with ``E_i = u_rest = 0``): shunting ``g_i`` divides it.

    Parameters
    ----------
    g_e : float or array_like
        Excitatory conductance (nS).
    g_i : float or array_like
        Shunting inhibitory conductance (nS).
    E_e : float or array_like
        Excitatory reversal potential relative to rest (mV).
    g_m : float or array_like
        Leak conductance (nS).
    m : float or array_like, optional
        Gain (Hz/mV^2). Default 1.

    Returns
    -------
    r : numpy.ndarray or numpy.float64
        Rate (Hz when ``m`` is in Hz/mV^2).
    """
    g_e, g_i, E_e, g_m, m = broadcast(g_e, g_i, E_e, g_m, m)
    u = g_e * E_e / (g_e + g_i + g_m)
    return finish(m * np.maximum(u, 0.0) ** 2)
