"""Normalising the user's data into a list of (inputs, targets) batches on the model's device."""
from __future__ import annotations

from collections.abc import Iterable

import torch

from ._checks import describe


def _is_pair(obj) -> bool:
    return (isinstance(obj, (tuple, list)) and len(obj) == 2
            and all(isinstance(t, torch.Tensor) for t in obj))


def as_batches(data, device: torch.device) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Return the data as a list of ``(inputs, targets)`` batches moved to ``device``.

    ``data`` is either one ``(inputs, targets)`` pair of tensors, or an iterable of such pairs
    (a list, a ``torch.utils.data.DataLoader``...). An iterable is read once and kept.

    Raises:
        TypeError: ``data`` is neither.
        ValueError: empty data, or inputs and targets with different numbers of samples.
    """
    if _is_pair(data):
        pairs = [tuple(data)]
    elif isinstance(data, torch.Tensor) or not isinstance(data, Iterable):
        raise TypeError("data: expected an (inputs, targets) pair of tensors or an iterable of "
                        f"such pairs, got {describe(data)}")
    else:
        pairs = []
        for i, batch in enumerate(data):
            if not _is_pair(batch):
                raise TypeError(f"data: batch {i}: expected an (inputs, targets) pair of tensors, "
                                f"got {describe(batch)}"
                                + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else ""))
            pairs.append(tuple(batch))
        if not pairs:
            raise ValueError("data: expected at least one (inputs, targets) batch, got an empty iterable")
    out = []
    for i, (x, y) in enumerate(pairs):
        if x.ndim == 0 or y.ndim == 0:
            raise ValueError(f"data: batch {i}: expected inputs and targets with a leading sample "
                             f"dimension, got shapes {tuple(x.shape)} and {tuple(y.shape)}")
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"data: batch {i}: inputs have {x.shape[0]} samples but targets have "
                             f"{y.shape[0]} (shapes {tuple(x.shape)} and {tuple(y.shape)}); "
                             "expected the same leading size")
        if x.shape[0] == 0:
            raise ValueError(f"data: batch {i} is empty; expected at least one sample")
        out.append((x.to(device), y.to(device)))
    return out
