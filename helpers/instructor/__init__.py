"""The instructor side of the course: ``make grade`` and its parts.

* :mod:`helpers.instructor.pipeline` -- :func:`~helpers.instructor.pipeline.grade`:
  release, sample class, autograde, rescue, feedback, export, report.
* :mod:`helpers.instructor.sample_class` -- the sample class, built from
  ``source/`` at run time by declared edits.
* :mod:`helpers.instructor.rescue` -- grading what nbgrader 0.9.6 refuses
  (dead or Ctrl-C-proof kernels, damaged cell metadata, deleted cells).
* :mod:`helpers.instructor.report` -- scores from the gradebook, reasons from
  the autograded notebooks, the printed table.
* :mod:`helpers.instructor.parallel` -- autograde several students at once.
* :mod:`helpers.instructor.trusted` -- ``TrustedExecute``, nbgrader's Execute
  step with the test cells run by a trusted grader
  (:mod:`helpers.instructor.grader`) that gets the student's results as plain
  data (:mod:`helpers.instructor.plaindata`); kernel and grader run in
  :mod:`helpers.instructor.sandbox`.

Command line: ``python -m helpers.instructor grade --workers 2`` (see
``python -m helpers.instructor --help``). Nothing is imported here, so
``import helpers.instructor`` stays cheap.
"""
