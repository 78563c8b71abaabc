"""Write-up 2's study, one setting at a time, with every fine-tuned epoch kept (:class:`SkeletonStudy`)."""
from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..core.cache import LRUCache
from ..core.comparison.pruning import prune, sparsity
from ..core.validation import check_callable, check_choice, check_int, check_real
from .skeleton_similarity import SkeletonRecord, compare_skeletons, ood_similarity
from .variants import Progress, evaluate, l1_finetune

__all__ = ["SkeletonStudy"]


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
        self._snapshots: LRUCache[float, list[dict[int, nn.Module]]] = LRUCache(self.cache_size)
        self._curves: LRUCache[tuple[float, int], dict[str, np.ndarray]] = LRUCache(16 * self.cache_size)
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
        self.check_l1(l1)
        with self._lock:
            return self._finetuned(l1, epochs, progress)

    @property
    def dtype(self) -> torch.dtype:
        """The floating dtype of the base models' parameters (float32 when they have none)."""
        return next((p.dtype for p in self.models[0].parameters() if p.is_floating_point()), torch.float32)

    def check_l1(self, l1: float) -> float:
        """Check that the fine-tuning's arithmetic carries an L1 strength (at most :meth:`l1_limit`).

        Args:
            l1: the L1 strength, already a finite number > 0 (:meth:`check_setting`).

        Returns:
            ``l1``.

        Raises:
            ValueError: ``l1`` above :meth:`l1_limit`, with the reason.
        """
        top = self.l1_limit()
        if l1 > top:
            raise ValueError(f"l1: expected an L1 strength in (0, {top:g}], got {l1:g}: a larger one overflows the "
                             f"{str(self.dtype).removeprefix('torch.')} arithmetic of the Adam fine-tuning, which "
                             "squares the penalty's gradient l1 * sign(w) (the weights freeze, or the loss turns NaN)")
        return l1

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
        return {k: v.copy() for k, v in self._curves[key].items()}
