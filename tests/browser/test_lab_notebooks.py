"""Every course notebook, run in JupyterLab as a student runs it (issue 6, items 1, 2 and 5).

Release notebooks: every cell is run (Shift+Enter, one after the other, so an
error does not stop the rest). Only the students' stubs and the cells that
depend on them may fail; each stub must fail with its own ``# TODO:``
instruction, and the student must see it.

Source notebooks (copies, with the solutions): every cell runs without an
error, and every cell that makes a figure shows it (a loaded image, or a drawn
ipympl canvas).

The first figure of each notebook, and the first error a student meets in each
release notebook, are saved as screenshots under ``artifacts/browser/``.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

import labdriver as ld

pytestmark = pytest.mark.browser

RELEASE = sorted(p.name for p in (ld.REPO / "release" / "synapses").glob("*.ipynb"))
SOURCE = sorted(p.name for p in (ld.REPO / "source" / "synapses").glob("*.ipynb"))

#: Errors a cell that depends on a stub may show: the stub's own, a name the
#: stub (or a failed cell) never defined, and the graders' one-line sentence.
DEPENDENT_ERRORS = {"NotImplementedError", "NameError", "GradingError"}


def _by_grade_id(nb) -> dict:
    return {ld.nbgrader_meta(c).get("grade_id"): c for c in nb.cells if ld.nbgrader_meta(c).get("grade_id")}


def stub_problems(saved, source) -> list[str]:
    """What is wrong with the errors of an executed release notebook (empty: nothing).

    Parameters
    ----------
    saved : nbformat.NotebookNode
        The release notebook after every cell ran in the browser.
    source : nbformat.NotebookNode
        The source notebook it was generated from (to learn what each stub defines).

    Notes
    -----
    Stubs are answer cells that still ``raise NotImplementedError(...)``. The
    names a stub's solution binds are "missing"; a cell that fails must read a
    missing name (in its code or inside the functions it defines), and then
    everything it binds is missing too (a figure cell that never finished).
    """
    problems = []
    solutions = _by_grade_id(source)
    not_run = [i for i, c in enumerate(saved.cells) if c.cell_type == "code" and c.execution_count is None]
    if not_run:
        problems.append(f"cells {not_run} never ran")
    stubs = {i: c for i, c in enumerate(saved.cells) if ld.is_stub(c)}
    if not stubs:
        problems.append("the release notebook has no stub (raise NotImplementedError) at all")
    missing: set[str] = set()
    instructions: dict[int, str] = {}
    for i, cell in stubs.items():
        grade_id = ld.nbgrader_meta(cell).get("grade_id")
        solution = solutions.get(grade_id)
        missing |= ld.bound_names(cell.source)
        if solution is not None:
            missing |= ld.bound_names(solution.source)
        todo, message = ld.stub_instruction(cell.source)
        if todo is None:
            problems.append(f"stub {grade_id!r} (cell {i}) has no '# TODO: <instruction>' line above its raise")
        elif message != todo:
            problems.append(f"stub {grade_id!r} (cell {i}) raises {message!r}, not its instruction {todo!r}")
        else:
            instructions[i] = todo

    shown: list[str] = []
    for i, cell in enumerate(saved.cells):
        if cell.cell_type != "code":
            continue
        errors = ld.errors_of(cell)
        if not errors:
            continue
        shown += [f"{e['ename']}: {e['evalue']}" for e in errors]
        summary = "; ".join(f"{e['ename']}: {e['evalue']}" for e in errors)
        if any("image/png" in o.get("data", {}) for o in cell.get("outputs", [])):
            problems.append(f"cell {i} fails ({summary}) and leaves a half-drawn figure under its error")
        if i in stubs:
            top_level = any(line.startswith("raise NotImplementedError(") for line in cell.source.splitlines())
            want = instructions.get(i)
            if not top_level:
                problems.append(f"stub cell {i} only defines functions but fails when run: {summary}")
            elif want is not None and errors != [{"ename": "NotImplementedError", "evalue": want}]:
                problems.append(f"stub cell {i} should fail with NotImplementedError: {want!r}; it shows {summary}")
            continue
        reads = ld.used_names(cell.source)
        if not reads & missing:
            problems.append(f"cell {i} fails although it uses no student answer: {summary}")
            continue
        for e in errors:
            if e["ename"] not in DEPENDENT_ERRORS:
                problems.append(f"cell {i} depends on a stub but fails with an unexpected {summary}")
            elif not (any(name in e["evalue"] for name in missing)
                      or any(text in e["evalue"] for text in instructions.values())):
                problems.append(f"cell {i} fails with {summary}, which names neither a missing answer "
                                f"nor a stub's instruction")
        missing |= ld.bound_names(cell.source)

    for i, text in instructions.items():
        if not any(text in line for line in shown):
            grade_id = ld.nbgrader_meta(stubs[i]).get("grade_id")
            problems.append(f"the instruction of stub {grade_id!r} never reaches the student: {text!r}")
    return problems


@pytest.mark.parametrize("name", RELEASE)
def test_release_notebook_fails_only_in_stubs_and_their_dependents(lab, name, no_outside_requests):
    run = lab.run(f"release/synapses/{name}")
    try:
        source = nbformat.read(ld.REPO / "source" / "synapses" / name, as_version=4)
        problems = stub_problems(run.saved, source)

        # What the student sees: each failing stub's instruction in its output.
        notebook = run.notebook
        first_error = None
        for i, cell in enumerate(run.saved.cells):
            errors = ld.errors_of(cell) if cell.cell_type == "code" else []
            if not errors:
                continue
            first_error = i if first_error is None else first_error
            visible = notebook.output_text(i)
            for e in errors:
                line = f"{e['ename']}: {e['evalue']}"
                if line.splitlines()[0] not in visible:
                    problems.append(f"cell {i} saved the error {line!r} but the page does not show it")
        if first_error is not None:
            path = lab.artifacts / f"{run.stem}_release_first_error.png"
            notebook.cell(first_error).scroll_into_view_if_needed()
            notebook.cell(first_error).screenshot(path=str(path))
            ld.RECORD.artifact(f"{name} (release): first error a student sees", path)
        figure = notebook.screenshot_first_figure(lab.artifacts / f"{run.stem}_release_first_figure.png",
                                                  range(len(run.saved.cells)))
        ld.RECORD.artifact(f"{name} (release): first figure", figure)
        assert not problems, f"{name} (release) in JupyterLab:\n  " + "\n  ".join(problems)
    finally:
        lab.done(run)


def figure_problems(run) -> list[str]:
    """Figures that a source notebook should show but does not (empty: all shown)."""
    problems = []
    notebook = run.notebook
    plotting = set(ld.plotting_cells(run.saved))
    if not plotting:
        problems.append("no cell makes a figure (plotting_cells found none)")
    for i, cell in enumerate(run.saved.cells):
        if cell.cell_type != "code":
            continue
        counts = notebook.figures(i)
        if counts["images"] != counts["loaded"]:
            problems.append(f"cell {i}: {counts['images'] - counts['loaded']} image(s) did not load")
        if counts["canvases"] != counts["drawn"]:
            problems.append(f"cell {i}: {counts['canvases'] - counts['drawn']} live figure(s) never drawn")
        pngs = sum("image/png" in o.get("data", {}) for o in cell.get("outputs", []))
        if pngs != counts["images"]:
            problems.append(f"cell {i}: saved {pngs} PNG figure(s) but the page shows {counts['images']}")
        if i in plotting and counts["loaded"] + counts["drawn"] == 0:
            problems.append(f"cell {i} makes a figure but none is shown: {cell.source.splitlines()[0]!r}")
    return problems


@pytest.mark.parametrize("name", SOURCE)
def test_source_notebook_runs_clean_and_shows_every_figure(lab, name, no_outside_requests):
    run = lab.run(f"source/synapses/{name}")
    try:
        figure = run.notebook.screenshot_first_figure(lab.artifacts / f"{run.stem}_first_figure.png",
                                                      ld.plotting_cells(run.saved))
        ld.RECORD.artifact(f"{name} (source): first figure", figure)
        problems = []
        not_run = [i for i, c in enumerate(run.saved.cells) if c.cell_type == "code" and c.execution_count is None]
        if not_run:
            problems.append(f"cells {not_run} never ran")
        for i, cell in enumerate(run.saved.cells):
            if cell.cell_type != "code":
                continue
            for e in ld.errors_of(cell):
                problems.append(f"cell {i} fails: {e['ename']}: {e['evalue']}")
            stderr = ld.stderr_of(cell)
            if stderr.strip():
                problems.append(f"cell {i} writes to stderr (a red box for the student): {stderr.strip()[:300]!r}")
        problems += figure_problems(run)
        slowest = sorted(run.notebook.cell_seconds.items(), key=lambda kv: -kv[1])[:3]
        print(f"{name}: {run.seconds:.1f} s in the browser; slowest cells "
              + ", ".join(f"{i}: {s:.1f} s" for i, s in slowest))
        assert not problems, f"{name} (source) in JupyterLab:\n  " + "\n  ".join(problems)
    finally:
        lab.done(run)


# ---------------------------------------------------------------------------
# The checks above must be able to fail: the analysis on small made-up notebooks
# ---------------------------------------------------------------------------
def _nb(*cells):
    """A notebook from (kind, source, nbgrader metadata, outputs) tuples."""
    nb = nbformat.v4.new_notebook()
    for kind, source, meta, outputs in cells:
        cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
        if meta:
            cell.metadata["nbgrader"] = meta
        if kind == "code":
            cell.execution_count = 1
            cell.outputs = [nbformat.v4.new_output(**o) for o in outputs]
        nb.cells.append(cell)
    return nb


_ANSWER = {"grade_id": "f", "solution": True, "grade": False, "locked": False}
_TEST = {"grade_id": "test_f", "solution": False, "grade": True, "locked": True, "points": 1}
_TODO = "return 2 x (ms)"
_STUB = f"def f(x):\n    # TODO: {_TODO}\n    raise NotImplementedError({_TODO!r})"
_SOLVED = "def f(x):\n    # TODO: return 2 x (ms)\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"


def _err(ename, evalue):
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": []}


def _release(test_outputs, *more):
    return _nb(("code", "import numpy as np", None, []), ("code", _STUB, _ANSWER, []),
               ("code", "with grading.checking('f'):\n    assert f(1) == 2", _TEST, test_outputs), *more)


_SOURCE = _nb(("code", "import numpy as np", None, []), ("code", _SOLVED, _ANSWER, []))
_GOOD = [_err("GradingError", f"f raised NotImplementedError: {_TODO}")]


def test_analysis_accepts_a_stub_and_its_dependents():
    more = ("code", "y = f(3)\nprint(y)", None, [_err("NotImplementedError", _TODO)])
    later = ("code", "print(y + 1)", None, [_err("NameError", "name 'y' is not defined")])
    assert stub_problems(_release(_GOOD, more, later), _SOURCE) == []


def test_analysis_rejects_errors_that_do_not_come_from_a_stub():
    other = ("code", "print(np.nan + undefined_thing)", None, [_err("NameError", "name 'undefined_thing' is not defined")])
    assert any("uses no student answer" in p for p in stub_problems(_release(_GOOD, other), _SOURCE))
    typo = ("code", "z = f(3)", None, [_err("TypeError", "f() takes 1 positional argument")])
    assert any("unexpected TypeError" in p for p in stub_problems(_release(_GOOD, typo), _SOURCE))


def test_analysis_rejects_stubs_without_their_instruction():
    generic = _release([_err("GradingError", "f raised NotImplementedError: Replace this line")])
    generic.cells[1].source = _STUB.replace(f"NotImplementedError({_TODO!r})", "NotImplementedError('Replace this line')")
    assert any("not its instruction" in p for p in stub_problems(generic, _SOURCE))
    bare = _release(_GOOD)
    bare.cells[1].source = f"def f(x):\n    raise NotImplementedError({_TODO!r})"
    assert any("no '# TODO" in p for p in stub_problems(bare, _SOURCE))
    silent = _release([])  # the test cell shows no error: the instruction never reaches the student
    assert any("never reaches the student" in p for p in stub_problems(silent, _SOURCE))


def test_analysis_rejects_half_drawn_figures_and_cells_that_never_ran():
    figure = {"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}}
    plot = ("code", "fig, ax = plt.subplots()\nax.plot(f(np.arange(3)))", None,
            [figure, _err("NotImplementedError", _TODO)])
    assert any("half-drawn" in p for p in stub_problems(_release(_GOOD, plot), _SOURCE))
    unrun = _release(_GOOD)
    unrun.cells[0].execution_count = None
    assert any("never ran" in p for p in stub_problems(unrun, _SOURCE))


def test_plotting_cells_follow_functions_that_show_figures():
    nb = _nb(("code", "def draw():\n    plt.plot([1])\n    plt.show()", None, []),
             ("code", "def outer():\n    draw()", None, []),
             ("code", "if ok:\n    outer()", None, []),
             ("code", "display(shunting_explorer(g_e=1.0))", None, []),
             ("code", "x = 1\nprint(x)", None, []))
    assert ld.plotting_cells(nb) == [2, 3]
