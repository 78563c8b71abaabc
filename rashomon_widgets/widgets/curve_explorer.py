"""`CurveExplorer`: a t slider walks a curve between two minima; the contour plane through the endpoints and
the bend, the 3-D surface, the loss and accuracy over t and the Hessian spectrum at curve(t) follow."""
from __future__ import annotations

import bqplot as bq
import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.lines import Line2D
from traitlets import Bool, Float, validate

from ..core import Landscape, WarmSpectra
from ..core.cache import LRUCache
from ..core.geometry.curves import Curve, check_curve_for
from ..core.geometry.diagnostics import loss_profile
from ..core.validation import check_int
from ._base import Explorer
from ._controls import GridSlider, NumberBox, described, finite_number, help_line, slider_grid, switch, tagged
from ._drawable import drawable_grid
from ._legend import MARKER, REFERENCE, SERIES, TITLE_STYLE, axis_ticks, legend_html, tick_format
from ._scale import explorer_scale
from ._text import readout_html
from .spectrum_view import SpectrumView
from .surface3d_view import Surface3DView
from .surface_view import SurfaceView

#: (colour, bqplot line style) of each line of the profile over t: colour per split (train, test, and the
#: straight line in grey), line style per quantity (loss solid, accuracy dash-dotted; the straight line dashed),
#: every colour legible on a white and on a dark page (:data:`PAGE_CONTRAST`)
PROFILE_STYLES = {"train_loss": (SERIES[0], "solid"), "test_loss": (SERIES[1], "solid"),
                  "line_loss": (REFERENCE, "dashed"),
                  "train_accuracy": (SERIES[0], "dash_dotted"), "test_accuracy": (SERIES[1], "dash_dotted")}


class CurveExplorer(Explorer):
    """Walk a fitted curve between two minima with a t slider.

    The 2-D view is the loss over the plane through theta_a, theta_b and the curve's main bend
    (Garipov et al.'s coordinates: theta_a at the origin, the straight line along the x axis) with the
    curve drawn solid and the straight line dashed; the 3-D view is the same grid as a surface. A red
    marker sits at curve(t) in both. Beside them: train (and test) loss and accuracy over t
    (:func:`rw.core.loss_profile`), with the loss on the straight line dashed for contrast and the current
    t marked, and the Hessian spectrum at curve(t) (:func:`rw.core.spectrum_at`: exact for small models,
    stochastic Lanczos quadrature for large ones, with the settings and the near-zero rule of
    :func:`rw.core.along_curve`, so the count equals the table's at the same t). Work runs off the UI
    thread (the latest value wins), the surface is drawn coarse first and refined, and errors (including
    refused values: NaN, infinity, t outside [0, 1], a negative margin, a margin whose grid would overflow)
    appear inside the widget.

    The controls are views of the traits ``t``, ``margin`` and ``log_color``; :attr:`state` and
    :meth:`restore` hand them around, :attr:`history` keeps the last 1,000 drawn states.

    Args:
        ls: the :class:`~rashomon_widgets.Landscape`.
        curve: an :class:`~rashomon_widgets.BezierCurve` or :class:`~rashomon_widgets.PolyChain` with at
            least one bend off the straight line (fit it first with :func:`~rashomon_widgets.fit_curve`).
        test_data: optional ``(inputs, targets)`` for the test loss and accuracy.
        t: the starting t (on the slider's 0.01 grid).
        margin: the plane's margin around the three points (share of their spread): a finite number >= 0
            whose grid's coordinates, parameter vectors and corner losses are finite.
        resolution, coarse: grid sizes of the refined and the first, coarse, surface (refined: 31 for
            exact models, 25 for matrix-free ones, 15 when one forward pass over the data costs more than
            ``HEAVY_FORWARD`` multiply-adds; coarse: 11, or for such heavy models 5 or 3, whichever keeps the
            first grid near ``FIRST_GRID_SECONDS``, with a 7 x 7 grid drawn between it and the refined one).
        num_t: points of the loss/accuracy profile over t (default 41; 21 for heavy models).
        log_color: colour (and 3-D height) by log10 loss.
        exact: exact dense spectrum; default for small models (``ls.policy.is_small``).
        accuracy: as in :func:`rw.core.loss_profile`.
        slq_vectors, slq_steps, seed: the spectrum's quadrature for large models (default 4 runs of 40
            steps; 2 of 20 on a heavy model; pass what you passed to :func:`rw.core.along_curve` to see the
            same numbers).
        curvature_samples: samples on which the spectrum is computed (``ls.subsample``): ``"auto"`` is all
            of them, except 256 on a heavy model (as :class:`NullSpaceExplorer`); None: all. The title says
            which.
        state: a dict from :attr:`state` to start from.

    The first frame is the coarse surface; the profile over t follows, then the refined surface and the
    spectrum, each with progress in the status line.

    Example:
        >>> explorer = rw.CurveExplorer(ls, curve, test_data=split.test)    # doctest: +SKIP
        >>> explorer.t = 0.25; explorer.wait()                              # doctest: +SKIP
        >>> explorer.spectrum.near_zero                                     # doctest: +SKIP
    """

    t = Float(0.5, help="position on the curve: 0 is theta_a, 1 is theta_b").tag(state=True)
    margin = Float(0.2, help="margin of the plane around theta_a, theta_b and the bend (share of their spread)").tag(
        state=True)
    log_color = Bool(True, help="colour and height by log10 loss, so that near-zero losses stay visible").tag(
        state=True)

    def __init__(self, ls: Landscape, curve: Curve, *, test_data=None, t: float = 0.5, margin: float = 0.2,
                 resolution: int | None = None, coarse: int | None = None, num_t: int | None = None,
                 log_color: bool = True, exact: bool | None = None, accuracy="auto", slq_vectors: int | None = None,
                 slq_steps: int | None = None, seed: int = 0, curvature_samples: int | str | None = "auto",
                 state: dict | None = None):
        if not isinstance(ls, Landscape):
            raise TypeError(f"ls: expected an rw.Landscape, got {type(ls).__name__}")
        check_curve_for(ls, curve)
        super().__init__()
        self.ls, self.curve = ls, curve
        self.plane = curve.plane(finite_number(margin, "margin", low=0))  # raises for a curve on the straight line
        self.exact = ls.policy.is_small(ls.num_params) if exact is None else bool(exact)
        scale = explorer_scale(ls, self.exact, light=(31 if self.exact else 25, 11), resolution=resolution,
                               coarse=coarse, curvature_samples=curvature_samples, loss_at=lambda: ls.loss(curve(0.0)))
        heavy, self.curvature_ls, self.grids = scale.heavy, scale.curvature_ls, scale.grids
        self.resolution, self.coarse = scale.resolution, scale.coarse
        self.num_t = (21 if heavy else 41) if num_t is None else check_int(num_t, "num_t", 2)
        self.first_frame_timeout = scale.first_frame_timeout or type(self).first_frame_timeout
        self.test_data, self.accuracy = test_data, accuracy
        quadrature = (2, 20) if heavy else (4, 40)   # a heavy model: half the runs and steps, as NullSpaceExplorer
        slq_vectors = quadrature[0] if slq_vectors is None else slq_vectors
        slq_steps = quadrature[1] if slq_steps is None else slq_steps
        #: the spectrum's quadrature settings (``CurveTable.slq`` holds quadratures themselves)
        self.slq_settings = {"slq_vectors": check_int(slq_vectors, "slq_vectors"),
                    "slq_steps": check_int(slq_steps, "slq_steps"), "seed": check_int(seed, "seed", 0)}
        self.profile = None  # the CurveTable of loss_profile, once computed
        self._surfaces: LRUCache = LRUCache(8)   # a few margins, coarse and fine
        self._spectra: LRUCache = LRUCache(64)
        self._spectrum_at = WarmSpectra(self.curvature_ls, self.exact)  # each t's Lanczos starts from the last one's
        self._drawn: tuple | None = None
        with self.hold_trait_notifications():
            self.t, self.margin, self.log_color = t, margin, log_color
        self.point = curve(self.t)

        self.slider = tagged(GridSlider(self.t, min=0.0, max=1.0, step=0.01, description="t",
                                                  continuous_update=True, readout_format=".2f",
                                                  tooltip=type(self).t.help), "rw-slider")
        self.margin_box = tagged(described(NumberBox(self.margin, description="margin",
                                                     layout=widgets.Layout(width="160px")), type(self).margin.help),
                                 "rw-span")
        self.log_toggle = switch(self.log_color, "log colour", type(self).log_color.help)
        for control, name in ((self.slider, "t"), (self.margin_box, "margin"), (self.log_toggle, "log_color")):
            self._bind(control, name)
        self.surface2d = SurfaceView(log_color=self.log_color, title="loss on the plane of the endpoints and bend",
                                     xlabel="straight-line direction (parameter units)",
                                     ylabel="detour direction (parameter units)")
        self.surface2d.set_legend([("orange", "line", "fitted curve"),  # as drawn
                                   ("white", "dashed", "straight line"),
                                   ("white", "◆", "theta_a, theta_b, bend"), (MARKER, "circle", "curve(t)")])
        self.surface3d = Surface3DView(log_color=self.log_color)
        self.surface3d.set_labels("straight line", "detour")
        self.spectrum = SpectrumView()
        self._add_curve_marks()
        self._build_profile_figure()
        header = (f"<b>Curve explorer</b> &middot; P = {ls.num_params:,} &middot; "
                  f"{type(curve).__name__} with {curve.num_bends} bend(s)")
        if self.curvature_ls is not ls:
            header += (f"<br><span style='font-size:12px;opacity:0.8'>spectrum on {self.curvature_ls.num_samples:,} "
                       f"of {ls.num_samples:,} samples (curvature_samples); losses and surface on all</span>")
        explain = help_line(("t", type(self).t.help), ("margin", type(self).margin.help))
        self._assemble(header, [self.slider, explain, widgets.HBox([self.margin_box, self.log_toggle]),
                                self._player(["t"], frames=101)],
                       [self.profile_box, self.surface2d, self.surface3d, self.spectrum], "rw-curve-explorer")
        if state is not None:
            self.restore(state)

    # ------------------------------------------------------------------ validation
    @validate("t")
    def _valid_t(self, proposal):
        return slider_grid(finite_number(proposal["value"], "t", low=0, high=1), 0.0, 1.0, 0.01)

    @validate("margin")
    def _valid_margin(self, proposal):
        """A finite margin >= 0 whose plane's grid can be drawn: finite coordinates and parameter vectors,
        and a finite loss at the grid's corners (:func:`drawable_grid`); else the margin stays."""
        margin = finite_number(proposal["value"], "margin", low=0)
        with np.errstate(all="ignore"):  # a huge margin overflows the plane's extent: refused below
            plane = self.curve.plane(margin)
        kept = self.margin if self.margin != margin else None  # (None while the constructor sets it)
        drawable_grid(self.ls, plane, None, self.resolution, "margin", margin, kept=kept)
        return margin

    def _animate(self, choice: str, phase: float) -> None:
        self.t = phase * self._frames / (self._frames - 1)

    # ------------------------------------------------------------------ layout pieces
    def _add_curve_marks(self) -> None:
        view = self.surface2d
        scales = {"x": view.marker.scales["x"], "y": view.marker.scales["y"]}
        ts = np.linspace(0.0, 1.0, 101)
        self.curve_xy = self.curve.plane_path(self.plane, ts)
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
        """Loss and accuracy over t, in two panels over one t axis: on one figure the accuracies (near 100%)
        and the highest losses both ran along its top edge. Colour per split (train, test; the straight line
        grey), line style per quantity (loss solid, accuracy dash-dotted, the straight line dashed), the legend
        drawn from the same pairs (:data:`PROFILE_STYLES`)."""
        # t from 0 to 1 with 3% on each side, so that the vertical axes do not run through the 0.0 and 1.0 labels
        sx = bq.LinearScale(min=-0.03, max=1.03, allow_padding=False)
        self._loss_scale = bq.LogScale(allow_padding=False)
        # 5% headroom at both ends: the 0% tick label clears the t axis' labels, and a 100% accuracy line does
        # not sit on the frame
        self._acc_scale = bq.LinearScale(min=-0.05, max=1.05, allow_padding=False)
        ones = np.ones(2)
        loss, acc, line = (PROFILE_STYLES[k] for k in ("train_loss", "train_accuracy", "line_loss"))
        self.loss_lines = bq.Lines(x=np.array([0.0, 1.0]), y=ones, scales={"x": sx, "y": self._loss_scale},
                                   colors=[PROFILE_STYLES["train_loss"][0], PROFILE_STYLES["test_loss"][0]],
                                   line_style=loss[1], stroke_width=2)
        self.line_loss_mark = bq.Lines(x=np.array([0.0, 1.0]), y=ones, scales={"x": sx, "y": self._loss_scale},
                                       colors=[line[0]], line_style=line[1], stroke_width=2)
        self.acc_lines = bq.Lines(x=np.array([0.0, 1.0]), y=ones, scales={"x": sx, "y": self._acc_scale},
                                  colors=[PROFILE_STYLES["train_accuracy"][0], PROFILE_STYLES["test_accuracy"][0]],
                                  line_style=acc[1], stroke_width=2)
        unit = bq.LinearScale(min=0.0, max=1.0, allow_padding=False)   # the t marker spans each panel's height
        self.t_mark = bq.Lines(x=[self.t, self.t], y=[0.0, 1.0], scales={"x": sx, "y": unit},
                               colors=[MARKER], stroke_width=1.5)
        self.t_mark_accuracy = bq.Lines(x=[self.t, self.t], y=[0.0, 1.0], scales={"x": sx, "y": unit},
                                        colors=[MARKER], stroke_width=1.5)
        widgets.dlink((self.t_mark, "x"), (self.t_mark_accuracy, "x"))
        self._loss_axis = bq.Axis(scale=self._loss_scale, label="loss", orientation="vertical", tick_format=".2~e")
        self._acc_axis = bq.Axis(scale=self._acc_scale, label="accuracy", orientation="vertical", tick_format=".0%",
                                 tick_values=np.linspace(0, 1, 5))
        t_ticks = np.linspace(0, 1, 6)
        margin = {"left": 70, "right": 20}
        self.profile_figure = bq.Figure(
            marks=[self.line_loss_mark, self.loss_lines, self.t_mark],
            axes=[bq.Axis(scale=sx, label="t", tick_values=t_ticks, tick_format=".1f"), self._loss_axis],
            title="along the curve", title_style=dict(TITLE_STYLE), fig_margin={"top": 35, "bottom": 40, **margin},
            layout=widgets.Layout(width="420px", height="230px"))
        self.profile_figure.add_class("rw-curve-profile")
        self.accuracy_figure = bq.Figure(
            marks=[self.acc_lines, self.t_mark_accuracy],
            axes=[bq.Axis(scale=sx, label="t", tick_values=t_ticks, tick_format=".1f"), self._acc_axis],
            fig_margin={"top": 10, "bottom": 40, **margin}, layout=widgets.Layout(width="420px", height="165px"))
        self.accuracy_figure.add_class("rw-curve-accuracy")
        self.profile_legend = widgets.HTML()
        self.profile_box = tagged(widgets.VBox([self.profile_figure, self.accuracy_figure, self.profile_legend]),
                                  "rw-view")

    def profile_legend_entries(self) -> list[tuple[str, str, str]]:
        """The profile's legend: ``(colour, line style, text)`` of each line drawn, and the current t."""
        prof = self.profile or {}
        names = {"train_loss": "train loss", "test_loss": "test loss", "line_loss": "loss on the straight line",
                 "train_accuracy": "train accuracy", "test_accuracy": "test accuracy"}
        entries = [(*PROFILE_STYLES[k], text) for k, text in names.items() if k in prof]
        return entries + [(MARKER, "│", "current t")]

    # ------------------------------------------------------------------ the work (worker thread)
    def _compute_profile(self, started, current) -> bool:
        prof = loss_profile(self.ls, self.curve, self.num_t, test_data=self.test_data, accuracy=self.accuracy,
                            progress=lambda d, n: self._progress_status(started, "profile over t", d, n, current))
        if not current():
            return False
        ts = prof["t"]
        floor = 1e-16  # a log axis
        losses = [k for k in ("train_loss", "test_loss") if k in prof]
        with self.loss_lines.hold_sync():
            self.loss_lines.x = np.tile(ts, (len(losses), 1))
            self.loss_lines.y = np.stack([np.maximum(prof[k], floor) for k in losses])
        with self.line_loss_mark.hold_sync():
            self.line_loss_mark.x, self.line_loss_mark.y = ts, np.maximum(prof["line_loss"], floor)
        shown = np.concatenate([np.maximum(prof[k], floor) for k in (*losses, "line_loss")])
        lo, hi = float(shown.min()), float(shown.max())
        # 5% of the decades shown as headroom at both ends (as the accuracy axis has): the extreme losses do not
        # run along the frame, nor over a tick label that falls on it
        pad = 10.0 ** (0.05 * max(np.log10(hi / lo), 0.1))
        lo, hi = lo / pad, hi * pad
        with self._loss_scale.hold_sync():
            self._loss_scale.min, self._loss_scale.max = lo, hi
        self._loss_axis.tick_values = log_ticks(lo, hi)
        accs = [k for k in ("train_accuracy", "test_accuracy") if k in prof]
        if accs:
            values = np.stack([prof[k] for k in accs])
            with self.acc_lines.hold_sync():
                self.acc_lines.x = np.tile(ts, (len(accs), 1))
                self.acc_lines.y = values
            # the accuracies' own range (train near 100% and test a few points below stay apart), padded so that
            # a 100% line does not run along the frame, with round percent ticks for the panel's 115 px
            lo, hi = float(values.min()), float(values.max())
            pad = 0.08 * max(hi - lo, 0.02)
            lo, hi = max(lo - pad, -0.05), min(hi + pad, 1.05)
            ticks = axis_ticks(lo, hi, 165 - 10 - 40, vertical=True, max_ticks=5)
            decimals = int(tick_format(100 * ticks)[1:-1]) if tick_format(100 * ticks).endswith("f") else 1
            with self._acc_axis.hold_sync():
                self._acc_axis.tick_format = f".{decimals}%"
            self._acc_axis.tick_values = ticks
            with self._acc_scale.hold_sync():
                self._acc_scale.min, self._acc_scale.max = lo, hi
        self.acc_lines.visible = bool(accs)
        self.accuracy_figure.layout.display = None if accs else "none"   # a regression loss has no accuracy
        self.profile = prof
        self.profile_legend.value = legend_html(self.profile_legend_entries())
        return True

    def _surface(self, margin: float, resolution: int, started, current):
        key = (round(margin, 12), resolution)
        if key not in self._surfaces:
            plane = self.curve.plane(margin)
            surf = self.ls.surface(plane, span=None, resolution=resolution,
                                   progress=lambda d, n: self._progress_status(started, "loss surface", d, n, current))
            if not current():
                return None
            self._surfaces[key] = surf
        return self._surfaces[key]

    def _job(self, state, current, started):
        t, margin, log = state["t"], state["margin"], state["log_color"]
        point = self.curve(float(t))
        xy = self.plane.coordinates(point[None])[0]
        self.point = point
        self._record(state)
        self._readout(t)
        self.t_mark.x = [float(t), float(t)]
        self.surface2d.set_point(*xy)
        self.surface3d.set_point(*xy)
        fine_cached = (round(margin, 12), self.resolution) in self._surfaces
        for res in ([self.resolution] if fine_cached else self.grids):
            if res == self.resolution and self.profile is None and not self._compute_profile(started, current):
                return False   # the profile comes after the first (coarse) surface: both are a first frame
            surf = self._surface(float(margin), res, started, current)
            if surf is None or not current():
                return False
            if self._drawn != (id(surf), log):
                self.surface3d.log_color = log
                self.surface3d.check(surf)  # both views draw it, or both keep the last grid and the error says why
                for view in (self.surface2d, self.surface3d):
                    view.log_color = log
                    view.update(surf, tuple(xy))
                self._drawn = (id(surf), log)
        if self.profile is None and not self._compute_profile(started, current):
            return False
        self.surface2d.set_point(*xy)
        self.surface3d.set_point(*xy)
        self._frame_drawn()
        if not self._settled(current):
            return False
        self.spectrum.show(self.spectrum_at(t, progress=lambda d, n: self._progress_status(
            started, "spectrum", d, n, current)))
        self._frame_drawn("spectrum")
        return True

    def spectrum_at(self, t: float, progress=None):
        """The spectrum the panel shows at ``t`` (cached): :func:`rw.core.spectrum_at` at ``curve(t)`` with
        this explorer's settings.

        Args:
            t: the curve parameter in [0, 1].
            progress: passed to :func:`rw.core.spectrum_at` (it may raise to stop).

        Returns:
            a :class:`rw.core.Spectrum` or :class:`rw.core.SpectrumEstimate`.
        """
        key = round(float(t), 9)
        if key not in self._spectra:
            self._spectra[key] = self._spectrum_at(self.curve(float(t)), progress=progress, **self.slq_settings)
        return self._spectra[key]

    def _readout(self, t) -> None:
        row = loss_profile(self.ls, self.curve, [float(t)], test_data=self.test_data, accuracy=self.accuracy)
        parts = [f"t = <b>{t:.2f}</b>", f"loss = <b>{row['train_loss'][0]:.4e}</b>"]
        if "test_loss" in row:
            parts.append(f"test loss {row['test_loss'][0]:.4e}")
        if "train_accuracy" in row:
            acc = f"accuracy {100 * row['train_accuracy'][0]:.1f}%"
            if "test_accuracy" in row:
                acc += f" (test {100 * row['test_accuracy'][0]:.1f}%)"
            parts.append(acc)
        parts.append(f"on the straight line at this t: {row['line_loss'][0]:.4e}")
        self.loss_html.value = readout_html(" &middot; ".join(parts))

    # ------------------------------------------------------------------ export
    def _draw_profile(self, ax) -> None:
        """The profile panel as drawn live: loss over t (log axis) above accuracy over t, each line from its
        live mark (same colours and styles), the current t, the legend."""
        if self.profile is None:
            ax.set_title("along the curve: nothing drawn yet")
            return
        from .surface_view import draw_mark

        fig, spec = ax.figure, ax.get_subplotspec()
        ax.remove()
        accs = bool(self.acc_lines.visible)
        grid = spec.subgridspec(2 if accs else 1, 1, height_ratios=[3, 2] if accs else [1], hspace=0.08)
        loss_ax = fig.add_subplot(grid[0])
        for mark in (self.line_loss_mark, self.loss_lines):
            draw_mark(loss_ax, mark)
        loss_ax.set_yscale("log")
        loss_ax.set_ylim(self._loss_scale.min, self._loss_scale.max)
        loss_ax.set_ylabel("loss")
        loss_ax.set_title("along the curve")
        panels = [loss_ax]
        if accs:
            acc_ax = fig.add_subplot(grid[1], sharex=loss_ax)
            draw_mark(acc_ax, self.acc_lines)
            acc_ax.set_ylim(self._acc_scale.min, self._acc_scale.max)
            ticks = np.asarray(self._acc_axis.tick_values, dtype=float)   # the live panel's ticks and format
            acc_ax.set_yticks(ticks, [format(float(v), self._acc_axis.tick_format) for v in ticks])
            acc_ax.set_ylabel("accuracy")
            loss_ax.tick_params(labelbottom=False)
            panels.append(acc_ax)
        for panel in panels:
            panel.axvline(self.t, color=MARKER, lw=1.5 * 0.75)
            panel.set_xlim(-0.03, 1.03)
        panels[-1].set_xlabel("t")
        styles = {"solid": "-", "dashed": "--", "dash_dotted": "-.", "dotted": ":"}
        handles = [Line2D([], [], color=c, ls=styles.get(m, "-"), lw=1.5) for c, m, _ in self.profile_legend_entries()]
        loss_ax.legend(handles, [text for *_, text in self.profile_legend_entries()], fontsize=7, loc="upper left",
                       bbox_to_anchor=(1.01, 1.0), frameon=False)

    def _figure_panels(self):
        return [("", self._draw_profile), ("", self.surface2d.to_matplotlib), ("3d", self.surface3d.to_matplotlib),
                ("", self.spectrum.to_matplotlib)]


def log_ticks(lo: float, hi: float, max_ticks: int = 6) -> np.ndarray:
    """Round ticks for a log axis over ``[lo, hi]`` that never crowd: whole decades, or 1-2-5 steps when
    the range spans less than two decades.

    Example:
        >>> log_ticks(0.05, 0.4).tolist()
        [0.05, 0.1, 0.2]
    """
    first, last = int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi)))
    for mantissas in ((1.0,), (1.0, 2.0, 5.0)):
        ticks = np.array([m * 10.0 ** e for e in range(first, last + 1) for m in mantissas])
        ticks = ticks[(ticks >= lo * (1 - 1e-9)) & (ticks <= hi * (1 + 1e-9))]
        if len(ticks) >= 2:
            step = max(1, int(np.ceil(len(ticks) / max_ticks)))
            return ticks[::step]
    return np.array([lo, hi])
