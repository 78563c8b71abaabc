"""The XOR data set: the four points of {0, 1}^2 and their exclusive-or."""
from __future__ import annotations

import torch

from ..core.validation import check_float_dtype


def xor(dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """The four XOR points, the data of write-up 3's 9-parameter network.

    Args:
        dtype: floating-point dtype of both tensors (float64 by default: the exact Hessian
            analysis of a tiny net wants double precision).

    Returns:
        ``(inputs, targets)``: inputs of shape (4, 2) with rows (0, 0), (0, 1), (1, 0), (1, 1), and
        targets of shape (4, 1) holding 0., 1., 1., 0.

    Raises:
        TypeError: ``dtype`` is not a floating-point dtype.

    Example:
        >>> X, y = xor()
        >>> y.flatten().tolist()
        [0.0, 1.0, 1.0, 0.0]
    """
    dtype = check_float_dtype(dtype)
    inputs = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=dtype)
    targets = (inputs[:, :1] != inputs[:, 1:]).to(dtype)
    return inputs, targets
