"""FIGURES.md section 3 (write-up 3, XOR and the Rashomon dimension): each check at test size."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

import rashomon_widgets as rw
from rashomon_widgets.core.geometry.paths import manifold_walk
from rashomon_widgets.experiments import sweep
from rashomon_widgets.experiments import writeups as W


def test_3a_eigen_plane_is_flatter_than_a_random_plane(xor_min):
    random_plane = rw.Plane.random(xor_min, seed=0, normalization=None)
    eigen_plane = rw.Plane.eigen(xor_min, "smallest")
    # both planes have orthonormal-scale directions: compare like with like
    for plane in (random_plane, eigen_plane):
        assert float(plane.d1.norm()) == pytest.approx(1.0) and float(plane.d2.norm()) == pytest.approx(1.0)
    flat = xor_min.surface(eigen_plane, span=1.0, resolution=15)
    rough = xor_min.surface(random_plane, span=1.0, resolution=15)
    assert flat.range < rough.range
    # the smallest eigenvectors are exact null directions: along them the loss is flat to second order
    spectrum = xor_min.spectrum().values
    assert float(spectrum[:2].abs().max()) <= 1e-6 * float(spectrum.abs().max())
    # a dense reference for one grid value
    point = eigen_plane.point(flat.xs[3], flat.ys[5])
    assert flat.loss[5, 3] == pytest.approx(xor_min.loss(point), rel=1e-9, abs=1e-20)


def test_3b_null_space_path_stays_in_the_set_and_ends_at_the_target(xor_min):
    target = manifold_walk(xor_min, num_steps=25, step=0.1, seed=3)[-1]
    path = rw.null_space_path(xor_min, xor_min.theta, target)
    assert path.reached and torch.equal(path.thetas[-1], target)
    assert path.max_loss < 1e-10


def test_3c_nudges_along_the_null_space_keep_the_loss_low(xor_min):
    thetas, losses, share = W.nudges(xor_min, 200, 0.5, seed=0)
    assert thetas.shape == (200, 9) and losses.shape == share.shape == (200,)
    assert bool(((share >= 0) & (share <= 1 + 1e-12)).all())
    r2 = ((thetas - xor_min.theta) ** 2).sum(1)
    # second-order prediction 1/2 r^2 u^T H u is exact as r -> 0, and is zero for null-space nudges
    assert spearmanr(share.numpy(), (losses / r2).numpy()).statistic < -0.3


def test_3d_near_zero_counts_are_the_spectra_s_own(tmp_path):
    result = sweep(range(6), (2, 3), tmp_path / "xor.jsonl", executor=ThreadPoolExecutor(1))
    for r in result.records:
        # every run, converged or not: the count is the spectrum's own (a miscounted record fails here)
        values = np.abs(np.array(r["spectrum"]))
        assert isinstance(r["near_zero"], int) and r["near_zero"] == int((values <= r["tol"] * values.max()).sum())
    for r in result.records:
        if r["converged"]:
            # an XOR fit needs rank G >= 3 (the output bias and the targets span two dimensions, and
            # no hidden unit's gradients fit in them): the count is N - 4 or N - 3 at a global minimum
            n = r["num_params"]
            assert n - 4 <= r["near_zero"] <= n - 3
            values = np.abs(np.array(r["spectrum"]))
            assert r["near_zero"] == int((values <= r["tol"] * values.max()).sum())


@pytest.mark.parametrize("kind", W.SYNTHETIC)
def test_3e_synthetic_attractor_wells_are_two_dimensional(kind):
    rng = np.random.default_rng(0)
    starts = rng.uniform(-2, 2, (500, 2))
    ends = W.gradient_flow(kind, starts, steps=400, lr=0.02)[-1]
    assert W.in_rashomon_set(kind, ends).mean() > 0.99     # almost every start ends in the set
    if kind == "circle":   # a one-dimensional set: the unit circle
        np.testing.assert_allclose(np.hypot(ends[:, 0], ends[:, 1]), 1.0, atol=1e-3)
    else:                  # a two-dimensional set: the strip |x| <= 1, y unchanged by the flow
        assert np.abs(ends[:, 0]).max() <= 1 + 1e-3
        np.testing.assert_array_equal(ends[:, 1], starts[:, 1])
    assert W.synthetic_loss(kind, 0.0, 1.0) == 0.0
    with pytest.raises(ValueError, match="kind"):
        W.synthetic_loss("spiral", 0.0, 0.0)
    with pytest.raises(ValueError, match=r"starts: expected points of shape \(M, 2\)"):
        W.gradient_flow(kind, np.zeros(3))
