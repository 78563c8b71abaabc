"""Write-up 3's small constructions (broad basins, notebook 03), shared by the tutorial and its tests.

- :func:`synthetic_loss`, :func:`gradient_flow`, :func:`in_rashomon_set`: the write-up's 2-D landscapes
  (a 1-D Rashomon set with a 2-D attractor well; the piecewise example with a 2-D set).
- :func:`nudges`, :func:`nudge_counts`: random nudges of a minimum, their losses and how much of each lies in
  the null space.
"""
from __future__ import annotations

import numpy as np
import torch

from ..core import Landscape
from ..core.validation import check_choice, check_int, check_positive, check_seed

SYNTHETIC = ("circle", "piecewise")


# ----------------------------------------------------------------------------- 2-D toys
def synthetic_loss(kind: str, x, y) -> np.ndarray:
    """Write-up 3's synthetic landscapes on the plane, elementwise.

    ``"circle"``: ``L = (x^2 + y^2 - 1)^2``; its Rashomon set (L = 0) is the unit circle, one-dimensional,
    and gradient flow from every start but the origin ends on it: a two-dimensional attractor well.
    ``"piecewise"``: ``L = (x + 1)^2`` for ``x < -1``, ``0`` for ``|x| <= 1``, ``(x - 1)^2`` for ``x > 1``;
    its Rashomon set is the strip ``|x| <= 1``, two-dimensional, with a two-dimensional well too.

    Args:
        kind: ``"circle"`` or ``"piecewise"``.
        x, y: coordinates (numbers or arrays that broadcast together).

    Returns:
        the loss, a numpy array of the broadcast shape.

    Raises:
        ValueError: an unknown kind.
    """
    check_choice(kind, "kind", SYNTHETIC)
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if kind == "circle":
        return (x ** 2 + y ** 2 - 1) ** 2
    return np.where(x < -1, (x + 1) ** 2, np.where(x > 1, (x - 1) ** 2, 0.0)) + 0.0 * y


def _synthetic_grad(kind: str, p: np.ndarray) -> np.ndarray:
    x, y = p[..., 0], p[..., 1]
    if kind == "circle":
        r = 4 * (x ** 2 + y ** 2 - 1)
        return np.stack([r * x, r * y], -1)
    gx = np.where(x < -1, 2 * (x + 1), np.where(x > 1, 2 * (x - 1), 0.0))
    return np.stack([gx, np.zeros_like(y)], -1)


def gradient_flow(kind: str, starts, *, steps: int = 400, lr: float = 0.02) -> np.ndarray:
    """Gradient descent (a discretised gradient flow) on a synthetic landscape.

    Args:
        kind: ``"circle"`` or ``"piecewise"`` (see :func:`synthetic_loss`).
        starts: (M, 2) start points.
        steps: descent steps.
        lr: the step size.

    Returns:
        (steps + 1, M, 2): every point of every trajectory, the starts first.

    Raises:
        TypeError, ValueError: an unknown kind, bad numbers, or starts not of shape (M, 2).
    """
    check_choice(kind, "kind", SYNTHETIC)
    check_int(steps, "steps", 1, 10**6)
    lr = check_positive(lr, "lr")
    p = np.array(starts, dtype=float)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"starts: expected points of shape (M, 2), got shape {p.shape}")
    out = [p]
    for _ in range(steps):
        p = p - lr * _synthetic_grad(kind, p)
        out.append(p)
    return np.stack(out)


def in_rashomon_set(kind: str, points, tol: float = 1e-6) -> np.ndarray:
    """Which points lie in the Rashomon set of a synthetic landscape.

    Args:
        kind: ``"circle"`` or ``"piecewise"`` (see :func:`synthetic_loss`).
        points: (M, 2) points.
        tol: the loss level of the set.

    Returns:
        (M,) bool array: loss ``<= tol``.
    """
    p = np.asarray(points, dtype=float)
    return synthetic_loss(kind, p[..., 0], p[..., 1]) <= tol


# ----------------------------------------------------------------------------- nudges
def nudges(ls: Landscape, num: int, radius: float, *, seed: int = 0, theta=None):
    """``num`` random nudges of ``theta``: uniform directions, radii uniform in ``[0, radius]``.

    Args:
        ls: the :class:`Landscape`.
        num: how many nudges.
        radius: the largest nudge length.
        seed: seed of the directions and radii.
        theta: (P,) the point nudged; default the trained parameters.

    Returns:
        ``(thetas (num, P), losses (num,), null_share (num,))``; ``null_share`` is the norm of the
        part of each nudge direction that lies in the Hessian's null space at ``theta`` (0 to 1).

    Raises:
        TypeError, ValueError: bad numbers or a bad ``theta``.
    """
    check_int(num, "num", 1, 10**7)
    radius = check_positive(radius, "radius")
    origin = ls.theta if theta is None else ls.check_theta(theta).clone()
    g = torch.Generator(device=ls.device).manual_seed(check_seed(seed))
    u = torch.randn(num, ls.num_params, generator=g, dtype=ls.dtype, device=ls.device)
    u = u / u.norm(dim=1, keepdim=True)
    r = radius * torch.rand(num, 1, generator=g, dtype=ls.dtype, device=ls.device)
    thetas = origin + r * u
    basis = ls.null_space(origin)
    share = (u @ basis).norm(dim=1)
    return thetas, ls.losses(thetas), share


def nudge_counts(ls: Landscape, radii, thresholds, num: int, *, seed: int = 0, theta=None) -> np.ndarray:
    """How many of ``num`` random nudges stay below each loss threshold, for each largest nudge length.

    The nudges are those of :func:`nudges` with the same ``seed``: the same directions and the same
    fractions of the radius at every radius, so the rows differ only in the radius (one batched loss per
    radius; the minimum and its null space are computed once).

    Args:
        ls: the :class:`Landscape`.
        radii: largest nudge lengths (each nudge's length is uniform in ``[0, radius]``).
        thresholds: loss levels; a nudge counts when its loss is ``< threshold``.
        num: nudges per radius.
        seed: seed of the directions and lengths.
        theta: (P,) the point nudged; default the trained parameters.

    Returns:
        int array (len(radii), len(thresholds)): the counts (out of ``num``).

    Example:
        >>> from rashomon_widgets import Landscape, data, models
        >>> ls = Landscape(models.xor_minimum(), models.sum_of_squares, data.xor(), reduction="sum")
        >>> counts = nudge_counts(ls, radii=(0.01, 1.0), thresholds=(1e-3,), num=50)
        >>> bool(counts[0, 0] > counts[1, 0])      # short nudges stay low more often
        True
    """
    check_int(num, "num", 1, 10**7)
    thresholds = np.asarray([check_positive(t, "threshold") for t in thresholds], dtype=float)
    origin = ls.theta if theta is None else ls.check_theta(theta).clone()
    g = torch.Generator(device=ls.device).manual_seed(check_seed(seed))
    u = torch.randn(num, ls.num_params, generator=g, dtype=ls.dtype, device=ls.device)   # as in nudges()
    u = u / u.norm(dim=1, keepdim=True)
    fraction = torch.rand(num, 1, generator=g, dtype=ls.dtype, device=ls.device)
    rows = []
    for radius in radii:
        losses = ls.losses(origin + check_positive(radius, "radius") * fraction * u).detach().cpu().numpy()
        rows.append((losses[:, None] < thresholds[None, :]).sum(0))
    return np.array(rows, dtype=int).reshape(len(rows), len(thresholds))
