"""Mutation tests of notebook 06 (Carandini-Heeger rate against the LIF f-I curve).

One kernel runs the set-up cell once; per mutant only the answer cell (replaced
by the mutant) and that item's test cell run (tests/nbkernel.py). Wrong answers,
the lecture's own errors among them (E_i = -70 mV written into the model, the
shunt with the wrong sign, a current where a conductance belongs), must fail
with a message about the physics; correct answers written another way must
pass; so must the stored solution; shortcuts (re-exported references, patched
grading code) earn nothing, and the released stub fails with its instruction.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import nbformat
import pytest

from nbkernel import NotebookKernel

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "source" / "synapses" / "06_carandini_heeger.ipynb"
RELEASE = ROOT / "release" / "synapses" / NOTEBOOK.name

pytestmark = [pytest.mark.notebooks, pytest.mark.brian]

SIGNATURES = {
    "lif_rate": "def lif_rate(I_e, C_m, g_l, u_rest, u_th, u_reset, t_ref=0.0):",
    "lif_rate_linear": "def lif_rate_linear(I_e, C_m, g_l, u_rest, u_th, u_reset):",
    "ch_rate": "def ch_rate(g_e, g_i, E_e, g_m, m=1.0):",
}
#: Answers that are values (a string), not functions.
VALUES = ("shunting_effect", "lif_model")
#: Answer cells in notebook order, with the locked Brian2 set-up cell that lif_model needs.
ORDER = ["lif_rate", "lif_rate_linear", "shunting_effect", "brian_setup", "lif_model", "ch_rate"]


def answer(name: str, body: str) -> str:
    """A function answer: the item's signature and ``body`` (numpy imported as np)."""
    return SIGNATURES[name] + "\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n"


def model(equations: str) -> str:
    """A lif_model answer cell."""
    return 'lif_model = """\n' + textwrap.dedent(equations).strip("\n") + '\n"""\n'


_SILENT = "np.where(u_inf > u_th, u_inf, u_th + 1.0)"

# ---------------------------------------------------------------------------- mutants
# (item, label, source, words one of which the failure message must contain)
WRONG = [
    # lif_rate
    ("lif_rate", "rate in kHz (1/interval in ms)", answer("lif_rate", f"""
        u_inf = u_rest + np.asarray(I_e, dtype=float) / g_l
        u = {_SILENT}
        return np.where(u_inf > u_th, 1.0 / (t_ref + C_m / g_l * np.log((u - u_reset) / (u - u_th))), 0.0)
        """), ["kHz", "1000 / (t_ref"]),
    ("lif_rate", "logarithm upside down", answer("lif_rate", f"""
        u_inf = u_rest + np.asarray(I_e, dtype=float) / g_l
        u = {_SILENT}
        return np.where(u_inf > u_th, 1000.0 / (t_ref + C_m / g_l * np.log((u - u_th) / (u - u_reset))), 0.0)
        """), ["expected 72.13 Hz", "ln((u_inf - u_reset)/(u_inf - u_th))"]),
    ("lif_rate", "refractory period ignored", answer("lif_rate", f"""
        u_inf = u_rest + np.asarray(I_e, dtype=float) / g_l
        u = {_SILENT}
        return np.where(u_inf > u_th, 1000.0 / (C_m / g_l * np.log((u - u_reset) / (u - u_th))), 0.0)
        """), ["t_ref"]),
    ("lif_rate", "u_rest in place of u_reset", answer("lif_rate", f"""
        u_inf = u_rest + np.asarray(I_e, dtype=float) / g_l
        u = {_SILENT}
        return np.where(u_inf > u_th, 1000.0 / (t_ref + C_m / g_l * np.log((u - u_rest) / (u - u_th))), 0.0)
        """), ["u_reset"]),
    ("lif_rate", "NaN below the rheobase", answer("lif_rate", """
        u_inf = u_rest + np.asarray(I_e, dtype=float) / g_l
        with np.errstate(all="ignore"):
            return 1000.0 / (t_ref + C_m / g_l * np.log((u_inf - u_reset) / (u_inf - u_th)))
        """), ["NaN", "rheobase"]),
    ("lif_rate", "tau_m = g_l / C_m", answer("lif_rate", f"""
        u_inf = u_rest + np.asarray(I_e, dtype=float) / g_l
        u = {_SILENT}
        return np.where(u_inf > u_th, 1000.0 / (t_ref + g_l / C_m * np.log((u - u_reset) / (u - u_th))), 0.0)
        """), ["expected 72.13 Hz", "tau_m = C_m/g_l"]),
    # lif_rate_linear
    ("lif_rate_linear", "not rectified", answer("lif_rate_linear", """
        u_inf = u_rest + np.asarray(I_e, dtype=float) / g_l
        return 1000.0 * (u_inf - u_th) / (C_m / g_l * (u_th - u_reset))
        """), ["return 0 there", "0 where that is negative"]),
    ("lif_rate_linear", "asymptote with the 1/(2 tau) offset", answer("lif_rate_linear", """
        tau = C_m / g_l
        u_inf = u_rest + np.asarray(I_e, dtype=float) / g_l
        return np.maximum(1000.0 * ((u_inf - u_th) / (tau * (u_th - u_reset)) + 0.5 / tau), 0.0)
        """), ["expected 50 Hz", "(u_inf - u_th)"]),
    ("lif_rate_linear", "depolarisation from rest, not from threshold", answer("lif_rate_linear", """
        u_inf = u_rest + np.asarray(I_e, dtype=float) / g_l
        return np.maximum(1000.0 * (u_inf - u_rest) / (C_m / g_l * (u_th - u_reset)), 0.0)
        """), ["expected 50 Hz", "(u_inf - u_th)"]),
    ("lif_rate_linear", "slope from g_l instead of C_m", answer("lif_rate_linear", """
        return np.maximum(1000.0 * (np.asarray(I_e, dtype=float) - g_l * (u_th - u_rest)) / (g_l * (u_th - u_reset)), 0.0)
        """), ["expected 50 Hz", "tau_m (u_th - u_reset)"]),
    # shunting_effect
    ("shunting_effect", "divisive", 'shunting_effect = "divisive"\n', ["rheobase"]),
    ("shunting_effect", "not one of the answers", 'shunting_effect = "shift"\n', ["choose one of"]),
    # lif_model
    ("lif_model", "shunt with the wrong sign", model("""
        du/dt = (g_l*(u_rest - u) + g_i*(u - E_i) + I) / C_m : volt (unless refractory)
        I : amp
        g_i : siemens
        """), ["simulated rate", "grows without bound"]),
    ("lif_model", "lecture's E_i = -70 mV written in", model("""
        du/dt = (g_l*(u_rest - u) + g_i*(-70*mV - u) + I) / C_m : volt (unless refractory)
        I : amp
        g_i : siemens
        """), ["simulated rate"]),
    ("lif_model", "E_i replaced by u_rest", model("""
        du/dt = (g_l*(u_rest - u) + g_i*(u_rest - u) + I) / C_m : volt (unless refractory)
        I : amp
        g_i : siemens
        """), ["E_i = -80 mV"]),
    ("lif_model", "shunt as a current g_i (E_i - u_rest), not a conductance", model("""
        du/dt = (g_l*(u_rest - u) + g_i*(E_i - u_rest) + I) / C_m : volt (unless refractory)
        I : amp
        g_i : siemens
        """), ["simulated rate"]),
    ("lif_model", "input divided by the conductance", model("""
        du/dt = (g_l*(u_rest - u) + I*g_l/(g_l + g_i)) / C_m : volt (unless refractory)
        I : amp
        g_i : siemens
        """), ["simulated rate"]),
    ("lif_model", "missing C_m (units)", model("""
        du/dt = g_l*(u_rest - u) + g_i*(E_i - u) + I : volt
        I : amp
        g_i : siemens
        """), ["units"]),
    ("lif_model", "one current for all neurons", model("""
        du/dt = (g_l*(u_rest - u) + g_i*(E_i - u) + I) / C_m : volt
        I : amp (shared)
        g_i : siemens
        """), ["per neuron"]),
    # ch_rate
    ("ch_rate", "squared without rectification", answer("ch_rate", """
        V = np.asarray(g_e, dtype=float) * E_e / (np.asarray(g_e, dtype=float) + g_i + g_m)
        return m * V ** 2
        """), ["rectify", "]_+^2"]),
    ("ch_rate", "not squared", answer("ch_rate", """
        V = np.asarray(g_e, dtype=float) * E_e / (np.asarray(g_e, dtype=float) + g_i + g_m)
        return m * np.maximum(V, 0.0)
        """), ["expected (650/20)^2", "]_+^2"]),
    ("ch_rate", "shunt subtracted instead of in the denominator", answer("ch_rate", """
        g_e = np.asarray(g_e, dtype=float)
        V = (g_e * E_e - g_i * 10.0) / (g_e + g_m)
        return m * np.maximum(V, 0.0) ** 2
        """), ["denominator", "(g_e + g_i + g_m)"]),
    ("ch_rate", "g_e missing from the denominator", answer("ch_rate", """
        V = np.asarray(g_e, dtype=float) * E_e / (g_i + g_m)
        return m * np.maximum(V, 0.0) ** 2
        """), ["expected (650/20)^2", "(g_e + g_i + g_m)"]),
]

RIGHT = [
    ("lif_rate", "log1p of a safe ratio", answer("lif_rate", """
        I_e = np.asarray(I_e, dtype=float)
        excess = u_rest + I_e / g_l - u_th                  # u_inf - u_th
        z = np.divide(u_th - u_reset, excess, out=np.full(np.shape(excess), np.inf), where=excess > 0)
        T = t_ref + C_m / g_l * np.log1p(z)
        return np.divide(1000.0, T, out=np.zeros(np.shape(T)), where=excess > 0)
        """)),
    ("lif_rate", "np.vectorize over a scalar formula", "import math\n" + answer("lif_rate", """
        def one(I):
            u_inf = u_rest + I / g_l
            if u_inf <= u_th:
                return 0.0
            return 1000.0 / (t_ref + C_m / g_l * math.log((u_inf - u_reset) / (u_inf - u_th)))
        return np.vectorize(one, otypes=[float])(I_e)
        """)),
    ("lif_rate_linear", "in currents, with np.clip", answer("lif_rate_linear", """
        I_rh = g_l * (u_th - u_rest)
        return np.clip(1000.0 * (np.asarray(I_e, dtype=float) - I_rh) / (C_m * (u_th - u_reset)), 0.0, None)
        """)),
    ("shunting_effect", "capitals and spaces", 'shunting_effect = " Subtractive "\n'),
    ("lif_model", "time constant as a subexpression, no refractory flag", model("""
        du/dt = -(u - u_rest)/tau_m - g_i*(u - E_i)/C_m + I/C_m : volt
        tau_m = C_m/g_l : second
        I : amp
        g_i : siemens
        """)),
    ("lif_model", "total conductance and weighted reversal", model("""
        du/dt = (g_l*u_rest + g_i*E_i + I - (g_l + g_i)*u) / C_m : volt (unless refractory)
        g_i : siemens
        I : amp
        """)),
    ("ch_rate", "np.where and explicit product", answer("ch_rate", """
        g_e, g_i = np.broadcast_arrays(np.asarray(g_e, dtype=float), np.asarray(g_i, dtype=float))
        V = g_e * E_e / (g_e + g_i + g_m)
        return np.where(V > 0, m * V * V, 0.0)
        """)),
]

CHEATS = [
    ("lif_rate", "re-exported reference", "from helpers.lif_rate import lif_rate\n"),
    ("ch_rate", "wrapper around the reference", answer("ch_rate", """
        from helpers import lif_rate as _h
        return _h.ch_rate(g_e, g_i, E_e, g_m, m)
        """)),
    ("lif_model", "reference string", "from helpers.brian_reference import LIF_MODEL as lif_model\n"),
    ("lif_rate_linear", "patched grading module", answer("lif_rate_linear", """
        return 0.0 * np.asarray(I_e, dtype=float)
        """) + "import helpers.grading as _hg\n_hg.check_values = _hg.check_own_work = lambda *a, **k: None\n"
        "import numpy\nnumpy.isclose = lambda *a, **k: True\n"),
]

# Undo what the cheats patch, so the next tests run on a clean kernel.
_RESTORE = """
import importlib, numpy, helpers.grading
from numpy._core.numeric import isclose as _isclose
numpy.isclose = _isclose
importlib.reload(helpers.grading)
grading = helpers.grading
"""


@pytest.fixture(scope="module")
def kernel():
    with NotebookKernel(NOTEBOOK) as nb:
        nb.run_setup()
        nb.run_cells(ORDER)  # every stored answer, so later items see correct definitions
        yield nb


def _label(case):
    return f"{case[0]}: {case[1]}"


def _hidden_part(kernel, name):
    source = kernel.test_cell_for(name).source
    return source[source.index("### BEGIN HIDDEN TESTS"):]


@pytest.mark.parametrize("name", list(SIGNATURES) + list(VALUES))
def test_stored_solution_passes(kernel, name):
    ok, err = kernel.try_answer(name, kernel.cell(name).source)
    assert ok, f"stored solution of {name} fails its own tests: {err}"


@pytest.mark.parametrize("case", WRONG, ids=_label)
def test_wrong_answer_fails_with_a_physics_message(kernel, case):
    name, label, source, words = case
    ok, err = kernel.try_answer(name, source)
    assert not ok, f"{name} accepted a wrong answer ({label})"
    assert err.startswith("GradingError: "), err
    assert "\n" not in err.strip(), f"more than one line: {err}"
    assert any(word in err for word in words), f"{label}: message does not point at the physics: {err}"


@pytest.mark.parametrize("case", WRONG, ids=_label)
def test_hidden_tests_alone_catch_the_wrong_answer(kernel, case):
    """The hidden tests must not lean on the visible checks."""
    name, label, source, words = case
    ok, err = kernel.run(source)
    assert ok, err
    try:
        ok, err = kernel.run(_hidden_part(kernel, name))
    finally:
        restored, rerr = kernel.run(kernel.cell(name).source)
        assert restored, rerr
    assert not ok, f"the hidden tests of {name} accept a wrong answer ({label})"
    assert err.startswith("GradingError: "), err
    assert any(word in err for word in words), f"{label}: hidden message does not point at the physics: {err}"


@pytest.mark.parametrize("case", RIGHT, ids=_label)
def test_correct_answer_written_differently_passes(kernel, case):
    name, label, source = case
    ok, err = kernel.try_answer(name, source)
    assert ok, f"{name} rejected a correct answer ({label}): {err}"


@pytest.mark.parametrize("case", CHEATS, ids=_label)
def test_shortcuts_earn_nothing(kernel, case):
    name, label, source = case
    try:
        ok, err = kernel.try_answer(name, source)
    finally:
        restored, rerr = kernel.run(_RESTORE)
        assert restored, rerr
        restored, rerr = kernel.run(kernel.cell(name).source)
        assert restored, rerr
    assert not ok, f"{name} gave points for a shortcut ({label})"
    assert "GradingError" in err and ("reference code" in err or "changed the grading code" in err
                                      or "replaced numpy" in err), err


def test_hidden_messages_do_not_reveal_expected_values(kernel):
    """A wrong lif_rate gets the rule, not the reference's number."""
    source = WRONG[3][2]  # u_rest in place of u_reset: only the hidden tests see it
    ok, err = kernel.run(source)
    assert ok, err
    try:
        ok, err = kernel.run(_hidden_part(kernel, "lif_rate"))
    finally:
        kernel.run(kernel.cell("lif_rate").source)
    assert not ok and "it should be 1000 / (t_ref" in err and "expected" not in err, err


# ---------------------------------------------------------------------------- release
def _released_source(name: str) -> str:
    """The answer cell ``name`` as students get it (release/, made by nbgrader)."""
    nb = nbformat.read(RELEASE, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == name:
            return cell.source
    raise KeyError(f"{RELEASE.name} has no cell {name!r}")


def _instruction(kernel, name):
    return re.search(r"# TODO: (.+)", kernel.cell(name).source).group(1).strip()


def _released_stub_lines(kernel, name):
    instruction = _instruction(kernel, name)
    stub = _released_source(name)
    assert "BEGIN SOLUTION" not in stub and "np.log" not in stub and "g_i*(E_i" not in stub
    lines = [line.strip() for line in stub.splitlines()]
    todo = lines.index("# TODO: " + instruction)
    assert lines[todo + 1].startswith("raise NotImplementedError(")
    return instruction, stub


@pytest.mark.skipif(not RELEASE.exists(), reason="release/ not generated yet")
@pytest.mark.parametrize("name", list(SIGNATURES))
def test_release_stub_fails_with_its_instruction(kernel, name):
    """The released function keeps its signature and raises its one-line instruction in the test cell."""
    instruction, stub = _released_stub_lines(kernel, name)
    assert SIGNATURES[name] in stub
    ok, err = kernel.try_answer(name, stub)
    assert not ok
    assert err.startswith("GradingError: " + name + " raised NotImplementedError: "), err
    # The stub's message is the instruction itself, or points at it (nbgrader_config.py decides).
    assert instruction in err or "instruction above" in err, err


@pytest.mark.skipif(not RELEASE.exists(), reason="release/ not generated yet")
@pytest.mark.parametrize("name", VALUES)
def test_release_value_stub_raises_its_instruction_and_the_test_cell_fails(kernel, name):
    """A value answer's stub raises its instruction when the cell runs; the test cell then fails cleanly."""
    instruction, stub = _released_stub_lines(kernel, name)
    try:
        ok, err = kernel.run(f"del {name}")
        assert ok, err
        ok, err = kernel.run(stub)
        assert not ok and err.startswith("NotImplementedError: "), err
        assert instruction in err or "instruction above" in err, err
        ok, err = kernel.run(kernel.test_cell_for(name).source)
        assert not ok and err == f"GradingError: {name} is not defined; run the cell that defines it", err
    finally:
        restored, rerr = kernel.run(kernel.cell(name).source)
        assert restored, rerr


def test_generated_stub_raises_the_instruction_itself(kernel):
    """With helpers.nbgrader_ext.InstructiveClearSolutions every stub's error is its instruction."""
    from helpers.nbgrader_ext import InstructiveClearSolutions

    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb, _ = InstructiveClearSolutions().preprocess(nb, {})
    seen = set()
    for cell in nb.cells:
        name = cell.metadata.get("nbgrader", {}).get("grade_id")
        if name in SIGNATURES or name in VALUES:
            seen.add(name)
            instruction = _instruction(kernel, name)
            try:
                ok, err = kernel.run(cell.source)
                if ok:  # a function stub raises when the test cell calls it
                    ok, err = kernel.run(kernel.test_cell_for(name).source)
            finally:
                restored, rerr = kernel.run(kernel.cell(name).source)
                assert restored, rerr
            assert not ok and instruction in err, err
    assert seen == set(SIGNATURES) | set(VALUES)


def test_written_answers_are_manually_graded_cells():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    written = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells
               if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("solution")}
    assert set(written) == {"shunting_answer", "poisson_answer"}
    for cell in written.values():
        meta = cell.metadata["nbgrader"]
        assert meta["grade"] and meta["points"] == 2 and not meta["locked"] and not meta["task"]
