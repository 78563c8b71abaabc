"""Loss functions ``loss_fn(outputs, targets) -> scalar`` written to compose with ``torch.func``.

``mse_loss`` and ``sum_of_squares`` spell the square out instead of calling
``torch.nn.functional.mse_loss``: on torch 2.13 forward-over-reverse differentiation (``jvp`` of
``grad``, the Hessian-vector product of the core) through ``F.mse_loss`` fails with "ZeroTensors are
immutable" (pytorch issue 123996).

``sum_of_squares`` adds the per-sample losses instead of averaging them, so the write-ups' identities
hold exactly (at a global minimum H = 2 G G^T). When its data is split into batches, tell the
Landscape so: ``Landscape(model, sum_of_squares, batches, reduction="sum")``; batch losses are then
added, not averaged.

Example:
    >>> out, y = torch.tensor([[1.0], [3.0]]), torch.tensor([[0.0], [1.0]])
    >>> float(mse_loss(out, y)), float(sum_of_squares(out, y))
    (2.5, 5.0)
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..core.validation import describe


def _check_same_shape(outputs, targets, name: str) -> None:
    for label, tensor in (("outputs", outputs), ("targets", targets)):
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"{name}: expected {label} to be a tensor, got {describe(tensor)}")
    if outputs.shape != targets.shape:
        raise ValueError(f"{name}: expected outputs and targets of the same shape, got "
                         f"{tuple(outputs.shape)} and {tuple(targets.shape)} (silent broadcasting "
                         "would compare every output with every target)")


def mse_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean squared error ``((outputs - targets) ** 2).mean()`` over all entries.

    Args:
        outputs: model outputs, any shape.
        targets: tensor of the same shape.

    Returns:
        A scalar tensor.

    Raises:
        TypeError: a non-tensor argument.
        ValueError: shapes differ.

    Example:
        >>> float(mse_loss(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0])))
        2.5
    """
    _check_same_shape(outputs, targets, "mse_loss")
    return ((outputs - targets) ** 2).mean()


def sum_of_squares(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Sum of squared errors ``((outputs - targets) ** 2).sum()``: a Landscape needs ``reduction="sum"``.

    Args:
        outputs: model outputs, any shape.
        targets: tensor of the same shape.

    Returns:
        A scalar tensor.

    Raises:
        TypeError: a non-tensor argument.
        ValueError: shapes differ.

    Example:
        >>> float(sum_of_squares(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0])))
        5.0
    """
    _check_same_shape(outputs, targets, "sum_of_squares")
    return ((outputs - targets) ** 2).sum()


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of raw logits against integer class indices (``F.cross_entropy``).

    Args:
        logits: tensor (N, C) of unnormalised scores.
        targets: integer tensor (N,) of class indices in 0 .. C - 1.

    Returns:
        A scalar tensor.

    Raises:
        TypeError: non-tensors, or targets that are not integers.
        ValueError: shapes that do not fit (N, C) and (N,).

    Example:
        >>> logits = torch.tensor([[10.0, 0.0], [0.0, 10.0]])
        >>> float(cross_entropy(logits, torch.tensor([0, 1]))) < 1e-4
        True
    """
    for label, tensor in (("logits", logits), ("targets", targets)):
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"cross_entropy: expected {label} to be a tensor, got {describe(tensor)}")
    if targets.dtype.is_floating_point or targets.dtype.is_complex or targets.dtype == torch.bool:
        raise TypeError(f"cross_entropy: expected integer class-index targets (int64), got dtype "
                        f"{targets.dtype}; for one-hot or 0/1 targets use mse_loss or sum_of_squares")
    if logits.ndim != 2 or targets.ndim != 1 or logits.shape[0] != targets.shape[0]:
        raise ValueError(f"cross_entropy: expected logits (N, C) and targets (N,), got "
                         f"{tuple(logits.shape)} and {tuple(targets.shape)}")
    return F.cross_entropy(logits, targets)


# how each loss reduces over samples, read by rw.Landscape (as it reads torch.nn losses' .reduction)
mse_loss.reduction = "mean"
sum_of_squares.reduction = "sum"
cross_entropy.reduction = "mean"
