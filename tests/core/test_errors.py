"""Bad input gets a ValueError/TypeError that says what was expected and what came."""
import math

import pytest
import torch

import rashomon_widgets as rw

from ..conftest import make_case


@pytest.fixture
def parts():
    return make_case("tanh_mlp")


@pytest.fixture
def ls(parts):
    model, loss_fn, data, reduction = parts
    return rw.Landscape(model, loss_fn, data, reduction=reduction)


def test_model_without_parameters(parts):
    _, loss_fn, data, _ = parts
    with pytest.raises(ValueError, match="trainable parameters.*Tanh with none"):
        rw.Landscape(torch.nn.Tanh(), loss_fn, data)
    with pytest.raises(TypeError, match="torch.nn.Module.*got function"):
        rw.Landscape(lambda x: x, loss_fn, data)


def test_wrong_data(parts):
    model, loss_fn, (x, y), _ = parts
    with pytest.raises(ValueError, match="12 samples but targets have 5"):
        rw.Landscape(model, loss_fn, (x, y[:5]))
    with pytest.raises(ValueError, match="empty iterable"):
        rw.Landscape(model, loss_fn, [])
    with pytest.raises(TypeError, match="pair of tensors"):
        rw.Landscape(model, loss_fn, x)
    with pytest.raises(TypeError, match="batch 1"):
        rw.Landscape(model, loss_fn, [(x, y), (x,)])
    with pytest.raises(ValueError, match=r"model rejected the inputs of batch 0 \(tensor of shape \(12, 2\).*"
                                         "torch said: mat1 and mat2 shapes cannot be multiplied"):
        rw.Landscape(model, loss_fn, (x[:, :2], y))  # the inputs' shape first, then torch's own message


def test_non_scalar_and_non_finite_loss(parts):
    model, _, data, _ = parts
    with pytest.raises(ValueError, match="scalar.*shape \\(12, 2\\)"):
        rw.Landscape(model, lambda o, t: (o - t) ** 2, data)
    with pytest.raises(ValueError, match="loss is nan"):
        rw.Landscape(model, lambda o, t: ((o - t) ** 2).sum() * math.nan, data)
    with pytest.raises(ValueError, match="reduction"):
        rw.Landscape(model, lambda o, t: ((o - t) ** 2).sum(), data, reduction="avg")
    with pytest.raises(TypeError, match="callable"):
        rw.Landscape(model, "mse", data)


def test_nan_parameters(parts):
    model, loss_fn, data, _ = parts
    with torch.no_grad():
        model[0].weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="finite parameters"):
        rw.Landscape(model, loss_fn, data)


def test_wrong_vectors(ls):
    p = ls.num_params
    with pytest.raises(ValueError, match=f"shape \\(P,\\) or \\(P, K\\) with P={p}.*got shape \\(5,\\)"):
        ls.hvp(torch.zeros(5, dtype=ls.dtype))
    with pytest.raises(TypeError, match="dtype torch.float64.*got torch.float32"):
        ls.hvp(torch.zeros(p, dtype=torch.float32))
    with pytest.raises(TypeError, match="torch.Tensor"):
        ls.hvp([0.0] * p)
    with pytest.raises(ValueError, match="finite"):
        ls.loss(torch.full((p,), float("inf"), dtype=ls.dtype))
    with pytest.raises(ValueError, match="theta: expected shape \\(P,\\)"):
        ls.grad(torch.zeros(p, 2, dtype=ls.dtype))
    with pytest.raises(ValueError, match="thetas"):
        ls.losses(torch.zeros(3, p + 1, dtype=ls.dtype))
    with pytest.raises(ValueError, match="device"):
        ls.hvp(torch.zeros(p, dtype=ls.dtype, device="meta"))


def test_k_out_of_range_and_bad_options(ls):
    p = ls.num_params
    with pytest.raises(ValueError, match=f"k: expected an int in \\[1, {p}\\], got 0"):
        ls.eigs(0)
    with pytest.raises(ValueError, match=f"got {p + 1}"):
        ls.eigs(p + 1)
    with pytest.raises(TypeError, match="k: expected an int"):
        ls.eigs(2.5)
    with pytest.raises(ValueError, match="Lanczos needs k < P - 1"):
        ls.eigs(p - 1, method="lanczos")
    with pytest.raises(ValueError, match="which: expected one of"):
        ls.eigs(2, which="middle")
    with pytest.raises(ValueError, match="method"):
        ls.trace(method="magic")


def test_dense_request_over_the_limit_names_the_limit(parts):
    model, loss_fn, data, reduction = parts
    ls = rw.Landscape(model, loss_fn, data, reduction=reduction, dense_limit=10)
    with pytest.raises(ValueError, match="dense_limit=10"):
        ls.hessian()
    with pytest.raises(ValueError, match="dense_limit=10"):
        ls.spectrum()
    with pytest.raises(ValueError, match="jacobian.*dense_limit=10"):
        ls.jacobian()
    # the matrix-free methods still work
    assert ls.eigs(2, method="lanczos")[0].shape == (2,)
    v = torch.randn(ls.num_params, dtype=ls.dtype)
    assert float(ls.jvp(ls.project_tangent(v)).norm()) < 1e-6 * float(v.norm())
