"""Parallel autograding (coursekit.pipeline.engine) against the serial run.

The fast tests at the top check the replay preprocessor, the preprocessor
lists and the argument checks without running nbgrader. The ``pipeline`` /
``slow`` tests build one reduced course (the two fastest notebooks, 04 and 05,
or the first two if those are gone) with four students:

* ``complete``: the source notebooks (model solutions);
* ``blank``: the release notebooks, untouched;
* ``typo``: the solutions with a NameError in the first answer of the second
  notebook, submitted after the due date (a ``timestamp.txt``);
* ``halfway``: the solutions of the first notebook only (the second is
  missing).

Three copies of it are autograded: serially (``workers=1``), with 2 process
workers and with a Dask ``LocalCluster`` on loopback (2 worker processes); the
gradebooks and autograded notebooks must agree. A last group interrupts runs
whose students loop forever and checks that nothing is left running.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from coursekit import processes
from coursekit import release as rel
from coursekit import course as ck
from coursekit.pipeline import engine as par
from coursekit.pipeline import steps, tasks
from coursekit.pipeline import writer as wr
from coursekit.preprocessors import replay

ASSIGNMENT = ck.ASSIGNMENT_ID
STUDENTS = ["complete", "blank", "typo", "halfway"]
PROGRESS = re.compile(r"^\[(\d+)/(\d+)\] (\S+): (done|FAILED) in \d+ s$")
#: Bound (s) for one student's nbgrader run in these tests.
STUDENT_TIMEOUT = 300


# ================================================================== fast: replay preprocessor
def _cell(source, grade_id, **nbgrader):
    meta = {"nbgrader": {"grade_id": grade_id, "schema_version": 3, "locked": False,
                         "solution": True, "grade": False, **nbgrader}}
    return nbformat.v4.new_code_cell(source, metadata=meta)


def _notebook():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title"),
        _cell("x = 1\nprint(x)", "answer"),
        _cell("assert x == 1", "check", solution=False, grade=True, locked=True, points=1),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def _executed(nb):
    done = nbformat.from_dict(json.loads(json.dumps(nb)))
    done.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    done.cells[1].execution_count = 1
    done.cells[1].metadata["execution"] = {"iopub.status.busy": "2025-01-01T00:00:00Z"}
    done.cells[2].outputs = [nbformat.v4.new_output(
        "error", ename="AssertionError", evalue="no", traceback=["AssertionError: no"])]
    done.cells[2].execution_count = 2
    done.metadata["language_info"] = {"name": "python", "version": "3.11.7"}
    return done


def _resources(student="ann", notebook="01_nb"):
    return {"nbgrader": {"student": student, "notebook": notebook, "assignment": ASSIGNMENT}}


def _stash(tmp_path, nb, student="ann", notebook="01_nb"):
    folder = tmp_path / student
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(folder / f"{notebook}.ipynb"))


def test_replay_copies_outputs_counts_and_execution_metadata(tmp_path):
    nb = _notebook()
    _stash(tmp_path, _executed(nb))
    graded, _ = replay.ReplayExecute(replay_dir=str(tmp_path)).preprocess(nb, _resources())
    assert graded.cells[1].outputs[0].text == "1\n"
    assert graded.cells[1].execution_count == 1
    assert graded.cells[1].metadata["execution"] == {"iopub.status.busy": "2025-01-01T00:00:00Z"}
    assert graded.cells[2].outputs[0].ename == "AssertionError"
    assert graded.metadata["language_info"]["name"] == "python"
    assert graded.cells[1].source == "x = 1\nprint(x)"  # sources untouched


def test_replay_refuses_a_different_notebook(tmp_path):
    nb = _notebook()
    executed = _executed(nb)
    executed.cells[2].source = "pass  # tests removed"
    _stash(tmp_path, executed)
    with pytest.raises(replay.ReplayMismatch, match=r"cell 2 \(check\) differs in source\b[^;]*$"):
        replay.ReplayExecute(replay_dir=str(tmp_path)).preprocess(nb, _resources())
    assert nb.cells[1].outputs == [], "a refused replay must not change the notebook"


def test_replay_refuses_changed_metadata_or_cell_count(tmp_path):
    nb = _notebook()
    executed = _executed(nb)
    executed.cells[2].metadata["nbgrader"]["points"] = 5
    executed.cells.append(nbformat.v4.new_code_cell("y = 2"))
    problems = replay.replay_differences(nb, executed)
    assert any("4 cells, expected 3" in p for p in problems), problems
    assert any("cell 2 (check) differs in metadata" in p for p in problems), problems
    assert replay.replay_differences(nb, _executed(nb)) == []


def test_replay_without_executed_copy_fails_the_notebook(tmp_path):
    with pytest.raises(replay.ReplayError, match="no executed copy of 01_nb.ipynb for student ann") as info:
        replay.ReplayExecute(replay_dir=str(tmp_path)).preprocess(_notebook(), _resources())
    assert not isinstance(info.value, replay.ReplayMismatch)


def test_stash_writes_the_notebook_unchanged(tmp_path):
    nb = _executed(_notebook())
    out, _ = replay.StashExecuted(stash_dir=str(tmp_path)).preprocess(nb, _resources())
    assert out is nb
    saved = nbformat.read(str(tmp_path / "ann" / "01_nb.ipynb"), as_version=4)
    assert replay.replay_differences(nb, saved) == []
    assert saved.cells[1].outputs == nb.cells[1].outputs


# ================================================================== fast: configuration and arguments
CONFIGURED = [
    {"name": "nbgrader.preprocessors.execute.Execute", "execute": True},
    {"name": "nbgrader.preprocessors.limitoutput.LimitOutput", "execute": False},
    {"name": "nbgrader.preprocessors.saveautogrades.SaveAutoGrades", "execute": False},
]


def test_worker_and_replay_preprocessor_lists():
    worker = steps.autograde_preprocessors(CONFIGURED, "worker")
    replay = steps.autograde_preprocessors(CONFIGURED, "replay")
    assert worker == [CONFIGURED[0]["name"], "coursekit.preprocessors.replay.StashExecuted",
                      CONFIGURED[1]["name"], CONFIGURED[2]["name"]]
    assert replay == ["coursekit.preprocessors.replay.ReplayExecute", CONFIGURED[1]["name"], CONFIGURED[2]["name"]]
    with pytest.raises(ValueError, match="expected one Execute"):
        steps.autograde_preprocessors(CONFIGURED[1:], "replay")
    with pytest.raises(ValueError, match="expected one Execute"):
        steps.autograde_preprocessors(CONFIGURED + CONFIGURED[:1], "worker")


def test_course_config_probe_finds_the_trusted_execute_and_sqlite_gradebook():
    from coursekit.settings import read_settings

    settings = read_settings(ck.REPO_ROOT)
    info = {"preprocessors": settings.autograde_preprocessors, "db_url": settings.db_url}
    names = [p["name"] for p in info["preprocessors"]]
    assert [p["name"] for p in info["preprocessors"] if p["execute"]] == ["coursekit.grading.execute.TrustedExecute"]
    assert "nbgrader.preprocessors.saveautogrades.SaveAutoGrades" in names
    assert info["db_url"] == "sqlite:///" + str(ck.REPO_ROOT / "gradebook.db")


@pytest.mark.parametrize("students, message", [
    (["*"], "invalid student id"),
    (["a/b"], "invalid student id"),
    (["ann", "bob", "ann"], "listed twice"),
])
def test_bad_student_lists_are_refused_before_grading(tmp_path, students, message):
    with pytest.raises(ValueError, match=message):
        par.autograde(tmp_path, students, workers=2)


def test_workers_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="at least 1"):
        par.autograde(tmp_path, ["ann"], workers=0)


def test_tagged_processes_are_found_and_killed():
    tag = uuid.uuid4().hex
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                            env={**os.environ, par.TASK_TAG: tag}, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while proc.pid not in processes.tagged(par.TASK_TAG, tag) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert processes.tagged(par.TASK_TAG, tag) == [proc.pid]
        assert processes.kill_tagged(par.TASK_TAG, tag) == [proc.pid]
        assert proc.wait(timeout=10) == -signal.SIGKILL
        assert processes.tagged(par.TASK_TAG, tag) == []
    finally:
        proc.kill()
        proc.wait()


# ================================================================== the reduced course
def _pick_notebooks() -> list[str]:
    names = rel.notebook_names(ck.SOURCE_DIR)
    fast = [n for n in names if n.startswith(("04_", "05_"))]
    return fast if len(fast) == 2 else names[:2]


def _first_solution(nb) -> int:
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
            return i
    raise LookupError("no solution cell")


def _submit(root: Path, student: str, folder: Path, names, edit=None) -> None:
    dest = root / "submitted" / student / ASSIGNMENT
    dest.mkdir(parents=True)
    for name in names:
        nb = nbformat.read(folder / name, as_version=4)
        if edit is not None:
            edit(name, nb)
        nbformat.write(nb, dest / name)


def _make_base(tmp: Path) -> SimpleNamespace:
    """Generate the reduced course and its four submissions (no grading yet)."""
    from nbgrader.api import Gradebook
    import datetime

    names = _pick_notebooks()
    src = tmp / "src"
    src.mkdir()
    for name in names:
        shutil.copy(ck.SOURCE_DIR / name, src / name)
    root = rel.make_course(tmp / "base", src)
    ck.run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"], root, timeout=300)
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", "synapses-course") as gb:
        gb.update_or_create_assignment(ASSIGNMENT, duedate=datetime.datetime(2025, 3, 1, 12, 0))
    source, released = root / "source" / ASSIGNMENT, root / "release" / ASSIGNMENT

    def typo(name, nb):
        if name == names[1]:
            i = _first_solution(nb)
            nb.cells[i].source = "undefined_name_typo\n" + nb.cells[i].source

    _submit(root, "complete", source, names)
    _submit(root, "blank", released, names)
    _submit(root, "typo", source, names, typo)
    (root / "submitted" / "typo" / ASSIGNMENT / "timestamp.txt").write_text("2025-03-02 09:30:00.000000 UTC")
    _submit(root, "halfway", source, names[:1])
    return SimpleNamespace(root=root, names=names)


def _copy(base: Path, dest: Path) -> Path:
    shutil.copytree(base, dest)
    return dest


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same course autograded serially, with 2 processes and on a Dask LocalCluster."""
    psutil = pytest.importorskip("psutil")
    from distributed import LocalCluster

    tmp = tmp_path_factory.mktemp("parallel")
    base = _make_base(tmp)
    children_before = {p.pid for p in psutil.Process().children(recursive=True)}
    out = SimpleNamespace(base=base, tags=[], lines={}, outcomes={}, roots={}, wall={})

    def run(kind, **kwargs):
        root = _copy(base.root, tmp / kind)
        tag = f"test-{kind}-{uuid.uuid4().hex}"
        lines = []
        start = time.monotonic()
        out.outcomes[kind] = par.autograde(root, list(STUDENTS), progress=lines.append,
                                           timeout=STUDENT_TIMEOUT, run_tag=tag, **kwargs)
        out.wall[kind] = time.monotonic() - start
        out.roots[kind], out.lines[kind] = root, lines
        out.tags.append(tag)
        # the Dask workers are this test's children until the cluster closes: check per run
        out.__dict__.setdefault("leftover", {})[kind] = processes.tagged(par.RUN_TAG, tag)

    run("serial", workers=1)
    run("pool", workers=2)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        run("dask", workers=2, scheduler=cluster.scheduler_address)
    with _dask_cluster_of_commands(tmp / "dask-cli-logs") as address:
        root = _copy(base.root, tmp / "dask-cli")
        out.roots["dask-cli"] = root
        start = time.monotonic()
        out.cli, out.cli_address = _make_grade(root, address), address
        out.wall["dask-cli"] = time.monotonic() - start
    def extra_children():
        found = []
        for child in psutil.Process().children(recursive=True):
            try:
                # multiprocessing's resource tracker: one per process, started by the
                # first "spawn" pool, lives as long as this process (not a leak)
                if child.pid in children_before or "multiprocessing.resource_tracker" in " ".join(child.cmdline()):
                    continue
            except psutil.Error:
                continue
            found.append(child.pid)
        return found

    deadline = time.monotonic() + 30
    while extra_children() and time.monotonic() < deadline:
        time.sleep(0.5)
    out.extra_children = extra_children()
    return out


PARALLEL = ["pool", "dask"]
#: runs compared by their gradebook and autograded notebooks: the two above and ``make grade
#: SCHEDULER=tcp://127.0.0.1:PORT`` against a scheduler and two workers started as commands
RECORDED = [*PARALLEL, "dask-cli"]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _dask_cluster_of_commands(logs: Path):
    """``dask scheduler`` and two ``dask worker`` processes, each its own command, on loopback.

    What a department runs on separate machines (``deploy/README.md``), here on one. Yields the
    scheduler's address once both workers have joined; stops all three (their process groups)
    on the way out, whatever happened.
    """
    from distributed import Client

    dask = str(Path(sys.executable).with_name("dask"))
    address = f"tcp://127.0.0.1:{_free_port()}"
    logs.mkdir(parents=True)
    commands = [[dask, "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                 "--no-dashboard"]]
    commands += [[dask, "worker", address, "--name", f"worker-{i}", "--nworkers", "1", "--nthreads", "1",
                  "--host", "127.0.0.1", "--no-dashboard", "--no-nanny"] for i in (1, 2)]
    procs = []
    try:
        for i, cmd in enumerate(commands):
            log = open(logs / f"{i}.log", "wb")
            procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          start_new_session=True))
            log.close()
            if i == 0:
                time.sleep(1.0)
        with Client(address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=120)
            assert len(client.scheduler_info()["workers"]) == 2
        yield address
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _make_grade(root: Path, address: str) -> subprocess.CompletedProcess:
    """What ``make grade SCHEDULER=address`` runs (the Makefile's command), on ``root``'s submissions."""
    cmd = [sys.executable, "-m", "coursekit", "grade", "--workers", "2", "--scheduler", address,
           "--no-release", "--course", str(root)]
    for student in STUDENTS:
        cmd += ["--student", student]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=STUDENT_TIMEOUT * len(STUDENTS),
                          stdin=subprocess.DEVNULL)


def _normalise(nb: dict) -> str:
    """Autograded notebook as text, without execution timestamps and run-specific ids."""
    nb = json.loads(json.dumps(nb))
    for cell in nb["cells"]:
        cell.get("metadata", {}).pop("execution", None)
    text = json.dumps(nb, sort_keys=True, indent=1)
    text = re.sub(r"0x[0-9a-f]{6,}", "0xADDR", text)
    text = re.sub(r"ipykernel_\d+/\d+", "ipykernel_N/N", text)
    return re.sub(r'"model_id": "[0-9a-f]{32}"', '"model_id": "ID"', text)


@pytest.mark.pipeline
@pytest.mark.slow
def test_serial_run_grades_everyone(runs):
    outcomes = runs.outcomes["serial"]
    assert list(outcomes) == STUDENTS
    bad = {s: o.log_tail[-1500:] for s, o in outcomes.items() if not o.ok}
    assert not bad, bad
    assert all(o.returncode == 0 and o.seconds > 0 for o in outcomes.values())


@pytest.mark.pipeline
@pytest.mark.slow
def test_scores_tell_the_students_apart(runs):
    """complete > typo > blank == 0: the comparison below compares real grades."""
    rows = par.gradebook_rows(runs.roots["serial"] / "gradebook.db", ASSIGNMENT)
    total = {s: sum(r[4] or 0 for r in rows["grades"] if r[0] == s) for s in STUDENTS}
    assert total["complete"] > total["typo"] > total["blank"] == 0, total
    assert 0 < total["halfway"] < total["complete"], total
    late = {r[0]: r[1] for r in rows["submissions"]}
    assert late["typo"].startswith("2025-03-02 09:30"), late
    names = {r[1] for r in rows["notebooks"] if r[0] == "complete"}
    assert names == {n.removesuffix(".ipynb") for n in runs.base.names}


@pytest.mark.pipeline
@pytest.mark.slow
@pytest.mark.parametrize("kind", PARALLEL)
def test_parallel_run_grades_everyone(runs, kind):
    outcomes = runs.outcomes[kind]
    assert list(outcomes) == STUDENTS
    bad = {s: o.log_tail[-1500:] for s, o in outcomes.items() if not o.ok}
    assert not bad, bad
    assert not any(o.detail["regraded_serially"] for o in outcomes.values()), "a replay was refused"
    assert all(o.detail["replay_seconds"] > 0 for o in outcomes.values())


@pytest.mark.pipeline
@pytest.mark.slow
def test_make_grade_on_a_dask_cluster_of_commands(runs):
    """``make grade SCHEDULER=tcp://...``: a scheduler and two workers, each started as its own command."""
    cli = runs.cli
    assert cli.returncode == 0, (cli.stdout[-2000:], cli.stderr[-2000:])
    assert f"Dask scheduler {runs.cli_address}" in cli.stdout, cli.stdout[-2000:]
    # the pipeline's progress lines: "[ 0:35]   [1/4] complete: done in 30 s"
    done = re.findall(r"^\[[ \d:]+\]\s+\[\d+/\d+\] (\S+): done in \d+ s$", cli.stdout, flags=re.M)
    assert sorted(done) == sorted(STUDENTS), cli.stdout[-2000:]


@pytest.mark.pipeline
@pytest.mark.slow
@pytest.mark.parametrize("kind", RECORDED)
def test_parallel_gradebook_equals_serial(runs, kind):
    serial = par.gradebook_rows(runs.roots["serial"] / "gradebook.db", ASSIGNMENT)
    parallel = par.gradebook_rows(runs.roots[kind] / "gradebook.db", ASSIGNMENT)
    n_cells = len({(r[1], r[2]) for r in serial["grades"] if r[0] == "complete"})
    assert len(serial["grades"]) == len(STUDENTS) * n_cells > 0
    assert len(serial["comments"]) > 0
    for key in serial:
        assert parallel[key] == serial[key], f"{kind}: gradebook table {key} differs from the serial run"


@pytest.mark.pipeline
@pytest.mark.slow
@pytest.mark.parametrize("kind", RECORDED)
def test_parallel_autograded_notebooks_equal_serial(runs, kind):
    serial_dir, parallel_dir = runs.roots["serial"] / "autograded", runs.roots[kind] / "autograded"
    files = sorted(p.relative_to(serial_dir) for p in serial_dir.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(parallel_dir) for p in parallel_dir.rglob("*") if p.is_file())
    assert len([f for f in files if f.suffix == ".ipynb"]) == (len(STUDENTS) - 1) * len(runs.base.names) + 1
    for name in files:
        if name.suffix != ".ipynb":
            assert (serial_dir / name).read_bytes() == (parallel_dir / name).read_bytes(), name
            continue
        a = json.loads((serial_dir / name).read_text())
        b = json.loads((parallel_dir / name).read_text())
        assert any(c.get("outputs") for c in a["cells"]), f"{name}: no outputs at all (not executed?)"
        if _normalise(a) != _normalise(b):
            diffs = rel.diff_notebooks(json.loads(_normalise(a)), json.loads(_normalise(b)), str(name))
            pytest.fail(f"{kind}: autograded {name} differs from the serial run: {diffs[:5]}")


@pytest.mark.pipeline
@pytest.mark.slow
@pytest.mark.parametrize("kind", PARALLEL)
def test_each_worker_had_a_private_copy_with_one_student(runs, kind):
    outcomes = runs.outcomes[kind]
    workdirs = [o.workdir for o in outcomes.values()]
    assert len(set(workdirs)) == len(STUDENTS), workdirs
    course = str(runs.roots[kind])
    for student, o in outcomes.items():
        assert o.detail["submitted"] == [student], (student, o.detail["submitted"])
        path = o.workdir.split(":", 1)[1]
        assert not path.startswith(course), f"{student} was executed inside the course: {path}"
        assert not Path(path).exists(), f"private copy {path} was not removed"


@pytest.mark.pipeline
@pytest.mark.slow
@pytest.mark.parametrize("kind", PARALLEL)
def test_two_students_ran_at_once_and_never_more(runs, kind):
    spans = sorted((o.detail["started"], o.detail["finished"]) for o in runs.outcomes[kind].values())
    most = max(sum(1 for s, f in spans if s <= t < f) for t, _ in spans)
    assert most == 2, f"{kind}: at most {most} students were executed at the same time: {spans}"


@pytest.mark.pipeline
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["serial", *PARALLEL])
def test_progress_lines(runs, kind):
    lines = runs.lines[kind]
    assert len(lines) == len(STUDENTS), lines
    parsed = [PROGRESS.match(line) for line in lines]
    assert all(parsed), lines
    assert [int(m[1]) for m in parsed] == list(range(1, len(STUDENTS) + 1))
    assert {m[2] for m in parsed} == {str(len(STUDENTS))}
    assert sorted(m[3] for m in parsed) == sorted(STUDENTS)
    assert all(m[4] == "done" for m in parsed)


@pytest.mark.pipeline
@pytest.mark.slow
def test_no_processes_left_behind(runs):
    assert runs.leftover == {"serial": [], "pool": [], "dask": []}
    for tag in runs.tags:
        assert processes.tagged(par.RUN_TAG, tag) == []
    assert runs.extra_children == [], "pool or cluster processes outlived the runs"


# ================================================================== Ctrl-C
CTRL_C_SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path
    from coursekit.pipeline import engine as par

    root, workers, tag = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    try:
        par.autograde(root, ["loop1", "loop2", "loop3"], workers=workers, run_tag=tag, timeout=300)
    except KeyboardInterrupt as exc:
        print("INTERRUPTED with", len(exc.outcomes), "outcomes", flush=True)
        raise
    print("FINISHED", flush=True)
""")


def _kernels(tag: str) -> list[int]:
    pids = []
    for pid in processes.tagged(par.RUN_TAG, tag):
        try:
            if b"ipykernel" in Path(f"/proc/{pid}/cmdline").read_bytes():
                pids.append(pid)
        except OSError:
            pass
    return pids


@pytest.fixture(scope="module")
def loop_course(runs, tmp_path_factory):
    """A copy of the reduced course whose students' first answer loops forever."""
    root = _copy(runs.base.root, tmp_path_factory.mktemp("ctrlc") / "course")
    shutil.rmtree(root / "submitted")
    released = root / "release" / ASSIGNMENT

    def loop(name, nb):
        i = _first_solution(nb)
        nb.cells[i].source = "import time\nwhile True:\n    time.sleep(0.05)\n" + nb.cells[i].source

    for student in ("loop1", "loop2", "loop3"):
        _submit(root, student, released, runs.base.names[:1], loop)
    return root


@pytest.mark.pipeline
@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_stops_everything(loop_course, tmp_path, workers):
    """Ctrl-C in a terminal (SIGINT to the whole foreground process group)."""
    root = _copy(loop_course, tmp_path / "course")
    tag, mark = f"ctrlc-{uuid.uuid4().hex}", uuid.uuid4().hex
    env = {**os.environ, "PARALLEL_TEST_MARK": mark}
    proc = subprocess.Popen([sys.executable, "-c", CTRL_C_SCRIPT, str(root), str(workers), tag],
                            env=env, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while len(_kernels(tag)) < workers and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(_kernels(tag)) == workers, f"kernels did not start: {proc.poll()}"
        time.sleep(1.0)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
        processes.kill_tagged("PARALLEL_TEST_MARK", mark)
        processes.kill_tagged(par.RUN_TAG, tag)
    assert "INTERRUPTED with 0 outcomes" in out, (out, err[-2000:])
    assert "KeyboardInterrupt" in err and "FINISHED" not in out
    time.sleep(0.5)
    assert processes.tagged(par.RUN_TAG, tag) == [], "nbgrader or kernels survived Ctrl-C"
    assert processes.tagged("PARALLEL_TEST_MARK", mark) == [], "pool workers survived Ctrl-C"


# ================================================================== refused replay
@pytest.mark.pipeline
@pytest.mark.slow
def test_refused_replay_regrades_the_student_serially(runs, tmp_path):
    """If the master submission is not what the worker executed, nbgrader grades it itself.

    The worker is given the model solution while the course holds the blank
    release for the same student (a resubmission during grading): the replay
    must refuse, and the recorded grades must be the blank ones, exactly as a
    serial run records them.
    """
    import concurrent.futures as cf

    root = _copy(runs.base.root, tmp_path / "course")
    names = runs.base.names
    run_id = f"test-refused-{uuid.uuid4().hex}"
    writer = wr._Writer(root, ASSIGNMENT, [], run_id, tmp_path)
    try:
        info = writer.start()
        files = tasks._course_files(root, ASSIGNMENT)
        files["gradebook.db"] = tasks._snapshot_gradebook(root / "gradebook.db")
        # what the worker sees: blank's folder holding the model solutions
        for name in names:
            files[f"submitted/blank/{ASSIGNMENT}/{name}"] = (root / "source" / ASSIGNMENT / name).read_bytes()
        task = {"run_id": run_id, "student": "blank", "assignment": ASSIGNMENT, "files": files,
                "preprocessors": info["worker_preprocessors"], "timeout": STUDENT_TIMEOUT,
                "cancel": tasks._CancelFile(str(tmp_path / "never")), "nbgrader_args": []}
        future = cf.Future()
        future.set_result(tasks._grade_task(task))
        assert future.result()["returncode"] == 0
        outcome = par._record(root, "blank", ASSIGNMENT, future, writer, root / "gradebook.db",
                              tmp_path, STUDENT_TIMEOUT, run_id, [])
    finally:
        writer.close()
    assert outcome.detail["regraded_serially"], outcome.log_tail
    assert outcome.ok, outcome.log_tail
    assert "ReplayMismatch" in outcome.log
    mine = par.gradebook_rows(root / "gradebook.db", ASSIGNMENT, ["blank"])
    serial = par.gradebook_rows(runs.roots["serial"] / "gradebook.db", ASSIGNMENT, ["blank"])
    assert mine == serial
    assert processes.tagged(par.RUN_TAG, run_id) == []
