"""The nbgrader Validate button in JupyterLab (issue 6, items 4 and 5).

The nbgrader lab extension puts a "Validate" button in the notebook toolbar;
it saves the notebook and runs ``nbgrader validate`` on the server (with the
course's ``nbgrader_config.py``, read from the server's working directory, the
course root). On a completed notebook (the release notebook with the source
notebook's solutions typed into the answer cells) the dialog says it passes;
on the blank release notebook it lists exactly the test cells of the
unanswered functions, each with the stub's instruction in its error, and the
unanswered written answers.
Screenshots of both dialogs go to ``artifacts/browser/``.
"""

from __future__ import annotations

import nbformat
import pytest

import labdriver as ld

pytestmark = pytest.mark.browser

#: A quick notebook (no Brian2) with two function stubs and their test cells.
NOTEBOOK = "05_shunting.ipynb"
SUCCESS = "Success! Your notebook passes all the tests."


def _solution_source(cell) -> str:
    """The source cell's text without nbgrader's solution markers (what a student would type)."""
    lines = [line for line in cell.source.splitlines()
             if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line]
    return "\n".join(lines)


def completed_notebook(release, source):
    """The release notebook with every answer cell filled in from the source notebook."""
    done = nbformat.from_dict(release)
    solutions = {ld.nbgrader_meta(c).get("grade_id"): c for c in source.cells}
    for cell in done.cells:
        meta = ld.nbgrader_meta(cell)
        if not meta.get("solution"):
            continue
        if cell.cell_type == "code":
            cell.source = _solution_source(solutions[meta["grade_id"]])
        else:
            cell.source = "Shunting inhibition divides the depolarisation; see the figures above."
    return done


#: nbgrader's text stub (``c.ClearSolutions.text_stub`` in nbgrader_config.py) for written answers.
TEXT_STUB = "YOUR ANSWER HERE"


def failing_cells(release) -> list:
    """Cells Validate must list for a blank notebook, in notebook order.

    Autograded test cells that use a stub's names fail with the stub's error;
    unanswered written answers (still the text stub) are listed as without a response.
    """
    missing = set()
    for cell in release.cells:
        if ld.is_stub(cell):
            missing |= ld.bound_names(cell.source)
    listed = []
    for c in release.cells:
        meta = ld.nbgrader_meta(c)
        if not meta.get("grade"):
            continue
        if c.cell_type == "code" and not meta.get("solution") and ld.used_names(c.source) & missing:
            listed.append(c)
        elif meta.get("solution") and c.source.strip() == TEXT_STUB:
            listed.append(c)
    return listed


def validate(lab, path: str, screenshot: str):
    """Open ``path``, press Validate, return (dialog body text, [(source, error) of failed cells])."""
    notebook = lab.open(path)
    try:
        button = notebook.page.locator(".jp-NotebookPanel-toolbar .validate-button")
        assert button.count() == 1, "the nbgrader Validate button is missing from the notebook toolbar"
        button.click()
        dialog = notebook.page.locator(".jp-Dialog")
        dialog.wait_for(timeout=240_000)
        title = dialog.locator(".jp-Dialog-header").inner_text().strip()
        body = dialog.locator(".jp-Dialog-body")
        text = body.inner_text()
        blocks = body.locator(".jp-RenderedText pre").all_inner_texts()
        target = lab.artifacts / screenshot
        dialog.locator(".jp-Dialog-content").screenshot(path=str(target))
        ld.RECORD.artifact(f"Validate dialog, {path}", target)
        dialog.locator(".jp-Dialog-footer button").last.click()
        notebook.page.locator(".jp-Dialog").wait_for(state="detached", timeout=10_000)
        label = button.inner_text().strip()
        assert label == "Validate", f"the button still reads {label!r} after the dialog closed"
        assert title == "Validation Results", f"Validate opened {title!r}: {text[:500]}"
        failed = list(zip(blocks[0::2], blocks[1::2]))
        return text, failed
    finally:
        notebook.close()


def _write(lab, name: str, nb) -> str:
    path = lab.server.root / "validate" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return f"validate/{name}"


def test_validate_passes_a_completed_notebook(lab, no_outside_requests):
    release = nbformat.read(ld.REPO / "release" / "synapses" / NOTEBOOK, as_version=4)
    source = nbformat.read(ld.REPO / "source" / "synapses" / NOTEBOOK, as_version=4)
    path = _write(lab, "completed_" + NOTEBOOK, completed_notebook(release, source))
    text, failed = validate(lab, path, "validate_completed.png")
    assert SUCCESS in text and not failed, f"Validate on a completed {NOTEBOOK} says:\n{text[:2000]}"


def test_validate_lists_the_failing_cells_of_a_blank_notebook(lab, no_outside_requests):
    release = nbformat.read(ld.REPO / "release" / "synapses" / NOTEBOOK, as_version=4)
    expected = failing_cells(release)
    assert any(c.cell_type == "code" for c in expected), f"{NOTEBOOK} has no autograded test cell that uses a stub"
    instructions = [ld.stub_instruction(c.source)[0] for c in release.cells if ld.is_stub(c)]
    path = _write(lab, "blank_" + NOTEBOOK, release)
    text, failed = validate(lab, path, "validate_blank.png")
    assert SUCCESS not in text, f"Validate passes the blank {NOTEBOOK}"
    assert text.count("The following cell failed:") == len(expected) == len(failed), \
        f"Validate should list {len(expected)} cells (the stubs' tests, the unanswered written answers); " \
        f"it says:\n{text[:3000]}"
    for cell, (shown_source, error) in zip(expected, failed):
        assert shown_source.strip() == cell.source.strip(), \
            f"Validate lists a cell it should not, or out of order:\n{shown_source[:300]}"
        if cell.cell_type == "code":
            flat = " ".join(error.split())
            assert "NotImplementedError" in flat and any(i and i in flat for i in instructions), \
                f"the failure of a test cell does not give the stub's instruction: {error[:500]}"
        else:
            assert "You did not provide a response" in error, f"unexpected message for a written answer: {error}"
