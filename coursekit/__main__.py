"""``python -m coursekit``: the instructor's one command line (``make grade``, ``make release``, ...).

``grade``
    The whole pipeline (``make grade``): regenerate the release, assemble the
    sample class (or take ``--student`` submissions already in
    ``submitted/``), autograde with ``--workers`` / ``--scheduler``, rescue
    what nbgrader could not grade, generate feedback, export ``grades.csv``,
    print the table. Exit status 0 when every check passed and every sample
    student scored as declared, 1 otherwise, 2 for bad arguments or a refused
    sandbox.
``release``
    ``make release``: write ``helpers/data/reference_curves.npz`` and
    regenerate ``release/synapses/`` from ``source/synapses/`` with
    ``nbgrader generate_assignment``. With ``--check`` nothing is written; the
    exit status is 1 if either is stale.
``sample``
    Only (re)build the sample class into ``submitted/`` (after regenerating
    the release), without grading.
``clean``
    Remove the sample class: ``sample-...`` folders in ``submitted/``,
    ``autograded/``, ``feedback/``, their exchange submissions and their
    gradebook rows. Real students are never touched.
``report``
    ``make report``: (re)write ``reports/<assignment>.html``, the class view
    (:mod:`coursekit.insight.class_report`); ``grade`` ends with it too.
``student-env``
    ``make student-env``: build what students get (:mod:`coursekit.student_env`).
``export canvas|moodle``
    ``make export``: the gradebook's grades into the LMS (:mod:`coursekit.insight.lms_export`):
    fill the assignment's column of a Gradebook CSV exported from Canvas
    (``--canvas-csv``), or write Moodle's "Import grades from CSV" file. Exit
    status 1 if a student matches nobody or more than one (listed, not
    written), 2 if nothing could be written (one line on stderr).

``grade --planted N`` (``make grade PLANTED=40``) grades the planted class of
:mod:`coursekit.classes.planted` (8 disguised copies among N) instead.
``grade --class-size N`` (``make grade CLASS=60``) grades a synthetic class
of N students drawn from the mutation tables' wrong answers
(:mod:`coursekit.classes.synthetic`) instead of the sample class.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Iterable

from coursekit import release as rel
from coursekit import course as ck
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m coursekit",
                                     description="Instructor commands of the synapses course (nbgrader).")
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grade", help="release, sample class, autograde, feedback, export, report")
    g.add_argument("--workers", type=int, default=2, help="students autograded at once (default 2; 1 = serial)")
    g.add_argument("--scheduler", default=None, help="Dask scheduler address (tcp://host:8786) for autograde")
    g.add_argument("--student", dest="students", action="append", default=None, metavar="ID",
                   help="grade this existing submission in submitted/ instead of the sample class (repeatable)")
    g.add_argument("--no-release", action="store_true", help="do not run nbgrader generate_assignment first")
    g.add_argument("--cell-timeout", type=float, default=None, metavar="S",
                   help="seconds a cell may run (default: the course config's, at most 60 s for the sample class)")
    g.add_argument("--class-size", type=int, default=None, metavar="N",
                   help="grade a synthetic class of N students drawn from the mutation tables' wrong answers "
                        "instead of the sample class (the report marks it synthetic)")
    g.add_argument("--planted", type=int, default=None, metavar="N",
                   help="grade a planted class of N >= 16 students (coursekit.classes.planted: answers from the mutation "
                        "tables, 8 of them disguised copies of classmates) to check the report's similarity")
    g.add_argument("--seed", type=int, default=2026, help="random seed of the synthetic class (default 2026)")
    g.add_argument("--allow-unsandboxed", action="store_true",
                   help="grade even where the sandbox cannot be applied (no Landlock): student code then runs "
                        "with your rights")
    r = sub.add_parser("release", help="regenerate helpers/data/reference_curves.npz and release/synapses/")
    r.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if the curves or release/synapses/ differ from a fresh generation")
    for name, text in (("sample", "(re)build the sample class into submitted/ without grading"),
                       ("clean", "remove the sample class (folders, exchange submissions, gradebook rows)")):
        sub.add_parser(name, help=text)
    rp = sub.add_parser("report", help="(re)write reports/<assignment>.html, the class report")
    rp.add_argument("--out", type=Path, default=None, help="HTML file (default reports/<assignment>.html)")
    rp.add_argument("--db-url", default=None, help="gradebook URL (default: the course's nbgrader_config.py)")
    e = sub.add_parser("export", help="grades into Canvas or Moodle (an import CSV)")
    e.add_argument("lms", choices=("canvas", "moodle"))
    e.add_argument("--canvas-csv", type=Path, default=None, help="the Gradebook CSV exported from Canvas (canvas)")
    e.add_argument("--column", default=None, help="the Canvas column to fill (default: '<assignment> (<id>)')")
    e.add_argument("--match", choices=("email", "username"), default="email",
                   help="how Moodle identifies a student (moodle; default email)")
    e.add_argument("--out", type=Path, default=None,
                   help="file to write (default reports/<assignment>-canvas.csv or -moodle.csv)")
    e.add_argument("--db-url", default=None, help="gradebook URL (default: the course's nbgrader_config.py)")
    s = sub.add_parser("student-env", help="build the student environment (wheel, release notebooks, "
                                           "pinned requirements) into --out")
    s.add_argument("--out", type=Path, default=Path("dist") / "student-env", help="folder to (re)create")
    here = Path.cwd() if (Path.cwd() / "nbgrader_config.py").is_file() else ck.REPO_ROOT
    for p in sub.choices.values():
        p.add_argument("--course", type=Path, default=here,
                       help="nbgrader course root (default: this folder if it has an nbgrader_config.py, as for "
                            f"nbgrader; else {ck.REPO_ROOT})")
    return parser


def _release(args) -> int:
    source, out = args.course / "source" / ck.ASSIGNMENT_ID, args.course / "release" / ck.ASSIGNMENT_ID
    if args.check:
        problems = rel.check_release(source, out)
        if problems:
            print(f"{out} is stale; run `make release`:", *problems, sep="\n  ", file=sys.stderr)
            return 1
        print(f"{out} and the reference curves match a fresh generation")
        return 0
    for path in rel.release(source, out):
        print(path.relative_to(args.course) if path.is_relative_to(args.course) else path)
    return 0


def _grade(args) -> int:
    from coursekit.pipeline import phases as pipeline
    from coursekit.grading.execute import SandboxRefused

    if args.workers < 1:
        print("--workers must be at least 1", file=sys.stderr)
        return 2
    if args.class_size is not None and (args.class_size < 1 or args.students):
        print("--class-size must be at least 1, and cannot go with --student", file=sys.stderr)
        return 2
    if args.planted is not None and (args.planted < 16 or args.students or args.class_size is not None):
        print("--planted must be at least 16, and cannot go with --student or --class-size", file=sys.stderr)
        return 2
    try:
        if args.planted is not None:
            from coursekit.classes.planted import prepare_for_grading as plant

            ids = plant(args.course, args.planted, say=print)
            run = pipeline.grade(args.course, workers=args.workers, scheduler=args.scheduler, students=ids,
                                 regenerate=not args.no_release, cell_timeout=args.cell_timeout,
                                 allow_unsandboxed=args.allow_unsandboxed)
            return 0 if not run.problems else 1
        if args.class_size is not None:
            from coursekit.pipeline.classes_run import grade_synthetic

            run = grade_synthetic(args.course, args.class_size, seed=args.seed, workers=args.workers,
                                  scheduler=args.scheduler, cell_timeout=args.cell_timeout,
                                  allow_unsandboxed=args.allow_unsandboxed)
            return 0 if not run.problems else 1
        run = pipeline.grade(args.course, workers=args.workers, scheduler=args.scheduler,
                             students=args.students, regenerate=not args.no_release,
                             cell_timeout=args.cell_timeout, allow_unsandboxed=args.allow_unsandboxed)
    except SandboxRefused as exc:
        print(exc, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0 if run.ok else 1


def _sample_or_clean(args) -> int:
    from coursekit.settings import read_settings
    from coursekit.classes import sample as sample_class

    settings = read_settings(args.course)
    removed = sample_class.remove_sample_students(args.course, settings.db_url, settings.course_id,
                                                  settings.exchange_root)
    print(f"removed {len(removed)} sample students" + (": " + ", ".join(removed) if removed else ""))
    if args.command == "sample":
        ck.run_nbgrader(["generate_assignment", ck.ASSIGNMENT_ID, "--force"], args.course, timeout=900)
        built = sample_class.assemble(args.course, settings.db_url, settings.course_id, settings.exchange_root,
                                      say=print)
        print(f"{len(built)} sample students in {args.course / 'submitted'}")
    return 0


def _report(args) -> int:
    import time

    from coursekit.insight.class_report import build_report

    t0 = time.perf_counter()
    build_report(args.course, ck.ASSIGNMENT_ID, args.out, db_url=args.db_url, say=print)
    print(f"  (built in {time.perf_counter() - t0:.1f} s)")
    return 0


def _student_env(args) -> int:
    from coursekit import student_env

    out = args.out if args.out.is_absolute() else args.course / args.out
    built = student_env.build(out, course_root=args.course, say=print)
    print(f"student environment in {built.root}: hand out this folder (see its README.md)")
    return 0


def _export(args) -> int:
    from coursekit.insight import lms_export
    from coursekit.settings import read_settings

    assignment = ck.ASSIGNMENT_ID
    out = args.out or args.course / "reports" / f"{assignment}-{args.lms}.csv"
    try:
        settings = read_settings(args.course)
        grades = lms_export.gradebook_grades(args.db_url or settings.db_url, settings.course_id, assignment)
        if args.lms == "canvas":
            if args.canvas_csv is None:
                print("export canvas needs --canvas-csv: the Gradebook CSV exported from Canvas", file=sys.stderr)
                return 2
            result = lms_export.fill_canvas(args.canvas_csv, grades, out, assignment=assignment, column=args.column)
        else:
            result = lms_export.write_moodle(grades, out, assignment=assignment, match=args.match)
    except (lms_export.ExportError, OSError) as exc:
        print(f"export {args.lms}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    print(result.summary())
    return 0 if result.ok else 1


def main(argv: Iterable[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = _parser().parse_args(None if argv is None else list(argv))
    command = {"grade": _grade, "release": _release, "sample": _sample_or_clean, "clean": _sample_or_clean,
               "report": _report, "student-env": _student_env, "export": _export}[args.command]
    return command(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
