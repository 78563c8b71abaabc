"""Hessian spectra: extreme eigenpairs (Lanczos), the exact spectrum, the density (SLQ), the trace.

All matrix-free routines run inside one :meth:`Landscape.hessian_operator` block, so the gradient graph
is built once per call and freed at its end. ``ls.last_num_products`` records how many Hessian-vector
products the last call used.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator, eigsh

from ._checks import check_choice, check_int
from ._threads import solver_threads


def _generator(seed: int, device) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(seed)
    return g


def rademacher(shape, *, seed: int, dtype, device) -> torch.Tensor:
    """Random +-1 entries, reproducible from ``seed``."""
    g = _generator(seed, device)
    return torch.randint(0, 2, shape, generator=g, device=device).to(dtype) * 2 - 1


def eigs(ls, k: int, which: str, theta: torch.Tensor, *, method: str = "auto", tol: float = 1e-6,
         ncv: int | None = None, maxiter: int | None = None, seed: int = 0):
    """The ``k`` largest or smallest eigenpairs of the Hessian at ``theta``.

    ``method="lanczos"`` runs implicitly restarted Lanczos (scipy ``eigsh``, ARPACK) on a
    ``LinearOperator`` of Hessian-vector products: no dense Hessian is formed, at either end.
    ``"dense"`` uses ``eigh`` of the dense Hessian; ``"auto"`` picks dense only for tiny models
    (P <= 32) or when ``k >= P - 1`` (which Lanczos cannot do).

    Args:
        k: how many eigenpairs, 1 <= k <= P.
        which: ``"largest"`` (algebraically largest, descending) or ``"smallest"`` (ascending).
        tol: ARPACK's relative residual tolerance; eigenvalue errors are about ``tol**2`` relative
            for well separated eigenvalues.
        seed: the start vector is drawn from it, so results are reproducible.

    Returns:
        ``(values (k,), vectors (P, k))`` in the model's dtype and device; vectors are orthonormal.

    Example:
        >>> values, vectors = ls.eigs(5)                    # doctest: +SKIP
        >>> low, null_dirs = ls.eigs(3, which="smallest")   # doctest: +SKIP
    """
    p = ls.num_params
    check_int(k, "k", 1, p)
    check_choice(which, "which", ("largest", "smallest"))
    check_choice(method, "method", ("auto", "lanczos", "dense"))
    if method == "auto":
        method = "dense" if (p <= 32 or k >= p - 1) else "lanczos"
    if method == "lanczos" and k >= p - 1:
        raise ValueError(f"k: Lanczos needs k < P - 1 = {p - 1}, got k={k}; use method='dense'")
    if method == "dense":
        values, vectors = torch.linalg.eigh(ls.hessian(theta))
        ls.last_num_products = p
        idx = torch.arange(p - 1, p - 1 - k, -1) if which == "largest" else torch.arange(k)
        return values[idx], vectors[:, idx]
    with ls.hessian_operator(theta) as op:
        def matvec(x):
            x = torch.as_tensor(np.ascontiguousarray(x).reshape(p), dtype=ls.dtype, device=ls.device)
            return op.matvec(x).double().cpu().numpy()

        lin = LinearOperator((p, p), matvec=matvec, dtype=np.float64)
        v0 = rademacher((p,), seed=seed, dtype=torch.float64, device="cpu").numpy()
        ncv = ncv or min(p, max(2 * k + 1, 20))
        with solver_threads():
            values, vectors = eigsh(lin, k=k, which="LA" if which == "largest" else "SA", tol=tol,
                                    ncv=ncv, maxiter=maxiter or 100 * p, v0=v0)
        ls.last_num_products = op.num_products
    order = np.argsort(values)
    if which == "largest":
        order = order[::-1]
    values = torch.as_tensor(values[order].copy(), dtype=ls.dtype, device=ls.device)
    vectors = torch.as_tensor(vectors[:, order].copy(), dtype=ls.dtype, device=ls.device)
    return values, vectors


def spectrum(ls, theta: torch.Tensor) -> torch.Tensor:
    """All eigenvalues of the dense Hessian, ascending (exact; small models)."""
    values = torch.linalg.eigvalsh(ls.hessian(theta))
    ls.last_num_products = ls.num_params
    return values


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


def slq(ls, theta: torch.Tensor, *, num_vectors: int = 10, num_steps: int = 80, seed: int = 0):
    """Stochastic Lanczos quadrature (Ghorbani et al. 2019): nodes and weights of the spectral measure.

    Returns:
        ``(nodes, weights)``: 1-D float64 arrays; the weights sum to 1 (each run's weights are divided
        by ``num_vectors``), so ``sum(weights * nodes) * P`` is a Hutchinson estimate of the trace.
    """
    check_int(num_vectors, "num_vectors", 1, 10_000)
    steps = check_int(num_steps, "num_steps", 1, 100_000)
    steps = min(steps, ls.num_params)
    v0 = rademacher((ls.num_params, num_vectors), seed=seed, dtype=ls.dtype, device=ls.device)
    with ls.hessian_operator(theta) as op:
        alpha, beta = lanczos(op.matvec, v0, steps)
        ls.last_num_products = op.num_products
    nodes, weights = quadrature(alpha, beta)
    return np.concatenate(nodes), np.concatenate(weights) / num_vectors


def density(ls, theta: torch.Tensor, *, num_vectors: int = 10, num_steps: int = 80, seed: int = 0,
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
    nodes, weights = slq(ls, theta, num_vectors=num_vectors, num_steps=num_steps, seed=seed)
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


def trace(ls, theta: torch.Tensor, *, method: str = "auto", num_products: int = 60, seed: int = 0) -> float:
    """The trace of the Hessian.

    ``method="hutch++"`` (Meyer et al. 2021): a third of the products finds the dominant subspace,
    whose trace is taken exactly, and Hutchinson's estimator handles the rest; far lower variance than
    plain ``"hutchinson"`` when a few eigenvalues dominate, as they do for neural networks.
    ``"exact"`` sums the dense Hessian's diagonal. ``"auto"``: exact for P <= 256, else Hutch++.
    """
    check_choice(method, "method", ("auto", "exact", "hutchinson", "hutch++"))
    check_int(num_products, "num_products", 3, 10**7)
    p = ls.num_params
    if method == "auto":
        method = "exact" if p <= 256 else "hutch++"
    if method == "exact":
        h = ls.hessian(theta)
        ls.last_num_products = p
        return float(torch.diagonal(h).sum())
    with ls.hessian_operator(theta) as op:
        if method == "hutchinson":
            z = rademacher((p, num_products), seed=seed, dtype=ls.dtype, device=ls.device)
            est = float((z * op.matvec(z)).sum()) / num_products
        else:
            m = max(1, num_products // 3)
            s = rademacher((p, m), seed=seed, dtype=ls.dtype, device=ls.device)
            g = rademacher((p, num_products - 2 * m), seed=seed + 1, dtype=ls.dtype, device=ls.device)
            q, _ = torch.linalg.qr(op.matvec(s))
            g = g - q @ (q.T @ g)
            est = float((q * op.matvec(q)).sum()) + float((g * op.matvec(g)).sum()) / g.shape[1]
        ls.last_num_products = op.num_products
    return est
