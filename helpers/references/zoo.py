"""The reference functions bundled for :func:`helpers.zoo.simulate_zoo` (trusted grader only).

:mod:`helpers.zoo` integrates whatever functions its caller passes; this module
holds the reference set, for the tests, the benchmarks and the reference-curve
generator (:mod:`helpers.references.curves`)::

    from helpers.references.zoo import REFERENCE_FNS
    from helpers.zoo import simulate_zoo
    res = simulate_zoo(**REFERENCE_FNS)

Units as in :mod:`helpers.zoo` (ms, mV, nS, pF, pA, mM).
"""

import math

from helpers.constants import MG_HALF, MG_SLOPE
from helpers.zoo import psp_amplitude as _psp_amplitude
from helpers.zoo import simulate_zoo as _simulate_zoo
from helpers.zoo import simulate_zoo_ivp as _simulate_zoo_ivp

from . import membrane, nmda, waveforms

__all__ = ["CONDUCTANCE_FNS", "REFERENCE_FNS", "mg_block", "simulate_zoo", "simulate_zoo_ivp",
           "psp_amplitude"]

#: Reference conductance functions by waveform name (the student signatures).
CONDUCTANCE_FNS = {
    "exp": waveforms.exp_conductance,
    "alpha": waveforms.alpha_conductance,
    "dual_exp": waveforms.dual_exp_conductance,
}


def mg_block(u, mg):
    """:func:`helpers.references.nmda.mg_block`, with a fast path for Python floats.

    The integrator calls the block with one potential at a time (twice per step
    while an NMDA conductance is open); ``math.exp`` is about ten times faster
    than numpy on a scalar. Same formula and the same clipped exponent.
    """
    if isinstance(u, float) and isinstance(mg, (float, int)):
        return 1.0 / (1.0 + mg / MG_HALF * math.exp(min(-MG_SLOPE * u, 700.0)))
    return nmda.mg_block(u, mg)


#: Keyword arguments of :func:`helpers.zoo.simulate_zoo` (and ``simulate_zoo_ivp``,
#: ``psp_amplitude``) that select the reference functions.
REFERENCE_FNS = {
    "conductance_fns": CONDUCTANCE_FNS,
    "mg_block_fn": mg_block,
    "current_fn": membrane.synaptic_current,
}


def _with_references(kwargs):
    out = dict(REFERENCE_FNS)
    if "conductance_fns" in kwargs:  # partial replacement: the other waveforms stay the references
        out["conductance_fns"] = {**CONDUCTANCE_FNS, **(kwargs.pop("conductance_fns") or {})}
    out.update(kwargs)
    return out


def simulate_zoo(*args, **kwargs):
    """:func:`helpers.zoo.simulate_zoo` with the reference functions (any of them may be replaced)."""
    return _simulate_zoo(*args, **_with_references(kwargs))


def simulate_zoo_ivp(*args, **kwargs):
    """:func:`helpers.zoo.simulate_zoo_ivp` with the reference functions."""
    return _simulate_zoo_ivp(*args, **_with_references(kwargs))


def psp_amplitude(synapse, *args, **kwargs):
    """:func:`helpers.zoo.psp_amplitude` with the reference functions."""
    return _psp_amplitude(synapse, *args, **_with_references(kwargs))

