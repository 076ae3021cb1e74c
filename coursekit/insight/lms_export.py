"""Grades into the LMS: ``python -m coursekit export canvas|moodle`` (``make export``).

The scores come from the gradebook through nbgrader's API, computed as
nbgrader's own ``nbgrader export`` computes them (``score = max(0, raw score -
late submission penalty)``, 0 without a submission); who a student is in the
LMS comes from nbgrader's Student table (``id``, ``first_name``,
``last_name``, ``email``, ``lms_user_id``; ``nbgrader db student import``
fills it from a CSV).

Canvas
    Gradebook import (Canvas Instructor Guide, "How do I import grades in the
    Gradebook?",
    https://community.canvaslms.com/t5/Instructor-Guide/How-do-I-import-grades-in-the-Gradebook/ta-p/807,
    and "How do I export grades in the Gradebook?", ``.../ta-p/809``; the
    required columns as a university's guide sums them up:
    https://teaching.resources.osu.edu/toolsets/carmencanvas/guides/calculating-final-grades/import-csv-file-carmen-grades).
    The instructor exports the Gradebook from Canvas and passes that CSV: its
    first columns are ``Student``, ``ID``, ``SIS User ID``, ``SIS Login ID``
    (and ``Integration ID`` where the institution uses it), ``Section``; one
    column per assignment headed ``Name (canvas id)``; a ``Points Possible``
    row under the header (and a ``Manual Posting`` row where posting
    policies are set); read-only computed columns (scores, grades) that
    Canvas ignores on import. :func:`fill_canvas` changes only the cells of
    the assignment's column in student rows and writes every other byte of
    every other cell back as read (BOM and line ends too). A student is
    matched when the row's SIS Login ID or SIS User ID equals the student's
    email, nbgrader id or ``lms_user_id`` (case-insensitive). Scores are
    scaled to the column's Points Possible when it differs from nbgrader's
    maximum (said in the summary). A late penalty is already in the score
    (Canvas imports a score, not a penalty; its own late policy applies only
    to submissions made in Canvas). A pending manual grade leaves the
    student's cell as it was in Canvas (blank: not graded yet), never a
    partial score.
Moodle
    "Import grades from CSV" (MoodleDocs, Grade import,
    https://docs.moodle.org/en/Grade_import): a CSV with a header row, one
    row per user and one column per grade item; on import the teacher maps
    a column to the user field (``Map from`` the ``Email address`` column to
    ``useremail``, or ``Username`` to ``username``) and the grade column to
    the grade item. Values are plain numbers (a grade above the item's
    maximum needs ``unlimitedgrades``); a user without a row is left
    unchanged, so students with a pending manual grade get no row, and no
    feedback column is written (MoodleDocs: importing feedback without the
    grade overwrites the grade). E-mail addresses are compared as Moodle
    compares them; MoodleDocs warns that its grade import has matched them
    case-sensitively, so they are written as nbgrader has them.

Students who match nobody, or more than one row (a duplicate e-mail), are
listed and never guessed; their rows are left as they were.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["StudentGrade", "ExportResult", "ExportError", "gradebook_grades", "fill_canvas", "write_moodle"]

#: Canvas's identity columns (not assignments); the first cell of its non-student rows.
CANVAS_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Integration ID", "Section")
CANVAS_META_ROWS = ("Points Possible", "Manual Posting")


class ExportError(RuntimeError):
    """The export cannot be written (no such column, an unreadable file): nothing was written."""


@dataclass
class StudentGrade:
    """One nbgrader student's grade for the assignment."""

    id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    lms_user_id: str = ""
    raw_score: float = 0.0
    penalty: float = 0.0
    max_score: float = 0.0
    submitted: bool = False
    pending: bool = False   # a written answer still waits for manual grading

    @property
    def score(self) -> float:
        return max(0.0, self.raw_score - self.penalty)

    def keys(self) -> set[str]:
        return {k.strip().lower() for k in (self.id, self.email, self.lms_user_id) if k and k.strip()}


@dataclass
class ExportResult:
    path: Path
    lms: str
    written: dict[str, float] = field(default_factory=dict)        # student -> value written
    unmatched: list[str] = field(default_factory=list)             # students matching no LMS row
    ambiguous: dict[str, list[str]] = field(default_factory=dict)  # student -> the rows/ids it matches
    pending: list[str] = field(default_factory=list)
    late: dict[str, float] = field(default_factory=dict)           # student -> penalty
    no_submission: list[str] = field(default_factory=list)
    lms_only: list[str] = field(default_factory=list)              # LMS rows no nbgrader student matched
    notes: list[str] = field(default_factory=list)

    def note(self, g: StudentGrade) -> bool:
        """Record ``g``'s late penalty, pending grade or missing submission; False: write no grade for it."""
        if g.penalty and g.submitted:
            self.late[g.id] = g.penalty
        if g.pending:
            self.pending.append(g.id)
            return False
        if not g.submitted:
            self.no_submission.append(g.id)
        return True

    @property
    def ok(self) -> bool:
        return not self.unmatched and not self.ambiguous

    def summary(self) -> str:
        lines = [f"{self.lms} export: {self.path}: {len(self.written)} grades written"]
        if self.late:
            lines.append(f"  late (score already reduced by nbgrader's late penalty): "
                         + ", ".join(f"{s} -{p:g}" for s, p in sorted(self.late.items())))
        if self.pending:
            lines.append("  manual grading pending, left as in the LMS (no grade): " + ", ".join(sorted(self.pending)))
        if self.no_submission:
            lines.append("  no submission (0, as nbgrader export): " + ", ".join(sorted(self.no_submission)))
        if self.unmatched:
            lines.append("  NOT WRITTEN, match nobody in the LMS: " + ", ".join(sorted(self.unmatched)))
        if self.ambiguous:
            lines.append("  NOT WRITTEN, match more than one: " + "; ".join(
                f"{s} ({', '.join(rows)})" for s, rows in sorted(self.ambiguous.items())))
        if self.lms_only:
            lines.append("  in the LMS but not in the gradebook (left as they were): " + ", ".join(self.lms_only))
        lines.extend("  " + n for n in self.notes)
        return "\n".join(lines)


def gradebook_grades(db_url: str, course_id: str, assignment: str) -> list[StudentGrade]:
    """Every student of the gradebook with their grade for ``assignment`` (nbgrader's API)."""
    from nbgrader.api import Gradebook, MissingEntry

    out = []
    with Gradebook(db_url, course_id) as gb:
        try:
            max_score = float(gb.find_assignment(assignment).max_score or 0.0)
        except MissingEntry as exc:
            raise ExportError(f"assignment {assignment!r} is not in the gradebook {db_url}") from exc
        for st in gb.students:
            g = StudentGrade(st.id, st.first_name or "", st.last_name or "", st.email or "", st.lms_user_id or "",
                             max_score=max_score)
            try:
                sub = gb.find_submission(assignment, st.id)
            except MissingEntry:
                pass
            else:
                g.submitted = True
                g.raw_score = float(sub.score or 0.0)
                g.penalty = float(sub.late_submission_penalty or 0.0)
                g.pending = bool(sub.needs_manual_grade)
            out.append(g)
    return out


def _fmt(x: float) -> str:
    return f"{round(x, 2):g}"


def _match(grades, rows_keys: dict[int, set[str]]):
    """student -> matching row indices; row -> students matching it."""
    by_student = {g.id: sorted(i for i, keys in rows_keys.items() if keys & g.keys()) for g in grades}
    by_row: dict[int, list[str]] = {}
    for sid, rows in by_student.items():
        for i in rows:
            by_row.setdefault(i, []).append(sid)
    return by_student, by_row


# =============================================================================== Canvas
def _split_records(text: str) -> list[tuple[str, str]]:
    """The raw text of each CSV record and its line end (quoted fields may hold newlines)."""
    out, start, quoted, i = [], 0, False, 0
    while i < len(text):
        ch = text[i]
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "\r\n":
            end = i + 2 if text.startswith("\r\n", i) else i + 1
            out.append((text[start:i], text[i:end]))
            start = i = end
            continue
        i += 1
    if start < len(text):
        out.append((text[start:], ""))
    return out


def _assignment_column(header: list[str], assignment: str, column: str | None) -> int:
    if column is not None:
        hits = [i for i, h in enumerate(header) if h.strip() == column.strip()]
    else:
        hits = [i for i, h in enumerate(header)
                if re.fullmatch(rf"{re.escape(assignment)}\s*\(\d+\)", h.strip(), flags=re.IGNORECASE)]
    if len(hits) != 1:
        want = repr(column) if column else f"'{assignment} (<canvas id>)'"
        raise ExportError(f"the Canvas CSV has {len(hits)} columns named {want}; create the assignment in Canvas, "
                          "export the Gradebook again, or name the column with --column")
    return hits[0]


def fill_canvas(canvas_csv: Path | str, grades: list[StudentGrade], out: Path | str, *, assignment: str,
                column: str | None = None) -> ExportResult:
    """Fill ``assignment``'s column of the Gradebook CSV exported from Canvas; write it to ``out``."""
    raw = Path(canvas_csv).read_bytes()
    bom = raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    records = _split_records(text)
    parsed = [next(csv.reader([r]), []) for r, _ in records]
    if not parsed or "Student" not in [h.strip() for h in parsed[0]]:
        raise ExportError(f"{canvas_csv} is not a Canvas Gradebook export (no 'Student' column in its header)")
    header = [h.strip() for h in parsed[0]]
    col = _assignment_column(parsed[0], assignment, column)
    ident = {name: header.index(name) for name in ("SIS Login ID", "SIS User ID", "Student") if name in header}
    if "SIS Login ID" not in ident and "SIS User ID" not in ident:
        raise ExportError(f"{canvas_csv} has neither 'SIS Login ID' nor 'SIS User ID': nothing to match students by")
    student_rows: dict[int, set[str]] = {}
    points_possible = None
    for i, row in enumerate(parsed[1:], start=1):
        first = row[0].strip() if row else ""
        if first in CANVAS_META_ROWS or not any(c.strip() for c in row):
            if first == "Points Possible" and col < len(row):
                try:
                    points_possible = float(row[col])
                except ValueError:
                    pass
            continue
        student_rows[i] = {row[ident[k]].strip().lower() for k in ("SIS Login ID", "SIS User ID")
                           if k in ident and ident[k] < len(row) and row[ident[k]].strip()}
    result = ExportResult(Path(out), "Canvas")
    by_student, by_row = _match(grades, student_rows)
    scale = 1.0
    top = max((g.max_score for g in grades), default=0.0)
    if points_possible and top and abs(points_possible - top) > 1e-9:
        scale = points_possible / top
        result.notes.append(f"scores scaled from nbgrader's {top:g} points to Canvas's Points Possible "
                            f"{points_possible:g}")
    new_text = {}
    for g in grades:
        rows = by_student[g.id]
        if not rows:
            result.unmatched.append(g.id)
            continue
        if len(rows) > 1 or len(by_row[rows[0]]) > 1:
            names = [parsed[i][ident["Student"]] if "Student" in ident else f"row {i + 1}" for i in rows]
            others = [s for s in by_row[rows[0]] if s != g.id] if len(rows) == 1 else []
            result.ambiguous[g.id] = names + [f"also nbgrader student {s}" for s in others]
            continue
        if not result.note(g):
            continue
        value = _fmt(g.score * scale)
        new_text[rows[0]] = _replace_field(records[rows[0]][0], col, value)
        result.written[g.id] = float(value)
    matched_rows = {r for rows in by_student.values() for r in rows}
    result.lms_only = [parsed[i][ident["Student"]] if "Student" in ident else f"row {i + 1}"
                       for i in sorted(set(student_rows) - matched_rows)]
    body = "".join(new_text.get(i, rec) + end for i, (rec, end) in enumerate(records))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_bytes((b"\xef\xbb\xbf" if bom else b"") + body.encode("utf-8"))
    return result


def _replace_field(record: str, index: int, value: str) -> str:
    """``record`` (one raw CSV line) with field ``index`` replaced by ``value``; every other byte as it was."""
    spans, start, quoted = [], 0, False
    for i, ch in enumerate(record):
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            spans.append((start, i))
            start = i + 1
    spans.append((start, len(record)))
    while len(spans) <= index:  # a short row: pad with empty fields
        record += ","
        spans.append((len(record), len(record)))
    a, b = spans[index]
    return record[:a] + value + record[b:]


# =============================================================================== Moodle
def write_moodle(grades: list[StudentGrade], out: Path | str, *, assignment: str, match: str = "email"
                 ) -> ExportResult:
    """A CSV for Moodle's "Import grades from CSV": identifier column, then ``assignment``'s grade.

    ``match`` is ``"email"`` (column ``Email address``, map to useremail) or
    ``"username"`` (column ``Username``: the nbgrader id, or ``lms_user_id``
    where set; map to username).
    """
    if match not in ("email", "username"):
        raise ExportError(f"match must be 'email' or 'username', not {match!r}")
    result = ExportResult(Path(out), "Moodle")
    ident = {g.id: (g.email.strip() if match == "email" else (g.lms_user_id or g.id).strip()) for g in grades}
    seen: dict[str, list[str]] = {}
    for sid, key in ident.items():
        if key:
            seen.setdefault(key.lower(), []).append(sid)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["Email address" if match == "email" else "Username", assignment])
    for g in grades:
        key = ident[g.id]
        if not key:
            result.unmatched.append(g.id)
            continue
        if len(seen[key.lower()]) > 1:
            result.ambiguous[g.id] = [f"{match} {key} also of " + ", ".join(s for s in seen[key.lower()] if s != g.id)]
            continue
        if not result.note(g):
            continue
        w.writerow([key, _fmt(g.score)])
        result.written[g.id] = round(g.score, 2)
    if match == "email" and result.unmatched:
        result.notes.append("students without an e-mail in nbgrader's Student table: set it with "
                            "`nbgrader db student import` or match by --match username")
    result.notes.append(f"in Moodle: Import > CSV file; map '{'Email address' if match == 'email' else 'Username'}' "
                        f"to {'useremail' if match == 'email' else 'username'} and '{assignment}' to the grade item")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(buf.getvalue(), encoding="utf-8")
    return result
