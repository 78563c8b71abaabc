"""`NullSpaceExplorer`: sliders along the Rashomon manifold's tangent (and, for contrast, along the
sharpest Hessian directions), with live 2-D and 3-D slices, the spectrum and the near-zero count."""
from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
import torch
from traitlets import Bool, Float, Int, List, TraitError, Unicode, Union, validate

from ..core import Landscape, ManifoldChart, Plane, WarmSpectra, check_minimum
from ..core.validation import check_int
from ._base import Explorer
from ._controls import (
    ChoiceDropdown,
    GridSlider,
    NumberBox,
    described,
    finite_number,
    help_line,
    slider_grid,
    switch,
    tagged,
)
from ._drawable import drawable_grid
from ._legend import MARKER
from ._prebuilt import ShortFormDefault, given_names, refuse_both, unwrap
from ._scale import explorer_scale
from ._text import readout_html
from .spectrum_view import SpectrumView
from .surface3d_view import Surface3DView
from .surface_view import SurfaceView


class NullSpaceExplorer(Explorer):
    """Walk the Rashomon manifold of ``ls`` with sliders.

    Each "null" slider moves the point along an orthonormal direction of the manifold's tangent and
    re-projects it onto the manifold (a :class:`rw.core.ManifoldChart` does both), so the loss stays put
    however far you go. Each "top" slider moves along a top Hessian eigenvector: the loss rises as a
    parabola. The loss readout, the 2-D and 3-D slices through the current point, the spectrum and the
    near-zero count follow. Work runs off the UI thread, the latest value wins, a coarse grid is drawn
    first and refined, and errors (including refused values: NaN, infinity, a span <= 0, a span whose grid
    would overflow, an axis that is not one of the directions or is the other axis' direction) appear inside
    the widget while the current point stays where it was and the control shows the value kept.

    The controls are views of the traits below; set them from Python (``explorer.span = 0.5``) or hand a
    whole :attr:`state` to :meth:`restore`. :attr:`history` keeps the last 1,000 drawn states.

    Args:
        ls: the :class:`~rashomon_widgets.Landscape`.
        theta: the starting point (default: the trained parameters).
        num_null, num_top: how many sliders of each kind.
        slider_range: sliders run over ``[-slider_range, slider_range]`` in steps of ``slider_range / 100``.
        span: half-width of the 2-D/3-D slice: a finite number > 0 whose grid's coordinates, parameter
            vectors and corner losses are finite (a span of 1e300 is refused, not drawn as a grid of inf).
        resolution, coarse: grid sizes of the refined and the first, coarse, slice (refined: 31 for
            exact models, 21 for matrix-free ones, where every grid point is a full forward pass, 15 when
            one forward over the data costs more than :data:`HEAVY_FORWARD` multiply-adds; coarse: 11, 7
            and, for such a heavy model, 5 or 3, whichever keeps the first grid near
            :data:`FIRST_GRID_SECONDS`, with a 7 x 7 grid drawn between it and the refined one).
        log_color: colour (and 3-D height) by log10 loss.
        exact: exact dense spectrum and null space; default for small models (``ls.policy.is_small``).
        seed: seed of the random tangent directions (large models).
        curvature_samples: samples of the data on which the top Hessian directions, the (large-model)
            tangent and the spectrum are computed (``ls.subsample``; the loss, the slices and the
            re-projection onto the manifold always use all the data).
            ``"auto"``: all of them, except :data:`CURVATURE_SAMPLES` on a model whose forward pass is
            heavy; None: all of them. The title says which.
        state: a dict from :attr:`state` to start from.
        chart: a prebuilt :class:`~rashomon_widgets.core.ManifoldChart`, instead of ``theta``, ``num_null``,
            ``num_top``, ``exact``, ``seed`` and ``curvature_samples`` (the chart fixes them: its centre, its
            directions, and ``chart.curvature`` for the spectrum); ``ls`` may then be left out.

    Give either a prebuilt chart (``chart=``; the explorer shows its directions and computes none) or the
    short form's arguments, not both: a chart together with an argument it fixes is refused (ValueError).

    On a large model the explorer appears at once: its directions (tangent, top eigenvectors) are computed
    on the worker, with progress in the status line, before the first slice is drawn; :meth:`wait` waits
    for them too. The note under the sliders says when the point is not a minimum (and what the sliders
    mean then).

    Example:
        >>> chart = rw.core.ManifoldChart(ls, num_null=2, num_top=1)       # doctest: +SKIP
        >>> rw.NullSpaceExplorer(chart=chart)   # the chart's directions, none recomputed   # doctest: +SKIP
        >>> explorer = rw.NullSpaceExplorer(ls)       # doctest: +SKIP
        >>> explorer                                  # shows the widget in Jupyter   # doctest: +SKIP
        >>> explorer.coefficients = [1.0, 0.0, 0.0, 0.0]; explorer.wait()             # doctest: +SKIP
        >>> explorer.point                            # the current parameter vector  # doctest: +SKIP
    """

    coefficients = List(Float(), help="the sliders' values: steps along null 1, null 2, ..., top 1, ...").tag(
        state=True)
    x_axis = Union([Unicode(), Int()], default_value="", help="the direction along the slices' horizontal axis "
                   "(a name such as 'null 1', or its index in the list of directions)").tag(state=True)
    y_axis = Union([Unicode(), Int()], default_value="", help="the direction along the slices' other axis "
                   "(a name such as 'top 1', or its index in the list of directions)").tag(state=True)
    span = Float(1.0, help="half-width of the 2-D and 3-D slices, in parameter units").tag(state=True)
    log_color = Bool(True, help="colour and height by log10 loss, so that near-zero losses stay visible").tag(
        state=True)

    def __init__(self, ls: Landscape | None = None, theta: torch.Tensor | None = ShortFormDefault(None), *,
                 num_null: int = ShortFormDefault(3), num_top: int = ShortFormDefault(1), slider_range: float = 2.0,
                 span: float = 1.0, resolution: int | None = None, coarse: int | None = None, log_color: bool = True,
                 exact: bool | None = ShortFormDefault(None), seed: int = ShortFormDefault(0),
                 curvature_samples: int | str | None = ShortFormDefault("auto"), state: dict | None = None,
                 chart: ManifoldChart | None = None):
        fixed = {"theta": theta, "num_null": num_null, "num_top": num_top, "exact": exact, "seed": seed,
                 "curvature_samples": curvature_samples}
        ls = self._landscape(ls, chart, given_names(fixed))
        theta, num_null, num_top, exact, seed, curvature_samples = (unwrap(v) for v in fixed.values())
        if chart is not None:
            num_null, num_top = chart.num_null, chart.top_dirs.shape[1]
        self.slider_range = finite_number(slider_range, "slider_range", low=0, strict_low=True)
        if chart is None:
            check_int(num_null, "num_null", 0, ls.num_params)
            check_int(num_top, "num_top", 0, ls.num_params)
            if num_null + num_top == 0:
                raise ValueError("num_null, num_top: expected at least one direction, got 0 and 0")
        super().__init__()
        self.ls = ls
        if chart is None:
            self.exact = ls.policy.is_small(ls.num_params) if exact is None else bool(exact)
            self.theta0 = ls.theta if theta is None else ls.check_theta(theta).detach().clone()
        else:
            self.exact, self.theta0 = chart.exact, chart.theta0
        self.loss0 = None

        def first_loss():
            self.loss0 = ls.loss(self.theta0)

        scale = explorer_scale(ls, self.exact, light=(31, 11) if self.exact else (21, 7), resolution=resolution,
                               coarse=coarse, curvature_samples=None if chart else curvature_samples,
                               loss_at=first_loss)
        self.curvature_ls = scale.curvature_ls if chart is None else chart.curvature
        self.resolution, self.coarse = scale.resolution, scale.coarse
        self.grids = (self.resolution,) if self.exact else scale.grids  # drawn in turn after each move
        if self.loss0 is None:
            first_loss()
        self.point = self.theta0.clone()
        self._spectrum_at = WarmSpectra(self.curvature_ls, self.exact)  # each move's Lanczos starts from the last
        self._chart_args = dict(num_null=num_null, num_top=num_top, exact=self.exact, seed=seed,
                                curvature=self.curvature_ls, tangent_on=self.curvature_ls)
        names = [f"null {i + 1}" for i in range(num_null)] + [f"top {i + 1}" for i in range(num_top)]
        self.chart: ManifoldChart | None = chart
        if chart is None and self.exact:  # milliseconds: built here; a large model's is built on the worker
            self.chart = ManifoldChart(ls, self.theta0, **self._chart_args)
        if self.chart is not None:
            names = self.chart.names
        self.names = names
        # a heavy model's explorer appears at once with the progress line; the views fill in as their data arrive
        self.first_frame_timeout = scale.first_frame_timeout or type(self).first_frame_timeout
        with self.hold_trait_notifications():
            self.coefficients = [0.0] * len(names)
            self.x_axis, self.y_axis = names[0], names[-1] if len(names) > 1 else names[0]
            self.span, self.log_color = span, log_color

        step = self.slider_range / 100
        self.sliders = []
        for i, n in enumerate(names):
            s = tagged(GridSlider(0.0, min=-self.slider_range, max=self.slider_range, step=step, description=n,
                                           continuous_update=True, readout_format=".2f",
                                           tooltip=self._explain(n)), "rw-slider")
            self._bind(s, "coefficients", index=i)
            self.sliders.append(s)
        self.x_dir = described(ChoiceDropdown(options=names, value=self.x_axis, description="x axis",
                                              layout=widgets.Layout(width="180px")), type(self).x_axis.help)
        self.y_dir = described(ChoiceDropdown(options=names, value=self.y_axis, description="y axis",
                                              layout=widgets.Layout(width="180px")), type(self).y_axis.help)
        self.span_box = tagged(described(NumberBox(self.span, description="span", layout=widgets.Layout(width="160px")),
                                         type(self).span.help), "rw-span")
        self.log_toggle = switch(self.log_color, "log colour", type(self).log_color.help)
        for control, name in ((self.x_dir, "x_axis"), (self.y_dir, "y_axis"), (self.span_box, "span"),
                              (self.log_toggle, "log_color")):
            self._bind(control, name)
        self.surface2d = SurfaceView(log_color=self.log_color, title="loss around the current point")
        self.surface2d.set_legend([(MARKER, "circle", "current point (the centre of the slice)")])
        self.surface3d = Surface3DView(log_color=self.log_color)
        self.spectrum = SpectrumView()
        explain = [("null k", "a direction in which the model's outputs do not change; at a minimum the loss "
                               "stays flat")]
        if num_top:
            explain.append(("top k", "a sharpest Hessian direction; at a minimum the loss rises as a parabola"))
        explain.append(("span", type(self).span.help))
        self.note_html = tagged(widgets.HTML(), "rw-note")
        player = self._player(names)
        title = (f"<b>Rashomon manifold explorer</b> &middot; P = {ls.num_params:,} &middot; "
                 f"{'exact' if self.exact else 'matrix-free'} tangent")
        if self.curvature_ls is not ls:
            source = "the chart's curvature landscape" if chart else "curvature_samples"
            title += (f"<br><span style='font-size:12px;opacity:0.8'>tangent, top directions and spectrum on "
                      f"{self.curvature_ls.num_samples:,} of {ls.num_samples:,} samples ({source}); "
                      f"loss, slices and re-projection on all</span>")
        self._assemble(title, [*self.sliders, help_line(*explain), self.note_html,
                               widgets.HBox([self.x_dir, self.y_dir]),
                               widgets.HBox([self.span_box, self.log_toggle]), player],
                       [self.surface2d, self.surface3d, self.spectrum])
        self.minimum = None   # the check_minimum of theta0: at once for an exact chart, else on the worker
        if self.chart is not None and self.exact:
            self._note_minimum()
        if state is not None:
            self.restore(state)

    @staticmethod
    def _landscape(ls, chart, given: list[str]) -> Landscape:
        """The explorer's landscape: ``ls``, or the prebuilt ``chart``'s (see the class docstring)."""
        if chart is None:
            if not isinstance(ls, Landscape):
                raise TypeError(f"ls: expected an rw.Landscape (or a prebuilt chart=ManifoldChart(...)), "
                                f"got {type(ls).__name__}")
            return ls
        if not isinstance(chart, ManifoldChart):
            raise TypeError(f"chart: expected an rw.core.ManifoldChart, got {type(chart).__name__}")
        refuse_both("chart", "ManifoldChart", given)
        if ls is not None and ls is not chart.ls:
            raise ValueError("ls: expected the chart's own landscape (chart.ls) or none, got another Landscape; "
                             "the loss, slices and re-projection use chart.ls")
        return chart.ls

    # ------------------------------------------------------------------ the chart (a large model's first job)
    def _explain(self, name: str) -> str:
        if self.chart is None:
            return (f"{name}: being computed" if name.startswith("top") else
                    f"{name}: a direction in which the model's outputs do not change (being computed)")
        return self.chart.explain(name)

    def _build_chart(self, started: float) -> None:
        """The tangent and top directions of a large model, with progress (not interrupted by newer
        requests, since every later frame needs them; only by :meth:`close`)."""
        chart = ManifoldChart(self.ls, self.theta0, **self._chart_args, tangent_iter=20,
                              progress=lambda what, d, n: self._progress_status(
                                  started, what, d, n, lambda: not self._worker.stopping))
        if chart.names != self.names:
            raise ValueError(f"the manifold's tangent has only {chart.num_null} directions here, not "
                             f"{self._chart_args['num_null']}: create the explorer with num_null={chart.num_null}")
        self.chart = chart
        for slider, name in zip(self.sliders, self.names):
            slider.tooltip = self._explain(name)

    def _note_minimum(self) -> None:
        check = self.minimum = check_minimum(self.ls, self.theta0)
        if not check.at_minimum:
            self.note_html.value = (
                "<div style='font-size:12px;line-height:1.4;color:#b35900'>&#9888; "
                + html.escape(check.summary()) + ". "
                "<b>null k</b> still keeps the outputs, so the loss stays; <b>top k</b>: the loss changes like "
                "g&middot;v c + &lambda;/2 c&sup2;, so it can fall on one side.</div>")

    # ------------------------------------------------------------------ validation
    @validate("coefficients")
    def _valid_coefficients(self, proposal):
        values = list(proposal["value"])
        names = self.names
        if len(values) != len(names):
            raise TraitError(f"coefficients: expected {len(names)} numbers ({', '.join(names)}), got {len(values)}")
        r = self.slider_range
        return [slider_grid(finite_number(v, n, low=-r, high=r), -r, r, r / 100) for v, n in zip(values, names)]

    @validate("x_axis", "y_axis")
    def _valid_axis(self, proposal):
        """A direction's name, or its index in :attr:`chart.names` (stored as the name), other than the
        other axis' direction (a slice needs two; :meth:`restore` validates a whole state at once, so two
        axes can be swapped in one call)."""
        name, value, names = proposal["trait"].name, proposal["value"], self.names
        expected = f"one of {names} or an index in [0, {len(names) - 1}]"
        if isinstance(value, int) and not isinstance(value, bool):
            if not 0 <= value < len(names):
                raise TraitError(f"{name}: expected {expected}, got the index {value}")
            value = names[value]
        elif value not in names:
            raise TraitError(f"{name}: expected {expected}, got {value!r}")
        other = "y_axis" if name == "x_axis" else "x_axis"
        theirs = getattr(self, other)   # in restore(), the state's: validators run once all values are set
        if isinstance(theirs, int) and not isinstance(theirs, bool) and 0 <= theirs < len(names):
            theirs = names[theirs]
        if len(names) > 1 and value == theirs:
            axis = other.replace("_", " ")
            raise TraitError(f"{name}: expected a direction other than the {axis}'s, got {value!r}, which the {axis} "
                             f"shows already (a slice needs two directions; to swap them, change the {axis} first)")
        return value

    @validate("span")
    def _valid_span(self, proposal):
        """A finite span > 0 whose grid can be drawn: finite coordinates and parameter vectors, and a finite
        loss at the grid's corners around the current point (:func:`drawable_grid`); else the span stays."""
        span = finite_number(proposal["value"], "span", low=0, strict_low=True)
        names = self.names
        if self.chart is None:
            return span  # the directions are still being computed: the job that draws it checks the grid
        try:
            ix, iy = (a if isinstance(a, int) else names.index(a) for a in (self.x_axis, self.y_axis))
            plane = Plane(self.point, self.chart.directions[:, ix], self.chart.directions[:, iy])
        except (ValueError, IndexError):
            return span  # an axis set in the same breath is refused by its own validator
        kept = self.span if self.span != span else None  # (None while the constructor sets it)
        drawable_grid(self.ls, plane, span, self.resolution, "span", span, kept=kept)
        return span

    # ------------------------------------------------------------------ actions
    def _animate(self, choice: str, phase: float) -> None:
        # back and forth: 0 -> +range -> -range -> 0
        wave = 4 * phase if phase < 0.25 else (2 - 4 * phase if phase < 0.75 else 4 * phase - 4)
        values = list(self.coefficients)
        values[self.names.index(choice)] = wave * self.slider_range
        self.coefficients = values

    def history_point(self, i: int = -1) -> torch.Tensor:
        """The parameter point of ``history[i]`` (history keeps states, not parameter vectors)."""
        if self.chart is None:
            raise RuntimeError("history_point: the explorer's directions are still being computed; call "
                               "explorer.wait() first")
        return self.chart.point(self.history[i]["coefficients"], retracted=True)

    # ------------------------------------------------------------------ the work (worker thread)
    def _show_loss(self, point, note=""):
        moved = float((point - self.theta0).norm())
        self.loss_html.value = readout_html(f"loss = <b>{self.ls.loss(point):.4e}</b> &middot; at start "
                                            f"{self.loss0:.4e} &middot; |&theta; &minus; &theta;<sub>0</sub>| = "
                                            f"{moved:.3f}{note}")

    def _job(self, state, current, started):
        if self.chart is None:
            self._build_chart(started)
        if self.minimum is None:
            self._note_minimum()
            if not current():
                return False   # superseded: the newer request draws (its span is checked by the views)
        coeffs = np.array(state["coefficients"], dtype=float)
        x, y = state["x_axis"], state["y_axis"]
        # small models: re-project at once (milliseconds); large ones: first frame on the tangent step,
        # re-projection (Jacobian products) when idle
        point = self.chart.point(coeffs, retracted=self.exact)
        plane = self.chart.plane(point, x, y)  # refuses the same direction twice, before anything is shown
        if not current():
            return False
        self.point = point
        self._record(state)
        self._show_loss(point)
        for view in (self.surface2d, self.surface3d):
            view.log_color = state["log_color"]
            view.set_labels(f"{x} (parameter units)", f"{y} (parameter units)")
        # exact (small) models: the refined grid costs milliseconds, so it is the first frame; the browser
        # draws one frame per move instead of two. Large models draw a coarse grid first.
        for res in self.grids:
            if not current():
                return False
            surf = self.ls.surface(plane, span=state["span"], resolution=res,
                                   progress=lambda d, n: self._progress_status(started, "loss surface", d, n, current))
            self.surface3d.check(surf)  # both views draw it, or both keep the last grid and the error says why
            self.surface2d.update(surf)
            self.surface3d.update(surf)
            self._frame_drawn()
        if self._settled(current):  # exact: milliseconds; matrix-free: stopped as soon as a newer value arrives
            self.spectrum.show(self._spectrum_at(point, slq_vectors=2, slq_steps=20, progress=lambda d, n: (
                self._progress_status(started, "spectrum", d, n, current))))
            self._frame_drawn("spectrum")
        if not self.exact and np.any(coeffs[: self.chart.num_null] != 0) and current():
            point = self.chart.point(coeffs, retracted=True, progress=lambda d, n: self._progress_status(
                started, "re-projecting onto the manifold", d, n, current))
            if not current():
                return False
            self.point = point
            self._show_loss(point, " (re-projected)")
        return True

    # ------------------------------------------------------------------ export
    def _figure_panels(self):
        return [("", self.surface2d.to_matplotlib), ("3d", self.surface3d.to_matplotlib),
                ("", self.spectrum.to_matplotlib)]
