"""What the views share: few, non-overlapping ticks with a short exact format (one rule for every axis and
colour bar, :func:`axis_ticks`), colour bars whose labels are sent before their range changes
(:func:`set_color_range`), HTML legends placed under a figure (never over the data), colours legible on a
white page and on JupyterLab's dark theme, text colours picked per background (:func:`text_color_on`), and
viridis as numbers (the 3-D mesh and the matplotlib export use the same colours as the bqplot colour scale)."""
from __future__ import annotations

import html
import math

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import to_rgb
from matplotlib.ticker import MaxNLocator

#: the largest figure width of any view, in pixels (explorers place views in a wrapping flex box)
MAX_WIDTH = 440
#: the CSS class of every view's outer box
VIEW_CLASS = "rw-view"
#: a title that fits a 440-px figure without clipping
TITLE_STYLE = {"font-size": "13px"}

#: the pages a view is drawn on: a white one, and JupyterLab's dark theme (``--jp-layout-color0``)
LIGHT_PAGE, DARK_PAGE = "#ffffff", "#111111"
#: contrast every line drawn on the page (not on a heatmap) keeps against both pages. A fixed colour can
#: have at most about 4.35:1 against both; matplotlib's tab blue (#1f77b4) has 3.9:1 on the dark page,
#: its tab orange 2.5:1 on the white one
PAGE_CONTRAST = 4.2
#: colours of data series (train/test, models M1..M4) with >= PAGE_CONTRAST against both pages: matplotlib's
#: tab blue, orange, green and purple at one luminance
SERIES = ("#217fbf", "#c35b00", "#268b26", "#9366bc")
#: grey of reference lines (the straight line between two minima), >= PAGE_CONTRAST against both pages
REFERENCE = "#797979"
#: the current point, t or threshold (a red with >= PAGE_CONTRAST against both pages)
MARKER = "#dc3f40"
#: secondary notes under a figure: the theme's own text colour, faded (a fixed grey is dim on one page or
#: the other)
NOTE_STYLE = "font-size:11px;line-height:1.4;opacity:0.75"


def luminance(color) -> float:
    """The relative luminance (WCAG 2) of a colour matplotlib understands (a name, ``"#rrggbb"``, RGB)."""
    rgb = np.asarray(to_rgb(color), dtype=float)
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return float(linear @ np.array([0.2126, 0.7152, 0.0722]))


def contrast_ratio(a, b) -> float:
    """WCAG 2 contrast ratio of two colours: 1 (the same) to 21 (black on white).

    Example:
        >>> round(contrast_ratio("black", "white"), 1)
        21.0
    """
    dark, light = sorted((luminance(a), luminance(b)))
    return (light + 0.05) / (dark + 0.05)


def text_color_on(background) -> str:
    """Black or white, whichever contrasts more with ``background`` (at least 4.58:1 on any colour).

    Example:
        >>> text_colour_on("#fde725"), text_colour_on("#440154")   # viridis' yellow and purple ends
        ('#000000', '#ffffff')
    """
    return "#000000" if contrast_ratio(background, "black") >= contrast_ratio(background, "white") else "#ffffff"


#: the tick steps (times a power of ten) of every axis
NICE_STEPS = (1, 2, 2.5, 5, 10)


def nice_ticks(lo: float, hi: float, *, max_ticks: int = 5, integer: bool = False) -> np.ndarray:
    """At most ``max_ticks`` round tick values inside ``[lo, hi]``: steps of 1, 2, 2.5 or 5 times a power of
    ten (matplotlib's MaxNLocator with those steps; its default also takes 1.5, 3, 4, 6 and 8: "-0.8 -0.4").

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
        ticks = MaxNLocator(nbins=nbins, steps=NICE_STEPS, integer=integer).tick_values(lo, hi)
        eps = 1e-9 * (hi - lo)
        ticks = ticks[(ticks >= lo - eps) & (ticks <= hi + eps)]
        if len(ticks) <= max_ticks or nbins == 1:
            return ticks
        nbins -= 1


def d3_exponent(text: str) -> str:
    """Python's exponent ("1e+06") as d3 prints it ("1e+6")."""
    mantissa, _, exponent = text.partition("e")
    return f"{mantissa}e{exponent[0]}{int(exponent[1:])}" if exponent else text


def tick_format(ticks) -> str:
    """The shortest format that shows every tick exactly and tells neighbouring ticks apart: fixed point
    (``".Nf"``), or exponent (``".Ne"``) where that is at least two characters shorter (from about 1e5 up
    and below 1e-3: "-1e+6", "2.5e-4" instead of "-1000000", "0.00025"). Python's and d3's formats print
    alike (:func:`format_ticks` writes the exponent as d3 does)."""
    ticks = np.asarray(ticks, dtype=float)
    if ticks.size == 0:
        return ".2f"
    big = float(np.abs(ticks).max())
    atol = 1e-9 * max(big, 1e-300)
    fixed = exponent = None
    for decimals in range(12):
        if np.allclose(np.round(ticks, decimals), ticks, rtol=0, atol=atol):
            fixed = f".{decimals}f"
            break
    for digits in range(8):
        if all(abs(float(format(t, f".{digits}e")) - t) <= atol for t in ticks):
            exponent = f".{digits}e"
            break
    if fixed is None:
        return exponent or ".3e"
    if exponent is None or big == 0:
        return fixed

    def width(fmt):
        return max(len(d3_exponent(format(float(t), fmt))) for t in ticks)

    return exponent if width(exponent) <= width(fixed) - 2 else fixed


def format_ticks(ticks, fmt: str | None = None) -> list[str]:
    """The tick labels :func:`tick_format` (or ``fmt``) gives, as d3 prints them in the browser."""
    fmt = tick_format(ticks) if fmt is None else fmt
    return [d3_exponent(format(float(t), fmt)) for t in ticks]


def tick_labels(ticks, fmt: str | None = None) -> list[str]:
    """What an axis set by :func:`set_axis_ticks` shows at ``ticks``: :func:`format_ticks`, with a zero among
    exponent labels written "0" (not "0e+0"). The matplotlib exports label their axes with these."""
    fmt = tick_format(ticks) if fmt is None else fmt
    labels = format_ticks(ticks, fmt)
    if fmt.endswith("e"):
        labels = ["0" if float(t) == 0 else text for t, text in zip(ticks, labels)]
    return labels


#: what one tick label needs on a bqplot axis (12-px digits): pixels per character and between two labels,
#: and the height of a label on a vertical axis
CHAR_PX, LABEL_GAP_PX, LABEL_HEIGHT_PX = 7.5, 12.0, 18.0


def axis_ticks(lo: float, hi: float, length_px: float, *, vertical: bool = False, max_ticks: int = 7,
               integer: bool = False) -> np.ndarray:
    """The most round ticks (at most ``max_ticks``) in ``[lo, hi]`` whose labels fit an axis ``length_px``
    pixels long without touching: on a horizontal axis two neighbouring labels (:func:`tick_labels`, about
    :data:`CHAR_PX` per character) keep :data:`LABEL_GAP_PX` apart, on a vertical one a label's height
    :data:`LABEL_HEIGHT_PX`. One rule for every axis and colour bar, so a span of 1.5 gets "-1.5 -1.0 ...
    1.5", not d3's 16 ticks, and a span of 1e6 "-1e+6 -5e+5 0 5e+5 1e+6", not "-1,000,000 -800,000 ...".

    Example:
        >>> axis_ticks(-1.5, 1.5, 265).tolist()
        [-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5]
        >>> tick_labels(axis_ticks(-1e6, 1e6, 265))
        ['-1e+6', '-5e+5', '0', '5e+5', '1e+6']
    """
    lo, hi = float(lo), float(hi)
    ticks = nice_ticks(lo, hi, max_ticks=max(max_ticks, 2), integer=integer)
    for n in range(max(max_ticks, 2), 1, -1):
        ticks = nice_ticks(lo, hi, max_ticks=n, integer=integer)
        if len(ticks) < 2 or hi <= lo:
            return ticks
        steps = np.diff(ticks) * length_px / (hi - lo)
        if vertical:
            need = np.full(len(steps), LABEL_HEIGHT_PX)
        else:
            widths = np.array([len(t) for t in tick_labels(ticks)]) * CHAR_PX
            need = (widths[:-1] + widths[1:]) / 2 + LABEL_GAP_PX
        if np.all(steps >= need):
            return ticks
    return ticks


def set_axis_ticks(axis, ticks) -> np.ndarray:
    """Put ``ticks`` on a bqplot axis with :func:`tick_labels`' text; return them.

    The format (and the "0" label) go in one message before the tick values: the front end draws a change of
    tick values with the formatter it holds at that moment, and one message's changes arrive in no fixed
    order. Unchanged ticks are not sent again.
    """
    ticks = np.asarray(ticks, dtype=np.float64)
    fmt = tick_format(ticks)
    zero = {"0": "0"} if fmt.endswith("e") and np.any(ticks == 0) else None   # keyed as JavaScript prints 0
    with axis.hold_sync():
        if axis.tick_format != fmt:
            axis.tick_format = fmt
        if axis.tick_labels != zero:
            axis.tick_labels = zero
    old = axis.tick_values
    if old is None or np.shape(old) != ticks.shape or not np.array_equal(old, ticks):
        axis.tick_values = ticks
    return ticks


#: the length of a vertical bqplot colour bar: the plot area's height less 2 x 100 px (ColorAxis' fixed offsets)
COLOR_BAR_OFFSET_PX = 100


def set_color_range(scale, axis, lo: float, hi: float, length_px: float) -> np.ndarray:
    """Set a colour scale's range to ``[lo, hi]`` and its colour bar's ticks (:func:`axis_ticks`); return them.

    bqplot 0.13's ColorAxis does not listen to its ``tick_values``: it reads them only when its scale's domain
    changes. Ticks sent after the range are drawn at the new range's positions with the old values (labels
    floating above or below the bar, or piled up on it) until the next change. So the ticks and their format
    go first, in one message, and the range after them; a colour bar never shows labels of another range.
    """
    ticks = axis_ticks(lo, hi, length_px, vertical=True, max_ticks=4)
    fmt = tick_format(ticks)
    zero = {"0": "0"} if fmt.endswith("e") and np.any(ticks == 0) else None   # keyed as JavaScript prints 0
    if axis.tick_labels != zero and axis.tick_format == fmt:
        axis.tick_format = None   # the colour bar rebuilds its formatter (and reads tick_labels) on a new format only
    old = axis.tick_values
    with axis.hold_sync():
        if axis.tick_labels != zero:
            axis.tick_labels = zero
        if axis.tick_format != fmt:
            axis.tick_format = fmt
        if old is None or np.shape(old) != ticks.shape or not np.array_equal(old, ticks):
            axis.tick_values = ticks
    with scale.hold_sync():
        if scale.min != lo:
            scale.min = float(lo)
        if scale.max != hi:
            scale.max = float(hi)
    return ticks


_MARKERS = {
    "square": "&#9632;", "circle": "&#9679;", "line": "&#9472;&#9472;", "solid": "&#9472;&#9472;",
    "dashed": "&#9472; &#9472;",
    "dotted": "&#183;&#183;&#183;&#183;", "dash_dotted": "&#9472;&#183;&#9472;", "band": "&#9608;",
}


def legend_html(entries) -> str:
    """An HTML legend, one ``(colour, marker, text)`` per entry, for a box under a figure.

    ``marker`` is one of ``"square"``, ``"circle"``, ``"line"`` (or ``"solid"``), ``"dashed"``, ``"dotted"``,
    ``"dash_dotted"`` (bqplot's ``line_style`` names), ``"band"`` (a pale block), or any short text drawn in
    the colour.
    """
    items = []
    for color, marker, text in entries:
        symbol = _MARKERS.get(marker, html.escape(str(marker)))
        # a thin grey halo keeps swatches visible on any page; a white or pale one (a mark drawn white on a
        # heatmap) gets a dark outline, or it vanishes on a white page
        halo = "0 0 1px #000,0 0 1px #000,0 0 2px #000" if luminance(color) > 0.6 else "0 0 1px #777"
        style = f"color:{html.escape(str(color))};text-shadow:{halo}"
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
