"""`NullSpaceExplorer`: sliders along the Rashomon manifold's tangent (and, for contrast, along the
sharpest Hessian directions), with live 2-D and 3-D slices, the spectrum and the near-zero count."""
from __future__ import annotations

import time

import ipywidgets as widgets
import numpy as np
import torch

from ..core import Landscape, Plane
from ..core.geometry.manifold import retract, tangent_basis
from ._common import ExplorerMixin, Superseded, tagged
from ._worker import LatestWorker
from .spectrum_view import SpectrumView
from .surface3d_view import Surface3DView
from .surface_view import SurfaceView


class NullSpaceExplorer(ExplorerMixin, widgets.VBox):
    """Walk the Rashomon manifold of ``ls`` with sliders.

    Each "null" slider moves the point along an orthonormal direction of the manifold's tangent (the
    null space of the Hessian for small models, of the Jacobian for large ones, see
    :mod:`rashomon_widgets.core.geometry.manifold`) and re-projects it onto the manifold, so the loss stays put
    however far you go. Each "top" slider moves along a top Hessian eigenvector: the loss rises as a
    parabola. The loss readout, the 2-D and 3-D slices through the current point, the spectrum and the
    near-zero count follow. Work runs off the UI thread, the latest slider value wins, a coarse grid is
    drawn first and refined when idle, and errors appear inside the widget.

    Args:
        ls: the :class:`~rashomon_widgets.Landscape`.
        theta: the starting point (default: the trained parameters).
        num_null, num_top: how many sliders of each kind.
        slider_range: sliders run over ``[-slider_range, slider_range]``.
        span: half-width of the 2-D/3-D slice (a FloatText in the widget).
        resolution, coarse: grid sizes of the refined and the first, coarse, slice (refined: 31 for
            exact models, 21 for matrix-free ones, where every grid point is a full forward pass;
            coarse: 11 and 7).
        exact: use the exact dense spectrum and null space; default for small models (``ls.policy.is_small``).

    Example:
        >>> explorer = rw.NullSpaceExplorer(ls)       # doctest: +SKIP
        >>> explorer                                  # shows the widget in Jupyter   # doctest: +SKIP
        >>> explorer.point                            # the current parameter vector  # doctest: +SKIP
    """

    def __init__(self, ls: Landscape, theta: torch.Tensor | None = None, *, num_null: int = 3,
                 num_top: int = 1, slider_range: float = 2.0, span: float = 1.0, resolution: int | None = None,
                 coarse: int | None = None, log_color: bool = True, exact: bool | None = None, seed: int = 0):
        if not isinstance(ls, Landscape):
            raise TypeError(f"ls: expected an rw.Landscape, got {type(ls).__name__}")
        self.ls = ls
        self.theta0 = ls.theta if theta is None else ls.check_theta(theta).clone()
        self.exact = ls.policy.is_small(ls.num_params) if exact is None else bool(exact)
        self.resolution = int(resolution or (31 if self.exact else 21))
        self.coarse = int(coarse or (11 if self.exact else 7))
        self.loss0 = ls.loss(self.theta0)
        self.behaviour0 = ls.outputs(self.theta0)
        self.null_dirs = tangent_basis(ls, self.theta0, num_null, seed=seed, max_iter=20) if num_null else self.theta0[:, None][:, :0]
        self.top_values, self.top_dirs = ls.eigs(num_top, "largest", self.theta0) if num_top else (None, self.theta0[:, None][:, :0])
        self.point = self.theta0.clone()
        self.history: list[torch.Tensor] = []   # every point reached, so nothing is lost to a crash

        names = [f"null {i + 1}" for i in range(self.null_dirs.shape[1])]
        names += [f"top {i + 1}" for i in range(self.top_dirs.shape[1])]
        self.directions = torch.cat([self.null_dirs, self.top_dirs], 1)
        self.sliders = [tagged(widgets.FloatSlider(0.0, min=-slider_range, max=slider_range,
                                                    step=slider_range / 50, description=n,
                                                    continuous_update=True, readout_format=".2f"), "rw-slider")
                        for n in names]
        choice = list(zip(names, range(len(names))))
        self.x_dir = widgets.Dropdown(options=choice, value=0, description="x axis",
                                      layout=widgets.Layout(width="180px"))
        self.y_dir = widgets.Dropdown(options=choice, value=len(names) - 1 if len(names) > 1 else 0,
                                      description="y axis", layout=widgets.Layout(width="180px"))
        self.span = tagged(widgets.FloatText(span, description="span", layout=widgets.Layout(width="160px")), "rw-span")
        self.log_toggle = widgets.Checkbox(log_color, description="log colour", indent=False)
        self.reset_button = tagged(widgets.Button(description="reset", icon="undo"), "rw-reset")
        self.loss_html = tagged(widgets.HTML(), "rw-loss")
        self.error_html = tagged(widgets.HTML(), "rw-error")
        self.status_html = tagged(widgets.HTML(), "rw-status")
        self.surface2d = SurfaceView(log_color=log_color, title="slice through the current point")
        self.surface3d = Surface3DView(log_color=log_color)
        self.spectrum = SpectrumView()
        self._worker = LatestWorker(self._show_error)
        self._span_ok = float(span)

        for s in self.sliders:
            s.observe(self._request, "value")
        for w in (self.x_dir, self.y_dir, self.span):
            w.observe(self._request, "value")
        self.log_toggle.observe(self._set_log, "value")
        self.reset_button.on_click(lambda _: self.reset())
        controls = widgets.VBox([widgets.HTML(f"<b>Rashomon manifold explorer</b> &middot; P = {ls.num_params:,} "
                                              f"&middot; {'exact' if self.exact else 'matrix-free'} tangent"),
                                 *self.sliders, widgets.HBox([self.x_dir, self.y_dir]),
                                 widgets.HBox([self.span, self.log_toggle, self.reset_button]),
                                 self.loss_html, self.status_html, self.error_html],
                                layout=widgets.Layout(width="420px"))
        super().__init__([widgets.HBox([controls, self.spectrum]),
                          widgets.HBox([self.surface2d, self.surface3d])])
        self.add_class("rw-explorer")
        self._request()

    # ------------------------------------------------------------------ actions
    def reset(self) -> None:
        """Put every slider back to 0: the starting point."""
        for s in self.sliders:
            s.unobserve(self._request, "value")
            s.value = 0.0
            s.observe(self._request, "value")
        self._request()

    def _request(self, change=None) -> None:
        # a bad span is reported and ignored: the sliders keep working with the last good one
        self._span_ok, go_on = self._span_value(change, self._span_ok, "span")
        if not go_on:
            return
        coeffs = np.array([s.value for s in self.sliders], dtype=float)
        self._worker.submit(lambda current: self._update(coeffs, self.x_dir.value, self.y_dir.value,
                                                         self._span_ok, current))

    # ------------------------------------------------------------------ the work (worker thread)
    def _target(self, coeffs: np.ndarray, retracted: bool) -> torch.Tensor:
        c = torch.as_tensor(coeffs, dtype=self.ls.dtype, device=self.ls.device)
        k = self.null_dirs.shape[1]
        on_manifold = self.theta0 + self.null_dirs @ c[:k]
        if retracted and k and bool(c[:k].abs().max() > 0):
            on_manifold, _ = retract(self.ls, on_manifold, self.behaviour0,
                                     max_steps=10 if self.exact else 2, lsqr_iter=10)
        return on_manifold + self.top_dirs @ c[k:]

    def _show_loss(self, point, note=""):
        moved = float((point - self.theta0).norm())
        self.loss_html.value = (f"loss = <b>{self.ls.loss(point):.4e}</b> &middot; at start {self.loss0:.4e} "
                                f"&middot; |&theta; &minus; &theta;<sub>0</sub>| = {moved:.3f}{note}")

    def _update(self, coeffs, ix, iy, span, current) -> None:
        started = time.perf_counter()
        busy = self._busy_timer(current)
        try:
            if ix == iy:
                raise ValueError("x axis and y axis: expected two different directions, got the same one")
            # small models: re-project at once (milliseconds); large ones: first frame on the tangent
            # step, re-projection (Jacobian products) when idle
            point = self._target(coeffs, retracted=self.exact)
            if not current():
                return
            self.point = point
            self.history.append(point)
            self._show_loss(point)
            plane = Plane(point, self.directions[:, ix].clone(), self.directions[:, iy].clone())
            for stage, res in (("coarse", self.coarse), ("fine", self.resolution)):
                if stage == "fine" and self.exact:
                    self._spectrum(point)  # exact spectra of small models cost milliseconds
                if not current():
                    return
                surf = self.ls.surface(plane, span=float(span), resolution=res,
                                       progress=lambda d, n: self._progress(started, d, n, current))
                self.surface2d.update(surf)
                self.surface3d.update(surf)
            if not self.exact and current():
                self._spectrum(point)
            if not self.exact and np.any(coeffs[: self.null_dirs.shape[1]] != 0) and current():
                point = self._target(coeffs, retracted=True)
                if not current():
                    return
                self.point = point
                self.history.append(point)
                self._show_loss(point, " (re-projected)")
            self._finished(started)
        finally:
            busy.cancel()

    def _progress(self, started, done, total, current) -> None:
        if not current():
            raise Superseded  # a newer slider value arrived: drop this grid half-way
        if time.perf_counter() - started > 0.5 and done < total:
            self.status_html.value = f"&#9203; loss surface {100 * done // total}%"

    def _spectrum(self, point) -> None:
        if self.exact:
            self.spectrum.show_spectrum(self.ls.spectrum(point))
        else:
            grid, dens = self.ls.density(point, num_vectors=2, num_steps=20, deflation_steps=0)
            top = float(np.abs(grid).max())
            self.spectrum.show_density(grid, dens, self.ls.num_params, band=1e-3 * top)
