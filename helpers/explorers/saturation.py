"""Explorer for notebook 04 (synaptic saturation): one g_e slider.

A constant synaptic conductance ``g_e`` with reversal potential ``E_syn`` is
switched on at ``t = 0`` in a passive membrane at rest. The membrane potential
relaxes to the steady state ``u_inf`` with the effective time constant
``tau' = C_m / (g_m + g_e)``; a current-based synapse of equal small-signal
strength, ``I = g_e (E_syn - u_rest)``, is drawn beside it (it keeps
``tau_m`` and grows without bound). Every number comes from the student's
functions, passed in from the notebook (``input_conductance``,
``effective_time_constant``, ``steady_state_potential``); the exponential
relaxation ``u_inf + (u_rest - u_inf) exp(-t/tau')`` and the current-based
line ``g_e (E_syn - u_rest) / g_m`` are the notebook's printed equations.

Units: ms, mV, nS, pF, pA.

A browser test drives the explorer by setting the slider and reading the
readout (the HTML widget with class ``course-readout``); :func:`read_readout`
turns that text back into numbers and :func:`saturation_numbers`, given the
reference functions, the values to compare them with.
"""

from __future__ import annotations


from typing import Callable

import numpy as np

from helpers.constants import C_M, G_L, U_REST
from helpers.widgets import Explorer, live_figure, parse_readout, slider

__all__ = [
    "E_SYN",
    "G_E_MAX",
    "T_MAX",
    "READOUT_LABELS",
    "saturation_numbers",
    "saturation_traces",
    "saturation_readout",
    "read_readout",
    "saturation_explorer",
]

E_SYN = 0.0  # mV, excitatory (AMPA-like) reversal potential
G_E_MAX = 100.0  # nS, slider range 0 .. G_E_MAX (ten times the leak)
T_MAX = 100.0  # ms, time shown after the conductance step (5 tau_m)
T_BEFORE = 10.0  # ms, baseline shown before the step

#: Readout label -> key of :func:`saturation_numbers` (order of the readout).
READOUT_LABELS = {
    "g_syn": "g_e",  # the notebook's name for the synaptic conductance (the key stays g_e)
    "g_in": "g_in",
    "tau'": "tau_eff",
    "u_inf": "u_inf",
    "u_inf - u_rest": "depolarisation",
    "current-based u_inf - u_rest": "current_depolarisation",
}
_UNITS = {"g_e": "nS", "g_in": "nS", "tau_eff": "ms", "u_inf": "mV",
          "depolarisation": "mV", "current_depolarisation": "mV"}


def _relaxation(t, u0, u_inf, tau):
    """``u_inf + (u0 - u_inf) exp(-t/tau)`` (mV): the membrane after a step at t = 0."""
    return u_inf + (u0 - u_inf) * np.exp(-np.asarray(t, dtype=float) / tau)


def saturation_numbers(g_e, E_syn=E_SYN, g_m=G_L, C_m=C_M, u_rest=U_REST, *,
                       input_conductance_fn: Callable, effective_time_constant_fn: Callable,
                       steady_state_potential_fn: Callable) -> dict:
    """The key numbers of the explorer, from the given functions.

    Parameters
    ----------
    g_e : float
        Constant synaptic conductance (nS).
    E_syn : float
        Synaptic reversal potential (mV).
    g_m : float
        Leak conductance (nS).
    C_m : float
        Membrane capacitance (pF).
    u_rest : float
        Resting potential (mV).
    input_conductance_fn, effective_time_constant_fn, steady_state_potential_fn : callable
        ``input_conductance(g_syn, g_m)``, ``effective_time_constant(C_m, g_syn, g_m)``
        and ``steady_state_potential(g_syn, E_syn, g_m, u_rest)`` (keyword only):
        the student's functions in the notebook, the references in the tests.

    Returns
    -------
    dict
        ``g_e`` (nS), ``g_in`` input conductance (nS), ``tau_eff`` effective
        time constant (ms), ``u_inf`` steady state (mV), ``depolarisation``
        ``u_inf - u_rest`` (mV) and ``current_depolarisation``, the steady
        depolarisation of a current-based synapse ``I = g_e (E_syn - u_rest)``
        (mV), which is ``I / g_m``.
    """
    g_e = float(g_e)
    u_inf = float(steady_state_potential_fn(g_e, E_syn, g_m, u_rest))
    current = g_e * (E_syn - u_rest)  # pA, the current-based synapse at rest
    return {
        "g_e": g_e,
        "g_in": float(input_conductance_fn(g_e, g_m)),
        "tau_eff": float(effective_time_constant_fn(C_m, g_e, g_m)),
        "u_inf": u_inf,
        "depolarisation": u_inf - u_rest,
        "current_depolarisation": current / g_m,
    }


def saturation_traces(t, g_e, E_syn=E_SYN, g_m=G_L, C_m=C_M, u_rest=U_REST, **fns):
    """Membrane potential after a step of ``g_e`` at ``t = 0`` (mV), both synapse models.

    Parameters
    ----------
    t : array_like
        Time (ms); the step happens at 0, the membrane is at rest before.
    g_e, E_syn, g_m, C_m, u_rest
        As in :func:`saturation_numbers`.
    **fns
        The three functions of :func:`saturation_numbers` (keyword only).

    Returns
    -------
    u_conductance, u_current : numpy.ndarray
        Potential (mV) with the conductance-based synapse (relaxes to
        ``u_inf`` with ``tau'``) and with the current-based synapse of equal
        small-signal strength (relaxes to ``u_rest + g_e (E_syn - u_rest)/g_m``
        with ``tau_m``).
    """
    t = np.asarray(t, dtype=float)
    n = saturation_numbers(g_e, E_syn, g_m, C_m, u_rest, **fns)
    after = t >= 0
    ts = np.where(after, t, 0.0)
    u_cond = _relaxation(ts, u_rest, n["u_inf"], n["tau_eff"])
    u_curr = _relaxation(ts, u_rest, u_rest + n["current_depolarisation"], C_m / g_m)
    return (np.where(after, u_cond, u_rest), np.where(after, u_curr, u_rest))


def saturation_readout(numbers: dict) -> str:
    """The readout text: ``label = value unit`` items separated by ``; ``."""
    return "; ".join(f"{label} = {numbers[key]:.2f} {_UNITS[key]}"
                     for label, key in READOUT_LABELS.items())


def read_readout(text: str) -> dict:
    """Parse a readout back into the keys of :func:`saturation_numbers` (floats).

    Accepts the widget's HTML or its rendered text (e.g. ``innerText`` in a
    browser test).
    """
    return parse_readout(text, READOUT_LABELS)


def saturation_explorer(input_conductance_fn: Callable, effective_time_constant_fn: Callable,
                        steady_state_potential_fn: Callable, g_e: float = 5.0, E_syn: float = E_SYN,
                        g_m: float = G_L, C_m: float = C_M, u_rest: float = U_REST,
                        t_max: float = T_MAX, g_max: float = G_E_MAX) -> Explorer:
    """A live figure with a ``g_e`` slider: u(t) approaching u_inf with tau'.

    Left: u(t) after a step of the conductance at t = 0 (conductance-based,
    solid; current-based of equal small-signal strength, dashed), the steady
    state (dotted) and the point ``(tau', u(tau'))`` where 63 % of the way is
    done. Right: steady-state depolarisation against ``g_syn`` for both
    synapse models with the saturation level ``E_syn - u_rest``; a marker
    shows the slider value.

    Parameters
    ----------
    input_conductance_fn, effective_time_constant_fn, steady_state_potential_fn : callable
        The student's ``input_conductance``, ``effective_time_constant`` and
        ``steady_state_potential``: everything drawn comes from them.
    g_e : float
        Initial slider value (nS).
    E_syn, g_m, C_m, u_rest : float
        Reversal potential (mV), leak (nS), capacitance (pF), rest (mV).
    t_max : float
        Time shown after the step (ms).
    g_max : float
        Upper end of the slider and of the right panel (nS).

    Returns
    -------
    helpers.widgets.Explorer
        With ``controls["g_e"]`` (the slider), ``readout`` (HTML widget) and an
        extra ``artists`` dict of the lines it updates (``u``, ``u_current``,
        ``u_inf``, ``tau_point``, ``marker``, ``marker_current``) and ``t`` (ms).
    """
    fns = {"input_conductance_fn": input_conductance_fn,
           "effective_time_constant_fn": effective_time_constant_fn,
           "steady_state_potential_fn": steady_state_potential_fn}
    t = np.linspace(-T_BEFORE, t_max, 1101)
    g = np.linspace(0.0, g_max, 401)
    # the student's functions first: a stub raises before a figure exists
    dep = np.asarray(steady_state_potential_fn(g, E_syn, g_m, u_rest), dtype=float) - u_rest
    saturation_numbers(g_e, E_syn, g_m, C_m, u_rest, **fns)
    fig, (ax_t, ax_g) = live_figure(1, 2, figsize=(9.0, 3.6))
    span = abs(E_syn - u_rest)
    lo, hi = min(u_rest, E_syn) - 0.1 * span, max(u_rest, E_syn) + 0.15 * span

    (line_u,) = ax_t.plot([], [], color="C0", lw=2, label="conductance-based")
    (line_i,) = ax_t.plot([], [], color="C1", lw=1.5, ls="--", label="current-based")
    (line_inf,) = ax_t.plot([], [], color="C0", lw=1, ls=":", label=r"$u_\infty$")
    (tau_pt,) = ax_t.plot([], [], "o", color="C0", ms=6, label=r"$t=\tau'$")
    ax_t.axhline(E_syn, color="0.5", lw=0.8)
    ax_t.text(t[0] + 1, E_syn, r"$E_\mathrm{syn}$", va="bottom", color="0.4", fontsize=9)
    ax_t.set(xlim=(t[0], t[-1]), ylim=(lo, hi), xlabel="time t (ms)",
             ylabel="membrane potential u (mV)", title="step of the synaptic input at t = 0")
    ax_t.legend(loc="lower right", fontsize=8)

    ax_g.plot(g, dep, color="C0", lw=2, label="conductance-based")
    ax_g.plot(g, g * (E_syn - u_rest) / g_m, color="C1", ls="--", lw=1.5,
              label="current-based")
    ax_g.axhline(E_syn - u_rest, color="0.5", ls=":", lw=1,
                 label=r"saturation $E_\mathrm{syn}-u_\mathrm{rest}$")
    (marker,) = ax_g.plot([], [], "o", color="C0", ms=7)
    (marker_i,) = ax_g.plot([], [], "o", color="C1", ms=6, mfc="none")
    top = 1.25 * (E_syn - u_rest)
    ax_g.set(xlim=(0, g_max), ylim=tuple(sorted((-0.05 * top, top))),
             xlabel=r"synaptic conductance $g_\mathrm{syn}$ (nS)",
             ylabel=r"$u_\infty - u_\mathrm{rest}$ (mV)", title="steady-state depolarisation")
    ax_g.legend(loc="lower right", fontsize=8)

    def update(g_e):
        n = saturation_numbers(g_e, E_syn, g_m, C_m, u_rest, **fns)
        u_c, u_i = saturation_traces(t, g_e, E_syn, g_m, C_m, u_rest, **fns)
        line_u.set_data(t, u_c)
        line_i.set_data(t, u_i)
        line_inf.set_data([0.0, t[-1]], [n["u_inf"], n["u_inf"]])
        tau = n["tau_eff"]
        tau_pt.set_data([tau], [float(_relaxation(tau, u_rest, n["u_inf"], tau))])
        marker.set_data([g_e], [n["depolarisation"]])
        marker_i.set_data([g_e], [n["current_depolarisation"]])
        return saturation_readout(n)

    moving = [line_u, line_i, line_inf, tau_pt, marker, marker_i]
    explorer = Explorer(fig, {"g_e": slider("g_syn", g_e, 0.0, g_max, 0.5, unit="nS")}, update,
                        animated=moving)
    explorer.artists = {"u": line_u, "u_current": line_i, "u_inf": line_inf,
                        "tau_point": tau_pt, "marker": marker, "marker_current": marker_i}
    explorer.t = t
    return explorer
