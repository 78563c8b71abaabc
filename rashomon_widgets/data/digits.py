"""scikit-learn's bundled handwritten digits (1797 8x8 images): the default in-distribution task."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from ..core.validation import check_float_dtype, check_fraction, check_seed


class Split(NamedTuple):
    """A train/test split.

    Attributes:
        train: ``(X, y)`` the training part.
        test: ``(X, y)`` the test part.
    """

    train: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]


def digits(test_size: float = 0.25, seed: int = 0, dtype: torch.dtype = torch.float32) -> Split:
    """The 8x8 digits of ``sklearn.datasets.load_digits`` (shipped with scikit-learn, no download).

    Pixel values (0..16 in the source) are scaled to [0, 1]; the split is stratified by class, so
    train and test hold the ten digits in the same proportions.

    Args:
        test_size: share of the 1797 images that go to the test part, strictly between 0 and 1.
        seed: seed of the shuffle before splitting (the same seed gives the same split).
        dtype: floating-point dtype of the images.

    Returns:
        ``Split(train=(X, y), test=(X, y))`` with X of shape (N, 64) in [0, 1] and y int64 labels
        0..9 of shape (N,).

    Raises:
        TypeError: ``dtype`` is not floating point, or ``test_size`` / ``seed`` of the wrong type.
        ValueError: ``test_size`` outside (0, 1) or too small to hold one image of each class.

    Example:
        >>> split = digits()
        >>> X, y = split.train
        >>> X.shape, y.dtype
        (torch.Size([1347, 64]), torch.int64)
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    test_size = check_fraction(test_size, "test_size")
    seed = check_seed(seed)
    dtype = check_float_dtype(dtype)
    bunch = load_digits()
    X = bunch.data.astype(np.float64) / 16.0
    y = bunch.target.astype(np.int64)
    n_test = int(np.ceil(test_size * len(y)))
    n_classes = len(np.unique(y))
    if n_test < n_classes or len(y) - n_test < n_classes:
        raise ValueError(f"test_size: expected a share leaving at least {n_classes} images (one per "
                         f"class) in each part of the {len(y)} images, got {test_size}")
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y)

    def pair(X_part, y_part):
        return torch.as_tensor(X_part, dtype=dtype), torch.as_tensor(y_part, dtype=torch.int64)

    return Split(train=pair(X_tr, y_tr), test=pair(X_te, y_te))
