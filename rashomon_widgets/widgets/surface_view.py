"""`SurfaceView`: a bqplot heatmap with contour lines of a loss grid and the current point marked."""
from __future__ import annotations

import bqplot as bq
import contourpy
import ipywidgets as widgets
import numpy as np
from traitlets import Bool, observe

from ..core import Surface
from ._drawable import check_surface, finite_point
from ._legend import (
    COLOR_BAR_OFFSET_PX,
    MARKER,
    TITLE_STYLE,
    VIEW_CLASS,
    axis_ticks,
    legend_html,
    px,
    set_axis_ticks,
    set_color_range,
    tick_labels,
)


def color_values(loss: np.ndarray, log: bool) -> np.ndarray:
    """What the colour shows: the loss, or log10 of it (so near-zero losses stay visible)."""
    return np.log10(np.maximum(loss, 1e-16)) if log else loss


def contour_segments(xs, ys, z, levels: int = 8):
    """Contour lines of ``z`` as equal-length point lists (bqplot Lines wants rectangular arrays)."""
    finite = z[np.isfinite(z)]
    if finite.size == 0 or finite.max() == finite.min():
        return [], []
    gen = contourpy.contour_generator(xs, ys, z)
    segments = []
    for level in np.linspace(finite.min(), finite.max(), levels + 2)[1:-1]:
        segments.extend(gen.lines(level))
    if not segments:
        return [], []
    n = max(len(s) for s in segments)
    pad = [np.vstack([s, np.repeat(s[-1:], n - len(s), axis=0)]) for s in segments]
    return [p[:, 0] for p in pad], [p[:, 1] for p in pad]


class SurfaceView(widgets.VBox):
    """A loss grid as a heatmap with contours, in the plane's direction coordinates.

    The axes are labelled by what the plane's directions are (``set_labels``); the axes and the colour
    bar have round ticks that never collide, in a short exact format (:func:`axis_ticks`: "-1.5 -1.0 ...",
    "-1e+6 -5e+5 0 ..."), and the colour bar's ticks change before its range does, so it never shows the
    last range's labels (:func:`set_color_range`); what the overlays mean goes in an HTML legend under
    the figure (``set_legend``), never over the data. :meth:`to_matplotlib` draws every mark of the figure
    (an explorer's own overlays too) and the colour bar, with the same ticks. A surface with NaN or infinite
    losses, coordinates that are not finite, or a loss grid of the wrong shape is refused with a ``ValueError`` (see
    :meth:`update`), never drawn with a colour scale up to ``inf``.

    Example:
        >>> view = rw.SurfaceView(ls.surface(rw.Plane.random(ls), span=1.0))   # doctest: +SKIP
        >>> view.update(new_surface, point=(0.2, -0.1))                        # doctest: +SKIP
    """

    log_color = Bool(False, help="colour by log10(loss), so that near-zero loss is visible").tag(sync=False)

    def __init__(self, surface: Surface | None = None, *, log_color: bool = False, title: str = "",
                 xlabel: str = "direction 1", ylabel: str = "direction 2", width: int = 440, height: int = 380,
                 **kwargs):
        sx, sy = bq.LinearScale(), bq.LinearScale()
        self._color = bq.ColorScale(scheme="viridis")
        self.heatmap = bq.HeatMap(x=np.zeros(2), y=np.zeros(2), color=np.zeros((2, 2)),
                                  scales={"x": sx, "y": sy, "color": self._color})
        self.contours = bq.Lines(x=[], y=[], scales={"x": sx, "y": sy}, colors=["white"], stroke_width=1,
                                 opacities=[0.6])
        self.marker = bq.Scatter(x=[0.0], y=[0.0], scales={"x": sx, "y": sy}, colors=[MARKER],
                                 default_size=80, stroke="white")
        self.extra = bq.Lines(x=[], y=[], scales={"x": sx, "y": sy}, colors=["white", "orange"],
                              line_style="dashed")
        self.color_axis = bq.ColorAxis(scale=self._color, orientation="vertical", side="right", label="loss",
                                        tick_format=".2f")
        axes = [bq.Axis(scale=sx, label=xlabel), bq.Axis(scale=sy, label=ylabel, orientation="vertical"),
                self.color_axis]
        margin = {"top": 40, "bottom": 50, "left": 60, "right": 115}  # room for the colour bar's label
        self.figure = bq.Figure(marks=[self.heatmap, self.contours, self.extra, self.marker], axes=axes,
                                title=title, title_style=dict(TITLE_STYLE), fig_margin=margin,
                                layout=widgets.Layout(width=px(width), height=f"{height}px"))
        #: the plot area's width and height in pixels, which the ticks are chosen for
        self.plot_size = (int(px(width)[:-2]) - margin["left"] - margin["right"],
                          int(height) - margin["top"] - margin["bottom"])
        self.figure.add_class("rw-surface2d")
        self.legend = widgets.HTML("")
        self.surface: Surface | None = None
        super().__init__([self.figure, self.legend], **kwargs)
        self.add_class(VIEW_CLASS)
        self.log_color = log_color
        if surface is not None:
            self.update(surface)

    def set_labels(self, xlabel: str, ylabel: str) -> None:
        """Name the plane's two directions on the axes (e.g. ``"null direction 1"``, ``"u (line)"``)."""
        with self.figure.axes[0].hold_sync(), self.figure.axes[1].hold_sync():
            self.figure.axes[0].label, self.figure.axes[1].label = str(xlabel), str(ylabel)

    def set_legend(self, entries) -> None:
        """The legend under the figure: ``[(colour, marker, text), ...]``, marker one of ``"circle"``,
        ``"square"``, ``"line"``, ``"dashed"``, ``"band"``; an empty list removes it."""
        self.legend.value = legend_html(entries) if entries else ""

    @observe("log_color")
    def _redraw(self, change):
        if self.surface is not None:
            self.update(self.surface, (self.marker.x[0], self.marker.y[0]))

    def update(self, surface: Surface, point: tuple[float, float] | None = None) -> None:
        """Show ``surface`` (and move the marker to ``point``, default the plane's origin (0, 0)).

        A grid that cannot be drawn is refused before anything changes: the view keeps showing the last
        surface and stays usable.

        Raises:
            TypeError: not an :class:`rw.Surface`.
            ValueError: a loss grid whose shape is not ``(len(ys), len(xs))`` (the message names both
                shapes), coordinates that are not finite, or NaN or infinite losses (see
                :func:`check_surface`): a loss that is not finite has no colour, and no JSON value to
                send to the browser.
        """
        xs, ys, loss = check_surface(surface)
        z = color_values(loss, self.log_color)
        cx, cy = contour_segments(xs, ys, z)
        self.surface = surface
        with self.heatmap.hold_sync(), self.contours.hold_sync():
            self.heatmap.x, self.heatmap.y, self.heatmap.color = xs, ys, z
            self.contours.x, self.contours.y = cx, cy
        width, height = self.plot_size
        set_axis_ticks(self.figure.axes[0], axis_ticks(xs[0], xs[-1], width))
        set_axis_ticks(self.figure.axes[1], axis_ticks(ys[0], ys[-1], height, vertical=True))
        lo, hi = float(np.nanmin(z)), float(np.nanmax(z))
        set_color_range(self._color, self.color_axis, lo, hi, height - 2 * COLOR_BAR_OFFSET_PX)
        self.color_axis.label = "log10 loss" if self.log_color else "loss"
        self.set_point(*(point if point is not None else (0.0, 0.0)))

    def set_point(self, x: float, y: float) -> None:
        """Move the current-point marker.

        Raises:
            ValueError: coordinates that are not finite (the marker stays where it was).
        """
        x, y = finite_point(x, y)
        with self.marker.hold_sync():
            self.marker.x, self.marker.y = [float(x)], [float(y)]

    def draw_paths(self, paths: list[np.ndarray]) -> None:
        """Overlay paths (each (n, 2) in plane coordinates): e.g. a curve and the dashed straight line."""
        if not paths:
            self.extra.x, self.extra.y = [], []
            return
        n = max(len(p) for p in paths)
        pad = [np.vstack([p, np.repeat(p[-1:], n - len(p), axis=0)]) for p in paths]
        with self.extra.hold_sync():
            self.extra.x, self.extra.y = [p[:, 0] for p in pad], [p[:, 1] for p in pad]

    def to_matplotlib(self, ax):
        """Draw the same picture on a matplotlib axes (for ``explorer.save``: PNG or SVG): the heatmap's cells
        (viridis over the same colour range), then every other mark of the figure in its order, as drawn
        live (contours, paths, an explorer's own curves and points, the marker: colours, line styles,
        marker shapes), the colour bar and the axes with the live view's ticks and labels.

        Args:
            ax: a matplotlib ``Axes``.

        Returns:
            the heatmap's mappable (its colour bar is drawn already).

        Raises:
            ValueError: nothing shown yet.
        """
        if self.surface is None:
            raise ValueError("to_matplotlib: nothing shown yet; call view.update(surface) first")
        xs, ys = np.asarray(self.heatmap.x, dtype=float), np.asarray(self.heatmap.y, dtype=float)
        lo, hi = float(self._color.min), float(self._color.max)
        cells = ax.pcolormesh(xs, ys, np.asarray(self.heatmap.color, dtype=float), shading="nearest",
                              cmap="viridis", vmin=lo, vmax=hi)
        for mark in self.figure.marks:
            if mark is not self.heatmap:
                draw_mark(ax, mark, as_collection=mark is self.contours)
        dx, dy = (xs[-1] - xs[0]) / (2 * (len(xs) - 1)), (ys[-1] - ys[0]) / (2 * (len(ys) - 1))
        ax.set_xlim(xs[0] - dx, xs[-1] + dx)
        ax.set_ylim(ys[0] - dy, ys[-1] + dy)
        for axis, set_ticks in zip(self.figure.axes[:2], (ax.set_xticks, ax.set_yticks)):
            ticks = np.asarray(axis.tick_values, dtype=float)
            set_ticks(ticks, tick_labels(ticks, axis.tick_format))
        ax.set_xlabel(self.figure.axes[0].label)
        ax.set_ylabel(self.figure.axes[1].label)
        color_ticks = np.asarray(self.color_axis.tick_values, dtype=float)
        bar = ax.figure.colorbar(cells, ax=ax, label=self.color_axis.label, shrink=0.8)
        bar.set_ticks(color_ticks, labels=tick_labels(color_ticks, self.color_axis.tick_format))
        if self.figure.title:
            ax.set_title(self.figure.title, fontsize="medium")
        return cells


#: bqplot's line styles and markers in matplotlib's words
LINE_STYLES = {"solid": "-", "dashed": "--", "dotted": ":", "dash_dotted": "-."}
MARKERS = {"circle": "o", "diamond": "D", "square": "s", "cross": "P", "triangle-up": "^", "triangle-down": "v",
           "arrow": ">", "rectangle": "s", "ellipse": "o", "plus": "+", "crosshair": "+", "point": "."}
#: a bqplot stroke or marker size is in pixels, a matplotlib one in points (1 px = 0.75 pt at 96 dpi)
PT_PER_PX = 0.75


def draw_mark(ax, mark, *, as_collection: bool = False) -> list:
    """Draw a bqplot ``Lines`` or ``Scatter`` mark on a matplotlib axes as the browser draws it: each line in
    its colour (``colors`` cycled), line style, width and opacity; each point in its colour, marker shape,
    size and outline. An invisible or empty mark draws nothing.

    Args:
        ax: a matplotlib ``Axes``.
        mark: a ``bq.Lines`` or ``bq.Scatter``.
        as_collection: lines as one ``LineCollection`` (many contour lines) instead of ``Line2D`` artists.

    Returns:
        the artists drawn.
    """
    from matplotlib.collections import LineCollection

    if not mark.visible:
        return []
    x, y = np.asarray(mark.x, dtype=float), np.asarray(mark.y, dtype=float)
    if x.size == 0 or y.size == 0:
        return []
    colors = list(mark.colors) or ["steelblue"]
    if isinstance(mark, bq.Scatter):
        stroke = mark.stroke or "none"
        size = np.sqrt(float(mark.default_size)) * PT_PER_PX
        return [ax.plot(x[i:i + 1], y[i:i + 1], MARKERS.get(mark.marker, "o"), color=colors[i % len(colors)],
                        mec=stroke, ms=size, mew=PT_PER_PX, zorder=3)[0] for i in range(len(x))]
    xs, ys = np.atleast_2d(x), np.atleast_2d(y)
    if xs.shape[0] == 1 and ys.shape[0] > 1:
        xs = np.repeat(xs, ys.shape[0], axis=0)
    opacities = list(mark.opacities) or [1.0]
    style = dict(ls=LINE_STYLES.get(mark.line_style, "-"), lw=float(mark.stroke_width) * PT_PER_PX)
    if as_collection:
        segments = [np.column_stack([px_, py_]) for px_, py_ in zip(xs, ys)]
        lines = LineCollection(segments, colors=[colors[k % len(colors)] for k in range(len(segments))],
                               alpha=float(opacities[0]), linestyles=style["ls"], linewidths=style["lw"])
        ax.add_collection(lines)
        return [lines]
    return [ax.plot(px_, py_, color=colors[k % len(colors)], alpha=float(opacities[k % len(opacities)]), **style)[0]
            for k, (px_, py_) in enumerate(zip(xs, ys))]
