"""Grading a made-up class with the real pipeline: ``make grade CLASS=n`` (the synthetic class).

:mod:`coursekit.classes.synthetic` only writes the class's submissions (it sits a
floor below the pipeline and does not run it); this runs them through
:func:`coursekit.pipeline.phases.grade`.
"""

from __future__ import annotations

from pathlib import Path

from coursekit import course as ck
from coursekit.classes.synthetic import prepare_for_grading
from coursekit.pipeline import phases as pipeline

__all__ = ["grade_synthetic"]


def grade_synthetic(course_root: Path | str = ck.REPO_ROOT, n: int = 60, *, seed: int = 2026, **grade_kwargs):
    """``make grade CLASS=n``: write the synthetic class, grade it with the real pipeline, report.

    ``grade_kwargs`` go to :func:`coursekit.pipeline.phases.grade` (workers, scheduler,
    cell_timeout, ...); its class report (the end of every grade run) is marked
    synthetic because the class's ids start with :data:`coursekit.classes.synthetic.PREFIX`.
    Returns the :class:`~coursekit.pipeline.phases.GradeRun`.
    """
    say = grade_kwargs.get("out") or print
    ids = prepare_for_grading(course_root, n, seed=seed, say=say)
    return pipeline.grade(course_root, students=ids, **grade_kwargs)
