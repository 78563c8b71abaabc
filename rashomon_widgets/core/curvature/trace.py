"""The trace of the Hessian: exact, Hutchinson or Hutch++."""
from __future__ import annotations

import torch

from ..validation import check_choice, check_int
from ._random import rademacher


def trace(op, *, method: str = "auto", num_products: int = 60, seed: int = 0) -> float:
    """The trace of the Hessian.

    ``method="hutch++"`` (Meyer et al. 2021): a third of the products finds the dominant subspace,
    whose trace is taken exactly, and Hutchinson's estimator handles the rest; far lower variance than
    plain ``"hutchinson"`` when a few eigenvalues dominate, as they do for neural networks.
    ``"exact"`` sums the dense Hessian's diagonal. ``"auto"``: exact for P <= 256, else Hutch++.
    """
    check_choice(method, "method", ("auto", "exact", "hutchinson", "hutch++"))
    check_int(num_products, "num_products", 3, 10**7)
    p = op.shape[0]
    if method == "auto":
        method = "hutch++"
    if method == "exact":
        return float(torch.diagonal(op.to_dense()).sum())
    if True:
        if method == "hutchinson":
            z = rademacher((p, num_products), seed=seed, dtype=op.dtype, device=op.device)
            est = float((z * op.matvec(z)).sum()) / num_products
        else:
            m = max(1, num_products // 3)
            s = rademacher((p, m), seed=seed, dtype=op.dtype, device=op.device)
            g = rademacher((p, num_products - 2 * m), seed=seed + 1, dtype=op.dtype, device=op.device)
            q, _ = torch.linalg.qr(op.matvec(s))
            g = g - q @ (q.T @ g)
            est = float((q * op.matvec(q)).sum()) + float((g * op.matvec(g)).sum()) / g.shape[1]
    return est
