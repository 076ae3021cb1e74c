"""The class report (coursekit.insight.class_report) on a small class built by hand.

The gradebook is made with nbgrader's API and the autograded notebooks are
written directly (no nbgrader autograde), so every number below is counted by
hand from this table:

===========  ================  ==============  =================  ===========  =======
student      01_a t1 (2 pts)   01_a t2 (1)     01_a w1 (written)  02_b t3 (3)  total
===========  ================  ==============  =================  ===========  =======
alice        2                 1               2 (graded)         3            8
bob          0 rate-khz        1               pending            0 alpha-...  1
carol        0 (old sentence)  0 (timed out)   pending            3            3
dave         (no submission: missing)
===========  ================  ==============  =================  ===========  =======

``03_new`` is in source/ but not in the gradebook (added after grading).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest

from coursekit.insight import class_report as cr
from coursekit.answers import misconceptions as mc
from coursekit.insight import similarity as sim

ROOT = Path(__file__).resolve().parents[1]
# nbgrader's own add_submission trips SQLAlchemy's autoflush warning; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
A = "synapses"
COURSE = "test-course"


def _cell(gid: str, outputs=(), start: str | None = None, end: str | None = None, markdown: bool = False):
    meta = {"nbgrader": {"grade_id": gid, "grade": True, "solution": markdown, "locked": not markdown, "points": 1}}
    if start:
        meta["execution"] = {"iopub.execute_input": start, "shell.execute_reply": end}
    if markdown:
        return nbformat.v4.new_markdown_cell("answer", metadata=meta)
    cell = nbformat.v4.new_code_cell("pass", metadata=meta)
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    return cell


def _err(ename: str, evalue: str) -> dict:
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": [f"{ename}: {evalue}"]}


def _t(seconds: float) -> str:
    return f"2026-01-01T10:00:{seconds:06.3f}Z"


def _write_nb(root: Path, student: str, name: str, cells) -> None:
    path = root / "autograded" / student / A / f"{name}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook(cells=list(cells))
    nbformat.write(nb, path)


def make_class(root: Path, *, submissions: bool = True) -> str:
    """The class of the module docstring under ``root``; returns the gradebook URL."""
    from nbgrader.api import Gradebook

    (root / "source" / A).mkdir(parents=True)
    for name in ("01_a", "02_b", "03_new"):
        nbformat.write(nbformat.v4.new_notebook(), root / "source" / A / f"{name}.ipynb")
    url = f"sqlite:///{root / 'gradebook.db'}"
    with Gradebook(url, COURSE) as gb:
        gb.add_assignment(A)
        gb.add_notebook("01_a", A)
        gb.add_notebook("02_b", A)
        gb.add_grade_cell("t1", "01_a", A, max_score=2, cell_type="code")
        gb.add_grade_cell("t2", "01_a", A, max_score=1, cell_type="code")
        gb.add_grade_cell("w1", "01_a", A, max_score=2, cell_type="markdown")
        gb.add_solution_cell("w1", "01_a", A)
        gb.add_grade_cell("t3", "02_b", A, max_score=3, cell_type="code")
        for s in ("alice", "bob", "carol", "dave"):
            gb.add_student(s)
        if not submissions:
            return url
        table = {  # student -> grade id -> (auto score, manual score, needs manual grade)
            "alice": {"t1": (2, None, False), "t2": (1, None, False), "w1": (None, 2, False), "t3": (3, None, False)},
            "bob": {"t1": (0, None, False), "t2": (1, None, False), "w1": (None, None, True), "t3": (0, None, False)},
            "carol": {"t1": (0, None, False), "t2": (0, None, False), "w1": (None, None, True), "t3": (3, None, False)},
        }
        for s, grades in table.items():
            gb.add_submission(A, s)
            for gid, (auto, manual, pending) in grades.items():
                nb = "02_b" if gid == "t3" else "01_a"
                g = gb.find_grade(gid, nb, A, s)
                g.auto_score, g.manual_score, g.needs_manual_grade = auto, manual, pending
        gb.db.commit()
    ok = [{"output_type": "stream", "name": "stdout", "text": "passes\n"}]
    _write_nb(root, "alice", "01_a", [_cell("t1", ok, _t(0), _t(1)), _cell("t2", ok, _t(1), _t(4)),
                                      _cell("w1", markdown=True)])
    _write_nb(root, "alice", "02_b", [_cell("t3", ok, _t(0), _t(1))])
    _write_nb(root, "bob", "01_a", [
        _cell("t1", [mc.marker_output("rate-khz"), _err("GradingError", "lif_rate is 0.07 Hz; that is too small")],
              _t(0), _t(1)),
        _cell("t2", ok, _t(1), _t(2)), _cell("w1", markdown=True)])
    _write_nb(root, "bob", "02_b", [
        _cell("t3", [mc.marker_output("alpha-jump-w-not-ew"),
                     _err("GradingError", "alpha_model failed a check: g peaks at 0.368 = w/e")])])
    _write_nb(root, "carol", "01_a", [  # graded before markers existed: the sentence names it
        _cell("t1", [_err("GradingError", "lif_rate failed a check: lif_rate(300 pA) is 0.0721, the rate in kHz "
                                          "(1/ms); return Hz")], _t(0), _t(10)),
        _cell("t2", [_err("CellTimeoutError", "A cell timed out while it was being executed, after 60 seconds.")],
              _t(10), _t(30)),
        _cell("w1", markdown=True)])
    _write_nb(root, "carol", "02_b", [_cell("t3", ok)])
    return url


@pytest.fixture(autouse=True)
def _alembic_on_path(monkeypatch):
    """nbgrader's Gradebook runs ``alembic`` from PATH when it creates a database."""
    monkeypatch.setenv("PATH", os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]))


@pytest.fixture
def course(tmp_path):
    url = make_class(tmp_path)
    return tmp_path, url


#: In bob's and carol's similar code: it must reach the report as text (nothing of it runs or renders).
HOSTILE = "</pre></details><script>document.title='pwned'</script><img src=x onerror=\"document.title='img'\">"


def add_similar_pair(root: Path) -> None:
    """A release with starter code for 01_a, and bob and carol submitting nearly the same code (carol's renamed,
    recommented), with :data:`HOSTILE` in a string and a comment of both; alice writes her own."""
    def nb(body: str):
        meta = {"nbgrader": {"grade_id": "a1", "solution": True, "grade": False, "locked": False}}
        lock = {"nbgrader": {"grade_id": "t1", "solution": False, "grade": True, "locked": True, "points": 2}}
        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import numpy as np", metadata={}),
                                               nbformat.v4.new_code_cell(body, metadata=meta),
                                               nbformat.v4.new_code_cell("assert rate(1) > 0", metadata=lock)])
    starter = 'def rate(I_e):\n    """Rate in Hz."""\n    # TODO: write the rate\n    raise NotImplementedError()\n'
    bob = ('def rate(I_e):\n    """Rate in Hz."""\n    # ' + HOSTILE + '\n    label = "' + HOSTILE.replace('"', "'") + '"\n'
           "    current = np.asarray(I_e, dtype=float)\n    drive = np.maximum(current - 100.0, 0.0) / 200.0\n"
           "    period = 2.0 + 20.0 * np.log1p(1.0 / np.where(drive > 0, drive, np.inf))\n"
           "    return np.where(drive > 0, 1000.0 / period, 0.0)\n")
    carol = bob.replace("current", "i_in").replace("drive", "x").replace("period", "T").replace(
        "    return", "    # my own\n    return")
    alice = ('def rate(I_e):\n    """Rate in Hz."""\n    i = np.atleast_1d(I_e).astype(float)\n'
             "    out = np.zeros_like(i)\n    for k, v in enumerate(i):\n        if v > 100:\n"
             "            out[k] = 1e3 / (2 + 20 * np.log((v - 100 + 200) / (v - 100)))\n"
             "    return out.reshape(np.shape(I_e))\n")
    (root / "release" / A).mkdir(parents=True)
    nbformat.write(nb(starter), root / "release" / A / "01_a.ipynb")
    for student, body in (("alice", alice), ("bob", bob), ("carol", carol)):
        (root / "submitted" / student / A).mkdir(parents=True)
        nbformat.write(nb(body), root / "submitted" / student / A / "01_a.ipynb")


def test_similar_pair_in_the_report_and_csv(course, capsys):
    """bob and carol are listed as similar (01_a and the whole assignment), alice is not; the hostile text is in the
    page only escaped, and the CSV has every pair."""
    import csv

    root, url = course
    add_similar_pair(root)
    d = cr.collect(root, A, db_url=url, course_id=COURSE)
    assert d.similarity.flagged_pairs("01_a") == {frozenset(("bob", "carol"))}
    assert d.similarity.flagged_pairs(sim.ALL) == {frozenset(("bob", "carol"))}
    path = cr.build_report(root, A, db_url=url, course_id=COURSE)
    html = path.read_text()
    assert html.count("data:image/png;base64,") == 4  # + the similarity distribution
    section = html[html.index('<section id="similarity">'):html.index('<section id="students">')]
    assert "similar" in section and "copied" not in section.lower().replace("similar is not copied", "")
    assert "<mark>" in section and "&lt;script&gt;" in section
    assert "<script" not in html and "<img src=x" not in html  # only as &lt;script&gt; and &lt;img ...
    assert "&lt;img src=x onerror=" in section
    out = capsys.readouterr().out
    assert "1 pairs of students with similar code" in out and "bob and carol" in out
    with open(root / "reports" / f"{A}-similarity.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["notebook", "student_a", "student_b", "score"]
    assert {(r[0], r[1], r[2]) for r in rows[1:]} == {(nb, a, b) for nb in ("01_a", sim.ALL)
                                                      for a, b in (("alice", "bob"), ("alice", "carol"), ("bob", "carol"))}


def test_numbers_counted_by_hand(course):
    root, url = course
    d = cr.collect(root, A, db_url=url, course_id=COURSE)
    assert d.notebooks == ["01_a", "02_b", "03_new"]
    assert d.new_notebooks == ["03_new"]
    assert d.students == ["alice", "bob", "carol"] and d.missing == ["dave"]
    assert d.scores == {"alice": {"01_a": 5.0, "02_b": 3.0, "03_new": None},
                        "bob": {"01_a": 1.0, "02_b": 0.0, "03_new": None},
                        "carol": {"01_a": 0.0, "02_b": 3.0, "03_new": None}}
    assert [d.total(s) for s in d.students] == [8.0, 1.0, 3.0]
    assert d.max_scores == {"01_a": 5.0, "02_b": 3.0, "03_new": 0.0}
    assert {(it.grade_id, it.full, it.graded) for it in d.items} == {("t1", 1, 3), ("t2", 2, 3), ("t3", 2, 3)}
    held = {h.id: (h.students, h.items) for h in d.misconceptions}
    assert held == {"rate-khz": (["bob", "carol"], ["t1"]), "alpha-jump-w-not-ew": (["bob"], ["t3"])}
    assert d.misconceptions[0].id == "rate-khz"  # the commonest first
    # a student counts once per misconception; the share is over the 3 students with a submission
    assert [(h.count, round(h.share, 4)) for h in d.misconceptions] == [(2, 0.6667), (1, 0.3333)]
    assert d.ungradable == [("carol", "01_a", "t2", "the cell ran over the time limit: A cell timed out while it "
                                                    "was being executed, after 60 seconds.")]
    assert d.manual_queue == {"01_a / w1": ["bob", "carol"]}
    assert d.runtime_stats("01_a") == {"median": 4.0, "slowest": 30.0, "slowest_student": "carol", "n": 3}
    assert d.runtime_stats("02_b") == {"median": 1.0, "slowest": 1.0, "slowest_student": "alice", "n": 1}
    assert d.runtime_stats("03_new") is None
    assert not d.synthetic


def test_html_report_and_summary(course, capsys):
    root, url = course
    path = cr.build_report(root, A, db_url=url, course_id=COURSE)
    assert path == root / "reports" / f"{A}.html"
    html = path.read_text()
    assert html.count("data:image/png;base64,") == 3  # scores, difficulty, run times
    assert "2 (67%)" in html and "1 (33%)" in html  # each misconception's students and share of the class
    for text in ("rate-khz", "alpha-jump-w-not-ew", "bob, carol", "dave", "missing: no submission",
                 "01_a / w1", "the cell ran over the time limit", "03_new", "30.0 s"):
        assert text in html, text
    assert "<script" not in html and "SYNTHETIC" not in html
    out = capsys.readouterr().out
    assert "3 students graded, 1 missing; total points median 3 of 8 (range 1-8)" in out
    assert "rate-khz (2)" in out and "2 written answers wait" in out and "1 test cells could not" in out


def test_manual_queue_per_grader(course, capsys):
    root, url = course
    (root / "graders.json").write_text('{"01_a": "Ada"}')
    d = cr.collect(root, A, db_url=url, course_id=COURSE)
    assert d.queue_by_grader() == {"Ada": {"01_a / w1": ["bob", "carol"]}}
    assert "2 written answers wait for manual grading (Ada: 2)" in cr.summary_text(d)
    assert "Ada" in cr.render(d)


def test_empty_gradebook_says_nothing_to_show(tmp_path, capsys):
    url = make_class(tmp_path, submissions=False)
    path = cr.build_report(tmp_path, A, db_url=url, course_id=COURSE)
    html = path.read_text()
    assert "Nothing to show" in html and "data:image/png" not in html
    assert "alice, bob, carol, dave" in html  # listed as missing
    assert "nothing to show" in capsys.readouterr().out


def test_no_gradebook_at_all(tmp_path):
    (tmp_path / "source" / A).mkdir(parents=True)
    path = cr.build_report(tmp_path, A, db_url=f"sqlite:///{tmp_path / 'none.db'}", course_id=COURSE, say=None)
    assert "Nothing to show" in path.read_text()
    assert not (tmp_path / "none.db").exists()


def test_synthetic_class_is_marked(tmp_path):
    url = make_class(tmp_path)
    d = cr.collect(tmp_path, A, db_url=url, course_id=COURSE, synthetic=True)
    assert "SYNTHETIC CLASS" in cr.render(d)


def test_runtime_of_a_notebook_without_timing():
    assert cr.notebook_runtime({"cells": [{"metadata": {}}]}) is None


def test_everything_from_a_student_is_escaped():
    """Student ids, sentences, grade ids and reasons come from submissions: autoescape, no |safe."""
    evil = '<img src=x onerror="PWNED()"><script>PWNED()</script>'
    d = cr.ClassData(assignment="synapses", notebooks=["01_x"], students=[evil], missing=[evil + "m"],
                     missing_notebooks=[(evil, "01_x")], scores={evil: {"01_x": 1.0}}, max_scores={"01_x": 2.0},
                     misconceptions=[cr.Holding("exp-plus", "growing exponential", "physics", [evil], ["01_x / a"],
                                                sentence=evil, count=1, share=1.0)],
                     ungradable=[(evil, "01_x", evil, evil)], manual_queue={"01_x / discussion": [evil]},
                     runtimes={"01_x": {evil: 3.0}})
    html = cr.render(d)
    assert "<script>PWNED" not in html and "<img src=x" not in html and 'onerror="' not in html
    assert "&lt;script&gt;PWNED()&lt;/script&gt;" in html
    template = (Path(cr.__file__).parent / "templates" / "report.html.j2").read_text()
    assert "|safe" not in template.replace(" ", "") and "autoescape false" not in template



def _open_in_chromium(sync_api, chromium, path, check, shot):
    """Open the report from file:// in headless Chromium, run ``check(page)``, save the first screen to ``shot``.

    Playwright runs in a thread of its own: its sync API refuses to start where another sync session runs its
    event loop, and the browser suite (tests/browser/conftest.py) keeps one open for the whole pytest session.
    """
    import concurrent.futures

    def look():
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(path.as_uri())
                check(page)
                page.screenshot(path=str(shot))
            finally:
                browser.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(look).result()

@pytest.mark.browser
def test_report_opens_in_chromium(course):
    """The report opens from file:// in headless Chromium; the first screen goes to artifacts/report/."""
    chromium = os.environ.get("SYNAPSES_CHROMIUM", "/usr/bin/chromium")
    if not Path(chromium).is_file():
        pytest.skip(f"no Chromium at {chromium}")
    sync_api = pytest.importorskip("playwright.sync_api")
    root, url = course
    add_similar_pair(root)  # bob and carol similar, HOSTILE in their code
    path = cr.build_report(root, A, db_url=url, course_id=COURSE, say=None)
    shot = ROOT / "artifacts" / "report" / "first-screen-small-class.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    def check(page):
        assert page.title() == "synapses: what the class got wrong"  # HOSTILE's script would set 'pwned'
        assert page.locator("#misconceptions tr").count() == 3
        widths = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
        assert len(widths) == 4 and all(w > 100 for w in widths)  # the PNGs decode, HOSTILE's <img> is not one
        assert page.locator("script").count() == 0
        assert page.locator("#item-quality tr").count() == 5  # header + 4 items
        assert page.locator("#similarity table tr").count() == 2  # header + bob and carol
        page.locator("#similarity details summary").first.click()
        pair = page.locator("#similarity .pair").first
        assert pair.is_visible() and pair.locator("mark").count() > 0
        assert HOSTILE in pair.locator("pre").first.inner_text()  # shown as text, not run
        assert page.title() == "synapses: what the class got wrong"

    _open_in_chromium(sync_api, chromium, path, check, shot)


@pytest.mark.browser
@pytest.mark.slow
def test_report_of_a_synthetic_class_of_60_in_chromium(tmp_path):
    """60 simulated students (coursekit.classes.synthetic.simulate: no grading run): the report builds in seconds,
    opens in Chromium, and its first screen is saved as artifacts/report/first-screen.png."""
    import time

    from coursekit import release as rel
    from coursekit.classes import synthetic as syn

    chromium = os.environ.get("SYNAPSES_CHROMIUM", "/usr/bin/chromium")
    if not Path(chromium).is_file():
        pytest.skip(f"no Chromium at {chromium}")
    sync_api = pytest.importorskip("playwright.sync_api")
    root = rel.make_course(tmp_path / "course")
    url = f"sqlite:///{root / 'gradebook.db'}"
    syn.simulate(root, 60, db_url=url, course_id=COURSE)
    t0 = time.perf_counter()
    path = cr.build_report(root, A, db_url=url, course_id=COURSE, say=None)
    seconds = time.perf_counter() - t0
    assert seconds < 60, seconds
    out = ROOT / "artifacts" / "report"
    out.mkdir(parents=True, exist_ok=True)
    (out / "build-time-60.txt").write_text(f"report for 60 simulated students built in {seconds:.1f} s\n")
    def check(page):
        assert "SYNTHETIC CLASS" in page.locator("header").inner_text()
        assert page.locator("#difficulty img").is_visible() and page.locator("#top").is_visible()

    _open_in_chromium(sync_api, chromium, path, check, out / "first-screen.png")


def test_item_statistics_counted_by_hand(course):
    """Difficulty and discrimination of the class of the module docstring, computed by hand.

    totals: alice 8, bob 1, carol 3. t1 (2 pts): shares 1, 0, 0, rest 6, 1, 3: r = 24/sqrt(684).
    t2 (1): shares 1, 1, 0, rest 7, 0, 3: r = 3/sqrt(1332). t3 (3): shares 1, 0, 1, rest 5, 1, 0: r = 3/sqrt(84).
    w1 (written): only alice is graded (2 of 2), bob's and carol's wait: n = 1, no correlation, no flag.
    """
    import math

    root, url = course
    d = cr.collect(root, A, db_url=url, course_id=COURSE)
    q = {(it.notebook, it.grade_id): it for it in d.item_quality()}
    assert set(q) == {("01_a", "t1"), ("01_a", "t2"), ("01_a", "w1"), ("02_b", "t3")}
    expected = {"t1": (1 / 3, 24 / math.sqrt(684)), "t2": (2 / 3, 3 / math.sqrt(1332)), "t3": (2 / 3, 3 / math.sqrt(84))}
    for (nb, gid), it in q.items():
        if gid == "w1":
            assert it.written and it.n == 1 and it.difficulty == 1.0 and it.discrimination is None and not it.flags
            continue
        p, r = expected[gid]
        assert not it.written and it.n == 3
        assert it.difficulty == pytest.approx(p) and it.discrimination == pytest.approx(r), gid
        assert it.flags == []
    html = cr.render(d)
    assert 'id="item-quality"' in html and "+0.92" in html and "+0.08" in html and "+0.33" in html
    assert "How to read them" in html


def test_item_flags():
    """Too easy, too hard, negatively discriminating; constant scores give no correlation."""
    totals = {"a": 10.0, "b": 6.0, "c": 2.0, "d": 1.0}
    easy = cr.item_quality("n", "easy", 1, {"a": 1, "b": 1, "c": 1, "d": 1}, totals)
    assert easy.difficulty == 1.0 and easy.discrimination is None and easy.flags == ["too easy"]
    hard = cr.item_quality("n", "hard", 2, {"a": 0, "b": 0, "c": 0, "d": 1}, totals)
    assert hard.difficulty == pytest.approx(0.125) and "too hard" in hard.flags
    # the weakest students get it, the strongest do not: shares (0, 0, 1, 1), rest (10, 6, 1, 0), deviations
    # (-.5, -.5, .5, .5) and (5.75, 1.75, -3.25, -4.25): r = -7.5 / sqrt(1 * 64.75)
    neg = cr.item_quality("n", "neg", 1, {"a": 0, "b": 0, "c": 1, "d": 1}, totals)
    assert neg.discrimination == pytest.approx(-7.5 / 64.75 ** 0.5, abs=1e-12)
    assert neg.flags == ["negatively discriminating"]
    good = cr.item_quality("n", "good", 1, {"a": 1, "b": 1, "c": 0, "d": 0}, totals)
    assert good.discrimination > 0.8 and good.flags == []
    few = cr.item_quality("n", "few", 1, {"a": 0, "b": 1}, totals)
    assert few.flags == [] and few.discrimination == pytest.approx(-1.0)


def test_a_student_counts_once_per_misconception():
    """misconception_holdings, from records alone: ann shows rate-khz in two items, ben in one, cid none."""
    from coursekit.insight.results import CellRecord, ClassResults, NotebookRecord

    def held(gid: str, ident: str | None, score: float = 0.0) -> CellRecord:
        outputs = [mc.marker_output(ident), _err("GradingError", "off")] if ident else []
        return CellRecord(gid, 1.0, False, score, True, False, {"outputs": outputs})

    found = ClassResults(notebooks=["06_x"], known=["06_x"], students=["ann", "ben", "cid"])
    cells = {"ann": [held("t1", "rate-khz"), held("t2", "rate-khz")], "ben": [held("t1", "rate-khz")],
             "cid": [held("t1", None, 1.0), held("t2", "rate-khz", 1.0)]}  # full marks: holds nothing
    for student, recs in cells.items():
        found.records[(student, "06_x")] = NotebookRecord(student, "06_x", True, True, Path("x"), {}, recs)
    (h,) = cr.misconception_holdings(found, class_size=3)
    assert (h.id, h.students, h.items, h.count, round(h.share, 4)) == ("rate-khz", ["ann", "ben"], ["t1", "t2"],
                                                                       2, 0.6667)
