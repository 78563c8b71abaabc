"""`CurveExplorer`: a t slider walks a curve between two minima; the contour plane through the endpoints and
the bend, the 3-D surface, the loss and accuracy over t and the Hessian spectrum at curve(t) follow."""
from __future__ import annotations

import time

import bqplot as bq
import ipywidgets as widgets
import numpy as np
import torch

from ..core import Landscape
from ..core.curvature._data import as_batches
from ..core.geometry.curves import Curve, check_curve_for
from ..core.geometry.diagnostics import _auto_accuracy, _evaluate
from ._common import ExplorerMixin, tagged
from ._worker import LatestWorker
from .spectrum_view import SpectrumView
from .surface3d_view import Surface3DView
from .surface_view import SurfaceView


class CurveExplorer(ExplorerMixin, widgets.VBox):
    """Walk a fitted curve between two minima with a t slider.

    The 2-D view is the loss over the plane through theta_a, theta_b and the curve's main bend
    (Garipov et al.'s coordinates: theta_a at the origin, the straight line along the x axis) with the
    curve drawn solid and the straight line dashed; the 3-D view is the same grid as a surface. A red
    marker sits at curve(t) in both. Beside them: train (and test) loss and accuracy over t, with the loss
    on the straight line dashed for contrast and the current t marked, and the Hessian spectrum at
    curve(t) (exact for small models, a stochastic Lanczos density for large ones). Work runs off the UI
    thread (the latest slider value wins), the surface is drawn coarse first and refined, and errors
    appear inside the widget.

    Args:
        ls: the :class:`~rashomon_widgets.Landscape`.
        curve: an :class:`~rashomon_widgets.BezierCurve` or :class:`~rashomon_widgets.PolyChain` with at
            least one bend off the straight line (fit it first with :func:`~rashomon_widgets.fit_curve`).
        test_data: optional ``(inputs, targets)`` for the test loss and accuracy.
        t: the starting t.
        margin: the plane's margin around the three points (share of their spread; the ``span`` box).
        resolution, coarse: grid sizes of the refined and the first, coarse, surface (refined: 31 for
            exact models, 25 for matrix-free ones).
        num_t: points of the loss/accuracy profile over t.
        exact: exact dense spectrum; default for small models (``ls.policy.is_small``).

    Example:
        >>> explorer = rw.CurveExplorer(ls, curve, test_data=split.test)    # doctest: +SKIP
        >>> explorer.slider.value = 0.25; explorer.wait()                   # doctest: +SKIP
    """

    def __init__(self, ls: Landscape, curve: Curve, *, test_data=None, t: float = 0.5, margin: float = 0.2,
                 resolution: int | None = None, coarse: int = 11, num_t: int = 41, log_color: bool = True,
                 exact: bool | None = None, accuracy="auto"):
        if not isinstance(ls, Landscape):
            raise TypeError(f"ls: expected an rw.Landscape, got {type(ls).__name__}")
        check_curve_for(ls, curve)
        if not (isinstance(t, (int, float)) and 0 <= t <= 1):
            raise ValueError(f"t: expected a number in [0, 1], got {t!r}")
        self.ls, self.curve = ls, curve
        self.plane = curve.plane(margin)  # raises for a curve still on the straight line
        self.exact = ls.policy.is_small(ls.num_params) if exact is None else bool(exact)
        self.resolution = int(resolution or (31 if self.exact else 25))
        self.coarse = int(coarse)
        self.num_t = int(num_t)
        self.t0, self.margin0 = float(t), float(margin)
        self.test_batches = as_batches(test_data, ls.device) if test_data is not None else None
        if accuracy == "auto":
            accuracy = _auto_accuracy(ls.forward(ls.theta, ls.batches[0][0][:2]), ls.batches[0][1][:2])
        self.accuracy = accuracy
        self.point = curve(self.t0)
        self.history: list[float] = []  # every t drawn
        self.profile: dict[str, np.ndarray] | None = None
        self._surfaces: dict[tuple, object] = {}
        self._spectra: dict[float, np.ndarray] = {}
        self._drawn: tuple | None = None
        self._started = time.perf_counter()

        self.slider = tagged(widgets.FloatSlider(self.t0, min=0.0, max=1.0, step=0.01, description="t",
                                                  continuous_update=True, readout_format=".2f"), "rw-slider")
        self.span = tagged(widgets.FloatText(self.margin0, description="margin",
                                              layout=widgets.Layout(width="160px")), "rw-span")
        self.log_toggle = widgets.Checkbox(log_color, description="log colour", indent=False)
        self.reset_button = tagged(widgets.Button(description="reset", icon="undo"), "rw-reset")
        self.loss_html = tagged(widgets.HTML(), "rw-loss")
        self.error_html = tagged(widgets.HTML(), "rw-error")
        self.status_html = tagged(widgets.HTML("&#9203; computing&hellip;"), "rw-status")
        self.surface2d = SurfaceView(log_color=log_color, title="loss on the plane through the endpoints and the bend",
                                     xlabel="straight-line direction", ylabel="detour direction")
        self.surface3d = Surface3DView(log_color=log_color)
        self.spectrum = SpectrumView()
        self._add_curve_marks()
        self._build_profile_figure()
        self._worker = LatestWorker(self._show_error)
        self._margin_ok = self.margin0

        self.slider.observe(self._request, "value")
        self.span.observe(self._request, "value")
        self.log_toggle.observe(self._set_log, "value")
        self.reset_button.on_click(lambda _: self.reset())
        header = widgets.HTML(f"<b>Curve explorer</b> &middot; P = {ls.num_params:,} &middot; "
                              f"{type(curve).__name__} with {curve.num_bends} bend(s)")
        controls = widgets.VBox([header, self.slider, widgets.HBox([self.span, self.log_toggle, self.reset_button]),
                                 self.loss_html, self.status_html, self.error_html],
                                layout=widgets.Layout(width="420px"))
        super().__init__([widgets.HBox([controls, self.profile_figure]),
                          widgets.HBox([self.surface2d, self.surface3d, self.spectrum])])
        self.add_class("rw-explorer")
        self.add_class("rw-curve-explorer")
        self._request()

    # ------------------------------------------------------------------ layout pieces
    def _add_curve_marks(self) -> None:
        view = self.surface2d
        scales = {"x": view.marker.scales["x"], "y": view.marker.scales["y"]}
        ts = np.linspace(0.0, 1.0, 101)
        self.curve_xy = self.plane.coordinates(self.curve.points(ts))
        ends = self.plane.coordinates(torch.stack([self.curve.theta_a, self.curve.theta_b]))
        self.line_xy = ends
        self.curve_mark = bq.Lines(x=self.curve_xy[:, 0], y=self.curve_xy[:, 1], scales=scales,
                                   colors=["orange"], stroke_width=2.5)
        bend_xy = self.plane.coordinates(self.curve.main_bend()[None])
        self.points_mark = bq.Scatter(x=[ends[0, 0], ends[1, 0], bend_xy[0, 0]],
                                      y=[ends[0, 1], ends[1, 1], bend_xy[0, 1]], scales=scales,
                                      colors=["white"], default_size=40, marker="diamond")
        view.draw_paths([ends])  # the dashed straight line
        marks = list(view.figure.marks)
        view.figure.marks = marks[:-1] + [self.curve_mark, self.points_mark, marks[-1]]

    def _build_profile_figure(self) -> None:
        sx = bq.LinearScale(min=0.0, max=1.0)
        self._loss_scale = bq.LogScale()
        self._acc_scale = bq.LinearScale(min=0.0, max=1.0)
        ones = np.ones(2)
        self.loss_lines = bq.Lines(x=np.array([0.0, 1.0]), y=ones, scales={"x": sx, "y": self._loss_scale},
                                   colors=["#3b75af", "#ef8636"], stroke_width=2, labels=["train loss"],
                                   display_legend=True)
        self.line_loss_mark = bq.Lines(x=np.array([0.0, 1.0]), y=ones, scales={"x": sx, "y": self._loss_scale},
                                       colors=["#888888"], line_style="dashed", labels=["straight line"],
                                       display_legend=True)
        self.acc_lines = bq.Lines(x=np.array([0.0, 1.0]), y=ones, scales={"x": sx, "y": self._acc_scale},
                                  colors=["#3b75af", "#ef8636"], line_style="dotted", labels=["accuracy"])
        self.t_mark = bq.Lines(x=[self.t0, self.t0], y=[0.0, 1.0], scales={"x": sx, "y": self._acc_scale},
                               colors=["red"], stroke_width=1.5)
        axes = [bq.Axis(scale=sx, label="t"),
                bq.Axis(scale=self._loss_scale, label="loss (log)", orientation="vertical"),
                bq.Axis(scale=self._acc_scale, label="accuracy (dotted)", orientation="vertical", side="right")]
        self.profile_figure = bq.Figure(marks=[self.loss_lines, self.line_loss_mark, self.acc_lines, self.t_mark],
                                        axes=axes, title="along the curve", legend_location="top-left",
                                        fig_margin={"top": 40, "bottom": 50, "left": 70, "right": 60},
                                        layout=widgets.Layout(width="460px", height="300px"))
        self.profile_figure.add_class("rw-curve-profile")

    # ------------------------------------------------------------------ actions
    def reset(self) -> None:
        """Back to the starting t and margin."""
        for w, v in ((self.slider, self.t0), (self.span, self.margin0)):
            w.unobserve(self._request, "value")
            w.value = v
            w.observe(self._request, "value")
        self._request()

    def _request(self, change=None) -> None:
        # a bad margin is reported and ignored: the t slider keeps working with the last good one
        self._margin_ok, go_on = self._span_value(change, self._margin_ok, "span", strict=False)
        if not go_on:
            return
        t, margin, log = self.slider.value, self._margin_ok, self.log_toggle.value
        self._worker.submit(lambda current: self._update(t, margin, log, current))

    # ------------------------------------------------------------------ the work (worker thread)
    def _evaluate(self, theta) -> dict[str, float]:
        out = {}
        loss, outputs, y = _evaluate(self.ls, theta, self.ls.batches)
        out["train loss"] = loss
        if self.accuracy is not None:
            out["train accuracy"] = float(self.accuracy(outputs, y))
        if self.test_batches is not None:
            loss, outputs, y = _evaluate(self.ls, theta, self.test_batches)
            out["test loss"] = loss
            if self.accuracy is not None:
                out["test accuracy"] = float(self.accuracy(outputs, y))
        return out

    def _compute_profile(self, current) -> bool:
        ts = np.linspace(0.0, 1.0, self.num_t)
        rows = []
        for t in ts:
            if not current():
                return False
            rows.append(self._evaluate(self.curve(float(t))))
        a, b = self.curve.theta_a, self.curve.theta_b
        w = torch.as_tensor(ts, dtype=self.ls.dtype, device=self.ls.device)[:, None]
        line = self.ls.losses((1 - w) * a[None] + w * b[None]).double().cpu().numpy()
        prof = {"t": ts, "line loss": line}
        for k in rows[0]:
            prof[k] = np.array([r[k] for r in rows])
        floor = 1e-16  # a log axis
        losses = [k for k in ("train loss", "test loss") if k in prof]
        with self.loss_lines.hold_sync():
            self.loss_lines.x = np.tile(ts, (len(losses), 1))
            self.loss_lines.y = np.stack([np.maximum(prof[k], floor) for k in losses])
            self.loss_lines.labels = losses
        with self.line_loss_mark.hold_sync():
            self.line_loss_mark.x, self.line_loss_mark.y = ts, np.maximum(line, floor)
        accs = [k for k in ("train accuracy", "test accuracy") if k in prof]
        if accs:
            with self.acc_lines.hold_sync():
                self.acc_lines.x = np.tile(ts, (len(accs), 1))
                self.acc_lines.y = np.stack([prof[k] for k in accs])
                self.acc_lines.labels = accs
        else:
            self.acc_lines.visible = False
        self.profile = prof
        return True

    def _surface(self, margin: float, resolution: int, current):
        key = (round(margin, 12), resolution)
        if key not in self._surfaces:
            plane = self.curve.plane(margin)
            surf = self.ls.surface(plane, span=None, resolution=resolution,
                                   progress=lambda d, n: self._progress(d, n, current))
            if not current():
                return None
            self._surfaces[key] = surf
        return self._surfaces[key]

    def _update(self, t, margin, log, current) -> None:
        started = time.perf_counter()
        self._started = started
        busy = self._busy_timer(current)
        try:
            if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not margin >= 0:
                raise ValueError(f"span: expected a non-negative plane margin (the share of the three points' "
                                 f"spread added on every side), got {margin!r}")
            if not 0 <= t <= 1:
                raise ValueError(f"t: expected a number in [0, 1], got {t!r}")
            point = self.curve(float(t))
            xy = self.plane.coordinates(point[None])[0]
            self.point = point
            self.history.append(float(t))
            self._readout(t, point)
            self.t_mark.x = [float(t), float(t)]
            self.surface2d.set_point(*xy)
            self.surface3d.set_point(*xy)
            if self.profile is None and not self._compute_profile(current):
                return
            fine_cached = (round(margin, 12), self.resolution) in self._surfaces
            for res in ([self.resolution] if fine_cached else [self.coarse, self.resolution]):
                surf = self._surface(float(margin), res, current)
                if surf is None or not current():
                    return
                if self._drawn != (id(surf), log):
                    self.surface2d.update(surf, tuple(xy))
                    self.surface3d.update(surf, tuple(xy))
                    self._drawn = (id(surf), log)
            self.surface2d.set_point(*xy)
            self.surface3d.set_point(*xy)
            if not current():
                return
            self._spectrum(float(t), point)
            self._finished(started)
        finally:
            busy.cancel()

    def _readout(self, t, point) -> None:
        vals = self._evaluate(point)
        a, b = self.curve.theta_a, self.curve.theta_b
        line_loss = self.ls.loss((1 - t) * a + t * b)
        parts = [f"t = <b>{t:.2f}</b>", f"loss = <b>{vals['train loss']:.4e}</b>"]
        if "test loss" in vals:
            parts.append(f"test loss {vals['test loss']:.4e}")
        if "train accuracy" in vals:
            acc = f"accuracy {100 * vals['train accuracy']:.1f}%"
            if "test accuracy" in vals:
                acc += f" (test {100 * vals['test accuracy']:.1f}%)"
            parts.append(acc)
        parts.append(f"on the straight line at this t: {line_loss:.4e}")
        self.loss_html.value = " &middot; ".join(parts)

    def _progress(self, done, total, current) -> None:
        if current() and time.perf_counter() - self._started > 0.5 and done < total:
            self.status_html.value = f"&#9203; loss surface {100 * done // total}%"

    def _spectrum(self, t, point) -> None:
        key = round(t, 6)
        if self.exact:
            if key not in self._spectra:
                self._spectra[key] = self.ls.spectrum(point)
            self.spectrum.show_spectrum(self._spectra[key])
        else:
            if key not in self._spectra:
                self._spectra[key] = self.ls.density(point, num_vectors=2, num_steps=20, deflation_steps=0)
            grid, dens = self._spectra[key]
            top = float(np.abs(grid).max())
            self.spectrum.show_density(grid, dens, self.ls.num_params, band=1e-3 * top)
