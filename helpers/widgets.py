"""Slider explorers that redraw an existing figure in place.

Every explorer in the course is built the same way: a matplotlib figure on an
ipympl canvas (a widget, so it redraws without making a new image), a few
ipywidgets sliders, and an ``update`` function that receives the slider values
and changes the data of artists that already exist (``line.set_data``), never
building a new figure. A text readout under the figure states the key numbers
(they are what the browser tests read).

The figure does not depend on the notebook's matplotlib backend: static
figures of a notebook stay inline PNGs, only explorers are live canvases.

nbgrader sets ``NBGRADER_EXECUTION`` while it validates or autogrades; explorer
cells check :func:`widgets_enabled` so grading never waits on a widget.
"""

from __future__ import annotations

import os
import re
from typing import Callable, Mapping

__all__ = ["widgets_enabled", "live_figure", "slider", "Explorer", "parse_readout"]


def widgets_enabled() -> bool:
    """Return False while nbgrader validates or autogrades the notebook."""
    return not os.environ.get("NBGRADER_EXECUTION")


def live_figure(nrows: int = 1, ncols: int = 1, figsize=(8.0, 3.5), **subplot_kw):
    """Make a figure drawn on an ipympl canvas (a widget that redraws in place).

    Returns
    -------
    fig, axes
        As :func:`matplotlib.pyplot.subplots` would, but the figure is not
        registered with pyplot, so ``plt.show()`` in other cells never shows
        it a second time.
    """
    import matplotlib
    from matplotlib.figure import Figure

    # ipympl's first import calls matplotlib.use("module://ipympl.backend_nbagg")
    # (ipympl/__init__.py), which would turn every later static plt figure of
    # the notebook into a widget: keep the notebook's own backend.
    before = matplotlib.rcParams._get_backend_or_none()
    try:
        from ipympl.backend_nbagg import Canvas, FigureManager
    finally:
        if before is not None and matplotlib.rcParams._get_backend_or_none() != before:
            matplotlib.use(before)

    fig = Figure(figsize=figsize, layout="constrained")
    canvas = Canvas(fig)
    FigureManager(canvas, 0)
    canvas.header_visible = False
    canvas.footer_visible = False
    canvas.toolbar_visible = False
    canvas.resizable = False
    axes = fig.subplots(nrows, ncols, **subplot_kw)
    return fig, axes


def slider(description: str, value: float, vmin: float, vmax: float, step: float,
           unit: str = "", readout_format: str = ".2f"):
    """A FloatSlider labelled with its unit, e.g. ``g_e (nS)``."""
    import ipywidgets as w

    label = f"{description} ({unit})" if unit else description
    return w.FloatSlider(value=value, min=vmin, max=vmax, step=step, description=label,
                         continuous_update=True, readout_format=readout_format,
                         style={"description_width": "initial"},
                         layout=w.Layout(width="420px"))


class Explorer:
    """Sliders wired to an update function that edits an existing figure.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        Made with :func:`live_figure`.
    controls : mapping of str to ipywidgets.ValueWidget
        Keyword name -> widget; ``update`` is called with these keywords.
    update : callable
        ``update(**values) -> str | None``; changes artist data in place and may
        return a short HTML/text readout shown under the figure.
    """

    def __init__(self, fig, controls: Mapping[str, object], update: Callable[..., str | None]):
        import ipywidgets as w

        self.fig = fig
        self.controls = dict(controls)
        self._update = update
        self.readout = w.HTML(layout=w.Layout(min_height="1.5em"))
        self.readout.add_class("course-readout")
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self.refresh()
        self.widget = w.VBox([w.HBox(list(self.controls.values()),
                                     layout=w.Layout(flex_flow="row wrap")),
                              fig.canvas, self.readout])

    def values(self) -> dict:
        """Current control values by keyword."""
        return {name: control.value for name, control in self.controls.items()}

    def refresh(self) -> None:
        """Call ``update`` with the current values and redraw the canvas."""
        text = self._update(**self.values())
        if text is not None:
            self.readout.value = text
        self.fig.canvas.draw_idle()

    def _on_change(self, _change) -> None:
        self.refresh()

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def parse_readout(text: str, labels: Mapping[str, str]) -> dict:
    """Parse a readout ``"label = value unit; ..."`` into floats keyed by ``labels[label]``.

    Accepts the readout widget's HTML or its rendered text (e.g. ``innerText`` in a
    browser test); raises ValueError if a label of ``labels`` is missing.
    """
    text = re.sub(r"<[^>]+>", "", text).replace("&#x27;", "'").replace("&#39;", "'")
    values = {}
    for item in text.split(";"):
        label, _, rest = item.partition(" = ")
        key = labels.get(label.strip())
        if key is not None:
            values[key] = float(rest.split()[0])
    missing = set(labels.values()) - set(values)
    if missing:
        raise ValueError(f"readout {text!r} lacks {sorted(missing)}")
    return values
