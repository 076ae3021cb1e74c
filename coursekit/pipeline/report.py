"""What the instructor reads after ``make grade``: scores from the gradebook, reasons from the notebooks.

Scores come from nbgrader's gradebook (:class:`nbgrader.api.Gradebook`), so
the table shows exactly what ``nbgrader export`` and the formgrader see.
Reasons for a zero come from the autograded notebook
(``autograded/<student>/<assignment>/<notebook>.ipynb``): the last error output
of the zero-scored test cell, turned into one line --

* ``GradingError: <sentence>`` -> the sentence (the course's one-line physics
  message);
* ``NotImplementedError: <instruction>`` -> kept as is (an unanswered stub);
* nbgrader's ``CellTimeoutError`` -> "cell timed out (no reply within N s)";
* the rescue's ``KernelDied`` / ``KernelUnresponsive`` / ``NotRun`` -> "kernel
  died in this cell", "this cell hung the kernel", "not run";
* anything on stderr -> "wrote to stderr: <first line>" (nbgrader scores it 0);

and "notebook missing" when the student did not submit the notebook.
Per notebook, :func:`notebook_events` adds what happened around the tests
(a cell elsewhere timed out, the kernel died, output was truncated) and
:func:`inspect_submission` what the student did to the notebook's structure
(deleted, stripped or damaged nbgrader cells, edited read-only cells).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import nbformat

from coursekit.grading import causes
from coursekit.grading.causes import CELL_TIMEOUT, KERNEL_DIED, KERNEL_GAVE_UP, KERNEL_STUCK
from coursekit.insight.results import read_results
from coursekit.pipeline.rescue import metadata_problems

__all__ = [
    "CellResult",
    "NotebookResult",
    "collect_results",
    "cell_reason",
    "notebook_events",
    "inspect_submission",
    "format_table",
    "format_reasons",
    "terminal_safe",
    "short",
]

#: Longest reason line printed (characters).
REASON_WIDTH = 220


def terminal_safe(text: str) -> str:
    """``text`` with every terminal control made visible and inert; newlines kept.

    Student data (error messages, stderr, cell ids) reaches the instructor's terminal in the printed
    report. ANSI/OSC escapes (colours, cursor moves, window titles, OSC 8 links), CR and backspace
    (overwriting a line), BEL, the other C0/C1 controls, Unicode format characters (BIDI overrides and
    isolates, zero-width characters) and line/paragraph separators are shown as ``\\xNN``/``\\uNNNN``.

    >>> terminal_safe("ok\\x1b[2J\\rgrade: 10/10\\x07 \\u202edcba")
    'ok\\\\x1b[2J\\\\rgrade: 10/10\\\\x07 \\\\u202edcba'
    """
    return "".join(_escape(ch) if ch != "\n" and unicodedata.category(ch) in _CONTROL else ch for ch in str(text))


#: Unicode categories of terminal controls: C0 and C1 controls with DEL, format characters, separators.
_CONTROL = frozenset({"Cc", "Cf", "Zl", "Zp"})


def _escape(char: str) -> str:
    named = {"\r": "\\r", "\t": "\\t", "\b": "\\b"}.get(char)
    return named or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def short(text: str, width: int = REASON_WIDTH) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis."""
    line = " ".join(str(text).split())
    return line if len(line) <= width else line[: width - 3].rstrip() + "..."


@dataclass
class CellResult:
    """One graded cell of one student's notebook (from the gradebook).

    Attributes
    ----------
    grade_id : str
    score : float or None
        Manual score if set, else the autograder's; None if never graded.
    max_score : float
    written : bool
        A manually graded answer (nbgrader solution + grade cell).
    needs_manual_grade : bool
    reason : str
        Why an autograded test scored 0 (empty otherwise).
    """

    grade_id: str
    score: float | None
    max_score: float
    written: bool
    needs_manual_grade: bool
    reason: str = ""


@dataclass
class NotebookResult:
    """One student's notebook: cells, events and where the files are."""

    student: str
    notebook: str
    submitted: bool
    graded: bool
    cells: list[CellResult] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    @property
    def tests(self) -> list[CellResult]:
        """The autograded test cells."""
        return [c for c in self.cells if not c.written]

    @property
    def score(self) -> float:
        """Autograded points (ungraded cells count 0)."""
        return sum(c.score or 0.0 for c in self.tests)

    @property
    def max_score(self) -> float:
        """Autograded points available."""
        return sum(c.max_score for c in self.tests)

    @property
    def ungraded(self) -> list[str]:
        """Autograded test cells without any score."""
        return [c.grade_id for c in self.tests if c.score is None]

    @property
    def manual_pending(self) -> list[CellResult]:
        """Written answers waiting for a human."""
        return [c for c in self.cells if c.written and c.needs_manual_grade]


# =============================================================================== reasons
def _error_line(output: Mapping, cell_timeout: float | None) -> str:
    ename, evalue = output.get("ename", "Error"), str(output.get("evalue", "")).strip()
    return causes.reason(ename, evalue, cell_timeout)


def cell_reason(cell: Mapping, cell_timeout: float | None = None) -> str:
    """One line saying why a code cell scored 0 (its last error, or stderr).

    Parameters
    ----------
    cell : mapping
        An autograded code cell (with outputs).
    cell_timeout : float, optional
        The cell time limit (s), quoted for timeouts.
    """
    outputs = cell.get("outputs", [])
    errors = [o for o in outputs if o.get("output_type") == "error"]
    if errors:
        return short(_error_line(errors[-1], cell_timeout))
    for o in outputs:
        if o.get("output_type") == "stream" and o.get("name") == "stderr":
            text = str(o.get("text", "")).strip().splitlines()
            return short("wrote to stderr (nbgrader scores that 0): " + (text[0] if text else ""))
    source = str(cell.get("source", ""))
    if source.lstrip().startswith("# This cell (id:"):
        return "test cell re-added by nbgrader after the student deleted it; scored 0 without an error"
    return "scored 0 without an error output"


def _label(cell: Mapping, index: int) -> str:
    gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return gid or (f"{cell['id']} (#{index})" if cell.get("id") else f"#{index}")


def notebook_events(nb: Mapping, cell_timeout: float | None = None) -> list[str]:
    """Timeouts, dead kernels, truncated output and re-added cells in an autograded notebook."""
    events = []
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        label = _label(cell, i)
        for o in cell.get("outputs", []):
            kind = o.get("output_type")
            if kind == "error":
                ename = o.get("ename")
                if ename == CELL_TIMEOUT:
                    limit = f" after {cell_timeout:g} s" if cell_timeout else ""
                    events.append(f"cell {label} timed out{limit} and was interrupted")
                elif ename == KERNEL_DIED:
                    events.append(f"the kernel died in cell {label}; the grader restarted it")
                elif ename == KERNEL_STUCK:
                    events.append(f"cell {label} ignored the interrupt; the grader killed and restarted the kernel")
                elif ename == KERNEL_GAVE_UP:
                    events.append(f"cell {label} not run (kernel failed too often)")
            elif kind == "stream" and "... Output truncated ..." in str(o.get("text", "")):
                events.append(f"output of cell {label} truncated to nbgrader's 1000 lines")
        if str(cell.get("source", "")).lstrip().startswith("# This cell (id:"):
            events.append(f"nbgrader re-added the deleted cell {label}")
    return list(dict.fromkeys(events))


def inspect_submission(submitted: Mapping, released: Mapping) -> list[str]:
    """What the student changed in the notebook's nbgrader structure.

    Compares the submission with the released notebook by grade id: deleted
    answer/test/read-only cells, cells whose nbgrader metadata was stripped
    (the released cell id is there without metadata) or damaged (nbgrader's
    validator rejects it), and edited read-only cells (nbgrader restores
    those).
    """
    notes = []
    sub_cells = submitted.get("cells", [])
    rel_cells = released.get("cells", [])
    by_gid = {}
    for c in sub_cells:
        gid = c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid:
            by_gid.setdefault(gid, c)
    sub_ids = {c.get("id"): c for c in sub_cells if c.get("id")}
    deleted, stripped, edited = [], [], []
    for c in rel_cells:
        meta = c.get("metadata", {}).get("nbgrader", {})
        gid = meta.get("grade_id")
        if not gid:
            continue
        mine = by_gid.get(gid)
        if mine is None:
            twin = sub_ids.get(c.get("id"))
            if twin is not None and "nbgrader" not in twin.get("metadata", {}):
                stripped.append(gid)
            elif twin is None:
                deleted.append(gid)
            continue
        if meta.get("locked") and str(mine.get("source", "")) != str(c.get("source", "")):
            edited.append(gid)
    if deleted:
        notes.append("deleted cells: " + ", ".join(deleted))
    if stripped:
        notes.append("nbgrader metadata stripped from: " + ", ".join(stripped))
    for problem in metadata_problems(nbformat.from_dict(submitted)):
        notes.append("damaged nbgrader metadata, " + problem)
    if edited:
        notes.append("edited read-only cells (nbgrader restores them): " + ", ".join(edited))
    return notes


# =============================================================================== gradebook
def collect_results(course_root: Path, db_url: str, course_id: str, students: Sequence[str],
                    notebooks: Sequence[str], assignment: str = "synapses",
                    cell_timeout: float | None = None) -> dict[str, dict[str, NotebookResult]]:
    """Scores and reasons of ``students`` x ``notebooks`` (ids without ``.ipynb``).

    Read with :func:`coursekit.insight.results.read_results`, the class report's reader too.

    Returns
    -------
    dict of str to dict of str to NotebookResult
        student -> notebook id -> result, in the order given.
    """
    found = read_results(course_root, db_url, course_id, assignment, students=students, notebooks=notebooks)
    out: dict[str, dict[str, NotebookResult]] = {}
    for student in found.students:
        row = out.setdefault(student, {})
        for rec in found.of(student):
            res = NotebookResult(student, rec.notebook, rec.submitted, rec.graded_path.is_file())
            res.cells = [CellResult(c.grade_id, c.score, c.max_score, c.written, c.needs_manual_grade)
                         for c in rec.cells]
            _add_reasons(res, rec.graded or {}, {c.grade_id: c.cell for c in rec.cells}, cell_timeout)
            row[rec.notebook] = res
    return out


def _add_reasons(res: NotebookResult, nb: Mapping, cells: Mapping[str, dict | None],
                 cell_timeout: float | None) -> None:
    if not res.submitted:
        for c in res.tests:
            if not c.score:
                c.reason = "notebook missing: not submitted"
        return
    if not res.graded:
        for c in res.tests:
            if not c.score:
                c.reason = "not graded: nbgrader produced no autograded notebook (see the log above)"
        return
    res.events = notebook_events(nb, cell_timeout)
    for c in res.tests:
        if c.score is None:
            c.reason = "not graded: the cell is missing from the autograded notebook"
        elif c.score == 0 and c.max_score > 0:
            cell = cells.get(c.grade_id)
            c.reason = cell_reason(cell, cell_timeout) if cell is not None else \
                "the test cell is missing from the autograded notebook"


# =============================================================================== text
def _fmt(x: float) -> str:
    return f"{x:g}"


def format_table(results: Mapping[str, Mapping[str, NotebookResult]], notebooks: Sequence[str],
                 labels: Mapping[str, str] | None = None) -> str:
    """Student x notebook table of autograded points, ``score/max``.

    A notebook that was not submitted shows ``missing``; one that nbgrader did
    not grade shows ``---``; a trailing ``*`` marks a notebook with events
    (timeouts, dead kernels, repairs) listed below the table.
    """
    labels = labels or {}
    heads = [nb.split("_", 1)[0] for nb in notebooks]
    if len(set(heads)) != len(heads):
        heads = list(notebooks)
    names = [s + (f" ({labels[s]})" if labels.get(s) else "") for s in results]
    w0 = max([len("student")] + [len(n) for n in names])
    cols = []
    for nb in notebooks:
        cells = []
        for s in results:
            r = results[s][nb]
            if not r.submitted:
                text = "missing"
            elif not r.graded and not any(c.score is not None for c in r.tests):
                text = "---"
            else:
                text = f"{_fmt(r.score)}/{_fmt(r.max_score)}" + ("*" if r.events else "")
            cells.append(text)
        cols.append(cells)
    totals = []
    for s in results:
        score = sum(results[s][nb].score for nb in notebooks)
        top = sum(results[s][nb].max_score for nb in notebooks)
        pending = sum(len(results[s][nb].manual_pending) for nb in notebooks)
        totals.append(f"{_fmt(score)}/{_fmt(top)}" + (f" +{pending} written" if pending else ""))
    widths = [max(len(h), *(len(c) for c in col)) for h, col in zip(heads, cols)]
    wt = max(len("total"), *(len(t) for t in totals)) if totals else len("total")
    lines = ["  ".join(["student".ljust(w0)] + [h.rjust(w) for h, w in zip(heads, widths)] + ["total".ljust(wt)])]
    lines.append("-" * len(lines[0]))
    for k, name in enumerate(names):
        lines.append("  ".join([name.ljust(w0)] + [col[k].rjust(w) for col, w in zip(cols, widths)]
                               + [totals[k]]))
    legend = ", ".join(f"{h} = {nb}" for h, nb in zip(heads, notebooks) if h != nb)
    if legend:
        lines.append(legend)
    lines.append("score/max = autograded points; +N written = answers waiting for manual grading; "
                 "* = see the notes below")
    return "\n".join(lines)


def format_reasons(results: Mapping[str, Mapping[str, NotebookResult]], notebooks: Sequence[str],
                   notes: Mapping[tuple[str, str], Iterable[str]] | None = None) -> str:
    """One line per zero-scored autograded test (its reason), with per-notebook notes.

    ``notes`` maps (student, notebook id) to extra lines (the rescue's repairs,
    what the student changed in the notebook); (student, None) to lines about
    the whole submission.
    """
    notes = notes or {}
    out = []
    for s, row in results.items():
        block = [f"  note: {short(line)}" for line in notes.get((s, None), [])]
        for nb in notebooks:
            r = row[nb]
            head = nb.split("_", 1)[0]
            extra = list(dict.fromkeys([*notes.get((s, nb), []), *r.events]))
            zeros = [c for c in r.tests if not c.score and c.max_score > 0]
            if not r.submitted and zeros:
                block.append(f"  {head} all {len(zeros)} tests 0: notebook missing (not submitted)")
                continue
            for line in extra:
                block.append(f"  {head} note: {short(line)}")
            for c in zeros:
                block.append(f"  {head} {c.grade_id} 0/{_fmt(c.max_score)}: {c.reason}")
        if block:
            out.append(s)
            out.extend(block)
    return "\n".join(out) if out else "(no autograded test scored 0)"
