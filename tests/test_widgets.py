"""helpers.widgets: live figures that redraw in place and leave the notebook's backend alone."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from helpers.widgets import Explorer, live_figure, slider, widgets_enabled


def test_widgets_are_off_while_nbgrader_executes(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert widgets_enabled()
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert not widgets_enabled()


def test_first_live_figure_keeps_the_pyplot_backend():
    # ipympl's first import calls matplotlib.use(ipympl); that must not leak into the
    # notebook's static figures. A fresh interpreter is needed: ipympl may be imported here.
    code = textwrap.dedent("""
        import sys, matplotlib
        matplotlib.use("svg")
        import matplotlib.pyplot as plt
        assert "ipympl" not in sys.modules
        from helpers.widgets import live_figure
        fig, ax = live_figure()
        assert "ipympl" in sys.modules
        print(matplotlib.get_backend())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "svg"


def test_explorer_updates_the_existing_artists_and_readout():
    fig, ax = live_figure()
    x = np.linspace(0.0, 1.0, 11)
    (line,) = ax.plot(x, x)
    calls = []

    def update(a):
        calls.append(a)
        line.set_ydata(a * x)
        return f"a = {a:.2f}"

    explorer = Explorer(fig, {"a": slider("a", 1.0, 0.0, 2.0, 0.1, unit="nS")}, update)
    assert explorer.readout.value == "a = 1.00"
    explorer.controls["a"].value = 1.5
    assert calls == [1.0, 1.5]
    assert explorer.readout.value == "a = 1.50"
    assert list(ax.lines) == [line] and line.get_ydata()[-1] == pytest.approx(1.5)
    assert explorer.controls["a"].description == "a (nS)"
    assert explorer.values() == {"a": 1.5}
