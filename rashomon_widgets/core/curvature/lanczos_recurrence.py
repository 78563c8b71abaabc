"""The Lanczos recurrence shared by the density (SLQ) and the trace estimators."""
from __future__ import annotations

from typing import NamedTuple

import torch


class Krylov(NamedTuple):
    """What :func:`krylov` returns for a block of B independent runs of m steps.

    Attributes:
        alpha: (B, m) float64 (CPU): the diagonals of the tridiagonal matrices.
        beta: (B, m - 1) float64: their off-diagonals; a run that broke down (found an invariant
            subspace) has zeros from there on.
        residual: (B,) float64: the norm of the residual after the last step (the ``beta`` a next step
            would have): Ritz pair j of a run has residual ``residual * |s[m - 1, j]|``.
        lengths: (B,) steps each run really took (shorter after a breakdown).
        basis: (m, P, B) orthonormal Lanczos vectors in the start vectors' dtype, or None.
    """

    alpha: torch.Tensor
    beta: torch.Tensor
    residual: torch.Tensor
    lengths: torch.Tensor
    basis: torch.Tensor | None


def krylov(matvec, v0: torch.Tensor, num_steps: int, *, keep_basis: bool = False) -> Krylov:
    """Lanczos with full reorthogonalisation on a block of independent start vectors.

    Stops early once every run has broken down, so that no product is spent on a zero vector.

    Args:
        matvec: ``V (P, B) -> A V (P, B)`` for a symmetric A.
        v0: start vectors (P, B), not necessarily normalised.
        num_steps: steps m (<= P).
        keep_basis: also return the Lanczos vectors (m x P x B entries of memory either way).

    Returns:
        a :class:`Krylov`.

    Example:
        >>> h = torch.diag(torch.tensor([1.0, 2.0, 2.0, 3.0], dtype=torch.float64))
        >>> run = krylov(lambda v: h @ v, torch.ones(4, 1, dtype=torch.float64), 4)
        >>> run.lengths.tolist()            # three distinct eigenvalues: the Krylov space closes after 3
        [3]
    """
    p, b = v0.shape
    basis = torch.zeros(num_steps, p, b, dtype=v0.dtype, device=v0.device)
    alpha = torch.zeros(b, num_steps, dtype=torch.float64)
    beta = torch.zeros(b, max(num_steps - 1, 0), dtype=torch.float64)
    residual = torch.zeros(b, dtype=torch.float64)
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
        nb = w.norm(dim=0)
        scale = float(alpha[:, : j + 1].abs().max())
        alive = alive & (nb > 1e-10 * scale)
        if j == num_steps - 1:
            residual = (nb * alive).double().cpu()
            break
        beta[:, j] = (nb * alive).double().cpu()
        if not bool(alive.any()):
            break
        w_prev, b_prev = v, nb
        v = torch.where(alive, w / torch.where(alive, nb, torch.ones_like(nb)), torch.zeros_like(w))
    lengths = torch.full((b,), num_steps, dtype=torch.long)
    for i in range(b):
        nz = (beta[i] == 0).nonzero()
        if len(nz):
            lengths[i] = int(nz[0]) + 1
    return Krylov(alpha, beta, residual, lengths, basis if keep_basis else None)


def tridiagonal(alpha: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """The symmetric tridiagonal matrix of a Lanczos run.

    Args:
        alpha: (m,) the diagonal.
        beta: (m - 1,) the off-diagonal.

    Returns:
        (m, m) tensor.

    Example:
        >>> tridiagonal(torch.tensor([1.0, 2.0]), torch.tensor([0.5])).tolist()
        [[1.0, 0.5], [0.5, 2.0]]
    """
    return torch.diag(alpha) + torch.diag(beta, 1) + torch.diag(beta, -1)


def quadrature(alpha: torch.Tensor, beta: torch.Tensor):
    """Gauss quadrature nodes and weights of each Lanczos run.

    Args:
        alpha: (B, m) diagonals from :func:`krylov` or :func:`lanczos`.
        beta: (B, m - 1) off-diagonals; a run is cut at its first zero (a breakdown).

    Returns:
        ``(nodes, weights)``: lists of B float64 numpy arrays; each run's weights sum to 1 and
        ``sum(weights * nodes)`` is its start vector's Rayleigh quotient.

    Example:
        >>> nodes, weights = quadrature(torch.tensor([[2.0, 2.0]], dtype=torch.float64),
        ...                             torch.tensor([[1.0]], dtype=torch.float64))
        >>> nodes[0].round(6).tolist(), weights[0].round(6).tolist()
        ([1.0, 3.0], [0.5, 0.5])
    """
    nodes, weights = [], []
    for a, b in zip(alpha, beta):
        m = len(a)
        nz = (b == 0).nonzero()
        if len(nz):
            m = int(nz[0]) + 1
        theta, s = torch.linalg.eigh(tridiagonal(a[:m], b[: m - 1]))
        nodes.append(theta.numpy())
        weights.append((s[0] ** 2).numpy())
    return nodes, weights


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

    Example:
        >>> h = torch.diag(torch.arange(1.0, 6.0, dtype=torch.float64))
        >>> alpha, beta = lanczos(lambda v: h @ v, torch.ones(5, 1, dtype=torch.float64), 5)
        >>> nodes, weights = quadrature(alpha, beta)
        >>> np.round(nodes[0], 6).tolist(), np.round(weights[0], 6).tolist()
        ([1.0, 2.0, 3.0, 4.0, 5.0], [0.2, 0.2, 0.2, 0.2, 0.2])
    """
    run = krylov(matvec, v0, num_steps)
    return run.alpha, run.beta
