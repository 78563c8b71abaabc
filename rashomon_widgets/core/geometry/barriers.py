"""Pairwise distances and straight-line loss barriers between any set of models (:func:`pairwise_barriers`).

The barrier of a segment is its highest loss minus the mean of its endpoints' losses. Mode connectivity is
measured the same way along curves: Garipov et al. (2018), "Loss surfaces, mode connectivity, and fast
ensembling of DNNs"; Draxler et al. (2018), "Essentially no barriers in neural network energy landscape".
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..validation import check_int, describe

__all__ = ["Barriers", "pairwise_barriers"]


@dataclass(frozen=True)
class Barriers:
    """Pairwise distances and straight-line loss barriers (:func:`pairwise_barriers`).

    Attributes:
        names: a label per model.
        loss: (n,) each model's loss.
        distance: (n, n) ``|theta_i - theta_j|``.
        peak: (n, n) the highest loss on the segment between i and j (endpoints included).
        barrier: (n, n) ``peak`` minus the mean of the two endpoints' losses (0 on the diagonal).
        barrier_max: (n, n) ``peak`` minus the larger endpoint loss: above 0 only where the segment
            rises above both ends.
    """

    names: list
    loss: np.ndarray
    distance: np.ndarray
    peak: np.ndarray
    barrier: np.ndarray
    barrier_max: np.ndarray


def pairwise_barriers(ls, points: torch.Tensor, *, names=None, num: int = 17) -> Barriers:
    """Distances and straight-line barriers between every pair of models.

    Args:
        ls: the :class:`rashomon_widgets.Landscape` whose loss is measured.
        points: (n, P) the models, n >= 2.
        names: n labels (default ``"0"``, ``"1"``...).
        num: points per segment, endpoints included, at least 3.

    Returns:
        a :class:`Barriers`.

    Raises:
        TypeError, ValueError: points of the wrong shape, names of the wrong length, ``num`` below 3.

    Example:
        >>> b = pairwise_barriers(ls, torch.stack([theta_a, theta_b]), names=["a", "b"])   # doctest: +SKIP
        >>> b.barrier[0, 1]                                                                # doctest: +SKIP
    """
    if not isinstance(points, torch.Tensor):
        raise TypeError(f"points: expected a tensor (n, P), got {describe(points)}")
    if points.ndim != 2 or points.shape[0] < 2:
        raise ValueError(f"points: expected a tensor (n, P) with n >= 2, got shape {tuple(points.shape)}")
    points = torch.stack([ls.check_theta(p) for p in points])
    n = points.shape[0]
    names = [str(i) for i in range(n)] if names is None else [str(v) for v in names]
    if len(names) != n:
        raise ValueError(f"names: expected {n} labels, got {len(names)}")
    num = check_int(num, "num", 3)
    loss = np.asarray(ls.losses(points).double().cpu().numpy(), dtype=np.float64)
    s = torch.linspace(0, 1, num, dtype=points.dtype, device=points.device)[1:-1, None]
    distance = torch.cdist(points.double(), points.double()).cpu().numpy()
    peak = np.diag(loss).astype(np.float64)
    for i in range(n):
        for j in range(i + 1, n):
            inner = ls.losses((1 - s) * points[i][None, :] + s * points[j][None, :]).double().cpu().numpy()
            peak[i, j] = peak[j, i] = max(float(inner.max()), loss[i], loss[j])
    barrier = peak - 0.5 * (loss[:, None] + loss[None, :])
    barrier_max = peak - np.maximum(loss[:, None], loss[None, :])
    np.fill_diagonal(distance, 0.0)
    return Barriers(names=names, loss=loss, distance=distance, peak=peak, barrier=barrier, barrier_max=barrier_max)
