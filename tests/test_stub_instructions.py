"""Stub instructions say what to return, never how: no answer formula in any released stub.

An instruction (the ``raise NotImplementedError("...")`` line of a released answer
cell) may name the quantity, its unit and its inputs. It must not contain an
operator expression, a function call of the maths library or a numeric factor
that would make the coding a transcription.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
RELEASE = ROOT / "release" / "synapses"

#: patterns of a formula: maths calls, arithmetic between names, 1000 / ..., a bracket raised to a power
FORMULA = [
    (re.compile(r"\b(exp|ln|log|log1p|sqrt|max|maximum|where)\s*\("), "a maths function call"),
    (re.compile(r"\w\s*[*/]\s*[\w(]"), "a product or quotient"),
    (re.compile(r"\)\s*[-+*/^]|[-+]\s*\("), "an operation on a bracket"),
    (re.compile(r"\b\d+(\.\d+)?\s*[*/]"), "a numeric factor"),
    (re.compile(r"\]_\+|\^\s*2|\*\*"), "a power"),
]


def instructions():
    out = []
    for path in sorted(RELEASE.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for m in re.finditer(r"raise NotImplementedError\((['\"])(.*)\1\)", cell.source):
                out.append((path.name, m.group(2)))
    return out


def test_every_answer_stub_has_an_instruction():
    assert len(instructions()) >= 20


@pytest.mark.parametrize("where, text", instructions(), ids=lambda x: x[:60] if isinstance(x, str) else x)
def test_instruction_contains_no_formula(where, text):
    # units such as "Hz/mV^2" and "dr/dI_e" name a quantity, not a formula
    cleaned = re.sub(r"Hz/mV\^2|dr/dI_e|dg/dt|dx/dt|du/dt|\bt\* ", "", text)
    for pattern, what in FORMULA:
        assert not pattern.search(cleaned), f"{where}: the instruction contains {what}: {text}"


def test_the_check_catches_an_old_instruction():
    old = "return 1000 / (t_ref + tau_m ln((u_inf - u_reset)/(u_inf - u_th))) in Hz"
    assert any(p.search(old) for p, _ in FORMULA)
    old = "return m * [g_e E_e / (g_e + g_i + g_m)]_+^2, where [x]_+ = max(x, 0)"
    assert any(p.search(old) for p, _ in FORMULA)
    old = "return 1 / (1 + mg/3.57 * exp(-0.062 * u)) (u in mV, mg in mM)."
    assert any(p.search(old) for p, _ in FORMULA)


@pytest.mark.parametrize("where, text", instructions(), ids=lambda x: x[:60] if isinstance(x, str) else x)
def test_instruction_reaches_the_student_whole(where, text):
    """The failing test cell shows "GradingError: <name> raised NotImplementedError: <instruction>", and the
    course's IPython handler cuts any error line after 200 characters: the instruction must fit."""
    assert len("GradingError: dual_exp_conductance raised NotImplementedError: " + text) <= 200, \
        f"{where}: instruction too long ({len(text)} characters): {text}"
