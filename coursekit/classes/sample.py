"""The sample class: submissions made at run time from ``source/`` by declared edits.

Every sample student starts from the *released* notebooks (what a student
fetches) and fills the answer cells in one of three ways (``answers``):

``"solution"``
    the instructor's solutions from ``source/`` (solution markers removed);
``"errata"``
    the lecture's own mistakes where :data:`coursekit.answers.tables.ERRATA`
    has an entry for the cell's grade id (exp(+t/tau), the alpha function peaking at g/e, the
    16.3 mV Mg constant, the missing shunt sign, ...), the solution elsewhere;
``"blank"``
    nothing: the release as fetched.

Then the student's :class:`Edit` s are applied (:mod:`coursekit.classes.edits`;
its ``ACTIONS`` say what each one does, with the payloads of :mod:`coursekit.classes.attacks`). An edit names a notebook by its position in the sorted list of
notebooks (0 = the first, -1 = the last; ``None`` = every notebook), so the
class follows the notebooks as they are added, renamed or rewritten; items are
found by grade id and by cell role (first answer cell, first test cell, ...),
and an edit that does not apply (no such cell) is skipped with a note.

:data:`SAMPLE_CLASS` is the table student -> (what they did, answers, edits).
Every id starts with :data:`PREFIX`; the pipeline removes or replaces only
folders and gradebook rows whose student id starts with it.

Each built student also carries what the grader should make of it
(:attr:`SampleSubmission.expect_zero`: the autograded test cells that must
score 0; all others must score full marks), so a run of the pipeline checks
the course's tests as well as the grading machinery.

How the submissions arrive
--------------------------
``sample-complete`` goes through nbgrader's exchange as the current OS user
(``release_assignment``, ``fetch_assignment`` into a throw-away home folder,
the edits, ``submit --student sample-complete``, ``collect --student
sample-complete``), with the exchange under the course root (``exchange/``,
git-ignored) and nbgrader's submit cache in the throw-away folder. The others
are written straight into ``submitted/<student>/synapses/`` with a
``timestamp.txt``, as an LMS download would be.
"""

from __future__ import annotations

import copy
import datetime as _dt
import hashlib
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, NamedTuple

import nbformat

from coursekit import course as ck
from coursekit.classes.attacks import COURSE_ROOT
from coursekit.classes.edits import ACTIONS, Edit, _Ctx, _fill_answers, answer_items

#: The sample class's own names; :class:`~coursekit.classes.edits.Edit` is here too, since
#: students are declared with it (``SampleStudent(..., edits=(Edit("reexport"),))``).
__all__ = ["PREFIX", "TIMESTAMP_FORMAT", "Edit", "SampleStudent", "SampleSubmission", "BuiltNotebook",
           "SAMPLE_CLASS", "STRUCTURAL_ACTIONS", "RUNTIME_ACTIONS", "HOSTILE_ACTIONS", "VIEW_ACTIONS",
           "BOUND_ACTIONS", "is_sample", "build_notebook", "build_student", "remove_sample_students",
           "write_lms_submission", "with_course_root", "submit_via_exchange", "assemble"]

#: Every sample student id starts with this; nothing else is ever removed.
PREFIX = "sample-"
#: nbgrader's timestamp format (``timestamp.txt``).
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"


def is_sample(student: str) -> bool:
    """True for a sample student's id (``sample-...``)."""
    return student.startswith(PREFIX) and len(student) > len(PREFIX)



# =============================================================================== the class
@dataclass(frozen=True)
class SampleStudent:
    """One row of :data:`SAMPLE_CLASS`.

    Attributes
    ----------
    id : str
        Student id (starts with :data:`PREFIX`).
    did : str
        What the student did, in a few words (shown in the report).
    answers : {"solution", "errata", "blank"}
        How the answer cells are filled before the edits.
    edits : tuple of Edit
        Applied in order.
    via_exchange : bool
        Submit through nbgrader's exchange instead of an LMS-style download.
    only : int or None
        If set, ``answers`` fill only this notebook (position as in :class:`Edit`); the others are
        submitted as released (blank), which keeps students cheap to grade whose point is one notebook.
    """

    id: str
    did: str
    answers: str = "solution"
    edits: tuple[Edit, ...] = ()
    via_exchange: bool = False
    only: int | None = None


#: The sample class: student -> what they did, how they answered, their edits.
#: Pathological edits touch one notebook each (cheap to grade); ``notebook``
#: counts in the sorted list of notebooks, so the class follows the course.
SAMPLE_CLASS: tuple[SampleStudent, ...] = (
    SampleStudent("sample-complete", "everything right (source solutions), via the exchange", via_exchange=True),
    SampleStudent("sample-errata", "the lecture's errata", answers="errata"),
    SampleStudent("sample-blank", "the release, untouched", answers="blank"),
    SampleStudent("sample-endless-loop", "a cell that loops forever", edits=(Edit("endless_loop", 0),)),
    SampleStudent("sample-ignores-interrupt", "a loop with SIGINT ignored (Ctrl-C-proof)",
                  edits=(Edit("ignores_interrupt", 1),)),
    SampleStudent("sample-kernel-dies", "os._exit in an answer cell", edits=(Edit("kernel_dies", 2),)),
    SampleStudent("sample-huge-output", "megabytes of printed output", edits=(Edit("huge_output", 3),)),
    SampleStudent("sample-deleted-cells", "deleted an answer and a test cell, edited a read-only cell",
                  edits=(Edit("delete_answer", 4), Edit("delete_test", 4), Edit("edit_readonly", 4))),
    SampleStudent("sample-stripped-metadata", "stripped/damaged nbgrader cell metadata",
                  edits=(Edit("strip_metadata", 5), Edit("damage_metadata", 5))),
    SampleStudent("sample-missing-notebook", "did not submit the last notebook", edits=(Edit("omit_notebook", -1),)),
    SampleStudent("sample-reexport", "re-exports the helpers references", edits=(Edit("reexport"),)),
    SampleStudent("sample-tamper", "errata behind patched np.isclose/np.allclose/numpy.testing",
                  answers="errata", edits=(Edit("patch_numpy"),)),
    # the hostile class: each attack is refused, and each scores only what it earned
    SampleStudent("sample-transformer", "nothing done, every later cell turned into `pass` (input transformer)",
                  answers="blank", edits=(Edit("transformer"),)),
    SampleStudent("sample-kernel-hooks", "the errata behind AST/exception/traceback/trace/run_cell hooks",
                  answers="errata", edits=(Edit("kernel_hooks"),)),
    SampleStudent("sample-intruder", "writes into helpers/, the course, gradebook.db and a classmate's folder",
                  edits=(Edit("write_outside", 3),)),
    SampleStudent("sample-copycat", "nothing done, copies a classmate's and the instructor's answers",
                  answers="blank", edits=(Edit("copy_classmate", 3),)),
    SampleStudent("sample-resources", "a fork bomb, a memory hog, a disk filler, network and a child process",
                  edits=(Edit("fork_bomb", 0), Edit("memory_hog", 1), Edit("disk_filler", 3),
                         Edit("network", 4), Edit("child_process", 5))),
    # the hostile views (issue 18): right answers in one notebook whose outputs or written answer attack
    # the instructor's browser; the other notebooks are submitted blank
    SampleStudent("sample-html-output", "an HTML output that runs a script and overlays the page", only=3,
                  edits=(Edit("html_output", 3),)),
    SampleStudent("sample-js-output", "an application/javascript output", only=3,
                  edits=(Edit("javascript_output", 3),)),
    SampleStudent("sample-svg-output", "an SVG output with onload and a script", only=3,
                  edits=(Edit("svg_output", 3),)),
    SampleStudent("sample-markdown-output", "a Markdown output with an event handler", only=3,
                  edits=(Edit("markdown_output", 3),)),
    SampleStudent("sample-raw-html-answer", "raw HTML (script, javascript: link, style) in a written answer",
                  only=3, edits=(Edit("raw_html_answer", 3),)),
    # what the grader bounds and the classmates it protects (issue 18); 05 only, the rest blank
    SampleStudent("sample-sniffer", "listens for classmates' kernel sockets while graded (right answers)",
                  only=4, edits=(Edit("sniffer", 4),)),
    SampleStudent("sample-output-flood", "a right answer whose cell prints 1 GiB", only=4,
                  edits=(Edit("output_flood", 4),)),
    SampleStudent("sample-string-flood", "a function that returns a 600 MiB string", only=4,
                  edits=(Edit("string_flood", 4),)),
    SampleStudent("sample-slow-caller", "a right function that sleeps 8 s per call", only=4,
                  edits=(Edit("slow_caller", 4),)),
)


#: Actions whose effect on the notebook's structure the report finds by itself
#: (:func:`coursekit.pipeline.report.inspect_submission`); their notes are not repeated.
STRUCTURAL_ACTIONS = frozenset({"delete_answer", "delete_test", "edit_readonly", "strip_metadata",
                                "damage_metadata", "omit_notebook"})
#: Actions that make a cell hang or kill the kernel on purpose.
RUNTIME_ACTIONS = frozenset({"endless_loop", "ignores_interrupt", "kernel_dies", "disk_filler", "slow_caller"})
#: Actions that attack the grading itself (the hostile class).
HOSTILE_ACTIONS = frozenset({"transformer", "kernel_hooks", "write_outside", "copy_classmate", "fork_bomb",
                             "memory_hog", "disk_filler", "network", "child_process", "reexport", "patch_numpy"})
#: Actions that attack whoever views the graded notebook (issue 18: rendered inert).
VIEW_ACTIONS = frozenset({"html_output", "javascript_output", "svg_output", "markdown_output", "raw_html_answer"})
#: Actions the grader must bound (size and time) or keep away from classmates (issue 18).
BOUND_ACTIONS = frozenset({"output_flood", "string_flood", "slow_caller", "sniffer"})


@dataclass
class SampleSubmission:
    """A built sample student.

    Attributes
    ----------
    student : SampleStudent
    notebooks : dict of str to nbformat.NotebookNode
        File name -> the notebook to submit (omitted notebooks are absent).
    notes : dict of str to list of str
        File name -> what was done to it.
    expect_zero : dict of str to set of str
        Notebook id (file name without ``.ipynb``) -> grade ids of the
        autograded test cells that must score 0; every other autograded test
        cell must score full marks.
    missing : set of str
        Notebook ids not submitted.
    actions : dict of str to set of str
        File name -> the edit actions applied to it.
    behaviour : dict of str to list of str
        File name -> notes of the non-structural edits (see :class:`BuiltNotebook`).
    """

    student: SampleStudent
    notebooks: dict[str, nbformat.NotebookNode]
    notes: dict[str, list[str]]
    expect_zero: dict[str, set[str]]
    missing: set[str]
    actions: dict[str, set[str]] = field(default_factory=dict)
    behaviour: dict[str, list[str]] = field(default_factory=dict)


class BuiltNotebook(NamedTuple):
    """One notebook of a sample student, as :func:`build_notebook` makes it.

    Attributes
    ----------
    nb : nbformat.NotebookNode or None
        The notebook (None if the student does not submit it).
    notes : list of str
        Everything done to it.
    expect_zero : set of str
        Grade ids of the test cells that must score 0.
    actions : set of str
        Edit actions applied.
    behaviour : list of str
        Notes of the actions the report cannot see in the notebook's structure
        (loops, kills, output, patches, re-exports).
    """

    nb: Any
    notes: list
    expect_zero: set
    actions: set
    behaviour: list


def build_notebook(student: SampleStudent, name: str, index: int, count: int, released, source_nb):
    """Build one notebook of a sample student.

    Parameters
    ----------
    student : SampleStudent
    name : str
        File name, e.g. ``"01_synapse_zoo.ipynb"``.
    index, count : int
        Position of the notebook in the sorted list and the list's length.
    released, source_nb : nbformat.NotebookNode
        The released and the instructor version of the notebook.

    Returns
    -------
    BuiltNotebook
    """
    ctx = _Ctx(name=name, nb=copy.deepcopy(released), release=released, items=answer_items(released))
    answers = student.answers if student.only is None or student.only % count == index else "blank"
    wrong = _fill_answers(ctx.nb, source_nb, answers, ctx.notes)
    for item in wrong:
        ctx.expect_zero |= ctx.tests_of(item)
    applied, behaviour = set(), []
    for edit in student.edits:
        if edit.notebook is not None and edit.notebook % count != index:
            continue
        if edit.action not in ACTIONS:
            raise ValueError(f"{student.id}: unknown edit action {edit.action!r}")
        before = len(ctx.notes)
        if ACTIONS[edit.action](ctx):
            applied.add(edit.action)
            if edit.action not in STRUCTURAL_ACTIONS:
                behaviour += ctx.notes[before:]
        else:
            ctx.notes.append(f"edit {edit.action} skipped: no suitable cell")
    return BuiltNotebook(None if ctx.omitted else ctx.nb, ctx.notes, ctx.expect_zero, applied, behaviour)


def build_student(student: SampleStudent, released: Mapping[str, object], sources: Mapping[str, object],
                  base: Mapping[str, object] | None = None) -> SampleSubmission:
    """Build all notebooks of one sample student.

    Parameters
    ----------
    student : SampleStudent
    released, sources : mapping of str to nbformat.NotebookNode
        File name -> released / instructor notebook (same names).
    base : mapping, optional
        File name -> the notebook to start from instead of the release (the
        copies the student fetched through the exchange).
    """
    names = sorted(released)
    out = SampleSubmission(student, {}, {}, {}, set())
    for k, name in enumerate(names):
        start = (base or {}).get(name, released[name])
        nb, notes, zero, applied, behaviour = build_notebook(student, name, k, len(names), start, sources[name])
        nb_id = name.removesuffix(".ipynb")
        out.notes[name] = notes
        out.actions[name] = applied
        out.behaviour[name] = behaviour
        out.expect_zero[nb_id] = zero
        if nb is None:
            out.missing.add(nb_id)
        else:
            out.notebooks[name] = nb
    return out


# =============================================================================== on disk
def _read_folder(folder: Path) -> dict[str, nbformat.NotebookNode]:
    return {p.name: nbformat.read(p, as_version=4) for p in sorted(Path(folder).glob("*.ipynb"))}


def _force_remove(path: Path) -> None:
    """Remove a file or folder, also when nbgrader made it read-only."""
    def onerror(func, p, _exc):
        os.chmod(os.path.dirname(p), stat.S_IRWXU)
        os.chmod(p, stat.S_IRWXU)
        func(p)
    if path.is_dir() and not path.is_symlink():
        for sub in [path, *path.rglob("*")]:
            if sub.is_dir():
                os.chmod(sub, stat.S_IRWXU)
        shutil.rmtree(path, onerror=onerror)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _remove_sample_path(path: Path) -> bool:
    if not is_sample(path.name.split("+", 1)[0]):
        raise ValueError(f"refusing to remove {path}: not a sample student's")
    if path.exists() or path.is_symlink():
        _force_remove(path)
        return True
    return False


def remove_sample_students(course_root: Path, db_url: str, course_id: str, exchange_root: Path | None = None,
                           assignment: str = ck.ASSIGNMENT_ID) -> list[str]:
    """Remove every sample student (id starting with :data:`PREFIX`) from the course.

    Deletes their gradebook rows (student, submissions, grades, with
    nbgrader's :meth:`~nbgrader.api.Gradebook.remove_student`) and their
    folders in ``submitted/``, ``autograded/``, ``feedback/`` and their
    submissions in the exchange's inbound folder. Nothing else is touched.

    Returns
    -------
    list of str
        The sample ids that were found (gradebook or folders).
    """
    from nbgrader.api import Gradebook

    course_root = Path(course_root)
    found: set[str] = set()
    with Gradebook(db_url, course_id) as gb:
        for s in list(gb.students):
            if is_sample(s.id):
                found.add(s.id)
                gb.remove_student(s.id)
    for folder in ("submitted", "autograded", "feedback"):
        base = course_root / folder
        if base.is_dir():
            for p in sorted(base.iterdir()):
                if is_sample(p.name):
                    found.add(p.name)
                    _remove_sample_path(p)
    if exchange_root is not None:
        inbound = Path(exchange_root) / course_id / "inbound"
        if inbound.is_dir():
            for p in sorted(inbound.iterdir()):
                sid = p.name.split("+", 1)[0]
                if is_sample(sid) and f"+{assignment}+" in p.name:
                    found.add(sid)
                    _remove_sample_path(p)
    return sorted(found)


def _timestamp() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime(TIMESTAMP_FORMAT)


def write_lms_submission(course_root: Path, sub: SampleSubmission, assignment: str = ck.ASSIGNMENT_ID) -> Path:
    """Write a built student to ``submitted/<id>/<assignment>/`` with a ``timestamp.txt``."""
    if not is_sample(sub.student.id):
        raise ValueError(f"{sub.student.id} is not a sample student id")
    dest = Path(course_root) / "submitted" / sub.student.id / assignment
    if dest.parent.exists():
        _remove_sample_path(dest.parent)
    dest.mkdir(parents=True)
    for name, nb in sub.notebooks.items():
        nbformat.write(with_course_root(nb, course_root), dest / name)
    (dest / "timestamp.txt").write_text(_timestamp())
    return dest


def with_course_root(nb, course_root: Path):
    """A copy of `nb` with :data:`COURSE_ROOT` in code cells replaced by the course's absolute path."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code" and COURSE_ROOT in cell.source:
            cell.source = cell.source.replace(COURSE_ROOT, str(Path(course_root).resolve()))
    return nb


def _files_digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def submit_via_exchange(course_root: Path, student: SampleStudent, released: Mapping, sources: Mapping,
                        course_id: str, exchange_root: Path, *, assignment: str = ck.ASSIGNMENT_ID,
                        say: Callable[[str], None] = lambda s: None, timeout: float = 300.0) -> SampleSubmission:
    """Send one sample student through nbgrader's exchange, as the current OS user.

    Runs the real ``nbgrader release_assignment`` (only if the exchange's
    outbound copy differs from ``release/``), ``fetch_assignment`` and
    ``submit --student <id>`` in a throw-away home folder (nbgrader's submit
    cache goes there too), then ``collect --student <id> --update`` in the
    course; the collected folder is ``submitted/<id>/<assignment>/`` with the
    exchange's ``timestamp.txt``. ``collect`` runs with
    ``ExchangeCollect.check_owner=False``: the files belong to the instructor's
    OS user, not to a user named like the sample student.
    """
    course_root = Path(course_root)
    exchange_root = Path(exchange_root)
    exchange_opts = [f"--Exchange.root={exchange_root}", f"--CourseDirectory.course_id={course_id}"]
    outbound = exchange_root / course_id / "outbound" / assignment
    release_dir = course_root / "release" / assignment
    if not outbound.is_dir() or _files_digest(outbound) != _files_digest(release_dir):
        exchange_root.mkdir(parents=True, exist_ok=True)
        ck.run_nbgrader(["release_assignment", assignment, "--force"], course_root, timeout=timeout)
        say(f"released {assignment} to the exchange {exchange_root}")
    with tempfile.TemporaryDirectory(prefix="synapses-sample-home-") as home:
        home = Path(home)
        opts = exchange_opts + [f"--Exchange.cache={home / 'nbgrader_cache'}"]
        ck.run_nbgrader(["fetch_assignment", assignment, *opts], home, timeout=timeout)
        fetched = home / assignment
        sub = build_student(student, released, sources, base=_read_folder(fetched))
        for p in fetched.glob("*.ipynb"):
            p.unlink()
        for name, nb in sub.notebooks.items():
            nbformat.write(with_course_root(nb, course_root), fetched / name)
        ck.run_nbgrader(["submit", assignment, "--student", student.id, *opts], home, timeout=timeout)
    dest = course_root / "submitted" / student.id
    if dest.exists():
        _remove_sample_path(dest)
    ck.run_nbgrader(["collect", assignment, "--student", student.id, "--update",
                      "--ExchangeCollect.check_owner=False"], course_root, timeout=timeout)
    if not (dest / assignment).is_dir():
        raise ck.NbgraderError(f"nbgrader collect did not create {dest / assignment}")
    say(f"{student.id}: fetched, submitted and collected through the exchange")
    return sub


def assemble(course_root: Path, db_url: str, course_id: str, exchange_root: Path, *,
             students: Iterable[SampleStudent] = SAMPLE_CLASS, assignment: str = ck.ASSIGNMENT_ID,
             say: Callable[[str], None] = lambda s: None) -> list[SampleSubmission]:
    """Put the sample class into the course (after :func:`remove_sample_students`).

    Reads ``release/<assignment>`` (generated) and ``source/<assignment>``,
    builds every student, submits them (exchange or LMS-style), and adds them
    to the gradebook with readable names (first name "Sample", last name what
    they did).

    Returns
    -------
    list of SampleSubmission
        In the order of ``students``.
    """
    from nbgrader.api import Gradebook

    course_root = Path(course_root)
    released = _read_folder(course_root / "release" / assignment)
    sources = _read_folder(course_root / "source" / assignment)
    if sorted(released) != sorted(sources):
        raise ValueError(f"release/{assignment} and source/{assignment} hold different notebooks; "
                         "regenerate the release first")
    built = []
    students = list(students)
    for k, student in enumerate(students, 1):
        if not is_sample(student.id):
            raise ValueError(f"sample student id {student.id!r} must start with {PREFIX!r}")
        if student.via_exchange:
            sub = submit_via_exchange(course_root, student, released, sources, course_id, exchange_root,
                                      assignment=assignment, say=say)
        else:
            sub = build_student(student, released, sources)
            write_lms_submission(course_root, sub, assignment)
        built.append(sub)
        say(f"[{k}/{len(students)}] {student.id}: {student.did}")
    with Gradebook(db_url, course_id) as gb:
        for sub in built:
            gb.update_or_create_student(sub.student.id, first_name="Sample", last_name=sub.student.did)
    return built
