"""Moving on the Rashomon manifold: a tangent basis, and retraction back onto the manifold.

A step along the tangent (the null space of the Jacobian J of the outputs) keeps the behaviour to first
order only: it leaves the manifold at second order. :func:`retract` pulls a point back with Gauss-Newton
steps on ``f(theta) - f(theta_0)`` (each the minimum-norm correction ``-J^+ r``, orthogonal to the
tangent), so long walks do not drift. Same outputs on the data means the same loss.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from scipy.sparse.linalg import lsqr

from ..curvature.nullspace import project_tangent_lsqr, reporting
from ..torch_state import solver_threads
from ..validation import check_callable, check_int
from .plane import Plane


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


class ManifoldChart:
    """Coordinates around a point of the Rashomon manifold: coefficients -> a parameter point.

    The first ``num_null`` coordinates step along an orthonormal tangent basis of the manifold (see
    :func:`tangent_basis`), after which the point is pulled back onto the manifold (:func:`retract`): the
    outputs, and so the loss, stay those of ``theta``. The last ``num_top`` step along the top Hessian
    eigenvectors, for contrast: the loss rises as a parabola, ``lambda / 2 * c^2`` to second order. The
    explorer's sliders are these coefficients.

    Args:
        ls: the :class:`Landscape`.
        theta: the centre (default: the trained parameters).
        num_null, num_top: how many coordinates of each kind.
        exact: dense null space and a full retraction; default for small models (``ls.policy.is_small``).
            Large models get a Jacobian-projected tangent and two matrix-free Gauss-Newton steps.
        seed: seed of the random tangent directions (large models).
        curvature: the landscape whose Hessian gives the top directions (default ``ls``): e.g.
            ``ls.subsample(256)``, a stated subsample, on a model whose Hessian products are slow.
        tangent_on: the landscape whose Jacobian gives the (large-model) tangent directions (default ``ls``),
            e.g. the same subsample: where the Jacobian has a continuum of small singular values, a few lsqr
            iterations remove only its largest directions, on a subsample as well as on all the data, and
            at a fraction of the cost. The retraction always uses ``ls``'s data (the outputs kept are all of them).
        tangent_iter: lsqr iterations per tangent direction (large models).
        progress: called as ``progress(stage, done, total)`` while the chart is built, ``stage`` one of
            ``"tangent directions"`` and ``"top Hessian directions"``.

    Raises:
        ValueError: no direction asked for, counts out of range, or a ``curvature`` landscape of
            another parameter count.

    Example:
        >>> chart = rw.core.ManifoldChart(ls, num_null=2, num_top=1)        # doctest: +SKIP
        >>> chart.names                                                       # doctest: +SKIP
        ['null 1', 'null 2', 'top 1']
        >>> ls.loss(chart.point([1.0, 0.0, 0.0]))   # the loss at the start   # doctest: +SKIP
    """

    def __init__(self, ls, theta: torch.Tensor | None = None, *, num_null: int = 3, num_top: int = 1,
                 exact: bool | None = None, seed: int = 0, curvature=None, tangent_on=None,
                 tangent_iter: int = 20, progress: Callable[[str, int, int], None] | None = None):
        check_int(num_null, "num_null", 0, ls.num_params)
        check_int(num_top, "num_top", 0, ls.num_params)
        check_int(tangent_iter, "tangent_iter", 1)
        check_callable(progress, "progress", "progress(stage, done, total)", optional=True)
        if num_null + num_top == 0:
            raise ValueError("num_null, num_top: expected at least one direction, got 0 and 0")
        curvature = ls if curvature is None else curvature
        tangent_on = ls if tangent_on is None else tangent_on
        for name, other in (("curvature", curvature), ("tangent_on", tangent_on)):
            if getattr(other, "num_params", None) != ls.num_params:
                raise ValueError(f"{name}: expected a Landscape of the same model ({ls.num_params:,} parameters), "
                                 f"got {other!r}")
        self.ls, self.curvature, self.tangent_on = ls, curvature, tangent_on
        self.theta0 = ls.theta if theta is None else ls.check_theta(theta).detach().clone()
        self.exact = ls.policy.is_small(ls.num_params) if exact is None else bool(exact)
        self.behaviour0 = ls.outputs(self.theta0)
        empty = self.theta0[:, None][:, :0]

        def stage(name):
            return None if progress is None else (lambda done, total: progress(name, done, total))

        self.null_dirs = (tangent_basis(ls if self.exact else tangent_on, self.theta0, num_null, seed=seed,
                                        max_iter=tangent_iter,
                                        progress=stage("tangent directions")) if num_null else empty)
        if num_top:
            top_progress = stage("top Hessian directions")
            self.top_values, self.top_dirs = curvature.eigs(
                num_top, "largest", self.theta0, **({} if top_progress is None or self.exact else
                                                    {"progress": top_progress}))
        else:
            self.top_values, self.top_dirs = self.theta0.new_zeros(0), empty
        self.directions = torch.cat([self.null_dirs, self.top_dirs], 1)
        self.names = ([f"null {i + 1}" for i in range(self.null_dirs.shape[1])]
                      + [f"top {i + 1}" for i in range(self.top_dirs.shape[1])])

    @property
    def num_null(self) -> int:
        """How many tangent coordinates there are (fewer than asked when the null space is smaller)."""
        return self.null_dirs.shape[1]

    def explain(self, name: str) -> str:
        """A one-line explanation of coordinate ``name`` (for a control's help text).

        Args:
            name: one of :attr:`names`.

        Returns:
            the explanation, a str.

        Example:
            >>> chart.explain("null 1")                                   # doctest: +SKIP
        """
        i = self.index(name)
        if i < self.num_null and self.exact:
            return (f"{name}: a direction in which the model's outputs do not change; the loss should stay "
                    f"flat however far you go")
        if i < self.num_null:
            on = ("" if self.tangent_on is self.ls else
                  f" on {self.tangent_on.num_samples:,} of {self.ls.num_samples:,} samples")
            return (f"{name}: a direction in which the model's outputs change little (Jacobian-projected{on}); "
                    f"the point is re-projected onto the manifold, where the loss stays, once the sliders rest")
        lam = float(self.top_values[i - self.num_null])
        return (f"{name}: Hessian eigenvector with eigenvalue {lam:.3g}; the loss rises like "
                f"{lam / 2:.3g} c^2")

    def index(self, name: str) -> int:
        """The column of ``directions`` called ``name``.

        Args:
            name: one of :attr:`names`.

        Returns:
            the column index.

        Raises:
            ValueError: an unknown name.
        """
        if name not in self.names:
            raise ValueError(f"direction: expected one of {self.names}, got {name!r}")
        return self.names.index(name)

    def point(self, coefficients, *, retracted: bool | None = None,
              progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
        """The parameter point at ``coefficients`` (one per name).

        Args:
            coefficients: a sequence of ``len(names)`` finite numbers.
            retracted: pull the tangent step back onto the manifold (default: ``exact``; large models
                can draw a first frame on the tangent step and retract when idle).
            progress: passed to :func:`retract` (it may raise to stop a long retraction).

        Returns:
            (P,) parameters.

        Raises:
            ValueError: the wrong number of coefficients, or non-finite ones.
            TypeError: a ``progress`` that is not callable.
        """
        check_callable(progress, "progress", "progress(done, total)", optional=True)
        c = torch.as_tensor(list(coefficients), dtype=torch.float64)
        if c.shape != (len(self.names),) or not bool(torch.isfinite(c).all()):
            raise ValueError(f"coefficients: expected {len(self.names)} finite numbers ({', '.join(self.names)}), "
                             f"got {list(coefficients)!r}")
        c = c.to(dtype=self.ls.dtype, device=self.ls.device)
        k = self.num_null
        point = self.theta0 + self.null_dirs @ c[:k]
        if (self.exact if retracted is None else retracted) and k and bool(c[:k].abs().max() > 0):
            point, _ = retract(self.ls, point, self.behaviour0, max_steps=10 if self.exact else 2, lsqr_iter=10,
                               progress=progress)
        return point + self.top_dirs @ c[k:]

    def plane(self, point: torch.Tensor, x: str, y: str):
        """The 2-D slice through ``point`` along the coordinates called ``x`` and ``y``.

        Args:
            point: (P,) the slice's centre.
            x, y: two different names of :attr:`names`.

        Returns:
            a :class:`Plane`.

        Raises:
            ValueError: unknown names, or the same one twice.
        """
        ix, iy = self.index(x), self.index(y)
        if ix == iy:
            raise ValueError(f"x axis and y axis: expected two different directions, got {x!r} twice")
        return Plane(point, self.directions[:, ix].clone(), self.directions[:, iy].clone())
