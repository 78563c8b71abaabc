"""The spectrum of a large Hessian by stochastic Lanczos quadrature: a :class:`SpectrumEstimate`.

The counterpart of the exact :class:`~.spectra.Spectrum` for models too large for a dense Hessian:
P eigenvalues as weighted quadrature nodes (Ritz values of Lanczos runs from random vectors, Ghorbani
et al. 2019, "An Investigation into Neural Net Optimization via Hessian Eigenvalue Density"), counted
with the package's one near-zero rule. Both results answer the same questions (``nodes``, ``counts``,
``nodes_near_zero``, ``near_zero_count(tol)``, ``summary()``), so a view never asks which it holds.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..validation import check_int, check_real, check_tolerance
from .eigensolver import lanczos_eigs
from .linear_operator import LinearOperatorLike
from .near_zero import NearZeroCount, near_zero_weight, runs_interval
from .spectral_density import slq

#: how far from 1 the weights of a :class:`SpectrumEstimate` may sum (rounding of the quadrature)
WEIGHT_SUM_TOL = 1e-6


@dataclass(frozen=True)
class SpectrumEstimate:
    """The stochastic-Lanczos-quadrature picture of a Hessian spectrum: P eigenvalues as weighted nodes.

    The counterpart of :class:`Spectrum` for models too large for a dense Hessian. Its near-zero count
    uses the same rule at every call site (``along_curve``'s ``near_zero`` column, ``spectrum_at``,
    the spectrum view): ``P * (weight of the nodes with |node| <= tol * max|node|)``. Ritz nodes are
    coarse, so read the count as the size of the bulk of eigenvalues at zero, not as a rank.

    Attributes:
        nodes: (N,) quadrature nodes (Ritz values of all runs), ascending.
        weights: (N,) their weights, summing to 1 (each node stands for ``P * weight`` eigenvalues).
        num_params: P.
        tol: relative near-zero tolerance.
        scale: ``max |node|`` (0 for a zero matrix).
        num_near_zero: ``P * weights[|nodes| <= tol * scale].sum()``, a float.
        num_vectors: Rademacher start vectors (runs) of the quadrature.
        num_steps: Lanczos steps per run.
        seed: seed of the start vectors.
        top_values: (k,) the k largest eigenvalues, descending, to :func:`lanczos_eigs`' accuracy
            (``spectrum_at(..., top_k=k)``), or empty.
        top_vectors: (P, k) their eigenvectors, or None: the warm start of the next point's
            ``spectrum_at(..., start=est.top_vectors)`` (a slider's next position).
        near_zero_interval: ``(low, high)``, a 95% Student-t interval for the near-zero count from the
            spread of the runs' own counts (each run is an independent estimate), clipped to [0, P]; None
            when it cannot be told (one run). Two runs give a wide interval (1 degree of freedom): that
            is the honest width. It covers the runs' randomness only, not the coarseness of the Ritz nodes.
        num_products: Hessian-vector products the estimate cost (0 where the nodes were given).
        run_ids: (N,) the SLQ run each node came from (for the interval at another tolerance), or None.

    Raises:
        ValueError: nodes or weights that are not finite, weights that are negative or do not sum to 1
            (within :data:`WEIGHT_SUM_TOL`), a tolerance outside [0, 1), a count ``num_near_zero``
            outside ``[0, P]``, or non-finite ``top_values``.

    Example:
        >>> est = SpectrumEstimate.from_nodes(np.array([0.0, 2.0]), np.array([0.75, 0.25]), 8, tol=1e-3)
        >>> est.num_near_zero, est.scale, est.threshold
        (6.0, 2.0, 0.002)
    """

    nodes: np.ndarray
    weights: np.ndarray
    num_params: int
    tol: float
    scale: float
    num_near_zero: float
    num_vectors: int = 0
    num_steps: int = 0
    seed: int = 0
    top_values: np.ndarray = field(default_factory=lambda: np.zeros(0))
    top_vectors: torch.Tensor | None = field(default=None, repr=False, compare=False)
    near_zero_interval: tuple[float, float] | None = None
    num_products: int = 0
    run_ids: np.ndarray | None = field(default=None, repr=False, compare=False)

    #: the counts are estimates (an exact :class:`Spectrum` says True)
    exact = False

    def __post_init__(self) -> None:
        """Refuse an estimate whose numbers cannot all be true: non-finite nodes, weights that are not a
        distribution, a bad tolerance, or a near-zero count outside ``[0, P]``.

        Raises:
            TypeError: counts that are not ints, or a tolerance or scale that is not a number.
            ValueError: see the class docstring.
        """
        nodes, weights = np.asarray(self.nodes), np.asarray(self.weights)
        if nodes.ndim != 1 or weights.shape != nodes.shape or nodes.size == 0:
            raise ValueError(f"nodes, weights: expected two 1-D arrays of the same positive length, got shapes "
                             f"{nodes.shape} and {weights.shape}")
        if not np.isfinite(nodes).all():
            raise ValueError(f"nodes: expected finite eigenvalue estimates, got {int((~np.isfinite(nodes)).sum())} "
                             f"of {nodes.size} NaN or inf")
        if not np.isfinite(weights).all() or (weights < 0).any():
            raise ValueError("weights: expected finite non-negative weights summing to 1, got "
                             f"{weights[~(np.isfinite(weights) & (weights >= 0))][:3].tolist()} among them")
        total = float(weights.sum())
        if abs(total - 1.0) > WEIGHT_SUM_TOL:
            raise ValueError(f"weights: expected weights summing to 1 (each node stands for P * weight "
                             f"eigenvalues, P in all), got a sum of {total:.6g}")
        num_params = check_int(self.num_params, "num_params", 1)
        check_tolerance(self.tol, "tol")
        check_real(self.scale, "scale", 0.0, what="a finite scale >= 0 (max |node|)")
        check_real(self.num_near_zero, "num_near_zero", 0.0, float(num_params),
                   what=f"a count in [0, {num_params}] (the number of eigenvalues, P)")
        check_int(self.num_vectors, "num_vectors", 0)
        check_int(self.num_steps, "num_steps", 0)
        check_int(self.num_products, "num_products", 0)
        top = np.asarray(self.top_values)
        if top.ndim != 1 or not np.isfinite(top).all():
            raise ValueError(f"top_values: expected a 1-D array of finite eigenvalues, got {top!r}")
        if self.near_zero_interval is not None:
            low, high = (check_real(v, "near_zero_interval", 0.0, float(num_params),
                                    what=f"counts in [0, {num_params}]") for v in self.near_zero_interval)
            if not low <= self.num_near_zero <= high:
                raise ValueError(f"near_zero_interval: expected an interval around num_near_zero="
                                 f"{self.num_near_zero:g}, got ({low:g}, {high:g})")

    @classmethod
    def from_nodes(cls, nodes, weights, num_params: int, *, tol: float = 1e-3, num_vectors: int = 0,
                   num_steps: int = 0, seed: int = 0, top_values=None,
                   top_vectors: torch.Tensor | None = None, run_lengths=None,
                   num_products: int = 0) -> SpectrumEstimate:
        """An estimate from quadrature nodes and weights (sorted here; scale and count computed).

        Args:
            nodes: (N,) quadrature nodes.
            weights: (N,) non-negative weights summing to 1.
            num_params: P.
            tol: relative near-zero tolerance.
            num_vectors, num_steps, seed: how the quadrature was run (recorded only).
            top_values, top_vectors: the largest eigenpairs, if computed (see the attributes).
            run_lengths: how many of the (unsorted) nodes each run contributed, in order, for the count's
                ``near_zero_interval`` (None: no interval).
            num_products: the products the nodes cost (recorded only).

        Returns:
            a :class:`SpectrumEstimate`.

        Raises:
            ValueError: nodes and weights of different lengths or none, NaN or inf among them, weights
                that are negative or do not sum to 1, or a bad tolerance.
        """
        nodes = np.asarray(nodes, dtype=np.float64).ravel()
        weights = np.asarray(weights, dtype=np.float64).ravel()
        if nodes.shape != weights.shape or nodes.size == 0:
            raise ValueError(f"nodes, weights: expected two 1-D arrays of the same positive length, got "
                             f"{nodes.size} nodes and {weights.size} weights")
        tol = check_tolerance(tol, "tol")
        num_params = check_int(num_params, "num_params", 1, 10**12)
        run_ids = None
        if run_lengths is not None:
            lengths = [int(n) for n in run_lengths]
            if sum(lengths) != nodes.size:
                raise ValueError(f"run_lengths: expected lengths summing to the {nodes.size} nodes, got {sum(lengths)}")
            run_ids = np.repeat(np.arange(len(lengths)), lengths)
        order = np.argsort(nodes, kind="stable")
        nodes, weights = nodes[order], weights[order]
        run_ids = None if run_ids is None else run_ids[order]
        scale, near = near_zero_weight(nodes, weights, tol) if np.isfinite(nodes).all() else (np.nan, np.nan)
        interval = runs_interval(nodes, weights, run_ids, tol * scale, num_params)
        near = min(near, 1.0)  # weights summing to 1 up to rounding: never more than P eigenvalues
        top = np.sort(np.asarray([] if top_values is None else top_values, dtype=np.float64).ravel())[::-1].copy()
        count = num_params * near
        if interval is not None:
            interval = (min(interval[0], count), max(interval[1], count))
        return cls(nodes, weights, num_params, tol, scale, count, num_vectors, num_steps, seed, top,
                   top_vectors, interval, num_products, run_ids)

    @property
    def threshold(self) -> float:
        """The absolute cut-off ``tol * scale``."""
        return self.tol * self.scale

    @property
    def counts(self) -> np.ndarray:
        """``P * weights``: the estimated number of eigenvalues each node stands for."""
        return self.num_params * self.weights

    @property
    def nodes_near_zero(self) -> np.ndarray:
        """Boolean mask (N,) of the nodes that are near zero (``|node| <= threshold``)."""
        return np.abs(self.nodes) <= self.threshold

    def near_zero_count(self, tol: float | None = None) -> NearZeroCount:
        """The estimated number of near-zero eigenvalues, with its 95% interval over the SLQ runs.

        Args:
            tol: relative tolerance (default: the estimate's own ``tol``).

        Returns:
            a :class:`NearZeroCount`: ``P * (weight of the nodes with |node| <= tol * scale)`` and the
            Student-t interval from the runs' own counts (None with one run, or where the runs are not
            known).

        Raises:
            ValueError: a tolerance outside [0, 1).

        Example:
            >>> est = SpectrumEstimate.from_nodes([0.0, 1e-4, 2.0, 0.0], [0.25] * 4, 8, tol=1e-3,
            ...                                   num_vectors=2, run_lengths=[2, 2])
            >>> est.near_zero_count().value, est.near_zero_count(1e-5).value
            (6.0, 4.0)
        """
        if tol is None or tol == self.tol:
            value, interval, threshold = self.num_near_zero, self.near_zero_interval, self.threshold
            tol = self.tol
        else:
            tol = check_tolerance(tol, "tol")
            threshold = tol * self.scale
            value = self.num_params * min(float(self.weights[np.abs(self.nodes) <= threshold].sum()), 1.0)
            interval = runs_interval(self.nodes, self.weights, self.run_ids, threshold, self.num_params)
            if interval is not None:
                interval = (min(interval[0], value), max(interval[1], value))
        return NearZeroCount(value, interval, self.num_params, tol, threshold, exact=False,
                             num_runs=self.num_vectors)

    def count_text(self) -> str:
        """The near-zero count with its uncertainty, as a person should read it (:meth:`NearZeroCount.text`).

        Returns:
            ``"about 25,700 (95%: 25,500-25,900)"``; ``"about 595,800 (95%: 590,000-596,042; cannot tell
            finer from 2 SLQ runs)"`` when the interval is wider than 1% of P; ``"about 25,700 (precision
            unknown: 1 SLQ run)"`` without an interval.
        """
        return self.near_zero_count().text()

    def summary(self) -> str:
        """One line for a notebook or a label.

        Returns:
            e.g. ``"about 25,700 (95%: 25,500-25,900) of 26,122 eigenvalues near zero (|lambda| <= 1e-03 x
            0.16; SLQ)"``.
        """
        return (f"{self.count_text()} of {self.num_params:,} eigenvalues near zero "
                f"(|lambda| <= {self.tol:.0e} x {self.scale:.3g}; SLQ)")

    def __repr__(self) -> str:
        return (f"SpectrumEstimate(P={self.num_params:,}, {len(self.nodes)} nodes, near zero "
                f"{self.num_near_zero:,.1f} at tol {self.tol:g}, scale {self.scale:.4g})")




def spectrum_estimate(op: LinearOperatorLike, *, num_vectors: int = 4, num_steps: int = 40, seed: int = 0,
                      tol: float = 1e-3, top_k: int = 0, start: torch.Tensor | None = None,
                      max_vectors: int | None = None) -> SpectrumEstimate:
    """The spectrum of a large Hessian as a :class:`SpectrumEstimate`, by plain :func:`slq`.

    Args:
        op: a symmetric operator (:class:`~.linear_operator.LinearOperatorLike`), such as a
            :class:`HessianOperator`; P = ``op.shape[0]``.
        num_vectors: Rademacher start vectors.
        num_steps: Lanczos steps per vector (capped at P).
        seed: seed of the start vectors.
        tol: relative near-zero tolerance.
        top_k: also the ``top_k`` largest eigenpairs, by :func:`lanczos_eigs` (default accuracy), kept
            in ``top_values`` / ``top_vectors``.
        start: warm start of that Lanczos run: the previous point's ``top_vectors``.
        max_vectors: the most Lanczos vectors held at once by the quadrature (see :func:`slq`).

    Returns:
        a :class:`SpectrumEstimate` whose ``nodes``/``weights`` are ``slq(op, ...)``'s, sorted, with the
        ``num_products`` spent.

    Raises:
        TypeError, ValueError: a bad count, seed or tolerance.

    Example:
        >>> with ls.hessian_operator() as op:                       # doctest: +SKIP
        ...     est = spectrum_estimate(op, num_vectors=4, num_steps=40)
        >>> est.num_near_zero                                       # doctest: +SKIP
    """
    tol = check_tolerance(tol, "tol")
    top_k = check_int(top_k, "top_k", 0, max(0, op.shape[0] - 2))
    top_values, top_vectors, before = None, None, op.num_products
    if top_k:
        top_values, top_vectors = lanczos_eigs(op, top_k, "largest", seed=seed, start=start)
        top_values = top_values.double().cpu().numpy()
    nodes, weights, lengths = slq(op, num_vectors=num_vectors, num_steps=num_steps, seed=seed, runs=True,
                                  max_vectors=max_vectors)
    return SpectrumEstimate.from_nodes(nodes, weights, op.shape[0], tol=tol, num_vectors=num_vectors,
                                       num_steps=min(num_steps, op.shape[0]), seed=seed, top_values=top_values,
                                       top_vectors=top_vectors, run_lengths=lengths,
                                       num_products=op.num_products - before)
