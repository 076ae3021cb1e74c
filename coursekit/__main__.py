"""``python -m coursekit``: the instructor's commands.

``grade``
    The whole pipeline (``make grade``): regenerate the release, assemble the
    sample class (or take ``--student`` submissions already in
    ``submitted/``), autograde with ``--workers`` / ``--scheduler``, rescue
    what nbgrader could not grade, generate feedback, export ``grades.csv``,
    print the table. Exit status 0 when every check passed and every sample
    student scored as declared, 1 otherwise.
``sample``
    Only (re)build the sample class into ``submitted/`` (after regenerating
    the release), without grading.
``clean``
    Remove the sample class: ``sample-...`` folders in ``submitted/``,
    ``autograded/``, ``feedback/``, their exchange submissions and their
    gradebook rows. Real students are never touched.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Iterable

from coursekit import release as rel


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m coursekit",
                                     description="Instructor pipeline of the synapses course (nbgrader).")
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grade", help="release, sample class, autograde, feedback, export, report")
    g.add_argument("--workers", type=int, default=2, help="students autograded at once (default 2; 1 = serial)")
    g.add_argument("--scheduler", default=None, help="Dask scheduler address (tcp://host:8786) for autograde")
    g.add_argument("--student", dest="students", action="append", default=None, metavar="ID",
                   help="grade this existing submission in submitted/ instead of the sample class (repeatable)")
    g.add_argument("--no-release", action="store_true", help="do not run nbgrader generate_assignment first")
    g.add_argument("--cell-timeout", type=float, default=None, metavar="S",
                   help="seconds a cell may run (default: the course config's, at most 60 s for the sample class)")
    g.add_argument("--allow-unsandboxed", action="store_true",
                   help="grade even where the sandbox cannot be applied (no Landlock): student code then runs "
                        "with your rights")
    for name, text in (("sample", "(re)build the sample class into submitted/ without grading"),
                       ("clean", "remove the sample class (folders, exchange submissions, gradebook rows)")):
        sub.add_parser(name, help=text)
    for p in sub.choices.values():
        p.add_argument("--course", type=Path, default=rel.REPO_ROOT, help="nbgrader course root (default: repo)")
    return parser


def main(argv: Iterable[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = _parser().parse_args(None if argv is None else list(argv))
    from coursekit import pipeline, sample_class

    if args.command == "grade":
        if args.workers < 1:
            print("--workers must be at least 1", file=sys.stderr)
            return 2
        from coursekit.trusted import SandboxRefused
        try:
            run = pipeline.grade(args.course, workers=args.workers, scheduler=args.scheduler,
                                 students=args.students, regenerate=not args.no_release,
                                 cell_timeout=args.cell_timeout, allow_unsandboxed=args.allow_unsandboxed)
        except SandboxRefused as exc:
            print(exc, file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            return 130
        return 0 if run.ok else 1
    settings = pipeline.load_settings(args.course)
    removed = sample_class.remove_sample_students(args.course, settings.db_url, settings.course_id,
                                                  settings.exchange_root)
    print(f"removed {len(removed)} sample students" + (": " + ", ".join(removed) if removed else ""))
    if args.command == "sample":
        rel.run_nbgrader(["generate_assignment", rel.ASSIGNMENT_ID, "--force"], args.course, timeout=900)
        built = sample_class.assemble(args.course, settings.db_url, settings.course_id, settings.exchange_root,
                                      say=print)
        print(f"{len(built)} sample students in {args.course / 'submitted'}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
