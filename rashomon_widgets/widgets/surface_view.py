"""`SurfaceView`: a bqplot heatmap with contour lines of a loss grid and the current point marked."""
from __future__ import annotations

import bqplot as bq
import contourpy
import ipywidgets as widgets
import numpy as np
from traitlets import Bool, observe

from ..core import Surface
from ._drawable import check_surface, finite_point
from ._legend import TITLE_STYLE, VIEW_CLASS, legend_html, px, set_colour_ticks


def colour_values(loss: np.ndarray, log: bool) -> np.ndarray:
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

    The axes are labelled by what the plane's directions are (``set_labels``); the colour bar has at
    most four round ticks in a short exact format; what the overlays mean goes in an HTML legend under
    the figure (``set_legend``), never over the data. A surface with NaN or infinite losses, coordinates
    that are not finite, or a loss grid of the wrong shape is refused with a ``ValueError`` (see
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
        self._colour = bq.ColorScale(scheme="viridis")
        self.heatmap = bq.HeatMap(x=np.zeros(2), y=np.zeros(2), color=np.zeros((2, 2)),
                                  scales={"x": sx, "y": sy, "color": self._colour})
        self.contours = bq.Lines(x=[], y=[], scales={"x": sx, "y": sy}, colors=["white"], stroke_width=1,
                                 opacities=[0.6])
        self.marker = bq.Scatter(x=[0.0], y=[0.0], scales={"x": sx, "y": sy}, colors=["red"],
                                 default_size=80, stroke="white")
        self.extra = bq.Lines(x=[], y=[], scales={"x": sx, "y": sy}, colors=["white", "orange"],
                              line_style="dashed")
        self.colour_axis = bq.ColorAxis(scale=self._colour, orientation="vertical", side="right", label="loss",
                                        tick_format=".2f")
        axes = [bq.Axis(scale=sx, label=xlabel), bq.Axis(scale=sy, label=ylabel, orientation="vertical"),
                self.colour_axis]
        self.figure = bq.Figure(marks=[self.heatmap, self.contours, self.extra, self.marker], axes=axes,
                                title=title, title_style=dict(TITLE_STYLE),
                                fig_margin={"top": 40, "bottom": 50, "left": 60, "right": 115},  # room for the colour bar's label
                                layout=widgets.Layout(width=px(width), height=f"{height}px"))
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
        z = colour_values(loss, self.log_color)
        cx, cy = contour_segments(xs, ys, z)
        self.surface = surface
        with self.heatmap.hold_sync(), self.contours.hold_sync():
            self.heatmap.x, self.heatmap.y, self.heatmap.color = xs, ys, z
            self.contours.x, self.contours.y = cx, cy
        lo, hi = float(np.nanmin(z)), float(np.nanmax(z))
        with self._colour.hold_sync():
            self._colour.min, self._colour.max = lo, hi
        set_colour_ticks(self.colour_axis, lo, hi)
        self.colour_axis.label = "log10 loss" if self.log_color else "loss"
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
        """Draw the same picture on a matplotlib axes: filled contours (viridis, the same colour values and
        range), the overlay paths and the marker (for ``explorer.save``: PNG or SVG).

        Args:
            ax: a matplotlib ``Axes``.

        Returns:
            the colour mappable (for ``fig.colorbar``).

        Raises:
            ValueError: nothing shown yet.
        """
        if self.surface is None:
            raise ValueError("to_matplotlib: nothing shown yet; call view.update(surface) first")
        s = self.surface
        z = colour_values(s.loss, self.log_color)
        lo, hi = float(self._colour.min), float(self._colour.max)
        levels = np.linspace(lo, hi, 21) if hi > lo else 20
        filled = ax.contourf(s.xs, s.ys, z, levels=levels, cmap="viridis", vmin=lo, vmax=hi)
        colours, styles = list(self.extra.colors) or ["white"], self.extra.line_style
        paths_x, paths_y = np.atleast_2d(self.extra.x), np.atleast_2d(self.extra.y)
        for k, (px_, py_) in enumerate(zip(paths_x, paths_y) if paths_x.size else ()):
            ax.plot(px_, py_, color=colours[k % len(colours)], ls="--" if styles == "dashed" else "-", lw=1.5)
        ax.plot(self.marker.x, self.marker.y, "o", color="red", mec="white", ms=8)
        ax.set_xlabel(self.figure.axes[0].label)
        ax.set_ylabel(self.figure.axes[1].label)
        if self.figure.title:
            ax.set_title(self.figure.title, fontsize="medium")
        return filled
