"""The course for a whole class: a real JupyterHub with nbgrader's exchange, from release to returned feedback.

The hub of ``deploy/jupyterhub`` (``make hub``) runs under a private root with
real Linux users (``syn-instructor``, ``syn-student1``, ``syn-student2``),
student servers from the student environment and the instructor's server, with
Formgrader, from the instructor environment. Headless Chromium logs in through
the hub's login form and clicks what people click:

1. the instructor generates and releases ``synapses`` in Formgrader;
2. both students fetch it from *Nbgrader > Assignment List*, and submit it blank;
3. the due date passes (set with ``nbgrader db assignment add --duedate``);
4. student 1 completes ``04_saturation.ipynb`` (the model answers pasted in),
   presses *Validate* and submits again: late, and the second submission;
5. the instructor collects, autogrades both students (the sandboxed trusted
   grading, as the instructor's Linux user), grades a written answer by hand,
   generates and releases feedback;
6. both students fetch their feedback, which shows their scores and the
   one-sentence messages and no hidden test.

The gradebook must then hold student 1's *second* submission (the completed
notebook's points), with the course's late penalty (one point per started hour)
on it and none on student 2's on-time blank submission; each student's files
are readable by that student and the instructor only, and the answers (course
folder, instructor environment) by neither student.

Faults, on the same hub afterwards: the hub restarted in the middle of the
session (servers, kernels, gradebook, exchange and feedback survive, the
browser session too); a student's server stopped while a cell runs (no process
of that student is left, the files are intact, the server starts again).

Screenshots of every step go to ``artifacts/hub/``. Needs root (it creates
Linux users) and Landlock (trusted grading); elsewhere the tests skip with that
reason.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
import time
from pathlib import Path

import nbformat
import pytest

import hubdriver as hd
import labdriver as ld

pytestmark = [pytest.mark.browser, pytest.mark.hub, pytest.mark.slow]

NOTEBOOK = "04_saturation.ipynb"
WRITTEN = "a_answer"          # the written answer graded by hand (2 points)
MANUAL_POINTS = 2.0
NOTEBOOKS = sorted(p.name for p in (hd.REPO / "release" / hd.ASSIGNMENT).glob("*.ipynb"))
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", re.S)

#: What the tests found, for the faults tests and the end-of-run summary.
FOUND: dict = {}


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def hub(browser_requirements):
    reason = hd.cannot_run()
    if reason:
        pytest.skip(reason)
    reason = hd.missing_tools()
    if reason:  # installable: CI must have it (.ci/run installs it)
        if hd.in_ci():
            pytest.fail(f"the hub tests cannot run in CI: {reason}", pytrace=False)
        pytest.skip(reason)
    if hd.ARTIFACTS.exists():
        shutil.rmtree(hd.ARTIFACTS)
    hd.ARTIFACTS.mkdir(parents=True)
    start = time.monotonic()
    test_hub = hd.TestHub()
    try:
        test_hub.start()
        ld.RECORD.timings["hub: make hub (users, environments, hub up)"] = time.monotonic() - start
        yield test_hub
    finally:
        test_hub.stop()
        # nothing of it is left: users, processes, folders
        for user in [test_hub.instructor, *test_hub.students]:
            assert not hd.hubctl.user_exists(user), f"hubctl down left the user {user}"
        assert not test_hub.hub.root.exists(), f"hubctl down left {test_hub.hub.root}"


@pytest.fixture(scope="module")
def shots(hub):
    return hd.Shots()


def _source(name: str):
    return nbformat.read(hd.REPO / "source" / hd.ASSIGNMENT / name, as_version=4)


def completed(released_path: Path):
    """The student's fetched notebook with the model answers pasted into every answer cell."""
    from coursekit.classes.edits import _fill_answers

    nb = nbformat.read(released_path, as_version=4)
    _fill_answers(nb, _source(NOTEBOOK), "solution", [])
    return nb


def hidden_lines() -> set[str]:
    """Distinctive lines of the hidden tests that the release does not show anyway."""
    released = "\n".join(p.read_text() for p in (hd.REPO / "release" / hd.ASSIGNMENT).glob("*.ipynb"))
    out = set()
    for name in NOTEBOOKS:
        for cell in _source(name).cells:
            for region in HIDDEN.findall(cell.source):
                for line in region.splitlines():
                    line = line.strip()
                    if len(line) >= 25 and json.dumps(line)[1:-1] not in released:
                        out.add(line)
    return out


def page_text(path: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


def tree_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(folder)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


# ---------------------------------------------------------------- the lifecycle
@pytest.mark.timeout(1800)  # the first run builds both environments (about 2 minutes) in the fixture
def test_release_fetch_submit_grade_feedback(hub, chromium, shots):
    t0 = time.monotonic()
    course = hub.hub.course
    exchange = hub.hub.exchange / hd.hubctl.COURSE_ID
    s1, s2 = hub.students

    # 1. the instructor generates and releases the assignment in Formgrader
    _, teacher = hd.login(chromium, hub, hub.instructor)
    shots.take(teacher, "instructor_lab")
    assert hub.server(hub.instructor, "GET", "formgrader", allow_redirects=False).status_code in (200, 302), \
        "the instructor's server has no Formgrader"
    hd.formgrader(teacher, hub)
    shots.take(teacher, "formgrader_draft")
    text = hd.formgrader_action(teacher, "td.assign")
    shots.take(teacher, "formgrader_generated")
    assert "Success" in text, f"Formgrader could not generate the assignment:\n{text[:3000]}"
    hd.close_modal(teacher)
    text = hd.formgrader_action(teacher, "td.release")
    shots.take(teacher, "formgrader_released")
    assert "Success" in text, f"Formgrader could not release the assignment:\n{text[:3000]}"
    hd.close_modal(teacher)
    released = sorted(p.name for p in (exchange / "outbound" / hd.ASSIGNMENT).glob("*.ipynb"))
    assert released == NOTEBOOKS, f"the exchange holds {released}, not the six release notebooks"
    ld.RECORD.timings["hub: instructor logs in, generates, releases"] = time.monotonic() - t0

    # 2. both students fetch it from the Assignments list and submit it blank (on time)
    pages = {}
    for student in (s1, s2):
        _, page = hd.login(chromium, hub, student)
        pages[student] = page
        # students get the Assignment List and no Formgrader (neither the menu entry nor the pages)
        page.click("li.lm-MenuBar-item:has-text('Nbgrader')")
        items = page.locator(".lm-Menu .lm-Menu-itemLabel").all_inner_texts()
        page.keyboard.press("Escape")
        assert "Assignment List" in items and not any("Formgrader" in i for i in items), \
            f"{student}'s Nbgrader menu: {items}"
        assert hub.server(student, "GET", "formgrader").status_code == 404, f"{student} can open Formgrader"
        hd.open_assignment_list(page)
        shots.take(page, f"{student}_assignments_released")
        hd.click_in_list(page, "released_assignments_list", "Fetch")
        page.locator("#fetched_assignments_list").get_by_text(hd.ASSIGNMENT).first.wait_for()
        shots.take(page, f"{student}_fetched")
        fetched = hub.hub.home(student) / hd.ASSIGNMENT
        assert sorted(p.name for p in fetched.glob("*.ipynb")) == NOTEBOOKS
        assert fetched.stat().st_uid == hd.hubctl.pwd.getpwnam(student).pw_uid, "fetched files not the student's"
        # students cannot read the answers; their environment has none
        student_site = next((hub.hub.envs / "student" / "lib").glob("python3*/site-packages"))
        assert (student_site / "helpers").is_dir() and not (student_site / "helpers" / "references").exists()
        assert not (student_site / "coursekit").exists()
        assert not hub.can_read(student, course / "source" / hd.ASSIGNMENT / NOTEBOOK), \
            f"{student} can read the instructor's source notebooks"
        assert hub.as_user(student, ["ls", hub.hub.envs / "instructor"]).returncode != 0, \
            f"{student} can read the instructor environment (references)"
        hd.click_in_list(page, "fetched_assignments_list", "Submit")
        page.locator("#submitted_assignments_list").get_by_text(hd.ASSIGNMENT).first.wait_for()
        shots.take(page, f"{student}_submitted_blank")
    ld.RECORD.timings["hub: two students log in, fetch, submit"] = time.monotonic() - t0

    # 3. the deadline passes: the due date is now; the next submission is late
    due = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    hub.nbgrader("db", "assignment", "add", hd.ASSIGNMENT, f"--duedate={due} UTC")
    time.sleep(2)

    # 4. student 1 pastes the model answers into 04, presses Validate, submits again
    page = pages[s1]
    target = hub.hub.home(s1) / hd.ASSIGNMENT / NOTEBOOK
    done = completed(target)
    response = hub.server(s1, "PUT", f"api/contents/{hd.ASSIGNMENT}/{NOTEBOOK}",
                          json={"type": "notebook", "format": "json", "content": done})
    assert response.status_code == 200, response.text
    page.goto(f"{hub.url}/user/{s1}/lab/tree/{hd.ASSIGNMENT}/{NOTEBOOK}")
    hd.wait_lab(page)
    button = page.locator(".jp-NotebookPanel-toolbar .validate-button")
    button.wait_for()
    button.click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=300_000)
    page.wait_for_timeout(500)
    validation = dialog.inner_text()
    shots.take(page, f"{s1}_validate")
    assert "Success! Your notebook passes all the tests." in validation, \
        f"Validate on the completed {NOTEBOOK} in {s1}'s server says:\n{validation[:2000]}"
    dialog.locator(".jp-Dialog-footer button").last.click()
    dialog.wait_for(state="detached")
    hd.open_assignment_list(page)
    hd.click_in_list(page, "fetched_assignments_list", "Submit")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list((exchange / "inbound").glob(f"{s1}+*"))) < 2:
        page.wait_for_timeout(500)
    shots.take(page, f"{s1}_submitted_again_late")
    inbound = sorted(p.name for p in (exchange / "inbound").iterdir())
    assert sum(name.startswith(f"{s1}+") for name in inbound) == 2 and \
        sum(name.startswith(f"{s2}+") for name in inbound) == 1, f"inbound holds {inbound}"
    ld.RECORD.timings["hub: validate and second (late) submission"] = time.monotonic() - t0

    # each student's files: that student and the instructor only
    submission1 = max((exchange / "inbound").glob(f"{s1}+*"))
    for path in (target, submission1 / NOTEBOOK, submission1 / "timestamp.txt"):
        assert hub.can_read(s1, path), f"{s1} cannot read their own {path}"
        assert hub.can_read(hub.instructor, path), f"the instructor cannot read {path}"
        assert not hub.can_read(s2, path), f"{s2} can read {s1}'s {path}"
    assert hub.as_user(s2, ["ls", exchange / "inbound"]).returncode != 0, "students can list the inbound folder"

    # 5. the instructor collects and autogrades, grades a written answer, releases feedback
    hd.formgrader(teacher, hub)
    text = hd.formgrader_action(teacher, "td.collect")
    shots.take(teacher, "formgrader_collected")
    assert "Success" in text, text[:3000]
    hd.close_modal(teacher)
    hd.formgrader(teacher, hub, f"manage_submissions/{hd.ASSIGNMENT}")
    for student in (s1, s2):
        row = f"#main-table tr:has(td.student-id:text-is('{student}'))"
        text = hd.formgrader_action(teacher, f"{row} td.autograde", timeout=900)
        assert "Success" in text, f"autograding {student} failed in Formgrader:\n{text[:4000]}"
        hd.close_modal(teacher)
    teacher.wait_for_timeout(1000)
    hd.formgrader(teacher, hub, f"manage_submissions/{hd.ASSIGNMENT}")
    shots.take(teacher, "formgrader_autograded")
    ld.RECORD.timings["hub: collect and autograde two students"] = time.monotonic() - t0

    hd.formgrader(teacher, hub, f"gradebook/{hd.ASSIGNMENT}/{NOTEBOOK[:-6]}")
    teacher.locator("#main-table tr", has_text=s1).locator("a").first.click()
    score = teacher.locator(f"input.score#{WRITTEN}")
    score.wait_for()
    teacher.wait_for_load_state("networkidle")  # formgrade.js fills the inputs from the gradebook first
    score.fill(str(int(MANUAL_POINTS)))
    score.press("Tab")                          # "change" saves the grade
    teacher.wait_for_load_state("networkidle")
    teacher.wait_for_timeout(1000)
    teacher.reload()
    teacher.wait_for_load_state("networkidle")
    score = teacher.locator(f"input.score#{WRITTEN}")
    teacher.wait_for_function(f"() => document.getElementById({WRITTEN!r}).value !== ''", timeout=30_000)
    assert float(score.input_value()) == MANUAL_POINTS, "the hand-given grade was not saved"
    score.scroll_into_view_if_needed()
    shots.take(teacher, "formgrader_manual_grade")

    hd.formgrader(teacher, hub)
    text = hd.formgrader_action(teacher, "td.generate-feedback")
    assert "Success" in text, text[:3000]
    hd.close_modal(teacher)
    text = hd.formgrader_action(teacher, "td.release-feedback")
    assert "Success" in text, text[:3000]
    hd.close_modal(teacher)
    shots.take(teacher, "formgrader_feedback_released")

    grades = hub.gradebook()
    FOUND["grades"] = grades
    one, two = grades[s1]["notebooks"][NOTEBOOK[:-6]], grades[s2]["notebooks"][NOTEBOOK[:-6]]
    # the later submission is graded: the completed notebook's points, not the first blank one's
    assert one["score"] >= 6 + MANUAL_POINTS, f"{s1}'s {NOTEBOOK}: {one} (graded the first, blank submission?)"
    assert one["late_penalty"] == 1, f"{s1} submitted late; one point off expected: {one}"
    assert grades[s1]["late_penalty"] == 1, grades[s1]
    assert not grades[s2]["late_penalty"], f"{s2} submitted on time: {grades[s2]}"
    assert grades[s2]["score"] == 0, f"a blank submission scored {grades[s2]['score']}"
    ld.RECORD.timings["hub: manual grade, feedback released"] = time.monotonic() - t0

    # 6. both students fetch their feedback: scores and one-sentence messages, never a hidden test
    hidden = hidden_lines()
    assert hidden, "found no hidden-test line to search for"
    for student in (s1, s2):
        page = pages[student]
        hd.open_assignment_list(page)
        hd.refresh_assignment_list(page)
        hd.click_in_list(page, "submitted_assignments_list", "Fetch Feedback")
        page.wait_for_timeout(1000)
        shots.take(page, f"{student}_feedback_fetched")
        feedback = sorted((hub.hub.home(student) / hd.ASSIGNMENT / "feedback").glob(f"*/{NOTEBOOK[:-6]}.html"))
        assert feedback, f"{student} has no feedback for {NOTEBOOK}"
        html_path = feedback[-1]
        relative = html_path.relative_to(hub.hub.home(student))
        page.goto(f"{hub.url}/user/{student}/files/{relative}")
        page.wait_for_selector("text=Score")
        shots.take(page, f"{student}_feedback_{NOTEBOOK[:-6]}", full_page=False)
        for other in (s for s in hub.students if s != student):
            assert not hub.can_read(other, html_path), f"{other} can read {student}'s feedback"
        for path in sorted((hub.hub.home(student) / hd.ASSIGNMENT / "feedback").glob("*/*.html")):
            text = page_text(path)
            leaked = [line for line in hidden if line in text]
            assert not leaked, f"{student}'s feedback {path.name} shows hidden tests: {leaked[:3]}"
        text = page_text(html_path)
        expected = grades[student]["notebooks"][NOTEBOOK[:-6]]
        m = re.search(r"\(Score: ([\d.]+) / ([\d.]+)\)", text)
        assert m, f"{student}'s feedback shows no score"
        assert float(m.group(2)) == expected["max_score"]
        if student == s1:
            assert float(m.group(1)) >= 6 + MANUAL_POINTS - 1, f"{student}'s feedback score: {m.group(0)}"
        else:
            assert float(m.group(1)) == 0
            # the blank notebook's failures are one sentence each: the stub's instruction
            errors = re.findall(r"NotImplementedError: [^\n]+", text)
            assert errors, f"{student}'s feedback shows no one-sentence message"
    FOUND["feedback"] = {s: sorted(str(p) for p in (hub.hub.home(s) / hd.ASSIGNMENT / "feedback").rglob("*.html"))
                         for s in hub.students}
    FOUND["pages"] = pages
    ld.RECORD.timings["hub: lifecycle, release to feedback"] = time.monotonic() - t0


# ---------------------------------------------------------------- faults
def _server_pids(user: str) -> set[int]:
    import psutil

    uid = hd.hubctl.pwd.getpwnam(user).pw_uid
    out = set()
    for proc in psutil.process_iter(["pid", "uids", "cmdline"]):
        try:
            if proc.info["uids"].real == uid and any("jupyterhub-singleuser" in a for a in proc.info["cmdline"] or []):
                out.add(proc.info["pid"])
        except (psutil.Error, TypeError):
            pass
    return out


def test_hub_restart_loses_nothing(hub, shots):
    if "pages" not in FOUND:
        pytest.skip("the lifecycle test did not get to the end")
    s1 = hub.students[0]
    before = {
        "gradebook": hub.gradebook(),
        "exchange": tree_digest(hub.hub.exchange),
        "course": tree_digest(hub.hub.course / "feedback"),
        "servers": {u: _server_pids(u) for u in [hub.instructor, *hub.students]},
    }
    assert all(before["servers"].values()), f"not every server runs: {before['servers']}"
    hub.restart()
    after = {
        "gradebook": hub.gradebook(),
        "exchange": tree_digest(hub.hub.exchange),
        "course": tree_digest(hub.hub.course / "feedback"),
        "servers": {u: _server_pids(u) for u in [hub.instructor, *hub.students]},
    }
    assert after == before, "the hub restart changed the gradebook, the exchange, feedback or the servers"
    # the browser session survives (same cookie secret): the student's Lab reloads without logging in
    page = FOUND["pages"][s1]
    page.goto(f"{hub.url}/user/{s1}/lab")
    hd.wait_lab(page)
    assert f"/user/{s1}/lab" in page.url
    hd.open_assignment_list(page)
    shots.take(page, f"{s1}_after_hub_restart")
    for student in hub.students:
        model = hub.user_model(student)
        assert model["servers"][""]["ready"], f"{student}'s server is not ready after the restart"
    files = FOUND["feedback"]
    assert all(Path(p).exists() for paths in files.values() for p in paths)


def test_server_stopped_while_a_cell_runs(hub, shots):
    if "pages" not in FOUND:
        pytest.skip("the lifecycle test did not get to the end")
    s2 = hub.students[1]
    page = FOUND["pages"][s2]
    home = hub.hub.home(s2)
    work = home / hd.ASSIGNMENT / NOTEBOOK
    work_digest = hashlib.sha256(work.read_bytes()).hexdigest()
    scratch = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import time\ntime.sleep(600)")])
    scratch.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    response = hub.server(s2, "PUT", "api/contents/long_cell.ipynb",
                          json={"type": "notebook", "format": "json", "content": scratch})
    assert response.status_code in (200, 201), response.text
    page.goto(f"{hub.url}/user/{s2}/lab/tree/long_cell.ipynb")
    hd.wait_lab(page)
    try:
        page.locator(".jp-NotebookPanel:visible .jp-Cell").first.wait_for()
        deadline = time.monotonic() + 60  # the notebook's kernel has started and is idle
        while time.monotonic() < deadline:
            sessions = hub.server(s2, "GET", "api/sessions").json()
            if any(x["path"] == "long_cell.ipynb" and x["kernel"]["execution_state"] == "idle" for x in sessions):
                break
            page.wait_for_timeout(500)
        page.wait_for_timeout(1000)
        busy = False
        for _ in range(3):  # a student presses Shift+Enter again when nothing happens
            dialog = page.locator(".jp-Dialog")
            if dialog.count():  # e.g. a kernel chooser: accept the default
                dialog.locator(".jp-Dialog-footer button.jp-mod-accept").first.click()
            page.locator(".jp-NotebookPanel:visible .jp-Cell .jp-InputArea-editor").first.click()
            page.keyboard.press("Shift+Enter")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not busy:
                kernels = hub.server(s2, "GET", "api/kernels").json()
                busy = any(k["execution_state"] == "busy" for k in kernels)
                page.wait_for_timeout(500)
            if busy:
                break
        assert busy, f"the cell does not run: kernels {kernels}"
        running = {k["id"] for k in kernels}
    except Exception:
        shots.take(page, f"{s2}_cell_not_running")
        raise
    shots.take(page, f"{s2}_cell_running")
    hub.stop_server(s2)
    page.wait_for_timeout(2000)
    shots.take(page, f"{s2}_server_stopped")
    import psutil

    uid = hd.hubctl.pwd.getpwnam(s2).pw_uid
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and hd.hubctl.processes_of({uid}):
        time.sleep(0.5)
    left = [(p, " ".join(psutil.Process(p).cmdline())) for p in hd.hubctl.processes_of({uid})]
    assert not left, f"processes of {s2} outlive the stopped server (the running kernel?): {left}"
    assert hashlib.sha256(work.read_bytes()).hexdigest() == work_digest, "the student's work changed"
    assert (home / "long_cell.ipynb").exists()
    seconds = hub.start_server(s2)
    page.goto(f"{hub.url}/user/{s2}/lab/tree/long_cell.ipynb")
    hd.wait_lab(page)
    shots.take(page, f"{s2}_server_restarted")
    kernels = hub.server(s2, "GET", "api/kernels").json()
    assert not running & {k["id"] for k in kernels}, "the stopped server's kernel is back (or never died)"
    assert hashlib.sha256(work.read_bytes()).hexdigest() == work_digest
    ld.RECORD.timings[f"hub: {s2}'s server back after being stopped mid-cell"] = seconds
