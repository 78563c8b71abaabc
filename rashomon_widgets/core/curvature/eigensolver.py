"""Extreme eigenpairs of a symmetric operator: restarted Lanczos (Krylov-Schur) from products alone,
ARPACK as a second method, and ``eigh`` for a dense matrix, all ordered the same way.

Reference: Stewart (2002), A Krylov-Schur algorithm for large eigenproblems; the error bound
``min(rho, rho**2 / gap)`` is Parlett (1998), The Symmetric Eigenvalue Problem.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy.sparse.linalg import eigsh

from ..torch_state import solver_threads
from ..validation import check_callable, check_choice, check_int, check_tolerance
from .linear_operator import LinearOperatorLike
from .probes import rademacher
from .spectra import Eigenpairs, default_tol


class NoConvergence(RuntimeError):
    """:func:`lanczos_eigs` ran out of products before every eigenvalue met the tolerance."""


def lanczos_eigs(op: LinearOperatorLike, k: int, which: str = "largest", *, tol: float = 1e-6, ncv: int | None = None,
                 maxiter: int | None = None, seed: int = 0, start: torch.Tensor | None = None,
                 solver: str = "krylov-schur", progress: Callable[[int, int], None] | None = None):
    """The ``k`` largest or smallest eigenpairs of a symmetric operator from its products alone.

    The default solver is Lanczos with full reorthogonalisation, restarted Krylov-Schur style when its
    basis is full (the ``k + (ncv - k) // 2`` wanted Ritz vectors are kept), with the recurrence in
    float64 whatever the model's dtype. It stops after the product at which every wanted Ritz value
    ``theta`` has an error bound ``min(rho, rho**2 / gap)`` of at most ``tol * |theta|``: ``rho`` is the
    Ritz pair's residual norm (free from the recurrence) and ``gap`` the distance to the nearest other
    Ritz value. The limit is never below the products' rounding, ``10 eps * max |theta|`` (eps of the
    model's dtype): a zero eigenvalue is known to that absolute accuracy. ARPACK (``solver="arpack"``, scipy
    ``eigsh``) checks its residuals only once ``ncv`` vectors are built and bounds residuals rather than
    eigenvalue errors, so it needs more products for the same accuracy (counts in ``benchmarks/results.md``).

    One start vector's Krylov space holds one direction of each eigenspace, so a repeated eigenvalue is
    found once. Where that shows (an answer holding a zero eigenvalue, as at a minimum, or two equal
    ones), the extreme eigenvalue on the complement of the vectors found is computed too, from a fresh
    random vector, until it no longer belongs among the wanted ones (at most ``k`` times): the three
    smallest eigenvalues at a minimum come out as three zeros, not one zero and the next two. Like
    every Krylov method it can still miss an eigenvalue whose eigenvector is nearly orthogonal to the
    start vector, or an exactly repeated non-zero one found once; a second ``seed`` is the check.

    Args:
        op: a symmetric operator (:class:`~.linear_operator.LinearOperatorLike`: ``matvec``, ``shape``,
            ``dtype``, ``device``, ``num_products``), such as a :class:`HessianOperator`; ARPACK also needs
            its ``as_linear_operator()``.
        k: how many, 1 <= k < P - 1.
        which: ``"largest"`` (algebraically largest, descending) or ``"smallest"`` (ascending).
        tol: relative accuracy of the eigenvalues (the bound above); for ARPACK its relative residual
            tolerance (eigenvalue errors are then about ``tol**2`` relative when well separated).
        ncv: basis vectors kept (default ``max(2k + 1, 20)``, capped at P); memory is ``ncv x P``
            float64 numbers.
        maxiter: restarts at most (default 100; ARPACK: 100 P).
        seed: the random start vector is drawn from it, so results are reproducible.
        start: warm start: vectors (P,) or (P, j), e.g. the eigenvectors at a nearby point (a slider's
            previous position); Lanczos starts from their sum. Near the previous point the wanted
            eigenvectors nearly span the first ``k`` Krylov vectors, so a few products beyond ``k``
            suffice. Only for the default solver.
        solver: ``"krylov-schur"`` (default) or ``"arpack"``.
        progress: called as ``progress(products_done, products_at_most)`` before each product; it may
            raise to stop the work (an explorer does, when a newer slider value arrives).

    Returns:
        :class:`Eigenpairs` ``(values (k,), vectors (P, k))`` in the operator's dtype and device, vectors
        orthonormal, with the ``num_products`` they cost.

    Raises:
        ValueError: ``k`` out of range, ``which``/``solver`` unknown, ``start`` of the wrong shape.
        TypeError: a ``progress`` that is not callable.
        NoConvergence: ``maxiter`` restarts were not enough (the message gives the worst bound).

    Example:
        >>> h = torch.diag(torch.arange(1.0, 41.0, dtype=torch.float64))
        >>> class Op:
        ...     shape, dtype, device, num_products = (40, 40), torch.float64, "cpu", 0
        ...     def matvec(self, v):
        ...         self.num_products += 1 if v.ndim == 1 else v.shape[1]
        ...         return h @ v
        >>> values, vectors = pairs = lanczos_eigs(Op(), 3)
        >>> values.round(decimals=4).tolist(), pairs.num_products > 0
        ([40.0, 39.0, 38.0], True)
    """
    p = op.shape[0]
    check_int(k, "k", 1, p)
    check_choice(which, "which", ("largest", "smallest"))
    check_choice(solver, "solver", ("krylov-schur", "arpack"))
    check_callable(progress, "progress", "progress(done, total)", optional=True)
    if k >= p - 1:
        raise ValueError(f"k: Lanczos needs k < P - 1 = {p - 1}, got k={k}; use method='dense'")
    ncv = min(p, ncv or max(2 * k + 1, 20))
    if ncv <= k:
        raise ValueError(f"ncv: needs k < ncv <= P (k={k}, P={p}), got ncv={ncv}")
    if solver == "arpack":
        if start is not None:
            raise ValueError("start: a warm start needs solver='krylov-schur' (ARPACK takes one start vector)")
        before = op.num_products
        values, vectors = _arpack_eigs(op, k, which, tol=tol, ncv=ncv, maxiter=maxiter or 100 * p, seed=seed)
        return Eigenpairs(values, vectors, num_products=op.num_products - before)
    if start is not None:
        start = torch.as_tensor(start)
        if start.ndim not in (1, 2) or start.shape[0] != p or start.numel() == 0:
            raise ValueError(f"start: expected vectors (P,) or (P, j) with P={p}, got shape {tuple(start.shape)}")
        v0 = (start if start.ndim == 1 else start.sum(1)).to(device=op.device, dtype=torch.float64)
        if not bool(torch.isfinite(v0).all()) or float(v0.norm()) == 0.0:
            v0 = None  # nothing to start from: a random vector
    else:
        v0 = None
    if v0 is None:
        v0 = rademacher((p,), seed=seed, dtype=torch.float64, device="cpu").to(op.device)
    options = {"tol": check_tolerance(tol, "tol"), "ncv": ncv, "restarts": 100 if maxiter is None else maxiter,
               "progress": progress}
    before = op.num_products
    values, vectors = _krylov_schur(op, k, which == "largest", v0, seed=seed, **options)
    values, vectors = _more_copies(op, values, vectors, which == "largest", seed=seed, **options)
    return Eigenpairs(values.to(op.dtype), vectors.to(op.dtype), num_products=op.num_products - before)


def _more_copies(op, values, vectors, largest: bool, *, seed: int, **options):
    """Copies of a repeated eigenvalue that a single start vector cannot see.

    The Krylov space of one vector holds one direction of each eigenspace, so an eigenvalue of
    multiplicity m is found once (the others only by rounding). That is the rule, not the exception, for
    a zero eigenvalue at a minimum (the null space), so when the answer holds an eigenvalue that is zero
    by the package's near-zero rule (:func:`default_tol`), or two equal ones, the extreme eigenvalue of
    the Hessian on the complement of the vectors found is computed from a fresh random vector; while it
    belongs among the wanted ones it replaces the last of them. (An exactly repeated non-zero
    eigenvalue found once gives no such sign and is not searched for.)
    """
    k = len(values)
    for attempt in range(1, k + 1):
        scale = float(values.abs().max())
        limit = _accuracy(values, options["tol"], op.dtype, scale)
        zero = bool((values.abs() <= default_tol(op.dtype) * scale).any())
        equal = k > 1 and bool(((values[1:] - values[:-1]).abs() <= limit[1:] + limit[:-1]).any())
        if not (zero or equal):
            break
        v0 = rademacher((op.shape[0],), seed=seed + 104729 * attempt, dtype=torch.float64,
                        device="cpu").to(vectors.device)
        value, vector = _krylov_schur(op, 1, largest, v0, seed=seed + attempt, locked=vectors, **options)
        gain = (value[0] - values[-1]) if largest else (values[-1] - value[0])
        if float(gain) <= float(limit[-1]):
            break
        values = torch.cat([values[:-1], value])
        vectors = torch.cat([vectors[:, :-1], vector], 1)
        order = torch.argsort(values, descending=largest, stable=True)
        values, vectors = values[order], vectors[:, order]
    return values, vectors


def _accuracy(values: torch.Tensor, tol: float, dtype: torch.dtype, scale: float) -> torch.Tensor:
    """How accurately each eigenvalue is wanted: ``tol`` relative to it, but never below the products' own
    rounding (10 eps of the model's dtype times ``scale``, the largest |eigenvalue| seen), which is how
    accurately a zero eigenvalue can be known."""
    return torch.clamp(tol * values.abs(), min=10 * torch.finfo(dtype).eps * scale)


def _krylov_schur(op, k: int, largest: bool, v0: torch.Tensor, *, tol: float, ncv: int, restarts: int,
                  seed: int, progress, locked: torch.Tensor | None = None):
    """Restarted Lanczos with full reorthogonalisation (float64); see :func:`lanczos_eigs`. With ``locked``
    (P, j) orthonormal float64 columns, on the complement of their span (H projected onto it)."""
    p, dev = op.shape[0], v0.device

    def deflate(w):
        if locked is not None:
            w = w - locked @ (locked.T @ w)
        return w

    v0 = deflate(deflate(v0))
    basis = torch.zeros(p, ncv + 1, dtype=torch.float64, device=dev)
    proj = torch.zeros(ncv, ncv, dtype=torch.float64)  # Q^T H Q, built column by column
    basis[:, 0] = v0 / v0.norm()
    m, done, budget = 0, 0, ncv + restarts * (ncv - k)
    keep = min(ncv - 1, k + (ncv - k) // 2)
    fresh = 0  # random vectors drawn after a breakdown (an invariant subspace)
    while True:
        if progress is not None:
            progress(done, budget)
        w = deflate(op.matvec(basis[:, m].to(op.dtype)).to(torch.float64))
        done += 1
        q = basis[:, : m + 1]
        h = q.T @ w
        w = deflate(w - q @ h)
        h2 = q.T @ w  # twice is enough
        w = deflate(w - q @ h2)
        h = (h + h2).cpu()
        proj[: m + 1, m] = h
        proj[m, : m + 1] = h
        beta = float(w.norm())
        m += 1
        theta, s = torch.linalg.eigh(proj[:m, :m])
        if largest:
            theta, s = theta.flip(0), s.flip(1)
        scale = float(theta.abs().max()) if m else 0.0
        exhausted = m == p - (0 if locked is None else locked.shape[1])
        if m > k or exhausted:  # one Ritz value beyond the wanted ones, so that each has a gap to the rest
            rho = beta * s[m - 1, :k].abs()
            gaps = (theta[:k, None] - theta[None, :]).abs()
            gaps[torch.arange(k), torch.arange(k)] = float("inf")
            gap = gaps.min(1).values
            bound = torch.minimum(rho, torch.where(torch.isfinite(gap) & (gap > 0), rho ** 2 / gap, rho))
            limit = _accuracy(theta[:k], tol, op.dtype, scale)
            if exhausted or bool((bound <= limit).all()):
                vectors = basis[:, :m] @ s[:, :k].to(dev)
                return theta[:k], vectors
            if done >= budget:
                worst = float((bound / limit).max())
                raise NoConvergence(
                    f"lanczos_eigs: {done} products ({restarts} restarts of ncv={ncv}) left an error bound "
                    f"{worst:.1e} times its limit (tol={tol:g} relative); raise maxiter or ncv, or loosen tol")
        # the Krylov space closed (to float64 rounding; the dropped residual is below 1e-13 of the scale, so
        # the Ritz values keep that accuracy): continue from a random vector orthogonal to it
        if beta <= 1e-13 * max(scale, 1e-300) and not exhausted:
            fresh += 1
            w = rademacher((p,), seed=seed + 7919 * fresh, dtype=torch.float64, device="cpu").to(dev)
            for _ in range(2):
                w = deflate(w - basis[:, :m] @ (basis[:, :m].T @ w))
            beta = float(w.norm())
        basis[:, m] = w / beta
        if m == ncv:  # restart: keep the best Ritz vectors and the residual direction
            basis[:, :keep] = basis[:, :m] @ s[:, :keep].to(dev)
            basis[:, keep] = basis[:, m]
            proj.zero_()
            proj[:keep, :keep] = torch.diag(theta[:keep])
            m = keep


def _arpack_eigs(op, k: int, which: str, *, tol: float, ncv: int, maxiter: int, seed: int):
    """scipy ``eigsh`` (ARPACK, implicitly restarted Lanczos) on the operator's products."""
    p = op.shape[0]
    v0 = rademacher((p,), seed=seed, dtype=torch.float64, device="cpu").numpy()
    with solver_threads():
        values, vecs = eigsh(op.as_linear_operator(), k=k, which="LA" if which == "largest" else "SA", tol=tol,
                             ncv=ncv, maxiter=maxiter, v0=v0)
    order = np.argsort(values)
    if which == "largest":
        order = order[::-1]
    return (torch.as_tensor(values[order].copy(), dtype=op.dtype, device=op.device),
            torch.as_tensor(vecs[:, order].copy(), dtype=op.dtype, device=op.device))


def dense_eigs(hessian: torch.Tensor, k: int, which: str = "largest"):
    """The ``k`` extreme eigenpairs of a dense symmetric matrix (``eigh``), ordered as
    :func:`lanczos_eigs` orders them.

    Args:
        hessian: (P, P) symmetric.
        k: how many, 1 <= k <= P.
        which: ``"largest"`` (descending) or ``"smallest"`` (ascending).

    Returns:
        ``(values (k,), vectors (P, k))``.
    """
    p = hessian.shape[0]
    check_int(k, "k", 1, p)
    check_choice(which, "which", ("largest", "smallest"))
    values, vectors = torch.linalg.eigh(hessian)
    idx = torch.arange(p - 1, p - 1 - k, -1) if which == "largest" else torch.arange(k)
    return values[idx], vectors[:, idx]
