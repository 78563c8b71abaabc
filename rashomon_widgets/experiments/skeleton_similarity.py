"""Write-up 2's measures: out-of-distribution similarity of variants (:func:`ood_similarity`), two
skeletons compared before and after aligning their hidden units (:func:`compare_skeletons`), the
controls that show the measure can tell models apart (:func:`similarity_controls`), and the record of
one setting of the study (:class:`SkeletonRecord`).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from ..core.comparison.alignment import linear_layers, weight_matching
from ..core.comparison.pruning import mask_overlap, masks_of, prune
from ..core.comparison.similarity import cosine_similarity, label_agreement, predicted_classes, prediction_vectors
from ..core.validation import check_real
from .variants import Variant

__all__ = ["ood_similarity", "SkeletonComparison", "compare_skeletons", "SimilarityControls",
           "similarity_controls", "SkeletonRecord"]


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

    Raises:
        ValueError: models that are not MLPs (no weight matching) with different parameter shapes.
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
