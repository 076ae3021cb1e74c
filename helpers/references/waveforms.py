"""Synaptic conductance waveforms after one presynaptic spike (plain numbers).

Units: time in ms, conductance in nS. Every function broadcasts its arguments
with numpy and returns an array of the broadcast shape (a numpy scalar for
scalar input).

Conventions (see the course contract):

* ``t`` is the time since the presynaptic spike, ``t - t_s``.
* Every waveform is zero for ``t < 0`` and takes its ``t -> 0+`` value at
  ``t = 0``: ``g_peak`` for the exponential, 0 for the alpha and the
  dual-exponential waveforms.
* ``g_peak`` is the *peak* conductance of every waveform. Waveforms decay as
  ``exp(-t/tau)``.

Textbook variants differ: the lecture's alpha function ``g (t/tau) exp(-t/tau)``
peaks at ``g/e``, and its dual exponential ``g / (1/tau_rise - 1/tau_decay)
(exp(-t/tau_decay) - exp(-t/tau_rise))`` has a peak that depends on the time
constants (1.34 nS for GABA_B with g = 0.05, 11.7 nS for NMDA with g = 2).
Here every waveform is normalised so that its maximum is ``g_peak``:

>>> t = np.linspace(0.0, 1000.0, 1_000_001)  # ms
>>> lecture_alpha = 1.0 * (t / 5.0) * np.exp(-t / 5.0)
>>> def lecture_dual(g, tau_rise, tau_decay):
...     return g / (1 / tau_rise - 1 / tau_decay) * (np.exp(-t / tau_decay) - np.exp(-t / tau_rise))
>>> print(f"{lecture_alpha.max():.4f} = 1/e;  GABA_B {lecture_dual(0.05, 40, 200).max():.2f} nS at "
...       f"{t[lecture_dual(0.05, 40, 200).argmax()]:.1f} ms;  NMDA {lecture_dual(2.0, 8, 60).max():.1f} nS at "
...       f"{t[lecture_dual(2.0, 8, 60).argmax()]:.1f} ms")
0.3679 = 1/e;  GABA_B 1.34 nS at 80.5 ms;  NMDA 11.7 nS at 18.6 ms
>>> [f"{float(f(t, 1.0, *taus).max()):.6f}" for f, taus in ((exp_conductance, (5.0,)),
...     (alpha_conductance, (5.0,)), (dual_exp_conductance, (40.0, 200.0)), (dual_exp_conductance, (8.0, 60.0)))]
['1.000000', '1.000000', '1.000000', '1.000000']
>>> print(f"{float(dual_exp_peak_time(8.0, 60.0)):.2f} ms, not the lecture's {8.0 * np.log(60 / 8):.2f} ms")
18.60 ms, not the lecture's 16.12 ms


The dual exponential is evaluated in the cancellation-free form

    g(t) = g_peak k exp(-t/tau_decay) (1 - exp(-a t)) / (a tau_rise),
    a = 1/tau_rise - 1/tau_decay,  k = exp(t*/tau_decay),

which is continuous through ``tau_rise = tau_decay`` where it equals the
alpha function with ``tau = tau_rise``.
"""

import numpy as np

from ._arrays import broadcast, finish

__all__ = [
    "ALPHA_ODE_FACTOR",
    "exp_conductance",
    "alpha_conductance",
    "dual_exp_conductance",
    "dual_exp_peak_time",
    "dual_exp_ode_factor",
    "exp_integral",
    "alpha_integral",
    "dual_exp_integral",
    "peak_time",
]

#: The alpha-synapse ODE pair dg/dt = (x - g)/tau, dx/dt = -x/tau with x += w peaks
#: at w/e (at t = tau); a synapse that peaks at w therefore needs x += e w.
ALPHA_ODE_FACTOR = float(np.e)


def exp_conductance(t, g_peak, tau):
    """Exponential conductance ``g_peak exp(-t/tau)`` after a spike at ``t = 0``.

    Parameters
    ----------
    t : float or array_like
        Time since the presynaptic spike (ms). Zero conductance for ``t < 0``.
    g_peak : float or array_like
        Peak conductance (nS), reached at ``t = 0``.
    tau : float or array_like
        Decay time constant (ms), > 0.

    Returns
    -------
    g : numpy.ndarray or numpy.float64
        Conductance (nS), the broadcast shape of the inputs.
    """
    t, g_peak, tau = broadcast(t, g_peak, tau)
    tc = np.where(t < 0, 0.0, t)  # clipped: no overflow in exp for t < 0
    with np.errstate(over="ignore", invalid="ignore"):
        g = g_peak * np.exp(-tc / tau)
    return finish(np.where(t < 0, 0.0, g))


def alpha_conductance(t, g_peak, tau):
    """Alpha conductance ``g_peak (t/tau) exp(1 - t/tau)``, peak ``g_peak`` at ``t = tau``.

    Parameters
    ----------
    t : float or array_like
        Time since the presynaptic spike (ms). Zero conductance for ``t <= 0``.
    g_peak : float or array_like
        Peak conductance (nS).
    tau : float or array_like
        Time constant (ms), > 0; it is also the time of the peak.

    Returns
    -------
    g : numpy.ndarray or numpy.float64
        Conductance (nS), the broadcast shape of the inputs.

    Notes
    -----
    The lecture's ``g (t/tau) exp(-t/tau)`` peaks at ``g/e``; the factor ``e``
    here makes ``g_peak`` the true maximum. Integral: ``g_peak e tau``
    (:func:`alpha_integral`).
    """
    t, g_peak, tau = broadcast(t, g_peak, tau)
    x = np.where(t < 0, 0.0, t) / tau
    with np.errstate(over="ignore", invalid="ignore"):
        shape = np.where(np.isposinf(x), 0.0, x * np.exp(1.0 - x))
        g = g_peak * shape
    return finish(np.where(t < 0, 0.0, g))


def _ordered_taus(tau_rise, tau_decay):
    """Return (short, long) time constants: the waveform is symmetric in the two."""
    return np.minimum(tau_rise, tau_decay), np.maximum(tau_rise, tau_decay)


def dual_exp_peak_time(tau_rise, tau_decay):
    """Time of the dual-exponential peak, ``t* = tau_r tau_d / (tau_d - tau_r) ln(tau_d/tau_r)``.

    Parameters
    ----------
    tau_rise, tau_decay : float or array_like
        Rise and decay time constants (ms), > 0. Equal values give the alpha
        limit ``t* = tau_rise``; the formula is symmetric in the two.

    Returns
    -------
    t_peak : numpy.ndarray or numpy.float64
        Time of the peak after the spike (ms).

    Notes
    -----
    The formula ``tau_rise ln(tau_decay/tau_rise)`` found in some texts is wrong.
    Evaluated as ``tau_r tau_d log1p(d/tau_r)/d`` with ``d = tau_d - tau_r``,
    accurate also for nearly equal time constants.
    """
    tau_rise, tau_decay = broadcast(tau_rise, tau_decay)
    tr, td = _ordered_taus(tau_rise, tau_decay)
    d = td - tr
    d_safe = np.where(d == 0, 1.0, d)
    with np.errstate(divide="ignore", invalid="ignore"):
        tp = np.where(d == 0, td, tr * td * np.log1p(d_safe / tr) / d_safe)
    return finish(tp)


def dual_exp_ode_factor(tau_rise, tau_decay):
    """Factor ``k = (tau_d/tau_r)^(tau_r/(tau_d - tau_r))`` of the dual-exponential ODE pair.

    With ``dg/dt = (k x - g)/tau_rise``, ``dx/dt = -x/tau_decay`` and
    ``x += w`` at a spike, ``g`` peaks at exactly ``w`` (at
    :func:`dual_exp_peak_time`). ``k = exp(t*/tau_decay)``; ``k -> e`` as
    ``tau_rise -> tau_decay`` (the alpha ODE, :data:`ALPHA_ODE_FACTOR`).

    Parameters
    ----------
    tau_rise, tau_decay : float or array_like
        Time constants (ms) of ``g`` and ``x`` respectively, > 0.

    Returns
    -------
    k : numpy.ndarray or numpy.float64
        Dimensionless factor.
    """
    tau_rise, tau_decay = broadcast(tau_rise, tau_decay)
    return finish(np.exp(np.asarray(dual_exp_peak_time(tau_rise, tau_decay)) / tau_decay))


def dual_exp_conductance(t, g_peak, tau_rise, tau_decay):
    """Dual-exponential conductance normalised to peak ``g_peak``.

    ``g(t) = g_peak (exp(-t/tau_decay) - exp(-t/tau_rise)) / N`` with ``N`` the
    bracket's value at the peak time :func:`dual_exp_peak_time`.

    Parameters
    ----------
    t : float or array_like
        Time since the presynaptic spike (ms). Zero conductance for ``t <= 0``.
    g_peak : float or array_like
        Peak conductance (nS).
    tau_rise, tau_decay : float or array_like
        Rise and decay time constants (ms), > 0. ``tau_rise == tau_decay``
        gives the alpha waveform with ``tau = tau_rise``. The waveform is
        symmetric in the two constants.

    Returns
    -------
    g : numpy.ndarray or numpy.float64
        Conductance (nS), the broadcast shape of the inputs.
    """
    t, g_peak, tau_rise, tau_decay = broadcast(t, g_peak, tau_rise, tau_decay)
    tr, td = _ordered_taus(tau_rise, tau_decay)
    tc = np.where(t < 0, 0.0, t)
    a = 1.0 / tr - 1.0 / td  # >= 0 (1/ms)
    a_safe = np.where(a == 0, 1.0, a)
    tp = np.asarray(dual_exp_peak_time(tr, td))
    with np.errstate(over="ignore", invalid="ignore"):
        # (1 - exp(-a t))/a, continuous at a = 0 where it equals t
        rise = np.where(a == 0, tc, -np.expm1(-a_safe * tc) / a_safe)
        # g_peak k exp(-t/td) rise / tr, with k = exp(t*/td): combine the exponents
        g = g_peak * np.exp((tp - tc) / td) * rise / tr
        g = np.where(np.isposinf(tc), 0.0, g)
    return finish(np.where(t < 0, 0.0, g))


def peak_time(waveform, tau_rise=None, tau_decay=None):
    """Peak time (ms) of a waveform named ``"exp"``, ``"alpha"`` or ``"dual_exp"``.

    ``exp`` peaks at 0, ``alpha`` at ``tau_decay`` (its ``tau``), ``dual_exp`` at
    :func:`dual_exp_peak_time`.
    """
    if waveform == "exp":
        return finish(np.zeros_like(np.asarray(tau_decay, dtype=float)))
    if waveform == "alpha":
        return finish(np.asarray(tau_decay, dtype=float))
    if waveform == "dual_exp":
        return dual_exp_peak_time(tau_rise, tau_decay)
    raise ValueError(f"unknown waveform {waveform!r}; expected 'exp', 'alpha' or 'dual_exp'")


def exp_integral(g_peak, tau):
    """Time integral of :func:`exp_conductance`, ``g_peak tau`` (nS ms).

    Parameters
    ----------
    g_peak : float or array_like
        Peak conductance (nS).
    tau : float or array_like
        Decay time constant (ms).
    """
    g_peak, tau = broadcast(g_peak, tau)
    return finish(g_peak * tau)


def alpha_integral(g_peak, tau):
    """Time integral of :func:`alpha_conductance`, ``g_peak e tau`` (nS ms).

    Parameters
    ----------
    g_peak : float or array_like
        Peak conductance (nS).
    tau : float or array_like
        Time constant (ms).
    """
    g_peak, tau = broadcast(g_peak, tau)
    return finish(g_peak * np.e * tau)


def dual_exp_integral(g_peak, tau_rise, tau_decay):
    """Time integral of :func:`dual_exp_conductance` (nS ms).

    ``g_peak (tau_d - tau_r) / N = g_peak k tau_d`` with
    ``k = exp(t*/tau_d)`` (:func:`dual_exp_ode_factor`); ``g_peak e tau`` in
    the alpha limit.

    Parameters
    ----------
    g_peak : float or array_like
        Peak conductance (nS).
    tau_rise, tau_decay : float or array_like
        Time constants (ms).
    """
    g_peak, tau_rise, tau_decay = broadcast(g_peak, tau_rise, tau_decay)
    tr, td = _ordered_taus(tau_rise, tau_decay)
    return finish(g_peak * np.asarray(dual_exp_ode_factor(tr, td)) * td)
