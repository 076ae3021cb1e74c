"""The instructor side of the course: ``make grade`` and its parts.

* :mod:`coursekit.pipeline.phases` -- :func:`~coursekit.pipeline.phases.grade`:
  release, sample class, autograde, rescue, feedback, export, report.
* :mod:`coursekit.classes.sample` -- the sample class, built from
  ``source/`` at run time by declared edits.
* :mod:`coursekit.pipeline.rescue` -- grading what nbgrader 0.9.6 refuses
  (dead or Ctrl-C-proof kernels, damaged cell metadata, deleted cells).
* :mod:`coursekit.pipeline.report` -- scores from the gradebook, reasons from
  the autograded notebooks, the printed table.
* :mod:`coursekit.pipeline.engine` -- autograde several students at once.
* :mod:`coursekit.grading.execute` -- ``TrustedExecute``, nbgrader's Execute
  step with the test cells run by a trusted grader
  (:mod:`coursekit.grading.grader`, started by
  :mod:`coursekit.grading.grader_process`) that gets the student's results
  (:mod:`coursekit.grading.kernel`, :mod:`coursekit.grading.comm`) as plain
  data (:mod:`coursekit.grading.plaindata`); kernel and grader run in
  :mod:`coursekit.grading.sandbox`, whose :mod:`coursekit.grading.sandbox.policy`
  defines their limits.

Command line: ``python -m coursekit grade --workers 2`` (see
``python -m coursekit --help``). Nothing is imported here, so
``import coursekit`` stays cheap.
"""
