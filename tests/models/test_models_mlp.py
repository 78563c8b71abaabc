import pytest
import torch
from torch import nn

from rashomon_widgets.models import MLP, digits_mlp, xor_mlp


def count(model):
    return sum(p.numel() for p in model.parameters())


def test_xor_mlp_has_nine_parameters_and_a_linear_output():
    model = xor_mlp(seed=0)
    assert count(model) == 9
    assert isinstance(model[-1], nn.Linear) and model[-1].out_features == 1
    assert isinstance(model[1], nn.Sigmoid)
    assert all(p.dtype == torch.float64 for p in model.parameters())
    assert model(torch.zeros(4, 2, dtype=torch.float64)).shape == (4, 1)


@pytest.mark.parametrize("width", [1, 3, 10])
def test_xor_mlp_parameter_count_by_width(width):
    assert count(xor_mlp(width)) == 4 * width + 1


def test_digits_mlp_parameter_count_and_shape():
    model = digits_mlp(seed=0)
    assert count(model) == 26122
    assert model(torch.zeros(3, 64)).shape == (3, 10)
    assert isinstance(model[-1], nn.Linear) and isinstance(model[1], nn.Tanh)


@pytest.mark.parametrize("activation, cls", [("tanh", nn.Tanh), ("relu", nn.ReLU),
                                             ("sigmoid", nn.Sigmoid), ("gelu", nn.GELU)])
def test_mlp_layers(activation, cls):
    model = MLP(5, (4, 3), 2, activation=activation)
    kinds = [type(m) for m in model]
    assert kinds == [nn.Linear, cls, nn.Linear, cls, nn.Linear]
    assert count(model) == (5 * 4 + 4) + (4 * 3 + 3) + (3 * 2 + 2)
    assert model.hidden == (4, 3) and model.activation == activation


def test_mlp_without_bias_and_without_hidden_layers():
    assert count(MLP(5, (4,), 2, bias=False)) == 5 * 4 + 4 * 2
    linear = MLP(3, (), 2)
    assert len(linear) == 1 and count(linear) == 8


def test_seed_is_deterministic_and_leaves_global_rng_alone():
    state = torch.get_rng_state()
    a, b = xor_mlp(seed=3), xor_mlp(seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    c = xor_mlp(seed=4)
    assert not torch.equal(a[0].weight, c[0].weight)


def test_gaussian_initialisation():
    model = xor_mlp(50, seed=0, init_std=2.0)
    values = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert 1.5 < float(values.std()) < 2.5  # PyTorch's default would give std < 1


@pytest.mark.parametrize("call, error, message", [
    (lambda: MLP(2, (2,), 1, activation="softplus"), ValueError,
     "activation: expected one of 'tanh', 'relu', 'sigmoid', 'gelu', got 'softplus'"),
    (lambda: MLP(2, (2, 0), 1), ValueError, r"hidden\[1\]: expected an int >= 1, got 0"),
    (lambda: MLP(2, "22", 1), TypeError, "hidden: expected a tuple of layer widths"),
    (lambda: MLP(2.0, (2,), 1), TypeError, "in_features: expected an int"),
    (lambda: xor_mlp(width=True), TypeError, "width: expected an int"),
    (lambda: xor_mlp(dtype=torch.int32), TypeError, "dtype: expected a floating-point"),
    (lambda: xor_mlp(seed=-1), ValueError, "seed: expected an int >= 0"),
    (lambda: digits_mlp(hidden=(128, -1)), ValueError, r"hidden\[1\]"),
])
def test_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_slicing_gives_the_first_layers_sharing_parameters():
    model = MLP(3, (4, 5), 2, activation="relu")
    head = model[:2]
    assert isinstance(head, torch.nn.Sequential) and len(head) == 2
    assert head[0] is model[0]
    x = torch.randn(7, 3)
    torch.testing.assert_close(head(x), torch.relu(model[0](x)))
    torch.testing.assert_close(model[2:](head(x)), model(x))
