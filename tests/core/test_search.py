"""`rw.rashomon_search`: a best-first search through a Rashomon set, and `path_in_set`, its check."""
import math

import pytest
import torch

import rashomon_widgets as rw
from rashomon_widgets.core import path_in_set, permute_hidden_units, weight_matching
from rashomon_widgets.core.geometry.paths import manifold_walk
from rashomon_widgets.core.geometry.retraction import retract, retract_many

from ..conftest import Stop, stopping_progress


class TwoCircles(torch.nn.Module):
    """f(p, x) = (|p|^2 - 1)(|p - (3, 0)|^2 - 1) x: at target 0 the Rashomon set is two unit circles, around
    (0, 0) and (3, 0), that no path inside the set joins. Greedy walks cannot go around a circle: at
    (1, 0) the difference to (-1, 0) is normal to the circle."""

    def __init__(self, p):
        super().__init__()
        self.p = torch.nn.Parameter(torch.tensor(p, dtype=torch.float64))

    def forward(self, x):
        centre = torch.tensor([3.0, 0.0], dtype=torch.float64)
        return ((self.p ** 2).sum() - 1) * (((self.p - centre) ** 2).sum() - 1) * x


@pytest.fixture
def circles():
    x, y = torch.ones(1, 1, dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64)
    return rw.Landscape(TwoCircles([1.0, 0.0]), lambda o, t: ((o - t) ** 2).sum(), (x, y), reduction="sum")


def _point(*values):
    return torch.tensor(values, dtype=torch.float64)


def test_goes_around_the_circle_where_the_greedy_walk_is_stuck(circles):
    start, target = circles.theta, _point(-1.0, 0.0)
    greedy = rw.null_space_path(circles, start, target)
    assert not greedy.reached and "orthogonal" in greedy.reason
    found = rw.rashomon_search(circles, start, target, loss_tol=1e-2, step=0.1, max_nodes=200)
    assert found.reached, found.reason
    assert "reached" in found.reason
    torch.testing.assert_close(found.thetas[0], start, rtol=0, atol=0)
    torch.testing.assert_close(found.thetas[-1], target, rtol=0, atol=0)
    # every point lies on the unit circle, the polygon is about half its circumference
    torch.testing.assert_close(found.thetas.norm(dim=1), torch.ones(len(found), dtype=torch.float64), rtol=0,
                               atol=1e-9)
    assert math.pi * 0.97 < found.length < math.pi * 1.15, found.length
    assert found.max_loss <= 1e-2 and float(found.losses.max()) < 1e-20
    steps = (found.thetas[1:] - found.thetas[:-1]).norm(dim=1)
    assert float(steps.max()) <= 0.1 * 1.01
    assert found.nodes_expanded <= 200 and found.nodes_tried >= found.nodes_expanded


def test_the_other_circle_is_not_reached_and_the_frontier_empties(circles):
    found = rw.rashomon_search(circles, circles.theta, _point(2.0, 0.0), loss_tol=1e-2, step=0.1, max_nodes=500)
    assert not found.reached
    assert found.reason.startswith("frontier empty"), found.reason
    assert found.nodes_expanded < 500
    # the search explored its own circle only: every node is on it, the closest one is (1, 0) itself
    assert found.closest == pytest.approx(1.0, abs=1e-9)
    torch.testing.assert_close(found.thetas.norm(dim=1), torch.ones(len(found), dtype=torch.float64), rtol=0,
                               atol=1e-9)


def test_reaches_the_end_of_a_walk_inside_the_set(xor_min):
    start = xor_min.theta
    target = manifold_walk(xor_min, num_steps=40, step=0.1, seed=1)[-1]
    loss_tol, step = 1e-4, 0.25
    found = rw.rashomon_search(xor_min, start, target, loss_tol=loss_tol, step=step, max_nodes=200)
    assert found.reached, found.reason
    torch.testing.assert_close(found.thetas[0], start, rtol=0, atol=0)
    torch.testing.assert_close(found.thetas[-1], target, rtol=0, atol=0)
    # every point (and the checked points of every segment) is in the set; steps are one step long, give
    # or take the retraction
    assert float(found.losses.max()) <= loss_tol and found.max_loss <= loss_tol
    torch.testing.assert_close(found.losses, xor_min.losses(found.thetas, strategy="loop"), rtol=0, atol=1e-20)
    steps = (found.thetas[1:] - found.thetas[:-1]).norm(dim=1)
    assert float(steps.max()) <= 1.5 * step
    assert found.length >= found.distance == pytest.approx(float((target - start).norm()))
    ok, worst, why = path_in_set(xor_min, found.thetas, loss_tol, checks=16, max_step=1.5 * step)
    assert ok, why
    assert worst <= loss_tol
    # the nodes keep the start's outputs (the behaviour manifold), not merely a low loss
    outputs = torch.stack([xor_min.outputs(t).reshape(-1) for t in found.thetas[:-1]])
    torch.testing.assert_close(outputs, xor_min.outputs().reshape(1, -1).expand_as(outputs), rtol=0, atol=1e-9)


def test_a_tiny_budget_stops_with_a_reason(xor_min):
    target = manifold_walk(xor_min, num_steps=40, step=0.1, seed=1)[-1]
    found = rw.rashomon_search(xor_min, xor_min.theta, target, loss_tol=1e-4, step=0.25, max_nodes=1)
    assert not found.reached
    assert found.nodes_expanded == 1
    assert "budget exhausted" in found.reason and "not a proof" in found.reason
    assert 0 < found.closest < found.distance
    assert found.thetas.shape[0] >= 2  # the path to the closest node found


def test_the_permuted_twin_aligns_to_the_start_itself(xor_min):
    model = rw.models.xor_minimum(width=2, seed=0)
    twin_model = permute_hidden_units(model, [torch.tensor([1, 0])])
    twin = xor_min.layout.flatten(twin_model)
    assert float((twin - xor_min.theta).norm()) > 1.0
    aligned = xor_min.layout.flatten(weight_matching(model, twin_model).model)
    torch.testing.assert_close(aligned, xor_min.theta, rtol=0, atol=0)
    found = rw.rashomon_search(xor_min, xor_min.theta, aligned, loss_tol=1e-4)
    assert found.reached and found.length == 0.0 and len(found) == 1
    assert found.reason == "theta_a and theta_b are the same point"


def test_points_outside_the_set_are_refused(xor_min):
    theta = xor_min.theta
    with pytest.raises(ValueError, match=r"theta_b: expected a point of the set \(loss <= loss_tol=0.0001\)"):
        rw.rashomon_search(xor_min, theta, theta + 0.5, loss_tol=1e-4)
    with pytest.raises(ValueError, match="theta_a: expected a point of the set"):
        rw.rashomon_search(xor_min, theta + 0.5, theta, loss_tol=1e-4)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(loss_tol=0.0), ValueError, "loss_tol: expected a positive number, got 0.0"),
    (dict(loss_tol=1e-4, step=-1.0), ValueError, "step: expected a positive number"),
    (dict(loss_tol=1e-4, max_nodes=0), ValueError, r"max_nodes: expected an int in \[1, "),
    (dict(loss_tol=1e-4, max_nodes=2.5), TypeError, "max_nodes: expected an int"),
    (dict(loss_tol=1e-4, strategy="dfs"), ValueError, "strategy: expected one of 'astar', 'greedy', got 'dfs'"),
    (dict(loss_tol=1e-4, weight=0.5), ValueError, "weight: expected a number >= 1, got 0.5"),
    (dict(loss_tol=1e-4, method="eigen"), ValueError, "method: expected one of 'auto', 'hessian', 'tangent'"),
    (dict(loss_tol=1e-4, num_random=-1), ValueError, "num_random: expected an int in"),
    (dict(loss_tol=1e-4, seed=-3), ValueError, "seed: expected an int >= 0"),
    (dict(loss_tol=1e-4, progress="yes"), TypeError, r"progress: expected a callable progress\(expanded"),
])
def test_bad_options_say_what_was_expected(xor_min, kwargs, error, message):
    with pytest.raises(error, match=message):
        rw.rashomon_search(xor_min, xor_min.theta, xor_min.theta, **kwargs)


def test_bad_points_say_what_was_expected(xor_min):
    theta = xor_min.theta
    with pytest.raises(ValueError, match=r"expected shape \(P,\)"):
        rw.rashomon_search(xor_min, theta, theta[:5], loss_tol=1e-4)
    with pytest.raises(ValueError, match="flat parameter vector"):
        rw.rashomon_search(xor_min, theta[None], theta, loss_tol=1e-4)
    with pytest.raises(TypeError, match="expected dtype torch.float64"):
        rw.rashomon_search(xor_min, theta, theta.float(), loss_tol=1e-4)
    with pytest.raises(TypeError, match="loss_tol"):
        rw.rashomon_search(xor_min, theta, theta)   # the set must be defined by the caller


def test_progress_is_reported_and_can_stop_the_search(xor_min):
    target = manifold_walk(xor_min, num_steps=40, step=0.1, seed=1)[-1]
    progress, calls = stopping_progress(3)
    with pytest.raises(Stop):
        rw.rashomon_search(xor_min, xor_min.theta, target, loss_tol=1e-4, step=0.1, max_nodes=50, progress=progress)
    assert calls == [(1, 50), (2, 50), (3, 50)]


def test_path_in_set_refuses_paths_that_leave_the_set(xor_min):
    start = xor_min.theta
    walk = manifold_walk(xor_min, num_steps=40, step=0.1, seed=1)
    # the walk itself is in the set
    ok, worst, why = path_in_set(xor_min, walk, 1e-4, checks=8)
    assert ok and why == "" and worst <= 1e-4
    # the straight line between its ends is not: the loss inside the one segment is high
    ok, worst, why = path_in_set(xor_min, torch.stack([start, walk[-1]]), 1e-4, checks=8)
    assert not ok and worst > 1e-4
    assert why.startswith("segment 0 (between points 0 and 1) reaches loss")
    # a fake path with one high-loss point
    fake = walk.clone()
    fake[7] = fake[7] + 0.5
    ok, worst, why = path_in_set(xor_min, fake, 1e-4, checks=0)
    assert not ok and why.startswith("point 7 has loss") and worst > 1e-4
    # steps longer than allowed
    ok, _, why = path_in_set(xor_min, walk[::10], 1e3, checks=0, max_step=0.2)
    assert not ok and why.startswith("segment 0 is")
    with pytest.raises(ValueError, match=r"thetas: expected shape \(M, P\)"):
        path_in_set(xor_min, start, 1e-4)
    with pytest.raises(ValueError, match="loss_tol: expected a positive number"):
        path_in_set(xor_min, walk, -1.0)


def test_a_search_result_passes_the_check_only_when_it_should(xor_min):
    target = manifold_walk(xor_min, num_steps=40, step=0.1, seed=1)[-1]
    found = rw.rashomon_search(xor_min, xor_min.theta, target, loss_tol=1e-4, step=0.25, max_nodes=200)
    assert found.reached
    assert path_in_set(xor_min, found.thetas, found.loss_tol, checks=4)[0]
    # a tighter set than the one searched: the straight segments between nodes rise above it
    ok, worst, why = path_in_set(xor_min, found.thetas, 1e-12, checks=4)
    assert not ok and worst > 1e-12 and "segment" in why


def test_batched_retraction_matches_the_point_by_point_one(xor_min):
    basis = xor_min.null_space()
    points = xor_min.theta + 0.3 * torch.cat([basis.T, -basis.T])
    target = xor_min.outputs()
    batched, residuals = retract_many(xor_min, points, target)
    single = torch.stack([retract(xor_min, p, target)[0] for p in points])
    torch.testing.assert_close(batched, single, rtol=0, atol=1e-9)
    assert float(residuals.max()) <= 1e-9
