"""Explorers on a model whose forward pass is heavy (issue 22): they appear at once, compute their directions
on the worker with progress, take curvature on a stated subsample, draw smaller grids, and say when the point
is not a minimum.

The models here are small CNNs on real MNIST digits; ``HEAVY_FORWARD`` is lowered so that they count as heavy
(the 596k-parameter reference case takes minutes, see benchmarks/cnn.py), and every number a view shows is
compared with the core computed independently on the same subsample.
"""
import time

import pytest
import torch

import rashomon_widgets as rw
from rashomon_widgets.core.curvature import policy
from rashomon_widgets.widgets import _scale


def _cnn(seed, epochs):
    split = rw.data.mnist(400, 0, seed=1)
    model = rw.models.mnist_cnn((2, 4), hidden=16, seed=seed)
    if epochs:
        rw.models.train(model, torch.nn.CrossEntropyLoss(), split.train, epochs=epochs, batch_size=50, seed=seed)
    return model, split.train


@pytest.fixture
def heavy(monkeypatch):
    monkeypatch.setattr(policy, "HEAVY_FORWARD", 0)


def test_a_heavy_model_explorer_computes_its_chart_on_the_worker_and_its_curvature_on_a_subsample(heavy):
    model, data = _cnn(0, epochs=0)   # at initialisation: not a minimum
    ls = rw.Landscape(model, torch.nn.CrossEntropyLoss(), data)
    e = rw.NullSpaceExplorer(ls, num_null=2, num_top=1)
    try:
        assert e.coarse in (3, 5)   # by the time of one loss here (a busy machine may take longer)
        assert (e.resolution, e.grids, e.first_frame_timeout) == (15, (e.coarse, 7, 15), 1.0)
        assert e.curvature_ls.num_samples == 256 and "on 256 of 400 samples" in e.children[0].value
        assert e.wait(300)
        assert e.chart is not None and e.chart.curvature is e.curvature_ls and e.chart.tangent_on is e.curvature_ls
        assert "Jacobian-projected on 256 of 400 samples" in e.sliders[0].tooltip
        sub = ls.subsample(256)
        lam = float(sub.eigs(1)[0][0])
        assert float(e.chart.top_values[0]) == pytest.approx(lam, rel=1e-3)
        assert "eigenvalue" in e.sliders[-1].tooltip and "being computed" not in e.sliders[0].tooltip
        result = e.spectrum.result
        assert result.num_params == ls.num_params and result.near_zero_interval is not None
        assert "95%" in e.spectrum.label.value
        assert not e.minimum.at_minimum and "not at a minimum" in e.note_html.value
        assert e.minimum.grad_norm == pytest.approx(float(ls.grad().norm()), rel=1e-5)
        before = e.loss_html.value
        e.coefficients = [0.1, 0.0, 0.0]
        assert e.wait(300)
        assert e.loss_html.value != before and "re-projected" in e.loss_html.value
        assert abs(ls.loss(e.point) - ls.loss()) < 0.05 * ls.loss()   # a null step keeps the loss
    finally:
        e.close()


def test_a_heavy_curve_explorer_draws_coarse_first_and_a_shorter_profile(heavy):
    (a, data), (b, _) = _cnn(0, epochs=2), _cnn(1, epochs=2)
    ls = rw.Landscape(a, torch.nn.CrossEntropyLoss(), data)
    theta_b = ls.layout.flatten(b)
    bend = (ls.theta + theta_b) / 2 + 0.01 * torch.randn(ls.num_params, generator=torch.Generator().manual_seed(0))
    curve = rw.BezierCurve(ls.theta, theta_b, bends=bend[None])
    e = rw.CurveExplorer(ls, curve, slq_vectors=2, slq_steps=10)
    try:
        assert (e.resolution, e.grids, e.num_t) == (15, (e.coarse, 7, 15), 21) and e.curvature_ls.num_samples == 256
        assert e.wait(300)
        assert len(e.profile["t"]) == 21 and e.surface2d.surface is not None
        assert e.surface2d.surface.loss.shape == (15, 15)
        expected = rw.core.spectrum_at(ls.subsample(256), curve(0.5), exact=False, slq_vectors=2, slq_steps=10)
        assert e.spectrum.near_zero == pytest.approx(expected.num_near_zero, rel=1e-4)  # float32 products
    finally:
        e.close()
    default = rw.CurveExplorer(ls, curve)
    default.close()
    settings = default.slq_settings
    assert (settings["slq_vectors"], settings["slq_steps"]) == (2, 20)   # half a light model's 4 x 40


def test_a_heavy_models_first_grid_is_sized_by_the_time_of_one_loss(heavy):
    """5 x 5 when 25 losses fit in FIRST_GRID_SECONDS, else 3 x 3; then 7 x 7, then the refined grid."""
    model, data = _cnn(0, epochs=0)
    ls = rw.Landscape(model, torch.nn.CrossEntropyLoss(), data)
    args = dict(light=(21, 7), resolution=None, coarse=None, curvature_samples="auto")
    slow = _scale.explorer_scale(ls, False, loss_at=lambda: time.sleep(_scale.FIRST_GRID_SECONDS / 20), **args)
    assert (slow.heavy, slow.coarse, slow.resolution, slow.grids) == (True, 3, 15, (3, 7, 15))
    fast = _scale.explorer_scale(ls, False, loss_at=lambda: None, **args)
    assert (fast.coarse, fast.grids) == (5, (5, 7, 15)) and fast.curvature_ls.num_samples == 256
    chosen = _scale.explorer_scale(ls, False, loss_at=lambda: None, **{**args, "coarse": 9, "resolution": 11})
    assert chosen.grids == (9, 11)   # no middle grid above the user's coarse one
    exact = _scale.explorer_scale(ls, True, loss_at=lambda: pytest.fail("timed a light model"), **args)
    assert (exact.heavy, exact.grids, exact.curvature_ls, exact.first_frame_timeout) == (False, (7, 21), ls, None)
