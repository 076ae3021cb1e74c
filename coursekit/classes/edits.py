"""The sample class's edits: how a built student's answer cells are filled and its notebooks changed.

An :class:`Edit` names an action (a key of :data:`ACTIONS`) and a notebook by its
position in the sorted list of notebooks (0 = the first, -1 = the last; ``None`` =
every notebook). Each action gets the notebook being built (:class:`_Ctx`), changes
it, records what the grader must make of it (the test cells that must score 0) and
a note, and returns False when it does not apply (no such cell). The payloads are in
:mod:`coursekit.classes.attacks`; :func:`_fill_answers` fills the answer cells with
the solutions, the errata (:data:`coursekit.answers.tables.ERRATA`) or nothing.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from typing import Callable, Iterable

import nbformat

from coursekit.answers.tables import ERRATA
from coursekit.classes.attacks import (
    BREAK_READONLY, CHILD_PROCESS, COPY_CLASSMATE, DISK_FILLER, ENDLESS_LOOP, FORK_BOMB, HTML_OUTPUT, HUGE_OUTPUT,
    IGNORES_INTERRUPT, JAVASCRIPT_OUTPUT, KERNEL_DIES, KERNEL_HOOKS, MARKDOWN_OUTPUT, MEMORY_HOG, NETWORK,
    OUTPUT_FLOOD, PATCH_NUMPY, RAW_HTML_ANSWER, REEXPORTS, SLOW_CALLER, SNIFF_WINDOW, STRING_FLOOD, SVG_OUTPUT,
    TRANSFORMER, WRITE_OUTSIDE, sniffer_code)

__all__ = ["Edit", "ACTIONS", "answer_items"]

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"


# =============================================================================== cells
def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _gid(cell) -> str | None:
    return _meta(cell).get("grade_id")


def _is_answer(cell) -> bool:
    return cell.cell_type == "code" and bool(_meta(cell).get("solution"))


def _is_test(cell) -> bool:
    m = _meta(cell)
    return cell.cell_type == "code" and bool(m.get("grade")) and not m.get("solution")


def answer_items(nb) -> dict[str, str]:
    """Autograded test cell -> the answer cell it checks (grade ids).

    The item of a test cell is the nearest code answer cell above it.
    """
    out, current = {}, None
    for cell in nb.cells:
        if _is_answer(cell):
            current = _gid(cell)
        elif _is_test(cell) and current is not None:
            out[_gid(cell)] = current
    return out


def _strip_markers(source: str) -> str:
    return "\n".join(line for line in source.splitlines()
                     if BEGIN_SOLUTION not in line and END_SOLUTION not in line).rstrip("\n") + "\n"


def _replace_solution(source: str, replacement: str) -> str | None:
    lines = source.splitlines()
    begin = next((i for i, line in enumerate(lines) if BEGIN_SOLUTION in line), None)
    end = next((i for i, line in enumerate(lines) if END_SOLUTION in line), None)
    if begin is None or end is None or end < begin:
        return None
    indent = re.match(r"\s*", lines[begin]).group(0)
    body = textwrap.indent(textwrap.dedent(replacement).strip("\n"), indent).splitlines()
    return "\n".join(lines[:begin] + body + lines[end + 1:]).rstrip("\n") + "\n"


def _strip_mark_scheme(source: str) -> str:
    return re.sub(r"=== BEGIN MARK SCHEME ===.*?=== END MARK SCHEME ===\n?", "", source, flags=re.S)


def _wrap_last_function(template: str, what: str) -> Callable[["_Ctx"], bool]:
    """Append `template` (formatted with the function's name) to the last answer cell that defines a
    function: its item's tests score 0, and so do those of answers that call it."""
    def act(ctx: "_Ctx") -> bool:
        for i in reversed(ctx.cells(_is_answer)):
            cell = ctx.nb.cells[i]
            found = re.findall(r"^def (\w+)\(", cell.source, flags=re.M)
            if cell.cell_type == "code" and found:
                break
        else:
            return False
        name, gid = found[0], _gid(cell)
        cell.source = cell.source.rstrip("\n") + "\n" + template.format(name=name)
        ctx.expect_zero |= ctx.tests_of(gid)
        _zero_users(ctx, [name], [gid])
        ctx.notes.append(f"{what}: {name} in answer cell {gid}")
        return True
    return act


def _append_to_written_answer(text: str, what: str) -> Callable[["_Ctx"], bool]:
    """Append ``text`` to the first written (Markdown) answer of the notebook; grades are unchanged."""
    def act(ctx: "_Ctx") -> bool:
        found = ctx.cells(lambda c: c.cell_type == "markdown" and _meta(c).get("solution"))
        if not found:
            return False
        cell = ctx.nb.cells[found[0]]
        cell.source = cell.source + text
        ctx.notes.append(f"{what} in written answer {_gid(cell)}")
        return True
    return act



# =============================================================================== edits
@dataclass(frozen=True)
class Edit:
    """One declared change to a sample student's notebooks.

    Attributes
    ----------
    action : str
        A key of :data:`ACTIONS`.
    notebook : int or None
        Position in the sorted list of notebooks (negative counts from the end,
        taken modulo the number of notebooks); None applies it to every notebook.
    """

    action: str
    notebook: int | None = None


@dataclass
class _Ctx:
    """A notebook being built, with what the edits need and record."""

    name: str
    nb: nbformat.NotebookNode
    release: nbformat.NotebookNode
    items: dict[str, str]
    expect_zero: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    omitted: bool = False

    def cells(self, predicate: Callable) -> list[int]:
        return [i for i, c in enumerate(self.nb.cells) if predicate(c)]

    def tests_of(self, item: str) -> set[str]:
        return {t for t, i in self.items.items() if i == item}

    def answer(self, k: int) -> int | None:
        found = self.cells(_is_answer)
        return found[k] if len(found) > k else None


def _prepend_to_answer(code: str, zero: bool | str, what: str) -> Callable[[_Ctx], bool]:
    """Put ``code`` at the top of the first answer cell; ``zero``: its item must score 0 (True), every item
    of the notebook must (``"all"``), or nothing changes the grades (False)."""
    def act(ctx: _Ctx) -> bool:
        i = ctx.answer(0)
        if i is None:
            return False
        cell = ctx.nb.cells[i]
        cell.source = code + "\n" + cell.source
        if zero == "all":
            ctx.expect_zero |= set(ctx.items)
        elif zero:
            ctx.expect_zero |= ctx.tests_of(_gid(cell))
        ctx.notes.append(f"{what} at the top of answer cell {_gid(cell)}")
        return True
    return act


def _delete_answer(ctx: _Ctx) -> bool:
    i = ctx.answer(0)
    if i is None:
        return False
    gid = _gid(ctx.nb.cells[i])
    del ctx.nb.cells[i]
    ctx.expect_zero |= ctx.tests_of(gid)
    ctx.notes.append(f"deleted answer cell {gid}")
    return True


def _delete_test(ctx: _Ctx) -> bool:
    tests = ctx.cells(_is_test)
    if len(tests) < 2:
        return False
    i = tests[1]
    ctx.notes.append(f"deleted test cell {_gid(ctx.nb.cells[i])}")
    del ctx.nb.cells[i]
    return True


def _edit_readonly(ctx: _Ctx) -> bool:
    found = ctx.cells(lambda c: c.cell_type == "code" and _meta(c).get("locked") and not _meta(c).get("grade")
                      and not _meta(c).get("solution"))
    if not found:
        return False
    cell = ctx.nb.cells[found[0]]
    cell.source = cell.source.rstrip("\n") + BREAK_READONLY
    ctx.notes.append(f"edited read-only cell {_gid(cell)} (np = None)")
    return True


def _strip_metadata(ctx: _Ctx) -> bool:
    tests = ctx.cells(_is_test)
    if not tests:
        return False
    cell = ctx.nb.cells[tests[0]]
    gid = _gid(cell)
    del cell.metadata["nbgrader"]
    ctx.notes.append(f"stripped the nbgrader metadata of test cell {gid}")
    return True


def _damage_metadata(ctx: _Ctx) -> bool:
    i = ctx.answer(1)
    if i is None:
        return False
    cell = ctx.nb.cells[i]
    gid = _gid(cell)
    del cell.metadata["nbgrader"]["grade_id"]
    ctx.notes.append(f"deleted the grade_id from the nbgrader metadata of answer cell {gid}")
    return True


def _omit(ctx: _Ctx) -> bool:
    ctx.omitted = True
    ctx.expect_zero |= set(ctx.items)
    ctx.notes.append("notebook not submitted")
    return True


def _reexport(ctx: _Ctx) -> bool:
    done = []
    for i in ctx.cells(_is_answer):
        gid = _gid(ctx.nb.cells[i])
        if gid in REEXPORTS:
            ctx.nb.cells[i].source = REEXPORTS[gid]
            ctx.expect_zero |= ctx.tests_of(gid)
            done.append(gid)
    if not done:
        return False
    ctx.notes.append("re-exported the helpers reference for " + ", ".join(done))
    # an answer computed with a re-exported function (e.g. slope_ratio from lif_rate) fails with it
    for gid in _zero_users(ctx, done, done):
        ctx.notes.append(f"{gid} is computed with a re-exported function")
    return True


def _zero_users(ctx: _Ctx, functions: Iterable[str], skip: Iterable[str]) -> list[str]:
    """Answers (other than `skip`) that call one of `functions`: their tests must score 0 too."""
    uses = re.compile(r"\b(" + "|".join(map(re.escape, functions)) + r")\s*\(")
    found = []
    for i in ctx.cells(_is_answer):
        gid = _gid(ctx.nb.cells[i])
        if gid not in set(skip) and uses.search(ctx.nb.cells[i].source):
            ctx.expect_zero |= ctx.tests_of(gid)
            found.append(gid)
    return found


#: What each :class:`Edit` action does (to the notebook it names).
ACTIONS: dict[str, Callable[[_Ctx], bool]] = {
    "endless_loop": _prepend_to_answer(ENDLESS_LOOP, True, "an endless loop"),
    "ignores_interrupt": _prepend_to_answer(IGNORES_INTERRUPT, True, "a loop that ignores Ctrl-C (SIGINT)"),
    "kernel_dies": _prepend_to_answer(KERNEL_DIES, True, "os._exit(1)"),
    "huge_output": _prepend_to_answer(HUGE_OUTPUT, False, "100 000 printed lines (about 7 MB)"),
    "patch_numpy": _prepend_to_answer(PATCH_NUMPY, False, "np.isclose, np.allclose and numpy.testing replaced"),
    "delete_answer": _delete_answer,
    "delete_test": _delete_test,
    "edit_readonly": _edit_readonly,
    "strip_metadata": _strip_metadata,
    "damage_metadata": _damage_metadata,
    "omit_notebook": _omit,
    "reexport": _reexport,
    "transformer": _prepend_to_answer(TRANSFORMER, "all", "an IPython input transformer that turns every later "
                                                          "cell into `pass`"),
    "kernel_hooks": _prepend_to_answer(KERNEL_HOOKS, False, "AST transformer, exception handler, "
                                                            "showtraceback, settrace and run_cell hooks"),
    "write_outside": _prepend_to_answer(WRITE_OUTSIDE, False, "writes into helpers/, the course root, "
                                                              "gradebook.db and another student's folder"),
    "copy_classmate": _prepend_to_answer(COPY_CLASSMATE, "all", "reads a classmate's submission and the "
                                                                "source notebooks"),
    "fork_bomb": _prepend_to_answer(FORK_BOMB, False, "a fork bomb"),
    "memory_hog": _prepend_to_answer(MEMORY_HOG, False, "a 64 GiB allocation"),
    "disk_filler": _prepend_to_answer(DISK_FILLER, True, "a disk filler (32 MiB files without end)"),
    "network": _prepend_to_answer(NETWORK, False, "TCP and UDP connections (loopback and outside)"),
    "child_process": _prepend_to_answer(CHILD_PROCESS, False, "a child process meant to outlive grading"),
    # the hostile views: right answers whose outputs or written answer attack whoever opens them
    "html_output": _prepend_to_answer(HTML_OUTPUT, False, "an HTML output with a script (onerror) and an overlay"),
    "javascript_output": _prepend_to_answer(JAVASCRIPT_OUTPUT, False, "an application/javascript output"),
    "svg_output": _prepend_to_answer(SVG_OUTPUT, False, "an SVG output with onload and a script"),
    "markdown_output": _prepend_to_answer(MARKDOWN_OUTPUT, False, "a Markdown output with an event handler"),
    "raw_html_answer": _append_to_written_answer(RAW_HTML_ANSWER, "raw HTML (onerror, javascript: link, style)"),
    # what the grader must bound, and the classmate it must not reach
    "output_flood": _prepend_to_answer(OUTPUT_FLOOD, False, "1 GiB printed (1 MiB writes)"),
    "string_flood": _wrap_last_function(STRING_FLOOD, "a 600 MiB string returned"),
    "slow_caller": _wrap_last_function(SLOW_CALLER, "a right function that sleeps 8 s per call"),
    "sniffer": _prepend_to_answer(sniffer_code(), False, f"a {SNIFF_WINDOW} s sniffer of classmates' kernel "
                                                         "sockets"),
}


def _fill_answers(nb, source_nb, answers: str, notes: list[str]) -> set[str]:
    """Fill the answer cells; return the items answered wrongly on purpose."""
    if answers == "blank":
        return {_gid(c) for c in nb.cells if _is_answer(c)}
    if answers not in ("solution", "errata"):
        raise ValueError(f"answers must be 'solution', 'errata' or 'blank', not {answers!r}")
    solutions = {_gid(c): c for c in source_nb.cells if _meta(c).get("solution") and _gid(c)}
    wrong = set()
    for cell in nb.cells:
        gid = _gid(cell)
        if not _meta(cell).get("solution") or gid not in solutions:
            continue
        src = solutions[gid].source
        if answers == "errata" and gid in ERRATA and cell.cell_type == "code":
            replaced = _replace_solution(src, ERRATA[gid])
            if replaced is not None:
                cell.source = replaced
                wrong.add(gid)
                continue
        cell.source = _strip_markers(_strip_mark_scheme(src))
    if answers == "errata":
        notes.append("errata in " + (", ".join(sorted(wrong)) if wrong else "no cell (no known grade id)"))
    return wrong
