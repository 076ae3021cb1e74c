"""helpers.widgets: live figures that redraw in place and leave the notebook's backend alone."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from helpers.widgets import Explorer, live_figure, parse_readout, readout_html, slider, widgets_enabled


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


# ---------------------------------------------------------------------------
# Blitting: a slider step redraws only the moving artists, and the frame is exact
# ---------------------------------------------------------------------------
class Frontend:
    """Stands in for the browser view of a live canvas: records what the kernel sends it."""

    def __init__(self, canvas):
        self.canvas = canvas
        self.frames = 0
        self.events: list[str] = []
        canvas.send = self._send
        canvas.syncing_data_url = False  # what ipympl does on the view's 'initialized' message

    def _send(self, content, buffers=None):
        import json

        kind = json.loads(content["data"])["type"]
        if kind == "binary":
            assert buffers, "a frame without an image"
            if not self.canvas.syncing_data_url:  # (before that, ipympl sends raw RGBA)
                assert bytes(buffers[0][:8]) == b"\x89PNG\r\n\x1a\n"
            self.frames += 1
        else:
            self.events.append(kind)

    def reset(self):
        self.frames, self.events = 0, []

    def request_draw(self):
        """The browser answers ipympl's 'draw' event by asking for a full draw."""
        self.canvas.handle_event({"type": "draw"})


def _saturation_explorer():
    """Notebook 04's explorer with the reference functions (the notebook passes the student's)."""
    from helpers.explorers import saturation
    from helpers.references import membrane

    return saturation.saturation_explorer(membrane.input_conductance, membrane.effective_time_constant,
                                          membrane.steady_state_potential)


def _shunting_explorer():
    """Notebook 05's explorer with the reference functions."""
    from helpers.explorers import shunting
    from helpers.references import membrane

    return shunting.shunting_explorer(membrane.membrane_steady_state, membrane.membrane_time_constant)


def _ch_explorer():
    """Notebook 06's explorer with the reference functions."""
    from helpers.explorers import carandini_heeger as ch
    from helpers.references import lif_rate

    return ch.ch_explorer(lif_rate.ch_rate, lif_rate.lif_rate)


def _explorers():
    from helpers.explorers import shunting

    return {
        "05": (_shunting_explorer,
               [{"g_e": 12.5}, {"g_i": 80.0}, {"E_i": shunting.E_I_HYPERPOLARISING},
                {"g_e": 0.0, "g_i": 0.0}, {"E_i": shunting.e_i_choices()[0][1]},
                {"g_e": 50.0, "g_i": 100.0}]),
        "06": (_ch_explorer, [{"g_e": 3.0}, {"g_i": 40.0}, {"g_e": 20.0, "g_i": 0.0}, {"g_i": 7.0}]),
        "04": (_saturation_explorer, [{"g_e": 0.0}, {"g_e": 7.5}, {"g_e": 20.0}]),
    }


def _full_draw(make, values):
    """A fresh explorer's figure for ``values``, drawn by Agg as if nothing were animated.

    ``savefig`` draws animated artists in their normal place (matplotlib's rule while saving), so
    this is a plain full draw, independent of the Blitter's background and overlays.
    """
    import io

    explorer = make()
    for name, value in values.items():
        explorer.controls[name].value = value
    fig = explorer.fig
    with io.BytesIO() as raw:
        fig.savefig(raw, format="rgba", dpi=fig.dpi)
        width, height = fig.canvas.get_width_height(physical=True)
        return np.frombuffer(raw.getvalue(), dtype=np.uint8).reshape(height, width, 4).copy()


@pytest.mark.parametrize("nb", ["04", "05", "06"])
def test_a_slider_step_sends_a_blitted_frame_identical_to_a_full_draw(nb):
    make, steps = _explorers()[nb]
    explorer = make()
    canvas = explorer.fig.canvas
    frontend = Frontend(canvas)
    frontend.request_draw()  # the first full draw, as the browser asks for it once it shows the canvas
    assert frontend.frames == 1 and explorer.blitter.can_blit()
    values = explorer.values()
    for step in steps:
        frontend.reset()
        for name, value in step.items():
            explorer.controls[name].value = value
        values.update(step)
        # one frame per control changed, sent at once: no 'draw' round trip through the browser
        assert frontend.frames == len(step) and frontend.events.count("draw") == 0, (step, frontend.events)
        shown = np.asarray(canvas.buffer_rgba())
        expected = _full_draw(make, values)
        assert shown.shape == expected.shape
        differ = int(np.count_nonzero((shown != expected).any(axis=-1)))
        assert differ == 0, f"{nb} {values}: {differ} pixels differ from a full draw"


def test_a_change_outside_the_moving_artists_falls_back_to_a_full_draw():
    explorer = _saturation_explorer()
    canvas = explorer.fig.canvas
    frontend = Frontend(canvas)
    frontend.request_draw()
    ax_t, ax_g = explorer.fig.axes
    blitter = explorer.blitter
    changes = {
        "new limits": lambda: ax_g.set_ylim(-5.0, 5.0),
        "new axis label": lambda: ax_t.xaxis.label.set_text("time (s)"),
        "a background line hidden": lambda: ax_g.lines[0].set_visible(False),
        "a new figure size": lambda: explorer.fig.set_size_inches(6.0, 3.0),
        "a new title (above the axes: part of the background)": lambda: ax_t.set_title("new"),
    }
    for what, change in changes.items():
        frontend.request_draw()
        assert blitter.can_blit(), what
        change()
        assert not blitter.can_blit(), f"{what} must need a full draw"
        frontend.reset()
        explorer.controls["g_e"].value = 3.0 if explorer.controls["g_e"].value != 3.0 else 4.0
        # the browser is asked to request a full draw; no stale frame is sent meanwhile
        assert frontend.frames == 0 and frontend.events == ["draw"], (what, frontend.events)
        frontend.request_draw()
        assert frontend.frames == 1 and blitter.can_blit(), what
    # the legend is painted over the moving lines, so it is redrawn with them at every step:
    # changing it needs no full draw
    overlay = [artist for ax, artists in blitter.overlays if ax is ax_t for artist in artists]
    legend = ax_t.get_legend()
    assert legend in overlay and ax_t.title not in overlay
    legend.get_texts()[0].set_text("conductance-based input")
    assert blitter.can_blit()


def test_no_frame_is_sent_before_the_browser_shows_the_canvas():
    explorer = _shunting_explorer()
    canvas = explorer.fig.canvas
    frontend = Frontend(canvas)
    canvas.syncing_data_url = True  # the view has not said 'initialized' yet
    canvas.draw()
    frontend.reset()
    explorer.controls["g_e"].value = 20.0
    assert frontend.frames == 0 and frontend.events == ["draw"]


def test_blitter_rejects_what_it_cannot_redraw():
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from helpers.widgets import Blitter

    plain = Figure()
    (line,) = plain.subplots().plot([0, 1], [0, 1])
    with pytest.raises(ValueError, match="live_figure"):
        Blitter(plain, [line])
    fig, ax = live_figure()
    with pytest.raises(ValueError, match="at least one"):
        Blitter(fig, [])
    with pytest.raises(ValueError, match="not drawn in an axes of this figure"):
        Blitter(fig, [line])
    plt.close("all")


def test_readout_lines_break_between_items_only():
    text = "u_inf = -49.31 mV; tau' = 1.38 ms; g_e = 35.00 nS"
    shown = readout_html(text)
    assert shown.count('<span style="white-space: nowrap">') == 3
    assert "<span style=\"white-space: nowrap\">g_e = 35.00 nS</span>" in shown
    assert parse_readout(shown, {"u_inf": "u", "tau'": "tau", "g_e": "g"}) == {"u": -49.31, "tau": 1.38, "g": 35.0}
    assert readout_html("a = 1.00") == "a = 1.00"
    assert readout_html("<b>CH rate</b> = 3 Hz; x") == "<b>CH rate</b> = 3 Hz; x"  # already HTML
    fig, ax = live_figure()
    (line,) = ax.plot([0, 1], [0, 1])
    explorer = Explorer(fig, {"a": slider("a", 1.0, 0.0, 2.0, 0.1)}, lambda a: f"a = {a:.2f}; b & c = {a:.1f}")
    assert explorer.readout.value.endswith('<span style="white-space: nowrap">b &amp; c = 1.0</span>')
    assert parse_readout(explorer.readout.value, {"a": "a", "b & c": "bc"}) == {"a": 1.0, "bc": 1.0}
