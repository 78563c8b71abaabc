"""Write-up 2's experiment: L1 fine-tuning, magnitude pruning, and out-of-distribution similarity.

Two models trained to optimality are fine-tuned with an L1 penalty (several strengths, several epoch
counts), pruned at magnitude thresholds, and compared by the cosine similarity of their predictions
on inputs from another distribution. If models on a Rashomon ridge shared one skeleton, the pruned
models would converge: behave alike off-distribution and, once their hidden units are aligned by
permutation, keep the same weights.

- :func:`skeleton_task`: data, OOD inputs and a model builder for ``"digits"`` (shipped; OOD = photo
  patches) or ``"cifar10"`` (local CIFAR-10 files; OOD = local MNIST files, padded to 32x32).
- :func:`l1_finetune`: L1-regularised fine-tuning of a copy, with snapshots at chosen epochs.
- :func:`skeleton_variants`: the grid of variants (:class:`Variant`) with loss, accuracy, sparsity.
- :func:`compare_skeletons`: OOD similarity, mask overlap and weight cosine, before and after
  aligning the hidden units (:func:`rashomon_widgets.core.comparison.alignment.weight_matching`).

Example:
    >>> task = skeleton_task("digits", ood_size=100)
    >>> model = task.make_model(seed=0)
    >>> rw.models.train(model, rw.models.cross_entropy, task.train, epochs=50, lr=1e-2)  # doctest: +SKIP
    >>> variants = skeleton_variants([model], rw.models.cross_entropy, task.train)    # doctest: +SKIP
"""
from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from ..core.comparison.alignment import weight_matching
from ..core.comparison.pruning import Sparsity, mask_overlap, masks_of, prune, sparsity
from ..core.comparison.similarity import cosine_similarity, prediction_vectors
from ..models import MLP, accuracy, train
from ..models._seeding import seeded

Progress = Callable[[int, int, str], None]


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

    Raises:
        ValueError: an unknown dataset, or missing roots for ``"cifar10"``; the readers' errors for
            missing or malformed files.
    """
    from .. import data

    hidden = tuple(int(h) for h in hidden)
    if isinstance(ood_size, bool) or not isinstance(ood_size, int) or ood_size < 1:
        raise ValueError(f"ood_size: expected an int >= 1, got {ood_size!r}")
    if dataset == "digits":
        split = data.digits(seed=seed)
        ood = data.photo_patches(ood_size, seed=seed)
        return SkeletonTask("digits", split.train, split.test, ood, "8x8 patches of photographs",
                            partial(_mlp, 64, hidden))
    if dataset == "cifar10":
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
        flat = lambda t: t.reshape(t.shape[0], -1)  # noqa: E731
        return SkeletonTask("cifar10", (flat(x), y), (flat(xt), yt), flat(ood), "MNIST digits",
                            partial(_mlp, 3 * 32 * 32, hidden))
    raise ValueError(f"dataset: expected 'digits' or 'cifar10', got {dataset!r}")


# ----------------------------------------------------------------------------- fine-tuning
def l1_finetune(model: nn.Module, loss_fn: Callable, data, *, strength: float, epochs: int,
                checkpoints: Sequence[int] | None = None, lr: float = 1e-3, batch_size: int | None = 64,
                seed: int = 0, callback: Callable[[int, float], bool | None] | None = None
                ) -> dict[int, nn.Module]:
    """Fine-tune a **copy** of ``model`` with the penalty ``strength * ||theta||_1`` (Adam).

    Args:
        model: a trained model (not changed).
        loss_fn, data: as for :func:`rashomon_widgets.models.train`.
        strength: the L1 weight, >= 0.
        epochs: epochs of fine-tuning.
        checkpoints: epoch counts at which to keep a copy (default: only ``epochs``); each <= epochs.
        lr, batch_size, seed: of the Adam fine-tuning (the same seed gives the same snapshots).
        callback: ``callback(epoch, loss)`` after every epoch; returning True stops early.

    Returns:
        ``{epoch count: fine-tuned copy}`` in eval mode (0 maps to an unchanged copy). When ``callback``
        stops the training early, only the checkpoints reached are in it.

    Raises:
        ValueError: a negative ``strength``, checkpoints outside [0, epochs], or the errors of ``train``.
    """
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not strength >= 0:
        raise ValueError(f"strength: expected a number >= 0 (the L1 weight), got {strength!r}")
    checkpoints = sorted({int(epochs)} if checkpoints is None else {int(e) for e in checkpoints})
    if any(e < 0 or e > epochs for e in checkpoints):
        raise ValueError(f"checkpoints: expected epoch counts in [0, {epochs}], got {checkpoints}")
    tuned = copy.deepcopy(model)
    snapshots = {0: copy.deepcopy(tuned).eval()} if 0 in checkpoints else {}

    def keep(epoch: int, loss: float):
        if epoch + 1 in checkpoints:
            snapshots[epoch + 1] = copy.deepcopy(tuned).eval()
        return callback(epoch, loss) if callback is not None else None

    train(tuned, loss_fn, data, epochs=epochs, lr=lr, l1=strength, batch_size=batch_size, seed=seed,
          callback=keep)
    return snapshots


# ----------------------------------------------------------------------------- variants
@dataclass
class Variant:
    """One model of the study: a base model, optionally L1 fine-tuned, optionally pruned.

    Attributes:
        base: index of the base model (0 for "model 1").
        l1, epochs: the fine-tuning (0, 0 for none).
        threshold: the magnitude pruning threshold (0 for none).
        loss, accuracy: on the training data; ``test_accuracy`` on the test data (NaN without).
        sparsity: a :class:`~rashomon_widgets.core.comparison.pruning.Sparsity` (per layer and overall).
        model: the network itself (eval mode).
    """
    base: int
    l1: float
    epochs: int
    threshold: float
    loss: float
    accuracy: float
    test_accuracy: float
    sparsity: Sparsity
    model: nn.Module = field(repr=False)

    @property
    def name(self) -> str:
        parts = [f"M{self.base + 1}"]
        if self.epochs:
            parts.append(f"L1 {self.l1:g}x{self.epochs}")
        if self.threshold:
            parts.append(f"t {self.threshold:g}")
        return " ".join(parts) if len(parts) > 1 else parts[0] + " original"

    def row(self) -> dict:
        return {"variant": self.name, "model": self.base + 1, "l1": self.l1, "epochs": self.epochs,
                "threshold": self.threshold, "loss": self.loss, "accuracy": self.accuracy,
                "test_accuracy": self.test_accuracy, "sparsity": self.sparsity.overall}


def evaluate(model: nn.Module, loss_fn: Callable, data) -> tuple[float, float]:
    """``(loss, accuracy)`` of ``model`` on ``(inputs, labels)`` in eval mode, without gradients (the
    model's own mode is restored afterwards)."""
    inputs, labels = data
    param = next(model.parameters())
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(inputs.to(param.device, param.dtype))
            return float(loss_fn(out, labels.to(param.device))), accuracy(out, labels.to(param.device))
    finally:
        model.train(was_training)


def make_variant(model: nn.Module, loss_fn: Callable, train_data, test_data=None, *, base: int = 0,
                 l1: float = 0.0, epochs: int = 0, threshold: float = 0.0) -> Variant:
    """Prune ``model`` (a copy) at ``threshold`` (0: no pruning) and measure it."""
    pruned = prune(model, threshold=threshold) if threshold else copy.deepcopy(model).eval()
    loss, acc = evaluate(pruned, loss_fn, train_data)
    test_acc = evaluate(pruned, loss_fn, test_data)[1] if test_data is not None else math.nan
    return Variant(base, float(l1), int(epochs), float(threshold), loss, acc, test_acc, sparsity(pruned), pruned)


def skeleton_variants(models: Sequence[nn.Module], loss_fn: Callable, train_data, test_data=None, *,
                      strengths: Sequence[float] = (1e-4, 3e-4, 1e-3), epochs: Sequence[int] = (5, 20),
                      thresholds: Sequence[float] = (0.01, 0.05), lr: float = 1e-3, batch_size: int | None = 64,
                      seed: int = 0, progress: Progress | None = None) -> list[Variant]:
    """Write-up 2's grid: for every base model, the original, the original pruned at every threshold
    (the control: pruning without L1), and every (strength, epochs, threshold) of L1 + pruning.

    Returns:
        The variants, base model by base model, in the order above.
    """
    if not models:
        raise ValueError("models: expected at least one trained model, got none")
    strengths = [float(s) for s in strengths]
    epoch_list = sorted({int(e) for e in epochs})
    thresholds = [float(t) for t in thresholds]
    if not epoch_list or epoch_list[0] < 1:
        raise ValueError(f"epochs: expected epoch counts >= 1, got {list(epochs)}")
    total, done = len(models) * len(strengths), 0
    variants: list[Variant] = []
    measure = partial(make_variant, loss_fn=loss_fn, train_data=train_data, test_data=test_data)
    for i, model in enumerate(models):
        variants.append(measure(model, base=i))
        variants += [measure(model, base=i, threshold=t) for t in thresholds]
        for s in strengths:
            if progress is not None:
                progress(done, total, f"model {i + 1}: L1 {s:g} for {epoch_list[-1]} epochs")
            snaps = l1_finetune(model, loss_fn, train_data, strength=s, epochs=epoch_list[-1],
                                checkpoints=epoch_list, lr=lr, batch_size=batch_size, seed=seed)
            for e in epoch_list:
                variants += [measure(snaps[e], base=i, l1=s, epochs=e, threshold=t) for t in thresholds]
            done += 1
    if progress is not None:
        progress(total, total, "done")
    return variants


def ood_similarity(variants: Sequence[Variant | nn.Module], ood: torch.Tensor, *,
                   behaviour: str = "softmax") -> np.ndarray:
    """The (V, V) cosine similarity of the variants' prediction vectors on ``ood``."""
    models = [v.model if isinstance(v, Variant) else v for v in variants]
    return cosine_similarity(prediction_vectors(models, ood, behaviour=behaviour))


# ----------------------------------------------------------------------------- comparing two skeletons
@dataclass(frozen=True)
class SkeletonComparison:
    """Two pruned models compared before and after aligning model b's hidden units to model a's.

    Attributes:
        ood_similarity: cosine similarity of their OOD predictions. Permuting hidden units does not
            change a network's function, so this is the same after alignment (``ood_similarity_aligned``
            is measured anyway, as a check).
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
        (overlap >= ``min_overlap``) and behave nearly alike off-distribution."""
        return self.overlap_after >= min_overlap and self.ood_similarity >= min_similarity


def compare_skeletons(model_a: nn.Module, model_b: nn.Module, ood: torch.Tensor, *,
                      behaviour: str = "softmax") -> SkeletonComparison:
    """Compare two (pruned) networks; see :class:`SkeletonComparison`."""
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
