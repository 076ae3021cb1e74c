"""The standard mutation tests of a course notebook, written once for all six.

A test module (tests/test_mutations_NN.py) keeps only what is its own: its shortcut
attempts (CHEATS) and the notebook-specific extra tests; its tables of answers are
:mod:`coursekit.answers.nbNN`. It calls
:func:`define_mutation_tests` with its ``globals()``, which adds the module-scoped
``kernel`` fixture (tests/nbkernel.py: one kernel for the notebook, set-up and
stored answers run once) and the standard tests, under the names the modules
used before:

``test_every_answer_has_mutants``
    the tables cover every answer cell of the notebook: >= 2 wrong answers and
    >= 1 correct answer written differently per item (notebook conventions).
``test_stored_solution_passes[answer]``
    the stored solution passes its own test cell.
``test_wrong_answer_fails_with_a_physics_message[item: label]``
    the test cell fails with one line, ``GradingError: <sentence>``, and the
    sentence contains one of the row's physics words.
``test_hidden_tests_alone_catch_the_wrong_answer[item: label]``
    the hidden tests alone fail the same way (they must not lean on the visible
    checks). A row may say whether the visible checks catch it: if it does, a
    mutant that should slip past them (hard-coded visible numbers) must pass
    them, and one they should catch must fail them.
``test_correct_answer_written_differently_passes[item: label]``
``test_shortcuts_earn_nothing[item: label]``
    re-exported or wrapped references, patched numpy or grading code: the test
    cell fails with a one-line sentence naming the shortcut (one of
    ``shortcut_words``, or the row's own words, e.g. the physics of a wrong
    answer behind patches the grader does not use), and so do the hidden tests
    alone. A row may say whether the visible checks catch it, as in WRONG; if
    they do, the test cell's sentence is theirs. The kernel is restored
    afterwards (NotebookKernel.sandbox).
``test_release_stub_fails_with_its_instruction[answer]``
    the answer cell in release/ keeps the signature and the ``# TODO:`` line,
    shows no solution, and raises what its ``raise NotImplementedError(...)``
    line says, which is the instruction (or points at it). A function stub fails
    its test cell with ``GradingError: <name> raised NotImplementedError: ...``;
    a value stub (a string answer) raises when the cell runs, and the test cell
    then says ``GradingError: <name> is not defined; run the cell that defines it``.
``test_generated_stub_raises_the_instruction_itself[answer]``
    the same for the stub that coursekit.preprocessors.clear_solutions.InstructiveClearSolutions
    makes of the source, whose error must be the instruction itself.
``test_test_cells_name_an_undefined_answer[answer]``
    before the student runs an answer, its test cell names the missing answer.

Tables (item is the answer cell's grade_id; WRONG and RIGHT live in the package,
:mod:`coursekit.answers.nb01` ..., written with :mod:`coursekit.answers.writing`)::

    WRONG  = [(item, label, source, words), ...]          # or (..., words, caught_by_visible)
    RIGHT  = [(item, label, source), ...]
    CHEATS = [(item, label, source), ...]                 # or (..., words[, caught_by_visible])

Example::

    from mutation_suite import define_mutation_tests
    from coursekit.answers.nb01 import RIGHT, SIGNATURES, WRONG, answer

    CHEATS = [("exp_conductance", "re-exported reference", "from helpers.references.waveforms import exp_conductance")]
    define_mutation_tests(globals(), NOTEBOOK, signatures=SIGNATURES, wrong=WRONG, right=RIGHT, cheats=CHEATS)
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

import trusted_grading
from nbkernel import NotebookKernel, answer_ids

from coursekit.preprocessors.clear_solutions import InstructiveClearSolutions

ROOT = Path(__file__).resolve().parents[1]

#: A shortcut fails because the sandboxed kernel cannot reach the references:
#: its sentence says the answer is missing or could not be computed.
SHORTCUT_WORDS = ("is not defined", "raised ModuleNotFoundError", "raised ImportError", "raised NameError",
                  "raised AttributeError", "raised PermissionError")


# ---------------------------------------------------------------------------- test ids
def label(case) -> str:
    """The test id of a table row: ``"<item>: <label>"``."""
    return f"{case[0]}: {case[1]}"


# ---------------------------------------------------------------------------- checks
def assert_one_sentence(err: str, words, what: str) -> None:
    """``err`` is one line ``GradingError: ...`` containing one of ``words``."""
    assert err.startswith("GradingError: "), f"{what}: not a GradingError: {err}"
    assert "\n" not in err and "Traceback" not in err, f"{what}: more than one line: {err}"
    assert any(word in err for word in words), f"{what}: message does not point at {list(words)}: {err}"


def instruction(kernel: NotebookKernel, name: str) -> str:
    """The one-line ``# TODO:`` instruction of the stored answer ``name``."""
    return re.search(r"# TODO: (.+)", kernel.cell(name).source).group(1).strip()


def solution_lines(kernel: NotebookKernel, name: str) -> list[str]:
    """The non-blank lines between the solution markers of the stored answer."""
    source = kernel.cell(name).source
    body = source[source.index("### BEGIN SOLUTION") + len("### BEGIN SOLUTION"):source.index("### END SOLUTION")]
    return [line.strip() for line in body.splitlines() if line.strip() not in ("", "'''", '"""')]


def defined_names(source: str) -> list[str]:
    """The names a cell binds at top level (functions, classes, assignments)."""
    names = []
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for sub in ast.walk(target):
                    if isinstance(sub, ast.Name):
                        names.append(sub.id)
    return names


def _cell_source(nb, name: str, where: str) -> str:
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == name:
            return cell.source
    raise KeyError(f"{where} has no cell {name!r}")


def _undefined_sentence(name: str) -> str:
    return f"GradingError: {name} is not defined; run the cell that defines it"


# ---------------------------------------------------------------------------- the tests
def define_mutation_tests(namespace: dict, notebook, *, signatures: dict[str, str] | None = None,
                          values=(), wrong, right, cheats, shortcut_words=SHORTCUT_WORDS,
                          stub_must_not_contain=(), points: dict[str, int] | None = None,
                          marks=()) -> None:
    """Define the ``kernel`` fixture and the standard mutation tests in ``namespace``.

    Parameters
    ----------
    namespace : dict
        The calling test module's ``globals()``; the fixture and tests are added to it
        (an existing name is an error, so a module cannot shadow one by accident).
    notebook : path
        The source notebook (``source/.../NN_name.ipynb``); its release copy is the
        same path under ``release/``.
    signatures : dict, optional
        Function answers: grade_id -> the ``def`` line students must keep.
    values : sequence of str
        Value answers (strings such as Brian2 models), by grade_id.
    wrong, right, cheats : lists of tuples
        The tables described in the module docstring.
    shortcut_words : sequence of str
        One of these must be in a shortcut's message (default: any shortcut sentence),
        unless the row brings its own words.
    stub_must_not_contain : sequence of str
        Text that must not appear in any stub (pieces of the solutions).
    points : dict, optional
        If given, ``test_points_and_items`` checks the graded cells' points
        (grade_id -> points) and that the stored notebook has no outputs.
    marks : sequence of pytest marks
        Added to every test that runs the kernel (besides ``notebooks``).
    """
    notebook = Path(notebook)
    release = ROOT / "release" / notebook.resolve().relative_to(ROOT / "source")
    signatures = dict(signatures or {})
    values = tuple(values)
    answers = [name for name in answer_ids(nbformat.read(notebook, as_version=4))
               if name in signatures or name in values]
    kernel_marks = [pytest.mark.notebooks, *marks]
    defined = {}

    def define(function, *decorators, kernel_test=True):
        name = function.__name__
        for decorate in reversed([*kernel_marks, *decorators] if kernel_test else list(decorators)):
            function = decorate(function)
        if name in namespace:
            raise RuntimeError(f"{namespace.get('__name__')} already defines {name}")
        defined[name] = function

    # -- the kernel ------------------------------------------------------------
    @pytest.fixture(scope="module")
    def kernel():
        with NotebookKernel(notebook) as nb:
            nb.run_setup()
            nb.run_answers()  # every stored answer, so later items see correct definitions
            yield nb

    if "kernel" in namespace:
        raise RuntimeError(f"{namespace.get('__name__')} already defines kernel")
    defined["kernel"] = kernel

    # -- the tables cover the notebook -----------------------------------------
    def test_every_answer_has_mutants():
        """Every answer cell is in the tables: >= 2 wrong answers and >= 1 other correct one each."""
        ids = answer_ids(nbformat.read(notebook, as_version=4))
        assert sorted(ids) == sorted([*signatures, *values]), \
            f"answer cells {ids} differ from the declared answers {sorted([*signatures, *values])}"
        for table, least in ((wrong, 2), (right, 1)):
            for name in ids:
                count = sum(case[0] == name for case in table)
                assert count >= least, f"{name}: {count} rows, at least {least} needed"
        for table in (wrong, right, cheats):
            assert {case[0] for case in table} <= set(ids)
            ids_ = [label(case) for case in table]
            assert len(ids_) == len(set(ids_)), f"duplicate labels: {ids_}"
        for case in wrong + [case for case in cheats if len(case) > 3]:
            assert case[3] and all(isinstance(word, str) and word for word in case[3]), case[:2]

    define(test_every_answer_has_mutants, kernel_test=False)

    if points is not None:
        def test_points_and_items():
            """The graded cells carry the planned points; the stored notebook has no outputs."""
            nb = nbformat.read(notebook, as_version=4)
            found = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"]
                     for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")}
            assert found == points
            for cell in nb.cells:
                assert cell.get("outputs", []) == [] and cell.get("execution_count") is None

        define(test_points_and_items, kernel_test=False)

    # -- answers -----------------------------------------------------------------
    def test_stored_solution_passes(kernel, name):
        ok, err = kernel.try_answer(name, kernel.cell(name).source)
        assert ok, f"stored solution of {name} fails its own tests: {err}"

    define(test_stored_solution_passes, pytest.mark.parametrize("name", answers))

    def test_wrong_answer_fails_with_a_physics_message(kernel, case):
        name, what, source, words = case[:4]
        ok, err = kernel.try_answer(name, source)
        assert not ok, f"{name} accepted a wrong answer ({what})"
        assert_one_sentence(err, words, what)

    define(test_wrong_answer_fails_with_a_physics_message, pytest.mark.parametrize("case", wrong, ids=label))

    def test_hidden_tests_alone_catch_the_wrong_answer(kernel, case):
        """The hidden tests must not lean on the visible checks; hard-coded numbers pass only those."""
        name, what, source, words = case[:4]
        with kernel.replaced(name, source):
            if len(case) > 4:
                visible_ok, visible_err = kernel.run(kernel.visible_tests(name))
            ok, err = kernel.run(kernel.hidden_tests(name))
        if len(case) > 4:
            caught_by_visible = case[4]
            assert visible_ok != caught_by_visible, \
                f"{what}: visible checks {'pass' if visible_ok else 'fail'}: {visible_err}"
        assert not ok, f"the hidden tests of {name} accept a wrong answer ({what})"
        assert_one_sentence(err, words, what + " (hidden tests)")

    define(test_hidden_tests_alone_catch_the_wrong_answer, pytest.mark.parametrize("case", wrong, ids=label))

    def test_correct_answer_written_differently_passes(kernel, case):
        name, what, source = case
        ok, err = kernel.try_answer(name, source)
        assert ok, f"{name} rejected a correct answer ({what}): {err}"

    define(test_correct_answer_written_differently_passes, pytest.mark.parametrize("case", right, ids=label))

    @pytest.mark.slow
    def test_shortcuts_earn_nothing(case, tmp_path):
        """A shortcut (a re-exported or wrapped reference, patched numpy or grading code) earns nothing
        when the notebook is graded for real: sandboxed kernel, test cells run by the trusted grader.
        Each test of the item fails with one sentence that names why (the row's own words, e.g. the
        physics of a wrong answer behind patches that the grader never sees)."""
        name, what, source = case[:3]
        words = [w for w in (case[3] if len(case) > 3 else ()) if w not in SHORTCUT_WORDS] + list(shortcut_words)
        nb = nbformat.read(notebook, as_version=4)
        cells = trusted_grading.grade(notebook, trusted_grading.with_answer(nb, name, source), tmp_path)
        tests = trusted_grading.tests_of(nb, name)
        assert tests, f"no test cell checks {name}"
        for test in tests:
            err = trusted_grading.verdict(cells[test])
            assert err != "pass", f"{name} gave points for a shortcut ({what})"
            assert_one_sentence(err, words, what)

    define(test_shortcuts_earn_nothing, pytest.mark.parametrize("case", cheats, ids=label))

    # -- stubs -------------------------------------------------------------------
    def stub_says(kernel, name, stub):
        """Check the stub's shape; return what its raise line says."""
        assert "BEGIN SOLUTION" not in stub, stub
        shown = {line.strip() for line in stub.splitlines()}
        assert not set(solution_lines(kernel, name)) & shown, f"the stub of {name} shows solution lines: {stub}"
        assert not re.search(r"^\s*return\b", stub, re.M), f"the stub of {name} returns something: {stub}"
        for text in stub_must_not_contain:
            assert text not in stub, f"the stub of {name} shows {text!r}: {stub}"
        if name in signatures:
            assert signatures[name] in stub, f"the stub of {name} lost its signature: {stub}"
        lines = [line.strip() for line in stub.splitlines()]
        todo = lines.index("# TODO: " + instruction(kernel, name))
        raise_line = lines[todo + 1]
        assert raise_line.startswith("raise NotImplementedError(") and raise_line.endswith(")"), raise_line
        return ast.literal_eval(raise_line[len("raise NotImplementedError("):-1])

    def stub_error(kernel, name, stub):
        """Run the stub as a student would, and return the error it raises."""
        with kernel.sandbox():
            if name in signatures:  # the definition runs; the test cell calls it
                ok, err = kernel.try_answer(name, stub)
                assert not ok, f"the stub of {name} passes its test cell"
                assert err.startswith(f"GradingError: {name} raised NotImplementedError: "), err
                assert "\n" not in err, err
                return err
            # a value answer raises when its cell runs; the test cell then names it
            ok, err = kernel.run("del " + ", ".join(defined_names(kernel.cell(name).source)))
            assert ok, err
            ok, err = kernel.run(stub)
            assert not ok and err.startswith("NotImplementedError: "), err
            test_ok, test_err = kernel.run(kernel.test_cell_for(name).source)
            assert not test_ok and test_err == _undefined_sentence(name), test_err
            return err

    def test_release_stub_fails_with_its_instruction(kernel, name):
        """The released answer keeps signature and instruction, hides the solution, and raises."""
        assert release.exists(), f"{release} is missing: make release"
        stub = _cell_source(nbformat.read(release, as_version=4), name, str(release))
        said = stub_says(kernel, name, stub)
        err = stub_error(kernel, name, stub)
        assert said in err, err
        # The stub raises the instruction itself, or points at it (nbgrader_config.py decides).
        assert instruction(kernel, name) in err or "instruction above" in err, err

    define(test_release_stub_fails_with_its_instruction, pytest.mark.parametrize("name", answers))

    def test_generated_stub_raises_the_instruction_itself(kernel, name):
        """With coursekit.preprocessors.clear_solutions.InstructiveClearSolutions the stub's error is the instruction."""
        nb, _ = InstructiveClearSolutions().preprocess(nbformat.read(notebook, as_version=4), {})
        stub = _cell_source(nb, name, f"the generated {notebook.name}")
        said = stub_says(kernel, name, stub)
        err = stub_error(kernel, name, stub)
        assert said == instruction(kernel, name) and said in err, err

    define(test_generated_stub_raises_the_instruction_itself, pytest.mark.parametrize("name", answers))

    def test_test_cells_name_an_undefined_answer(kernel, name):
        """Before the student runs an answer, its test cell says which name is missing."""
        with kernel.sandbox():
            ok, err = kernel.run("del " + ", ".join(defined_names(kernel.cell(name).source)))
            assert ok, err
            ok, err = kernel.run(kernel.test_cell_for(name).source)
        assert not ok and err == _undefined_sentence(name), err

    define(test_test_cells_name_an_undefined_answer, pytest.mark.parametrize("name", answers))

    namespace.update(defined)
