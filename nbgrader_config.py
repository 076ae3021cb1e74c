"""nbgrader configuration for the synapses course (nbgrader 0.9.6).

Every option below was checked against nbgrader 0.9.6's source in
``.venv/lib/python3.11/site-packages/nbgrader`` (and nbclient 0.11 for the
execution options); the comment next to each says why it is set.

The course root is the directory that holds this file, so the commands work
from a clone anywhere, and a copy of this file in a throw-away directory makes
that directory a complete course (the tests rely on this)::

    nbgrader generate_assignment synapses --force   # or: make release
    nbgrader autograde synapses
    nbgrader generate_feedback synapses

Environment variables (all optional; the defaults need no setup):

``SYNAPSES_DB_URL``
    SQLAlchemy URL of the gradebook. Default ``sqlite:///<root>/gradebook.db``
    (ignored by git).
``SYNAPSES_EXCHANGE``
    Directory of the local exchange used by ``nbgrader release_assignment``,
    ``fetch_assignment``, ``submit`` and ``collect``. Default
    ``<root>/exchange`` (ignored by git; created on first release).
``SYNAPSES_CELL_TIMEOUT``
    Seconds a single cell may run during ``nbgrader autograde`` before the
    kernel is interrupted. Default 180.

Command-line options still override all of this, e.g.
``nbgrader autograde synapses --Execute.timeout=600``.
"""

import os
import sys

c = get_config()  # noqa: F821  (injected by traitlets when it loads this file)

#: Directory of this file: the nbgrader course root.
COURSE_ROOT = os.path.dirname(os.path.abspath(__file__))
#: The one assignment of the course: source/synapses/*.ipynb.
ASSIGNMENT_ID = "synapses"

# ---------------------------------------------------------------- course
c.CourseDirectory.course_id = "synapses-course"
c.CourseDirectory.root = COURSE_ROOT
c.CourseDirectory.db_url = os.environ.get(
    "SYNAPSES_DB_URL", "sqlite:///" + os.path.join(COURSE_ROOT, "gradebook.db")
)
# The assignment "synapses" is declared by its folder source/synapses/ and is
# entered into the gradebook by `nbgrader generate_assignment synapses`
# (create_assignment=True, nbgrader's default, made explicit here).
# CourseDirectory.assignment_id is deliberately NOT set: nbgrader 0.9.6 then
# refuses a positional assignment argument ("The assignment cannot both be
# specified in config and as an argument"), which would break
# `nbgrader autograde synapses`.
c.GenerateAssignment.create_assignment = True

# ---------------------------------------------------------------- exchange
c.Exchange.root = os.environ.get("SYNAPSES_EXCHANGE", os.path.join(COURSE_ROOT, "exchange"))

# ---------------------------------------------------------------- student version
# The stub that replaces each ### BEGIN SOLUTION ... ### END SOLUTION region.
# Each solution cell keeps a one-line comment with the task-specific
# instruction directly above its BEGIN SOLUTION marker (that line survives
# generate_assignment); the stub points at it. The stub is indented like the
# BEGIN SOLUTION line, so it works inside a function body.
c.ClearSolutions.code_stub = {
    "python": 'raise NotImplementedError("Replace this line with your code (see the instruction above).")'
}
# The course's ClearSolutions turns that instruction line (written as
# "# TODO: <instruction>") into the stub itself, so the first error a student
# sees is the instruction: raise NotImplementedError("<instruction>").
# Cells without a TODO line keep the generic stub above.
from nbgrader.converters import GenerateAssignment as _GenerateAssignment  # noqa: E402

try:
    from coursekit.preprocessors.clear_solutions import InstructiveClearSolutions as _ClearSolutions
except ImportError as _err:  # course package not installed: generic stubs
    print(f"nbgrader_config.py: coursekit.preprocessors.clear_solutions unavailable ({_err}); "
          "stubs use the generic instruction", file=sys.stderr)
else:
    c.GenerateAssignment.preprocessors = [
        _ClearSolutions if p.__name__ == "ClearSolutions" else p
        for p in _GenerateAssignment.class_traits()["preprocessors"].default()
    ]
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# Rubrics (coursekit/preprocessors/clear_rubrics.py): a <!-- BEGIN MARK SCHEME --> ... <!-- END MARK SCHEME -->
# region in a read-only cell (locked, with a grade id, no points) is stored in the gradebook, cleared
# from the release, restored for Formgrader by autograde and cleared again from feedback (below).
# nbgrader's ClearMarkScheme accepts the region only in task cells, which must carry points.
try:
    from coursekit.preprocessors.clear_rubrics import ClearRubrics as _ClearRubrics
except ImportError as _err:  # stock ClearMarkScheme then refuses the course's rubric cells
    print(f"nbgrader_config.py: coursekit.preprocessors.clear_rubrics unavailable ({_err})", file=sys.stderr)
    _ClearRubrics = None
else:
    c.GenerateAssignment.preprocessors = [
        _ClearRubrics if p.__name__ == "ClearMarkScheme" else p
        for p in (c.GenerateAssignment.preprocessors if "preprocessors" in c.GenerateAssignment
                  else _GenerateAssignment.class_traits()["preprocessors"].default())
    ]

# ---------------------------------------------------------------- autograding
# Brian2 cells (code generation plus a run) take far longer than nbgrader's 30 s
# default; 180 s per cell leaves room on a slow machine.
# (An exception in this file makes nbgrader skip the whole file with only a
# logged error, so bad input falls back to the default instead of raising.)
try:
    c.Execute.timeout = int(os.environ.get("SYNAPSES_CELL_TIMEOUT", "180"))
except ValueError:
    print("nbgrader_config.py: SYNAPSES_CELL_TIMEOUT is not an integer; using 180 s", file=sys.stderr)
    c.Execute.timeout = 180
# On timeout, interrupt the kernel (SIGINT), record a CellTimeoutError in that
# cell and go on with the next cell: an endless loop costs that cell only.
# (nbgrader's default is already True; nbclient's own default is False.)
c.Execute.interrupt_on_timeout = True
# If the kernel ignores the interrupt (stuck in C code, or SIGINT disabled),
# its output never ends: after iopub_timeout seconds nbclient raises, nbgrader
# marks that notebook as failed and moves on instead of waiting forever, ...
c.Execute.raise_on_iopub_timeout = True
c.Execute.iopub_timeout = 10
# ... and the kernel is killed at once (SIGKILL) rather than asked to shut
# down and given 5 s to comply.
c.Execute.shutdown_kernel = "immediate"

# Kernel: the notebooks declare kernelspec "python3". jupyter_client resolves
# that name along JUPYTER_PATH first, then user and environment directories
# (user first unless it detects an owned venv or an activated conda env), so a
# ~/.local/share/jupyter/kernels/python3 of another Python could shadow the
# course environment and `import helpers` would fail. Putting this
# interpreter's own share/jupyter first makes "python3" resolve to the
# ipykernel installed next to nbgrader; its argv "python" is then replaced by
# sys.executable (jupyter_client.manager.format_kernel_cmd). The kernel
# manager that nbclient creates does not pass config on to its
# KernelSpecManager, so this cannot be done with c.KernelSpecManager.
_env_jupyter = os.path.join(sys.prefix, "share", "jupyter")
_jupyter_path = [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p]
if os.path.isdir(os.path.join(_env_jupyter, "kernels")) and _env_jupyter not in _jupyter_path:
    os.environ["JUPYTER_PATH"] = os.pathsep.join([_env_jupyter] + _jupyter_path)

# nbgrader creates a new gradebook by running the `alembic` script found on
# PATH (nbgrader.api.get_alembic_version). `.venv/bin/nbgrader ...` or
# `.venv/bin/python -m ...` without an activated venv has no .venv/bin on PATH,
# so the first command on a fresh gradebook would fail with
# "No such file or directory: 'alembic'". Put this interpreter's bin first.
_bin = os.path.dirname(sys.executable)
if os.path.exists(os.path.join(_bin, "alembic")):
    _path = os.environ.get("PATH", "").split(os.pathsep)
    if _bin not in _path:
        os.environ["PATH"] = os.pathsep.join([_bin] + [p for p in _path if p])

# False "checksum changed" warnings (nbgrader issue #1961, open for 0.9.6):
# generate_assignment stores each test cell's checksum in the gradebook BEFORE
# ClearHiddenTests removes the hidden tests, so every untouched released test
# cell differs from the stored one and OverwriteCells logs
# "Attribute 'checksum' for cell ... has changed!" for every student and every
# cell with hidden tests, burying real tampering. The course's OverwriteCells
# subclass first restores the hidden tests into a cell whose source is exactly
# the released version (which OverwriteCells would do anyway) and then runs
# the stock checks, so the warning now means that a student edited a locked
# cell. The rest of nbgrader 0.9.6's default sanitize list is unchanged.
from nbgrader.preprocessors import (  # noqa: E402
    CheckCellMetadata,
    ClearHiddenTests,
    ClearOutput,
    DeduplicateIds,
    GetGrades,
    OverwriteCells,
    OverwriteKernelspec,
)
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402

try:
    from coursekit.preprocessors.overwrite_cells import OverwriteCellsKeepHiddenTests as _OverwriteCells
except Exception as _err:  # course package missing or broken: stock behaviour
    print(f"nbgrader_config.py: coursekit unavailable ({_err}); using "
          "nbgrader's OverwriteCells (false checksum warnings, issue #1961)",
          file=sys.stderr)
    _OverwriteCells = OverwriteCells
# (it restores the rubrics of read-only cells the same way: coursekit/preprocessors/clear_rubrics.py)
c.Autograde.sanitize_preprocessors = [
    ClearOutput,
    DeduplicateIds,
    OverwriteKernelspec,
    _OverwriteCells,
    CheckCellMetadata,
]

# ---------------------------------------------------------------- trusted grading
# Student code never decides a grade (coursekit/grading/execute.py): the
# course's TrustedExecute replaces nbgrader's Execute. The submission runs in a
# sandboxed kernel (Landlock, seccomp, rlimits: it can read the Python
# environment and write its own scratch folder, nothing else; IPC sockets, no
# network), except the autograded test cells: a sandboxed grader process runs
# those, with their source taken from the gradebook, and gets the student's
# results from the kernel as plain data. Where the sandbox cannot be applied
# (no Landlock), autograde refuses with one sentence; opt out with
#     nbgrader autograde synapses --TrustedExecute.allow_unsandboxed=True
try:
    from coursekit.grading.execute import TrustedExecute as _TrustedExecute
except Exception as _err:  # course package missing or broken: never fall back to grading in the kernel
    print(f"nbgrader_config.py: coursekit.grading.execute unavailable ({_err}); autograde will fail "
          "rather than run hidden tests in the student's kernel", file=sys.stderr)
    c.Autograde.autograde_preprocessors = ["coursekit.grading.execute.TrustedExecute"]
else:
    from nbgrader.converters import Autograde as _Autograde  # noqa: E402
    from nbgrader.preprocessors import Execute as _Execute  # noqa: E402
    c.Autograde.autograde_preprocessors = [
        _TrustedExecute if p is _Execute else p
        for p in _Autograde.class_traits()["autograde_preprocessors"].default()
    ]
    # Before the first student, prove that the grader starts, imports the checks and answers, and answers
    # (coursekit/grading/preflight.py); if it cannot, autograde stops with one line and a non-zero status before
    # any row is written, instead of recording every student's cells as failed.
    from coursekit.grading.execute import autograde_hook as _preflight  # noqa: E402
    c.Autograde.pre_convert_hook = _preflight
# Every view of the autograded notebook (Formgrader, feedback, JupyterLab) renders what the student's code
# printed and what they wrote: the last autograde step makes it inert (scripts, event handlers,
# javascript: URLs, SVG, remote requests, CSS), keeping text, PNG figures, tracebacks and the written
# answers (coursekit/preprocessors/sanitize.py). make grade's worker, replay and rescue lists derive
# from this list.
try:
    from coursekit.preprocessors.sanitize import SanitizeStudentContent as _Sanitize
except Exception as _err:  # never write an autograded notebook that runs a student's script
    print(f"nbgrader_config.py: coursekit.preprocessors.sanitize unavailable ({_err}); autograde will fail "
          "rather than write unsanitized notebooks", file=sys.stderr)
    _Sanitize = "coursekit.preprocessors.sanitize.SanitizeStudentContent"
c.Autograde.autograde_preprocessors = list(c.Autograde.autograde_preprocessors) + [_Sanitize]

# ---------------------------------------------------------------- feedback
# nbgrader 0.9.6's default is [GetGrades, CSSHTMLHeaderPreprocessor]: the
# autograded notebooks contain the restored hidden tests, so the default
# feedback would show them to students. ClearHiddenTests removes the
# ### BEGIN HIDDEN TESTS ... ### END HIDDEN TESTS regions; ClearRubrics removes the rubrics that
# autograde restored for Formgrader (nbgrader's default feedback would show them). IPython tracebacks
# quote the code around the failing line, so an error raised in a test cell
# would still show hidden-test lines: ShortenTestTracebacks (course) cuts each
# error in a test cell to its last line, "ename: evalue", which is the
# one-sentence message of the course's checks. Everything else is nbgrader's
# default.
try:
    from coursekit.preprocessors.shorten_tracebacks import ShortenTestTracebacks as _ShortenTracebacks
except Exception:  # reported above
    _ShortenTracebacks = None
# GetGradesPending (coursekit/preprocessors/pending_grades.py) is nbgrader's GetGrades, except that a written
# answer still waiting for its grader reads "Not graded yet" instead of "Score: 0.0 / 2.0".
try:
    from coursekit.preprocessors.pending_grades import GetGradesPending as _GetGrades
except Exception as _err:  # noqa: BLE001 - nbgrader's own step still gives feedback
    print(f"nbgrader_config.py: coursekit.preprocessors.pending_grades unavailable ({_err}); "
          "feedback shows pending written answers as 0 points", file=sys.stderr)
    _GetGrades = GetGrades
c.GenerateFeedback.preprocessors = [
    p for p in (_GetGrades, ClearHiddenTests, _ClearRubrics, _ShortenTracebacks, CSSHTMLHeaderPreprocessor)
    if p is not None
]
# Defence in depth behind SanitizeStudentContent (autograde, above): the feedback's HTMLExporter cleans
# HTML outputs and Markdown itself. Formgrader's exporter gets the same option from the server's
# configuration (deploy/lab/jupyter_server_config.py, with the Content-Security-Policy).
c.HTMLExporter.sanitize_html = True
