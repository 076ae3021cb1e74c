"""Explorer for notebook 06: the Carandini-Heeger rate against the LIF rate.

Two sliders set an excitatory conductance ``g_e`` and a shunting conductance
``g_i`` (``E_i = u_rest``). Two panels show the rate as a function of ``g_e``:

* left, the Carandini-Heeger (1994) rate ``m [g_e E / (g_e + g_i + g_m)]_+^2``,
  a function of the steady-state depolarisation (``E = E_e - u_rest``);
* right, the rate of a leaky integrate-and-fire neuron with the same
  conductances, from Dayan and Abbott's eq. 5.11.

An excitatory conductance is a current plus a leak,
``g_e (E_e - u) = g_e (E_e - u_rest) - g_e (u - u_rest)``, so the LIF rate for
conductance input is ``lif_rate(I_e=g_e (E_e - u_rest), C_m, g_l + g_e + g_i,
u_rest, u_th, u_reset)``: the student's current-driven ``lif_rate`` suffices.

Both panels draw the student's functions, passed in from the notebook
(``ch_explorer(ch_rate_fn=ch_rate, lif_rate_fn=lif_rate)``); there is no default.

Each panel keeps a faint family of curves for fixed shunts (``g_i`` = 0, 5, ...,
30 nS), the ``g_i = 0`` curve dashed, the curve for the slider's ``g_i`` bold and
a marker at the slider's ``g_e``; moving a slider only changes the data of
those artists. The readout states, in this fixed format (a browser test parses
it; the two rates are wrapped in ``<b>`` tags), for the default sliders::

    g_e = 8.0 nS, g_i = 10.0 nS: CH rate = 34.5 Hz (x 0.41 of the unshunted rate),
    LIF rate = 84.9 Hz (its threshold g_e moves from 3.0 to 6.0 nS)

Units: ms, mV, nS, pF; rates in Hz; ``m`` in Hz/mV^2.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from helpers.constants import C_M, G_L, U_REST, U_RESET, U_TH
from helpers.widgets import Explorer, live_figure, slider

__all__ = [
    "E_E",
    "M_CH",
    "G_E_MAX",
    "G_I_MAX",
    "G_I_FAMILY",
    "lif_conductance_rate",
    "threshold_g_e",
    "ch_explorer",
]

E_E = 0.0  # mV, excitatory reversal potential (absolute); 65 mV above rest
M_CH = 0.1  # Hz/mV^2, gain of the Carandini-Heeger rate
G_E_MAX = 20.0  # nS, right end of the g_e axis and slider
G_I_MAX = 30.0  # nS, largest shunt on the slider
G_I_FAMILY = tuple(5.0 * k for k in range(7))  # nS: 0, 5, ..., 30 (faint curves)
_N_POINTS = 401  # samples of the g_e axis


def lif_conductance_rate(g_e, g_i, E_e=E_E, C_m=C_M, g_l=G_L, u_rest=U_REST, u_th=U_TH,
                         u_reset=U_RESET, t_ref=0.0, *, lif_rate_fn: Callable):
    """LIF rate (Hz) for constant excitatory ``g_e`` and shunting ``g_i`` conductances.

    Uses ``g_e (E_e - u) = g_e (E_e - u_rest) - g_e (u - u_rest)``: the input is
    the current ``g_e (E_e - u_rest)`` (pA) on a membrane whose leak is
    ``g_l + g_e + g_i`` (nS), all reversing at ``u_rest``.

    Parameters
    ----------
    g_e, g_i : float or array_like
        Excitatory and shunting conductances (nS); ``E_i = u_rest``.
    E_e : float
        Excitatory reversal potential (mV, absolute).
    C_m, g_l : float
        Capacitance (pF) and leak conductance (nS).
    u_rest, u_th, u_reset : float
        Resting, threshold and reset potentials (mV).
    t_ref : float
        Refractory period (ms).
    lif_rate_fn : callable
        ``lif_rate(I_e, C_m, g_l, u_rest, u_th, u_reset, t_ref)`` (the student's
        function), keyword only.

    Returns
    -------
    numpy.ndarray
        Rate (Hz), broadcast shape of ``g_e`` and ``g_i``.
    """
    g_e, g_i = np.broadcast_arrays(np.asarray(g_e, float), np.asarray(g_i, float))
    return np.asarray(lif_rate_fn(g_e * (E_e - u_rest), C_m, g_l + g_e + g_i, u_rest, u_th, u_reset, t_ref),
                      dtype=float)


def threshold_g_e(g_i, E_e=E_E, g_l=G_L, u_rest=U_REST, u_th=U_TH):
    """Smallest excitatory conductance that makes the LIF fire (nS).

    ``u_inf = u_th`` gives ``g_e (E_e - u_th) = (g_l + g_i)(u_th - u_rest)``.

    Parameters
    ----------
    g_i : float or array_like
        Shunting conductance (nS).
    E_e, u_rest, u_th : float
        Potentials (mV); ``E_e > u_th``.
    g_l : float
        Leak conductance (nS).

    Returns
    -------
    float or numpy.ndarray
        Threshold conductance (nS): shunting adds ``g_i (u_th - u_rest)/(E_e - u_th)``.
    """
    return (g_l + np.asarray(g_i, float)) * (u_th - u_rest) / (E_e - u_th)


def ch_explorer(ch_rate_fn: Callable, lif_rate_fn: Callable, *,
                g_e: float = 8.0, g_i: float = 10.0, E_e: float = E_E, m: float = M_CH,
                C_m: float = C_M, g_l: float = G_L, u_rest: float = U_REST, u_th: float = U_TH,
                u_reset: float = U_RESET, g_e_max: float = G_E_MAX, g_i_max: float = G_I_MAX,
                g_i_family: Sequence[float] = G_I_FAMILY) -> Explorer:
    """Sliders for ``g_e`` and ``g_i``: Carandini-Heeger rate (left) beside the LIF rate (right).

    Parameters
    ----------
    ch_rate_fn : callable
        ``ch_rate(g_e, g_i, E_e, g_m, m)`` (Hz; ``E_e`` relative to rest): the
        student's function.
    lif_rate_fn : callable
        ``lif_rate(I_e, C_m, g_l, u_rest, u_th, u_reset, t_ref)`` (Hz): the
        student's function.
    g_e, g_i : float
        Initial slider values (nS).
    E_e : float
        Excitatory reversal potential (mV, absolute); the CH rate uses
        ``E_e - u_rest``.
    m : float
        Gain of the CH rate (Hz/mV^2).
    C_m, g_l : float
        Capacitance (pF) and leak conductance (nS; the CH model's ``g_m``).
    u_rest, u_th, u_reset : float
        Potentials of the LIF (mV); ``t_ref = 0``.
    g_e_max, g_i_max : float
        Slider ranges (nS).
    g_i_family : sequence of float
        Shunts (nS) drawn as faint reference curves.

    Returns
    -------
    helpers.widgets.Explorer
        Display it in a notebook. Extra attributes for tests: ``g_e_axis`` (nS),
        ``artists`` (dict of the artists ``update`` changes: ``ch_line``,
        ``lif_line``, ``ch_dot``, ``lif_dot``) and ``rates()`` (current CH and
        LIF rates in Hz).
    """
    ch_fn = ch_rate_fn
    drive = E_e - u_rest  # mV, excitatory reversal relative to rest (CH convention)

    def ch(g_e_, g_i_):
        g_e_, g_i_ = np.broadcast_arrays(np.asarray(g_e_, float), np.asarray(g_i_, float))
        return np.asarray(ch_fn(g_e_, g_i_, drive, g_l, m), dtype=float)

    def lif(g_e_, g_i_):
        return lif_conductance_rate(g_e_, g_i_, E_e, C_m, g_l, u_rest, u_th, u_reset, 0.0,
                                    lif_rate_fn=lif_rate_fn)

    axis = np.linspace(0.0, g_e_max, _N_POINTS)
    fig, (ax_ch, ax_lif) = live_figure(1, 2, figsize=(9.0, 3.6), sharex=True)
    panels = ((ax_ch, ch, "Carandini-Heeger rate (your ch_rate)"),
              (ax_lif, lif, "LIF neuron, same conductances (your lif_rate)"))
    artists = {}
    for ax, fn, title in panels:
        for shunt in g_i_family:
            if shunt != 0.0:
                ax.plot(axis, fn(axis, shunt), color="0.82", lw=1.0, zorder=1)
        ax.plot(axis, fn(axis, 0.0), "k--", lw=1.2, label="$g_i$ = 0", zorder=2)
        ax.set_xlabel("excitatory conductance $g_e$ (nS)")
        ax.set_ylabel("rate (Hz)")
        ax.set_title(title, fontsize=10)
        ax.set_xlim(0.0, g_e_max)
        top = float(np.max(fn(axis, 0.0)))
        ax.set_ylim(0.0, 1.05 * top if top > 0 else 1.0)
    artists["ch_line"], = ax_ch.plot(axis, ch(axis, g_i), color="C0", lw=2.2, zorder=3,
                                     label="slider $g_i$")
    artists["lif_line"], = ax_lif.plot(axis, lif(axis, g_i), color="C3", lw=2.2, zorder=3,
                                       label="slider $g_i$")
    artists["ch_dot"], = ax_ch.plot([g_e], [float(ch(g_e, g_i))], "o", color="C0", zorder=4)
    artists["lif_dot"], = ax_lif.plot([g_e], [float(lif(g_e, g_i))], "o", color="C3", zorder=4)
    others = ", ".join(f"{s:g}" for s in g_i_family if s != 0.0)
    if others:
        ax_ch.plot([], [], color="0.82", label=f"$g_i$ = {others} nS")
    for ax in (ax_ch, ax_lif):
        ax.legend(loc="upper left", fontsize=8, frameon=False)

    state = {}

    def update(g_e, g_i):
        artists["ch_line"].set_ydata(ch(axis, g_i))
        artists["lif_line"].set_ydata(lif(axis, g_i))
        r_ch = float(ch(g_e, g_i))
        r_lif = float(lif(g_e, g_i))
        r_ch0 = float(ch(g_e, 0.0))
        artists["ch_dot"].set_data([g_e], [r_ch])
        artists["lif_dot"].set_data([g_e], [r_lif])
        state.update(ch=r_ch, lif=r_lif)
        factor = f"x {r_ch / r_ch0:.2f}" if r_ch0 > 0 else "x -"
        return (f"g_e = {g_e:.1f} nS, g_i = {g_i:.1f} nS: "
                f"<b>CH rate = {r_ch:.1f} Hz</b> ({factor} of the unshunted rate), "
                f"<b>LIF rate = {r_lif:.1f} Hz</b> (its threshold g_e moves from "
                f"{float(threshold_g_e(0.0, E_e, g_l, u_rest, u_th)):.1f} to "
                f"{float(threshold_g_e(g_i, E_e, g_l, u_rest, u_th)):.1f} nS)")

    controls = {
        "g_e": slider("g_e", g_e, 0.0, g_e_max, 0.5, "nS", ".1f"),
        "g_i": slider("g_i", g_i, 0.0, g_i_max, 1.0, "nS", ".1f"),
    }
    explorer = Explorer(fig, controls, update, animated=artists.values())
    explorer.g_e_axis = axis
    explorer.artists = artists
    explorer.rates = lambda: dict(state)
    return explorer
