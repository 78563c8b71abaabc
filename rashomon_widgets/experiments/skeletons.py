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

The parts live in :mod:`.skeleton_task` (tasks), :mod:`.variants` (fine-tuning, variants, evaluation),
:mod:`.skeleton_similarity` (OOD similarity, comparison, controls, the record of a setting) and
:mod:`.skeleton_study` (the study); every name above is importable from this module.

Example:
    >>> task = skeleton_task("digits", ood_size=100)
    >>> model = task.make_model(seed=0)
    >>> rw.models.train(model, rw.models.cross_entropy, task.train, epochs=50, lr=1e-2)  # doctest: +SKIP
    >>> variants = skeleton_variants([model], rw.models.cross_entropy, task.train)    # doctest: +SKIP
"""
from .skeleton_similarity import (
    SimilarityControls,
    SkeletonComparison,
    SkeletonRecord,
    compare_skeletons,
    ood_similarity,
    similarity_controls,
)
from .skeleton_study import SkeletonStudy
from .skeleton_task import SkeletonTask, skeleton_task
from .variants import Progress, Variant, evaluate, l1_finetune, make_variant, skeleton_variants

__all__ = ["SkeletonTask", "skeleton_task", "l1_finetune", "Variant", "evaluate", "make_variant",
           "skeleton_variants", "ood_similarity", "SkeletonComparison", "compare_skeletons", "Progress",
           "SkeletonStudy", "SkeletonRecord", "SimilarityControls", "similarity_controls"]
