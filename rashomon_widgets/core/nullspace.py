"""The Rashomon manifold's tangent: zero-curvature directions and projection onto them.

At a global minimum of a sum-of-squares loss the Hessian is ``H = 2 J^T J`` (``J`` = the Jacobian of the
outputs on the data, one row per scalar output; G transposed in write-up 4), so the directions that
leave the loss unchanged to second order are the null space of ``J``. Small models: take it exactly
from ``eigh`` of the dense Hessian. Large models: never enumerate it; project a direction onto it with
``v - J^T (J J^T)^+ J v`` using Jacobian products only.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator, lsqr

from ._checks import check_choice, check_vectors
from ._threads import solver_threads

#: default relative tolerance on Hessian eigenvalues (``|lambda| <= tol * max |lambda|``) per dtype
DEFAULT_TOL = {torch.float64: 1e-6, torch.float32: 1e-4, torch.float16: 1e-2, torch.bfloat16: 1e-2}


def default_tol(dtype: torch.dtype) -> float:
    """The relative tolerance under which a Hessian eigenvalue counts as zero, for ``dtype``."""
    return DEFAULT_TOL.get(dtype, 1e-4)


def count_near_zero(values: torch.Tensor, tol: float) -> int:
    """How many ``values`` satisfy ``|lambda| <= tol * max |lambda|``."""
    scale = values.abs().max()
    return int((values.abs() <= tol * scale).sum())


def null_space(ls, theta: torch.Tensor, tol: float | None = None, *, method: str = "auto") -> torch.Tensor:
    """Orthonormal basis (P, d) of the directions of zero curvature at ``theta``.

    Args:
        tol: relative tolerance: an eigenvalue counts as zero when ``|lambda| <= tol * max |lambda|``.
            Defaults to 1e-6 for float64 models and 1e-4 for float32 (``DEFAULT_TOL``).
        method: ``"hessian"`` (``eigh`` of the dense Hessian: exact, any minimum),
            ``"jacobian"`` (SVD of the dense Jacobian: the null space of J, equal to the Hessian's at
            a global minimum of a sum-of-squares loss; singular values are compared with
            ``sqrt(tol)`` since ``lambda = 2 sigma^2``), or ``"auto"`` (hessian when P <= dense_limit).

    Returns:
        ``(P, d)`` tensor with orthonormal columns (d may be 0).
    """
    check_choice(method, "method", ("auto", "hessian", "jacobian"))
    tol = default_tol(ls.dtype) if tol is None else float(tol)
    if not 0 <= tol < 1:
        raise ValueError(f"tol: expected a relative tolerance in [0, 1), got {tol}")
    if method == "auto":
        method = "hessian" if ls.num_params <= ls.dense_limit else "jacobian"
    if method == "hessian":
        values, vectors = torch.linalg.eigh(ls.hessian(theta))
        keep = values.abs() <= tol * values.abs().max()
        return vectors[:, keep]
    j = ls.jacobian(theta)
    _, s, vh = torch.linalg.svd(j, full_matrices=True)
    rank = int((s > np.sqrt(tol) * s.max()).sum()) if s.numel() else 0
    return vh[rank:].T.contiguous()


def project_tangent(ls, v: torch.Tensor, theta: torch.Tensor, *, method: str = "auto",
                    tol: float | None = None, max_iter: int = 500) -> torch.Tensor:
    """Project ``v`` onto the null space of the Jacobian: ``v - J^T (J J^T)^+ J v``.

    Args:
        v: direction(s), (P,) or (P, K).
        method: ``"dense"`` (pseudo-inverse of the dense Jacobian; small models), ``"lsqr"``
            (matrix-free: scipy ``lsqr`` on ``min_u ||J^T u - v||`` with one JVP and one VJP per
            iteration; large models) or ``"auto"`` (dense while J fits in ``dense_limit ** 2`` entries).
        tol: relative tolerance: the pseudo-inverse's cut-off on singular values (dense; default 1e-7
            for float64, 1e-4 for float32), or lsqr's stopping tolerance (default 1e-10 / 1e-6).

    Returns:
        the projected direction(s), same shape as ``v``; ``ls.jvp(result)`` is (nearly) zero.
    """
    v = check_vectors(v, ls.num_params, ls.dtype, ls.device, allow_matrix=True)
    check_choice(method, "method", ("auto", "dense", "lsqr"))
    if method == "auto":
        k = ls.outputs(theta).numel()
        method = "dense" if k * ls.num_params <= ls.dense_limit ** 2 else "lsqr"
    if tol is None:
        f64 = ls.dtype == torch.float64
        tol = (1e-7 if f64 else 1e-4) if method == "dense" else (1e-10 if f64 else 1e-6)
    if method == "dense":
        j = ls.jacobian(theta)
        return v - torch.linalg.pinv(j, rtol=tol) @ (j @ v)
    if v.ndim == 2:
        return torch.stack([project_tangent(ls, c, theta, method="lsqr", tol=tol, max_iter=max_iter)
                            for c in v.T], dim=1)
    jac = ls.jacobian_operator(theta)
    with solver_threads():
        u = lsqr(as_scipy(jac, ls).T, v.double().cpu().numpy(), atol=tol, btol=tol, iter_lim=max_iter)[0]
    return v - jac.vjp(torch.as_tensor(u, dtype=ls.dtype, device=ls.device))


def as_scipy(jac, ls) -> LinearOperator:
    """A :class:`JacobianOperator` as a float64 scipy ``LinearOperator`` (K, P)."""
    def to_torch(x):
        return torch.as_tensor(np.ascontiguousarray(x).reshape(-1), dtype=ls.dtype, device=ls.device)

    return LinearOperator(jac.shape, dtype=np.float64,
                          matvec=lambda v: jac.jvp(to_torch(v)).double().cpu().numpy(),
                          rmatvec=lambda u: jac.vjp(to_torch(u)).double().cpu().numpy())
