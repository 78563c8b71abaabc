import pytest
import torch
from torch import nn

from rashomon_widgets.data import digits, xor
from rashomon_widgets.models import (accuracy, cross_entropy, digits_mlp, mse_loss, sum_of_squares,
                                     train, xor_minimum, xor_mlp)


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
    norm = lambda m: sum(float(p.detach().abs().sum()) for p in m.parameters())  # noqa: E731
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
    ({"lr": -1.0}, ValueError, "lr: expected a finite number > 0, got -1.0"),
    ({"epochs": 1.5}, TypeError, "epochs: expected an integer"),
    ({"batch_size": 0}, ValueError, "batch_size: expected an integer >= 1, got 0"),
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
    with pytest.raises(ValueError, match="same, non-zero number of samples"):
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
