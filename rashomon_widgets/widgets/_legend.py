"""What the views share: few, non-overlapping ticks with a short exact format, HTML legends placed under
a figure (never over the data), and viridis as numbers (the 3-D mesh and the matplotlib export use the
same colours as the bqplot colour scale)."""
from __future__ import annotations

import html
import math

import numpy as np
from matplotlib import colormaps
from matplotlib.ticker import MaxNLocator

#: the largest figure width of any view, in pixels (explorers place views in a wrapping flex box)
MAX_WIDTH = 440
#: the CSS class of every view's outer box
VIEW_CLASS = "rw-view"
#: a title that fits a 440-px figure without clipping
TITLE_STYLE = {"font-size": "13px"}


def nice_ticks(lo: float, hi: float, *, max_ticks: int = 5, integer: bool = False) -> np.ndarray:
    """At most ``max_ticks`` round tick values inside ``[lo, hi]`` (MaxNLocator's steps).

    A degenerate range gives the one value. Few ticks with short labels never overlap, on an axis as
    short as a colour bar.
    """
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return np.zeros(0)
    if hi - lo <= 1e-12 * max(abs(lo), abs(hi), 1e-300):
        return np.array([lo])
    nbins = max_ticks
    while True:
        ticks = MaxNLocator(nbins=nbins, integer=integer).tick_values(lo, hi)
        eps = 1e-9 * (hi - lo)
        ticks = ticks[(ticks >= lo - eps) & (ticks <= hi + eps)]
        if len(ticks) <= max_ticks or nbins == 1:
            return ticks
        nbins -= 1


def tick_format(ticks) -> str:
    """The shortest format that shows every tick exactly and tells neighbouring ticks apart: fixed point
    (``".Nf"``), or exponent (``".Ne"``) for ticks below 1e-3 or from 1e6 on (the same in d3 and Python)."""
    ticks = np.asarray(ticks, dtype=float)
    if ticks.size == 0:
        return ".2f"
    big = float(np.abs(ticks).max())
    atol = 1e-9 * max(big, 1e-300)
    if 0 < big < 1e-3 or big >= 1e6:
        for digits in range(8):
            if all(abs(float(format(t, f".{digits}e")) - t) <= atol for t in ticks):
                return f".{digits}e"
        return ".3e"
    for decimals in range(12):
        if np.allclose(np.round(ticks, decimals), ticks, rtol=0, atol=atol):
            return f".{decimals}f"
    return ".3g"


def format_ticks(ticks) -> list[str]:
    """The tick labels :func:`tick_format` gives."""
    fmt = tick_format(ticks)
    return [format(float(t), fmt) for t in ticks]


def set_colour_ticks(axis, lo: float, hi: float, *, max_ticks: int = 4) -> np.ndarray:
    """Put few round ticks with an exact short format on a bqplot (colour) axis; return them."""
    ticks = nice_ticks(lo, hi, max_ticks=max_ticks)
    old = axis.tick_values
    if old is not None and np.shape(old) == ticks.shape and np.array_equal(old, ticks):
        return ticks  # unchanged: an array trait would be sent (and the axis redrawn) all the same
    with axis.hold_sync():
        axis.tick_values = ticks
        axis.tick_format = tick_format(ticks)
    return ticks


_MARKERS = {
    "square": "&#9632;", "circle": "&#9679;", "line": "&#9472;&#9472;", "dashed": "&#9472; &#9472;",
    "band": "&#9608;",
}


def legend_html(entries) -> str:
    """An HTML legend, one ``(colour, marker, text)`` per entry, for a box under a figure.

    ``marker`` is one of ``"square"``, ``"circle"``, ``"line"``, ``"dashed"``, ``"band"`` (a pale
    block), or any short text drawn in the colour.
    """
    items = []
    for colour, marker, text in entries:
        symbol = _MARKERS.get(marker, html.escape(str(marker)))
        # a thin grey halo keeps white and pale swatches visible on a white page
        style = f"color:{html.escape(str(colour))};text-shadow:0 0 1px #777"
        if marker == "band":
            style += ";opacity:0.45"
        items.append(f"<span style='margin-right:12px;white-space:nowrap'><span style='{style}'>{symbol}</span> "
                     f"{html.escape(str(text))}</span>")
    return "<div class='rw-legend' style='font-size:12px;line-height:1.5'>" + " ".join(items) + "</div>"


def viridis_rgb(values, vmin: float, vmax: float) -> np.ndarray:
    """(N, 3) float RGB in [0, 1] of viridis at ``values`` mapped linearly from [vmin, vmax] (NaN: grey)."""
    values = np.asarray(values, dtype=float).ravel()
    span = vmax - vmin
    u = (values - vmin) / span if span > 0 else np.full_like(values, 0.5)
    rgb = colormaps["viridis"](np.clip(np.nan_to_num(u, nan=0.0), 0.0, 1.0))[:, :3]
    rgb[~np.isfinite(values)] = 0.5
    return rgb


def px(width: int) -> str:
    """A fixed pixel width no wider than :data:`MAX_WIDTH`."""
    return f"{min(int(width), MAX_WIDTH)}px"
