"""CurveExplorer through its synced state (no browser)."""
import functools
import json
import math
import re

import numpy as np
import pytest
import torch
from traitlets import TraitError

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
    assert e.wait(300)
    return e


def test_first_draw(explorer):
    ls, curve, test = _case()
    assert explorer.error_html.value == ""
    assert explorer.state["t"] == 0.5 and explorer.state["margin"] == 0.2
    assert "t = <b>0.50</b>" in explorer.loss_html.value and "test loss" in explorer.loss_html.value
    assert explorer.surface2d.heatmap.color.shape == (13, 13)
    assert explorer.surface3d.mesh.y.shape == (13 * 13,)
    assert explorer.surface3d.figure.animation == 0
    assert "rw-explorer" in explorer.get_state()["_dom_classes"]
    assert "rw-slider" in explorer.slider._dom_classes and "rw-span" in explorer.margin_box._dom_classes
    # the curve is drawn solid, the straight line dashed, in Garipov's plane coordinates
    np.testing.assert_allclose(explorer.curve_mark.x[0], 0.0, atol=1e-9)
    np.testing.assert_allclose(np.ravel(explorer.surface2d.extra.x)[-1], float((curve.theta_b - curve.theta_a).norm()))
    assert explorer.surface2d.extra.line_style == "dashed"
    # the profile is the core's loss_profile, drawn as it is
    prof = rw.core.loss_profile(ls, curve, 11, test_data=test)
    np.testing.assert_allclose(explorer.loss_lines.y, np.stack([prof["train_loss"], prof["test_loss"]]))
    np.testing.assert_allclose(explorer.line_loss_mark.y, prof["line_loss"])
    assert prof["train_loss"].max() < prof["line_loss"].max()
    # the spectrum panel shows what the core computes at curve(t), with along_curve's near-zero rule
    expected = rw.core.spectrum_at(ls, curve(0.5))
    table = rw.core.along_curve(ls, curve, [0.5], hvp_samples=1)
    assert explorer.spectrum.near_zero == expected.num_near_zero == table["near_zero"][0]
    assert "of 67 eigenvalues" in explorer.spectrum.label.value


def test_slider_moves_readout_and_markers(explorer):
    ls, curve, _ = _case()
    before = (explorer.loss_html.value, explorer.surface2d.marker.x[0], explorer.surface3d.marker.x.copy())
    explorer.slider.value = 0.2
    assert explorer.wait(300)
    assert explorer.state["t"] == 0.2
    assert "t = <b>0.20</b>" in explorer.loss_html.value and explorer.loss_html.value != before[0]
    torch.testing.assert_close(explorer.point, curve(0.2))
    xy = explorer.plane.coordinates(curve(0.2)[None])[0]
    assert explorer.surface2d.marker.x[0] == pytest.approx(xy[0]) and explorer.surface2d.marker.x[0] != before[1]
    assert not np.allclose(explorer.surface3d.marker.x, before[2])
    assert list(explorer.t_mark.x) == [0.2, 0.2]
    assert explorer.history[-1]["t"] == 0.2
    assert explorer.spectrum.near_zero == rw.core.spectrum_at(ls, curve(0.2)).num_near_zero
    explorer.reset_button.click()
    assert explorer.wait(300)
    assert explorer.slider.value == 0.5
    torch.testing.assert_close(explorer.point, curve(0.5))


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, "NaN", "1e999", "-1"])
def test_bad_margin_is_refused_and_the_widget_keeps_working(explorer, bad):
    explorer.margin_box.value = bad   # the box takes any text (or number); the explorer refuses it and puts it back
    assert explorer.wait(300)
    assert "margin: expected a finite number" in explorer.error_html.value
    assert "margin stays 0.2" in explorer.error_html.value
    assert "error" in explorer.status_html.value
    assert explorer.margin_box.value == explorer.margin_box.get_state()["value"] == "0.2"
    assert explorer.state["margin"] == 0.2
    xs_before = explorer.surface2d.surface.xs.copy()
    explorer.slider.value = 0.3  # the slider still works
    assert explorer.wait(300)
    assert "t = <b>0.30</b>" in explorer.loss_html.value
    explorer.margin_box.value = 0.5
    explorer.slider.value = 0.8
    assert explorer.wait(300)
    assert explorer.error_html.value == "" and "updated" in explorer.status_html.value
    assert "t = <b>0.80</b>" in explorer.loss_html.value
    assert explorer.surface2d.surface.xs.max() - explorer.surface2d.surface.xs.min() > np.ptp(xs_before)


def test_bad_t_is_refused(explorer):
    _, curve, _ = _case()
    explorer.t = 0.25
    assert explorer.wait(300)
    with pytest.raises(TraitError, match=re.escape("t: expected a finite number in [0, 1], got nan")):
        explorer.slider.value = math.nan
    assert explorer.wait(300)
    assert "t: expected a finite number in [0, 1], got nan" in explorer.error_html.value
    assert explorer.slider.value == explorer.t == 0.25
    torch.testing.assert_close(explorer.point, curve(0.25))
    with pytest.raises(TraitError, match=re.escape("t: expected a finite number in [0, 1], got 1.5")):
        explorer.t = 1.5
    explorer.slider.value = 1.5  # the slider clamps to its range, as in the browser
    assert explorer.wait(300)
    assert explorer.t == 1.0 and explorer.error_html.value == ""


@pytest.mark.parametrize("bad", [math.inf, -math.inf])
def test_an_infinite_t_is_refused_not_clamped(explorer, bad):
    _, curve, _ = _case()
    explorer.t = 0.25
    assert explorer.wait(300)
    message = f"t: expected a finite number in [0, 1], got {bad}"
    with pytest.raises(TraitError, match=re.escape(message)):
        explorer.slider.value = bad  # was clamped to 1 (or 0) without a word
    assert message in explorer.error_html.value
    with pytest.raises(TraitError, match=re.escape(message)):
        explorer.t = bad
    assert explorer.slider.value == explorer.t == 0.25
    torch.testing.assert_close(explorer.point, curve(0.25))


@pytest.mark.parametrize("margin", [1e300, 1e308])
def test_a_margin_whose_grid_would_overflow_is_refused_and_the_margin_stays(explorer, margin):
    with pytest.raises(TraitError, match=r"^margin: expected a margin whose loss grid .*; margin stays 0.2$"):
        explorer.margin = margin
    explorer.margin_box.value = f"{margin:g}"   # typed: "1e+308"
    assert explorer.wait(300)
    assert "margin: expected a margin whose loss grid can be drawn" in explorer.error_html.value
    assert "margin stays 0.2" in explorer.error_html.value and "thetas" not in explorer.error_html.value
    assert explorer.margin == 0.2 and explorer.margin_box.value == "0.2"
    assert np.isfinite(explorer.surface2d.surface.loss).all() and np.isfinite(explorer.surface3d.mesh.y).all()
    json.dumps({k: v for k, v in explorer.surface2d._color.get_state().items() if not isinstance(v, dict)},
               allow_nan=False)  # no Infinity sent to the browser
    explorer.margin_box.value = "NaN"  # a second refusal replaces the first message (a FloatText dropped it)
    assert explorer.wait(300)
    assert "margin: expected a finite number, got &#x27;NaN&#x27;" in explorer.error_html.value
    assert "loss grid" not in explorer.error_html.value and explorer.margin_box.value == "0.2"
    explorer.margin_box.value = 0.3  # the widget keeps working
    assert explorer.wait(300)
    assert explorer.error_html.value == "" and explorer.margin == 0.3 and explorer.margin_box.value == "0.3"


def test_latest_slider_value_wins(explorer):
    _, curve, _ = _case()
    for v in np.linspace(0.0, 1.0, 21):
        explorer.slider.value = float(v)
    assert explorer.wait(300)
    torch.testing.assert_close(explorer.point, curve(1.0))
    assert len(explorer.history) < 21 + 1


def test_state_play_and_save(explorer, tmp_path):
    _, curve, _ = _case()
    explorer.restore({"t": 0.3, "margin": 0.4})
    assert explorer.wait(300)
    assert explorer.state == {"t": 0.3, "margin": 0.4, "log_color": True}
    torch.testing.assert_close(explorer.point, curve(0.3))
    explorer.play.value = explorer.play.max  # the last frame is t = 1
    assert explorer.wait(300)
    assert explorer.t == 1.0 and explorer.slider.value == 1.0
    paths = explorer.save(tmp_path / "curve")
    assert all(p.stat().st_size > 1000 for p in paths)


def test_explorer_rejects_bad_arguments():
    ls, curve, _ = _case()
    with pytest.raises(TypeError, match="rw.Landscape"):
        rw.CurveExplorer("no", curve)
    with pytest.raises(ValueError, match="a curve for another model"):
        rw.CurveExplorer(ls, rw.BezierCurve(torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)))
    with pytest.raises(ValueError, match="bends lie on the straight line"):
        rw.CurveExplorer(ls, rw.BezierCurve(curve.theta_a, curve.theta_b))
    with pytest.raises(Exception, match=re.escape("t: expected a finite number in [0, 1], got 2")):
        rw.CurveExplorer(ls, curve, t=2)


def test_matrix_free_spectrum_lists_the_top_eigenvalues_and_keeps_the_tables_count():
    """exact=False: SLQ for the histogram (the count equals along_curve's with the same settings) plus the
    3 largest eigenvalues by Lanczos, each t's run warm-started from the previous t's eigenvectors."""
    ls, curve, _ = _case()
    e = rw.CurveExplorer(ls, curve, resolution=7, coarse=5, num_t=5, exact=False, slq_vectors=2, slq_steps=12)
    assert e.wait(300)
    for t in (0.5, 0.52):
        if e.t != t:
            before = e._spectrum_at.vectors
            e.t = t
            assert e.wait(300)
            assert e._spectrum_at.vectors is not before and e._spectrum_at.vectors.shape == (ls.num_params, 3)
        result = e.spectrum.result
        exact = torch.linalg.eigvalsh(ls.hessian(curve(t))).flip(0)[:3]
        np.testing.assert_allclose(result.top_values, exact.numpy(), rtol=1e-5)
        assert "largest λ " + ", ".join(f"{v:.4g}" for v in result.top_values) in e.spectrum.label.value
        with pytest.warns(rw.core.EstimateWarning, match="trace_products=4"):  # 4 products: a loose trace
            table = rw.core.along_curve(ls, curve, [t], exact=False, slq_vectors=2, slq_steps=12, trace_products=4)
        assert e.spectrum.near_zero == pytest.approx(float(table["near_zero"][0]), abs=1e-9)
    assert all(r.top_vectors is None for r in e._spectra.values())  # the cache holds values, not P x 3 blocks


def test_the_status_line_times_the_views_and_the_spectrum_apart(explorer):
    # was "updated in N ms" with N the whole job: the views, then 0.3 s waiting for a drag to pause, the spectrum
    explorer.slider.value = 0.7
    assert explorer.wait(300)
    match = re.fullmatch(r"updated in (\d+) ms &middot; spectrum in (\d+) ms", explorer.status_html.value)
    assert match, explorer.status_html.value
    views_ms, spectrum_ms = (int(x) for x in match.groups())
    assert spectrum_ms >= 300 and views_ms < spectrum_ms - 250, explorer.status_html.value
    assert "<" not in explorer.log_toggle.description and explorer.log_toggle.tooltip == type(explorer).log_color.help
