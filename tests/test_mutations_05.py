"""Mutation tests of notebook 05 (shunting inhibition).

One kernel runs the set-up cell once; per mutant only the answer cell (replaced
by the mutant) and that item's test cell run (tests/nbkernel.py). Wrong answers
must fail with a one-sentence message about the physics (among them the
lecture's own error, the missing minus sign on the shunt term); correct answers
written another way must pass; so must the stored solution, and the released
stub must fail with its instruction.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import nbformat
import pytest

from nbkernel import NotebookKernel

from helpers.nbgrader_ext import InstructiveClearSolutions

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "source" / "synapses" / "05_shunting.ipynb"

pytestmark = pytest.mark.notebooks

SIGNATURES = {
    "membrane_steady_state": "def membrane_steady_state(g_e, g_i, E_e, E_i, g_m, u_rest):",
    "membrane_time_constant": "def membrane_time_constant(C_m, g_e, g_i, g_m):",
}


def answer(name: str, body: str) -> str:
    """An answer cell: the item's signature and ``body`` (numpy imported as np)."""
    return SIGNATURES[name] + "\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n"


# ---------------------------------------------------------------------------- mutants
# (item, label, source, words one of which the failure message must contain)
WRONG = [
    # membrane_steady_state
    ("membrane_steady_state", "lecture's missing minus sign on the shunt term", answer("membrane_steady_state", """
        # tau_m du/dt = +R_m g_i u + R_m g_e (E_e - u) - u, measured from rest
        return u_rest + g_e * (E_e - u_rest) / (g_m + g_e - g_i)
        """), ["sign", "-g_i (u - E_i)"]),
    ("membrane_steady_state", "outward inhibitory current g_i (u - E_i)", answer("membrane_steady_state", """
        return (g_m * u_rest + g_e * E_e - g_i * E_i) / (g_m + g_e - g_i)
        """), ["sign", "-g_i (u - E_i)"]),
    ("membrane_steady_state", "inhibition only subtracts (g_i not in the denominator)", answer("membrane_steady_state", """
        return (g_m * u_rest + g_e * E_e + g_i * E_i) / (g_m + g_e)
        """), ["rest", "shunting"]),
    ("membrane_steady_state", "u_rest ignored (lecture's rest = 0)", answer("membrane_steady_state", """
        return (g_e * E_e + g_i * E_i) / (g_m + g_e + g_i)
        """), ["rest", "u_rest"]),
    ("membrane_steady_state", "E_i taken to be u_rest (shunting only)", answer("membrane_steady_state", """
        return (g_m * u_rest + g_e * E_e + g_i * u_rest) / (g_m + g_e + g_i)
        """), ["hyperpolarising", "E_i"]),
    ("membrane_steady_state", "current-based excitation", answer("membrane_steady_state", """
        return (g_m * u_rest + g_e * (E_e - u_rest) + g_i * E_i) / (g_m + g_i)
        """), ["E_e", "half way"]),
    ("membrane_steady_state", "leak hard-coded to 10 nS", answer("membrane_steady_state", """
        return (10.0 * u_rest + g_e * E_e + g_i * E_i) / (10.0 + g_e + g_i)
        """), ["u_inf"]),
    # membrane_time_constant
    ("membrane_time_constant", "inhibition leaves tau' unchanged", answer("membrane_time_constant", """
        return C_m / (g_m + g_e) + 0.0 * g_i
        """), ["inhibitory", "tau'"]),
    ("membrane_time_constant", "lecture's sign: shunt subtracts conductance", answer("membrane_time_constant", """
        return C_m / (g_m + g_e - g_i)
        """), ["inhibitory", "tau'"]),
    ("membrane_time_constant", "leak only (tau_m)", answer("membrane_time_constant", """
        return C_m / g_m + 0.0 * (g_e + g_i)
        """), ["halve", "tau'"]),
    ("membrane_time_constant", "C_m hard-coded to 200 pF", answer("membrane_time_constant", """
        return 200.0 / (g_m + g_e + g_i)
        """), ["tau'"]),
]

# Correct answers written differently.
RIGHT = [
    ("membrane_steady_state", "deflections from rest", answer("membrane_steady_state", """
        g_tot = g_m + np.asarray(g_e, dtype=float) + g_i
        return u_rest + (g_e * (E_e - u_rest) + g_i * (E_i - u_rest)) / g_tot
        """)),
    ("membrane_steady_state", "weights of a mean", answer("membrane_steady_state", """
        g_tot = np.add(np.add(g_m, g_e), g_i)
        return (g_m / g_tot) * u_rest + (g_e / g_tot) * E_e + (g_i / g_tot) * E_i
        """)),
    ("membrane_time_constant", "inverse of the rate", answer("membrane_time_constant", """
        return 1.0 / ((g_m + np.asarray(g_e, dtype=float) + g_i) / C_m)
        """)),
    ("membrane_time_constant", "tau_m / (1 + (g_e + g_i)/g_m)", answer("membrane_time_constant", """
        tau_m = C_m / g_m
        return tau_m / (1.0 + (np.asarray(g_e, dtype=float) + g_i) / g_m)
        """)),
]

# Attempts to get the points without doing the work.
CHEATS = [
    ("membrane_steady_state", "re-exported reference", "from helpers.membrane import membrane_steady_state\n"),
    ("membrane_time_constant", "wrapper around the reference", answer("membrane_time_constant", """
        from helpers import membrane
        return membrane.membrane_time_constant(C_m, g_e, g_i, g_m)
        """)),
    ("membrane_steady_state", "patched numpy comparisons", answer("membrane_steady_state", """
        return 0.0 * (np.asarray(g_e, dtype=float) + g_i + E_e + E_i + g_m) + u_rest
        """) + "np.isclose = lambda *a, **k: np.True_\nnp.allclose = lambda *a, **k: True\n"),
]


@pytest.fixture(scope="module")
def kernel():
    with NotebookKernel(NOTEBOOK) as nb:
        nb.run_setup()
        nb.run_cells(SIGNATURES)
        yield nb


def _label(case):
    return f"{case[0]}: {case[1]}"


@pytest.mark.parametrize("name", list(SIGNATURES))
def test_stored_solution_passes(kernel, name):
    ok, err = kernel.try_answer(name, kernel.cell(name).source)
    assert ok, f"stored solution of {name} fails its own tests: {err}"


@pytest.mark.parametrize("case", WRONG, ids=_label)
def test_wrong_answer_fails_with_a_physics_message(kernel, case):
    name, label, source, words = case
    ok, err = kernel.try_answer(name, source)
    assert not ok, f"{name} accepted a wrong answer ({label})"
    assert err.startswith("GradingError: ") and "\n" not in err and "Traceback" not in err, err
    assert any(word in err for word in words), f"{label}: message does not point at the physics: {err}"


@pytest.mark.parametrize("case", RIGHT, ids=_label)
def test_correct_answer_written_differently_passes(kernel, case):
    name, label, source = case
    ok, err = kernel.try_answer(name, source)
    assert ok, f"{name} rejected a correct answer ({label}): {err}"


@pytest.mark.parametrize("case", CHEATS, ids=_label)
def test_shortcuts_earn_nothing(kernel, case):
    name, label, source = case
    ok, err = kernel.try_answer(name, source)
    kernel.run("import importlib, numpy\n"
               "from numpy._core.numeric import isclose as _isc, allclose as _alc\n"
               "numpy.isclose, numpy.allclose = _isc, _alc\n"
               "globals().pop('abs', None)\n")
    assert not ok, f"{name} gave points for a shortcut ({label})"
    assert err.startswith("GradingError: "), err


def _released_source(name: str) -> str:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb, _ = InstructiveClearSolutions().preprocess(nb, {})
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == name:
            return cell.source
    raise KeyError(name)


@pytest.mark.parametrize("name", list(SIGNATURES))
def test_release_stub_fails_with_its_instruction(kernel, name):
    stored = kernel.cell(name).source
    instruction = re.search(r"# TODO: (.+)", stored).group(1).strip()
    stub = _released_source(name)
    assert "BEGIN SOLUTION" not in stub and not re.search(r"^\s*return\b", stub, re.M)
    assert SIGNATURES[name] in stub  # the student sees the signature
    ok, err = kernel.try_answer(name, stub)
    assert not ok
    assert err.startswith("GradingError: ") and "NotImplementedError" in err and instruction in err, err
