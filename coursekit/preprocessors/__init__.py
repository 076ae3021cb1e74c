"""The course's nbgrader preprocessors, one per module; ``nbgrader_config.py`` puts them in place.

=====================================  ==========================================  ==============================
class                                  replaces or joins                           step
=====================================  ==========================================  ==============================
``clear_solutions.InstructiveClearSolutions``  nbgrader's ``ClearSolutions``       ``generate_assignment``
``overwrite_cells.OverwriteCellsKeepHiddenTests``  nbgrader's ``OverwriteCells``   ``autograde`` (sanitize)
``coursekit.grading.execute.TrustedExecute``   nbgrader's ``Execute``                      ``autograde``
``replay.StashExecuted``               joins ``TrustedExecute`` in a worker        ``autograde`` (parallel)
``replay.ReplayExecute``               ``TrustedExecute`` in the recording run     ``autograde`` (parallel)
``sanitize.SanitizeStudentContent``    joins last (outputs, answers made inert)    ``autograde``
``shorten_tracebacks.ShortenTestTracebacks``  joins after ``ClearHiddenTests``     ``generate_feedback``
=====================================  ==========================================  ==============================

``TrustedExecute`` lives with the trusted-grading engine it drives
(:mod:`coursekit.grading.execute`); it is the one step that runs a submission (its
``rescue`` option makes it survive dead kernels). ``ReplayExecute`` runs no
code: it copies in what a worker's ``TrustedExecute`` produced.
"""
