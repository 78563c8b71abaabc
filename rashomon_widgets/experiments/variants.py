"""Write-up 2's variants: L1 fine-tuning of trained models, magnitude pruning, and their measures.

:func:`skeleton_variants` builds the grid of the write-up: every base model as it is, pruned at every
threshold, and L1 fine-tuned (every strength, every epoch count) then pruned; each a :class:`Variant`
with its loss, accuracy and sparsity. :mod:`.skeletons` compares them.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from torch import nn

from ..core.batches import as_batches, evaluate_batches, takes_indices
from ..core.comparison.pruning import Sparsity, prune, sparsity
from ..core.validation import check_nonnegative
from ..models import accuracy, train

#: ``progress(done, total, message)``
Progress = Callable[[int, int, str], None]


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
    strength = check_nonnegative(strength, "strength", "a number >= 0 (the L1 weight)")
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
        loss, accuracy: on the training data.
        test_accuracy: on the test data (NaN without).
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
        """A short label: ``"M1 original"``, ``"M1 t 0.05"``, ``"M2 L1 0.001x20 t 0.05"``."""
        parts = [f"M{self.base + 1}"]
        if self.epochs:
            parts.append(f"L1 {self.l1:g}x{self.epochs}")
        if self.threshold:
            parts.append(f"t {self.threshold:g}")
        return " ".join(parts) if len(parts) > 1 else parts[0] + " original"

    def row(self) -> dict:
        """The variant as a table row (without the model).

        Returns:
            a dict: variant, model, l1, epochs, threshold, loss, accuracy, test_accuracy, sparsity.
        """
        return {"variant": self.name, "model": self.base + 1, "l1": self.l1, "epochs": self.epochs,
                "threshold": self.threshold, "loss": self.loss, "accuracy": self.accuracy,
                "test_accuracy": self.test_accuracy, "sparsity": self.sparsity.overall}


def evaluate(model: nn.Module, loss_fn: Callable, data) -> tuple[float, float]:
    """The loss and accuracy of ``model``, in eval mode, without gradients (the model's own mode is
    restored afterwards).

    Args:
        model: the network.
        loss_fn: ``loss_fn(outputs, labels) -> scalar``.
        data: ``(inputs, labels)`` (or a list of such batches: the loss is then weighted as
            :func:`~rashomon_widgets.core.batches.evaluate_batches` weighs a loss that averages).

    Returns:
        ``(loss, accuracy)``, two floats.
    """
    param = next(model.parameters())
    batches = as_batches(data, param.device, param.dtype, indices=takes_indices(model))
    was_training = model.training
    model.eval()
    try:
        loss, out, labels = evaluate_batches(model, loss_fn, batches)
    finally:
        model.train(was_training)
    return loss, accuracy(out, labels)


def make_variant(model: nn.Module, loss_fn: Callable, train_data, test_data=None, *, base: int = 0,
                 l1: float = 0.0, epochs: int = 0, threshold: float = 0.0) -> Variant:
    """Prune ``model`` (a copy) at ``threshold`` and measure it.

    Args:
        model: the (possibly fine-tuned) network; not changed.
        loss_fn: ``loss_fn(outputs, labels) -> scalar``.
        train_data, test_data: ``(inputs, labels)``; ``test_data`` may be None.
        base, l1, epochs: recorded in the :class:`Variant` (which base model, how it was fine-tuned).
        threshold: the magnitude pruning threshold (0: no pruning).

    Returns:
        a :class:`Variant`.
    """
    pruned = prune(model, threshold=threshold) if threshold else copy.deepcopy(model).eval()
    loss, acc = evaluate(pruned, loss_fn, train_data)
    test_acc = evaluate(pruned, loss_fn, test_data)[1] if test_data is not None else math.nan
    return Variant(base, float(l1), int(epochs), float(threshold), loss, acc, test_acc, sparsity(pruned), pruned)


def skeleton_variants(models: Sequence[nn.Module], loss_fn: Callable, train_data, test_data=None, *,
                      strengths: Sequence[float] = (1e-4, 3e-4, 1e-3), epochs: Sequence[int] = (5, 20),
                      thresholds: Sequence[float] = (0.01, 0.05), lr: float = 1e-3, batch_size: int | None = 64,
                      seed: int = 0, progress: Progress | None = None, unpruned: bool = False) -> list[Variant]:
    """Write-up 2's grid: for every base model, the original, the original pruned at every threshold
    (the control: pruning without L1), and every (strength, epochs, threshold) of L1 + pruning.

    With ``unpruned=True`` every L1 fine-tuned model is also kept before pruning (threshold 0, just before
    its pruned copies), so that what pruning changes can be told from what L1 changes.

    Args:
        models: the trained base models (not changed).
        loss_fn: ``loss_fn(outputs, labels) -> scalar``.
        train_data, test_data: ``(inputs, labels)``; ``test_data`` may be None.
        strengths: the L1 strengths of the fine-tuning.
        epochs: epoch counts of the fine-tuning (each a snapshot of one run per strength).
        thresholds: the magnitude pruning thresholds.
        lr, batch_size, seed: of the fine-tuning (see :func:`l1_finetune`).
        progress: ``progress(done, total, message)`` before each fine-tuning run and at the end.
        unpruned: also keep every L1 fine-tuned model unpruned.

    Returns:
        The variants, base model by base model, in the order above.

    Raises:
        ValueError: no models, or epoch counts below 1; the errors of :func:`l1_finetune`.
    """
    if not models:
        raise ValueError("models: expected at least one trained model, got none")
    strengths = [float(s) for s in strengths]
    epoch_list = sorted({int(e) for e in epochs})
    thresholds = [float(threshold) for threshold in thresholds]
    tuned_thresholds = ([0.0] if unpruned else []) + [t for t in thresholds if not (unpruned and t == 0)]
    if not epoch_list or epoch_list[0] < 1:
        raise ValueError(f"epochs: expected epoch counts >= 1, got {list(epochs)}")
    total, done = len(models) * len(strengths), 0
    variants: list[Variant] = []
    measure = partial(make_variant, loss_fn=loss_fn, train_data=train_data, test_data=test_data)
    for i, model in enumerate(models):
        variants.append(measure(model, base=i))
        variants += [measure(model, base=i, threshold=threshold) for threshold in thresholds]
        for s in strengths:
            if progress is not None:
                progress(done, total, f"model {i + 1}: L1 {s:g} for {epoch_list[-1]} epochs")
            snaps = l1_finetune(model, loss_fn, train_data, strength=s, epochs=epoch_list[-1],
                                checkpoints=epoch_list, lr=lr, batch_size=batch_size, seed=seed)
            for e in epoch_list:
                variants += [measure(snaps[e], base=i, l1=s, epochs=e, threshold=threshold)
                             for threshold in tuned_thresholds]
            done += 1
    if progress is not None:
        progress(total, total, "done")
    return variants
