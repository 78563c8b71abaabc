"""skeleton_variants(..., unpruned=True): every L1 fine-tuned model is also kept before pruning, right before its
pruned copies, so notebook 02 can tell what L1 changed from what pruning changed."""
import pytest
import torch

from rashomon_widgets.core.comparison.pruning import prune
from rashomon_widgets.experiments.skeletons import l1_finetune, skeleton_task, skeleton_variants
from rashomon_widgets.models import cross_entropy, train


def same_params(a, b):
    pa, pb = dict(a.named_parameters()), dict(b.named_parameters())
    return pa.keys() == pb.keys() and all(torch.equal(pa[n], pb[n]) for n in pa)


@pytest.fixture(scope="module")
def setup(one_torch_thread):
    task = skeleton_task("digits", hidden=(16,), ood_size=1, seed=0)
    model = task.make_model(seed=0)
    train(model, cross_entropy, task.train, epochs=5, lr=1e-2, batch_size=128, seed=0)
    return task, model


def test_unpruned_variants_come_first_and_are_the_fine_tuned_models(setup):
    task, model = setup
    variants = skeleton_variants([model], cross_entropy, task.train, strengths=(0.0, 1e-3), epochs=(1, 2),
                                 thresholds=(0.02, 0.05), unpruned=True, seed=1)
    keys = [(v.l1, v.epochs, v.threshold) for v in variants]
    assert keys == [(0.0, 0, 0.0), (0.0, 0, 0.02), (0.0, 0, 0.05),
                    (0.0, 1, 0.0), (0.0, 1, 0.02), (0.0, 1, 0.05), (0.0, 2, 0.0), (0.0, 2, 0.02), (0.0, 2, 0.05),
                    (1e-3, 1, 0.0), (1e-3, 1, 0.02), (1e-3, 1, 0.05), (1e-3, 2, 0.0), (1e-3, 2, 0.02), (1e-3, 2, 0.05)]
    assert variants[9].name == "M1 L1 0.001x1" and variants[10].name == "M1 L1 0.001x1 t 0.02"
    tuned = l1_finetune(model, cross_entropy, task.train, strength=1e-3, epochs=2, checkpoints=(1, 2), seed=1)
    for k, e in ((9, 1), (12, 2)):
        assert same_params(variants[k].model, tuned[e])          # unpruned: the fine-tuned model itself
        assert same_params(variants[k + 2].model, prune(tuned[e], threshold=0.05))
    # without unpruned=True the grid is the one it always was
    plain = skeleton_variants([model], cross_entropy, task.train, strengths=(1e-3,), epochs=(1,),
                              thresholds=(0.02, 0.05), seed=1)
    assert [(v.l1, v.epochs, v.threshold) for v in plain] == [(0.0, 0, 0.0), (0.0, 0, 0.02), (0.0, 0, 0.05),
                                                              (1e-3, 1, 0.02), (1e-3, 1, 0.05)]


def test_a_zero_threshold_is_not_repeated(setup):
    task, model = setup
    variants = skeleton_variants([model], cross_entropy, task.train, strengths=(1e-3,), epochs=(1,),
                                 thresholds=(0.0, 0.05), unpruned=True)
    assert [(v.l1, v.epochs, v.threshold) for v in variants if v.epochs] == [(1e-3, 1, 0.0), (1e-3, 1, 0.05)]
