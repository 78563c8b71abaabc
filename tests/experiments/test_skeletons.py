"""Write-up 2's experiment: tasks, L1 fine-tuning, the variant grid, OOD similarity and skeleton comparison,
each number checked against a second computation (numpy counts, scikit-learn cosines, direct train calls)."""
import copy
import itertools
import math
import re

import numpy as np
import pytest
import torch
from sklearn.metrics.pairwise import cosine_similarity as sk_cosine
from torch import nn

from rashomon_widgets import data
from rashomon_widgets.core.comparison.alignment import permute_hidden_units
from rashomon_widgets.core.comparison.pruning import mask_overlap, masks_of, prune, sparsity
from rashomon_widgets.experiments.skeletons import (
    SkeletonComparison,
    SkeletonRecord,
    SkeletonStudy,
    SkeletonTask,
    Variant,
    compare_skeletons,
    evaluate,
    l1_finetune,
    make_variant,
    ood_similarity,
    skeleton_task,
    skeleton_variants,
)
from rashomon_widgets.models import MLP, cross_entropy, train

from ..local_files import write_cifar_tree, write_mnist

HIDDEN = (24,)


@pytest.fixture(scope="module")
def task(one_torch_thread):
    return skeleton_task("digits", hidden=HIDDEN, ood_size=60, seed=0)


@pytest.fixture(scope="module")
def trained(task):
    """Two digits classifiers trained from different initialisations (a few seconds in all)."""
    models = []
    for seed in (0, 1):
        model = task.make_model(seed=seed)
        train(model, cross_entropy, task.train, epochs=15, lr=1e-2, batch_size=128, seed=seed)
        models.append(model)
    return models


def same_params(a, b):
    pa, pb = dict(a.named_parameters()), dict(b.named_parameters())
    return pa.keys() == pb.keys() and all(torch.equal(pa[n], pb[n]) for n in pa)


def zero_share(model):
    """Share of exact zeros among the weight matrices, counted with numpy."""
    weights = [p.detach().numpy() for p in model.parameters() if p.ndim >= 2]
    return sum(int(np.count_nonzero(w == 0)) for w in weights) / sum(w.size for w in weights)


def softmax_np(model, x):
    with torch.no_grad():
        logits = model(x).double().numpy()
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).ravel()


# ------------------------------------------------------------------------------- tasks
def test_digits_task_matches_the_data_functions(task):
    assert isinstance(task, SkeletonTask) and task.name == "digits"
    split = data.digits(seed=0)
    for got, expected in ((task.train, split.train), (task.test, split.test)):
        assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])
    assert task.train[0].shape == (1347, 64) and task.test[0].shape == (450, 64)
    assert torch.equal(task.ood, data.photo_patches(60, seed=0)) and task.ood.shape == (60, 64)
    assert task.ood_name == "8x8 patches of photographs"


def test_digits_model_builder(task):
    model = task.make_model(seed=3)
    assert isinstance(model, MLP) and (model.in_features, model.hidden, model.out_features) == (64, HIDDEN, 10)
    assert model.activation == "relu"
    assert same_params(model, task.make_model(seed=3)) and not same_params(model, task.make_model(seed=4))
    state = torch.get_rng_state()
    task.make_model(seed=5)
    assert torch.equal(torch.get_rng_state(), state)  # a seeded build leaves the global generator alone
    wide = skeleton_task("digits", hidden=[16, 8], ood_size=2).make_model(seed=0)
    assert wide.hidden == (16, 8)


def test_bad_tasks():
    with pytest.raises(ValueError, match="dataset: expected one of 'digits', 'cifar10', 'mnist_cnn', got 'mnist'"):
        skeleton_task("mnist")
    message = ("skeleton_task('cifar10'): expected cifar_root= and mnist_root= (folders holding the CIFAR-10 "
               "binary batches and the MNIST IDX files), got cifar_root={!r}, mnist_root={!r}")
    for cifar_root, mnist_root in ((None, None), ("/data/cifar", None), (None, "/data/mnist")):
        with pytest.raises(ValueError, match=re.escape(message.format(cifar_root, mnist_root))):
            skeleton_task("cifar10", cifar_root=cifar_root, mnist_root=mnist_root)


# ------------------------------------------------------------------------------- cifar10 from local files
@pytest.fixture
def local_roots(tmp_path):
    cifar_root, mnist_root = tmp_path / "cifar", tmp_path / "mnist"
    train_pixels, test_pixels = write_cifar_tree(cifar_root, [[i, 9 - i, (2 * i) % 10] for i in range(5)],
                                                 [3, 7, 1, 0], seed=0)
    mnist_images, _ = write_mnist(mnist_root, "t10k", 6, seed=1)
    return cifar_root, mnist_root, np.concatenate(train_pixels), test_pixels, mnist_images


def test_cifar10_task_reads_flattened_local_files(local_roots):
    cifar_root, mnist_root, train_pixels, test_pixels, mnist_images = local_roots
    task = skeleton_task("cifar10", hidden=(8,), cifar_root=cifar_root, mnist_root=str(mnist_root), ood_size=4)
    assert task.name == "cifar10" and task.ood_name == "MNIST digits"
    (x, y), (xt, yt) = task.train, task.test
    assert x.shape == (15, 3072) and xt.shape == (4, 3072) and task.ood.shape == (4, 3072)
    assert x.dtype == xt.dtype == task.ood.dtype == torch.float32
    # reference from the bytes written: a record's 3072 pixels are already in (channel, row, column) order
    np.testing.assert_allclose(x.numpy(), train_pixels.astype(np.float32) / 255, rtol=0, atol=1e-7)
    np.testing.assert_allclose(xt.numpy(), test_pixels.astype(np.float32) / 255, rtol=0, atol=1e-7)
    assert y.tolist() == [label for i in range(5) for label in (i, 9 - i, (2 * i) % 10)]
    assert yt.tolist() == [3, 7, 1, 0]
    # OOD: the first 4 MNIST images, zero-padded to 32x32 and repeated over 3 channels, flattened
    padded = np.zeros((4, 3, 32, 32), dtype=np.float32)
    padded[:, :, 2:30, 2:30] = mnist_images[:4, None].astype(np.float32) / 255
    np.testing.assert_allclose(task.ood.numpy(), padded.reshape(4, -1), rtol=0, atol=1e-7)
    # limits, and the builder
    small = skeleton_task("cifar10", hidden=(8,), cifar_root=cifar_root, mnist_root=mnist_root, ood_size=6,
                          train_size=5, test_size=1)
    assert small.train[0].shape == (5, 3072) and small.test[0].shape == (1, 3072)
    assert small.ood.shape == (6, 3072)  # all 6 MNIST images on disk
    with pytest.raises(ValueError, match=r"ood_size: expected at most the 6 MNIST test images in .*, got 100"):
        skeleton_task("cifar10", hidden=(8,), cifar_root=cifar_root, mnist_root=mnist_root, ood_size=100)
    for bad, error in ((0, ValueError), (2.5, TypeError), (True, TypeError)):
        with pytest.raises(error, match="ood_size: expected an int >= 1"):
            skeleton_task("cifar10", hidden=(8,), cifar_root=cifar_root, mnist_root=mnist_root, ood_size=bad)
    model = task.make_model(seed=0)
    assert isinstance(model, MLP) and model.in_features == 3072 and model[0].weight.shape == (8, 3072)
    assert model.out_features == 10 and model.activation == "relu"
    with torch.no_grad():
        assert model(task.ood).shape == (4, 10)


def test_cifar10_task_missing_files_name_the_path(tmp_path, local_roots):
    cifar_root, mnist_root, *_ = local_roots
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "none" / "cifar-10-batches-bin"))):
        skeleton_task("cifar10", cifar_root=tmp_path / "none", mnist_root=mnist_root)
    with pytest.raises(FileNotFoundError, match=re.escape(str(cifar_root / "t10k-images-idx3-ubyte"))):
        skeleton_task("cifar10", cifar_root=cifar_root, mnist_root=cifar_root)


def test_cifar10_mini_pipeline(local_roots):
    cifar_root, mnist_root, *_ = local_roots
    task = skeleton_task("cifar10", hidden=(8,), cifar_root=cifar_root, mnist_root=mnist_root, ood_size=5)
    models = []
    for seed in (0, 1):
        model = task.make_model(seed=seed)
        losses = train(model, cross_entropy, task.train, epochs=5, lr=1e-3, seed=seed)
        assert losses[-1] < losses[0]
        models.append(model)
    calls = []
    variants = skeleton_variants(models, cross_entropy, task.train, task.test, strengths=(1e-3,), epochs=(1,),
                                 thresholds=(0.01,), progress=lambda *args: calls.append(args))
    assert [v.name for v in variants] == ["M1 original", "M1 t 0.01", "M1 L1 0.001x1 t 0.01",
                                          "M2 original", "M2 t 0.01", "M2 L1 0.001x1 t 0.01"]
    assert calls[-1] == (2, 2, "done") and len(calls) == 3
    for v in variants:
        assert v.sparsity.overall == pytest.approx(zero_share(v.model), abs=1e-15)
        assert 0 <= v.accuracy <= 1 and 0 <= v.test_accuracy <= 1 and math.isfinite(v.loss)
    S = ood_similarity(variants, task.ood)
    reference = sk_cosine(np.stack([softmax_np(v.model, task.ood) for v in variants]))
    np.fill_diagonal(reference, 1.0)
    np.testing.assert_allclose(S, reference, rtol=0, atol=1e-9)
    result = compare_skeletons(variants[2].model, variants[5].model, task.ood)
    assert result.ood_similarity == pytest.approx(S[2, 5], abs=1e-12)
    assert result.sparsity_a == pytest.approx(zero_share(variants[2].model), abs=1e-15)
    assert result.ood_similarity_aligned == pytest.approx(result.ood_similarity, abs=1e-6)
    assert result.weight_cosine_after >= result.weight_cosine_before


# ------------------------------------------------------------------------------- L1 fine-tuning
def test_l1_finetune_leaves_the_model_alone_and_snapshots_at_checkpoints(task, trained):
    model = trained[0]
    before = copy.deepcopy(model)
    snaps = l1_finetune(model, cross_entropy, task.train, strength=1e-3, epochs=3, checkpoints=[3, 0, 1])
    assert sorted(snaps) == [0, 1, 3]
    assert same_params(model, before) and model.training == before.training
    assert same_params(snaps[0], model) and snaps[0] is not model
    assert all(not m.training for m in snaps.values())
    assert len({id(m) for m in snaps.values()}) == 3
    assert not same_params(snaps[1], snaps[0]) and not same_params(snaps[3], snaps[1])
    # the default checkpoint is the end only
    assert list(l1_finetune(model, cross_entropy, task.train, strength=1e-3, epochs=1)) == [1]


def test_l1_finetune_is_train_with_l1_on_a_copy(task, trained):
    """Second method: the same fine-tuning written as a direct train(...) call on a copy."""
    snaps = l1_finetune(trained[0], cross_entropy, task.train, strength=2e-3, epochs=2, lr=2e-3,
                        batch_size=100, seed=4)
    direct = copy.deepcopy(trained[0])
    train(direct, cross_entropy, task.train, epochs=2, lr=2e-3, l1=2e-3, batch_size=100, seed=4)
    assert same_params(snaps[2], direct)


def test_l1_finetune_is_reproducible_and_snapshots_equal_shorter_runs(task, trained):
    long = l1_finetune(trained[1], cross_entropy, task.train, strength=1e-3, epochs=4, checkpoints=[2, 4], seed=7)
    again = l1_finetune(trained[1], cross_entropy, task.train, strength=1e-3, epochs=4, checkpoints=[2, 4],
                        seed=7)
    short = l1_finetune(trained[1], cross_entropy, task.train, strength=1e-3, epochs=2, seed=7)
    assert same_params(long[4], again[4]) and same_params(long[2], again[2])
    assert same_params(long[2], short[2])
    other = l1_finetune(trained[1], cross_entropy, task.train, strength=1e-3, epochs=2, seed=8)
    assert not same_params(other[2], short[2])  # the seed matters (mini-batch order)


def test_l1_increases_sparsity_after_pruning(task, trained):
    shares = {}
    for strength in (0.0, 3e-3):
        tuned = l1_finetune(trained[0], cross_entropy, task.train, strength=strength, epochs=3)[3]
        pruned = prune(tuned, threshold=0.02)
        shares[strength] = sparsity(pruned).overall
        assert shares[strength] == pytest.approx(zero_share(pruned), abs=1e-15)
    assert shares[3e-3] > shares[0.0] + 0.05


def test_l1_finetune_callback_and_early_stop(task, trained):
    seen = []
    snaps = l1_finetune(trained[0], cross_entropy, task.train, strength=1e-3, epochs=4, checkpoints=[1, 2, 4],
                        callback=lambda epoch, loss: seen.append((epoch, loss)) or epoch == 1)
    assert [e for e, _ in seen] == [0, 1] and all(math.isfinite(loss) for _, loss in seen)
    assert sorted(snaps) == [1, 2]  # stopped after two epochs: the checkpoint at 4 is never reached


def test_bad_l1_finetune_arguments(task, trained):
    with pytest.raises(ValueError, match=re.escape("checkpoints: expected epoch counts in [0, 3], got [1, 5]")):
        l1_finetune(trained[0], cross_entropy, task.train, strength=1e-3, epochs=3, checkpoints=[5, 1])
    with pytest.raises(ValueError, match=re.escape("checkpoints: expected epoch counts in [0, 3], got [-1]")):
        l1_finetune(trained[0], cross_entropy, task.train, strength=1e-3, epochs=3, checkpoints=[-1])
    with pytest.raises(ValueError, match=re.escape("strength: expected a number >= 0 (the L1 weight), got -0.001")):
        l1_finetune(trained[0], cross_entropy, task.train, strength=-1e-3, epochs=1)


# ------------------------------------------------------------------------------- variants
def test_skeleton_variants_grid_order_progress_and_rows(task, trained):
    calls, before = [], [copy.deepcopy(m) for m in trained]
    strengths, thresholds = (1e-3, 3e-3), (0.01, 0.05)
    variants = skeleton_variants(trained, cross_entropy, task.train, task.test, strengths=strengths,
                                 epochs=(2, 1, 2), thresholds=thresholds, lr=2e-3, seed=3,
                                 progress=lambda *args: calls.append(args))
    expected = []
    for base in (0, 1):
        expected.append((base, 0.0, 0, 0.0))
        expected += [(base, 0.0, 0, t) for t in thresholds]
        expected += [(base, s, e, t) for s, e, t in itertools.product(strengths, (1, 2), thresholds)]
    assert len(variants) == 2 * (1 + 2 + 2 * 2 * 2) == 22
    assert [(v.base, v.l1, v.epochs, v.threshold) for v in variants] == expected
    assert all(isinstance(v, Variant) for v in variants)
    assert [v.name for v in variants[:5]] == ["M1 original", "M1 t 0.01", "M1 t 0.05", "M1 L1 0.001x1 t 0.01",
                                              "M1 L1 0.001x1 t 0.05"]
    assert variants[-1].name == "M2 L1 0.003x2 t 0.05"
    assert calls == [(0, 4, "model 1: L1 0.001 for 2 epochs"), (1, 4, "model 1: L1 0.003 for 2 epochs"),
                     (2, 4, "model 2: L1 0.001 for 2 epochs"), (3, 4, "model 2: L1 0.003 for 2 epochs"),
                     (4, 4, "done")]
    keys = {"variant", "model", "l1", "epochs", "threshold", "loss", "accuracy", "test_accuracy", "sparsity"}
    (X, y), (Xt, yt) = task.train, task.test
    for v in variants:
        row = v.row()
        assert set(row) == keys
        assert (row["variant"], row["model"], row["l1"], row["epochs"], row["threshold"]) == \
               (v.name, v.base + 1, v.l1, v.epochs, v.threshold)
        assert row["sparsity"] == v.sparsity.overall == pytest.approx(zero_share(v.model), abs=1e-15)
        assert v.sparsity.zeros == sum(int(np.count_nonzero(p.detach().numpy() == 0))
                                       for p in v.model.parameters() if p.ndim >= 2)
        assert not v.model.training
        # loss and accuracies recomputed directly
        with torch.no_grad():
            out, out_t = v.model(X), v.model(Xt)
        assert row["loss"] == pytest.approx(float(nn.functional.cross_entropy(out, y)), rel=1e-6)
        assert row["accuracy"] == pytest.approx(np.mean(out.argmax(1).numpy() == y.numpy()), abs=1e-12)
        assert row["test_accuracy"] == pytest.approx(np.mean(out_t.argmax(1).numpy() == yt.numpy()), abs=1e-12)
    # the originals are unchanged copies, and the pruned controls are the originals pruned
    for base, model in enumerate(trained):
        first = variants[11 * base]
        assert same_params(first.model, model) and first.model is not model and first.sparsity.zeros == 0
        for t, v in zip(thresholds, variants[11 * base + 1:11 * base + 3]):
            assert same_params(v.model, prune(model, threshold=t))
    # an L1 variant is the fine-tuned model of a run of its own length, pruned (a second computation)
    v = variants[11 + 3 + 4 + 1]  # model 2, strength 3e-3, 1 epoch, threshold 0.05
    assert (v.base, v.l1, v.epochs, v.threshold) == (1, 3e-3, 1, 0.05)
    tuned = l1_finetune(trained[1], cross_entropy, task.train, strength=3e-3, epochs=1, lr=2e-3, seed=3)[1]
    assert same_params(v.model, prune(tuned, threshold=0.05))
    assert all(same_params(m, b) for m, b in zip(trained, before))  # the base models are not changed


def test_skeleton_variants_without_test_data_and_without_strengths(task, trained):
    variants = skeleton_variants(trained[:1], cross_entropy, task.train, strengths=(), thresholds=(0.05,))
    assert [v.name for v in variants] == ["M1 original", "M1 t 0.05"]
    assert all(math.isnan(v.test_accuracy) for v in variants)


def test_make_variant_and_evaluate(task, trained):
    model = trained[0]
    plain = make_variant(model, cross_entropy, task.train)
    assert plain.threshold == 0 and same_params(plain.model, model) and math.isnan(plain.test_accuracy)
    pruned = make_variant(model, cross_entropy, task.train, task.test, base=1, l1=0.5, epochs=2, threshold=0.05)
    assert (pruned.base, pruned.l1, pruned.epochs, pruned.name) == (1, 0.5, 2, "M2 L1 0.5x2 t 0.05")
    assert same_params(pruned.model, prune(model, threshold=0.05))
    loss, acc = evaluate(pruned.model, cross_entropy, task.test)
    assert acc == pruned.test_accuracy
    with torch.no_grad():
        assert loss == pytest.approx(float(nn.functional.cross_entropy(pruned.model(task.test[0]), task.test[1])),
                                     rel=1e-6)


def test_bad_skeleton_variant_arguments(task, trained):
    with pytest.raises(ValueError, match="models: expected at least one trained model, got none"):
        skeleton_variants([], cross_entropy, task.train)
    with pytest.raises(ValueError, match=re.escape("epochs: expected epoch counts >= 1, got [0, 2]")):
        skeleton_variants(trained, cross_entropy, task.train, epochs=[0, 2])
    with pytest.raises(ValueError, match=re.escape("epochs: expected epoch counts >= 1, got []")):
        skeleton_variants(trained, cross_entropy, task.train, epochs=[])
    with pytest.raises(ValueError, match=re.escape("threshold: expected a number in [0, inf], got -0.05")):
        skeleton_variants(trained, cross_entropy, task.train, thresholds=[-0.05])


# ------------------------------------------------------------------------------- OOD similarity
def test_ood_similarity_matches_sklearn(task, trained):
    variants = [make_variant(trained[0], cross_entropy, task.train, threshold=0.05)]
    mixed = [*variants, trained[0], trained[1]]  # Variants and plain modules mix
    S = ood_similarity(mixed, task.ood)
    reference = sk_cosine(np.stack([softmax_np(m, task.ood) for m in (variants[0].model, *trained)]))
    np.testing.assert_allclose(S, reference, rtol=0, atol=1e-9)
    labels = ood_similarity(trained, task.ood, behaviour="labels")
    with torch.no_grad():
        a, b = (m(task.ood).argmax(1).numpy() for m in trained)
    assert labels[0, 1] == pytest.approx(np.mean(a == b), abs=1e-12)
    with pytest.raises(ValueError, match="behaviour: expected one of 'softmax', 'logits', 'labels', got 'argmax'"):
        ood_similarity(trained, task.ood, behaviour="argmax")


# ------------------------------------------------------------------------------- comparing skeletons
def test_a_permuted_copy_of_a_skeleton_converges(task, trained):
    skeleton = prune(trained[0], threshold=0.05)
    perm = torch.randperm(HIDDEN[0], generator=torch.Generator().manual_seed(0))
    shuffled = permute_hidden_units(skeleton, [perm])
    result = compare_skeletons(skeleton, shuffled, task.ood)
    assert isinstance(result, SkeletonComparison)
    assert result.ood_similarity == pytest.approx(1.0, abs=1e-9)
    assert result.ood_similarity_aligned == pytest.approx(result.ood_similarity, abs=1e-6)
    assert result.overlap_before < 1.0
    assert result.overlap_before == pytest.approx(mask_overlap(masks_of(skeleton), masks_of(shuffled))["overall"])
    assert result.overlap_after == 1.0
    assert result.weight_cosine_after == pytest.approx(1.0, abs=1e-12)
    assert result.weight_cosine_before < 0.99
    assert result.sparsity_a == result.sparsity_b == pytest.approx(zero_share(skeleton), abs=1e-15)
    assert result.converged()


def overlap_reference(a, b):
    """Jaccard overlap of the kept weights, from sets of (layer, flat index)."""
    def kept(model):
        return {(i, int(j)) for i, p in enumerate(p for p in model.parameters() if p.ndim >= 2)
                for j in np.flatnonzero(p.detach().numpy())}
    ka, kb = kept(a), kept(b)
    return len(ka & kb) / len(ka | kb)


def test_two_independent_skeletons_do_not_converge(task, trained):
    a, b = prune(trained[0], threshold=0.05), prune(trained[1], fraction=0.3)
    result = compare_skeletons(a, b, task.ood)
    assert not result.converged()
    assert result.ood_similarity_aligned == pytest.approx(result.ood_similarity, abs=1e-6)
    reference = sk_cosine(np.stack([softmax_np(a, task.ood), softmax_np(b, task.ood)]))[0, 1]
    assert result.ood_similarity == pytest.approx(reference, abs=1e-9)
    assert result.overlap_before == pytest.approx(overlap_reference(a, b), abs=1e-12)
    assert result.overlap_after < 0.9
    assert result.weight_cosine_after > result.weight_cosine_before
    # chance overlap of random masks with the same kept shares p, q: pq / (p + q - pq)
    p, q = 1 - zero_share(a), 1 - zero_share(b)
    assert result.sparsity_a == pytest.approx(1 - p, abs=1e-12) and result.sparsity_b == pytest.approx(0.3, abs=1e-3)
    assert result.overlap_chance == pytest.approx(p * q / (p + q - p * q), abs=1e-12)
    # the verdict follows its two thresholds
    assert result.converged(min_overlap=0.0, min_similarity=0.0)
    assert not result.converged(min_overlap=0.0, min_similarity=1.0)
    assert result.converged(min_overlap=result.overlap_after, min_similarity=result.ood_similarity)


def test_dense_models_overlap_fully(task, trained):
    result = compare_skeletons(trained[0], trained[1], task.ood, behaviour="labels")
    assert result.overlap_before == result.overlap_after == result.overlap_chance == 1.0
    assert result.sparsity_a == result.sparsity_b == 0.0
    with torch.no_grad():
        a, b = (m(task.ood).argmax(1).numpy() for m in trained)
    assert result.ood_similarity == pytest.approx(np.mean(a == b), abs=1e-12)


def test_compare_skeletons_refuses_unsupported_or_mismatched_models(task, trained):
    other = nn.Sequential(*list(task.make_model(seed=0))[:1])  # one Linear layer: no hidden units
    with pytest.raises(ValueError, match=r"model: expected at least two Linear layers \(one hidden layer\), got 1"):
        compare_skeletons(trained[0], other, task.ood)
    wider = skeleton_task("digits", hidden=(30,), ood_size=1).make_model(seed=0)
    with pytest.raises(ValueError, match=re.escape("model_b: expected the same layer shapes as model_a "
                                                   "([(24, 64), (10, 24)]), got [(30, 64), (10, 30)]")):
        compare_skeletons(trained[0], wider, task.ood)
    conv = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2, 10))
    with pytest.raises(TypeError, match=r"model\[0\]: expected nn.Linear or an element-wise module .*got Conv2d"):
        compare_skeletons(trained[0], conv, task.ood)
    with pytest.raises(ValueError, match="behaviour: expected one of 'softmax', 'logits', 'labels', got 'probs'"):
        compare_skeletons(trained[0], trained[1], task.ood, behaviour="probs")


# ------------------------------------------------------------------------------- the study, one setting at a time
STUDY = {"lr": 1e-3, "batch_size": 128, "seed": 0}
GRID = (0.0, 0.02, 0.05, 0.1)


@pytest.fixture
def study(task, trained):
    return SkeletonStudy(trained, cross_entropy, task.train, ood=task.ood, test_data=task.test, thresholds=GRID,
                         **STUDY)


def test_study_setting_matches_the_core_functions(task, trained, study):
    record = study.setting(1e-3, 3, 0.05)
    assert isinstance(record, SkeletonRecord) and (record.l1, record.epochs, record.threshold) == (1e-3, 3, 0.05)
    assert record.names == ("M1", "M2", "M1 L1", "M2 L1", "M1 skeleton", "M2 skeleton")
    tuned = [l1_finetune(m, cross_entropy, task.train, strength=1e-3, epochs=3, **STUDY)[3] for m in trained]
    skeletons = [prune(m, threshold=0.05) for m in tuned]
    for model, got in zip(trained + tuned + skeletons, record.variants.values()):
        assert same_params(model, got)
    for skeleton, got in zip(skeletons, record.per_model):
        loss, acc = evaluate(skeleton, cross_entropy, task.train)
        assert got["loss"] == pytest.approx(loss, rel=1e-12) and got["accuracy"] == acc
        assert got["test_accuracy"] == evaluate(skeleton, cross_entropy, task.test)[1]
        assert got["sparsity"] == pytest.approx(zero_share(skeleton), abs=1e-15)
    assert record.sparsity == pytest.approx(np.mean([zero_share(s) for s in skeletons]), abs=1e-15)
    reference = sk_cosine(np.stack([softmax_np(m, task.ood) for m in trained + tuned + skeletons]))
    np.testing.assert_allclose(record.similarity, reference, atol=1e-9)
    assert record.comparison == compare_skeletons(skeletons[0], skeletons[1], task.ood)
    row = record.as_dict()
    assert row["models"] == [dict(m) for m in record.per_model] and row["names"] == list(record.names)
    assert row["similarity"] == record.similarity.tolist() and row["sparsity"] == record.sparsity
    assert row["comparison"]["overlap_after"] == record.comparison.overlap_after
    # the originals, measured the same way
    for model, got in zip(trained, study.originals):
        assert got["test_accuracy"] == evaluate(model, cross_entropy, task.test)[1] and got["sparsity"] == 0.0


def test_study_keeps_every_epoch(task, trained, study):
    calls = []

    def progress(done, total, message):
        calls.append((done, total, message))

    tuned = study.finetuned(1e-3, 3, progress)
    assert [c[:2] for c in calls] == [(k, 6) for k in range(1, 7)]
    assert calls[0][2].startswith("L1 fine-tuning model 1 of 2: epoch 1/3")
    assert "model 2 of 2: epoch 3/3" in calls[-1][2]
    calls.clear()
    shorter = study.finetuned(1e-3, 2, progress)  # every epoch was kept: nothing runs again
    again = study.finetuned(1e-3, 3, progress)
    assert calls == [] and all(a is b for a, b in zip(again, tuned))
    for model, got in zip(trained, shorter):
        assert same_params(l1_finetune(model, cross_entropy, task.train, strength=1e-3, epochs=2, **STUDY)[2], got)
    assert all(not m.training for m in tuned)
    # the skeletons are the cached snapshots pruned; the base models never changed
    for got, model in zip(study.skeletons(1e-3, 2, 0.05), shorter):
        assert same_params(got, prune(model, threshold=0.05))


def test_study_stops_when_progress_raises_and_keeps_nothing_half_done(study):
    class Stop(Exception):
        pass

    def progress(done, total, message):
        if done == 4:  # in the second model's fine-tuning
            raise Stop

    with pytest.raises(Stop):
        study.finetuned(1e-4, 3, progress)
    calls = []
    study.finetuned(1e-4, 3, lambda done, total, message: calls.append((done, total)))
    assert calls == [(k, 3) for k in range(1, 4)]  # the first model's run was kept, only the second ran again


def test_study_tradeoff(task, study):
    curve = study.tradeoff(1e-3, 3)
    assert set(curve) == {"thresholds", "accuracy", "sparsity"}
    np.testing.assert_array_equal(curve["thresholds"], GRID)
    assert curve["accuracy"].shape == curve["sparsity"].shape == (2, len(GRID))
    tuned = study.finetuned(1e-3, 3)
    for i, model in enumerate(tuned):
        for j, t in enumerate(GRID):
            pruned = prune(model, threshold=t) if t else model
            assert curve["accuracy"][i, j] == evaluate(pruned, cross_entropy, task.test)[1]
            assert curve["sparsity"][i, j] == pytest.approx(zero_share(pruned), abs=1e-15)
    assert np.all(np.diff(curve["sparsity"], axis=1) >= 0)
    curve["accuracy"][:] = -1  # a copy: the cache is untouched
    calls = []
    assert np.all(study.tradeoff(1e-3, 3, lambda *a: calls.append(a))["accuracy"] >= 0) and calls == []


def test_study_with_one_model_and_without_test_data(task, trained):
    study = SkeletonStudy(trained[:1], cross_entropy, task.train, ood=task.ood, behaviour="labels", **STUDY)
    record = study.setting(3e-4, 1, 0.02)
    assert record.comparison is None and "comparison" not in record.as_dict()
    assert record.names == ("M1", "M1 L1", "M1 skeleton") and record.similarity.shape == (3, 3)
    assert math.isnan(record.per_model[0]["test_accuracy"])
    tuned = study.finetuned(3e-4, 1)[0]
    train_acc = evaluate(prune(tuned, threshold=0.1), cross_entropy, task.train)[1]
    assert study.tradeoff(3e-4, 1)["accuracy"][0, 10] == train_acc  # default grid: 0 to 0.2 in steps of 0.01


@pytest.mark.parametrize("setting, error, message", [
    ((math.nan, 3, 0.05), ValueError, "l1: expected a finite number > 0, got nan"),
    ((math.inf, 3, 0.05), ValueError, "l1: expected a finite number > 0, got inf"),
    ((0.0, 3, 0.05), ValueError, "l1: expected a finite number > 0, got 0.0"),
    ((1e-3, 0, 0.05), ValueError, r"epochs: expected an int >= 1, got 0"),
    ((1e-3, 2.5, 0.05), TypeError, r"epochs: expected an int >= 1, got float 2.5"),
    ((1e-3, 3, -0.1), ValueError, "threshold: expected a finite number >= 0, got -0.1"),
    ((1e-3, 3, math.nan), ValueError, "threshold: expected a finite number >= 0, got nan"),
    # float32 models: Adam's squared gradient overflows beyond 1e18 (the widget refused it; now the study does)
    ((1e19, 1, 0.05), ValueError, r"l1: expected an L1 strength in \(0, 1e\+18\], got 1e\+19: a larger one "
                                  "overflows the float32 arithmetic"),
])
def test_study_refuses_bad_settings(study, setting, error, message):
    with pytest.raises(error, match=message):
        study.setting(*setting)
    assert SkeletonStudy.check_setting(1e-3, 3, 0.05) == (1e-3, 3, 0.05)
    assert study.dtype == torch.float32 and study.l1_limit() == 1e18


@pytest.mark.parametrize("change, error, message", [
    ({"models": []}, ValueError, "models: expected a list of 1 to 4 trained torch.nn.Module, got list of 0"),
    ({"models": [1]}, TypeError, r"models\[0\]: expected a torch.nn.Module, got int"),
    ({"loss_fn": None}, TypeError, r"loss_fn: expected a callable loss_fn\(outputs, labels\)"),
    ({"ood": torch.zeros(0, 64)}, TypeError, r"ood: expected a tensor \(N, ...\) .* of shape \(0, 64\)"),
    ({"thresholds": [0.1, 0.05]}, ValueError, "thresholds: expected ascending numbers >= 0"),
    ({"thresholds": [-1.0]}, ValueError, "thresholds: expected a finite number >= 0, got -1.0"),
    ({"behaviour": "probs"}, ValueError, "behaviour: expected one of 'softmax', 'logits', 'labels', got 'probs'"),
])
def test_bad_studies(task, trained, change, error, message):
    options = {"models": trained, "loss_fn": cross_entropy, "ood": task.ood}
    options.update(change)
    with pytest.raises(error, match=message):
        SkeletonStudy(options.pop("models"), options.pop("loss_fn"), task.train, **options)
