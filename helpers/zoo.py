"""The synapse zoo and a conductance-based (leaky integrate-and-fire) membrane integrator.

Units: time ms, potential mV, conductance nS, capacitance pF, current pA
(nS x mV = pA, pA / pF = mV/ms), [Mg2+] mM.

The membrane equation integrated by :func:`simulate_zoo`:

    C_m du/dt = g_l (u_rest - u) + sum_s g_s(t) B_s(u) (E_s - u) + I_e(t),

with ``g_s(t)`` the sum of one waveform per presynaptic spike of synapse ``s``
and ``B_s`` the magnesium block for NMDA and 1 otherwise. Optionally the neuron
spikes: when ``u`` reaches ``u_th`` it is reset to ``u_reset`` and held there
for ``t_ref``.

The integrator knows no waveform, block or current of its own: the caller
passes them (``conductance_fns``, ``mg_block_fn``, ``current_fn``). Notebook 01
passes the student's functions; the tests and the reference-curve generator
pass the references (``helpers.references.zoo.REFERENCE_FNS``, readable by the
trusted grader only: this module never imports them).

Peak conductances of the zoo (:data:`ZOO`) are chosen for clearly visible
postsynaptic potentials with g_l = 10 nS, C_m = 200 pF (tau_m = 20 ms),
u_rest = -65 mV, [Mg] = 1.2 mM. One spike of each alone gives (:func:`psp_amplitude`
with the reference functions, which only the instructor's side can import):

>>> from helpers.references.zoo import psp_amplitude
>>> for name, syn in ZOO.items():
...     peak, t_peak = psp_amplitude(name)
...     print(f"{name:6}  g_peak {syn.g_peak:2g} nS   PSP {peak:+.2f} mV at {t_peak:5.1f} ms after the spike")
GABA_A  g_peak 20 nS   PSP -1.98 mV at   4.6 ms after the spike
GABA_B  g_peak  1 nS   PSP -2.21 mV at 104.6 ms after the spike
AMPA    g_peak  5 nS   PSP +2.46 mV at   5.1 ms after the spike
NMDA    g_peak 10 nS   PSP +2.73 mV at  44.5 ms after the spike

GABA_A needs a large conductance because its driving force at rest is only
-10 mV and it lasts about 1 ms; NMDA because at rest the magnesium block lets
only 5 % of its conductance through (B(-65 mV) = 0.050).
"""

import math
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
from scipy.integrate import solve_ivp

from .constants import C_M, G_L, MG, U_REST, U_RESET, U_TH

__all__ = [
    "Synapse",
    "ZOO",
    "LECTURE_SPIKES",
    "WAVEFORMS",
    "ZooResult",
    "synapse_conductance",
    "simulate_zoo",
    "simulate_zoo_ivp",
    "psp_amplitude",
    "G_L",
    "C_M",
    "U_REST",
    "U_TH",
    "U_RESET",
    "MG",
]

DT = 0.1  # ms, default integration time step
DURATION = 1000.0  # ms, default duration of the lecture simulation

#: Waveform names and the signature of the conductance function each needs.
WAVEFORMS = {
    "exp": "exp_conductance(t, g_peak, tau)",
    "alpha": "alpha_conductance(t, g_peak, tau)",
    "dual_exp": "dual_exp_conductance(t, g_peak, tau_rise, tau_decay)",
}

# Largest number of (spike x time) elements evaluated at once by synapse_conductance.
_CHUNK_ELEMENTS = 2_000_000


@dataclass(frozen=True)
class Synapse:
    """One synapse type of the zoo.

    Attributes
    ----------
    name : str
        Name, e.g. ``"AMPA"``.
    waveform : str
        ``"exp"``, ``"alpha"`` or ``"dual_exp"``.
    tau_rise : float or None
        Rise time constant (ms) of ``"dual_exp"``; ``None`` for the others.
    tau_decay : float
        Decay time constant (ms); the ``tau`` of ``"exp"`` and ``"alpha"``.
    E_syn : float
        Reversal potential (mV).
    g_peak : float
        Peak conductance of one spike (nS).
    mg_block : bool
        Whether the conductance is multiplied by the magnesium block B(u).
    """

    name: str
    waveform: str
    tau_rise: float | None
    tau_decay: float
    E_syn: float
    g_peak: float
    mg_block: bool = False

    def __post_init__(self):
        if self.waveform not in WAVEFORMS:
            raise ValueError(
                f"synapse {self.name}: unknown waveform {self.waveform!r}; "
                "expected 'exp', 'alpha' or 'dual_exp'"
            )
        if self.waveform == "dual_exp" and self.tau_rise is None:
            raise ValueError(f"synapse {self.name}: a dual exponential needs tau_rise")

    @property
    def tau(self):
        """Time constant (ms) of ``"exp"`` and ``"alpha"`` (= ``tau_decay``)."""
        return self.tau_decay

    def waveform_args(self):
        """Parameters after ``t`` of the waveform function: ``(g_peak, tau)`` or
        ``(g_peak, tau_rise, tau_decay)``."""
        if self.waveform == "dual_exp":
            return (self.g_peak, self.tau_rise, self.tau_decay)
        return (self.g_peak, self.tau_decay)


#: The lecture's synapse zoo; ``g_peak`` chosen for PSPs of about 2-3 mV (module docstring).
#: Read-only (a notebook cannot change the references by accident); for a variant use
#: ``{**ZOO, "AMPA": dataclasses.replace(ZOO["AMPA"], g_peak=2.0)}``.
ZOO = MappingProxyType({
    "GABA_A": Synapse("GABA_A", "alpha", None, 1.0, -75.0, 20.0),
    "GABA_B": Synapse("GABA_B", "dual_exp", 40.0, 200.0, -90.0, 1.0),
    "AMPA": Synapse("AMPA", "exp", None, 2.0, 0.0, 5.0),
    "NMDA": Synapse("NMDA", "dual_exp", 8.0, 60.0, 0.0, 10.0, mg_block=True),
})

#: Presynaptic spike times (ms) of the lecture simulation, one spike per synapse.
LECTURE_SPIKES = {"GABA_A": [10.0], "GABA_B": [100.0], "AMPA": [500.0], "NMDA": [700.0]}


@dataclass
class ZooResult:
    """Result of :func:`simulate_zoo` on the output grid.

    Attributes
    ----------
    t : numpy.ndarray
        Time grid (ms), ``0, dt, ..., duration``.
    u : numpy.ndarray
        Membrane potential (mV) at ``t`` (after reset at a spike).
    g : dict of str to numpy.ndarray
        Synaptic conductance of each synapse (nS) at ``t``, before the magnesium block.
    I : dict of str to numpy.ndarray
        Synaptic current of each synapse (pA) at ``t``, evaluated at the simulated
        ``u`` (and through B(u) for NMDA); positive = inward, depolarising.
    spikes : numpy.ndarray
        Spike times of the postsynaptic neuron (ms); empty when passive.
    B : numpy.ndarray
        Magnesium block B(u) at ``t`` (dimensionless).
    I_e : numpy.ndarray
        Injected current (pA) at ``t``.
    """

    t: np.ndarray
    u: np.ndarray
    g: dict = field(default_factory=dict)
    I: dict = field(default_factory=dict)
    spikes: np.ndarray = field(default_factory=lambda: np.zeros(0))
    B: np.ndarray | None = None
    I_e: np.ndarray | None = None


def _conductance_fn(waveform, conductance_fns):
    if conductance_fns is None or waveform not in conductance_fns:
        raise ValueError(
            f"no conductance function for the {waveform!r} waveform: pass conductance_fns="
            f"{{{waveform!r}: {WAVEFORMS[waveform].split('(')[0]}, ...}} (signature {WAVEFORMS[waveform]})")
    return conductance_fns[waveform]


def _needs_block(mg_block_fn, synapses, trains):
    """Whether a blocked synapse receives spikes; then ``mg_block_fn`` is required."""
    needed = any(syn.mg_block and trains[name].size for name, syn in synapses.items())
    if needed and mg_block_fn is None:
        raise ValueError("a synapse with a magnesium block needs mg_block_fn=mg_block "
                         "(signature mg_block(u, mg))")
    return needed


def synapse_conductance(syn, t, spike_times, conductance_fns=None):
    """Summed conductance of one synapse (nS) at times ``t`` for a train of spikes.

    ``g(t) = sum_k waveform(t - t_k, *syn.waveform_args())``, evaluated for all
    spikes at once (spikes x times broadcast, in chunks to bound memory).

    Parameters
    ----------
    syn : Synapse
        The synapse (waveform, time constants, ``g_peak``).
    t : float or array_like
        Times (ms).
    spike_times : float or array_like
        Presynaptic spike times (ms); may be empty.
    conductance_fns : dict
        Waveform name -> function with the student signature, e.g.
        ``{"alpha": alpha_conductance}``; required (for ``syn.waveform``) unless
        there are no spikes.

    Returns
    -------
    g : numpy.ndarray or numpy.float64
        Conductance (nS), the shape of ``t``.
    """
    t = np.asarray(t, dtype=float)
    spikes = np.ravel(np.asarray(spike_times, dtype=float))
    out = np.zeros(t.shape)
    if spikes.size == 0:  # no spike, no conductance: no function needed
        return out[()] if out.ndim == 0 else out
    fn = _conductance_fn(syn.waveform, conductance_fns)
    args = syn.waveform_args()
    chunk = max(1, _CHUNK_ELEMENTS // max(t.size, 1))
    for start in range(0, spikes.size, chunk):
        s = spikes[start : start + chunk]
        lag = t[np.newaxis, ...] - s.reshape((-1,) + (1,) * t.ndim)
        g = np.asarray(fn(lag, *args), dtype=float)
        if g.shape != lag.shape:
            raise ValueError(
                f"the {syn.waveform} conductance function returned shape {g.shape} "
                f"for times of shape {lag.shape}"
            )
        out += g.sum(axis=0)
    return out[()] if out.ndim == 0 else out


def _injected(I_e, times, t_grid):
    """Injected current (pA) at ``times``: scalar, callable t -> pA, or array on ``t_grid``."""
    if I_e is None:
        return np.zeros(times.shape)
    if callable(I_e):
        try:
            vals = np.broadcast_to(np.asarray(I_e(times), dtype=float), times.shape).copy()
        except (TypeError, ValueError):  # not vectorised: evaluate one time at a time
            vals = np.array([float(I_e(x)) for x in times])
        return vals
    arr = np.asarray(I_e, dtype=float)
    if arr.ndim == 0:
        return np.full(times.shape, float(arr))
    if arr.shape != t_grid.shape:
        raise ValueError(
            f"I_e as an array must have one value per grid time, shape {t_grid.shape}; got {arr.shape}"
        )
    return np.interp(times, t_grid, arr)


def _grid(duration, dt):
    if dt <= 0 or duration <= 0:
        raise ValueError("duration and dt (ms) must be positive")
    n = int(round(duration / dt))
    if abs(n * dt - duration) > 1e-9 * max(1.0, duration):
        raise ValueError(f"duration ({duration} ms) must be a whole number of steps dt ({dt} ms)")
    return np.arange(n + 1) * dt


def _check_spikes(spike_times, synapses):
    unknown = set(spike_times) - set(synapses)
    if unknown:
        raise ValueError(f"spike times given for unknown synapses {sorted(unknown)}; known: {sorted(synapses)}")
    return {name: np.ravel(np.asarray(spike_times.get(name, []), dtype=float)) for name in synapses}


#: Shortest interval (ms) between two spikes of the integrator; anything faster means a
#: runaway input (e.g. a growing waveform) and stops the simulation with a clear error.
MIN_ISI = 1e-6

#: Largest conductance (nS) the integrator accepts: a thousand times a large synapse.
G_MAX = 1e6


def _check_conductance(name, syn, times, g):
    """Refuse non-finite or absurd conductances with one sentence (student waveforms)."""
    bad = ~np.isfinite(g) | (np.abs(g) > G_MAX)
    if bad.any():
        k = int(np.argmax(bad))
        raise ValueError(
            f"the {name} conductance ({syn.waveform} waveform) is {g[k]:.3g} nS at t = {times[k]:.4g} ms; "
            f"one spike of this synapse should give at most g_peak = {syn.g_peak:g} nS: does the "
            "waveform decay after the spike?")


def simulate_zoo(
    spike_times=LECTURE_SPIKES,
    duration=DURATION,
    dt=DT,
    synapses=ZOO,
    g_l=G_L,
    C_m=C_M,
    u_rest=U_REST,
    mg=MG,
    I_e=None,
    u_th=None,
    u_reset=U_RESET,
    t_ref=0.0,
    conductance_fns=None,
    mg_block_fn=None,
    current_fn=None,
    u0=None,
):
    """Conductance-based (LIF) neuron driven by presynaptic spikes of zoo synapses.

    Integrates ``C_m du/dt = g_l (u_rest - u) + sum_s g_s(t) B_s(u) (E_s - u) + I_e(t)``
    with the exponential midpoint method: over each step the conductances are
    taken at the step's midpoint and the linear equation is solved exactly; the
    magnesium block is evaluated at a predicted half-step potential. The steps
    are split at presynaptic spike times that fall between grid points, so the
    jump of an exponential synapse is integrated exactly. Second order in ``dt``;
    at the default dt = 0.1 ms the lecture simulation agrees with a
    rtol = 1e-10 ``solve_ivp`` solution to 0.001 mV (the largest error is
    during the 1 ms GABA_A alpha conductance). Threshold crossings are located
    inside a step from the same exact solution, so spike times are not rounded
    to the grid.

    Parameters
    ----------
    spike_times : dict of str to array_like, optional
        Presynaptic spike times (ms) per synapse name in ``synapses``; default
        :data:`LECTURE_SPIKES`.
    duration : float, optional
        Simulated time (ms), a whole number of steps. Default 1000 ms.
    dt : float, optional
        Output grid and integration step (ms). Default 0.1 ms.
    synapses : dict of str to Synapse, optional
        Synapse table; default :data:`ZOO`.
    g_l : float, optional
        Leak conductance (nS). Default 10 nS.
    C_m : float, optional
        Capacitance (pF). Default 200 pF.
    u_rest : float, optional
        Resting potential (mV). Default -65 mV.
    mg : float, optional
        [Mg2+] (mM) for the synapses with ``mg_block``. Default 1.2 mM.
    I_e : None, float, callable or array_like, optional
        Injected current (pA): a constant, a function of time (ms; called with
        an array of times, or one time at a time if that fails), or an array
        of one value per grid time (linearly interpolated). Default none.
    u_th : float or None, optional
        Spike threshold (mV); ``None`` (default) simulates a passive membrane.
    u_reset : float, optional
        Reset potential (mV), below ``u_th``. Default -65 mV.
    t_ref : float, optional
        Absolute refractory period (ms). Default 0.
    conductance_fns : dict
        Waveform name -> conductance function with the student signature
        (``exp_conductance(t, g_peak, tau)``, ...), one for every waveform of a
        synapse that receives spikes (:data:`WAVEFORMS`). Required: there is no default.
    mg_block_fn : callable
        ``mg_block(u, mg)``; required if a synapse with ``mg_block`` receives spikes
        (otherwise ``B`` is 1).
    current_fn : callable, optional
        ``synaptic_current(u, g, E_syn)`` used for the reported currents; without
        it ``I`` is empty.
    u0 : float, optional
        Initial potential (mV); default ``u_rest``.

    Returns
    -------
    ZooResult
        ``t`` (ms), ``u`` (mV), ``g`` (nS per synapse), ``I`` (pA per synapse,
        at the simulated ``u``), ``spikes`` (ms), ``B`` and ``I_e`` (pA).
    """
    if g_l <= 0 or C_m <= 0:
        raise ValueError("g_l (nS) and C_m (pF) must be positive")
    spiking = u_th is not None
    if spiking and u_reset >= u_th:
        raise ValueError("the reset potential u_reset must lie below the threshold u_th")
    if t_ref < 0:
        raise ValueError("the refractory period t_ref (ms) must be >= 0")
    trains = _check_spikes(spike_times, synapses)
    t_grid = _grid(duration, dt)
    nodes, grid_index = _nodes(trains, t_grid, dt)
    drive = _Drive.of(synapses, trains, nodes, t_grid, g_l, u_rest, I_e, conductance_fns)
    blocked = _needs_block(mg_block_fn, synapses, trains)
    stepper = _Stepper(drive, nodes, C_m, mg, mg_block_fn)
    u = float(u_rest if u0 is None else u0)
    if spiking:
        u_nodes, spikes = stepper.spiking(u, u_th, u_reset, t_ref)
    else:
        u_nodes, spikes = stepper.passive(u), []
    u_grid = np.asarray(u_nodes)[grid_index]
    if blocked:
        B = np.broadcast_to(np.asarray(mg_block_fn(u_grid, mg), dtype=float), u_grid.shape).copy()
    else:
        B = np.ones(u_grid.shape)
    currents = {}
    if current_fn is not None:
        for name, syn in synapses.items():
            g_eff = drive.g_on_grid[name] * B if syn.mg_block else drive.g_on_grid[name]
            currents[name] = np.asarray(current_fn(u_grid, g_eff, syn.E_syn), dtype=float)
    return ZooResult(
        t=t_grid,
        u=u_grid,
        g=drive.g_on_grid,
        I=currents,
        spikes=np.asarray(spikes, dtype=float),
        B=B,
        I_e=_injected(I_e, t_grid, t_grid),
    )


def _nodes(trains, t_grid, dt):
    """Integration nodes: the grid plus presynaptic spikes strictly between grid points; grid indices."""
    T = t_grid[-1]
    all_spikes = np.concatenate([s for s in trains.values()] + [np.zeros(0)])
    inner = all_spikes[(all_spikes > 0) & (all_spikes < T)]
    off_grid = np.abs(inner / dt - np.round(inner / dt)) > 1e-9
    nodes = np.union1d(t_grid, inner[off_grid])
    return nodes, np.searchsorted(nodes, t_grid)


@dataclass
class _Drive:
    """Conductances of the zoo, frozen at each step's midpoint, split into linear and Mg-blocked parts.

    ``C du/dt = A_lin - G_lin u + B(u) (gE_mg - g_mg u)`` over step ``j`` (nS, pA); ``g_on_grid`` holds
    each synapse's conductance on the output grid (nS).
    """

    G_lin: list
    A_lin: list
    g_mg: list
    gE_mg: list
    g_on_grid: dict

    @classmethod
    def of(cls, synapses, trains, nodes, t_grid, g_l, u_rest, I_e, conductance_fns):
        t_mid = 0.5 * (nodes[:-1] + nodes[1:])
        n_mid = t_mid.size
        # vectorised over spikes x times, at step midpoints and on the grid
        times = np.concatenate([t_mid, t_grid])
        G_lin = np.full(n_mid, float(g_l))
        A_lin = g_l * u_rest + _injected(I_e, t_mid, t_grid)
        g_mg = np.zeros(n_mid)
        gE_mg = np.zeros(n_mid)
        g_on_grid = {}
        for name, syn in synapses.items():
            g_all = synapse_conductance(syn, times, trains[name], conductance_fns)
            _check_conductance(name, syn, times, g_all)
            g_m, g_on_grid[name] = g_all[:n_mid], g_all[n_mid:]
            if syn.mg_block:
                g_mg += g_m
                gE_mg += g_m * syn.E_syn
            else:
                G_lin += g_m
                A_lin += g_m * syn.E_syn
        # Python lists: scalar arithmetic on floats is much faster than on numpy scalars.
        return cls(G_lin.tolist(), A_lin.tolist(), g_mg.tolist(), gE_mg.tolist(), g_on_grid)


class _Stepper:
    """The exponential midpoint method of :func:`simulate_zoo`, step by step."""

    def __init__(self, drive: _Drive, nodes, C_m, mg, mg_block_fn):
        self.d, self.C_m, self.mg, self.mg_block_fn = drive, C_m, mg, mg_block_fn
        self.nodes, self.h = nodes.tolist(), np.diff(nodes).tolist()

    def coefficients(self, j, u_start, h):
        """Frozen G (nS) and A (pA) of C du/dt = A - G u over an interval of length h from u_start."""
        d = self.d
        G, A, gN = d.G_lin[j], d.A_lin[j], d.g_mg[j]
        if gN != 0.0:
            # predict u at the half interval with B(u_start), then use B(u_half): second order
            B0 = float(self.mg_block_fn(u_start, self.mg))
            G0 = G + gN * B0
            u_inf0 = (A + d.gE_mg[j] * B0) / G0
            u_half = u_inf0 + (u_start - u_inf0) * math.exp(-G0 * 0.5 * h / self.C_m)
            B1 = float(self.mg_block_fn(u_half, self.mg))
            G += gN * B1
            A += d.gE_mg[j] * B1
        return G, A

    def passive(self, u):
        """u (mV) at every node of a membrane without threshold."""
        u_nodes, exp, C_m = [u], math.exp, self.C_m
        for j, h in enumerate(self.h):
            G, A = self.coefficients(j, u, h)
            u_inf = A / G
            u = u_inf + (u - u_inf) * exp(-G * h / C_m)
            u_nodes.append(u)
        return u_nodes

    def spiking(self, u, u_th, u_reset, t_ref):
        """u (mV) at every node and the spike times (ms) of a LIF neuron; crossings located exactly."""
        u_nodes, spikes, ref_end, exp, C_m = [u], [], -math.inf, math.exp, self.C_m
        for j in range(len(self.h)):
            ta, tb = self.nodes[j], self.nodes[j + 1]
            s0 = ta
            if ref_end > ta:
                u = u_reset
                s0 = ref_end
            while s0 < tb:
                # (re)start from (s0, u): after a reset the Mg block is re-evaluated at u_reset
                G, A = self.coefficients(j, u, tb - s0)
                u_inf = A / G
                if u >= u_th:
                    tc = s0
                else:
                    u_end = u_inf + (u - u_inf) * exp(-G * (tb - s0) / C_m)
                    if u_end < u_th:
                        u = u_end
                        break
                    # exact crossing of the frozen-coefficient solution (u_inf > u_th here)
                    tc = min(s0 + C_m / G * math.log((u - u_inf) / (u_th - u_inf)), tb)
                if tc + t_ref - s0 < MIN_ISI:
                    # the next spike would not come later than this one: no end in sight
                    raise ValueError(
                        f"the neuron fires without pause at t = {tc:.4g} ms (u_inf = {u_inf:.4g} mV, "
                        f"total conductance {G:.4g} nS): the synaptic conductances are unphysically "
                        "large; check that the waveforms decay")
                spikes.append(tc)
                ref_end = tc + t_ref
                u = u_reset
                s0 = ref_end
            u_nodes.append(u)
        return u_nodes, spikes


def simulate_zoo_ivp(
    spike_times=LECTURE_SPIKES,
    duration=DURATION,
    dt=DT,
    synapses=ZOO,
    g_l=G_L,
    C_m=C_M,
    u_rest=U_REST,
    mg=MG,
    I_e=None,
    conductance_fns=None,
    mg_block_fn=None,
    current_fn=None,
    method="DOP853",
    rtol=1e-10,
    atol=1e-10,
    max_step=np.inf,
    breakpoints=(),
):
    """Passive :func:`simulate_zoo` solved with ``scipy.integrate.solve_ivp`` (reference, benchmark).

    The integration restarts at every presynaptic spike time and at
    ``breakpoints`` (e.g. steps of ``I_e``), so that no discontinuity lies
    inside a solver step. ``I_e`` a constant or a callable of a scalar time (ms).

    Parameters
    ----------
    spike_times, duration, dt, synapses, g_l, C_m, u_rest, mg, I_e
        As in :func:`simulate_zoo` (``I_e`` not as an array).
    conductance_fns, mg_block_fn, current_fn
        As in :func:`simulate_zoo` (required the same way; ``mg_block_fn`` is
        called with scalars during the integration).
    method : str, optional
        ``solve_ivp`` method. Default ``"DOP853"``.
    rtol, atol : float, optional
        Tolerances (atol in mV). Defaults 1e-10.
    max_step : float, optional
        Largest solver step (ms). Default unbounded.
    breakpoints : sequence of float, optional
        Extra times (ms) at which to restart the solver.

    Returns
    -------
    ZooResult
        ``t``, ``u``, ``g``, ``I``, ``B`` and ``I_e`` on the output grid; no spikes.
    """
    trains = _check_spikes(spike_times, synapses)
    t_grid = _grid(duration, dt)
    T = t_grid[-1]
    if I_e is None:
        current = lambda t: 0.0  # noqa: E731
    elif callable(I_e):
        current = I_e
    else:
        value = float(I_e)
        current = lambda t: value  # noqa: E731
    any_blocked = _needs_block(mg_block_fn, synapses, trains)
    syns = [
        (trains[name], _conductance_fn(syn.waveform, conductance_fns), syn.waveform_args(), syn.E_syn,
         syn.mg_block)
        for name, syn in synapses.items()
        if trains[name].size
    ]

    def rhs(t, y):
        u = y[0]
        total = g_l * (u_rest - u) + current(t)
        for spikes, fn, args, E, blocked in syns:
            g = float(np.sum(fn(t - spikes, *args)))
            if blocked:
                g *= float(mg_block_fn(u, mg))
            total += g * (E - u)
        return [total / C_m]

    cuts = np.concatenate([all_ for all_ in trains.values()] + [np.asarray(breakpoints, dtype=float)])
    cuts = np.unique(np.concatenate([[0.0, T], cuts[(cuts > 0) & (cuts < T)]]))
    u_grid = np.empty_like(t_grid)
    u = float(u_rest)
    for a, b in zip(cuts[:-1], cuts[1:]):
        inside = (t_grid >= a) & (t_grid < b)
        t_eval = np.concatenate([t_grid[inside], [b]])
        sol = solve_ivp(rhs, (a, b), [u], method=method, rtol=rtol, atol=atol, max_step=max_step, t_eval=t_eval)
        if not sol.success:
            raise RuntimeError(f"solve_ivp failed on [{a}, {b}] ms: {sol.message}")
        u_grid[inside] = sol.y[0, :-1]
        u = float(sol.y[0, -1])
    u_grid[-1] = u

    g = {name: synapse_conductance(syn, t_grid, trains[name], conductance_fns) for name, syn in synapses.items()}
    B = np.asarray(mg_block_fn(u_grid, mg), dtype=float) if any_blocked else np.ones(u_grid.shape)
    I = {} if current_fn is None else {
        name: np.asarray(current_fn(u_grid, g[name] * B if syn.mg_block else g[name], syn.E_syn), dtype=float)
        for name, syn in synapses.items()
    }
    return ZooResult(t=t_grid, u=u_grid, g=g, I=I, spikes=np.zeros(0), B=B, I_e=np.array([current(x) for x in t_grid]))


def psp_amplitude(synapse, dt=DT, duration=1000.0, **kwargs):
    """Peak postsynaptic potential of one presynaptic spike at ``t = 0`` on a resting membrane.

    Parameters
    ----------
    synapse : str or Synapse
        A :data:`ZOO` name or a :class:`Synapse`.
    dt, duration : float, optional
        Step and simulated time (ms).
    **kwargs
        Passed to :func:`simulate_zoo`: the functions (``conductance_fns``,
        ``mg_block_fn``; required) and ``g_l``, ``C_m``, ``u_rest``, ``mg``, ...

    Returns
    -------
    amplitude : float
        Signed extremum of ``u - u_rest`` (mV): negative for an IPSP.
    t_peak : float
        Time of the extremum after the spike (ms).
    """
    syn = ZOO[synapse] if isinstance(synapse, str) else synapse
    u_rest = kwargs.get("u_rest", U_REST)
    res = simulate_zoo({syn.name: [0.0]}, duration=duration, dt=dt, synapses={syn.name: syn}, **kwargs)
    dev = res.u - u_rest
    i = int(np.argmax(np.abs(dev)))
    return float(dev[i]), float(res.t[i])
