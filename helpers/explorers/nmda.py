"""Explorer for notebook 03: the EPSP of one NMDA synapse against [Mg] and g_max.

Two sliders, the extracellular magnesium concentration ``Mg`` (mM) and the peak
NMDA conductance per spike ``g_max`` (nS), drive one figure with two panels:

* left: the EPSP ``u(t) - u_rest`` (mV) after one presynaptic spike, for a
  neuron at rest and for the same neuron depolarised (a higher ``u_rest``);
* right: the magnesium block ``B(u)`` (Jahr and Stevens 1990) for the chosen
  ``Mg``, with a marker at each of the two resting potentials.

The EPSPs are Brian2 simulations run through :func:`helpers.brian_harness.run_nmda_neuron`
(explicit network, numpy code generation), by default with the reference strings
of :mod:`helpers.brian_reference`; pass a student's strings to see their model.
One simulation takes a fraction of a second, so the sliders update on release
(``continuous_update=False``) and results are cached per slider position.

Units in the figure and the readout: time ms, potential mV, conductance nS,
[Mg] mM.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SPIKE_TIME", "DURATION", "U_DEPOLARISED", "epsp", "nmda_explorer"]

SPIKE_TIME = 10.0  # ms, time of the presynaptic spike
DURATION = 250.0  # ms, simulated time (four 60 ms decay constants after the spike)
U_DEPOLARISED = -40.0  # mV, resting potential of the "depolarised" neuron
_MG_RANGE = (0.0, 3.0, 0.1)  # mM: min, max, step
_G_MAX_RANGE = (0.0, 10.0, 0.25)  # nS: min, max, step


def epsp(namespace, strings=None, spike_time=SPIKE_TIME, duration=DURATION):
    """Simulate one NMDA EPSP with the Brian2 harness.

    Parameters
    ----------
    namespace : dict
        Notebook-03 namespace (Brian2 quantities): ``u_rest, g_l, C_m, E_nmda,
        tau_rise, tau_decay, g_max, Mg``.
    strings : tuple of str, optional
        ``(neuron_eqs, synapse_model, synapse_on_pre)``; default the reference
        strings of :mod:`helpers.brian_reference`.
    spike_time : float
        Time of the presynaptic spike (ms), on the 0.1 ms grid.
    duration : float
        Simulated time (ms).

    Returns
    -------
    t : numpy.ndarray
        Time (ms).
    du : numpy.ndarray
        Depolarisation ``u(t) - u_rest`` (mV).
    """
    from brian2 import ms, mV

    from helpers import brian_reference as ref
    from helpers.brian_harness import run_nmda_neuron

    if strings is None:
        strings = (ref.NMDA_NEURON_EQS, ref.NMDA_SYNAPSE_MODEL, ref.NMDA_SYNAPSE_ON_PRE)
    result = run_nmda_neuron(*strings, namespace, [spike_time] * ms, duration * ms)
    t = np.asarray(result["t"] / ms)
    du = np.asarray((result["u"] - namespace["u_rest"]) / mV)
    return t, du


def nmda_explorer(namespace=None, strings=None, u_depolarised=U_DEPOLARISED):
    """Sliders for [Mg] and g_max: the NMDA EPSP at rest and depolarised, and B(u).

    Parameters
    ----------
    namespace : dict, optional
        Notebook-03 namespace (Brian2 quantities); default
        :func:`helpers.brian_reference.nmda_namespace`. Its ``Mg`` and
        ``g_max`` set the sliders' start values; ``u_rest`` is the neuron at rest.
    strings : tuple of str, optional
        ``(neuron_eqs, synapse_model, synapse_on_pre)`` to simulate; default the
        reference strings.
    u_depolarised : float
        Resting potential (mV) of the depolarised neuron, e.g. -40 mV.

    Returns
    -------
    helpers.widgets.Explorer
        Display it in a notebook cell (``display(nmda_explorer(...))``).
    """
    from brian2 import mM, mV, nS

    from helpers import brian_reference as ref
    from helpers.nmda import mg_block
    from helpers.widgets import Explorer, live_figure, slider

    base = dict(ref.nmda_namespace() if namespace is None else namespace)
    u_rest = float(base["u_rest"] / mV)
    levels = (("at rest", u_rest), ("depolarised", float(u_depolarised)))

    fig, (ax_u, ax_b) = live_figure(1, 2, figsize=(9.0, 3.6),
                                    gridspec_kw={"width_ratios": [1.6, 1.0]})
    lines = [ax_u.plot([], [], color=color, lw=1.8,
                       label=f"{label} (u_rest = {level:.0f} mV)")[0]
             for (label, level), color in zip(levels, ("C0", "C3"))]
    ax_u.axvline(SPIKE_TIME, color="0.8", lw=0.8, zorder=0)
    ax_u.set_xlim(0.0, DURATION)
    ax_u.set_xlabel("time (ms)")
    ax_u.set_ylabel("EPSP  u - u_rest (mV)")
    ax_u.legend(loc="upper right", fontsize=8)

    u_axis = np.linspace(-100.0, 40.0, 281)
    (block_line,) = ax_b.plot(u_axis, mg_block(u_axis, float(base["Mg"] / mM)), color="k", lw=1.5)
    markers = [ax_b.plot([], [], "o", color=color, ms=7)[0] for color in ("C0", "C3")]
    ax_b.set_xlim(u_axis[0], u_axis[-1])
    ax_b.set_ylim(-0.03, 1.05)
    ax_b.set_xlabel("u (mV)")
    ax_b.set_ylabel("B(u)  (fraction unblocked)")
    ax_b.set_title("Mg block", fontsize=10)

    controls = {
        "Mg": slider("[Mg]", float(base["Mg"] / mM), *_MG_RANGE, "mM", ".1f"),
        "g_max": slider("g_max", float(base["g_max"] / nS), *_G_MAX_RANGE, "nS", ".2f"),
    }
    for control in controls.values():
        control.continuous_update = False  # one Brian2 run per release, not per pixel

    cache = {}

    def simulate(mg, g_max, level):
        key = (round(mg, 6), round(g_max, 6), level)
        if key not in cache:
            ns = dict(base, Mg=mg * mM, g_max=g_max * nS, u_rest=level * mV)
            cache[key] = epsp(ns, strings)
        return cache[key]

    def update(Mg, g_max):
        peaks = []
        for line, marker, (_, level) in zip(lines, markers, levels):
            t, du = simulate(Mg, g_max, level)
            line.set_data(t, du)
            marker.set_data([level], [float(mg_block(level, Mg))])
            i = int(np.argmax(du))
            peaks.append((float(du[i]), float(t[i]) - SPIKE_TIME))
        block_line.set_ydata(mg_block(u_axis, Mg))
        top = max(p for p, _ in peaks)
        ax_u.set_ylim(-0.05 * max(top, 0.1), 1.15 * max(top, 0.1))
        (rest_peak, rest_time), (dep_peak, _) = peaks
        ratio = f" ({dep_peak / rest_peak:.1f} x)" if rest_peak > 1e-9 else ""
        return (f"[Mg] = {Mg:.1f} mM, g_max = {g_max:.2f} nS: "
                f"EPSP at rest = {rest_peak:.3f} mV ({rest_time:.1f} ms after the spike), "
                f"depolarised = {dep_peak:.3f} mV{ratio}; "
                f"B({levels[0][1]:.0f} mV) = {float(mg_block(levels[0][1], Mg)):.3f}, "
                f"B({levels[1][1]:.0f} mV) = {float(mg_block(levels[1][1], Mg)):.3f}")

    return Explorer(fig, controls, update)
