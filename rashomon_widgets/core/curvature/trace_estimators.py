"""The trace of the Hessian, with an error estimate: exact, Hutchinson on the complement of a Lanczos
Krylov subspace (``"krylov"``, the default estimator), XTrace, Hutch++ or plain Hutchinson.

Every estimator returns a :class:`TraceEstimate`: a ``float`` that also carries ``error`` (the
half-width of a ``confidence`` interval from the estimator's own samples), ``stderr``, the number of
Hessian-vector products and the method.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import torch
from scipy.stats import t as student_t

from ..validation import check_callable, check_choice, check_fraction, check_int, check_real, check_seed
from .lanczos_recurrence import krylov, tridiagonal
from .linear_operator import LinearOperatorLike
from .probes import gaussian, generator, rademacher
from .xtrace import xtrace

METHODS = ("auto", "exact", "krylov", "xtrace", "hutch++", "hutchinson")

#: the share of the products that ``"krylov"`` spends on its Lanczos subspace (the rest on Hutchinson)
KRYLOV_SHARE = 0.4
#: with a target ``rtol`` and no ``max_products``, an estimate may spend this many times ``num_products``
BUDGET_FACTOR = 10


class EstimateWarning(UserWarning):
    """An estimate whose error bar is larger than what was asked for (or than the value itself)."""


class TraceEstimate(float):
    """A trace estimate: a ``float`` (arithmetic and ``float()`` work as on the number) with its error.

    Args:
        value: the estimate.
        error: half-width of the ``confidence`` interval: ``|value - trace| <= error`` with about
            that probability (from the estimator's samples, Student-t; 0 for an exact trace).
        stderr: the estimated standard error (``error`` is a multiple of it, never below a
            floating-point rounding floor).
        confidence: the interval's nominal coverage.
        num_products: Hessian-vector products spent.
        method: the estimator that produced it.
        rtol: the relative accuracy asked for (``error <= rtol * |value|``), or None.

    Raises:
        TypeError: a value, error, stderr or confidence that is not a number, or a count that is not an int.
        ValueError: a value that is not finite, an ``error`` or ``stderr`` below 0 or NaN (``inf`` says
            the error is unknown), a ``confidence`` outside (0, 1), or a negative ``num_products``.

    Example:
        >>> t = TraceEstimate(7.7, error=0.1, stderr=0.05, num_products=40, method="krylov")
        >>> float(t) * 2, t.error, t.interval
        (15.4, 0.1, (7.6000000000000005, 7.8))
    """

    def __new__(cls, value, *, error: float = 0.0, stderr: float = 0.0, confidence: float = 0.95,
                num_products: int = 0, method: str = "exact", rtol: float | None = None):
        """Check the figures and attach them to the float (documented on the class)."""
        self = super().__new__(cls, check_real(value, "value", what="a finite trace"))
        self.error = check_real(error, "error", 0.0, math.inf, what="an error >= 0 (inf: unknown)")
        self.stderr = check_real(stderr, "stderr", 0.0, math.inf, what="a standard error >= 0 (inf: unknown)")
        self.confidence = check_fraction(confidence, "confidence")
        self.num_products, self.method = check_int(num_products, "num_products", 0), method
        self.rtol = None if rtol is None else check_real(rtol, "rtol", 0.0, low_open=True, what="a tolerance > 0")
        return self

    @property
    def interval(self) -> tuple[float, float]:
        """``(value - error, value + error)``."""
        return float(self) - self.error, float(self) + self.error

    @property
    def met(self) -> bool | None:
        """Whether ``error <= rtol * |value|`` (None when no ``rtol`` was asked for)."""
        return None if self.rtol is None else self.error <= self.rtol * abs(float(self))

    def __repr__(self) -> str:
        target = "" if self.rtol is None else f", rtol={self.rtol:g} {'met' if self.met else 'NOT met'}"
        return (f"TraceEstimate({float(self):.6g} ± {self.error:.2g} ({100 * self.confidence:g}%), "
                f"method={self.method!r}, num_products={self.num_products}{target})")

    __str__ = float.__repr__


def trace(op: LinearOperatorLike, *, method: str = "auto", num_products: int = 40, seed: int = 0,
          confidence: float = 0.95, rtol: float | None = None, max_products: int | None = None,
          progress: Callable[[int, int], None] | None = None) -> TraceEstimate:
    """The trace of the Hessian, with an error estimate.

    Every estimator rests on Hutchinson's identity: for a random ``v`` with ``E[v v^T] = I`` (Rademacher
    or Gaussian entries), ``E[v^T H v] = tr H`` (Hutchinson 1990, "A stochastic estimator of the trace of
    the influence matrix for Laplacian smoothing splines"). The variance of one sample is
    ``2 ||H||_F^2`` for Gaussian ``v``, dominated by the few large eigenvalues, so each estimator below
    takes the trace of a subspace holding them exactly and samples only the rest.

    * ``"krylov"`` (what ``"auto"`` uses): :data:`KRYLOV_SHARE` of the products run Lanczos from one
      random vector; the trace on its Krylov subspace Q comes free from the recurrence (the sum of its
      diagonal, ``tr(Q^T H Q)``), and the rest are Hutchinson samples ``v^T H v / |v|^2 (P - dim Q)``
      with Gaussian ``v`` projected onto Q's complement, whose expectation is ``tr((I - Q Q^T) H)``:
      exactly unbiased, and independent given Q, so ``error`` is a plain Student-t interval. Lanczos
      converges first to the extreme eigenvalues, so its Krylov subspace holds the dominant eigenvectors
      at both ends of the spectrum (negative eigenvalues too), where a random sketch of the same cost
      holds them only as far as the spectrum decays (comparisons in ``benchmarks/results.md``). One start
      vector sees one copy of a repeated eigenvalue, though: where the top eigenvalues come in tight
      clusters or exact copies (a least-squares loss with several outputs), use ``"xtrace"``; ``error``
      grows to say so.
    * ``"xtrace"`` (Epperly, Tropp & Webber 2024, "XTrace: making the most of every sample in stochastic
      trace estimation"): half the products sketch the dominant subspace, the other half take its trace,
      and every random vector serves twice, in the sketch and, left out of it, as a Hutchinson sample on
      the rest; ``error`` comes from the spread of those k leave-one-out estimates. Any two of them
      share all but two sketch vectors, so they are not independent and the interval can cover a little
      less than ``confidence``. Its random sketch holds repeated or clustered eigenvalues as well as
      distinct ones.
    * ``"hutch++"`` (Meyer, Musco, Musco & Woodruff 2021, "Hutch++: optimal stochastic trace
      estimation"): a third of the products sketches the dominant subspace, whose trace is exact, and
      Rademacher Hutchinson handles the rest. ``"hutchinson"``: plain Rademacher samples.
    * ``"exact"``: the sum of the dense Hessian's diagonal (P products), error 0.

    On Hessians with many negative eigenvalues (a model away from a minimum) the trace is a small
    difference of large sums and every estimator's *relative* error grows; ``error`` grows with it.

    **A target accuracy.** With ``rtol`` (say 0.1), the estimate is repeated with more products (the
    number its own error suggests, at least twice the last) until ``error <= rtol * |value|`` or
    ``max_products`` would be exceeded; the result says which (``met``, and its repr). Without ``rtol``,
    ``num_products`` are spent. Either way an :class:`EstimateWarning` says when the error bar is larger
    than the value (or than asked for), and how to get a better one.

    Args:
        op: a symmetric operator (:class:`~.linear_operator.LinearOperatorLike`: ``matvec``, ``shape``,
            ``dtype``, ``device``, ``num_products``; ``to_dense`` for ``"exact"``), such as a
            :class:`HessianOperator`.
        method: one of ``"auto"``, ``"exact"``, ``"krylov"``, ``"xtrace"``, ``"hutch++"``,
            ``"hutchinson"``.
        num_products: Hessian-vector products to spend (>= 3; >= 4 for a finite error). ``"xtrace"``
            uses an even number, and a sketch that spans the whole space, as on a tiny model, leaves
            some unspent. Ignored by ``"exact"``.
        seed: seed of the random vectors.
        confidence: nominal coverage of ``error``, in (0, 1).
        rtol: target relative accuracy ``error <= rtol * |value|`` (None: spend ``num_products``).
        max_products: the most products a target may spend in all (default ``10 * num_products``).
        progress: called as ``progress(done, total)`` before every product (``total``: ``max_products`` with
            a target, else ``num_products``); it may raise to stop the work.

    Returns:
        a :class:`TraceEstimate`. ``error`` is the half-width of a Student-t interval (``k - 1``
        degrees of freedom for k independent samples, or k leave-one-out estimates for
        ``"xtrace"``), at least a rounding floor of ``10 * eps`` times the magnitude of the parts
        summed; ``inf`` when too few samples leave the spread unknown.

    Raises:
        ValueError, TypeError: an unknown method, or a bad ``num_products``, ``seed``, ``confidence``,
            ``rtol``, ``max_products`` (below ``num_products``) or ``progress``.

    Warns:
        EstimateWarning: the error bar is larger than the value, or a target ``rtol`` was not met within
            ``max_products``.

    Example:
        >>> with ls.hessian_operator() as op:                  # doctest: +SKIP
        ...     t = trace(op, num_products=40)
        >>> print(f"{t:.4g} ± {t.error:.2g}")                  # doctest: +SKIP
        7.712 ± 0.16
        >>> ls.trace(rtol=0.05)                                # more products until within 5%  # doctest: +SKIP
        TraceEstimate(7.7 ± 0.31 (95%), method='krylov', num_products=120, rtol=0.05 met)
    """
    check_choice(method, "method", METHODS)
    check_int(num_products, "num_products", 3, 10**7)
    check_seed(seed)
    check_fraction(confidence, "confidence")
    check_callable(progress, "progress", "progress(done, total)", optional=True)
    if rtol is not None:
        rtol = check_real(rtol, "rtol", 0.0, low_open=True, what="a relative accuracy > 0 (e.g. 0.1)")
    budget = (BUDGET_FACTOR * num_products if rtol is not None else num_products) if max_products is None \
        else check_int(max_products, "max_products", num_products, 10**8)
    p = op.shape[0]
    if method == "exact":
        value = float(torch.diagonal(op.to_dense()).sum())
        return TraceEstimate(value, confidence=confidence, num_products=p, method="exact")
    method = "krylov" if method == "auto" else method
    estimator = {"krylov": _krylov, "xtrace": xtrace, "hutch++": _hutch_plus_plus, "hutchinson": _hutchinson}[method]
    counted, before, m = _Counting(op, progress, budget), op.num_products, num_products
    while True:
        value, stderr, dof, magnitude = estimator(counted, m, generator(seed, op.device))
        result = estimate(value, stderr, dof, magnitude, dtype=op.dtype, confidence=confidence,
                          num_products=op.num_products - before, method=method, rtol=rtol)
        left = budget - result.num_products
        if rtol is None or result.met or left <= m:
            break
        # the error falls like 1/sqrt(products): ask for what it suggests, at least twice the last run
        wanted = m * (result.error / (rtol * abs(float(result)) + 1e-300)) ** 2 * 1.2
        m = int(min(left, max(2 * m, wanted if math.isfinite(wanted) else left)))
    warn_if_loose(result, budget)
    return result


def warn_if_loose(t: TraceEstimate, budget: int, what: str = "trace") -> None:
    """Warn (:class:`EstimateWarning`) when a target was not met, or when no target was asked for and the
    error bar is larger than the value: an estimate too loose to read as a number says so.

    Args:
        t: the estimate.
        budget: the products it was allowed (named in the message).
        what: the method that made it (``"trace"``, ``"density"``), named in the message.
    """
    if t.rtol is not None and not t.met:
        warnings.warn(f"{what}: the target rtol={t.rtol:g} was not met within max_products={budget}: "
                      f"{float(t):.4g} ± {t.error:.2g} ({100 * t.confidence:g}%) after {t.num_products} products. "
                      "Raise max_products, or accept the error bar.", EstimateWarning, stacklevel=3)
    elif t.rtol is None and t.error > abs(float(t)):
        warnings.warn(f"{what}: the trace's error bar is larger than its value: {float(t):.4g} ± {t.error:.2g} "
                      f"({100 * t.confidence:g}%) from {t.num_products} products. Ask for a target, e.g. "
                      f"ls.{what}(rtol=0.1), to spend products until the error is within 10%.",
                      EstimateWarning, stacklevel=3)


class _Counting:
    """``op`` calling ``progress(done, total)`` before each product (``done`` counted from creation)."""

    def __init__(self, op, progress: Callable[[int, int], None] | None, total: int):
        self._op, self._progress, self._total, self._start = op, progress, total, op.num_products
        self.shape, self.dtype, self.device = op.shape, op.dtype, op.device
        self.max_block = getattr(op, "max_block", None)

    @property
    def num_products(self) -> int:
        return self._op.num_products

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        if self._progress is not None:
            self._progress(min(self._op.num_products - self._start, self._total - 1), self._total)
        return self._op.matvec(v)

    def to_dense(self) -> torch.Tensor:
        return self._op.to_dense()


def estimate(value: float, stderr: float, dof: int, magnitude: float, *, dtype: torch.dtype,
             confidence: float, num_products: int, method: str, rtol: float | None = None) -> TraceEstimate:
    """A :class:`TraceEstimate` from an estimator's mean, standard error and degrees of freedom.

    Args:
        value: the estimate.
        stderr: its estimated standard error (from ``dof + 1`` independent samples).
        dof: degrees of freedom of the Student-t interval; 0 means no samples were needed (the
            estimate is exact up to rounding) when ``stderr`` is 0, else that the error is unknown.
        magnitude: the size of the terms summed; ``10 * eps(dtype) * magnitude`` floors the error.
        dtype: the products' dtype.
        confidence: the interval's nominal coverage.
        num_products: products spent.
        method: the estimator's name.
        rtol: the target relative accuracy asked for, if any.

    Returns:
        a :class:`TraceEstimate` whose ``error`` is ``t_{dof}((1 + confidence) / 2) * stderr``, at
        least the rounding floor (``inf`` when the error is unknown).

    Example:
        >>> t = estimate(10.0, 0.5, 19, 10.0, dtype=torch.float64, confidence=0.95, num_products=40,
        ...              method="xtrace")
        >>> round(t.error, 3)                          # 2.093 standard errors for 19 degrees of freedom
        1.047
    """
    floor = 10 * torch.finfo(dtype).eps * magnitude
    if dof > 0:
        error = stderr * float(student_t.ppf(0.5 + confidence / 2, dof))
    else:
        error = 0.0 if stderr == 0 else math.inf
    return TraceEstimate(value, error=max(error, floor), stderr=max(stderr, floor), confidence=confidence,
                         num_products=num_products, method=method, rtol=rtol)


def mean_and_stderr(samples: torch.Tensor) -> tuple[float, float]:
    """The sample mean of independent estimates and its standard error ``std / sqrt(n)``.

    Args:
        samples: (n,) independent samples of one estimator.

    Returns:
        ``(mean, stderr)``; the standard error is inf for a single sample (its spread is unknown).
    """
    n = samples.numel()
    return float(samples.mean()), float(samples.std() / math.sqrt(n)) if n > 1 else math.inf


def _krylov(op, m: int, g):
    """Lanczos on ``round(KRYLOV_SHARE * m)`` steps, then Gaussian Hutchinson on the complement of its subspace."""
    p = op.shape[0]
    steps = min(p, max(1, round(KRYLOV_SHARE * m)))
    run = krylov(op.matvec, gaussian((p, 1), generator=g, dtype=op.dtype, device=op.device), steps,
                 keep_basis=True)
    r = int(run.lengths[0])
    q = run.basis[:r, :, 0].T.double()
    ritz = torch.linalg.eigvalsh(tridiagonal(run.alpha[0, :r], run.beta[0, : r - 1]))
    exact_part, magnitude = float(run.alpha[0, :r].sum()), float(ritz.abs().sum())
    h = min(m - r, p - r)
    if h <= 0:  # the Krylov subspace is the whole space (or closed on an invariant subspace spanning it)
        return exact_part, 0.0, 0, magnitude
    # in blocks of the operator's max_block columns: a (P, h) float64 block and its products would hold
    # 4 h P doubles at once, which grows with both the samples and the model
    block = getattr(op, "max_block", None) or h
    parts = []
    for start in range(0, h, block):
        z = gaussian((p, min(block, h - start)), generator=g, dtype=torch.float64, device=op.device)
        for _ in range(2):
            z = z - q @ (q.T @ z)
        v = z.to(op.dtype)
        hv = op.matvec(v).double()
        v = v.double()
        parts.append((v * hv).sum(0) / (v * v).sum(0) * (p - r))
    samples = torch.cat(parts)
    mean, stderr = mean_and_stderr(samples)
    return exact_part + mean, stderr, h - 1, magnitude + float(samples.abs().mean())


def _hutch_plus_plus(op, m: int, g):
    """Hutch++: a third of the products sketches, the rest of the budget is Rademacher Hutchinson."""
    p = op.shape[0]
    k = max(1, m // 3)
    s = rademacher((p, k), generator=g, dtype=op.dtype, device=op.device)
    z = rademacher((p, m - 2 * k), generator=g, dtype=op.dtype, device=op.device)
    q, _ = torch.linalg.qr(op.matvec(s))
    z = z - q @ (q.T @ z)
    exact_part = float((q * op.matvec(q)).sum())
    samples = (z * op.matvec(z)).sum(0).double()
    mean, stderr = mean_and_stderr(samples)
    return exact_part + mean, stderr, samples.numel() - 1, abs(exact_part) + float(samples.abs().mean())


def _hutchinson(op, m: int, g):
    """Plain Hutchinson with Rademacher vectors."""
    z = rademacher((op.shape[0], m), generator=g, dtype=op.dtype, device=op.device)
    samples = (z * op.matvec(z)).sum(0).double()
    mean, stderr = mean_and_stderr(samples)
    return mean, stderr, m - 1, float(samples.abs().mean())
