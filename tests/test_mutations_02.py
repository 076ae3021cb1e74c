"""Mutation tests of notebook 02 (ODE synapses in Brian2).

One kernel runs the set-up cell once; per mutant only the answer cell (replaced
by the mutant) and that item's test cell run (tests/nbkernel.py). Wrong answers,
the lecture's own errors among them (the alpha ODE with x += w that peaks at
w/e, the peak time tau_rise ln(tau_decay/tau_rise), the unnormalised dual
exponential), must fail with a message about the physics, also when only the
hidden tests run; answers that hard-code the visible test's numbers must fail
the hidden tests; correct answers written another way must pass; so must the
stored solution, and the released stub must fail with its instruction.

The answers (WRONG, RIGHT) are the tables of :mod:`coursekit.answers.nb02`; the shortcut
attempts (CHEATS) and this notebook's own tests are here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mutation_suite import define_mutation_tests

from coursekit.answers import nb02 as answers
from coursekit.answers.nb02 import ALPHA_ODES, RIGHT, SIGNATURES, VALUES, WRONG, peak_time, strings

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "source" / "synapses" / f"{answers.NOTEBOOK}.ipynb"

pytestmark = [pytest.mark.notebooks, pytest.mark.brian]

CHEATS = [
    ("alpha_model", "re-exported reference strings",
     "from helpers.references.brian_reference import ALPHA_MODEL as alpha_model, ALPHA_ON_PRE as alpha_on_pre\n"),
    ("dual_exp_model", "re-exported reference strings",
     "from helpers.references import brian_reference as _r\n"
     "dual_exp_model, dual_exp_on_pre = _r.DUAL_EXP_MODEL, _r.DUAL_EXP_ON_PRE\n"),
    # the reference takes plain numbers, so the visible check with Brian2 quantities stops these two
    ("dual_exp_peak_time", "re-exported reference function",
     "from helpers.references.waveforms import dual_exp_peak_time\n", ["reference code"], True),
    ("dual_exp_peak_time", "wraps the reference function", peak_time("""
        from helpers.references import waveforms as _w
        return _w.dual_exp_peak_time(tau_rise, tau_decay)
        """), ["reference code"], True),
]


define_mutation_tests(globals(), NOTEBOOK, signatures=SIGNATURES, values=VALUES, wrong=WRONG, right=RIGHT,
                      cheats=CHEATS,
                      # three autograded items (3 + 2 + 3 points) and one written answer (2 points)
                      points={"test_alpha_model": 3, "test_dual_exp_peak_time": 2,
                              "test_dual_exp_model": 3, "linear_summation_answer": 2})


def test_hidden_messages_do_not_reveal_expected_values(kernel):
    """A hidden failure states the student's value and the rule, not the reference number."""
    with kernel.replaced("alpha_model", strings(ALPHA_ODES, "x += w", "alpha")):
        ok, err = kernel.run(kernel.hidden_tests("alpha_model"))
    assert not ok
    # tau = 2 ms, w = 0.3: the student's peak 0.3/e = 0.110 is named, the expected 0.3 only as "w"
    assert "0.110" in err and "it should be w" in err, err
