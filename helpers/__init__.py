"""Reference physics, Brian2 harness, grading and widgets for the synapses course.

Plain-number modules use ms, mV, nS, pF and pA (nS x mV = pA, pF x mV/ms = pA);
rates are in Hz. Brian2 is imported only by the modules that need it.
"""

__version__ = "0.1.0"
