"""The trace of the Hessian, with an error estimate: exact, Hutchinson on the complement of a Lanczos
Krylov subspace (``"krylov"``, the default estimator), XTrace, Hutch++ or plain Hutchinson.

Every estimator returns a :class:`TraceEstimate`: a ``float`` that also carries ``error`` (the
half-width of a ``confidence`` interval from the estimator's own samples), ``stderr``, the number of
Hessian-vector products and the method.
"""
from __future__ import annotations

import math

import torch
from scipy.stats import t as student_t

from ..validation import check_choice, check_fraction, check_int, check_real, check_seed
from ._lanczos import krylov, tridiagonal
from ._random import gaussian, generator, rademacher
from .xtrace import xtrace

METHODS = ("auto", "exact", "krylov", "xtrace", "hutch++", "hutchinson")

#: the share of the products that ``"krylov"`` spends on its Lanczos subspace (the rest on Hutchinson)
KRYLOV_SHARE = 0.4


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
                num_products: int = 0, method: str = "exact"):
        self = super().__new__(cls, check_real(value, "value", what="a finite trace"))
        self.error = check_real(error, "error", 0.0, math.inf, what="an error >= 0 (inf: unknown)")
        self.stderr = check_real(stderr, "stderr", 0.0, math.inf, what="a standard error >= 0 (inf: unknown)")
        self.confidence = check_fraction(confidence, "confidence")
        self.num_products, self.method = check_int(num_products, "num_products", 0), method
        return self

    @property
    def interval(self) -> tuple[float, float]:
        """``(value - error, value + error)``."""
        return float(self) - self.error, float(self) + self.error

    def __repr__(self) -> str:
        return (f"TraceEstimate({float(self):.6g} ± {self.error:.2g} ({100 * self.confidence:g}%), "
                f"method={self.method!r}, num_products={self.num_products})")

    __str__ = float.__repr__


def trace(op, *, method: str = "auto", num_products: int = 40, seed: int = 0,
          confidence: float = 0.95) -> TraceEstimate:
    """The trace of the Hessian, with an error estimate.

    * ``"krylov"`` (what ``"auto"`` uses): 40% of the products run Lanczos from one random vector;
      the trace on its Krylov subspace Q comes free from the recurrence (the sum of its diagonal), and
      the rest are Hutchinson samples ``v^T H v / |v|^2 (P - dim Q)`` with Gaussian ``v`` projected
      onto Q's complement: exactly unbiased, and independent given Q, so ``error`` is a plain
      Student-t interval (it covered 95% of seeds on network Hessians). A Krylov subspace holds the
      dominant eigenvectors at both ends of the spectrum (negative eigenvalues too) better than a
      random sketch of the same cost: 10-30% smaller rms errors than XTrace on cross-entropy network
      Hessians, trained or not. One start vector sees one copy of a repeated eigenvalue, though:
      where the top eigenvalues come in tight clusters or exact copies (a least-squares loss with
      several outputs), use ``"xtrace"``; ``error`` grows to say so.
    * ``"xtrace"`` (Epperly, Tropp & Webber 2024): half the products sketch the dominant subspace, the
      other half take its trace, and every random vector serves twice, in the sketch and, left out of
      it, as a Hutchinson sample on the rest; ``error`` comes from the spread of those k leave-one-out
      estimates, which understates it slightly (90-95% coverage at 95% nominal). Its random sketch
      holds repeated or clustered eigenvalues as well as distinct ones.
    * ``"hutch++"`` (Meyer et al. 2021): a third of the products sketches the dominant subspace,
      whose trace is exact, and Rademacher Hutchinson handles the rest. ``"hutchinson"``: plain
      Rademacher samples.
    * ``"exact"``: the sum of the dense Hessian's diagonal (P products), error 0.

    On Hessians with many negative eigenvalues (a model away from a minimum) the trace is a small
    difference of large sums and every estimator's *relative* error grows; ``error`` grows with it.

    Args:
        op: a :class:`HessianOperator` (``matvec``, ``shape``, ``dtype``, ``device``, ``to_dense``).
        method: one of ``"auto"``, ``"exact"``, ``"krylov"``, ``"xtrace"``, ``"hutch++"``,
            ``"hutchinson"``.
        num_products: Hessian-vector products to spend (>= 3; >= 4 for a finite error). ``"xtrace"``
            uses an even number, and a sketch that spans the whole space, as on a tiny model, leaves
            some unspent. Ignored by ``"exact"``.
        seed: seed of the random vectors.
        confidence: nominal coverage of ``error``, in (0, 1).

    Returns:
        a :class:`TraceEstimate`. ``error`` is the half-width of a Student-t interval (``k - 1``
        degrees of freedom for k independent samples, or k leave-one-out estimates for
        ``"xtrace"``), at least a rounding floor of ``10 * eps`` times the magnitude of the parts
        summed; ``inf`` when too few samples leave the spread unknown.

    Raises:
        ValueError, TypeError: an unknown method, or a bad ``num_products``, ``seed`` or
            ``confidence``.

    Example:
        >>> with ls.hessian_operator() as op:                  # doctest: +SKIP
        ...     t = trace(op, num_products=40)
        >>> print(f"{t:.4g} ± {t.error:.2g}")                  # doctest: +SKIP
        7.712 ± 0.16
    """
    check_choice(method, "method", METHODS)
    check_int(num_products, "num_products", 3, 10**7)
    check_seed(seed)
    check_fraction(confidence, "confidence")
    p = op.shape[0]
    if method == "exact":
        value = float(torch.diagonal(op.to_dense()).sum())
        return TraceEstimate(value, confidence=confidence, num_products=p, method="exact")
    method = "krylov" if method == "auto" else method
    estimator = {"krylov": _krylov, "xtrace": xtrace, "hutch++": _hutch_plus_plus, "hutchinson": _hutchinson}[method]
    before = op.num_products
    value, stderr, dof, magnitude = estimator(op, num_products, generator(seed, op.device))
    return estimate(value, stderr, dof, magnitude, dtype=op.dtype, confidence=confidence,
                    num_products=op.num_products - before, method=method)


def estimate(value: float, stderr: float, dof: int, magnitude: float, *, dtype: torch.dtype,
             confidence: float, num_products: int, method: str) -> TraceEstimate:
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
                         num_products=num_products, method=method)


def _mean_and_stderr(samples: torch.Tensor) -> tuple[float, float]:
    n = samples.numel()
    return float(samples.mean()), float(samples.std() / math.sqrt(n)) if n > 1 else math.inf


def _krylov(op, m: int, g):
    """Lanczos on ``round(0.4 m)`` steps, then Gaussian Hutchinson on the complement of its subspace."""
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
    z = gaussian((p, h), generator=g, dtype=torch.float64, device=op.device)
    for _ in range(2):
        z = z - q @ (q.T @ z)
    v = z.to(op.dtype)
    hv = op.matvec(v).double()
    v = v.double()
    samples = (v * hv).sum(0) / (v * v).sum(0) * (p - r)
    mean, stderr = _mean_and_stderr(samples)
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
    mean, stderr = _mean_and_stderr(samples)
    return exact_part + mean, stderr, samples.numel() - 1, abs(exact_part) + float(samples.abs().mean())


def _hutchinson(op, m: int, g):
    """Plain Hutchinson with Rademacher vectors."""
    z = rademacher((op.shape[0], m), generator=g, dtype=op.dtype, device=op.device)
    samples = (z * op.matvec(z)).sum(0).double()
    mean, stderr = _mean_and_stderr(samples)
    return mean, stderr, m - 1, float(samples.abs().mean())
