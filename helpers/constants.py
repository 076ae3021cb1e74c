"""Course constants: the neuron defaults and the magnesium-block parameters (plain numbers).

Units: time ms, potential mV, conductance nS, capacitance pF, [Mg2+] mM.

These are values, not answers: the notebooks print them, the run-time modules
(:mod:`helpers.zoo`, :mod:`helpers.brian_harness`, the explorers) use them as
defaults, and the reference answers in :mod:`helpers.references` (readable by
the trusted grader only) import them from here.

Physiological defaults (not the lecture's g_l = 10 uS, which makes
tau_m = 0.02 ms): g_l = 10 nS, C_m = 200 pF, tau_m = 20 ms. Spiking thresholds
are negative.

The Jahr-Stevens (1990) magnesium block, as the notebooks state it,

    B(u) = 1 / (1 + [Mg]/3.57 mM * exp(-0.062 u/mV)),

has a voltage scale of 1/0.062 = 16.13 mV (the lecture's 16.3 mV is a typo):

>>> print(f"{MG_VOLTAGE_SCALE:.2f} mV; tau_m = C_m / g_l = {TAU_M:g} ms")
16.13 mV; tau_m = C_m / g_l = 20 ms
"""

__all__ = [
    "G_L",
    "C_M",
    "U_REST",
    "TAU_M",
    "U_TH",
    "U_RESET",
    "T_REF",
    "MG",
    "MG_HALF",
    "MG_SLOPE",
    "MG_VOLTAGE_SCALE",
    "E_NMDA",
]

# Neuron (notebooks 01, 03-06)
G_L = 10.0  # nS, leak conductance (g_m)
C_M = 200.0  # pF, membrane capacitance
U_REST = -65.0  # mV, resting (leak reversal) potential
TAU_M = C_M / G_L  # ms, membrane time constant = 20 ms
U_TH = -50.0  # mV, spike threshold of the integrate-and-fire neurons
U_RESET = -65.0  # mV, reset potential after a spike
T_REF = 2.0  # ms, refractory period of the Brian2 LIF population (notebook 06)

# NMDA receptor (notebooks 01 and 03)
MG = 1.2  # mM, extracellular magnesium concentration
MG_HALF = 3.57  # mM, Jahr-Stevens concentration constant
MG_SLOPE = 0.062  # 1/mV, Jahr-Stevens voltage slope
MG_VOLTAGE_SCALE = 1.0 / MG_SLOPE  # mV, = 16.13 mV
E_NMDA = 0.0  # mV, NMDA reversal potential
