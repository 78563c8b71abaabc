"""Evaluation: loss, losses, outputs, grad; batches; dtypes; the user's model is never touched."""
import copy

import pytest
import torch

import rashomon_widgets as rw

from ..conftest import make_case, reference_loss_fn


def test_loss_and_grad_match_reference(case):
    model, loss_fn, data, reduction = case
    ls = rw.Landscape(model, loss_fn, data, reduction=reduction)
    f, theta = reference_loss_fn(model, loss_fn, data)
    assert torch.equal(ls.theta, theta)
    assert ls.num_params == theta.numel()
    assert ls.loss() == pytest.approx(float(f(theta)), rel=1e-12)
    expected_grad = torch.autograd.functional.jacobian(f, theta)
    torch.testing.assert_close(ls.grad(), expected_grad, rtol=1e-10, atol=1e-12)


def test_losses_equal_loss_one_by_one_for_both_strategies(case):
    model, loss_fn, data, reduction = case
    ls = rw.Landscape(model, loss_fn, data, reduction=reduction)
    g = torch.Generator().manual_seed(1)
    thetas = ls.theta + 0.3 * torch.randn(17, ls.num_params, generator=g, dtype=ls.dtype)
    one_by_one = torch.tensor([ls.loss(t) for t in thetas], dtype=ls.dtype)
    for strategy in ("vmap", "loop", "auto"):
        torch.testing.assert_close(ls.losses(thetas, strategy=strategy), one_by_one, rtol=1e-12, atol=1e-12)
    assert ls._losses_strategy in ("vmap", "loop")


def test_losses_chunks_under_a_small_memory_budget():
    model, loss_fn, data, reduction = make_case("tanh_mlp")
    ls = rw.Landscape(model, loss_fn, data, reduction=reduction, memory_budget=4096)
    assert ls._vmap_chunk() < 10
    thetas = ls.theta + torch.randn(25, ls.num_params, dtype=ls.dtype)
    seen = []
    out = ls.losses(thetas, strategy="vmap", progress=lambda done, total: seen.append((done, total)))
    torch.testing.assert_close(out, torch.tensor([ls.loss(t) for t in thetas], dtype=ls.dtype))
    assert len(seen) > 1 and seen[-1] == (25, 25)


def test_outputs_are_the_models_eval_outputs(case):
    model, loss_fn, data, reduction = case
    ls = rw.Landscape(model, loss_fn, data, reduction=reduction)
    ref = copy.deepcopy(model).eval()
    with torch.no_grad():
        torch.testing.assert_close(ls.outputs(), ref(data[0]))


def test_flat_outputs_are_the_outputs_differentiable_and_batchable(case):
    """``flat_outputs`` is ``outputs().reshape(-1)`` with its graph, and goes through vmap and jacrev."""
    model, loss_fn, data, reduction = case
    ls = rw.Landscape(model, loss_fn, data, reduction=reduction)
    torch.testing.assert_close(ls.flat_outputs(ls.theta), ls.outputs().reshape(-1))
    points = ls.theta + 0.1 * torch.randn(3, ls.num_params, generator=torch.Generator().manual_seed(0), dtype=ls.dtype)
    batched = torch.vmap(ls.flat_outputs)(points)
    torch.testing.assert_close(batched, torch.stack([ls.outputs(p).reshape(-1) for p in points]))
    torch.testing.assert_close(torch.func.jacrev(ls.flat_outputs)(ls.theta), ls.jacobian())


@pytest.mark.parametrize("name", ["linear", "tanh_mlp", "ce_mlp", "bn_mlp"])
def test_batched_data_equals_full_batch(name):
    model, loss_fn, (x, y), reduction = make_case(name)
    full = rw.Landscape(model, loss_fn, (x, y), reduction=reduction)
    cuts = [0, 2, 7, x.shape[0]]  # uneven batches
    batches = [(x[a:b], y[a:b]) for a, b in zip(cuts, cuts[1:])]
    split = rw.Landscape(model, loss_fn, iter(batches), reduction=reduction)  # a one-shot iterator
    assert len(split.batches) == 3
    v = torch.randn(full.num_params, dtype=full.dtype)
    assert split.loss() == pytest.approx(full.loss(), rel=1e-12)
    torch.testing.assert_close(split.grad(), full.grad())
    torch.testing.assert_close(split.hvp(v), full.hvp(v))
    torch.testing.assert_close(split.hessian(), full.hessian())
    torch.testing.assert_close(split.jacobian(), full.jacobian())
    torch.testing.assert_close(split.outputs(), full.outputs())
    thetas = full.theta + 0.1 * torch.randn(5, full.num_params, dtype=full.dtype)
    torch.testing.assert_close(split.losses(thetas), full.losses(thetas))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_follows_the_model(dtype):
    model, loss_fn, data, reduction = make_case("tanh_mlp", dtype=dtype)
    ls = rw.Landscape(model, loss_fn, data, reduction=reduction)
    v = torch.randn(ls.num_params, dtype=dtype)
    for result in (ls.theta, ls.grad(), ls.hvp(v), ls.hessian(), ls.jacobian(), ls.outputs(),
                   ls.eigs(2, method="lanczos")[0], ls.losses(ls.theta[None])):
        assert result.dtype == dtype and result.device == ls.device
    ref64 = rw.Landscape(*make_case("tanh_mlp")[:3], reduction=reduction)
    tol = 1e-4 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(ls.hessian().double(), ref64.hessian(), rtol=tol, atol=tol)


def test_the_users_model_is_never_mutated():
    model, loss_fn, data, reduction = make_case("bn_mlp")
    assert model.training
    before = copy.deepcopy(model.state_dict())
    ls = rw.Landscape(model, loss_fn, data, reduction=reduction)
    ls.losses(ls.theta + torch.randn(4, ls.num_params, dtype=ls.dtype))
    ls.hessian(), ls.eigs(2, method="lanczos"), ls.density(num_vectors=2, num_steps=5)
    assert model.training, "the user's training flag must stay as it was"
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(p.grad is None for p in model.parameters())


def test_eval_mode_means_no_dropout_randomness_and_running_batchnorm_stats():
    model, loss_fn, data, reduction = make_case("bn_mlp")
    ls = rw.Landscape(model, loss_fn, data, reduction=reduction)
    assert len({ls.loss() for _ in range(5)}) == 1
    ref = copy.deepcopy(model).eval()
    with torch.no_grad():
        assert ls.loss() == pytest.approx(float(loss_fn(ref(data[0]), data[1])), rel=1e-12)


def test_theta_is_a_copy():
    model, loss_fn, data, reduction = make_case("linear")
    ls = rw.Landscape(model, loss_fn, data)
    t = ls.theta
    t += 1.0
    assert not torch.equal(ls.theta, t)


def test_repr_mentions_size_and_loss():
    model, loss_fn, data, reduction = make_case("linear")
    text = repr(rw.Landscape(model, loss_fn, data))
    assert "P=8" in text and "loss=" in text


def test_the_form_cross_check_runs_on_a_slice_where_the_landscape_is_built():
    """The HVP form's cross-check (four products) runs on the first 64 samples, once, when the landscape is
    built: the first product then evaluates the loss on all 500 samples once, exactly as later ones do."""
    from rashomon_widgets.core.curvature.derivatives import CROSS_CHECK_SAMPLES

    g = torch.Generator().manual_seed(0)
    x = torch.randn(500, 6, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (500,), generator=g)
    sizes = []

    def loss_fn(out, target):
        sizes.append(out.shape[0])
        return torch.nn.functional.cross_entropy(out, target)

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    ls = rw.Landscape(model, loss_fn, (x, y), reduction="mean")
    assert ls._hvp_form is not None and CROSS_CHECK_SAMPLES in sizes
    v = torch.randn(ls.num_params, generator=g, dtype=torch.float64)
    sizes.clear()
    first = ls.hvp(v)
    assert sizes == [500]
    sizes.clear()
    later = ls.hvp(v)
    assert sizes == [500]
    torch.testing.assert_close(first, later, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(first, ls.hvp(v, form="double_backward"), rtol=1e-10, atol=1e-12)
