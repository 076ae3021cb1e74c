"""Explorer for notebook 05 (shunting inhibition): sliders for g_e and g_i, a choice of E_i.

Both conductances are switched on together at ``t = 0`` in a passive membrane
at rest:

    C_m du/dt = g_m (u_rest - u) + g_e (E_e - u) + g_i (E_i - u).

The potential relaxes to ``u_inf = (g_m u_rest + g_e E_e + g_i E_i) / g_tot``
with ``tau' = C_m / g_tot``, ``g_tot = g_m + g_e + g_i``. The EPSP amplitude
shown is the steady-state change from rest, ``u_inf - u_rest``. With shunting
inhibition (``E_i = u_rest``) it is ``g_e (E_e - u_rest) / g_tot``: inhibition
divides it. With hyperpolarising inhibition (``E_i < u_rest``) the extra term
``g_i (E_i - u_rest) / g_tot`` subtracts as well. All numbers come from the
student's ``membrane_steady_state`` and ``membrane_time_constant``, passed in
from the notebook; the exponential relaxation between them is the notebook's
printed solution ``u_inf + (u_rest - u_inf) exp(-t/tau')``.

Units: ms, mV, nS, pF.

A browser test drives the explorer by setting the sliders and the E_i choice
and reading the readout (the HTML widget with class ``course-readout``);
:func:`read_readout` turns that text back into numbers and
:func:`shunting_numbers`, given the reference functions, the values to compare.
"""

from __future__ import annotations


from typing import Callable

import numpy as np

from helpers.constants import C_M, G_L, U_REST
from helpers.widgets import Explorer, live_figure, parse_readout, slider

__all__ = [
    "E_E",
    "E_I_HYPERPOLARISING",
    "G_E_MAX",
    "G_I_MAX",
    "T_MAX",
    "READOUT_LABELS",
    "shunting_numbers",
    "shunting_traces",
    "shunting_readout",
    "read_readout",
    "e_i_choices",
    "shunting_explorer",
]

E_E = 0.0  # mV, excitatory (AMPA) reversal potential
E_I_HYPERPOLARISING = -75.0  # mV, GABA_A reversal potential (the lecture's E_i)
G_E_MAX = 50.0  # nS, g_e slider range
G_I_MAX = 100.0  # nS, g_i slider range (ten times the leak)
T_MAX = 100.0  # ms, time shown after the step (5 tau_m)
T_BEFORE = 10.0  # ms, baseline before the step

#: Readout label -> key of :func:`shunting_numbers` (order of the readout).
READOUT_LABELS = {
    "u_inf": "u_inf",
    "tau'": "tau_eff",
    "EPSP amplitude u_inf - u_rest": "epsp",
    "without inhibition": "epsp_no_inhibition",
    "inhibition alone": "ipsp",
    "g_e": "g_e",
    "g_i": "g_i",
    "E_i": "E_i",
}
_UNITS = {"u_inf": "mV", "tau_eff": "ms", "epsp": "mV", "epsp_no_inhibition": "mV",
          "ipsp": "mV", "g_e": "nS", "g_i": "nS", "E_i": "mV"}


def _relaxation(t, u0, u_inf, tau):
    """``u_inf + (u0 - u_inf) exp(-t/tau)`` (mV): the membrane after a step at t = 0."""
    return u_inf + (u0 - u_inf) * np.exp(-np.asarray(t, dtype=float) / tau)


def shunting_numbers(g_e, g_i, E_i, E_e=E_E, g_m=G_L, C_m=C_M, u_rest=U_REST, *,
                     membrane_steady_state_fn: Callable, membrane_time_constant_fn: Callable) -> dict:
    """The key numbers of the explorer, from the given functions.

    Parameters
    ----------
    g_e, g_i : float
        Excitatory and inhibitory conductances, switched on at t = 0 (nS).
    E_i : float
        Inhibitory reversal potential (mV); ``u_rest`` for shunting inhibition.
    E_e : float
        Excitatory reversal potential (mV).
    g_m : float
        Leak conductance (nS).
    C_m : float
        Membrane capacitance (pF).
    u_rest : float
        Resting potential (mV).
    membrane_steady_state_fn, membrane_time_constant_fn : callable
        ``membrane_steady_state(g_e, g_i, E_e, E_i, g_m, u_rest)`` and
        ``membrane_time_constant(C_m, g_e, g_i, g_m)`` (keyword only): the
        student's functions in the notebook, the references in the tests.

    Returns
    -------
    dict
        ``u_inf`` steady state (mV), ``tau_eff`` effective time constant (ms),
        ``epsp`` = ``u_inf - u_rest`` (mV), ``epsp_no_inhibition`` the same with
        ``g_i = 0`` (mV), ``ipsp`` the change from rest with inhibition alone
        (``g_e = 0``; 0 for shunting) (mV), and the inputs ``g_e``, ``g_i``
        (nS), ``E_i`` (mV).
    """
    g_e, g_i, E_i = float(g_e), float(g_i), float(E_i)
    steady = membrane_steady_state_fn
    u_inf = float(steady(g_e, g_i, E_e, E_i, g_m, u_rest))
    return {
        "u_inf": u_inf,
        "tau_eff": float(membrane_time_constant_fn(C_m, g_e, g_i, g_m)),
        "epsp": u_inf - u_rest,
        "epsp_no_inhibition": float(steady(g_e, 0.0, E_e, E_i, g_m, u_rest)) - u_rest,
        "ipsp": float(steady(0.0, g_i, E_e, E_i, g_m, u_rest)) - u_rest,
        "g_e": g_e,
        "g_i": g_i,
        "E_i": E_i,
    }


def shunting_traces(t, g_e, g_i, E_i, E_e=E_E, g_m=G_L, C_m=C_M, u_rest=U_REST, *,
                    membrane_steady_state_fn: Callable, membrane_time_constant_fn: Callable) -> dict:
    """u(t) after a step of the conductances at ``t = 0`` (mV), at rest before.

    Parameters
    ----------
    t : array_like
        Time (ms).
    g_e, g_i, E_i, E_e, g_m, C_m, u_rest, membrane_steady_state_fn, membrane_time_constant_fn
        As in :func:`shunting_numbers`.

    Returns
    -------
    dict of numpy.ndarray
        ``both`` (g_e and g_i), ``excitation`` (g_i = 0) and ``inhibition``
        (g_e = 0), each the exact exponential relaxation (mV).
    """
    t = np.asarray(t, dtype=float)
    after = t >= 0
    ts = np.where(after, t, 0.0)
    out = {}
    for name, (ge, gi) in {"both": (g_e, g_i), "excitation": (g_e, 0.0),
                           "inhibition": (0.0, g_i)}.items():
        u_inf = membrane_steady_state_fn(ge, gi, E_e, E_i, g_m, u_rest)
        tau = membrane_time_constant_fn(C_m, ge, gi, g_m)
        out[name] = np.where(after, _relaxation(ts, u_rest, u_inf, tau), u_rest)
    return out


def shunting_readout(numbers: dict) -> str:
    """The readout text: ``label = value unit`` items separated by ``; ``."""
    return "; ".join(f"{label} = {numbers[key]:.2f} {_UNITS[key]}"
                     for label, key in READOUT_LABELS.items())


def read_readout(text: str) -> dict:
    """Parse a readout back into the keys of :func:`shunting_numbers` (floats).

    Accepts the widget's HTML or its rendered text (e.g. ``innerText``).
    """
    return parse_readout(text, READOUT_LABELS)


def e_i_choices(u_rest=U_REST, E_i_hyperpolarising=E_I_HYPERPOLARISING):
    """Dropdown options ``[(label, E_i in mV), ...]``: shunting first, then hyperpolarising."""
    return [(f"shunting: E_i = u_rest = {u_rest:g} mV", float(u_rest)),
            (f"hyperpolarising: E_i = {E_i_hyperpolarising:g} mV", float(E_i_hyperpolarising))]


def shunting_explorer(membrane_steady_state_fn: Callable, membrane_time_constant_fn: Callable,
                      g_e: float = 5.0, g_i: float = 10.0, E_i: float | None = None,
                      E_e: float = E_E, g_m: float = G_L, C_m: float = C_M,
                      u_rest: float = U_REST,
                      E_i_hyperpolarising: float = E_I_HYPERPOLARISING,
                      t_max: float = T_MAX, g_e_max: float = G_E_MAX,
                      g_i_max: float = G_I_MAX) -> Explorer:
    """A live figure with sliders for g_e and g_i and a choice of E_i.

    Left: u(t) after a step of both conductances at t = 0 (thick), with
    excitation alone (grey) and inhibition alone (dotted), and the steady
    state (dashed). Right: EPSP amplitude ``u_inf - u_rest`` against ``g_e``
    without inhibition (grey), with the chosen ``g_i`` as shunting (blue) and
    as hyperpolarising inhibition (red); the chosen ``E_i`` is drawn thick and
    a marker shows the slider value.

    Parameters
    ----------
    membrane_steady_state_fn, membrane_time_constant_fn : callable
        The student's ``membrane_steady_state`` and ``membrane_time_constant``:
        everything drawn comes from them.
    g_e, g_i : float
        Initial slider values (nS).
    E_i : float or None
        Initial inhibitory reversal potential (mV): ``u_rest`` (the default,
        shunting) or ``E_i_hyperpolarising``.
    E_e, g_m, C_m, u_rest : float
        Excitatory reversal (mV), leak (nS), capacitance (pF), rest (mV).
    E_i_hyperpolarising : float
        The hyperpolarising choice of E_i (mV), below ``u_rest``.
    t_max : float
        Time shown after the step (ms).
    g_e_max, g_i_max : float
        Slider ranges (nS).

    Returns
    -------
    helpers.widgets.Explorer
        Controls ``g_e``, ``g_i`` (sliders) and ``E_i`` (dropdown); extra
        attributes ``artists`` (the lines it updates: ``both``, ``excitation``,
        ``inhibition``, ``u_inf``, ``epsp_shunting``, ``epsp_hyperpolarising``,
        ``marker``), ``t`` (ms) and ``g_e_axis`` (nS, the x data of the EPSP curves).
    """
    import ipywidgets as w

    choices = e_i_choices(u_rest, E_i_hyperpolarising)
    E_i = float(u_rest if E_i is None else E_i)
    if E_i not in [value for _, value in choices]:
        raise ValueError(f"E_i must be u_rest = {u_rest} mV or {E_i_hyperpolarising} mV")

    fns = {"membrane_steady_state_fn": membrane_steady_state_fn,
           "membrane_time_constant_fn": membrane_time_constant_fn}
    steady = membrane_steady_state_fn
    t = np.linspace(-T_BEFORE, t_max, 1101)
    ge = np.linspace(0.0, g_e_max, 201)
    # the student's functions first: a stub raises before a figure exists
    no_inhibition = np.asarray(steady(ge, 0.0, E_e, u_rest, g_m, u_rest), dtype=float) - u_rest
    shunting_numbers(g_e, g_i, E_i, E_e, g_m, C_m, u_rest, **fns)
    fig, (ax_t, ax_e) = live_figure(1, 2, figsize=(9.5, 3.8))
    (line_exc,) = ax_t.plot([], [], color="0.6", lw=1.5, label="excitation alone")
    (line_inh,) = ax_t.plot([], [], color="C4", lw=1.5, ls=":", label="inhibition alone")
    (line_both,) = ax_t.plot([], [], color="C0", lw=2.5, label="excitation + inhibition")
    (line_inf,) = ax_t.plot([], [], color="C0", lw=1, ls="--", label=r"$u_\infty$")
    ax_t.axhline(u_rest, color="0.8", lw=0.8, zorder=0)
    top = u_rest + 1.05 * float(steady(g_e_max, 0.0, E_e, u_rest, g_m, u_rest) - u_rest)
    bottom = min(u_rest, E_i_hyperpolarising) - 2.0
    ax_t.set(xlim=(t[0], t[-1]), ylim=(bottom, top), xlabel="time t (ms)",
             ylabel="membrane potential u (mV)", title="step of g_e and g_i at t = 0")
    legend_t = ax_t.legend(loc="upper right", fontsize=8)
    # legend entries of the two lines whose colour follows E_i (blue shunting, red hyperpolarising)
    follow_e_i = [handle for text, handle in zip(legend_t.get_texts(), legend_t.legend_handles)
                  if text.get_text() in (line_both.get_label(), line_inf.get_label())]

    ax_e.plot(ge, no_inhibition, color="0.6", lw=1.5, label=r"$g_i = 0$")
    (line_sh,) = ax_e.plot([], [], color="C0", label="shunting")
    (line_hy,) = ax_e.plot([], [], color="C3", label="hyperpolarising")
    (marker,) = ax_e.plot([], [], "o", color="k", ms=6, zorder=5)
    ax_e.axhline(0.0, color="0.8", lw=0.8, zorder=0)
    ax_e.set(xlim=(0, g_e_max), ylim=(bottom - u_rest, top - u_rest),
             xlabel=r"excitatory conductance $g_e$ (nS)",
             ylabel=r"EPSP amplitude $u_\infty - u_\mathrm{rest}$ (mV)",
             title="EPSP amplitude for the chosen g_i")
    ax_e.legend(loc="lower right", fontsize=8)

    def update(g_e, g_i, E_i):
        n = shunting_numbers(g_e, g_i, E_i, E_e, g_m, C_m, u_rest, **fns)
        traces = shunting_traces(t, g_e, g_i, E_i, E_e, g_m, C_m, u_rest, **fns)
        line_both.set_data(t, traces["both"])
        line_exc.set_data(t, traces["excitation"])
        line_inh.set_data(t, traces["inhibition"])
        line_inf.set_data([0.0, t[-1]], [n["u_inf"], n["u_inf"]])
        for line, e_i, color in ((line_sh, u_rest, "C0"), (line_hy, E_i_hyperpolarising, "C3")):
            line.set_data(ge, np.asarray(steady(ge, g_i, E_e, e_i, g_m, u_rest), dtype=float) - u_rest)
            chosen = e_i == E_i
            line.set_linewidth(2.5 if chosen else 1.0)
            line.set_alpha(1.0 if chosen else 0.45)
        color = "C0" if E_i == u_rest else "C3"
        for artist in [line_both, line_inf] + follow_e_i:
            artist.set_color(color)
        marker.set_data([g_e], [n["epsp"]])
        return shunting_readout(n)

    controls = {
        "g_e": slider("g_e", g_e, 0.0, g_e_max, 0.5, unit="nS"),
        "g_i": slider("g_i", g_i, 0.0, g_i_max, 0.5, unit="nS"),
        "E_i": w.Dropdown(options=choices, value=E_i, description="inhibition",
                          style={"description_width": "initial"}),
    }
    moving = [line_both, line_exc, line_inh, line_inf, line_sh, line_hy, marker]
    explorer = Explorer(fig, controls, update, animated=moving)
    explorer.artists = {"both": line_both, "excitation": line_exc, "inhibition": line_inh,
                        "u_inf": line_inf, "epsp_shunting": line_sh,
                        "epsp_hyperpolarising": line_hy, "marker": marker}
    explorer.t = t
    explorer.g_e_axis = ge
    return explorer
