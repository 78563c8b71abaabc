"""XTrace (Epperly, Tropp & Webber 2024): a trace estimator that uses every random vector twice.

With ``k = m / 2`` Gaussian test vectors ``Omega``, ``Y = H Omega = QR`` and ``Z = H Q`` (m products in
all), the i-th leave-one-out estimate takes the trace exactly on the span of the other ``k - 1``
sketch columns and adds a Hutchinson term on ``omega_i`` projected onto its complement:

    t_i = tr(Q_i^T H Q_i) + (P - k + 1) u_i^T H u_i / |u_i|^2,   u_i = (I - Q_i Q_i^T) omega_i.

``Q_i`` does not depend on ``omega_i``, so each ``t_i`` is unbiased; the estimate is their mean and
their spread gives the error. Everything after the products is k x k algebra: the span of all columns
but i is ``Q (I - s_i s_i^T) Q^T`` with ``s_i`` the normalised i-th column of ``R^{-T}``.
"""
from __future__ import annotations

import math

import torch

from .probes import gaussian


def xtrace(op, num_products: int, generator: torch.Generator):
    """The XTrace estimate of ``tr(H)`` and its standard error, from ``2 * (num_products // 2)`` products.

    :func:`~.trace_estimators.trace` with ``method="xtrace"`` wraps this in a :class:`TraceEstimate`.

    Args:
        op: a :class:`HessianOperator` (``matvec``, ``shape``, ``dtype``, ``device``).
        num_products: the budget m (>= 2; >= 4 for a finite error); k = min(m // 2, P) test vectors.
        generator: the ``torch.Generator`` the Gaussian test vectors are drawn from.

    Returns:
        ``(value, stderr, dof, magnitude)``: the mean of the k leave-one-out estimates, their standard
        deviation over ``sqrt(k)``, ``k - 1`` degrees of freedom for the interval, and the size of the
        terms summed (for the rounding floor).

    Example:
        >>> from rashomon_widgets.core.curvature.probes import generator
        >>> class Dense:                                 # any symmetric matrix as an operator
        ...     def __init__(self, h): self.h, self.shape, self.dtype, self.device = h, h.shape, h.dtype, h.device
        ...     def matvec(self, v): return self.h @ v
        >>> h = torch.diag(torch.linspace(1, 2, 6, dtype=torch.float64))
        >>> value, stderr, dof, _ = xtrace(Dense(h), 12, generator(0, "cpu"))   # k = 6 = P: exact
        >>> round(value, 10), dof
        (9.0, 5)
    """
    p = op.shape[0]
    k = min(num_products // 2, p)
    omega = gaussian((p, k), generator=generator, dtype=op.dtype, device=op.device)
    y = op.matvec(omega).double()
    omega = omega.double()
    q, r = torch.linalg.qr(y)
    z = op.matvec(q.to(op.dtype)).double()
    h = q.T @ z
    h = (h + h.T) / 2
    w = q.T @ omega                                          # (k, k): omega_i in the basis Q
    s = _loo_directions(r)                                   # (k, k): column i spans Q's part not in Y_{-i}
    hs, hw = h @ s, h @ w
    s_h_s = (s * hs).sum(0)
    c = (s * w).sum(0)                                       # s_i^T w_i
    # u_i = (I - QQ^T) omega_i + c_i Q s_i; its H-norm from known quantities only:
    # omega_i^T H omega_i = omega_i^T y_i, Q^T H omega_i = r_i, Q^T H Q = h
    perp = (omega * y).sum(0) - 2 * (r * w).sum(0) + (w * hw).sum(0)
    u_h_u = perp + 2 * c * (s * (r - hw)).sum(0) + c ** 2 * s_h_s
    u_norm2 = ((omega * omega).sum(0) - (w * w).sum(0) + c ** 2).clamp_min(torch.finfo(torch.float64).tiny)
    residual = (p - k + 1) * u_h_u / u_norm2
    estimates = torch.trace(h) - s_h_s + residual
    stderr = float(estimates.std() / math.sqrt(k)) if k > 1 else math.inf
    magnitude = float(torch.linalg.eigvalsh(h).abs().sum() + residual.abs().mean())
    return float(estimates.mean()), stderr, k - 1, magnitude


def _loo_directions(r: torch.Tensor) -> torch.Tensor:
    """The normalised columns of ``R^{-T}``: column i is orthogonal to every column of R but the i-th.

    A (numerically) singular R, from a sketch wider than the Hessian's rank, has its tiny diagonal
    entries raised to a relative floor, so the directions stay finite (they then point along the
    sketch's noise, which the Hessian nearly annihilates).
    """
    k = r.shape[0]
    d = r.diagonal()
    floor = k * torch.finfo(torch.float64).eps * float(d.abs().max().clamp_min(torch.finfo(torch.float64).tiny))
    safe = torch.where(d.abs() < floor, torch.where(d < 0, -floor, floor), d)
    r = r - torch.diag(d) + torch.diag(safe)
    eye = torch.eye(k, dtype=r.dtype, device=r.device)
    s = torch.linalg.solve_triangular(r.T, eye, upper=False)  # R^T S = I, so S = R^{-T}
    return s / s.norm(dim=0, keepdim=True)
