"""FIGURES.md section 3 (write-up 3, XOR and the Rashomon dimension): each check at test size."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

import rashomon_widgets as rw
from rashomon_widgets.core.geometry.paths import manifold_walk
from rashomon_widgets.experiments import broad_basins as W
from rashomon_widgets.experiments import sweep, verdicts


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


def test_3a_eigen_plane_is_flatter_than_random_planes_of_several_seeds(xor_min):
    eigen = xor_min.surface(rw.Plane.eigen(xor_min, "smallest"), span=2.0, resolution=11)
    ranges = [xor_min.surface(rw.Plane.random(xor_min, seed=seed, normalization=None), span=2.0, resolution=11).range
              for seed in range(3)]
    assert len(set(ranges)) == 3            # three different planes, not one drawn three times
    outcomes = {f"seed {s}": "agrees" if eigen.range < r else "contradicts" for s, r in enumerate(ranges)}
    assert verdicts.over_choices(outcomes, "the random seed") == "agrees", (eigen.range, ranges)


def test_3c_nudge_counts_are_those_of_the_nudges_themselves(xor_min):
    radii, thresholds = (0.05, 0.5), (1e-3, 1e-2)
    counts = W.nudge_counts(xor_min, radii, thresholds, 120, seed=4)
    assert counts.shape == (2, 2) and counts.dtype.kind == "i"
    for i, radius in enumerate(radii):
        _, losses, _ = W.nudges(xor_min, 120, radius, seed=4)      # drawn independently, same seed
        assert list(counts[i]) == [int((losses < t).sum()) for t in thresholds]


def test_3c_large_proportion_verdict_depends_on_the_radius_and_threshold(xor_min):
    # write-up 3 names neither the nudge size nor what "the same loss" is: over a grid, the share below the
    # threshold is decidedly above one half for short nudges and decidedly below for long ones
    radii, thresholds, num = (0.02, 0.05, 0.5, 1.0), (1e-3, 1e-2), 150
    counts = W.nudge_counts(xor_min, radii, thresholds, num, seed=0)
    outcomes = {f"r {r}/loss {t}": verdicts.share_verdict(verdicts.wilson(int(counts[i, j]), num), 0.5)
                for i, r in enumerate(radii) for j, t in enumerate(thresholds)}
    assert verdicts.over_choices(outcomes, "the radius and the threshold").startswith(
        "depends on the radius and the threshold: agrees for "), outcomes
    for j in range(len(thresholds)):       # shorter nudges keep the loss more often (loss ~ r^2 / 2 u^T H u)
        assert counts[0, j] > counts[-1, j]
