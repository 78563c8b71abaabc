"""Moving on the Rashomon manifold: a tangent basis, and retraction back onto the manifold.

A step along the tangent (the null space of the Jacobian J of the outputs) keeps the behaviour to first
order only: it leaves the manifold at second order. :func:`retract` pulls a point back with Gauss-Newton
steps on ``f(theta) - f(theta_0)`` (each the minimum-norm correction ``-J^+ r``, orthogonal to the
tangent), so long walks do not drift. Same outputs on the data means the same loss.
"""
from __future__ import annotations

import torch
from scipy.sparse.linalg import lsqr

from ..validation import check_int
from .._threads import solver_threads


def tangent_basis(ls, theta: torch.Tensor, k: int, *, seed: int = 0, max_iter: int = 50) -> torch.Tensor:
    """``k`` orthonormal directions (P, k) in the null space of the Jacobian at ``theta``.

    Small models get the first ``k`` vectors of the exact null space; large ones get ``k`` random
    Gaussian directions projected with :meth:`Landscape.project_tangent` (Jacobian products only)
    and orthonormalised (``max_iter`` lsqr iterations per direction: the projection is approximate
    for large models, whose Jacobians have a continuum of small singular values; :func:`retract`
    removes what is left).

    Args:
        ls: the :class:`Landscape`.
        theta: (P,) the point.
        k: how many directions, 1 <= k <= P.
        seed: seed of the random directions (large models).
        max_iter: lsqr iterations per direction (large models).

    Returns:
        (P, d) orthonormal columns, d <= k (fewer when the null space is smaller).
    """
    check_int(k, "k", 1, ls.num_params)
    if ls.policy.is_small(ls.num_params):
        return ls.null_space(theta)[:, :k]
    g = torch.Generator(device=ls.device)
    g.manual_seed(seed)
    v = torch.randn(ls.num_params, k, generator=g, dtype=ls.dtype, device=ls.device)
    q, r = torch.linalg.qr(ls.project_tangent(v, theta, method="lsqr", max_iter=max_iter))
    keep = r.diagonal().abs() > 1e-6 * r.diagonal().abs().max()
    return q[:, keep]


def retract(ls, theta: torch.Tensor, target: torch.Tensor, *, max_steps: int = 10,
            rtol: float | None = None, lsqr_iter: int = 200) -> tuple[torch.Tensor, float]:
    """Gauss-Newton steps from ``theta`` until the outputs equal ``target`` (the behaviour to keep).

    Args:
        ls: the :class:`Landscape`.
        theta: the point to pull back (P,).
        target: the outputs to reach, as returned by :meth:`Landscape.outputs`.
        max_steps: Gauss-Newton iterations at most.
        lsqr_iter: iterations of the matrix-free least-squares solve per step (large models).
        rtol: stop when ``|f(theta) - target| <= rtol * |target|``; default 1e-10 (float64) or 1e-5.

    Returns:
        ``(theta, residual)``: the retracted point and the final relative residual. A residual that
        stays large means the point is not reachable inside the manifold (too long a step).
    """
    rtol = (1e-10 if ls.dtype == torch.float64 else 1e-5) if rtol is None else rtol
    target = target.reshape(-1)
    scale = float(target.norm()) + 1e-30
    dense = ls.policy.fits_dense(target.numel() * ls.num_params)
    point = theta.detach().clone()
    best = (point, float((ls.outputs(point).reshape(-1) - target).norm()) / scale)
    for _ in range(max_steps):
        if best[1] <= rtol:
            break
        r = ls.outputs(point).reshape(-1) - target
        if dense:
            step = torch.linalg.lstsq(ls.jacobian(point).double(), r.double().unsqueeze(1),
                                      driver="gelsd").solution.squeeze(1).to(ls.dtype)
        else:
            step = _lsqr_step(ls, point, r, lsqr_iter)
        point = point - step
        res = float((ls.outputs(point).reshape(-1) - target).norm()) / scale
        if res >= best[1]:  # no progress: keep the best point
            break
        best = (point, res)
    return best


def _lsqr_step(ls, theta, r, iter_lim):
    tol = 1e-10 if ls.dtype == torch.float64 else 1e-6
    jac = ls.jacobian_operator(theta).as_linear_operator()
    with solver_threads():
        step = lsqr(jac, r.double().cpu().numpy(), atol=tol, btol=tol, iter_lim=iter_lim)[0]
    return torch.as_tensor(step, dtype=ls.dtype, device=ls.device)
