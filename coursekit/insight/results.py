"""The one reader of grading results: per-cell records from the gradebook and the autograded notebooks.

Scores come from nbgrader's gradebook (:class:`nbgrader.api.Gradebook`), so
every view shows exactly what ``nbgrader export`` and the formgrader see; the
autograded notebook (``autograded/<student>/<assignment>/<notebook>.ipynb``)
adds each cell's outputs, from which the views say *why* a cell scored 0.

:func:`read_results` is read by both views of a graded class:

* the printed table of ``make grade`` (:func:`coursekit.pipeline.report.collect_results`);
* the class report (:func:`coursekit.insight.class_report.collect`).

Each aggregates the same :class:`CellRecord` objects in its own way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

__all__ = ["CellRecord", "NotebookRecord", "ClassResults", "read_json", "read_results"]


@dataclass
class CellRecord:
    """One graded cell (autograded test or written answer) of one student's notebook.

    Attributes
    ----------
    grade_id : str
    max_score : float
    written : bool
        A manually graded answer (nbgrader solution + grade cell).
    score : float or None
        Manual score if set, else the autograder's; None if never graded.
    in_gradebook : bool
        The gradebook has a grade row for this cell.
    needs_manual_grade : bool
        nbgrader's flag (True when there is no grade row).
    cell : dict or None
        The cell of the autograded notebook (with its outputs), if there is one.
    """

    grade_id: str
    max_score: float
    written: bool
    score: float | None = None
    in_gradebook: bool = False
    needs_manual_grade: bool = True
    cell: dict | None = None

    @property
    def error(self) -> dict | None:
        """The cell's last error output, if any."""
        errors = [o for o in (self.cell or {}).get("outputs") or [] if o.get("output_type") == "error"]
        return errors[-1] if errors else None


@dataclass
class NotebookRecord:
    """One student's notebook: whether it was submitted and graded, and its cells.

    Attributes
    ----------
    student, notebook : str
    known : bool
        The gradebook knows the notebook (False for a notebook added to ``source/`` after grading).
    submitted : bool
        ``submitted/<student>/<assignment>/<notebook>.ipynb`` exists.
    graded_path : pathlib.Path
    graded : dict or None
        The autograded notebook as JSON (None if there is none or it cannot be read).
    cells : list of CellRecord
        In the gradebook's order of grade cells.
    """

    student: str
    notebook: str
    known: bool
    submitted: bool
    graded_path: Path
    graded: dict | None = None
    cells: list[CellRecord] = field(default_factory=list)

    @property
    def absent(self) -> bool:
        """Neither submitted nor autograded."""
        return self.graded is None and not self.submitted


@dataclass
class ClassResults:
    """What :func:`read_results` found.

    Attributes
    ----------
    notebooks : list of str
        The notebook ids asked for (or the gradebook's and ``source/``'s).
    known : list of str
        Those the gradebook knows.
    students : list of str
        Students with a submission in the gradebook (or those asked for).
    missing : list of str
        Students the gradebook or ``submitted/`` knows, without a submission.
    grade_cells : dict
        notebook -> [(grade_id, max_score, written), ...] of the gradebook's known notebooks.
    records : dict
        (student, notebook) -> :class:`NotebookRecord`.
    """

    notebooks: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)
    students: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    grade_cells: dict[str, list[tuple[str, float, bool]]] = field(default_factory=dict)
    records: dict[tuple[str, str], NotebookRecord] = field(default_factory=dict)

    def of(self, student: str) -> list[NotebookRecord]:
        """The records of one student, in notebook order."""
        return [self.records[(student, nb)] for nb in self.notebooks if (student, nb) in self.records]


def read_json(path: Path) -> Any:
    """``path`` parsed as JSON, or None if it is missing or not JSON."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def _submitted_ids(root: Path, assignment: str) -> set[str]:
    folder = root / "submitted"
    if not folder.is_dir():
        return set()
    return {p.name for p in folder.iterdir() if p.is_dir() and (p / assignment).is_dir()}


def read_results(course_root: Path | str, db_url: str, course_id: str, assignment: str, *,
                 students: Sequence[str] | None = None, notebooks: Iterable[str] | None = None) -> ClassResults:
    """Every graded cell of ``students`` x ``notebooks``, from the gradebook and the autograded notebooks.

    Parameters
    ----------
    course_root : path
    db_url, course_id : str
        The gradebook (:class:`coursekit.settings.CourseSettings`).
    assignment : str
    students : sequence of str, optional
        Whom to read, in this order, submitted or not. Default: every student of the gradebook or of
        ``submitted/``; those without a submission go to :attr:`ClassResults.missing`.
    notebooks : iterable of str, optional
        Notebook ids (without ``.ipynb``), in this order. Default: the gradebook's and ``source/``'s, sorted.
    """
    from nbgrader.api import Gradebook, MissingEntry

    root = Path(course_root)
    out = ClassResults()
    with Gradebook(db_url, course_id) as gb:
        try:
            known = {nb.name: nb for nb in gb.find_assignment(assignment).notebooks}
        except MissingEntry:
            known = {}
        if notebooks is None:
            source = {p.stem for p in (root / "source" / assignment).glob("*.ipynb")}
            notebooks = sorted(set(known) | source)
        out.notebooks = list(notebooks)
        out.known = [nb for nb in out.notebooks if nb in known]
        cells = out.grade_cells
        for name in out.known:
            written = {c.name for c in known[name].solution_cells}
            cells[name] = [(c.name, float(c.max_score), c.name in written) for c in known[name].grade_cells]
        if students is None:
            for student in sorted({s.id for s in gb.students} | _submitted_ids(root, assignment)):
                try:
                    gb.find_submission(assignment, student)
                except MissingEntry:
                    out.missing.append(student)
                    continue
                out.students.append(student)
        else:
            out.students = list(students)
        for student in out.students:
            for name in out.notebooks:
                out.records[(student, name)] = _record(gb, root, assignment, student, name, cells.get(name))
    return out


def _record(gb, root: Path, assignment: str, student: str, name: str,
            cells: list[tuple[str, float, bool]] | None) -> NotebookRecord:
    from nbgrader.api import MissingEntry

    path = root / "autograded" / student / assignment / f"{name}.ipynb"
    rec = NotebookRecord(student, name, cells is not None,
                         (root / "submitted" / student / assignment / f"{name}.ipynb").is_file(), path)
    if cells is None:
        return rec
    rec.graded = read_json(path) if path.is_file() else None
    grades = {}
    try:
        grades = {g.name: g for g in gb.find_submission_notebook(name, assignment, student).grades}
    except MissingEntry:
        pass
    by_id = {((c.get("metadata") or {}).get("nbgrader") or {}).get("grade_id"): c
             for c in (rec.graded or {}).get("cells", [])}
    for gid, top, written in cells:
        g = grades.get(gid)
        scored = g is not None and (g.auto_score is not None or g.manual_score is not None)
        rec.cells.append(CellRecord(gid, top, written, float(g.score) if scored else None, g is not None,
                                    bool(g.needs_manual_grade) if g is not None else True, by_id.get(gid)))
    return rec
