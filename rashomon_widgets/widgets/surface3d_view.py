"""`Surface3DView`: the same loss grid as an ipyvolume surface, with the current point marked."""
from __future__ import annotations

import ipyvolume as ipv
import ipywidgets as widgets
import numpy as np

from ..core import Surface
from .surface_view import colour_values


def grid_triangles(ny: int, nx: int) -> np.ndarray:
    """Triangles (2 per cell) of a row-major ny x nx grid, as ipyvolume wants them."""
    idx = np.arange(ny * nx).reshape(ny, nx)
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]
    return np.concatenate([np.stack([a, b, d], -1).reshape(-1, 3),
                           np.stack([a, d, c], -1).reshape(-1, 3)]).astype(np.uint32)


_OCTAHEDRON = np.array([[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4], [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]],
                       dtype=np.uint32)


class Surface3DView(widgets.VBox):
    """A loss grid drawn in 3-D (height = loss, or log10 loss), updated in place for live sliders.

    The figure's tween animation is off (``animation = 0``) so every update is drawn at once, and the
    mesh arrays are set flattened, as ipyvolume stores them. Coordinates are scaled into the unit box.
    """

    def __init__(self, surface: Surface | None = None, *, log_color: bool = False, **kwargs):
        self.log_color = log_color
        self.figure = ipv.Figure(animation=0, width=380, height=380)
        self.figure.xlabel, self.figure.ylabel, self.figure.zlabel = "direction 1", "loss", "direction 2"
        self.mesh = ipv.Mesh(x=np.zeros(4), y=np.zeros(4), z=np.zeros(4),
                             triangles=grid_triangles(2, 2), color="#3b75af")
        # the current point: a small red octahedron (an ipyvolume Scatter does not serialise its
        # default colours under ipykernel 7, so the marker is a mesh)
        self.marker = ipv.Mesh(x=np.zeros(6), y=np.zeros(6), z=np.zeros(6), triangles=_OCTAHEDRON, color="red")
        self.figure.meshes = [self.mesh, self.marker]
        self.figure.xlim = self.figure.ylim = self.figure.zlim = (0.0, 1.0)
        self.figure.add_class("rw-surface3d")
        self._scale = None
        super().__init__([self.figure], **kwargs)
        if surface is not None:
            self.update(surface)

    def _unit(self, xs, ys, h):
        (x0, x1), (y0, y1), (h0, h1) = self._scale
        return ((np.asarray(xs) - x0) / (x1 - x0 or 1.0), (np.asarray(ys) - y0) / (y1 - y0 or 1.0),
                (np.asarray(h) - h0) / (h1 - h0 or 1.0))

    def update(self, surface: Surface, point: tuple[float, float] | None = None) -> None:
        """Show ``surface``; the marker goes to ``point`` (default the origin) on the surface."""
        h = colour_values(surface.loss, self.log_color)
        self._surface, self._h = surface, h
        self._scale = ((surface.xs.min(), surface.xs.max()), (surface.ys.min(), surface.ys.max()),
                       (float(np.nanmin(h)), float(np.nanmax(h))))
        gx, gy = np.meshgrid(surface.xs, surface.ys)
        ux, uy, uh = self._unit(gx, gy, h)
        with self.mesh.hold_sync():
            self.mesh.triangles = grid_triangles(*h.shape)
            self.mesh.x, self.mesh.y, self.mesh.z = ux.ravel(), uh.ravel(), uy.ravel()
        self.set_point(*(point if point is not None else (0.0, 0.0)))

    def set_point(self, x: float, y: float, height: float | None = None) -> None:
        """Move the marker to plane coordinates ``(x, y)``; its height is read off the grid."""
        if self._scale is None:
            return
        s = self._surface
        if height is None:
            j = int(np.abs(s.xs - x).argmin())
            i = int(np.abs(s.ys - y).argmin())
            height = self._h[i, j]
        ux, uy, uh = self._unit([x], [y], [height])
        r = 0.03
        offsets = np.array([[r, 0, 0], [-r, 0, 0], [0, r, 0], [0, -r, 0], [0, 0, r], [0, 0, -r]])
        with self.marker.hold_sync():
            self.marker.x = ux[0] + offsets[:, 0]
            self.marker.y = uh[0] + r + offsets[:, 1]
            self.marker.z = uy[0] + offsets[:, 2]
