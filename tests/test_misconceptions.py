"""Misconception identifiers: named at the source, carried by the grader, never shown to students.

* ``GradingError`` carries an optional identifier; the checks of
  ``helpers.grading`` set one where they recognise a known wrong answer.
* The trusted grader's ``run_cell`` adds a marker output naming it
  (``coursekit.answers.misconceptions``) and keeps it out of the error's sentence.
* Every WRONG row of the mutation tables (one per notebook) is reported with the
  identifier in its table's ``MISCONCEPTIONS`` (``coursekit.answers.nbNN``): the row's answer replaces the stored
  one in a kernel of the notebook and the item's whole test cell runs through
  the grader's own ``run_cell`` (what ``nbgrader autograde`` runs; only the
  student's functions are real functions instead of the grader's proxies).
* Feedback generated from an autograded notebook with markers holds no
  identifier (``test_feedback_shows_no_identifier``).
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import numpy as np
import pytest

from coursekit.grading import grader
from coursekit.answers import misconceptions
from coursekit.answers.tables import EXPECTED, table
from helpers import grading
from nbkernel import NotebookKernel

ROOT = Path(__file__).resolve().parents[1]
#: Notebook number -> source notebook, for every notebook of the course.
NOTEBOOKS = {int(p.name[:2]): p for p in sorted((ROOT / "source" / "synapses").glob("[0-9][0-9]_*.ipynb"))}
#: The notebooks that run Brian2 (slow: their rows are a test of their own).
BRIAN = sorted(n for n, p in NOTEBOOKS.items() if "import brian2" in p.read_text() or "from brian2" in p.read_text())


def wrong_rows(n: int) -> list[tuple]:
    """The WRONG rows of notebook ``n``'s table (none if it has no table: tests/test_course_complete.py says so)."""
    return list(getattr(table(NOTEBOOKS[n].stem), "WRONG", []))


# ---------------------------------------------------------------------------- at the source
def test_grading_error_carries_an_identifier_outside_its_sentence():
    err = grading.GradingError("lif_rate is 0.07 Hz; that is too small", misconception="rate-khz")
    assert err.misconception == "rate-khz"
    assert str(err) == "lif_rate is 0.07 Hz; that is too small"
    assert grading.GradingError("x").misconception is None


@pytest.mark.parametrize("actual, unit, expected", [
    ([0.05, 0.1], "Hz", "rate-khz"),
    ([0.05, 0.1], "pA", "current-na"),
    ([0.05, 0.1], "", "unit-factor-1000"),
    ([-50.0, -100.0], "mV", "sign-flipped"),
    ([51.0, 100.0], "Hz", None),
])
def test_check_values_names_known_factors(actual, unit, expected):
    with pytest.raises(grading.GradingError) as info:
        grading.check_values(actual, [50.0, 100.0], "r", unit)
    assert info.value.misconception == expected
    assert (expected or "other") not in str(info.value)


@pytest.mark.parametrize("value, expected", [("150", "not-a-number"), (True, "bool-not-number"),
                                             (np.True_, "bool-not-number"), (np.array(True), "bool-not-number"),
                                             (np.array([False]), "bool-not-number"),
                                             ([True, False], "bool-not-number"),
                                             ([150.0, 75.0], "not-a-number"), (float("nan"), None)])
def test_check_number_names_what_is_not_a_number(value, expected):
    with pytest.raises(grading.GradingError) as info:
        grading.check_number(value, "rheobase_shift", "pA")
    assert info.value.misconception == expected
    assert grading.check_number(150, "rheobase_shift", "pA") == 150.0


def test_grader_adds_a_marker_and_keeps_the_sentence_plain():
    source = ("from helpers import grading as _g\nwith _g.checking('lif_rate'):\n"
              "    _g.check_values([0.05, 0.1], [50.0, 100.0], 'the rate', 'Hz', function='lif_rate')\n")
    outputs, _ = grader.run_cell(source, "test", {"__name__": "__main__"})
    kinds = [o["output_type"] for o in outputs]
    assert kinds == ["display_data", "error"], outputs
    assert misconceptions.cell_misconception({"outputs": outputs}) == "rate-khz"
    assert "rate-khz" not in json.dumps(outputs[-1])
    ok, _ = grader.run_cell("print('fine')", "test", {"__name__": "__main__"})
    assert [o["output_type"] for o in ok] == ["stream"]


def test_trusted_execute_keeps_only_well_formed_markers():
    from coursekit.grading.outputs import _clean_outputs
    raw = [misconceptions.marker_output("rate-khz", "check"),
           {"output_type": "display_data", "data": {misconceptions.MIME_TYPE: {"id": "<script>"}}},
           {"output_type": "display_data", "data": {"text/html": "<b>x</b>"}},
           {"output_type": "error", "ename": "GradingError", "evalue": "s", "traceback": ["a", "b"]}]
    clean = _clean_outputs(raw)
    assert [misconceptions.cell_misconception({"outputs": [o]}) for o in clean[:2]] == ["rate-khz", "other"]
    assert len(clean) == 3 and clean[2].traceback == ["GradingError: s"]


def test_catalogue_identifiers_are_stable_words():
    ids = [m.id for m in misconceptions.CATALOGUE] + list(misconceptions.TITLES)
    for ident in ids:
        assert misconceptions._ID.match(ident), ident
        assert misconceptions.title(ident), ident
    for m in misconceptions.CATALOGUE:
        assert m.kind in ("physics", "code"), m


def test_every_wrong_row_has_an_expected_identifier():
    rows = {(n, case[0], case[1]) for n in NOTEBOOKS for case in wrong_rows(n)}
    assert sorted(rows - set(EXPECTED)) == [], "WRONG rows without an entry in their MISCONCEPTIONS"
    assert sorted(set(EXPECTED) - rows) == [], "MISCONCEPTIONS entries without a WRONG row"
    for ident in EXPECTED.values():
        assert ident == misconceptions.OTHER or misconceptions.title(ident), ident


# ---------------------------------------------------------------------------- every WRONG row
_RUN = """
import json as _mc_json
from coursekit.grading.grader import run_cell as _mc_run_cell
_mc_out, _mc_log = _mc_run_cell({source!r}, "test", get_ipython().user_ns)
print("@@MC@@" + _mc_json.dumps(_mc_out))
"""


def grader_outputs(kernel: NotebookKernel, test_source: str) -> list[dict]:
    """The outputs the grader's run_cell gives ``test_source`` in the kernel's namespace."""
    printed = []

    def hook(msg):
        if msg["msg_type"] == "stream":
            printed.append(msg["content"]["text"])

    reply = kernel._kc.execute_interactive(_RUN.format(source=test_source), timeout=kernel.timeout,
                                           output_hook=hook, store_history=False, allow_stdin=False)
    assert reply["content"]["status"] == "ok", reply["content"]
    text = "".join(printed)
    return json.loads(text[text.index("@@MC@@") + 6:].splitlines()[0])


def row_verdicts(n: int):
    """(item, label, identifier, sentence) of every WRONG row of notebook ``n``."""
    with NotebookKernel(NOTEBOOKS[n], timeout=300) as kernel:
        kernel.run_setup()
        kernel.run_answers()
        for case in wrong_rows(n):
            name, label, source = case[:3]
            with kernel.replaced(name, source):
                outputs = grader_outputs(kernel, kernel.test_cell_for(name).source)
            errors = [o for o in outputs if o["output_type"] == "error"]
            sentence = f"{errors[-1]['ename']}: {errors[-1]['evalue']}" if errors else "pass"
            yield name, label, misconceptions.cell_misconception({"outputs": outputs}), sentence


@pytest.mark.notebooks
@pytest.mark.parametrize("n", [n for n in NOTEBOOKS if n not in BRIAN])
def test_wrong_rows_are_reported_with_their_identifier(n):
    _check_rows(n)


@pytest.mark.notebooks
@pytest.mark.brian
@pytest.mark.slow
@pytest.mark.parametrize("n", BRIAN)
def test_wrong_rows_are_reported_with_their_identifier_brian(n):
    _check_rows(n)


def _check_rows(n):
    wrong = []
    for name, label, found, sentence in row_verdicts(n):
        assert sentence.startswith("GradingError: "), (name, label, sentence)
        want = EXPECTED.get((n, name, label))
        if found != want:
            wrong.append(f"{name}: {label}: reported {found!r}, expected {want!r} ({sentence})")
        ident = found or ""
        if ident != misconceptions.OTHER:
            assert ident not in sentence, (label, sentence)  # never in what students see
    assert not wrong, "\n".join(wrong)


# ---------------------------------------------------------------------------- feedback
def test_feedback_shows_no_identifier(tmp_path):
    """nbgrader's feedback template with the course's feedback preprocessors renders the sentence, not the marker.

    (GetGrades, which only reads scores from the gradebook, is replaced by the metadata it would set; the
    full pipeline's pages are checked in tests/test_instructor.py.)
    """
    import warnings

    import nbgrader.converters.generate_feedback as gf
    from nbconvert.exporters import HTMLExporter
    from nbgrader.preprocessors import ClearHiddenTests
    from traitlets.config import Config

    from coursekit.preprocessors.shorten_tracebacks import ShortenTestTracebacks

    formgrader = Path(gf.__file__).resolve().parents[1] / "server_extensions" / "formgrader"
    config = Config()
    config.HTMLExporter.template_name = "feedback"
    config.HTMLExporter.extra_template_basedirs = [str(formgrader / "templates")]
    config.HTMLExporter.extra_template_paths = [str(formgrader / "static" / "node_modules" / "bootstrap" / "dist"
                                                    / "css")]
    source = ("with grading.checking('alpha_model'):\n    pass\n### BEGIN HIDDEN TESTS\n"
              "_grading.check_values(1, 2, 'g')\n### END HIDDEN TESTS\n")
    outputs, _ = grader.run_cell(
        "from helpers import grading as _g\nwith _g.checking('alpha_model'):\n"
        "    raise _g.GradingError('g peaks at 0.368 = w/e: the jump must be e*w')\n", "test", {"__name__": "__main__"})
    assert misconceptions.cell_misconception({"outputs": outputs}) == "alpha-jump-w-not-ew"
    meta = {"nbgrader": {"grade_id": "test_alpha_model", "grade": True, "solution": False, "locked": True,
                         "points": 2, "score": 0}}
    cell = nbformat.v4.new_code_cell(source, metadata=meta)
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    nb = nbformat.v4.new_notebook(cells=[cell])
    resources = {"nbgrader": {"notebook": "02_ode_synapses", "score": 0, "max_score": 2, "late_penalty": 0}}
    for step in (ClearHiddenTests, ShortenTestTracebacks):
        nb, resources = step().preprocess(nb, resources)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "mimetype ... is not able to be represented": that is the point
        html, _ = HTMLExporter(config=config).from_notebook_node(nb, resources=resources)
    assert "g peaks at 0.368 = w/e: the jump must be e*w" in html
    assert "alpha-jump-w-not-ew" not in html and misconceptions.MIME_TYPE not in html
    assert "check_values" not in html  # the hidden part is gone as well


# ---------------------------------------------------------------------------- the second run
_CELL = """from helpers import grading as _g
with _g.checking('lif_rate'):
    assert False, {visible!r}
print('quick checks passed')
### BEGIN HIDDEN TESTS
calls.append(1)
with _g.checking('lif_rate'):
    _g.check_values([0.05, 0.1], [50.0, 100.0], 'the rate', 'Hz', function='lif_rate')
### END HIDDEN TESTS
"""


def test_a_quick_check_failure_is_named_by_the_hidden_tests():
    """The sentence (and score) are the quick check's; the identifier is the hidden tests'."""
    calls = []
    outputs, _ = grader.run_cell(_CELL.format(visible="lif_rate(300 pA) is 0.07"), "test",
                                 {"__name__": "__main__", "calls": calls})
    assert calls == [1]
    assert outputs[-1]["evalue"] == "lif_rate failed a check: lif_rate(300 pA) is 0.07"
    assert outputs[0]["data"][misconceptions.MIME_TYPE] == {"id": "rate-khz", "from": "check/hidden"}


@pytest.mark.parametrize("visible", ["lif_rate: did not return within 30 s (an endless loop?)",
                                     "lif_rate: the kernel died during this call; the grader restarted it"])
def test_no_second_run_after_the_student_code_ran_out_of_time(visible):
    calls = []
    outputs, _ = grader.run_cell(
        "from helpers import grading as _g\nraise _g.GradingError(" + repr(visible) + ")\n"
        + _CELL.split("### BEGIN HIDDEN TESTS")[1].join(["### BEGIN HIDDEN TESTS", ""]),
        "test", {"__name__": "__main__", "calls": calls})
    assert calls == []
    assert misconceptions.cell_misconception({"outputs": outputs}) in misconceptions.RUNTIME
