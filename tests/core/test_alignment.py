"""Weight matching of MLP hidden units: exact recovery of known permutations, a brute-force optimum,
function preservation, and objective / cosine values recomputed with numpy."""
import copy
import itertools
import re

import numpy as np
import pytest
import torch
from torch import nn

from rashomon_widgets.core.comparison.alignment import (
    Alignment,
    hidden_widths,
    linear_layers,
    permute_hidden_units,
    weight_matching,
)
from rashomon_widgets.models import MLP

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def mlp(hidden, seed, in_features=5, out_features=3, activation="tanh", dtype=torch.float64, bias=True):
    torch.manual_seed(seed)
    return MLP(in_features, hidden, out_features, activation=activation, bias=bias).to(dtype)


def random_perms(widths, seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.randperm(w, generator=g) for w in widths]


def layers_np(model):
    return [(layer.weight.detach().double().numpy(),
             None if layer.bias is None else layer.bias.detach().double().numpy())
            for layer in model if isinstance(layer, nn.Linear)]


def objective_np(a, b):
    """sum over layers of <W_a, W_b> + <b_a, b_b>, in numpy."""
    total = 0.0
    for (wa, ba), (wb, bb) in zip(layers_np(a), layers_np(b)):
        total += float(np.sum(wa * wb)) + (float(np.sum(ba * bb)) if ba is not None else 0.0)
    return total


def cosine_np(a, b):
    fa = np.concatenate([x.ravel() for pair in layers_np(a) for x in pair if x is not None])
    fb = np.concatenate([x.ravel() for pair in layers_np(b) for x in pair if x is not None])
    return float(fa @ fb / (np.linalg.norm(fa) * np.linalg.norm(fb)))


def assert_same_params(a, b):
    pa, pb = dict(a.named_parameters()), dict(b.named_parameters())
    assert pa.keys() == pb.keys()
    for name in pa:
        assert torch.equal(pa[name], pb[name]), name


# ------------------------------------------------------------------------------- supported networks
def test_linear_layers_and_hidden_widths():
    model = mlp((6, 4, 7), seed=0)
    layers = linear_layers(model)
    assert layers == [model[0], model[2], model[4], model[6]]
    assert hidden_widths(model) == (6, 4, 7)
    mixed = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.1), nn.LeakyReLU(), nn.Identity(), nn.Linear(4, 2),
                          nn.GELU(), nn.Linear(2, 1))
    assert hidden_widths(mixed) == (4, 2)


@pytest.mark.parametrize("model, error, message", [
    (nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Linear(2, 2)), TypeError,
     r"model\[0\]: expected nn.Linear or an element-wise module \(Tanh, ReLU, .*\), got Conv2d; weight matching "
     "of other layers is not supported"),
    (nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2)), TypeError,
     r"model\[1\]: expected nn.Linear or an element-wise module .*got BatchNorm1d"),
    (nn.Sequential(nn.Linear(4, 3), nn.Sequential(nn.ReLU()), nn.Linear(3, 2)), TypeError,
     r"model\[1\]: expected .*got Sequential"),
    (nn.Linear(4, 2), TypeError, "model: expected an nn.Sequential of Linear layers and element-wise activations "
                                 r"\(e.g. rw.models.MLP\), got Linear"),
    ("net", TypeError, "model: expected an nn.Sequential .*got str"),
    (MLP(4, (), 2), ValueError, r"model: expected at least two Linear layers \(one hidden layer\), got 1"),
])
def test_unsupported_networks_are_refused(model, error, message):
    good = mlp((3,), seed=0, in_features=4, out_features=2)
    with pytest.raises(error, match=message):
        linear_layers(model)
    with pytest.raises(error, match=message):
        weight_matching(model, good)
    with pytest.raises(error, match=message):
        weight_matching(good, model)
    with pytest.raises(error, match=message):
        permute_hidden_units(model, [torch.arange(3)])


# ------------------------------------------------------------------------------- permuting hidden units
@pytest.mark.parametrize("hidden", [(6,), (6, 4), (5, 7, 3)])
@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-12), (torch.float32, 1e-6)])
def test_permuting_hidden_units_keeps_the_function(hidden, dtype, tol):
    model = mlp(hidden, seed=1, dtype=dtype)
    original = copy.deepcopy(model)
    perms = random_perms(hidden, seed=2)
    permuted = permute_hidden_units(model, perms)
    x = torch.randn(50, 5, generator=torch.Generator().manual_seed(3), dtype=dtype)
    with torch.no_grad():
        torch.testing.assert_close(permuted(x), model(x), rtol=0, atol=tol)
    assert_same_params(model, original)  # the input is not changed
    # the parameters themselves moved: unit i of hidden layer h is the original's unit perms[h][i]
    before, after = layers_np(model), layers_np(permuted)
    for h, (w, b) in enumerate(before):
        rows = perms[h].numpy() if h < len(hidden) else np.arange(w.shape[0])
        cols = perms[h - 1].numpy() if h > 0 else np.arange(w.shape[1])
        np.testing.assert_array_equal(after[h][0], w[rows][:, cols])
        np.testing.assert_array_equal(after[h][1], b[rows])
    assert any(not torch.equal(p, q) for p, q in zip(model.parameters(), permuted.parameters()))


def test_permuting_keeps_the_function_without_biases_and_with_other_activations():
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(5, 6, bias=False), nn.LeakyReLU(0.1), nn.Dropout(0.3), nn.Linear(6, 4),
                          nn.Sigmoid(), nn.Linear(4, 2, bias=False)).double().eval()
    permuted = permute_hidden_units(model, random_perms((6, 4), seed=5)).eval()
    x = torch.randn(30, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        torch.testing.assert_close(permuted(x), model(x), rtol=0, atol=1e-12)
    assert permuted[0].bias is None and permuted[5].bias is None


def test_permutation_then_inverse_gives_the_model_back_exactly():
    model = mlp((6, 4), seed=7)
    perms = random_perms((6, 4), seed=8)
    back = permute_hidden_units(permute_hidden_units(model, perms), [torch.argsort(p) for p in perms])
    assert_same_params(back, model)
    # lists, tuples and numpy arrays are accepted as permutations too
    same = permute_hidden_units(model, (perms[0].tolist(), perms[1].numpy()))
    assert_same_params(same, permute_hidden_units(model, perms))


@pytest.mark.parametrize("perms, message", [
    ([], "perms: expected a list of 2 permutations (hidden widths (3, 4)), got a list of 0"),
    ([torch.arange(3)], "perms: expected a list of 2 permutations (hidden widths (3, 4)), got a list of 1"),
    (torch.arange(3), "perms: expected a list of 2 permutations (hidden widths (3, 4)), got tensor of shape (3,)"),
    ([torch.tensor([0, 0, 1]), torch.arange(4)],
     "perms[0]: expected a permutation of 0..2 (integers), got [0, 0, 1] (tensor of shape (3,)"),
    ([torch.arange(3), torch.tensor([0, 1, 2])],
     "perms[1]: expected a permutation of 0..3 (integers), got [0, 1, 2] (tensor of shape (3,)"),
    ([torch.arange(3), torch.tensor([0, 1, 2, 4])],
     "perms[1]: expected a permutation of 0..3 (integers), got [0, 1, 2, 4]"),
    ([[0.5, 1.2, 2.9], torch.arange(4)],
     "perms[0]: expected a permutation of 0..2 (integers), got [0.5, 1.2000000476837158, 2.9000000953674316] "
     "(tensor of shape (3,), dtype torch.float32"),
    ([torch.tensor([2.0, 0.0, 1.0]), torch.arange(4)],
     "perms[0]: expected a permutation of 0..2 (integers), got [2.0, 0.0, 1.0] (tensor of shape (3,), dtype "
     "torch.float32"),
    ([["a", "b", "c"], torch.arange(4)], "perms[0]: expected a permutation of 0..2 (integers), got list"),
    ([torch.arange(3).reshape(3, 1), torch.arange(4)], "perms[0]: expected a permutation of 0..2 (integers), got "
                                                       "[[0], [1], [2]] (tensor of shape (3, 1)"),
])
def test_bad_perms(perms, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        permute_hidden_units(mlp((3, 4), seed=0), perms)


# ------------------------------------------------------------------------------- weight matching
@pytest.mark.parametrize("hidden", [(6,), (6, 4), (5, 7, 3), (12, 12, 12)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weight_matching_recovers_known_permutations_exactly(hidden, seed):
    model_a = mlp(hidden, seed=seed)
    perms = random_perms(hidden, seed=100 + seed)
    model_b = permute_hidden_units(model_a, perms)
    a_before, b_before = copy.deepcopy(model_a), copy.deepcopy(model_b)
    result = weight_matching(model_a, model_b, seed=seed)
    assert isinstance(result, Alignment)
    # b's unit perms[i] is a's unit i, so the inverse permutation aligns b to a
    assert len(result.perms) == len(hidden)
    for found, p in zip(result.perms, perms):
        assert found.dtype == torch.long and torch.equal(found, torch.argsort(p))
    assert_same_params(result.model, model_a)
    assert_same_params(model_a, a_before) and assert_same_params(model_b, b_before)  # neither changed
    assert result.model is not model_b
    # objective: after alignment it is <theta_a, theta_a>, recomputed with numpy
    assert result.matched_after == pytest.approx(objective_np(model_a, model_a), rel=1e-12)
    assert result.matched_before == pytest.approx(objective_np(model_a, model_b), rel=1e-12, abs=1e-12)
    assert result.matched_after >= result.matched_before
    assert result.cosine_after == pytest.approx(1.0, abs=1e-12)
    assert result.cosine_before == pytest.approx(cosine_np(model_a, model_b), abs=1e-12)
    assert 1 <= result.sweeps <= 100


def test_weight_matching_of_a_model_with_itself_is_the_identity():
    model = mlp((6, 5), seed=3)
    result = weight_matching(model, model)
    assert all(torch.equal(p, torch.arange(w)) for p, w in zip(result.perms, (6, 5)))
    assert result.sweeps == 1 and result.matched_before == result.matched_after
    assert_same_params(result.model, model)


def test_weight_matching_works_on_float32_models_without_biases():
    model_a = mlp((8, 6), seed=4, dtype=torch.float32, bias=False)
    perms = random_perms((8, 6), seed=5)
    result = weight_matching(model_a, permute_hidden_units(model_a, perms))
    assert all(torch.equal(f, torch.argsort(p)) for f, p in zip(result.perms, perms))
    assert_same_params(result.model, model_a)
    assert result.model[0].weight.dtype == torch.float32


@pytest.mark.parametrize("hidden", [(8,), (8, 6), (6, 5, 4)])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_independent_models_objective_never_drops_and_cosine_rises(hidden, seed):
    model_a, model_b = mlp(hidden, seed=10 + seed), mlp(hidden, seed=20 + seed)
    result = weight_matching(model_a, model_b, seed=seed)
    assert result.matched_after >= result.matched_before
    assert result.cosine_after > result.cosine_before
    # every number recomputed from the models in numpy
    assert result.matched_before == pytest.approx(objective_np(model_a, model_b), rel=1e-12, abs=1e-12)
    assert result.matched_after == pytest.approx(objective_np(model_a, result.model), rel=1e-12, abs=1e-12)
    assert result.cosine_before == pytest.approx(cosine_np(model_a, model_b), abs=1e-12)
    assert result.cosine_after == pytest.approx(cosine_np(model_a, result.model), abs=1e-12)
    # the aligned model is b with its units permuted by result.perms: the same function as b
    assert_same_params(result.model, permute_hidden_units(model_b, result.perms))
    x = torch.randn(40, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        torch.testing.assert_close(result.model(x), model_b(x), rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_one_hidden_layer_assignment_equals_the_brute_force_maximum(seed):
    model_a, model_b = mlp((4,), seed=30 + seed), mlp((4,), seed=40 + seed)
    scores = {perm: objective_np(model_a, permute_hidden_units(model_b, [list(perm)]))
              for perm in itertools.permutations(range(4))}
    assert len(scores) == 24
    best = max(scores.values())
    result = weight_matching(model_a, model_b)
    assert result.matched_after == pytest.approx(best, rel=1e-12, abs=1e-12)
    assert scores[tuple(result.perms[0].tolist())] == pytest.approx(best, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_two_hidden_layers_end_at_a_coordinatewise_brute_force_optimum(seed):
    """Coordinate descent stops where no single layer's permutation (the other held) does better:
    checked over all 3! x 3! choices, one layer at a time; the result is also never above the joint maximum."""
    model_a, model_b = mlp((3, 3), seed=50 + seed), mlp((3, 3), seed=60 + seed)
    result = weight_matching(model_a, model_b, seed=seed)
    p0, p1 = (tuple(p.tolist()) for p in result.perms)

    def score(q0, q1):
        return objective_np(model_a, permute_hidden_units(model_b, [list(q0), list(q1)]))

    found = score(p0, p1)
    assert result.matched_after == pytest.approx(found, rel=1e-12, abs=1e-12)
    perms3 = list(itertools.permutations(range(3)))
    assert all(score(q, p1) <= found + 1e-12 for q in perms3)
    assert all(score(p0, q) <= found + 1e-12 for q in perms3)
    assert found <= max(score(q0, q1) for q0 in perms3 for q1 in perms3) + 1e-12


def test_weight_matching_is_deterministic_and_max_sweeps_bounds_the_sweeps():
    model_a, model_b = mlp((10, 10, 10), seed=70), mlp((10, 10, 10), seed=71)
    first, second = weight_matching(model_a, model_b, seed=3), weight_matching(model_a, model_b, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(first.perms, second.perms))
    assert first.matched_after == second.matched_after and first.sweeps == second.sweeps
    assert first.sweeps >= 2  # several layers: the first sweep changes something, the last changes nothing
    once = weight_matching(model_a, model_b, max_sweeps=1, seed=3)
    assert once.sweeps == 1
    assert once.matched_before <= once.matched_after <= first.matched_after + 1e-12


def test_weight_matching_refuses_mismatched_models_and_bad_sweeps():
    model = mlp((4, 3), seed=0)
    with pytest.raises(ValueError, match=re.escape("model_b: expected the same layer shapes as model_a "
                                                   "([(4, 5), (3, 4), (3, 3)]), got [(5, 5), (3, 5), (3, 3)]")):
        weight_matching(model, mlp((5, 3), seed=0))
    with pytest.raises(ValueError, match=re.escape("model_b: expected the same layer shapes as model_a "
                                                   "([(4, 5), (3, 4), (3, 3)]), got [(4, 5), (3, 4)]")):
        weight_matching(model, mlp((4,), seed=0))
    with pytest.raises(ValueError, match=re.escape("model_b: expected biases in the same layers as model_a "
                                                   "(has bias: [True, True, True]), got [False, False, False]")):
        weight_matching(model, mlp((4, 3), seed=0, bias=False))
    with pytest.raises(ValueError, match=re.escape("max_sweeps: expected an int in [1, 1000000], got 0")):
        weight_matching(model, model, max_sweeps=0)
    with pytest.raises(TypeError, match=re.escape("max_sweeps: expected an int in [1, 1000000], got float")):
        weight_matching(model, model, max_sweeps=2.0)
