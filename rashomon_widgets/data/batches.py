"""Splitting an ``(inputs, targets)`` pair into mini-batches."""
from __future__ import annotations

import torch

from ..core.validation import check_int, check_seed, describe


def batches(inputs: torch.Tensor, targets: torch.Tensor, batch_size: int, *, shuffle: bool = False,
            seed: int | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Split samples into consecutive mini-batches (the last one may be smaller).

    Args:
        inputs: tensor with a leading sample dimension (N, ...).
        targets: tensor with the same leading size N.
        batch_size: samples per batch, a positive integer (larger than N gives one batch).
        shuffle: permute the samples first.
        seed: seed of the permutation when ``shuffle`` is true (None: torch's global generator).

    Returns:
        A list of ``(x, y)`` tuples covering every sample exactly once, in order unless shuffled.

    Raises:
        TypeError: inputs or targets not tensors, or ``batch_size`` not an integer.
        ValueError: no leading dimension, different sample counts, no samples, or ``batch_size < 1``.

    Example:
        >>> X, y = torch.zeros(10, 3), torch.zeros(10)
        >>> [len(x) for x, _ in batches(X, y, 4)]
        [4, 4, 2]
    """
    for name, tensor in (("inputs", inputs), ("targets", targets)):
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"{name}: expected a torch.Tensor, got {describe(tensor)}")
        if tensor.ndim == 0:
            raise ValueError(f"{name}: expected a tensor with a leading sample dimension, got a 0-dim tensor")
    if inputs.shape[0] != targets.shape[0]:
        raise ValueError(f"inputs have {inputs.shape[0]} samples but targets have {targets.shape[0]} "
                         f"(shapes {tuple(inputs.shape)} and {tuple(targets.shape)}); expected the same")
    if inputs.shape[0] == 0:
        raise ValueError("inputs: expected at least one sample, got 0")
    batch_size = check_int(batch_size, "batch_size")
    n = inputs.shape[0]
    if shuffle:
        generator = None
        if seed is not None:
            generator = torch.Generator().manual_seed(check_seed(seed))
        order = torch.randperm(n, generator=generator).to(inputs.device)
        inputs, targets = inputs[order], targets[order.to(targets.device)]
    return [(inputs[i:i + batch_size], targets[i:i + batch_size]) for i in range(0, n, batch_size)]
