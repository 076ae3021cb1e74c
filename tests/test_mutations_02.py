"""Mutation tests of notebook 02 (ODE synapses in Brian2).

One kernel runs the set-up cell once; per mutant only the answer cell (replaced
by the mutant) and that item's test cell run (tests/nbkernel.py). Wrong answers,
the lecture's own errors among them (the alpha ODE with x += w that peaks at
w/e, the peak time tau_rise ln(tau_decay/tau_rise), the unnormalised dual
exponential), must fail with a message about the physics, also when only the
hidden tests run; answers that hard-code the visible test's numbers must fail
the hidden tests; correct answers written another way must pass; so must the
stored solution, and the released stub must fail with its instruction.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import nbformat
import pytest

from nbkernel import NotebookKernel

from helpers.nbgrader_ext import InstructiveClearSolutions

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "source" / "synapses" / "02_ode_synapses.ipynb"
RELEASE = ROOT / "release" / "synapses" / NOTEBOOK.name

pytestmark = [pytest.mark.notebooks, pytest.mark.brian]

ITEMS = ["alpha_model", "dual_exp_peak_time", "dual_exp_model"]
#: Names each answer cell must define.
DEFINES = {
    "alpha_model": ("alpha_model", "alpha_on_pre"),
    "dual_exp_peak_time": ("dual_exp_peak_time",),
    "dual_exp_model": ("dual_exp_model", "dual_exp_on_pre"),
}
PEAK_TIME_DEF = "def dual_exp_peak_time(tau_rise, tau_decay):"


def strings(model: str, on_pre: str, prefix: str) -> str:
    """An answer cell defining ``<prefix>_model`` and ``<prefix>_on_pre``."""
    model = textwrap.dedent(model).strip("\n")
    return f"{prefix}_model = '''\n{model}\n'''\n{prefix}_on_pre = {on_pre!r}\n"


def peak_time(body: str) -> str:
    return PEAK_TIME_DEF + "\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n"


ALPHA_ODES = """
dg/dt = (x - g) / tau : 1 (clock-driven)
dx/dt = -x / tau : 1 (clock-driven)
"""
DUAL_ODES_NO_K = """
dg/dt = (x - g) / tau_rise : 1 (clock-driven)
dx/dt = -x / tau_decay : 1 (clock-driven)
"""

# ---------------------------------------------------------------------------- mutants
# (item, label, source, words one of which the failure message must contain,
#  whether the visible checks already catch it)
WRONG = [
    # alpha_model / alpha_on_pre
    ("alpha_model", "lecture: x += w peaks at w/e", strings(ALPHA_ODES, "x += w", "alpha"),
     ["w/e", "should be w"], True),
    ("alpha_model", "x decays twice as slowly", strings("""
        dg/dt = (x - g) / tau : 1 (clock-driven)
        dx/dt = -x / (2 * tau) : 1 (clock-driven)
        """, "x += e * w", "alpha"), ["peak", "departs", "expected"], True),
    ("alpha_model", "x grows: dx/dt = +x/tau", strings("""
        dg/dt = (x - g) / tau : 1 (clock-driven)
        dx/dt = x / tau : 1 (clock-driven)
        """, "x += e * w", "alpha"), ["peak", "departs", "expected", "too large"], True),
    ("alpha_model", "tau hard-coded as 5 ms (visible test passes)", strings("""
        dg/dt = (x - g) / (5 * ms) : 1 (clock-driven)
        dx/dt = -x / (5 * ms) : 1 (clock-driven)
        """, "x += e * w", "alpha"), ["t_s + tau", "departs"], False),
    ("alpha_model", "w hard-coded as 1 (visible test passes)", strings(ALPHA_ODES, "x += e", "alpha"),
     ["should be w", "departs"], False),
    ("alpha_model", "missing (clock-driven)", strings("""
        dg/dt = (x - g) / tau : 1
        dx/dt = -x / tau : 1
        """, "x += e * w", "alpha"), ["clock-driven"], True),
    # dual_exp_peak_time
    ("dual_exp_peak_time", "lecture: tau_rise ln(tau_decay/tau_rise)", peak_time("""
        return tau_rise * np.log(tau_decay / tau_rise)
        """), ["tau_rise tau_decay / (tau_decay - tau_rise)", "misses the factor"], True),
    ("dual_exp_peak_time", "ln(tau_rise/tau_decay): negative time", peak_time("""
        return tau_rise * tau_decay / (tau_decay - tau_rise) * np.log(tau_rise / tau_decay)
        """), ["tau_rise tau_decay / (tau_decay - tau_rise)", "expected"], True),
    ("dual_exp_peak_time", "returns a plain number in ms for Brian2 input", peak_time("""
        t = tau_rise * tau_decay / (tau_decay - tau_rise) * np.log(tau_decay / tau_rise)
        return float(t / ms) if hasattr(t, "dim") else t
        """), ["plain number", "Brian2 quantity"], True),
    ("dual_exp_peak_time", "log missing", peak_time("""
        return tau_rise * tau_decay / (tau_decay - tau_rise)
        """), ["tau_rise tau_decay / (tau_decay - tau_rise)", "expected"], True),
    # dual_exp_model / dual_exp_on_pre
    ("dual_exp_model", "no normalisation k: peaks at w/k", strings(DUAL_ODES_NO_K, "x += w", "dual_exp"),
     ["w/k", "should be w"], True),
    ("dual_exp_model", "factor e of the alpha synapse instead of k", strings(
        DUAL_ODES_NO_K, "x += e * w", "dual_exp"), ["should be w", "expected"], True),
    ("dual_exp_model", "k inverted", strings("""
        dg/dt = (k * x - g) / tau_rise : 1 (clock-driven)
        dx/dt = -x / tau_decay : 1 (clock-driven)
        k = (tau_rise / tau_decay) ** (tau_rise / (tau_decay - tau_rise)) : 1
        """, "x += w", "dual_exp"), ["should be w", "expected"], True),
    ("dual_exp_model", "time constants swapped", strings("""
        dg/dt = (k * x - g) / tau_decay : 1 (clock-driven)
        dx/dt = -x / tau_rise : 1 (clock-driven)
        k = (tau_decay / tau_rise) ** (tau_rise / (tau_decay - tau_rise)) : 1
        """, "x += w", "dual_exp"), ["should be w", "expected"], True),
    ("dual_exp_model", "k hard-coded for 8 ms / 60 ms (visible test passes)", strings("""
        dg/dt = (7.5 ** (8.0 / 52.0) * x - g) / tau_rise : 1 (clock-driven)
        dx/dt = -x / tau_decay : 1 (clock-driven)
        """, "x += w", "dual_exp"), ["should be w", "departs"], False),
]

RIGHT = [
    ("alpha_model", "factor e inside the equation, x += w", strings("""
        dg/dt = (e * x - g) / tau : 1 (clock-driven)
        dx/dt = -x / tau : 1 (clock-driven)
        """, "x += w", "alpha")),
    ("alpha_model", "x = x + e*w and a written-out rate", strings("""
        dx/dt = -x * (1 / tau) : 1 (clock-driven)
        dg/dt = -(g - x) / tau : 1 (clock-driven)
        """, "x = x + e * w", "alpha")),
    ("dual_exp_peak_time", "ln(td/tr) / (1/tr - 1/td)", peak_time("""
        return np.log(tau_decay / tau_rise) / (1 / tau_rise - 1 / tau_decay)
        """)),
    ("dual_exp_peak_time", "tau_rise / (1 - tau_rise/tau_decay) ln(...)", peak_time("""
        ratio = tau_decay / tau_rise
        return tau_rise / (1 - 1 / ratio) * np.log(ratio)
        """)),
    ("dual_exp_model", "k in the jump", strings("""
        dg/dt = (x - g) / tau_rise : 1 (clock-driven)
        dx/dt = -x / tau_decay : 1 (clock-driven)
        """, "x += w * (tau_decay / tau_rise) ** (tau_rise / (tau_decay - tau_rise))", "dual_exp")),
    ("dual_exp_model", "difference of two decaying exponentials", strings("""
        da/dt = -a / tau_decay : 1 (clock-driven)
        db/dt = -b / tau_rise : 1 (clock-driven)
        t_peak = tau_rise * tau_decay / (tau_decay - tau_rise) * log(tau_decay / tau_rise) : second
        norm = exp(-t_peak / tau_decay) - exp(-t_peak / tau_rise) : 1
        g = (a - b) / norm : 1
        """, "a += w\nb += w", "dual_exp")),
]

CHEATS = [
    ("alpha_model", "re-exported reference strings",
     "from helpers.brian_reference import ALPHA_MODEL as alpha_model, ALPHA_ON_PRE as alpha_on_pre\n"),
    ("dual_exp_model", "re-exported reference strings",
     "from helpers import brian_reference as _r\n"
     "dual_exp_model, dual_exp_on_pre = _r.DUAL_EXP_MODEL, _r.DUAL_EXP_ON_PRE\n"),
    ("dual_exp_peak_time", "re-exported reference function",
     "from helpers.waveforms import dual_exp_peak_time\n"),
    ("dual_exp_peak_time", "wraps the reference function", peak_time("""
        from helpers import waveforms as _w
        return _w.dual_exp_peak_time(tau_rise, tau_decay)
        """)),
]


@pytest.fixture(scope="module")
def kernel():
    with NotebookKernel(NOTEBOOK) as nb:
        nb.run_setup()
        nb.run_cells(ITEMS)
        yield nb


def _label(case):
    return f"{case[0]}: {case[1]}"


def _hidden_part(kernel, name):
    source = kernel.test_cell_for(name).source
    return source[source.index("### BEGIN HIDDEN TESTS"):]


def _visible_part(kernel, name):
    source = kernel.test_cell_for(name).source
    return source[:source.index("### BEGIN HIDDEN TESTS")]


def test_points_and_items():
    """Three autograded items (3 + 2 + 3 points) and one written answer (2 points)."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    points = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"]
              for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")}
    assert points == {"test_alpha_model": 3, "test_dual_exp_peak_time": 2,
                      "test_dual_exp_model": 3, "linear_summation_answer": 2}
    for cell in nb.cells:
        assert cell.get("outputs", []) == [] and cell.get("execution_count") is None


@pytest.mark.parametrize("name", ITEMS)
def test_stored_solution_passes(kernel, name):
    ok, err = kernel.try_answer(name, kernel.cell(name).source)
    assert ok, f"stored solution of {name} fails its own tests: {err}"


@pytest.mark.parametrize("case", WRONG, ids=_label)
def test_wrong_answer_fails_with_a_physics_message(kernel, case):
    name, label, source, words, _ = case
    ok, err = kernel.try_answer(name, source)
    assert not ok, f"{name} accepted a wrong answer ({label})"
    assert err.startswith("GradingError: "), err
    assert any(word in err for word in words), f"{label}: message does not point at the physics: {err}"


@pytest.mark.parametrize("case", WRONG, ids=_label)
def test_hidden_tests_alone_catch_the_wrong_answer(kernel, case):
    """The hidden tests must not lean on the visible checks; hard-coded numbers pass only those."""
    name, label, source, words, caught_by_visible = case
    ok, err = kernel.run(source)
    assert ok, err
    try:
        visible_ok, visible_err = kernel.run(_visible_part(kernel, name))
        ok, err = kernel.run(_hidden_part(kernel, name))
    finally:
        restored, rerr = kernel.run(kernel.cell(name).source)
        assert restored, rerr
    assert visible_ok != caught_by_visible, f"{label}: visible checks {'pass' if visible_ok else 'fail'}: {visible_err}"
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
    """Re-exporting or calling a helpers reference fails the cell, and the hidden tests say why."""
    name, label, source = case
    ok, err = kernel.try_answer(name, source)
    assert not ok, f"{name} gave points for a shortcut ({label})"
    assert err.startswith("GradingError: "), err
    ok, err = kernel.run(source)
    assert ok, err
    try:
        ok, err = kernel.run(_hidden_part(kernel, name))
    finally:
        restored, rerr = kernel.run(kernel.cell(name).source)
        assert restored, rerr
    assert not ok and err.startswith("GradingError: ") and "reference code" in err, err


def test_hidden_messages_do_not_reveal_expected_values(kernel):
    """A hidden failure states the student's value and the rule, not the reference number."""
    ok, err = kernel.run(strings(ALPHA_ODES, "x += w", "alpha"))
    assert ok, err
    try:
        ok, err = kernel.run(_hidden_part(kernel, "alpha_model"))
    finally:
        kernel.run(kernel.cell("alpha_model").source)
    assert not ok
    # tau = 2 ms, w = 0.3: the student's peak 0.3/e = 0.110 is named, the expected 0.3 only as "w"
    assert "0.110" in err and "it should be w" in err, err


def _released_source(name: str) -> str:
    """The answer cell ``name`` as students get it (release/, made by nbgrader)."""
    nb = nbformat.read(RELEASE, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == name:
            return cell.source
    raise KeyError(f"{RELEASE.name} has no cell {name!r}")


def _solution_lines(kernel, name):
    """The non-blank lines between the solution markers of the stored answer."""
    source = kernel.cell(name).source
    body = source[source.index("### BEGIN SOLUTION") + 18:source.index("### END SOLUTION")]
    return [line.strip() for line in body.splitlines() if line.strip() not in ("", "\'\'\'")]


def _instruction(kernel, name):
    return re.search(r"# TODO: (.+)", kernel.cell(name).source).group(1).strip()


@pytest.mark.parametrize("name", ITEMS)
def test_release_stub_fails_with_its_instruction(kernel, name):
    """The released stub keeps the one-line instruction, hides the solution, and raises it."""
    if not RELEASE.exists():
        pytest.skip("release/ not generated yet (python -m helpers.release)")
    instruction = _instruction(kernel, name)
    stub = _released_source(name)
    assert "BEGIN SOLUTION" not in stub
    assert not set(_solution_lines(kernel, name)) & {l.strip() for l in stub.splitlines()}
    lines = [line.strip() for line in stub.splitlines()]
    todo = lines.index("# TODO: " + instruction)
    assert lines[todo + 1].startswith("raise NotImplementedError(")
    # The stub raises the instruction itself, or points at it (nbgrader_config.py decides).
    said = lines[todo + 1][len("raise NotImplementedError("):-1]
    if name == "dual_exp_peak_time":
        assert PEAK_TIME_DEF in stub
        ok, err = kernel.try_answer(name, stub)  # the definition runs; the test cell calls it
        assert not ok and err.startswith("GradingError: dual_exp_peak_time raised NotImplementedError: "), err
    else:
        ok, err = kernel.try_answer(name, stub)  # the string answers raise when the cell runs
        assert not ok and err.startswith("NotImplementedError: "), err
    assert instruction in err or "instruction above" in err, err
    assert ast.literal_eval(said) in err


def test_test_cells_name_an_undefined_answer(kernel):
    """Before the student runs an answer, its test cell says which name is missing."""
    ok, err = kernel.run("del alpha_model, alpha_on_pre")
    assert ok, err
    try:
        ok, err = kernel.run(kernel.test_cell_for("alpha_model").source)
    finally:
        kernel.run(kernel.cell("alpha_model").source)
    assert not ok and err == ("GradingError: alpha_model is not defined; run the cell that defines it"), err


def test_generated_stub_raises_the_instruction_itself(kernel):
    """With helpers.nbgrader_ext.InstructiveClearSolutions the stub's error is the instruction."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb, _ = InstructiveClearSolutions().preprocess(nb, {})
    for cell in nb.cells:
        name = cell.metadata.get("nbgrader", {}).get("grade_id")
        if name in ITEMS:
            ok, err = kernel.try_answer(name, cell.source)
            assert not ok and _instruction(kernel, name) in err, err
