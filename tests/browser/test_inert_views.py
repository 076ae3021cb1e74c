"""The hostile views in Chromium: Formgrader, feedback and the class report render student work inert.

``make grade`` (:func:`coursekit.pipeline.phases.grade`, 2 workers) grades the five hostile viewers of
:data:`coursekit.classes.sample.SAMPLE_CLASS` (HTML, JavaScript, SVG and Markdown outputs, raw HTML in a
written answer; right answers in notebook 04, the other notebooks left out) in a throw-away course;
they must score as declared. Then the course's JupyterLab server with Formgrader (:class:`labdriver.LabServer`,
with the course's server configuration) runs on loopback, and a beacon listens on
:data:`coursekit.classes.attacks.BEACON`. Each payload tries to PUT ``pwned-<kind>.txt`` through
``/api/contents`` with the page's XSRF token and to reach the beacon by image, fetch and CSS.

* **Positive control**: each payload, as raw HTML in a page served from the Jupyter server's own origin
  (no CSP, the instructor's cookies), does write its file and does reach the beacon: the checks below
  can fail.
* **Formgrader's manual-grading page** of each hostile notebook, as the instructor: no file written, no
  beacon hit, the grading form not overlaid, and the student's text, the PNG figure and the written
  answer's words are shown. The same page's HTML is loaded again from the server's origin *without*
  the Content-Security-Policy, so the sanitized notebook is shown to be inert by itself.
* **Feedback** pages and the **class report**, likewise from the server's origin without CSP.

Screenshots: ``artifacts/browser/inert_*.png``.
"""

from __future__ import annotations

import dataclasses
import http.server
import re
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

import labdriver as ld
from coursekit.pipeline import phases as pl
from coursekit import release as rel
from coursekit import course as ck
from coursekit.classes import attacks
from coursekit.classes import sample as sc

pytestmark = [pytest.mark.browser, pytest.mark.pipeline, pytest.mark.slow, pytest.mark.timeout(1800)]

NOTEBOOKS = rel.notebook_names(ck.SOURCE_DIR)
VIEWERS = [s for s in sc.SAMPLE_CLASS if {e.action for e in s.edits} & sc.VIEW_ACTIONS]
#: student -> the payload kind its view attacks carry (attacks.view_payload)
KINDS = {"sample-html-output": ["html"], "sample-js-output": ["javascript"],
         "sample-svg-output": ["svg", "svg-script"], "sample-markdown-output": ["markdown"],
         "sample-raw-html-answer": ["answer", "answer-link"]}
#: seconds a page is left to run its payloads before the checks
SETTLE = 3.0
#: Chromium flag: no Local Network Access checks (see the ``views`` fixture)
LNA_OFF = "--disable-features=LocalNetworkAccessChecks"


class Beacon:
    """An HTTP listener on :data:`attacks.BEACON` that records every path asked for."""

    def __init__(self):
        host, port = attacks.BEACON.split(":")
        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server API)
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "text/css" if self.path.endswith(("css", "import")) else "image/gif")
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((host, int(port)), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def of(self, kinds) -> list[str]:
        return [h for h in self.hits if h.split("/")[1] in kinds]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _only_their_notebook(student: sc.SampleStudent) -> sc.SampleStudent:
    omit = tuple(sc.Edit("omit_notebook", i) for i in range(len(NOTEBOOKS)) if i != student.only % len(NOTEBOOKS))
    return dataclasses.replace(student, edits=student.edits + omit)


@pytest.fixture(scope="module")
def graded(tmp_path_factory, browser_requirements):
    root = rel.make_course(tmp_path_factory.mktemp("inert") / "course")
    lines: list[str] = []
    run = pl.grade(root, workers=2, sample_class=[_only_their_notebook(s) for s in VIEWERS], out=lines.append)
    return SimpleNamespace(root=root, run=run, out="\n".join(lines))


@pytest.fixture(scope="module")
def views(graded, chromium, tmp_path_factory):
    """The course's Lab server over the graded course, a beacon, and a page logged in as the instructor."""
    beacon = Beacon()
    server = ld.LabServer(graded.root, tmp_path_factory.mktemp("inert-state"))
    context = browser = None
    try:
        server.start()
        # Chromium's Local Network Access treats a page that Playwright fulfils (the re-loads "at the
        # server's origin without CSP" below) as public, and refuses its requests to the loopback beacon
        # ("Permission was denied for this request to access the `loopback` address space"): the checks
        # against the beacon could then never fail. A browser of this module's own lets them through,
        # as they would from a page the server really sent; the positive control proves the hits arrive.
        browser = chromium.browser_type.launch(executable_path=ld.chromium_path(), headless=True,
                                               args=ld.CHROMIUM_ARGS + [LNA_OFF])
        context = ld.new_context(browser)
        page = context.new_page()
        page.goto(server.url("formgrader"))  # logs in with the token; sets the _xsrf cookie
        page.wait_for_load_state("networkidle")
        yield SimpleNamespace(server=server, beacon=beacon, page=page, context=context, root=graded.root)
    finally:
        if context is not None:
            context.close()
        if browser is not None:
            browser.close()
        server.stop()
        beacon.close()


def _pwned(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("pwned-*.txt"))


def _at_origin(v, name: str, html: str) -> None:
    """Show ``html`` at ``http://127.0.0.1:<port>/inert-check/<name>``: the server's origin, no CSP."""
    url = f"{v.server.base_url}inert-check/{name}"
    v.page.route(url, lambda route: route.fulfill(status=200, content_type="text/html", body=html))
    v.page.goto(url)
    v.page.wait_for_load_state("load")
    v.page.wait_for_timeout(SETTLE * 1000)
    v.page.unroute(url)


def _shot(page, name: str) -> Path:
    ld.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ld.ARTIFACTS / f"inert_{name}.png"
    page.screenshot(path=str(path), full_page=False)
    ld.RECORD.artifact(f"inert views: {name}", path)
    return path


def _legit_answer_words() -> str:
    source = nbformat.read(ck.SOURCE_DIR / NOTEBOOKS[VIEWERS[0].only], as_version=4)
    cell = next(c for c in source.cells if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("solution"))
    text = re.sub(r"<!--.*?-->", "", cell.source, flags=re.S)
    words = re.findall(r"[A-Za-z]{4,}", text)
    return " ".join(words[:1])


def _submission_ids(root: Path) -> dict[str, str]:
    from nbgrader.api import Gradebook
    nb_id = NOTEBOOKS[VIEWERS[0].only].removesuffix(".ipynb")
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return {s.id: gb.find_submission_notebook(nb_id, ck.ASSIGNMENT_ID, s.id).id for s in VIEWERS}


def test_make_grade_scores_the_hostile_viewers_as_declared(graded):
    assert graded.run.mismatches == [], graded.out[-3000:]
    assert not graded.run.problems, graded.run.problems
    nb_id = NOTEBOOKS[VIEWERS[0].only].removesuffix(".ipynb")
    for s in VIEWERS:
        r = graded.run.results[s.id][nb_id]
        assert r.score == r.max_score > 0, (s.id, r.score, r.max_score)


def test_positive_control_each_payload_fires_when_rendered_raw(views):
    """Raw payload HTML at the server's origin writes its file through /api/contents and hits the beacon."""
    kinds = ["control-" + k for k in ("html", "svg")]
    page = ("<html><body><p>control</p>"
            f'<img src="x" onerror="{attacks.view_payload(kinds[0])}">'
            f'<svg xmlns="http://www.w3.org/2000/svg" onload="{attacks.view_payload(kinds[1])}"></svg>'
            f'<div style="background:url(http://{attacks.BEACON}/control-css/css)">x</div></body></html>')
    _at_origin(views, "control.html", page)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(_pwned(views.root)) < 2:
        views.page.wait_for_timeout(250)
    _shot(views.page, "positive_control")
    assert _pwned(views.root) == [attacks.PWNED_FILE.format(kind=k) for k in kinds]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not {"control-html", "control-svg", "control-css"} <= {
            h.split("/")[1] for h in views.beacon.hits}:
        views.page.wait_for_timeout(250)
    print("beacon hits of the positive control:", views.beacon.hits)
    reached = {h.split("/")[1] for h in views.beacon.hits}
    assert {"control-html", "control-svg", "control-css"} <= reached, views.beacon.hits
    for path in views.root.rglob("pwned-*.txt"):
        path.unlink()


@pytest.mark.parametrize("student", [s.id for s in VIEWERS])
def test_formgrader_shows_the_hostile_notebook_inert(views, student):
    sid = _submission_ids(views.root)[student]
    page = views.page
    page.goto(views.server.url(f"formgrader/submissions/{sid}/?index=0"))
    page.wait_for_load_state("load")
    page.wait_for_selector("#notebook-container .cell", timeout=60000)
    page.wait_for_timeout(SETTLE * 1000)
    _shot(page, f"formgrader_{student}")
    body = page.inner_text("#notebook-container")
    html = page.content()
    csp_page = html
    assert _pwned(views.root) == [], "a payload wrote a file through the server"
    assert views.beacon.of(KINDS[student]) == [], f"a payload reached the beacon: {views.beacon.hits}"
    # the grading form is not overlaid: the first score box is the topmost element at its centre
    on_top = page.evaluate("""() => { const box = document.querySelector('input.score');
        if (!box) return 'no score box'; box.scrollIntoView({block: 'center'});
        const r = box.getBoundingClientRect(); const el = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
        return el === box ? 'ok' : (el ? el.outerHTML.slice(0, 120) : 'nothing'); }""")
    assert on_top == "ok", on_top
    fixed = page.evaluate("""() => [...document.querySelectorAll('#notebook-container *')]
        .filter(e => getComputedStyle(e).position === 'fixed').length""")
    assert fixed == 0
    # what a grader needs is still there
    assert page.locator('#notebook-container img[src^="data:image/png"]').count() >= 1, "no PNG figure"
    if student == "sample-raw-html-answer":
        assert _legit_answer_words() in body and "my derivation" in body
    else:
        assert "steady state computed" in body
    # the same page without the Content-Security-Policy: the sanitized notebook alone is inert
    _at_origin(views, f"formgrader-{student}.html", csp_page)
    assert _pwned(views.root) == []
    assert views.beacon.of(KINDS[student]) == [], f"without the CSP a payload reached the beacon: {views.beacon.hits}"


@pytest.mark.parametrize("student", [s.id for s in VIEWERS])
def test_feedback_page_is_inert(views, student):
    name = NOTEBOOKS[VIEWERS[0].only].replace(".ipynb", ".html")
    path = views.root / "feedback" / student / ck.ASSIGNMENT_ID / name
    _at_origin(views, f"feedback-{student}.html", path.read_text())
    _shot(views.page, f"feedback_{student}")
    assert _pwned(views.root) == []
    assert views.beacon.of(KINDS[student]) == [], views.beacon.hits
    body = views.page.inner_text("body")
    assert ("my derivation" in body) if student == "sample-raw-html-answer" else ("steady state computed" in body)
    assert views.page.locator('img[src^="data:image/png"]').count() >= 1


def test_class_report_is_inert(views):
    html = (views.root / "reports" / f"{ck.ASSIGNMENT_ID}.html").read_text()
    _at_origin(views, "report.html", html)
    _shot(views.page, "class_report")
    assert _pwned(views.root) == []
    assert [h for h in views.beacon.hits if not h.startswith("/control")] == []
    assert "sample-html-output" in views.page.inner_text("body")
