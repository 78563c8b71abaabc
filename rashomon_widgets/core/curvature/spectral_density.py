"""The Hessian's eigenvalue density: stochastic Lanczos quadrature (SLQ), deflated.

For a unit vector ``v``, ``v^T f(H) v = sum_i (q_i^T v)^2 f(lambda_i)``: an integral of ``f`` against a
measure with mass ``(q_i^T v)^2`` at each eigenvalue. m Lanczos steps from ``v`` give that measure's
m-point Gauss quadrature (nodes: the eigenvalues of the tridiagonal matrix ``T_m``; weights: the squared
first components of its eigenvectors), exact for polynomials of degree up to ``2m - 1``. For a random
``v`` the expected measure is the spectral density ``(1/P) sum_i delta(lambda - lambda_i)``, so the average
of a few runs estimates it (Ubaru, Chen & Saad 2017, "Fast estimation of tr(f(A)) via stochastic Lanczos
quadrature"; on network Hessians, Ghorbani, Krishnan & Xiao 2019, "An investigation into neural net
optimization via Hessian eigenvalue density").

Plain SLQ's first moment is a Hutchinson estimate of the trace, whose variance is set by the whole
Hessian's Frobenius norm, dominated by its few large eigenvalues. :func:`density` first runs Lanczos
from one random vector for ``deflation_steps`` steps. Its Krylov subspace holds the dominant
eigenvectors at both ends of the spectrum (its converged Ritz values are exact eigenvalues), and every
one of its Ritz values enters as a node of weight 1/P. SLQ then runs on the rest of the space only
(start vectors and products projected onto the complement, weights scaled by ``(P - d) / P``). The
Krylov subspace and its complement couple only through the last Lanczos vector (a rank-two term), so
together they describe the spectrum, and the first moment's error is set by the complement's much
smaller Frobenius norm (the deflation idea of Hutch++, Meyer et al. 2021), with an error estimate from
the SLQ start vectors. A run that closes on an invariant subspace (as for an eigenvalue repeated
exactly, of which one start vector sees one copy) is followed by another from a fresh vector on the
complement.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch

from ..validation import check_int, check_positive, check_real, check_seed, check_tolerance
from .lanczos_recurrence import krylov, lanczos, quadrature, tridiagonal
from .linear_operator import LinearOperatorLike
from .near_zero import NearZeroCount, near_zero_weight, runs_interval
from .probes import gaussian, generator, rademacher
from .trace_estimators import TraceEstimate, estimate, mean_and_stderr, warn_if_loose

__all__ = ["Density", "broaden", "density", "slq"]


class Density(tuple):
    """An eigenvalue density that unpacks as ``grid, dens = ...``, and what it was computed from.

    Args:
        grid: (G,) eigenvalues where the density is evaluated.
        heights: (G,) the density there (integrates to 1 over ``grid``).
        nodes: (N,) quadrature nodes, ascending (the deflating run's Ritz values and the SLQ nodes).
        weights: (N,) their weights, summing to 1 (``P * sum(weights * nodes)`` is the trace estimate).
        num_params: P.
        top_values: eigenvalues the deflating runs found to working accuracy (converged Ritz values
            well separated from their neighbours, from both ends of the spectrum), descending. The
            leading ones are the top eigenvalues in order; deeper in, a close pair may show up once, and
            an exactly repeated eigenvalue appears as often as restarted runs found it.
        trace: the first moment times P, a :class:`TraceEstimate` with the error of the SLQ part.
        sigma: the Gaussian width used.
        num_products: Hessian-vector products spent.
        run_ids: (N,) the SLQ run each node came from, -1 for the deflating run's exact eigenvalues (None:
            not known; the near-zero count then has no interval).

    Example:
        >>> dens = ls.density()                                     # doctest: +SKIP
        >>> grid, heights = dens                                    # doctest: +SKIP
        >>> dens.near_zero_count(1e-3).text()                       # doctest: +SKIP
        >>> dens.trace, dens.top_values[:3]                         # doctest: +SKIP
    """

    def __new__(cls, grid, heights, *, nodes, weights, num_params: int, top_values, trace: TraceEstimate,
                sigma: float, num_products: int, run_ids=None):
        """Attach what the density was computed from to the ``(grid, heights)`` pair (documented on the class)."""
        self = super().__new__(cls, (grid, heights))
        self.nodes, self.weights, self.num_params, self.top_values = nodes, weights, num_params, top_values
        self.trace, self.sigma, self.num_products, self.run_ids = trace, sigma, num_products, run_ids
        return self

    def __getnewargs_ex__(self):
        keys = ("nodes", "weights", "num_params", "top_values", "trace", "sigma", "num_products", "run_ids")
        return (self[0], self[1]), {k: getattr(self, k) for k in keys}

    @property
    def grid(self) -> np.ndarray:
        """The eigenvalue grid (G,)."""
        return self[0]

    @property
    def heights(self) -> np.ndarray:
        """The density on the grid (G,)."""
        return self[1]

    @property
    def density(self) -> np.ndarray:
        """Deprecated: :attr:`heights` (a density's ``density`` read as the thing itself)."""
        warnings.warn("Density.density is deprecated: use Density.heights (or grid, heights = ls.density())",
                      DeprecationWarning, stacklevel=2)
        return self[1]

    def near_zero_count(self, tol: float = 1e-3) -> NearZeroCount:
        """How many eigenvalues are near zero, by the rule of :class:`SpectrumEstimate`, with a 95% interval.

        The count is ``P * weights[|nodes| <= tol * max|nodes|].sum()`` (not the broadened density's integral,
        which smears the large eigenvalues' weight into the band). The deflating run's eigenvalues are exact
        and counted as they are; each SLQ run on the deflated rest is an independent estimate of its
        near-zero share, so the runs give a Student-t interval for the rest (:func:`~.near_zero.runs_interval`).
        A density with no SLQ runs (a small model, deflated whole) is an exact count.

        Args:
            tol: relative tolerance: nodes with ``|node| <= tol * max|node|`` count.

        Returns:
            a :class:`NearZeroCount`.

        Raises:
            ValueError: a tolerance outside [0, 1).

        Example:
            >>> ls.density().near_zero_count(1e-3).text()           # doctest: +SKIP
            'about 25,710 (95%: 25,510-25,903)'
        """
        tol = check_tolerance(tol, "tol")
        scale, weight = near_zero_weight(self.nodes, self.weights, tol)
        threshold, p = tol * scale, self.num_params
        if self.run_ids is None:
            return NearZeroCount(p * weight, None, p, tol, threshold, exact=False)
        sampled = self.run_ids >= 0
        num_runs = len(np.unique(self.run_ids[sampled]))
        exact_part = int((np.abs(self.nodes[~sampled]) <= threshold).sum())
        if num_runs == 0:
            return NearZeroCount(exact_part, (exact_part, exact_part), p, tol, threshold, exact=True)
        rest = p - int((~sampled).sum())
        interval = runs_interval(self.nodes[sampled], self.weights[sampled], self.run_ids[sampled], threshold, rest)
        if interval is not None:
            interval = (exact_part + interval[0], exact_part + interval[1])
        return NearZeroCount(p * weight, interval, p, tol, threshold, exact=False, num_runs=num_runs)

    def count_near_zero(self, tol: float = 1e-3) -> float:
        """Deprecated: ``near_zero_count(tol).value`` (one name for the near-zero count of every spectrum).

        Args:
            tol: relative tolerance (see :meth:`near_zero_count`).

        Returns:
            the estimated count, a float.
        """
        warnings.warn("Density.count_near_zero(tol) is deprecated: use Density.near_zero_count(tol), a NearZeroCount "
                      "with its interval (.value is the old number)", DeprecationWarning, stacklevel=2)
        return float(self.near_zero_count(tol).value)

    def __repr__(self) -> str:
        return (f"Density(P={self.num_params:,}, {len(self[0])} grid points, {len(self.nodes)} nodes, "
                f"trace {float(self.trace):.6g} ± {self.trace.error:.2g}, {len(self.top_values)} exact "
                f"eigenvalues, {self.num_products} products)")



def slq(op: LinearOperatorLike, *, num_vectors: int = 10, num_steps: int = 80, seed: int = 0, runs: bool = False,
        max_vectors: int | None = None):
    """Plain stochastic Lanczos quadrature (Ghorbani et al. 2019): nodes and weights of the spectral measure.

    Args:
        op: a symmetric operator (:class:`~.linear_operator.LinearOperatorLike`: ``matvec``, ``shape``,
            ``dtype``, ``device``, ``num_products``), such as a :class:`HessianOperator`.
        num_vectors: Rademacher start vectors (runs).
        num_steps: Lanczos steps per run (capped at P).
        seed: seed of the start vectors.
        runs: also return each run's number of nodes (the arrays hold the runs in order).
        max_vectors: the most Lanczos vectors of P entries held at once (None: no limit): the runs go in
            groups of ``max_vectors // (num_steps + 1)`` (at least one), from the same start vectors.

    Returns:
        ``(nodes, weights)``: 1-D float64 arrays; the weights sum to 1 (each run's weights are divided
        by ``num_vectors``), so ``sum(weights * nodes) * P`` is a Hutchinson estimate of the trace.
        With ``runs``: ``(nodes, weights, run_lengths)``.

    Raises:
        TypeError, ValueError: a bad count or seed.

    Example:
        >>> with ls.hessian_operator() as op:                       # doctest: +SKIP
        ...     nodes, weights = slq(op, num_vectors=4, num_steps=30)
    """
    check_int(num_vectors, "num_vectors", 1, 10_000)
    steps = min(check_int(num_steps, "num_steps", 1, 100_000), op.shape[0])
    group = num_vectors if max_vectors is None else max(1, check_int(max_vectors, "max_vectors", 1) // (steps + 1))
    v0 = rademacher((op.shape[0], num_vectors), seed=check_seed(seed), dtype=op.dtype, device=op.device)
    nodes, weights = [], []
    for k in range(0, num_vectors, group):   # the runs are independent: a group at a time bounds the memory
        n, w = quadrature(*lanczos(op.matvec, v0[:, k:k + group], steps))
        nodes += n
        weights += w
    flat = np.concatenate(nodes), np.concatenate(weights) / num_vectors
    return (*flat, [len(n) for n in nodes]) if runs else flat


def density(op: LinearOperatorLike, *, num_vectors: int = 20, num_steps: int = 20, deflation_steps: int = 400,
            seed: int = 0, grid_size: int = 1000, sigma: float | None = None, max_vectors: int | None = None,
            rtol: float | None = None, max_products: int | None = None) -> Density:
    """Eigenvalue density of the Hessian by deflated stochastic Lanczos quadrature, Gaussian-broadened.

    Costs at most ``deflation_steps + num_vectors * num_steps`` products (800 by default). See the
    module docstring for the method. The split trades the trace's accuracy (deflation steps take the
    large eigenvalues out of the Hutchinson variance; more vectors average the rest) against the bulk's
    resolution (more ``num_steps`` resolve it more finely, for a small ``sigma``); the default's
    first-moment errors are in ``benchmarks/results.md``. Memory: as many Lanczos vectors of P entries
    as products (800 x P in the model's dtype by default).

    Args:
        op: a symmetric operator (:class:`~.linear_operator.LinearOperatorLike`: ``matvec``, ``shape``,
            ``dtype``, ``device``, ``num_products``), such as a :class:`HessianOperator`.
        num_vectors: SLQ start vectors on the complement of the Krylov subspace (>= 2 for an error).
        num_steps: Lanczos steps per SLQ run (capped at the complement's dimension).
        deflation_steps: steps d of the deflating Lanczos run (capped at P; 0: plain SLQ with Gaussian
            start vectors). It stops early on an invariant subspace, and if that is the whole space
            (a small model) the density is exact and no SLQ runs.
        seed: seed of all random vectors.
        grid_size: points of the returned grid.
        sigma: width of the Gaussian placed on each node; default 1% of the spectrum's range.
        max_vectors: the most Lanczos vectors of P entries held at once (None: no limit). When the
            defaults would hold more, the deflating run is cut to ``max_vectors // 3`` steps and the SLQ
            runs go in groups that fit (the same start vectors; fewer deflation steps widen the error
            bar). :meth:`Landscape.density` sets it from ``memory_budget``.
        rtol: a target for the density's first moment (its trace): more SLQ runs until its error bar is
            within ``rtol`` of it, or ``max_products`` would be exceeded (``density.trace.met`` says which).
        max_products: the most products in all with a target (default 4 times the defaults' count).

    Returns:
        a :class:`Density`: unpacks as ``(grid, density)`` (float64 numpy arrays; the density
        integrates to 1 over the grid, which extends 6 sigma past the extreme nodes, and
        ``trapezoid(grid * density, grid) * P`` estimates the trace), with ``nodes``, ``weights``,
        ``top_values``, ``trace`` (a :class:`TraceEstimate`) and ``num_products``.

    Raises:
        TypeError, ValueError: a bad count, seed, grid size, sigma or rtol.

    Warns:
        EstimateWarning: the trace's error bar is larger than its value, or a target was not met.

    Example:
        >>> grid, dens = ls.density()                               # doctest: +SKIP
        >>> ls.density(rtol=0.05).trace.met                         # more runs until within 5%  # doctest: +SKIP
        >>> d = ls.density(num_vectors=5, num_steps=40)             # doctest: +SKIP
        >>> float(d.trace), d.trace.error, d.top_values[0]          # doctest: +SKIP
    """
    nv = check_int(num_vectors, "num_vectors", 1, 10_000)
    check_int(num_steps, "num_steps", 1, 100_000)
    check_int(deflation_steps, "deflation_steps", 0, 10**7)
    check_int(grid_size, "grid_size", 2, 10**7)
    if sigma is not None:
        check_positive(sigma, "sigma", "a positive width")
    p, before = op.shape[0], op.num_products
    group = nv
    if max_vectors is not None:
        max_vectors = check_int(max_vectors, "max_vectors", 3)
        if deflation_steps + nv * num_steps > max_vectors:
            deflation_steps = min(deflation_steps, max_vectors // 3)
            group = max(1, (max_vectors - deflation_steps) // (num_steps + 1))
    if rtol is not None:
        rtol = check_real(rtol, "rtol", 0.0, low_open=True, what="a relative accuracy > 0 (e.g. 0.1)")
    g = generator(check_seed(seed), op.device)
    basis, ritz, top = _deflate(op, deflation_steps, g)
    d = basis.shape[1]
    budget = max_products if max_products is not None else 4 * (deflation_steps + nv * num_steps)
    slq_nodes, slq_weights, quotients = [], [], []
    trace_value, stderr, dof = float(ritz.sum()), 0.0, 0
    if d < p:
        steps = min(num_steps, p - d)
        wanted = nv
        while True:
            while len(slq_nodes) < wanted:  # the runs are independent: a group at a time bounds the memory
                v0 = gaussian((p, min(group, wanted - len(slq_nodes))), generator=g, dtype=op.dtype, device=op.device)
                run = krylov(lambda v: _project(op.matvec(v), basis), _project(v0, basis), steps)
                run_nodes, run_weights = quadrature(run.alpha, run.beta)
                slq_nodes += run_nodes
                slq_weights += run_weights
                quotients.append(run.alpha[:, 0] * (p - d))  # Rayleigh quotients of the start vectors
            mean, stderr = mean_and_stderr(torch.cat(quotients))
            trace_value, dof = float(ritz.sum()) + mean, len(slq_nodes) - 1
            error = estimate(trace_value, stderr, dof, abs(trace_value), dtype=op.dtype, confidence=0.95,
                             num_products=0, method="slq").error
            left = budget - (op.num_products - before)
            if rtol is None or error <= rtol * abs(trace_value) or left < steps:
                break
            # the error falls like 1/sqrt(runs): ask for what it suggests, at least twice as many, within budget
            more = len(slq_nodes) * ((error / (rtol * abs(trace_value) + 1e-300)) ** 2 * 1.2 - 1)
            wanted = len(slq_nodes) + int(min(left // steps, max(len(slq_nodes), more)))
    runs = len(slq_nodes)
    nodes = np.concatenate([ritz] + slq_nodes)
    weights = np.concatenate([np.full(d, 1.0 / p)] + [w * (p - d) / (p * runs) for w in slq_weights])
    run_ids = np.concatenate([np.full(d, -1)] + [np.full(len(n), i) for i, n in enumerate(slq_nodes)])
    order = np.argsort(nodes, kind="stable")
    nodes, weights, run_ids = nodes[order], weights[order], run_ids[order]
    used = op.num_products - before
    trace = estimate(trace_value, stderr, dof, float(p * np.abs(weights * nodes).sum()), dtype=op.dtype,
                     confidence=0.95, num_products=used, method="slq", rtol=rtol)
    warn_if_loose(trace, budget, "density")
    grid, dens, sigma = broaden(nodes, weights, grid_size=grid_size, sigma=sigma)
    return Density(grid, dens, nodes=nodes, weights=weights, num_params=p, top_values=top, trace=trace,
                   sigma=sigma, num_products=used, run_ids=run_ids)


def broaden(nodes: np.ndarray, weights: np.ndarray, *, grid_size: int = 1000, sigma: float | None = None):
    """A quadrature (nodes, weights) as a smooth density: a Gaussian of width ``sigma`` on each node.

    Args:
        nodes: (N,) eigenvalues.
        weights: (N,) non-negative weights.
        grid_size: points of the grid (>= 2).
        sigma: the width; default 1% of ``max(range, |largest node|)``.

    Returns:
        ``(grid, density, sigma)``: the grid spans the nodes plus 6 sigma on each side, and the density
        integrates to 1 over it (trapezoid rule).

    Raises:
        ValueError: ``sigma`` is not positive.

    Example:
        >>> grid, dens, sigma = broaden(np.array([0.0, 1.0]), np.array([0.5, 0.5]), grid_size=101)
        >>> round(float(np.trapezoid(dens, grid)), 12), round(sigma, 12)
        (1.0, 0.01)
    """
    lo, hi = float(nodes.min()), float(nodes.max())
    if sigma is None:
        sigma = 0.01 * max(hi - lo, abs(hi), 1e-12)
    if not sigma > 0:
        raise ValueError(f"sigma: expected a positive width, got {sigma}")
    grid = np.linspace(lo - 6 * sigma, hi + 6 * sigma, grid_size)
    dens = (weights[None, :] * np.exp(-0.5 * ((grid[:, None] - nodes[None, :]) / sigma) ** 2)).sum(1)
    dens /= np.trapezoid(dens, grid)
    return grid, dens, float(sigma)


def _deflate(op, steps: int, g):
    """Lanczos runs of ``steps`` steps in all: the basis (P, d), all Ritz values, and the converged ones.

    A run that closes on an invariant subspace (a breakdown, e.g. an eigenvalue of multiplicity m
    seen once by a single start vector) is followed by another from a fresh vector on the
    complement, while steps remain and the last run found more than one direction.
    """
    p = op.shape[0]
    basis = torch.zeros(p, 0, dtype=op.dtype, device=op.device)
    runs = []
    while basis.shape[1] < min(steps, p):
        todo = min(steps, p) - basis.shape[1]
        v0 = _project(gaussian((p, 1), generator=g, dtype=op.dtype, device=op.device), basis)
        run = krylov(lambda v, b=basis: _project(op.matvec(v), b), v0, todo, keep_basis=True)
        d = int(run.lengths[0])
        values, vectors = torch.linalg.eigh(tridiagonal(run.alpha[0, :d], run.beta[0, : d - 1]))
        last = float(run.residual[0]) if d == todo else 0.0  # a breakdown: every Ritz pair is exact
        runs.append((values, last * vectors[-1].abs()))
        basis = torch.cat([basis, run.basis[:d, :, 0].T], 1)
        if d == todo or d == 1:
            break
    scale = max((float(v.abs().max()) for v, _ in runs), default=0.0)
    top = [v[_converged(v, r, scale, op.dtype)].numpy() for v, r in runs]
    ritz = np.concatenate([np.zeros(0)] + [v.numpy() for v, _ in runs])
    return basis, ritz, np.sort(np.concatenate([np.zeros(0)] + top))[::-1].copy()


def _converged(values: torch.Tensor, residuals: torch.Tensor, scale: float, dtype) -> torch.Tensor:
    """Ritz values known to working accuracy: a residual below ``sqrt(eps) * scale`` and ten times
    below the gap to the neighbouring Ritz values (so each is one distinct eigenvalue to within
    residual^2 / gap, not a point inside a cluster)."""
    inf = torch.full((1,), float("inf"), dtype=values.dtype)
    diff = values[1:] - values[:-1]
    gaps = torch.minimum(torch.cat([inf, diff]), torch.cat([diff, inf]))
    tol = torch.finfo(dtype).eps ** 0.5 * scale
    return (residuals <= tol) & (10 * residuals <= gaps)


def _project(v: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """``v`` with its components along the orthonormal ``basis`` removed."""
    return v - basis @ (basis.T @ v) if basis.shape[1] else v
