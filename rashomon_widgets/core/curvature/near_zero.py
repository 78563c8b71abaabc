"""The near-zero count of a Hessian spectrum, exact or estimated, as one result with its interval.

An eigenvalue is *near zero* when ``|lambda| <= tol * max |lambda|`` (the package's one rule, see
:class:`~.spectra.Spectrum`). An exact :class:`~.spectra.Spectrum` counts its eigenvalues; a
:class:`~.estimated_spectrum.SpectrumEstimate` (stochastic Lanczos quadrature) sums the weights of
its nodes, and its independent runs give a Student-t interval. Both answer
``near_zero_count(tol)`` with a :class:`NearZeroCount`, so a view or a notebook reads either the same
way.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import t as student_t


@dataclass(frozen=True)
class NearZeroCount:
    """How many of P eigenvalues are near zero, and how sure that is.

    Attributes:
        value: the count: an int for an exact spectrum, a float for an estimate.
        interval: ``(low, high)``: ``(value, value)`` for an exact count; for an estimate a 95%
            Student-t interval over the SLQ runs, clipped to [0, P], or None when it cannot be told
            (one run).
        num_params: P, the number of eigenvalues.
        tol: the relative tolerance of the rule.
        threshold: the absolute cut-off ``tol * max |lambda|``.
        exact: whether ``value`` is exact.
        num_runs: the SLQ runs behind an estimate (0 for an exact count).

    Example:
        >>> NearZeroCount(5, (5, 5), 9, 1e-6, 2.3e-6, exact=True).text()
        '5'
        >>> NearZeroCount(25_712.4, (25_510.0, 25_903.0), 26_122, 1e-3, 1e-4, exact=False, num_runs=4).text()
        'about 25,710 (95%: 25,510-25,903)'
    """

    value: int | float
    interval: tuple[float, float] | None
    num_params: int
    tol: float
    threshold: float
    exact: bool
    num_runs: int = 0

    def text(self) -> str:
        """The count as a person should read it.

        Returns:
            ``"5"`` for an exact count; for an estimate ``"about 25,700 (95%: 25,500-25,900)"``, with
            ``"; cannot tell finer from 2 SLQ runs"`` when the interval is wider than 1% of P, or
            ``"about 25,700 (precision unknown: 1 SLQ run)"`` without an interval. An estimate is
            rounded to its interval's precision.
        """
        if self.exact:
            return f"{int(self.value):,}"
        runs = f"{self.num_runs} SLQ run{'s' if self.num_runs != 1 else ''}"
        if self.interval is None:
            return f"about {self.value:,.0f} (precision unknown: {runs})"
        low, high = self.interval
        digits = max(0, int(math.floor(math.log10(max(high - low, 1.0)))) - 1)
        rounded = round(self.value, -digits) if digits else round(self.value)
        text = f"about {rounded:,.0f} (95%: {math.floor(low):,}-{math.ceil(high):,}"
        if high - low > 0.01 * self.num_params:
            text += f"; cannot tell finer from {runs}"
        return text + ")"

    def __int__(self) -> int:
        return int(round(self.value))

    def __float__(self) -> float:
        return float(self.value)


def runs_interval(nodes: np.ndarray, weights: np.ndarray, run_ids: np.ndarray | None, threshold: float,
                  num_params: int) -> tuple[float, float] | None:
    """A 95% Student-t interval for ``P * (weight of the nodes with |node| <= threshold)``.

    Each SLQ run is an independent estimate of the near-zero share (its near-zero weight over its
    total weight), so the runs' mean and standard error give the interval (t with runs - 1 degrees
    of freedom). It covers the runs' randomness only, not the coarseness of the Ritz nodes.

    Args:
        nodes: (N,) quadrature nodes.
        weights: (N,) their weights.
        run_ids: (N,) the run each node came from, or None.
        threshold: the absolute near-zero cut-off.
        num_params: P.

    Returns:
        ``(low, high)`` clipped to [0, P], or None with fewer than two runs or non-finite nodes.
    """
    if run_ids is None or not np.isfinite(nodes).all():
        return None
    runs = np.unique(run_ids)
    if len(runs) < 2:
        return None
    near = np.abs(nodes) <= threshold
    fractions = np.array([weights[(run_ids == r) & near].sum() / max(weights[run_ids == r].sum(), 1e-300)
                          for r in runs])
    k = len(fractions)
    half = float(student_t.ppf(0.975, k - 1)) * float(fractions.std(ddof=1)) / math.sqrt(k)
    mean = float(fractions.mean())
    return max(0.0, num_params * (mean - half)), min(float(num_params), num_params * (mean + half))


def near_zero_weight(nodes: np.ndarray, weights: np.ndarray, tol: float) -> tuple[float, float]:
    """``(scale, weight)``: ``max |node|`` and the weight of the nodes with ``|node| <= tol * scale``.

    Example:
        >>> near_zero_weight(np.array([0.0, 2.0]), np.array([0.75, 0.25]), 1e-3)
        (2.0, 0.75)
    """
    scale = float(np.abs(nodes).max()) if len(nodes) else 0.0
    return scale, float(weights[np.abs(nodes) <= tol * scale].sum())
