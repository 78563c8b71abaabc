"""`SpectrumView`: a histogram of Hessian eigenvalues over log10 |eigenvalue|, positive and negative ones
in two colours, with the near-zero band shaded and its count (the core's own rule) stated under it.

When nearly all eigenvalues are near zero (a large trained network, whose Hessian has far fewer non-zero
eigenvalues than parameters), a linear count axis draws the rest as bars less than a pixel high; the
counts then go on a log axis (:data:`LOG_RATIO`)."""
from __future__ import annotations

import html
import math

import bqplot as bq
import ipywidgets as widgets
import numpy as np
from matplotlib.ticker import MaxNLocator

from ..core import Spectrum, SpectrumEstimate
from ._legend import NOTE_STYLE, TITLE_STYLE, VIEW_CLASS, axis_ticks, legend_html, nice_ticks, px, tick_format

POSITIVE, NEGATIVE, BAND = "#3b75af", "#e1812c", "#9e9e9e"
#: values below FLOOR_FACTOR x the near-zero threshold (and exact zeros) are drawn in the first bin
FLOOR_FACTOR = 1e-3
#: the count axis turns logarithmic when the largest bar is at least LOG_RATIO times the smallest non-empty one
#: (on a linear axis of ~200 px that bar would be under 2 px high: the histogram reads as empty)
LOG_RATIO = 100.0
#: the lowest decade a log count axis starts at (10**-2 = 0.01 estimated eigenvalues)
LOG_FLOOR = -2


def log_bins(threshold: float, scale: float, bins: int):
    """Bin edges over log10 |lambda| from ``log10(FLOOR_FACTOR * threshold)`` past ``log10(scale)``, of
    equal width, with an edge exactly at ``log10(threshold)``: no bin holds both near-zero and other
    eigenvalues. Returns ``(edges, num_near_bins)``."""
    lo, mid = math.log10(FLOOR_FACTOR * threshold), math.log10(threshold)
    top = math.log10(scale) if scale > threshold else mid + 1.0
    total = top - lo
    n_near = max(1, round(bins * (mid - lo) / total))
    width = (mid - lo) / n_near
    n = n_near + max(1, math.floor((top - mid) / width + 1e-9) + 1)
    return lo + width * np.arange(n + 1), n_near


def histogram(values: np.ndarray, counts: np.ndarray, near: np.ndarray, threshold: float, scale: float,
              bins: int):
    """Counts of positive and of negative values per log10-|value| bin: ``(edges, pos, neg, n_near)``.

    ``counts`` is what each value stands for (1 for an eigenvalue, ``P * weight`` for an SLQ node).
    Values marked ``near`` zero (the result's own rule, ``|v| <= threshold``) land in the near-zero bins
    (left of ``log10(threshold)``), all others right of it; values below the floor (exact zeros too) in
    the first bin.
    """
    edges, n_near = log_bins(threshold, scale, bins)
    width = edges[1] - edges[0]
    x = np.log10(np.maximum(np.abs(values), 10.0 ** edges[0]))
    idx = np.floor((x - edges[0]) / width).astype(int)
    idx = np.where(near, np.clip(idx, 0, n_near - 1), np.clip(idx, n_near, len(edges) - 2))
    pos = np.bincount(idx[values >= 0], counts[values >= 0], minlength=len(edges) - 1)
    neg = np.bincount(idx[values < 0], counts[values < 0], minlength=len(edges) - 1)
    return edges, pos, neg, n_near


def count_axis(pos: np.ndarray, neg: np.ndarray, exact: bool) -> dict:
    """How the counts ``pos`` and ``neg`` (per bin) are drawn: bar heights, the axis' top, ticks and labels.

    A linear axis while the non-empty bins' totals stay within :data:`LOG_RATIO` of each other; else a log
    axis: a bar's height is ``log10(total) - floor`` (decades above a floor one decade under the smallest
    non-empty bin, never under :data:`LOG_FLOOR`), split between the two colours in proportion to the
    positive and negative counts, with ticks at powers of ten labelled by their counts ("1", "10", "1k"...:
    :func:`decade_label`). Empty bins (and bins under the floor) stay at zero height.

    Args:
        pos, neg: counts of positive and negative values per bin (``histogram``).
        exact: integer counts (a Spectrum) or estimated ones (SLQ).

    Returns:
        ``{"log", "pos", "neg", "ymax", "ticks", "labels", "format", "label", "floor"}``: the drawn heights,
        the top of the axis, the tick positions, their labels (None: the ``format`` draws them), the axis
        label and, on a log axis, the floor's decade (height 0 is ``10**floor``; else None).

    Example:
        >>> axis = count_axis(np.array([595_800.0, 0.0, 30.0]), np.array([0.0, 0.0, 2.0]), exact=False)
        >>> axis["log"], axis["labels"]
        (True, ['1', '10', '100', '1k', '10k', '100k'])
    """
    pos, neg = np.asarray(pos, dtype=np.float64), np.asarray(neg, dtype=np.float64)
    total = pos + neg
    name = "count" if exact else "estimated count"
    filled = total[total > 0]
    top = float(filled.max()) if filled.size else 1.0
    if filled.size == 0 or top < LOG_RATIO * float(filled.min()):
        if exact:
            ticks = MaxNLocator(nbins=5, integer=True).tick_values(0, top)
            ymax = float(ticks[-1])
            ticks = ticks[(ticks >= 0) & (ticks <= ymax)]
            fmt = "d"
        else:
            ticks, ymax = nice_ticks(0, top, max_ticks=5), top
            fmt = tick_format(ticks) if top < 10 else ",.0f"
        return {"log": False, "pos": pos, "neg": neg, "ymax": ymax, "ticks": np.asarray(ticks, dtype=np.float64),
                "labels": None, "format": fmt, "label": name, "floor": None}
    floor = max(LOG_FLOOR, math.floor(math.log10(float(filled.min()))) - 1)
    span = math.log10(top) - floor          # the tallest bar, in decades above the floor
    with np.errstate(divide="ignore", invalid="ignore"):
        height = np.where(total > 0, np.maximum(np.log10(np.where(total > 0, total, 1.0)) - floor, 0.0), 0.0)
        share = np.where(total > 0, pos / np.where(total > 0, total, 1.0), 0.0)
    high = floor + math.floor(span + 1e-9)  # the highest decade under the tallest bar
    step = max(1, math.ceil((high - floor) / 5))  # at most 6 decade ticks
    decades = list(range(high, floor - 1, -step))[::-1]
    return {"log": True, "pos": height * share, "neg": height * (1 - share), "ymax": span * 1.04,
            "ticks": np.array([k - floor for k in decades], dtype=np.float64),
            "labels": [decade_label(k) for k in decades], "format": "d",
            "label": f"{name} (log scale)", "floor": floor}


def decade_label(k: int) -> str:
    """A short label of ``10**k``: "0.01", "0.1", "1", "10", "100", "1k", "10k", "100k", "1M"... (a log count
    axis' labels fit the figure's left margin).

    Args:
        k: the decade's exponent.

    Returns:
        the label.

    Example:
        >>> [decade_label(k) for k in (-2, 0, 3, 5, 6, 10)]
        ['0.01', '1', '1k', '100k', '1M', '10G']
    """
    if k < 0:
        return f"{10.0 ** k:g}"
    for exponent, suffix in ((12, "T"), (9, "G"), (6, "M"), (3, "k")):
        if k >= exponent:
            return f"{10 ** (k - exponent)}{suffix}"
    return f"{10 ** k}"


class SpectrumView(widgets.VBox):
    """Hessian eigenvalues at a point, over log10 |eigenvalue|.

    ``show(result)`` takes an exact :class:`rw.core.Spectrum` (``ls.spectrum()``, small models: a
    histogram of the P eigenvalues with integer count ticks) or a :class:`rw.core.SpectrumEstimate`
    (``rw.core.spectrum_at`` for large models: stochastic Lanczos quadrature, each Ritz node standing
    for ``P * weight`` eigenvalues, an "estimated count" axis). Positive and negative eigenvalues are two
    bar series; the near-zero band ``|lambda| <= tol * scale`` is shaded and its count is the result's
    own ``num_near_zero`` (the rule ``along_curve`` and every notebook use). The bin edges fall on the
    band's edge, so the shaded bars hold exactly the counted eigenvalues. When the bars' counts span more
    than :data:`LOG_RATIO` (nearly every eigenvalue near zero), the count axis is logarithmic
    (:func:`count_axis`); ``view.counts`` always holds the counts themselves.

    Example:
        >>> view = rw.SpectrumView()                                   # doctest: +SKIP
        >>> view.show(rw.core.spectrum_at(ls, ls.theta))               # doctest: +SKIP
    """

    def __init__(self, *, bins: int = 30, width: int = 400, height: int = 300, **kwargs):
        self.bins = bins
        # allow_padding=False: bqplot's Bars pad a linear x scale by half a bar width, computed once, from
        # the number of bars its view finds when the front end builds it (and again only when the figure
        # is resized). A view built before the first histogram arrives (an explorer displayed before its
        # first frame, first_frame_timeout) finds the one placeholder bar: the padding is half the plot
        # width, the x range collapses to 2 px, and every later histogram is drawn there: no visible
        # bars, all x tick labels piled up in the middle. The x limits are the outer bin edges, so the
        # bars fit without padding.
        self._x, self._y = bq.LinearScale(allow_padding=False), bq.LinearScale(min=0)
        scales = {"x": self._x, "y": self._y}
        # (a Lines' opacity also fades its fill: the outline is hidden by a zero width instead)
        self.band = bq.Lines(x=[0.0, 0.0], y=[0.0, 1.0], scales=scales, colors=[BAND], fill="inside",
                             fill_colors=[BAND], fill_opacities=[0.35], stroke_width=0)
        self.bars = bq.Bars(x=np.zeros(1), y=np.zeros((2, 1)), scales=scales, colors=[POSITIVE, NEGATIVE],
                            type="stacked", padding=0.0, stroke="white", display_legend=False)
        self.x_axis = bq.Axis(scale=self._x, label="log10 |eigenvalue|")
        # one tick until the first histogram sets them (the default ticks of the empty 0..1 domain print as
        # "0 0 0 0 0 1 1 1 1 1" under the integer format)
        self.y_axis = bq.Axis(scale=self._y, label="count", orientation="vertical", tick_format="d",
                              tick_values=np.zeros(1), label_offset="52px")
        margin = {"top": 40, "bottom": 50, "left": 72, "right": 20}
        self.figure = bq.Figure(marks=[self.band, self.bars], axes=[self.x_axis, self.y_axis],
                                title="Hessian spectrum", title_style=dict(TITLE_STYLE), fig_margin=margin,
                                layout=widgets.Layout(width=px(width), height=f"{height}px"))
        self._plot_width = int(px(width)[:-2]) - margin["left"] - margin["right"]
        self.figure.add_class("rw-spectrum")
        self.legend = widgets.HTML("")
        self.label = widgets.HTML("")
        self.label.add_class("rw-near-zero")
        self.near_zero: int | float | None = None
        self.result: Spectrum | SpectrumEstimate | None = None
        self._hist = None
        self._axis: dict | None = None
        self._drawn = None
        super().__init__([self.figure, self.legend, self.label], **kwargs)
        self.add_class(VIEW_CLASS)

    # ------------------------------------------------------------------------------------------ show
    def show(self, result: Spectrum | SpectrumEstimate) -> int | float:
        """Draw ``result`` and state its near-zero count.

        Args:
            result: a :class:`rw.core.Spectrum` (exact) or :class:`rw.core.SpectrumEstimate` (SLQ),
                e.g. from ``rw.core.spectrum_at(ls, theta)``.

        Returns:
            ``result.num_near_zero`` (also in ``view.near_zero``): an int for a Spectrum, a float for
            an estimate.

        Raises:
            TypeError: neither a Spectrum nor a SpectrumEstimate.
            ValueError: eigenvalues (or SLQ nodes, their counts, the tolerance or the scale) that are NaN
                or infinite: they have no place on a log10 |eigenvalue| axis. The result objects refuse
                them when built; this catches one changed afterwards (its tensor written in place). The
                view keeps showing the last result.
        """
        if not isinstance(result, (Spectrum, SpectrumEstimate)):
            raise TypeError("result: expected an rw.core.Spectrum (ls.spectrum()) or an rw.core.SpectrumEstimate "
                            f"(rw.core.spectrum_at(ls, theta)), got {type(result).__name__}")
        # both results answer the same questions: nodes (eigenvalues, or SLQ nodes), what each stands for,
        # which are near zero by the result's own rule, and the count with its interval
        exact, total = result.exact, result.num_params
        what = "eigenvalues" if exact else "eigenvalue estimates (SLQ nodes)"
        values = np.asarray(result.nodes, dtype=np.float64)
        counts = np.asarray(result.counts, dtype=np.float64)
        for name, array in ((what, values), ("counts of the SLQ nodes", counts)):
            bad = ~np.isfinite(array)
            if bad.any():
                raise ValueError(f"result: expected finite {name}, got {int(bad.sum())} of {array.size} NaN or "
                                 f"inf (the first: {array[bad][0]}); was the Hessian computed at a point where "
                                 "the loss or the parameters are not finite?")
        tol, scale = float(result.tol), float(result.scale)
        if not (np.isfinite(tol) and np.isfinite(scale)):
            raise ValueError(f"result: expected a finite tolerance and scale (max |eigenvalue|), got tol={tol}, "
                             f"scale={scale}")
        count = result.near_zero_count()
        near = np.asarray(result.nodes_near_zero, dtype=bool)
        # a drawable band also for tol = 0 or a zero matrix (then only exact zeros are near zero)
        threshold = count.threshold if count.threshold > 0 else (1e-12 if scale == 0 else scale * 1e-6)
        edges, pos, neg, n_near = histogram(values, counts, near, threshold, max(scale, threshold), self.bins)
        self._hist = (edges, pos, neg, n_near, exact)
        self._axis = count_axis(pos, neg, exact)
        self.result, self.near_zero = result, count.value
        centres = (edges[:-1] + edges[1:]) / 2
        key = (edges.round(2).tobytes(), pos.round(6).tobytes(), neg.round(6).tobytes(), n_near, exact,
               float(f"{threshold:.2g}"))
        if key != self._drawn:  # a live slider often leaves the histogram as it was: send nothing then
            self._drawn = key
            self._draw(edges, centres, n_near, exact, threshold, self._axis)
        runs = (f" ({result.num_vectors} vectors &times; {result.num_steps} steps)"
                if not exact and result.num_vectors else "")
        source = "" if exact else f" &mdash; estimated by stochastic Lanczos quadrature{runs}"
        # the count as the core words it: "5", or "about 22,110 (95%: 21,810-22,403)" for an estimate
        count_text = html.escape(count.text())
        largest = f"; largest |λ| {scale:.4g}" if exact else ""
        if not exact and len(result.top_values):
            largest = "; largest λ " + ", ".join(f"{v:.4g}" for v in result.top_values) + " (Lanczos)"
        self.label.value = (f"<div style='line-height:1.4'><b>{count_text}</b> of {total:,} eigenvalues near zero "
                            f"(<span style='white-space:nowrap'>|λ| &le; {tol:g} &times; {scale:.3g}</span>)"
                            f"{largest}{source}</div>")
        return self.near_zero

    @property
    def counts(self) -> np.ndarray | None:
        """(2, bins) the counts of positive and of negative values per bin of the last histogram (the bars'
        heights on a linear axis; on a log axis ``bars.y`` holds the drawn heights), or None."""
        return None if self._hist is None else np.stack([self._hist[1], self._hist[2]])

    def _draw(self, edges, centres, n_near, exact, threshold, axis) -> None:
        ymax = axis["ymax"]
        labels = None if axis["labels"] is None else {
            f"{t:g}": text for t, text in zip(axis["ticks"], axis["labels"])}  # the keys as d3 prints the ticks
        with self.bars.hold_sync():
            self.bars.x, self.bars.y = centres, np.stack([axis["pos"], axis["neg"]])
        with self._x.hold_sync(), self._y.hold_sync():
            self._x.min, self._x.max = float(edges[0]), float(edges[-1])
            self._y.min, self._y.max = 0.0, ymax
        with self.band.hold_sync():
            self.band.x = [edges[0], edges[0], edges[n_near], edges[n_near]]
            self.band.y = [0.0, ymax, ymax, 0.0]
        self.x_axis.tick_values = axis_ticks(edges[0], edges[-1], self._plot_width, max_ticks=7, integer=True)
        self.x_axis.tick_format = "d"
        # the format and labels in a message before the tick values: the front end draws a change of tick values
        # in a d3 transition that formats the labels with the formatter it finds then, and one message's
        # changes arrive in no fixed order (numbers instead of "1k" when the values came first)
        with self.y_axis.hold_sync():
            self.y_axis.tick_format, self.y_axis.tick_labels, self.y_axis.label = (axis["format"], labels,
                                                                                   axis["label"])
        self.y_axis.tick_values = axis["ticks"]
        self.figure.title = "Hessian spectrum" + ("" if exact else " (estimated)")
        floor = FLOOR_FACTOR * threshold
        entries = [(POSITIVE, "square", "positive λ"), (NEGATIVE, "square", "negative λ"),
                   (BAND, "band", f"near zero: |λ| ≤ {threshold:.2g}")]
        note = "; counts on a log scale, each bar split by its share of positive and negative λ" if axis["log"] else ""
        self.legend.value = legend_html(entries) + (
            f"<div style='{NOTE_STYLE}'>x = log10 |λ|; values below {floor:.1g} (and exact zeros) "
            f"are drawn in the first bin{note}</div>")

    # ------------------------------------------------------------------------------------ export
    def to_matplotlib(self, ax):
        """Draw the same histogram on a matplotlib axes (for ``explorer.save``: PNG or SVG).

        Args:
            ax: a matplotlib ``Axes``.

        Returns:
            ``ax``.

        Raises:
            ValueError: nothing shown yet.
        """
        if self._hist is None:
            raise ValueError("to_matplotlib: nothing shown yet; call view.show(result) first")
        edges, _pos, _neg, n_near, exact = self._hist
        axis = self._axis
        pos, neg = axis["pos"], axis["neg"]
        width = edges[1] - edges[0]
        ax.axvspan(edges[0], edges[n_near], color=BAND, alpha=0.3, lw=0, label="near zero")
        ax.bar(edges[:-1], pos, width=width, align="edge", color=POSITIVE, label="positive λ")
        ax.bar(edges[:-1], neg, width=width, align="edge", bottom=pos, color=NEGATIVE, label="negative λ")
        ax.set_xlim(edges[0], edges[-1])
        ax.set_xlabel("log10 |eigenvalue|")
        ax.set_ylabel(axis["label"])
        if axis["log"]:  # the same decades as the widget (bar heights in decades above the floor)
            ax.set_ylim(0, axis["ymax"])
            ax.set_yticks(axis["ticks"], axis["labels"])
        elif exact:
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(self.figure.title)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3, frameon=False, fontsize="small")
        return ax
