"""Brian2 harness, grading, widgets and reference answers of the synapses course.

Run-time modules (the student's kernel imports them): constants, zoo,
brian_harness, grading, widgets, explorers, reference_data. The reference
answers live in :mod:`helpers.references`, readable by the trusted grader only;
no run-time module imports them.

Plain-number modules use ms, mV, nS, pF and pA (nS x mV = pA, pF x mV/ms = pA);
rates are in Hz. Brian2 is imported only by the modules that need it.
"""

__version__ = "0.1.0"
