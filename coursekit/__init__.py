"""The instructor side of the course: ``make grade`` and its parts.

* :mod:`coursekit.pipeline` -- :func:`~coursekit.pipeline.grade`:
  release, sample class, autograde, rescue, feedback, export, report.
* :mod:`coursekit.sample_class` -- the sample class, built from
  ``source/`` at run time by declared edits.
* :mod:`coursekit.rescue` -- grading what nbgrader 0.9.6 refuses
  (dead or Ctrl-C-proof kernels, damaged cell metadata, deleted cells).
* :mod:`coursekit.report` -- scores from the gradebook, reasons from
  the autograded notebooks, the printed table.
* :mod:`coursekit.parallel` -- autograde several students at once.
* :mod:`coursekit.trusted` -- ``TrustedExecute``, nbgrader's Execute
  step with the test cells run by a trusted grader
  (:mod:`coursekit.grader`) that gets the student's results as plain
  data (:mod:`coursekit.plaindata`); kernel and grader run in
  :mod:`coursekit.sandbox`.

Command line: ``python -m coursekit grade --workers 2`` (see
``python -m coursekit --help``). Nothing is imported here, so
``import coursekit`` stays cheap.
"""
