"""How many directions a set of vectors spans: the participation ratio of its singular values and the
number of them holding a share of its squared length (:func:`directions`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..validation import describe

__all__ = ["Directions", "directions"]


@dataclass(frozen=True)
class Directions:
    """How many directions a set of vectors spans, by the spread of its singular values.

    Attributes:
        participation: the participation ratio ``(sum s_i^2)^2 / sum s_i^4``: k for k orthogonal vectors
            of equal length, 1 for vectors along one line, between 1 and the rank otherwise.
        count: the fewest singular values holding ``share`` of ``sum s_i^2``.
        share: the share used for ``count``.
        rank: the numerical rank (singular values above ``rtol`` times the largest).
        energy: the shares ``s_i^2 / sum s_j^2``, largest first.
    """

    participation: float
    count: int
    share: float
    rank: int
    energy: np.ndarray


def directions(vectors: torch.Tensor, *, share: float = 0.9, rtol: float = 1e-4) -> Directions:
    """The effective number of directions of the rows of ``vectors``.

    Args:
        vectors: (M, P) one vector per row (computed in float64).
        share: the share of the squared length that ``count`` directions must hold, in (0, 1].
        rtol: relative threshold of the numerical rank.

    Returns:
        a :class:`Directions`.

    Raises:
        TypeError: not a tensor.
        ValueError: not 2-D, non-finite, all zero, or ``share``/``rtol`` out of range.

    Example:
        >>> d = directions(torch.eye(3, 5))
        >>> round(d.participation, 6), d.count, d.rank
        (3.0, 3, 3)
    """
    if not isinstance(vectors, torch.Tensor):
        raise TypeError(f"vectors: expected a tensor (M, P), got {describe(vectors)}")
    if vectors.ndim != 2 or vectors.shape[0] == 0:
        raise ValueError(f"vectors: expected a 2-D tensor (M, P) with M >= 1, got shape {tuple(vectors.shape)}")
    if not (0 < share <= 1) or not (0 < rtol < 1):
        raise ValueError(f"share, rtol: expected 0 < share <= 1 and 0 < rtol < 1, got {share}, {rtol}")
    v = vectors.detach().double().cpu()
    if not bool(torch.isfinite(v).all()):
        raise ValueError("vectors: expected finite values, got NaN or inf")
    s = torch.linalg.svdvals(v)
    if float(s[0]) == 0:
        raise ValueError("vectors: expected at least one non-zero vector, got only zeros")
    lam = (s ** 2).numpy()
    energy = lam / lam.sum()
    count = int(np.searchsorted(np.cumsum(energy), share - 1e-12) + 1)
    return Directions(participation=float(lam.sum() ** 2 / (lam ** 2).sum()), count=min(count, len(lam)),
                      share=float(share), rank=int((s > rtol * s[0]).sum()), energy=energy)
