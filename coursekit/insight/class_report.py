"""The class view after grading: ``reports/<assignment>.html`` and a short text summary.

``make report`` (and the end of ``make grade``) calls :func:`build_report`. It
reads only what grading left behind, never reruns student code:

* the gradebook, through nbgrader's API (:class:`nbgrader.api.Gradebook`):
  students, notebooks, grade cells and every score (autograded, manual, and
  whether a human still has to look at it);
* the autograded notebooks (``autograded/<student>/<assignment>/*.ipynb``):
  the misconception marker of each failed test cell
  (:mod:`coursekit.answers.misconceptions`), the one-line sentence, why a cell could
  not be graded (timeouts, dead kernels, the rescue), and how long the
  notebook ran (``metadata.execution`` of its cells, written by nbclient for
  the kernel's cells and by :class:`coursekit.grading.execute.TrustedExecute` for the
  grader's test cells).

The HTML is one file (Jinja2 template ``templates/report.html.j2``, figures
as base64 PNG from matplotlib) that opens without a server. It holds the
score distribution per notebook and in total, item difficulty, the
item quality (difficulty and discrimination of every autograded test and
written answer, :func:`item_quality`), the misconception table with the
students who hold each, the items nbgrader or the
rescue could not grade, the written answers waiting for manual grading, and
run times per notebook (median and slowest), and the similarity of the
students' own code across the class (:mod:`coursekit.insight.similarity`, copydetect;
the scores also go to ``reports/<assignment>-similarity.csv``).

Bad input is reported, not fatal: an empty gradebook gives a report that says
there is nothing to show; a student without a submission is listed as
missing; a notebook in ``source/`` that the gradebook does not know yet (added
after grading) gets an empty column.
"""

from __future__ import annotations

import base64
import datetime as _dt
import io
import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coursekit.answers import misconceptions as mc
from coursekit.grading import causes
from coursekit.insight import similarity as sim

__all__ = ["ItemStats", "ItemQuality", "item_quality", "Holding", "ClassData", "collect", "render", "summary_text", "build_report"]

#: Student ids that start with this are synthetic (coursekit.classes.synthetic).
SYNTHETIC_PREFIX = "synth-"


# =============================================================================== data
@dataclass
class ItemStats:
    """One autograded test cell across the class."""

    notebook: str
    grade_id: str
    max_score: float
    full: int = 0          # students earning all its points
    graded: int = 0        # students with a submission (the denominator)

    @property
    def fraction(self) -> float | None:
        return self.full / self.graded if self.graded else None


#: Item flags: mean share of the points at or above EASY is "too easy", at or below HARD "too hard";
#: a discrimination below 0 is "negatively discriminating". Flags need at least FLAG_MIN students.
EASY, HARD, FLAG_MIN = 0.9, 0.2, 3


@dataclass
class ItemQuality:
    """One item (autograded test or written answer): difficulty and discrimination across the class."""

    notebook: str
    grade_id: str
    written: bool
    max_score: float
    n: int                          # students with a score for it (pending written answers left out)
    difficulty: float | None        # mean share of its points earned (1 = everyone got everything)
    discrimination: float | None    # point-biserial: correlation of its score with the rest of the total
    flags: list[str] = field(default_factory=list)


def item_quality(notebook: str, grade_id: str, max_score: float, points: dict[str, float | None],
                 totals: dict[str, float], *, written: bool = False) -> ItemQuality:
    """Difficulty and discrimination of one item from its ``points`` (student -> score, None = not graded yet)
    and every student's total.

    The discrimination index is the Pearson correlation of the item's score
    with the rest of the score (the total minus this item), over the students
    with a score; for an item scored all-or-nothing this is the point-biserial
    correlation. None where either is the same for everyone.
    """
    scored = {s: v for s, v in points.items() if v is not None and s in totals}
    n = len(scored)
    if not n or max_score <= 0:
        return ItemQuality(notebook, grade_id, written, max_score, n, None, None)
    x = [scored[s] / max_score for s in sorted(scored)]
    rest = [totals[s] - scored[s] for s in sorted(scored)]
    difficulty = sum(x) / n
    try:
        r = statistics.correlation(x, rest) if n >= 2 else None
    except statistics.StatisticsError:  # one of them constant
        r = None
    flags = []
    if n >= FLAG_MIN:
        if difficulty >= EASY:
            flags.append("too easy")
        if difficulty <= HARD:
            flags.append("too hard")
        if r is not None and r < 0:
            flags.append("negatively discriminating")
    return ItemQuality(notebook, grade_id, written, max_score, n, difficulty, r, flags)


@dataclass
class Holding:
    """One misconception: who holds it, where, and a sentence they were shown."""

    id: str
    title: str
    kind: str
    students: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    sentence: str = ""

    @property
    def count(self) -> int:
        return len(self.students)


@dataclass
class ClassData:
    """Everything the report shows (the tests check these numbers)."""

    assignment: str
    notebooks: list[str] = field(default_factory=list)
    #: notebooks of source/ the gradebook does not know (added after grading)
    new_notebooks: list[str] = field(default_factory=list)
    students: list[str] = field(default_factory=list)        # with a submission
    missing: list[str] = field(default_factory=list)         # no submission
    #: (student, notebook) submitted without that notebook
    missing_notebooks: list[tuple[str, str]] = field(default_factory=list)
    #: student -> notebook -> points (autograded + manual), None where there is no column
    scores: dict[str, dict[str, float | None]] = field(default_factory=dict)
    max_scores: dict[str, float] = field(default_factory=dict)
    items: list[ItemStats] = field(default_factory=list)
    misconceptions: list[Holding] = field(default_factory=list)
    #: (student, notebook, grade_id, why)
    ungradable: list[tuple[str, str, str, str]] = field(default_factory=list)
    #: written answer "notebook / grade_id" -> students whose answer waits for a human
    manual_queue: dict[str, list[str]] = field(default_factory=dict)
    #: notebook -> student -> seconds
    runtimes: dict[str, dict[str, float]] = field(default_factory=dict)
    #: notebook -> who grades its written answers (``graders.json`` in the course root; optional)
    graders: dict[str, str] = field(default_factory=dict)
    synthetic: bool = False
    generated: str = ""
    #: similarity of the students' own code (None: not computed)
    similarity: sim.Similarity | None = None
    #: (notebook, grade_id) -> student -> points (None: a written answer not graded yet), every item
    item_points: dict[tuple[str, str], dict[str, float | None]] = field(default_factory=dict)
    #: (notebook, grade_id) -> (max score, written answer?)
    item_kinds: dict[tuple[str, str], tuple[float, bool]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.students

    def total(self, student: str) -> float:
        return sum(v or 0.0 for v in self.scores.get(student, {}).values())

    def item_quality(self) -> list[ItemQuality]:
        """Difficulty and discrimination of every autograded test and written answer, in notebook order."""
        totals = {s: self.total(s) for s in self.students}
        return [item_quality(nb, gid, top, self.item_points.get((nb, gid), {}), totals, written=written)
                for (nb, gid), (top, written) in self.item_kinds.items()]

    def grader_of(self, item: str) -> str:
        """Who grades the written answer ``"notebook / grade_id"`` ("unassigned" without graders.json)."""
        return self.graders.get(item.split(" / ", 1)[0], "unassigned")

    def queue_by_grader(self) -> dict[str, dict[str, list[str]]]:
        """grader -> written answer -> students waiting."""
        out: dict[str, dict[str, list[str]]] = {}
        for item in sorted(self.manual_queue):
            out.setdefault(self.grader_of(item), {})[item] = self.manual_queue[item]
        return dict(sorted(out.items()))

    @property
    def max_total(self) -> float:
        return sum(self.max_scores.values())

    def runtime_stats(self, notebook: str) -> dict[str, Any] | None:
        times = self.runtimes.get(notebook) or {}
        if not times:
            return None
        slowest = max(times, key=times.get)
        return {"median": statistics.median(times.values()), "slowest": times[slowest],
                "slowest_student": slowest, "n": len(times)}


# =============================================================================== reading
def _parse_time(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return _dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def notebook_runtime(nb: dict) -> float | None:
    """Seconds from the first cell's start to the last cell's reply (``metadata.execution``), or None."""
    starts, ends = [], []
    for cell in nb.get("cells", []):
        ex = (cell.get("metadata") or {}).get("execution") or {}
        s = _parse_time(ex.get("iopub.execute_input") or ex.get("iopub.status.busy"))
        e = _parse_time(ex.get("shell.execute_reply") or ex.get("iopub.status.idle"))
        if s is not None:
            starts.append(s)
        if e is not None:
            ends.append(e)
    if not starts or not ends:
        return None
    return max(0.0, max(ends) - min(starts))


def _error_of(cell: dict) -> dict | None:
    errors = [o for o in cell.get("outputs") or [] if o.get("output_type") == "error"]
    return errors[-1] if errors else None


def collect(course_root: Path | str, assignment: str = "synapses", *, db_url: str | None = None,
            course_id: str | None = None, synthetic: bool | None = None, similarity: bool = True) -> ClassData:
    """Read the gradebook and the autograded notebooks of ``assignment`` into a :class:`ClassData`
    (``similarity=False``: without the similarity of submissions)."""
    from nbgrader.api import Gradebook, MissingEntry

    root = Path(course_root).resolve()
    if db_url is None or course_id is None:
        from coursekit.settings import read_settings
        settings = read_settings(root)
        db_url = db_url or settings.db_url
        course_id = settings.course_id if course_id is None else course_id
    data = ClassData(assignment, generated=_dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
                     graders=_graders(root))
    source_nbs = sorted(p.stem for p in (root / "source" / assignment).glob("*.ipynb"))
    db_file = Path(db_url.removeprefix("sqlite:///")) if db_url.startswith("sqlite:///") else None
    if db_file is not None and not db_file.is_file():  # no gradebook at all: nothing to show
        data.notebooks = source_nbs
        data.new_notebooks = list(source_nbs)
        data.max_scores = {nb: 0.0 for nb in source_nbs}
        return data

    holdings: dict[str, Holding] = {}
    with Gradebook(db_url, course_id) as gb:
        try:
            known = {nb.name: nb for nb in gb.find_assignment(assignment).notebooks}
        except MissingEntry:
            known = {}
        data.notebooks = sorted(set(known) | set(source_nbs))
        data.new_notebooks = [nb for nb in data.notebooks if nb not in known]
        cells: dict[str, list[tuple[str, float, bool]]] = {}
        for name in data.notebooks:
            nb = known.get(name)
            if nb is None:
                cells[name] = []
                continue
            written = {c.name for c in nb.solution_cells}
            cells[name] = [(c.name, float(c.max_score), c.name in written) for c in nb.grade_cells]
        data.max_scores = {nb: sum(m for _, m, _ in cells[nb]) for nb in data.notebooks}
        items = {(nb, gid): ItemStats(nb, gid, m) for nb in data.notebooks for gid, m, w in cells[nb] if not w}

        everyone = sorted({s.id for s in gb.students} | _submitted_ids(root, assignment))
        for student in everyone:
            try:
                gb.find_submission(assignment, student)
            except MissingEntry:
                data.missing.append(student)
                continue
            data.students.append(student)
            row = data.scores.setdefault(student, {})
            for name in data.notebooks:
                if name not in known:
                    row[name] = None
                    continue
                grades = {}
                try:
                    grades = {g.name: g for g in gb.find_submission_notebook(name, assignment, student).grades}
                except MissingEntry:
                    pass
                path = root / "autograded" / student / assignment / f"{name}.ipynb"
                graded_nb = _read(path)
                absent = graded_nb is None and not (root / "submitted" / student / assignment /
                                                    f"{name}.ipynb").is_file()
                if absent:
                    data.missing_notebooks.append((student, name))
                by_id = {((c.get("metadata") or {}).get("nbgrader") or {}).get("grade_id"): c
                         for c in (graded_nb or {}).get("cells", [])}
                if graded_nb is not None:
                    seconds = notebook_runtime(graded_nb)
                    if seconds is not None:
                        data.runtimes.setdefault(name, {})[student] = seconds
                total = 0.0
                for gid, top, written in cells[name]:
                    g = grades.get(gid)
                    scored = g is not None and (g.auto_score is not None or g.manual_score is not None)
                    score = float(g.score) if scored else None
                    total += score or 0.0
                    data.item_kinds.setdefault((name, gid), (top, written))
                    pending = written and score is None and not absent
                    data.item_points.setdefault((name, gid), {})[student] = None if pending else (score or 0.0)
                    if written:
                        if not absent and (g is None or g.needs_manual_grade):
                            data.manual_queue.setdefault(f"{name} / {gid}", []).append(student)
                        continue
                    item = items[(name, gid)]
                    item.graded += 1
                    if score is not None and top > 0 and score >= top:
                        item.full += 1
                    if absent:
                        continue
                    cell = by_id.get(gid)
                    why = _ungradable(g, score, cell, graded_nb is not None)
                    if why:
                        data.ungradable.append((student, name, gid, why))
                        continue
                    if cell is not None and score is not None and score < top:
                        ident = mc.cell_misconception(cell)
                        if ident:
                            err = _error_of(cell) or {}
                            h = holdings.setdefault(ident, Holding(ident, mc.title(ident), mc.kind(ident)))
                            if student not in h.students:
                                h.students.append(student)
                            if gid not in h.items:
                                h.items.append(gid)
                            if not h.sentence:
                                h.sentence = str(err.get("evalue", ""))
                row[name] = total
        data.items = list(items.values())
    if similarity:
        released = {p.stem: nb for p in sorted((root / "release" / assignment).glob("*.ipynb"))
                    if (nb := _read(p)) is not None}
        data.similarity = sim.class_similarity(sim.read_notebooks(root, assignment, data.students), released)
    order = {"physics": 0, "code": 1, "other": 2}
    data.misconceptions = sorted(holdings.values(), key=lambda h: (order.get(h.kind, 3), -h.count, h.id))
    if synthetic is None:  # any synthetic student marks the report (a demo, not a real class)
        synthetic = any(s.startswith(SYNTHETIC_PREFIX) for s in data.students + data.missing)
    data.synthetic = synthetic
    return data


def _graders(root: Path) -> dict[str, str]:
    """``graders.json`` of the course root: {"01_synapse_zoo": "Ada", ...} (who grades which notebook's
    written answers; nbgrader itself records no grader). Missing or unreadable: no assignment."""
    data = _read(root / "graders.json")
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _submitted_ids(root: Path, assignment: str) -> set[str]:
    folder = root / "submitted"
    if not folder.is_dir():
        return set()
    return {p.name for p in folder.iterdir() if p.is_dir() and (p / assignment).is_dir()}


def _read(path: Path) -> dict | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def _ungradable(grade: Any, score: float | None, cell: dict | None, have_notebook: bool) -> str:
    """Why an autograded test cell has no real verdict ("" if it has one)."""
    if score is None:
        return "no score in the gradebook (nbgrader never graded this cell)"
    if grade is not None and grade.needs_manual_grade:
        return "nbgrader could not grade this cell: set to 0 and flagged for manual grading"
    if not have_notebook:
        return "no autograded notebook (nbgrader failed the submission)"
    err = _error_of(cell) if cell is not None else None
    if err is not None and causes.is_ungradable(err.get("ename")):
        what = causes.MEANINGS[err["ename"]]
        evalue = " ".join(str(err.get("evalue", "")).split())
        return f"{what}" + (f": {evalue[:160]}" if evalue else "")
    return ""


# =============================================================================== figures
def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _short(nb: str) -> str:
    return nb.split("_", 1)[0]


def figure_scores(data: ClassData) -> str | None:
    """Histograms of points per notebook and in total (small multiples)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(nb, [data.scores[s][nb] for s in data.students if data.scores[s].get(nb) is not None],
               data.max_scores.get(nb, 0.0)) for nb in data.notebooks]
    panels.append(("total", [data.total(s) for s in data.students], data.max_total))
    cols = min(len(panels), 4)
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.2 * rows), squeeze=False)
    for ax, (name, values, top) in zip(axes.flat, panels):
        ax.set_title(name if name == "total" else name.replace("_", " "), fontsize=9,
                     fontweight="bold" if name == "total" else "normal")
        if not values:
            ax.text(0.5, 0.5, "not graded yet", ha="center", va="center", transform=ax.transAxes, color="0.5")
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        bins = min(20, max(int(top), 1)) if top else 10
        ax.hist(values, bins=bins, range=(0, top or max(values) or 1), color="#3b6ea5" if name != "total"
                else "#a5523b", edgecolor="white")
        ax.set_xlim(0, top or None)
        ax.axvline(statistics.median(values), color="k", lw=1, ls="--")
        ax.tick_params(labelsize=8)
        ax.set_xlabel(f"points (of {top:g}); median {statistics.median(values):g}", fontsize=8)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    return _png(fig)


def figure_difficulty(data: ClassData) -> str | None:
    """Horizontal bars: fraction of the class earning each test's points."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = [it for it in data.items if it.fraction is not None]
    if not items:
        return None
    colours = plt.get_cmap("tab10")
    index = {nb: k for k, nb in enumerate(data.notebooks)}
    fig, ax = plt.subplots(figsize=(8.5, 0.24 * len(items) + 0.9))
    y = list(range(len(items)))[::-1]
    ax.barh(y, [it.fraction for it in items], color=[colours(index[it.notebook] % 10) for it in items])
    ax.set_yticks(y)
    ax.set_yticklabels([f"{_short(it.notebook)}  {it.grade_id.removeprefix('test_')}" for it in items], fontsize=8)
    for yy, it in zip(y, items):
        ax.text(min(it.fraction, 1.0) + 0.01, yy, f"{it.full}/{it.graded}", va="center", fontsize=7)
    ax.set_xlim(0, 1.12)
    ax.set_xlabel("fraction of the class earning the test's points", fontsize=9)
    ax.axvline(0.5, color="0.6", lw=0.8, ls=":")
    ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    return _png(fig)


def figure_similarity(data: ClassData) -> str | None:
    """Per notebook: how many pairs of students have each similarity score, the threshold as a line."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = data.similarity
    names = [nb for nb in (s.notebooks if s else []) if s.scores.get(nb)]
    if not names:
        return None
    cols = min(len(names), 4)
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.3 * rows), squeeze=False)
    for ax, nb in zip(axes.flat, names):
        values = s.scores[nb]
        ax.hist(values, bins=20, range=(0, 1), color="#6a2d91" if nb == sim.ALL else "#3b6ea5", edgecolor="white")
        ax.set_yscale("log")
        ax.axvline(s.threshold, color="#a5523b", lw=1.2, ls="--")
        ax.set_title(nb.replace("_", " "), fontsize=9, fontweight="bold" if nb == sim.ALL else "normal")
        ax.set_xlabel("similarity score (share of code, 0-1)", fontsize=8)
        ax.set_ylabel("pairs of students", fontsize=8)
        ax.tick_params(labelsize=8)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    return _png(fig)


def figure_runtimes(data: ClassData) -> str | None:
    """Run time per notebook: one dot per student, the median as a bar."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [nb for nb in data.notebooks if data.runtimes.get(nb)]
    if not names:
        return None
    fig, ax = plt.subplots(figsize=(8.5, 0.45 * len(names) + 1.0))
    for k, nb in enumerate(reversed(names)):
        values = sorted(data.runtimes[nb].values())
        jitter = [(i % 5 - 2) * 0.05 for i in range(len(values))]
        ax.scatter(values, [k + j for j in jitter], s=10, alpha=0.6, color="#3b6ea5")
        ax.plot([statistics.median(values)] * 2, [k - 0.3, k + 0.3], color="k", lw=2)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels([nb.replace("_", " ") for nb in reversed(names)], fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("seconds to run the notebook (log scale; bar = median)", fontsize=9)
    ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    return _png(fig)


# =============================================================================== output
def _environment():
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
                              autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True,
                              lstrip_blocks=True, undefined=jinja2.StrictUndefined)


def render(data: ClassData) -> str:
    """The report as one HTML page."""
    figures = {} if data.empty else {"scores": figure_scores(data), "difficulty": figure_difficulty(data),
                                     "runtimes": figure_runtimes(data), "similarity": figure_similarity(data)}
    totals = [data.total(s) for s in data.students]
    hardest = sorted((it for it in data.items if it.fraction is not None), key=lambda it: it.fraction)[:3]
    runtime = {nb: data.runtime_stats(nb) for nb in data.notebooks}
    return _environment().get_template("report.html.j2").render(
        d=data, figures=figures, totals=totals, hardest=hardest, runtime=runtime,
        median_total=statistics.median(totals) if totals else None,
        pending=sum(len(v) for v in data.manual_queue.values()),
        fmt=lambda x: "" if x is None else f"{x:g}", secs=_secs, ALL=sim.ALL)


def _secs(x: float | None) -> str:
    if x is None:
        return ""
    return f"{x:.1f} s" if x < 60 else f"{x / 60:.1f} min"


def summary_text(data: ClassData, path: Path | None = None) -> str:
    """A few lines for the terminal."""
    lines = []
    head = f"Class report for {data.assignment}" + (" (SYNTHETIC class)" if data.synthetic else "")
    if path is not None:
        head += f": {path}"
    lines.append(head)
    if data.empty:
        lines.append("  nothing to show: no graded submission in the gradebook"
                     + (f" ({len(data.missing)} students without a submission)" if data.missing else ""))
        return "\n".join(lines)
    totals = [data.total(s) for s in data.students]
    lines.append(f"  {len(data.students)} students graded, {len(data.missing)} missing; total points median "
                 f"{statistics.median(totals):g} of {data.max_total:g} (range {min(totals):g}-{max(totals):g})")
    hard = sorted((it for it in data.items if it.fraction is not None), key=lambda it: it.fraction)[:3]
    if hard:
        lines.append("  hardest tests: " + "; ".join(f"{_short(it.notebook)} {it.grade_id} {it.full}/{it.graded}"
                                                     for it in hard))
    physics = [h for h in data.misconceptions if h.kind == "physics"][:5]
    if physics:
        lines.append("  commonest misconceptions: " + "; ".join(f"{h.id} ({h.count})" for h in physics))
    if data.ungradable:
        lines.append(f"  {len(data.ungradable)} test cells could not be graded (see the report)")
    pending = sum(len(v) for v in data.manual_queue.values())
    if pending:
        per = {g: sum(len(v) for v in items.values()) for g, items in data.queue_by_grader().items()}
        lines.append(f"  {pending} written answers wait for manual grading"
                     + ("" if list(per) == ["unassigned"] else " (" + ", ".join(f"{g}: {n}" for g, n in per.items())
                        + ")"))
    slow = [(nb, data.runtime_stats(nb)) for nb in data.notebooks if data.runtime_stats(nb)]
    if slow:
        nb, st = max(slow, key=lambda x: x[1]["slowest"])
        lines.append(f"  slowest run: {nb} by {st['slowest_student']} in {_secs(st['slowest'])} "
                     f"(median {_secs(st['median'])})")
    if data.missing_notebooks:
        lines.append(f"  {len(data.missing_notebooks)} notebooks not submitted (by "
                     f"{len({s for s, _ in data.missing_notebooks})} students)")
    if data.similarity is not None:
        pairs = data.similarity.flagged_in(sim.ALL)
        if pairs:
            lines.append(f"  {len(pairs)} pairs of students with similar code over the whole assignment (score >= "
                         f"{data.similarity.threshold:g}; a person decides): "
                         + "; ".join(f"{p.a} and {p.b} {p.score:.2f}" for p in pairs[:5])
                         + (" ..." if len(pairs) > 5 else ""))
    if data.new_notebooks:
        lines.append("  not in the gradebook yet (empty columns): " + ", ".join(data.new_notebooks))
    return "\n".join(lines)


def build_report(course_root: Path | str, assignment: str = "synapses", out: Path | str | None = None, *,
                 db_url: str | None = None, course_id: str | None = None, synthetic: bool | None = None,
                 say=print, similarity: bool = True) -> Path:
    """Write ``reports/<assignment>.html`` (or ``out``), print the summary, return the path."""
    root = Path(course_root).resolve()
    path = Path(out) if out is not None else root / "reports" / f"{assignment}.html"
    data = collect(root, assignment, db_url=db_url, course_id=course_id, synthetic=synthetic, similarity=similarity)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(data), encoding="utf-8")
    if data.similarity is not None:
        sim.write_csv(data.similarity, path.with_name(f"{path.stem}-similarity.csv"))
    if say is not None:
        say(summary_text(data, path))
    return path
