"""Reference Brian2 model strings and namespaces for notebooks 02, 03 and 06.

The hidden tests run a student's strings and these references through the same
harness (:mod:`helpers.brian_harness`) and compare the traces, so a correct
answer written another way gives the same result to rounding error.

Namespaces hold Brian2 quantities (``tau = 5*ms``, ``Mg = 1.2*mM``); dimensionless
values (``w``) are plain floats. Each notebook has its own namespace; use the
``*_namespace(**changes)`` functions to get a fresh, modifiable copy (the module
level ``*_NAMESPACE`` mappings are read-only).

Notebook 02 (ODE synapses, dimensionless ``g`` and ``x``):

* alpha: ``dg/dt = (x - g)/tau``, ``dx/dt = -x/tau``. With ``x += w`` the peak is
  ``w/e`` at ``t = tau``; ``x += e*w`` makes the peak exactly ``w``.
* dual exponential: ``dg/dt = (k x - g)/tau_rise``, ``dx/dt = -x/tau_decay`` with
  ``k = (tau_decay/tau_rise)**(tau_rise/(tau_decay - tau_rise))`` and ``x += w``
  peaks at exactly ``w`` at ``t* = tau_rise tau_decay/(tau_decay - tau_rise)
  ln(tau_decay/tau_rise)`` (requires ``tau_rise != tau_decay``).

Notebook 03 (NMDA synapse on a passive membrane): the dual-exponential
conductance (siemens) summed into the neuron's ``g_syn`` and the Jahr-Stevens
magnesium block ``B(u) = 1/(1 + [Mg]/3.57 mM exp(-0.062 u/mV))``. With the
defaults (g_l = 10 nS, C_m = 200 pF, u_rest = -65 mV, g_max = 2 nS, rise 8 ms,
decay 60 ms, Mg = 1.2 mM) one spike gives a 0.505 mV EPSP peaking 43.3 ms after
the spike (B(-65 mV) = 0.050; measured against scipy's Radau solver). In Brian2:

>>> import numpy as np
>>> from brian2 import ms, mV
>>> from helpers.brian_harness import run_nmda_neuron
>>> res = run_nmda_neuron(NMDA_NEURON_EQS, NMDA_SYNAPSE_MODEL, NMDA_SYNAPSE_ON_PRE, nmda_namespace(),
...                       [10.0] * ms, 300 * ms, dt=0.1 * ms)
>>> u = np.asarray(res["u"] / mV)
>>> print(f"EPSP {u.max() + 65:.3f} mV, {float(res['t'][u.argmax()] / ms) - 10:.1f} ms after the spike "
...       "on the 0.1 ms grid")
EPSP 0.505 mV, 43.4 ms after the spike on the 0.1 ms grid

Notebook 06 (leaky integrate-and-fire with a shunting conductance): the
membrane equation with an input current ``I`` (amp) and a conductance ``g_i``
(siemens) reversing at ``E_i = u_rest`` (pure shunting). The harness adds the
threshold ``u > u_th``, the reset ``u = u_reset`` and the refractory period.
"""

from types import MappingProxyType

import numpy as np
from brian2 import mM, ms, mV, nS, pA, pF

from helpers import constants

__all__ = [
    "ALPHA_MODEL",
    "ALPHA_ON_PRE",
    "DUAL_EXP_MODEL",
    "DUAL_EXP_ON_PRE",
    "NMDA_NEURON_EQS",
    "NMDA_SYNAPSE_MODEL",
    "NMDA_SYNAPSE_ON_PRE",
    "LIF_MODEL",
    "SYNAPSE_NAMESPACE",
    "NMDA_NAMESPACE",
    "LIF_NAMESPACE",
    "synapse_namespace",
    "nmda_namespace",
    "lif_namespace",
    "U_TH",
    "U_RESET",
    "T_REF",
    "LIF_CURRENTS",
    "LIF_SHUNTS",
]

# ---------------------------------------------------------------------------
# Notebook 02: ODE synapses driven by a SpikeGeneratorGroup
# ---------------------------------------------------------------------------

#: Alpha synapse: g(t) = w (t/tau) exp(1 - t/tau) after a spike (peak w at t = tau).
ALPHA_MODEL = """
dg/dt = (x - g)/tau : 1 (clock-driven)
dx/dt = -x/tau : 1 (clock-driven)
"""
#: ``e`` is Brian2's built-in constant 2.718...; without it the peak would be w/e.
ALPHA_ON_PRE = "x += e*w"

#: Dual-exponential synapse normalised to peak exactly w (k: see module docstring).
DUAL_EXP_MODEL = """
dg/dt = (k*x - g)/tau_rise : 1 (clock-driven)
dx/dt = -x/tau_decay : 1 (clock-driven)
k = (tau_decay/tau_rise)**(tau_rise/(tau_decay - tau_rise)) : 1
"""
DUAL_EXP_ON_PRE = "x += w"

# ---------------------------------------------------------------------------
# Notebook 03: NMDA synapse with magnesium block
# ---------------------------------------------------------------------------

#: Passive membrane with an NMDA conductance g_syn (set by the synapses' summed
#: variable) and the Jahr-Stevens (1990) magnesium block G_mg.
NMDA_NEURON_EQS = f"""
du/dt = (g_l*(u_rest - u) + g_syn*G_mg*(E_nmda - u))/C_m : volt
G_mg = 1/(1 + Mg/({constants.MG_HALF}*mM)*exp(-{constants.MG_SLOPE}*u/mV)) : 1
g_syn : siemens
"""
#: Dual-exponential NMDA conductance in siemens, each spike adds g_max at the peak.
NMDA_SYNAPSE_MODEL = """
dg/dt = (k*x - g)/tau_rise : siemens (clock-driven)
dx/dt = -x/tau_decay : siemens (clock-driven)
k = (tau_decay/tau_rise)**(tau_rise/(tau_decay - tau_rise)) : 1
g_syn_post = g : siemens (summed)
"""
NMDA_SYNAPSE_ON_PRE = "x += g_max"

# ---------------------------------------------------------------------------
# Notebook 06: leaky integrate-and-fire with shunting inhibition
# ---------------------------------------------------------------------------

#: LIF membrane with input current I and shunting conductance g_i (E_i = u_rest).
#: ``(unless refractory)`` clamps u at the reset during the refractory period, as
#: Dayan and Abbott's rate formula (eq. 5.11) assumes; the harness adds the flag
#: if a student's equation lacks it.
LIF_MODEL = """
du/dt = (g_l*(u_rest - u) + g_i*(E_i - u) + I)/C_m : volt (unless refractory)
I : amp
g_i : siemens
"""

#: Spiking mechanics the harness applies in notebook 06 (negative threshold).
U_TH = constants.U_TH * mV  # -50 mV
U_RESET = constants.U_RESET * mV  # -65 mV
T_REF = constants.T_REF * ms  # absolute refractory period

#: Suggested population for notebook 06: 100 currents x 7 shunting conductances.
#: Rheobase is (g_l + g_i)(u_th - u_rest) = 150 pA (g_i = 0) ... 1050 pA (g_i = 60 nS),
#: so currents up to 2 nA put every column in a firing regime. Built from integers
#: (not ``arange`` on floats) so there are exactly 100 and 7 values. The 5 pA offset
#: keeps every current off the rheobases (150 + 150 k pA): exactly at rheobase
#: u_inf = u_th, and rounding decides whether a simulated neuron fires at all.
LIF_CURRENTS = (np.arange(100) * 20.0 + 5.0) * pA  # 5 ... 1985 pA in 20 pA steps
LIF_SHUNTS = np.arange(7) * 10.0 * nS  # 0, 10, ..., 60 nS

# ---------------------------------------------------------------------------
# Namespaces
# ---------------------------------------------------------------------------

_SYNAPSE_DEFAULTS = {
    "tau": 5.0 * ms,  # alpha time constant
    "tau_rise": 8.0 * ms,  # dual-exponential rise (NMDA)
    "tau_decay": 60.0 * ms,  # dual-exponential decay (NMDA)
    "w": 1.0,  # dimensionless peak of g
}
_NMDA_DEFAULTS = {
    "u_rest": constants.U_REST * mV,  # -65 mV
    "g_l": constants.G_L * nS,  # 10 nS
    "C_m": constants.C_M * pF,  # 200 pF (tau_m = 20 ms)
    "E_nmda": constants.E_NMDA * mV,  # 0 mV
    "tau_rise": 8.0 * ms,
    "tau_decay": 60.0 * ms,
    "g_max": 2.0 * nS,  # peak NMDA conductance per spike
    "Mg": constants.MG * mM,  # 1.2 mM
}
_LIF_DEFAULTS = {
    "g_l": constants.G_L * nS,  # 10 nS
    "u_rest": constants.U_REST * mV,  # -65 mV
    "E_i": constants.U_REST * mV,  # = u_rest: pure shunting
    "C_m": constants.C_M * pF,  # 200 pF
}

#: Read-only default namespaces (notebooks 02, 03, 06).
SYNAPSE_NAMESPACE = MappingProxyType(_SYNAPSE_DEFAULTS)
NMDA_NAMESPACE = MappingProxyType(_NMDA_DEFAULTS)
LIF_NAMESPACE = MappingProxyType(_LIF_DEFAULTS)


def _namespace(defaults, which, changes):
    unknown = sorted(set(changes) - set(defaults))
    if unknown:
        raise KeyError(
            f"{which} has no name(s) {', '.join(unknown)}; its names are {', '.join(defaults)}"
        )
    out = dict(defaults)
    out.update(changes)
    return out


def synapse_namespace(**changes):
    """Fresh notebook-02 namespace: ``tau``, ``tau_rise``, ``tau_decay`` (second), ``w`` (float).

    Parameters
    ----------
    **changes
        Values replacing the defaults (tau = 5 ms, tau_rise = 8 ms,
        tau_decay = 60 ms, w = 1.0); Brian2 quantities, ``w`` a plain float.

    Returns
    -------
    dict
        A new dictionary (safe to modify).
    """
    return _namespace(_SYNAPSE_DEFAULTS, "synapse_namespace", changes)


def nmda_namespace(**changes):
    """Fresh notebook-03 namespace (Brian2 quantities).

    Defaults: u_rest = -65 mV, g_l = 10 nS, C_m = 200 pF, E_nmda = 0 mV,
    tau_rise = 8 ms, tau_decay = 60 ms, g_max = 2 nS, Mg = 1.2 mM.

    Parameters
    ----------
    **changes
        Values replacing the defaults, e.g. ``Mg=0*mM``.

    Returns
    -------
    dict
        A new dictionary (safe to modify).
    """
    return _namespace(_NMDA_DEFAULTS, "nmda_namespace", changes)


def lif_namespace(**changes):
    """Fresh notebook-06 namespace (Brian2 quantities).

    Defaults: g_l = 10 nS, u_rest = -65 mV, E_i = -65 mV (= u_rest, pure
    shunting), C_m = 200 pF.

    Parameters
    ----------
    **changes
        Values replacing the defaults.

    Returns
    -------
    dict
        A new dictionary (safe to modify).
    """
    return _namespace(_LIF_DEFAULTS, "lif_namespace", changes)
