import copy
import re

import pytest
import torch
from torch import nn

from rashomon_widgets.data import digits, xor
from rashomon_widgets.models import (
    accuracy,
    cross_entropy,
    digits_mlp,
    mse_loss,
    sum_of_squares,
    train,
    xor_minimum,
    xor_mlp,
)


def test_xor_minimum_reaches_zero_loss_and_predicts_xor():
    X, y = xor()
    model = xor_minimum()
    assert not model.training
    with torch.no_grad():
        out = model(X)
    assert float(sum_of_squares(out, y)) < 1e-10
    assert torch.equal(out.round(), y)
    assert accuracy(out, y) == 1.0
    again = xor_minimum()
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), again.parameters()))


@pytest.mark.parametrize("width, activation", [(3, "tanh"), (4, "relu")])
def test_xor_minimum_other_widths(width, activation):
    X, y = xor()
    model = xor_minimum(width=width, activation=activation, seed=1)
    with torch.no_grad():
        assert float(sum_of_squares(model(X), y)) < 1e-10


def test_train_adam_on_digits_mini_batches():
    (X, y), (Xt, yt) = digits(seed=0)
    model = digits_mlp(hidden=(32,), seed=0)
    losses = train(model, cross_entropy, (X, y), epochs=5, lr=1e-2, batch_size=128, seed=0)
    assert len(losses) == 5 and losses[-1] < 0.5 * losses[0]
    assert not model.training
    with torch.no_grad():
        assert accuracy(model(Xt), yt) > 0.85


def test_train_is_deterministic_with_a_seed():
    (X, y), _ = digits(seed=0)
    runs = []
    for _ in range(2):
        model = digits_mlp(hidden=(16,), seed=0)
        runs.append(train(model, cross_entropy, (X[:200], y[:200]), epochs=2, optimizer="sgd",
                          momentum=0.9, lr=0.1, batch_size=50, seed=7))
    assert runs[0] == runs[1]


def test_lbfgs_weight_decay_matches_ridge_closed_form():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(20, 3, generator=g, dtype=torch.float64)
    y = torch.randn(20, 1, generator=g, dtype=torch.float64)
    model = nn.Linear(3, 1, bias=False).double()
    wd = 0.7
    train(model, sum_of_squares, (X, y), epochs=3, optimizer="lbfgs", weight_decay=wd)
    # minimise ||X w - y||^2 + wd / 2 ||w||^2
    w = torch.linalg.solve(2 * X.T @ X + wd * torch.eye(3, dtype=torch.float64), 2 * X.T @ y)
    assert torch.allclose(model.weight.detach().T, w, atol=1e-9)


def test_l1_shrinks_weights():
    X, y = xor()
    plain, sparse = xor_mlp(8, seed=0), xor_mlp(8, seed=0)
    train(plain, mse_loss, (X, y), epochs=300, lr=0.05, seed=0)
    train(sparse, mse_loss, (X, y), epochs=300, lr=0.05, l1=0.05, seed=0)

    def norm(m):
        return sum(float(p.detach().abs().sum()) for p in m.parameters())

    assert norm(sparse) < norm(plain)


def test_callback_stops_and_zero_epochs():
    X, y = xor()
    seen = []
    losses = train(xor_mlp(seed=0), mse_loss, (X, y), epochs=50, lr=0.1,
                   callback=lambda epoch, loss: seen.append(epoch) or epoch == 2)
    assert seen == [0, 1, 2] and len(losses) == 3
    assert train(xor_mlp(seed=0), mse_loss, (X, y), epochs=0) == []


def test_divergence_raises():
    X = torch.randn(8, 2) * 100
    with pytest.raises(ValueError, match="expected a finite loss"):
        train(nn.Linear(2, 1), mse_loss, (X, X[:, :1] * 1e3), epochs=50, optimizer="sgd", lr=1e6)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"optimizer": "rmsprop"}, ValueError, "optimizer: expected one of 'adam', 'sgd', 'lbfgs'"),
    ({"optimizer": "lbfgs", "batch_size": 2}, ValueError, "works on the full batch"),
    ({"lr": -1.0}, ValueError, "lr: expected a positive number, got -1.0"),
    ({"epochs": 1.5}, TypeError, "epochs: expected an int"),
    ({"batch_size": 0}, ValueError, "batch_size: expected an int >= 1, got 0"),
    ({"momentum": 0.9}, ValueError, "momentum: only used by optimizer='sgd'"),
    ({"reduction": "max"}, ValueError, "reduction"),
    ({"callback": 3}, TypeError, "callback"),
])
def test_bad_train_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        train(xor_mlp(seed=0), mse_loss, xor(), **kwargs)


def test_bad_train_data_and_loss():
    X, y = xor()
    with pytest.raises(TypeError, match=r"data: expected an \(inputs, targets\) pair"):
        train(xor_mlp(), mse_loss, X)
    with pytest.raises(ValueError, match="inputs have 4 samples but targets have 3"):
        train(xor_mlp(), mse_loss, (X, y[:3]))
    with pytest.raises(ValueError, match="scalar"):
        train(xor_mlp(), lambda out, t: (out - t) ** 2, (X, y), epochs=1)
    with pytest.raises(TypeError, match="model: expected a torch.nn.Module"):
        train(lambda x: x, mse_loss, (X, y))


def test_accuracy_cases():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0], [2.0, 0.0, 0.0]])
    assert accuracy(logits, torch.tensor([0, 1, 2, 2])) == 0.75
    assert accuracy(logits, torch.eye(3)[[0, 1, 2, 2]]) == 0.75
    assert accuracy(torch.tensor([0.1, 0.7, 0.6, 0.2]), torch.tensor([0.0, 1.0, 1.0, 0.0])) == 1.0
    assert accuracy(torch.tensor([[-1.0], [1.0]]), torch.tensor([[0.0], [1.0]]), threshold=0.0) == 1.0
    with pytest.raises(ValueError, match="same non-zero number of samples"):
        accuracy(logits, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="expected outputs"):
        accuracy(logits, torch.zeros(4, 2))
    with pytest.raises(TypeError, match="targets to be a tensor"):
        accuracy(logits, [0, 1, 2, 2])


# ------------------------------------------------------------------------------- masks (pruned training)
def _mask_case(seed=0):
    from rashomon_widgets.models import MLP
    torch.manual_seed(seed)
    model = MLP(4, (8, 6), 2, activation="tanh").double()
    g = torch.Generator().manual_seed(seed + 1)
    X = torch.randn(32, 4, generator=g, dtype=torch.float64)
    y = torch.randn(32, 2, generator=g, dtype=torch.float64)
    masks = {name: torch.rand(p.shape, generator=g) < 0.6 for name, p in model.named_parameters()
             if name != "4.bias"}  # biases included, one parameter left unmasked
    return model, (X, y), masks


def _snapshot(model):
    return {name: p.detach().clone() for name, p in model.named_parameters()}


class _WeightsTimesMasks(nn.Module):
    """The second method: no masks given to train; the net multiplies its parameters by the masks in every
    forward pass, so pruned entries neither act nor get a gradient."""

    def __init__(self, net, masks):
        super().__init__()
        self.net, self.masks = net, {n: m.double() for n, m in masks.items()}

    def forward(self, x):
        from torch.func import functional_call
        params = {n: p * self.masks[n] if n in self.masks else p for n, p in self.net.named_parameters()}
        return functional_call(self.net, params, (x,))


_MASKED_RUNS = [
    {"optimizer": "adam", "lr": 0.05, "batch_size": 8, "epochs": 4},
    {"optimizer": "adam", "lr": 0.05, "weight_decay": 0.1, "l1": 0.01, "epochs": 4},
    {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "batch_size": 8, "epochs": 4},
    {"optimizer": "sgd", "lr": 0.1, "weight_decay": 0.1, "l1": 0.01, "epochs": 4},
    {"optimizer": "lbfgs", "epochs": 1},
    {"optimizer": "lbfgs", "weight_decay": 0.1, "l1": 0.01, "epochs": 1},
]


@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize("kwargs", _MASKED_RUNS)
def test_masked_entries_stay_exactly_zero_and_the_rest_trains(kwargs):
    model, (X, y), masks = _mask_case()
    given = {name: mask.clone() for name, mask in masks.items()}
    before = _snapshot(model)
    assert all(bool((before[n][~m] != 0).all()) and bool((~m).any()) for n, m in masks.items())
    # entries that can move: kept, with a nonzero gradient of the pruned net (a hidden unit whose every
    # outgoing weight is pruned, for one, gets none); computed independently with autograd
    reference = _WeightsTimesMasks(copy.deepcopy(model), masks)
    mse_loss(reference(X), y).backward()
    grads = {n[len("net."):]: p.grad for n, p in reference.named_parameters()}
    losses = train(model, mse_loss, (X, y), seed=0, masks=masks, **kwargs)
    assert losses[-1] < mse_loss(reference(X), y).item()
    after = _snapshot(model)
    live = 0
    for name, p in after.items():
        keep = masks.get(name, torch.ones_like(p, dtype=torch.bool))
        assert bool((p[~keep] == 0).all()), name                           # pruned: exactly zero
        moving = keep & (grads[name] != 0)
        assert bool((p[moving] != before[name][moving]).all()), name       # kept and live: moved
        live += int(moving.sum())
    assert live > 0.5 * sum(int(m.sum()) for m in masks.values())         # so the check above is not vacuous
    # the caller's masks are not changed (same keys, same values, still bool)
    assert list(masks) == list(given)
    assert all(masks[n].dtype == torch.bool and torch.equal(masks[n], given[n]) for n in given)


@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize("kwargs", [run for run in _MASKED_RUNS if "l1" not in run])
def test_masked_training_equals_training_a_net_that_multiplies_by_the_masks(kwargs):
    model, data, masks = _mask_case(seed=2)
    reference = _WeightsTimesMasks(copy.deepcopy(model), masks)
    losses = train(model, mse_loss, data, seed=0, masks=masks, **kwargs)
    expected = train(reference, mse_loss, data, seed=0, **kwargs)
    assert losses == pytest.approx(expected, rel=1e-10, abs=1e-14)
    for (name, p), q in zip(model.named_parameters(), reference.net.parameters()):
        keep = masks.get(name, torch.ones_like(p, dtype=torch.bool))
        torch.testing.assert_close(p.detach(), q.detach() * keep, rtol=1e-9, atol=1e-12)


@pytest.mark.usefixtures("one_torch_thread")
def test_masked_sgd_equals_a_hand_written_masked_gradient_descent():
    model, (X, y), masks = _mask_case(seed=3)
    reference = {name: p.detach().clone() for name, p in model.named_parameters()}
    float_masks = {n: m.double() for n, m in masks.items()}  # 0/1 float masks are accepted too
    losses = train(model, mse_loss, (X, y), epochs=6, optimizer="sgd", lr=0.2, masks=float_masks)
    # reference: theta <- mask * (theta - lr * grad), from theta = mask * theta, written with autograd.grad
    from torch.func import functional_call
    for name in masks:
        reference[name] = reference[name] * masks[name]
    expected_losses = []
    for _ in range(6):
        params = {n: weight.clone().requires_grad_(True) for n, weight in reference.items()}
        loss = ((functional_call(model, params, (X,)) - y) ** 2).mean()
        expected_losses.append(loss.item())
        grads = torch.autograd.grad(loss, list(params.values()))
        for (n, weight), g in zip(params.items(), grads):
            new = weight.detach() - 0.2 * g
            reference[n] = new * masks[n] if n in masks else new
    assert losses == pytest.approx(expected_losses, rel=1e-12, abs=1e-15)
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.detach(), reference[name], rtol=0, atol=1e-13)
    assert all(torch.equal(float_masks[n], masks[n].double()) for n in masks)


def test_masks_prune_before_the_first_epoch():
    model, data, masks = _mask_case(seed=4)
    before = _snapshot(model)
    assert train(model, mse_loss, data, epochs=0, masks=masks) == []
    for name, p in model.named_parameters():
        expected = before[name] * masks[name] if name in masks else before[name]
        assert torch.equal(p.detach(), expected)


@pytest.mark.usefixtures("one_torch_thread")
def test_masks_from_magnitude_pruning_keep_a_pruned_net_pruned():
    from rashomon_widgets.core.comparison.pruning import magnitude_masks, prune, sparsity
    (X, y), _ = digits(seed=0)
    model = digits_mlp(hidden=(16,), seed=0)
    masks = magnitude_masks(model, fraction=0.7)
    pruned = prune(model, masks=masks)
    zeros = sparsity(pruned).zeros
    losses = train(pruned, cross_entropy, (X[:300], y[:300]), epochs=3, lr=1e-2, batch_size=100, seed=0,
                   masks=masks)
    assert losses[-1] < losses[0]
    assert sparsity(pruned).zeros == zeros == round(0.7 * sparsity(model).total)


def test_bad_masks_raise_and_leave_the_model_alone():
    model, data, _ = _mask_case()
    before = _snapshot(model)
    names = "0.weight, 0.bias, 2.weight, 2.bias, 4.weight, 4.bias"
    cases = [
        ({"weight": torch.ones(8, 4, dtype=torch.bool)}, ValueError,
         f"masks: expected names of the model's parameters ({names}), got 'weight'"),
        ({"0.weight": torch.ones(4, 8, dtype=torch.bool)}, ValueError,
         "masks['0.weight']: expected a tensor of shape (8, 4), got tensor of shape (4, 8)"),
        ({"0.bias": [1] * 8}, ValueError, "masks['0.bias']: expected a tensor of shape (8,), got list"),
        ([torch.ones(8, 4)], TypeError, "masks: expected a dict {parameter name: bool tensor}, got list"),
    ]
    for masks, error, message in cases:
        with pytest.raises(error, match=re.escape(message)):
            train(model, mse_loss, data, epochs=1, masks=masks)
    after = _snapshot(model)
    assert all(torch.equal(after[n], before[n]) for n in before)
