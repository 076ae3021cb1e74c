"""The end of ``make grade``'s output: the table, the reasons, the checks and a summary a person can act on."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from coursekit import course as ck
from coursekit.pipeline import report as rep

if TYPE_CHECKING:  # the phases import this module
    from coursekit.pipeline.phases import GradeRun
    from coursekit.pipeline.progress import Progress
    from coursekit.settings import CourseSettings

__all__ = ["print_report"]


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def print_report(run: GradeRun, settings: CourseSettings, progress: Progress, workers: int,
                 scheduler: str | None, assignment: str = ck.ASSIGNMENT_ID) -> None:
    """The table, the reasons, where the files are and the summary of ``run``, through ``progress``."""
    p = progress.plain
    labels = {sub.student.id: "exchange" for sub in run.sample if sub.student.via_exchange}
    p("")
    p("=" * 100)
    p(f"Autograded points ({len(run.students)} students x {len(run.notebooks)} notebooks)")
    p(rep.format_table(run.results, run.notebooks, labels))
    p("")
    p("Why points were lost (one line per test that scored 0) and what happened per notebook")
    p(rep.format_reasons(run.results, run.notebooks, run.notes))
    p("")
    p("Where things are")
    p(f"  feedback HTML : {_rel(run.root / 'feedback', run.root)}/<student>/{assignment}/<notebook>.html "
      f"({len(run.feedback)} pages)")
    p(f"  grades        : {_rel(run.grades_csv, run.root) if run.grades_csv else '(none)'} (nbgrader export)")
    p(f"  autograded    : {_rel(run.root / 'autograded', run.root)}/<student>/{assignment}/")
    p(f"  gradebook     : {settings.db_url}")
    p("")
    p("Summary")
    top = sum(r.max_score for r in (run.results[run.students[0]].values() if run.students else []))
    mode = f"{workers} workers" if workers > 1 or scheduler else "serially"
    p(f"  - graded {len(run.students)} students x {len(run.notebooks)} notebooks ({top:g} autograded points "
      f"each) in {run.seconds / 60:.1f} min, {mode}")
    failed = [s for s, o in run.outcomes.items() if not o.ok]
    if failed:
        p(f"  - nbgrader failed {len(failed)} submission(s) as a whole ({', '.join(failed)}); "
          f"the rescue graded {sum(len(r.notebooks) for r in run.rescues if r.ok)}/"
          f"{sum(len(r.notebooks) for r in run.rescues)} notebook(s) again")
    pending = sum(len(r.manual_pending) for row in run.results.values() for r in row.values())
    if pending:
        p(f"  - {pending} written answers wait for manual grading: open the Formgrader "
          "(`make lab`, then Nbgrader > Formgrader), then re-run `nbgrader export`")
    if run.zeroed:
        p(f"  - {len(run.zeroed)} test cells could not be graded: set to 0 and flagged for manual review")
    if run.release_changed:
        p(f"  - release/{assignment} changed when it was regenerated: review and commit it")
    same = run.submitted_before == run.submitted_after
    p(f"  - submitted/: {len(run.submitted_after)} files, "
      + ("unchanged by grading (SHA-256)" if same else "CHANGED during grading (see problems)"))
    same = run.repository_before == run.repository_after
    p(f"  - course repository and helpers: {len(run.repository_after)} files, "
      + ("unchanged by grading (SHA-256)" if same else "CHANGED during grading (see problems)"))
    p("  - no nbgrader process or kernel left running" if not run.leftover_pids
      else f"  - {len(run.leftover_pids)} leftover processes were killed")
    if run.sample:
        if run.mismatches:
            p(f"  - sample class: {len(run.mismatches)} test(s) did not score as declared; "
              "the tests or the grading need a look:")
            for line in run.mismatches:
                p("      " + rep.short(line))
        else:
            p(f"  - sample class: all {len(run.sample)} students scored as declared (full marks except where "
              "their edits break an answer)")
    for warning in run.warnings:
        p("  - WARNING: " + rep.short(warning, 300))
    for problem in run.problems:
        p("  - PROBLEM: " + problem)
    p(f"  - next: hand the feedback back with `nbgrader release_feedback {assignment}` (exchange) or your LMS")
