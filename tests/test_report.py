"""coursekit/pipeline/report.py: what make grade prints; student text reaches the instructor's terminal inert.

A hostile error message (ANSI colours and screen clearing, a carriage return that overwrites the line
with a forged grade, BEL, an OSC 8 hyperlink, an OSC window title, a BIDI override, C1 controls, a
Unicode line separator) goes through the reasons and through ``Progress``, the one printer of
``make grade``: what comes out holds no control character, and the words are still readable.
"""

import unicodedata

from coursekit.pipeline import report as rep
from coursekit.pipeline.progress import Progress

HOSTILE = ("\x1b[2J\x1b[H\x1b[32mall tests passed\x1b[0m\rgrade: 10/10\x07 "
           "\x1b]8;;http://10.6.6.6/\x1b\\click\x1b]8;;\x1b\\ \x1b]0;title\x07 "
           "\u202egnorw\u202c \x9b31m \u2028next \u2066iso\u2069 \x08\x08ok\x7f")


def _controls(text):
    return [hex(ord(ch)) for ch in text if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")]


def test_terminal_safe_leaves_no_control_and_keeps_the_words():
    safe = rep.terminal_safe(HOSTILE)
    assert _controls(HOSTILE) and _controls(safe) == []
    for words in ("all tests passed", "grade: 10/10", "click", "gnorw", "next", "ok"):
        assert words in safe
    assert "\\x1b[2J" in safe and "\\r" in safe and "\\u202e" in safe


def test_terminal_safe_keeps_ordinary_text_and_newlines():
    text = "peak of g is 0.37 nS at t = 5 ms; expected 1.0 nS\nµ, τ, ñ, 中文, emoji 🧠"
    assert rep.terminal_safe(text) == text


def test_reasons_and_table_print_inert_through_progress():
    cell = rep.CellResult("exp_conductance_test", 0.0, 2.0, False, False, rep.short(HOSTILE))
    result = rep.NotebookResult("sample-\x1b[31mevil", "01_synapse_zoo", True, True, [cell],
                                events=["\x1b]8;;http://x/\x1b\\note\x1b]8;;\x1b\\"])
    results = {"sample-\x1b[31mevil": {"01_synapse_zoo": result}}
    lines = []
    progress = Progress(out=lines.append)
    progress.plain(rep.format_table(results, ["01_synapse_zoo"]))
    progress.plain(rep.format_reasons(results, ["01_synapse_zoo"]))
    progress("rescue of sample-\x1b[31mevil: " + HOSTILE)
    printed = "\n".join(lines)
    assert _controls(printed) == []
    assert "exp_conductance_test 0/2: " in printed and "grade: 10/10" in printed and "note" in printed
