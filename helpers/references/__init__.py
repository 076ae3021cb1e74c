"""Reference answers of the synapses course: readable by the trusted grader only.

The student's kernel runs in a sandbox that can read the run-time part of
``helpers`` but not this subpackage, so nothing that a notebook imports or runs
outside the hidden tests may import it: not the run-time modules
(:mod:`helpers.zoo`, :mod:`helpers.brian_harness`, :mod:`helpers.widgets`,
:mod:`helpers.explorers`, :mod:`helpers.grading`, :mod:`helpers.constants`,
:mod:`helpers.reference_data`), not at module level and not lazily inside
functions (tests/test_runtime_imports.py checks both). The hidden tests import
it (``from helpers.references import waveforms as _ref``) in the trusted grader
process, which also imports the test suite and the benchmarks.

Modules: :mod:`.waveforms`, :mod:`.nmda`, :mod:`.membrane`, :mod:`.lif_rate`
(plain numbers, ms mV nS pF pA Hz), :mod:`.brian_reference` (Brian2 strings and
namespaces), :mod:`.zoo` (the reference functions bundled for
:func:`helpers.zoo.simulate_zoo`) and :mod:`.curves`, which computes the
reference curves that figures and quick checks show, stored as data in
``helpers/data/reference_curves.npz`` by ``make release``.
"""
