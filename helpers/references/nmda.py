"""NMDA receptor: magnesium block and current (plain numbers).

Units: potential mV, [Mg2+] mM, conductance nS, current pA (nS x mV = pA).

The voltage dependence follows Jahr and Stevens (1990),

    B(u) = 1 / (1 + [Mg]/3.57 mM * exp(-0.062 u/mV)),

i.e. a voltage scale of 1/0.062 = 16.13 mV (the lecture's 16.3 mV is a typo). At rest only
5 % of the NMDA conductance gets through; half of it at [Mg] = 1.2 mM near -18 mV:

>>> print(f"B(-65 mV) = {mg_block(-65.0):.3f}, B(0 mV) = {mg_block(0.0):.2f}, B(-60 mV) without Mg = {mg_block(-60.0, 0.0):g}")
B(-65 mV) = 0.050, B(0 mV) = 0.75, B(-60 mV) without Mg = 1
>>> print(f"{float(np.log(1.2 / 3.57) / 0.062):.1f} mV")
-17.6 mV
"""

import numpy as np

from ._arrays import finish

__all__ = ["MG", "MG_HALF", "MG_SLOPE", "MG_VOLTAGE_SCALE", "E_NMDA", "mg_block", "nmda_current"]

# [Mg], the Jahr-Stevens constants and E_nmda are run-time constants (helpers.constants).
from helpers.constants import E_NMDA, MG, MG_HALF, MG_SLOPE, MG_VOLTAGE_SCALE  # noqa: E402

# exp(709) is the largest power below the float64 overflow; clipping the exponent
# there changes B only for u < -11 V, where it is below 1e-300 anyway.
_MAX_EXPONENT = 700.0


def mg_block(u, mg=MG):
    """Fraction of NMDA channels not blocked by magnesium, ``B(u)`` (Jahr and Stevens 1990).

    ``B(u) = 1 / (1 + mg/MG_HALF * exp(-MG_SLOPE u))``.

    Parameters
    ----------
    u : float or array_like
        Membrane potential (mV).
    mg : float or array_like, optional
        Extracellular magnesium concentration (mM), >= 0. Default :data:`MG` = 1.2 mM.

    Returns
    -------
    B : numpy.ndarray or numpy.float64
        Dimensionless, between 0 and 1; 1 for ``mg = 0`` and for large ``u``;
        0.5 at ``mg = 3.57 mM, u = 0 mV``.

    Raises
    ------
    ValueError
        If ``mg`` is negative.
    """
    u, mg = np.broadcast_arrays(np.asarray(u, dtype=float), np.asarray(mg, dtype=float))
    if np.any(mg < 0):
        raise ValueError("the magnesium concentration mg (mM) must be >= 0")
    exponent = np.minimum(-MG_SLOPE * u, _MAX_EXPONENT)
    return finish(1.0 / (1.0 + mg / MG_HALF * np.exp(exponent)))


def nmda_current(u, g, E_nmda=E_NMDA, mg=MG):
    """NMDA current ``g B(u) (E_nmda - u)`` (pA), positive = inward (depolarising).

    Parameters
    ----------
    u : float or array_like
        Membrane potential (mV).
    g : float or array_like
        NMDA conductance before the magnesium block (nS).
    E_nmda : float or array_like, optional
        Reversal potential (mV). Default 0 mV.
    mg : float or array_like, optional
        Extracellular magnesium concentration (mM). Default 1.2 mM.

    Returns
    -------
    I : numpy.ndarray or numpy.float64
        Current (pA), the broadcast shape of the inputs.
    """
    u, g, E_nmda = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (u, g, E_nmda)))
    B = np.asarray(mg_block(u, mg))
    return finish(g * B * (E_nmda - u))
