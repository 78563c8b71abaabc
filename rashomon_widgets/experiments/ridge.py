"""Write-up 1's checks against null models: notebook 01's SLQ density check and the cyclic walk's directions.

- :func:`slq_moment_check`: an SLQ density (nodes and weights) must reproduce the spectral moments
  ``v^T H^k v`` of its own start vectors, recomputed from fresh Hessian-vector products. Gauss quadrature with
  ``s`` nodes is exact for polynomials of degree up to ``2s - 1``, so for ``k = 1, 2, 3`` the agreement is exact
  up to rounding, whatever the sampling noise of the vectors: a density scaled by 0.8 or 1.2 (its eigenvalue axis
  or its weights), a wrong quadrature or a missing factor ``P`` fails by far more than rounding.
- :func:`direction_nulls`: how many directions a walk's steps span, next to two null models: the same number
  of steps of the same lengths drawn at random in the same space (nearly orthogonal in high dimension: the
  participation ratio of M such steps is close to M), and a walk that stays on the curve (steps between
  points of the curve visited in random order: at most the curve's own directions). Within a stated margin of
  the random null, the walk spans "about as many directions as random steps".
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..core.curvature.probes import rademacher
from ..core.geometry import directions

__all__ = ["MomentCheck", "slq_moment_check", "DirectionNulls", "direction_nulls"]


@dataclass(frozen=True)
class MomentCheck:
    """Does an SLQ density reproduce the moments of its own start vectors? (:func:`slq_moment_check`).

    Attributes:
        density_moments: (K,) ``P * sum(weights * nodes**k)`` for k = 1..K.
        vector_moments: (K,) the mean over the start vectors of ``v^T H^k v``, from Hessian-vector products.
        relative_errors: (K,) ``|density - vectors| / |vectors|``.
        rtol: the largest relative error that passes.
        passed: every relative error is at most ``rtol``.
    """

    density_moments: np.ndarray
    vector_moments: np.ndarray
    relative_errors: np.ndarray
    rtol: float
    passed: bool

    def line(self) -> str:
        """The check as one printable line.

        Returns:
            a string naming each moment's relative error and whether the check passed.
        """
        errors = ", ".join(f"k = {k + 1}: {e:.1e}" for k, e in enumerate(self.relative_errors))
        return (f"SLQ moments against v^T H^k v of the same start vectors: relative errors {errors} "
                f"({'pass' if self.passed else 'FAIL'} at {self.rtol:g})")


def slq_moment_check(hvp, nodes, weights, num_params: int, num_vectors: int, *, seed: int = 0,
                     dtype=torch.float32, device="cpu", moments: int = 3, rtol: float = 1e-3) -> MomentCheck:
    """Check an SLQ density against the spectral moments of the Rademacher vectors it started from.

    The vectors are regenerated as :func:`~rashomon_widgets.core.curvature.spectral_density.slq` drew them
    (``rademacher((P, num_vectors), seed=seed)``); ``v^T H v``, ``|H v|^2`` and ``(H v)^T H (H v)`` come from two
    fresh products per vector. The density's k-th moment, ``P * sum(weights * nodes**k)``, equals their mean for
    ``k < 2 * steps`` (Gauss quadrature), so the relative error is rounding for a correct density and at least
    ``|c - 1|`` for a density whose weights are scaled by ``c`` (``|c^k - 1|`` for nodes scaled by ``c``).

    Args:
        hvp: a function mapping a (P, m) block of vectors to the Hessian times it.
        nodes: (N,) the quadrature nodes of the density.
        weights: (N,) their weights (summing to 1 for a correct density).
        num_params: P.
        num_vectors: how many start vectors the density used.
        seed: their seed.
        dtype: their dtype (the Hessian's).
        device: their device.
        moments: how many moments to compare (1 to 3).
        rtol: the largest relative error that passes.

    Returns:
        a :class:`MomentCheck`.

    Raises:
        ValueError: mismatched nodes and weights, or ``moments`` outside 1..3.

    Example:
        >>> h = torch.diag(torch.arange(1.0, 6.0, dtype=torch.float64))
        >>> from rashomon_widgets.core.curvature.lanczos_recurrence import lanczos, quadrature
        >>> v0 = rademacher((5, 2), seed=0, dtype=torch.float64, device="cpu")
        >>> n, w = quadrature(*lanczos(lambda v: h @ v, v0, 3))
        >>> n, w = np.concatenate(n), np.concatenate(w) / 2
        >>> slq_moment_check(lambda v: h @ v, n, w, 5, 2, dtype=torch.float64).passed
        True
        >>> slq_moment_check(lambda v: h @ v, 0.8 * n, w, 5, 2, dtype=torch.float64).passed
        False
    """
    nodes, weights = np.asarray(nodes, dtype=float), np.asarray(weights, dtype=float)
    if nodes.shape != weights.shape or nodes.ndim != 1:
        raise ValueError(f"nodes, weights: expected two 1-D arrays of one length, got {nodes.shape}, {weights.shape}")
    if not 1 <= int(moments) <= 3:
        raise ValueError(f"moments: expected 1, 2 or 3, got {moments}")
    v = rademacher((int(num_params), int(num_vectors)), seed=seed, dtype=dtype, device=device)
    hv = hvp(v)
    hhv = hvp(hv) if moments >= 3 else None
    per_vector = [(v * hv).sum(0), (hv * hv).sum(0)] + ([(hv * hhv).sum(0)] if hhv is not None else [])
    vector_moments = np.array([float(m.double().mean()) for m in per_vector[:moments]])
    density_moments = np.array([num_params * float((weights * nodes ** k).sum()) for k in range(1, moments + 1)])
    errors = np.abs(density_moments - vector_moments) / np.maximum(np.abs(vector_moments), 1e-300)
    return MomentCheck(density_moments=density_moments, vector_moments=vector_moments, relative_errors=errors,
                       rtol=float(rtol), passed=bool(np.all(errors <= rtol)))


@dataclass(frozen=True)
class DirectionNulls:
    """A walk's spread of directions next to two null models (:func:`direction_nulls`).

    Attributes:
        walk: the walk's participation ratio.
        random: (draws,) participation ratios of as many random steps of the same lengths in the same space.
        on_curve: (draws,) participation ratios of walks that visit points of the curve in random order.
        num_steps: M, the number of steps.
        margin: how far below the random null's median (a share of it) still counts as "about as many
            directions as random steps"; a walk further below spans fewer directions than random steps.
    """

    walk: float
    random: np.ndarray
    on_curve: np.ndarray
    num_steps: int
    margin: float = 0.1

    @property
    def position(self) -> float:
        """Where the walk lies between the on-curve null (0) and the random-step null (1), by medians."""
        lo, hi = float(np.median(self.on_curve)), float(np.median(self.random))
        return (self.walk - lo) / (hi - lo) if hi > lo else float("nan")

    def line(self) -> str:
        """The comparison as one printable line, with a verdict computed from the numbers.

        The walk spans "about as many directions as random steps" when it lies above the on-curve null's
        97.5th percentile and reaches at least ``1 - margin`` of the random null's median; it "shares some
        directions" when it lies between the two nulls, below that margin; otherwise it is "no more spread than a
        walk that stays on the curve". A walk within the margin but below every random draw gets that said too:
        random steps in a large space hardly vary, so a small shortfall is detectable without being large.

        Returns:
            a string starting with ``"Null models:"``.
        """
        r_lo, r_hi = np.percentile(self.random, [2.5, 97.5])
        c_lo, c_hi = np.percentile(self.on_curve, [2.5, 97.5])
        median = float(np.median(self.random))
        share = self.walk / median if median > 0 else float("nan")
        above_curve = self.walk > c_hi
        if above_curve and share >= 1 - self.margin:
            reading = (f"spans about as many directions as random steps of the same lengths: {share:.0%} of their "
                       f"value, within the stated margin of {self.margin:.0%}"
                       + (f" (below {np.mean(self.random > self.walk):.0%} of the random draws: the steps share a "
                          "small part of their directions, detectable only because random steps in this space hardly "
                          "vary)" if self.walk < r_lo else "")
                       + f". Spanning many directions is what any {self.num_steps} generic steps do here, not "
                       "evidence of structure on the ridge")
        elif above_curve:
            reading = (f"is more spread than a walk along the curve, but spans fewer directions than random steps "
                       f"({share:.0%} of their value, below the stated margin of {self.margin:.0%}): the walk's "
                       "steps share some directions")
        else:
            reading = "is no more spread than a walk that stays on the curve"
        return (f"Null models: the walk's {self.num_steps} steps have participation ratio {self.walk:.2f}; "
                f"{self.num_steps} random steps of the same lengths: {median:.2f} "
                f"(95% of draws {r_lo:.2f} to {r_hi:.2f}); a walk along the curve: {np.median(self.on_curve):.2f} "
                f"({c_lo:.2f} to {c_hi:.2f}). So the walk {reading}.")


def direction_nulls(steps: torch.Tensor, curve, *, draws: int = 50, seed: int = 0,
                    margin: float = 0.1) -> DirectionNulls:
    """Compare the participation ratio of a walk's steps with a random-step null and an on-curve null.

    Args:
        steps: (M, P) the walk's steps ``theta_i - theta_{i-1}``.
        curve: a callable mapping ``t`` in [0, 1] to a point (P,) (such as a :class:`~rashomon_widgets.BezierCurve`).
        draws: samples of each null model.
        seed: seed of the samples.
        margin: the share of the random null's median below it that still reads "about as many directions as
            random steps" (:meth:`DirectionNulls.line`), in [0, 1).

    Returns:
        a :class:`DirectionNulls`.

    Raises:
        ValueError: ``steps`` not 2-D, or ``margin`` outside [0, 1).

    Example:
        >>> curve = lambda t: torch.tensor([t, t * t, 0.0, 0.0, 0.0])
        >>> nulls = direction_nulls(torch.eye(3, 5), curve, draws=5)
        >>> round(nulls.walk, 2), float(nulls.on_curve.max()) <= 2.0 + 1e-9
        (3.0, True)
    """
    if not isinstance(steps, torch.Tensor) or steps.ndim != 2:
        raise ValueError(f"steps: expected a 2-D tensor (M, P), got {getattr(steps, 'shape', type(steps))}")
    if not 0.0 <= float(margin) < 1.0:
        raise ValueError(f"margin: expected a number in [0, 1), got {margin!r}")
    steps = steps.detach().double().cpu()
    m, p = steps.shape
    lengths = steps.norm(dim=1, keepdim=True)
    g = torch.Generator().manual_seed(int(seed))
    rng = np.random.default_rng(seed)
    random, on_curve = [], []
    for _ in range(int(draws)):
        r = torch.randn(m, p, generator=g, dtype=torch.float64)
        random.append(directions(r / r.norm(dim=1, keepdim=True) * lengths).participation)
        ts = rng.uniform(0, 1, m + 1)
        pts = torch.stack([torch.as_tensor(curve(float(t))).detach().double().cpu() for t in ts])
        on_curve.append(directions(torch.diff(pts, dim=0)).participation)
    return DirectionNulls(walk=directions(steps).participation, random=np.array(random),
                          on_curve=np.array(on_curve), num_steps=m, margin=float(margin))
