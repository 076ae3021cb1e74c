"""A synthetic class for the class report's demo: N students drawn from the mutation suite's wrong answers.

Like the sample class (:mod:`coursekit.classes.sample`) the students are built at
run time from ``source/`` and ``release/``: every answer cell starts as the
instructor's solution, then some items are replaced by a WRONG row of the
answer tables (:mod:`coursekit.answers.tables`: known wrong answers, the
lecture's own errors among them), some notebooks are left as released (not
attempted) or not submitted, and a few students submit nothing. The draw is
seeded, so a class is reproducible.

Frequencies (plausible, not measured): each student has a skill ~ Beta(4, 2);
an item is wrong with probability 0.05 + 0.4 (1 - skill); the wrong answer is
drawn from the item's WRONG rows, the lecture's own errors three times as
often as others and programming slips (shapes, overflow) half as often. 4 % of
the notebooks are left blank, 3 % not submitted; one student in 30 submits
nothing (in the gradebook as a student, without a submission).

Every id starts with :data:`PREFIX` (``synth-``), which the report takes as
the mark of a synthetic class. Two uses:

* :func:`prepare_for_grading` writes ``submitted/synth-NNN/<assignment>/``
  (and removes an earlier synthetic class); ``make grade CLASS=60``
  (:func:`coursekit.pipeline.classes_run.grade_synthetic`) then grades those
  students with the real pipeline (about 25 min for 60 on two cores);
* :func:`simulate` writes a gradebook and autograded notebooks directly,
  without running any code, from what each wrong answer is known to produce
  (its misconception, from the tables' ``MISCONCEPTIONS``): for timing and
  screenshots of the report at class size when a grading run is too slow.
"""

from __future__ import annotations

import datetime as _dt
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from coursekit import course as ck
from coursekit.answers import tables
from coursekit.classes import sample as sc
from coursekit.classes.edits import _fill_answers, _gid, answer_items

__all__ = ["PREFIX", "SyntheticStudent", "draw_class", "build_notebooks", "prepare_for_grading", "remove_synthetic",
           "simulate"]

PREFIX = "synth-"


@dataclass
class SyntheticStudent:
    """One drawn student.

    Attributes
    ----------
    id : str
    skill : float
    wrong : dict
        Notebook id -> answer grade id -> label of the WRONG row used.
    blank : set of str
        Notebooks left as released.
    omitted : set of str
        Notebooks not submitted.
    submits : bool
        False: no submission at all.
    """

    id: str
    skill: float
    wrong: dict[str, dict[str, str]] = field(default_factory=dict)
    blank: set[str] = field(default_factory=set)
    omitted: set[str] = field(default_factory=set)
    submits: bool = True


def _weight(label: str) -> float:
    text = label.lower()
    if "lecture" in text:
        return 3.0
    if any(word in text for word in ("scalar", "ndmin", "0 x inf", "zip", "ravel", "nan in", "array ",
                                     "hard-coded", "(units)", "missing (")):
        return 0.5
    return 1.0


def draw_class(n: int, rows: dict[str, list[tuple[str, str, str]]], seed: int = 2026) -> list[SyntheticStudent]:
    """``n`` students drawn as the module docstring says."""
    rng = random.Random(seed)
    students = []
    for k in range(1, n + 1):
        s = SyntheticStudent(f"{PREFIX}{k:03d}", round(rng.betavariate(4, 2), 3))
        if k % 30 == 0:
            s.submits = False
            students.append(s)
            continue
        p_wrong = 0.05 + 0.4 * (1.0 - s.skill)
        for nb, table in rows.items():
            roll = rng.random()
            if roll < 0.03:
                s.omitted.add(nb)
                continue
            if roll < 0.07:
                s.blank.add(nb)
                continue
            items = sorted({item for item, _, _ in table})
            for item in items:
                if rng.random() < p_wrong:
                    choices = [(label, _weight(label)) for it, label, _ in table if it == item]
                    labels, weights = zip(*choices)
                    s.wrong.setdefault(nb, {})[item] = rng.choices(labels, weights)[0]
        students.append(s)
    return students


def build_notebooks(student: SyntheticStudent, course_root: Path, rows, assignment: str = ck.ASSIGNMENT_ID
                    ) -> dict[str, nbformat.NotebookNode]:
    """File name -> notebook to submit (the released notebook with answers filled)."""
    root = Path(course_root)
    out = {}
    for path in sorted((root / "release" / assignment).glob("*.ipynb")):
        nb_id = path.stem
        if nb_id in student.omitted:
            continue
        released = nbformat.read(path, as_version=4)
        if nb_id not in student.blank:
            source_nb = nbformat.read(root / "source" / assignment / path.name, as_version=4)
            _fill_answers(released, source_nb, "solution", [])
            sources = {(item, label): src for item, label, src in rows.get(nb_id, [])}
            for cell in released.cells:
                item = _gid(cell)
                label = student.wrong.get(nb_id, {}).get(item)
                if label is not None and (item, label) in sources:
                    cell.source = sources[(item, label)]
        out[path.name] = released
    return out


def remove_synthetic(course_root: Path, db_url: str, course_id: str, assignment: str = ck.ASSIGNMENT_ID, *,
                     prefix: str = PREFIX) -> list[str]:
    """Remove every ``synth-`` student (every ``prefix`` one): folders under submitted/, autograded/, feedback/
    and gradebook rows."""
    from nbgrader.api import Gradebook, MissingEntry

    root = Path(course_root)
    removed = set()
    for top in ("submitted", "autograded", "feedback"):
        for folder in (root / top).glob(prefix + "*") if (root / top).is_dir() else ():
            shutil.rmtree(folder, ignore_errors=True)
            removed.add(folder.name)
    db = Path(db_url.removeprefix("sqlite:///"))
    if db_url.startswith("sqlite:///") and not db.is_file():
        return sorted(removed)
    with Gradebook(db_url, course_id) as gb:
        for student in [s.id for s in gb.students if s.id.startswith(prefix)]:
            try:
                gb.remove_submission(assignment, student)
            except MissingEntry:
                pass
            gb.remove_student(student)
            removed.add(student)
    return sorted(removed)


def prepare_for_grading(course_root: Path | str, n: int, *, seed: int = 2026, db_url: str | None = None,
                        course_id: str | None = None, assignment: str = ck.ASSIGNMENT_ID, say=print) -> list[str]:
    """Write the synthetic class to ``submitted/``; return the ids to grade (``grade(students=...)``).

    Students without a submission are added to the gradebook only, so the
    report lists them as missing.
    """
    from nbgrader.api import Gradebook

    root = Path(course_root).resolve()
    if db_url is None or course_id is None:
        from coursekit.settings import read_settings
        settings = read_settings(root)
        db_url, course_id = db_url or settings.db_url, settings.course_id if course_id is None else course_id
    removed = remove_synthetic(root, db_url, course_id, assignment)
    if removed and say:
        say(f"removed the previous synthetic class ({len(removed)} students)")
    rows = tables.wrong_rows()
    students = draw_class(n, rows, seed)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime(sc.TIMESTAMP_FORMAT)
    graded = []
    for s in students:
        if not s.submits:
            continue
        dest = root / "submitted" / s.id / assignment
        dest.mkdir(parents=True)
        for name, nb in build_notebooks(s, root, rows, assignment).items():
            nbformat.write(sc.with_course_root(nb, root), dest / name)
        (dest / "timestamp.txt").write_text(stamp)
        graded.append(s.id)
    absent = [s.id for s in students if not s.submits]
    if absent:
        with Gradebook(db_url, course_id) as gb:
            for sid in absent:
                gb.update_or_create_student(sid)
    if say:
        wrong = sum(len(v) for s in students for v in s.wrong.values())
        say(f"synthetic class: {len(graded)} submissions ({wrong} wrong answers drawn from the answer tables), "
            f"{len(absent)} students without a submission")
    return graded


# ------------------------------------------------------------------------------------------ simulation
def simulate(course_root: Path | str, n: int, *, db_url: str, course_id: str, seed: int = 2026,
             assignment: str = ck.ASSIGNMENT_ID) -> list[SyntheticStudent]:
    """Write a gradebook and autograded notebooks for ``n`` drawn students without running code.

    The gradebook's cells come from the source notebooks' nbgrader metadata;
    a test cell of an item answered wrongly scores 0 with the marker and a
    sentence of the misconception the answer table says it produces
    (its ``MISCONCEPTIONS``); blank items score 0 as "not
    answered"; written answers wait for manual grading; run times are drawn
    (lognormal around 3 s, with an occasional runaway).
    """
    from nbgrader.api import Gradebook

    from coursekit.answers import misconceptions as mc

    root = Path(course_root).resolve()
    rows = tables.wrong_rows()
    by_label = {(item, label): ident for (_, item, label), ident in tables.EXPECTED.items()}
    rng = random.Random(seed + 1)
    students = draw_class(n, rows, seed)
    layouts = {}
    for path in sorted((root / "source" / assignment).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        items = answer_items(nb)
        cells = []
        for c in nb.cells:
            meta = c.metadata.get("nbgrader", {})
            if meta.get("grade"):
                cells.append((meta["grade_id"], float(meta.get("points", 0)), bool(meta.get("solution")),
                              c.cell_type, items.get(meta["grade_id"])))
        layouts[path.stem] = cells
    with Gradebook(db_url, course_id) as gb:
        gb.update_or_create_assignment(assignment)
        for nb_id, cells in layouts.items():
            gb.update_or_create_notebook(nb_id, assignment)
            for gid, points, written, kind, _ in cells:
                gb.update_or_create_grade_cell(gid, nb_id, assignment, max_score=points, cell_type=kind)
                if written:
                    gb.update_or_create_solution_cell(gid, nb_id, assignment)
        for s in students:
            gb.update_or_create_student(s.id)
            if not s.submits:
                continue
            gb.add_submission(assignment, s.id)
            for nb_id, cells in layouts.items():
                start = _dt.datetime(2026, 1, 1, 10, 0, tzinfo=_dt.timezone.utc)
                seconds = rng.lognormvariate(1.1, 0.5) * (8 if nb_id.startswith(("02", "03", "06")) else 1)
                if rng.random() < 0.02:
                    seconds += 60.0  # a runaway cell that hit the time limit
                out_cells = []
                for k, (gid, points, written, kind, item) in enumerate(cells):
                    g = gb.find_grade(gid, nb_id, assignment, s.id)
                    if written:
                        g.auto_score, g.needs_manual_grade = None, nb_id not in s.omitted
                        if nb_id not in s.omitted:
                            out_cells.append(nbformat.v4.new_markdown_cell("(answer)", metadata={
                                "nbgrader": {"grade_id": gid, "grade": True, "solution": True, "points": points}}))
                        continue
                    label = s.wrong.get(nb_id, {}).get(item)
                    outputs = [{"output_type": "stream", "name": "stdout", "text": "passes\n"}]
                    if nb_id in s.omitted or nb_id in s.blank:
                        ident, sentence = "not-answered", f"{item} raised NotImplementedError: Replace this line"
                    elif label is not None:
                        ident = by_label.get((item, label), mc.OTHER)
                        sentence = f"{item}: " + (mc.title(ident) or "a wrong value")
                    else:
                        ident = None
                    score = points
                    if ident is not None:
                        score = 0.0
                        outputs = [mc.marker_output(ident), {"output_type": "error", "ename": "GradingError",
                                                             "evalue": sentence,
                                                             "traceback": [f"GradingError: {sentence}"]}]
                    g.auto_score, g.needs_manual_grade = score, False
                    t0 = start + _dt.timedelta(seconds=seconds * k / max(len(cells), 1))
                    t1 = start + _dt.timedelta(seconds=seconds * (k + 1) / max(len(cells), 1))
                    cell = nbformat.v4.new_code_cell("pass", metadata={
                        "nbgrader": {"grade_id": gid, "grade": True, "solution": False, "points": points},
                        "execution": {"iopub.execute_input": t0.isoformat().replace("+00:00", "Z"),
                                      "shell.execute_reply": t1.isoformat().replace("+00:00", "Z")}})
                    cell.outputs = [nbformat.from_dict(o) for o in outputs]
                    out_cells.append(cell)
                if nb_id in s.omitted:
                    continue
                path = root / "autograded" / s.id / assignment / f"{nb_id}.ipynb"
                path.parent.mkdir(parents=True, exist_ok=True)
                nbformat.write(nbformat.v4.new_notebook(cells=out_cells), path)
        gb.db.commit()
    return students
