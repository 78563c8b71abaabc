"""The controls of write-up 2's OOD similarity (:func:`similarity_controls`) pass on honest models and fail
when a model is perturbed or the models are mixed up, and the label-agreement functions they use agree with
counts done by hand."""
import copy

import numpy as np
import pytest
import torch

from rashomon_widgets.core.comparison.pruning import prune
from rashomon_widgets.core.comparison.similarity import (
    chance_agreement,
    class_shares,
    label_agreement,
    predicted_classes,
)
from rashomon_widgets.data import ood_families
from rashomon_widgets.experiments.skeletons import (
    SimilarityControls,
    ood_similarity,
    similarity_controls,
    skeleton_task,
)
from rashomon_widgets.models import cross_entropy, train


@pytest.fixture(scope="module")
def setup(one_torch_thread):
    task = skeleton_task("digits", hidden=(32,), ood_size=1, seed=0)
    x, y = task.train
    shuffled = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(0))]
    models = {}
    for name, seed, labels in (("a", 0, y), ("b", 1, y), ("c", 3, y), ("shuffled", 2, shuffled),
                               ("shuffled 2", 4, shuffled)):
        model = task.make_model(seed=seed)
        train(model, cross_entropy, (x, labels), epochs=30, lr=1e-2, batch_size=128, seed=seed)
        models[name] = model.eval()
    ood = torch.cat(list(ood_families(40, seed=0).values()))
    return models, ood


def test_controls_pass_on_honest_models(setup):
    models, ood = setup
    checks = similarity_controls(models["a"], models["b"], models["shuffled"], ood)
    assert isinstance(checks, SimilarityControls)
    assert checks.passed, checks.failures()
    assert checks.self_similarity == pytest.approx(1.0, abs=1e-12)
    S = ood_similarity([models["a"], models["b"], models["shuffled"]], ood)
    assert checks.pair_similarity == pytest.approx(S[0, 1]) and checks.control_similarity == pytest.approx(S[0, 2])
    labels = predicted_classes([models["a"], models["b"], models["shuffled"]], ood)
    assert checks.pair_agreement == pytest.approx(np.mean(labels[0] == labels[1]))
    assert checks.control_agreement == pytest.approx(np.mean(labels[0] == labels[2]))


def test_controls_fail_on_a_perturbed_copy(setup):
    models, ood = setup
    perturbed = copy.deepcopy(models["a"])
    with torch.no_grad():
        for p in perturbed.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
    checks = similarity_controls(models["a"], models["b"], models["shuffled"], ood, copy=perturbed)
    assert not checks.passed
    assert any("a copy of the model" in f for f in checks.failures())
    # pruning at a threshold that removes weights is not a copy either
    pruned = prune(models["a"], threshold=0.2)
    assert not similarity_controls(models["a"], models["b"], models["shuffled"], ood, copy=pruned).passed


def test_controls_fail_when_the_control_is_not_shuffled_or_the_pair_is(setup):
    models, ood = setup
    # a "control" trained on the true labels is as similar as the pair: the gap closes
    wrong_control = similarity_controls(models["a"], models["b"], models["c"], ood)
    assert not wrong_control.passed
    assert wrong_control.failures() and all("shuffled-label control" in f for f in wrong_control.failures())
    # a "pair" partner trained on shuffled labels is no more similar than the control
    wrong_pair = similarity_controls(models["a"], models["shuffled 2"], models["shuffled"], ood)
    assert not wrong_pair.passed


def test_controls_refuse_a_bad_margin(setup):
    models, ood = setup
    with pytest.raises(ValueError, match="margin"):
        similarity_controls(models["a"], models["b"], models["shuffled"], ood, margin=1.5)


# ------------------------------------------------------------------------------- label agreement
def test_label_agreement_shares_and_chance_by_hand():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, size=(3, 50))
    labels[1, :25] = labels[0, :25]
    A = label_agreement(labels)
    for i in range(3):
        for j in range(3):
            assert A[i, j] == pytest.approx(sum(labels[i, k] == labels[j, k] for k in range(50)) / 50)
    shares = class_shares(labels, 5)
    assert shares.shape == (3, 5) and np.allclose(shares.sum(axis=1), 1.0) and np.all(shares[:, 4] == 0)
    assert shares[2, 1] == pytest.approx(np.count_nonzero(labels[2] == 1) / 50)
    C = chance_agreement(labels, 5)
    assert C[0, 1] == pytest.approx(sum(shares[0, c] * shares[1, c] for c in range(5)))
    # two independent label sets with one dominant class agree about as often as chance predicts
    big = np.where(rng.random((2, 20000)) < 0.85, 4, rng.integers(0, 10, size=(2, 20000)))
    assert label_agreement(big)[0, 1] == pytest.approx(chance_agreement(big, 10)[0, 1], abs=0.01)
    assert label_agreement(big)[0, 1] > 0.7


def test_predicted_classes_are_the_argmax():
    torch.manual_seed(0)
    models = [torch.nn.Linear(5, 3), torch.nn.Linear(5, 3)]
    x = torch.randn(30, 5)
    got = predicted_classes(models, x, batch_size=7)
    with torch.no_grad():
        want = np.stack([m(x).argmax(dim=1).numpy() for m in models])
    assert got.dtype == np.int64 and np.array_equal(got, want)


@pytest.mark.parametrize("labels", [np.zeros(5, dtype=int), np.zeros((2, 0), dtype=int), np.ones((2, 3)) * 0.5,
                                    -np.ones((2, 3), dtype=int)])
def test_bad_labels(labels):
    with pytest.raises(ValueError, match="labels: expected an integer array"):
        label_agreement(labels)


def test_bad_class_count():
    with pytest.raises(ValueError, match="n_classes"):
        class_shares([[0, 3]], 3)

