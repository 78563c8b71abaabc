"""Write-up 1's cyclic-learning-rate walk: the schedule, the walk on a tiny classifier, the direction verdict
(which must reject walks along one line or inside one plane), pairwise barriers and plane projections, each
number checked against a second computation."""
import math

import numpy as np
import pytest
import torch

import rashomon_widgets as rw
from rashomon_widgets.experiments import (
    CyclicWalk,
    compare_directions,
    cycle_schedule,
    cyclic_walk,
    directions,
    pairwise_barriers,
    project_onto_plane,
)
from rashomon_widgets.models import accuracy, cross_entropy, digits_mlp, train


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def task(one_torch_thread):
    """A digits classifier with 8 hidden units on 300 training images, trained to a low loss (about a second)."""
    split = rw.data.digits(dtype=torch.float64)
    (x, y), (xt, yt) = split.train, split.test
    train_data, test_data = (x[:300], y[:300]), (xt[:120], yt[:120])
    model = digits_mlp((8,), seed=0, dtype=torch.float64)
    train(model, cross_entropy, train_data, epochs=100, lr=3e-2, seed=0)
    return model, train_data, test_data


@pytest.fixture(scope="module")
def ls(task):
    model, train_data, _ = task
    return rw.Landscape(model, cross_entropy, train_data)


@pytest.fixture(scope="module")
def walk(ls, task):
    return cyclic_walk(ls, cycles=3, cycle_steps=60, lr_high=2e-2, batch_size=32, test_data=task[2], seed=0)


# ----------------------------------------------------------------------------- the schedule
def test_one_cycle_anneals_from_the_high_to_the_low_rate_as_a_cosine():
    lr = cycle_schedule(11, 0.5, 1e-3)
    s = np.arange(11) / 10
    np.testing.assert_allclose(lr, 1e-3 + (0.5 - 1e-3) * (1 + np.cos(np.pi * s)) / 2, rtol=1e-12)
    assert lr[0] == pytest.approx(0.5) and lr[-1] == pytest.approx(1e-3)
    assert np.all(np.diff(lr) < 0)
    assert lr[5] == pytest.approx((0.5 + 1e-3) / 2)     # the middle of a cosine is the mean of its ends


@pytest.mark.parametrize("args, error", [((1, 0.1, 0.01), ValueError), ((10, 0.01, 0.1), ValueError),
                                         ((10, 0.0, 0.0), ValueError), ((10, "a", 0.1), TypeError)])
def test_a_bad_schedule_is_refused(args, error):
    with pytest.raises(error):
        cycle_schedule(*args)


# ----------------------------------------------------------------------------- the walk
def test_the_walk_collects_one_model_per_cycle_at_low_loss(ls, walk):
    assert isinstance(walk, CyclicWalk) and walk.thetas.shape == (3, ls.num_params) and walk.num_cycles == 3
    # back on the ridge: every collected model is as good as the start (within a factor 1.5 of its loss), and
    # the decayed learning rate brought it below the highest loss of its cycle
    assert walk.train_loss.max() <= 1.5 * walk.start_loss
    assert np.all(walk.train_loss < walk.peak_loss)
    assert np.all(walk.train_accuracy >= walk.start_metrics["train_accuracy"] - 0.02)


def test_the_collected_models_differ_from_the_start_and_from_each_other(ls, walk):
    steps = walk.steps().norm(dim=1)
    scale = float(walk.start.norm())
    assert float(steps.min()) > 1e-3 * scale                                # every cycle moved
    torch.testing.assert_close(walk.steps().cumsum(0), walk.displacements())  # steps add up to displacements
    assert float(torch.cdist(walk.thetas, walk.thetas).add(torch.eye(3, dtype=walk.thetas.dtype)).min()) > 0


def test_the_reported_numbers_are_the_landscapes(ls, task, walk):
    _, _, (xt, yt) = task
    for i, theta in enumerate(walk.thetas):
        assert walk.train_loss[i] == pytest.approx(ls.loss(theta), rel=1e-10)
        out = ls.forward(theta, xt)
        assert walk.test_loss[i] == pytest.approx(float(cross_entropy(out, yt)), rel=1e-10)
        assert walk.test_accuracy[i] == pytest.approx(float((out.argmax(1) == yt).double().mean()))
        assert walk.train_accuracy[i] == pytest.approx(accuracy(ls.outputs(theta), ls.batches[0][1]))
    assert walk.start_loss == pytest.approx(ls.loss(), rel=1e-12)
    # the peak is the largest probe; probes every 10 steps of 60
    assert walk.probe_losses.shape == (3, 6)
    np.testing.assert_array_equal(walk.peak_loss, walk.probe_losses.max(1))
    assert walk.probe_losses[:, -1] == pytest.approx(walk.train_loss, rel=1e-10)  # the last probe is the end


def test_the_walk_leaves_the_users_model_and_the_landscape_alone(ls, task, walk):
    model, _, _ = task
    torch.testing.assert_close(torch.nn.utils.parameters_to_vector(model.parameters()).detach(), ls.theta)
    torch.testing.assert_close(walk.start, ls.theta)


def test_the_walk_is_seeded_and_the_seed_matters(ls):
    kw = {"cycles": 2, "cycle_steps": 20, "lr_high": 2e-2, "batch_size": 32}
    a, b = cyclic_walk(ls, seed=3, **kw), cyclic_walk(ls, seed=3, **kw)
    c = cyclic_walk(ls, seed=4, **kw)
    torch.testing.assert_close(a.thetas, b.thetas, rtol=0, atol=0)
    assert float((a.thetas - c.thetas).norm()) > 1e-3


def test_restarting_the_optimiser_changes_the_later_cycles(ls):
    kw = {"cycles": 2, "cycle_steps": 20, "lr_high": 2e-2, "batch_size": 32, "seed": 0}
    fresh, kept = cyclic_walk(ls, restart=True, **kw), cyclic_walk(ls, restart=False, **kw)
    torch.testing.assert_close(fresh.thetas[0], kept.thetas[0], rtol=0, atol=0)   # the first cycle is the same
    assert float((fresh.thetas[1] - kept.thetas[1]).norm()) > 1e-6


def test_sgd_with_momentum_and_full_batches_run_too(ls):
    walk = cyclic_walk(ls, cycles=2, cycle_steps=10, lr_high=0.5, lr_low=1e-3, optimizer="sgd", momentum=0.9,
                       batch_size=None)
    assert walk.thetas.shape[0] == 2 and math.isnan(walk.test_loss[0])
    assert np.all(np.isfinite(walk.train_loss))


@pytest.mark.parametrize("kwargs, error", [
    ({"optimizer": "lbfgs"}, ValueError), ({"momentum": 0.9}, ValueError), ({"cycles": 0}, ValueError),
    ({"cycle_steps": 1}, ValueError), ({"lr_low": 1.0}, ValueError), ({"test_data": torch.zeros(3)}, TypeError),
    ({"restart": 1}, TypeError), ({"progress": 3}, TypeError), ({"batch_size": 0}, ValueError)])
def test_bad_arguments_are_refused(ls, kwargs, error):
    with pytest.raises(error):
        cyclic_walk(ls, **{"cycles": 1, "cycle_steps": 2, **kwargs})


def test_progress_is_called_after_every_cycle(ls):
    calls = []
    cyclic_walk(ls, cycles=2, cycle_steps=5, progress=lambda i, n, loss: calls.append((i, n, loss)))
    assert [c[:2] for c in calls] == [(1, 2), (2, 2)] and all(c[2] > 0 for c in calls)


# ----------------------------------------------------------------------------- directions and the verdict
def test_directions_match_numpy_and_the_textbook_cases():
    g = torch.Generator().manual_seed(0)
    v = torch.randn(5, 40, generator=g, dtype=torch.float64)
    d = directions(v)
    lam = np.linalg.svd(v.numpy(), compute_uv=False) ** 2
    assert d.participation == pytest.approx(lam.sum() ** 2 / (lam ** 2).sum())
    assert d.count == int(np.argmax(np.cumsum(lam) / lam.sum() >= 0.9)) + 1
    assert d.rank == 5 and d.energy.sum() == pytest.approx(1.0)
    assert directions(torch.eye(4, 9) * 3.0).participation == pytest.approx(4.0)            # 4 orthogonal, equal
    assert directions(torch.outer(torch.arange(1.0, 6.0), torch.ones(7))).participation == pytest.approx(1.0)
    assert directions(torch.diag(torch.tensor([1.0, 0.01, 0.0]))).rank == 2


@pytest.mark.parametrize("bad", [torch.zeros(3, 4), torch.zeros(4), torch.full((2, 2), math.nan)])
def test_directions_refuse_degenerate_input(bad):
    with pytest.raises(ValueError):
        directions(bad)


def _bezier(p=50, seed=0):
    g = torch.Generator().manual_seed(seed)
    a, b, bend = (torch.randn(p, generator=g, dtype=torch.float64) for _ in range(3))
    return rw.BezierCurve(a, b, num_bends=1, bends=bend[None, :])


def test_a_walk_in_many_orthogonal_directions_spans_more_than_a_curve():
    curve = _bezier()
    start = curve(0.0)
    steps = torch.eye(6, 50, dtype=torch.float64)[:, torch.randperm(50, generator=torch.Generator().manual_seed(1))]
    verdict = compare_directions(start + steps.cumsum(0), start, curve.points(torch.linspace(0, 1, 7)))
    assert verdict.bound == 2 and verdict.more
    assert verdict.walk.participation == pytest.approx(6.0) and verdict.walk.count == 6
    assert verdict.line().startswith("Verdict: the walk spans more directions than the curve")


def test_a_walk_along_one_line_is_not_judged_to_span_more_directions():
    curve = _bezier()
    start = curve(0.0)
    g = torch.Generator().manual_seed(2)
    u = torch.randn(50, generator=g, dtype=torch.float64)
    lengths = torch.rand(8, generator=g, dtype=torch.float64) + 0.5
    line = start + torch.cumsum(lengths[:, None] * u[None, :], 0)
    verdict = compare_directions(line, start, curve.points(torch.linspace(0, 1, 9)))
    assert not verdict.more and verdict.walk.participation == pytest.approx(1.0) and verdict.walk.count == 1
    assert verdict.line().startswith("Verdict: the walk does not span more directions")
    # the same line with back-and-forth steps and a little noise is still one direction
    steps = torch.tensor([1.0, -0.7, 1.3, -0.4, 0.9, 1.1, -1.2, 0.8], dtype=torch.float64)
    noise = 1e-3 * torch.randn(8, 50, generator=g, dtype=torch.float64)
    noisy = start + torch.cumsum(steps[:, None] * u[None, :] + noise, 0)
    assert not compare_directions(noisy, start, curve.points(torch.linspace(0, 1, 9))).more


def test_a_walk_inside_one_plane_is_not_judged_to_span_more_than_a_curve_in_a_plane():
    curve = _bezier()
    start = curve(0.0)
    g = torch.Generator().manual_seed(3)
    basis = torch.linalg.qr(torch.randn(50, 2, generator=g, dtype=torch.float64)).Q
    coef = torch.randn(12, 2, generator=g, dtype=torch.float64)    # many steps, all in one plane
    verdict = compare_directions(start + (coef @ basis.T).cumsum(0), start, curve.points(torch.linspace(0, 1, 13)))
    assert verdict.walk.rank == 2 and verdict.walk.participation <= 2.0 + 1e-12 and not verdict.more


def test_against_a_straight_line_a_planar_walk_does_span_more():
    a, b = torch.zeros(10, dtype=torch.float64), torch.ones(10, dtype=torch.float64)
    line = rw.BezierCurve(a, b, num_bends=0)
    steps = torch.zeros(4, 10, dtype=torch.float64)
    steps[[0, 2], 0], steps[[1, 3], 1] = 1.0, 1.0
    verdict = compare_directions(steps.cumsum(0), a, line.points(torch.linspace(0, 1, 5)))
    assert verdict.bound == 1 and verdict.walk.participation == pytest.approx(2.0) and verdict.more


def test_the_verdict_is_decided_from_steps_not_displacements():
    """Orthogonal equal steps: the displacements' participation ratio stays low (a random walk's first principal
    direction dominates), yet the walk visits as many directions as it has steps."""
    m = 8
    on_a_line = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)[:, None] * torch.eye(m, dtype=torch.float64)[0]
    verdict = compare_directions(torch.ones(m, m, dtype=torch.float64).tril(), torch.zeros(m, dtype=torch.float64),
                                 on_a_line)
    assert verdict.displacements.participation < 2.0 < verdict.walk.participation == pytest.approx(m)
    assert verdict.more


@pytest.mark.parametrize("args", [(torch.zeros(3, 4), torch.zeros(5), torch.zeros(2, 4)),
                                  (torch.zeros(3, 4), torch.zeros(4), torch.zeros(1, 4)),
                                  (torch.zeros(3, 4), torch.zeros(4), torch.zeros(2, 5))])
def test_compare_directions_refuses_mismatched_shapes(args):
    with pytest.raises(ValueError):
        compare_directions(*args)


# ----------------------------------------------------------------------------- barriers and planes
class _DoubleWell(torch.nn.Module):
    """One parameter w; with the loss below, L(w) = (w^2 - 1)^2: minima at -1 and 1, a barrier of 1 at 0."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))

    def forward(self, x):
        return self.w.expand(x.shape[0], 1)


def test_barriers_of_a_double_well_and_of_a_flat_valley():
    ls = rw.Landscape(_DoubleWell(), lambda out, t: ((out ** 2 - 1) ** 2).mean(),
                      (torch.zeros(1, 1, dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64)))
    points = torch.tensor([[-1.0], [1.0], [1.0 + 1e-3]], dtype=torch.float64)
    b = pairwise_barriers(ls, points, names=["left", "right", "near"], num=17)
    assert b.names == ["left", "right", "near"]
    assert b.barrier[0, 1] == pytest.approx(1.0) and b.barrier_max[0, 1] == pytest.approx(1.0)
    assert b.barrier[1, 2] == pytest.approx(0.5 * b.loss[2])     # no rise: the peak is the higher end
    assert b.barrier_max[1, 2] == pytest.approx(0.0, abs=1e-15)
    np.testing.assert_allclose(b.distance, (points - points.T).abs().numpy(), atol=1e-15)
    for m in (b.distance, b.peak, b.barrier, b.barrier_max):
        np.testing.assert_array_equal(m, m.T)
    np.testing.assert_array_equal(np.diag(b.barrier), 0.0)
    # a second computation of one entry: the segment's losses one by one
    s = torch.linspace(0, 1, 17, dtype=torch.float64)
    seg = [ls.loss((1 - si) * points[0] + si * points[2]) for si in s]
    assert b.peak[0, 2] == pytest.approx(max(seg))


def test_barriers_on_the_toy_ridge_are_zero():
    model, loss_fn, data = rw.models.toy_quadratic(a=1.0, b=0.25)
    ls = rw.Landscape(model, loss_fn, data, reduction="sum")
    ridge = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 4.0], [0.0, 0.0, -2.0]], dtype=torch.float64)
    b = pairwise_barriers(ls, ridge)
    np.testing.assert_array_equal(b.barrier, 0.0)
    with pytest.raises(ValueError):
        pairwise_barriers(ls, ridge[:1])
    with pytest.raises(ValueError):
        pairwise_barriers(ls, ridge, names=["one"])
    with pytest.raises(TypeError):
        pairwise_barriers(ls, ridge.tolist())


def test_projection_onto_a_plane_returns_coordinates_and_the_distance_off_it():
    g = torch.Generator().manual_seed(0)
    a, b, c = (torch.randn(30, generator=g, dtype=torch.float64) for _ in range(3))
    plane = rw.Plane.through(a, b, c)
    normal = torch.randn(30, generator=g, dtype=torch.float64)
    basis = torch.stack([plane.d1, plane.d2], 1)
    normal = normal - basis @ (basis.T @ normal)
    normal = 2.5 * normal / normal.norm()
    points = torch.stack([plane.point(1.0, -2.0), plane.point(0.5, 3.0) + normal])
    xy, off = plane.project(points)
    np.testing.assert_allclose(xy, [[1.0, -2.0], [0.5, 3.0]], atol=1e-10)
    np.testing.assert_allclose(off, [0.0, 2.5], atol=1e-10)
    with pytest.warns(DeprecationWarning, match=r"use plane.project\(points\)"):
        old_xy, old_off = project_onto_plane(plane, points)
    np.testing.assert_allclose(old_xy, xy, rtol=0, atol=1e-12)   # least squares again: equal to rounding
    np.testing.assert_allclose(old_off, off, rtol=0, atol=1e-12)


def test_a_walk_that_blows_up_is_refused_with_a_message():
    """On the double well, plain SGD with a large rate overshoots further at every step until the loss overflows."""
    ls = rw.Landscape(_DoubleWell(), lambda out, t: ((out ** 2 - 1) ** 2).mean(),
                      (torch.zeros(1, 1, dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64)))
    with pytest.raises(ValueError, match="lower lr_high"):
        cyclic_walk(ls, torch.tensor([1.5], dtype=torch.float64), cycles=1, cycle_steps=20, optimizer="sgd",
                    lr_high=10.0, lr_low=1.0, batch_size=None, probe_every=1)
