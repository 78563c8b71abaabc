"""Magnitude pruning: every mask, count and overlap against a reference computed with numpy / sets."""
import copy
import re

import numpy as np
import pytest
import torch
from torch import nn

from rashomon_widgets.core.comparison.pruning import (
    Sparsity,
    apply_masks,
    check_masks,
    magnitude_masks,
    mask_overlap,
    masks_of,
    prunable,
    prune,
    sparsity,
)
from rashomon_widgets.models import MLP

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def model_of(seed=0, hidden=(6, 5), dtype=torch.float64):
    torch.manual_seed(seed)
    return MLP(4, hidden, 3, activation="tanh").to(dtype)


def numpy_params(model):
    return {name: p.detach().numpy().copy() for name, p in model.named_parameters()}


def assert_same_params(a, b):
    pa, pb = dict(a.named_parameters()), dict(b.named_parameters())
    assert pa.keys() == pb.keys()
    for name in pa:
        assert torch.equal(pa[name], pb[name]), name


# ------------------------------------------------------------------------------- which parameters
def test_prunable_takes_weight_matrices_by_default_and_everything_with_all():
    model = model_of()
    assert list(prunable(model)) == ["0.weight", "2.weight", "4.weight"]
    assert list(prunable(model, "all")) == [name for name, _ in model.named_parameters()]
    assert all(p.ndim >= 2 for p in prunable(model).values())


# ------------------------------------------------------------------------------- threshold masks
@pytest.mark.parametrize("threshold", [0.0, 0.1, 0.25, 0.5, 10.0])
@pytest.mark.parametrize("which", ["weights", "all"])
def test_threshold_masks_match_numpy(threshold, which):
    model = model_of(seed=1)
    params = numpy_params(model)
    before = copy.deepcopy(model)
    masks = magnitude_masks(model, threshold=threshold, params=which)
    expected_names = [n for n, a in params.items() if which == "all" or a.ndim >= 2]
    assert list(masks) == expected_names
    for name in expected_names:
        assert masks[name].dtype == torch.bool and masks[name].shape == model.get_parameter(name).shape
        np.testing.assert_array_equal(masks[name].numpy(), np.abs(params[name]) >= threshold)
    assert_same_params(model, before)  # the model is not changed


def test_threshold_keeps_entries_exactly_at_the_cut_and_zero_keeps_everything():
    model = nn.Linear(3, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.05, -0.05, 0.0], [0.049, -0.2, 1.0]]))
    mask = magnitude_masks(model, threshold=0.05)["weight"]
    assert mask.tolist() == [[True, True, False], [False, True, True]]
    # threshold 0 keeps every entry, exact zeros included (|0| >= 0)
    assert bool(magnitude_masks(model, threshold=0)["weight"].all())


# ------------------------------------------------------------------------------- fraction masks
@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.3, 0.5, 0.77, 1.0])
def test_fraction_masks_prune_the_smallest_share_globally(fraction):
    model = model_of(seed=2)
    params = {n: a for n, a in numpy_params(model).items() if a.ndim >= 2}
    masks = magnitude_masks(model, fraction=fraction)
    # reference: sort all prunable magnitudes together; the k = round(fraction * N) smallest are pruned
    flat = np.concatenate([np.abs(a).ravel() for a in params.values()])
    k = int(round(fraction * flat.size))
    assert len(np.unique(flat)) == flat.size  # continuous weights: no ties, so exactly k are pruned
    order = np.argsort(flat, kind="stable")
    expected = np.ones(flat.size, dtype=bool)
    expected[order[:k]] = False
    got = np.concatenate([masks[n].numpy().ravel() for n in params])
    np.testing.assert_array_equal(got, expected)
    assert int((~got).sum()) == k
    # and a quantile reading of the same thing: every pruned magnitude lies below every kept one
    if 0 < k < flat.size:
        assert flat[~got].max() < flat[got].min()
        assert flat[~got].max() <= np.quantile(flat, k / flat.size) + 1e-15


def test_fraction_is_taken_over_all_layers_together():
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 2))
    with torch.no_grad():
        model[0].weight.uniform_(0.001, 0.01)  # 20 small entries
        model[2].weight.uniform_(0.5, 1.0)     # 10 large ones
    masks = magnitude_masks(model, fraction=20 / 30)
    assert not bool(masks["0.weight"].any()) and bool(masks["2.weight"].all())


def test_fraction_ties_at_the_cut_are_pruned_together():
    model = nn.Linear(6, 1, bias=False)
    values = [0.1, -0.2, 0.2, 0.2, 0.3, -0.4]
    with torch.no_grad():
        model.weight.copy_(torch.tensor([values]))
    mask = magnitude_masks(model, fraction=0.5)["weight"]
    # reference: k = 3; the 3rd smallest magnitude is 0.2, and every magnitude <= 0.2 goes
    magnitudes = np.abs(np.array(values, dtype=np.float32))
    kth = np.sort(magnitudes)[3 - 1]
    np.testing.assert_array_equal(mask.numpy()[0], magnitudes > kth)
    assert int((~mask).sum()) == 4  # more than half, as documented


def test_fraction_on_a_model_without_prunable_parameters_is_empty():
    assert magnitude_masks(nn.BatchNorm1d(3), fraction=0.5) == {}
    assert magnitude_masks(nn.BatchNorm1d(3), threshold=0.5) == {}
    norm = nn.BatchNorm1d(3)
    assert list(magnitude_masks(norm, fraction=0.5, params="all")) == ["weight", "bias"]


# ------------------------------------------------------------------------------- applying masks
def random_masks(model, seed, keep=0.6, which="weights"):
    g = torch.Generator().manual_seed(seed)
    return {name: torch.rand(p.shape, generator=g) < keep for name, p in prunable(model, which).items()}


def test_apply_masks_zeroes_exactly_the_pruned_entries_in_place():
    model = model_of(seed=3)
    before = numpy_params(model)
    masks = random_masks(model, seed=0, which="all")
    out = apply_masks(model, masks)
    assert out is model
    after = numpy_params(model)
    for name, value in before.items():
        np.testing.assert_array_equal(after[name], np.where(masks[name].numpy(), value, 0.0))


def test_apply_masks_accepts_0_1_float_masks_and_a_subset_of_parameters():
    model = model_of(seed=4)
    before = numpy_params(model)
    mask = (torch.arange(24).reshape(6, 4) % 3 == 0).double()
    apply_masks(model, {"0.weight": mask})
    after = numpy_params(model)
    np.testing.assert_array_equal(after["0.weight"], before["0.weight"] * mask.numpy())
    for name in before:
        if name != "0.weight":
            np.testing.assert_array_equal(after[name], before[name])


def test_prune_returns_a_pruned_copy_in_eval_mode():
    model = model_of(seed=5).train()
    original = copy.deepcopy(model)
    pruned = prune(model, threshold=0.2)
    assert pruned is not model and not pruned.training and model.training
    assert_same_params(model, original)
    params = numpy_params(model)
    for name, p in pruned.named_parameters():
        expected = np.where(np.abs(params[name]) >= 0.2, params[name], 0.0) if p.ndim >= 2 else params[name]
        np.testing.assert_array_equal(p.detach().numpy(), expected)
    # the same with ready masks, and with a fraction
    masks = magnitude_masks(model, threshold=0.2)
    assert_same_params(prune(model, masks=masks), pruned)
    by_fraction = prune(model, fraction=0.4)
    assert sparsity(by_fraction).zeros == round(0.4 * sparsity(model).total)


def test_masks_of_reads_back_the_skeleton():
    model = model_of(seed=6)
    masks = magnitude_masks(model, fraction=0.35)
    pruned = prune(model, masks=masks)
    read = masks_of(pruned)
    assert list(read) == list(masks)
    for name in masks:
        assert torch.equal(read[name], masks[name])
        np.testing.assert_array_equal(read[name].numpy(), pruned.get_parameter(name).detach().numpy() != 0)
    # params="all": biases were not pruned, and are nonzero
    assert all(bool(read_all.all()) for n, read_all in masks_of(pruned, "all").items() if n.endswith("bias"))


def test_negative_zero_counts_as_pruned():
    model = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[-0.0, 0.0], [1.0, -1.0]]))
    assert masks_of(model)["weight"].tolist() == [[False, False], [True, True]]
    assert sparsity(model).zeros == 2


# ------------------------------------------------------------------------------- sparsity
@pytest.mark.parametrize("which", ["weights", "all"])
def test_sparsity_matches_numpy_counts(which):
    model = prune(model_of(seed=7), fraction=0.45, params=which)
    with torch.no_grad():
        model[0].bias[:2] = 0.0  # zero biases count only with params="all"
    s = sparsity(model, which)
    assert isinstance(s, Sparsity)
    params = {n: a for n, a in numpy_params(model).items() if which == "all" or a.ndim >= 2}
    assert list(s.layers) == list(params)
    for name, a in params.items():
        assert s.layers[name] == (int(np.count_nonzero(a == 0)), a.size)
        assert s.of(name) == pytest.approx(np.mean(a == 0), abs=1e-15)
    zeros = sum(int(np.count_nonzero(a == 0)) for a in params.values())
    total = sum(a.size for a in params.values())
    assert (s.zeros, s.total) == (zeros, total)
    assert s.overall == pytest.approx(zeros / total, abs=1e-15)
    rows = s.rows()
    assert [r["parameter"] for r in rows] == [*params, "overall"]
    assert all(set(r) == {"parameter", "zeros", "total", "sparsity"} for r in rows)
    assert rows[-1] == {"parameter": "overall", "zeros": zeros, "total": total, "sparsity": s.overall}
    for row in rows[:-1]:
        assert row["sparsity"] == pytest.approx(np.mean(params[row["parameter"]] == 0), abs=1e-15)


def test_sparsity_of_a_model_without_prunable_parameters_is_zero():
    s = sparsity(nn.BatchNorm1d(4))
    assert (s.layers, s.zeros, s.total, s.overall) == ({}, 0, 0, 0.0)
    assert s.rows() == [{"parameter": "overall", "zeros": 0, "total": 0, "sparsity": 0.0}]


def test_docstring_example_by_hand():
    model = nn.Linear(3, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.01, -0.2, 0.5], [0.0, 0.04, -0.06]]))
    pruned = prune(model, threshold=0.05)
    # |w| < 0.05: 0.01, 0.0 and 0.04 go, 3 of 6
    assert sparsity(pruned).overall == 0.5
    assert torch.equal(pruned.weight, torch.tensor([[0.0, -0.2, 0.5], [0.0, 0.0, -0.06]]))
    assert mask_overlap(masks_of(pruned), magnitude_masks(model, fraction=0.5))["overall"] == 1.0


# ------------------------------------------------------------------------------- overlap
def set_reference(a, b):
    """Jaccard overlaps from sets of kept (name, flat index) pairs."""
    out, both_all, either_all = {}, set(), set()
    for name in a:
        sa = {(name, int(i)) for i in np.flatnonzero(a[name].numpy())}
        sb = {(name, int(i)) for i in np.flatnonzero(b[name].numpy())}
        out[name] = len(sa & sb) / len(sa | sb) if sa | sb else 1.0
        both_all |= sa & sb
        either_all |= sa | sb
    out["overall"] = len(both_all) / len(either_all) if either_all else 1.0
    return out


@pytest.mark.parametrize("keep_a, keep_b", [(0.5, 0.5), (0.2, 0.9), (0.05, 0.05)])
def test_mask_overlap_matches_set_arithmetic(keep_a, keep_b):
    model = model_of(seed=8)
    a, b = random_masks(model, 1, keep_a), random_masks(model, 2, keep_b)
    got = mask_overlap(a, b)
    expected = set_reference(a, b)
    assert got.keys() == expected.keys()
    for key in expected:
        assert got[key] == pytest.approx(expected[key], abs=1e-15), key
    assert mask_overlap(b, a) == got  # symmetric


def test_mask_overlap_extremes():
    model = model_of(seed=9)
    a = random_masks(model, 3)
    assert all(v == 1.0 for v in mask_overlap(a, a).values())
    complement = {n: ~m for n, m in a.items()}
    assert all(v == 0.0 for v in mask_overlap(a, complement).values())
    empty = {n: torch.zeros_like(m) for n, m in a.items()}
    assert all(v == 1.0 for v in mask_overlap(empty, empty).values())  # nothing kept by either: the same
    assert all(v == 0.0 for v in mask_overlap(empty, a).values())
    floats = {n: m.double() for n, m in a.items()}  # 0/1 masks read as bool
    assert mask_overlap(a, floats) == mask_overlap(a, a)


# ------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, error, message", [
    ({}, ValueError, "magnitude_masks: expected exactly one of threshold= or fraction=, got threshold=None, "
                     "fraction=None"),
    ({"threshold": 0.1, "fraction": 0.2}, ValueError,
     "expected exactly one of threshold= or fraction=, got threshold=0.1, fraction=0.2"),
    ({"threshold": -0.1}, ValueError, r"threshold: expected a number in \[0, inf\], got -0.1"),
    ({"threshold": float("nan")}, ValueError, r"threshold: expected a number in \[0, inf\], got nan"),
    ({"fraction": 1.5}, ValueError, r"fraction: expected a number in \[0, 1\], got 1.5"),
    ({"fraction": -0.01}, ValueError, r"fraction: expected a number in \[0, 1\], got -0.01"),
    ({"fraction": float("nan")}, ValueError, r"fraction: expected a number in \[0, 1\], got nan"),
    ({"fraction": "half"}, TypeError, r"fraction: expected a number in \[0, 1\], got str"),
    ({"threshold": True}, TypeError, r"threshold: expected a number in \[0, inf\], got bool"),
    ({"threshold": torch.tensor([0.1, 0.2])}, TypeError,
     r"threshold: expected a number in \[0, inf\], got tensor of shape \(2,\)"),
    ({"threshold": 0.1, "params": "biases"}, ValueError, "params: expected one of 'weights', 'all', got 'biases'"),
])
def test_bad_magnitude_mask_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        magnitude_masks(model_of(), **kwargs)


def test_non_modules_are_refused():
    for call in (lambda: magnitude_masks("net", threshold=0.1), lambda: prune([1, 2], threshold=0.1),
                 lambda: masks_of(3), lambda: sparsity(None), lambda: apply_masks(torch.zeros(2), {})):
        with pytest.raises(TypeError, match="model: expected a torch.nn.Module, got "):
            call()


def test_bad_masks_name_what_was_expected():
    model = model_of()
    names = "0.weight, 0.bias, 2.weight, 2.bias, 4.weight, 4.bias"
    with pytest.raises(ValueError, match=re.escape(f"masks: expected names of the model's parameters ({names}), "
                                                   "got '1.weight'")):
        apply_masks(model, {"1.weight": torch.ones(6, 4, dtype=torch.bool)})
    with pytest.raises(ValueError, match=re.escape("masks['0.weight']: expected a tensor of shape (6, 4), got "
                                                   "tensor of shape (4, 6)")):
        apply_masks(model, {"0.weight": torch.ones(4, 6, dtype=torch.bool)})
    with pytest.raises(ValueError, match=re.escape("masks['2.bias']: expected a tensor of shape (5,), got list")):
        check_masks(model, {"2.bias": [True] * 5})
    with pytest.raises(TypeError, match=r"masks: expected a dict \{parameter name: bool tensor\}, got list"):
        prune(model, masks=[torch.ones(6, 4)])
    with pytest.raises(ValueError, match="prune: expected masks= or threshold=/fraction=, got both"):
        prune(model, masks={}, fraction=0.1)
    # a failed check changes nothing
    before = copy.deepcopy(model)
    with pytest.raises(ValueError, match="expected a tensor of shape"):
        apply_masks(model, {"0.weight": torch.zeros(6, 4, dtype=torch.bool), "2.weight": torch.zeros(3)})
    assert_same_params(model, before)


def test_mask_overlap_refuses_mismatched_masks():
    a = {"w": torch.ones(2, 3, dtype=torch.bool)}
    with pytest.raises(ValueError, match=re.escape("mask_overlap: expected masks of the same parameters and "
                                                   "shapes, got {'w': (2, 3)} and {'v': (2, 3)}")):
        mask_overlap(a, {"v": torch.ones(2, 3, dtype=torch.bool)})
    with pytest.raises(ValueError, match=re.escape("got {'w': (2, 3)} and {'w': (3, 2)}")):
        mask_overlap(a, {"w": torch.ones(3, 2, dtype=torch.bool)})
    with pytest.raises(TypeError, match="mask_overlap: expected a to be a dict of bool tensors, got list"):
        mask_overlap([a["w"]], a)
    with pytest.raises(TypeError, match="mask_overlap: expected b to be a dict of bool tensors, got tensor of shape"):
        mask_overlap(a, a["w"])


def test_numpy_and_0d_tensor_thresholds_are_numbers():
    model = torch.nn.Linear(4, 3)
    reference = magnitude_masks(model, threshold=0.2)
    for threshold in (np.float32(0.2), np.float64(0.2), torch.tensor(0.2, dtype=torch.float64)):
        got = magnitude_masks(model, threshold=threshold)
        # float32(0.2) rounds differently from the double 0.2: compare with that exact value
        expected = (reference if not isinstance(threshold, np.float32)
                    else magnitude_masks(model, threshold=float(threshold)))
        assert all(torch.equal(got[k], expected[k]) for k in expected)


def test_apply_masks_zeroes_exactly_even_inf_and_nan():
    model = torch.nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[float("inf"), 1.0], [float("nan"), 2.0]]))
    masks = {"weight": torch.tensor([[False, True], [False, True]])}
    apply_masks(model, masks)
    assert model.weight.tolist() == [[0.0, 1.0], [0.0, 2.0]]


@pytest.mark.parametrize("call", [
    lambda m: prunable(m, which="all"), lambda m: masks_of(m, which="all"), lambda m: sparsity(m, which="all"),
    lambda m: magnitude_masks(m, fraction=0.5, which="all"), lambda m: prune(m, fraction=0.5, which="all"),
])
def test_which_is_the_deprecated_name_of_params(call):
    model = torch.nn.Linear(3, 2)
    with pytest.warns(DeprecationWarning, match=r"which=\.\.\.\) is deprecated: use params="):
        call(model)
    with pytest.raises(ValueError, match="params: expected one of"):
        masks_of(model, "biases")


def test_share_is_the_deprecated_name_of_of():
    s = sparsity(prune(torch.nn.Linear(3, 2), fraction=0.5))
    with pytest.warns(DeprecationWarning, match=r"use Sparsity.of\(name\)"):
        assert s.share("weight") == s.of("weight") == 0.5
