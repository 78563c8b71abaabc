"""What the views draw stays right after every change, and the exports hold what the live views show (issue 23,
items 4 and 5), through the synced state of the bqplot and ipyvolume models and the matplotlib figures.

Each test names the old behaviour it fails on. The rendered page is checked in tests/browser/test_pictures.py."""
import html
import re

import matplotlib

matplotlib.use("Agg")

import bqplot as bq
import numpy as np
import pytest
from matplotlib.collections import LineCollection, QuadMesh

import rashomon_widgets as rw
from rashomon_widgets.core import Surface
from rashomon_widgets.widgets._legend import (
    _MARKERS,
    CHAR_PX,
    DARK_PAGE,
    LABEL_GAP_PX,
    LABEL_HEIGHT_PX,
    LIGHT_PAGE,
    NICE_STEPS,
    PAGE_CONTRAST,
    axis_ticks,
    contrast_ratio,
    tick_labels,
)
from rashomon_widgets.widgets.curve_explorer import PROFILE_STYLES

from .test_curve_explorer import _case as curve_case
from .test_pruning_explorer import _case as pruning_case

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _plot_size(figure):
    """A bqplot figure's plot area in pixels: its layout's size less its margins."""
    m = figure.fig_margin
    return (int(figure.layout.width[:-2]) - m["left"] - m["right"],
            int(figure.layout.height[:-2]) - m["top"] - m["bottom"])


def _surface(loss, xs=None, ys=None):
    ny, nx = loss.shape
    xs = np.linspace(-1.0, 1.0, nx) if xs is None else xs
    ys = np.linspace(-0.5, 0.5, ny) if ys is None else ys
    return Surface(None, np.asarray(xs, dtype=float), np.asarray(ys, dtype=float), loss)


# ------------------------------------------------------------------------------------- colour bars
def _recorder(*widgets):
    """Every message the widgets send from now on, in order: ``(widget, {name: value})``."""
    sent = []
    for w in widgets:
        send = w.send_state

        def record(key=None, w=w, send=send):
            keys = [key] if isinstance(key, str) else list(key or w.keys)
            sent.append((w, {k: getattr(w, k) for k in keys}))
            return send(key)

        w.send_state = record
    return sent


def _replay(sent, scale, axis, start):
    """What the front end's colour bar holds at each change of its scale's range: (range, tick values)."""
    state = dict(start)
    seen = []
    for widget, change in sent:
        state.update({("scale" if widget is scale else "axis", k): v for k, v in change.items()})
        if widget is scale and {"min", "max"} & set(change):
            seen.append(((state["scale", "min"], state["scale", "max"]), np.asarray(state["axis", "tick_values"])))
    return seen


def _start(scale, axis):
    return {("scale", "min"): scale.min, ("scale", "max"): scale.max, ("axis", "tick_values"): axis.tick_values}


def _surface_changes():
    wide = 10 ** np.linspace(-1, 0, 20).reshape(4, 5)      # log10 loss -1 .. 0
    deep = 10 ** np.linspace(-6, -3, 20).reshape(4, 5)     # log10 loss -6 .. -3: none of the old ticks inside
    linear = np.linspace(0.0, 2.0, 20).reshape(4, 5)       # log colour off: 0 .. 2
    return {"range change": (True, wide, deep), "log colour off": (True, linear, None),
            "log colour on": (False, linear, None)}


@pytest.mark.parametrize("case", list(_surface_changes()))
def test_a_color_bar_never_holds_ticks_outside_its_range(case):
    """bqplot 0.13's ColorAxis reads its tick_values only when its scale's range changes. Old behaviour: the
    range was sent first, the ticks after it, so after a range change the bar drew the old labels at the new
    range's positions (floating above or below the bar, or piled up on it) until the next change."""
    log, first, second = _surface_changes()[case]
    view = rw.SurfaceView(_surface(first), log_color=log)
    scale, axis = view._color, view.color_axis
    sent = _recorder(scale, axis)
    start = _start(scale, axis)
    if second is None:
        view.log_color = not log
    else:
        view.update(_surface(second))
    seen = _replay(sent, scale, axis, start)
    assert seen, "the range did not change"
    for (lo, hi), ticks in seen:
        assert ticks.size >= 2 and np.all((ticks >= lo - 1e-9) & (ticks <= hi + 1e-9)), (
            f"the colour bar's range became [{lo:.3g}, {hi:.3g}] while it held the ticks {ticks.tolist()}")
    z = np.asarray(view.heatmap.color)
    np.testing.assert_array_equal(axis.tick_values, axis_ticks(z.min(), z.max(), _plot_size(view.figure)[1] - 200,
                                                               vertical=True, max_ticks=4))


def test_the_similarity_color_bar_gets_its_ticks_before_its_range():
    """Old behaviour: the similarity heatmap's range was sent before its colour bar's ticks (see above)."""
    view = rw.SimilarityView()
    view.show(np.array([[1.0, 0.5], [0.5, 1.0]]), ["a", "b"])
    scale, axis = view._color, view.color_axis
    sent = _recorder(scale, axis)
    start = _start(scale, axis)
    view.show(np.array([[1.0, 0.995], [0.995, 1.0]]), ["a", "b"])
    seen = _replay(sent, scale, axis, start)
    assert seen
    for (lo, hi), ticks in seen:
        assert ticks.size >= 2 and np.all((ticks >= lo - 1e-12) & (ticks <= hi + 1e-12)), (lo, hi, ticks)


# ------------------------------------------------------------------------------------------ axis ticks
def _fits(ticks, labels, lo, hi, length_px, vertical):
    """Whether neighbouring labels keep apart on an axis length_px long (CHAR_PX per character)."""
    pos = (np.asarray(ticks) - lo) / (hi - lo) * length_px
    if vertical:
        return bool(np.all(np.diff(pos) >= LABEL_HEIGHT_PX))
    widths = np.array([len(t) for t in labels]) * CHAR_PX
    return bool(np.all(np.diff(pos) >= (widths[:-1] + widths[1:]) / 2 + LABEL_GAP_PX))


@pytest.mark.parametrize("span, longest", [(1.5, 4), (1e6, 5), (2.5e-4, 6)])
def test_plane_axes_get_few_round_short_ticks_at_any_span(span, longest):
    """Old behaviour: the plane's axes had no tick values of their own; bqplot's default drew 16 labels at
    span 1.5 (touching each other) and "-1,000,000 -800,000 ..." at span 1e6 (overlapping)."""
    n = 31
    xs = ys = np.linspace(-span, span, n)
    loss = np.add.outer(ys ** 2, xs ** 2) / span ** 2 + 0.1
    view = rw.SurfaceView(_surface(loss, xs, ys))
    width, height = _plot_size(view.figure)
    for axis, length, vertical in ((view.figure.axes[0], width, False), (view.figure.axes[1], height, True)):
        ticks = np.asarray([] if axis.tick_values is None else axis.tick_values, dtype=float).ravel()
        assert 3 <= len(ticks) <= 7, (span, ticks)   # (None: bqplot's default ticks)
        labels = tick_labels(ticks, axis.tick_format)
        assert np.all((ticks >= -span - 1e-12 * span) & (ticks <= span * (1 + 1e-12))), labels
        step = np.diff(ticks)
        assert np.allclose(step, step[0]) and any(np.isclose(step[0] / 10 ** np.floor(np.log10(step[0])), s)
                                                  for s in NICE_STEPS), labels  # 1, 2, 2.5 or 5 x 10^k
        assert max(len(t) for t in labels) <= longest and len(set(labels)) == len(labels), labels
        assert _fits(ticks, labels, -span, span, length, vertical), labels
    if span == 1e6:
        assert tick_labels(view.figure.axes[0].tick_values, view.figure.axes[0].tick_format) == [
            "-1e+6", "-5e+5", "0", "5e+5", "1e+6"]
        assert view.figure.axes[0].tick_labels == {"0": "0"}   # not "0e+0"


# ------------------------------------------------------------------------------------------ profile
_curve_case = curve_case   # a 4-8-3 tanh MLP pair and a fitted curve, shared with test_curve_explorer


@pytest.fixture(scope="module")
def curve_explorer():
    ls, curve, test = _curve_case()
    e = rw.CurveExplorer(ls, curve, test_data=test, resolution=13, coarse=5, num_t=11)
    assert e.wait(300)
    yield e
    e.close()


def _profile_lines(explorer):
    """(figure, mark, row, colour, line style) of every data line of the profile panel."""
    out = []
    for figure in (explorer.profile_figure, getattr(explorer, "accuracy_figure", None)):
        if figure is None:
            continue
        for mark in figure.marks:
            if mark in (explorer.t_mark, getattr(explorer, "t_mark_accuracy", None)) or not mark.visible:
                continue
            rows = np.atleast_2d(np.asarray(mark.y)).shape[0]
            for k in range(rows):
                out.append((figure, mark, k, mark.colors[k % len(mark.colors)], mark.line_style))
    return out


def test_loss_and_accuracy_are_not_drawn_over_each_other(curve_explorer):
    """Old behaviour: one figure held the log loss and the accuracy (0-100% on a second axis): the
    accuracies near 100% and the highest losses all ran along its top edge, on top of each other."""
    lines = _profile_lines(curve_explorer)
    assert len(lines) == 5   # train and test loss, the straight line, train and test accuracy
    loss_figures = {id(f) for f, m, *_ in lines if m in (curve_explorer.loss_lines, curve_explorer.line_loss_mark)}
    accuracy_figures = {id(f) for f, m, *_ in lines if m is curve_explorer.acc_lines}
    assert loss_figures and accuracy_figures and not loss_figures & accuracy_figures
    # the accuracy panel spans the accuracies (train near 100% and test a few points below stay apart), not 0-100%
    values = np.asarray(curve_explorer.acc_lines.y, dtype=float)
    scale = curve_explorer.acc_lines.scales["y"]
    assert scale.min <= values.min() and values.max() <= scale.max
    assert scale.max - scale.min <= 1.2 * max(np.ptp(values), 0.02) + 1e-9, (scale.min, scale.max, np.ptp(values))


def test_every_profile_line_has_its_own_color_and_style_and_the_legend_matches(curve_explorer):
    """Old behaviour: each split's loss and accuracy shared one colour, the accuracy told apart only by a 1-px
    dotted line (invisible where it ran over the loss), and the legend drew "┈┈" for a dotted line."""
    lines = _profile_lines(curve_explorer)
    pairs = [(color, style) for *_, color, style in lines]
    assert len(set(pairs)) == len(pairs), pairs
    # colour per split, style per quantity
    expected = [PROFILE_STYLES[k] for k in ("line_loss", "train_loss", "test_loss", "train_accuracy", "test_accuracy")]
    assert sorted(pairs) == sorted(expected)
    # the legend (HTML under the figures) shows each line's colour with its style's glyph, and nothing else
    shown = {(color, html.unescape(glyph)) for color, glyph, _ in re.findall(
        r"<span style='color:([^;']+);[^']*'>([^<]*)</span> ([^<]*)</span>", curve_explorer.profile_legend.value)}
    drawn = {(color, html.unescape(_MARKERS[style])) for color, style in pairs}
    assert drawn <= shown and len(shown - drawn) == 1, (shown, drawn)   # and the current t


def test_page_lines_contrast_with_white_and_dark_pages(curve_explorer):
    """Old behaviour: the train loss (#1f77b4: 3.9:1 on JupyterLab's dark #111) and the straight line (#7f7f7f:
    4.0:1 on white) were dim on one page or the other; the pruning plot's orange 2.5:1 on white."""
    colors = {color for *_, color, _ in _profile_lines(curve_explorer)} | {curve_explorer.t_mark.colors[0]}
    from rashomon_widgets.widgets.pruning_explorer import _COLORS
    colors |= set(_COLORS)
    for color in colors:
        for page in (LIGHT_PAGE, DARK_PAGE):
            assert contrast_ratio(color, page) >= PAGE_CONTRAST, (color, page, contrast_ratio(color, page))


def test_grey_notes_follow_the_theme(xor_min):
    """Old behaviour: the spectrum's note was a fixed #777 grey at 11 px (dim on the dark page)."""
    view = rw.SpectrumView()
    view.show(xor_min.spectrum())
    note = view.legend.value.split("<div", 2)[-1]
    assert "color:#" not in note and "opacity:" in note
    view3d = rw.Surface3DView(_surface(np.ones((3, 4)) + np.arange(4)))
    assert "color:#" not in view3d.caption.value


# ------------------------------------------------------------------------------------------ 3-D
def test_3d_axes_face_the_viewer_and_the_caption_carries_the_numbers():
    """Old behaviour: ipyvolume's tick labels did not show (9 px, cut by an alpha test) and the caption had no
    numbers; the camera looked from the high side of the plane's y, so "x" sat inside the box and the height's
    label behind the surface; the plane's x and y were mapped mirror-wise (x right, y towards the viewer)."""
    loss = 10 ** np.linspace(-3, 0, 35).reshape(5, 7)
    view = rw.Surface3DView(_surface(loss, np.linspace(-2.0, 2.0, 7), np.linspace(-0.5, 1.5, 5)), log_color=True)
    view.set_labels("straight line", "detour")
    text = view.caption.value.replace("&minus;", "-")
    assert "straight line from -2 to 2" in text and "detour from -0.5 to 1.5" in text
    assert "log10 loss from -3 to 0 " in text
    for theme in ("dark", "light"):
        view.set_theme(theme)
        for axis in "xyz":   # ipyvolume looks a tick label's visibility up per axis only
            assert view.figure.style["axes"][axis]["ticklabel"]["visible"] is False
    # ipyvolume labels the edges on the low side of each axis: the camera looks from there
    camera = np.array(view.figure.camera.position)
    assert camera[0] < 0 and camera[2] < 0 and camera[1] > 0
    forward = -camera / np.linalg.norm(camera)
    right = np.cross(forward, [0.0, 1.0, 0.0])
    plane_x = np.array([0.0, 0.0, 1.0]) if view.figure.zlabel == "x" else np.array([1.0, 0.0, 0.0])
    plane_y = np.array([1.0, 0.0, 0.0]) if view.figure.xlabel == "y" else np.array([0.0, 0.0, 1.0])
    assert right @ plane_x > 0 and forward @ plane_y > 0   # x to the right, y away from the viewer
    assert np.cross(plane_x, plane_y) @ [0.0, 1.0, 0.0] > 0   # the 2-D map, not its mirror image
    np.testing.assert_allclose(view.mesh.z, np.meshgrid(np.linspace(-2, 2, 7), np.linspace(-0.5, 1.5, 5))[0].ravel())


# ------------------------------------------------------------------------------------------ pruning
def test_similarity_values_are_black_or_white_whichever_reads_on_the_cell():
    """Old behaviour: every value was white (the GridHeatMap's one font style), 1.1:1 on viridis' yellow."""
    view = rw.SimilarityView()
    S = np.array([[1.0, 0.92, 0.98, 0.9], [0.92, 1.0, 0.89, 0.96], [0.98, 0.89, 1.0, 0.91], [0.9, 0.96, 0.91, 1.0]])
    view.show(S, ["M1", "M2", "M1 L1", "M2 L1"])
    assert view.grid.display_format is None   # no second, single-coloured set of values under the labels
    cells = view.cell_colors().reshape(-1, 3)
    colors = list(view.values.colors)
    assert len(colors) == S.size and list(view.values.text) == [format(v, ".2f") for v in S.ravel()]
    for cell, text in zip(cells, colors):
        assert contrast_ratio(tuple(cell), text) >= 4.5, (cell, text)
    assert {"#000000", "#ffffff"} == set(colors)   # yellow cells get black, purple ones white
    # the labels sit on their cells: column names along x, row names along y
    assert list(view.values.x[:4]) == ["M1", "M2", "M1 L1", "M2 L1"] and list(view.values.y[:4]) == ["M1"] * 4


_pruning_case = pruning_case   # two 6-16-3 ReLU MLPs, shared with test_pruning_explorer


@pytest.fixture(scope="module")
def pruning_explorer():
    models, train, test, ood = _pruning_case()
    e = rw.PruningExplorer(models, rw.models.cross_entropy, train, ood=ood, test_data=test, l1=3e-4, epochs=2,
                           threshold=0.05, max_epochs=4, num_thresholds=5, lr=1e-2, batch_size=32, seed=0)
    assert e.wait(300)
    yield e
    e.close()


def test_the_l1_slider_shows_no_number_other_than_the_exact_box(pruning_explorer):
    """Old behaviour: at l1 = 3e-4 the log slider's readout said "3.2e-4" (its nearest step, 10**-3.5) while the
    exact box said "0.0003"."""
    slider, box = pruning_explorer.l1_slider, pruning_explorer.span
    assert float(box.value) == pytest.approx(3e-4)
    readout = format(slider.value, slider.readout_format) if slider.readout else None
    assert readout is None or float(readout) == pytest.approx(float(box.value)), (readout, box.value)


def test_the_tradeoff_legend_has_no_width_that_overflows_its_box(pruning_explorer):
    """Old behaviour: a 440-px legend (plus its 2-px margins) in a 440-px box: a horizontal scrollbar."""
    for widget in (pruning_explorer.tradeoff_legend, pruning_explorer.tradeoff_box):   # the figure is 440 px + margins
        assert widget.layout.width in (None, "", "auto", "100%"), widget.layout.width


# ------------------------------------------------------------------------------------------ exports
def _panel_with(fig, label):
    return [ax for ax in fig.axes if ax.get_ylabel() == label or ax.get_xlabel() == label]


def test_the_curve_explorers_exported_plane_has_every_layer_marker_and_color_bar(curve_explorer, tmp_path):
    """Old behaviour: the exported plane lacked the fitted curve, theta_a, theta_b and the bend (marks the
    explorer adds to the view), the contour lines, and any colour bar."""
    e = curve_explorer
    fig = e.figure()
    (plane,) = _panel_with(fig, "detour direction (parameter units)")
    lines = plane.get_lines()

    def same(a, b):
        return np.shape(a) == np.shape(b) and np.allclose(a, b)

    # the fitted curve, as drawn live
    assert any(same(line.get_xdata(), e.curve_xy[:, 0]) and same(line.get_ydata(), e.curve_xy[:, 1])
               and line.get_color() == "orange" for line in lines)
    # theta_a, theta_b and the bend: white diamonds at their plane coordinates
    diamonds = [(float(line.get_xdata()[0]), float(line.get_ydata()[0])) for line in lines if line.get_marker() == "D"]
    expected = list(zip(np.asarray(e.points_mark.x, dtype=float), np.asarray(e.points_mark.y, dtype=float)))
    assert len(diamonds) == 3 and np.allclose(sorted(diamonds), sorted(expected))
    # the dashed straight line, the marker at curve(t), the contours and the cells
    assert any(line.get_linestyle() == "--" and same(line.get_xdata(), e.line_xy[:, 0]) for line in lines)
    assert any(same(line.get_xdata(), e.surface2d.marker.x) and line.get_marker() == "o" for line in lines)
    assert any(isinstance(c, LineCollection) for c in plane.collections)
    assert any(isinstance(c, QuadMesh) for c in plane.collections)
    # the colour bar, labelled and ticked as live
    bars = [c.colorbar for c in plane.collections if getattr(c, "colorbar", None) is not None]
    assert len(bars) == 1
    bar = bars[0]
    assert bar.ax.get_ylabel() == e.surface2d.color_axis.label
    np.testing.assert_allclose(bar.get_ticks(), e.surface2d.color_axis.tick_values)
    # the plane's ticks as live
    np.testing.assert_allclose(plane.get_xticks(), e.surface2d.figure.axes[0].tick_values)
    # the profile: both losses, the straight line and both accuracies, in their live colours and styles
    profile = [ax for ax in fig.axes if ax.get_ylabel() in ("loss", "accuracy")]
    drawn = {(line.get_color(), line.get_linestyle()) for ax in profile for line in ax.get_lines()
             if len(line.get_xdata()) > 2}
    styles = {"solid": "-", "dashed": "--", "dash_dotted": "-."}
    assert drawn == {(c, styles[s]) for c, s in PROFILE_STYLES.values()}
    paths = e.save(tmp_path / "curve")
    assert [p.suffix for p in paths] == [".png", ".svg"] and all(p.stat().st_size > 0 for p in paths)
    assert paths[1].read_text().count("<g id=\"QuadMesh_") >= 1


def test_the_null_space_explorers_exported_slice_has_a_color_bar(xor_min):
    """Old behaviour: no exported 2-D panel had a colour bar."""
    e = rw.NullSpaceExplorer(xor_min, num_null=1, num_top=1)
    try:
        assert e.wait(300)
        fig = e.figure()
        bars = [c.colorbar for ax in fig.axes for c in ax.collections if getattr(c, "colorbar", None) is not None]
        assert len(bars) == 1 and bars[0].ax.get_ylabel() == "log10 loss"
    finally:
        e.close()


def test_the_pruning_explorers_exported_heatmap_matches_the_live_one(pruning_explorer):
    """The exported similarity heatmap: the same values, each in its live text colour, and the colour bar with
    the live ticks (old behaviour: a text colour by a 0.6 cut of the range, not by the cell's colour)."""
    e = pruning_explorer
    fig = e.figure()
    (heat,) = [ax for ax in fig.axes if ax.images]
    texts = [(t.get_text(), matplotlib.colors.to_hex(t.get_color())) for t in heat.texts]
    live = list(zip(list(e.similarity.values.text), list(e.similarity.values.colors)))
    assert texts == live
    (bar,) = [im.colorbar for im in heat.images if im.colorbar is not None]
    np.testing.assert_allclose(bar.get_ticks(), e.similarity.color_axis.tick_values)


def test_draw_mark_copies_color_style_width_and_markers():
    """The export's one mark painter: a bqplot Lines or Scatter as the browser draws it."""
    import matplotlib.pyplot as plt

    from rashomon_widgets.widgets.surface_view import draw_mark

    sx, sy = bq.LinearScale(), bq.LinearScale()
    lines = bq.Lines(x=[0.0, 1.0], y=[[0.0, 1.0], [1.0, 0.0]], scales={"x": sx, "y": sy},
                     colors=["#217fbf", "#c35b00"], line_style="dash_dotted", stroke_width=2)
    points = bq.Scatter(x=[0.0, 1.0], y=[0.5, 0.5], scales={"x": sx, "y": sy}, colors=["white"], marker="diamond")
    _, ax = plt.subplots()
    drawn = draw_mark(ax, lines) + draw_mark(ax, points)
    assert [(a.get_color(), a.get_linestyle()) for a in drawn[:2]] == [("#217fbf", "-."), ("#c35b00", "-.")]
    assert [a.get_marker() for a in drawn[2:]] == ["D", "D"]
    plt.close("all")
