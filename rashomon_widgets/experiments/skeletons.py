"""Write-up 2's experiment: L1 fine-tuning, magnitude pruning, and out-of-distribution similarity.

Two models trained to optimality are fine-tuned with an L1 penalty (several strengths, several epoch
counts), pruned at magnitude thresholds, and compared by the cosine similarity of their predictions
on inputs from another distribution. If models on a Rashomon ridge shared one skeleton, the pruned
models would converge: behave alike off-distribution and, once their hidden units are aligned by
permutation, keep the same weights.

- :func:`skeleton_task`: data, OOD inputs and a model builder for ``"digits"`` (shipped; OOD = photo
  patches) or ``"cifar10"`` (local CIFAR-10 files; OOD = local MNIST files, padded to 32x32).
- :func:`l1_finetune`: L1-regularised fine-tuning of a copy, with snapshots at chosen epochs, and
  :func:`skeleton_variants`: the grid of variants (:class:`Variant`) with loss, accuracy, sparsity
  (both in :mod:`.variants`, importable from here).
- :func:`compare_skeletons`: OOD similarity, mask overlap and weight cosine, before and after
  aligning the hidden units (:func:`rashomon_widgets.core.comparison.alignment.weight_matching`).

Example:
    >>> task = skeleton_task("digits", ood_size=100)
    >>> model = task.make_model(seed=0)
    >>> rw.models.train(model, rw.models.cross_entropy, task.train, epochs=50, lr=1e-2)  # doctest: +SKIP
    >>> variants = skeleton_variants([model], rw.models.cross_entropy, task.train)    # doctest: +SKIP
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from ..core.comparison.alignment import weight_matching
from ..core.comparison.pruning import mask_overlap, masks_of
from ..core.comparison.similarity import cosine_similarity, prediction_vectors
from ..core.validation import check_choice, check_int
from ..models import MLP
from ..models._seeding import seeded
from .variants import Progress, Variant, evaluate, l1_finetune, make_variant, skeleton_variants

__all__ = ["SkeletonTask", "skeleton_task", "l1_finetune", "Variant", "evaluate", "make_variant",
           "skeleton_variants", "ood_similarity", "SkeletonComparison", "compare_skeletons", "Progress"]


# ----------------------------------------------------------------------------- data and models
class SkeletonTask(NamedTuple):
    """Everything the experiment needs about one task.

    Attributes:
        name: ``"digits"`` or ``"cifar10"``.
        train, test: ``(inputs, labels)`` with inputs flattened to (N, D).
        ood: (M, D) out-of-distribution inputs of the same width.
        ood_name: what the OOD inputs are, for captions.
        make_model: ``make_model(seed=...)`` builds an untrained classifier (an :class:`MLP`).
    """
    name: str
    train: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    ood: torch.Tensor
    ood_name: str
    make_model: Callable[..., nn.Module]


def _mlp(in_features: int, hidden: tuple[int, ...], seed: int | None = None) -> MLP:
    with seeded(seed):
        return MLP(in_features, hidden, 10, activation="relu")


def skeleton_task(dataset: str = "digits", *, hidden: Sequence[int] = (128, 128), ood_size: int = 500,
                  cifar_root=None, mnist_root=None, train_size: int | None = None,
                  test_size: int | None = None, seed: int = 0) -> SkeletonTask:
    """Data, OOD inputs and a model builder for write-up 2.

    Args:
        dataset: ``"digits"`` (scikit-learn's 8x8 digits; OOD: 8x8 patches of scikit-learn's sample
            photos, :func:`rashomon_widgets.data.photo_patches`) or ``"cifar10"`` (the write-up's
            setting: CIFAR-10 from the binary files under ``cifar_root``; OOD: MNIST test images from
            the IDX files under ``mnist_root``, padded to 32x32 and repeated over 3 channels). Nothing
            is downloaded.
        hidden: hidden widths of the ReLU MLP classifier (images are flattened).
        ood_size: number of OOD inputs.
        cifar_root, mnist_root: folders of the local files (``"cifar10"`` only).
        train_size, test_size: use only the first images (``"cifar10"``; None: all).
        seed: seed of the digits split and of the photo patches (``"digits"``; CIFAR-10 and MNIST are read
            in file order).

    Returns:
        a :class:`SkeletonTask`.

    Raises:
        TypeError: a non-integer ``ood_size``.
        ValueError: an unknown dataset, an ``ood_size`` below 1 or above the OOD images on disk, or
            missing roots for ``"cifar10"``; the readers' errors for missing or malformed files.
    """
    from .. import data

    dataset = check_choice(dataset, "dataset", ("digits", "cifar10"))
    hidden = tuple(int(h) for h in hidden)
    ood_size = check_int(ood_size, "ood_size")
    if dataset == "digits":
        split = data.digits(seed=seed)
        ood = data.photo_patches(ood_size, seed=seed)
        return SkeletonTask("digits", split.train, split.test, ood, "8x8 patches of photographs",
                            partial(_mlp, 64, hidden))
    if cifar_root is None or mnist_root is None:
        raise ValueError("skeleton_task('cifar10'): expected cifar_root= and mnist_root= (folders holding "
                         "the CIFAR-10 binary batches and the MNIST IDX files), got "
                         f"cifar_root={cifar_root!r}, mnist_root={mnist_root!r}")
    x, y = data.read_cifar10(Path(cifar_root), "train", limit=train_size)
    xt, yt = data.read_cifar10(Path(cifar_root), "test", limit=test_size)
    mnist, _ = data.read_mnist(Path(mnist_root), "test")
    if len(mnist) < ood_size:
        raise ValueError(f"ood_size: expected at most the {len(mnist)} MNIST test images in {mnist_root}, "
                         f"got {ood_size}")
    ood = data.mnist_as_cifar(mnist[:ood_size])
    flat = lambda images: images.reshape(images.shape[0], -1)  # noqa: E731
    return SkeletonTask("cifar10", (flat(x), y), (flat(xt), yt), flat(ood), "MNIST digits",
                        partial(_mlp, 3 * 32 * 32, hidden))


def ood_similarity(variants: Sequence[Variant | nn.Module], ood: torch.Tensor, *,
                   behaviour: str = "softmax") -> np.ndarray:
    """The cosine similarity of the variants' prediction vectors on out-of-distribution inputs.

    Args:
        variants: :class:`Variant` objects or plain models.
        ood: (M, D) the inputs.
        behaviour: what is compared (see :func:`~rashomon_widgets.core.comparison.similarity.prediction_vectors`).

    Returns:
        (V, V) numpy array.
    """
    models = [v.model if isinstance(v, Variant) else v for v in variants]
    return cosine_similarity(prediction_vectors(models, ood, behaviour=behaviour))


# ----------------------------------------------------------------------------- comparing two skeletons
@dataclass(frozen=True)
class SkeletonComparison:
    """Two pruned models compared before and after aligning model b's hidden units to model a's.

    Attributes:
        ood_similarity: cosine similarity of their OOD predictions. Permuting hidden units does not
            change a network's function, so this is the same after alignment.
        ood_similarity_aligned: the same after alignment, measured anyway as a check.
        overlap_before, overlap_after: Jaccard overlap of the kept weights (:func:`mask_overlap`, overall).
        overlap_chance: the overlap two random masks with the same sparsities would have.
        weight_cosine_before, weight_cosine_after: cosine similarity of the parameter vectors.
        sparsity_a, sparsity_b: overall sparsities.
    """
    ood_similarity: float
    ood_similarity_aligned: float
    overlap_before: float
    overlap_after: float
    overlap_chance: float
    weight_cosine_before: float
    weight_cosine_after: float
    sparsity_a: float
    sparsity_b: float

    def converged(self, *, min_overlap: float = 0.9, min_similarity: float = 0.99) -> bool:
        """Whether the two look like one skeleton: after alignment they keep nearly the same weights
        and behave nearly alike off-distribution.

        Args:
            min_overlap: the smallest aligned mask overlap that counts.
            min_similarity: the smallest OOD similarity that counts.

        Returns:
            True when both hold.
        """
        return self.overlap_after >= min_overlap and self.ood_similarity >= min_similarity


def compare_skeletons(model_a: nn.Module, model_b: nn.Module, ood: torch.Tensor, *,
                      behaviour: str = "softmax") -> SkeletonComparison:
    """Compare two (pruned) networks before and after aligning their hidden units.

    Args:
        model_a, model_b: supported networks of one architecture (see
            :func:`~rashomon_widgets.core.comparison.alignment.weight_matching`); not changed.
        ood: (M, D) out-of-distribution inputs.
        behaviour: what is compared (see :func:`ood_similarity`).

    Returns:
        a :class:`SkeletonComparison`.
    """
    alignment = weight_matching(model_a, model_b)
    sim = ood_similarity([model_a, model_b, alignment.model], ood, behaviour=behaviour)
    mask_a, mask_b, mask_b_aligned = masks_of(model_a), masks_of(model_b), masks_of(alignment.model)
    keep_a = sum(int(m.sum()) for m in mask_a.values()) / sum(m.numel() for m in mask_a.values())
    keep_b = sum(int(m.sum()) for m in mask_b.values()) / sum(m.numel() for m in mask_b.values())
    either = keep_a + keep_b - keep_a * keep_b
    return SkeletonComparison(
        ood_similarity=float(sim[0, 1]), ood_similarity_aligned=float(sim[0, 2]),
        overlap_before=mask_overlap(mask_a, mask_b)["overall"],
        overlap_after=mask_overlap(mask_a, mask_b_aligned)["overall"],
        overlap_chance=keep_a * keep_b / either if either else 1.0,
        weight_cosine_before=alignment.cosine_before, weight_cosine_after=alignment.cosine_after,
        sparsity_a=1.0 - keep_a, sparsity_b=1.0 - keep_b)
