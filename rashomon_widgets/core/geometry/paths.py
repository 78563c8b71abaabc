"""Paths inside a Rashomon set: walk from one minimum to another along the manifold's tangent.

Write-up 3 joins two networks of one Rashomon set by "projecting the difference between their
parameters into the 0-eigenspace of the Hessian, and then stepping in that direction". A tangent step
leaves the manifold at second order, so every step is followed by a retraction
(:func:`~rashomon_widgets.core.geometry.retraction.retract`: Gauss-Newton steps, each orthogonal to the tangent)
back to **the behaviour of** ``theta_a``: the outputs on the data, not merely the loss level. At a
perfect-behaviour global minimum (zero loss: the write-ups' XOR nets) the Rashomon set is exactly that
behaviour manifold, and keeping the outputs keeps the loss without a line search. Retracting to the
loss level alone would let the path drift to other behaviours of equal loss, which is a different
question (and ill-posed at a minimum, where the loss gradient vanishes).

The walk is greedy: each step lowers the distance to ``theta_b`` to first order (the tangent
projection ``p`` of the remaining difference ``d`` has ``d . p = |p|^2``). It stops and says why when
the remaining difference is (nearly) orthogonal to the manifold (a local minimum of the distance on
the set: ``theta_b`` is in another component, or behind a fold), when a step cannot be retracted even
after halving, or when the distance stops shrinking.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..validation import check_choice, check_flat, check_int, check_positive, check_real, check_seed
from .retraction import retract


class PolygonPath:
    """What every path through parameter space shares: its points ``thetas`` (M, P), their count
    (``len``) and the length of the polygon through them. Mixed into :class:`NullSpacePath` and
    :class:`~rashomon_widgets.core.geometry.search.RashomonSearch`.

    Attributes:
        thetas: (M, P) the points, in order (set by the class that mixes this in).
    """
    thetas: torch.Tensor

    @property
    def length(self) -> float:
        """The length of the polygon through the points (0 for one point)."""
        return float((self.thetas[1:] - self.thetas[:-1]).norm(dim=1).sum()) if len(self.thetas) > 1 else 0.0

    def __len__(self) -> int:
        return self.thetas.shape[0]


@dataclass(frozen=True)
class NullSpacePath(PolygonPath):
    """The result of :func:`null_space_path`.

    Attributes:
        thetas: (M, P) the points of the path, ``thetas[0]`` is ``theta_a``; when ``reached`` the
            last is ``theta_b`` itself.
        losses: (M,) the loss at every point.
        distances: (M,) the distance ``|theta_b - theta|`` at every point.
        reached: whether the path ends at ``theta_b``.
        reason: why the walk stopped, in words.
    """
    thetas: torch.Tensor
    losses: torch.Tensor
    distances: torch.Tensor
    reached: bool
    reason: str

    @property
    def max_loss(self) -> float:
        """The largest loss along the path."""
        return float(self.losses.max())

    def __repr__(self) -> str:
        return (f"NullSpacePath({len(self)} points, length {self.length:.4g}, max loss {self.max_loss:.3g}, "
                f"reached={self.reached}: {self.reason})")


def null_space_path(ls, theta_a: torch.Tensor, theta_b: torch.Tensor, *, step: float | None = None,
                    max_steps: int = 500, tol: float = 1e-6, method: str = "auto",
                    null_tol: float | None = None, behaviour_rtol: float = 1e-4,
                    min_progress: float = 1e-3) -> NullSpacePath:
    """A path from ``theta_a`` to ``theta_b`` that stays in their Rashomon set.

    Repeats: project the remaining difference ``theta_b - theta`` onto the manifold's tangent at
    ``theta``, move along it by at most ``step``, retract to the behaviour of ``theta_a``. A step
    whose retraction fails, or that ends no closer to ``theta_b``, is halved (up to 8 times) before the
    walk gives up.

    Args:
        ls: the :class:`~rashomon_widgets.Landscape`.
        theta_a, theta_b: (P,) the two ends; they must have the same behaviour (outputs on the data)
            to ``behaviour_rtol``, relative to its norm: the same Rashomon set of a global minimum.
        step: the longest step in parameter space; default ``|theta_b - theta_a| / 20``.
        max_steps: the most steps taken.
        tol: the walk has reached ``theta_b`` when ``|theta_b - theta| <= tol * |theta_b - theta_a|``;
            ``theta_b`` itself is then the last point.
        method: the tangent: ``"hessian"`` (the exact 0-eigenspace of the dense Hessian,
            :meth:`Landscape.null_space`, as in the write-up), ``"tangent"`` (the null space of the
            Jacobian by :meth:`Landscape.project_tangent`, matrix-free for large models) or
            ``"auto"`` (hessian for small models, ``ls.policy.is_small``).
        null_tol: the relative eigenvalue tolerance of ``"hessian"`` (default: ``default_tol``).
        behaviour_rtol: how far the two ends' behaviours may differ, relative; also the largest
            relative behaviour residual a retracted step may keep.
        min_progress: the walk stops when the tangent part of the remaining difference is below this
            share of it (the difference points off the manifold), or when ten steps in a row
            shorten the distance by less than this share of a step.

    Returns:
        A :class:`NullSpacePath`; ``reached`` and ``reason`` say how it ended.

    Raises:
        TypeError / ValueError: bad points (wrong shape, dtype, device, non-finite) or options, or
            ends whose behaviours differ (not one Rashomon set).

    Example:
        >>> path = rw.null_space_path(ls, theta_a, theta_b)     # doctest: +SKIP
        >>> path.reached, path.max_loss                        # doctest: +SKIP
        (True, 3.1e-17)
    """
    theta_a = ls.check_theta(check_flat(theta_a, "theta_a")).detach().clone()
    theta_b = ls.check_theta(check_flat(theta_b, "theta_b")).detach().clone()
    check_choice(method, "method", ("auto", "hessian", "tangent"))
    check_int(max_steps, "max_steps", 1, 10**7)
    tol = check_positive(tol, "tol")
    behaviour_rtol = check_positive(behaviour_rtol, "behaviour_rtol")
    min_progress = check_positive(min_progress, "min_progress")
    if tol >= 1 or min_progress >= 1:
        raise ValueError(f"tol, min_progress: expected shares in (0, 1), got tol={tol}, min_progress={min_progress}")
    if method == "auto":
        method = "hessian" if ls.policy.is_small(ls.num_params) else "tangent"

    target = ls.outputs(theta_a).reshape(-1)
    scale = float(target.norm()) + 1e-30
    gap = float((ls.outputs(theta_b).reshape(-1) - target).norm()) / scale
    if gap > behaviour_rtol:
        raise ValueError(
            f"theta_b: expected a point with the behaviour of theta_a (the same Rashomon set; outputs equal "
            f"to behaviour_rtol={behaviour_rtol:g}, relative), got outputs that differ by {gap:.3g}. "
            "The path keeps theta_a's outputs; join points of different behaviour with a curve "
            "(rw.BezierCurve) instead.")
    total = float((theta_b - theta_a).norm())
    step = total / 20 if step is None else check_positive(step, "step")

    thetas, distances = [theta_a], [total]
    if total == 0.0:
        return _result(ls, thetas, distances, True, "theta_a and theta_b are the same point")
    theta, stalled = theta_a, 0
    reached, reason = False, ""
    for _ in range(max_steps):
        d = theta_b - theta
        dist = float(d.norm())
        if dist <= tol * total:
            reached, reason = True, f"reached theta_b in {len(thetas) - 1} steps"
            break
        p = _tangent(ls, d, theta, method, null_tol)
        share = float(p.norm()) / dist
        if share < min_progress:
            reason = (f"stuck {dist:.3g} from theta_b: the remaining difference is orthogonal to the manifold "
                      f"(tangent share {share:.2g}): a local minimum of the distance inside the set, so theta_b is "
                      "not reachable from here by walking inside it (another component, or behind a fold)")
            break
        length = min(step, float(p.norm()))
        new, new_dist, residual = None, dist, None
        for _halving in range(9):
            candidate, residual = retract(ls, theta + p * (length / float(p.norm())), target)
            if residual <= behaviour_rtol:
                candidate_dist = float((theta_b - candidate).norm())
                if candidate_dist < dist:
                    new, new_dist = candidate, candidate_dist
                    break
            length /= 2
        if new is None:
            why = (f"the retraction kept a behaviour residual {residual:.3g} > behaviour_rtol={behaviour_rtol:g}"
                   if residual > behaviour_rtol else "the retracted point was no closer to theta_b")
            reason = (f"stuck {dist:.3g} from theta_b: no step along the tangent, down to {length * 2:.3g}, "
                      f"stays in the set and gets closer ({why})")
            break
        stalled = stalled + 1 if dist - new_dist < min_progress * length else 0
        theta = new
        thetas.append(theta)
        distances.append(new_dist)
        if stalled >= 10:
            reason = (f"no progress: ten steps in a row shortened the distance by less than "
                      f"{min_progress:g} of their length; {new_dist:.3g} left of {total:.3g}")
            break
    else:
        if distances[-1] <= tol * total:
            reached, reason = True, f"reached theta_b in {len(thetas) - 1} steps"
        else:
            reason = f"max_steps={max_steps} taken; {distances[-1]:.3g} left of {total:.3g}"
    if reached:
        thetas.append(theta_b)
        distances.append(0.0)
    return _result(ls, thetas, distances, reached, reason)


def _tangent(ls, d: torch.Tensor, theta: torch.Tensor, method: str, null_tol) -> torch.Tensor:
    if method == "hessian":
        basis = ls.null_space(theta, tol=null_tol)
        return basis @ (basis.T @ d)
    return ls.project_tangent(d, theta)


def _result(ls, thetas, distances, reached, reason) -> NullSpacePath:
    stacked = torch.stack(thetas)
    losses = ls.losses(stacked, strategy="loop")
    return NullSpacePath(stacked, losses, torch.tensor(distances, dtype=torch.float64), bool(reached), reason)


def manifold_walk(ls, theta: torch.Tensor | None = None, *, num_steps: int = 30, step: float = 0.1,
                  persistence: float = 0.9, seed: int = 0) -> torch.Tensor:
    """A random walk inside the Rashomon set of ``theta``: (num_steps + 1, P) points, all with its behaviour.

    Each step moves ``step`` along a direction in the null space of the Jacobian
    (:meth:`Landscape.project_tangent`: dense for small models, matrix-free for large ones) that keeps
    ``persistence`` of the previous direction, so the walk travels instead of diffusing, and is then
    retracted to the behaviour of ``theta``. Use it to make a second point of the same connected set,
    e.g. a target for :func:`null_space_path`.

    Args:
        ls: the :class:`~rashomon_widgets.Landscape`.
        theta: (P,) the start; default the trained parameters.
        num_steps: how many steps.
        step: the length of every step in parameter space.
        persistence: the share of the previous direction each new direction keeps, in [0, 1).
        seed: seed of the random directions.

    Returns:
        (num_steps + 1, P) the points, the first one ``theta``.

    Raises:
        TypeError / ValueError: bad arguments; ValueError also when the tangent space is empty (no
        manifold to walk on) or a step cannot be retracted (try a smaller ``step``).
    """
    theta = ls.theta if theta is None else ls.check_theta(check_flat(theta, "theta")).detach().clone()
    check_int(num_steps, "num_steps", 1, 10**6)
    step = check_positive(step, "step")
    persistence = check_real(persistence, "persistence", 0.0, 1.0, high_open=True, what="a share in [0, 1)")
    target = ls.outputs(theta).reshape(-1)
    g = torch.Generator(device=ls.device)
    g.manual_seed(check_seed(seed))
    points, direction = [theta], torch.zeros_like(theta)
    for i in range(num_steps):
        noise = torch.randn(ls.num_params, generator=g, dtype=ls.dtype, device=ls.device)
        mixed = persistence * direction + (1 - persistence) * noise / noise.norm()
        tangent = ls.project_tangent(mixed, points[-1])
        if float(tangent.norm()) <= 1e-8 * float(mixed.norm()):
            raise ValueError(f"theta: expected a point whose behaviour manifold has tangent directions, got none "
                             f"(step {i}: every direction changes the outputs)")
        direction = tangent / tangent.norm()
        new, residual = retract(ls, points[-1] + step * direction, target)
        if residual > 1e-6:
            raise ValueError(f"step: a step of {step:g} could not be retracted (behaviour residual "
                             f"{residual:.3g} at step {i}); expected a smaller step")
        points.append(new)
    return torch.stack(points)
