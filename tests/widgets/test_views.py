"""The views through their synced state: what they show (marks' data, ticks, labels, colours), checked
against independent numpy computations, and their matplotlib export."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib import colormaps

import rashomon_widgets as rw
from rashomon_widgets.core import Surface
from rashomon_widgets.widgets._legend import format_ticks, nice_ticks


def _band_edges(view):
    return view.band.x[0], view.band.x[2]


def _bar_totals(view):
    return np.asarray(view.bars.y).sum(0)


def _surface(loss, xs=None, ys=None):
    ny, nx = loss.shape
    xs = np.linspace(-1.0, 1.0, nx) if xs is None else xs
    ys = np.linspace(-0.5, 0.5, ny) if ys is None else ys
    return Surface(None, xs, ys, loss)


# ------------------------------------------------------------------------------------- spectrum
def test_xor_spectrum_counts_and_shades_exactly_the_near_zero_eigenvalues(xor_min):
    spectrum = xor_min.spectrum()
    values = spectrum.values.numpy()
    near = np.abs(values) <= spectrum.tol * np.abs(values).max()
    view = rw.SpectrumView()
    assert view.show(spectrum) == spectrum.num_near_zero == near.sum() == view.near_zero
    x = np.asarray(view.bars.x)
    assert np.all(np.diff(x) > 0)  # log10 |lambda| increases left to right
    _, hi = _band_edges(view)
    assert hi == pytest.approx(np.log10(spectrum.tol * spectrum.scale))
    totals = _bar_totals(view)
    assert totals[x < hi].sum() == near.sum() and totals[x > hi].sum() == (~near).sum()
    assert totals.sum() == len(values) == 9
    # every nonzero eigenvalue sits in its log bin (the ones below the floor in the first bin)
    width = x[1] - x[0]
    far = values[~near]
    for v in far:
        k = np.argmin(np.abs(x - np.log10(abs(v))))
        assert abs(x[k] - np.log10(abs(v))) <= width / 2 + 1e-9 and totals[k] >= 1
    # positive and negative series, in two colours
    pos, neg = np.asarray(view.bars.y)
    assert pos.sum() == (values >= 0).sum() and neg.sum() == (values < 0).sum()
    assert len(set(view.bars.colors)) == 2
    # integer count ticks, and the label states the rule
    ticks = np.asarray(view.y_axis.tick_values)
    assert np.all(ticks == np.round(ticks)) and view.y_axis.tick_format == "d" and view.y_axis.label == "count"
    assert f"<b>{near.sum()}</b> of 9 eigenvalues near zero" in view.label.value
    assert f"{spectrum.tol:g} &times;" in view.label.value
    assert "positive" in view.legend.value and "negative" in view.legend.value and "first bin" in view.legend.value


def test_a_small_nonzero_eigenvalue_is_not_binned_with_the_zeros():
    """A linear histogram's bin around 0 also held a small nonzero eigenvalue (6 shown, 5 counted)."""
    values = torch.tensor([0.0, 0.0, 1e-12, -1e-10, 3e-9, 2e-4, -0.02, 0.5, 1.3], dtype=torch.float64)
    spectrum = rw.core.Spectrum(values, tol=1e-6)
    view = rw.SpectrumView()
    assert view.show(spectrum) == 5
    x, totals = np.asarray(view.bars.x), _bar_totals(view)
    _, hi = _band_edges(view)
    assert totals[x < hi].sum() == 5 and totals[x > hi].sum() == 4  # 2e-4 is not in the zero band
    assert totals[0] == 4  # two exact zeros, 1e-12 and -1e-10 are below the floor 1e-3 * 1.3e-6


def test_slq_estimate_is_shown_with_its_own_count_on_an_estimated_axis():
    rng = np.random.default_rng(0)
    nodes = np.concatenate([rng.normal(0, 1e-6, 30), [0.01, 0.05, 0.16, -0.002]])
    weights = np.concatenate([np.full(30, 0.98 / 30), [0.005] * 4])
    est = rw.core.SpectrumEstimate.from_nodes(nodes, weights, 26_122, tol=1e-3, num_vectors=4, num_steps=40)
    view = rw.SpectrumView()
    shown = view.show(est)
    scale = np.abs(nodes).max()
    ref = 26_122 * weights[np.abs(nodes) <= 1e-3 * scale].sum()
    assert shown == est.num_near_zero == view.near_zero == pytest.approx(ref, rel=1e-12)
    assert view.y_axis.label == "estimated count" and "stochastic Lanczos quadrature" in view.label.value
    assert f"about {ref:,.0f}" in view.label.value and "of 26,122" in view.label.value
    x, totals = np.asarray(view.bars.x), _bar_totals(view)
    _, hi = _band_edges(view)
    assert totals[x < hi].sum() == pytest.approx(ref) and totals.sum() == pytest.approx(26_122)
    # the eigenvalue axis spans the estimate: up to the top node, readable in decades
    assert view._x.max >= np.log10(0.16) > view._x.min
    assert np.all(np.diff(view.x_axis.tick_values) > 0) and len(view.x_axis.tick_values) <= 7


def test_show_refuses_what_is_not_a_spectrum():
    view = rw.SpectrumView()
    with pytest.raises(TypeError, match="expected an rw.core.Spectrum .* or an rw.core.SpectrumEstimate"):
        view.show([0.0, 1.0])


def test_spectrum_matplotlib_export_draws_the_same_bars(xor_min):
    view = rw.SpectrumView()
    with pytest.raises(ValueError, match="nothing shown yet"):
        view.to_matplotlib(plt.figure().add_subplot())
    view.show(xor_min.spectrum())
    _, ax = plt.subplots()
    view.to_matplotlib(ax)
    heights = np.array([p.get_height() for bars in ax.containers for p in bars])
    np.testing.assert_array_equal(heights, np.concatenate(view.bars.y))
    assert heights.sum() == 9 and ax.get_xlabel() == "log10 |eigenvalue|"
    plt.close("all")


# ------------------------------------------------------------------------------------------ 2-D
@pytest.mark.parametrize("lo, hi", [(-3.21, 0.87), (0.991, 1.0), (0.0, 2.3e-5), (12.0, 25_700.0)])
def test_color_ticks_are_few_round_and_inside_the_range(lo, hi):
    ticks = nice_ticks(lo, hi, max_ticks=4)
    labels = format_ticks(ticks)
    assert 2 <= len(ticks) <= 4 and np.all((ticks >= lo - 1e-12) & (ticks <= hi + 1e-12))
    assert len(set(labels)) == len(labels)  # distinct: no two ticks print alike
    np.testing.assert_allclose([float(s) for s in labels], ticks, atol=1e-12 * max(1, abs(hi)))
    assert max(len(s) for s in labels) <= 8


def test_surface_view_labels_color_ticks_and_legend():
    loss = 10 ** np.linspace(-3.21, 0.87, 35).reshape(5, 7)
    view = rw.SurfaceView(_surface(loss), log_color=True, title="slice")
    z = np.log10(loss)
    axis = view.color_axis
    assert axis.label == "log10 loss" and view._color.min == pytest.approx(z.min())
    ticks = np.asarray(axis.tick_values)
    assert len(ticks) <= 4 and ticks.min() >= z.min() and ticks.max() <= z.max()
    labels = [format(t, axis.tick_format) for t in ticks]
    assert len(set(labels)) == len(labels)
    view.set_labels("null direction 1", "null direction 2")
    assert [a.label for a in view.figure.axes[:2]] == ["null direction 1", "null direction 2"]
    view.set_legend([("red", "circle", "current point"), ("orange", "dashed", "straight line")])
    assert "current point" in view.legend.value and "straight line" in view.legend.value
    assert view.children[-1] is view.legend and "rw-view" in view._dom_classes
    # a narrow range: 0.991 .. 1.0
    view.log_color = False
    view.update(_surface(np.linspace(0.991, 1.0, 12).reshape(3, 4)))
    ticks = np.asarray(view.color_axis.tick_values)
    labels = [format(t, view.color_axis.tick_format) for t in ticks]
    assert 2 <= len(ticks) <= 4 and len(set(labels)) == len(labels) and view.color_axis.label == "loss"


def test_surface_view_matplotlib_export():
    loss = np.add.outer(np.linspace(0, 1, 6), np.linspace(0, 2, 8)) + 0.1
    view = rw.SurfaceView(_surface(loss))
    view.draw_paths([np.array([[-1.0, 0.0], [1.0, 0.0]])])
    view.set_point(0.5, 0.25)
    _, ax = plt.subplots()
    filled = view.to_matplotlib(ax)
    assert filled.get_cmap().name == "viridis"
    assert filled.norm.vmin == pytest.approx(loss.min()) and filled.norm.vmax == pytest.approx(loss.max())
    assert [tuple(line.get_xdata()) for line in ax.lines] == [(-1.0, 1.0), (0.5,)]
    plt.close("all")


# ------------------------------------------------------------------------------------------ 3-D
def test_surface3d_is_in_real_units_with_viridis_vertex_colors():
    loss = 10 ** np.linspace(-3.21, 0.87, 35).reshape(5, 7)
    xs, ys = np.linspace(-2.0, 2.0, 7), np.linspace(-0.5, 1.5, 5)
    flat = rw.SurfaceView(_surface(loss, xs, ys), log_color=True)
    view = rw.Surface3DView(_surface(loss, xs, ys), log_color=True)
    h = np.log10(loss)
    # the plane's x along ipyvolume's z, its y along ipyvolume's x (seen from the camera: x to the right, y away)
    assert view.figure.zlim == (-2.0, 2.0) and view.figure.xlim == (-0.5, 1.5)
    lo, hi = view.figure.ylim  # widened to round numbers, so that small changes leave the scene as it is
    assert lo <= h.min() < h.max() <= hi and hi - lo < 1.3 * (h.max() - h.min())
    np.testing.assert_allclose(view.mesh.y, h.ravel())
    np.testing.assert_allclose(view.mesh.z, np.meshgrid(xs, ys)[0].ravel())
    np.testing.assert_allclose(view.mesh.x, np.meshgrid(xs, ys)[1].ravel())
    # the mesh's colours are viridis of the 2-D view's colour values, over the same range
    values = np.asarray(flat.heatmap.color).ravel()
    u = (values - flat._color.min) / (flat._color.max - flat._color.min)
    np.testing.assert_allclose(np.asarray(view.mesh.color).reshape(-1, 3), colormaps["viridis"](u)[:, :3], atol=1e-6)
    assert view.figure.ylabel == "h" and "<b>h</b> (height) and colour: log10 loss from" in view.caption.value
    # the marker sits at the point, sized relative to each axis' range
    view.set_point(1.0, 0.5)
    j, i = np.argmin(np.abs(xs - 1.0)), np.argmin(np.abs(ys - 0.5))
    assert np.mean(view.marker.z) == pytest.approx(1.0) and np.mean(view.marker.x) == pytest.approx(0.5)
    assert np.ptp(view.marker.z) == pytest.approx(0.06 * 4.0) and np.ptp(view.marker.x) == pytest.approx(0.06 * 2.0)
    assert np.min(view.marker.y) == pytest.approx(h[i, j])


def test_surface3d_labels_and_style():
    view = rw.Surface3DView()
    view.set_labels("null direction 1", "u (line)")
    assert (view.figure.zlabel, view.figure.xlabel, view.figure.ylabel) == ("x", "y", "h")
    assert "<b>x</b>: null direction 1" in view.caption.value and "<b>y</b>: u (line)" in view.caption.value
    assert view.children[-1] is view.caption
    style = view.figure.style
    assert style["background-color"] != "white" and style["axes"]["label"]["color"] == "#f5f5f5"
    view.set_theme("light")
    assert view.figure.style["background-color"] == "#ffffff"
    with pytest.raises(ValueError, match="theme: expected one of 'dark', 'light', got 'blue'"):
        view.set_theme("blue")
    loss = np.linspace(0.2, 0.9, 12).reshape(3, 4)
    view.update(_surface(loss))
    assert "colour: loss from" in view.caption.value and view.figure.ylim[0] <= 0.2 and view.figure.ylim[1] >= 0.9
    fig = plt.figure()
    ax = fig.add_subplot(projection="3d")
    art = view.to_matplotlib(ax)
    assert art.get_cmap().name == "viridis" and ax.get_zlabel() == "loss"
    plt.close("all")


# ---------------------------------------------------------------------------------------- similarity
def test_similarity_color_ticks_do_not_overlap_on_a_narrow_range():
    view = rw.SimilarityView()
    S = np.array([[1.0, 0.9931, 0.991], [0.9931, 1.0, 0.9957], [0.991, 0.9957, 1.0]])
    view.show(S, ["M1", "M2", "M1 pruned"])
    ticks = np.asarray(view.color_axis.tick_values)
    labels = [format(t, view.color_axis.tick_format) for t in ticks]
    assert 2 <= len(ticks) <= 4 and len(set(labels)) == len(labels)
    assert ticks.min() >= 0.991 - 1e-12 and ticks.max() <= 1.0 + 1e-12
    assert view.display_format == ".3f" and list(view.values.text)[1] == "0.993"   # the values, over the grid


# ----------------------------------------------------------------------------------------- all views
def test_every_view_is_a_tagged_box_no_wider_than_440px():
    views = [rw.SurfaceView(), rw.Surface3DView(), rw.SpectrumView(), rw.SimilarityView(size=600)]
    tags = ["rw-surface2d", "rw-surface3d", "rw-spectrum", "rw-similarity"]
    for view, tag in zip(views, tags):
        assert "rw-view" in view._dom_classes and tag in view.figure._dom_classes
        width = view.figure.layout.width if hasattr(view.figure, "layout") and view.figure.layout.width else (
            f"{view.figure.width}px")
        assert width.endswith("px") and int(width[:-2]) <= 440
    assert "rw-near-zero" in views[2].label._dom_classes


# --------------------------------------------------------------------------- grids that cannot be drawn
def _synced(view):
    """The JSON parts of the states a 2-D view sends to the browser, as strict JSON (no NaN, no Infinity:
    ``json.dumps(..., allow_nan=False)`` raises for them); arrays travel as binary buffers."""
    import json

    out = []
    for widget in (view.figure, *view.figure.marks, *view.figure.axes, view._color):
        state = {k: v for k, v in widget.get_state().items() if not isinstance(v, (dict, memoryview, bytes))}
        out.append(json.dumps(state, allow_nan=False, default=str))
    return out


@pytest.mark.parametrize("make", [rw.SurfaceView, rw.Surface3DView])
def test_a_grid_whose_shape_does_not_match_its_coordinates_is_refused_naming_both_shapes(make):
    good = np.add.outer(np.linspace(0, 1, 5), np.linspace(0, 2, 7)) + 0.1
    view = make(_surface(good))
    before = view.get_state()
    with pytest.raises(ValueError, match=r"surface: expected a loss grid of shape \(len\(ys\), len\(xs\)\) = \(5, 7\), "
                                         r"got shape \(7, 5\)"):
        view.update(_surface(good.T, xs=np.linspace(-1, 1, 7), ys=np.linspace(-0.5, 0.5, 5)))
    with pytest.raises(ValueError, match=r"surface.xs: expected a 1-D array of at least 2 grid coordinates"):
        view.update(_surface(good, xs=np.zeros((7, 1))))
    assert view.get_state() == before  # nothing changed: the last surface stays
    view.update(_surface(good + 1.0))  # and the next good one is drawn
    shown = view.heatmap.color if make is rw.SurfaceView else np.asarray(view.mesh.y).reshape(5, 7)
    np.testing.assert_allclose(shown, good + 1.0)


@pytest.mark.parametrize("make", [rw.SurfaceView, rw.Surface3DView])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_and_inf_losses_are_refused_not_drawn_with_a_color_scale_to_inf(make, bad):
    good = np.add.outer(np.linspace(0, 1, 5), np.linspace(0, 2, 7)) + 0.1
    view = make(_surface(good), log_color=True)
    before = view.get_state()
    loss = good.copy()
    loss[1:, :] = bad  # most of the grid, as a span of 1e300 gave
    with pytest.raises(ValueError, match=rf"surface: expected finite losses, got 28 of 35 grid points NaN or inf "
                                         rf"\(the first, {bad}, at \(x, y\) = \(-1, -0.25\)\)"):
        view.update(_surface(loss))
    with pytest.raises(ValueError, match="surface.xs: expected finite grid coordinates, got -inf"):
        view.update(_surface(good, xs=np.array([-np.inf, -1, 0, 1, 2, 3, np.inf])))
    assert view.get_state() == before
    if make is rw.SurfaceView:
        assert np.isfinite([view._color.min, view._color.max]).all()
        assert all(_synced(view))  # every synced number is valid JSON
    else:
        assert np.isfinite(view.mesh.y).all() and np.isfinite(view.figure.ylim).all()


def test_surface3d_refuses_values_float32_cannot_carry_to_webgl():
    # ipyvolume sends float64 arrays as float32: a loss of 1e50 drawn linearly would arrive as inf
    big = np.full((3, 4), 1e50)
    big[0, 0] = 1.0
    view = rw.Surface3DView(_surface(np.ones((3, 4))))
    with pytest.raises(ValueError, match=r"surface: expected heights \(loss\) within about ±8.5e\+37 .*float32.*"
                                         r"got values up to 1e\+50; use a smaller span, or log colour"):
        view.update(_surface(big))
    with pytest.raises(ValueError, match=r"surface: expected grid coordinates within about ±8.5e\+37"):
        view.update(_surface(np.ones((3, 4)), xs=np.array([-1e40, 0.0, 1.0, 1e40])))
    assert np.isfinite(np.asarray(view.mesh.y, dtype=np.float32)).all()
    view.log_color = True  # log10 heights fit
    view.update(_surface(big))
    np.testing.assert_allclose(view.mesh.y, np.log10(big).ravel())


@pytest.mark.parametrize("make", [rw.SurfaceView, rw.Surface3DView])
def test_a_marker_at_a_non_finite_point_is_refused(make):
    view = make(_surface(np.ones((3, 4)) + np.arange(4)))
    view.set_point(0.5, 0.25)
    with pytest.raises(ValueError, match=r"point: expected finite plane coordinates \(x, y\), got \(nan, 0.0\)"):
        view.set_point(float("nan"), 0.0)
    assert np.isfinite(np.asarray(view.marker.x, dtype=float)).all()


def test_a_spectrum_with_a_nan_or_inf_eigenvalue_is_refused_with_a_clear_message(xor_min):
    view = rw.SpectrumView()
    good = xor_min.spectrum()
    view.show(good)
    before = (view.bars.get_state(), view.label.value, view.near_zero)
    for bad in (float("nan"), float("inf")):
        spectrum = rw.core.Spectrum(good.values.clone(), tol=good.tol)
        spectrum.values[3] = bad  # the result's tensor written in place after it was built
        with pytest.raises(ValueError, match=rf"result: expected finite eigenvalues, got 1 of 9 NaN or inf "
                                             rf"\(the first: {bad}\); was the Hessian computed"):
            view.show(spectrum)
    est = rw.core.SpectrumEstimate.from_nodes(np.array([0.0, 2.0]), np.array([0.75, 0.25]), 8, tol=1e-3)
    est.nodes[1] = np.nan
    with pytest.raises(ValueError, match=r"result: expected finite eigenvalue estimates \(SLQ nodes\), got 1 of 2"):
        view.show(est)
    assert (view.bars.get_state(), view.label.value, view.near_zero) == before  # the last result stays
