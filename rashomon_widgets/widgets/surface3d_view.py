"""`Surface3DView`: the same loss grid as an ipyvolume surface in real units, coloured by viridis on the
2-D view's colour values, with the current point marked.

What ipyvolume 0.6.3 allows (read in its bundled JavaScript, ``share/jupyter/nbextensions/ipyvolume/
index.js``): the figure's ``style`` dict sets ``background-color`` (parsed by ``THREE.Color``, cleared
with alpha 1, so no transparent or ``rgba`` background and no CSS variable: it cannot follow the
JupyterLab theme), ``axes.color``, ``axes.label.color``, ``axes.ticklabel.color`` (also per axis,
``axes.x.label.color`` ...), ``axes.visible`` and ``box.visible``. Axis labels are sprites of a fixed
size relative to the box (a 100 px font scaled by 0.004/3 of the box: about 30 px high in a 380-px
figure), so even "null dir 2" is drawn huge and clipped; tick labels are a third of that (about 9 px,
cut by an alpha test: in Chromium they do not show at all) and always formatted ``".1f"`` (a range of
0.0003 reads "0.0 0.0 0.0"). Labels sit at the middle of the box edges on the low side of each axis
(x at y = z = low, the vertical y at x = z = low, z at x = y = low), whatever the camera does.

Hence: the numbers are in an HTML caption under the scene (each axis' name and range, and the height's
range), the scene's tick labels are turned off (``axes.<x|y|z>.ticklabel.visible``), and its axes say
only "x", "y" and "h" (the height: loss or log10 loss, named in the caption; a longer label such as
"log10 loss" is drawn across the box's bottom edge). The plane's x runs along ipyvolume's z axis and its y along
ipyvolume's x axis, and the camera looks from above the low side of both (:data:`CAMERA_POSITION`): the
three labelled edges face the viewer (the height's label under the front vertical edge, in front of the
surface, "x" and "y" by the front bottom edges, outside the box), and the surface is the 2-D view's map
seen from its lower-left corner, not its mirror image (x to the right, y away from the viewer). (An
empty label stops ipyvolume drawing the scene at all: a zero-width text canvas.) The background
is dark grey with light text, legible on a white page and at home in the dark theme.
"""
from __future__ import annotations

import html

import ipyvolume as ipv
import ipywidgets as widgets
import numpy as np
from matplotlib.ticker import MaxNLocator

from ..core import Surface
from ._drawable import check_surface, finite_point, fits_webgl
from ._legend import NOTE_STYLE, VIEW_CLASS, d3_exponent, viridis_rgb
from .surface_view import color_values

#: no tick labels in the scene (ipyvolume looks their visibility up per axis only): the caption has the numbers
_NO_TICK_LABELS = {axis: {"ticklabel": {"visible": False}} for axis in ("x", "y", "z")}
#: figure styles: "dark" (the default; legible on white and dark pages) and "light"
STYLES = {
    "dark": {"background-color": "#2b2b2b", "box": {"visible": True},
             "axes": {"visible": True, "color": "#bdbdbd", "label": {"color": "#f5f5f5"},
                      "ticklabel": {"color": "#e0e0e0"}, **_NO_TICK_LABELS}},
    "light": {"background-color": "#ffffff", "box": {"visible": True},
              "axes": {"visible": True, "color": "#424242", "label": {"color": "#111111"},
                       "ticklabel": {"color": "#333333"}, **_NO_TICK_LABELS}},
}
#: where the camera looks from (at the box's centre): above the low corner of both plane axes (ipyvolume's
#: x = z = low), where the axis labels are, from about 36 degrees up. Seen in Chromium: lower, the height's
#: label (drawn from the front vertical edge to the right, near its foot) covers the "x" label; from here the
#: three labels sit apart under the box's front corner
CAMERA_POSITION = (-1.63, 2.06, -2.32)
#: the scene's label of the vertical axis (the caption says what the height is)
SCENE_HEIGHT_LABEL = "h"


def grid_triangles(ny: int, nx: int) -> np.ndarray:
    """Triangles (2 per cell) of a row-major ny x nx grid, as ipyvolume wants them."""
    idx = np.arange(ny * nx).reshape(ny, nx)
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]
    return np.concatenate([np.stack([a, b, d], -1).reshape(-1, 3),
                           np.stack([a, d, c], -1).reshape(-1, 3)]).astype(np.uint32)


_OCTAHEDRON = np.array([[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4], [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]],
                       dtype=np.uint32)
#: the marker's half-size as a share of each axis' range
MARKER_SIZE = 0.03


def _limits(values) -> tuple[float, float]:
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    if not hi > lo:
        pad = max(abs(lo), 1.0) * 1e-3
        lo, hi = lo - pad, hi + pad
    return lo, hi


def _round_limits(lo: float, hi: float) -> tuple[float, float]:
    """``[lo, hi]`` widened to round numbers (the outer ticks of a 5-tick scale), so that the small changes
    of a live slider leave the height axis, and the scene, as they are."""
    ticks = MaxNLocator(nbins=10).tick_values(lo, hi)
    return float(min(ticks[0], lo)), float(max(ticks[-1], hi))


def _number(value: float) -> str:
    """A range's end for the caption: 3 significant digits, a true minus sign."""
    return d3_exponent(f"{value:.3g}").replace("-", "&minus;")


class Surface3DView(widgets.VBox):
    """A loss grid drawn in 3-D, updated in place for live sliders.

    ipyvolume's z and x axes are the plane's x and y directions and its vertical y axis the height: the
    loss, or log10 loss with ``log_color`` (the same values the 2-D view colours by). The axes' limits are
    the data's ranges, stated in the caption under the scene (ipyvolume's own tick labels are unreadable
    and turned off); the surface's vertex colours are viridis over that height range, as in the 2-D view. The
    figure's tween animation is off (``animation = 0``) so every update is drawn at once, and the mesh arrays
    are set flattened, as ipyvolume stores them. See the module docstring for what ipyvolume's styles allow
    (``theme="dark"`` or ``"light"``). A surface with NaN or infinite losses, coordinates that are not finite,
    or a loss grid of the wrong shape is refused with a ``ValueError`` (see :meth:`update`), never sent to the browser.

    Example:
        >>> view = rw.Surface3DView(ls.surface(rw.Plane.random(ls), span=1.0), log_color=True)  # doctest: +SKIP
        >>> view.set_labels("null 1", "null 2")                                           # doctest: +SKIP
    """

    def __init__(self, surface: Surface | None = None, *, log_color: bool = False, xlabel: str = "dir 1",
                 ylabel: str = "dir 2", theme: str = "dark", size: int = 380, **kwargs):
        if theme not in STYLES:
            raise ValueError(f"theme: expected one of {', '.join(map(repr, STYLES))}, got {theme!r}")
        self.log_color = log_color
        self.figure = ipv.Figure(animation=0, width=min(int(size), 440), height=int(size))
        self.figure.style = STYLES[theme]
        self.figure.camera.position = CAMERA_POSITION
        self.figure.xlabel, self.figure.zlabel = "y", "x"   # the plane's y along ipyvolume's x, its x along z
        self.mesh = ipv.Mesh(x=np.zeros(4), y=np.zeros(4), z=np.zeros(4),
                             triangles=grid_triangles(2, 2), color="#3b75af")
        # the current point: a small red octahedron (an ipyvolume Scatter does not serialise its
        # default colours under ipykernel 7, so the marker is a mesh)
        self.marker = ipv.Mesh(x=np.zeros(6), y=np.zeros(6), z=np.zeros(6), triangles=_OCTAHEDRON, color="red")
        self.figure.meshes = [self.mesh, self.marker]
        self.figure.xlim = self.figure.ylim = self.figure.zlim = (0.0, 1.0)
        self.figure.add_class("rw-surface3d")
        self._labels = (xlabel, ylabel)
        self._surface = self._h = None
        self.caption = widgets.HTML("")
        super().__init__([self.figure, self.caption], **kwargs)
        self.add_class(VIEW_CLASS)
        self.set_labels(xlabel, ylabel)
        if surface is not None:
            self.update(surface)

    @property
    def height_label(self) -> str:
        """What the vertical axis shows: ``"log10 loss"`` or ``"loss"``."""
        return "log10 loss" if self.log_color else "loss"

    def set_labels(self, xlabel: str, ylabel: str) -> None:
        """Name the plane's two directions: in the caption under the figure (the scene's axes say "x"
        and "y", as ipyvolume draws labels too large for longer names)."""
        self._labels = (str(xlabel), str(ylabel))
        self._caption()

    def _caption(self) -> None:
        """The caption: each axis' name and range (the scene's own tick labels are off), the height's range."""
        self.figure.ylabel = SCENE_HEIGHT_LABEL
        x, y = (html.escape(t) for t in self._labels)
        ranges = {"x": "", "y": "", "h": ""}
        if self._surface is not None:
            (x0, x1), (y0, y1) = self.figure.zlim, self.figure.xlim
            h0, h1 = float(np.min(self._h)), float(np.max(self._h))
            ranges = {"x": f" from {_number(x0)} to {_number(x1)}", "y": f" from {_number(y0)} to {_number(y1)}",
                      "h": f" from {_number(h0)} to {_number(h1)}"}
        self.caption.value = (f"<div class='rw-caption3d' style='font-size:12px;line-height:1.4'><b>x</b>: {x}"
                              f"{ranges['x']} &middot; <b>y</b>: {y}{ranges['y']} &middot; "
                              "<b>h</b> (height) and colour: "
                              f"{self.height_label}{ranges['h']} (viridis)"
                              f"<div style='{NOTE_STYLE}'>x runs to the right, y away from you; drag to turn, "
                              "scroll to zoom</div></div>")

    def set_theme(self, theme: str) -> None:
        """``"dark"`` (dark grey background, light text) or ``"light"`` (white background, dark text)."""
        if theme not in STYLES:
            raise ValueError(f"theme: expected one of {', '.join(map(repr, STYLES))}, got {theme!r}")
        self.figure.style = STYLES[theme]

    def check(self, surface: Surface) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What :meth:`update` would draw, or its refusal, without drawing: an explorer checks here first so
        that its 2-D and 3-D views show the same grid or both keep the last one.

        Besides :func:`check_surface`'s rules, coordinates and heights (loss or log10 loss) must lie within
        about ±8.5e37 (:data:`WEBGL_LIMIT`): ipyvolume sends them as float32, where larger values are inf.

        Args:
            surface: an :class:`rw.Surface`.

        Returns:
            ``(xs, ys, heights)`` as float64 arrays.

        Raises:
            TypeError, ValueError: as :meth:`update`.
        """
        xs, ys, loss = check_surface(surface)
        h = color_values(loss, self.log_color)
        fits_webgl("surface", "grid coordinates", np.concatenate([xs, ys]), "use a smaller span or margin")
        fits_webgl("surface", f"heights ({self.height_label})", h,
                   "use a smaller span" + ("" if self.log_color else ", or log colour"))
        return xs, ys, h

    def update(self, surface: Surface, point: tuple[float, float] | None = None) -> None:
        """Show ``surface``; the marker goes to ``point`` (default the origin) on the surface.

        A grid that cannot be drawn is refused before anything changes (the view keeps the last surface):
        the same rule as :meth:`SurfaceView.update`.

        Raises:
            TypeError: not an :class:`rw.Surface`.
            ValueError: a loss grid whose shape is not ``(len(ys), len(xs))`` (the message names both
                shapes), coordinates that are not finite, or NaN or infinite losses (see
                :func:`check_surface`): no height, no colour, and no value the browser could be sent; or
                coordinates or heights beyond float32's range (see :meth:`check`).
        """
        xs, ys, h = self.check(surface)
        self._surface, self._h = surface, h
        gx, gy = np.meshgrid(xs, ys)
        hmin, hmax = _limits(h)
        limits = {"zlim": list(_limits(xs)), "xlim": list(_limits(ys)),   # plane x along z, plane y along x
                  "ylim": list(_round_limits(hmin, hmax))}
        changed = {k: v for k, v in limits.items() if list(getattr(self.figure, k)) != v}
        if changed:  # new limits make the browser redraw the whole scene, not just the mesh: only when they move
            with self.figure.hold_sync():
                for k, v in changed.items():
                    setattr(self.figure, k, v)
        self._caption()
        with self.mesh.hold_sync():
            if self.mesh.x.shape != (h.size,):  # the grid's shape changed (coarse <-> refined): new triangles
                self.mesh.triangles = grid_triangles(*h.shape)
            self.mesh.x, self.mesh.y, self.mesh.z = gy.ravel(), h.ravel(), gx.ravel()
            self.mesh.color = viridis_rgb(h, hmin, hmax).astype(np.float32)
        self.set_point(*(point if point is not None else (0.0, 0.0)))

    def set_point(self, x: float, y: float, height: float | None = None) -> None:
        """Move the marker to plane coordinates ``(x, y)``; its height is read off the grid.

        Raises:
            ValueError: coordinates (or a height) that are not finite (the marker stays where it was).
        """
        x, y = finite_point(x, y)
        if height is not None and not np.isfinite(float(height)):
            raise ValueError(f"height: expected a finite number, got {height!r}")
        if self._surface is None:
            return
        s = self._surface
        if height is None:
            j = int(np.abs(s.xs - x).argmin())
            i = int(np.abs(s.ys - y).argmin())
            height = self._h[i, j]
        ranges = [hi - lo for lo, hi in (self.figure.xlim, self.figure.ylim, self.figure.zlim)]
        ry, rh, rx = (MARKER_SIZE * r for r in ranges)   # ipyvolume's x is the plane's y, its z the plane's x
        offsets = np.array([[ry, 0, 0], [-ry, 0, 0], [0, rh, 0], [0, -rh, 0], [0, 0, rx], [0, 0, -rx]])
        with self.marker.hold_sync():
            self.marker.x = float(y) + offsets[:, 0]
            self.marker.y = float(height) + rh + offsets[:, 1]
            self.marker.z = float(x) + offsets[:, 2]

    def to_matplotlib(self, ax3d):
        """Draw the surface on a matplotlib 3-D axes (``projection="3d"``): ``plot_surface`` with viridis
        over the same height range, and the marker.

        Args:
            ax3d: a matplotlib ``Axes3D``.

        Returns:
            the surface artist.

        Raises:
            ValueError: nothing shown yet.
        """
        if self._surface is None:
            raise ValueError("to_matplotlib: nothing shown yet; call view.update(surface) first")
        s, h = self._surface, self._h
        gx, gy = np.meshgrid(s.xs, s.ys)
        lo, hi = _limits(h)
        art = ax3d.plot_surface(gx, gy, h, cmap="viridis", vmin=lo, vmax=hi, linewidth=0, antialiased=True)
        my, mh, mx = float(np.mean(self.marker.x)), float(np.mean(self.marker.y)), float(np.mean(self.marker.z))
        ax3d.scatter([mx], [my], [mh], color="red", s=30, depthshade=False)
        ax3d.set_xlabel(self._labels[0])
        ax3d.set_ylabel(self._labels[1])
        ax3d.set_zlabel(self.height_label)
        return art
