"""CurveExplorer through its synced state (no browser)."""
import functools

import numpy as np
import pytest
import torch

import rashomon_widgets as rw


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@functools.cache
def _case():
    """A 4-8-3 tanh MLP pair on 60 synthetic points (P = 67) and a fitted quadratic Bezier curve."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(60, 4, generator=g, dtype=torch.float64)
    y = (X[:, 0] > 0).long() + (X[:, 1] > 0).long()
    models = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
        rw.models.train(model, rw.models.cross_entropy, (X, y), epochs=150, lr=2e-2, seed=seed)
        models.append(model)
    ls = rw.Landscape(models[0], rw.models.cross_entropy, (X, y))
    curve = rw.BezierCurve(ls.theta, ls.layout.flatten(models[1]))
    rw.fit_curve(ls, curve, steps=60, lr=2e-2)
    test = (X[:20] + 0.1, y[:20])
    return ls, curve, test


@pytest.fixture
def explorer():
    ls, curve, test = _case()
    e = rw.CurveExplorer(ls, curve, test_data=test, resolution=13, coarse=5, num_t=11)
    assert e.wait(60)
    return e


def test_first_draw(explorer):
    ls, curve, _ = _case()
    assert explorer.error_html.value == ""
    assert "t = <b>0.50</b>" in explorer.loss_html.value and "test loss" in explorer.loss_html.value
    assert explorer.surface2d.heatmap.color.shape == (13, 13)
    assert explorer.surface3d.mesh.y.shape == (13 * 13,)
    assert explorer.surface3d.figure.animation == 0
    assert explorer.exact and explorer.spectrum.near_zero is not None
    assert "of 67 eigenvalues" in explorer.spectrum.label.value
    assert "rw-explorer" in explorer._dom_classes and "rw-slider" in explorer.slider._dom_classes
    assert "rw-span" in explorer.span._dom_classes and "rw-reset" in explorer.reset_button._dom_classes
    # the curve is drawn solid, the straight line dashed, in Garipov's plane coordinates
    np.testing.assert_allclose(explorer.curve_mark.x[0], 0.0, atol=1e-9)
    np.testing.assert_allclose(np.ravel(explorer.surface2d.extra.x)[-1], float((curve.theta_b - curve.theta_a).norm()))
    assert explorer.surface2d.extra.line_style == "dashed"
    # the profile: the curve's loss stays far below the straight line's barrier
    prof = explorer.profile
    assert prof["train loss"].max() < prof["line loss"].max()
    assert explorer.loss_lines.get_state()["y"] is not None


def test_slider_moves_readout_and_markers(explorer):
    ls, curve, _ = _case()
    before = (explorer.loss_html.value, explorer.surface2d.marker.x[0], explorer.surface3d.marker.x.copy())
    spectrum_before = explorer.spectrum.label.value
    explorer.slider.value = 0.2
    assert explorer.wait(60)
    assert "t = <b>0.20</b>" in explorer.loss_html.value and explorer.loss_html.value != before[0]
    torch.testing.assert_close(explorer.point, curve(0.2))
    xy = explorer.plane.coordinates(curve(0.2)[None])[0]
    assert explorer.surface2d.marker.x[0] == pytest.approx(xy[0]) and explorer.surface2d.marker.x[0] != before[1]
    assert not np.allclose(explorer.surface3d.marker.x, before[2])
    assert list(explorer.t_mark.x) == [0.2, 0.2]
    assert explorer.history[-1] == 0.2
    assert explorer.spectrum.label.value != spectrum_before  # the spectrum at curve(0.2), not at curve(0.5)
    explorer.reset_button.click()
    assert explorer.wait(60)
    assert explorer.slider.value == 0.5
    torch.testing.assert_close(explorer.point, curve(0.5))


def test_bad_span_shows_an_error_and_the_widget_keeps_working(explorer):
    explorer.span.value = -1.0
    assert explorer.wait(60)
    assert "span: expected a number at least 0, got -1.0; keeping span = 0.2" in explorer.error_html.value
    assert "error" in explorer.status_html.value
    xs_before = explorer.surface2d.surface.xs.copy()
    explorer.slider.value = 0.3  # the slider still works while the bad margin is in the box
    assert explorer.wait(60)
    assert "t = <b>0.30</b>" in explorer.loss_html.value
    explorer.span.value = 0.5
    explorer.slider.value = 0.8
    assert explorer.wait(60)
    assert explorer.error_html.value == "" and "updated" in explorer.status_html.value
    assert "t = <b>0.80</b>" in explorer.loss_html.value
    assert explorer.surface2d.surface.xs.max() - explorer.surface2d.surface.xs.min() > np.ptp(xs_before)


def test_latest_slider_value_wins(explorer):
    _, curve, _ = _case()
    for v in np.linspace(0.0, 1.0, 21):
        explorer.slider.value = float(v)
    assert explorer.wait(60)
    torch.testing.assert_close(explorer.point, curve(1.0))
    assert len(explorer.history) < 21 + 1


def test_explorer_rejects_bad_arguments():
    ls, curve, _ = _case()
    with pytest.raises(TypeError, match="rw.Landscape"):
        rw.CurveExplorer("no", curve)
    with pytest.raises(ValueError, match="a curve for another model"):
        rw.CurveExplorer(ls, rw.BezierCurve(torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)))
    with pytest.raises(ValueError, match="bends lie on the straight line"):
        rw.CurveExplorer(ls, rw.BezierCurve(curve.theta_a, curve.theta_b))
    with pytest.raises(ValueError, match=r"t: expected a number in \[0, 1\], got 2"):
        rw.CurveExplorer(ls, curve, t=2)
