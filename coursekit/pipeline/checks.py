"""The checks after every ``make grade`` run: nothing the run must not touch changed, every cell has a score, the
sample class scored as declared, and the notes shown under the table.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

from coursekit.pipeline import report as rep
from coursekit.classes import sample as sc

if TYPE_CHECKING:  # the phases import this module
    from coursekit.pipeline.phases import GradeRun, _Job

__all__ = ["GRADING_OUTPUTS", "repository_digest", "hash_tree", "grader_failures"]


#: Folders and files of the course root that grading writes (not part of the repository).
GRADING_OUTPUTS = ("submitted", "autograded", "feedback", "exchange", "release", "reports", "gradebook.db",
                   "grades.csv", ".venv", ".git", ".pytest_cache", ".hypothesis", "artifacts")


def repository_digest(root: Path) -> dict[str, str]:
    """SHA-256 of every file of the course repository and of the installed ``helpers`` package.

    Everything below the course root except what grading writes
    (:data:`GRADING_OUTPUTS`; ``release/`` is checked on its own) and caches,
    plus the ``helpers`` package that is imported (it may be installed
    elsewhere). A submission that wrote anywhere in it changes this.
    """
    from coursekit.grading.kernel import COURSEKIT_DIR, HELPERS_DIR

    out: dict[str, str] = {}
    for base, label in ((Path(root), "course"), (HELPERS_DIR, "helpers"), (COURSEKIT_DIR, "coursekit")):
        for dirpath, dirnames, filenames in os.walk(base):
            rel_dir = Path(dirpath).relative_to(base)
            if rel_dir == Path("."):
                dirnames[:] = [d for d in dirnames if d not in GRADING_OUTPUTS]
            dirnames[:] = [d for d in dirnames if d != "__pycache__" and not d.endswith(".egg-info")]
            for name in filenames:
                if rel_dir == Path(".") and name in GRADING_OUTPUTS:
                    continue
                path = Path(dirpath) / name
                if path.is_file() and not path.is_symlink():
                    out[f"{label}:{(rel_dir / name).as_posix()}"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def hash_tree(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (relative POSIX path -> hex digest)."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def check_expectations(run: GradeRun) -> list[str]:
    out = []
    for sub in run.sample:
        s = sub.student.id
        for nb_id in run.notebooks:
            r = run.results[s][nb_id]
            zero = sub.expect_zero.get(nb_id, set())
            for c in r.tests:
                if c.max_score <= 0:
                    continue
                if c.grade_id in zero and c.score:
                    out.append(f"{s} {nb_id} {c.grade_id}: expected 0, got {c.score:g}/{c.max_score:g} "
                               "(does the hidden test catch this mistake?)")
                elif c.grade_id not in zero and c.score != c.max_score:
                    got = "no score" if c.score is None else f"{c.score:g}/{c.max_score:g}"
                    out.append(f"{s} {nb_id} {c.grade_id}: expected full marks, got {got}: {c.reason}")
    return out


def grader_failures(outcomes: dict) -> dict[str, str]:
    """Students whose autograde stopped because the grader could not run (not because of their work): the line.

    Such a run wrote no score for the student (:mod:`coursekit.grading.preflight`); these are told apart from
    nbgrader failing a submission, which the rescue grades again.
    """
    from coursekit.grading import preflight

    out = {}
    for student, outcome in outcomes.items():
        for line in (getattr(outcome, "log", "") or getattr(outcome, "log_tail", "") or "").splitlines():
            if preflight.PREFIX in line:
                out[student] = line[line.index(preflight.PREFIX) + len(preflight.PREFIX):].strip()
    return out


def collect_notes(run: GradeRun, assignment: str) -> None:
    """Per-notebook lines for the report: what the submission changed, what the student did, the rescue."""
    for s in run.students:
        for nb in run.notebooks:
            sub_path = run.root / "submitted" / s / assignment / f"{nb}.ipynb"
            rel_path = run.root / "release" / assignment / f"{nb}.ipynb"
            if sub_path.is_file() and rel_path.is_file():
                try:
                    found = rep.inspect_submission(nbformat.read(sub_path, as_version=4),
                                                   nbformat.read(rel_path, as_version=4))
                except Exception as exc:  # noqa: BLE001 (an unreadable submission is itself the news)
                    found = [f"could not read the submission: {type(exc).__name__}: {exc}"]
                run.notes.setdefault((s, nb), []).extend("submission: " + x for x in found)
    for sub in run.sample:
        for name, lines in sub.behaviour.items():
            run.notes.setdefault((sub.student.id, name.removesuffix(".ipynb")), []).extend(
                "student: " + x for x in lines)
    for r in run.rescues:
        whole = len(r.notebooks) > 1 and all(r.why[nb].startswith("nbgrader wrote no") for nb in r.notebooks)
        if whole:
            run.notes.setdefault((r.student, None), []).append(
                f"nbgrader failed the whole submission (nbgrader #1682); the rescue graded all "
                f"{len(r.notebooks)} notebooks again" + ("" if r.ok else " (NOT all graded: see the log)"))
        for nb in r.notebooks:
            if whole and not r.repairs.get(nb):
                continue
            head = "rescue" if whole else f"graded by the rescue ({r.why[nb]})"
            run.notes.setdefault((r.student, nb), []).append(
                head + "".join(("; " if i or not whole else ": ") + x for i, x in enumerate(r.repairs.get(nb, []))))


def course_warnings(run: GradeRun) -> list[str]:
    """Hangs and dead kernels in sample notebooks where no pathological edit put them.

    A wrong answer should fail its tests quickly; if it makes another cell of
    the notebook time out or kill the kernel, the notebook needs a guard.
    """
    out = []
    for sub in run.sample:
        s = sub.student.id
        for nb in run.notebooks:
            if sub.actions.get(f"{nb}.ipynb", set()) & sc.RUNTIME_ACTIONS:
                continue
            for event in run.results[s][nb].events:
                if "timed out" in event or "kernel" in event or "not run" in event:
                    out.append(f"{s} {nb}: {event} although nothing was planted there "
                               "(a wrong answer makes this cell slow or fatal: guard it in the notebook)")
    return out


def run_problems(run: GradeRun) -> list[str]:
    out = []
    if run.submitted_before != run.submitted_after:
        changed = sorted(set(run.submitted_before.items()) ^ set(run.submitted_after.items()))
        out.append("submitted/ changed during grading: " + ", ".join(sorted({k for k, _ in changed})[:5]))
    if run.repository_before != run.repository_after:
        changed = sorted(set(run.repository_before.items()) ^ set(run.repository_after.items()))
        out.append("the course repository or the helpers package changed during grading: "
                   + ", ".join(sorted({k for k, _ in changed})[:5]))
    if run.leftover_pids:
        out.append(f"processes of the run were still alive at the end (killed): {run.leftover_pids}")
    for s in run.students:
        if s not in run.results:
            out.append(f"{s}: no row")
            continue
        for nb in run.notebooks:
            r = run.results[s][nb]
            if r.submitted and r.ungraded:
                out.append(f"{s} {nb}: test cells without a score: {', '.join(r.ungraded)}")
    failed_rescues = [f"{r.student} ({', '.join(r.notebooks)})" for r in run.rescues if not r.ok]
    if failed_rescues:
        out.append("the rescue could not grade: " + ", ".join(failed_rescues))
    if run.grades_csv is None:
        out.append("nbgrader export wrote no grades.csv")
    return out


def preflight_grader(job: _Job) -> None:
    """Before any student: the grader starts, imports the checks and answers, and answers (coursekit.grading.preflight).

    Every autograde worker checks again in its own process; this one stops the run before the first of
    them, with the one line of :class:`coursekit.grading.preflight.GraderUnavailable` (exit status 1).
    """
    from coursekit.grading import preflight
    from coursekit.grading.execute import TrustedExecute

    s = job.settings
    preflight.check(TrustedExecute(allow_unsandboxed=s.allow_unsandboxed, scratch_dir=s.scratch_dir))
    job.progress("preflight: the trusted grader starts, imports the checks and answers, and answers")


def stop_if_the_grader_failed(job: _Job) -> None:
    """Stop the run (no rescue, no feedback) if a worker's grader could not run: it is never a student's zero."""
    from coursekit.grading import preflight

    broken = grader_failures(job.run.outcomes)
    if broken:
        job.progress(f"autograde: the grader failed, not the submission, for {len(broken)} students "
                     f"({', '.join(sorted(broken))}): nothing of theirs is scored; the others are graded")
        raise preflight.GraderUnavailable(next(iter(broken.values())))
