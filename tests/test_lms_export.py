"""Grades into Canvas and Moodle (coursekit.insight.lms_export) from a gradebook made with nbgrader's API.

=======  ===============  ============  ======================  ==================================
student  e-mail           t1 (30) + w1  in Canvas as            expected
=======  ===============  ============  ======================  ==================================
ada      ada@uni.edu      30 + 10       SIS Login ID = e-mail   40
bob      (none)           20 + 5, late  SIS Login ID BOB (= id) 23 (penalty 2)
cai      cai@uni.edu      25 + pending  SIS Login ID = e-mail   left as in Canvas (12), pending
dan      (none)           10 + 0        nowhere                 unmatched, listed
eve/fay  twin@uni.edu     15/16 + 0     one row twin@uni.edu    ambiguous, listed, row left alone
gus      gus@uni.edu      no submission SIS User ID = e-mail    0
(Zed)                                   Canvas only             listed, left alone
=======  ===============  ============  ======================  ==================================
"""

from __future__ import annotations

import csv
import io
import os
import sys
from pathlib import Path

import pytest

from coursekit.insight import lms_export as lx

pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
A = "synapses"
COURSE = "test-course"

#: The shape of Canvas's Gradebook export: identity columns, assignments "Name (id)", the Points Possible row,
#: read-only computed columns; a quoted name with a comma, a UTF-8 BOM and CRLF line ends as Canvas writes them.
CANVAS = ("\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,synapses (123456),Homework 1 (123457),"
          "Current Score,Unposted Current Score,Final Score\r\n"
          "    Points Possible,,,,,40.00,10.00,(read only),(read only),(read only)\r\n"
          '"Lovelace, Ada",1001,S1001,ada@uni.edu,Neuro 101,,8.00,80.00,80.00,80.00\r\n'
          '"Bobson, Bob",1002,S1002,BOB,Neuro 101,,7.50,75.00,75.00,75.00\r\n'
          '"Cai, Li",1003,S1003,cai@uni.edu,Neuro 101,12,9.00,90.00,90.00,90.00\r\n'
          '"Twin, E.",1004,S1004,twin@uni.edu,Neuro 101,,6.00,60.00,60.00,60.00\r\n'
          '"Gus, G.",1005,gus@uni.edu,S1005,"Neuro 101, lab",,5.00,50.00,50.00,50.00\r\n'
          '"Zed, Z.",1006,S1006,zed@uni.edu,Neuro 101,,4.00,40.00,40.00,40.00\r\n')


@pytest.fixture(autouse=True)
def _alembic_on_path(monkeypatch):
    monkeypatch.setenv("PATH", os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]))


@pytest.fixture
def gradebook(tmp_path):
    from nbgrader.api import Gradebook

    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    table = {"ada": ("ada@uni.edu", 30, 10, 0), "bob": (None, 20, 5, 2), "cai": ("cai@uni.edu", 25, None, 0),
             "dan": (None, 10, 0, 0), "eve": ("twin@uni.edu", 15, 0, 0), "fay": ("twin@uni.edu", 16, 0, 0)}
    with Gradebook(url, COURSE) as gb:
        gb.add_assignment(A)
        gb.add_notebook("01", A)
        gb.add_grade_cell("t1", "01", A, max_score=30, cell_type="code")
        gb.add_grade_cell("w1", "01", A, max_score=10, cell_type="markdown")
        gb.add_solution_cell("w1", "01", A)
        gb.add_student("gus", first_name="G.", last_name="Gus", email="gus@uni.edu")
        for sid, (email, t1, w1, penalty) in table.items():
            gb.add_student(sid, email=email)
            gb.add_submission(A, sid)
            g = gb.find_grade("t1", "01", A, sid)
            g.auto_score, g.needs_manual_grade = t1, False  # as autograde leaves a test cell
            w = gb.find_grade("w1", "01", A, sid)
            w.manual_score, w.needs_manual_grade = w1, w1 is None
            gb.find_submission_notebook("01", A, sid).late_submission_penalty = penalty
        gb.db.commit()
    return tmp_path, url


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def test_gradebook_grades_as_nbgrader_export(gradebook):
    _, url = gradebook
    grades = {g.id: g for g in lx.gradebook_grades(url, COURSE, A)}
    assert grades["ada"].score == 40 and grades["ada"].max_score == 40
    assert (grades["bob"].raw_score, grades["bob"].penalty, grades["bob"].score) == (25, 2, 23)
    assert grades["cai"].pending and not grades["ada"].pending
    assert not grades["gus"].submitted and grades["gus"].score == 0 and grades["gus"].email == "gus@uni.edu"


def test_canvas_round_trip_changes_only_the_assignment_column(gradebook):
    root, url = gradebook
    src, out = root / "canvas.csv", root / "out.csv"
    src.write_bytes(CANVAS.encode("utf-8"))
    result = lx.fill_canvas(src, lx.gradebook_grades(url, COURSE, A), out, assignment=A)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and raw.count(b"\r\n") == CANVAS.count("\r\n")
    before, after = _rows(CANVAS), _rows(raw.decode("utf-8"))
    assert len(before) == len(after)
    col = before[0].index("synapses (123456)")
    for b, a in zip(before, after):
        assert b[:col] + b[col + 1:] == a[:col] + a[col + 1:]  # every other column untouched
    # and byte for byte: the header, the Points Possible row and the rows left alone are the same text
    lines_in, lines_out = CANVAS.split("\r\n"), raw.decode("utf-8").split("\r\n")
    for k in (0, 1, 4, 5, 7):
        assert lines_in[k] == lines_out[k], k
    column = {a[0]: a[col] for a in after[2:]}
    assert column == {"Lovelace, Ada": "40", "Bobson, Bob": "23", "Cai, Li": "12", "Twin, E.": "", "Gus, G.": "0",
                      "Zed, Z.": ""}
    assert result.written == {"ada": 40.0, "bob": 23.0, "gus": 0.0}
    assert result.unmatched == ["dan"]
    assert set(result.ambiguous) == {"eve", "fay"}
    assert result.pending == ["cai"] and result.late == {"bob": 2.0} and result.no_submission == ["gus"]
    assert result.lms_only == ["Zed, Z."] and not result.ok
    text = result.summary()
    assert "match nobody in the LMS: dan" in text and "match more than one: eve" in text
    assert "bob -2" in text and "pending" in text and "cai" in text


def test_canvas_scales_to_points_possible_and_refuses_a_missing_column(gradebook):
    root, url = gradebook
    src = root / "canvas.csv"
    src.write_text(CANVAS.replace("40.00,10.00", "100.00,10.00"), encoding="utf-8")
    result = lx.fill_canvas(src, lx.gradebook_grades(url, COURSE, A), root / "out.csv", assignment=A)
    assert result.written["ada"] == 100.0 and result.written["bob"] == 57.5
    assert any("Points Possible 100" in n for n in result.notes)
    with pytest.raises(lx.ExportError, match="0 columns named 'other'"):
        lx.fill_canvas(src, [], root / "never.csv", assignment=A, column="other")
    assert not (root / "never.csv").exists()


def test_moodle_file_follows_its_column_rules(gradebook):
    """Header row, one identifier column mapped to useremail, one numeric column per grade item; pending students
    have no row (Moodle leaves them unchanged), no feedback column; missing and duplicate e-mails listed."""
    root, url = gradebook
    grades = lx.gradebook_grades(url, COURSE, A)
    result = lx.write_moodle(grades, root / "moodle.csv", assignment=A)
    rows = _rows((root / "moodle.csv").read_text(encoding="utf-8"))
    assert rows[0] == ["Email address", A]
    assert rows[1:] == [["ada@uni.edu", "40"], ["gus@uni.edu", "0"]]
    assert all(float(r[1]) >= 0 for r in rows[1:]) and len({r[0] for r in rows[1:]}) == len(rows) - 1
    assert sorted(result.unmatched) == ["bob", "dan"] and set(result.ambiguous) == {"eve", "fay"}
    assert result.pending == ["cai"] and "useremail" in result.summary()
    by_name = lx.write_moodle(grades, root / "moodle-u.csv", assignment=A, match="username")
    rows = _rows((root / "moodle-u.csv").read_text(encoding="utf-8"))
    assert rows[0] == ["Username", A] and ["bob", "23"] in rows and ["eve", "15"] in rows and ["fay", "16"] in rows
    assert by_name.ok and by_name.late == {"bob": 2.0}


def test_export_command(gradebook, capsys):
    """``python -m coursekit export``: exit 1 with the unmatched listed; 2 with one line when it cannot write."""
    from coursekit.__main__ import main

    root, url = gradebook
    (root / "nbgrader_config.py").write_text(f"c = get_config()\nc.CourseDirectory.course_id = {COURSE!r}\n"
                                             f"c.CourseDirectory.db_url = {url!r}\n")
    (root / "canvas.csv").write_text(CANVAS, encoding="utf-8")
    status = main(["export", "canvas", "--course", str(root), "--canvas-csv", str(root / "canvas.csv")])
    out = capsys.readouterr()
    assert status == 1 and "match nobody in the LMS: dan" in out.out
    assert (root / "reports" / f"{A}-canvas.csv").is_file()
    status = main(["export", "canvas", "--course", str(root), "--canvas-csv", str(root / "canvas.csv"),
                   "--column", "nope"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "nope" in err
