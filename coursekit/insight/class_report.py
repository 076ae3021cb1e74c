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

import datetime as _dt
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coursekit.answers import misconceptions as mc
from coursekit.grading import causes
from coursekit.insight.results import CellRecord, ClassResults, read_json, read_results
from coursekit.insight import similarity as sim
from coursekit.insight.figures import _short, figure_difficulty, figure_runtimes, figure_scores, figure_similarity

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
    #: how many hold it, and that over the class size: what the report shows (set by :func:`misconception_holdings`)
    count: int = 0
    share: float = 0.0


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


def collect(course_root: Path | str, assignment: str = "synapses", *, db_url: str | None = None,
            course_id: str | None = None, synthetic: bool | None = None, similarity: bool = True) -> ClassData:
    """Read the gradebook and the autograded notebooks of ``assignment`` into a :class:`ClassData`
    (``similarity=False``: without the similarity of submissions).

    The records come from :func:`coursekit.insight.results.read_results`, the printed table's reader
    too; ``db_url`` and ``course_id`` default to the course's settings (read once, here).
    """
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
    found = read_results(root, db_url, course_id, assignment)
    data.notebooks = found.notebooks
    data.new_notebooks = [nb for nb in found.notebooks if nb not in found.known]
    data.students, data.missing = found.students, found.missing
    _tally(data, found)
    data.misconceptions = misconception_holdings(found, len(data.students))
    if similarity:
        released = {p.stem: nb for p in sorted((root / "release" / assignment).glob("*.ipynb"))
                    if (nb := _read(p)) is not None}
        data.similarity = sim.class_similarity(sim.read_notebooks(root, assignment, data.students), released)
    if synthetic is None:  # any synthetic student marks the report (a demo, not a real class)
        synthetic = any(s.startswith(SYNTHETIC_PREFIX) for s in data.students + data.missing)
    data.synthetic = synthetic
    return data


def _tally(data: ClassData, found: ClassResults) -> None:
    """Scores, item statistics, the manual queue, ungradable cells and run times of ``found``."""
    cells = found.grade_cells
    data.max_scores = {nb: sum(m for _, m, _ in cells.get(nb, [])) for nb in data.notebooks}
    items = {(nb, gid): ItemStats(nb, gid, m) for nb in data.notebooks for gid, m, w in cells.get(nb, []) if not w}
    for student in data.students:
        row = data.scores.setdefault(student, {})
        for rec in found.of(student):
            name = rec.notebook
            if not rec.known:
                row[name] = None
                continue
            if rec.absent:
                data.missing_notebooks.append((student, name))
            if rec.graded is not None:
                seconds = notebook_runtime(rec.graded)
                if seconds is not None:
                    data.runtimes.setdefault(name, {})[student] = seconds
            for c in rec.cells:
                data.item_kinds.setdefault((name, c.grade_id), (c.max_score, c.written))
                pending = c.written and c.score is None and not rec.absent
                data.item_points.setdefault((name, c.grade_id), {})[student] = None if pending else (c.score or 0.0)
                if c.written:
                    if not rec.absent and c.needs_manual_grade:
                        data.manual_queue.setdefault(f"{name} / {c.grade_id}", []).append(student)
                    continue
                item = items[(name, c.grade_id)]
                item.graded += 1
                if c.score is not None and c.max_score > 0 and c.score >= c.max_score:
                    item.full += 1
                if rec.absent:
                    continue
                why = _ungradable(c, rec.graded is not None)
                if why:
                    data.ungradable.append((student, name, c.grade_id, why))
            row[name] = sum(c.score or 0.0 for c in rec.cells)
    data.items = list(items.values())


def misconception_holdings(found: ClassResults, class_size: int) -> list[Holding]:
    """Who holds which misconception: the test cells that lost points with a misconception's message.

    A student counts once per misconception (however many items show it); :attr:`Holding.share` is that
    count over ``class_size``, the students with a submission. Physics first, then code, most held first.
    """
    holdings: dict[str, Holding] = {}
    for rec in found.records.values():
        if not rec.known or rec.absent:
            continue
        for c in rec.cells:
            if c.written or c.cell is None or c.score is None or c.score >= c.max_score:
                continue
            if _ungradable(c, rec.graded is not None):
                continue
            ident = mc.cell_misconception(c.cell)
            if not ident:
                continue
            h = holdings.setdefault(ident, Holding(ident, mc.title(ident), mc.kind(ident)))
            if rec.student not in h.students:
                h.students.append(rec.student)
            if c.grade_id not in h.items:
                h.items.append(c.grade_id)
            if not h.sentence:
                h.sentence = str((c.error or {}).get("evalue", ""))
    for h in holdings.values():
        h.count = len(h.students)
        h.share = h.count / class_size if class_size else 0.0
    order = {"physics": 0, "code": 1, "other": 2}
    return sorted(holdings.values(), key=lambda h: (order.get(h.kind, 3), -h.count, h.id))


def _graders(root: Path) -> dict[str, str]:
    """``graders.json`` of the course root: {"01_synapse_zoo": "Ada", ...} (who grades which notebook's
    written answers; nbgrader itself records no grader). Missing or unreadable: no assignment."""
    data = _read(root / "graders.json")
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


_read = read_json


def _ungradable(c: CellRecord, have_notebook: bool) -> str:
    """Why an autograded test cell has no real verdict ("" if it has one)."""
    if c.score is None:
        return "no score in the gradebook (nbgrader never graded this cell)"
    if c.in_gradebook and c.needs_manual_grade:
        return "nbgrader could not grade this cell: set to 0 and flagged for manual grading"
    if not have_notebook:
        return "no autograded notebook (nbgrader failed the submission)"
    err = c.error
    if err is not None and causes.is_ungradable(err.get("ename")):
        what = causes.MEANINGS[err["ename"]]
        evalue = " ".join(str(err.get("evalue", "")).split())
        return f"{what}" + (f": {evalue[:160]}" if evalue else "")
    return ""


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
