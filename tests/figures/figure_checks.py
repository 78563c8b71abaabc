"""Checks that a matplotlib figure is readable, and a runner that applies them to every figure a notebook shows.

``figure_problems(fig)`` returns a list of human-readable problems (empty: the figure passes):

- **Axis labels.** Every Axes that shows data (``ax.has_data()``: lines, collections, images, patches) has
  an x label and a y label (and a z label for 3-D axes). An axis counts as labelled when it has its own
  label, when it shares that axis (``sharex``/``sharey``) with an Axes of the same figure that has one (a
  grid labelled once along its outer edge), or when the figure has ``fig.supxlabel`` / ``fig.supylabel``.
  A colour bar needs a label on its long axis (``fig.colorbar(..., label=...)``).
- **Legend entries visible.** No legend entry is drawn only in the colour of its background (white on
  white): every visible part of its handle (the line if it has a line style, the marker face and edge, a
  patch's face and edge) is compared with the background the entry sits on (the legend frame's colour
  composited over the axes' colour, or the axes' colour when the legend has no frame); an entry whose
  visible parts are all within ``COLOUR_TOLERANCE`` of it (or fully transparent) is a problem.
- **Legend clear of the labels.** A legend box does not overlap the x label, the y label or the title of
  its own Axes (a legend placed below the plot must leave room for the x label).

**Declaring why an axis has no label.** Some axes legitimately have none (an image grid of digits, a
diagram). Say so with the artist's ``gid``, which also ends up in the SVG::

    ax.set_gid("no-axis-labels: a grid of sample images, the axes carry no quantity")
    ax.set_gid("no-xlabel: the ticks name the models")          # only the x label is waived
    ax.set_gid("no-ylabel: the ticks name the OOD families")    # only the y label is waived
    fig.set_gid("no-axis-labels: <reason>")                     # waives every Axes of the figure

The reason after the colon must not be empty: a waiver without a reason is itself reported.

``notebook_figure_problems(path)`` executes a notebook with ``RASHOMON_SMALL=1`` in the kernel's environment
(nbclient) and returns ``(cell index, figure title, problem)`` for every figure any cell displays. It injects a
first cell that resolves the inline backend (configuring it drops every Figure printer: IPython's
``select_figure_formats``) and then registers, again before every cell, a plain-text display
formatter for ``matplotlib.figure.Figure``: every figure the inline
backend shows passes through it, whether through ``plt.show()`` (which closes the figures in the middle of the
cell, before any ``post_execute`` hook runs), the backend's own end-of-cell flush, or an explicit
``display(fig)``. The formatter runs ``figure_problems`` on the still-open figure and appends the problems to a
JSON-lines file; the runner maps each cell's source back to its index.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
from matplotlib import colors as mcolors

COLOUR_TOLERANCE = 0.12   # largest RGB channel difference (0..1) that still counts as "the same colour"
GID_ALL, GID_X, GID_Y = "no-axis-labels", "no-xlabel", "no-ylabel"


def _waivers(artist) -> tuple[set[str], list[str]]:
    """The waivers an artist's gid declares, and problems with them (a waiver without a reason)."""
    gid = artist.get_gid()
    if not isinstance(gid, str):
        return set(), []
    found, problems = set(), []
    for part in gid.split(";"):
        key, _, reason = part.partition(":")
        key = key.strip()
        if key in (GID_ALL, GID_X, GID_Y):
            if reason.strip():
                found.add(key)
            else:
                problems.append(f"gid {gid!r} waives axis labels without giving a reason")
    return found, problems


def _name(ax) -> str:
    title = ax.get_title() or ax.get_title("left") or ax.get_title("right")
    return f"axes {title!r}" if title else f"axes at {tuple(round(float(v), 2) for v in ax.get_position().bounds)}"


def _is_colorbar(ax) -> bool:
    return getattr(ax, "_colorbar", None) is not None or ax.get_label() == "<colorbar>"


def _shared_label(ax, which: str) -> bool:
    group = ax.get_shared_x_axes() if which == "x" else ax.get_shared_y_axes()
    for other in group.get_siblings(ax):
        if other is not ax and other.figure is ax.figure:
            label = other.get_xlabel() if which == "x" else other.get_ylabel()
            if label.strip():
                return True
    return False


def _label_problems(fig) -> list[str]:
    problems = []
    fig_waived, bad = _waivers(fig)
    problems += bad
    supx = getattr(fig, "_supxlabel", None)
    supy = getattr(fig, "_supylabel", None)
    has_supx = supx is not None and supx.get_text().strip() != ""
    has_supy = supy is not None and supy.get_text().strip() != ""
    for ax in fig.get_axes():
        if not ax.get_visible():
            continue
        waived, bad = _waivers(ax)
        problems += bad
        waived |= fig_waived
        if GID_ALL in waived:
            continue
        if _is_colorbar(ax):
            cbar = ax._colorbar if getattr(ax, "_colorbar", None) is not None else None
            vertical = cbar is None or cbar.orientation == "vertical"
            label = ax.get_ylabel() if vertical else ax.get_xlabel()
            if not label.strip():
                beside = _name(cbar.mappable.axes) if cbar and cbar.mappable.axes else "a plot"
                problems.append(f"colour bar next to {beside} has no label (fig.colorbar(..., label=...))")
            continue
        if not ax.has_data():
            continue
        if GID_X not in waived and not ax.get_xlabel().strip() and not has_supx and not _shared_label(ax, "x"):
            problems.append(f"{_name(ax)} shows data but has no x label")
        if GID_Y not in waived and not ax.get_ylabel().strip() and not has_supy and not _shared_label(ax, "y"):
            problems.append(f"{_name(ax)} shows data but has no y label")
        if ax.name == "3d" and not ax.get_zlabel().strip():
            problems.append(f"{_name(ax)} shows 3-D data but has no z label")
    return problems


def _rgba(colour) -> np.ndarray | None:
    if colour is None or (isinstance(colour, str) and colour.lower() == "none"):
        return None
    arr = np.asarray(mcolors.to_rgba_array(colour), dtype=float)
    return arr if len(arr) else None


def _handle_colours(handle) -> list[np.ndarray]:
    """RGBA rows of every visible part of a legend handle."""
    from matplotlib.collections import Collection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    parts = []
    if isinstance(handle, Line2D):
        if handle.get_linestyle() not in ("None", "none", "", " ") and handle.get_linewidth() > 0:
            parts.append(_rgba(handle.get_color()))
        if handle.get_marker() not in (None, "None", "none", "", " "):
            parts.append(_rgba(handle.get_markerfacecolor()))
            if handle.get_markeredgewidth() > 0:
                parts.append(_rgba(handle.get_markeredgecolor()))
    elif isinstance(handle, Patch):
        if handle.get_fill():
            parts.append(_rgba(handle.get_facecolor()))
        if handle.get_linewidth() > 0:
            parts.append(_rgba(handle.get_edgecolor()))
    elif isinstance(handle, Collection):
        parts.append(_rgba(handle.get_facecolor()))
        if np.max(np.atleast_1d(handle.get_linewidth()), initial=0) > 0:
            parts.append(_rgba(handle.get_edgecolor()))
    else:
        return []   # an unknown handle type: nothing to judge
    alpha = handle.get_alpha()
    rows = []
    for p in parts:
        if p is None:
            continue
        p = p.copy()
        if alpha is not None:
            p[:, 3] = alpha
        rows.extend(p)
    return rows


def _legend_background(legend, ax) -> np.ndarray:
    axes_bg = np.asarray(mcolors.to_rgba(ax.get_facecolor() if ax is not None else legend.figure.get_facecolor()))
    frame = legend.get_frame()
    if not legend.get_frame_on() or not frame.get_visible():
        return axes_bg[:3]
    face = np.asarray(frame.get_facecolor(), dtype=float)
    a = face[3]
    return a * face[:3] + (1 - a) * axes_bg[:3]


def _legend_problems(fig) -> list[str]:
    problems = []
    legends = [(ax.get_legend(), ax) for ax in fig.get_axes() if ax.get_legend() is not None]
    legends += [(leg, None) for leg in fig.legends]
    for legend, ax in legends:
        background = _legend_background(legend, ax)
        handles = getattr(legend, "legend_handles", None) or getattr(legend, "legendHandles", [])
        for handle, text in zip(handles, legend.get_texts()):
            rows = _handle_colours(handle)
            if not rows and handle is not None and not hasattr(handle, "get_color") and \
                    not hasattr(handle, "get_facecolor"):
                continue
            visible = [r for r in rows if r[3] > 0.05 and np.max(np.abs(r[:3] - background)) > COLOUR_TOLERANCE]
            if not visible:
                where = _name(ax) if ax is not None else "the figure legend"
                problems.append(f"legend entry {text.get_text()!r} of {where} has the background's colour "
                                f"{mcolors.to_hex(background)} (invisible)")
    return problems


def _overlap_problems(fig) -> list[str]:
    problems = []
    legends = [(ax.get_legend(), ax) for ax in fig.get_axes() if ax.get_legend() is not None]
    if not legends:
        return problems
    try:
        renderer = fig.canvas.get_renderer()
        fig.canvas.draw()
    except Exception:   # a backend that cannot render here: skip the geometric check
        return problems
    for legend, ax in legends:
        box = legend.get_window_extent(renderer)
        for what, text in (("x label", ax.xaxis.label), ("y label", ax.yaxis.label), ("title", ax.title)):
            if not text.get_text().strip() or not text.get_visible():
                continue
            other = text.get_window_extent(renderer)
            if box.overlaps(other):
                problems.append(f"the legend of {_name(ax)} overlaps its {what} {text.get_text()!r}")
    return problems


def figure_problems(fig) -> list[str]:
    """Problems a student would meet reading ``fig``: unlabelled axes, invisible legend entries, a legend on a label."""
    return _label_problems(fig) + _legend_problems(fig) + _overlap_problems(fig)


def figure_title(fig) -> str:
    sup = getattr(fig, "_suptitle", None)
    if sup is not None and sup.get_text().strip():
        return sup.get_text()
    for ax in fig.get_axes():
        if ax.get_title().strip():
            return ax.get_title()
    return "(untitled figure)"


# --------------------------------------------------------------------------------------------------------------
# running a notebook

_HOOK = r'''
import json as _fc_json, sys as _fc_sys
_fc_sys.path.insert(0, {checks_dir!r})
from figure_checks import figure_problems as _fc_problems, figure_title as _fc_title
import matplotlib.pyplot as _fc_plt

_fc_plt.close(_fc_plt.figure())   # resolve the inline backend now: configuring it drops every Figure printer
_fc_cell = [None]                 # the source of the cell being run


def _fc_plain(fig, p, cycle):
    try:
        found = _fc_problems(fig)
    except Exception as exc:   # a check that crashes is a problem too, never a silent pass
        found = [f"figure check crashed: {{exc!r}}"]
    with open({record!r}, "a") as f:
        f.write(_fc_json.dumps({{"cell": _fc_cell[0], "title": _fc_title(fig), "problems": found}}) + "\n")
    p.text(repr(fig))


def _fc_register(info=None):
    if info is not None:
        _fc_cell[0] = info.raw_cell
    # registered again before every cell, in case a cell configures the inline backend again
    get_ipython().display_formatter.formatters["text/plain"].for_type_by_name("matplotlib.figure", "Figure", _fc_plain)


_fc_register()
get_ipython().events.register("pre_run_cell", _fc_register)
'''


def notebook_figure_problems(path, timeout: int = 900, parameters: str = "") -> tuple[list[tuple], int]:
    """Execute the notebook at test size; return ([(cell index, figure title, problem)], figures checked).

    ``parameters`` is appended to the cell tagged 'parameters' (as papermill would inject it).
    """
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    if parameters:
        for cell in nb.cells:
            if "parameters" in cell.metadata.get("tags", []):
                cell.source += "\n" + parameters
    with tempfile.TemporaryDirectory() as tmp:
        record = os.path.join(tmp, "figures.jsonl")
        hook = nbformat.v4.new_code_cell(_HOOK.format(checks_dir=str(Path(__file__).resolve().parent),
                                                      record=record))
        nb.cells.insert(0, hook)
        old = os.environ.get("RASHOMON_SMALL")
        os.environ["RASHOMON_SMALL"] = "1"   # the kernel inherits this process's environment
        try:
            NotebookClient(nb, timeout=timeout, kernel_name="python3",
                           resources={"metadata": {"path": str(path.parent)}}).execute()
        finally:
            if old is None:
                os.environ.pop("RASHOMON_SMALL", None)
            else:
                os.environ["RASHOMON_SMALL"] = old
        entries = [json.loads(line) for line in Path(record).read_text().splitlines()] if os.path.exists(record) else []
    cell_of = {c.source: i - 1 for i, c in enumerate(nb.cells) if c.cell_type == "code" and i > 0}
    found = [(cell_of.get(e["cell"], -1), e["title"], p) for e in entries for p in e["problems"]]
    return found, len(entries)
