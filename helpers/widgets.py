"""Slider explorers that redraw an existing figure in place.

Every explorer in the course is built the same way: a matplotlib figure on an
ipympl canvas (a widget, so it redraws without making a new image), a few
ipywidgets sliders, and an ``update`` function that receives the slider values
and changes the data of artists that already exist (``line.set_data``), never
building a new figure. A text readout under the figure states the key numbers
(they are what the browser tests read).

The figure does not depend on the notebook's matplotlib backend: static
figures of a notebook stay inline PNGs, only explorers are live canvases.

An explorer may name the artists its sliders move (``animated=``): it then
redraws only those (and whatever a full draw would paint over them) on top of a
cached background, and sends the new frame at once instead of waiting for the
browser to ask for it (see :class:`Blitter`). A slider step then costs 20-30 ms
in the kernel, PNG frame included, instead of a full render (100-130 ms).

nbgrader sets ``NBGRADER_EXECUTION`` while it validates or autogrades; explorer
cells check :func:`widgets_enabled` so grading never waits on a widget.
"""

from __future__ import annotations

import html
import math
import os
import re
from functools import lru_cache
from operator import attrgetter
from typing import Callable, Iterable, Mapping

__all__ = ["widgets_enabled", "live_figure", "slider", "Blitter", "Explorer", "readout_html",
           "parse_readout"]


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
        from ipympl.backend_nbagg import FigureManager

        canvas_class = _live_canvas_class()
    finally:
        if before is not None and matplotlib.rcParams._get_backend_or_none() != before:
            matplotlib.use(before)

    fig = Figure(figsize=figsize, layout="constrained")
    canvas = canvas_class(fig)
    FigureManager(canvas, 0)
    canvas.header_visible = False
    canvas.footer_visible = False
    canvas.toolbar_visible = False
    canvas.resizable = False
    axes = fig.subplots(nrows, ncols, **subplot_kw)
    return fig, axes


@lru_cache(maxsize=None)
def _live_canvas_class():
    """ipympl's canvas, whose full draw also refreshes an attached :class:`Blitter`."""
    from ipympl.backend_nbagg import Canvas
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    class LiveCanvas(Canvas):
        """An ipympl ``Canvas`` (same widget model) that cooperates with a :class:`Blitter`."""

        blitter = None

        def draw(self):
            if self.blitter is None:
                return super().draw()
            # As FigureCanvasWebAggCore.draw, with the blitter's overlays drawn on the background.
            self._png_is_old = True
            try:
                FigureCanvasAgg.draw(self)
                if self.blitter.split_overlays():  # (first draw, new layout) the background changed
                    FigureCanvasAgg.draw(self)
                self.blitter.background_drawn()
            finally:
                self.manager.refresh_all()

        @property
        def frontend_ready(self) -> bool:
            """True once a browser view has started and takes frames (ipympl's 'initialized')."""
            return self.syncing_data_url is False

    return LiveCanvas


def slider(description: str, value: float, vmin: float, vmax: float, step: float,
           unit: str = "", readout_format: str = ".2f"):
    """A FloatSlider labelled with its unit, e.g. ``g_e (nS)``."""
    import ipywidgets as w

    label = f"{description} ({unit})" if unit else description
    return w.FloatSlider(value=value, min=vmin, max=vmax, step=step, description=label,
                         continuous_update=True, readout_format=readout_format,
                         style={"description_width": "initial"},
                         layout=w.Layout(width="420px"))


class Blitter:
    """Redraw only the artists that move, over a cached copy of the rest of the figure.

    The figure is drawn in full once, without the artists a slider changes
    (``animated``) and without every artist that a full draw paints after them,
    over them: in the same axes, later in drawing order (higher ``zorder``) and
    overlapping the region where the moving artists are drawn (their clip box,
    normally the axes). Spines and legends are such *overlays*; an axes title,
    outside the axes, is not. That image is kept as the *background*. A slider
    step restores the background and draws only the overlays, in the order a
    full draw would: the frame is the same, pixel for pixel, as a full draw (a
    test checks this), at 20-30 ms with the PNG frame instead of 100-130 ms.

    A full draw is needed again, and :meth:`can_blit` says so, when anything
    else changed: an artist of the background was modified (it is *stale*) or
    shown/hidden, an axes' limits moved, or the canvas changed size or dpi.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        Made with :func:`live_figure`.
    animated : iterable of matplotlib.artist.Artist
        The artists the sliders change; each must belong to an axes of ``fig``.
    """

    #: pixels added around the moving region: antialiasing reaches past a clip box
    MARGIN = 2.0

    def __init__(self, fig, animated: Iterable):
        self.fig = fig
        self.canvas = fig.canvas
        if not isinstance(self.canvas, _live_canvas_class()):
            raise ValueError("Blitter needs a figure made with helpers.widgets.live_figure()")
        animated = list(animated)
        if not animated:
            raise ValueError("Blitter needs at least one animated artist")
        by_axes: dict = {}
        for artist in animated:
            ax = getattr(artist, "axes", None)
            if ax is None or ax.get_figure(root=True) is not fig:
                raise ValueError(f"{artist!r} is not drawn in an axes of this figure")
            by_axes.setdefault(ax, []).append(artist)
        #: (axes, moving artists, artists drawn after the first of them) per axes
        self._candidates = []
        for ax, moving in by_axes.items():
            order = self._draw_order(ax)
            first = min(order.index(artist) for artist in moving)
            self._candidates.append((ax, moving, order[first:]))
        #: (axes, overlay artists in drawing order): until the first draw, every candidate
        self.overlays = [(ax, list(later)) for ax, _, later in self._candidates]
        self._set_animated()
        self._background = None
        self._renderer = None
        self._key = None
        self._watched: list = []
        self.canvas.blitter = self

    @staticmethod
    def _draw_order(ax) -> list:
        """The artists of ``ax`` in the order ``Axes.draw`` paints them (the patch excepted)."""
        artists = [a for a in ax.get_children() if a is not ax.patch]
        if not (ax.axison and ax._frameon):
            artists = [a for a in artists if a not in ax.spines.values()]
        if not ax.axison:
            artists = [a for a in artists if a not in ax._axis_map.values()]
        return sorted(artists, key=attrgetter("zorder"))

    def _set_animated(self) -> None:
        overlay = {id(a) for _, artists in self.overlays for a in artists}
        for _, _, later in self._candidates:
            for artist in later:
                artist.set_animated(id(artist) in overlay)

    def _state_key(self) -> tuple:
        """What the background depends on besides its artists: size, dpi, every axes' limits."""
        return (self.canvas.get_width_height(physical=True), self.fig.dpi,
                tuple(tuple(ax.viewLim.bounds) for ax in self.fig.axes))

    def _extent(self, artist, renderer):
        """Window extent of ``artist`` (pixels); None if it draws nothing, the figure if unknown."""
        try:
            box = artist.get_window_extent(renderer)
        except Exception:  # no extent: assume it may cover anything
            return self.fig.bbox
        if box is None or not all(map(math.isfinite, box.extents)) or box.width < 0 or box.height < 0:
            return None
        return box

    def _moving_region(self, moving):
        """Bounding box (pixels) that the moving artists can paint, or None if unbounded."""
        from matplotlib.transforms import Bbox

        boxes = []
        for artist in moving:
            clip = artist.get_clip_box() if artist.get_clip_on() else None
            if clip is None:
                return None
            boxes.append(clip.frozen())
        region = Bbox.union(boxes)
        return Bbox.from_extents(region.x0 - self.MARGIN, region.y0 - self.MARGIN,
                                 region.x1 + self.MARGIN, region.y1 + self.MARGIN)

    def split_overlays(self) -> bool:
        """Choose the overlays for the current layout; True if they changed (draw again).

        An artist drawn after a moving one stays in the background when nothing
        drawn in a slider step can cover it: it lies outside the moving region
        and overlaps no overlay drawn before it.
        """
        renderer = self.canvas.get_renderer()
        overlays = []
        for ax, moving, later in self._candidates:
            region = self._moving_region(moving)
            kept, kept_boxes = [], []
            moving_ids = {id(a) for a in moving}
            for artist in later:
                box = self._extent(artist, renderer)
                inside = (id(artist) in moving_ids or region is None
                          or (box is not None and (box.overlaps(region)
                                                   or any(box.overlaps(other) for other in kept_boxes))))
                if inside:
                    kept.append(artist)
                    if box is not None:
                        kept_boxes.append(box)
            overlays.append((ax, kept))
        changed = [[id(a) for a in o] for _, o in overlays] != [[id(a) for a in o] for _, o in self.overlays]
        if changed:
            self.overlays = overlays
            self._set_animated()
        return changed

    def draw_overlays(self) -> None:
        """Paint the overlay artists on the canvas's renderer, in drawing order."""
        for ax, overlay in self.overlays:
            for artist in overlay:
                ax.draw_artist(artist)

    def background_drawn(self) -> None:
        """Called by the canvas after a full draw (which leaves the overlays out)."""
        self._background = self.canvas.copy_from_bbox(self.fig.bbox)
        self._renderer = self.canvas.get_renderer()
        self.draw_overlays()
        self._key = self._state_key()
        inside = {id(a) for _, overlay in self.overlays for o in overlay for a in o.findobj()}
        # The leaves of the background, whether the draw left them clean (a later change makes
        # them stale; tick artists stay stale after a draw, they follow the limits in the key)
        # and whether they are shown.
        self._watched = [(a, not a.stale, a.get_visible()) for a in self.fig.findobj()
                         if id(a) not in inside and not a.get_children()]

    def can_blit(self) -> bool:
        """True if the cached background still shows everything that is not an overlay."""
        if self._background is None or self.canvas.get_renderer() is not self._renderer:
            return False
        if any((clean and a.stale) or a.get_visible() != shown for a, clean, shown in self._watched):
            return False
        return self._state_key() == self._key

    def blit(self) -> None:
        """Restore the background, draw the overlays and send the frame to the browser."""
        self.canvas.restore_region(self._background)
        self.draw_overlays()
        self.canvas.blit(self.fig.bbox)


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
    animated : iterable of Artist, optional
        The artists ``update`` moves when a slider changes (lines whose data it
        sets). With them, a change that leaves the rest of the figure alone is
        drawn by a :class:`Blitter` and sent at once; anything else (new
        limits, a changed label) falls back to a full redraw.
    """

    def __init__(self, fig, controls: Mapping[str, object], update: Callable[..., str | None],
                 animated: Iterable | None = None):
        import ipywidgets as w

        self.fig = fig
        self.controls = dict(controls)
        self._update = update
        self.blitter = Blitter(fig, animated) if animated is not None else None
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
        """Call ``update`` with the current values and redraw the canvas.

        The readout changes first, then the figure. Once the browser shows the
        canvas, a change that only moved the animated artists is blitted and
        sent straight away; otherwise the browser is asked to request a full
        draw (ipympl's ``draw_idle``), which never draws for a canvas that is
        not displayed yet.
        """
        text = self._update(**self.values())
        if text is not None:
            self.readout.value = readout_html(text)
        canvas = self.fig.canvas
        if (self.blitter is not None and getattr(canvas, "frontend_ready", False)
                and self.blitter.can_blit()):
            self.blitter.blit()
        else:
            canvas.draw_idle()

    def _on_change(self, _change) -> None:
        self.refresh()

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def readout_html(text: str) -> str:
    """A plain ``"label = value unit; ..."`` readout as HTML whose lines break between items only.

    Each item is kept on one line (``white-space: nowrap``), so a narrow window
    never splits ``g_e = 35.00 nS`` after the ``=``; the rendered text is
    unchanged. Text that already contains HTML is returned as it is.
    """
    if "<" in text or "; " not in text:
        return text
    return "; ".join(f'<span style="white-space: nowrap">{html.escape(item, quote=False)}</span>'
                     for item in text.split("; "))


def parse_readout(text: str, labels: Mapping[str, str]) -> dict:
    """Parse a readout ``"label = value unit; ..."`` into floats keyed by ``labels[label]``.

    Accepts the readout widget's HTML or its rendered text (e.g. ``innerText`` in a
    browser test); raises ValueError if a label of ``labels`` is missing.
    """
    text = html.unescape(re.sub(r"<[^>]+>", "", text))
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
