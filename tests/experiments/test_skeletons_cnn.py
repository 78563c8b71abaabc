"""Write-up 2 on a CNN over real MNIST digits: ``skeleton_task("mnist_cnn")`` gives images and natural-image OOD
patches, and ``compare_skeletons`` compares CNNs without aligning them (weight matching supports MLPs only)."""
import pytest
import torch

from rashomon_widgets.core.comparison.pruning import prune
from rashomon_widgets.experiments.skeletons import compare_skeletons, skeleton_task


def test_mnist_cnn_task_and_unaligned_comparison(one_torch_thread):
    task = skeleton_task("mnist_cnn", hidden=(8,), channels=(2, 4), ood_size=20, train_size=60, test_size=30)
    assert task.name == "mnist_cnn" and task.train[0].shape == (60, 1, 28, 28) and task.test[1].shape == (30,)
    assert task.ood.shape == (20, 1, 28, 28) and 0 <= float(task.ood.min()) and float(task.ood.max()) <= 1
    a, b = task.make_model(seed=0), task.make_model(seed=1)
    assert sum(p.numel() for p in a.parameters()) == 2 * 9 + 2 + 4 * 2 * 9 + 4 + 4 * 144 * 8 + 8 + 8 * 10 + 10
    pa, pb = prune(a, threshold=0.05), prune(b, threshold=0.05)
    c = compare_skeletons(pa, pb, task.ood)
    assert not c.aligned
    assert c.overlap_after == c.overlap_before and c.weight_cosine_after == c.weight_cosine_before
    assert c.ood_similarity_aligned == pytest.approx(c.ood_similarity, abs=1e-12)
    same = compare_skeletons(pa, prune(a, threshold=0.05), task.ood)
    assert same.overlap_before == 1.0 and same.weight_cosine_before == pytest.approx(1.0, abs=1e-12)
    va = torch.cat([p.detach().flatten() for p in pa.parameters()]).double()
    vb = torch.cat([p.detach().flatten() for p in pb.parameters()]).double()
    assert c.weight_cosine_before == pytest.approx(float(va @ vb / (va.norm() * vb.norm())), rel=1e-9)
    with pytest.raises(ValueError):
        skeleton_task("mnist_cnn", hidden=(8, 8))
    wider = skeleton_task("mnist_cnn", hidden=(8,), channels=(3, 4), ood_size=1, train_size=1, test_size=1)
    with pytest.raises(ValueError, match="model_b: expected the same parameter shapes as model_a"):
        compare_skeletons(pa, wider.make_model(seed=0), task.ood)
