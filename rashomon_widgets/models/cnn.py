"""A small convolutional network for 28x28 MNIST digits: the size of model a user brings (0.6-1.2M parameters)."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..core.torch_state import seeded
from ..core.validation import check_float_dtype, check_int


class MnistCNN(nn.Sequential):
    """Conv(1 -> c1, 3x3) - ReLU - Conv(c1 -> c2, 3x3) - ReLU - MaxPool(2) - Linear(c2 * 144 -> hidden) - ReLU -
    Linear(hidden -> 10), for (N, 1, 28, 28) images; outputs raw logits.

    ``channels=(16, 32), hidden=128`` has 596,042 parameters; ``(32, 64)`` has 1,199,882.

    Args:
        channels: the two convolutions' output channels.
        hidden: width of the hidden linear layer.

    Raises:
        TypeError / ValueError: channels or width that are not positive ints.
    """

    def __init__(self, channels: Sequence[int] = (16, 32), hidden: int = 128):
        if isinstance(channels, (str, bytes)) or not isinstance(channels, Sequence) or len(channels) != 2:
            raise TypeError(f"channels: expected two ints (c1, c2), got {channels!r}")
        c1, c2 = (check_int(c, "channels") for c in channels)
        hidden = check_int(hidden, "hidden")
        super().__init__(
            nn.Conv2d(1, c1, 3), nn.ReLU(), nn.Conv2d(c1, c2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(c2 * 12 * 12, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def mnist_cnn(channels: Sequence[int] = (16, 32), hidden: int = 128, seed: int | None = None,
              dtype: torch.dtype = torch.float32) -> MnistCNN:
    """An untrained :class:`MnistCNN` for :func:`rashomon_widgets.data.mnist`, its initialisation seeded.

    Args:
        channels: the two convolutions' output channels: ``(16, 32)`` gives 596,042 parameters,
            ``(32, 64)`` 1,199,882, ``(2, 4)`` (for tests) 75,242.
        hidden: width of the hidden linear layer.
        seed: seed of the initialisation (None: torch's global generator).
        dtype: floating-point dtype of the parameters.

    Returns:
        An untrained :class:`MnistCNN` (raw logits: use ``cross_entropy``).

    Example:
        >>> sum(p.numel() for p in mnist_cnn(seed=0).parameters())
        596042
        >>> sum(p.numel() for p in mnist_cnn((32, 64), seed=0).parameters())
        1199882
    """
    dtype = check_float_dtype(dtype)
    with seeded(seed):
        model = MnistCNN(channels, hidden)
    return model.to(dtype)
