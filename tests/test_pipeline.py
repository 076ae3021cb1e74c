"""The instructor pipeline with the real nbgrader commands, on a throw-away course.

One module-scoped course directory (``tmp_path``) gets the repository's
``nbgrader_config.py`` and ``source/synapses``; then, as subprocesses:

1. ``nbgrader generate_assignment synapses --force``;
2. students are added with nbgrader's ``Gradebook`` API; ``complete`` submits the
   source notebooks (the model solutions), ``blank`` the untouched release
   notebooks, ``tamper`` the solutions of the first notebook with one test cell
   emptied;
3. ``nbgrader autograde synapses`` (one run for everyone, with a subprocess
   timeout so a hang fails the test instead of blocking it);
4. ``nbgrader generate_feedback synapses``;
5. meanwhile, in a copy of the freshly generated course, an autograde with a
   10 s cell timeout of two students whose first notebook never ends: ``hang``
   loops (the interrupt frees it) and ``stuck`` loops with SIGINT ignored (the
   kernel must be killed).

Scores are read back with ``nbgrader.api.Gradebook``. Tests are parametrised over
the notebooks present in ``source/synapses``, so they grow with the course.
The fast tests at the top check the configuration without running nbgrader.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import nbformat
import pytest
from traitlets.config.loader import PyFileConfigLoader

from coursekit.pipeline import checks
from coursekit.settings import read_settings
from coursekit import release as rel
from coursekit import course as ck
from coursekit.preprocessors.overwrite_cells import OverwriteCellsKeepHiddenTests, strip_hidden_tests
from coursekit.preprocessors.shorten_tracebacks import ShortenTestTracebacks

NOTEBOOKS = rel.notebook_names(ck.SOURCE_DIR)
NB_IDS = [n.removesuffix(".ipynb") for n in NOTEBOOKS]
STUDENTS = ("complete", "blank")
#: Outer bound for the main autograde run (s): generous per notebook, but finite.
AUTOGRADE_TIMEOUT = 300 + 120 * len(NOTEBOOKS)
#: Cell timeout (s) for the hang/stuck run and the bound on that whole run.
HANG_CELL_TIMEOUT = 10
HANG_RUN_TIMEOUT = 300
#: pytest-timeout for these tests (setup runs the pipeline): above the sum of the
#: subprocess bounds (generate 300 s, autograde, feedback 300 s, hang run), so a
#: hang is reported by a subprocess timeout, with nbgrader's log.
PIPELINE_TEST_TIMEOUT = 300 + AUTOGRADE_TIMEOUT + 300 + HANG_RUN_TIMEOUT + 120
pytestmark = pytest.mark.timeout(PIPELINE_TEST_TIMEOUT)
HIDDEN_BEGIN, HIDDEN_END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
#: The one line that forged every autograded point when tests ran in the student's kernel.
TRANSFORMER = 'get_ipython().input_transformers_cleanup.append(lambda lines: ["pass\\n"])\n'


# ------------------------------------------------------------------ helpers
def load_config(course_root: Path, env: dict[str, str] | None = None):
    """The traitlets Config that ``<course_root>/nbgrader_config.py`` builds.

    The config file edits ``os.environ`` (PATH, JUPYTER_PATH); that is undone.
    """
    base = {k: v for k, v in os.environ.items() if not k.startswith("SYNAPSES_")}
    base.update(env or {})
    with mock.patch.dict(os.environ, base, clear=True):
        return PyFileConfigLoader("nbgrader_config.py", path=str(course_root)).load_config()


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_autograded_test(cell) -> bool:
    meta = nbgrader_meta(cell)
    return cell.cell_type == "code" and meta.get("grade", False) and not meta.get("solution", False)


def read_nb(path: Path):
    return nbformat.read(path, as_version=4)


def hidden_test_lines(nb) -> set[str]:
    """Distinctive hidden-test lines of a source notebook (not also visible elsewhere)."""
    hidden, visible = set(), set()
    for cell in nb.cells:
        inside = False
        for line in cell.source.splitlines():
            if HIDDEN_BEGIN in line:
                inside = True
            elif HIDDEN_END in line:
                inside = False
            else:
                (hidden if inside else visible).add(line.strip())
    return {line for line in hidden - visible if len(line) >= 12 and not line.startswith("#")}


def html_lines(path: Path) -> set[str]:
    """Stripped text lines of an HTML page, tags removed (pygments splits code into spans).

    A traceback's gutter ("---> 12 " or "     12 ") is removed too, so code
    quoted in a traceback counts as shown.
    """
    text = html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))
    gutter = re.compile(r"^(?:-*>\s*)?\d+\s+")
    lines = set()
    for line in text.splitlines():
        line = line.strip()
        lines.add(line)
        lines.add(gutter.sub("", line).strip())
    return lines


def student_logs(stderr: str) -> dict[str, str]:
    """Split an autograde log into the part for each student."""
    parts = re.split(r"(?=\[AutogradeApp \| INFO\] Creating/updating student with ID ')", stderr)
    out = {}
    for part in parts:
        m = re.match(r"\[AutogradeApp \| INFO\] Creating/updating student with ID '([^']+)'", part)
        if m:
            out[m.group(1)] = part
    return out


def cell_outputs_summary(nb_path: Path, grade_id: str) -> str:
    nb = read_nb(nb_path)
    for cell in nb.cells:
        if nbgrader_meta(cell).get("grade_id") == grade_id:
            lines = []
            for out in cell.get("outputs", []):
                if out.output_type == "error":
                    lines.append(f"{out.ename}: {out.evalue}")
                elif out.output_type == "stream":
                    lines.append(out.text.strip()[-300:])
            return " | ".join(lines) or "(no output)"
    return "(cell not found)"


def first_cell(nb, predicate):
    for i, cell in enumerate(nb.cells):
        if predicate(cell):
            return i
    raise LookupError("no such cell")


# ------------------------------------------------------------------ configuration (fast)
def test_config_course_layout():
    cfg = load_config(ck.REPO_ROOT)
    root = str(ck.REPO_ROOT)
    assert cfg.CourseDirectory.course_id == "synapses-course"
    assert cfg.CourseDirectory.root == root
    assert cfg.CourseDirectory.db_url == "sqlite:///" + os.path.join(root, "gradebook.db")
    assert cfg.Exchange.root == os.path.join(root, "exchange")
    # assignment_id must stay unset, or `nbgrader autograde synapses` is refused
    assert "assignment_id" not in cfg.CourseDirectory


def test_config_env_overrides(tmp_path):
    cfg = load_config(ck.REPO_ROOT, {
        "SYNAPSES_DB_URL": f"sqlite:///{tmp_path}/gb.db",
        "SYNAPSES_EXCHANGE": str(tmp_path / "ex"),
        "SYNAPSES_CELL_TIMEOUT": "42",
    })
    assert cfg.CourseDirectory.db_url == f"sqlite:///{tmp_path}/gb.db"
    assert cfg.Exchange.root == str(tmp_path / "ex")
    assert cfg.Execute.timeout == 42


def test_config_copy_makes_its_directory_the_course_root(tmp_path):
    shutil.copy(ck.CONFIG_FILE, tmp_path / "nbgrader_config.py")
    cfg = load_config(tmp_path)
    assert cfg.CourseDirectory.root == str(tmp_path)
    assert cfg.CourseDirectory.db_url == f"sqlite:///{tmp_path}/gradebook.db"


def test_config_execution_limits():
    cfg = load_config(ck.REPO_ROOT)
    assert cfg.Execute.timeout == 180
    assert cfg.Execute.interrupt_on_timeout is True
    assert cfg.Execute.raise_on_iopub_timeout is True
    assert 0 < cfg.Execute.iopub_timeout <= 30
    assert cfg.Execute.shutdown_kernel == "immediate"


def test_config_solution_stub_raises_with_instruction():
    cfg = load_config(ck.REPO_ROOT)
    stub = cfg.ClearSolutions.code_stub["python"]
    assert "\n" not in stub, "the stub must be one line (it replaces one indented line)"
    with pytest.raises(NotImplementedError, match="Replace this line with your code"):
        exec(compile(f"def f():\n    {stub}\nf()", "<stub>", "exec"), {})
    assert "instruction above" in stub


def test_config_feedback_strips_hidden_tests_and_keeps_defaults():
    from nbgrader.converters import GenerateFeedback
    from nbgrader.preprocessors import ClearHiddenTests

    cfg = load_config(ck.REPO_ROOT)
    configured = list(cfg.GenerateFeedback.preprocessors)
    assert ClearHiddenTests in configured
    assert ShortenTestTracebacks in configured
    from coursekit.preprocessors.pending_grades import GetGradesPending

    assert GetGradesPending in configured  # pending written answers read "not graded yet"
    for default in GenerateFeedback.class_traits()["preprocessors"].default():
        assert any(p is default or issubclass(p, default) for p in configured), \
            f"nbgrader's default feedback preprocessor {default} was dropped"


def test_config_autograde_sanitizers_are_nbgraders_with_quiet_overwrite():
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import OverwriteCells

    cfg = load_config(ck.REPO_ROOT)
    expected = [OverwriteCellsKeepHiddenTests if p is OverwriteCells else p
                for p in Autograde.class_traits()["sanitize_preprocessors"].default()]
    assert list(cfg.Autograde.sanitize_preprocessors) == expected


# ------------------------------------------------------------------ kernel resolution
@pytest.mark.pipeline
def test_kernel_is_the_course_python_even_if_a_user_kernelspec_shadows_it(tmp_path):
    """A user-level "python3" kernelspec of another Python must not be used.

    The fake kernelspec points at a missing interpreter and user paths are
    preferred (as for an environment the user does not own); the config must
    still start this environment's ipykernel, where ``helpers`` imports.
    """
    fake = tmp_path / "data" / "kernels" / "python3"
    fake.mkdir(parents=True)
    (fake / "kernel.json").write_text(json.dumps({
        "argv": ["/nonexistent/python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Shadowing Python 3", "language": "python"}))
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(ck.CONFIG_FILE, course / "nbgrader_config.py")
    script = textwrap.dedent("""
        import nbformat
        from traitlets.config.loader import PyFileConfigLoader
        from nbgrader.preprocessors import Execute
        cfg = PyFileConfigLoader("nbgrader_config.py", path=".").load_config()
        cfg.Execute.timeout = 60
        nb = nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_code_cell("import sys, helpers; print(sys.prefix)")],
            metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}})
        Execute(config=cfg).preprocess(nb, {"metadata": {"path": "."}})
        out = nb.cells[0].outputs
        print("KERNEL_PREFIX=" + (out[0].get("text", "").strip() if out else repr(out)))
    """)
    env = ck.nbgrader_env({"JUPYTER_DATA_DIR": str(tmp_path / "data"), "JUPYTER_PREFER_ENV_PATH": "0"})
    env.pop("JUPYTER_PATH", None)
    proc = subprocess.run([sys.executable, "-c", script], cwd=course, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"KERNEL_PREFIX={sys.prefix}" in proc.stdout, (proc.stdout, proc.stderr[-2000:])


# ------------------------------------------------------------------ the main pipeline
def _autograde(root: Path, timeout: float, extra: tuple[str, ...] = ()):
    """Run ``nbgrader autograde synapses``; a TimeoutExpired is returned, not raised."""
    try:
        return ck.run_nbgrader(["autograde", ck.ASSIGNMENT_ID, *extra], root,
                                timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        return exc


def _submit(root: Path, student: str, folder: Path, names, edit=None) -> None:
    dest = root / "submitted" / student / ck.ASSIGNMENT_ID
    dest.mkdir(parents=True)
    for name in names:
        nb = read_nb(folder / name)
        if edit is not None:
            edit(nb)
        nbformat.write(nb, dest / name)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """Generate, submit, autograde and generate feedback once for all tests.

    Right after generation the course directory is copied (gradebook included)
    for the hang/stuck students, whose autograde runs at the same time as the
    main one; their loops sleep, so they cost little CPU.
    """
    if not NOTEBOOKS:
        pytest.skip("no notebooks in source/synapses")
    from nbgrader.api import Gradebook

    root = rel.make_course(tmp_path_factory.mktemp("course"))
    cfg = load_config(root)
    db_url, course_id = cfg.CourseDirectory.db_url, cfg.CourseDirectory.course_id
    generate = ck.run_nbgrader(["generate_assignment", ck.ASSIGNMENT_ID, "--force"], root, timeout=300)
    source, released = root / "source" / ck.ASSIGNMENT_ID, root / "release" / ck.ASSIGNMENT_ID

    # the hang course: a copy made before any submission (its config makes the copy its root)
    hang_root = tmp_path_factory.mktemp("hang") / "course"
    shutil.copytree(root, hang_root)
    hang_name = NOTEBOOKS[0]
    hang_index = first_cell(read_nb(released / hang_name),
                            lambda c: c.cell_type == "code" and nbgrader_meta(c).get("solution"))
    loops = {
        "hang": "import time\nwhile True:\n    time.sleep(0.01)\n",
        "stuck": ("import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                  "while True:\n    time.sleep(0.01)\n"),
    }
    for student, loop in loops.items():
        def prepend(nb, loop=loop):
            nb.cells[hang_index].source = loop + nb.cells[hang_index].source
        _submit(hang_root, student, hang_root / "release" / ck.ASSIGNMENT_ID, [hang_name], prepend)

    with Gradebook(db_url, course_id) as gb:
        for student in (*STUDENTS, "tamper"):
            gb.add_student(student, first_name=student.title(), last_name="Student")
    _submit(root, "complete", source, NOTEBOOKS)
    _submit(root, "blank", released, NOTEBOOKS)

    # tamper: full solutions of the first notebook, but its first test cell emptied
    tampered = {}

    def empty_first_test(nb):
        i = first_cell(nb, is_autograded_test)
        tampered["id"] = nbgrader_meta(nb.cells[i])["grade_id"]
        nb.cells[i].source = "pass  # the student deleted the tests"

    _submit(root, "tamper", source, NOTEBOOKS[:1], empty_first_test)

    # transformer: the release with one line in the first answer cell that turns every later cell into `pass`
    def transformer(nb):
        i = first_cell(nb, lambda c: c.cell_type == "code" and nbgrader_meta(c).get("solution"))
        nb.cells[i].source = TRANSFORMER + nb.cells[i].source

    with Gradebook(db_url, course_id) as gb:
        gb.add_student("transformer", first_name="Transformer", last_name="Student")
    _submit(root, "transformer", released, NOTEBOOKS, transformer)

    with ThreadPoolExecutor(max_workers=2) as pool:
        hang_future = pool.submit(_autograde, hang_root, HANG_RUN_TIMEOUT,
                                  (f"--Execute.timeout={HANG_CELL_TIMEOUT}",))
        autograde = _autograde(root, AUTOGRADE_TIMEOUT)
        hang = hang_future.result()
    if isinstance(autograde, subprocess.TimeoutExpired):
        pytest.fail(f"nbgrader autograde did not finish within {AUTOGRADE_TIMEOUT} s "
                    f"(a hang?); log tail:\n{(autograde.stderr or '')[-3000:]}")
    feedback = ck.run_nbgrader(["generate_feedback", ck.ASSIGNMENT_ID], root, timeout=300, check=False)
    return SimpleNamespace(root=root, db_url=db_url, course_id=course_id, generate=generate,
                           autograde=autograde, feedback=feedback, tampered_id=tampered["id"],
                           hang=SimpleNamespace(root=hang_root, result=hang, name=hang_name,
                                                index=hang_index))


def grades_by_kind(course, notebook_id: str, student: str):
    """(autograded test grades, written/manual grades) as lists of plain tuples."""
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.course_id) as gb:
        nb = gb.find_notebook(notebook_id, ck.ASSIGNMENT_ID)
        solution_ids = {c.name for c in nb.solution_cells}
        sub = gb.find_submission_notebook(notebook_id, ck.ASSIGNMENT_ID, student)
        auto, manual = [], []
        for g in sub.grades:
            row = (g.name, g.auto_score, g.max_score, g.needs_manual_grade)
            (manual if g.name in solution_ids else auto).append(row)
    return sorted(auto), sorted(manual)


@pytest.mark.pipeline
def test_autograde_run_is_clean(course):
    ag = course.autograde
    assert ag.returncode == 0, ag.stderr[-4000:]
    assert "ERROR" not in ag.stderr, ag.stderr[-4000:]
    assert ag.leftover_pids == [], "kernels outlived nbgrader autograde"
    assert ag.elapsed < AUTOGRADE_TIMEOUT
    for student in STUDENTS:
        for name in NOTEBOOKS:
            assert (course.root / "autograded" / student / ck.ASSIGNMENT_ID / name).is_file()


@pytest.mark.pipeline
@pytest.mark.parametrize("student", STUDENTS)
def test_no_false_checksum_warnings(course, student):
    """nbgrader issue #1961: untouched hidden-test cells must not be reported as changed."""
    log = student_logs(course.autograde.stderr)[student]
    assert "has changed" not in log, [line for line in log.splitlines() if "has changed" in line]


@pytest.mark.pipeline
def test_tampered_test_cell_is_reported_and_restored(course):
    log = student_logs(course.autograde.stderr)["tamper"]
    assert f"Attribute 'checksum' for cell {course.tampered_id} has changed" in log
    auto, _ = grades_by_kind(course, NB_IDS[0], "tamper")
    scores = {name: (score, top) for name, score, top, _ in auto}
    score, top = scores[course.tampered_id]
    assert score == top > 0, "the restored tests should run and pass on the model solution"


@pytest.mark.pipeline
@pytest.mark.parametrize("notebook_id", NB_IDS)
def test_complete_solution_gets_full_autograded_marks(course, notebook_id):
    auto, _ = grades_by_kind(course, notebook_id, "complete")
    assert auto, f"{notebook_id} has no autograded test cells"
    graded = course.root / "autograded" / "complete" / ck.ASSIGNMENT_ID / f"{notebook_id}.ipynb"
    short = [f"{name}: {score}/{top} ({cell_outputs_summary(graded, name)})"
             for name, score, top, _ in auto if score != top]
    assert not short, f"{notebook_id}: the model solution loses marks: " + "; ".join(short)
    assert sum(top for *_, top, _ in auto) > 0


@pytest.mark.pipeline
@pytest.mark.parametrize("notebook_id", NB_IDS)
def test_input_transformer_forges_nothing_under_plain_nbgrader_autograde(course, notebook_id):
    """The one-line IPython input transformer on the untouched release scores 0, not full marks."""
    auto, _ = grades_by_kind(course, notebook_id, "transformer")
    assert auto and all(score == 0 for _, score, _, _ in auto), auto
    graded = read_nb(course.root / "autograded" / "transformer" / ck.ASSIGNMENT_ID / f"{notebook_id}.ipynb")
    tests = [c for c in graded.cells if is_autograded_test(c)]
    assert tests and all(any(o.output_type == "error" for o in c.outputs) for c in tests)


@pytest.mark.pipeline
@pytest.mark.parametrize("notebook_id", NB_IDS)
def test_blank_submission_gets_zero(course, notebook_id):
    auto, manual = grades_by_kind(course, notebook_id, "blank")
    assert auto
    given = [f"{name}: {score}/{top}" for name, score, top, _ in auto if score != 0]
    assert not given, f"{notebook_id}: the unanswered release earns marks: " + "; ".join(given)
    for name, score, _, needs in manual:
        assert score == 0 and not needs, f"{notebook_id}: unanswered written answer {name} not zeroed"


@pytest.mark.pipeline
@pytest.mark.parametrize("notebook_id", NB_IDS)
def test_written_answers_wait_for_manual_grading(course, notebook_id):
    _, manual = grades_by_kind(course, notebook_id, "complete")
    if not manual:
        pytest.skip(f"{notebook_id} has no manually graded answers")
    assert all(needs for *_, needs in manual), manual


@pytest.mark.pipeline
@pytest.mark.parametrize("student", STUDENTS)
@pytest.mark.parametrize("notebook_id", NB_IDS)
def test_feedback_shows_no_hidden_tests(course, student, notebook_id):
    assert course.feedback.returncode == 0, course.feedback.stderr[-3000:]
    page = course.root / "feedback" / student / ck.ASSIGNMENT_ID / f"{notebook_id}.html"
    shown = html_lines(page)
    source = read_nb(course.root / "source" / ck.ASSIGNMENT_ID / f"{notebook_id}.ipynb")
    leaked = sorted(hidden_test_lines(source) & shown)
    assert not leaked, f"feedback for {student} shows hidden-test lines: {leaked[:3]}"
    # positive control: the visible part of the first test cell is in the page
    visible = strip_hidden_tests(source.cells[first_cell(source, is_autograded_test)].source)
    lines = [l.strip() for l in visible.splitlines() if len(l.strip()) >= 12]
    if lines:
        assert lines[0] in shown, "feedback page lacks the visible test code (page format changed?)"


@pytest.mark.pipeline
@pytest.mark.parametrize("student", STUDENTS)
@pytest.mark.parametrize("notebook_id", NB_IDS)
def test_rubrics_reach_formgrader_but_not_feedback(course, student, notebook_id):
    """coursekit/preprocessors/clear_rubrics.py end to end: the autograded notebook (what Formgrader shows) has the rubrics
    and graders-only answers; the feedback page shows the rubric cells without them."""
    assert course.feedback.returncode == 0, course.feedback.stderr[-3000:]
    source = read_nb(course.root / "source" / ck.ASSIGNMENT_ID / f"{notebook_id}.ipynb")
    regions = [c.source for c in source.cells if "BEGIN MARK SCHEME" in c.source]
    if not regions:
        pytest.skip(f"{notebook_id} has no rubric")
    graded = read_nb(course.root / "autograded" / student / ck.ASSIGNMENT_ID / f"{notebook_id}.ipynb")
    graded_text = "\n".join(c.source for c in graded.cells)
    assert graded_text.count("BEGIN MARK SCHEME") == len(regions), "Formgrader's notebook lacks rubrics"
    page = (course.root / "feedback" / student / ck.ASSIGNMENT_ID / f"{notebook_id}.html").read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    for marker in ("MARK SCHEME", "Rubric for", "graders only):", "Worked derivation"):
        assert marker not in text, f"feedback for {student} shows {marker!r}"
    if any("points, by hand." in r for r in regions):
        assert "points, by hand." in text, "feedback page lacks the rubric cells (page format changed?)"
    assert "shown to graders only" not in text, "the feedback announces a rubric the student cannot see"


# ------------------------------------------------------------------ hangs
@pytest.fixture(scope="module")
def hang_run(course):
    """The concurrent autograde of the never-ending first notebooks (10 s cell timeout)."""
    if isinstance(course.hang.result, subprocess.TimeoutExpired):
        pytest.fail(f"a never-ending cell blocked nbgrader autograde for {HANG_RUN_TIMEOUT} s; "
                    f"log tail:\n{(course.hang.result.stderr or '')[-3000:]}")
    return course.hang


@pytest.mark.pipeline
def test_endless_loop_costs_only_its_cell(course, hang_run):
    log = student_logs(hang_run.result.stderr)["hang"]
    assert "There was an error processing" not in log, log[-3000:]
    nb = read_nb(hang_run.root / "autograded" / "hang" / ck.ASSIGNMENT_ID / hang_run.name)
    looped = nb.cells[hang_run.index]
    assert any(o.output_type == "error" and o.ename == "CellTimeoutError" for o in looped.outputs), looped.outputs
    later = [c for c in nb.cells[hang_run.index + 1:] if c.cell_type == "code" and c.source.strip()]
    in_kernel = [c for c in later if not is_autograded_test(c)]
    graded = [c for c in later if is_autograded_test(c)]
    assert in_kernel and all(c.execution_count is not None for c in in_kernel), \
        "cells after the interrupted one were not executed"
    # test cells never run in the student's kernel: the trusted grader wrote their outputs
    assert graded and all(c.execution_count is None and c.outputs for c in graded), \
        "test cells after the interrupted one were not graded"


@pytest.mark.pipeline
def test_kernel_that_ignores_interrupts_is_killed(course, hang_run):
    result = hang_run.result
    log = student_logs(result.stderr)["stuck"]
    assert "Timeout waiting for IOPub output" in log or "Kernel died" in log, log[-3000:]
    assert result.returncode != 0, "nbgrader should report the notebook it could not grade"
    assert result.leftover_pids == [], "the stuck kernel outlived nbgrader"
    assert not (hang_run.root / "autograded" / "stuck").exists() or not any(
        (hang_run.root / "autograded" / "stuck").rglob("*.ipynb")), "a half-graded notebook was kept"


def test_a_grader_failure_is_told_apart_from_a_failed_submission():
    """make grade: a worker whose grader could not run stops the run; a submission nbgrader failed is rescued."""
    from coursekit.pipeline import phases as pipeline
    from coursekit.grading import preflight
    line = "the trusted grader did not start: PermissionError: '/x/coursekit/__init__.py'"
    outcomes = {
        "broken": SimpleNamespace(ok=False, log="[AutogradeApp | INFO] ...\n" + preflight.PREFIX + line + "\n",
                                  log_tail=""),
        "failed": SimpleNamespace(ok=False, log="[AutogradeApp | ERROR] There was an error processing assignment",
                                  log_tail=""),
        "fine": SimpleNamespace(ok=True, log="", log_tail=""),
    }
    assert checks.grader_failures(outcomes) == {"broken": line}
    said = []
    job = SimpleNamespace(run=SimpleNamespace(outcomes=outcomes), progress=said.append)
    with pytest.raises(preflight.GraderUnavailable) as info:
        checks.stop_if_the_grader_failed(job)
    assert info.value.code == preflight.PREFIX + line
    assert "for 1 students (broken)" in said[0] and "the grader failed, not the submission" in said[0]
    job.run.outcomes = {k: v for k, v in outcomes.items() if k != "broken"}
    checks.stop_if_the_grader_failed(job)  # nbgrader's own failures go on to the rescue


def test_make_grade_checks_the_grader_before_the_first_student(monkeypatch):
    from coursekit.pipeline import phases as pipeline
    from coursekit.grading import preflight
    said = []
    job = SimpleNamespace(settings=read_settings(ck.REPO_ROOT), progress=said.append)
    monkeypatch.setattr(preflight, "_checked", {})
    monkeypatch.setattr(preflight, "_probe", lambda te: "the trusted grader did not start: X")
    with pytest.raises(preflight.GraderUnavailable, match="did not start: X"):
        checks.preflight_grader(job)
    assert said == []  # nothing graded, nothing announced
