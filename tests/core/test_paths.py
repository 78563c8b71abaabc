"""`rw.null_space_path` and `manifold_walk`: paths that stay in a Rashomon set, checked exactly."""
import pytest
import torch

import rashomon_widgets as rw
from rashomon_widgets.core.geometry.paths import manifold_walk


class Product(torch.nn.Module):
    """f(theta, x) = theta_1 theta_2 x: the Rashomon set of target 1 at x = 1 is the hyperbola
    theta_1 theta_2 = 1, two branches that no path inside the set joins."""

    def __init__(self, a, b):
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor(float(a), dtype=torch.float64))
        self.b = torch.nn.Parameter(torch.tensor(float(b), dtype=torch.float64))

    def forward(self, x):
        return self.a * self.b * x


@pytest.fixture
def hyperbola():
    x = torch.ones(1, 1, dtype=torch.float64)
    return rw.Landscape(Product(1.0, 1.0), lambda o, t: ((o - t) ** 2).sum(), (x, x), reduction="sum")


def test_path_along_a_hyperbola_reaches_the_target_and_stays_on_it(hyperbola):
    target = torch.tensor([4.0, 0.25], dtype=torch.float64)
    path = rw.null_space_path(hyperbola, hyperbola.theta, target, step=0.2)
    assert path.reached, path.reason
    torch.testing.assert_close(path.thetas[-1], target, rtol=0, atol=0)
    # every point is on theta_1 theta_2 = 1 (the exact set), and the loss stays at zero
    torch.testing.assert_close(path.thetas.prod(dim=1), torch.ones(len(path), dtype=torch.float64), atol=1e-9, rtol=0)
    assert path.max_loss < 1e-18
    assert bool((path.distances[1:] < path.distances[:-1]).all())
    assert path.length >= float((target - hyperbola.theta).norm())


def test_path_to_the_other_branch_stops_and_says_why(hyperbola):
    target = torch.tensor([-1.0, -1.0], dtype=torch.float64)
    path = rw.null_space_path(hyperbola, hyperbola.theta, target)
    assert not path.reached
    assert "stuck" in path.reason and "not reachable" in path.reason
    assert float(path.distances[-1]) == pytest.approx(float((target - hyperbola.theta).norm()))


def test_xor_path_between_minima_of_one_set(xor_min):
    walk = manifold_walk(xor_min, num_steps=20, step=0.1, seed=1)
    assert walk.shape == (21, 9)
    # the walk keeps the behaviour (hence the loss) exactly
    outputs = torch.stack([xor_min.outputs(t).reshape(-1) for t in walk])
    torch.testing.assert_close(outputs, xor_min.outputs().reshape(1, -1).expand_as(outputs), atol=1e-9, rtol=0)
    target = walk[-1]
    assert float((target - xor_min.theta).norm()) > 1.0
    for method in ("hessian", "tangent"):
        path = rw.null_space_path(xor_min, xor_min.theta, target, method=method)
        assert path.reached, (method, path.reason)
        assert path.max_loss < 1e-12
        torch.testing.assert_close(path.thetas[0], xor_min.theta, rtol=0, atol=0)
        torch.testing.assert_close(path.thetas[-1], target, rtol=0, atol=0)
        torch.testing.assert_close(path.losses, xor_min.losses(path.thetas, strategy="loop"), rtol=0, atol=1e-20)
    # the straight line between the same ends leaves the set
    ts = torch.linspace(0, 1, 21, dtype=torch.float64)[:, None]
    assert float(xor_min.losses(xor_min.theta + ts * (target - xor_min.theta)).max()) > 1e3 * path.max_loss


def test_same_point_is_a_one_point_path(xor_min):
    path = rw.null_space_path(xor_min, xor_min.theta, xor_min.theta)
    assert path.reached and len(path) == 1 and path.length == 0.0


def test_bad_inputs_say_what_was_expected(xor_min):
    theta = xor_min.theta
    with pytest.raises(ValueError, match="same Rashomon set"):
        rw.null_space_path(xor_min, theta, theta + 0.5)
    with pytest.raises(ValueError, match=r"expected shape \(P,\)"):
        rw.null_space_path(xor_min, theta, theta[:5])
    with pytest.raises(ValueError, match="flat parameter vector"):
        rw.null_space_path(xor_min, theta, theta[None])
    with pytest.raises(TypeError, match="torch.Tensor"):
        rw.null_space_path(xor_min, theta, theta.tolist())
    with pytest.raises(TypeError, match="dtype"):
        rw.null_space_path(xor_min, theta, theta.float())
    with pytest.raises(ValueError, match="step: expected a positive number, got -1"):
        rw.null_space_path(xor_min, theta, theta, step=-1)
    with pytest.raises(ValueError, match="method"):
        rw.null_space_path(xor_min, theta, theta, method="bfs")
    with pytest.raises(ValueError, match="max_steps"):
        rw.null_space_path(xor_min, theta, theta, max_steps=0)
    with pytest.raises(ValueError, match=r"tol, min_progress: expected shares in \(0, 1\)"):
        rw.null_space_path(xor_min, theta, theta, tol=2.0)
    with pytest.raises(ValueError, match="persistence"):
        manifold_walk(xor_min, persistence=1.0)


def test_a_walk_needs_tangent_directions():
    x = torch.ones(1, 1, dtype=torch.float64)
    ls = rw.Landscape(torch.nn.Linear(1, 1, bias=False).double(), lambda o, t: ((o - t) ** 2).sum(), (x, x),
                      reduction="sum")
    with pytest.raises(ValueError, match="tangent directions, got none"):
        manifold_walk(ls, num_steps=2)
