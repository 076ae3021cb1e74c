"""Explorer for notebook 03: the EPSP of one NMDA synapse against [Mg] and g_max.

Two sliders, the extracellular magnesium concentration ``Mg`` (mM) and the peak
NMDA conductance per spike ``g_max`` (nS), drive one figure with two panels:

* left: the EPSP ``u(t) - u_rest`` (mV) after one presynaptic spike, for a
  neuron at rest and for the same neuron depolarised (a higher ``u_rest``);
* right: the magnesium block ``B(u)`` for the chosen ``Mg``, as the student's
  ``neuron_eqs`` define ``G_mg``, with a marker at each of the two resting
  potentials.

Everything is drawn from the student's strings ``(neuron_eqs, synapse_model,
synapse_on_pre)``, passed in from the notebook: the EPSPs are Brian2
simulations run through :func:`helpers.brian_harness.run_nmda_neuron` (explicit
network, numpy code generation) and the block is ``G_mg`` evaluated by
:func:`helpers.brian_harness.mg_block_curve`. One simulation takes a fraction of
a second, so the sliders update on release (``continuous_update=False``) and
results are cached per slider position.

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


def epsp(namespace, strings, spike_time=SPIKE_TIME, duration=DURATION):
    """Simulate one NMDA EPSP with the Brian2 harness.

    Parameters
    ----------
    namespace : dict
        Notebook-03 namespace (Brian2 quantities): ``u_rest, g_l, C_m, E_nmda,
        tau_rise, tau_decay, g_max, Mg``.
    strings : tuple of str
        ``(neuron_eqs, synapse_model, synapse_on_pre)``.
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

    from helpers.brian_harness import run_nmda_neuron

    result = run_nmda_neuron(*strings, namespace, [spike_time] * ms, duration * ms)
    t = np.asarray(result["t"] / ms)
    du = np.asarray((result["u"] - namespace["u_rest"]) / mV)
    return t, du


def nmda_explorer(namespace, strings, u_depolarised=U_DEPOLARISED):
    """Sliders for [Mg] and g_max: the NMDA EPSP at rest and depolarised, and B(u).

    Parameters
    ----------
    namespace : dict
        Notebook-03 namespace (Brian2 quantities: ``u_rest, g_l, C_m, E_nmda,
        tau_rise, tau_decay, g_max, Mg``). Its ``Mg`` and ``g_max`` set the
        sliders' start values; ``u_rest`` is the neuron at rest.
    strings : tuple of str
        The student's ``(neuron_eqs, synapse_model, synapse_on_pre)``.
    u_depolarised : float
        Resting potential (mV) of the depolarised neuron, e.g. -40 mV.

    Returns
    -------
    helpers.widgets.Explorer
        Display it in a notebook cell (``display(nmda_explorer(params, strings))``).
        A string that Brian2 cannot run raises :class:`helpers.brian_harness.HarnessError`
        before a figure is made.
    """
    from brian2 import mM, mV, nS

    from helpers.brian_harness import mg_block_curve
    from helpers.widgets import Explorer, live_figure, slider

    strings = tuple(strings)
    base = dict(namespace)
    u_rest = float(base["u_rest"] / mV)
    levels = (("at rest", u_rest), ("depolarised", float(u_depolarised)))
    u_axis = np.linspace(-100.0, 40.0, 281)
    blocks = {}

    def block(mg):
        """G_mg of the student's neuron_eqs on u_axis and at the two levels (cached per [Mg])."""
        key = round(mg, 6)
        if key not in blocks:
            u = np.concatenate([u_axis, [level for _, level in levels]])
            values = mg_block_curve(strings[0], dict(base, Mg=mg * mM), u * mV)
            blocks[key] = (values[:u_axis.size], values[u_axis.size:])
        return blocks[key]

    cache = {}

    def simulate(mg, g_max, level):
        key = (round(mg, 6), round(g_max, 6), level)
        if key not in cache:
            ns = dict(base, Mg=mg * mM, g_max=g_max * nS, u_rest=level * mV)
            cache[key] = epsp(ns, strings)
        return cache[key]

    # the student's strings first: one that does not run raises before a figure exists
    start_mg, start_g = float(base["Mg"] / mM), float(base["g_max"] / nS)
    block(start_mg)
    simulate(start_mg, start_g, u_rest)

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

    (block_line,) = ax_b.plot(u_axis, block(start_mg)[0], color="k", lw=1.5)
    markers = [ax_b.plot([], [], "o", color=color, ms=7)[0] for color in ("C0", "C3")]
    ax_b.set_xlim(u_axis[0], u_axis[-1])
    ax_b.set_ylim(-0.03, 1.05)
    ax_b.set_xlabel("u (mV)")
    ax_b.set_ylabel("B(u)  (fraction unblocked)")
    ax_b.set_title("Mg block", fontsize=10)

    controls = {
        "Mg": slider("[Mg]", start_mg, *_MG_RANGE, "mM", ".1f"),
        "g_max": slider("g_max", start_g, *_G_MAX_RANGE, "nS", ".2f"),
    }
    for control in controls.values():
        control.continuous_update = False  # one Brian2 run per release, not per pixel

    def update(Mg, g_max):
        peaks = []
        curve, at_levels = block(Mg)
        for line, marker, (_, level), b_level in zip(lines, markers, levels, at_levels):
            t, du = simulate(Mg, g_max, level)
            line.set_data(t, du)
            marker.set_data([level], [float(b_level)])
            i = int(np.argmax(du))
            peaks.append((float(du[i]), float(t[i]) - SPIKE_TIME))
        block_line.set_ydata(curve)
        top = max(p for p, _ in peaks)
        ax_u.set_ylim(-0.05 * max(top, 0.1), 1.15 * max(top, 0.1))
        (rest_peak, rest_time), (dep_peak, _) = peaks
        ratio = f" ({dep_peak / rest_peak:.1f} x)" if rest_peak > 1e-9 else ""
        return (f"[Mg] = {Mg:.1f} mM, g_max = {g_max:.2f} nS: "
                f"EPSP at rest = {rest_peak:.3f} mV ({rest_time:.1f} ms after the spike), "
                f"depolarised = {dep_peak:.3f} mV{ratio}; "
                f"B({levels[0][1]:.0f} mV) = {float(at_levels[0]):.3f}, "
                f"B({levels[1][1]:.0f} mV) = {float(at_levels[1]):.3f}")

    return Explorer(fig, controls, update)
