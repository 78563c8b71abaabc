"""The Rashomon manifold's tangent: zero-curvature directions, and projection onto the Jacobian's null space.

``null_space`` means **zero curvature**: the eigenvectors of the Hessian whose eigenvalues are near zero
(:class:`Spectrum`'s rule). For small and medium models it is exact (dense ``eigh``). Beyond the dense
limit it is refused, with the alternatives named; ``method="jacobian"`` asks explicitly for the null
space of the behaviour's Jacobian J (the directions that keep every output unchanged to first order).
At a global minimum of a sum-of-squares loss ``H = 2 J^T J`` and the two coincide; elsewhere (cross-
entropy, or not at a minimum) the Jacobian's null space is smaller than or different from the Hessian's,
and a sampled check warns when the returned directions carry curvature.

Large models never enumerate the null space: :func:`project_tangent` projects a direction with
``v - J^T (J J^T)^+ J v``, using Jacobian products only.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator, lsqr

from ..torch_state import solver_threads
from .spectra import Spectrum


class CurvatureWarning(UserWarning):
    """Directions returned as a null space carry measurable curvature."""


def count_near_zero(values, tol: float) -> int:
    """How many ``values`` satisfy ``|lambda| <= tol * max |lambda|`` (the :class:`Spectrum` rule).

    Args:
        values: eigenvalues (a tensor, a sequence of numbers, or a :class:`Spectrum`), all finite.
        tol: relative tolerance in [0, 1).

    Returns:
        the count, at most ``len(values)``.

    Raises:
        TypeError, ValueError: values that are not finite real numbers in one dimension, or a tolerance
            outside [0, 1) (the :class:`Spectrum` checks).
    """
    if isinstance(values, Spectrum):
        values = values.values
    else:
        try:
            values = torch.as_tensor(values)
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(f"values: expected eigenvalues (a tensor or a sequence of numbers), got "
                            f"{type(values).__name__}") from None
        if not values.dtype.is_floating_point and not values.dtype.is_complex and values.dtype != torch.bool:
            values = values.double()  # integer eigenvalues: exact in float64
    return Spectrum(values, tol).num_near_zero


def jacobian_null_space(jacobian: torch.Tensor, tol: float) -> torch.Tensor:
    """Orthonormal basis (P, d) of the null space of a dense Jacobian (K, P).

    Singular values are compared with ``sqrt(tol)`` times the largest, since an eigenvalue of
    ``2 J^T J`` is ``2 sigma^2``: the same near-zero rule as the Hessian's.

    Args:
        jacobian: (K, P).
        tol: relative tolerance on Hessian eigenvalues.

    Returns:
        (P, d) tensor with orthonormal columns (d may be 0).
    """
    _, s, vh = torch.linalg.svd(jacobian, full_matrices=True)
    rank = int((s > math.sqrt(tol) * s.max()).sum()) if s.numel() and float(s.max()) > 0 else 0
    return vh[rank:].T.contiguous()


def sampled_curvature(op, basis: torch.Tensor, lambda_max: float, *, num_probes: int = 4,
                      seed: int = 0) -> float:
    """How much curvature a supposed null space carries: ``max ||H n|| / lambda_max`` over a few random
    unit combinations ``n`` of its columns (``num_probes`` Hessian products).

    Args:
        op: a Hessian operator (``matvec``).
        basis: (P, d) orthonormal columns.
        lambda_max: the largest |eigenvalue| (the scale).
        num_probes: random combinations tried.
        seed: their seed.

    Returns:
        the largest ratio found (0 when ``basis`` has no columns).
    """
    if basis.shape[1] == 0 or lambda_max == 0:
        return 0.0
    g = torch.Generator(device="cpu").manual_seed(seed)
    c = torch.randn(basis.shape[1], num_probes, generator=g, dtype=torch.float64).to(basis)
    n = basis @ c
    n = n / n.norm(dim=0, keepdim=True)
    return float(op.matvec(n).norm(dim=0).max()) / lambda_max


def project_tangent_dense(jacobian: torch.Tensor, v: torch.Tensor, tol: float) -> torch.Tensor:
    """``v - J^+ J v`` with the dense pseudo-inverse (singular values below ``tol`` x the largest cut).

    Args:
        jacobian: (K, P).
        v: (P,) or (P, K').
        tol: relative cut-off of the pseudo-inverse.

    Returns:
        the projection, shaped like ``v``.
    """
    return v - torch.linalg.pinv(jacobian, rtol=tol) @ (jacobian @ v)


def project_tangent_lsqr(jac, v: torch.Tensor, tol: float, max_iter: int,
                         progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """``v - J^T u`` with ``u = argmin ||J^T u - v||`` by scipy ``lsqr`` (one J v and one J^T u per
    iteration).

    Args:
        jac: a :class:`JacobianOperator`.
        v: (P,) or (P, K'); columns are projected one by one.
        tol: lsqr's ``atol`` and ``btol``.
        max_iter: lsqr iterations at most.
        progress: called as ``progress(done, total)`` before every Jacobian product (``total`` =
            ``2 * max_iter`` per column, at most); it may raise to stop the work.

    Returns:
        the projection, shaped like ``v``.
    """
    columns = v.T if v.ndim == 2 else v[None]
    lin = jac.as_linear_operator().T
    if progress is not None:
        lin = reporting(lin, progress, 2 * max_iter * len(columns))
    out = []
    for c in columns:
        with solver_threads():
            u = lsqr(lin, c.double().cpu().numpy(), atol=tol, btol=tol, iter_lim=max_iter)[0]
        out.append(c - jac.vjp(torch.as_tensor(np.asarray(u), dtype=v.dtype, device=v.device)))
    return torch.stack(out, dim=1) if v.ndim == 2 else out[0]


def reporting(op: LinearOperator, progress: Callable[[int, int], None], total: int) -> LinearOperator:
    """``op`` calling ``progress(done, total)`` before each product (so a caller can show progress, or stop
    a long solve by raising)."""
    done = [0]

    def tick():
        progress(min(done[0], total - 1), total)
        done[0] += 1

    return LinearOperator(op.shape, matvec=lambda v: (tick(), op.matvec(v))[1],
                          rmatvec=lambda v: (tick(), op.rmatvec(v))[1], dtype=op.dtype)


def warn_if_curved(ratio: float, tol: float, what: str) -> None:
    """Warn (:class:`CurvatureWarning`) when ``ratio = ||H n|| / lambda_max`` exceeds ``10 tol``.

    Args:
        ratio: from :func:`sampled_curvature`.
        tol: the near-zero tolerance (eigenvalue-relative).
        what: what was returned, for the message.
    """
    if ratio > 10 * tol:
        warnings.warn(
            f"null_space: {what} is not the Hessian's null space here: sampled directions have "
            f"||H n|| = {ratio:.2g} x lambda_max (zero curvature would be <= {10 * tol:.0e}). "
            "The two agree only at a global minimum of a sum-of-squares loss (H = 2 J^T J). Use "
            "method='hessian' (dense, raise dense_limit) for zero-curvature directions.",
            CurvatureWarning, stacklevel=3)


__all__ = ["CurvatureWarning", "count_near_zero", "jacobian_null_space", "project_tangent_dense",
           "project_tangent_lsqr", "reporting", "sampled_curvature", "warn_if_curved"]
