import pytest
import torch
from torch.func import functional_call, hessian

from rashomon_widgets.models import ToyQuadratic, sum_of_squares, toy_quadratic

# torch 2.13 scripts its forward-AD decompositions with the deprecated torch.jit.script on the first
# forward-mode call (torch's internals, not ours)
pytestmark = pytest.mark.filterwarnings("ignore:.*torch.jit.script.*:DeprecationWarning")


@pytest.mark.parametrize("a, b", [(1.0, 0.25), (3.0, 7.5), (0.01, 2.0)])
def test_loss_equals_a_x2_plus_b_y2_at_random_points(a, b):
    g = torch.Generator().manual_seed(1)
    for point in (torch.randn(20, 3, generator=g, dtype=torch.float64) * 3).tolist():
        model, loss_fn, (X, y) = toy_quadratic(a, b, point)
        with torch.no_grad():
            loss = float(loss_fn(model(X), y))
        x0, y0, _ = point
        assert loss == pytest.approx(a * x0 ** 2 + b * y0 ** 2, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("point", [(0.0, 0.0, 0.0), (1.0, -2.0, 5.0)])
def test_hessian_is_diag_2a_2b_0(point):
    a, b = 1.7, 0.3
    model, loss_fn, (X, y) = toy_quadratic(a, b, point)

    def loss(theta):
        return loss_fn(functional_call(model, {"theta": theta}, (X,)), y)

    H = hessian(loss)(model.theta.detach())
    assert torch.allclose(H, torch.diag(torch.tensor([2 * a, 2 * b, 0.0], dtype=torch.float64)), atol=1e-12)


def test_outputs_per_input_row_and_defaults():
    model = ToyQuadratic(a=4.0, b=9.0, point=(1.0, 1.0, 0.0))
    out = model(torch.zeros(5, 3, dtype=torch.float64))
    assert out.shape == (5, 2)
    assert torch.allclose(out, torch.tensor([2.0, 3.0], dtype=torch.float64).expand(5, 2))
    assert [n for n, _ in model.named_parameters()] == ["theta"]
    default, loss_fn, (X, y) = toy_quadratic()
    assert default.theta.dtype == torch.float64 and default.theta.tolist() == [0.0, 0.0, 0.0]
    assert loss_fn is sum_of_squares and X.shape == (1, 1) and y.shape == (1, 2)
    assert (default.a, default.b) == (1.0, 0.25)


def test_float32_dtype_follows():
    model, _, (X, y) = toy_quadratic(dtype=torch.float32)
    assert model.theta.dtype == X.dtype == y.dtype == torch.float32


@pytest.mark.parametrize("kwargs, error, message", [
    ({"a": 0.0}, ValueError, "a: expected a positive number, got 0.0"),
    ({"b": -1.0}, ValueError, "b: expected a positive number"),
    ({"a": float("nan")}, ValueError, "a: expected a positive number"),
    ({"a": "1"}, TypeError, "a: expected a positive number, got str"),
    ({"point": (1.0, 2.0)}, TypeError, "point: expected three real numbers"),
    ({"point": (1.0, 2.0, float("inf"))}, ValueError, "point: expected finite coordinates"),
    ({"dtype": torch.int64}, TypeError, "dtype: expected a floating-point torch.dtype"),
])
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        ToyQuadratic(**kwargs)


def test_forward_rejects_non_tensor():
    with pytest.raises(TypeError, match="inputs: expected a tensor"):
        ToyQuadratic()([[0.0]])
