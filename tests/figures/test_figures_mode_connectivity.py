"""FIGURES.md section 1 (write-up 1, mode connectivity): the core claims of figures 1a-1e, recomputed at tiny
size from real training (no shipped results, no mocks). Each assertion is one that a broken computation fails."""
from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

import rashomon_widgets as rw
from rashomon_widgets.experiments.ridge import direction_nulls, slq_moment_check


@pytest.fixture(scope="module")
def pair(one_torch_thread):
    """Two digits MLPs (32 hidden units) from two seeds, and a Bezier curve fitted between them."""
    split = rw.data.digits()
    models = []
    for seed in (0, 1):
        m = rw.models.digits_mlp((32,), seed=seed)
        rw.models.train(m, rw.models.cross_entropy, split.train, epochs=80, lr=1e-2, seed=seed)
        models.append(m.eval())
    ls = rw.Landscape(models[0], rw.models.cross_entropy, split.train)
    theta_a, theta_b = ls.theta, ls.layout.flatten(models[1])
    curve = rw.BezierCurve(theta_a, theta_b, num_bends=1)
    rw.fit_curve(ls, curve, steps=80, lr=1e-2, num_t=4)
    return ls, curve, split


def test_1a_toy_hessian_has_eigenvalues_2a_2b_0_and_null_vector_ez():
    a, b = 1.3, 0.4
    model, loss, data = rw.models.toy_quadratic(a=a, b=b, point=(0.0, 0.0, 2.0))
    values, vectors = torch.linalg.eigh(rw.Landscape(model, loss, data, reduction="sum").hessian())
    assert torch.allclose(values.sort().values, torch.tensor([0.0, 2 * b, 2 * a], dtype=values.dtype), atol=1e-6)
    assert torch.allclose(vectors[:, values.abs().argmin()].abs(), torch.tensor([0.0, 0.0, 1.0], dtype=values.dtype),
                          atol=1e-6)


def test_1b_the_curve_removes_the_straight_line_barrier(pair):
    ls, curve, _ = pair
    ts = torch.linspace(0, 1, 21)
    line = ls.losses(rw.BezierCurve(curve.theta_a, curve.theta_b, num_bends=0).points(ts)).numpy()
    bent = ls.losses(curve.points(ts)).numpy()
    ends = max(line[0], line[-1])
    assert line.max() - ends > ends                         # a real barrier on the straight line
    assert bent.max() < ends + 0.1 * (line.max() - ends)     # the fitted curve is nearly flat


def test_1c_tangent_flatter_than_line_away_from_the_apex_and_products_are_exact(pair):
    ls, curve, _ = pair
    table = rw.core.along_curve(ls, curve, 5, curvature=False, hvp_samples=1)
    away = np.abs(table["t"] - 0.5) >= 0.15
    assert np.all(table["hvp_tangent"][away] < table["hvp_line"][away])
    # full batch: the same product twice is the same (write-up 1's "noise" cannot be the cause)
    theta, tau = curve(0.25), curve.tangent(0.25, normalize=True)
    first, second = ls.hvp(tau, theta), ls.hvp(tau, theta)
    assert float((first - second).norm()) <= 1e-5 * float(first.norm())
    assert float(first.norm()) > 1e-3 * float(ls.hvp(curve.line_direction(), theta).norm())   # and not zero


def test_1d_slq_density_is_a_correct_quadrature_and_a_scaled_one_fails(pair):
    ls, curve, _ = pair
    table = rw.core.along_curve(ls, curve, 3, curvature=True, hvp_samples=1, top_k=1, slq_vectors=4, slq_steps=20)
    for i, t in enumerate(table["t"]):
        hvp = functools.partial(ls.hvp, theta=curve(float(t)))
        assert slq_moment_check(hvp, *table.slq[i], ls.num_params, 4, dtype=ls.dtype).passed
        nodes, weights = table.slq[i]
        assert not slq_moment_check(hvp, 0.8 * nodes, weights, ls.num_params, 4, dtype=ls.dtype).passed
        assert not slq_moment_check(hvp, nodes, 1.2 * weights, ls.num_params, 4, dtype=ls.dtype).passed


def test_1d_exact_minimum_count_is_the_generic_p_minus_k(one_torch_thread):
    split = rw.data.digits(dtype=torch.float64)
    images, labels = split.train
    pick = torch.cat([torch.nonzero(labels == d)[:2, 0] for d in range(10)])
    data = (images[pick], torch.nn.functional.one_hot(labels[pick], 10).to(torch.float64))
    model = rw.models.digits_mlp((10,), seed=0, dtype=torch.float64)
    rw.models.train(model, rw.models.mse_loss, data, epochs=300, lr=1e-2, seed=0)
    rw.models.train(model, rw.models.mse_loss, data, epochs=4, optimizer="lbfgs")
    ls = rw.Landscape(model, rw.models.mse_loss, data)
    assert ls.loss() < 1e-8
    k = data[1].numel()
    H, G = ls.hessian(), ls.jacobian()
    assert float((H - 2 * G.T @ G / k).abs().max()) < 1e-4 * float(H.abs().max())   # H = 2 G G^T / K at a minimum
    flat = ls.num_params - int(torch.linalg.matrix_rank(G))
    assert flat == ls.num_params - k                     # the generic value: rank G = K here, as anywhere
    fresh = rw.models.digits_mlp((10,), seed=7, dtype=torch.float64)
    assert ls.num_params - int(torch.linalg.matrix_rank(ls.jacobian(ls.layout.flatten(fresh)))) == flat
    assert ls.spectrum(tol=1e-6).num_near_zero >= flat


def test_1e_cyclic_walk_returns_to_the_ridge_and_is_compared_with_nulls(pair):
    ls, curve, split = pair
    walk = rw.experiments.cyclic_walk(ls, curve.theta_a, cycles=3, cycle_steps=50, lr_high=1e-2, batch_size=64,
                                      test_data=split.test, seed=0)
    assert np.all(walk.train_loss < walk.peak_loss)
    assert walk.train_loss.max() <= 2 * walk.start_loss
    nulls = direction_nulls(walk.steps(), curve, draws=20, seed=0)
    assert nulls.on_curve.max() <= 2 + 1e-6
    sq = walk.steps().double().norm(dim=1) ** 2          # orthogonal steps of these lengths: the most spread possible
    bound = float(sq.sum() ** 2 / (sq ** 2).sum())
    assert nulls.walk <= bound + 1e-9 and nulls.random.max() <= bound + 1e-9
    assert nulls.line().startswith("Null models:")
