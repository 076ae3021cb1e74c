"""Explorer for the synapse zoo (notebook 01): one spike, one synapse, three panels.

Choose a synapse of :data:`helpers.zoo.ZOO`, slide its peak conductance, its
time constants and the resting potential, and see the conductance ``g`` (nS),
the synaptic current ``I`` (pA, at the simulated ``u``) and the postsynaptic
potential ``u`` (mV) after a presynaptic spike at :data:`SPIKE_TIME`. The
curves come from the student's functions (``conductance_fns``,
``mg_block_fn``, ``current_fn``, as :func:`helpers.zoo.simulate_zoo` takes
them); dashed grey lines show the reference for the synapse's default settings
(its peak conductance and time constants, u_rest = -65 mV), stored as data
(:mod:`helpers.reference_data`): move the sliders back to compare.

Units: time ms, potential mV, conductance nS, current pA.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

__all__ = ["SPIKE_TIME", "explorer_duration", "zoo_settings", "reference_traces", "zoo_explorer"]

SPIKE_TIME = 10.0  # ms, time of the presynaptic spike in the explorer
MAX_DURATION = 1500.0  # ms, longest simulated window (GABA_B with slow decay)
_TAU_RISE_RANGE = (0.1, 100.0)  # ms
_TAU_DECAY_RANGE = (0.5, 400.0)  # ms
_U_REST_RANGE = (-90.0, -20.0)  # mV


def explorer_duration(tau_decay: float, tau_m: float) -> float:
    """Simulated time (ms): the spike, six decay constants and five membrane constants.

    Parameters
    ----------
    tau_decay : float
        Decay time constant of the synapse (ms).
    tau_m : float
        Membrane time constant ``C_m / g_l`` (ms).

    Returns
    -------
    float
        Duration (ms), rounded up to 10 ms, between 100 ms and :data:`MAX_DURATION`.
    """
    raw = SPIKE_TIME + 6.0 * tau_decay + 5.0 * tau_m
    return float(min(MAX_DURATION, max(100.0, 10.0 * np.ceil(raw / 10.0))))


def zoo_settings(synapse, g_peak: float, tau_rise: float, tau_decay: float):
    """A copy of ``synapse`` with new peak conductance and time constants.

    For a dual exponential the rise is kept below the decay
    (``tau_rise <= 0.95 tau_decay``), where the textbook formula is defined.

    Parameters
    ----------
    synapse : helpers.zoo.Synapse
        The synapse to modify.
    g_peak : float
        Peak conductance (nS), >= 0.
    tau_rise : float
        Rise time constant (ms); used by ``dual_exp`` only.
    tau_decay : float
        Decay time constant (ms); the ``tau`` of ``exp`` and ``alpha``.

    Returns
    -------
    (helpers.zoo.Synapse, bool)
        The modified synapse and whether ``tau_rise`` had to be clamped.
    """
    clamped = False
    if synapse.waveform == "dual_exp":
        if tau_rise > 0.95 * tau_decay:
            tau_rise, clamped = 0.95 * tau_decay, True
        return replace(synapse, g_peak=g_peak, tau_rise=tau_rise, tau_decay=tau_decay), clamped
    return replace(synapse, g_peak=g_peak, tau_decay=tau_decay), clamped


def _peak(t, y):
    """Largest |y| with its sign and time."""
    y = np.asarray(y, dtype=float)
    if y.size == 0 or not np.any(np.isfinite(y)):
        return float("nan"), float("nan")
    i = int(np.nanargmax(np.abs(y)))
    return float(y[i]), float(t[i])


def reference_traces(synapse: str):
    """The stored reference for one spike of ``synapse`` at its default settings.

    Returns
    -------
    dict
        ``t`` (ms; the spike at :data:`SPIKE_TIME`), ``g`` (nS), ``I`` (pA) and
        ``u`` (mV) with u_rest = -65 mV, from :mod:`helpers.reference_data`.
    """
    from helpers import reference_data
    from helpers.zoo import DT

    traces = {key: np.asarray(reference_data.curve(f"nb01.explorer.{synapse}.{key}"), dtype=float)
              for key in ("g", "I", "u")}
    traces["t"] = np.arange(traces["u"].size) * DT
    return traces


def zoo_explorer(conductance_fns, mg_block_fn, current_fn, synapse: str = "NMDA",
                 show_reference: bool = True):
    """Sliders for one synapse of the zoo: conductance, current and PSP after one spike.

    Parameters
    ----------
    conductance_fns : dict
        Waveform name (``"exp"``, ``"alpha"``, ``"dual_exp"``) -> function with
        the student signature (``exp_conductance(t, g_peak, tau)`` ...).
    mg_block_fn : callable
        ``mg_block(u, mg)``.
    current_fn : callable
        ``synaptic_current(u, g, E_syn)`` (pA).
    synapse : str
        Synapse shown first, a key of :data:`helpers.zoo.ZOO`.
    show_reference : bool
        Draw the stored reference for the synapse's default settings as dashed
        grey lines under the student's curves.

    Returns
    -------
    helpers.widgets.Explorer
        Display it in a notebook cell (``display(zoo_explorer(...))``).
    """
    import ipywidgets as w

    from helpers.constants import C_M, G_L, U_REST
    from helpers.widgets import Explorer, live_figure, slider
    from helpers.zoo import ZOO, simulate_zoo

    tau_m = C_M / G_L
    fig, (ax_g, ax_i, ax_u) = live_figure(3, 1, figsize=(8.0, 6.6), sharex=True)
    ref_label = "reference, default settings"
    (ref_g,) = ax_g.plot([], [], "--", color="0.6", lw=2.5, label=ref_label)
    (ref_i,) = ax_i.plot([], [], "--", color="0.6", lw=2.5, label=ref_label)
    (ref_u,) = ax_u.plot([], [], "--", color="0.6", lw=2.5, label=ref_label)
    (own_g,) = ax_g.plot([], [], color="C0", lw=1.5, label="your functions")
    (own_i,) = ax_i.plot([], [], color="C1", lw=1.5, label="your functions")
    (own_u,) = ax_u.plot([], [], color="C2", lw=1.5, label="your functions")
    rest_line = ax_u.axhline(U_REST, color="0.8", lw=0.8, zorder=0)
    ax_g.set_ylabel("g (nS)")
    ax_i.set_ylabel("I_syn (pA), + = inward")
    ax_u.set_ylabel("u (mV)")
    ax_u.set_xlabel("time (ms)")
    ax_i.axhline(0.0, color="0.8", lw=0.8, zorder=0)
    for ax in (ax_g, ax_i, ax_u):
        ax.legend(loc="upper right", fontsize=8)
    title = ax_g.set_title("")

    first = ZOO[synapse]
    controls = {
        "synapse": w.Dropdown(options=list(ZOO), value=synapse, description="synapse"),
        "g_peak": slider("g_peak", first.g_peak, 0.0, 5.0 * first.g_peak, first.g_peak / 50.0, "nS"),
        "tau_rise": slider("tau_rise", first.tau_rise or 1.0, *_TAU_RISE_RANGE, 0.1, "ms", ".1f"),
        "tau_decay": slider("tau_decay", first.tau_decay, *_TAU_DECAY_RANGE, 0.5, "ms", ".1f"),
        "u_rest": slider("u_rest", U_REST, *_U_REST_RANGE, 1.0, "mV", ".0f"),
    }
    state = {"quiet": False}

    def _label_sliders(syn):
        dual = syn.waveform == "dual_exp"
        controls["tau_rise"].disabled = not dual
        controls["tau_decay"].description = "tau_decay (ms)" if dual else "tau (ms)"

    def _reset_to_defaults(change):
        # Registered before the Explorer's own observer: set the sliders quietly,
        # the Explorer then redraws once with the new values.
        syn = ZOO[change["new"]]
        state["quiet"] = True
        try:
            g = controls["g_peak"]
            g.max = max(5.0 * syn.g_peak, g.min + 1e-3)
            g.step = g.max / 250.0
            g.value = syn.g_peak
            if syn.waveform == "dual_exp":
                controls["tau_rise"].value = syn.tau_rise
            controls["tau_decay"].value = syn.tau_decay
            _label_sliders(syn)
        finally:
            state["quiet"] = False

    controls["synapse"].observe(_reset_to_defaults, names="value")
    _label_sliders(first)

    def update(synapse, g_peak, tau_rise, tau_decay, u_rest):
        if state["quiet"]:
            return None
        syn, clamped = zoo_settings(ZOO[synapse], g_peak, tau_rise, tau_decay)
        duration = explorer_duration(syn.tau_decay, tau_m)
        kwargs = dict(spike_times={synapse: [SPIKE_TIME]}, duration=duration,
                      synapses={synapse: syn}, u_rest=u_rest)
        ref = reference_traces(synapse) if show_reference else None
        error = None
        try:
            own = simulate_zoo(conductance_fns=conductance_fns, mg_block_fn=mg_block_fn,
                               current_fn=current_fn, **kwargs)
        except Exception as exc:  # the student's functions may not exist yet
            own, error = None, f"{type(exc).__name__}: {exc}"
        for line, key in ((ref_g, "g"), (ref_i, "I"), (ref_u, "u")):
            line.set_data(([], []) if ref is None else (ref["t"], ref[key]))
        if own is None:
            for line in (own_g, own_i, own_u):
                line.set_data([], [])
        else:
            own_g.set_data(own.t, own.g[synapse])
            own_i.set_data(own.t, own.I[synapse])
            own_u.set_data(own.t, own.u)
        rest_line.set_ydata([u_rest, u_rest])
        for ax in (ax_g, ax_i, ax_u):
            ax.relim()
            ax.autoscale_view()
        ax_u.set_xlim(0.0, duration)
        kind = {"exp": "exponential", "alpha": "alpha", "dual_exp": "dual exponential"}[syn.waveform]
        title.set_text(f"{synapse}: {kind}, E_syn = {syn.E_syn:g} mV"
                       + (", Mg block" if syn.mg_block else ""))

        if own is None:
            if ref is None:
                return f"<b>Your functions raised</b> {error}"
            default = ZOO[synapse]
            g_max, t_g = _peak(ref["t"], ref["g"])
            i_max, t_i = _peak(ref["t"], ref["I"])
            psp, t_u = _peak(ref["t"], ref["u"] - U_REST)
            return (f"<b>Reference only</b> (your functions raised {error}); the dashed reference, at "
                    f"{synapse}'s default settings (g_peak = {default.g_peak:g} nS, u_rest = {U_REST:g} mV): "
                    f"peak g = {g_max:.3g} nS at {t_g - SPIKE_TIME:.1f} ms after the spike; "
                    f"peak I_syn = {i_max:.3g} pA; PSP = {psp:+.2f} mV at {t_u - SPIKE_TIME:.1f} ms")
        g_max, t_g = _peak(own.t, own.g[synapse])
        i_max, t_i = _peak(own.t, own.I[synapse])
        psp, t_u = _peak(own.t, np.asarray(own.u) - u_rest)
        text = (f"peak g = {g_max:.3g} nS at {t_g - SPIKE_TIME:.1f} ms after the spike; "
                f"peak I_syn = {i_max:.3g} pA; PSP = {psp:+.2f} mV at {t_u - SPIKE_TIME:.1f} ms "
                f"(u_rest = {u_rest:.0f} mV, driving force at rest {syn.E_syn - u_rest:+.0f} mV)")
        if clamped:
            text += "; tau_rise held below tau_decay"
        return text

    return Explorer(fig, controls, update)
