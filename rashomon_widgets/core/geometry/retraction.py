"""Moving on the Rashomon manifold: a tangent basis, and retraction back onto the manifold.

A step along the tangent (the null space of the Jacobian J of the outputs) keeps the behaviour to first
order only: it leaves the manifold at second order. :func:`retract` pulls a point back with Gauss-Newton
steps on ``f(theta) - f(theta_0)`` (each the minimum-norm correction ``-J^+ r``, orthogonal to the
tangent), so long walks do not drift. Same outputs on the data means the same loss.
"""

from collections.abc import Callable

import torch
from scipy.sparse.linalg import lsqr

from ..curvature.nullspace import project_tangent_lsqr, reporting
from ..torch_state import solver_threads
from ..validation import check_callable, check_int


def tangent_basis(ls, theta: torch.Tensor, k: int, *, seed: int = 0, max_iter: int = 50,
                  progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
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
        progress: called as ``progress(done, total)`` before every Jacobian product (large models).

    Returns:
        (P, d) orthonormal columns, d <= k (fewer when the null space is smaller).
    """
    check_int(k, "k", 1, ls.num_params)
    check_callable(progress, "progress", "progress(done, total)", optional=True)
    if ls.policy.is_small(ls.num_params):
        return ls.null_space(theta)[:, :k]
    g = torch.Generator(device=ls.device)
    g.manual_seed(seed)
    v = torch.randn(ls.num_params, k, generator=g, dtype=ls.dtype, device=ls.device)
    tol = 1e-10 if ls.dtype == torch.float64 else 1e-6   # project_tangent's lsqr default
    q, r = torch.linalg.qr(project_tangent_lsqr(ls.jacobian_operator(ls.check_theta(theta)), v, tol, max_iter,
                                                progress))
    keep = r.diagonal().abs() > 1e-6 * r.diagonal().abs().max()
    return q[:, keep]


def retract(ls, theta: torch.Tensor, target: torch.Tensor, *, max_steps: int = 10,
            rtol: float | None = None, lsqr_iter: int = 200,
            progress: Callable[[int, int], None] | None = None) -> tuple[torch.Tensor, float]:
    """Gauss-Newton steps from ``theta`` until the outputs equal ``target`` (the behaviour to keep).

    Args:
        ls: the :class:`Landscape`.
        theta: the point to pull back (P,).
        target: the outputs to reach, as returned by :meth:`Landscape.outputs`.
        max_steps: Gauss-Newton iterations at most.
        lsqr_iter: iterations of the matrix-free least-squares solve per step (large models).
        rtol: stop when ``|f(theta) - target| <= rtol * |target|``; default 1e-10 (float64) or 1e-5.
        progress: called as ``progress(done, total)`` before every Jacobian product of the matrix-free
            solve (``total`` = ``max_steps * lsqr_iter`` at most), or before every step of the dense one
            (``total`` = ``max_steps``); it may raise to stop the work (an explorer does, when a newer
            slider value arrives).

    Returns:
        ``(theta, residual)``: the retracted point and the final relative residual. A residual that
        stays large means the point is not reachable inside the manifold (too long a step).

    Raises:
        TypeError: a ``progress`` that is not callable.
    """
    check_callable(progress, "progress", "progress(done, total)", optional=True)
    rtol = _default_rtol(ls.dtype) if rtol is None else rtol
    target = target.reshape(-1)
    scale = float(target.norm()) + 1e-30
    dense = ls.policy.fits_dense(target.numel() * ls.num_params)
    point = theta.detach().clone()
    best = (point, float((ls.outputs(point).reshape(-1) - target).norm()) / scale)
    for i in range(max_steps):
        if best[1] <= rtol:
            break
        r = ls.outputs(point).reshape(-1) - target
        if dense:
            if progress is not None:
                progress(i, max_steps)
            step = torch.linalg.lstsq(ls.jacobian(point).double(), r.double().unsqueeze(1),
                                      driver="gelsd").solution.squeeze(1).to(ls.dtype)
        else:
            step = _lsqr_step(ls, point, r, lsqr_iter, progress, max_steps * lsqr_iter)
        point = point - step
        res = float((ls.outputs(point).reshape(-1) - target).norm()) / scale
        if res >= best[1]:  # no progress: keep the best point
            break
        best = (point, res)
    return best


def _default_rtol(dtype: torch.dtype) -> float:
    """The relative behaviour residual at which a retraction stops."""
    return 1e-10 if dtype == torch.float64 else 1e-5


def retract_many(ls, points: torch.Tensor, target: torch.Tensor, *,
                  max_steps: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`retract` for a block of points: Gauss-Newton steps, all points at once.

    Small models batch the Jacobians with ``torch.vmap`` (one pass for the block instead of one per point);
    others, and models vmap cannot batch, retract point by point.

    Args:
        ls: the :class:`Landscape`.
        points: (M, P) the points to pull back.
        target: the outputs to reach, as returned by :meth:`Landscape.outputs`.
        max_steps: Gauss-Newton iterations at most.

    Returns:
        ``(points (M, P), residuals (M,))``: the residuals relative to ``max(|target|, 1)`` (absolute
        where the outputs are small or zero), float64 on the CPU.
    """
    target = target.reshape(-1)
    scale = max(float(target.norm()), 1.0)   # relative to the outputs, absolute where they are small (or zero)
    if ls.policy.is_small(ls.num_params) and ls.policy.fits_dense(points.shape[0] * target.numel() * ls.num_params):
        try:
            return _retract_batched(ls, points, target, max_steps, scale)
        except (RuntimeError, NotImplementedError):  # vmap cannot batch this model: point by point
            pass
    out = torch.stack([retract(ls, p, target, max_steps=max_steps)[0] for p in points])
    residuals = torch.stack([(ls.outputs(p).reshape(-1) - target).norm() / scale for p in out])
    return out, residuals.double().cpu()


def _retract_batched(ls, points, target, max_steps, scale):
    outputs = ls.flat_outputs
    rtol = _default_rtol(ls.dtype)
    pinv_rtol = 1e-12 if ls.dtype == torch.float64 else 1e-6
    points = points.detach().clone()
    with torch.no_grad():
        errors = torch.vmap(outputs)(points) - target
    residual = errors.norm(dim=1) / scale
    for _ in range(max_steps):
        active = torch.nonzero(residual > rtol).flatten()
        if active.numel() == 0:
            break
        block = points[active]
        jac = torch.vmap(torch.func.jacrev(outputs))(block).detach()
        with torch.no_grad():
            moved = block - (torch.linalg.pinv(jac, rtol=pinv_rtol) @ errors[active][..., None])[..., 0]
            moved_errors = torch.vmap(outputs)(moved) - target
        new_residual = moved_errors.norm(dim=1) / scale
        better = (new_residual < residual[active]) & torch.isfinite(moved).all(dim=1)
        if not bool(better.any()):   # no progress: keep the best points
            break
        kept = active[better]
        points[kept], errors[kept], residual[kept] = moved[better], moved_errors[better], new_residual[better]
    return points, residual.double().cpu()


def _lsqr_step(ls, theta, r, iter_lim, progress=None, total=0):
    tol = 1e-10 if ls.dtype == torch.float64 else 1e-6
    jac = ls.jacobian_operator(theta).as_linear_operator()
    if progress is not None:
        jac = reporting(jac, progress, total)
    with solver_threads():
        step = lsqr(jac, r.double().cpu().numpy(), atol=tol, btol=tol, iter_lim=iter_lim)[0]
    return torch.as_tensor(step, dtype=ls.dtype, device=ls.device)
