"""Write-up 1's three-dimensional toy landscape L(x, y, z) = a x^2 + b y^2 as a PyTorch model.

Its Rashomon manifold is the z-axis: the Hessian is diag(2a, 2b, 0) everywhere, with the zero
eigenvector along z. Written as a model with outputs and targets so that every tool of the package
(Landscape, planes, null spaces, curves) applies to it unchanged.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence

import torch
from torch import nn

from ..core.validation import check_float_dtype, check_positive, describe
from .losses import sum_of_squares


def _check_point(point) -> tuple[float, float, float]:
    if isinstance(point, torch.Tensor):
        point = point.detach().flatten().tolist() if point.ndim == 1 else point
    if (not isinstance(point, Sequence) or isinstance(point, str) or len(point) != 3
            or not all(isinstance(c, numbers.Real) and not isinstance(c, bool) for c in point)):
        raise TypeError(f"point: expected three real numbers (x, y, z), got {describe(point)}"
                        + (f" of length {len(point)}" if isinstance(point, Sequence) else ""))
    if not all(math.isfinite(c) for c in point):
        raise ValueError(f"point: expected finite coordinates, got {tuple(point)}")
    return tuple(float(c) for c in point)


class ToyQuadratic(nn.Module):
    """A model whose sum-of-squares loss on one data point is L(x, y, z) = a x^2 + b y^2.

    The single parameter ``theta = (x, y, z)``. The output for each input row is
    ``[sqrt(a) x, sqrt(b) y]``, independent of the input's values; against a zero target the squared
    error is a x^2 + b y^2, and z, which no output depends on, is the flat direction.

    Args:
        a: curvature coefficient of x, a finite number > 0.
        b: curvature coefficient of y, a finite number > 0.
        point: the initial ``(x, y, z)``.
        dtype: floating-point dtype of ``theta``.

    Raises:
        TypeError: non-numeric ``a``, ``b`` or ``point``, or a non-floating dtype.
        ValueError: ``a`` or ``b`` not positive and finite, or a non-finite point.

    Example:
        >>> model = ToyQuadratic(a=1.0, b=0.25, point=(2.0, 2.0, 5.0))
        >>> sum_of_squares(model(torch.zeros(1, 1)), torch.zeros(1, 2, dtype=torch.float64)).item()
        5.0
    """

    def __init__(self, a: float = 1.0, b: float = 0.25, point=(0.0, 0.0, 0.0),
                 dtype: torch.dtype = torch.float64):
        super().__init__()
        self.a = check_positive(a, "a")
        self.b = check_positive(b, "b")
        dtype = check_float_dtype(dtype)
        self.theta = nn.Parameter(torch.tensor(_check_point(point), dtype=dtype))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """The outputs ``[sqrt(a) x, sqrt(b) y]`` for each input row (the inputs' values are ignored).

        Args:
            inputs: (B, ...) tensor.

        Returns:
            (B, 2) tensor.

        Raises:
            TypeError: ``inputs`` is not a tensor.
            ValueError: ``inputs`` has no leading batch dimension.
        """
        if not isinstance(inputs, torch.Tensor):
            raise TypeError(f"inputs: expected a tensor of shape (B, ...), got {describe(inputs)}")
        if inputs.ndim == 0:
            raise ValueError("inputs: expected a tensor with a leading batch dimension, got a 0-dim tensor")
        row = torch.stack([math.sqrt(self.a) * self.theta[0], math.sqrt(self.b) * self.theta[1]])
        return row.unsqueeze(0).expand(inputs.shape[0], 2)

    def extra_repr(self) -> str:
        """The coefficients, for ``repr(model)``.

        Returns:
            ``"a=..., b=..."``.
        """
        return f"a={self.a}, b={self.b}"


def toy_quadratic(a: float = 1.0, b: float = 0.25, point=(0.0, 0.0, 0.0),
                  dtype: torch.dtype = torch.float64
                  ) -> tuple[ToyQuadratic, Callable, tuple[torch.Tensor, torch.Tensor]]:
    """The toy landscape ready for a Landscape: ``(model, loss_fn, (inputs, targets))``.

    With this loss and data, ``loss = a x^2 + b y^2`` exactly and the Hessian is diag(2a, 2b, 0).

    Args:
        a: curvature coefficient of x (> 0).
        b: curvature coefficient of y (> 0).
        point: the model's ``(x, y, z)``.
        dtype: floating-point dtype of the parameter and the data.

    Returns:
        ``(model, sum_of_squares, (inputs, targets))`` with one data point: inputs zeros (1, 1),
        targets zeros (1, 2).

    Raises:
        TypeError / ValueError: as :class:`ToyQuadratic`.

    Example:
        >>> model, loss_fn, (X, y) = toy_quadratic(a=4.0, b=0.25, point=(1.0, 2.0, 3.0))
        >>> loss_fn(model(X), y).item()
        5.0
    """
    model = ToyQuadratic(a, b, point, dtype)
    inputs = torch.zeros((1, 1), dtype=dtype)
    targets = torch.zeros((1, 2), dtype=dtype)
    return model, sum_of_squares, (inputs, targets)
