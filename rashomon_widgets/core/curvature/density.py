"""The Hessian's eigenvalue density by stochastic Lanczos quadrature (Ghorbani et al. 2019)."""
from __future__ import annotations

import numpy as np
import torch

from ..validation import check_int
from ._random import rademacher


def lanczos(matvec, v0: torch.Tensor, num_steps: int):
    """Lanczos with full reorthogonalisation on a block of independent start vectors.

    Args:
        matvec: ``V (P, B) -> H V (P, B)``.
        v0: start vectors (P, B), not necessarily normalised.
        num_steps: steps m (<= P).

    Returns:
        ``(alpha (B, m), beta (B, m - 1))`` in float64: each run's tridiagonal matrix. A run that
        breaks down early (an invariant subspace) has its remaining coefficients zero-padded and is
        trimmed by :func:`quadrature`.
    """
    p, b = v0.shape
    basis = torch.zeros(num_steps, p, b, dtype=v0.dtype, device=v0.device)
    alpha = torch.zeros(b, num_steps, dtype=torch.float64)
    beta = torch.zeros(b, max(num_steps - 1, 0), dtype=torch.float64)
    v = v0 / v0.norm(dim=0, keepdim=True)
    alive = torch.ones(b, dtype=torch.bool, device=v0.device)
    w_prev, b_prev = torch.zeros_like(v), torch.zeros(b, dtype=v0.dtype, device=v0.device)
    for j in range(num_steps):
        basis[j] = v
        w = matvec(v) - b_prev * w_prev
        a = (w * v).sum(0)
        alpha[:, j] = (a * alive).double().cpu()
        w = w - a * v
        for _ in range(2):  # full reorthogonalisation, twice is enough
            w = w - torch.einsum("jpb,jb->pb", basis[: j + 1], torch.einsum("jpb,pb->jb", basis[: j + 1], w))
        if j == num_steps - 1:
            break
        nb = w.norm(dim=0)
        alive = alive & (nb > 1e-10 * alpha[:, : j + 1].abs().max().to(nb))
        beta[:, j] = (nb * alive).double().cpu()
        w_prev, b_prev = v, nb
        v = torch.where(alive, w / torch.where(alive, nb, torch.ones_like(nb)), torch.zeros_like(w))
    return alpha, beta


def quadrature(alpha: torch.Tensor, beta: torch.Tensor):
    """Gauss quadrature nodes and weights of each Lanczos run: ``(nodes, weights)`` lists of arrays."""
    nodes, weights = [], []
    for a, b in zip(alpha, beta):
        m = len(a)
        nz = (b == 0).nonzero()
        if len(nz):
            m = int(nz[0]) + 1
        t = torch.diag(a[:m]) + torch.diag(b[: m - 1], 1) + torch.diag(b[: m - 1], -1)
        theta, s = torch.linalg.eigh(t)
        nodes.append(theta.numpy())
        weights.append((s[0] ** 2).numpy())
    return nodes, weights


def slq(op, *, num_vectors: int = 10, num_steps: int = 80, seed: int = 0):
    """Stochastic Lanczos quadrature (Ghorbani et al. 2019): nodes and weights of the spectral measure.

    Returns:
        ``(nodes, weights)``: 1-D float64 arrays; the weights sum to 1 (each run's weights are divided
        by ``num_vectors``), so ``sum(weights * nodes) * P`` is a Hutchinson estimate of the trace.
    """
    check_int(num_vectors, "num_vectors", 1, 10_000)
    steps = check_int(num_steps, "num_steps", 1, 100_000)
    p = op.shape[0]
    steps = min(steps, p)
    v0 = rademacher((p, num_vectors), seed=seed, dtype=op.dtype, device=op.device)
    alpha, beta = lanczos(op.matvec, v0, steps)
    nodes, weights = quadrature(alpha, beta)
    return np.concatenate(nodes), np.concatenate(weights) / num_vectors


def density(op, *, num_vectors: int = 10, num_steps: int = 80, seed: int = 0,
            grid_size: int = 1000, sigma: float | None = None):
    """Eigenvalue density of the Hessian by stochastic Lanczos quadrature, Gaussian-broadened.

    Args:
        num_vectors: random Rademacher start vectors (runs).
        num_steps: Lanczos steps per run (capped at P).
        grid_size: points of the returned grid.
        sigma: width of the Gaussian placed on each node; default 1% of the spectrum's range.

    Returns:
        ``(grid, density)``: float64 numpy arrays; the density integrates to 1 over the grid (which
        extends 6 sigma past the extreme nodes), and ``trapezoid(grid * density, grid) * P`` estimates
        the trace.

    Example:
        >>> grid, dens = ls.density(num_vectors=5)     # doctest: +SKIP
    """
    nodes, weights = slq(op, num_vectors=num_vectors, num_steps=num_steps, seed=seed)
    lo, hi = float(nodes.min()), float(nodes.max())
    if sigma is None:
        sigma = 0.01 * max(hi - lo, abs(hi), 1e-12)
    if not sigma > 0:
        raise ValueError(f"sigma: expected a positive width, got {sigma}")
    grid = np.linspace(lo - 6 * sigma, hi + 6 * sigma, grid_size)
    dens = (weights[None, :] * np.exp(-0.5 * ((grid[:, None] - nodes[None, :]) / sigma) ** 2)).sum(1)
    dens /= sigma * np.sqrt(2 * np.pi)
    dens /= np.trapezoid(dens, grid)
    return grid, dens
